import "@mantine/charts/styles.css";
import { BarChart } from "@mantine/charts";
import { Alert, Group, Loader, Paper, SegmentedControl, SimpleGrid, Stack, Switch, Table, Text, Title } from "@mantine/core";
import { useContext, useEffect, useId, useMemo, useState } from "react";
import { api, errorMessage } from "../api/client";
import { Page } from "../components/Page";
import { MeContext } from "../me";
import {
  formatLatency,
  keyLabel,
  perDay,
  perKey,
  perModel,
  seriesKey,
  shortDay,
  totals,
  type Measure,
  type UsageRow,
  type UsageStats,
} from "./usageData";

const PERIODS = ["7", "30", "90"];
const COLORS = ["blue.6", "teal.6", "grape.6", "orange.6", "cyan.6", "pink.6", "lime.6", "indigo.6", "yellow.6", "red.6"];
const count = (n: number) => n.toLocaleString();

/** Usage: calls, tokens and latency over the last 7, 30 or 90 days, per day, model and API key. */
export function UsagePage() {
  const me = useContext(MeContext);
  const isAdmin = me?.user.is_admin ?? false;
  const [days, setDays] = useState(30);
  const [all, setAll] = useState(false);
  const [measure, setMeasure] = useState<Measure>("tokens");
  // The rows and when they were fetched: the chart's last day is that day.
  const [usage, setUsage] = useState<{ rows: UsageRow[]; today: Date } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [keyNames, setKeyNames] = useState<ReadonlyMap<string, string>>(new Map());

  useEffect(() => {
    let stale = false;
    setUsage(null);
    setError(null);
    api
      .GET("/api/v1/usage", { params: { query: { days, all: isAdmin && all } } })
      .then(({ data, error }) => {
        if (stale) return;
        if (data) setUsage({ rows: data, today: new Date() });
        else setError(errorMessage(error));
      })
      .catch((e: unknown) => !stale && setError(errorMessage(e)));
    return () => {
      stale = true;
    };
  }, [days, all, isAdmin]);

  // Names for the caller's own keys; without them, keys show as ids.
  useEffect(() => {
    api
      .GET("/api/v1/api-keys")
      .then(({ data }) => data && setKeyNames(new Map(data.map((k) => [k.id, k.name]))))
      .catch(() => {});
  }, []);

  const rows = usage?.rows;
  const chart = useMemo(() => (usage ? perDay(usage.rows, days, measure, usage.today) : null), [usage, days, measure]);
  const periodLabel = useId();

  return (
    <Page title="Usage" intro="Calls, tokens and latency of the models you used, per day (UTC), model and API key.">
      <Group align="flex-end" justify="space-between">
        <Stack gap={4}>
          <Text size="sm" fw={500} id={periodLabel}>
            Period
          </Text>
          <SegmentedControl
            aria-labelledby={periodLabel}
            value={String(days)}
            onChange={(v) => setDays(Number(v))}
            data={PERIODS.map((d) => ({ value: d, label: `${d} days` }))}
          />
        </Stack>
        {isAdmin && <Switch label="Everyone's usage" checked={all} onChange={(e) => setAll(e.currentTarget.checked)} />}
      </Group>
      {error && (
        <Alert color="red" role="alert">
          {error}
        </Alert>
      )}
      {!rows && !error && <Loader aria-label="Loading usage" />}
      {rows && rows.length === 0 && <Text c="dimmed">No usage in the last {days} days</Text>}
      {rows && rows.length > 0 && chart && (
        <>
          <Totals stats={totals(rows)} />
          <Paper withBorder p="md">
            <Group justify="space-between" mb="md">
              <Title order={4}>{measure === "tokens" ? "Tokens" : "Calls"} per day</Title>
              <SegmentedControl
                aria-label="Measure"
                size="xs"
                value={measure}
                onChange={(v) => setMeasure(v as Measure)}
                data={[
                  { value: "tokens", label: "Tokens" },
                  { value: "calls", label: "Calls" },
                ]}
              />
            </Group>
            <div role="figure" aria-label="Usage per day" data-testid="usage-chart">
              <BarChart
                h={280}
                data={chart.data}
                dataKey="day"
                type="stacked"
                series={chart.models.map((label, i) => ({ name: seriesKey(i), label, color: COLORS[i % COLORS.length] }))}
                withLegend
                tickLine="y"
                valueFormatter={count}
                xAxisProps={{ tickFormatter: shortDay }}
              />
            </div>
          </Paper>
          <UsageTable label="Usage per model" first="Model" items={perModel(rows).map((m) => ({ id: m.model, name: m.model, ...m }))} />
          <UsageTable
            label="Usage per key"
            first="Key"
            items={perKey(rows).map((k) => ({ id: k.api_key_id ?? "", name: keyLabel(k.api_key_id, keyNames), ...k }))}
          />
        </>
      )}
    </Page>
  );
}

function Totals({ stats }: { stats: UsageStats }) {
  const errorRate = stats.calls ? ` (${((stats.errors / stats.calls) * 100).toFixed(1)}%)` : "";
  const cards: [string, string][] = [
    ["Calls", count(stats.calls)],
    ["Errors", count(stats.errors) + errorRate],
    ["Prompt tokens", count(stats.prompt_tokens)],
    ["Completion tokens", count(stats.completion_tokens)],
    ["Mean latency", formatLatency(stats.avg_latency_ms)],
  ];
  return (
    <SimpleGrid cols={{ base: 2, sm: 5 }}>
      {cards.map(([label, value]) => (
        <Paper key={label} withBorder p="md">
          <Text size="xs" c="dimmed" tt="uppercase" fw={700}>
            {label}
          </Text>
          <Text size="xl" fw={700}>
            {value}
          </Text>
        </Paper>
      ))}
    </SimpleGrid>
  );
}

function UsageTable({ label, first, items }: { label: string; first: string; items: (UsageStats & { id: string; name: string })[] }) {
  return (
    <div>
      <Title order={4} mb="xs">
        {label}
      </Title>
      <Table striped aria-label={label}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{first}</Table.Th>
            <Table.Th ta="right">Calls</Table.Th>
            <Table.Th ta="right">Errors</Table.Th>
            <Table.Th ta="right">Prompt tokens</Table.Th>
            <Table.Th ta="right">Completion tokens</Table.Th>
            <Table.Th ta="right">Mean latency</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {items.map((s) => (
            <Table.Tr key={s.id}>
              <Table.Td>{s.name}</Table.Td>
              <Table.Td ta="right">{count(s.calls)}</Table.Td>
              <Table.Td ta="right">{count(s.errors)}</Table.Td>
              <Table.Td ta="right">{count(s.prompt_tokens)}</Table.Td>
              <Table.Td ta="right">{count(s.completion_tokens)}</Table.Td>
              <Table.Td ta="right">{formatLatency(s.avg_latency_ms)}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </div>
  );
}
