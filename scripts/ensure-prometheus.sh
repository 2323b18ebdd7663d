#!/usr/bin/env bash
# `npm test`'s pretest: test/process/prometheus.test.ts scrapes a server with a real Prometheus at
# /usr/bin/prometheus and checks docs/prometheus/alerts.yml with its promtool (both in Debian's `prometheus`
# package). When it is missing, install the package with apt-get if this user may (root, or sudo without a
# password); otherwise stop with one line saying what to install. Where systemd runs, the package also starts its
# own service on port 9090; the test does not use it, but runs a Prometheus of its own on a free loopback port.
# `bash scripts/ensure-prometheus.sh [path]` checks another path (this script's tests use it).
set -euo pipefail

binary=${1:-/usr/bin/prometheus}
if [ -x "$binary" ]; then exit 0; fi

cannot_install () {
  echo "ensure-prometheus: test/process/prometheus.test.ts needs Prometheus at $binary: $1; install Debian's prometheus package (sudo apt-get install prometheus)" >&2
  exit 1
}

# Parameter expansion, not dirname: the tests run this with only fakes on PATH.
. "${0%/*}/debian-package.sh"
install_debian_package prometheus "$binary"
