#!/usr/bin/env bash
# Installs npm packages from the lock file and builds, skipping `npm ci` when node_modules already
# matches the lock (better-sqlite3 compiles for about two minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.snapkeep-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  # npm ci refuses a lock file that lacks other platforms' optional packages (msgpackr-extract's
  # darwin/win32 builds, which this registry does not serve); npm install then honours the same lock.
  npm ci --no-audit --no-fund || npm install --no-audit --no-fund
  echo "$want" > "$stamp"
fi
npm run build --silent
