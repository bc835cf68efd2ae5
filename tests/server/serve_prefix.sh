#!/usr/bin/env bash
# serve_prefix.sh: keepon's upload routes under a path that does not name keepon (issue 12
# item 6). `keepon serve --path-prefix /v1` on loopback: `upload --path-prefix /v1` delivers,
# `verify --server --path-prefix /v1` finds the whole chain with its head, /api/v1/keepon/...
# answers 404 (an active probe of the server learns nothing), a bad prefix is a usage error, and
# without the option the default routes still work.
set -u
BIN=${KP_BIN:?KP_BIN not set}
T=$(mktemp -d /tmp/kpt-serve-prefix-XXXXXX)
SRV=
cleanup() { [ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }
export KEEPON_DATA=${KP_SRC:-.}/data KEEPON_HOME=$T/probe
start() { # DB [serve options]
  "$BIN" serve --db "$1" --listen 127.0.0.1:0 "${@:2}" 2> "$T/serve.log" &
  SRV=$!
  for _ in $(seq 50); do grep -q 'port [0-9]' "$T/serve.log" 2>/dev/null && break; sleep 0.1; done
  local port
  port=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$T/serve.log")
  [ -n "$port" ] || fail "server did not start: $(cat "$T/serve.log")"
  URL=http://127.0.0.1:$port
}
stop() { kill "$SRV"; wait "$SRV" 2>/dev/null; SRV=; }
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
for i in 1 2 3; do
  printf '{"probe_cc":"KZ","probe_asn":"AS9198","test_name":"signal","measurement_start_time":"2022-01-05 10:0%d:00","test_keys":{"i":%d}}\n' "$i" "$i"
done > "$T/m.jsonl"
"$BIN" outbox add "$T/m.jsonl" 2>/dev/null || fail "outbox add"

"$BIN" serve --db "$T/x.db" --listen 127.0.0.1:0 --path-prefix v1 2>"$T/bad.log"
[ $? = 2 ] && grep -q "path-prefix" "$T/bad.log" && ok "a prefix without its leading / is a usage error" ||
  fail "bad prefix: $(cat "$T/bad.log")"

start "$T/c.db" --path-prefix /v1
"$BIN" upload --collector "$URL" 2> "$T/up0.log"
grep -q "0 delivered" "$T/up0.log" && ok "the default path is not served under --path-prefix" || fail "up0: $(cat "$T/up0.log")"
"$BIN" upload --collector "$URL" --path-prefix /v1 2> "$T/up1.log" && grep -q "3 delivered" "$T/up1.log" &&
  ok "upload --path-prefix /v1: 3 delivered" || fail "upload: $(cat "$T/up1.log")"
# the old paths answer exactly as a path that never existed (GET 404; POST refused before routing)
for r in submit batch records head heads; do
  meth=POST; case $r in records|heads) meth=GET ;; esac
  c=$(code -X $meth "$URL/api/v1/keepon/$r") n=$(code -X $meth "$URL/api/v1/nothing-$r")
  [ "$c" = "$n" ] || fail "$meth /api/v1/keepon/$r answered $c, an unknown path $n, under --path-prefix /v1"
  [ $meth = GET ] && [ "$c" != 404 ] && fail "GET /api/v1/keepon/$r answered $c, want 404"
done
ok "/api/v1/keepon/{submit,batch,records,head,heads} answer as unknown paths do"
[ "$(code "$URL/v1/records?limit=10")" = 200 ] || fail "/v1/records not served"
"$BIN" verify --server "$URL" --path-prefix /v1 --outbox "$KEEPON_HOME/outbox" > "$T/v1.out" 2>&1 &&
  ok "verify --server --path-prefix /v1: $(tail -1 "$T/v1.out")" || fail "verify: $(cat "$T/v1.out")"
"$BIN" verify --server "$URL" --outbox "$KEEPON_HOME/outbox" > "$T/v2.out" 2>&1
[ $? != 0 ] && ok "verify without the prefix cannot read the records (exit non-zero)" || fail "verify found records at the default path"
stop

start "$T/d.db"
"$BIN" outbox add "$T/m.jsonl" 2>/dev/null
rm -f "$KEEPON_HOME/outbox/acked.log"
[ "$(code "$URL/api/v1/keepon/records?limit=1")" = 200 ] && ok "without --path-prefix: /api/v1/keepon/records served" ||
  fail "default routes missing"
stop
echo "ok"
