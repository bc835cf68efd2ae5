#!/usr/bin/env bash
# bench/probe_im.sh [RUNS]: wall time of `keepon probe im` (all four apps) in the netns lab,
# unblocked and fully blocked (network_down), at the default budget (--timeout 60) and at the
# lab matrix's budget (--timeout 8). Prints a markdown table (min / median / max over RUNS runs,
# default 5) for docs/probe.md. Needs root; builds nothing: KP_BIN or build/src/cli/keepon.
# Its own lab instance (prefix kpb-im-PID), torn down on every exit path.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }
K=${KP_BIN:-$PWD/build/src/cli/keepon}
[ -x "$K" ] || { echo "no keepon binary at $K (set KP_BIN)" >&2; exit 1; }
export KP_BIN=$K
RUNS=${1:-5}
P=kpb-im-$$
S=$(mktemp -d /tmp/kpb-im.XXXXXX)
export KEEPON_HOME=$S/home  # outbox and state of this run stay in the temp folder
lab() { "$K" lab "$@" --prefix "$P" --state "$S/lab" >/dev/null 2>&1; }
trap 'lab down || true; rm -rf "$S"' EXIT INT TERM
lab up
one() { # TIMEOUT -> wall seconds of one run
  local t0 t1
  t0=$(date +%s.%N)
  ip netns exec "$P-client" "$K" probe im --targets data/targets/lab-im.json --resolver 198.19.10.53 \
    --ca-file "$S/lab/pki/ca.crt" --output "$S/out.jsonl" --timeout "$1" >"$S/term.txt" 2>/dev/null
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", b - a }'
}
stats() { sort -n | awk '{ v[NR] = $1 } END { printf "%.2f | %.2f | %.2f", v[1], v[int((NR + 1) / 2)], v[NR] }'; }
echo "| condition | --timeout | runs | min s | median s | max s |"
echo "|---|---|---|---|---|---|"
for budget in 60 8; do
  s=$(for i in $(seq "$RUNS"); do one "$budget"; done | stats)
  grep -c " OK " "$S/term.txt" | grep -qx 4 || echo "warning: unblocked run was not all OK" >&2
  echo "| unblocked | $budget | $RUNS | $s |"
  lab censor network_down on
  s=$(for i in $(seq "$RUNS"); do one "$budget"; done | stats)
  lab censor network_down off
  grep -c "network_down" "$S/term.txt" | grep -qx 4 || echo "warning: blocked run was not all network_down" >&2
  echo "| fully blocked (network_down) | $budget | $RUNS | $s |"
done
echo
echo "machine: $(nproc) cores, $(uname -r), $(date -u +%Y-%m-%d)"
