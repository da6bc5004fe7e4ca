#!/usr/bin/env bash
# Runs the official client suites (Python `openai` and `anthropic` + pytest, npm `openai` + node --test)
# against a running Helix /v1. Needs HELIX_BASE_URL, HELIX_API_KEY, HELIX_CHAT_MODEL and
# HELIX_EMBED_MODEL in the environment, and the dependencies installed by
# scripts/test-deps.d/30-openai-clients.sh. Prints each suite's summary; exits non-zero if
# either suite fails (or cannot start).
#
# Usage: tests/clients/run.sh [python|node]...   (default: both)
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv="${HELIX_CACHE:-/var/tmp/helix-cache}/openai-clients-venv"
node_dir="$here/node"

missing=()
for v in HELIX_BASE_URL HELIX_API_KEY HELIX_CHAT_MODEL HELIX_EMBED_MODEL; do
  [[ -n "${!v:-}" ]] || missing+=("$v")
done
if ((${#missing[@]})); then
  echo "tests/clients/run.sh: missing environment: ${missing[*]}" >&2
  exit 2
fi

suites=("$@")
((${#suites[@]})) || suites=(python node)

# The clients must talk to the given base URL only: drop variables that would redirect them.
unset OPENAI_BASE_URL OPENAI_API_BASE OPENAI_API_KEY OPENAI_ORG_ID OPENAI_PROJECT_ID
export NO_PROXY="127.0.0.1,localhost,::1${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost,::1${no_proxy:+,$no_proxy}"

run_python() {
  if [[ ! -x "$venv/bin/python" ]]; then
    echo "python: no venv at $venv (run scripts/test-deps.d/30-openai-clients.sh)" >&2
    return 1
  fi
  (cd "$here/python" && PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" -m pytest \
    -p no:cacheprovider -q -rA --color=no test_openai_client.py test_anthropic_client.py)
}

run_node() {
  if [[ ! -d "$node_dir/node_modules/openai" ]]; then
    echo "node: no $node_dir/node_modules (run scripts/test-deps.d/30-openai-clients.sh)" >&2
    return 1
  fi
  # The spec reporter prints one line per test and a "ℹ tests/pass/fail" summary.
  (cd "$node_dir" && node --test --test-reporter=spec openai_client.test.mjs)
}

declare -A result=()
status=0
for s in "${suites[@]}"; do
  case "$s" in
    python | node) ;;
    *) echo "tests/clients/run.sh: unknown suite '$s' (python|node)" >&2; exit 2 ;;
  esac
  echo "=== openai clients: $s ==="
  start=$SECONDS
  if "run_$s"; then
    result[$s]="passed in $((SECONDS - start))s"
  else
    result[$s]="FAILED after $((SECONDS - start))s"
    status=1
  fi
done

echo "=== openai clients: summary ==="
for s in "${suites[@]}"; do
  echo "  $s: ${result[$s]}"
done
exit $status
