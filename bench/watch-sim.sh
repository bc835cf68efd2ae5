#!/usr/bin/env bash
# bench/watch-sim.sh: keepon watch --driver sim at Internet scale: 4,194,304 /24 blocks
# (64 /8s of model addresses: no packet is sent), 16 E(b) hosts each, A uniform in
# [0.3, 0.95], 1 % loss; 12.5 % of the blocks go out in rounds 2-3 so the adaptive and
# recovery paths run too. Reports CPU seconds per round (engine + the sim model's own work),
# bytes of state per block, and peak RSS. Usage: bench/watch-sim.sh [KEEPON_BIN]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-${KP_BIN:-$here/build/src/cli/keepon}}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export KEEPON_HOME=$tmp/home
python3 - "$tmp/model.json" <<'PY'
import json, sys
blocks = [{"prefix": f"{x}.0.0.0/8", "hosts": 16, "a_min": 0.3, "a_max": 0.95} for x in range(1, 65)]
outs = [{"prefixes": [f"{x}.0.0.0/8" for x in range(1, 9)], "start": 1200, "end": 2400}]
json.dump({"start": "2022-01-05T00:00:00Z", "seed": 1, "loss": 0.01, "rtt_ms": 100,
           "blocks": blocks, "outages": outs}, open(sys.argv[1], "w"))
PY
/usr/bin/time -v "$bin" watch --sim "$tmp/model.json" --round 600 --rounds 5 --detail none \
  --no-geo-default --cc ZZ --signals "$tmp/sig.jsonl" --out /dev/null -v 2> "$tmp/err"
grep -E "keepon watch:" "$tmp/err"
grep -E "Maximum resident|Elapsed|User time|System time" "$tmp/err"
cat "$tmp/sig.jsonl"
