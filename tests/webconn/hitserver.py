#!/usr/bin/env python3
"""hitserver.py BIND PORT HITS [LOCATION]: a TCP server for the helper's SSRF test.
Counts every accepted connection (one line per accept in HITS, written before any byte
is read, so a bare TCP connect counts too), then answers any request with a page titled
INTERNAL, or with a 302 to LOCATION when given. Dual-stack when BIND is '::'."""
import socket, sys, threading

bind, port, hits = sys.argv[1], int(sys.argv[2]), sys.argv[3]
location = sys.argv[4] if len(sys.argv) > 4 else None
fam = socket.AF_INET6 if ":" in bind else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if fam == socket.AF_INET6:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind((bind, port))
s.listen(64)
lock = threading.Lock()

def serve(c, peer):
    with lock, open(hits, "a") as f:
        f.write("%s\n" % (peer[0],))
    try:
        c.settimeout(3)
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = c.recv(4096)
            if not chunk:
                return
            data += chunk
        if location:
            c.sendall(("HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                       % location).encode())
        else:
            body = b"<html><head><title>INTERNAL</title></head><body>secret</body></html>"
            c.sendall(b"HTTP/1.1 200 OK\r\nX-Internal: yes\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                      % len(body) + body)
    except OSError:
        pass
    finally:
        c.close()

while True:
    c, peer = s.accept()
    threading.Thread(target=serve, args=(c, peer), daemon=True).start()
