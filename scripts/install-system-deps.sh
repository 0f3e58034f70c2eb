#!/usr/bin/env bash
# Installs the Debian packages snapkeep needs (or its tests need) when they are missing.
# Usage: scripts/install-system-deps.sh redis-server sqlite3 [more packages…]
set -euo pipefail
declare -A binary_of=([ceph-common]=ceph [redis-server]=redis-server [sqlite3]=sqlite3 [age]=age [chromium]=chromium [docker-compose]=docker-compose [wrk]=wrk [hyperfine]=hyperfine [awscli]=aws [time]=/usr/bin/time [iproute2]=ip)
missing=()
for pkg in "$@"; do
  bin=${binary_of[$pkg]:-$pkg}
  # A package with a command of its name (or mapped above), else one dpkg says is installed (a library).
  command -v "$bin" >/dev/null 2>&1 && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' && continue
  missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing with apt-get: ${missing[*]}" >&2
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
