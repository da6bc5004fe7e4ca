#!/usr/bin/env bash
# Runs Helix on its embedded defaults: SQLite and a generated encryption key in
# ./.helix-data, listening on http://localhost:8080. Extra arguments go to `helix serve`
# (see `helix serve --help`), e.g. `bash scripts/run.sh --port 9000`. As root it also
# installs what sandboxes need (docker.io, iptables, ...) and imports a busybox image as
# `helix/busybox` (docs/sandboxes.md).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "run.sh: Rust is not installed. Install it with rustup (https://rustup.rs), then run this again." >&2
  exit 1
fi
if ! command -v cc >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "run.sh: installing a C compiler (build-essential) ..." >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq build-essential >/dev/null
  else
    echo "run.sh: a C compiler is needed: sudo apt-get install build-essential" >&2
    exit 1
  fi
fi
# Desktop streaming links GStreamer: its headers to build, its plugins to capture and encode.
if ! pkg-config --exists gstreamer-1.0 gstreamer-app-1.0 gstreamer-video-1.0 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "run.sh: installing GStreamer (desktop streaming) ..." >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      pkg-config libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-plugins-base \
      gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-x >/dev/null
  else
    echo "run.sh: GStreamer is needed to build helix: sudo apt-get install pkg-config libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-plugins-{base,good,bad,ugly} gstreamer1.0-x" >&2
    exit 1
  fi
fi
# Sandboxes (a dockerd per sandbox) need root and these Debian packages; without them
# `helix serve` runs with sandboxes off and says why.
sandbox_args=()
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  missing=()
  for cmd in dockerd:docker.io iptables:iptables ip:iproute2 nsenter:util-linux mkfs.ext4:e2fsprogs busybox:busybox-static file:file; do
    command -v "${cmd%%:*}" >/dev/null 2>&1 || missing+=("${cmd#*:}")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "run.sh: installing the sandbox host's dependencies (${missing[*]}) ..." >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi
if command -v busybox >/dev/null 2>&1 && [ -z "${HELIX_SANDBOX_IMAGES:-}" ]; then
  # A minimal image so sandboxes work out of the box (docs/images.md for real ones).
  mkdir -p .helix-data/images
  [ -f .helix-data/images/busybox.tar ] || bash scripts/busybox-image.sh .helix-data/images/busybox.tar
  sandbox_args=(--sandbox-image "helix/busybox=$PWD/.helix-data/images/busybox.tar")
fi
# The web UI needs Node.js 20.19+ (Vite 8): the system's, or the official build fetched
# once into ~/.cache/helix (scripts/node.sh); without it the API still runs.
# shellcheck source=scripts/node.sh
source scripts/node.sh
if ensure_node; then
  echo "run.sh: building the web UI (frontend/) ..." >&2
  if ! { npm --prefix frontend ci --no-audit --no-fund --loglevel=error >/dev/null && npm --prefix frontend run build --silent >/dev/null; }; then
    echo "run.sh: the web UI did not build; serving the API only" >&2
  fi
else
  echo "run.sh: no Node.js 20.19+ (and it could not be fetched): the web UI is not built (the API works without it)" >&2
fi
echo "run.sh: building helix (release; the first build takes a few minutes) ..." >&2
cargo build --release -p helix-server --bin helix
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
exec "$target_dir/release/helix" serve "${sandbox_args[@]}" "$@"
