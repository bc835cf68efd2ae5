#!/usr/bin/env bash
# lab/watch/lab.sh: the AnyIP lab for keepon watch (lab-notes §4), in namespaces named P-*:
#
#   P-cl  cl0 198.19.1.2/24 ── rt-cl 198.19.1.1  P-rt (forwards; the outage point)
#   P-ay  ay0 198.19.3.2/24 ── rt-ay 198.19.3.1  ┘   P-ay owns 198.18.0.0/16 (route local on lo)
#
# P-cl has a route to 198.18.0.0/15 only (via P-rt); P-rt has no default route: nothing leaves.
# Verbs (P = --prefix, default kpw):
#   up                      create the namespaces, links, routes and nft tables
#   respond CLASS PFX...    CLASS = silent (never answers), sparse (75 % of echoes dropped),
#                           medium (40 % dropped), dense (answers all): nft sets on P-ay's input
#   outage add|del PFX...   drop forwarded packets to PFX on P-rt (nft interval set "dead")
#   outage clear
#   vantage add N           one more watch vantage P-vN (N = 1..9): vN0 198.19.1N.2/24 ── rt-vN
#                           198.19.1N.1 on P-rt, route to 198.18.0.0/15 via P-rt (the router's
#                           198.19.1.1, where a lab collector listens, included)
#   uplink N down|up        P-vN loses / regains its probing uplink: nft on P-vN's side drops
#                           everything it sends to the country (198.18.0.0/16); its path to the
#                           collector on P-rt (198.19.0.0/16) stays, as a management link would
#   vexec N CMD...          run CMD in P-vN
#   gwmac                   P-rt's MAC on the client link (for zmap -G)
#   exec CMD...             run CMD in P-cl
#   down                    kill every process in the namespaces (by PID) and delete them
set -euo pipefail
P=${KPW_PREFIX:-kpw}
if [ "${1:-}" = "--prefix" ]; then P=$2; shift 2; fi
verb=${1:-}; shift || true
CL=$P-cl RT=$P-rt AY=$P-ay

up() {
  for ns in $CL $RT $AY; do ip netns add $ns; ip -n $ns link set lo up; done
  ip link add cl0 netns $CL type veth peer name rt-cl netns $RT
  ip link add ay0 netns $AY type veth peer name rt-ay netns $RT
  ip -n $CL addr add 198.19.1.2/24 dev cl0; ip -n $CL link set cl0 up
  ip -n $RT addr add 198.19.1.1/24 dev rt-cl; ip -n $RT link set rt-cl up
  ip -n $RT addr add 198.19.3.1/24 dev rt-ay; ip -n $RT link set rt-ay up
  ip -n $AY addr add 198.19.3.2/24 dev ay0; ip -n $AY link set ay0 up
  ip -n $CL route add 198.18.0.0/15 via 198.19.1.1
  ip -n $RT route add 198.18.0.0/16 via 198.19.3.2
  ip -n $AY route add 198.19.1.0/24 via 198.19.3.1
  ip -n $AY route add local 198.18.0.0/16 dev lo
  ip netns exec $RT sysctl -qw net.ipv4.ip_forward=1
  ip netns exec $AY sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_msgs_per_sec=10000000 \
    net.ipv4.icmp_msgs_burst=10000000 net.ipv4.icmp_echo_ignore_broadcasts=0
  ip netns exec $AY nft -f - <<'NFT'
table inet kpw_ay {
  set silent { type ipv4_addr; flags interval; }
  set sparse { type ipv4_addr; flags interval; }
  set medium { type ipv4_addr; flags interval; }
  chain input_chain {
    type filter hook input priority 0; policy accept;
    ip daddr @silent drop
    ip daddr @sparse icmp type echo-request numgen random mod 100 < 75 drop
    ip daddr @medium icmp type echo-request numgen random mod 100 < 40 drop
  }
}
NFT
  ip netns exec $RT nft -f - <<'NFT'
table inet kpw_rt {
  set dead { type ipv4_addr; flags interval; }
  chain forward_chain {
    type filter hook forward priority 0; policy accept;
    ip daddr @dead counter drop
  }
}
NFT
  # wait until the path answers (ARP, links)
  for _ in $(seq 50); do
    ip netns exec $CL ping -c1 -W0.1 198.18.255.1 >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "lab/watch: no echo through the lab" >&2; return 1
}

elems() { local IFS=,; echo "$*"; }

respond() {
  local class=$1; shift
  [ $# -gt 0 ] || return 0
  case $class in
    dense) for s in silent sparse medium; do
             ip netns exec $AY nft delete element inet kpw_ay $s "{ $(elems "$@") }" 2>/dev/null || true
           done ;;
    silent|sparse|medium) ip netns exec $AY nft add element inet kpw_ay $class "{ $(elems "$@") }" ;;
    *) echo "respond: unknown class $class" >&2; return 2 ;;
  esac
}

outage() {
  local op=$1; shift
  case $op in
    add) ip netns exec $RT nft add element inet kpw_rt dead "{ $(elems "$@") }" ;;
    del) ip netns exec $RT nft delete element inet kpw_rt dead "{ $(elems "$@") }" ;;
    clear) ip netns exec $RT nft flush set inet kpw_rt dead ;;
    *) echo "outage: add|del|clear" >&2; return 2 ;;
  esac
}

vantage() {
  [ "${1:-}" = add ] && [[ ${2:-} =~ ^[1-9]$ ]] || { echo "vantage add N (1..9)" >&2; return 2; }
  local n=$2 ns=$P-v$2
  ip netns add $ns; ip -n $ns link set lo up
  ip link add v${n}0 netns $ns type veth peer name rt-v$n netns $RT
  ip -n $ns addr add 198.19.1$n.2/24 dev v${n}0; ip -n $ns link set v${n}0 up
  ip -n $RT addr add 198.19.1$n.1/24 dev rt-v$n; ip -n $RT link set rt-v$n up
  ip -n $ns route add 198.18.0.0/15 via 198.19.1$n.1
  ip -n $AY route add 198.19.1$n.0/24 via 198.19.3.1
  ip netns exec $ns nft -f - <<'NFT'
table inet kpw_v {
  set cut { type ipv4_addr; flags interval; }
  chain output_chain {
    type filter hook output priority 0; policy accept;
    ip daddr @cut drop
  }
}
NFT
  for _ in $(seq 50); do
    ip netns exec $ns ping -c1 -W0.1 198.18.255.1 >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "lab/watch: no echo from vantage $n" >&2; return 1
}

uplink() {
  [[ ${1:-} =~ ^[1-9]$ ]] || { echo "uplink N down|up" >&2; return 2; }
  case ${2:-} in
    down) ip netns exec $P-v$1 nft add element inet kpw_v cut '{ 198.18.0.0/16 }' ;;
    up) ip netns exec $P-v$1 nft flush set inet kpw_v cut ;;
    *) echo "uplink N down|up" >&2; return 2 ;;
  esac
}

# every namespace of this instance: the three of `up` and the vantages
all_ns() { echo $CL $RT $AY; ip netns list | awk '{print $1}' | grep -E "^$P-v[1-9]$" || true; }

down() {
  for ns in $(all_ns); do
    ip netns list | grep -w "^$ns" >/dev/null || continue
    for pid in $(ip netns pids $ns 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
  done
  sleep 0.1
  for ns in $(all_ns); do
    ip netns list | grep -w "^$ns" >/dev/null || continue
    for pid in $(ip netns pids $ns 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del $ns
  done
}

case $verb in
  up) up ;;
  down) down ;;
  respond) respond "$@" ;;
  outage) outage "$@" ;;
  vantage) vantage "$@" ;;
  uplink) uplink "$@" ;;
  vexec) n=$1; shift; exec ip netns exec $P-v$n "$@" ;;
  gwmac) ip -n $RT -br link show rt-cl | awk '{print $3}' ;;
  exec) exec ip netns exec $CL "$@" ;;
  *) sed -n '2,27p' "$0"; exit 2 ;;
esac
