import { Alert, Button, Card, Code, Group, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { api, errorMessage, type Schemas } from "../api/client";
import { when } from "../components/Page";
import { ShownOnce } from "../components/ShownOnce";

/**
 * Runner tokens (site admins): one per GPU runner; a runner dials in with
 * `helix runner --token`. The secret is shown once, at creation.
 */
export function RunnerTokens() {
  const [tokens, setTokens] = useState<Schemas["RunnerToken"][] | null>(null);
  const [runnerId, setRunnerId] = useState("");
  const [note, setNote] = useState("");
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    const { data, error } = await api.GET("/api/v1/runner-tokens");
    if (data) setTokens(data);
    else setError(errorMessage(error));
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    const { data, error } = await api.POST("/api/v1/runner-tokens", {
      body: { runner_id: runnerId.trim(), description: note.trim() || null },
    });
    if (error || !data) return setError(errorMessage(error));
    setSecret(data.token);
    setRunnerId("");
    setNote("");
    void load();
  };

  const revoke = async (id: string) => {
    setError(null);
    const { error } = await api.DELETE("/api/v1/runner-tokens/{token_id}", { params: { path: { token_id: id } } });
    if (error) setError(errorMessage(error));
    void load();
  };

  return (
    <Card withBorder>
      <Stack gap="sm">
        <Title order={4}>Runner tokens</Title>
        <Text size="sm" c="dimmed">
          A GPU runner dials in with its token: <Code>helix runner --server URL --token TOKEN</Code>.
        </Text>
        {error && (
          <Alert color="red" role="alert">
            {error}
          </Alert>
        )}
        {secret && <ShownOnce secret={secret} title="Copy the runner's token now: it will not be shown again" testId="new-runner-token" onClose={() => setSecret(null)} />}
        <form onSubmit={create}>
          <Group align="flex-end">
            <TextInput
              label="Runner id"
              required
              value={runnerId}
              onChange={(e) => setRunnerId(e.currentTarget.value)}
              placeholder="gpu-node-1"
              description="Lowercase letters, digits and dashes"
            />
            <TextInput label="Note" value={note} onChange={(e) => setNote(e.currentTarget.value)} placeholder="rack 3" />
            <Button type="submit">Create token</Button>
          </Group>
        </form>
        {tokens === null ? null : tokens.length === 0 ? (
          <Text c="dimmed" size="sm">
            No runner tokens yet
          </Text>
        ) : (
          <Table striped aria-label="Runner tokens">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Runner</Table.Th>
                <Table.Th>Token</Table.Th>
                <Table.Th>Note</Table.Th>
                <Table.Th>Last used</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {tokens.map((t) => (
                <Table.Tr key={t.id}>
                  <Table.Td>{t.runner_id}</Table.Td>
                  <Table.Td>
                    <Code>{t.prefix}…</Code>
                  </Table.Td>
                  <Table.Td>{t.description}</Table.Td>
                  <Table.Td>{when(t.last_used_at)}</Table.Td>
                  <Table.Td>{t.revoked_at ? "revoked" : t.expires_at && new Date(t.expires_at) < new Date() ? "expired" : "active"}</Table.Td>
                  <Table.Td>
                    {!t.revoked_at && (
                      <Button size="xs" color="red" variant="light" onClick={() => revoke(t.id)} aria-label={`Revoke token of ${t.runner_id}`}>
                        Revoke
                      </Button>
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Stack>
    </Card>
  );
}
