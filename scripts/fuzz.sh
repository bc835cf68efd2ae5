#!/usr/bin/env bash
# scripts/fuzz.sh: a libFuzzer campaign under ASan+UBSan (docs/security.md, "Fuzzing").
#
#   scripts/fuzz.sh [--time SEC] [--max-len N] [TARGET...]   (default: 600 s each, every target)
#
# Builds build-fuzz/ (clang, -DKP_SANITIZE=ON -DKP_FUZZ=ON), then runs each fuzz_<TARGET> for SEC
# seconds on a scratch copy of fuzz/corpus/<TARGET> (the committed seeds stay as they are; new
# inputs and any crash stay in $KP_FUZZ_OUT, default /var/tmp/kp-fuzz). Prints one Markdown row
# per target for the table in docs/security.md: date, duration, executions and rate, crashes.
# Exit 1 when any target crashed (the crash input's path is printed).
set -uo pipefail
cd "$(dirname "$0")/.."
time_s=600 max_len=
while [ $# -gt 0 ]; do
  case $1 in
    --time) time_s=$2; shift 2 ;;
    --max-len) max_len=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
out=${KP_FUZZ_OUT:-/var/tmp/kp-fuzz}
mkdir -p "$out"
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKP_SANITIZE=ON -DKP_FUZZ=ON \
  -DCMAKE_C_COMPILER=clang >/dev/null || exit 2
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=($(ls fuzz/corpus))
ninja -C build-fuzz $(for t in "${targets[@]}"; do echo "fuzz_$t"; done) >/dev/null || exit 2
bad=0
echo "| Target | Date | Duration | Options | Executions | Crashes |"
echo "|---|---|---|---|---|---|"
for t in "${targets[@]}"; do
  bin=$(find build-fuzz -name "fuzz_$t" -type f -perm -u+x | head -1)
  [ -n "$bin" ] || { echo "| $t | - | - | - | not built | - |"; continue; }
  rm -rf "$out/$t"; mkdir -p "$out/$t/corpus" "$out/$t/crash"
  cp fuzz/corpus/"$t"/* "$out/$t/corpus/" 2>/dev/null
  opts=(-max_total_time="$time_s" -print_final_stats=1 -artifact_prefix="$out/$t/crash/")
  [ -n "$max_len" ] && opts+=(-max_len="$max_len")
  # the largest seed must fit: libFuzzer's default max_len is the largest seed anyway
  "$bin" "${opts[@]}" "$out/$t/corpus" >"$out/$t/log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$t/log" | tail -1)
  ncrash=$(ls "$out/$t/crash" | wc -l)
  [ "$rc" = 0 ] && [ "$ncrash" = 0 ] || { bad=1; echo "CRASH $t: $(ls "$out/$t/crash" | head -1) (log $out/$t/log)" >&2; }
  echo "| $t | $(date -u +%F) | ${time_s} s | ${max_len:+-max_len=$max_len }seeds fuzz/corpus/$t | ${runs:-?} ($(( ${runs:-0} / time_s ))/s) | $ncrash |"
done
exit $bad
