#!/usr/bin/env bash
# kz2022.sh: replays Kazakhstan, January 2022 in the lab, compressed in time (docs/demo.md).
# Run through `keepon demo kz2022` (which passes --keepon, the binary's path). Needs root.
#
#   1. schedule  keepon demo schedule: truth.json (what is injected, simulated UTC) and
#                actions.jsonl (lab actions with their real offsets: 1 sim hour = --speed s)
#   2. lab       keepon lab up (prefix P); the AnyIP responder (watch) and the BIRD pair (bgp)
#   3. run       serve (127.0.0.1, own database), probe im in a loop inside P-client, watch
#                from outside, the BIRD pair writing MRT; the replay loop applies the actions
#   4. after     warp every record to simulated time (keepon demo warp), load them into serve,
#                keepon detect, keepon report --cc KZ, post the incidents to the dashboard,
#                keepon demo check against truth.json; print where everything is.
# Components not built yet are skipped with a message (the check then fails honestly).
# Every process is started here and stopped by PID; the lab is torn down on exit unless --keep.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
labdir=$(cd "$here/.." && pwd)

K= speed=10 days=4-11 out=kz2022-out prefix=kpdemo keep=0 tolerance=0 simwatch=0
while [ $# -gt 0 ]; do
  case $1 in
  --keepon) K=$2; shift 2 ;;
  --speed) speed=$2; shift 2 ;;
  --days) days=$2; shift 2 ;;
  --out) out=$2; shift 2 ;;
  --prefix) prefix=$2; shift 2 ;;
  --tolerance) tolerance=$2; shift 2 ;;
  --keep) keep=1; shift ;;
  --sim-watch) simwatch=1; shift ;;
  *) echo "kz2022: unknown argument $1 (run: keepon demo kz2022 --help)" >&2; exit 2 ;;
  esac
done
[ -n "$K" ] && [ -x "$K" ] || { echo "kz2022: run me through 'keepon demo kz2022'" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "kz2022: needs root (network namespaces)" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
raw=$out/raw sim=$out/sim logs=$out/logs
rm -rf "$raw" "$sim" "$logs"
mkdir -p "$raw" "$sim" "$logs"
export KEEPON_LAB_DIR=$labdir KEEPON_HOME=$out/home
labopt=(--prefix "$prefix" --state "$out/lab")
t_begin=$(date +%s.%N)

say() { printf '[kz2022 %6.1fs] %s\n' "$(echo "$(date +%s.%N) - $t_begin" | bc)" "$*"; }
have() { "$K" "$1" --help >/dev/null 2>&1; }   # placeholders exit 2 ("not built yet")
skipped=()
skip() { skipped+=("$1"); say "SKIP $1: $2"; }

pids=()
serve_pid=
cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
  if [ "$keep" = 0 ]; then
    [ -n "$serve_pid" ] && { kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; }
    comp_down
    "$K" lab down "${labopt[@]}" >/dev/null 2>&1 || true
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- components
# Each comp_* function starts one component or explains why it is skipped. They are filled in
# as the components land (docs/<component>.md); comp_down stops what needs more than a kill.
comp_down() { :; }

start_serve() {
  if ! have serve; then skip serve "keepon serve is not built yet: no dashboard"; return; fi
  local try
  for try in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 20000))
    "$K" serve --listen "127.0.0.1:$port" --db "$out/keepon.db" >"$logs/serve.log" 2>&1 &
    serve_pid=$!
    for _ in $(seq 50); do
      curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && { say "serve: http://127.0.0.1:$port/ (db $out/keepon.db)"; return; }
      kill -0 "$serve_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; serve_pid=
  done
  skip serve "keepon serve did not come up (see $logs/serve.log)"
}

start_bgp() {
  if ! have bgp || [ ! -e "$labdir/bgp" ]; then skip bgp "the BIRD pair (lab/bgp) is not built yet"; return; fi
  skip bgp "integration pending"
}

start_watch() {
  if ! have watch; then skip watch "keepon watch is not built yet: no ping-slash24 signal"; return; fi
  skip watch "integration pending"
}

start_probe() {
  if ! have probe; then skip probe "keepon probe is not built yet: no probe-* signals"; return; fi
  skip probe "integration pending"
}

# the nationwide cut: the censor forwards nothing, and the watch responder's blocks go dark
outage() {
  "$K" lab censor network_down "$1" "${labopt[@]}" >>"$logs/lab.log" 2>&1
  watch_outage "$1"
}
watch_outage() { :; }

# ---------------------------------------------------------------- 1. schedule
"$K" demo schedule --days "$days" --speed "$speed" --truth "$out/truth.json" --actions "$out/actions.jsonl"
sim0=$(sed -n 's/.*"sim_start":\([0-9]*\).*/\1/p' "$out/truth.json")
sim1=$(sed -n 's/.*"sim_end":\([0-9]*\).*/\1/p' "$out/truth.json")
hours=$(( (sim1 - sim0) / 3600 ))
say "replaying Jan $days 2022: $(date -u -d @"$sim0" '+%b %d %H:%M') .. $(date -u -d @"$sim1" '+%b %d %H:%M') UTC," \
  "$hours simulated hours at $speed s/hour (~$(echo "$hours * $speed / 60" | bc) min); output in $out"

# ---------------------------------------------------------------- 2. lab
say "lab up (prefix $prefix)"
"$K" lab up "${labopt[@]}" >"$logs/lab.log" 2>&1 || { cat "$logs/lab.log" >&2; echo "kz2022: lab up failed" >&2; exit 1; }

# ---------------------------------------------------------------- 3. run
start_serve
start_bgp
start_watch
real0=$(date +%s.%N)
start_probe
say "replay starts: real0=$real0 = sim $(date -u -d @"$sim0" '+%Y-%m-%d %H:%M')"
while IFS= read -r line; do
  at=$(sed -n 's/.*"at":\([0-9.]*\).*/\1/p' <<<"$line")
  act=$(sed -n 's/.*"action":"\([a-z_]*\)".*/\1/p' <<<"$line")
  on=$(sed -n 's/.*"on":\(true\|false\).*/\1/p' <<<"$line")
  simt=$(sed -n 's/.*"sim":\([0-9]*\).*/\1/p' <<<"$line")
  now=$(echo "$(date +%s.%N) - $real0" | bc)
  wait_s=$(echo "$at - $now" | bc)
  if [ "$(echo "$wait_s > 0" | bc)" = 1 ]; then sleep "$wait_s"; fi
  st=off; [ "$on" = true ] && st=on
  when=$(date -u -d @"$simt" '+%b %d %H:%M')
  if [ "$act" = censor ]; then
    tech=$(sed -n 's/.*"tech":"\([a-z_]*\)".*/\1/p' <<<"$line")
    target=$(sed -n 's/.*"target":"\([a-z_]*\)".*/\1/p' <<<"$line")
    say "$when  censor $tech $st for $target"
    "$K" lab censor "$tech" "$st" --target "$target" "${labopt[@]}" >>"$logs/lab.log" 2>&1 ||
      say "WARN lab censor $tech $st --target $target failed (see $logs/lab.log)"
  else
    say "$when  nationwide cut $st"
    outage "$st" || say "WARN outage $st failed (see $logs/lab.log)"
  fi
done <"$out/actions.jsonl"
end_at=$(echo "($sim1 - $sim0) / 3600 * $speed" | bc -l)
now=$(echo "$(date +%s.%N) - $real0" | bc)
wait_s=$(echo "$end_at - $now" | bc -l)
if [ "$(echo "$wait_s > 0" | bc)" = 1 ]; then sleep "$wait_s"; fi
say "replay done: $(date -u -d @"$sim1" '+%b %d %H:%M') UTC"
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
pids=()

# ---------------------------------------------------------------- 4. after
: >"$sim/signals.jsonl"
: >"$sim/measurements.jsonl"
warp() { "$K" demo warp --real0 "$real0" --sim0 "$sim0" --speed "$speed" "$@"; }
for f in "$raw"/*.signals.jsonl; do [ -e "$f" ] && warp "$f" >>"$sim/signals.jsonl"; done
for f in "$raw"/*.measurements.jsonl; do [ -e "$f" ] && warp "$f" >>"$sim/measurements.jsonl"; done
say "collected $(wc -l <"$sim/signals.jsonl") signal points, $(wc -l <"$sim/measurements.jsonl") measurements (simulated time)"

check_rc=0
if have detect; then
  skip detect "integration pending"
else
  skip detect "keepon detect is not built yet: nothing to compare with the truth"
fi

echo
echo "kz2022: done in $(echo "$(date +%s.%N) - $t_begin" | bc | cut -d. -f1) s"
echo "  truth (what was injected): $out/truth.json"
[ -e "$out/report.html" ] && echo "  report:    $out/report.html"
[ -e "$out/incidents.json" ] && echo "  incidents: $out/incidents.json"
if [ -n "$serve_pid" ]; then
  if [ "$keep" = 1 ]; then echo "  dashboard: http://127.0.0.1:$port/  (serve pid $serve_pid; stop it with: kill $serve_pid)"
  else echo "  dashboard: was at http://127.0.0.1:$port/ (rerun with --keep to leave it up)"; fi
fi
[ "${#skipped[@]}" -eq 0 ] || echo "  skipped: ${skipped[*]}"
exit $check_rc
