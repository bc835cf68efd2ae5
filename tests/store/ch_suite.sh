#!/usr/bin/env bash
# ch_suite.sh: the store contract suite (test_store_both) against real ClickHouse servers this
# script starts: one node, then a 2-shard cluster through its Distributed tables. In both
# runs answers_identical compares every answer with SQLite's on the same data.
set -u
. "$(dirname "$0")/ch_lab.sh"
ch_need
SUITE=${KP_BUILD:?KP_BUILD not set}/tests/store/test_store_both
[ -x "$SUITE" ] || { echo "skip: $SUITE not built"; exit 77; }
T=$(mktemp -d /tmp/kpt-ch-suite-XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do ch_stop "$p"; done; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

ch_start "$T/one" || fail "clickhouse-server did not start"
PIDS+=("$CH_PID")
echo "== one node (HTTP $CH_HTTP)"
KP_STORE_URL="clickhouse://127.0.0.1:$CH_HTTP/kpt" "$SUITE" || fail "suite on one node"
ch_stop "$CH_PID"

P1=($(ch_free_ports 3)) P2=($(ch_free_ports 3))
SPEC=$(ch_cluster "127.0.0.1:${P1[1]} 127.0.0.1:${P2[1]}")
CH_PORTS="${P1[*]}" ch_start "$T/s1" "$SPEC" || fail "shard 1 did not start"
PIDS+=("$CH_PID")
CH_PORTS="${P2[*]}" ch_start "$T/s2" "$SPEC" || fail "shard 2 did not start"
PIDS+=("$CH_PID")
echo "== 2-shard cluster (HTTP ${P1[0]}, ${P2[0]})"
KP_STORE_URL="clickhouse://127.0.0.1:${P1[0]},127.0.0.1:${P2[0]}/kpt?cluster=kp" "$SUITE" || fail "suite on the cluster"
KP_STORE_URL="clickhouse://127.0.0.1:${P1[0]},127.0.0.1:${P2[0]}/kpt?cluster=kp" "$KP_BUILD/tests/store/test_ch_repair" \
  || fail "msm_key gap on the cluster"
# the data really is spread: both shards hold rows of the last suite database
for port in "${P1[0]}" "${P2[0]}"; do
  n=$(ch_q "$port" "SELECT sum(rows) FROM system.parts WHERE active AND table = 'measurements_local'")
  [ "${n:-0}" -gt 0 ] || fail "shard on HTTP $port holds no measurements"
  echo "ok   shard on HTTP $port holds $n measurement rows"
done
