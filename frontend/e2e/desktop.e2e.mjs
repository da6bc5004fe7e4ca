// A desktop in a real browser (Debian's Chromium, playwright-core) against a real
// `helix serve --desktop main=:N` on Xvfb: WebCodecs decodes the stream, the canvas shows
// the X screen's known content (a red window, a white xterm, the black root), typing in
// the browser reaches the xterm, a second viewer joins late and keeps going when the
// first one leaves.
//   node e2e/desktop.e2e.mjs BASE_URL SCREENSHOT_DIR TYPED_FILE
import { mkdirSync, readFileSync, existsSync } from "node:fs";
import { chromium } from "playwright-core";

const [given, shots, typedFile] = process.argv.slice(2);
if (!given || !shots || !typedFile) {
  console.error("usage: node e2e/desktop.e2e.mjs BASE_URL SCREENSHOT_DIR TYPED_FILE");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });
// The server's public URL is http://localhost:PORT: WebSockets check the origin.
const base = given.replace("127.0.0.1", "localhost");
const step = (name) => console.log(`e2e: ${name}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const browser = await chromium.launch({
  executablePath: process.env.HELIX_CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

/** The viewer's numbers from its stats line. */
async function stats(page) {
  const el = page.getByTestId("viewer-stats");
  const get = async (k) => (await el.getAttribute(`data-${k}`)) ?? "";
  return { state: await get("state"), frames: Number(await get("frames")), latency: await get("latency-ms"), text: await el.textContent() };
}

async function waitFrames(page, atLeast) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const s = await stats(page);
    if (s.state === "streaming" && s.frames >= atLeast) return s;
    if (Date.now() > deadline) throw new Error(`no ${atLeast} frames decoded: ${JSON.stringify(s)}`);
    await sleep(100);
  }
}

/** RGB of a video pixel, read back from the canvas the decoder draws into. */
async function pixel(page, x, y) {
  return page.getByTestId("desktop-canvas").evaluate((c, [x, y]) => [...c.getContext("2d").getImageData(x, y, 1, 1).data.slice(0, 3)], [x, y]);
}

/** A fingerprint of a canvas region, to see it change. */
async function region(page, x, y, w, h) {
  return page.getByTestId("desktop-canvas").evaluate((c, [x, y, w, h]) => {
    const d = c.getContext("2d").getImageData(x, y, w, h).data;
    let dark = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] < 200) dark++;
    return dark;
  }, [x, y, w, h]);
}

const near = ([r, g, b], [er, eg, eb]) => Math.abs(r - er) < 60 && Math.abs(g - eg) < 60 && Math.abs(b - eb) < 60;

try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const a = await context.newPage();
  a.setDefaultTimeout(60_000);

  step("register the first user (a site admin) and open the desktop");
  await a.goto(base);
  await a.getByRole("button", { name: "Create an account" }).click();
  await a.getByLabel("Email").fill("admin@example.com");
  await a.locator("input[type=password]").fill("correct horse battery");
  await a.getByRole("button", { name: "Create account" }).click();
  await a.getByRole("link", { name: "Desktops" }).click();
  await a.getByRole("link", { name: "main" }).click();
  const first = await waitFrames(a, 10);
  step(`decoding: ${first.text}`);

  step("the canvas shows the X screen: red window, white xterm, black root");
  const red = await pixel(a, 900, 250);
  const xterm = await pixel(a, 300, 20);
  const root = await pixel(a, 1200, 680);
  await a.screenshot({ path: `${shots}/desktop-01-viewer.png` });
  if (!near(red, [255, 0, 0])) throw new Error(`the red window is ${red}`);
  if (!near(xterm, [255, 255, 255])) throw new Error(`the xterm is ${xterm}`);
  if (!near(root, [0, 0, 0])) throw new Error(`the root window is ${root}`);

  step("type into the xterm through the browser");
  const before = await region(a, 0, 0, 480, 40);
  const canvas = a.getByTestId("desktop-canvas");
  const box = await canvas.boundingBox();
  // Video (100, 20) is inside the xterm; the canvas is scaled to the page.
  await a.mouse.click(box.x + (100 / 1280) * box.width, box.y + (20 / 720) * box.height);
  await a.keyboard.type("hello helix");
  let after = before;
  for (let i = 0; i < 50 && after === before; i++) {
    await sleep(100);
    after = await region(a, 0, 0, 480, 40);
  }
  if (after <= before) throw new Error(`the typed text did not show up in the frames (${before} -> ${after} dark pixels)`);
  await a.screenshot({ path: `${shots}/desktop-02-typed.png` });
  await a.keyboard.press("Enter");
  const deadline = Date.now() + 10_000;
  while (!(existsSync(typedFile) && readFileSync(typedFile, "utf8") === "hello helix")) {
    if (Date.now() > deadline) throw new Error(`the xterm did not get "hello helix": ${existsSync(typedFile) ? readFileSync(typedFile, "utf8") : "(nothing)"}`);
    await sleep(100);
  }

  step("a second viewer joins late and decodes from its first frame");
  const b = await context.newPage();
  b.setDefaultTimeout(60_000);
  await b.goto(`${base}/desktops/main`);
  await waitFrames(b, 10);
  if (!near(await pixel(b, 900, 250), [255, 0, 0])) throw new Error("the second viewer does not see the red window");
  const aFrames = (await stats(a)).frames;
  await sleep(1000);
  if ((await stats(a)).frames <= aFrames) throw new Error("the first viewer stalled when the second joined");

  step("closing the first viewer does not disturb the second");
  await a.close();
  const bBefore = (await stats(b)).frames;
  await sleep(2000);
  const bAfter = await stats(b);
  if (bAfter.state !== "streaming" || bAfter.frames < bBefore + 20) {
    throw new Error(`the second viewer stalled: ${bBefore} -> ${JSON.stringify(bAfter)}`);
  }
  await b.screenshot({ path: `${shots}/desktop-03-second-viewer.png` });
  step(`second viewer: ${bAfter.text}`);
  console.log("e2e: ok");
} finally {
  await browser.close();
}
