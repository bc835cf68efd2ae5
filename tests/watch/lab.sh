#!/usr/bin/env bash
# lab.sh: keepon census + keepon watch (icmp driver) against the AnyIP lab (lab/watch/lab.sh):
# 198.18.0.0/18 with dense, medium (A ~ 0.6), sparse (A ~ 0.25) and silent /24s; while watch
# runs 3-second rounds, outages are injected on the router: three /24s, then a "region"
# (198.18.16.0/21), then everything. tests/watch/lab_check.py asserts every outage is detected
# with start and end within one round and that no block with A >= 0.4 is reported down while up.
set -euo pipefail
src=${KP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${KP_BIN:?KP_BIN not set}
[ "$(id -u)" = 0 ] || { echo "skip: needs root for network namespaces"; exit 77; }
command -v nft >/dev/null || { echo "skip: nft missing"; exit 77; }
P=kpt-watch-$$
lab="$src/lab/watch/lab.sh --prefix $P"
tmp=$(mktemp -d)
chmod 755 "$tmp"
wpid=
cleanup() {
  [ -n "$wpid" ] && kill "$wpid" 2>/dev/null || true
  $lab down >/dev/null 2>&1 || true
  if [ -n "${KPW_KEEP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT INT TERM
export KEEPON_HOME=$tmp/home
$lab up
$lab respond medium 198.18.32.0/24 198.18.33.0/24
$lab respond sparse 198.18.34.0/23 198.18.36.0/22
$lab respond silent 198.18.40.0/21 198.18.48.0/20
echo 198.18.0.0/18 > "$tmp/lab.cidr"
cat > "$tmp/geo.csv" <<'CSV'
# lab geo table (synthetic): country LB, two regions, two ASNs
prefix,cc,region,asn,as_name
198.18.0.0/18,LB,Lab-West,64500,Lab West Net
198.18.16.0/21,LB,Lab-East,64501,Lab East Net
CSV
# census: 6 passes so that A of sparse blocks is not inflated by the "ever answered" filter
$lab exec "$bin" census --allow-reserved 198.18.0.0/15 --cidr "$tmp/lab.cidr" --passes 6 --rate 30000 --timeout 0.3 \
  --out "$tmp/census.jsonl"
kept=$(wc -l < "$tmp/census.jsonl")
echo "census: $kept blocks kept"
[ "$kept" -ge 38 ] || { echo "census kept $kept blocks, expected the 40 responsive ones"; exit 1; }
grep -q '"block":"198.18.40.0/24"' "$tmp/census.jsonl" && { echo "a silent block is in the census"; exit 1; }

sched=$tmp/schedule.txt
now() { date +%s.%N; }
$lab exec "$bin" -v watch --allow-reserved 198.18.0.0/15 --census "$tmp/census.jsonl" --cidr "$tmp/lab.cidr" --round 3 --timeout 0.2 \
  --recovery-miss 0.01 --spread 0.2 --rate 20000 --rounds 13 --geo-table "$tmp/geo.csv" --no-geo-default \
  --out "$tmp/blocks.jsonl" --signals "$tmp/signals.jsonl" -v 2> "$tmp/watch.err" &
wpid=$!
t0=$(now)
at() { # sleep until t0 + $1 seconds
  local d; d=$(python3 -c "import time; print(max(0, $t0 + $1 - time.time()))"); sleep "$d"
}
# each line: op, the time before the command, the time after it, prefixes. The rule takes
# effect somewhere in between: under a loaded ctest -j an nft call has taken seconds, and a
# time taken only after it made a round that was really down look like a false down.
inject() { local op=$1 b; shift; b=$(now); $lab outage "$op" "$@"; echo "$op $b $(now) $*" >> "$sched"; }
at 4.5;  inject add 198.18.2.0/24 198.18.5.0/24 198.18.33.0/24
at 11.5; inject del 198.18.2.0/24 198.18.5.0/24 198.18.33.0/24
at 14.2; inject add 198.18.16.0/21
at 21.5; inject del 198.18.16.0/21
at 25;   inject add 198.18.0.0/16
at 32;   inject del 198.18.0.0/16
rc=0; wait "$wpid" || rc=$?
wpid=
tail -3 "$tmp/watch.err"
[ "$rc" = 0 ] || { echo "watch exited $rc"; cat "$tmp/watch.err"; exit 1; }
# after opening the socket: uid nobody, CAP_NET_RAW gone, no-new-privs (issue 13; the driver
# logs what the kernel reports after the drop)
nobody=$(id -u nobody)
grep -q "privileges: uid $nobody euid $nobody, CAP_NET_RAW gone, no-new-privs 1" "$tmp/watch.err" \
  || { echo "watch did not drop its privileges"; grep privileges "$tmp/watch.err"; exit 1; }
python3 "$src/tests/watch/lab_check.py" "$tmp/census.jsonl" "$tmp/blocks.jsonl" "$tmp/signals.jsonl" "$sched" 3
