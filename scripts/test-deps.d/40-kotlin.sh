#!/usr/bin/env bash
# Installs what bindings/uniffi/build.sh needs to compile (and smoke-run) the generated
# Kotlin bindings, idempotently and quietly:
#   - a JVM (Debian openjdk-17-jre-headless) and JNA (Debian libjna-java:
#     /usr/share/java/jna.jar), when missing and running as root;
#   - the Kotlin compiler from the npm registry (JetBrains' `kotlin-compiler` package: the
#     kotlinc distribution, kotlinx-coroutines included) unpacked into
#     ${HELIX_CACHE:-/var/tmp/helix-cache}/kotlinc-VERSION, kept across runs.
# Swift has no toolchain on Debian 12: its bindings are generated, not compiled.
# Called by scripts/test-deps.sh; can be run on its own.
set -euo pipefail

version=2.4.20
cache=${HELIX_CACHE:-/var/tmp/helix-cache}
dest="$cache/kotlinc-$version"

fail() { echo "40-kotlin: error: $*" >&2; exit 1; }
quiet() {
  local out
  if ! out=$("$@" 2>&1); then
    printf '%s\n' "$out" >&2
    fail "failed: $*"
  fi
}

missing=()
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
[[ -f /usr/share/java/jna.jar ]] || missing+=(libjna-java)
if ((${#missing[@]})); then
  [[ $EUID -eq 0 ]] || fail "missing Debian packages (run as root to install): ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
    { quiet apt-get update -qq && quiet apt-get install -y -qq --no-install-recommends "${missing[@]}"; }
fi

if [[ ! -x "$dest/bin/kotlinc" ]]; then
  command -v npm >/dev/null || fail "npm not found"
  mkdir -p "$cache"
  (
    flock 9
    if [[ ! -x "$dest/bin/kotlinc" ]]; then
      tmp=$(mktemp -d "$cache/.kotlinc.XXXXXX")
      trap 'rm -rf "$tmp"' EXIT
      (cd "$tmp" && quiet npm pack --silent "kotlin-compiler@$version")
      quiet tar -xzf "$tmp/kotlin-compiler-$version.tgz" -C "$tmp"
      chmod +x "$tmp"/package/bin/*
      "$tmp/package/bin/kotlinc" -version >/dev/null 2>&1 || fail "the unpacked kotlinc does not run"
      rm -rf "$dest"
      mv "$tmp/package" "$dest"
    fi
  ) 9>"$cache/.kotlinc.lock"
fi
