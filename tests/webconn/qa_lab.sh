#!/usr/bin/env bash
# qa_lab.sh: every scenario of OONI's QA file, recreated in the QA world, must PASS or SKIP
# with a stated reason (`keepon lab qa`).
# Namespaces kqt<pid>-*, addresses 198.18.0.0/15 only; the world is torn down on every exit path.
set -u
SHARD=${1:-0/1}
SCEN=${KP_SHARED_DATA:-$KP_SRC/../shared/data}/ooni/qa/scenarios.json
[ -r "$SCEN" ] || { echo "skip: $SCEN absent (set KP_SHARED_DATA)"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "skip: needs root for network namespaces"; exit 77; }
command -v dnsmasq >/dev/null && python3 -c 'import cryptography' 2>/dev/null || { echo "skip: dnsmasq/python3-cryptography missing"; exit 77; }
P=kqt$(( $$ % 100000 ))
STATE=$(mktemp -d /tmp/kp-qa.XXXXXX)
cleanup() { python3 "$KP_SRC/lab/qa/world.py" down "$STATE/w" "$P" >/dev/null 2>&1; rm -rf "$STATE"; }
trap cleanup EXIT INT TERM
OUT=$STATE/out.txt
KEEPON_LAB_DIR=$KP_SRC/lab "$KP_BIN" lab qa "$SCEN" --shard "$SHARD" --prefix "$P" --state "$STATE/w" >"$OUT" 2>&1
rc=$?
cat "$OUT"
tail -n 1 "$OUT" | grep -Eq '^[0-9]+ passed, 0 failed$' || { echo "FAIL: not every scenario passed (rc $rc)"; exit 1; }
n=$(grep -c '^PASS ' "$OUT"); s=$(grep -c '^SKIP ' "$OUT")
[ "$((n + s))" = "$(python3 -c "import json,sys;k,m=map(int,sys.argv[2].split('/'));print(len(json.load(open(sys.argv[1]))[k::m]))" "$SCEN" "$SHARD")" ] || { echo "FAIL: scenarios missing from the report"; exit 1; }
grep -q '^SKIP [^:]*: .\+' "$OUT" || [ "$s" = 0 ] || { echo "FAIL: a SKIP without a reason"; exit 1; }
# nothing left behind
ip netns list | grep -q "^$P-" && { echo "FAIL: namespaces left"; exit 1; }
echo "ok: $n passed, $s skipped"
