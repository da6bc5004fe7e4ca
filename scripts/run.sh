#!/usr/bin/env bash
# Runs Helix on its embedded defaults: SQLite and a generated encryption key in
# ./.helix-data, listening on http://localhost:8080. Extra arguments go to `helix serve`
# (see `helix serve --help`), e.g. `bash scripts/run.sh --port 9000`.
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
echo "run.sh: building helix (release; the first build takes a few minutes) ..." >&2
cargo build --release -p helix-server --bin helix
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
exec "$target_dir/release/helix" serve "$@"
