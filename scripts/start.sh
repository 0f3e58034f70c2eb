#!/usr/bin/env bash
# Quick start on a fresh Debian/Ubuntu machine with Node 20: installs what is missing, builds,
# writes a .env with a new master key, a local backup directory and a demo database (unless you
# configured your own), creates a superadmin token, and runs `snapkeep serve` with an embedded Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh redis-server sqlite3
bash scripts/install-node-deps.sh
snapkeep() { node dist/cli/snapkeep.js "$@"; }

if [ ! -f .env ]; then
  umask 077
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

token=$(snapkeep token create --name "quickstart-$(date +%Y%m%d%H%M%S)" --role superadmin)
port=$(grep -E '^PORT=' .env | cut -d= -f2 || true)
port=${PORT:-${port:-7100}}
cat >&2 <<MSG

snapkeep is starting on http://127.0.0.1:${port}
  superadmin token: ${token}
  take a backup:    curl -X POST -H "Authorization: Bearer ${token}" http://127.0.0.1:${port}/api/backups
  dashboard:        http://127.0.0.1:${port}/admin/queues  (user: anything, password: the token)

MSG
exec node dist/cli/snapkeep.js serve
