import type { ViewerStats } from "./viewer";

/** One line of a viewer's live numbers. */
export function statsText(s: ViewerStats): string {
  if (s.state !== "streaming") return `${s.state}${s.detail ? `: ${s.detail}` : ""}`;
  const latency = s.latencyMs === null ? "–" : `${s.latencyMs.toFixed(0)} ms`;
  const rtt = s.rttMs === null ? "–" : `${s.rttMs.toFixed(0)} ms`;
  return `${s.width}×${s.height} ${s.encoder} · ${s.fps} fps · ${s.kbps} kbit/s · latency ${latency} · rtt ${rtt}`;
}

/** The numbers as `data-*` attributes, which tests and benchmarks read. */
export function statsData(s: ViewerStats): Record<string, string> {
  return {
    "data-state": s.state,
    "data-frames": String(s.framesDecoded),
    "data-fps": String(s.fps),
    "data-kbps": String(s.kbps),
    "data-latency-ms": s.latencyMs === null ? "" : s.latencyMs.toFixed(1),
    "data-width": String(s.width),
    "data-height": String(s.height),
  };
}
