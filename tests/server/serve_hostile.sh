#!/usr/bin/env bash
# serve_hostile.sh: live hostile-client load test (serve_hostile.py) against `keepon serve` on
# loopback; the server is started here and stopped by its PID, also on failure.
set -u
BIN=${KP_BIN:?KP_BIN not set}
T=$(mktemp -d /tmp/kpt-serve-hostile-XXXXXX)
SRV=
cleanup() {
  [ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
command -v python3 >/dev/null || { echo "skip: python3 absent"; exit 77; }
export KEEPON_HOME=$T/home KEEPON_DATA=${KP_SRC:-.}/data
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/token"; chmod 600 "$T/token"
ulimit -n 4096 2>/dev/null
# ASan keeps freed blocks in a quarantine of up to 256 MiB, which shows as RSS growth the server
# itself would give back; a small quarantine keeps the RSS bound meaningful in the sanitizer suite
[ "${KP_SANITIZE:-0}" = 1 ] && export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8"
"$BIN" serve --db "$T/c.db" --listen 127.0.0.1:0 --admin-token-file "$T/token" --head-timeout 2 2> "$T/serve.log" &
SRV=$!
for _ in $(seq 50); do grep -q 'port [0-9]' "$T/serve.log" 2>/dev/null && break; sleep 0.1; done
PORT=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$T/serve.log")
[ -n "$PORT" ] || { cat "$T/serve.log"; echo "FAIL: server did not start"; exit 1; }
python3 "$(dirname "$0")/serve_hostile.py" "$PORT" "$SRV" "$T/token"
rc=$?
[ $rc = 0 ] || tail -5 "$T/serve.log"
exit $rc
