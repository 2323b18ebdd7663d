#!/usr/bin/env bash
# `npm run bench`'s prebench: the benchmark's load generator is wrk at /usr/bin/wrk (Debian's `wrk`
# package). When it is missing, install the package with apt-get if this user may (root, or sudo without a
# password); otherwise stop with one line saying what to install.
# `bash scripts/ensure-wrk.sh [path]` checks another path (this script's tests use it).
set -euo pipefail

binary=${1:-/usr/bin/wrk}
if [ -x "$binary" ]; then exit 0; fi

cannot_install () {
  echo "ensure-wrk: npm run bench loads the servers with wrk at $binary: $1; install Debian's wrk package (sudo apt-get install wrk)" >&2
  exit 1
}

# Parameter expansion, not dirname: the tests run this with only fakes on PATH.
. "${0%/*}/debian-package.sh"
install_debian_package wrk "$binary"
