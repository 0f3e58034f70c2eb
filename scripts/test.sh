#!/usr/bin/env bash
# The whole test suite, from a clean clone: Debian packages the tests use (real Redis, SQLite,
# age, Chromium for the dashboard, docker-compose to validate the compose file, Ceph RGW as the
# production-grade S3 server), Node >= 22.12 (a project-local Node 24 when the machine's is older),
# npm packages from the lock, build, type-check, then vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh redis-server sqlite3 age chromium docker-compose expect ceph-mon ceph-osd radosgw ceph-common zstd python3-cryptography
source scripts/ensure-node.sh
bash scripts/install-node-deps.sh
# Types of the tests and scripts too: vitest strips types without checking them.
npm run typecheck --silent
exec npx vitest run "$@"
