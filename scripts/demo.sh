#!/usr/bin/env bash
# `npm run demo`: installs what is missing, then builds the local castle, writes to it, wipes it,
# brings it back from S3 and proves the data is the same. Safe to run again: it reuses what exists.
# `npm run demo -- --clean` stops and removes everything the demo started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run build --silent
exec node scripts/demo.mjs "$@"
