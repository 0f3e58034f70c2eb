#!/usr/bin/env bash
# `npm run bench`: the benchmark (scripts/bench.ts), then the fleet benchmark of issue 14
# (scripts/bench/fleet.ts, 4-10 minutes more on 2 cores), on the same Node as the service and the tests.
#   npm run bench -- [bench.ts options]            both; an --out FILE goes to both (fleet: its marked block)
#   npm run bench -- --no-fleet [bench.ts options] scripts/bench.ts alone
#   npm run bench -- --fleet [fleet.ts options]    the fleet benchmark alone
set -euo pipefail
cd "$(dirname "$0")/.."
# What the benchmarks run beside snapkeep: the plain pipelines (sqlite3, zstd, the AWS CLI), peak RSS
# (/usr/bin/time), the HTTP load (wrk). Ceph RGW's packages come with the test install (scripts/test.sh).
bash scripts/install-system-deps.sh redis-server sqlite3 zstd wrk awscli time
source scripts/ensure-node.sh
if [[ "${1:-}" == --fleet ]]; then
  shift
  exec node --import tsx scripts/bench/fleet.ts "$@"
fi
args=() fleet=(--no-build) with_fleet=1 prev=
for arg in "$@"; do
  if [[ $arg == --no-fleet ]]; then with_fleet=0; else args+=("$arg"); fi
  [[ $prev == --out ]] && fleet+=(--out "$arg")
  [[ $arg == --out=* ]] && fleet+=("$arg")
  prev=$arg
done
node --import tsx scripts/bench.ts "${args[@]}"
if (( with_fleet )); then exec node --import tsx scripts/bench/fleet.ts "${fleet[@]}"; fi
