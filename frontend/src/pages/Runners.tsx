import { Alert, Badge, Card, Group, Progress, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import { useEffect, useState } from "react";
import { Page } from "../components/Page";
import { RunnerTokens } from "./RunnerTokens";

// `GET /api/v1/scheduler` (site admins): helix-sched's SchedulerView.
type Gpu = { index: number; name: string; total_bytes: number; free_bytes: number; booked_bytes: number };
type Instance = { id: string; model: string; gpus: number[]; state: string; active: number; slots: number; idle_secs: number; booked_bytes: number };
type Runner = { id: string; name: string; state: string; seen_secs_ago: number; gpus: Gpu[]; instances: Instance[] };
type View = {
  runners: Runner[];
  queue: { ticket: string; owner: string; model: string; waited_ms: number; waiting_for: string }[];
  decisions: { ago_ms: number; kind: string; message: string }[];
};

const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;

/** Runners (site admins): their GPUs with booked and free memory, instances, the queue, decisions. */
export function RunnersPage() {
  const [view, setView] = useState<View | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stop = false;
    const load = async () => {
      const r = await fetch("/api/v1/scheduler", { credentials: "same-origin" });
      if (stop) return;
      if (r.ok) {
        setView(await r.json());
        setError(null);
      } else {
        const body = await r.json().catch(() => ({}));
        setError(body?.error?.message ?? r.statusText);
      }
    };
    void load();
    const timer = setInterval(load, 3000);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, []);

  return (
    <Page title="Runners" intro="GPU runners and what the scheduler placed on them (refreshes every 3 s).">
      {error && (
        <Alert color="red" role="alert">
          {error}
        </Alert>
      )}
      {view && view.runners.length === 0 && <Text c="dimmed">No runner is connected</Text>}
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        {view?.runners.map((r) => (
          <Card key={r.id} withBorder data-testid="runner-card">
            <Stack gap="xs">
              <Group justify="space-between">
                <Title order={4}>{r.name || r.id}</Title>
                <Badge color={r.state === "connected" ? "green" : r.state === "stale" ? "yellow" : "red"}>{r.state}</Badge>
              </Group>
              {r.gpus.map((g) => (
                <div key={g.index}>
                  <Group justify="space-between">
                    <Text size="sm">
                      GPU {g.index}: {g.name}
                    </Text>
                    <Text size="sm" c="dimmed">
                      {gib(g.booked_bytes)} booked of {gib(g.total_bytes)}
                    </Text>
                  </Group>
                  <Progress.Root size="lg" aria-label={`GPU ${g.index} memory`}>
                    <Progress.Section value={(100 * g.booked_bytes) / Math.max(1, g.total_bytes)} color="indigo" />
                  </Progress.Root>
                </div>
              ))}
              <Table>
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Model</Table.Th>
                    <Table.Th>State</Table.Th>
                    <Table.Th>Busy</Table.Th>
                    <Table.Th>Memory</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {r.instances.map((i) => (
                    <Table.Tr key={i.id}>
                      <Table.Td>{i.model}</Table.Td>
                      <Table.Td>{i.state}</Table.Td>
                      <Table.Td>
                        {i.active}/{i.slots}
                      </Table.Td>
                      <Table.Td>{gib(i.booked_bytes)}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Stack>
          </Card>
        ))}
      </SimpleGrid>
      {view && (
        <Card withBorder>
          <Title order={4}>Queue</Title>
          {view.queue.length === 0 ? (
            <Text c="dimmed" size="sm">
              Nothing waits
            </Text>
          ) : (
            view.queue.map((q) => (
              <Text key={q.ticket} size="sm">
                {q.model} for {q.owner}: {q.waited_ms} ms, {q.waiting_for}
              </Text>
            ))
          )}
          <Title order={4} mt="md">
            Recent decisions
          </Title>
          {view.decisions.slice(0, 20).map((d, i) => (
            <Text key={i} size="sm">
              <Badge size="xs" variant="light" mr="xs">
                {d.kind}
              </Badge>
              {d.message}
            </Text>
          ))}
        </Card>
      )}
      <RunnerTokens />
    </Page>
  );
}
