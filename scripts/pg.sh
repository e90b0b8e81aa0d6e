#!/usr/bin/env bash
# Start (or stop) a throwaway PostgreSQL server on a loopback port for the test suite.
# Usage: scripts/pg.sh start|stop|url     (env: MM_PG_PORT, default 55432; MM_PG_DIR, default /tmp/modelmate-pg)
# `start` prints the SQLAlchemy URL; it installs the server with apt-get (apt-get update first) when it is missing.
# `make test` (scripts/test.sh) uses its own free port and a fresh data dir, so it never touches a dev server.
set -euo pipefail
PORT="${MM_PG_PORT:-55432}"
DIR="${MM_PG_DIR:-/tmp/modelmate-pg}"
URL="postgresql+psycopg://modelmate:modelmate@127.0.0.1:${PORT}/modelmate_test"

pg_bin() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$bin" ]; then
    echo "PostgreSQL server not installed; installing (apt-get install postgresql)..." >&2
    export DEBIAN_FRONTEND=noninteractive
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq >&2
    $SUDO apt-get install -y -qq postgresql >&2
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  fi
  echo "$bin"
}

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-start}" in
  start)
    BIN=$(pg_bin)
    if as_pg "$BIN/pg_isready" -h 127.0.0.1 -p "$PORT" -q 2>/dev/null; then
      # Reuse only our own server; never hand out (and let the tests wipe) someone else's database.
      if [ -f "$DIR/data/postmaster.pid" ]; then echo "$URL"; exit 0; fi
      echo "port $PORT already has a PostgreSQL server that is not ours ($DIR); set MM_PG_PORT" >&2; exit 1
    fi
    rm -rf "$DIR"; mkdir -p "$DIR"
    [ "$(id -u)" -eq 0 ] && chown postgres "$DIR"
    as_pg "$BIN/initdb" -D "$DIR/data" -U postgres -A trust --no-sync -E UTF8 >/dev/null
    as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -o "-h 127.0.0.1 -p $PORT -k $DIR -F -c fsync=off -c max_connections=200" start >/dev/null
    as_pg "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -q -c "CREATE ROLE modelmate LOGIN PASSWORD 'modelmate' CREATEDB" >/dev/null
    as_pg "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -q -c "CREATE DATABASE modelmate_test OWNER modelmate" >/dev/null
    echo "$URL"
    ;;
  stop)
    BIN=$(pg_bin)
    [ -d "$DIR/data" ] && as_pg "$BIN/pg_ctl" -D "$DIR/data" -m fast stop >/dev/null || true
    ;;
  url)
    echo "$URL"
    ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
