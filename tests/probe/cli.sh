#!/usr/bin/env bash
# cli.sh: `keepon probe im` bad input exits 2 with a clear message and writes nothing;
# --help works. No network is touched (every case fails validation first).
set -euo pipefail
K=${KP_BIN:?KP_BIN must point at the keepon binary}
src=${KP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d /tmp/kpt-probecli.XXXXXX)
trap 'rm -rf "$T"' EXIT
export KEEPON_HOME=$T/home
pass=0
fail=0
expect() { # WANT_RC MESSAGE_REGEX ARGS...
  local want=$1 re=$2 rc=0
  shift 2
  "$K" probe im "$@" --output "$T/out.jsonl" >"$T/stdout" 2>"$T/stderr" || rc=$?
  if [ "$rc" != "$want" ]; then
    echo "FAIL: probe im $* -> rc $rc, want $want"; cat "$T/stderr"; fail=$((fail + 1)); return
  fi
  if ! grep -qiE "$re" "$T/stderr"; then
    echo "FAIL: probe im $*: stderr lacks /$re/"; cat "$T/stderr"; fail=$((fail + 1)); return
  fi
  if [ -e "$T/out.jsonl" ] || ls "$T"/out.jsonl.tmp.* >/dev/null 2>&1; then
    echo "FAIL: probe im $*: wrote output"; fail=$((fail + 1)); return
  fi
  pass=$((pass + 1))
}
echo '{"format":"keepon-im-targets/1","apps":' >"$T/broken.json"
expect 2 "unknown app 'skype'" --apps whatsapp,skype
expect 2 "cannot read targets" --targets "$T/nonexistent.json"
expect 2 "bad targets.*not valid JSON" --targets "$T/broken.json"
expect 2 "bad resolver address" --resolver 300.1.1.1
expect 2 "bad resolver address" --resolver example.org
expect 2 "cannot read CA file" --ca-file "$T/none.pem" --resolver 127.0.0.1
expect 2 "timeout" --timeout 0
expect 2 "probe-cc" --probe-cc kz
expect 2 "probe-asn" --probe-asn 9198
# the output folder must exist
rc=0
"$K" probe im --resolver 127.0.0.1 --output "$T/missing/dir/out.jsonl" 2>"$T/stderr" || rc=$?
if [ "$rc" = 2 ] && grep -q "does not exist" "$T/stderr"; then pass=$((pass + 1)); else echo "FAIL: missing output folder rc=$rc"; fail=$((fail + 1)); fi
# a targets file without one of the requested apps
printf '{"format":"keepon-im-targets/1","control":{"url":"https://example.org/"},"apps":{"signal":{"targets":[{"url":"https://chat.signal.org/"}]}}}' >"$T/signal.json"
expect 2 "no entry for 'whatsapp'" --targets "$T/signal.json" --apps whatsapp
if "$K" probe im --help | grep -q -- "--targets"; then pass=$((pass + 1)); else echo "FAIL: --help"; fail=$((fail + 1)); fi
[ -e "$src/data/targets/lab-im.json" ] || { echo "FAIL: data/targets/lab-im.json missing"; fail=$((fail + 1)); }
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
