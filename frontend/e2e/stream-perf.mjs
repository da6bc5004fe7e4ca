/* global window */
// Glass-to-glass latency of a desktop stream in a real browser: opens the stand-alone
// viewer of `helix stream` (VIEWER_URL, with its token), lets it settle, then collects
// the viewer's per-frame latency samples (capture on the server to drawn in the canvas,
// clocks aligned by ping/pong) for SECONDS and prints one JSON line.
//   node e2e/stream-perf.mjs VIEWER_URL SECONDS
import { chromium } from "playwright-core";

const [url, secondsArg] = process.argv.slice(2);
if (!url) {
  console.error("usage: node e2e/stream-perf.mjs VIEWER_URL [SECONDS]");
  process.exit(2);
}
const seconds = Number(secondsArg ?? 10);
const browser = await chromium.launch({
  executablePath: process.env.HELIX_CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
  await page.goto(url);
  await page.waitForFunction(() => window.helixViewer?.stats.framesDecoded > 30, null, { timeout: 60_000 });
  // Settle (clock offset from several pings), then measure from a clean slate.
  await page.waitForTimeout(2000);
  const start = await page.evaluate(() => {
    const s = window.helixViewer.stats;
    s.latencySamples.length = 0;
    return { frames: s.framesDecoded, dropped: s.framesDropped };
  });
  const kbps = [];
  const rtts = [];
  for (let i = 0; i < seconds; i++) {
    await page.waitForTimeout(1000);
    const s = await page.evaluate(() => ({ kbps: window.helixViewer.stats.kbps, rtt: window.helixViewer.stats.rttMs }));
    kbps.push(s.kbps);
    if (s.rtt !== null) rtts.push(s.rtt);
  }
  const end = await page.evaluate(() => {
    const s = window.helixViewer.stats;
    return { samples: [...s.latencySamples], frames: s.framesDecoded, dropped: s.framesDropped, width: s.width, height: s.height, encoder: s.encoder };
  });
  const sorted = end.samples.sort((a, b) => a - b);
  const q = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  console.log(JSON.stringify({
    width: end.width, height: end.height, encoder: end.encoder,
    fps: (end.frames - start.frames) / seconds, dropped: end.dropped - start.dropped,
    kbps: Math.round(mean(kbps)), p50_ms: q(0.5), p95_ms: q(0.95), rtt_ms: q === null ? null : mean(rtts), samples: sorted.length,
  }));
} finally {
  await browser.close();
}
