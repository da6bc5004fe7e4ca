// Web UI speed: production bundle size (gzip) and time to interactive of the chat page,
// against a baseline measured in the same run and browser: loading the server's
// OpenAPI document (a plain ~100 kB response from the same server, no app code).
//   node e2e/perf.mjs BASE_URL [RUNS]      (a running `helix serve` with the web UI)
import { readdirSync, readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";

const base = process.argv[2]?.replace("127.0.0.1", "localhost");
const runs = Number(process.argv[3] ?? 15);
if (!base) {
  console.error("usage: node e2e/perf.mjs BASE_URL [RUNS]");
  process.exit(2);
}

let raw = 0;
let gz = 0;
for (const f of readdirSync("dist/assets")) {
  if (/\.(map|br|gz)$/.test(f)) continue;
  const b = readFileSync(`dist/assets/${f}`);
  raw += b.length;
  gz += gzipSync(b, { level: 9 }).length;
}
console.log(`bundle, all pages: ${(raw / 1024).toFixed(0)} KiB, ${(gz / 1024).toFixed(0)} KiB gzip (dist/assets, no source maps)`);

const browser = await chromium.launch({
  executablePath: process.env.HELIX_CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext();
const creds = { email: `perf${Date.now()}@example.com`, password: "correct horse battery" };
await context.request.post(`${base}/api/v1/auth/register`, { data: creds });
const login = await context.request.post(`${base}/api/v1/auth/login`, { data: creds });
if (!login.ok()) throw new Error(`login: ${login.status()}`);

// What the chat page downloads on a first visit (empty cache): its chunks only, since
// the others load when their page is opened; over the wire (precompressed) and decoded.
{
  const fresh = await browser.newContext({ storageState: await context.storageState() });
  const page = await fresh.newPage();
  const loads = [];
  page.on("requestfinished", (req) => {
    if (["script", "stylesheet", "document"].includes(req.resourceType())) loads.push(req);
  });
  await page.goto(`${base}/chat`);
  await page.getByLabel("Message").waitFor();
  await page.waitForLoadState("networkidle");
  let wire = 0;
  let decoded = 0;
  for (const req of loads) {
    const sizes = await req.sizes();
    wire += sizes.responseBodySize;
    decoded += (await (await req.response()).body()).length;
  }
  console.log(
    `chat page, first visit: ${loads.length} files, ${(wire / 1024).toFixed(0)} KiB over the wire, ${(decoded / 1024).toFixed(0)} KiB decoded`,
  );
  await fresh.close();
}

const pct = (xs, q) => [...xs].sort((a, b) => a - b)[Math.round((xs.length - 1) * q)];
const tti = [];
const baseline = [];
for (let i = 0; i < runs; i++) {
  // Alternate so drift hits both alike; a fresh page (cold JS heap) every time, HTTP
  // cache kept as a returning user's browser would.
  const page = await context.newPage();
  await page.goto(`${base}/api/v1/openapi.json`, { waitUntil: "load" });
  baseline.push(await page.evaluate(() => performance.now()));
  await page.close();
  const chat = await context.newPage();
  await chat.goto(`${base}/chat`);
  await chat.getByLabel("Message").waitFor();
  tti.push(await chat.evaluate(() => performance.now()));
  await chat.close();
}
await browser.close();
const [t50, t95, b50, b95] = [pct(tti, 0.5), pct(tti, 0.95), pct(baseline, 0.5), pct(baseline, 0.95)];
console.log(`chat page, time to interactive (composer ready): p50 ${t50.toFixed(0)} ms, p95 ${t95.toFixed(0)} ms`);
console.log(`baseline, the OpenAPI document loaded:           p50 ${b50.toFixed(0)} ms, p95 ${b95.toFixed(0)} ms`);
console.log(`ratio p50: ${(t50 / b50).toFixed(2)}x (${runs} runs each)`);
