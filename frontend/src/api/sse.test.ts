import { describe, expect, it } from "vitest";
import { readSse } from "./sse";

function stream(chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(c) {
      for (const ch of chunks) c.enqueue(enc.encode(ch));
      c.close();
    },
  });
}

describe("readSse", () => {
  it("yields one value per data event, across chunk boundaries", async () => {
    const got: unknown[] = [];
    for await (const v of readSse(stream(['data: {"a"', ':1}\n\n: comment\n\ndata: {"b":2}\r\n\r\n', "data: [DONE]\n\n"]))) {
      got.push(v);
    }
    expect(got).toEqual([{ a: 1 }, { b: 2 }]);
  });

  it("decodes multi-byte characters split between chunks", async () => {
    const bytes = new TextEncoder().encode('data: {"t":"héllo ✓"}\n\n');
    const s = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(bytes.slice(0, 14));
        c.enqueue(bytes.slice(14));
        c.close();
      },
    });
    const got: unknown[] = [];
    for await (const v of readSse(s)) got.push(v);
    expect(got).toEqual([{ t: "héllo ✓" }]);
  });
});
