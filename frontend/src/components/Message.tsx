import { Alert, Box, Button, CopyButton, Group, Paper, Text } from "@mantine/core";
import Markdown from "react-markdown";
import type { Interaction } from "../api/client";

/** One message of a conversation; the assistant's rendered as Markdown. */
export function Message({ interaction, onRegenerate }: { interaction: Interaction; onRegenerate?: () => void }) {
  const mine = interaction.role === "user";
  return (
    <Box style={{ alignSelf: mine ? "flex-end" : "flex-start", maxWidth: "80%" }} data-role={interaction.role}>
      <Paper withBorder p="sm" radius="md" bg={mine ? "var(--mantine-primary-color-light)" : undefined}>
        {mine ? (
          <Text style={{ whiteSpace: "pre-wrap" }}>{interaction.content}</Text>
        ) : (
          <div className="markdown" data-testid="assistant-message">
            <Markdown>{interaction.content || (interaction.state === "waiting" ? "…" : "")}</Markdown>
          </div>
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
