#!/usr/bin/env bash
# Builds the SDKs and checks them the way a user gets them:
#   python: the abi3 wheel (maturin), installed with pip into a FRESH venv; the stubs
#           (_native.pyi) checked against the built module (mypy.stubtest) and the package
#           type-checked (mypy --strict): drift fails.
#   node:   the napi-rs addon and its generated native.d.ts (drift from the committed one
#           fails; it and the hand-written index.d.ts must compile with tsc --strict),
#           packed with npm pack and installed with npm into a FRESH folder with the
#           tests copied in.
#   uniffi: the helix-uniffi cdylib and the Python, Kotlin and Swift bindings generated
#           from it by its own uniffi-bindgen (bindings/uniffi/build.sh: Kotlin and Swift
#           compiled where kotlinc / swiftc are installed).
#   parity: every public operation of helix-client exists in both (bindings/parity.py),
#           and in the uniffi bindings.
# Leaves HELIX_SDK_PYTHON / HELIX_SDK_NODE_DIR / HELIX_SDK_UNIFFI_DIR assignments in
# $HELIX_CACHE/sdk.env for scripts/test.sh (helix-server/tests/sdk_e2e.rs runs the suites
# against a real server).
# Usage: bindings/build.sh [python|node|uniffi|parity]...   (default: all)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${HELIX_CACHE:-/var/tmp/helix-cache}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/helix-target}
py=${HELIX_PYTHON:-python3}
mkdir -p "$cache"
# One build at a time on a machine: the venv, folder and sdk.env are shared.
exec 9>"$cache/.sdk-build.lock"
flock 9

fail() { echo "bindings/build.sh: error: $*" >&2; exit 1; }
quiet() {
  local out
  if ! out=$("$@" 2>&1); then
    printf '%s\n' "$out" >&2
    fail "failed: $*"
  fi
}

build_python() {
  local tools="$cache/sdk-build-venv" wheels="$cache/sdk-wheels" venv="$cache/sdk-venv"
  local want
  want="$(sha256sum "$here/python/requirements-build.txt" | cut -d' ' -f1) $("$py" --version)"
  if [[ ! -x "$tools/bin/maturin" || "$(cat "$tools/.stamp" 2>/dev/null)" != "$want" ]]; then
    rm -rf "$tools"
    quiet "$py" -m venv "$tools"
    quiet "$tools/bin/pip" install -q --disable-pip-version-check -r "$here/python/requirements-build.txt"
    printf '%s' "$want" >"$tools/.stamp"
  fi
  rm -rf "$wheels"
  echo "    python: maturin build"
  (cd "$here/python" && quiet "$tools/bin/maturin" build --out "$wheels")
  local wheel
  wheel=$(ls "$wheels"/helix-*.whl)
  echo "    python: pip install $(basename "$wheel") into a fresh venv"
  rm -rf "$venv"
  quiet "$py" -m venv "$venv"
  quiet "$venv/bin/pip" install -q --disable-pip-version-check "$wheel" -r "$here/python/requirements-test.txt"
  echo "    python: stubs match the built module (mypy.stubtest), package type-checks (mypy --strict)"
  (cd / && quiet "$venv/bin/python" -m mypy.stubtest helix._native)
  (cd / && quiet "$venv/bin/python" -m mypy --strict --no-incremental -p helix)
  echo "HELIX_SDK_PYTHON=$venv/bin/python" >>"$cache/sdk.env.new"
}

build_node() {
  local dir="$here/node" out="$cache/sdk-node" pack="$cache/sdk-pack"
  command -v node >/dev/null || fail "node not found (Node.js >= 20)"
  local want
  want="$(sha256sum "$dir/package.json" "$dir/package-lock.json" | cut -d' ' -f1 | tr '\n' ' ')$(node --version)"
  if [[ "$(cat "$dir/node_modules/.helix-stamp" 2>/dev/null)" != "$want" ]]; then
    # `npm install` with the lock file, not `npm ci`: npm 11's ci refuses @napi-rs/cli's
    # lock file (optional per-platform packages it recorded without versions).
    quiet npm install --prefix "$dir" --no-audit --no-fund --loglevel=error
    printf '%s' "$want" >"$dir/node_modules/.helix-stamp"
  fi
  echo "    node: napi build"
  (cd "$dir" && quiet npx napi build --platform --js native.js --dts native.d.ts)
  if git -C "$here" rev-parse --is-inside-work-tree >/dev/null 2>&1 &&
    ! git -C "$here" diff --quiet HEAD -- node/native.d.ts node/native.js; then
    git -C "$here" diff --stat HEAD -- node/native.d.ts node/native.js >&2
    fail "the generated node/native.d.ts or native.js differ from the committed ones: commit them"
  fi
  echo "    node: type declarations compile (tsc --strict index.d.ts native.d.ts)"
  (cd "$dir" && quiet ./node_modules/.bin/tsc --noEmit --strict --types node --target es2022 \
    --lib es2022,esnext.disposable --module commonjs index.d.ts native.d.ts)
  echo "    node: npm pack, npm install into a fresh folder"
  rm -rf "$pack" "$out"
  mkdir -p "$pack" "$out"
  (cd "$dir" && quiet npm pack --pack-destination "$pack" --loglevel=error)
  printf '{"name":"helix-sdk-test","private":true}\n' >"$out/package.json"
  (cd "$out" && quiet npm install --no-audit --no-fund --loglevel=error "$pack"/*.tgz)
  cp -r "$dir/test" "$out/test"
  (cd "$out" && quiet node -e "require('@helix/sdk')")
  echo "HELIX_SDK_NODE_DIR=$out" >>"$cache/sdk.env.new"
}

build_uniffi() {
  bash "$here/uniffi/build.sh" "$cache/sdk-uniffi"
  echo "HELIX_SDK_UNIFFI_DIR=$cache/sdk-uniffi" >>"$cache/sdk.env.new"
}

parity() {
  echo "    parity: every helix-client operation in both SDKs"
  local pyenv="$cache/sdk-venv/bin/python"
  [[ -x "$pyenv" ]] || fail "parity needs the python step first"
  [[ -f "$cache/sdk-uniffi/python/helix_uniffi.py" ]] || fail "parity needs the uniffi step first"
  quiet "$pyenv" "$here/parity.py" --node-dir "$cache/sdk-node" --uniffi-dir "$cache/sdk-uniffi"
}

steps=("$@")
((${#steps[@]})) || steps=(python node uniffi parity)
rm -f "$cache/sdk.env" "$cache/sdk.env.new"
for s in "${steps[@]}"; do
  case $s in
    python) build_python ;;
    node) build_node ;;
    uniffi) build_uniffi ;;
    parity) parity ;;
    *) fail "unknown step $s" ;;
  esac
done
[[ ! -f "$cache/sdk.env.new" ]] || mv "$cache/sdk.env.new" "$cache/sdk.env"
