#!/usr/bin/env bash
# lab/bgp/bgp.sh: a BIRD 2 pair in two network namespaces that writes MRT.
#
#   bgp.sh up [N]        origin P-bgp1 (AS64501) announces 2 x N /24s from 198.18.64.0/18 to the
#                        collector P-bgp2 (AS64502), which writes BGP4MP (mrtdump) to $S/updates.mrt
#   bgp.sh withdraw      disable the origin's static protocol s_flap (the upper N /24s)
#   bgp.sh announce      enable it again
#   bgp.sh ribdump FILE  the collector's table as TABLE_DUMP_V2 into FILE
#   bgp.sh count         routes the collector holds
#   bgp.sh down          stop both BIRDs by PID, delete the namespaces and $S
#
# Env: KP_BGP_PREFIX (namespace prefix, default kpb), KP_BGP_STATE (state dir, default
# /tmp/kp-bgp-lab-$KP_BGP_PREFIX). Addresses: 198.19.4.1/30 - 198.19.4.2/30 on a veth pair
# between the two namespaces only; no route out, nothing in the root namespace.
# Routes: s_keep 198.18.64.0/24 .. (N of them), s_flap 198.18.(64+N).0/24 .. (N of them).
set -euo pipefail
P=${KP_BGP_PREFIX:-kpb}
S=${KP_BGP_STATE:-/tmp/kp-bgp-lab-$P}
NS1=$P-bgp1
NS2=$P-bgp2

birdc1() { birdc -s "$S/bird1.ctl" "$@"; }
birdc2() { birdc -s "$S/bird2.ctl" "$@"; }

stop_pid() { # pidfile
  [[ -f $1 ]] || return 0
  local pid
  pid=$(cat "$1" 2>/dev/null || true)
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$1"
}

down() {
  stop_pid "$S/bird2.pid"
  stop_pid "$S/bird1.pid"
  for ns in "$NS1" "$NS2"; do
    if ip netns list | grep -w "^$ns" >/dev/null; then
      # anything still inside our own namespaces is ours: stop it by PID
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
      ip netns del "$ns" 2>/dev/null || true
    fi
  done
  rm -rf "$S"
}

routes() { # first count
  local first=$1 count=$2 i
  for ((i = 0; i < count; i++)); do
    echo "  route 198.18.$((64 + first + i)).0/24 blackhole;"
  done
}

up() {
  local n=${1:-32}
  ((n >= 1 && n <= 32)) || { echo "bgp.sh up: N must be 1..32" >&2; exit 2; }
  down
  mkdir -p "$S"
  ip netns add "$NS1"
  ip netns add "$NS2"
  ip -n "$NS1" link set lo up
  ip -n "$NS2" link set lo up
  ip link add b1 netns "$NS1" type veth peer name b2 netns "$NS2"
  ip -n "$NS1" addr add 198.19.4.1/30 dev b1
  ip -n "$NS2" addr add 198.19.4.2/30 dev b2
  ip -n "$NS1" link set b1 up
  ip -n "$NS2" link set b2 up
  cat >"$S/bird1.conf" <<EOC
router id 198.19.4.1;
protocol device { }
protocol static s_keep { ipv4;
$(routes 0 "$n")
}
protocol static s_flap { ipv4;
$(routes "$n" "$n")
}
protocol bgp to_collector {
  local 198.19.4.1 as 64501;
  neighbor 198.19.4.2 as 64502;
  hold time 9;
  ipv4 { import none; export all; };
}
EOC
  cat >"$S/bird2.conf" <<EOC
router id 198.19.4.2;
mrtdump "$S/updates.mrt";
mrtdump protocols { states, messages };
protocol device { }
protocol bgp from_origin {
  local 198.19.4.2 as 64502;
  neighbor 198.19.4.1 as 64501;
  hold time 9;
  ipv4 { import all; export none; };
}
EOC
  ip netns exec "$NS2" bird -c "$S/bird2.conf" -s "$S/bird2.ctl" -P "$S/bird2.pid"
  ip netns exec "$NS1" bird -c "$S/bird1.conf" -s "$S/bird1.ctl" -P "$S/bird1.pid"
  for _ in $(seq 100); do
    [[ "$(count)" == "$((2 * n))" ]] && return 0
    sleep 0.1
  done
  echo "bgp.sh up: the collector did not receive $((2 * n)) routes" >&2
  return 1
}

count() {
  birdc2 show route count 2>/dev/null | awk '/routes for/ {print $1; exit}'
}

case ${1:-} in
  up) up "${2:-32}" ;;
  withdraw) birdc1 disable s_flap >/dev/null ;;
  announce) birdc1 enable s_flap >/dev/null ;;
  ribdump) birdc2 "mrt dump table \"master4\" to \"${2:?file}\"" >/dev/null ;;
  count) count ;;
  down) down ;;
  *) sed -n '2,15p' "$0" >&2; exit 2 ;;
esac
