import { describe, expect, it } from "vitest";
import type { Interaction } from "../api/client";
import { applyEvent } from "./chatState";

const base: Interaction = {
  id: "int_a",
  session_id: "ses_1",
  seq: 1,
  role: "assistant",
  content: "",
  state: "waiting",
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
};

describe("applyEvent", () => {
  it("adds interactions in order and replaces them on completion", () => {
    const user = { ...base, id: "int_u", seq: 0, role: "user" as const, content: "hi", state: "complete" as const };
    let list = applyEvent([], { type: "interaction_created", interaction: base });
    list = applyEvent(list, { type: "interaction_created", interaction: user });
    expect(list.map((i) => i.id)).toEqual(["int_u", "int_a"]);
    list = applyEvent(list, { type: "completed", interaction: { ...base, content: "done", state: "complete" } });
    expect(list[1].content).toBe("done");
  });

  it("applies deltas by offset, so a replayed delta changes nothing", () => {
    let list = applyEvent([], { type: "interaction_created", interaction: base });
    list = applyEvent(list, { type: "delta", interaction_id: "int_a", offset: 0, text: "Hel" });
    list = applyEvent(list, { type: "delta", interaction_id: "int_a", offset: 3, text: "lo ✓" });
    list = applyEvent(list, { type: "delta", interaction_id: "int_a", offset: 0, text: "Hel" });
    expect(list[0].content).toBe("Hello ✓");
    // A gap (a missed delta) is not papered over.
    list = applyEvent(list, { type: "delta", interaction_id: "int_a", offset: 99, text: "x" });
    expect(list[0].content).toBe("Hello ✓");
  });
});
