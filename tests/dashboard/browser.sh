#!/usr/bin/env bash
# browser.sh: the dashboard in headless Chromium against a real `keepon serve`.
# Starts keepon serve on 127.0.0.1 (random port, temp database), loads synthetic signals,
# incidents and entity metadata through its HTTP API, then runs browser.js (playwright-core,
# Debian's /usr/bin/chromium): page loads, SVG plots with data points, shaded incidents,
# incident list, blocking matrix, drill-down country -> region, no console errors.
# Artifact: $KP_BUILD/test-artifacts/dashboard.png. Skips (77) when serve is not built, when
# chromium is absent, or when npm cannot install playwright-core (no network).
set -euo pipefail
src=${KP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${KP_BIN:-$src/build/src/cli/keepon}
build=${KP_BUILD:-$src/build}
here=$src/tests/dashboard
skip() { echo "skip: $*"; exit 77; }

[ -x "$bin" ] || skip "no keepon binary at $bin"
"$bin" serve --help >/dev/null 2>&1 || skip "keepon serve is not built yet"
chrome=${KP_CHROMIUM:-/usr/bin/chromium}
[ -x "$chrome" ] || skip "no chromium at $chrome (scripts/deps.sh installs it)"
command -v node >/dev/null || skip "node not found"
npmdir=$src/var/npm
"$src/scripts/npm-deps.sh" "$npmdir" >/dev/null 2>&1 || skip "npm could not install playwright-core (offline?)"

tmp=$(mktemp -d /tmp/kpt-dash-$$.XXXX)
serve_pid=
cleanup() {
  if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# a free port: try a few random ones until serve stays up
for try in 1 2 3 4 5; do
  port=$((20000 + RANDOM % 20000))
  head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$tmp/token"; chmod 600 "$tmp/token"
  KEEPON_DATA=$src/data KEEPON_HOME=$tmp/home "$bin" serve --admin-token-file "$tmp/token" --listen "127.0.0.1:$port" --db "$tmp/keepon.db" >"$tmp/serve.log" 2>&1 &
  serve_pid=$!
  for _ in $(seq 50); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/api/v1/health" 2>/dev/null && break 2
    kill -0 "$serve_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; serve_pid=
done
[ -n "$serve_pid" ] || { cat "$tmp/serve.log"; echo "FAIL: keepon serve did not come up"; exit 1; }
base=http://127.0.0.1:$port
curl -fsS -o /dev/null "$base/" || { cat "$tmp/serve.log"; echo "FAIL: keepon serve does not serve the dashboard at /"; exit 1; }

node "$here/synth.js" "$tmp/data"
post() { curl -fsS -X POST -H 'Expect:' -H "Authorization: Bearer $(cat "$tmp/token")" -H "Content-Type: ${3:-application/json}" --data-binary "@$2" "$base$1"; echo; }
post /api/v1/signals "$tmp/data/signals.jsonl" application/x-ndjson
post /api/v1/incidents "$tmp/data/incidents.json"
post /api/v1/entities "$tmp/data/entities.json"
# 2,500 more networks in KZ: the entity listing is paged (1000 nodes a page), so KZ's subtree
# spans three pages the page must fetch and merge (browser.js counts them under one KZ)
node -e 'console.log(JSON.stringify(Array.from({length: 2500}, (_, k) => ({type: "asn", code: "AS" + (70000 + k), cc: "KZ"}))))' > "$tmp/more.json"
post /api/v1/entities "$tmp/more.json"

# three watch vantages merged by the collector (country LB, 10 /24s, 6 rounds from T0); v3 is blind
# in rounds 3-4: the page lists its fault and labels LB's ping plot with the vantages' agreement
for k in 0 1 2 3 4 5; do
  for v in v1 v2 v3; do
    st=up; [ "$v" = v3 ] && [ "$k" -ge 3 ] && [ "$k" -le 4 ] && st=down
    { printf '{"type":"vantage","vantage":"%s","t":%d,"step":600,"entities":["country/LB"]}\n' "$v" $((1641254400 + 600 * k))
      for b in 0 1 2 3 4 5 6 7 8 9; do printf '{"block":"198.18.%d.0/24","state":"%s","e":[0]}\n' "$b" "$st"; done
    } > "$tmp/vpost.jsonl"
    post /api/v1/watch/blocks "$tmp/vpost.jsonl" application/x-ndjson > /dev/null
  done
done

mkdir -p "$build/test-artifacts"
NODE_PATH=$npmdir/node_modules node "$here/browser.js" "$base" "$build/test-artifacts/dashboard.png" "$chrome" "$tmp/chromium"
