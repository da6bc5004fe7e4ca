// Pure aggregation for the Usage page: rows from GET /api/v1/usage (one per UTC day,
// model and API key) folded into totals, a per-day chart series and per-model/per-key tables.
import type { Schemas } from "../api/client";

export type UsageRow = Schemas["UsageSummaryRow"];

/** What the per-day chart counts. */
export type Measure = "tokens" | "calls";

/** Sums over some rows; latency is the mean weighted by calls. */
export interface UsageStats {
  calls: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  /** prompt_tokens + completion_tokens */
  tokens: number;
  avg_latency_ms: number;
}

export interface ModelUsage extends UsageStats {
  model: string;
}

export interface KeyUsage extends UsageStats {
  /** null: the web UI (a session), not an API key. */
  api_key_id: string | null;
}

/** One bar of the chart: the day and one value per model, under the model's series key. */
export type DayPoint = { day: string } & Record<string, number | string>;

/**
 * The data key of the i-th model's series. Model names are not used as keys: they hold
 * dots ("llama3.1:8b") that the chart library reads as nested paths.
 */
export function seriesKey(i: number): string {
  return `m${i}`;
}

/** How the null key (the web UI, signed in with a session) is shown. */
export const WEB_UI_LABEL = "Web UI / sessions";

/** Sums calls, errors and tokens; the mean latency is weighted by each row's calls (0 when no calls). */
export function totals(rows: readonly UsageRow[]): UsageStats {
  let calls = 0, errors = 0, prompt = 0, completion = 0, latency = 0;
  for (const r of rows) {
    calls += r.calls;
    errors += r.errors;
    prompt += r.prompt_tokens;
    completion += r.completion_tokens;
    latency += r.avg_latency_ms * r.calls;
  }
  return {
    calls,
    errors,
    prompt_tokens: prompt,
    completion_tokens: completion,
    tokens: prompt + completion,
    avg_latency_ms: calls ? latency / calls : 0,
  };
}

function groupBy<K>(rows: readonly UsageRow[], key: (r: UsageRow) => K): Map<K, UsageRow[]> {
  const groups = new Map<K, UsageRow[]>();
  for (const r of rows) {
    const k = key(r);
    const group = groups.get(k);
    if (group) group.push(r);
    else groups.set(k, [r]);
  }
  return groups;
}

/** Most tokens first, then most calls. */
function byTokens(a: UsageStats, b: UsageStats): number {
  return b.tokens - a.tokens || b.calls - a.calls;
}

/** Totals per model, most tokens first. */
export function perModel(rows: readonly UsageRow[]): ModelUsage[] {
  return [...groupBy(rows, (r) => r.model)]
    .map(([model, group]) => ({ model, ...totals(group) }))
    .sort((a, b) => byTokens(a, b) || a.model.localeCompare(b.model));
}

/** Totals per API key (null: the web UI), most tokens first. */
export function perKey(rows: readonly UsageRow[]): KeyUsage[] {
  return [...groupBy(rows, (r) => r.api_key_id ?? null)]
    .map(([api_key_id, group]) => ({ api_key_id, ...totals(group) }))
    .sort(byTokens);
}

/** A key's name when it is one of the caller's keys, else its id; the null key is the web UI. */
export function keyLabel(id: string | null, names: ReadonlyMap<string, string>): string {
  if (id === null) return WEB_UI_LABEL;
  return names.get(id) ?? id;
}

/** The UTC day of an instant, "YYYY-MM-DD". */
export function utcDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/**
 * The UTC days the last `days` days touch, oldest first, ending with `today`'s. The server
 * counts from `now - days`, so that window spans `days + 1` UTC days (the first one partly).
 */
export function periodDays(days: number, today: Date): string[] {
  const y = today.getUTCFullYear(), m = today.getUTCMonth(), d = today.getUTCDate();
  return Array.from({ length: days + 1 }, (_, i) => utcDay(new Date(Date.UTC(y, m, d - days + i))));
}

function measureOf(r: UsageRow, measure: Measure): number {
  return measure === "calls" ? r.calls : r.prompt_tokens + r.completion_tokens;
}

/**
 * Chart data: one point per day of the period (every day, zero when unused), with one value
 * per model to stack under `seriesKey(i)`, and the models that have any, largest first
 * (`models[i]`, the bottom of the stack first).
 */
export function perDay(
  rows: readonly UsageRow[],
  days: number,
  measure: Measure,
  today: Date = new Date(),
): { data: DayPoint[]; models: string[] } {
  const dayList = periodDays(days, today);
  const inPeriod = new Set(dayList);
  const byModel = new Map<string, number>();
  const cells = new Map<string, number>();
  for (const r of rows) {
    if (!inPeriod.has(r.day)) continue;
    const v = measureOf(r, measure);
    byModel.set(r.model, (byModel.get(r.model) ?? 0) + v);
    const cell = `${r.day}\n${r.model}`;
    cells.set(cell, (cells.get(cell) ?? 0) + v);
  }
  const models = [...byModel]
    .filter(([, v]) => v > 0)
    .sort(([a, va], [b, vb]) => vb - va || a.localeCompare(b))
    .map(([model]) => model);
  const data = dayList.map((day) => {
    const point: DayPoint = { day };
    models.forEach((model, i) => (point[seriesKey(i)] = cells.get(`${day}\n${model}`) ?? 0));
    return point;
  });
  return { data, models };
}

/** A latency for people: "240 ms", "1.3 s"; "–" for none. */
export function formatLatency(ms: number): string {
  if (!ms) return "–";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** A UTC day as a short axis label, e.g. "Mar 5" (in the viewer's locale). */
export function shortDay(day: string): string {
  return new Date(`${day}T00:00:00Z`).toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
}
