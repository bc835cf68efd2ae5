#!/usr/bin/env bash
# evidence_chain.sh: the collector side of the evidence chain (issue 13 item 5), on loopback.
#   1. dedup per (key id, hash): bytes key A stored first are stored under key B too, so
#      `verify --server --key-id B` finds B's whole chain;
#   2. 16 parallel `keepon outbox add` give seqs 1..16, all delivered, chain intact;
#   3. every upload ends with a signed head checkpoint; a row deleted on the collector (the tail,
#      or one in the middle) is then found by `verify --server --allow-gaps`, and by
#      `verify --server --outbox DIR` from the probe's acked.log; a forged head is refused;
#   4. `serve --trusted-keys`: a chain re-signed under a fresh key is refused (403), and
#      `verify --trusted-keys` flags it offline.
set -u
BIN=${KP_BIN:?KP_BIN not set}
command -v sqlite3 >/dev/null || { echo "skip: sqlite3 missing"; exit 77; }
T=$(mktemp -d /tmp/kpt-evchain-XXXXXX)
SRV= SRV2=
cleanup() {
  [ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
  [ -n "$SRV2" ] && kill "$SRV2" 2>/dev/null && wait "$SRV2" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }
export KEEPON_DATA=${KP_SRC:-.}/data

start() { # DB LOG [serve options] -> URL on stdout; pid in $PID
  "$BIN" serve --db "$1" --listen 127.0.0.1:0 "${@:3}" 2> "$2" &
  PID=$!
  for _ in $(seq 50); do grep -q 'port [0-9]' "$2" 2>/dev/null && break; sleep 0.1; done
  local port
  port=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$2")
  [ -n "$port" ] || fail "server did not start: $(cat "$2")"
  URL=http://127.0.0.1:$port
}
m() { printf '{"probe_cc":"KZ","probe_asn":"AS9198","test_name":"signal","measurement_start_time":"2022-01-05 10:%02d:00","test_keys":{"i":%d}}\n' "$1" "$1"; }
ob() { KEEPON_HOME=$T/$1 "$BIN" "${@:2}"; }
keyid() { ob "$1" outbox list | sed -n 's/.* key \([0-9a-f]*\)$/\1/p'; }

start "$T/c.db" "$T/serve.log"; SRV=$PID; U=$URL

# ---- 1. the same bytes under two keys ----
{ m 1; m 2; } > "$T/a.jsonl"
{ m 1; m 3; } > "$T/b.jsonl"
ob A outbox add "$T/a.jsonl" 2>/dev/null && ob B outbox add "$T/b.jsonl" 2>/dev/null || fail "outbox add"
ob A upload --collector "$U" 2> "$T/upA" || fail "upload A: $(cat "$T/upA")"
ob B upload --collector "$U" 2> "$T/upB" || fail "upload B: $(cat "$T/upB")"
KA=$(keyid A) KB=$(keyid B)
"$BIN" verify --server "$U" --key-id "$KB" > "$T/v" || fail "verify B's chain on the server: $(cat "$T/v")"
grep -q 'ok: 2 records' "$T/v" || fail "B's chain: $(cat "$T/v")"
"$BIN" verify --server "$U" > "$T/v" || fail "verify all: $(cat "$T/v")"
grep -q 'ok: 4 records' "$T/v" || fail "both chains: $(cat "$T/v")"
[ "$(sqlite3 "$T/c.db" 'SELECT COUNT(*) FROM measurements')" = 3 ] || fail "shared bytes stored twice"
ok "dedup per (key id, hash): B's record with A's bytes is in B's chain; bytes stored once"

# ---- 2. parallel adds ----
for i in $(seq 16); do m $((10 + i)) > "$T/p$i.json"; done
pids=()
for i in $(seq 16); do ob C outbox add "$T/p$i.json" 2>/dev/null & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || fail "a parallel add failed"; done
ob C verify "$T/C/outbox" > "$T/v" || fail "parallel outbox: $(cat "$T/v")"
grep -q 'ok: 16 records' "$T/v" || fail "parallel outbox count: $(cat "$T/v")"
ob C upload --collector "$U" 2> "$T/upC" || fail "upload C: $(cat "$T/upC")"
grep -q '16 delivered' "$T/upC" || fail "not all deliverable: $(cat "$T/upC")"
"$BIN" verify --server "$U" --key-id "$(keyid C)" > "$T/v" || fail "C on server: $(cat "$T/v")"
ok "16 parallel outbox adds: seqs 1..16, all delivered, chain intact"

# heads listing is paged like /records: 3 keys (A, B, C), pages of 2 then 1, bad limit 400
curl -s -D "$T/h1" -o "$T/p1" "$U/api/v1/keepon/heads?limit=2" && curl -s -o "$T/p2" "$U/api/v1/keepon/heads?limit=2&offset=2" ||
  fail "heads pages"
[ "$(wc -l < "$T/p1")" = 2 ] && [ "$(wc -l < "$T/p2")" = 1 ] || fail "heads pages: $(cat "$T/p1" "$T/p2")"
grep -qi '^X-Next-Offset: 2' "$T/h1" || fail "heads next offset: $(cat "$T/h1")"
[ "$(sort "$T/p1" "$T/p2" | uniq | wc -l)" = 3 ] || fail "heads pages overlap"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$U/api/v1/keepon/heads?limit=10001")" = 400 ] || fail "heads limit 10001 accepted"
ok "heads listing paged (limit + offset, X-Next-Offset, limit <= 10000)"

# ---- 3. head checkpoints and acked.log ----
[ "$(sqlite3 "$T/c.db" "SELECT seq FROM chain_heads WHERE key_id='$KA'")" = 2 ] || fail "no head kept for A"
sqlite3 "$T/c.db" "DELETE FROM chain WHERE key_id='$KA' AND seq=2" || fail "sqlite delete"
if "$BIN" verify --server "$U" --allow-gaps > "$T/v"; then fail "dropped tail not detected: $(cat "$T/v")"; fi
grep -q 'tail was dropped' "$T/v" || fail "tail drop reason: $(cat "$T/v")"
if ob A verify --server "$U" --allow-gaps --key-id "$KA" --outbox "$T/A/outbox" > "$T/v"; then fail "acked.log not compared"; fi
grep -q 'record seq 2 was acknowledged by the collector' "$T/v" || fail "acked reason: $(cat "$T/v")"
ok "tail dropped on the collector: found from its head checkpoint and from the probe's acked.log"
sed 's/"seq":2/"seq":3/' "$T/A/outbox/head" > "$T/forged"
code=$(curl -s -o "$T/out" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$T/forged" "$U/api/v1/keepon/head")
[ "$code" = 403 ] || fail "forged head got $code: $(cat "$T/out")"
ok "forged head checkpoint refused (403)"

# ---- 4. pinned keys ----
ob E outbox add "$T/a.jsonl" 2>/dev/null || fail "outbox add E"
KE=$(keyid E)
printf '# pinned probe keys\n%s\n%s\n' "$KA" "$KE" > "$T/pins"
start "$T/c2.db" "$T/serve2.log" --trusted-keys "$T/pins"; SRV2=$PID; U2=$URL
sed 's/"i":2/"i":99/' "$T/a.jsonl" > "$T/altered.jsonl" # A's chain altered, re-signed under a fresh key
ob D outbox add "$T/altered.jsonl" 2>/dev/null || fail "outbox add D"
if ob D upload --collector "$U2" --max-attempts 1 2> "$T/upD"; then fail "re-signed chain accepted"; fi
grep -q 'pinned keys' "$T/upD" || fail "refusal reason: $(cat "$T/upD")"
ob E upload --collector "$U2" 2> "$T/upE" || fail "pinned key refused: $(cat "$T/upE")"
[ "$(sqlite3 "$T/c2.db" "SELECT COUNT(*) FROM chain WHERE key_id='$KE'")" = 2 ] || fail "pinned key's records not stored"
[ "$(sqlite3 "$T/c2.db" "SELECT COUNT(*) FROM chain WHERE key_id='$(keyid D)'")" = 0 ] || fail "fresh key stored"
if "$BIN" verify --trusted-keys "$T/pins" "$T/D/outbox" > "$T/v"; then fail "fresh key not flagged"; fi
grep -q 'not one of the pinned keys' "$T/v" || fail "flag reason: $(cat "$T/v")"
"$BIN" verify "$T/D/outbox" > /dev/null || fail "D's chain is intact by itself"
ok "--trusted-keys: a chain re-signed under a fresh key is refused by the collector and flagged by verify"
