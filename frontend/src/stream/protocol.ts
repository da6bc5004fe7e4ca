// The desktop stream protocol (docs/stream-protocol.md): binary frames over one
// WebSocket. Byte 0 is the version, byte 1 the message type, then little-endian fields;
// `bytes` and `string` fields are a u32 length and that many bytes.

export const PROTOCOL_VERSION = 1;

/** WebSocket close codes the server ends a session with. */
export const CloseCode = {
  /** A newer connection of the same tab took over: do not reconnect. */
  Superseded: 4001,
  /** The desktop cannot be streamed now: reconnect with backoff. */
  Unavailable: 4002,
  /** The viewer broke the protocol: do not reconnect. */
  ProtocolError: 4003,
} as const;

/** Error codes of `Error` messages. */
export const ErrorCode = {
  UnsupportedVersion: 1,
  MalformedMessage: 2,
  StreamUnavailable: 3,
  Internal: 4,
  InputNotAllowed: 5,
} as const;

export type Codec = "h264" | "h265" | "av1";
const CODECS: Record<number, Codec> = { 1: "h264", 2: "h265", 3: "av1" };

export type ServerMessage =
  | { type: "init"; version: number; width: number; height: number; codec: Codec }
  | { type: "video_frame"; keyframe: boolean; captureTsUs: number; data: Uint8Array }
  | { type: "pong"; clientTsUs: number; serverTsUs: number }
  | { type: "error"; code: number; message: string }
  | { type: "stream_info"; encoder: string; bitrateKbps: number; fps: number }
  | { type: "clipboard"; text: string };

export type TouchPhase = "start" | "move" | "end" | "cancel";
const TOUCH_PHASES: TouchPhase[] = ["start", "move", "end", "cancel"];

export type ClientMessage =
  | { type: "hello"; version: number }
  | { type: "request_keyframe" }
  | { type: "ping"; clientTsUs: number }
  | { type: "key_down"; code: number }
  | { type: "key_up"; code: number }
  | { type: "mouse_move"; x: number; y: number }
  | { type: "mouse_button"; button: number; down: boolean }
  | { type: "scroll"; dx: number; dy: number }
  | { type: "text"; text: string }
  | { type: "touch"; id: number; phase: TouchPhase; x: number; y: number }
  | { type: "set_bitrate"; kbps: number }
  | { type: "clipboard"; text: string };

/** The longest `text` message (bytes of UTF-8). */
export const MAX_TEXT_LEN = 4096;

/** The longest clipboard text either side sends (bytes of UTF-8). */
export const MAX_CLIPBOARD_LEN = 60_000;

/** A malformed server frame. */
export class ProtocolError extends Error {}

class Writer {
  private bytes: number[] = [];
  constructor(type: number) {
    this.bytes.push(PROTOCOL_VERSION, type);
  }
  u8(v: number) {
    this.bytes.push(v & 0xff);
    return this;
  }
  u32(v: number) {
    for (let i = 0; i < 4; i++) this.bytes.push((v >>> (8 * i)) & 0xff);
    return this;
  }
  i32(v: number) {
    return this.u32(v | 0);
  }
  u64(v: number) {
    const lo = v % 2 ** 32;
    return this.u32(lo).u32(Math.floor(v / 2 ** 32));
  }
  bytesField(b: Uint8Array) {
    this.u32(b.length);
    for (const x of b) this.bytes.push(x);
    return this;
  }
  done(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

const clampI32 = (v: number) => Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(v)));

/** Encodes a viewer message as one binary frame. */
export function encodeClient(m: ClientMessage): Uint8Array {
  switch (m.type) {
    case "hello":
      return new Writer(0x81).u8(m.version).done();
    case "request_keyframe":
      return new Writer(0x82).done();
    case "ping":
      return new Writer(0x83).u64(m.clientTsUs).done();
    case "key_down":
      return new Writer(0x84).u32(m.code).done();
    case "key_up":
      return new Writer(0x85).u32(m.code).done();
    case "mouse_move":
      return new Writer(0x86).i32(clampI32(m.x)).i32(clampI32(m.y)).done();
    case "mouse_button":
      return new Writer(0x87).u8(m.button).u8(m.down ? 1 : 0).done();
    case "scroll":
      return new Writer(0x88).i32(clampI32(m.dx)).i32(clampI32(m.dy)).done();
    case "text":
      return new Writer(0x89).bytesField(new TextEncoder().encode(m.text)).done();
    case "touch":
      return new Writer(0x8a).u32(m.id).u8(TOUCH_PHASES.indexOf(m.phase)).i32(clampI32(m.x)).i32(clampI32(m.y)).done();
    case "set_bitrate":
      return new Writer(0x8b).u32(m.kbps).done();
    case "clipboard":
      return new Writer(0x8c).bytesField(new TextEncoder().encode(m.text)).done();
  }
}

class Reader {
  private pos = 2;
  private view: DataView;
  constructor(private frame: Uint8Array) {
    this.view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  }
  private need(n: number, field: string) {
    if (this.pos + n > this.frame.length) throw new ProtocolError(`truncated at ${field}`);
  }
  u8(field: string) {
    this.need(1, field);
    return this.frame[this.pos++];
  }
  bool(field: string) {
    const v = this.u8(field);
    if (v > 1) throw new ProtocolError(`invalid ${field}`);
    return v === 1;
  }
  u16(field: string) {
    this.need(2, field);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32(field: string) {
    this.need(4, field);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  u64(field: string) {
    const lo = this.u32(field);
    const hi = this.u32(field);
    return hi * 2 ** 32 + lo;
  }
  bytes(field: string) {
    const n = this.u32(field);
    this.need(n, field);
    const b = this.frame.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  string(field: string) {
    return new TextDecoder("utf-8", { fatal: true }).decode(this.bytes(field));
  }
  finish() {
    if (this.pos !== this.frame.length) throw new ProtocolError(`${this.frame.length - this.pos} trailing bytes`);
  }
}

/** Decodes one server frame; throws `ProtocolError` on anything malformed. */
export function decodeServer(frame: Uint8Array): ServerMessage {
  if (frame.length < 2) throw new ProtocolError("truncated header");
  if (frame[0] !== PROTOCOL_VERSION) throw new ProtocolError(`unsupported version ${frame[0]}`);
  const r = new Reader(frame);
  let m: ServerMessage;
  switch (frame[1]) {
    case 0x01: {
      const version = r.u8("version");
      const width = r.u32("width");
      const height = r.u32("height");
      const id = r.u8("codec");
      const codec = CODECS[id];
      if (!codec) throw new ProtocolError(`unknown codec ${id}`);
      m = { type: "init", version, width, height, codec };
      break;
    }
    case 0x02:
      m = { type: "video_frame", keyframe: r.bool("keyframe"), captureTsUs: r.u64("capture_ts_us"), data: r.bytes("data") };
      break;
    case 0x03:
      m = { type: "pong", clientTsUs: r.u64("client_ts_us"), serverTsUs: r.u64("server_ts_us") };
      break;
    case 0x04:
      m = { type: "error", code: r.u16("code"), message: r.string("message") };
      break;
    case 0x05:
      m = { type: "stream_info", encoder: r.string("encoder"), bitrateKbps: r.u32("bitrate_kbps"), fps: r.u32("fps") };
      break;
    case 0x06:
      m = { type: "clipboard", text: r.string("text") };
      break;
    default:
      throw new ProtocolError(`unknown message type ${frame[1]}`);
  }
  r.finish();
  return m;
}

/** The WebCodecs codec string of an H.264 stream, from the SPS of a keyframe
 * (`avc1.PPCCLL`), or `null` when the access unit has no SPS. */
export function avcCodecString(au: Uint8Array): string | null {
  for (let i = 0; i + 6 < au.length; i++) {
    if (au[i] === 0 && au[i + 1] === 0 && au[i + 2] === 1 && (au[i + 3] & 0x1f) === 7) {
      const hex = (b: number) => b.toString(16).padStart(2, "0");
      return `avc1.${hex(au[i + 4])}${hex(au[i + 5])}${hex(au[i + 6])}`;
    }
  }
  return null;
}
