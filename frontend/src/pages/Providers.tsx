import { Alert, Badge, Button, Card, Code, Group, PasswordInput, Select, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { Fragment, useCallback, useEffect, useState, type FormEvent } from "react";
import { api, errorMessage, type Schemas } from "../api/client";
import { Page } from "../components/Page";
import { useMeContext, type Me } from "../me";
import { ProviderModels } from "./ProviderModels";

type Endpoint = Schemas["ProviderEndpoint"];

/** Whether `me` may change an endpoint (the server checks the same). */
function canManage(me: Me, p: Endpoint): boolean {
  const scope = p.scope;
  if (me.user.is_admin) return true;
  if (scope.scope === "user") return scope.user_id === me.user.id;
  if (scope.scope === "org") return me.orgs.some((o) => o.id === scope.org_id && (o.role === "owner" || o.role === "admin"));
  return false;
}

/** Provider endpoints: OpenAI-compatible or Anthropic upstreams; a key is entered once. */
export function ProvidersPage() {
  const me = useMeContext();
  const [endpoints, setEndpoints] = useState<Endpoint[]>([]);
  const [open, setOpen] = useState<string | null>(null);
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

  const remove = async (p: Endpoint) => {
    setError(null);
    const { error } = await api.DELETE("/api/v1/providers/{endpoint_id}", { params: { path: { endpoint_id: p.id } } });
    if (error) return setError(errorMessage(error));
    if (open === p.id) setOpen(null);
    void load();
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
              <Table.Th />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {endpoints.map((p) => (
              <Fragment key={p.id}>
                <Table.Tr>
                  <Table.Td>{p.name}</Table.Td>
                  <Table.Td>
                    <Badge variant="light">{p.kind}</Badge>
                  </Table.Td>
                  <Table.Td>
                    <Code>{p.base_url}</Code>
                  </Table.Td>
                  <Table.Td>{p.has_api_key ? "stored" : "none"}</Table.Td>
                  <Table.Td>
                    <Button size="xs" variant="subtle" onClick={() => setOpen(open === p.id ? null : p.id)} aria-expanded={open === p.id} aria-label={`Models of ${p.name}`}>
                      {open === p.id ? "Hide" : "Models"}
                    </Button>
                  </Table.Td>
                  <Table.Td>
                    {canManage(me, p) && p.name !== "runners" && (
                      <Button size="xs" color="red" variant="light" onClick={() => remove(p)} aria-label={`Delete ${p.name}`}>
                        Delete
                      </Button>
                    )}
                  </Table.Td>
                </Table.Tr>
                {open === p.id && (
                  <Table.Tr>
                    <Table.Td colSpan={6}>
                      <ProviderModels endpoint={p} canEdit={canManage(me, p)} />
                    </Table.Td>
                  </Table.Tr>
                )}
              </Fragment>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Page>
  );
}
