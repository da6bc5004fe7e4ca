#!/usr/bin/env bash
# Runs the Python and Node examples the way a user would, against the Helix server
# described in the environment (HELIX_URL, HELIX_API_KEY, HELIX_CHAT_MODEL,
# HELIX_SANDBOX_IMAGE; HELIX_LOCAL_ROOTFS for the local sandbox run), on the SDK packages
# bindings/build.sh installed (HELIX_SDK_PYTHON, HELIX_SDK_NODE_DIR), and checks what
# they print. The Python examples are type-checked first (mypy --strict), the Node one
# syntax-checked. helix-server/tests/sdk_e2e.rs starts the server and calls this; the
# Rust examples have their own test (examples/rust/tests).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${HELIX_SDK_PYTHON:?HELIX_SDK_PYTHON is not set (bindings/build.sh)}"
: "${HELIX_SDK_NODE_DIR:?HELIX_SDK_NODE_DIR is not set (bindings/build.sh)}"
: "${HELIX_CHAT_MODEL:?}" "${HELIX_SANDBOX_IMAGE:?}" "${HELIX_LOCAL_ROOTFS:?}"
export NO_PROXY="127.0.0.1,localhost,::1${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost,::1${no_proxy:+,$no_proxy}"
py=$HELIX_SDK_PYTHON
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() { echo "examples/run.sh: FAILED: $*" >&2; exit 1; }
# expect STATUS PATTERN... -- COMMAND: runs it, checks its exit status and output.
expect() {
  local want=$1 out status=0
  shift
  local patterns=()
  while [[ $1 != -- ]]; do patterns+=("$1"); shift; done
  shift
  echo "+ $*"
  out=$("$@" 2>&1) || status=$?
  printf '%s\n' "$out" | sed 's/^/    /'
  [[ $status == "$want" ]] || fail "$* exited $status, expected $want"
  for p in "${patterns[@]}"; do
    grep -Eq -- "$p" <<<"$out" || fail "$* did not print /$p/"
  done
}

echo "examples: python type-check (mypy --strict)"
(cd "$work" && "$py" -m mypy --strict --no-incremental "$here/python")

echo "examples: python/chat.py streams an answer"
expect 0 '^\[[0-9]+ pieces, first after' 'session .*: 2 messages' -- \
  "$py" "$here/python/chat.py" "$HELIX_CHAT_MODEL" "Say hello"

echo "examples: python/ci_job.py in a sandbox on the server"
cd "$work"
expect 0 '^ok   arithmetic' 'failures="0"' 'tests exited 0; sandbox sbx_.* torn down' -- \
  "$py" "$here/python/ci_job.py" --image "$HELIX_SANDBOX_IMAGE"
grep -q 'failures="0"' junit.xml || fail "ci_job.py did not save junit.xml"
expect 1 '^FAIL broken' 'failures="1"' 'tests exited 1' -- \
  "$py" "$here/python/ci_job.py" --image "$HELIX_SANDBOX_IMAGE" --break-one
# Every sandbox it made is gone, failing run included.
left=$("$py" -c 'import helix; print(sum(s["labels"].get("job") == "ci" and s["state"] == "running" for s in helix.Helix().list_sandboxes()))')
[[ $left == 0 ]] || fail "ci_job.py left $left sandboxes running"

echo "examples: python/ci_job.py with a local sandbox (no server)"
expect 0 'ok   env' 'tests exited 0' -- \
  env -u HELIX_URL -u HELIX_API_KEY "$py" "$here/python/ci_job.py" --local "$HELIX_LOCAL_ROOTFS" --image hxexample/ci:1
# The local host it ran shut down with it: no network namespace of its prefix is left.
if ip netns list | grep -q '^hxl-'; then
  fail "ci_job.py --local left network namespaces: $(ip netns list | grep '^hxl-' | tr '\n' ' ')"
fi

echo "examples: node/chat.mjs streams an answer"
mkdir -p "$HELIX_SDK_NODE_DIR/examples"
cp "$here/node/chat.mjs" "$HELIX_SDK_NODE_DIR/examples/"
node --check "$HELIX_SDK_NODE_DIR/examples/chat.mjs"
expect 0 '^\[[0-9]+ pieces, first after' 'session .*: 2 messages' -- \
  node "$HELIX_SDK_NODE_DIR/examples/chat.mjs" "$HELIX_CHAT_MODEL" "Say hello"
expect 1 '^error: [a-z_]+ \(401\)' -- \
  env HELIX_API_KEY=hx-not-a-key node "$HELIX_SDK_NODE_DIR/examples/chat.mjs" "$HELIX_CHAT_MODEL" "Say hello"
echo "examples: all ran"
