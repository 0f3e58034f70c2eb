#!/usr/bin/env bash
# Installs npm packages from the committed lock (`npm ci`: never rewrites package-lock.json) and
# builds. Skips the install when node_modules already matches the lock and the running Node
# (better-sqlite3 compiles for about two minutes, against one Node ABI). The stamp is written only
# after a successful install. Run with the Node from scripts/ensure-node.sh first on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.snapkeep-install.stamp
want="$(sha256sum package-lock.json | cut -d' ' -f1) node-$(node -p 'process.versions.modules')"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  npm ci --no-audit --no-fund
  echo "$want" > "$stamp"
fi
npm run build --silent
