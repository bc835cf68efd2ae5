#!/usr/bin/env bash
# lab_vantages.sh: three `keepon watch --vantage` (icmp driver, real packets) in their own
# namespaces P-v1..P-v3 probe a small lab "country" (198.18.0.0/20 on P-ay, 16 dense /24s)
# through the router P-rt and post every round to one `keepon serve` on P-rt (198.19.1.1).
# Timeline (2-s rounds on a shared grid, --align): v3 loses its probing uplink (nft on its side)
# for ~8 s, gets it back, then the country really goes down (nft on the router) until the end.
# Twice the collector stalls (SIGSTOP, 1.1 and 1.8 s) across a round's end, so every vantage's upload
# times out (666 ms) and the next round begins late: the schedule must keep the rounds on the
# grid (each such round shortened, none on a wrong key) and the kept rounds must arrive later.
# Asserts: the merged country signal never drops before the real outage (no false outage); the
# vantage fault is reported for v3 (and only v3) in its blind rounds; the real outage is in the
# merged signal from the first round that starts after it (within one round) and detect --server
# finds it, and only it. Every process is stopped by its PID, every namespace deleted, also on
# failure (trap).
set -euo pipefail
src=${KP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${KP_BIN:?KP_BIN not set}
[ "$(id -u)" = 0 ] || { echo "skip: needs root for network namespaces"; exit 77; }
command -v nft >/dev/null || { echo "skip: nft missing"; exit 77; }
command -v curl >/dev/null || { echo "skip: curl missing"; exit 77; }
P=kpv$$
tmp=$(mktemp -d)
chmod 755 "$tmp"
export KP_LAB_PREFIX=$P KP_LAB_STATE=$tmp/state
# shellcheck source=../../lab/lib.sh
. "$src/lab/lib.sh"   # lab_start / lab_stop (by recorded PID, only inside its namespace), wait_until
lab="$src/lab/watch/lab.sh --prefix $P"
serve_pid=
cleanup() {
  set +e
  [ -n "$serve_pid" ] && kill -CONT "$serve_pid" 2>/dev/null
  for n in serve w1 w2 w3; do lab_stop $n; done
  $lab down >/dev/null 2>&1
  if [ -n "${KPW_KEEP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*" >&2; for f in "$STATE"/log/*.log; do echo "== $f"; tail -5 "$f"; done >&2; exit 1; }
ok() { echo "ok   $*"; }
export KEEPON_HOME=$tmp/home

$lab up
for n in 1 2 3; do $lab vantage add $n; done
echo 198.18.0.0/20 > "$tmp/lab.cidr"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$tmp/token"; chmod 600 "$tmp/token"

# the collector on the router
lab_start serve $P-rt "$bin" serve --admin-token-file "$tmp/token" --db "$tmp/c.db" --listen 198.19.1.1:18080
U=http://198.19.1.1:18080
rcurl() { ip netns exec $P-rt curl -s -m 5 "$@"; }
wait_until 5 rcurl -f "$U/api/v1/health" || fail "collector did not start"
read -r serve_pid _ < "$STATE/pid/serve.pid"

# census from v1 (the three share E(b): it is the country's, not the vantage's)
$lab vexec 1 "$bin" census --allow-reserved 198.18.0.0/15 --cidr "$tmp/lab.cidr" --passes 2 --rate 30000 --timeout 0.3 \
  --out "$tmp/census.jsonl" 2> "$tmp/census.err" || { cat "$tmp/census.err"; fail "census"; }
kept=$(wc -l < "$tmp/census.jsonl")
[ "$kept" = 16 ] || fail "census kept $kept blocks, want 16"

ROUND=2 ROUNDS=14
# start the three just after a grid point, so each has most of a round to come up before the
# next one (under ASan a start can take a second; one that missed it would run a round late)
python3 -c "import time; time.sleep((-time.time()) % $ROUND + 0.05)"
for n in 1 2 3; do
  lab_start w$n $P-v$n "$bin" watch --allow-reserved 198.18.0.0/15 --census "$tmp/census.jsonl" --cidr "$tmp/lab.cidr" \
    --round $ROUND --timeout 0.2 --spread 0.2 --rate 20000 --rounds $ROUNDS --cc LB --align \
    --vantage v$n --collector "$U" --token-file "$tmp/token" --detail none --out "$tmp/w$n.signals.jsonl"
done
# --align: each first round starts on the next multiple of ROUND; the schedule is relative to
# the grid point of v1's first round (read from its first signal point, written when it ends)
# the earliest of the three first rounds (a vantage that came up late runs one grid point later)
for n in 1 2 3; do wait_until 10 test -s "$tmp/w$n.signals.jsonl" || fail "no first round from v$n"; done
g0=$(for n in 1 2 3; do sed -n '1s/.*"t":\([0-9]*\).*/\1/p' "$tmp/w$n.signals.jsonl"; done | sort -n | head -1)
at() { python3 -c "import time; time.sleep(max(0, $g0 + $1 - time.time()))"; }
stall() { at "$1"; kill -STOP "$serve_pid"; at "$2"; kill -CONT "$serve_pid"; }
at 6.5;  $lab uplink 3 down; t_cut=$(date +%s.%N)
stall 11.8 12.9
at 15.5; $lab uplink 3 up;   t_back=$(date +%s.%N)
stall 17.8 19.6
at 20.7; $lab outage add 198.18.0.0/16; t_out=$(date +%s.%N)
for n in 1 2 3; do
  read -r pid _ < "$STATE/pid/w$n.pid"
  wait_until 20 bash -c "! kill -0 $pid 2>/dev/null" || fail "watch v$n did not finish"
done
for n in 1 2 3; do
  grep -q 'not delivered\|collector refused' "$STATE/log/w$n.log" && fail "v$n: rounds lost: $(grep -m1 'not delivered\|refused' "$STATE/log/w$n.log")"
done
echo "grid $g0, v3 blind $t_cut - $t_back, country down from $t_out"
# the stalls were felt: each vantage timed out on the collector at least once
for n in 1 2 3; do
  grep -q "collector $U.*kept for the next try" "$STATE/log/w$n.log" || fail "v$n never saw the collector stall"
done

rcurl -o "$tmp/sig.json" "$U/api/v1/signals/raw/country/LB?from=$((g0 - 10))&until=$((g0 + ROUND * ROUNDS + 10))"
rcurl -o "$tmp/faults.json" "$U/api/v1/watch/faults"
python3 - "$tmp/sig.json" "$tmp/faults.json" "$g0" "$ROUND" "$t_cut" "$t_back" "$t_out" <<'PY' || fail "merged view"
import json, math, sys
sig, faults = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
g0, R = int(sys.argv[3]), int(sys.argv[4])
t_cut, t_back, t_out = (float(x) for x in sys.argv[5:8])
ser = {s["datasource"]: s for s in sig["data"][0]}
up = ser["ping-slash24"]
rounds = {up["from"] + i * up["step"]: v for i, v in enumerate(up["values"]) if v is not None}
print("merged up blocks per round:", [rounds[t] for t in sorted(rounds)])
# 14 rounds each; a vantage a grid point late adds one round at the end
assert up["step"] == R and min(rounds) == g0 and len(rounds) in (14, 15), (up["step"], min(rounds), g0, len(rounds))
assert sorted(rounds) == [g0 + i * R for i in range(len(rounds))], "a round missing from the merged signal"
# 1. no false outage: every round that ended before the real outage has all 16 up
before = [t for t in rounds if t + R <= t_out]
bad = [(t - g0, rounds[t]) for t in before if rounds[t] != 16]
assert not bad, ("merged signal dropped before the real outage", bad)
# 2. the vantage fault: v3, in the rounds wholly inside its blind span, and no one else
fr = faults["results"]
who = {f["vantage"] for f in fr}
blind = [t for t in rounds if t >= t_cut and t + R <= t_back]
ft = {f["t"] for f in fr if f["vantage"] == "v3"}
print("faults:", sorted((f["vantage"], f["t"] - g0) for f in fr), "blind rounds:", sorted(t - g0 for t in blind))
assert who == {"v3"}, who
assert set(blind) <= ft, ("blind rounds without a fault", sorted(set(blind) - ft))
assert all(t_cut - R <= t <= t_back for t in ft), ("fault outside the blind span", sorted(ft))
# 3. the real outage: the first round starting after it reads 0 (found within one round)
first = min(t for t in rounds if t >= t_out)
assert rounds[first] == 0, ("outage not found in its first round", first - g0, rounds[first])
assert all(rounds[t] == 0 for t in rounds if t >= first), "outage not held"
print("real outage: first full round at +%d s reads %d up" % (first - g0, rounds[first]))
PY
ok "no false outage while v3 was blind; v3's fault reported; the real outage found within one round"

# detect on the merged signal (the lab's 2-s bins: warmup and prediction floor scaled down)
from=$(date -u -d "@$((g0 - 10))" +%Y-%m-%dT%H:%M:%SZ); to=$(date -u -d "@$((g0 + ROUND * ROUNDS + 10))" +%Y-%m-%dT%H:%M:%SZ)
ip netns exec $P-rt "$bin" detect --server "$U" --cc LB --from "$from" --to "$to" --warmup 3b --active-history 8b \
  --tune active.minprediction=1,active.minduration=2s -o "$tmp/inc.json" 2> "$tmp/detect.err" || { cat "$tmp/detect.err"; fail "detect"; }
python3 - "$tmp/inc.json" "$g0" "$t_out" "$ROUND" <<'PY' || fail "detect --server"
import datetime, json, sys
d = json.load(open(sys.argv[1])); g0, t_out, R = int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
inc = d["incidents"] if isinstance(d, dict) else d
def ts(s): return int(datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()) if isinstance(s, str) else s
st = [i["start_ts"] for i in inc]
print("incidents start at +", [s - g0 for s in st])
assert len(st) == 1 and t_out - R <= st[0] <= t_out + R, st
PY
ok "detect --server: one incident, the real outage"
