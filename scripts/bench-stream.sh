#!/usr/bin/env bash
# Desktop streaming benchmark, glass to glass in a real browser, on this machine:
#   bash scripts/bench-stream.sh [SECONDS]
# For 720p30 and 1080p30 (software encoding), each with a static desktop (an idle xterm)
# and a busy one (an xterm scrolling `ls -lR` output without pause): Xvfb, `helix stream`
# (capture + x264 in its worker), and Debian's Chromium decoding with WebCodecs
# (frontend/e2e/stream-perf.mjs). Prints the worker's CPU (cores busy), latency p50/p95 (capture on the server to
# drawn in the canvas), fps, kbit/s, and the same socket's ping round trip as the
# transport baseline. Needs what scripts/test-deps.sh installs, and a built frontend.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
seconds=${1:-10}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/helix-target}
echo "bench-stream: building helix (release) and the web UI ..." >&2
cargo build --release -q -p helix-server --bin helix
npm --prefix frontend run build --silent >/dev/null
helix="$CARGO_TARGET_DIR/release/helix"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

printf '%-10s %-7s %-9s %6s %6s %8s %9s %9s %8s %12s\n' size scene encoder fps cores kbit/s "p50 ms" "p95 ms" "rtt ms" "p50 / rtt"
for size in 1280x720 1920x1080; do
  for scene in static busy; do
    Xvfb -displayfd 1 -screen 0 "${size}x24" -nolisten tcp -noreset >"$work/display" 2>/dev/null &
    pids+=($!)
    for _ in $(seq 100); do [[ -s "$work/display" ]] && break; sleep 0.1; done
    display=":$(head -1 "$work/display")"
    if [[ $scene == busy ]]; then
      xterm -display "$display" -geometry 200x70+0+0 -e sh -c 'while :; do ls -lR /usr; done' &
    else
      xterm -display "$display" -geometry 80x24+0+0 &
    fi
    pids+=($!)
    port=$((20000 + RANDOM % 20000))
    token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
    "$helix" stream --display "$display" --listen "127.0.0.1:$port" --token "$token" \
      --web-dir frontend/dist --desktop-encoder x264enc >"$work/stream.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do grep -q streaming "$work/stream.log" && break; sleep 0.1; done
    # CPU of the capture+encode worker over the whole measurement (clock ticks, 100/s).
    (cd frontend && node e2e/stream-perf.mjs "http://127.0.0.1:$port/?token=$token" "$seconds") >"$work/result" &
    node_pid=$!
    worker=""
    for _ in $(seq 300); do worker=$(pgrep -n -f "stream-worker --x11 $display( |$)" || true); [[ -n $worker ]] && break; sleep 0.1; done
    [[ -n $worker ]] || echo "bench-stream: no stream worker found for $display" >&2
    # The worker stops with its last viewer: sample it while the browser still watches.
    ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || true; }
    t0=$(ticks "$worker"); s0=$(date +%s.%N); t1=$t0; s1=$s0
    while kill -0 "$node_pid" 2>/dev/null; do
      t=$(ticks "$worker")
      if [[ -n $t ]]; then t1=$t; s1=$(date +%s.%N); fi
      sleep 0.5
    done
    wait "$node_pid"
    python3 - "$size" "$scene" "$(cat "$work/result")" "${t0:-0}" "${t1:-0}" "$s0" "$s1" <<'PY'
import json, sys
size, scene, r = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
ticks, secs = int(sys.argv[5]) - int(sys.argv[4]), float(sys.argv[7]) - float(sys.argv[6])
cores = ticks / 100 / secs if secs > 0 else float("nan")
ratio = r["p50_ms"] / r["rtt_ms"] if r["rtt_ms"] else float("nan")
print(f'{size:<10} {scene:<7} {r["encoder"]:<9} {r["fps"]:>6.1f} {cores:>6.2f} {r["kbps"]:>8} {r["p50_ms"]:>9.1f} {r["p95_ms"]:>9.1f} {r["rtt_ms"]:>8.1f} {ratio:>11.1f}x')
PY
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    pids=()
    rm -f "$work/display"
  done
done
