#!/usr/bin/env bash
# `npm run bench`: every benchmark in one run, on the same Node as the service and the tests, each
# writing its own part of docs/benchmarks.md (or of --out FILE):
#   1. scripts/bench.ts              backup/restore vs the plain tools at 256M/1G/4G, the API under load
#   2. scripts/bench/compression.ts  zstd vs none vs the plain tools (with zstd); s3rver (wrapper and CLI), Ceph RGW
#                                    (256M and 1G, text and incompressible databases; `<!-- compression -->` block)
#   3. scripts/bench/link.ts         over a 30 ms round trip in a network namespace (needs root;
#                                    `<!-- link -->` block)
#   4. scripts/bench/fleet.ts        100 sources on 4 workers (`<!-- fleet -->` block)
# About 1.5 hours on 2 cores with the defaults.
#   npm run bench -- [bench.ts options]       all four; bench.ts's options go to it, --out FILE to all
#   npm run bench -- --no-compression --no-link --no-fleet [bench.ts options]   leave parts out
#   npm run bench -- --only fleet|compression|link [that script's options]     one part alone
#   (`--fleet` is `--only fleet`; bench.ts's own `--compression none|zstd` is snapkeep's setting)
set -euo pipefail
cd "$(dirname "$0")/.."
only=
case "${1:-}" in
  --only) only=${2:?--only fleet|compression|link}; shift 2 ;;
  --fleet) only=fleet; shift ;;
esac
# What the benchmarks run beside snapkeep: the plain pipelines (sqlite3, zstd, the AWS CLI), peak RSS
# (/usr/bin/time), the HTTP load (wrk), the namespace and its delay (iproute2), Ceph RGW.
packages=(redis-server sqlite3 zstd wrk awscli time iproute2)
[[ $* == *--no-compression* && $* == *--no-link* ]] || packages+=(ceph-mon ceph-osd radosgw ceph-common)
[[ $only == fleet ]] && packages=(redis-server sqlite3)
bash scripts/install-system-deps.sh "${packages[@]}"
source scripts/ensure-node.sh
case "$only" in
  '') ;;
  fleet|compression|link) exec node --import tsx "scripts/bench/$only.ts" "$@" ;;
  *) echo "bench: --only fleet|compression|link, not $only" >&2; exit 2 ;;
esac
args=() out=docs/benchmarks.md prev=
with_fleet=1 with_compression=1 with_link=1
for arg in "$@"; do
  case "$arg" in
    --no-fleet) with_fleet=0 ;;
    --no-compression) with_compression=0 ;;
    --no-link) with_link=0 ;;
    *) args+=("$arg") ;;
  esac
  [[ $prev == --out ]] && out=$arg
  [[ $arg == --out=* ]] && out=${arg#--out=}
  prev=$arg
done
node --import tsx scripts/bench.ts "${args[@]}"
# bench.ts has built dist/ (unless --no-build); the others use that build.
if (( with_compression )); then
  node --import tsx scripts/bench/compression.ts --sizes 256M,1G --report "$out"
fi
if (( with_link )); then
  if [[ $(id -u) == 0 ]]; then
    node --import tsx scripts/bench/link.ts --size 256M --report "$out"
  else
    echo "bench: the 30 ms-link benchmark needs root (ip netns, tc): left out" >&2
  fi
fi
if (( with_fleet )); then
  exec node --import tsx scripts/bench/fleet.ts --no-build --out "$out"
fi
