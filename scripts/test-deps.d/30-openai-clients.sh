#!/usr/bin/env bash
# Installs the official OpenAI clients for tests/clients (idempotent, quiet on success):
#   - Python: a venv at ${HELIX_CACHE:-/var/tmp/helix-cache}/openai-clients-venv with
#     tests/clients/python/requirements.txt (openai + pytest, all pins), rebuilt from scratch
#     only when that file or the Python version changes (stamp file with a hash).
#   - Node: `npm ci` in tests/clients/node, only when package.json / package-lock.json or the
#     Node version change (stamp file in node_modules).
# Called by scripts/test-deps.sh; can be run on its own.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache=${HELIX_CACHE:-/var/tmp/helix-cache}
venv="$cache/openai-clients-venv"
req="$repo/tests/clients/python/requirements.txt"
node_dir="$repo/tests/clients/node"
py=${HELIX_PYTHON:-python3}

fail() { echo "30-openai-clients: error: $*" >&2; exit 1; }

# Run a command, showing its output only if it fails.
quiet() {
  local out
  if ! out=$("$@" 2>&1); then
    printf '%s\n' "$out" >&2
    fail "failed: $*"
  fi
}

# --- Python: openai + pytest in a venv -------------------------------------------------------
command -v "$py" >/dev/null || fail "$py not found"
"$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
  fail "Python >= 3.11 is needed for the openai client tests, found $("$py" --version 2>&1)"

make_venv() {
  local out
  if out=$("$py" -m venv "$venv" 2>&1); then return 0; fi
  rm -rf "$venv"
  # Debian's python3 without python3-venv has no ensurepip.
  if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null && [[ "$(command -v "$py")" == /usr/bin/* ]]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq python3-venv >/dev/null 2>&1 ||
      { quiet apt-get update -qq && quiet apt-get install -y -qq python3-venv; }
    quiet "$py" -m venv "$venv"
  else
    printf '%s\n' "$out" >&2
    fail "$py -m venv $venv failed"
  fi
}

py_want="$(sha256sum "$req" | cut -d' ' -f1) $("$py" -c 'import sys; print(sys.version)' | head -n1)"
py_stamp="$venv/.helix-deps-stamp"
if [[ ! -f "$py_stamp" || "$(cat "$py_stamp")" != "$py_want" || ! -x "$venv/bin/python" ]]; then
  mkdir -p "$cache"
  # Serialize concurrent installs (two test runs on the same machine).
  (
    flock 9
    if [[ ! -f "$py_stamp" || "$(cat "$py_stamp")" != "$py_want" || ! -x "$venv/bin/python" ]]; then
      rm -rf "$venv"
      make_venv
      quiet "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        --no-input -r "$req"
      printf '%s' "$py_want" >"$py_stamp"
    fi
  ) 9>"$cache/.openai-clients-venv.lock"
fi

# --- Node: npm `openai` in tests/clients/node ------------------------------------------------
command -v node >/dev/null || fail "node not found (Node.js >= 20 is needed for tests/clients/node)"
command -v npm >/dev/null || fail "npm not found"
node_major=$(node -p 'process.versions.node.split(".")[0]')
((node_major >= 20)) || fail "Node.js >= 20 is needed for tests/clients/node, found $(node --version)"
node_stamp="$node_dir/node_modules/.helix-deps-stamp"
node_want="$(sha256sum "$node_dir/package.json" "$node_dir/package-lock.json" | cut -d' ' -f1 | tr '\n' ' ')$(node --version)"
if [[ ! -f "$node_stamp" || "$(cat "$node_stamp")" != "$node_want" ]]; then
  quiet npm ci --prefix "$node_dir" --no-audit --no-fund --loglevel=error
  printf '%s' "$node_want" >"$node_stamp"
fi
