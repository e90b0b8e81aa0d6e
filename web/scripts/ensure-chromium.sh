#!/usr/bin/env bash
# Make sure the system Chromium that the Playwright tests drive exists (Playwright cannot download its own browser
# here). Installs Debian's chromium with apt-get when /usr/bin/chromium is missing.
set -euo pipefail
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  echo "chromium: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "chromium is missing and sudo is not available: install the 'chromium' package as root" >&2; exit 1; }
  SUDO="sudo"
fi
echo "chromium not found at $CHROMIUM: installing Debian's chromium (about 1.5 min)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium >/dev/null
[ -x "$CHROMIUM" ] || { echo "chromium was installed but $CHROMIUM is still missing" >&2; exit 1; }
echo "chromium: $("$CHROMIUM" --version)"
