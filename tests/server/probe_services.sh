#!/usr/bin/env bash
# probe_services.sh: a stock OONI Probe's request sequence against a live `keepon serve`.
# Built from ooni/probe-cli (internal/probeservices/*.go, shapes in internal/model/ooapi.go) and
# OONI's backend spec; each request below names the file it comes from. Checks: the bootstrap
# answers parse as probe-cli expects; a zstd-bodied submit is stored once with fastpath flags
# (confirmed for the real Indonesian blockpage, blocking_type dns for a DNS-blocked copy); a bomb is refused (413).
set -euo pipefail
BIN=${KP_BIN:-build/src/cli/keepon}
T=$(mktemp -d /tmp/kp-probe-services.XXXXXX)
SRV=
cleanup() {
  [ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export KEEPON_HOME=$T/home KEEPON_DATA=${KP_SRC:-.}/data
SH=${KP_SHARED_DATA:-../shared/data}
REAL=$SH/ooni/real/20250527233111.802678_ID_webconnectivity_5a37ec909dbf14e3.json
[ -r "$REAL" ] || { echo "skip: $REAL absent (../shared/data)"; exit 77; }
command -v zstd >/dev/null || { echo "skip: zstd missing"; exit 77; }

printf 'https://example.org/,NEWS\nhttps://example.com/\nnot a url\n' > "$T/list.txt"
"$BIN" serve --db "$T/c.db" --listen 127.0.0.1:0 --test-list "$T/list.txt" \
  --test-helpers https://th1.example.net,https://th2.example.net --public-url https://collector.example.net \
  2> "$T/serve.log" &
SRV=$!
for _ in $(seq 50); do grep -q 'port [0-9]' "$T/serve.log" 2>/dev/null && break; sleep 0.1; done
PORT=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$T/serve.log")
[ -n "$PORT" ] || fail "server did not start"

python3 - "http://127.0.0.1:$PORT" "$REAL" "$T" <<'PY'
import json, subprocess, sys, urllib.request
base, real, tmp = sys.argv[1], sys.argv[2], sys.argv[3]
def req(method, path, body=None, zstd=False):
    data = None
    h = {"Content-Type": "application/json", "User-Agent": "ooniprobe-cli/3.22.0"}
    if body is not None:
        data = json.dumps(body).encode()
        if zstd:
            data = subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True, check=True).stdout
            h["Content-Encoding"] = "zstd"
    r = urllib.request.Request(base + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(r, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, None
def check(c, what):
    if not c: print("FAIL:", what, file=sys.stderr); sys.exit(1)
    print("ok  ", what)

# 1. internal/probeservices/bouncer.go GetTestHelpers (benchselect.go uses it to pick a service)
s, th = req("GET", "/api/v1/test-helpers")
check(s == 200 and [x["address"] for x in th["web-connectivity"]] == ["https://th1.example.net", "https://th2.example.net"]
      and all(x["type"] == "https" for x in th["web-connectivity"]), "test-helpers: map of []OOAPIService")
# 2. internal/probeservices/register.go (POST /api/v1/register) then login.go (POST /api/v1/login)
s, r = req("POST", "/api/v1/register", {"metadata": {"platform": "linux", "probe_asn": "AS23693", "probe_cc": "ID",
      "software_name": "ooniprobe-cli", "software_version": "3.22.0", "supported_tests": ["web_connectivity"]},
      "password": "x" * 64})
check(s == 200 and len(r["client_id"]) >= 16, "register: client_id")
s, l = req("POST", "/api/v1/login", {"username": r["client_id"], "password": "x" * 64})
check(s == 200 and l["token"] and l["expire"].endswith("Z"), "login: token, expire")
# 3. internal/probeservices/checkin.go (POST /api/v1/check-in, body model.OOAPICheckInConfig)
cfg = {"charging": True, "on_wifi": True, "platform": "linux", "probe_asn": "AS23693", "probe_cc": "ID",
       "run_type": "timed", "software_name": "ooniprobe-cli", "software_version": "3.22.0",
       "web_connectivity": {"category_codes": []}}
s, ci = req("POST", "/api/v1/check-in", cfg)
check(s == 200 and ci["v"] == 1 and ci["probe_cc"] == "ID" and ci["probe_asn"] == "AS23693", "check-in: v, probe_cc, probe_asn")
wc = ci["tests"]["web_connectivity"]
check([u["url"] for u in wc["urls"]] == ["https://example.org/", "https://example.com/"] and
      [u["category_code"] for u in wc["urls"]] == ["NEWS", "MISC"] and wc["urls"][0]["country_code"] == "ID",
      "check-in: the configured URLs (OOAPIURLInfo), the non-URL line skipped")
check(wc["report_id"].split("_")[1:4] == ["webconnectivity", "ID", "23693"], "check-in: a report id for web_connectivity")
check(ci["conf"]["test_helpers"]["web-connectivity"] == th["web-connectivity"], "check-in: conf.test_helpers")
s, zci = req("POST", "/api/v1/check-in", cfg, zstd=True)
check(s == 200 and zci["probe_cc"] == "ID", "check-in with a zstd body")
s, _ = req("POST", "/api/v1/check-in", dict(cfg, probe_cc="id"))
check(s == 400, "check-in with a malformed probe_cc: 400")
# (keepon extras a probe may query: collectors, paginated test list)
s, co = req("GET", "/api/v1/collectors")
check(s == 200 and co == [{"address": "https://collector.example.net", "type": "https"}], "collectors")
s, tl = req("GET", "/api/v1/test-list/urls?probe_cc=ID&limit=1&offset=1")
check(s == 200 and tl["metadata"]["total"] == 2 and [u["url"] for u in tl["results"]] == ["https://example.com/"],
      "test-list/urls: paginated")
# 4. internal/probeservices/collector.go OpenReport (POST /report, model.OOAPIReportTemplate)
m = json.load(open(real))
tmpl = {k: m[k] for k in ["probe_asn", "probe_cc", "software_name", "software_version", "test_name", "test_start_time", "test_version"]}
tmpl.update(data_format_version="0.2.0", format="json")
s, op = req("POST", "/report", tmpl)
check(s == 200 and "json" in op["supported_formats"], "open report: supported_formats has json")
rid = op["report_id"]
# 5. collector.go SubmitMeasurement: m.ReportID = channel id; POST /report/{id} {format, content} -- zstd-bodied
m["report_id"] = rid
s, sub = req("POST", "/report/" + rid, {"format": "json", "content": m}, zstd=True)
check(s == 200 and sub["measurement_uid"], "submit (zstd): measurement_uid (HTTP %d)" % s)
s, sub2 = req("POST", "/report/" + rid, {"format": "json", "content": m}, zstd=True)
check(s == 200 and sub2["measurement_uid"] == sub["measurement_uid"], "re-submit: the same uid (stored once)")
b = json.loads(json.dumps(m)); b["test_keys"]["blocking"] = "dns"; b["test_keys"]["accessible"] = False
b["input"] = "https://blocked.example/"
s, sub3 = req("POST", "/report/" + rid, {"format": "json", "content": b}, zstd=True)
check(s == 200, "submit a DNS-blocked copy")
# 6. legacy close (collector.go no longer calls it; OONI's backend answers 200)
s, _ = req("POST", "/report/" + rid + "/close", {})
check(s == 200, "close")
# stored with fastpath flags
s, q = req("GET", "/api/v1/measurements?probe_cc=ID")
rs = {x["input"]: x for x in q["results"]}
check(len(q["results"]) == 2, "2 measurements stored (the re-submit not duplicated)")
check(rs[m["input"]]["confirmed"] is True and rs[m["input"]]["anomaly"] is True and rs[m["input"]]["report_id"] == rid,
      "real measurement (ID blockpage, OONI fingerprint id_lamanlabuh_kominfo): confirmed, the report id")
check(rs["https://blocked.example/"]["anomaly"] is True and rs["https://blocked.example/"]["blocking_type"] == "dns",
      "blocked copy: anomaly, blocking_type dns (fastpath)")
# a zstd bomb: 64 MiB of zeros compress to a few KiB; refused before it is inflated past the cap
bomb = subprocess.run(["zstd", "-q", "-c"], input=b"0" * (64 << 20), capture_output=True, check=True).stdout
r = urllib.request.Request(base + "/report/" + rid, data=bomb, method="POST",
                           headers={"Content-Type": "application/json", "Content-Encoding": "zstd"})
try:
    urllib.request.urlopen(r, timeout=10); code = 200
except urllib.error.HTTPError as e:
    code = e.code
check(code == 413, "zstd bomb (%d KiB -> 64 MiB): 413" % (len(bomb) // 1024))
PY
