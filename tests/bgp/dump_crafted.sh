#!/usr/bin/env bash
# dump_crafted.sh: corner cases (fixtures/crafted.mrt) against bgpdump 1.6.2's output,
# plain, gzip, bzip2 and stdin inputs, and (when bgpdump is installed) a live comparison.
set -euo pipefail
fx=$KP_SRC/tests/bgp/fixtures
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check() { # name file...
  local name=$1; shift
  if ! cmp -s "$tmp/out" "$fx/crafted.expect"; then
    echo "FAIL: $name" >&2; diff "$tmp/out" "$fx/crafted.expect" | head >&2; exit 1
  fi
  echo "ok: $name"
}
"$KP_BIN" bgp dump -m "$fx/crafted.mrt" >"$tmp/out"; check plain
gzip -c "$fx/crafted.mrt" >"$tmp/c.gz"; "$KP_BIN" bgp dump -m "$tmp/c.gz" >"$tmp/out"; check gzip
bzip2 -c "$fx/crafted.mrt" >"$tmp/c.bz2"; "$KP_BIN" bgp dump -m "$tmp/c.bz2" >"$tmp/out"; check bzip2
"$KP_BIN" bgp dump -m - <"$tmp/c.bz2" >"$tmp/out"; check stdin-bzip2
# two gzip members in one file
head -c 300 "$fx/crafted.mrt" >"$tmp/a"; tail -c +301 "$fx/crafted.mrt" >"$tmp/b"
{ gzip -c "$tmp/a"; gzip -c "$tmp/b"; } >"$tmp/m.gz"
# the split cuts a record: the concatenated stream is still the same bytes
"$KP_BIN" bgp dump -m "$tmp/m.gz" >"$tmp/out"; check gzip-multimember
if command -v bgpdump >/dev/null; then
  bgpdump -m "$fx/crafted.mrt" 2>/dev/null >"$tmp/out"; check installed-bgpdump-agrees
fi
# usage errors exit 2 and write nothing
set +e
"$KP_BIN" bgp dump >"$tmp/out" 2>/dev/null; rc=$?
set -e
[[ $rc -eq 2 && ! -s $tmp/out ]] || { echo "FAIL: no-file usage rc=$rc" >&2; exit 1; }
set +e
"$KP_BIN" bgp dump -m "$fx/crafted.mrt" "$tmp/does-not-exist" >"$tmp/out" 2>/dev/null; rc=$?
set -e
[[ $rc -eq 2 && ! -s $tmp/out ]] || { echo "FAIL: missing input rc=$rc, output written" >&2; exit 1; }
echo "ok: usage"
