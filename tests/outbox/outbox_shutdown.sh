#!/usr/bin/env bash
# outbox_shutdown.sh: evidence survives a shutdown (docs/lab.md; label lab).
#   1. own lab instance (unique prefix); `keepon serve` in the servers namespace on 198.19.2.2:8080;
#   2. the censor turns network_down on; the probe measures (`keepon probe im`, two rounds) and
#      each round's measurements go into the outbox (signed, chained, fsync'd);
#   3. uploads fail while the network is down: a one-shot upload gives up, a background uploader
#      keeps backing off; the collector has nothing;
#   4. network_down off: the background uploader delivers everything by itself;
#   5. every measurement is on the collector exactly once (a second upload adds nothing),
#      `keepon verify --server` and `keepon verify` of the outbox pass.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "skip: needs root (network namespaces)"; exit 77; }
for t in ip curl; do command -v $t >/dev/null || { echo "skip: $t missing"; exit 77; }; done
src=${KP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
K=${KP_BIN:?KP_BIN must point at the keepon binary}
P=kpt-ob-$$
S=$(mktemp -d /tmp/kpt-ob-state.XXXXXX)
SRV= UPL=
lab() { "$K" lab "$@" --prefix "$P" --state "$S/lab"; }
cleanup() {
  [ -n "$UPL" ] && kill "$UPL" 2>/dev/null && wait "$UPL" 2>/dev/null || true
  [ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null || true
  lab down >/dev/null 2>&1 || true
  rm -rf "$S"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { echo "FAIL: $*"; [ -f "$S/serve.log" ] && tail -40 "$S/serve.log"; exit 1; }
ok() { echo "ok   $*"; }
cl() { ip netns exec "$P-client" env KEEPON_HOME="$S/home" KEEPON_DATA="$src/data" "$@"; }
URL=http://198.19.2.2:8080
# count [NS]: the collector's measurement count as seen from namespace P-NS (default servers,
# the collector's own); empty when the request fails
count() { ip netns exec "$P-${1:-servers}" curl -s -m "${2:-5}" "$URL/api/v1/measurements?probe_cc=KZ&limit=1" | sed -n 's/.*"count":\([0-9]*\).*/\1/p'; }

lab up >/dev/null 2>&1 || fail "lab up"
KEEPON_DATA="$src/data" ip netns exec "$P-servers" "$K" serve --db "$S/c.db" --listen 198.19.2.2:8080 2>"$S/serve.log" &
SRV=$!
for _ in $(seq 50); do grep -q 'port 8080' "$S/serve.log" 2>/dev/null && break; sleep 0.1; done
[ "$(count)" = 0 ] || fail "collector not up in $P-servers"
[ "$(count client)" = 0 ] || fail "collector not reachable from the client before the shutdown"
ok "collector up in $P-servers, reachable from the client"

lab censor network_down on >/dev/null 2>&1 || fail "network_down on"
# the shutdown is real: the client cannot reach the collector, which itself is still up
[ -z "$(count client 2)" ] || fail "the client still reaches the collector during network_down"
[ "$(count)" = 0 ] || fail "the collector itself stopped answering during network_down"
ok "network_down: the collector is unreachable from the client, still up in $P-servers"
n=0
for round in 1 2; do
  cl "$K" probe im --targets "$src/data/targets/lab-im.json" --resolver 198.19.10.53 --ca-file "$S/lab/pki/ca.crt" \
    --probe-cc KZ --probe-asn AS9198 --output "$S/round$round.jsonl" --timeout 3 --parallel 64 >/dev/null 2>"$S/probe.err" ||
    fail "probe round $round: $(cat "$S/probe.err")"
  m=$(grep -c . "$S/round$round.jsonl")
  [ "$m" -ge 1 ] || fail "probe round $round measured nothing"
  grep -q '"probe_ip":"127.0.0.1"' "$S/round$round.jsonl" || fail "probe IP not scrubbed"
  # the probe itself appended each measurement to the outbox before writing its output file
  n=$((n + m))
  # the automatic upload after a run fails while the network is down, and gives up quickly
  if cl "$K" upload --collector "$URL" --max-attempts 2 --base-delay-ms 50 --timeout-ms 300 2>"$S/up.err"; then
    fail "upload succeeded during network_down"
  fi
done
grep -q "0 delivered.*$n pending" "$S/up.err" || fail "pending count after the outage: $(cat "$S/up.err")"
ok "network_down: $n measurements kept in the outbox, uploads fail and back off"

cl "$K" upload --collector "$URL" --base-delay-ms 200 --max-delay-ms 1000 --timeout-ms 3000 --max-attempts 1000 \
  --deadline 60 2>"$S/bg.err" &
UPL=$!
sleep 2
kill -0 $UPL 2>/dev/null || fail "the background uploader gave up during the outage: $(cat "$S/bg.err")"
lab censor network_down off >/dev/null 2>&1 || fail "network_down off"
t0=$(date +%s)
wait $UPL || fail "background upload failed after restoration: $(cat "$S/bg.err"); client curl: $(cl curl -s -m 3 -o /dev/null -w "%{http_code}" "$URL/api/v1/health" 2>&1 || true); censor: $(lab censor status 2>&1 | tr "\n" " "); server alive: $(kill -0 $SRV 2>/dev/null \&\& echo yes || echo no); server log: $(tail -3 "$S/serve.log")"
UPL=
ok "after restoration the retrying uploader delivered in $(($(date +%s) - t0)) s: $(cat "$S/bg.err")"

[ "$(count)" = "$n" ] || fail "collector holds $(count) measurements, want $n"
cl "$K" upload --collector "$URL" 2>"$S/again.err" || fail "second upload"
grep -q '^keepon upload: 0 delivered' "$S/again.err" || fail "second upload re-sent: $(cat "$S/again.err")"
[ "$(count)" = "$n" ] || fail "a second upload changed the count"
ok "every measurement reached the collector exactly once ($n)"
cl "$K" verify --server "$URL" >"$S/vs.out" || fail "verify --server: $(cat "$S/vs.out")"
grep -q "ok: $n records" "$S/vs.out" || fail "verify --server count: $(cat "$S/vs.out")"
cl "$K" verify "$S/home/outbox" >"$S/vl.out" || fail "verify outbox: $(cat "$S/vl.out")"
ok "signatures and chain verify on the collector and in the outbox"
