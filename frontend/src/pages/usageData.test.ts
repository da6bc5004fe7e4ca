import { describe, expect, it } from "vitest";
import { formatLatency, keyLabel, perDay, perKey, perModel, periodDays, seriesKey, totals, WEB_UI_LABEL, type UsageRow } from "./usageData";

function row(over: Partial<UsageRow>): UsageRow {
  return {
    day: "2026-03-10",
    model: "llama",
    api_key_id: null,
    calls: 1,
    errors: 0,
    prompt_tokens: 0,
    completion_tokens: 0,
    avg_latency_ms: 100,
    ...over,
  };
}

// Late in the UTC day, so a local-time slip would show up as the wrong day.
const today = new Date("2026-03-10T23:30:00Z");

describe("totals", () => {
  it("sums counts and weights the mean latency by calls", () => {
    const t = totals([
      row({ calls: 3, errors: 1, prompt_tokens: 10, completion_tokens: 5, avg_latency_ms: 100 }),
      row({ calls: 1, prompt_tokens: 2, completion_tokens: 1, avg_latency_ms: 500 }),
    ]);
    expect(t).toEqual({ calls: 4, errors: 1, prompt_tokens: 12, completion_tokens: 6, tokens: 18, avg_latency_ms: 200 });
  });

  it("is all zeros for no rows", () => {
    expect(totals([])).toEqual({ calls: 0, errors: 0, prompt_tokens: 0, completion_tokens: 0, tokens: 0, avg_latency_ms: 0 });
  });
});

describe("periodDays", () => {
  it("lists every UTC day of the window, oldest first, across a month end", () => {
    expect(periodDays(3, new Date("2026-03-01T00:10:00Z"))).toEqual(["2026-02-26", "2026-02-27", "2026-02-28", "2026-03-01"]);
  });
});

describe("perDay", () => {
  it("fills days without usage with zeros and stacks values by model", () => {
    const rows = [
      row({ day: "2026-03-08", model: "a", prompt_tokens: 10, completion_tokens: 5 }),
      row({ day: "2026-03-08", model: "a", api_key_id: "k1", prompt_tokens: 1, completion_tokens: 1 }),
      row({ day: "2026-03-10", model: "b", prompt_tokens: 100, completion_tokens: 0 }),
      row({ day: "2026-03-10", model: "a", prompt_tokens: 3, completion_tokens: 0 }),
    ];
    const { data, models } = perDay(rows, 3, "tokens", today);
    // Largest first; each model's values are under seriesKey(its index).
    expect(models).toEqual(["b", "a"]);
    expect([seriesKey(0), seriesKey(1)]).toEqual(["m0", "m1"]);
    expect(data).toEqual([
      { day: "2026-03-07", m0: 0, m1: 0 },
      { day: "2026-03-08", m0: 0, m1: 17 },
      { day: "2026-03-09", m0: 0, m1: 0 },
      { day: "2026-03-10", m0: 100, m1: 3 },
    ]);
  });

  it("counts calls, ignores rows outside the window and models with nothing to show", () => {
    const rows = [
      row({ day: "2026-03-09", model: "a", calls: 2 }),
      row({ day: "2026-01-01", model: "old", calls: 9 }),
      row({ day: "2026-03-10", model: "idle", calls: 0 }),
    ];
    const { data, models } = perDay(rows, 1, "calls", today);
    expect(models).toEqual(["a"]);
    expect(data).toEqual([
      { day: "2026-03-09", m0: 2 },
      { day: "2026-03-10", m0: 0 },
    ]);
  });

  it("has every day even with no rows", () => {
    const { data, models } = perDay([], 7, "tokens", today);
    expect(models).toEqual([]);
    expect(data).toHaveLength(8);
    expect(data.at(-1)).toEqual({ day: "2026-03-10" });
  });
});

describe("perModel", () => {
  it("groups by model, most tokens first, with the weighted mean latency", () => {
    const rows = [
      row({ model: "small", calls: 1, prompt_tokens: 5, avg_latency_ms: 50 }),
      row({ model: "big", calls: 1, prompt_tokens: 50, completion_tokens: 50, avg_latency_ms: 1000 }),
      row({ model: "big", day: "2026-03-09", calls: 3, errors: 2, prompt_tokens: 0, avg_latency_ms: 200 }),
    ];
    const models = perModel(rows);
    expect(models.map((m) => m.model)).toEqual(["big", "small"]);
    expect(models[0]).toMatchObject({ calls: 4, errors: 2, tokens: 100, avg_latency_ms: 400 });
  });
});

describe("perKey", () => {
  it("groups by key with the web UI as null, most tokens first, and labels keys", () => {
    const rows = [
      row({ api_key_id: null, prompt_tokens: 1 }),
      row({ api_key_id: undefined, prompt_tokens: 1 }),
      row({ api_key_id: "key_1", prompt_tokens: 10 }),
      row({ api_key_id: "key_2", prompt_tokens: 5 }),
    ];
    const keys = perKey(rows);
    expect(keys.map((k) => [k.api_key_id, k.tokens])).toEqual([
      ["key_1", 10],
      ["key_2", 5],
      [null, 2],
    ]);
    const names = new Map([["key_1", "laptop"]]);
    expect(keys.map((k) => keyLabel(k.api_key_id, names))).toEqual(["laptop", "key_2", WEB_UI_LABEL]);
  });
});

describe("formatLatency", () => {
  it("shows milliseconds, seconds, or a dash for none", () => {
    expect([formatLatency(0), formatLatency(240.4), formatLatency(1250)]).toEqual(["–", "240 ms", "1.3 s"]);
  });
});
