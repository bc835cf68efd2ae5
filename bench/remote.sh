#!/usr/bin/env bash
# bench/remote.sh [RESOLVERS] [NAMES] [extra keepon remote dns options]: `keepon remote dns` over
# RESOLVERS lab resolvers x NAMES names (defaults 1000 x 100, the issue's goal: <= 2 min) at the
# polite default rate, in lab/remote/world.sh's world; one dnsmasq answers on every resolver
# address (198.18.16.0/22; 20 ASes). Prints wall time, measurements, permits (each packet is sent
# under one: lookups + control lookups + retries) and the floor the default rate sets.
set -euo pipefail
KP_BIN=${KP_BIN:-$(cd "$(dirname "$0")/.." && pwd)/build/src/cli/keepon}
[ "$(id -u)" = 0 ] || { echo "skip: needs root"; exit 77; }
NR=${1:-1000}
ND=${2:-100}
shift 2 2>/dev/null || shift $#
P=kb$$
S=$(mktemp -d "/tmp/kpb-remote-$$.XXXXXX")
SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$SRC/lab/remote/world.sh"
cleanup() { local rc=$?; remote_world_down; rm -rf "$S"; exit "$rc"; }
trap cleanup EXIT
remote_world_up
ip -n "$P-o" route add 198.18.16.0/22 via 198.18.100.1
ip -n "$P-c" route add 198.18.16.0/22 via 198.18.200.2
args=()
: >"$S/res"
for i in $(seq 0 $((NR - 1))); do
  a=198.18.$((16 + i / 254)).$((1 + i % 254))
  ip -n "$P-i" addr add "$a/32" dev i0
  args+=("--listen-address=$a")
  echo "$a resolver asn=$((64600 + i % 20)) cc=KZ" >>"$S/res"
done
for i in $(seq 1 "$ND"); do echo "d$i.test"; done >"$S/names"
echo 198.18.100.3 >"$S/ctl"
w_start bench "$P-i" dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces --port=53 --pid-file= \
  --user=root --group=root --cache-size=10000 --dns-forward-max=10000 --address=/test/198.18.100.50 "${args[@]}"
ip -n "$P-o" addr add 198.18.100.3/24 dev o0
w_start ctl2 "$P-o" dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces --port=53 --pid-file= \
  --listen-address=198.18.100.3 --user=root --group=root --address=/test/198.18.100.50
sleep 1
t0=$(date +%s.%N)
ino "$KP_BIN" remote dns --lab --targets "$S/res" --names "$S/names" --control-resolvers "$S/ctl" "$@" \
  >"$S/sum" 2>"$S/err" || { cat "$S/err"; exit 1; }
t1=$(date +%s.%N)
cat "$S/err"
echo "resolvers=$NR names=$ND wall=$(echo "$t1 - $t0" | bc) s lookups=$((NR * ND)) ok=$(grep -c '"scope":"server".*"blocked":0' "$S/sum")/$NR"
echo "floor at 2/s per host, burst 1: $(echo "($ND - 1) / 2" | bc -l | cut -c1-5) s (+ the last window); per AS ($((NR / 20)) resolvers at 200/s): $(echo "$NR * $ND / 20 / 200" | bc -l | cut -c1-5) s"
