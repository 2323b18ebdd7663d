#!/usr/bin/env bash
# `npm test`: the tap suite once per store, SQLite always and PostgreSQL at TEST_DATABASE_URL
# (default postgresql://postgres@127.0.0.1:5432/postgres). A PostgreSQL that cannot be reached fails
# the run; TRACKBOT_SKIP_POSTGRES=1 skips that pass, loudly, for machines without one.
set -euo pipefail

echo "# store: sqlite"
TRACKBOT_TEST_STORE=sqlite tap "$@"

if [ "${TRACKBOT_SKIP_POSTGRES:-}" = 1 ]; then
  echo "# store: postgres SKIPPED (TRACKBOT_SKIP_POSTGRES=1)"
  exit 0
fi
echo "# store: postgres (${TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres})"
TRACKBOT_TEST_STORE=postgres tap "$@"
