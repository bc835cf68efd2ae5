#!/usr/bin/env bash
# diff_random.sh: random well-formed MRT (gen_random_mrt.py) through keepon and the installed
# bgpdump; outputs must be identical. Skips when bgpdump or python3 is missing.
set -euo pipefail
command -v bgpdump >/dev/null || { echo "skip: bgpdump not installed" >&2; exit 77; }
command -v python3 >/dev/null || { echo "skip: python3 not installed" >&2; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for seed in $(seq 1 12); do
  python3 "$KP_SRC/tests/bgp/gen_random_mrt.py" "$seed" 300 >"$tmp/r.mrt"
  bgpdump -m "$tmp/r.mrt" >"$tmp/b" 2>/dev/null
  "$KP_BIN" bgp dump -m "$tmp/r.mrt" >"$tmp/k"
  if ! cmp -s "$tmp/b" "$tmp/k"; then
    echo "FAIL: seed $seed differs from bgpdump" >&2
    diff "$tmp/b" "$tmp/k" | head >&2
    exit 1
  fi
done
echo "ok: 12 x 300 random records identical to bgpdump"
