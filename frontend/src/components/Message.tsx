import { Alert, Box, Button, CopyButton, Group, Paper, Text, Textarea } from "@mantine/core";
import { useEffect, useState, type FormEvent } from "react";
import Markdown, { type Options } from "react-markdown";
import type { Interaction } from "../api/client";
import "./code.css";

type Plugins = Options["rehypePlugins"];
let highlighter: Promise<Plugins> | null = null;

/** The highlighting plugins once `text` has a fenced block and they have loaded (their
 *  chunk is fetched the first time an answer needs it). */
function useHighlighting(text: string): Plugins {
  const wanted = text.includes("```");
  const [plugins, setPlugins] = useState<Plugins>(undefined);
  useEffect(() => {
    if (!wanted || plugins) return;
    let live = true;
    highlighter ??= import("./highlight").then((m) => m.rehypePlugins);
    void highlighter.then((p) => live && setPlugins(() => p));
    return () => {
      live = false;
    };
  }, [wanted, plugins]);
  return plugins;
}

/**
 * One message of a conversation: the assistant's rendered as Markdown with code
 * highlighted; the user's as written, with "Edit" (resend it changed) when `onEdit`.
 */
export function Message({
  interaction,
  onRegenerate,
  onEdit,
}: {
  interaction: Interaction;
  onRegenerate?: () => void;
  onEdit?: (text: string) => void;
}) {
  const mine = interaction.role === "user";
  const [editing, setEditing] = useState<string | null>(null);
  const rehypePlugins = useHighlighting(mine ? "" : interaction.content);
  const resend = (e: FormEvent) => {
    e.preventDefault();
    const text = editing?.trim();
    if (!text || !onEdit) return;
    setEditing(null);
    onEdit(text);
  };
  if (mine && editing !== null && onEdit) {
    return (
      <Box component="form" onSubmit={resend} style={{ alignSelf: "flex-end", width: "80%" }}>
        <Textarea aria-label="Edited message" autosize minRows={2} maxRows={12} value={editing} autoFocus onChange={(e) => setEditing(e.currentTarget.value)} />
        <Group justify="flex-end" gap="xs" mt={4}>
          <Button size="compact-sm" variant="default" onClick={() => setEditing(null)}>
            Cancel
          </Button>
          <Button size="compact-sm" type="submit" disabled={!editing.trim()}>
            Send edited
          </Button>
        </Group>
      </Box>
    );
  }
  return (
    <Box style={{ alignSelf: mine ? "flex-end" : "flex-start", maxWidth: "80%" }} data-role={interaction.role}>
      <Paper withBorder p="sm" radius="md" bg={mine ? "var(--mantine-primary-color-light)" : undefined}>
        {mine ? (
          <Text style={{ whiteSpace: "pre-wrap" }}>{interaction.content}</Text>
        ) : (
          <div className="markdown" data-testid="assistant-message">
            <Markdown rehypePlugins={rehypePlugins}>{interaction.content || (interaction.state === "waiting" ? "…" : "")}</Markdown>
          </div>
        )}
        {mine && onEdit && (
          <Group gap={4} mt={4} justify="flex-end">
            <Button size="compact-xs" variant="subtle" onClick={() => setEditing(interaction.content)} title="Edit and resend this message">
              Edit
            </Button>
          </Group>
        )}
        {!mine && interaction.state !== "waiting" && (
          <Group gap={4} mt={4}>
            <CopyButton value={interaction.content}>
              {({ copied, copy }) => (
                <Button size="compact-xs" variant="subtle" onClick={copy}>
                  {copied ? "Copied" : "Copy"}
                </Button>
              )}
            </CopyButton>
            {onRegenerate && (
              <Button size="compact-xs" variant="subtle" onClick={onRegenerate}>
                Regenerate
              </Button>
            )}
          </Group>
        )}
        {interaction.state === "error" && (
          <Alert color="red" mt="xs" role="alert">
            {interaction.error ?? "The model failed"}
          </Alert>
        )}
      </Paper>
    </Box>
  );
}
