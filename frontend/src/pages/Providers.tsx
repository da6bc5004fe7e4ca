import { Alert, Badge, Button, Card, Code, Group, PasswordInput, Select, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { api, errorMessage, type Schemas } from "../api/client";
import { Page } from "../components/Page";
import { useMeContext } from "../me";

type Endpoint = Schemas["ProviderEndpoint"];

/** Provider endpoints: OpenAI-compatible or Anthropic upstreams; a key is entered once. */
export function ProvidersPage() {
  const me = useMeContext();
  const [endpoints, setEndpoints] = useState<Endpoint[]>([]);
  const [models, setModels] = useState<Record<string, string[]>>({});
  const [form, setForm] = useState({ name: "", base_url: "", api_key: "", kind: "openai" as "openai" | "anthropic", scope: "user" });
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    const { data, error } = await api.GET("/api/v1/providers");
    if (data) setEndpoints(data);
    else setError(errorMessage(error));
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  const add = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    const scope = form.scope === "global" ? { scope: "global" as const } : { scope: "user" as const, user_id: me.user.id };
    const { error } = await api.POST("/api/v1/providers", {
      body: { ...scope, name: form.name, kind: form.kind, base_url: form.base_url, api_key: form.api_key || null },
    });
    if (error) return setError(errorMessage(error));
    // The key is never shown again, not even here.
    setForm({ ...form, name: "", base_url: "", api_key: "" });
    void load();
  };

  const showModels = async (id: string) => {
    const { data, error } = await api.GET("/api/v1/providers/{endpoint_id}/models", { params: { path: { endpoint_id: id } } });
    if (error) return setError(errorMessage(error));
    setModels((m) => ({ ...m, [id]: (data ?? []).map((x) => x.name + (x.is_default ? " (default)" : "")) }));
  };

  return (
    <Page title="Providers" intro="Where models come from: any OpenAI-compatible endpoint (OpenAI, vLLM, llama.cpp, Ollama, ...) or Anthropic.">
      {error && (
        <Alert color="red" role="alert">
          {error}
        </Alert>
      )}
      <Card withBorder>
        <form onSubmit={add}>
          <Stack>
            <Title order={4}>Add a provider</Title>
            <Group grow>
              <TextInput label="Name" required placeholder="openai" value={form.name} onChange={(e) => setForm({ ...form, name: e.currentTarget.value })} />
              <Select
                label="Kind"
                data={[
                  { value: "openai", label: "OpenAI-compatible" },
                  { value: "anthropic", label: "Anthropic" },
                ]}
                value={form.kind}
                onChange={(v) => setForm({ ...form, kind: (v as "openai" | "anthropic") ?? "openai" })}
              />
              <Select
                label="Who may use it"
                data={[{ value: "user", label: "Only me" }, ...(me.user.is_admin ? [{ value: "global", label: "Everyone" }] : [])]}
                value={form.scope}
                onChange={(v) => setForm({ ...form, scope: v ?? "user" })}
              />
            </Group>
            <TextInput
              label="Base URL"
              required
              placeholder="https://api.openai.com/v1"
              value={form.base_url}
              onChange={(e) => setForm({ ...form, base_url: e.currentTarget.value })}
            />
            <PasswordInput
              label="API key"
              description="Stored encrypted; never shown again"
              value={form.api_key}
              onChange={(e) => setForm({ ...form, api_key: e.currentTarget.value })}
            />
            <Group>
              <Button type="submit">Add provider</Button>
            </Group>
          </Stack>
        </form>
      </Card>
      {endpoints.length === 0 ? (
        <Text c="dimmed">No providers yet</Text>
      ) : (
        <Table aria-label="Providers">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Name</Table.Th>
              <Table.Th>Kind</Table.Th>
              <Table.Th>Base URL</Table.Th>
              <Table.Th>Key</Table.Th>
              <Table.Th>Models</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {endpoints.map((p) => (
              <Table.Tr key={p.id}>
                <Table.Td>{p.name}</Table.Td>
                <Table.Td>
                  <Badge variant="light">{p.kind}</Badge>
                </Table.Td>
                <Table.Td>
                  <Code>{p.base_url}</Code>
                </Table.Td>
                <Table.Td>{p.has_api_key ? "stored" : "none"}</Table.Td>
                <Table.Td>
                  {models[p.id] ? (
                    <Text size="sm">{models[p.id].length ? models[p.id].join(", ") : "none configured"}</Text>
                  ) : (
                    <Button size="xs" variant="subtle" onClick={() => showModels(p.id)}>
                      Show
                    </Button>
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Page>
  );
}
