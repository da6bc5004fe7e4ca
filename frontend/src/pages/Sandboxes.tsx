import { Alert, Badge, Button, Code, Group, NumberInput, Table, Text, TextInput } from "@mantine/core";
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { api, errorMessage, type Schemas } from "../api/client";
import { Page, when } from "../components/Page";

/** Sandboxes: your isolated workspaces (each with its own Docker engine): create, watch expire, stop. */
export function SandboxesPage() {
  const [boxes, setBoxes] = useState<Schemas["SandboxInfo"][] | null>(null);
  const [image, setImage] = useState("helix/busybox");
  const [minutes, setMinutes] = useState<number | string>(30);
  const [creating, setCreating] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    const { data, error } = await api.GET("/api/v1/sandboxes");
    if (data) setBoxes(data.sort((a, b) => b.created_at.localeCompare(a.created_at)));
    else setError(errorMessage(error));
  }, []);
  useEffect(() => {
    void load();
    const timer = setInterval(load, 5000);
    return () => clearInterval(timer);
  }, [load]);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setCreating(true);
    const timeout = typeof minutes === "number" && minutes > 0 ? minutes * 60 : undefined;
    const { error } = await api.POST("/api/v1/sandboxes", { body: { image: image.trim(), timeout } });
    setCreating(false);
    if (error) return setError(errorMessage(error));
    void load();
  };

  const stop = async (id: string) => {
    setError(null);
    const { error } = await api.DELETE("/api/v1/sandboxes/{sandbox_id}", { params: { path: { sandbox_id: id } } });
    if (error) setError(errorMessage(error));
    void load();
  };

  return (
    <Page
      title="Sandboxes"
      intro="Isolated workspaces for agents and CI jobs, each with its own Docker engine and networks. Scripts drive them with the SDKs or `helix sandbox`."
    >
      {error && (
        <Alert color="red" role="alert">
          {error}
        </Alert>
      )}
      <form onSubmit={create}>
        <Group align="flex-end">
          <TextInput label="Image" required value={image} onChange={(e) => setImage(e.currentTarget.value)} w={260} />
          <NumberInput label="Lifetime (minutes)" min={1} max={7 * 24 * 60} value={minutes} onChange={setMinutes} w={160} />
          <Button type="submit" loading={creating}>
            Create sandbox
          </Button>
        </Group>
      </form>
      {boxes === null ? null : boxes.length === 0 ? (
        <Text c="dimmed">No sandboxes</Text>
      ) : (
        <Table striped aria-label="Sandboxes">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Sandbox</Table.Th>
              <Table.Th>Image</Table.Th>
              <Table.Th>State</Table.Th>
              <Table.Th>Created</Table.Th>
              <Table.Th>Expires</Table.Th>
              <Table.Th />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {boxes.map((b) => (
              <Table.Tr key={b.id} data-testid="sandbox-row">
                <Table.Td>
                  <Code>{b.id}</Code>
                </Table.Td>
                <Table.Td>{b.image}</Table.Td>
                <Table.Td>
                  <Badge color={b.state === "running" ? "green" : "gray"}>{b.state}</Badge>
                </Table.Td>
                <Table.Td>{when(b.created_at)}</Table.Td>
                <Table.Td>{when(b.expires_at)}</Table.Td>
                <Table.Td>
                  {b.state === "running" && (
                    <Button size="xs" color="red" variant="light" onClick={() => stop(b.id)} aria-label={`Stop ${b.id}`}>
                      Stop
                    </Button>
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      <Text size="sm" c="dimmed">
        Desktops streamed to the browser are on the <Link to="/desktops">Desktops</Link> page.
      </Text>
    </Page>
  );
}
