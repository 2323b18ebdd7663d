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

# Parameter expansion, not dirname: the tests run this with only fakes on PATH.
. "${0%/*}/debian-package.sh"
install_debian_package chromium "$browser"
