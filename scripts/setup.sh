#!/usr/bin/env bash
# What `npm test` and `npm run demo` run first on any clone: the Debian packages (scripts/install-deps.sh),
# then `npm ci` when node_modules is missing or older than package-lock.json. Arguments go to install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh "$@"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
