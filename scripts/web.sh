#!/usr/bin/env bash
# Build or test the React UI in web/ (called by `make web-build` / `make web-test`).
#   scripts/web.sh build   npm ci (when the lockfile changed) + npm run build; output ends up in src/modelmate/web_dist/
#   scripts/web.sh test    npm ci (when needed), Chromium, client freshness, lint, Vitest, Playwright e2e
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DIST=src/modelmate/web_dist

[ -f web/package.json ] || { echo "no web/package.json: nothing to do"; exit 0; }
command -v npm >/dev/null || { echo "npm not found: install Node 20 (https://nodejs.org) to build the UI" >&2; exit 1; }

deps() {
  # npm ci writes node_modules/.package-lock.json; reinstall only when the lockfile or package.json is newer.
  local marker=web/node_modules/.package-lock.json
  if [ ! -f "$marker" ] || [ web/package-lock.json -nt "$marker" ] || [ web/package.json -nt "$marker" ]; then
    (cd web && npm ci --no-audit --no-fund)
  fi
}

newest_source_is_newer_than() {
  # true when some file of the UI sources is newer than $1
  [ -n "$(find web -path web/node_modules -prune -o -path web/dist -prune -o -type f -newer "$1" -print -quit)" ]
}

case "${1:-build}" in
  build)
    deps
    if [ -f "$DIST/index.html" ] && ! newest_source_is_newer_than "$DIST/index.html"; then
      echo "web UI is up to date ($DIST)"; exit 0
    fi
    marker="$(mktemp)"; trap 'rm -f "$marker"' EXIT
    (cd web && npm run build)
    # The Vite config may emit straight into $DIST (preferred); otherwise copy a fresh web/dist over.
    if [ ! "$DIST/index.html" -nt "$marker" ] && [ web/dist/index.html -nt "$marker" ]; then
      rm -rf "$DIST"; mkdir -p "$DIST"; cp -a web/dist/. "$DIST/"
    fi
    [ -f "$DIST/index.html" ] || { echo "web build produced no $DIST/index.html" >&2; exit 1; }
    touch "$DIST/index.html"
    echo "web UI built into $DIST"
    ;;
  test)
    deps
    # Chromium for the end-to-end tests (Debian package; Playwright cannot download its own browser here).
    bash web/scripts/ensure-chromium.sh
    # The TS client must match the API's OpenAPI schema (fails when someone forgot `npm run gen:client`).
    (cd web && npm run check:client)
    (cd web && npm run lint)
    (cd web && CI=true npm test)
    # End-to-end: builds the UI if needed, starts the real server on a temp database, drives Chromium.
    (cd web && CI=true npm run e2e)
    ;;
  *) echo "usage: $0 build|test" >&2; exit 2 ;;
esac
