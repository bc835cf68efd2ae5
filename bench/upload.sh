#!/usr/bin/env bash
# bench/upload.sh: `keepon upload` throughput to a loopback collector, plain HTTP vs HTTPS,
# one request per record vs batches, all in one run against the same `keepon serve`.
#
#   bench/upload.sh [BUILD_DIR] [N]      (default: build, 5000 records)
#
# One outbox of N signed records (kp outbox add) is copied fresh for every variant and every
# variant gets a fresh collector database, so each uploads the same N records into an empty
# store (verified, stored durably — synchronous=FULL — and acked durably by the probe):
#   http  --batch 1     direct to keepon serve, one POST /submit per record (the old protocol)
#   http  --batch 256   direct, POST /batch
#   https --batch 1     through the nginx TLS front (tests/httpc/tls_front.sh), test CA, by name
#   https --batch 256   idem, batches over one kept-alive TLS 1.3 connection
# Figures go into docs/serve.md by hand, with the machine and its load.
set -euo pipefail
B=${1:-build}
N=${2:-5000}
K=$B/src/cli/keepon
[ -x "$K" ] || { echo "build first: ninja -C $B keepon" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")/.." && pwd)
. "$HERE/tests/httpc/tls_front.sh"
T=$(mktemp -d /tmp/kp-bench-upload.XXXXXX)
SRV=
cleanup() { front_stop; [ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
export KEEPON_DATA=$HERE/data

start() {
  rm -f "$T"/c.db*
  "$K" serve --db "$T/c.db" --listen 127.0.0.1:0 2>"$T/serve.log" &
  SRV=$!
  for _ in $(seq 50); do grep -q 'port [0-9]' "$T/serve.log" 2>/dev/null && break; sleep 0.1; done
  PORT=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$T/serve.log")
}
stop() { kill "$SRV"; wait "$SRV" 2>/dev/null || true; SRV=; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$T/m.jsonl" "$N" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write('{"probe_cc":"KZ","probe_asn":"AS9198","test_name":"signal","measurement_start_time":"2022-01-05 10:00:00","report_id":"r","input":null,"i":%d,"test_keys":{"signal_backend_status":"ok","failure":null,"failed_operation":null}}\n' % i)
PY
KEEPON_HOME=$T/seed "$K" outbox add "$T/m.jsonl" 2>/dev/null
FP=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
front_pki "$T/pki" localhost

run() { # SCHEME BATCH
  start
  rm -rf "$T/home"
  cp -r "$T/seed" "$T/home"
  local url=http://127.0.0.1:$PORT extra=()
  if [ "$1" = https ]; then
    front_conf "$T/pki" "127.0.0.1:$FP" "127.0.0.1:$PORT" /v1
    front_start "$T/pki"
    for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$FP) 2>/dev/null && break; sleep 0.1; done
    url=https://localhost:$FP
    extra=(--path-prefix /v1 --ca-file "$T/pki/ca.crt")
  fi
  local t0 t1
  t0=$(date +%s.%N)
  KEEPON_HOME=$T/home "$K" upload --collector "$url" --batch "$2" "${extra[@]}" 2>"$T/up.log" ||
    { echo "upload failed: $(cat "$T/up.log")" >&2; exit 1; }
  t1=$(date +%s.%N)
  grep -q "$N delivered" "$T/up.log" || { echo "not all delivered: $(cat "$T/up.log")" >&2; exit 1; }
  printf '%-5s --batch %-4s %6s records/s  (%.2f s for %d; %s)\n' "$1" "$2" \
    "$(echo "$t0 $t1" | awk -v n="$N" '{printf "%.0f", n/($2-$1)}')" "$(echo "$t0 $t1" | awk '{print $2-$1}')" "$N" \
    "$(sed -n 's/.*pending, \([0-9]*\) attempts.*/\1 requests/p' "$T/up.log")"
  front_stop
  stop
}
[ -n "${SKIP_SINGLE:-}" ] || run http 1
run http 256
[ -z "${BIG:-}" ] || run http 1024
[ -n "${SKIP_SINGLE:-}" ] || run https 1
run https 256
[ -z "${BIG:-}" ] || run https 1024
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
