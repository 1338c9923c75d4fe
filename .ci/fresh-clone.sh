#!/usr/bin/env bash
# The README's two commands as a new user runs them: a clone in a mode-0700 folder (as /root is) with no
# node_modules, `npm test` (a small filter: the whole suite runs in .ci/run itself) then `npm run demo`, both
# exit 0; then `npm run demo -- --clean` leaves no process and no folder of the demo castle (checked by pid and path).
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
[ "$(stat -c %a "$tmp")" = 700 ] || { echo "mktemp -d made $tmp mode $(stat -c %a "$tmp"), not 700" >&2; exit 1; }
git clone -q "$src" "$tmp/castle"
cd "$tmp/castle"
[ ! -e node_modules ] || { echo "the clone has node_modules" >&2; exit 1; }

echo "== fresh clone in $tmp (mode 700): npm test -- preflight-ports"
npm test -- preflight-ports
echo "== fresh clone: npm run demo"
npm run demo

# what the demo runs, by pid and by path, before cleaning
read -r data store < <(node --input-type=module -e "
  const { defaultDirs } = await import('$tmp/castle/dist/src/targets/local/identity.js');
  const d = defaultDirs('local'); console.log(d.dataDir, d.objectStoreDir);")
pids=()
for f in "$data"/postgres/*/pgdata/postmaster.pid "$data"/pgbouncer/*/pgbouncer.pid "$data"/app/*/blog.pid "$store"/s3.pid; do
  [ -f "$f" ] && pids+=("$(head -1 "$f")")
done
[ ${#pids[@]} -ge 4 ] || { echo "expected postgres, pgbouncer, blog and S3 pid files under $data and $store, found ${#pids[@]}" >&2; exit 1; }
echo "== the demo castle runs: pids ${pids[*]}, data $data, object store $store"

echo "== fresh clone: npm run demo -- --clean"
npm run demo -- --clean
left=0
for pid in "${pids[@]}"; do
  if [ -d "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then echo "pid $pid still runs: $(tr '\0' ' ' < "/proc/$pid/cmdline")" >&2; left=1; fi
done
for p in "$data" "$store" examples/local/.castle examples/local/secrets.env; do
  [ ! -e "$p" ] || { echo "$p is still there" >&2; left=1; }
done
[ "$left" = 0 ] || exit 1
echo "== clean: pids ${pids[*]} gone, $data and $store removed"
