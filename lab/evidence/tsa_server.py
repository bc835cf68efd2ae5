#!/usr/bin/env python3
"""tsa_server.py CONFIG PORTFILE: a local RFC 3161 time-stamping authority for tests.

Answers POST (Content-Type application/timestamp-query) with `openssl ts -reply -config CONFIG`
on 127.0.0.1 at an ephemeral port, written to PORTFILE. Started and stopped by PID by the test
that made the TSA's keys; it never listens beyond loopback.
"""
import http.server
import os
import subprocess
import sys
import tempfile

CONFIG, PORTFILE = sys.argv[1], sys.argv[2]


class TSA(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n) if 0 < n < 1 << 20 else b""
        if self.headers.get("Content-Type", "") != "application/timestamp-query" or not body:
            self.send_response(400)
            self.end_headers()
            return
        with tempfile.TemporaryDirectory() as d:
            q, r = os.path.join(d, "q.tsq"), os.path.join(d, "r.tsr")
            with open(q, "wb") as f:
                f.write(body)
            p = subprocess.run(["openssl", "ts", "-reply", "-config", CONFIG, "-queryfile", q, "-out", r],
                               capture_output=True)
            if p.returncode != 0:
                self.send_response(500)
                self.end_headers()
                return
            data = open(r, "rb").read()
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


srv = http.server.HTTPServer(("127.0.0.1", 0), TSA)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
