#!/usr/bin/env bash
# lab_visibility.sh: BIRD writes MRT while a block of routes is withdrawn and re-announced;
# `keepon bgp visibility` over those files must show the drop and the recovery.
# Runs only in two namespaces it creates (kpt-bgp-<pid>-bgp1/2), 198.18.0.0/15 addresses only.
set -euo pipefail
for tool in ip bird birdc; do
  command -v "$tool" >/dev/null || { echo "skip: $tool not installed" >&2; exit 77; }
done
[[ $(id -u) -eq 0 ]] || { echo "skip: needs root for network namespaces" >&2; exit 77; }
export KP_BGP_PREFIX=kpt-bgp-$$
export KP_BGP_STATE=$(mktemp -d /tmp/kpt-bgp-state.XXXXXX)
out=$(mktemp -d /tmp/kpt-bgp-out.XXXXXX)
lab=$KP_SRC/lab/bgp/bgp.sh
cleanup() { bash "$lab" down || true; rm -rf "$out" "$KP_BGP_STATE"; }
trap cleanup EXIT INT TERM

wait_count() { # n
  for _ in $(seq 100); do
    [[ "$(bash "$lab" count)" == "$1" ]] && return 0
    sleep 0.1
  done
  echo "FAIL: collector never reached $1 routes" >&2
  exit 1
}

BIN=2
bash "$lab" up 16                      # 198.18.64-79 (s_keep) + 198.18.80-95 (s_flap)
bash "$lab" ribdump "$out/rib.mrt"
sleep $((BIN + 1))
bash "$lab" withdraw
wait_count 16
sleep $((BIN + 1))
bash "$lab" announce
wait_count 32
sleep $((BIN + 1))
cp "$KP_BGP_STATE/updates.mrt" "$out/updates.mrt"   # before shutdown adds its own state change

mkdir -p "$out/geo"
echo "198.18.64.0/20" >"$out/geo/xa.cidr"   # routes that stay
echo "198.18.80.0/20" >"$out/geo/xb.cidr"   # routes that flap
"$KP_BIN" bgp visibility --bin $BIN --full-feed-min 1 --geo-cidr "$out/geo/xa.cidr,$out/geo/xb.cidr" \
  --store "$out/signals.db" "$out/rib.mrt" "$out/updates.mrt" >"$out/signals.jsonl"

series() { # cc datasource -> values in time order
  grep "\"entity_code\":\"$1\",\"datasource\":\"$2\"" "$out/signals.jsonl" | sed 's/.*"value":\([^,]*\),.*/\1/'
}
xa=$(series XA bgp | tr '\n' ' ')
xb=$(series XB bgp | tr '\n' ' ')
upd=$(series XB bgp-updates | tr '\n' ' ')
echo "XA visible /24s per bin: $xa"
echo "XB visible /24s per bin: $xb"
echo "XB updates per bin:      $upd"
# XA never moves; XB goes 16 -> 0 -> 16
for v in $xa; do [[ $v == 16 ]] || { echo "FAIL: XA should stay at 16" >&2; exit 1; }; done
phase=0
for v in $xb; do
  case $phase:$v in
    0:16) phase=1 ;;
    1:0) phase=2 ;;
    2:16) phase=3 ;;
  esac
done
[[ $phase == 3 ]] || { echo "FAIL: XB does not show drop and recovery (phase $phase)" >&2; exit 1; }
# the withdrawals and re-announcements are counted: 16 + 16 (+ the initial 16 announcements)
total=0
for v in $upd; do total=$((total + v)); done
[[ $total -ge 32 ]] || { echo "FAIL: XB update count $total < 32" >&2; exit 1; }
# the same points went into the store
if command -v sqlite3 >/dev/null; then
  n=$(sqlite3 "$out/signals.db" "select count(*) from signals where entity_code='XB' and datasource='bgp'")
  [[ $n -eq $(series XB bgp | wc -l) ]] || { echo "FAIL: store holds $n XB points" >&2; exit 1; }
fi
# the MRT BIRD wrote is also what bgpdump sees, line for line (when bgpdump is installed)
if command -v bgpdump >/dev/null; then
  for f in rib updates; do
    cmp -s <("$KP_BIN" bgp dump -m "$out/$f.mrt") <(bgpdump -m "$out/$f.mrt" 2>/dev/null) ||
      { echo "FAIL: bgp dump of BIRD's $f.mrt differs from bgpdump" >&2; exit 1; }
  done
fi
echo "ok: drop and recovery visible"
