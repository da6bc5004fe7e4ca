#!/usr/bin/env bash
# Installs the real llama.cpp `llama-server` (built from source once, cached by version under
# ${HELIX_CACHE:-/var/tmp/helix-cache}/llama-<ver>/) and generates the tiny test model
# (${HELIX_CACHE}/models/). Idempotent; see scripts/llama.sh. Called by scripts/test-deps.sh.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bash "$repo/scripts/llama.sh" install
bash "$repo/scripts/llama.sh" model >/dev/null
