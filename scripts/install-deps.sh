#!/usr/bin/env bash
# Installs the Debian packages Castle's local target needs, only those missing; with --tests also what the
# test suite needs (kubectl renders the homelab tree's kustomizations). As root it runs apt-get itself; as a
# normal user through sudo.
set -euo pipefail
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql postgresql-contrib)
for pkg in pgbackrest pgbouncer openssl chromium; do installed "$pkg" || need+=("$pkg"); done
# runuser (util-linux) runs postgres as an unprivileged user when Castle runs as root
[ "$(id -u)" -ne 0 ] || [ -x /usr/sbin/runuser ] || [ -x /sbin/runuser ] || need+=(util-linux)
if [ "${1:-}" = "--tests" ]; then
  command -v kubectl >/dev/null 2>&1 || need+=(kubernetes-client)
fi
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "missing Debian packages: ${need[*]}; run as root: apt-get install ${need[*]}" >&2; exit 1; }
    SUDO="sudo"
  fi
  echo "installing Debian packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
