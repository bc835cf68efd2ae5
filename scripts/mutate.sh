#!/usr/bin/env bash
# scripts/mutate.sh: one-line mutation testing of keepon's verification checks and decision
# thresholds (issue 13.7; docs/security.md). For each row of tests/mutation/mutants.tsv: apply the
# mutant to a scratch copy of the tree, rebuild it incrementally, run the named tests; the mutant
# is KILLED when a test fails, SURVIVED when all pass (a check no test would notice), and
# INVALID when its text is not found exactly once or it does not build.
#
#   scripts/mutate.sh [--list FILE] [--jobs N] [ROW-FILTER-REGEX]
#
# The checkout itself is never edited: the tree is copied to $KP_MUT_DIR (default
# /var/tmp/kp-mut.$$), built there once, and each mutant is undone (from the copy's pristine file)
# before the next. Prints one Markdown row per mutant; exit 1 when any survived or was invalid.
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
list=$src/tests/mutation/mutants.tsv jobs=2 filter=
while [ $# -gt 0 ]; do
  case $1 in
    --list) list=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) filter=$1; shift ;;
  esac
done
work=${KP_MUT_DIR:-/var/tmp/kp-mut.$$}
top=$work
cleanup() { [ -n "${KP_MUT_KEEP:-}" ] || rm -rf "$top"; }
trap cleanup EXIT
mkdir -p "$work" || exit 2
# a scratch copy: the sources and the data the tests read, not build dirs or git
# (in $work/keepon, with $work/shared pointing at ../shared, which the data-driven tests read)
[ -e "$src/../shared" ] && ln -sfn "$(cd "$src/../shared" && pwd)" "$work/shared"
tree=$work/keepon
mkdir -p "$tree" || exit 2
(cd "$src" && tar --exclude='./build*' --exclude=./.git -cf - .) | (cd "$tree" && tar -xf -) || exit 2
work=$tree
cmake -S "$work" -B "$work/build" -G Ninja -DKP_WERROR=ON >/dev/null || exit 2
ninja -C "$work/build" >/dev/null || { echo "the unmutated tree does not build" >&2; exit 2; }
echo "| # | File | Mutant | What it changes | Tests | Result |"
echo "|---|---|---|---|---|---|"
n=0 bad=0 killed=0
while IFS=$'\t' read -r file orig mut regex what; do
  case $file in ''|'#'*) continue ;; esac
  n=$((n + 1))
  row="$file	$orig	$mut	$what"
  [ -n "$filter" ] && ! [[ $row =~ $filter ]] && continue
  cp "$work/$file" "$work/$file.orig"
  res=$(python3 - "$work/$file" "$orig" "$mut" <<'PY'
import sys
path, orig, mut = sys.argv[1], sys.argv[2], sys.argv[3]
nth = 0
if '@' in orig and orig.rsplit('@', 1)[1].isdigit():
    orig, nth = orig.rsplit('@', 1)[0], int(orig.rsplit('@', 1)[1])
s = open(path, encoding='utf-8').read()
c = s.count(orig)
if (nth == 0 and c != 1) or (nth > 0 and c < nth):
    print('found %d times' % c); sys.exit(0)
k = -1
for _ in range(max(nth, 1)):
    k = s.index(orig, k + 1)
open(path, 'w', encoding='utf-8').write(s[:k] + mut + s[k + len(orig):])
print('ok')
PY
)
  shown="\`$(printf '%s' "$mut" | sed 's/|/\\|/g')\`"
  if [ "$res" != ok ]; then
    r="INVALID (text $res)"; bad=$((bad + 1))
  elif ! ninja -C "$work/build" >"$work/build.log" 2>&1; then
    r="INVALID (does not build)"; bad=$((bad + 1))
  else
    out=$(cd "$work/build" && ctest -j"$jobs" -R "$regex" 2>&1)
    total=$(printf '%s\n' "$out" | sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2/p')
    failed=$(printf '%s\n' "$out" | sed -n 's/.*tests passed, \([0-9]*\) tests failed out of.*/\1/p')
    if [ -z "$total" ] || [ "$total" = 0 ]; then
      r="INVALID (no test matched)"; bad=$((bad + 1))
    elif [ "$failed" -gt 0 ]; then
      r="killed ($(printf '%s\n' "$out" | sed -n 's/^[[:space:]]*[0-9]* - \([^ ]*\) (.*/\1/p' | paste -sd, -))"
      killed=$((killed + 1))
    else
      r="**SURVIVED** ($total passed)"; bad=$((bad + 1))
    fi
  fi
  mv "$work/$file.orig" "$work/$file"
  # the restored file must be newer than the mutant's object, so ninja rebuilds it next time
  touch "$work/$file"
  echo "| $n | $file | $shown | $what | \`${regex//|/\\|}\` | $r |"
done <"$list"
ninja -C "$work/build" >/dev/null 2>&1
echo
echo "$killed killed, $bad survived or invalid"
[ "$bad" = 0 ]
