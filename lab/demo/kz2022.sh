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

K= speed=1 days=4-11 out=kz2022-out prefix=kpdemo keep=0 tolerance=0
while [ $# -gt 0 ]; do
  case $1 in
  --keepon) K=$2; shift 2 ;;
  --speed) speed=$2; shift 2 ;;
  --days) days=$2; shift 2 ;;
  --out) out=$2; shift 2 ;;
  --prefix) prefix=$2; shift 2 ;;
  --tolerance) tolerance=$2; shift 2 ;;
  --keep) keep=1; shift ;;
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
# the data folder (fingerprints, lab targets): source tree (lab/../data) or install (lab/..)
if [ -z "${KEEPON_DATA:-}" ]; then
  if [ -d "$labdir/../data/targets" ]; then export KEEPON_DATA=$(cd "$labdir/../data" && pwd)
  elif [ -d "$labdir/../targets" ]; then export KEEPON_DATA=$(cd "$labdir/.." && pwd); fi
fi
labopt=(--prefix "$prefix" --state "$out/lab")
t_begin=$(date +%s.%N)

say() { printf '[kz2022 %6.1fs] %s\n' "$(echo "$(date +%s.%N) - $t_begin" | bc)" "$*"; }
have() { "$K" "$1" --help >/dev/null 2>&1; }   # placeholders exit 2 ("not built yet")
skipped=()
skip() { skipped+=("$1"); say "SKIP $1: $2"; }

pids=()
serve_pid=
# stop what we started, by PID: each background job and its direct children (a probe run)
stop_pids() {
  local p
  for p in "${pids[@]}"; do pkill -TERM -P "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  local rc=$?
  stop_pids
  if [ "$keep" = 0 ]; then
    [ -n "$serve_pid" ] && { kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; }
    declare -F comp_down >/dev/null && comp_down
    "$K" lab down "${labopt[@]}" >/dev/null 2>&1 || true
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- components
# Each comp_* function starts one component or explains why it is skipped. They are filled in
# as the components land (docs/<component>.md); comp_down stops what needs more than a kill.

start_serve() {
  if ! have serve; then skip serve "keepon serve is not built yet: no dashboard"; return; fi
  local try
  for try in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 20000))
    [ -s "$out/admin-token" ] || { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$out/admin-token"; chmod 600 "$out/admin-token"; }
    "$K" serve --admin-token-file "$out/admin-token" --listen "127.0.0.1:$port" --db "$out/keepon.db" >"$logs/serve.log" 2>&1 &
    serve_pid=$!
    for _ in $(seq 50); do
      if curl -fsS -o /dev/null "http://127.0.0.1:$port/api/v1/health" 2>/dev/null; then
        say "serve: http://127.0.0.1:$port/ (db $out/keepon.db)"
        curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null ||
          say "NOTE this keepon serve does not serve the dashboard at / (APIs only)"
        return
      fi
      kill -0 "$serve_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; serve_pid=
  done
  skip serve "keepon serve did not come up (see $logs/serve.log)"
}

# bgp: the BIRD pair (lab/bgp/bgp.sh, namespaces ${prefix}b-bgp1/2): the origin announces
# 2 x 16 /24s of 198.18.64.0/18 (Kazakhstan in the geo table) to the collector, which writes
# BGP4MP; nothing is withdrawn during the cut (that is the point). At the end a RIB dump closes
# the series and `keepon bgp visibility` turns the MRT into bgp signal points.
bgp_up=0
bgpsh() { KP_BGP_PREFIX="${prefix}b" KP_BGP_STATE="$out/bgp" bash "$labdir/bgp/bgp.sh" "$@"; }
start_bgp() {
  if ! "$K" bgp visibility --help >/dev/null 2>&1 || [ ! -e "$labdir/bgp/bgp.sh" ]; then
    skip bgp "keepon bgp visibility / the BIRD pair (lab/bgp) are not built yet: no bgp signal"; return
  fi
  bgpsh up 16 >>"$logs/bgp.log" 2>&1 || { skip bgp "lab/bgp up failed (see $logs/bgp.log)"; return; }
  bgp_up=1
  local n=0
  for _ in $(seq 50); do n=$(bgpsh count 2>/dev/null || echo 0); [ "$n" = 32 ] && break; sleep 0.1; done
  say "bgp: BIRD pair up, the collector holds $n routes (MRT in $out/bgp/updates.mrt)"
}
finish_bgp() {
  [ "$bgp_up" = 1 ] || return 0
  bgpsh ribdump "$raw/bgp-rib.mrt" >>"$logs/bgp.log" 2>&1 || true
  "$K" bgp visibility --bin "$round" --full-feed-min 1 --geo-table "$out/geo.csv" --country KZ --no-asn \
    -o "$raw/bgp.signals.jsonl" "$out/bgp/updates.mrt" "$raw/bgp-rib.mrt" 2>>"$logs/bgp.log" ||
    say "WARN bgp visibility failed (see $logs/bgp.log)"
}

# watch: the AnyIP responder lab (lab/watch/lab.sh, own namespaces ${prefix}w-*) answers for
# 198.18.0.0/18, mapped to Kazakhstan by a synthetic geo table; census first, then watch with
# short rounds from outside. The cut = an outage of the whole /16 on the responder's router.
wlab() { bash "$labdir/watch/lab.sh" --prefix "${prefix}w" "$@"; }
# One watch round (and BGP bin) = about a quarter of a simulated hour, in whole real seconds,
# preferably dividing --speed so that a round is a whole fraction of a simulated hour: the
# replay then starts on a round boundary and rounds map onto detect's hour-aligned bins.
round=$(echo "r = ($speed + 2) / 4; if (r < 1) r = 1; scale=0; r / 1" | bc -l)
for r in $(seq "$round" -1 1); do
  if [ "$(echo "scale=6; x = $speed / $r; scale=0; (x * 1000000) % 1000000 == 0" | bc)" = 1 ]; then round=$r; break; fi
done
start_watch() {
  if ! have watch || ! have census || [ ! -e "$labdir/watch/lab.sh" ]; then
    skip watch "keepon watch/census or lab/watch are not built yet: no ping-slash24 signal"; return
  fi
  wlab up >>"$logs/watch-lab.log" 2>&1 || { skip watch "lab/watch up failed (see $logs/watch-lab.log)"; return; }
  watch_up=1
  chmod 755 "$out"
  echo 198.18.0.0/18 >"$out/watch.cidr"
  wlab exec "$K" census --allow-reserved 198.18.0.0/15 --cidr "$out/watch.cidr" --passes 3 --rate 30000 --timeout 0.3 \
    --out "$out/census.jsonl" >>"$logs/watch.log" 2>&1 || { skip watch "census failed (see $logs/watch.log)"; return; }
  ip netns exec "${prefix}w-cl" "$K" watch --allow-reserved 198.18.0.0/15 --census "$out/census.jsonl" --cidr "$out/watch.cidr" --round "$round" --timeout 0.2 \
    --spread 0.2 --rate 20000 --geo-table "$out/geo.csv" --no-geo-default --detail changes \
    --out "$raw/watch.blocks.jsonl" --signals "$raw/watch.signals.jsonl" -v 2>>"$logs/watch.log" &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$raw/watch.signals.jsonl" ] && break; sleep 0.1; done
  watch_t0=$(head -1 "$raw/watch.signals.jsonl" 2>/dev/null | sed -n 's/.*"t":\([0-9]*\).*/\1/p')
  say "watch: $(wc -l <"$out/census.jsonl") /24 blocks (census), ICMP rounds of ${round}s real = $(echo "$round * 3600 / $speed / 60" | bc -l | cut -c1-5) min simulated"
}
watch_up=0
watch_outage() {
  [ "$watch_up" = 1 ] || return 0
  if [ "$1" = on ]; then wlab outage add 198.18.0.0/16; else wlab outage clear; fi >>"$logs/watch-lab.log" 2>&1
}

# probe: `keepon probe im` in a loop inside ${prefix}-client against the lab's stand-ins
start_probe() {
  if ! have probe; then skip probe "keepon probe is not built yet: no probe-* signals"; return; fi
  local targets
  for targets in "${KEEPON_DATA:-/nonexistent}/targets/lab-im.json" "$labdir/../data/targets/lab-im.json" ""; do
    [ -e "$targets" ] && break
  done
  [ -n "$targets" ] || { skip probe "data/targets/lab-im.json not found"; return; }
  probe_targets=$targets
  (
    n=0
    while :; do
      n=$((n + 1))
      ip netns exec "$prefix-client" "$K" probe im --targets "$targets" --resolver 198.19.10.53 \
        --ca-file "$out/lab/pki/ca.crt" --timeout "$probe_timeout" --probe-cc KZ --probe-asn AS9198 \
        --no-outbox -o "$raw/probe-$n.jsonl" >>"$logs/probe.log" 2>&1 || true
      # --no-outbox: the replay relabels times to January 2022 first; the relabelled
      # measurements take the outbox path below (a real run keeps the default: outbox first)
      sleep "$probe_gap"
    done
  ) &
  pids+=($!)
  probe_on=1
  say "probe: keepon probe im every ~$probe_gap s + run time (budget ${probe_timeout}s) inside $prefix-client"
}
probe_timeout=6 probe_gap=0.5 probe_on=0

# reach: `keepon probe reach` in its own loop inside ${prefix}-client (data/domestic/lab.tsv: the
# lab's kaspi.kz, egov.kz, homebank.kz, kazpost.kz, the resolver, example.org, the TCP holes):
# what stayed reachable in each window (docs/demo.md)
start_reach() {
  local list
  for list in "${KEEPON_DATA:-/nonexistent}/domestic/lab.tsv" "$labdir/../data/domestic/lab.tsv" ""; do
    [ -e "$list" ] && break
  done
  if [ -z "$list" ] || ! "$K" probe reach --help >/dev/null 2>&1; then skip reach "keepon probe reach or data/domestic/lab.tsv missing"; return; fi
  (
    n=0
    while :; do
      n=$((n + 1))
      ip netns exec "$prefix-client" "$K" probe reach --list "$list" --resolver 198.19.10.53 --ca-file "$out/lab/pki/ca.crt" \
        --timeout 2 --probe-cc KZ --probe-asn AS9198 --access-type fixed --no-outbox -o "$raw/reach-$n.jsonl" >>"$logs/reach.log" 2>&1 || true
      sleep 0.5
    done
  ) &
  pids+=($!)
  say "reach: keepon probe reach every ~0.5 s + run time (budget 2 s) inside $prefix-client"
}

# mobile: a second probe on a mobile path (docs/demo.md "Mobile and fixed"): namespace
# ${prefix}-mobile behind ${prefix}-client (198.19.3.0/24, 2001:db8:3::/64, masqueraded there, so
# the censor treats its traffic as the client's), `keepon probe im --apps whatsapp` with
# --probe-asn AS29355 (Kcell: mobile in data/access/kz.tsv, so its measurements say
# keepon_access_type mobile; the client's AS9198 says fixed). The "mobile" action drops what the
# client forwards for it. A run in flight when the path changes would read a half-cut network
# as ip_blackhole, so the action first holds the loop (mobile.hold) and waits until it is idle
# between runs (mobile.idle); the replay clock pauses for that wait like for any late action.
mob_ns=$prefix-mobile mob_on=0
mob_up() {
  local cl=$prefix-client
  ip netns add "$mob_ns" && ip -n "$mob_ns" link set lo up || return 1
  echo "$mob_ns" >>"$out/lab/namespaces.extra" # `lab down` removes it too
  mkdir -p "/etc/netns/$mob_ns" && echo "nameserver 198.19.10.53" >"/etc/netns/$mob_ns/resolv.conf"
  ip link add mob0 netns "$mob_ns" type veth peer name cl-mob netns "$cl" &&
    ip -n "$mob_ns" addr add 198.19.3.2/24 dev mob0 && ip -n "$mob_ns" -6 addr add 2001:db8:3::2/64 dev mob0 nodad &&
    ip -n "$cl" addr add 198.19.3.1/24 dev cl-mob && ip -n "$cl" -6 addr add 2001:db8:3::1/64 dev cl-mob nodad &&
    ip -n "$mob_ns" link set mob0 up && ip -n "$cl" link set cl-mob up &&
    ip -n "$mob_ns" route add default via 198.19.3.1 && ip -n "$mob_ns" -6 route add default via 2001:db8:3::1 &&
    ip netns exec "$cl" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 &&
    ip netns exec "$cl" iptables -t nat -A POSTROUTING -s 198.19.3.0/24 -o cl0 -j MASQUERADE &&
    ip netns exec "$cl" ip6tables -t nat -A POSTROUTING -s 2001:db8:3::/64 -o cl0 -j MASQUERADE
}
mob_down() {
  ip netns del "$mob_ns" 2>/dev/null || true
  rm -rf "/etc/netns/$mob_ns"
}
start_mobile() {
  [ "$probe_on" = 1 ] || return 0
  if ! mob_up >>"$logs/lab.log" 2>&1; then skip mobile "the mobile path did not come up (see $logs/lab.log)"; mob_down; return; fi
  rm -f "$out/mobile.hold" "$out/mobile.idle"
  (
    n=0
    while :; do
      if [ -e "$out/mobile.hold" ]; then : >"$out/mobile.idle"; sleep 0.05; continue; fi
      n=$((n + 1))
      ip netns exec "$mob_ns" "$K" probe im --apps whatsapp --targets "$probe_targets" --resolver 198.19.10.53 \
        --ca-file "$out/lab/pki/ca.crt" --timeout 3 --probe-cc KZ --probe-asn AS29355 \
        --no-outbox -o "$raw/mprobe-$n.jsonl" >>"$logs/mprobe.log" 2>&1 || true
      sleep 0.5
    done
  ) &
  pids+=($!)
  mob_on=1
  say "mobile: keepon probe im --apps whatsapp every ~0.5 s + run time (budget 3 s) inside $mob_ns (AS29355, mobile)"
}
mobile_cut() { # on|off
  [ "$mob_on" = 1 ] || return 0
  local i op=-I
  [ "$1" = on ] || op=-D
  rm -f "$out/mobile.idle"
  : >"$out/mobile.hold"
  for i in $(seq 200); do [ -e "$out/mobile.idle" ] && break; sleep 0.05; done
  ip netns exec "$prefix-client" iptables "$op" FORWARD -i cl-mob -j DROP &&
    ip netns exec "$prefix-client" ip6tables "$op" FORWARD -i cl-mob -j DROP
  local rc=$?
  rm -f "$out/mobile.hold"
  return $rc
}

# the nationwide cut: the watch responder's blocks go dark first (fast, nft), then the censor
# stops forwarding for the probe's namespace, except what the schedule allows through (the TCP
# holes; in the whitelist window also kaspi.kz, egov.kz and the resolver)
outage() {
  watch_outage "$1"
  if [ "$1" = on ] && [ -n "${2:-}" ]; then
    "$K" lab censor network_down on --allow "$2" "${labopt[@]}" >>"$logs/lab.log" 2>&1
  else
    "$K" lab censor network_down "$1" "${labopt[@]}" >>"$logs/lab.log" 2>&1
  fi
}
comp_down() {
  mob_down
  [ "$watch_up" = 1 ] && wlab down >/dev/null 2>&1 || true
  [ "$bgp_up" = 1 ] && bgpsh down >/dev/null 2>&1 || true
}

# ---------------------------------------------------------------- 1. schedule
"$K" demo schedule --days "$days" --speed "$speed" --truth "$out/truth.json" --actions "$out/actions.jsonl"
sim0=$(sed -n 's/.*"sim_start":\([0-9]*\).*/\1/p' "$out/truth.json")
sim1=$(sed -n 's/.*"sim_end":\([0-9]*\).*/\1/p' "$out/truth.json")
hours=$(( (sim1 - sim0) / 3600 ))
say "replaying Jan $days 2022: $(date -u -d @"$sim0" '+%b %d %H:%M') .. $(date -u -d @"$sim1" '+%b %d %H:%M') UTC," \
  "$hours simulated hours at $speed s/hour (~$(echo "$hours * $speed / 60" | bc) min); output in $out"

# the demo's synthetic geo table: the lab's 198.18.0.0/18 (watch) and 198.18.64.0/18 (BGP)
# stand for Kazakhstan
cat >"$out/geo.csv" <<'CSV'
prefix,cc,region,asn,as_name
198.18.0.0/18,KZ,Almaty,9198,JSC Kazakhtelecom
198.18.32.0/20,KZ,Astana,21299,Kar-Tel LLC
198.18.48.0/20,KZ,Shymkent,9198,JSC Kazakhtelecom
198.18.64.0/18,KZ,Almaty,9198,JSC Kazakhtelecom
CSV

# ---------------------------------------------------------------- 2. lab
say "lab up (prefix $prefix)"
"$K" lab up "${labopt[@]}" >"$logs/lab.log" 2>&1 || { cat "$logs/lab.log" >&2; echo "kz2022: lab up failed" >&2; exit 1; }

# ---------------------------------------------------------------- 3. run
start_serve
start_bgp
start_watch
# the replay starts on a watch round boundary (>= 1 s from now), else now
real0=$(date +%s.%N)
if [ -n "${watch_t0:-}" ]; then
  real0=$(echo "n = $real0 + 1; k = (n - $watch_t0) / $round; scale=0; k = k / 1 + 1; $watch_t0 + k * $round" | bc -l)
  sleep "$(echo "$real0 - $(date +%s.%N)" | bc -l)"
fi
start_probe
start_mobile
start_reach
say "replay starts: real0=$real0 = sim $(date -u -d @"$sim0" '+%Y-%m-%d %H:%M')"
# ---- progress: between the actions, a status line every tick_h simulated hours (>= 5 s real):
# simulated date, share of the replay done, what is injected, what watch and the probe last saw
tick_h=12
for h in 1 2 3 6 12; do [ "$(echo "$h * $speed >= 5" | bc)" = 1 ] && { tick_h=$h; break; }; done
next_tick=$tick_h inj_cut=off
declare -A inj_apps=()
nblocks=$(wc -l <"$out/census.jsonl" 2>/dev/null || echo 0)
# the probe's last complete run (the newest file may still be being written), one word per app
probe_seen() {
  local f n
  n=$(ls "$raw" | sed -n 's/^probe-\([0-9]*\)\.jsonl$/\1/p' | sort -n | tail -1)
  f=$raw/probe-$((${n:-0} - 1)).jsonl
  [ -s "$f" ] || { echo "no run finished yet"; return; }
  awk '{ n = v = t = ""
         if (match($0, /"test_name":"[a-z_]+"/)) n = substr($0, RSTART + 13, RLENGTH - 14)
         if (match($0, /"keepon_verdict":"[a-z]+"/)) v = substr($0, RSTART + 18, RLENGTH - 19)
         if (match($0, /"keepon_technique":"[a-z_]+"/)) t = substr($0, RSTART + 20, RLENGTH - 21)
         if (n == "") next
         if (v == "ok") ok++; else { bad = bad sep n " " (t != "" ? t : v); sep = ", " } }
       END { if (bad == "") printf "%d apps ok", ok; else printf "%s%s", bad, (ok ? sprintf(", %d ok", ok) : "") }' "$f"
}
status_line() { # simulated hours since sim0
  local h=$1 what="cut $inj_cut" w="-" c
  [ "${#inj_apps[@]}" = 0 ] || what+=", blocking ${!inj_apps[*]}"
  if [ "$watch_up" = 1 ]; then
    c=$(grep '"entity_type":"country"' "$raw/watch.signals.jsonl" 2>/dev/null | grep ping-slash24 | tail -1 |
      sed -n 's/.*"value":\([0-9.]*\).*/\1/p')
    w="${c%.*}/$nblocks /24s answer"
  fi
  say "$(date -u -d @$((sim0 + h * 3600)) '+%b %d %H:%M') UTC $(printf '%3d%%' $((100 * h / hours)))" \
    "| injected: $what | watch: $w | probe: $([ "$probe_on" = 1 ] && probe_seen || echo -)"
}
# The replay clock: schedule offset x real seconds after real0 + shift. An action that took
# effect more than a quarter round late slides the rest of the schedule by whole rounds (shift)
# and pins the clock there in $anchors ("REAL SIM" lines, `keepon demo warp --anchors`): what was
# recorded while it ran keeps the state before it, and its boundary lands on its own simulated
# time whatever the machine's load. Whole rounds keep watch's rounds on the simulated grid.
shift=0
anchors=$out/anchors.txt
: >"$anchors"
sleep_to() { # real offset after real0 + shift
  local d
  d=$(echo "$1 - ($(date +%s.%N) - $real0 - $shift)" | bc -l)
  if [ "$(echo "$d > 0" | bc)" = 1 ]; then sleep "$d"; fi
}
wait_until() { # real offset after real0: sleep there, printing the status lines that fall before it
  while [ "$next_tick" -lt "$hours" ] && [ "$(echo "$next_tick * $speed < $1" | bc -l)" = 1 ]; do
    sleep_to "$(echo "$next_tick * $speed" | bc -l)"
    status_line "$next_tick"
    next_tick=$((next_tick + tick_h))
  done
  sleep_to "$1"
}
max_lag=0 pauses=0
while IFS= read -r line; do
  at=$(sed -n 's/.*"at":\([0-9.]*\).*/\1/p' <<<"$line")
  act=$(sed -n 's/.*"action":"\([a-z_]*\)".*/\1/p' <<<"$line")
  on=$(sed -n 's/.*"on":\(true\|false\).*/\1/p' <<<"$line")
  simt=$(sed -n 's/.*"sim":\([0-9]*\).*/\1/p' <<<"$line")
  wait_until "$at"
  st=off; [ "$on" = true ] && st=on
  when=$(date -u -d @"$simt" '+%b %d %H:%M')
  if [ "$act" = censor ]; then
    tech=$(sed -n 's/.*"tech":"\([a-z_]*\)".*/\1/p' <<<"$line")
    target=$(sed -n 's/.*"target":"\([a-z_]*\)".*/\1/p' <<<"$line")
    say "$when  censor $tech $st for $target"
    if [ "$st" = on ]; then inj_apps[$target]=1; else unset "inj_apps[$target]"; fi
    "$K" lab censor "$tech" "$st" --target "$target" "${labopt[@]}" >>"$logs/lab.log" 2>&1 ||
      say "WARN lab censor $tech $st --target $target failed (see $logs/lab.log)"
  elif [ "$act" = mobile ]; then
    say "$when  mobile data cut $st"
    mobile_cut "$st" || say "WARN mobile cut $st failed (see $logs/lab.log)"
  elif [ "$act" = bgp_updates ]; then
    if [ "$bgp_up" = 1 ]; then
      say "$when  burst of BGP updates (every route re-announced, none withdrawn)"
      birdc -s "$out/bgp/bird1.ctl" reload out all >>"$logs/bgp.log" 2>&1 || say "WARN birdc reload failed"
    fi
  else
    allow=$(sed -n 's/.*"allow":"\([0-9a-z.: ]*\)".*/\1/p' <<<"$line")
    say "$when  nationwide cut $st${allow:+ (still passing: $allow)}"
    inj_cut=$st
    outage "$st" "$allow" || say "WARN outage $st failed (see $logs/lab.log)"
  fi
  # how late the action took effect; past a quarter round the clock pauses for it (above)
  lag=$(echo "$(date +%s.%N) - $real0 - $shift - $at" | bc -l)
  [ "$(echo "$lag > $max_lag" | bc -l)" = 1 ] && max_lag=$lag
  if [ "$(echo "$lag > ${round:-1} / 4" | bc -l)" = 1 ]; then
    add=$(echo "r = ${round:-1}; n = $lag / r; scale=0; n = n / 1 + 1; n * r" | bc -l)
    shift=$(echo "$shift + $add" | bc -l)
    echo "$(echo "$real0 + $shift + $at" | bc -l) $simt" >>"$anchors"
    pauses=$((pauses + 1))
    say "note: that took $(printf '%.1f' "$lag") s; the replay clock pauses ${add} s so $when stays exact (a loaded machine?)"
    sleep_to "$at"
  fi
done <"$out/actions.jsonl"
# one extra round past the end, so the last simulated bin is complete rather than cut short
end_at=$(echo "($sim1 - $sim0) / 3600 * $speed + ${round:-0}" | bc -l)
wait_until "$end_at"
say "replay done: $(date -u -d @"$sim1" '+%b %d %H:%M') UTC (actions took effect at most $(printf '%.2f' "$max_lag") s late; clock paused $pauses times, $shift s)"
stop_pids
finish_bgp

# ---------------------------------------------------------------- 4. after
: >"$sim/signals.jsonl"
: >"$sim/measurements.jsonl"
warp() { "$K" demo warp --real0 "$real0" --sim0 "$sim0" --speed "$speed" --anchors "$anchors" "$@"; }
for f in "$raw"/*.signals.jsonl; do [ -e "$f" ] && warp "$f" >>"$sim/signals.jsonl"; done
cat "$raw"/probe-*.jsonl "$raw"/mprobe-*.jsonl >"$raw/probe.measurements.jsonl" 2>/dev/null || true
cat "$raw"/reach-*.jsonl >"$raw/reach.measurements.jsonl" 2>/dev/null || true
for f in "$raw"/*.measurements.jsonl; do [ -s "$f" ] && warp "$f" >>"$sim/measurements.jsonl"; done
say "collected $(wc -l <"$sim/signals.jsonl") signal points, $(wc -l <"$sim/measurements.jsonl") measurements (relabelled to simulated time)"

check_rc=0
# probe-* bins: about two probe runs each (a run takes 1-6 s real), at least an hour
probe_step=$(echo "s = 8 * 3600 / $speed; if (s < 3600) s = 3600; scale=0; s / 600 * 600" | bc)
if have detect; then
  say "detect (probe step ${probe_step}s)"
  "$K" detect -s "$sim/signals.jsonl" -m "$sim/measurements.jsonl" --cc KZ --probe-step "${probe_step}s" \
    --emit-signals "$sim/probe-signals.jsonl" --stop "$out/incidents.stop.csv" --codf "$out/incidents.codf.json" \
    -o "$out/incidents.json" 2>"$logs/detect.log" || { cat "$logs/detect.log" >&2; say "WARN detect failed"; }
  if have report; then
    "$K" report --cc KZ -s "$sim/signals.jsonl" -m "$sim/measurements.jsonl" --probe-step "${probe_step}s" \
      -o "$out/report.html" 2>"$logs/report.log" || say "WARN report failed (see $logs/report.log)"
    "$K" report --cc KZ --format md -s "$sim/signals.jsonl" -m "$sim/measurements.jsonl" --probe-step "${probe_step}s" \
      -o "$out/report.md" 2>>"$logs/report.log" || true
    # the same report in English, Russian and Kazakh: report.{en,ru,kk}.md, their plots beside them
    "$K" report --cc KZ --format md --lang all -s "$sim/signals.jsonl" -m "$sim/measurements.jsonl" \
      --probe-step "${probe_step}s" -o "$out/report.md" 2>>"$logs/report.log" || say "WARN report --lang all failed"
  else
    skip report "keepon report is not built yet"
  fi
else
  skip detect "keepon detect is not built yet: nothing to compare with the truth"
fi

# load everything into serve, so the dashboard shows it (signals in requests of 200 lines, so
# that no request nears serve's body cap however long the replay)
if [ -n "$serve_pid" ]; then
  base=http://127.0.0.1:$port
  post() { curl -fsS -X POST -H 'Expect:' -H "Authorization: Bearer $(cat "$out/admin-token")" -H "Content-Type: $3" --data-binary "@$2" "$base$1" >/dev/null 2>>"$logs/post.log"; }
  rm -rf "$sim/chunks"; mkdir -p "$sim/chunks"
  cat "$sim/signals.jsonl" "$sim/probe-signals.jsonl" 2>/dev/null | split -l 200 - "$sim/chunks/s."
  nok=0 nbad=0
  for f in "$sim"/chunks/s.*; do [ -e "$f" ] || continue; if post /api/v1/signals "$f" application/x-ndjson; then nok=$((nok + 1)); else nbad=$((nbad + 1)); fi; done
  # the entity tree: every entity with a signal, ASNs under their region (from the geo table)
  {
    printf '['
    printf '{"type":"country","code":"KZ","from":%s,"until":%s}' "$sim0" "$sim1"
    sed -n 's/.*"entity_type":"\(region\|asn\)","entity_code":"\([^"]*\)".*/\1 \2/p' "$sim/signals.jsonl" | sort -u |
      while read -r et ec; do printf ',{"type":"%s","code":"%s","cc":"KZ"}' "$et" "$ec"; done
    printf ',{"type":"asn","code":"AS21299","cc":"KZ","region":"KZ/Astana"}'
    printf ',{"type":"asn","code":"AS9198","cc":"KZ","region":"KZ/Almaty"}'
    printf ']'
  } >"$sim/entities.json"
  # the probe's measurements take the field path: signed, chained outbox, then upload
  if [ -s "$sim/measurements.jsonl" ] && have outbox && have upload; then
    if "$K" outbox add "$sim/measurements.jsonl" >>"$logs/upload.log" 2>&1 &&
       "$K" upload --collector "$base" --deadline 300 >>"$logs/upload.log" 2>&1; then
      say "outbox: $(wc -l <"$sim/measurements.jsonl") measurements signed, chained and uploaded to serve"
    else
      say "WARN outbox/upload failed (see $logs/upload.log)"
    fi
  fi
  post /api/v1/entities "$sim/entities.json" application/json || say "WARN posting entities failed (dashboard not mounted?)"
  [ -s "$out/incidents.json" ] && { post /api/v1/incidents "$out/incidents.json" application/json || say "WARN posting incidents failed"; }
  say "serve: loaded $nok signal batches ($nbad failed), entities and incidents"
  [ "$nbad" = 0 ] || say "WARN serve refused $nbad signal batches: the dashboard misses them (see $logs/post.log)"
fi

if [ -s "$out/incidents.json" ]; then
  tol=$tolerance
  if [ "$tol" = 0 ]; then
    # one probing round (watch) in simulated seconds, plus 0.1 s real for the injection's own
    # latency (the nft outage takes ~20 ms; at 1 s/hour that alone is over a simulated minute)
    tol=$(echo "(${round:-1} + 0.1) * 3600 / $speed" | bc -l | cut -d. -f1)
  fi
  echo
  echo "== detected vs injected (tolerance ${tol}s simulated) =="
  "$K" demo check --truth "$out/truth.json" --incidents "$out/incidents.json" --signals "$sim/signals.jsonl" \
    --tolerance "$tol" --throttling --measurements "$sim/measurements.jsonl" | tee "$out/check.txt" || check_rc=$?
else
  check_rc=3
  echo "kz2022: no incidents to compare (detect missing or failed)" | tee "$out/check.txt"
fi

# ---------------------------------------------------------------- 5. evidence
# The court file of the nationwide cut: `keepon evidence bundle` from the collector's store (the
# signed, chained measurements the outbox uploaded, the signal points, custody), time-stamped by
# a local RFC 3161 TSA made here with `openssl ts` (lab/evidence; a real file uses a public TSA),
# then checked offline with `keepon verify bundle`.
bundle=
if [ -n "$serve_pid" ] && [ -s "$out/incidents.json" ] && have evidence && command -v openssl >/dev/null &&
   command -v python3 >/dev/null; then
  inc=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d=d if isinstance(d,list) else [d]
print(next((i["id"] for i in d if "shutdown" in i.get("type","")), ""))' "$out/incidents.json" 2>/dev/null)
  . "$labdir/evidence/tsa.sh"
  if [ -n "$inc" ] && tsa_make "$out/tsa" "keepon demo" 2>>"$logs/evidence.log"; then
    rm -f "$out/tsa.port"
    python3 "$labdir/evidence/tsa_server.py" "$out/tsa/tsa.cnf" "$out/tsa.port" 2>>"$logs/evidence.log" &
    tsa_pid=$!
    pids+=("$tsa_pid")
    for _ in $(seq 100); do [ -s "$out/tsa.port" ] && break; sleep 0.1; done
    if [ -s "$out/tsa.port" ] &&
       "$K" evidence bundle "$inc" --incidents "$out/incidents.json" --db "$out/keepon.db" --collector "demo collector" \
         --tsa "http://127.0.0.1:$(cat "$out/tsa.port")/tsr" --tsa-ca "$out/tsa/ca.pem" \
         -o "$out/evidence-$inc.tar" >>"$logs/evidence.log" 2>&1 &&
       "$K" verify bundle "$out/evidence-$inc.tar" --tsa-ca "$out/tsa/ca.pem" >"$out/evidence-verify.txt" 2>&1; then
      bundle=$out/evidence-$inc.tar
      say "evidence: $inc bundled and verified offline ($(tail -1 "$out/evidence-verify.txt"))"
    else
      say "WARN evidence bundle of $inc failed (see $logs/evidence.log, $out/evidence-verify.txt)"
    fi
    kill "$tsa_pid" 2>/dev/null || true; wait "$tsa_pid" 2>/dev/null || true
  fi
fi

echo
echo "kz2022: done in $(echo "$(date +%s.%N) - $t_begin" | bc | cut -d. -f1) s"
echo "  truth (what was injected): $out/truth.json"
[ -e "$out/report.html" ] && echo "  report:    $out/report.html"
[ -e "$out/report.md" ] && echo "             $out/report.md"
[ -e "$out/report.ru.md" ] && echo "             $out/report.{en,ru,kk}.md"
[ -e "$out/incidents.json" ] && echo "  incidents: $out/incidents.json (STOP CSV: incidents.stop.csv, CODF: incidents.codf.json)"
[ -e "$out/check.txt" ] && echo "  check:     $out/check.txt  ($(grep -E '^(MATCH|MISMATCH)' "$out/check.txt" | head -1))"
[ -n "$bundle" ] && echo "  evidence:  $bundle (check it offline: keepon verify bundle $bundle)"
if [ -n "$serve_pid" ]; then
  if [ "$keep" = 1 ]; then echo "  dashboard: http://127.0.0.1:$port/  (serve pid $serve_pid; stop it with: kill $serve_pid)"
  else
    echo "  dashboard: $out/keepon.db; to see it: $K serve --db $out/keepon.db --listen 127.0.0.1:8080"
    echo "             then open http://127.0.0.1:8080/  (or rerun with --keep)"
  fi
fi
[ "${#skipped[@]}" -eq 0 ] || echo "  skipped: ${skipped[*]}"
exit $check_rc
