#!/usr/bin/env bash
# Quick start on a fresh Debian/Ubuntu machine: installs what is missing (Debian packages, a
# project-local Node 24 when the machine's is older than 22.12, npm packages from the lock), builds,
# writes a .env with a new master key, a local backup directory and a demo database (unless you
# configured your own), makes a superadmin token and a viewer token for the dashboard once (kept in
# data/quickstart*.token and shown again on every start), and runs `snapkeep serve` with an embedded Redis.
# The service replaces this shell (exec): SIGTERM or Ctrl-C stops it and its embedded Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh redis-server sqlite3
source scripts/ensure-node.sh
bash scripts/install-node-deps.sh
snapkeep() { node dist/cli/snapkeep.js "$@"; }

umask 077
if [ ! -f .env ]; then
  mkdir -p data/backups
  if [ -z "${DB_PATH:-}" ]; then
    sqlite3 data/demo.db "PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL, at TEXT DEFAULT CURRENT_TIMESTAMP); INSERT INTO notes (body) VALUES ('hello from the snapkeep quick start');" >/dev/null
  fi
  cat > .env <<ENV
# Written by scripts/start.sh. MASTER_KEY decrypts every backup: keep a copy somewhere safe,
# away from this machine. Without it no backup can be restored.
MASTER_KEY=$(snapkeep key generate)
DB_PATH=${DB_PATH:-./data/demo.db}
BACKUP_LOCAL_DIR=${BACKUP_LOCAL_DIR:-./data/backups}
STATE_DIR=${STATE_DIR:-./data}
LOG_FORMAT=${LOG_FORMAT:-pretty}
ENV
  echo "wrote .env (master key, demo database, local backup directory): keep a copy of MASTER_KEY safe" >&2
fi

# One quick-start token, made on the first start and shown again after: each start used to add a
# new superadmin. If it was revoked (or its file lost), a new one replaces it.
# The dashboard takes a viewer token (it is read-only; browsers keep its password): one of those too.
mkdir -p data
existing=$(snapkeep token list --json)
quickstart_token() { # name role file
  if [ -s "$3" ] && grep -q "\"name\": \"$1\"" <<<"$existing"; then
    cat "$3"
  else
    snapkeep token revoke "$1" >/dev/null 2>&1 || true
    snapkeep token create --name "$1" --role "$2" | tee "$3"
  fi
}
token_file=data/quickstart.token
token=$(quickstart_token quickstart superadmin "$token_file")
dashboard_token=$(quickstart_token quickstart-dashboard viewer data/quickstart-dashboard.token)
port=$(grep -E '^PORT=' .env | cut -d= -f2 || true)
port=${PORT:-${port:-7100}}
cat >&2 <<MSG

snapkeep is starting on http://127.0.0.1:${port} (Node $(node -v))
  superadmin token: ${token}   (kept in ${token_file}; revoke with: node dist/cli/snapkeep.js token revoke quickstart)
  take a backup:    curl -X POST -H "Authorization: Bearer ${token}" http://127.0.0.1:${port}/api/backups
  dashboard:        http://127.0.0.1:${port}/admin/queues  (user: anything, password: ${dashboard_token})
  stop:             Ctrl-C, or SIGTERM to this process

MSG
# A young generation of 2 × 4 MiB: see cli/memory-settings.ts (V8 only reads it at start-up).
exec node --max-semi-space-size=4 dist/cli/snapkeep.js serve
