#!/usr/bin/env bash
# dump_expect.sh FILE: `keepon bgp dump -m` of ../shared/data/mrt/FILE must equal
# expect/FILE.bgp.gz (upstream bgpdump -vm output) byte for byte.
set -euo pipefail
f=$1
data=${KP_SHARED_DATA:-$KP_SRC/../shared/data}
if [[ ! -f $data/mrt/$f || ! -f $data/mrt/expect/$f.bgp.gz ]]; then
  echo "skip: $data/mrt/$f or its expect file is absent" >&2
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$KP_BIN" bgp dump -m "$data/mrt/$f" >"$tmp/out" 2>"$tmp/err"
gzip -dc "$data/mrt/expect/$f.bgp.gz" >"$tmp/expect"
if ! cmp -s "$tmp/out" "$tmp/expect"; then
  echo "FAIL: $f differs from bgpdump's output" >&2
  diff "$tmp/out" "$tmp/expect" | head -20 >&2
  exit 1
fi
if [[ -s $tmp/err ]]; then
  echo "FAIL: $f: unexpected warnings:" >&2
  head -5 "$tmp/err" >&2
  exit 1
fi
echo "ok: $f ($(wc -l <"$tmp/out") lines identical)"
