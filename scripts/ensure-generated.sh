#!/usr/bin/env bash
# Before build, typecheck, dev and test: the Prisma clients under generated/prisma/ are made at install
# (postinstall runs `npm run generate:prisma`), not committed. Without them tsc prints a wall of TS2307
# errors; this prints one line instead. `bash scripts/ensure-generated.sh [root]` checks another checkout.
set -euo pipefail

root=${1:-$(dirname "$0")/..}
for provider in sqlite postgres; do
  client=generated/prisma/$provider/client.ts
  if [ ! -f "$root/$client" ]; then
    echo "ensure-generated: $client is missing: run npm ci (or npm run generate:prisma) first" >&2
    exit 1
  fi
done
