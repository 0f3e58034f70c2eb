#!/usr/bin/env bash
# The 30 ms-link benchmark of issue 17 (scripts/bench/link.ts): a network namespace with netem on its
# loopback, the S3 server and every client inside it. Needs root and a built dist/.
#   scripts/bench-link.sh [--servers s3rver,ceph] [--concurrency 1,2,4,8,16] [--restore-concurrency 4] [--rounds 3] [--size 256M]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-node.sh
exec node --import tsx scripts/bench/link.ts "$@"
