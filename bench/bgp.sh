#!/usr/bin/env bash
# bench/bgp.sh: `keepon bgp dump -m` against Debian's `bgpdump -m` on the same large input,
# in the same run, with an identical-output check.
#
#   KP_BIN=build/src/cli/keepon bench/bgp.sh [COPIES]
#
# Input: the reference MRT files of ../shared/data/mrt (all but updates.nlri_mask_trailing_bits,
# where Debian's bgpdump 1.6.2 lacks upstream's trailing-bit fix), decompressed and concatenated
# COPIES times (default 4), as a plain file and as one gzip file. Each tool runs 3 times; the best
# run counts. CPU time (user+sys) is reported beside wall time because the machine may be shared.
set -euo pipefail
cd "$(dirname "$0")/.."
KP_BIN=${KP_BIN:-build/src/cli/keepon}
data=${KP_SHARED_DATA:-../shared/data}/mrt
copies=${1:-4}
command -v bgpdump >/dev/null || { echo "bgpdump is not installed (apt-get install bgpdump)" >&2; exit 1; }
[[ -x $KP_BIN ]] || { echo "no keepon binary at $KP_BIN" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for ((c = 0; c < copies; c++)); do
  for f in "$data"/*.gz; do
    [[ $f == *nlri_mask_trailing_bits* ]] && continue
    gzip -dc "$f"
  done
done >"$tmp/in.mrt"
gzip -1 -c "$tmp/in.mrt" >"$tmp/in.mrt.gz"
bytes=$(stat -c %s "$tmp/in.mrt")
gzbytes=$(stat -c %s "$tmp/in.mrt.gz")

best() { # label cmd... -> prints "wall cpu" of the best of 3 runs (by cpu)
  shift
  local b_wall="" b_cpu=""
  for _ in 1 2 3; do
    /usr/bin/time -f "%e %U %S" -o "$tmp/t" "$@" >/dev/null 2>"$tmp/err" || true
    read -r w u s < <(tail -1 "$tmp/t")
    local cpu
    cpu=$(awk -v u="$u" -v s="$s" 'BEGIN{printf "%.3f", u+s}')
    if [[ -z $b_cpu ]] || awk -v a="$cpu" -v b="$b_cpu" 'BEGIN{exit !(a<b)}'; then b_cpu=$cpu b_wall=$w; fi
  done
  echo "$b_wall $b_cpu"
}

"$KP_BIN" bgp dump -m "$tmp/in.mrt" >"$tmp/kp.txt"
bgpdump -m "$tmp/in.mrt" >"$tmp/bd.txt" 2>/dev/null
lines=$(wc -l <"$tmp/kp.txt")
if cmp -s "$tmp/kp.txt" "$tmp/bd.txt"; then same=identical; else same=DIFFERENT; fi
"$KP_BIN" bgp dump -m "$tmp/in.mrt.gz" | cmp -s - "$tmp/kp.txt" && gzsame=identical || gzsame=DIFFERENT

read -r kw kc < <(best kp "$KP_BIN" bgp dump -m "$tmp/in.mrt")
read -r gw gc < <(best kpgz "$KP_BIN" bgp dump -m "$tmp/in.mrt.gz")
read -r bw bc < <(best bd bgpdump -m "$tmp/in.mrt")

awk -v lines="$lines" -v bytes="$bytes" -v gz="$gzbytes" -v kw="$kw" -v kc="$kc" -v gw="$gw" -v gc="$gc" \
    -v bw="$bw" -v bc="$bc" -v same="$same" -v gzsame="$gzsame" -v copies="$copies" 'BEGIN {
  printf "input: %d copies of the reference files, %.1f MB MRT (%.1f MB gzip), %d lines (= elements)\n", copies, bytes/1e6, gz/1e6, lines
  printf "%-28s %8s %8s %14s %14s %10s\n", "run", "wall s", "cpu s", "lines/s (cpu)", "lines/s (wall)", "MB/s (cpu)"
  printf "%-28s %8.3f %8.3f %14.0f %14.0f %10.1f\n", "keepon bgp dump -m (plain)", kw, kc, lines/kc, lines/kw, bytes/1e6/kc
  printf "%-28s %8.3f %8.3f %14.0f %14.0f %10.1f\n", "keepon bgp dump -m (gzip)", gw, gc, lines/gc, lines/gw, bytes/1e6/gc
  printf "%-28s %8.3f %8.3f %14.0f %14.0f %10.1f\n", "bgpdump -m (plain)", bw, bc, lines/bc, lines/bw, bytes/1e6/bc
  printf "speed-up (cpu): %.1fx plain, %.1fx from gzip; output vs bgpdump: %s; gzip vs plain: %s\n", bc/kc, bc/gc, same, gzsame
}'
