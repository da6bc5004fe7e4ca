#!/usr/bin/env bash
# Builds the uniffi bindings of helix-client into OUT (default $HELIX_CACHE/sdk-uniffi):
#   - the cdylib (cargo build -p helix-uniffi) and this crate's own uniffi-bindgen, so the
#     generator and the scaffolding are always the same uniffi version;
#   - OUT/python: helix_uniffi.py generated from the built library, the library beside it,
#     imported once (uniffi checks its contract version and checksums on import);
#   - OUT/kotlin, OUT/swift: the generated sources, compiled when the toolchain is here:
#     kotlinc (on PATH, or $HELIX_CACHE/kotlinc-*/bin from scripts/test-deps.d) with JNA
#     and kotlinx-coroutines, then tests/Smoke.kt run on the JVM against the library;
#     swiftc for Swift. Without one it says so: generated, not compiled.
# bindings/build.sh (step `uniffi`) calls this; bindings/run-tests.sh uniffi runs the
# pytest suite on OUT/python.
# Usage: bindings/uniffi/build.sh [OUT]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${HELIX_CACHE:-/var/tmp/helix-cache}
out=${1:-$cache/sdk-uniffi}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/helix-target}
py=${HELIX_PYTHON:-python3}

fail() { echo "bindings/uniffi/build.sh: error: $*" >&2; exit 1; }
quiet() {
  local o
  if ! o=$("$@" 2>&1); then
    printf '%s\n' "$o" >&2
    fail "failed: $*"
  fi
}

echo "    uniffi: cargo build -p helix-uniffi (library and uniffi-bindgen)"
(cd "$here" && quiet cargo build -p helix-uniffi --lib --bin uniffi-bindgen)
lib="$CARGO_TARGET_DIR/debug/libhelix_uniffi.so"
bindgen="$CARGO_TARGET_DIR/debug/uniffi-bindgen"
[[ -f "$lib" && -x "$bindgen" ]] || fail "no $lib or $bindgen after the build"

rm -rf "$out"
mkdir -p "$out"
for lang in python kotlin swift; do
  # Run from this crate's folder: library mode finds uniffi.toml through cargo metadata.
  (cd "$here" && quiet "$bindgen" generate --no-format --library "$lib" --language "$lang" --out-dir "$out/$lang")
done
py_mod="$out/python/helix_uniffi.py"
kt_src="$out/kotlin/helix/uniffi/helix_uniffi.kt"
swift_src="$out/swift/helix_uniffi.swift"
for f in "$py_mod" "$kt_src" "$swift_src" "$out/swift/helix_uniffiFFI.h" "$out/swift/helix_uniffiFFI.modulemap"; do
  [[ -s "$f" ]] || fail "uniffi-bindgen wrote no $f"
done
echo "    uniffi: generated python, kotlin, swift"

cp "$lib" "$out/python/"
(cd / && quiet env PYTHONPATH="$out/python" PYTHONDONTWRITEBYTECODE=1 "$py" -c 'import helix_uniffi')
echo "    uniffi: python module imports (library $(basename "$lib") beside it)"

kotlinc=$(command -v kotlinc || ls "$cache"/kotlinc-*/bin/kotlinc 2>/dev/null | sort -V | tail -n1 || true)
if [[ -z "$kotlinc" ]]; then
  echo "    uniffi: kotlinc not found: Kotlin bindings generated, not compiled"
else
  khome=$(dirname "$(dirname "$(readlink -f "$kotlinc")")")
  coroutines=$(ls "$khome"/lib/kotlinx-coroutines-core-jvm*.jar 2>/dev/null | head -n1 || true)
  jna=${HELIX_JNA_JAR:-/usr/share/java/jna.jar}
  if [[ -z "$coroutines" || ! -f "$jna" ]]; then
    echo "    uniffi: kotlinc found but no kotlinx-coroutines jar in $khome/lib or no JNA ($jna, Debian libjna-java): Kotlin bindings generated, not compiled"
  else
    cp="$jna:$coroutines"
    quiet "$kotlinc" -nowarn -cp "$cp" "$kt_src" "$here/tests/Smoke.kt" -d "$out/kotlin/classes"
    echo "    uniffi: kotlin compiled ($("$kotlinc" -version 2>&1 | grep -o 'kotlinc-jvm [0-9.]*'))"
    quiet "$(dirname "$kotlinc")/kotlin" -Djna.library.path="$out/python" -cp "$out/kotlin/classes:$cp" SmokeKt
    echo "    uniffi: kotlin smoke test ran on the JVM (tests/Smoke.kt)"
  fi
fi

if command -v swiftc >/dev/null; then
  (cd "$out/swift" && quiet swiftc -module-name helix_uniffi -parse-as-library -emit-library \
    -o "$out/swift/libhelix_uniffi_swift.so" -Xcc -fmodule-map-file="$out/swift/helix_uniffiFFI.modulemap" \
    -I "$out/swift" -L "$out/python" -lhelix_uniffi "$swift_src")
  echo "    uniffi: swift compiled ($(swiftc --version 2>&1 | head -n1))"
else
  echo "    uniffi: swiftc not found: Swift bindings generated, not compiled"
fi
