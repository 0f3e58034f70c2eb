#!/usr/bin/env bash
# `npm run bench`: the benchmark (scripts/bench.ts) on the same Node as the service and the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-node.sh
exec node --import tsx scripts/bench.ts "$@"
