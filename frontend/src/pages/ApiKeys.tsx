import { Alert, Button, Code, Group, Table, Text, TextInput } from "@mantine/core";
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { api, errorMessage, type Schemas } from "../api/client";
import { Page, when } from "../components/Page";
import { ShownOnce } from "../components/ShownOnce";

/** API keys: create one (its secret is shown once), see when each was last used, revoke. */
export function ApiKeysPage() {
  const [keys, setKeys] = useState<Schemas["ApiKey"][]>([]);
  const [name, setName] = useState("");
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    const { data, error } = await api.GET("/api/v1/api-keys");
    if (data) setKeys(data);
    else setError(errorMessage(error));
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    const { data, error } = await api.POST("/api/v1/api-keys", { body: { name } });
    if (error || !data) return setError(errorMessage(error));
    setSecret(data.key);
    setName("");
    void load();
  };

  const revoke = async (id: string) => {
    const { error } = await api.DELETE("/api/v1/api-keys/{key_id}", { params: { path: { key_id: id } } });
    if (error) setError(errorMessage(error));
    void load();
  };

  return (
    <Page title="API keys" intro="Keys for the OpenAI-compatible /v1 API and scripts. A key's secret is shown once, when it is created.">
      {error && (
        <Alert color="red" role="alert">
          {error}
        </Alert>
      )}
      {secret && <ShownOnce secret={secret} title="Copy your new key now: it will not be shown again" testId="new-key" onClose={() => setSecret(null)} />}
      <form onSubmit={create}>
        <Group align="flex-end">
          <TextInput label="Key name" required value={name} onChange={(e) => setName(e.currentTarget.value)} placeholder="laptop" />
          <Button type="submit">Create key</Button>
        </Group>
      </form>
      {keys.length === 0 ? (
        <Text c="dimmed">No keys yet</Text>
      ) : (
        <Table striped aria-label="API keys">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Name</Table.Th>
              <Table.Th>Key</Table.Th>
              <Table.Th>Created</Table.Th>
              <Table.Th>Last used</Table.Th>
              <Table.Th>Status</Table.Th>
              <Table.Th />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {keys.map((k) => (
              <Table.Tr key={k.id}>
                <Table.Td>{k.name}</Table.Td>
                <Table.Td>
                  <Code>{k.prefix}…</Code>
                </Table.Td>
                <Table.Td>{when(k.created_at)}</Table.Td>
                <Table.Td>{when(k.last_used_at)}</Table.Td>
                <Table.Td>{k.revoked_at ? "revoked" : "active"}</Table.Td>
                <Table.Td>
                  {!k.revoked_at && (
                    <Button size="xs" color="red" variant="light" onClick={() => revoke(k.id)} aria-label={`Revoke ${k.name}`}>
                      Revoke
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
