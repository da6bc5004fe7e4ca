import type { ChatEvent, Interaction } from "../api/client";

/** Folds one chat event into the conversation: idempotent, so a replayed event changes nothing. */
export function applyEvent(list: Interaction[], ev: ChatEvent): Interaction[] {
  switch (ev.type) {
    case "interaction_created":
    case "completed":
    case "failed": {
      const i = ev.interaction;
      const at = list.findIndex((x) => x.id === i.id);
      if (at < 0) return [...list, i].sort((a, b) => a.seq - b.seq);
      const next = list.slice();
      next[at] = i;
      return next;
    }
    case "delta": {
      return list.map((x) => {
        if (x.id !== ev.interaction_id) return x;
        // Offsets are in characters: text already there is not added twice.
        const have = [...x.content];
        if (ev.offset > have.length) return x;
        const merged = have.slice(0, ev.offset).join("") + ev.text;
        return merged.length >= x.content.length ? { ...x, content: merged } : x;
      });
    }
    default:
      return list;
  }
}
