#!/usr/bin/env bash
# probe_web.sh: `keepon probe web` on 1,000 URLs of the QA world's hosts (a mix of open and
# blocked), default parallelism; reports wall time, URL/s, verdict counts and peak RSS.
#   bench/probe_web.sh [BUILD_DIR]     (root; needs dnsmasq, python3-cryptography)
# Blocked: www.example.com over HTTPS (TLS RST on its SNI) and www.example.org (DNS forged to
# 127.0.0.1); open: ya.ru, httpbin.com, largefile-free pages. Namespaces kqb<pid>-*, torn down
# on exit. Figures go into docs/web.md by hand.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$SRC/build-wc}
KEEPON=$B/src/cli/keepon
P=kqb$(( $$ % 100000 ))
D=$(mktemp -d /tmp/kp-bench.XXXXXX)
trap 'python3 "$SRC/lab/qa/world.py" down "$D/w" "$P" >/dev/null 2>&1; rm -rf "$D"' EXIT INT TERM
python3 "$SRC/lab/qa/world.py" up "$D/w" "$P" "$KEEPON"
cat >"$D/bench.json" <<'J'
[{"name": "bench", "input": "http://www.example.com/", "applies_to": ["v0.5"],
  "network": {"dpi": [{"rule": "reset_on_tls_sni", "sni": "www.example.com", "dst": "any"},
                      {"rule": "spoof_dns_response", "qname": "www.example.org", "answer": ["127.0.0.1"]}]}}]
J
python3 "$SRC/lab/qa/world.py" apply "$D/w" "$P" "$D/bench.json" bench >/dev/null
python3 - "$D/list.csv" <<'PY'
import sys
urls = []
for i in range(1000):
    k = i % 10
    urls.append(["https://www.example.com/?n=%d" % i,       # blocked: TLS reset
                 "http://www.example.org/?n=%d" % i,         # blocked: DNS -> 127.0.0.1
                 "http://www.example.com/?n=%d" % i,         # open
                 "https://ya.ru/?n=%d" % i,                  # open
                 "http://httpbin.com/?n=%d" % i,             # open
                 "https://httpbin.com/?n=%d" % i,            # open
                 "http://ya.ru/?n=%d" % i,                   # open
                 "https://www.example.com/x%d" % i,          # blocked: TLS reset
                 "http://www.example.org/x%d" % i,           # blocked: DNS
                 "https://bit.ly/21645?n=%d" % i][k])        # 404 from bit.ly: open
with open(sys.argv[1], "w") as f:
    f.write("url,category_code\n")
    for u in urls:
        f.write(u + ",NEWS\n")
PY
start=$(date +%s.%N)
KEEPON_HOME=$D/home /usr/bin/time -v ip netns exec "$P-cl" "$KEEPON" probe web --list "$D/list.csv" \
  --helper http://198.18.5.80:80/ --resolver 198.18.4.53 --ca-file "$D/w/pki/ca.crt" --lab \
  -o "$D/out.jsonl" >"$D/summary.txt" 2>"$D/time.txt"
end=$(date +%s.%N)
cat "$D/summary.txt"
secs=$(python3 -c "print(round($end - $start, 1))")
rss=$(awk -F: '/Maximum resident/ {gsub(/ /, "", $2); print $2}' "$D/time.txt")
lines=$(wc -l <"$D/out.jsonl")
python3 - "$D/out.jsonl" <<'PY'
import json, sys
wrong = []
for line in open(sys.argv[1]):
    m = json.loads(line); u = m["input"]; tk = m["test_keys"]
    want = "http-failure" if u.startswith("https://www.example.com") else "dns" if "example.org" in u else False
    if tk["blocking"] != want:
        wrong.append((u, tk["blocking"], tk["dns_experiment_failure"], tk["http_experiment_failure"],
                      [(q["engine"], q["query_type"], q["failure"]) for q in tk["queries"] if q["failure"]]))
print("verdicts different from the ground truth: %d" % len(wrong))
for w in wrong[:10]:
    print("  ", w)
PY
echo "bench probe_web: $lines measurements in ${secs} s, peak RSS ${rss} KiB (parallel default), $(nproc) cores"
