import { Alert, Button, Card, Group, Select, SimpleGrid, Stack, Text, TextInput, Textarea, Title } from "@mantine/core";
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { useNavigate } from "react-router-dom";
import { api, errorMessage, type Schemas } from "../api/client";
import { Page } from "../components/Page";
import { useModels } from "../hooks/useModels";
import { useMeContext } from "../me";

type App = Schemas["App"];
const empty = { name: "", model: "", system_prompt: "", description: "" };

/** Apps (assistants): a model with a system prompt, shared in an org; chat with one. */
export function AppsPage() {
  const me = useMeContext();
  const models = useModels();
  const navigate = useNavigate();
  const [apps, setApps] = useState<App[]>([]);
  const [form, setForm] = useState(empty);
  const [org, setOrg] = useState<string | null>(me.orgs[0]?.id ?? null);
  const [editing, setEditing] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    const { data, error } = await api.GET("/api/v1/apps");
    if (data) setApps(data);
    else setError(errorMessage(error));
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    const model = form.model || models[0];
    if (!model) return setError("No model available: add a provider or a runner first");
    const result = editing
      ? await api.PATCH("/api/v1/apps/{app_id}", { params: { path: { app_id: editing } }, body: { ...form, model } })
      : await api.POST("/api/v1/apps", { body: { ...form, model, org_id: org ?? "" } });
    if (result.error) return setError(errorMessage(result.error));
    setForm(empty);
    setEditing(null);
    void load();
  };

  const remove = async (id: string) => {
    const { error } = await api.DELETE("/api/v1/apps/{app_id}", { params: { path: { app_id: id } } });
    if (error) setError(errorMessage(error));
    void load();
  };

  return (
    <Page title="Apps" intro="Assistants: a model with a system prompt and settings, shared with an org.">
      {error && (
        <Alert color="red" role="alert">
          {error}
        </Alert>
      )}
      <Card withBorder>
        <form onSubmit={save}>
          <Stack>
            <Title order={4}>{editing ? "Edit app" : "New app"}</Title>
            <Group grow>
              <TextInput label="Name" required value={form.name} onChange={(e) => setForm({ ...form, name: e.currentTarget.value })} />
              <Select
                label="Model"
                data={models}
                value={form.model || models[0] || null}
                onChange={(v) => setForm({ ...form, model: v ?? "" })}
                placeholder="Choose a model"
              />
              {!editing && (
                <Select
                  label="Organization"
                  data={me.orgs.map((o) => ({ value: o.id, label: o.name }))}
                  value={org}
                  onChange={setOrg}
                />
              )}
            </Group>
            <TextInput label="Description" value={form.description} onChange={(e) => setForm({ ...form, description: e.currentTarget.value })} />
            <Textarea
              label="System prompt"
              autosize
              minRows={3}
              value={form.system_prompt}
              onChange={(e) => setForm({ ...form, system_prompt: e.currentTarget.value })}
            />
            <Group>
              <Button type="submit">{editing ? "Save" : "Create app"}</Button>
              {editing && (
                <Button variant="default" onClick={() => (setEditing(null), setForm(empty))}>
                  Cancel
                </Button>
              )}
            </Group>
          </Stack>
        </form>
      </Card>
      {apps.length === 0 ? (
        <Text c="dimmed">No apps yet</Text>
      ) : (
        <SimpleGrid cols={{ base: 1, sm: 2, md: 3 }}>
          {apps.map((a) => (
            <Card key={a.id} withBorder data-testid="app-card">
              <Stack gap={4}>
                <Title order={4}>{a.name}</Title>
                <Text size="sm" c="dimmed">
                  {a.model}
                </Text>
                <Text size="sm" lineClamp={3}>
                  {a.description || a.system_prompt}
                </Text>
                <Group mt="sm" gap="xs">
                  <Button size="xs" onClick={() => navigate(`/chat?app=${a.id}`)} aria-label={`Chat with ${a.name}`}>
                    Chat
                  </Button>
                  <Button
                    size="xs"
                    variant="default"
                    onClick={() => {
                      setEditing(a.id);
                      setForm({ name: a.name, model: a.model, system_prompt: a.system_prompt, description: a.description });
                    }}
                  >
                    Edit
                  </Button>
                  <Button size="xs" color="red" variant="light" onClick={() => remove(a.id)} aria-label={`Delete ${a.name}`}>
                    Delete
                  </Button>
                </Group>
              </Stack>
            </Card>
          ))}
        </SimpleGrid>
      )}
    </Page>
  );
}
