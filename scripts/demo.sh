#!/usr/bin/env bash
# `npm run demo`: installs what is missing, then builds the local castle, writes to it, wipes it,
# brings it back from S3 and proves the data is the same. Safe to run again: it reuses what exists.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
if [ ! -d node_modules/s3rver ]; then npm ci --no-audit --no-fund; fi
npm run build --silent
exec node scripts/demo.mjs "$@"
