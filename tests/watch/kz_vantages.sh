#!/usr/bin/env bash
# kz_vantages.sh: the merge at Kazakhstan's scale. Three sim vantages over the 12,587 /24s of
# ../shared/data/geo/kz.cidr (the kz_sim model: A uniform in [0.2, 0.95], 1 % loss, January 5
# 2022 with the 10:30 UTC cut), each with its own seed (own answers, own A draw: more
# disagreement than real vantages of one country would have), 60 rounds of 600 s from Jan 5
# 02:04, posted to one `keepon serve`. Vantage c loses its uplink 03:00-05:00 (its model alone
# has everything silent then). Asserts: c's fault in those rounds and no other fault anywhere —
# not at the cut, when every vantage sees the country vanish, and not from the sparse blocks
# that lag a round; the merged country signal does not drop while c is blind; it is near 0 from
# the first round after 10:30 while the model's regional outage (inside c's blind span) still
# shows; the healthy vantages agree on >= 95 % of blocks before the cut.
set -euo pipefail
src=${KP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${KP_BIN:?KP_BIN not set}
shared=${KP_SHARED_DATA:-$src/../shared/data}
[ -f "$shared/geo/kz.cidr" ] || { echo "skip: ../shared/data/geo/kz.cidr absent"; exit 77; }
command -v curl >/dev/null || { echo "skip: curl missing"; exit 77; }
T=$(mktemp -d /tmp/kpt-kzv-XXXXXX)
SPID=
cleanup() {
  [ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export KEEPON_HOME=$T/home
cidr=$(cd "$(dirname "$shared/geo/kz.cidr")" && pwd)/kz.cidr
geo=$src/tests/watch/fixtures/kz-synthetic-geo.csv
python3 "$src/tests/watch/kz_model.py" model "$T/kz.json" "$cidr" "$geo"
python3 - "$T" <<'PY'
import json, sys
t = sys.argv[1]
m = json.load(open(t + "/kz.json"))
cidr = m["blocks"][0]["file"]
for v, seed in (("a", 11), ("b", 12), ("c", 13)):
    # 60 rounds from 02:04 (the collector keeps 64: the vantages here run one after the other)
    d = dict(m, seed=seed, start=m["start"] + 7200, outages=list(m["outages"]))
    if v == "c":  # c's own uplink: 2022-01-05 03:00-05:00 UTC
        d["outages"].append({"cidr": cidr, "start": 1641351600, "end": 1641358800})
    json.dump(d, open("%s/%s.json" % (t, v), "w"))
PY
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/token"; chmod 600 "$T/token"
"$bin" serve --admin-token-file "$T/token" --db "$T/db" --listen 127.0.0.1:0 2> "$T/serve.err" &
SPID=$!
PORT=
for _ in $(seq 100); do PORT=$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$T/serve.err"); [ -n "$PORT" ] && break; sleep 0.1; done
[ -n "$PORT" ] || { cat "$T/serve.err"; fail "serve did not start"; }
U=http://127.0.0.1:$PORT
for v in a b c; do
  "$bin" watch --sim "$T/$v.json" --round 600 --rounds 60 --detail none --no-geo-default --geo-table "$geo" \
    --vantage $v --collector "$U" --token-file "$T/token" --signals "$T/$v.sig.jsonl" -o /dev/null 2> "$T/$v.err" \
    || { tail -3 "$T/$v.err"; fail "watch $v"; }
  grep -q 'not delivered\|refused' "$T/$v.err" && fail "$v: $(grep -m1 'not delivered\|refused' "$T/$v.err")"
done
curl -s -o "$T/faults" "$U/api/v1/watch/faults?limit=10000"
curl -s -o "$T/sig" "$U/api/v1/signals/raw/country/KZ?from=1641340800&until=1641427200"
python3 - "$T/faults" "$T/sig" "$T/a.sig.jsonl" <<'PY' || fail "merge at Kazakhstan's scale"
import json, statistics, sys
faults = json.load(open(sys.argv[1]))["results"]
ser = {s["datasource"]: s for s in json.load(open(sys.argv[2]))["data"][0]}
up, ag = ser["ping-slash24"], ser["vantage-agreement"]
val = {up["from"] + i * 600: v for i, v in enumerate(up["values"]) if v is not None}
agr = {ag["from"] + i * 600: v for i, v in enumerate(ag["values"]) if v is not None}
own = {}
for line in open(sys.argv[3]):
    p = json.loads(line)
    # the collector files a round under its start rounded to the nearest 600 s (02:04 -> 02:00)
    if p["entity_type"] == "country": own[(p["t"] + 300) // 600 * 600] = p["value"]
assert len(val) == 60, len(val)
blind0, blind1, cut = 1641351600, 1641358800, 1641378600
ft = sorted(f["t"] for f in faults if f["vantage"] == "c")
other = [f for f in faults if f["vantage"] != "c"]
inside = [t for t in val if t >= blind0 and t + 600 <= blind1]
print("faults: c x%d (%s .. %s), others %d; blind rounds %d" % (len(ft), ft[:1], ft[-1:], len(other), len(inside)))
assert not other, other[:5]
assert set(inside) <= set(ft), sorted(set(inside) - set(ft))
assert all(blind0 - 600 <= t < blind1 for t in ft), ft
pre = [t for t in sorted(val) if t + 600 + 300 <= cut]  # rounds really start 4 min past the key
base = statistics.median(val[t] for t in pre)
# the merged signal is never below a healthy vantage's own (a block is down only when every
# healthy vantage sees it down: merged >= each; it recovers from the regional outage a round
# sooner than a alone, where b already sees the lagging blocks up); c's blindness does not show,
# and the model's regional outage (03:10-05:05, ~2,700 blocks, inside c's blind span) does
dev = max(own[t] - val[t] for t in pre)  # merged below a healthy vantage's own view
devs = sorted(((val[t] - own[t]), t) for t in pre)
print("merged - vantage a, extremes:", devs[:2], devs[-3:])
region = [val[t] for t in pre if 1641352200 <= t and t + 600 <= 1641359100]
print("merged country before the cut: median %d; largest difference to vantage a's own %d; "
      "during the regional outage %d..%d" % (base, dev, min(region), max(region)))
assert dev <= 0.03 * base, dev
assert max(region) <= base - 2000, region
outside = [val[t] for t in pre if not (1641352200 - 600 <= t < 1641359100 + 600)]
assert min(outside) >= 0.97 * base, min(outside)
first = min(t for t in val if t >= cut)
print("first round after 10:30: %d up (%.1f %%)" % (val[first], 100.0 * val[first] / base))
assert val[first] <= 0.05 * base, val[first]
mean_ag = statistics.mean(agr[t] for t in agr if t + 600 <= cut)
print("mean agreement before the cut: %.1f %%" % mean_ag)
assert mean_ag >= 95, mean_ag
PY
echo "ok: Kazakhstan-scale merge: c's fault only, no false outage, the cut found in its first round"
