#!/usr/bin/env bash
# `npm test`'s pretest: test/http/docs-browser.test.ts drives Chromium at $TRACKBOT_CHROMIUM, else at
# /usr/bin/chromium (Debian's `chromium` package). When that browser is missing, install the package with
# apt-get if this user may (root, or sudo without a password); otherwise stop with one line saying what to
# install. `bash scripts/ensure-chromium.sh [path]` checks another default path (this script's tests use
# it, with a fake apt-get and sudo on PATH).
set -euo pipefail

browser=${1:-/usr/bin/chromium}
needs="test/http/docs-browser.test.ts needs Chromium"

if [ -n "${TRACKBOT_CHROMIUM:-}" ]; then
  # The test uses this browser and no other, so installing Debian's would not help.
  if [ -x "$TRACKBOT_CHROMIUM" ]; then exit 0; fi
  echo "ensure-chromium: $needs: TRACKBOT_CHROMIUM=$TRACKBOT_CHROMIUM is not an executable file; point it at a Chromium binary or unset it to use $browser" >&2
  exit 1
fi
if [ -x "$browser" ]; then exit 0; fi

cannot_install () {
  echo "ensure-chromium: $needs at $browser: $1; install Debian's chromium package (sudo apt-get install chromium) or set TRACKBOT_CHROMIUM to a Chromium binary" >&2
  exit 1
}

# How apt-get is run: env sets DEBIAN_FRONTEND for it (sudo would drop an exported one); sudo's -n
# never asks for a password (there may be no terminal).
as_root=(env)
if ! command -v apt-get >/dev/null; then
  cannot_install "it is missing and there is no apt-get here"
elif [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    as_root=(sudo -n env)
  else
    cannot_install "it is missing and this user is not root and cannot sudo without a password"
  fi
fi

apt () {
  "${as_root[@]}" DEBIAN_FRONTEND=noninteractive apt-get "$@" </dev/null
}

echo "ensure-chromium: $browser is missing; installing Debian's chromium package with apt-get" >&2
# A stale package list is the usual reason the first try fails: update it and try once more.
if ! apt install -y -q chromium; then
  apt update -q && apt install -y -q chromium || cannot_install "apt-get install -y -q chromium failed (its output is above)"
fi
if [ ! -x "$browser" ]; then
  cannot_install "apt-get installed the chromium package, but $browser is still missing"
fi
