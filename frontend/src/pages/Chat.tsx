import { ActionIcon, Alert, Button, Group, Menu, Modal, NavLink, ScrollArea, Select, Stack, Text, Textarea, TextInput } from "@mantine/core";
import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { useNavigate, useParams, useSearchParams } from "react-router-dom";
import { api, csrfToken, errorMessage, type ChatEvent, type ChatSession, type Interaction } from "../api/client";
import { readSse } from "../api/sse";
import { Message } from "../components/Message";
import { useLiveSession } from "../hooks/useLiveSession";
import { applyEvent } from "./chatState";

/** Chat: the session list, a conversation, and a composer that streams answers in. */
export function ChatPage() {
  const { sessionId } = useParams();
  const [search_params] = useSearchParams();
  const appId = search_params.get("app");
  const [appName, setAppName] = useState<string | null>(null);
  const navigate = useNavigate();
  const [sessions, setSessions] = useState<ChatSession[]>([]);
  const [search, setSearch] = useState("");
  const [models, setModels] = useState<string[]>([]);
  const [model, setModel] = useState<string | null>(null);
  const [interactions, setInteractions] = useState<Interaction[]>([]);
  const [draft, setDraft] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const abort = useRef<AbortController | null>(null);
  // The session the running stream belongs to: its events go nowhere else.
  const streamFor = useRef<string | null>(null);
  const [renaming, setRenaming] = useState<{ id: string; name: string } | null>(null);
  // The session this page just created: its conversation streams in here, so moving to
  // its URL must not replace it with an older snapshot.
  const created = useRef<string | null>(null);

  useEffect(() => {
    setAppName(null);
    if (!appId) return;
    void api.GET("/api/v1/apps/{app_id}", { params: { path: { app_id: appId } } }).then(({ data }) => setAppName(data?.name ?? null));
  }, [appId]);

  const loadSessions = useCallback(async () => {
    const { data } = await api.GET("/api/v1/sessions");
    if (data) setSessions(data);
  }, []);

  useEffect(() => {
    void loadSessions();
    void fetch("/v1/models", { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : { data: [] }))
      .then((list: { data?: { id: string }[] }) => {
        const ids = (list.data ?? []).map((m) => m.id);
        setModels(ids);
        setModel((m) => m ?? ids[0] ?? null);
      });
  }, [loadSessions]);

  // The session on screen, for callbacks that outlive a render.
  const shownId = useRef(sessionId);
  // Which session the live feed already gave a snapshot of (fresher than the store).
  const snapshotOf = useRef<string | null>(null);
  useEffect(() => {
    shownId.current = sessionId;
    // A stream for another conversation stops when the user moves on.
    if (streamFor.current && streamFor.current !== sessionId) abort.current?.abort();
    if (sessionId && sessionId === created.current) {
      // Just created here: its conversation is already streaming in (once).
      created.current = null;
      return;
    }
    created.current = null;
    setInteractions([]);
    setError(null);
    if (!sessionId) return;
    let stale = false;
    void api.GET("/api/v1/sessions/{session_id}", { params: { path: { session_id: sessionId } } }).then(({ data, error }) => {
      if (stale || snapshotOf.current === sessionId) return;
      if (data) setInteractions(data.interactions);
      else setError(errorMessage(error));
    });
    return () => {
      stale = true;
    };
  }, [sessionId]);

  const send = async (e: FormEvent) => {
    e.preventDefault();
    const message = draft.trim();
    if (!message || busy) return;
    setBusy(true);
    setError(null);
    try {
      let id = sessionId;
      if (!id) {
        if (!model && !appId) throw new Error("Choose a model first");
        const body = appId ? { app_id: appId } : { model };
        const { data, error } = await api.POST("/api/v1/sessions", { body });
        if (error || !data) throw error;
        id = data.id;
        created.current = id;
        shownId.current = id;
        navigate(`/chat/${id}`, { replace: true });
      }
      setDraft("");
      await stream(id, `/api/v1/sessions/${id}/chat`, { message });
      void loadSessions();
    } catch (err) {
      if (!(err instanceof DOMException && err.name === "AbortError")) setError(errorMessage(err));
    } finally {
      setBusy(false);
      abort.current = null;
    }
  };

  // Live: other tabs and devices see the conversation grow; replays are harmless.
  useLiveSession(
    sessionId,
    (list) => {
      snapshotOf.current = shownId.current ?? null;
      setInteractions(list);
    },
    (ev) => setInteractions((list) => applyEvent(list, ev)),
  );

  /** POSTs `body` and folds the answer's events in as they stream. */
  const stream = async (forId: string, url: string, body?: object) => {
    abort.current = new AbortController();
    streamFor.current = forId;
    const resp = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": csrfToken() ?? "" },
      body: body ? JSON.stringify(body) : undefined,
      signal: abort.current.signal,
    });
    if (!resp.ok || !resp.body) throw await resp.json().catch(() => new Error(resp.statusText));
    try {
      for await (const ev of readSse<ChatEvent>(resp.body)) {
        if (shownId.current !== forId) break;
        setInteractions((list) => applyEvent(list, ev));
      }
    } finally {
      streamFor.current = null;
    }
  };

  const regenerate = async () => {
    if (!sessionId || busy) return;
    setBusy(true);
    setError(null);
    // The server removes the answers after the last user message (its `reset` goes to
    // live subscribers): do the same here before the new answer streams in.
    setInteractions((list) => {
      const lastUser = Math.max(-1, ...list.filter((i) => i.role === "user").map((i) => i.seq));
      return list.filter((i) => i.seq <= lastUser);
    });
    try {
      await stream(sessionId, `/api/v1/sessions/${sessionId}/regenerate`);
    } catch (err) {
      if (!(err instanceof DOMException && err.name === "AbortError")) setError(errorMessage(err));
    } finally {
      setBusy(false);
      abort.current = null;
    }
  };

  /** Stops the answer on the server (the engine stops; the text so far stays, and the
   *  stream ends with it). Where the server has nothing to stop, this page just stops
   *  reading. */
  const stopAnswer = async () => {
    const id = streamFor.current;
    // This stream's controller: another may have started by the time the server answers.
    const ctl = abort.current;
    if (!id || !ctl) return ctl?.abort();
    try {
      const { data } = await api.POST("/api/v1/sessions/{session_id}/stop", { params: { path: { session_id: id } } });
      if (!data?.stopped) ctl.abort();
    } catch {
      ctl.abort();
    }
  };

  /** Edit and resend: a new chat with the conversation up to just before `at`, then
   *  the edited message. The original chat stays as it was. */
  const editAndResend = async (at: Interaction, message: string) => {
    if (!sessionId || busy) return;
    setBusy(true);
    setError(null);
    try {
      const { data, error } = await api.POST("/api/v1/sessions/{session_id}/fork", {
        params: { path: { session_id: sessionId } },
        body: { through_seq: at.seq - 1 },
      });
      if (error || !data) throw error;
      const id = data.id;
      created.current = id;
      shownId.current = id;
      setInteractions(data.interactions);
      navigate(`/chat/${id}`);
      await stream(id, `/api/v1/sessions/${id}/chat`, { message });
      void loadSessions();
    } catch (err) {
      if (!(err instanceof DOMException && err.name === "AbortError")) setError(errorMessage(err));
    } finally {
      setBusy(false);
      abort.current = null;
    }
  };

  const rename = async (e: FormEvent) => {
    e.preventDefault();
    if (!renaming || !renaming.name.trim()) return;
    const { error } = await api.PATCH("/api/v1/sessions/{session_id}", {
      params: { path: { session_id: renaming.id } },
      body: { name: renaming.name.trim() },
    });
    if (error) setError(errorMessage(error));
    setRenaming(null);
    void loadSessions();
  };

  const remove = async (id: string) => {
    const { error } = await api.DELETE("/api/v1/sessions/{session_id}", { params: { path: { session_id: id } } });
    if (error) return setError(errorMessage(error));
    if (id === sessionId) navigate("/chat");
    void loadSessions();
  };

  const lastAssistant = [...interactions].reverse().find((i) => i.role === "assistant")?.id;

  const shown = useMemo(
    () => sessions.filter((s) => s.name.toLowerCase().includes(search.toLowerCase())),
    [sessions, search],
  );

  return (
    <Group align="stretch" gap={0} h="calc(100vh - 52px)" wrap="nowrap">
      <Modal opened={renaming !== null} onClose={() => setRenaming(null)} title="Rename chat">
        <form onSubmit={rename}>
          <Stack>
            <TextInput
              label="Chat name"
              data-autofocus
              value={renaming?.name ?? ""}
              onChange={(e) => {
                const name = e.currentTarget.value;
                setRenaming((r) => (r ? { ...r, name } : r));
              }}
            />
            <Group justify="flex-end">
              <Button type="submit">Save</Button>
            </Group>
          </Stack>
        </form>
      </Modal>
      <Stack w={260} p="sm" gap="xs" style={{ borderRight: "1px solid var(--mantine-color-default-border)" }}>
        <Button onClick={() => navigate("/chat")} variant="light">
          New chat
        </Button>
        <TextInput placeholder="Search chats" aria-label="Search chats" value={search} onChange={(e) => setSearch(e.currentTarget.value)} />
        <ScrollArea style={{ flex: 1 }}>
          {shown.length === 0 && (
            <Text size="sm" c="dimmed" p="xs">
              No chats yet
            </Text>
          )}
          {shown.map((s) => (
            <Group key={s.id} gap={0} wrap="nowrap">
              <NavLink label={s.name} description={s.model} active={s.id === sessionId} onClick={() => navigate(`/chat/${s.id}`)} />
              <Menu position="bottom-end" withinPortal>
                <Menu.Target>
                  <ActionIcon variant="subtle" aria-label={`Actions for ${s.name}`}>
                    ⋯
                  </ActionIcon>
                </Menu.Target>
                <Menu.Dropdown>
                  <Menu.Item onClick={() => setRenaming({ id: s.id, name: s.name })}>Rename</Menu.Item>
                  <Menu.Item color="red" onClick={() => remove(s.id)}>
                    Delete
                  </Menu.Item>
                </Menu.Dropdown>
              </Menu>
            </Group>
          ))}
        </ScrollArea>
      </Stack>
      <Stack style={{ flex: 1 }} p="md" gap="sm">
        {!sessionId && appId && <Text fw={500}>Chat with {appName ?? "the app"}</Text>}
        {!sessionId && !appId && (
          <Select
            label="Model"
            placeholder={models.length ? "Choose a model" : "No models available: add a provider or a runner"}
            data={models}
            value={model}
            onChange={setModel}
            w={320}
          />
        )}
        <ScrollArea style={{ flex: 1 }}>
          <Stack gap="sm" data-testid="conversation">
            {interactions
              .filter((i) => i.role === "user" || i.role === "assistant")
              .map((i) => (
                <Message
                  key={i.id}
                  interaction={i}
                  onRegenerate={i.id === lastAssistant && !busy ? regenerate : undefined}
                  onEdit={i.role === "user" && !busy ? (text) => editAndResend(i, text) : undefined}
                />
              ))}
          </Stack>
        </ScrollArea>
        {error && (
          <Alert color="red" role="alert">
            {error}
          </Alert>
        )}
        <form onSubmit={send}>
          <Group align="flex-end">
            <Textarea
              aria-label="Message"
              placeholder="Send a message"
              autosize
              minRows={1}
              maxRows={8}
              style={{ flex: 1 }}
              value={draft}
              onChange={(e) => setDraft(e.currentTarget.value)}
              onKeyDown={(e) => {
                if (e.key === "Enter" && !e.shiftKey) {
                  e.preventDefault();
                  e.currentTarget.form?.requestSubmit();
                }
              }}
            />
            {busy ? (
              <Button color="red" variant="light" onClick={() => void stopAnswer()}>
                Stop
              </Button>
            ) : (
              <Button type="submit" disabled={!draft.trim()}>
                Send
              </Button>
            )}
          </Group>
        </form>
      </Stack>
    </Group>
  );
}
