#!/usr/bin/env python3
"""serve_hostile.py: live hostile clients against `keepon serve` (issue 13 item 4).

Started by serve_hostile.sh: one server on 127.0.0.1 (ephemeral port, its own database), attacked
from other loopback addresses (127.0.0.2...; Linux routes all of 127/8 to lo) while a victim
client on 127.0.0.1 must keep being served within 1 s. Bounded: at most ~700 sockets, every
phase a few seconds. Phases:
  many-sockets  600 idle connections from 127.0.0.2 (the per-address cap answers 503 past 32)
  slowloris     30 connections from 127.0.0.3 trickling a head one byte per 0.5 s
  oversize      bodies declared at 1 GiB, 64 KiB heads, 100 at once from 127.0.0.4
  large+unread  40 measurements with 1 MiB inputs, then 10 clients (127.0.0.10-19) each ask
                for /api/v1/measurements?limit=40 and never read; server RSS stays bounded
  entities      30,000 entities posted (with the token), then GET /api/v1/entities: < 1 s; the
                default page is bounded with a next marker, and the pages reach all 30,000
Exit 0 when every victim request in every phase finished within 1 s; prints the figures.
"""
import json, os, socket, sys, threading, time

PORT = int(sys.argv[1]); PID = int(sys.argv[2]); TOKEN = open(sys.argv[3]).read().strip()
# the promise is 1 s (checked in the release suite); an ASan+UBSan Debug build runs the same
# loop 3-5x slower, so there the bound is 4 s: the mechanism is tested, not the figure
LIMIT_S = 4.0 if os.environ.get("KP_SANITIZE") == "1" else 1.0
worst = {}

def rss_mib():
    with open(f"/proc/{PID}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return -1

def conn(src="127.0.0.1", timeout=5):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", PORT))
    return s

def request(method, path, body=b"", headers=None, src="127.0.0.1", timeout=5, full=False):
    h = {"Host": "localhost", "Connection": "close"}
    if body or method == "POST":
        h["Content-Length"] = str(len(body))
    h.update(headers or {})
    s = conn(src, timeout)
    s.sendall((f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n").encode() + body)
    data = b""
    while True:
        d = s.recv(1 << 16)
        if not d:
            break
        data += d
    s.close()
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.") else 0
    if full:  # (status, head, body)
        head, _, rest = data.partition(b"\r\n\r\n")
        return status, head + b"\r\n", rest
    return status, data.split(b"\r\n\r\n", 1)[-1]

def victim(phase, n=5):
    """the well-behaved client: every request must be answered 200 within LIMIT_S"""
    for path in ["/api/v1/health", "/api/v1/measurements?limit=1"] * n:
        t0 = time.monotonic()
        try:
            st, _ = request("GET", path, timeout=LIMIT_S + 2)
        except OSError as e:
            st = f"error {e}"
        dt = time.monotonic() - t0
        worst[phase] = max(worst.get(phase, 0), dt)
        if st != 200 or dt > LIMIT_S:
            print(f"FAIL {phase}: victim {path} -> {st} after {dt:.3f} s")
            sys.exit(1)

def phase_many_sockets():
    socks, refused = [], 0
    for _ in range(600):
        try:
            socks.append(conn("127.0.0.2"))
        except OSError:
            refused += 1
    time.sleep(0.3)
    victim("many-sockets")
    answered = 0
    for s in socks:  # the ones past the cap were answered 503 and closed by the server
        s.setblocking(False)
        try:
            if s.recv(100).startswith(b"HTTP/1.1 503"):
                answered += 1
        except OSError:
            pass
    for s in socks:
        s.close()
    print(f"many-sockets: 600 from 127.0.0.2, {answered} answered 503 at once, {refused} refused by the kernel")
    if answered < 500:
        print("FAIL many-sockets: the per-address cap did not answer the excess")
        sys.exit(1)

def phase_slowloris():
    socks = [conn("127.0.0.3") for _ in range(30)]
    stop = time.monotonic() + 3
    head = b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\nX-Slow: "
    i = 0
    while time.monotonic() < stop:
        for s in socks:
            try:
                s.send(head[i:i + 1] if i < len(head) else b"a")
            except OSError:
                pass
        i += 1
        victim("slowloris", 1)
        time.sleep(0.3)
    for s in socks:
        s.close()
    print("slowloris: 30 trickling connections from 127.0.0.3 for 3 s")

def phase_oversize():
    socks = []
    for k in range(100):
        s = conn("127.0.0.4")
        if k % 2:
            s.sendall(b"POST /report HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 1073741824\r\n\r\n" + b"{" * 65536)
        else:
            try:
                s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n")
            except OSError:
                pass
        socks.append(s)
    victim("oversize")
    codes = {}
    for s in socks:
        try:
            d = s.recv(100)
            codes[d[9:12].decode() or "closed"] = codes.get(d[9:12].decode() or "closed", 0) + 1
        except OSError:
            codes["reset"] = codes.get("reset", 0) + 1
        s.close()
    print(f"oversize: 100 from 127.0.0.4 answered {codes}")
    if codes.get("413", 0) + codes.get("503", 0) < 40 or codes.get("431", 0) + codes.get("503", 0) < 1:
        print("FAIL oversize: 1 GiB bodies not 413 / 64 KiB heads not 431")
        sys.exit(1)

def phase_large_unread():
    st, b = request("POST", "/report", json.dumps({"probe_cc": "KZ", "probe_asn": "AS9198", "test_name": "web_connectivity",
                    "software_name": "t", "software_version": "1", "format": "json"}).encode(), {"Content-Type": "application/json"})
    rid = json.loads(b)["report_id"]
    def put(inp, keys):
        m = {"format": "json", "content": {"probe_cc": "KZ", "probe_asn": "AS9198", "test_name": "web_connectivity",
             "input": inp, "measurement_start_time": "2022-01-05 10:00:00", "test_keys": keys}}
        return request("POST", "/report/" + rid, json.dumps(m).encode(), {"Content-Type": "application/json"}, timeout=30)
    st, b = put("http://x.example/" + "a" * (1 << 20), {})
    if st != 400:
        print(f"FAIL large: a 1 MiB input was stored ({st})")
        sys.exit(1)
    for k in range(300):  # 300 distinct 4000-byte inputs (a 1.2 MB aggregation by input), 3 bodies of 1 MiB
        st, b = put(f"http://x{k}.example/" + "a" * 3970, {"blob": "b" * (1 << 20)} if k < 3 else {})
        if st != 200:
            print(f"FAIL large: storing a measurement -> {st} {b[:100]}")
            sys.exit(1)
    base = rss_mib()
    socks = []
    for k in range(10):
        s = conn(f"127.0.0.{10 + k}")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b"GET /api/v1/aggregation?axis_x=input&format=CSV HTTP/1.1\r\nHost: localhost\r\n\r\n"
                  b"GET /api/v1/measurements?limit=10000 HTTP/1.1\r\nHost: localhost\r\n\r\n" * 3)
        socks.append(s)
    time.sleep(1)
    victim("large+unread")
    peak = rss_mib()
    st, b = request("GET", "/api/v1/aggregation?axis_x=input", timeout=10)
    size = len(b)
    st2, b2 = request("GET", "/api/v1/measurements?limit=10000", timeout=10)
    for s in socks:
        s.close()
    print(f"large+unread: 1 MiB input refused; 300 x 4 KB inputs: aggregation page {size / 1024:.0f} KiB "
          f"(next_offset {json.loads(b).get('next_offset')}), measurements page {len(b2) / 1024:.0f} KiB; "
          f"10 non-reading clients: RSS {base:.0f} -> {peak:.0f} MiB")
    if peak - base > 64 or size > (2 << 20) or "next_offset" not in json.loads(b) or len(b2) > (2 << 20):
        print("FAIL large+unread: responses not bounded / not paged")
        sys.exit(1)

def phase_entities():
    ents = [{"type": "asn", "code": f"AS{64512 + k}", "cc": f"{chr(65 + k % 26)}{chr(65 + (k // 26) % 26)}",
             "region": ""} for k in range(30000)]
    body = json.dumps(ents).encode()
    t0 = time.monotonic()
    st, b = request("POST", "/api/v1/entities", body, {"Content-Type": "application/json",
                    "Authorization": "Bearer " + TOKEN}, timeout=60)
    post_s = time.monotonic() - t0
    if st != 200:
        print(f"FAIL entities: post -> {st} {b[:200]}")
        sys.exit(1)
    done = threading.Event()
    def reader():
        for _ in range(3):
            request("GET", "/api/v1/entities", src="127.0.0.5", timeout=60)
        done.set()
    t0 = time.monotonic()
    th = threading.Thread(target=reader)
    th.start()
    while not done.is_set():
        victim("entities", 1)
    th.join()
    get_s = (time.monotonic() - t0) / 3
    print(f"entities: 30,000 posted in {post_s:.2f} s; GET /api/v1/entities {get_s:.3f} s each")
    if get_s > LIMIT_S or post_s > 5:
        print("FAIL entities: registry not indexed")
        sys.exit(1)
    # paged (issue 13 item 4): the default page is bounded and names the next one (metadata and
    # X-Next-Offset); following the pages reaches every posted entity exactly once
    raw = request("GET", "/api/v1/entities", timeout=60, full=True)
    first = json.loads(raw[2])
    nxt = first.get("metadata", {}).get("next_offset")
    if raw[0] != 200 or len(raw[2]) > 200_000 or nxt is None or f"X-Next-Offset: {nxt}\r\n".encode() not in raw[1]:
        print(f"FAIL entities: GET not paged ({len(raw[2])} bytes, next_offset {nxt})")
        sys.exit(1)
    asns, off, pages = [], 0, 0
    def walk(nodes):
        for n in nodes:
            if n["type"] == "asn" and int(n["code"][2:]) >= 64512:
                asns.append(n["code"])
            walk(n.get("children", []))
    while True:
        st, b = request("GET", f"/api/v1/entities?offset={off}", timeout=60)
        doc = json.loads(b)
        pages += 1
        walk(doc["entities"])
        off = doc["metadata"].get("next_offset")
        if st != 200 or off is None or pages > 1000:
            break
    if len(asns) != 30000 or len(set(asns)) != 30000:
        print(f"FAIL entities: {pages} pages reach {len(set(asns))} of 30,000 entities ({len(asns)} listed)")
        sys.exit(1)
    print(f"entities: default page {len(raw[2]) / 1024:.0f} KiB, {pages} pages reach all 30,000 once")

for name, fn in [("many-sockets", phase_many_sockets), ("slowloris", phase_slowloris), ("oversize", phase_oversize),
                 ("large+unread", phase_large_unread), ("entities", phase_entities)]:
    victim(name + " (before)", 1)
    fn()
    time.sleep(0.2)
print("victim worst latency per phase: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in worst.items()))
print("PASS")
