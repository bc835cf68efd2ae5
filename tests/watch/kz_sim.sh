#!/usr/bin/env bash
# kz_sim.sh: keepon watch --driver sim over Kazakhstan's 12,587 /24s replaying the January 2022
# windows (tests/watch/kz_model.py); every window must be recovered within one 600 s round.
set -euo pipefail
src=${KP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${KP_BIN:?KP_BIN not set}
shared=${KP_SHARED_DATA:-$src/../shared/data}
[ -f "$shared/geo/kz.cidr" ] || { echo "skip: ../shared/data/geo/kz.cidr absent"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export KEEPON_HOME=$tmp/home
python3 "$src/tests/watch/kz_model.py" model "$tmp/kz.json" "$shared/geo/kz.cidr" \
  "$src/tests/watch/fixtures/kz-synthetic-geo.csv"
# Jan 5 00:04 .. Jan 9 12:04 = 108 h = 648 rounds
"$bin" watch --sim "$tmp/kz.json" --round 600 --rounds 648 --detail none --no-geo-default \
  --geo-table "$src/tests/watch/fixtures/kz-synthetic-geo.csv" --signals "$tmp/sig.jsonl" \
  --out "$tmp/blocks.jsonl"
n=$(grep -c '"entity_type":"country"' "$tmp/sig.jsonl")
[ "$n" = 648 ] || { echo "expected 648 country points, got $n"; exit 1; }
python3 "$src/tests/watch/kz_model.py" check "$tmp/kz.json" "$tmp/sig.jsonl"
