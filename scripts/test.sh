#!/usr/bin/env bash
# The whole test suite, as `make test` and CI run it:
#   1. start a throwaway PostgreSQL on a free loopback port with its own data dir (never the dev server on 55432),
#   2. ruff check src tests, lint-imports (the layer contracts), then mypy over src/modelmate (configured in pyproject.toml),
#   3. pytest over everything with MODELMATE_TEST_POSTGRES_URL set (every DB/API test runs on SQLite and PostgreSQL),
#   4. stop PostgreSQL and delete its data dir, also on failure or Ctrl-C.
# Env: MM_PG_PORT (default: a free port), PYTEST_ARGS (extra pytest arguments, e.g. "-x -k entries").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=.venv/bin

free_port() {
  "$BIN/python" - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

export MM_PG_PORT="${MM_PG_PORT:-$(free_port)}"
MM_PG_DIR="$(mktemp -d /tmp/modelmate-test-pg.XXXXXX)"
export MM_PG_DIR

cleanup() {
  local rc=$?
  scripts/pg.sh stop || true
  rm -rf "$MM_PG_DIR"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== PostgreSQL on 127.0.0.1:$MM_PG_PORT ($MM_PG_DIR)"
MODELMATE_TEST_POSTGRES_URL="$(scripts/pg.sh start)"
export MODELMATE_TEST_POSTGRES_URL

echo "== ruff check src tests"
"$BIN/ruff" check src tests

echo "== lint-imports (layer contracts, pyproject.toml)"
"$BIN/lint-imports"
echo "== mypy src"
"$BIN/mypy"

echo "== pytest (SQLite + PostgreSQL)"
start=$(date +%s)
# shellcheck disable=SC2086
"$BIN/pytest" ${PYTEST_ARGS:-} -p no:cacheprovider --durations=15
echo "== pytest finished in $(( $(date +%s) - start )) s"
