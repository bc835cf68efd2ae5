#!/usr/bin/env bash
# bench/serve.sh: collector ingest rate and latency, and outbox throughput, on loopback.
#
#   bench/serve.sh [BUILD_DIR]     (default: build; needs keepon and tests/server/kp_serve_load built)
#
# 1. ingest: `keepon serve` (SQLite WAL, synchronous=FULL, group commit) on 127.0.0.1 with a fresh
#    database; kp_serve_load opens one OONI report per client and submits distinct
#    web_connectivity measurements (~700 bytes) over keep-alive connections. Reported: accepted
#    measurements/s, p50 and p99 latency of a submission (request sent -> 200 received, which is
#    after the durable commit). Runs with 8, 32 and 128 concurrent clients, over plain HTTP and
#    over HTTPS served by keepon itself (--tls-cert/--tls-key, a P-256 certificate made here),
#    side by side in the same run; the HTTPS figure includes one handshake per client.
# 2. outbox: `keepon outbox add` of 2,000 measurements (each signed, chained, fdatasync'd), then
#    `keepon upload` of them to the local collector (one request per record, sequential).
# Figures go into docs/serve.md by hand, with the machine they came from.
set -euo pipefail
B=${1:-build}
K=$B/src/cli/keepon
L=$B/tests/server/kp_serve_load
[ -x "$K" ] && [ -x "$L" ] || { echo "build first: ninja -C $B keepon kp_serve_load" >&2; exit 2; }
T=$(mktemp -d /tmp/kp-bench-serve.XXXXXX)
SRV=
cleanup() { [ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
export KEEPON_DATA=$(cd "$(dirname "$0")/.." && pwd)/data KEEPON_HOME=$T/home

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
  -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
start() { # [tls]
  rm -f "$T"/c.db*
  local tls=()
  [ "${1:-}" = tls ] && tls=(--tls-cert "$T/cert.pem" --tls-key "$T/key.pem")
  "$K" serve --db "$T/c.db" --listen 127.0.0.1:0 --max-conns 1024 --max-conns-per-addr 1024 "${tls[@]}" 2>"$T/serve.log" &
  SRV=$!
  for _ in $(seq 50); do grep -q 'port [0-9]' "$T/serve.log" 2>/dev/null && break; sleep 0.1; done
  PORT=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$T/serve.log")
}
# server CPU seconds (user+system) so far: the client shares the machine, so the server's own
# cost per request is the figure that isolates TLS from the load generator's
cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$SRV/stat"; }
stop() { kill "$SRV"; wait "$SRV" 2>/dev/null || true; SRV=; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r)"
echo "== ingest (OONI collector protocol, loopback, fresh SQLite db per run)"
for c in 8 32 128; do
  per=$((24000 / c))
  for mode in http https; do
    [ $mode = https ] && start tls || start
    printf '%-5s %4d clients x %4d: ' "$mode" "$c" "$per"
    out=$(KP_LOAD_TLS=$([ $mode = https ] && echo 1 || echo 0) "$L" 127.0.0.1:$PORT "$c" "$per" b$c)
    echo "$out server_cpu_s=$(cpu)"
    stop
  done
done

[ "${KP_BENCH_INGEST_ONLY:-0}" = 1 ] && exit 0
echo "== outbox"
python3 - "$T/m.jsonl" <<'PY' 2>/dev/null || for i in $(seq 2000); do printf '{"probe_cc":"KZ","probe_asn":"AS9198","test_name":"signal","measurement_start_time":"2022-01-05 10:00:00","report_id":"r","input":null,"i":%d,"test_keys":{"signal_backend_status":"ok","failure":null,"failed_operation":null}}\n' "$i"; done > "$T/m.jsonl"
import sys
with open(sys.argv[1], "w") as f:
    for i in range(2000):
        f.write('{"probe_cc":"KZ","probe_asn":"AS9198","test_name":"signal","measurement_start_time":"2022-01-05 10:00:00","report_id":"r","input":null,"i":%d,"test_keys":{"signal_backend_status":"ok","failure":null,"failed_operation":null}}\n' % i)
PY
t0=$(date +%s.%N)
"$K" outbox add "$T/m.jsonl" 2>/dev/null
t1=$(date +%s.%N)
echo "append (sign + chain + fdatasync each): $(echo "$t0 $t1" | awk '{printf "%.0f records/s (%.2f s for 2000)", 2000/($2-$1), $2-$1}')"
start
t0=$(date +%s.%N)
"$K" upload --collector "http://127.0.0.1:$PORT" 2>/dev/null
t1=$(date +%s.%N)
echo "upload to a loopback collector (sequential, verified, acked durably): $(echo "$t0 $t1" | awk '{printf "%.0f records/s (%.2f s for 2000)", 2000/($2-$1), $2-$1}')"
t0=$(date +%s.%N)
"$K" verify "$KEEPON_HOME/outbox" >/dev/null
t1=$(date +%s.%N)
echo "verify (2000 signatures + chain): $(echo "$t0 $t1" | awk '{printf "%.2f s", $2-$1}')"
stop
