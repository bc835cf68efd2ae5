#!/usr/bin/env bash
# bench/watch-icmp.sh: send rate of keepon's icmp driver against zmap's, same lab, same machine,
# same run. The lab (lab/watch/lab.sh) answers for all of 198.18.0.0/16 (65,536 targets).
# keepon: `keepon census --passes 1` (one echo per address through the watch icmp driver);
# zmap: icmp_echoscan with the blocklist-complement trick and -G (lab-notes §5).
# Rate = probes sent / (wall time - the final wait). Usage: bench/watch-icmp.sh [KEEPON_BIN]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-${KP_BIN:-$here/build/src/cli/keepon}}
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 1; }
P=kpb-watch-$$
lab="$here/lab/watch/lab.sh --prefix $P"
tmp=$(mktemp -d)
chmod 755 "$tmp"
trap '$lab down >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
export KEEPON_HOME=$tmp/home
$lab up
echo 198.18.0.0/16 > "$tmp/u.cidr"
python3 -c "import ipaddress as i; l=i.ip_network('198.18.0.0/15'); print('\n'.join(map(str,sorted(i.ip_network('0.0.0.0/0').address_exclude(l)))))" > "$tmp/bl.conf"
gw=$($lab gwmac)
now() { date +%s.%N; }
run_keepon() { # RATE
  local t0 t1 wait=0.5
  t0=$(now)
  $lab exec "$bin" -v census --allow-reserved 198.18.0.0/15 --cidr "$tmp/u.cidr" --passes 1 --rate "$1" --timeout $wait \
    --min-hosts 1 --min-avail 0.0001 --out "$tmp/c.jsonl" 2> "$tmp/k.err"
  t1=$(now)
  local sent replies
  sent=$(grep -o 'sent [0-9]*' "$tmp/k.err" | awk '{print $2}')
  replies=$(grep -o 'replies [0-9]*' "$tmp/k.err" | awk '{print $2}')
  python3 -c "print(f'keepon icmp  rate {\"$1\":>7}: sent $sent, replies $replies ({$replies/$sent*100:.2f} %), {$sent/($t1-$t0-$wait):,.0f} pps')"
}
run_zmap() { # ARGS...
  local t0 t1 cool=1
  t0=$(now)
  $lab exec zmap -M icmp_echoscan -i cl0 -S 198.19.1.2 -G "$gw" -b "$tmp/bl.conf" "$@" -c $cool \
    -f saddr -o "$tmp/z.csv" --disable-syslog -q 198.18.0.0/16 2> "$tmp/z.err" || { cat "$tmp/z.err"; return 1; }
  t1=$(now)
  local hits; hits=$(tail -n +2 "$tmp/z.csv" | sort -u | wc -l)
  python3 -c "print(f'zmap {\"$*\":>16}: sent 65536, unique replies $hits ({$hits/65536*100:.2f} %), {65536/($t1-$t0-$cool):,.0f} pps')"
}
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
for round in 1 2; do
  run_keepon 50000
  run_zmap -r 50000
  run_keepon 0
  run_zmap -B 10G
done
