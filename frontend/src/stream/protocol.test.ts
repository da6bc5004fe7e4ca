import { describe, expect, it } from "vitest";
import { hidUsage } from "./keys";
import { avcCodecString, decodeServer, encodeClient, ProtocolError } from "./protocol";
import { utf8Chunks } from "./viewer";

describe("stream protocol", () => {
  it("encodes viewer messages as the specification lays them out", () => {
    expect([...encodeClient({ type: "mouse_move", x: -1, y: 2 })]).toEqual([1, 0x86, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0]);
    expect([...encodeClient({ type: "mouse_button", button: 1, down: false })]).toEqual([1, 0x87, 1, 0]);
    expect([...encodeClient({ type: "request_keyframe" })]).toEqual([1, 0x82]);
    expect([...encodeClient({ type: "ping", clientTsUs: 2 ** 32 + 1 })]).toEqual([1, 0x83, 1, 0, 0, 0, 1, 0, 0, 0]);
    expect([...encodeClient({ type: "text", text: "é" })]).toEqual([1, 0x89, 2, 0, 0, 0, 0xc3, 0xa9]);
    expect([...encodeClient({ type: "touch", id: 7, phase: "end", x: 1, y: 0 })]).toEqual([1, 0x8a, 7, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0]);
    expect([...encodeClient({ type: "clipboard", text: "hi" })]).toEqual([1, 0x8c, 2, 0, 0, 0, 104, 105]);
  });

  it("decodes server messages", () => {
    expect(decodeServer(Uint8Array.from([1, 0x01, 1, 0x80, 0x07, 0, 0, 0x38, 0x04, 0, 0, 1]))).toEqual({
      type: "init", version: 1, width: 1920, height: 1080, codec: "h264",
    });
    const frame = decodeServer(Uint8Array.from([1, 0x02, 1, 0x02, 0x01, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0xaa, 0xbb]));
    expect(frame).toMatchObject({ type: "video_frame", keyframe: true, captureTsUs: 0x0102 });
    expect(decodeServer(Uint8Array.from([1, 0x04, 0x02, 0x01, 2, 0, 0, 0, 110, 111]))).toEqual({ type: "error", code: 0x0102, message: "no" });
    expect(decodeServer(Uint8Array.from([1, 0x05, 1, 0, 0, 0, 120, 0xa0, 0x0f, 0, 0, 30, 0, 0, 0]))).toEqual({
      type: "stream_info", encoder: "x", bitrateKbps: 4000, fps: 30,
    });
    expect(decodeServer(Uint8Array.from([1, 0x06, 2, 0, 0, 0, 104, 105]))).toEqual({ type: "clipboard", text: "hi" });
  });

  it("refuses malformed frames", () => {
    const bad = [[1], [2, 0x01], [1, 0x09], [1, 0x03, 1], [1, 0x02, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [1, 0x01, 1, 0, 0, 0, 0, 0, 0, 0, 0, 9], [1, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7]];
    for (const b of bad) expect(() => decodeServer(Uint8Array.from(b))).toThrow(ProtocolError);
  });

  it("reads the codec string from an SPS", () => {
    expect(avcCodecString(Uint8Array.from([0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1f, 0xaa]))).toBe("avc1.42c01f");
    expect(avcCodecString(Uint8Array.from([0, 0, 0, 1, 0x65, 0x88]))).toBeNull();
  });

  it("maps physical keys to HID usages", () => {
    expect(hidUsage("KeyA")).toBe(0x04);
    expect(hidUsage("KeyZ")).toBe(0x1d);
    expect(hidUsage("Digit0")).toBe(0x27);
    expect(hidUsage("Enter")).toBe(0x28);
    expect(hidUsage("F12")).toBe(0x45);
    expect(hidUsage("ShiftLeft")).toBe(0xe1);
    expect(hidUsage("Numpad0")).toBe(0x62);
    expect(hidUsage("Fn")).toBeUndefined();
  });

  it("cuts pastes into text messages of at most 4096 bytes, between code points", () => {
    const text = "ab" + "漢".repeat(2000) + "😀";
    const chunks = utf8Chunks(text, 4096);
    expect(chunks.join("")).toBe(text);
    for (const c of chunks) expect(new TextEncoder().encode(c).length).toBeLessThanOrEqual(4096);
    expect(chunks.length).toBe(2);
    expect(utf8Chunks("", 10)).toEqual([]);
  });
});
