#!/usr/bin/env python3
"""dns_answers.py SERVER NAME [TYPE]: send ONE UDP query and print every answer that arrives for
its ID within 1 s, in arrival order, one line each: "<ms> <rcode> <addr,addr|->". Unlike dig it
keeps reading after the first answer, so an injected answer and the true one both show."""
import random
import socket
import struct
import sys
import time

server, name = sys.argv[1], sys.argv[2]
qtype = {"A": 1, "AAAA": 28}.get(sys.argv[3] if len(sys.argv) > 3 else "A", 1)
fam = socket.AF_INET6 if ":" in server else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
qid = random.randrange(65536)
qname = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
s.sendto(struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + struct.pack(">HH", qtype, 1), (server, 53))
t0 = time.monotonic()
s.settimeout(0.05)
while time.monotonic() - t0 < 1.0:
    try:
        d = s.recv(4096)
    except socket.timeout:
        continue
    if len(d) < 12:
        continue
    rid, flags, qd, an = struct.unpack(">HHHH", d[:8])
    if rid != qid:
        continue
    o = 12
    for _ in range(qd):
        while d[o]:
            o += d[o] + 1
        o += 5
    addrs = []
    for _ in range(an):
        if d[o] & 0xC0 == 0xC0:
            o += 2
        else:
            while d[o]:
                o += d[o] + 1
            o += 1
        t, _c, _ttl, rl = struct.unpack(">HHIH", d[o:o + 10])
        o += 10
        if t == 1:
            addrs.append(socket.inet_ntop(socket.AF_INET, d[o:o + 4]))
        elif t == 28:
            addrs.append(socket.inet_ntop(socket.AF_INET6, d[o:o + 16]))
        o += rl
    print("%d %d %s" % ((time.monotonic() - t0) * 1000, flags & 15, ",".join(addrs) or "-"), flush=True)
