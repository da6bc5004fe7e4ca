#!/usr/bin/env bash
# Makes sure Node.js 20.19+ (the web UI's Vite 8) is on PATH: the system's if it is new
# enough, else the official build of NODE_VERSION from nodejs.org (HELIX_NODE_DIST to use
# a mirror), checked against its SHA256SUMS and kept in
# ${XDG_CACHE_HOME:-~/.cache}/helix. Debian 12 ships Node 18, too old for Vite 8.
#   source scripts/node.sh && ensure_node      # returns 1 (with a message) when it cannot
#   bash scripts/node.sh                         # prints the node that would be used
NODE_VERSION=${HELIX_NODE_VERSION:-22.12.0}

node_ok() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 &&
    node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)'
}

fetch() { # URL FILE
  if command -v curl >/dev/null 2>&1; then curl -fsSL "$1" -o "$2"
  elif command -v wget >/dev/null 2>&1; then wget -q "$1" -O "$2"
  else echo "node.sh: neither curl nor wget is installed" >&2; return 1
  fi
}

ensure_node() {
  node_ok && return 0
  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "node.sh: no Node.js build for $(uname -m); install Node.js 20.19+ yourself" >&2; return 1 ;;
  esac
  local name="node-v$NODE_VERSION-linux-$arch"
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/helix"
  if [ ! -x "$cache/$name/bin/node" ]; then
    local dist="${HELIX_NODE_DIST:-https://nodejs.org/dist}/v$NODE_VERSION"
    echo "node.sh: fetching Node.js $NODE_VERSION ($dist/$name.tar.gz) ..." >&2
    local tmp
    tmp=$(mktemp -d)
    if fetch "$dist/$name.tar.gz" "$tmp/$name.tar.gz" && fetch "$dist/SHASUMS256.txt" "$tmp/SHASUMS256.txt" &&
      (cd "$tmp" && grep " $name.tar.gz\$" SHASUMS256.txt | sha256sum -c --quiet -); then
      mkdir -p "$cache" && tar -xzf "$tmp/$name.tar.gz" -C "$cache"
    else
      echo "node.sh: could not fetch or verify Node.js $NODE_VERSION" >&2
    fi
    rm -rf "$tmp"
  fi
  [ -x "$cache/$name/bin/node" ] || return 1
  export PATH="$cache/$name/bin:$PATH"
  node_ok
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  ensure_node
  command -v node
fi
