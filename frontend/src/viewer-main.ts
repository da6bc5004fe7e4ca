// The stand-alone viewer of `helix stream --display :N` (viewer.html): the page's own
// `?token=` opens the stream at `/stream` on the same host.
import { statsData, statsText } from "./stream/stats";
import { DesktopViewer } from "./stream/viewer";

const params = new URLSearchParams(location.search);
const token = params.get("token") ?? "";
let tab = sessionStorage.getItem("helix-tab-id");
if (!tab) {
  tab = Math.random().toString(16).slice(2, 18);
  sessionStorage.setItem("helix-tab-id", tab);
}
const scheme = location.protocol === "https:" ? "wss" : "ws";
const url = `${scheme}://${location.host}/stream?token=${encodeURIComponent(token)}&client_id=${tab}`;
const canvas = document.getElementById("screen") as HTMLCanvasElement;
const statsEl = document.getElementById("stats") as HTMLElement;
const viewer = new DesktopViewer({
  url,
  canvas,
  onStats: (s) => {
    statsEl.textContent = statsText(s);
    for (const [k, v] of Object.entries(statsData(s))) statsEl.setAttribute(k, v);
  },
});
viewer.start();
// Benchmarks (frontend/e2e/stream-perf.mjs) read the latency samples from here.
(window as unknown as { helixViewer: DesktopViewer }).helixViewer = viewer;
