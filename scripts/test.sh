#!/usr/bin/env bash
# The whole test suite, from a clean clone: system packages, npm packages, build, then vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh redis-server sqlite3
bash scripts/install-node-deps.sh
npx vitest run "$@"
