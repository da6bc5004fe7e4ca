import { Alert, Badge, Button, Checkbox, Group, NumberInput, Stack, Table, Text, TextInput } from "@mantine/core";
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { api, errorMessage, type Schemas } from "../api/client";

/**
 * One provider's models: what its upstream offers (as `/v1/models` lists them, named
 * `provider/model`), the models registered for it, and a form to register one, as the
 * default for its bare name (callers then need no `provider/` prefix).
 */
export function ProviderModels({ endpoint, canEdit }: { endpoint: Schemas["ProviderEndpoint"]; canEdit: boolean }) {
  const [registered, setRegistered] = useState<Schemas["Model"][] | null>(null);
  const [offered, setOffered] = useState<string[] | null>(null);
  const [name, setName] = useState("");
  const [context, setContext] = useState<number | string>("");
  const [isDefault, setIsDefault] = useState(true);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    const { data, error } = await api.GET("/api/v1/providers/{endpoint_id}/models", { params: { path: { endpoint_id: endpoint.id } } });
    if (data) setRegistered(data);
    else setError(errorMessage(error));
    const prefix = `${endpoint.name}/`;
    const list = await fetch("/v1/models", { credentials: "same-origin" })
      .then((r) => (r.ok ? (r.json() as Promise<{ data?: { id: string }[] }>) : { data: [] }))
      .catch(() => ({ data: [] }));
    setOffered((list.data ?? []).map((m) => m.id).filter((id) => id.startsWith(prefix)).map((id) => id.slice(prefix.length)));
  }, [endpoint.id, endpoint.name]);
  useEffect(() => {
    void load();
  }, [load]);

  const add = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    const { error } = await api.POST("/api/v1/providers/{endpoint_id}/models", {
      params: { path: { endpoint_id: endpoint.id } },
      body: { name: name.trim(), is_default: isDefault, context_length: typeof context === "number" ? context : null },
    });
    if (error) return setError(errorMessage(error));
    setName("");
    setContext("");
    void load();
  };

  return (
    <Stack gap="xs" data-testid={`models-of-${endpoint.name}`}>
      {error && (
        <Alert color="red" role="alert">
          {error}
        </Alert>
      )}
      <Text size="sm">
        <b>Offered by the upstream:</b>{" "}
        {offered === null ? "…" : offered.length ? offered.join(", ") : "none listed (the upstream may be unreachable)"}
      </Text>
      {registered && registered.length > 0 && (
        <Table aria-label={`Registered models of ${endpoint.name}`}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Model</Table.Th>
              <Table.Th>Context</Table.Th>
              <Table.Th>Default</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {registered.map((m) => (
              <Table.Tr key={m.id}>
                <Table.Td>{m.name}</Table.Td>
                <Table.Td>{m.context_length ?? "unknown"}</Table.Td>
                <Table.Td>{m.is_default ? <Badge>default for “{m.name}”</Badge> : null}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {canEdit && (
        <form onSubmit={add}>
          <Group align="flex-end">
            <TextInput
              label="Model name"
              required
              placeholder={offered?.[0] ?? "gpt-4o-mini"}
              value={name}
              onChange={(e) => setName(e.currentTarget.value)}
            />
            <NumberInput label="Context (tokens)" min={1} allowDecimal={false} value={context} onChange={setContext} w={150} />
            <Checkbox
              label="Default for this name"
              description="Callers may use it without the provider prefix"
              checked={isDefault}
              onChange={(e) => setIsDefault(e.currentTarget.checked)}
            />
            <Button type="submit" aria-label={`Register model for ${endpoint.name}`}>
              Register model
            </Button>
          </Group>
        </form>
      )}
    </Stack>
  );
}
