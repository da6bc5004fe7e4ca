#!/usr/bin/env bash
# The Helix test command: `bash scripts/test.sh` (CI runs it through .ci/run).
#
# Installs the test dependencies (scripts/test-deps.sh), starts a real PostgreSQL 18 + pgvector
# for the run, then runs rustfmt, clippy, the tests and the doc tests. Every step runs even if an
# earlier one failed; the exit status is non-zero if any step failed.
#
# Environment given to the tests:
#   HELIX_TEST_PG_URL        postgres://postgres@127.0.0.1:PORT/postgres (superuser, trust auth,
#                            `vector` extension created in database `postgres`)
#   HELIX_TEST_REQUIRE_PG=1  tests needing PostgreSQL must fail, not skip, without it
#   HELIX_TEST_REQUIRE_OIDC=1  same for the OpenID Provider
#   HELIX_OIDC_PROVIDER_DIR  tests/oidc-provider (node server.mjs there; see its README.md)
#   HELIX_LLAMA_SERVER       a real llama.cpp llama-server binary (scripts/llama.sh path)
#   HELIX_TEST_MODEL         a tiny Llama GGUF for it (scripts/llama.sh model; see
#                            scripts/tiny_model.py: any chat prompt gets "Hello from tiny llama!")
#   HELIX_TEST_REQUIRE_LLAMA=1  tests needing llama-server must fail, not skip, without it
#   HELIX_TEST_REQUIRE_BROWSER=1 the web UI's browser test must fail, not skip, without
#                            chromium, node and a built frontend/
#   HELIX_TEST_REQUIRE_X11=1 desktop streaming tests must fail, not skip, without Xvfb and
#                            GStreamer (x264enc or openh264enc)
#   HELIX_TEST_REQUIRE_WAYLAND=1 Wayland capture tests must fail, not skip, without Sway
#                            and wf-recorder
#   HELIX_SDK_PYTHON, HELIX_SDK_NODE_DIR, HELIX_SDK_UNIFFI_DIR  the SDKs as
#                            bindings/build.sh installed them
#   HELIX_TEST_REQUIRE_SDK=1 the SDK suites (sdk_e2e) must fail, not skip, without them
#   HELIX_TEST_REQUIRE_DOCKER=1 sandbox tests (real dockerd per sandbox, as root) must fail, not
#                            skip, without docker.io, iptables, iproute2 and busybox-static
# CARGO_TARGET_DIR defaults to /var/tmp/helix-target so build caches survive fresh clones.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/helix-target}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# No incremental caches: every CI run builds a fresh clone, so they only pile up (tens of
# GB in the shared target dir) without ever being reused.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}

step() { echo "==> $*"; }

step "install test dependencies (scripts/test-deps.sh)"
bash "$repo/scripts/test-deps.sh"

pgdir=$(mktemp -d "${TMPDIR:-/tmp}/helix-test-pg.XXXXXX")
cleanup() {
  bash "$repo/scripts/pg.sh" stop "$pgdir" || true
  rm -rf "$pgdir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "start PostgreSQL (scripts/pg.sh start $pgdir)"
HELIX_TEST_PG_URL=$(bash "$repo/scripts/pg.sh" start "$pgdir")
echo "    $HELIX_TEST_PG_URL"
export HELIX_TEST_PG_URL
export HELIX_TEST_REQUIRE_PG=1
export HELIX_TEST_REQUIRE_OIDC=1
export HELIX_OIDC_PROVIDER_DIR="$repo/tests/oidc-provider"
HELIX_LLAMA_SERVER=$(bash "$repo/scripts/llama.sh" path)
HELIX_TEST_MODEL=$(bash "$repo/scripts/llama.sh" model)
export HELIX_LLAMA_SERVER HELIX_TEST_MODEL
export HELIX_TEST_REQUIRE_LLAMA=1
# helix-hydra's sandbox tests run real dockerd engines (root, docker.io; scripts/test-deps.sh).
export HELIX_TEST_REQUIRE_DOCKER=1
# The web UI's browser test (Debian's chromium, playwright-core from frontend/).
export HELIX_TEST_REQUIRE_BROWSER=1
# helix-stream's real-display tests: Xvfb, GStreamer capture and encoding (scripts/test-deps.sh).
export HELIX_TEST_REQUIRE_X11=1
# ... and the Wayland ones: headless Sway (run as the user helixwl) and wf-recorder.
export HELIX_TEST_REQUIRE_WAYLAND=1

failed=()
summary=()
run_step() {
  local name=$1 start rc
  shift
  step "$name"
  start=$SECONDS
  if "$@"; then rc=0; else rc=$?; fi
  summary+=("$(printf '%-45s %s (%ds)' "$name" "$([[ $rc -eq 0 ]] && echo ok || echo "FAILED ($rc)")" $((SECONDS - start)))")
  ((rc == 0)) || failed+=("$name")
}

# The web UI (frontend/): the typed client matches docs/openapi.json, then the type
# check, lint, unit tests and the production build (which the browser test serves).
run_step "frontend: npm ci" npm --prefix frontend ci --no-audit --no-fund
run_step "frontend: api client matches docs/openapi.json" npm --prefix frontend run check:api
run_step "frontend: typecheck" npm --prefix frontend run typecheck
run_step "frontend: lint" npm --prefix frontend run lint
run_step "frontend: unit tests (vitest)" npm --prefix frontend test
run_step "frontend: build" npm --prefix frontend run build
# The SDKs (bindings/): built, installed the way users install them, stubs and types
# checked; helix-server/tests/sdk_e2e.rs then runs their suites against a real server.
run_step "SDKs: build, install and check (bindings/build.sh)" bash "$repo/bindings/build.sh"
if [[ -f "${HELIX_CACHE:-/var/tmp/helix-cache}/sdk.env" ]]; then
  set -a
  # shellcheck disable=SC1091
  source "${HELIX_CACHE:-/var/tmp/helix-cache}/sdk.env"
  set +a
fi
export HELIX_TEST_REQUIRE_SDK=1
run_step "cargo fmt --all -- --check" cargo fmt --all -- --check
run_step "cargo clippy --workspace --all-targets -- -D warnings" \
  cargo clippy --workspace --all-targets -- -D warnings
# A hung test fails the run after 40 minutes instead of holding CI to its limit (a normal
# run takes a few minutes; a cold one compiles for about ten first).
# NVENC through the Video Codec SDK is off by default (it links libnvidia-encode); check
# that it still compiles.
run_step "cargo check -p helix-stream --features nvenc" \
  cargo check -p helix-stream --features nvenc --all-targets
run_step "cargo test --workspace --all-targets" timeout --kill-after=30 2400 cargo test --workspace --all-targets
run_step "cargo test --workspace --doc" timeout --kill-after=30 1200 cargo test --workspace --doc


step "summary"
printf '    %s\n' "${summary[@]}"
if ((${#failed[@]})); then
  echo "FAILED: ${failed[*]}" >&2
  exit 1
fi
