#!/usr/bin/env bash
# `npm test`'s pretest: test/process/pgbouncer.test.ts runs PgBouncer at /usr/sbin/pgbouncer (Debian's
# `pgbouncer` package). When it is missing, install the package with apt-get if this user may (root, or
# sudo without a password); otherwise stop with one line saying what to install.
# `bash scripts/ensure-pgbouncer.sh [path]` checks another path (this script's tests use it).
set -euo pipefail

binary=${1:-/usr/sbin/pgbouncer}
if [ -x "$binary" ]; then exit 0; fi

cannot_install () {
  echo "ensure-pgbouncer: test/process/pgbouncer.test.ts needs PgBouncer at $binary: $1; install Debian's pgbouncer package (sudo apt-get install pgbouncer)" >&2
  exit 1
}

# Parameter expansion, not dirname: the tests run this with only fakes on PATH.
. "${0%/*}/debian-package.sh"
install_debian_package pgbouncer "$binary"
