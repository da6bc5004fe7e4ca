// A desktop viewer: one WebSocket (docs/stream-protocol.md), WebCodecs `VideoDecoder`
// drawing into a canvas, keyboard/mouse/touch/paste sent back, reconnect with backoff,
// and live stats (fps, bitrate, glass-to-glass latency). Framework-free: the web UI's
// desktop page and the stand-alone `viewer.html` both use it.

import { hidUsage } from "./keys";
import {
  avcCodecString,
  CloseCode,
  decodeServer,
  encodeClient,
  MAX_CLIPBOARD_LEN,
  MAX_TEXT_LEN,
  PROTOCOL_VERSION,
  type ClientMessage,
  type ServerMessage,
} from "./protocol";

export type ViewerState = "connecting" | "streaming" | "reconnecting" | "superseded" | "failed" | "stopped";

export interface ViewerStats {
  state: ViewerState;
  /** Why the viewer is not streaming, when it is not. */
  detail: string;
  width: number;
  height: number;
  encoder: string;
  bitrateKbps: number;
  /** Frames decoded and drawn in the last second. */
  fps: number;
  /** Video received in the last second, kbit/s. */
  kbps: number;
  /** Capture on the server to drawn here, median of the last second (ms). */
  latencyMs: number | null;
  /** Round trip of the last ping (ms). */
  rttMs: number | null;
  framesDecoded: number;
  framesDropped: number;
  /** Every glass-to-glass sample (ms), for benchmarks; at most the last 10 000. */
  latencySamples: number[];
}

export interface ViewerOptions {
  /** `ws(s)://.../stream` URL. */
  url: string;
  canvas: HTMLCanvasElement;
  /** Send keyboard, mouse, touch and paste (default true). */
  input?: boolean;
  /** Asked before reconnecting after a socket that never opened (a refused upgrade
   * looks like any dropped connection to a browser): false stops the viewer. */
  mayConnect?: () => Promise<boolean>;
  onStats?: (stats: ViewerStats) => void;
  /** The desktop's clipboard changed (also called once on joining). */
  onClipboard?: (text: string) => void;
}

const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);
const MAX_BACKOFF_MS = 10_000;

export class DesktopViewer {
  private ws: WebSocket | null = null;
  private decoder: VideoDecoder | null = null;
  private configuredCodec: string | null = null;
  private waitingForKey = true;
  private ctx: CanvasRenderingContext2D | null;
  private attempts = 0;
  private timers: number[] = [];
  private reconnectTimer: number | undefined;
  private offsetUs = 0;
  private pongs: { rtt: number; offset: number }[] = [];
  private window = { frames: 0, bytes: 0, latencies: [] as number[] };
  private held = new Set<number>();
  private buttons = new Set<number>();
  private keyframeAskedAt = 0;
  private opened = false;
  private detach: (() => void) | null = null;
  readonly stats: ViewerStats = {
    state: "connecting", detail: "", width: 0, height: 0, encoder: "", bitrateKbps: 0, fps: 0, kbps: 0,
    latencyMs: null, rttMs: null, framesDecoded: 0, framesDropped: 0, latencySamples: [],
  };

  constructor(private opts: ViewerOptions) {
    this.ctx = opts.canvas.getContext("2d", { alpha: false, desynchronized: true });
  }

  start() {
    if (typeof VideoDecoder === "undefined") {
      this.setState("failed", "this browser has no WebCodecs VideoDecoder");
      return;
    }
    if (this.opts.input !== false) this.detach = this.attachInput();
    this.timers.push(window.setInterval(() => this.tick(), 1000));
    this.connect();
  }

  stop() {
    this.setState("stopped", "");
    for (const t of this.timers) clearInterval(t);
    clearTimeout(this.reconnectTimer);
    this.detach?.();
    this.closeSocket();
    this.resetDecoder();
  }

  /** Makes `text` what the desktop's applications paste. */
  setClipboard(text: string) {
    if (new TextEncoder().encode(text).length <= MAX_CLIPBOARD_LEN) this.send({ type: "clipboard", text });
  }

  /** Asks the server's encoder for another bitrate. */
  setBitrate(kbps: number) {
    this.send({ type: "set_bitrate", kbps });
  }

  private setState(state: ViewerState, detail: string) {
    this.stats.state = state;
    this.stats.detail = detail;
    this.opts.onStats?.({ ...this.stats });
  }

  private send(m: ClientMessage) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(encodeClient(m));
  }

  private connect() {
    this.setState(this.attempts === 0 ? "connecting" : "reconnecting", this.stats.detail);
    const ws = new WebSocket(this.opts.url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.opened = true;
      this.send({ type: "hello", version: PROTOCOL_VERSION });
      this.ping();
    };
    ws.onmessage = (ev) => {
      // A socket this viewer has left (stopped, or replaced) delivers nothing more.
      if (this.ws !== ws || !(ev.data instanceof ArrayBuffer)) return;
      let m: ServerMessage;
      try {
        m = decodeServer(new Uint8Array(ev.data));
      } catch (e) {
        console.warn("helix viewer: dropping a malformed frame", e);
        return;
      }
      this.handle(m);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.resetDecoder();
      if (this.stats.state === "stopped") return;
      if (ev.code === CloseCode.Superseded) {
        // Another connection of this tab took over: reconnecting would only fight it.
        this.setState("superseded", "this desktop was opened again elsewhere in this tab");
        return;
      }
      if (ev.code === CloseCode.ProtocolError) {
        this.setState("failed", ev.reason || "protocol error");
        return;
      }
      this.attempts += 1;
      const backoff = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(this.attempts - 1, 5));
      const delay = backoff / 2 + Math.random() * (backoff / 2);
      this.setState("reconnecting", ev.reason || `connection closed (${ev.code})`);
      const opened = this.opened;
      this.opened = false;
      this.reconnectTimer = window.setTimeout(async () => {
        if (!opened && this.opts.mayConnect && !(await this.opts.mayConnect())) {
          this.setState("failed", "not allowed to watch this desktop (or it does not exist)");
          return;
        }
        if (this.stats.state === "reconnecting") this.connect();
      }, delay);
    };
  }

  private closeSocket() {
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000);
  }

  private ping() {
    this.send({ type: "ping", clientTsUs: nowUs() });
  }

  private handle(m: ServerMessage) {
    switch (m.type) {
      case "init":
        this.stats.width = m.width;
        this.stats.height = m.height;
        if (this.opts.canvas.width !== m.width || this.opts.canvas.height !== m.height) {
          this.opts.canvas.width = m.width;
          this.opts.canvas.height = m.height;
        }
        this.resetDecoder();
        this.attempts = 0;
        this.setState("streaming", "");
        break;
      case "stream_info":
        this.stats.encoder = m.encoder;
        this.stats.bitrateKbps = m.bitrateKbps;
        break;
      case "pong": {
        const now = nowUs();
        const rtt = now - m.clientTsUs;
        this.stats.rttMs = rtt / 1000;
        // The server's clock minus ours, assuming the answer took half the round trip.
        // Pongs queue behind video, so the fastest recent round trip is the truest (NTP's
        // rule): keep the estimate of the smallest of the last 16.
        this.pongs.push({ rtt, offset: m.serverTsUs - (m.clientTsUs + rtt / 2) });
        if (this.pongs.length > 16) this.pongs.shift();
        this.offsetUs = this.pongs.reduce((best, p) => (p.rtt < best.rtt ? p : best)).offset;
        break;
      }
      case "clipboard":
        this.opts.onClipboard?.(m.text);
        break;
      case "error":
        this.stats.detail = m.message;
        console.warn(`helix viewer: server error ${m.code}: ${m.message}`);
        break;
      case "video_frame":
        this.decode(m.keyframe, m.captureTsUs, m.data);
        break;
    }
  }

  private resetDecoder() {
    if (this.decoder && this.decoder.state !== "closed") this.decoder.close();
    this.decoder = null;
    this.configuredCodec = null;
    this.waitingForKey = true;
  }

  private requestKeyframe() {
    this.waitingForKey = true;
    // One request per second while waiting: the server merges them, and a lost one is
    // asked again.
    const now = performance.now();
    if (now - this.keyframeAskedAt < 1000) return;
    this.keyframeAskedAt = now;
    this.send({ type: "request_keyframe" });
  }

  private decode(keyframe: boolean, captureTsUs: number, data: Uint8Array) {
    this.window.bytes += data.length;
    if (this.waitingForKey && !keyframe) {
      this.stats.framesDropped += 1;
      if (this.decoder) this.requestKeyframe();
      return;
    }
    if (keyframe) {
      const codec = avcCodecString(data);
      if (codec && codec !== this.configuredCodec) {
        this.resetDecoder();
        const decoder: VideoDecoder = new VideoDecoder({
          output: (frame) => this.draw(frame),
          error: (e) => {
            console.warn("helix viewer: decoder error", e);
            if (this.decoder !== decoder) return;
            this.resetDecoder();
            this.requestKeyframe();
          },
        });
        this.decoder = decoder;
        // Annex B with in-band SPS/PPS: no `description`.
        decoder.configure({ codec, optimizeForLatency: true, hardwareAcceleration: "no-preference" });
        this.configuredCodec = codec;
      }
    }
    const decoder = this.decoder;
    if (!decoder || decoder.state !== "configured") {
      this.requestKeyframe();
      this.stats.framesDropped += 1;
      return;
    }
    if (decoder.decodeQueueSize > 8) {
      // We cannot keep up: skip to the next keyframe rather than fall further behind.
      this.stats.framesDropped += 1;
      this.requestKeyframe();
      return;
    }
    this.waitingForKey = false;
    decoder.decode(new EncodedVideoChunk({ type: keyframe ? "key" : "delta", timestamp: captureTsUs, data }));
  }

  private draw(frame: VideoFrame) {
    const latencyMs = (nowUs() + this.offsetUs - frame.timestamp) / 1000;
    if (this.ctx) this.ctx.drawImage(frame, 0, 0, this.opts.canvas.width, this.opts.canvas.height);
    frame.close();
    this.stats.framesDecoded += 1;
    this.window.frames += 1;
    if (this.stats.rttMs !== null) {
      this.window.latencies.push(latencyMs);
      this.stats.latencySamples.push(latencyMs);
      if (this.stats.latencySamples.length > 10_000) this.stats.latencySamples.shift();
    }
  }

  private tick() {
    const w = this.window;
    const sorted = [...w.latencies].sort((a, b) => a - b);
    this.stats.fps = w.frames;
    this.stats.kbps = Math.round((w.bytes * 8) / 1000);
    this.stats.latencyMs = sorted.length ? sorted[Math.floor(sorted.length / 2)] : null;
    this.window = { frames: 0, bytes: 0, latencies: [] };
    this.ping();
    this.opts.onStats?.({ ...this.stats, latencySamples: this.stats.latencySamples });
  }

  private releaseKeys(which: (code: number) => boolean) {
    for (const code of [...this.held]) {
      if (!which(code)) continue;
      this.held.delete(code);
      this.send({ type: "key_up", code });
    }
  }

  private releaseButtons() {
    for (const button of this.buttons) this.send({ type: "mouse_button", button, down: false });
    this.buttons.clear();
  }

  /** Video pixels of a point on the canvas. The picture keeps its aspect ratio inside
   * the element (letterboxed in full screen, where `object-fit: contain` applies). */
  private toVideo(clientX: number, clientY: number) {
    const c = this.opts.canvas;
    const r = c.getBoundingClientRect();
    const vw = Math.max(1, c.width);
    const vh = Math.max(1, c.height);
    const scale = Math.min(r.width / vw, r.height / vh) || 1;
    const left = r.left + (r.width - vw * scale) / 2;
    const top = r.top + (r.height - vh * scale) / 2;
    return { x: Math.round((clientX - left) / scale), y: Math.round((clientY - top) / scale) };
  }

  private attachInput(): () => void {
    const c = this.opts.canvas;
    c.tabIndex = 0;
    const key = (down: boolean) => (e: KeyboardEvent) => {
      const code = hidUsage(e.code);
      if (code === undefined) return;
      // Let the browser paste (ctrl/cmd+V) so the text arrives as a paste event.
      if (down && (e.ctrlKey || e.metaKey) && e.code === "KeyV") return;
      e.preventDefault();
      if (down) this.held.add(code);
      else this.held.delete(code);
      this.send({ type: down ? "key_down" : "key_up", code });
    };
    const keydown = key(true);
    const keyup = key(false);
    const move = (e: MouseEvent) => this.send({ type: "mouse_move", ...this.toVideo(e.clientX, e.clientY) });
    const button = (down: boolean) => (e: MouseEvent) => {
      if (down) c.focus();
      e.preventDefault();
      if (down) this.buttons.add(e.button);
      else this.buttons.delete(e.button);
      this.send({ type: "mouse_move", ...this.toVideo(e.clientX, e.clientY) });
      this.send({ type: "mouse_button", button: e.button, down });
    };
    const mousedown = button(true);
    const mouseup = button(false);
    const wheel = (e: WheelEvent) => {
      e.preventDefault();
      const scale = e.deltaMode === 1 ? 40 : e.deltaMode === 2 ? 800 : 1;
      this.send({ type: "scroll", dx: e.deltaX * scale, dy: e.deltaY * scale });
    };
    const touch = (phase: "start" | "move" | "end" | "cancel") => (e: TouchEvent) => {
      e.preventDefault();
      for (const t of Array.from(e.changedTouches)) {
        this.send({ type: "touch", id: t.identifier, phase, ...this.toVideo(t.clientX, t.clientY) });
      }
    };
    const handlers: [string, EventListener][] = [
      ["keydown", keydown as EventListener],
      ["keyup", keyup as EventListener],
      ["mousemove", move as EventListener],
      ["mousedown", mousedown as EventListener],
      ["mouseup", mouseup as EventListener],
      ["wheel", wheel as EventListener],
      ["touchstart", touch("start") as EventListener],
      ["touchmove", touch("move") as EventListener],
      ["touchend", touch("end") as EventListener],
      ["touchcancel", touch("cancel") as EventListener],
      ["contextmenu", ((e: Event) => e.preventDefault()) as EventListener],
      ["paste", ((e: ClipboardEvent) => {
        const text = e.clipboardData?.getData("text/plain");
        if (text) {
          e.preventDefault();
          // Ctrl/Cmd is still down from the paste shortcut: lift it first.
          this.releaseKeys((code) => code >= 0xe0 && code <= 0xe7);
          for (const chunk of utf8Chunks(text, MAX_TEXT_LEN)) this.send({ type: "text", text: chunk });
        }
      }) as EventListener],
      // Keys and buttons held when focus leaves would stay down on the desktop.
      ["blur", (() => {
        this.releaseKeys(() => true);
        this.releaseButtons();
      }) as EventListener],
    ];
    for (const [name, h] of handlers) c.addEventListener(name, h, { passive: false });
    // A drag released outside the canvas still ends on the desktop.
    const windowUp = (e: MouseEvent) => {
      if (e.target !== c && this.buttons.has(e.button)) {
        this.buttons.delete(e.button);
        this.send({ type: "mouse_button", button: e.button, down: false });
      }
    };
    window.addEventListener("mouseup", windowUp);
    return () => {
      for (const [name, h] of handlers) c.removeEventListener(name, h);
      window.removeEventListener("mouseup", windowUp);
    };
  }
}

/** `text` in pieces of at most `max` bytes of UTF-8, cut between code points. */
export function utf8Chunks(text: string, max: number): string[] {
  const out: string[] = [];
  let chunk = "";
  let bytes = 0;
  for (const ch of text) {
    const n = new TextEncoder().encode(ch).length;
    if (bytes + n > max && chunk) {
      out.push(chunk);
      chunk = "";
      bytes = 0;
    }
    chunk += ch;
    bytes += n;
  }
  if (chunk) out.push(chunk);
  return out;
}
