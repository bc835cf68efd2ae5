#!/usr/bin/env bash
# bench/detect.sh: detection over ENTITIES x BINS synthetic 5-minute bins (default
# 10,000 entities x one year = 105,120 bins, ~1.05e9 points), generated in memory.
# Builds a release tree in build-bench-detect/ and prints seconds and peak RSS.
#   bench/detect.sh [ENTITIES [BINS [THREADS [HISTORY_BINS]]]]
set -euo pipefail
cd "$(dirname "$0")/.."
B=${KP_BENCH_BUILD:-build-bench-detect}
cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$B" bench_detect >/dev/null
echo "host: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
if [ -x /usr/bin/time ]; then
  /usr/bin/time -f "wall %e s, max RSS %M KiB" "$B/tests/detect/bench_detect" "$@"
else
  "$B/tests/detect/bench_detect" "$@"
fi
