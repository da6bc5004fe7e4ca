#!/usr/bin/env bash
# Runs an SDK suite against the Helix server described in the environment (HELIX_URL,
# HELIX_API_KEY, HELIX_OTHER_API_KEY, HELIX_CHAT_MODEL, HELIX_SANDBOX_IMAGE), on the
# packages as bindings/build.sh installed them:
#   python: pytest with $HELIX_SDK_PYTHON (a fresh venv with the built wheel installed)
#   node:   node --test in $HELIX_SDK_NODE_DIR (a fresh folder with the packed tarball
#           installed and the tests copied in)
#   uniffi: pytest (bindings/uniffi/tests) with $HELIX_SDK_PYTHON on the Python module
#           uniffi-bindgen generated into $HELIX_SDK_UNIFFI_DIR/python
# helix-server/tests/sdk_e2e.rs starts the server and calls this.
# Usage: bindings/run-tests.sh python|node|uniffi
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export NO_PROXY="127.0.0.1,localhost,::1${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost,::1${no_proxy:+,$no_proxy}"

case ${1:-} in
  python)
    : "${HELIX_SDK_PYTHON:?HELIX_SDK_PYTHON is not set (bindings/build.sh)}"
    # Run from the tests folder so `import helix` is the installed package, not the source.
    cd "$here/python/tests"
    PYTHONDONTWRITEBYTECODE=1 exec "$HELIX_SDK_PYTHON" -m pytest -p no:cacheprovider -q -rA --color=no .
    ;;
  node)
    : "${HELIX_SDK_NODE_DIR:?HELIX_SDK_NODE_DIR is not set (bindings/build.sh)}"
    cd "$HELIX_SDK_NODE_DIR"
    exec node --test --test-reporter=spec test/*.test.js
    ;;
  uniffi)
    : "${HELIX_SDK_PYTHON:?HELIX_SDK_PYTHON is not set (bindings/build.sh)}"
    : "${HELIX_SDK_UNIFFI_DIR:?HELIX_SDK_UNIFFI_DIR is not set (bindings/build.sh)}"
    cd "$here/uniffi/tests"
    PYTHONPATH="$HELIX_SDK_UNIFFI_DIR/python" PYTHONDONTWRITEBYTECODE=1 \
      exec "$HELIX_SDK_PYTHON" -m pytest -p no:cacheprovider -q -rA --color=no .
    ;;
  *)
    echo "usage: $0 python|node|uniffi" >&2
    exit 2
    ;;
esac
