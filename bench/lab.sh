#!/usr/bin/env bash
# bench/lab.sh [ROUNDS]: how long the lab's verbs take (docs/lab.md "Timing"): up (fresh, with
# certificates), up when already up, every `censor TECH on` and `off`, down. Prints the median
# and max over ROUNDS (default 3) in ms. Needs root; uses its own prefix and removes everything.
set -euo pipefail
K=${KP_BIN:-$(cd "$(dirname "$0")/.." && pwd)/build/src/cli/keepon}
[ -x "$K" ] || { echo "set KP_BIN to the keepon binary" >&2; exit 2; }
export KP_BIN=$K
R=${1:-3}
P=kpb-lab-$$
S=$(mktemp -d /tmp/kpb-lab-$$.XXXXXX)
trap '"$K" lab --prefix "$P" --state "$S/st" down >/dev/null 2>&1 || true; rm -rf "$S"' EXIT
lab() { "$K" lab --prefix "$P" --state "$S/st" "$@" >/dev/null 2>&1; }
ms() { local t0 t1; t0=$(date +%s%N); "$@"; t1=$(date +%s%N); echo $(((t1 - t0) / 1000000)); }
declare -A T
add() { T[$1]="${T[$1]:-} $2"; }
for _ in $(seq "$R"); do
  add "up (fresh)" "$(ms lab up)"
  add "up (already up)" "$(ms lab up)"
  for tech in dns_forged dns_nxdomain dns_injected ip_blackhole tcp_reset tls_sni_reset tls_sni_drop tls_mitm \
    http_blockpage throttled network_down; do
    tgt=(--target whatsapp)
    [ "$tech" = network_down ] && tgt=()
    add "censor $tech on" "$(ms lab censor "$tech" on "${tgt[@]}")"
    add "censor $tech off" "$(ms lab censor "$tech" off "${tgt[@]}")"
  done
  add "down" "$(ms lab down)"
done
echo "# keepon lab timings over $R rounds (ms), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
printf '%-28s %8s %8s\n' verb median max
for k in "up (fresh)" "up (already up)" $(printf '%s\n' "${!T[@]}" | grep '^censor' | sort | tr ' ' '_') "down"; do
  k=${k//_on/ on}; k=${k//_off/ off}; k=${k//censor_/censor }
  # shellcheck disable=SC2086
  sorted=$(printf '%s\n' ${T[$k]} | sort -n)
  n=$(echo "$sorted" | wc -l)
  printf '%-28s %8s %8s\n' "$k" "$(echo "$sorted" | sed -n "$(((n + 1) / 2))p")" "$(echo "$sorted" | tail -1)"
done
