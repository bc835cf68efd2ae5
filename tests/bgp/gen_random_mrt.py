#!/usr/bin/env python3
"""gen_random_mrt.py SEED N: N random well-formed MRT records (BGP4MP/ET all MESSAGE subtypes,
state changes, TABLE_DUMP_V2 incl. ADD-PATH, TABLE_DUMP) with random attributes, for a
differential test against bgpdump. Canonical prefixes only; no empty COMMUNITIES (bgpdump reads
past its buffer there); no attribute twice (Debian bgpdump asserts)."""
import random, struct, sys, ipaddress
import os
src = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'craft_mrt.py')).read()
exec(src[:src.index("out = b''")])  # helper functions only
R = random.Random(int(sys.argv[1]))
def rpfx4(pid=None):
    l = R.randint(0, 32); a = R.getrandbits(32) & ((0xffffffff << (32 - l)) & 0xffffffff if l else 0)
    return pfx4(str(ipaddress.IPv4Address(a)), l, pid)
def rpfx6(pid=None):
    l = R.randint(0, 128); a = R.getrandbits(128) & (((1 << 128) - 1) << (128 - l) & ((1 << 128) - 1) if l else 0)
    return pfx6(str(ipaddress.IPv6Address(a)), l, pid)
def rasn(w): return R.choice([R.randint(1, 65535), 23456, R.randint(1, 2**32 - 1) if w == 4 else R.randint(1, 65535)])
def rpath(w):
    segs = b''
    n = R.randint(0, 3)
    for i in range(n):
        t = R.choice([2, 2, 2, 1, 3, 4])
        k = R.randint(1, 5)
        segs += seg(t, [rasn(w) for _ in range(k)], w)
    return segs
def rattrs(w, addpath, allow_mp=True, as4=False):
    a = b''
    if R.random() < .9: a += attr(1, bytes([R.randint(0, 2)]))
    p = rpath(w)
    if R.random() < .9: a += attr(2, p)
    if R.random() < .8: a += attr(3, R.getrandbits(32).to_bytes(4, 'big'))
    if R.random() < .4: a += attr(4, struct.pack('!I', R.getrandbits(32)), 0x80)
    if R.random() < .4: a += attr(5, struct.pack('!I', R.getrandbits(32)))
    if R.random() < .2: a += attr(6, b'')
    if R.random() < .3: a += attr(7, (struct.pack('!I', rasn(4)) if w == 4 else struct.pack('!H', rasn(2))) + R.getrandbits(32).to_bytes(4, 'big'), 0xc0)
    if R.random() < .5:
        cs = [R.choice([0xFFFFFF01, 0xFFFFFF02, 0xFFFFFF03, R.getrandbits(32)]) for _ in range(R.randint(1, 6))]
        a += attr(8, b''.join(struct.pack('!I', c) for c in cs), 0xc0)
    if as4 and w == 2 and R.random() < .5:
        p4 = seg(2, [rasn(4) for _ in range(R.randint(1, 3))], 4)
        a += attr(17, p4, 0xc0)
    if as4 and w == 2 and R.random() < .3:
        a += attr(18, struct.pack('!I', rasn(4)) + R.getrandbits(32).to_bytes(4, 'big'), 0xc0)
    if allow_mp and R.random() < .4:
        afi = R.choice([1, 2]); safi = R.choice([1, 2, 3])
        if afi == 1: nh = struct.pack('!B', 4) + R.getrandbits(32).to_bytes(4, 'big')
        else:
            l = R.choice([16, 32]); nh = bytes([l]) + R.getrandbits(l * 8).to_bytes(l, 'big')
        nl = b''.join((rpfx4 if afi == 1 else rpfx6)(R.randint(0, 99) if addpath else None) for _ in range(R.randint(0, 4)))
        a += attr(14, struct.pack('!HB', afi, safi) + nh + b'\x00' + nl, 0x80)
    if allow_mp and R.random() < .3:
        afi = R.choice([1, 2]); safi = R.choice([1, 2, 3])
        nl = b''.join((rpfx4 if afi == 1 else rpfx6)(R.randint(0, 99) if addpath else None) for _ in range(R.randint(0, 4)))
        a += attr(15, struct.pack('!HB', afi, safi) + nl, 0x80)
    if R.random() < .2: a += attr(32, struct.pack('!III', 1, 2, 3), 0xc0)
    return a
out = b''
for i in range(int(sys.argv[2])):
    kind = R.random()
    ts = 1000000 + i
    if kind < .6:
        sub = R.choice([1, 4, 6, 7, 8, 9, 10, 11])
        w = 4 if sub in (4, 7, 9, 11) else 2
        addpath = sub >= 8
        afi = R.choice([1, 2])
        peer = str(ipaddress.IPv4Address(R.getrandbits(32))) if afi == 1 else str(ipaddress.IPv6Address(R.getrandbits(128)))
        wd = b''.join(rpfx4(R.randint(0, 99) if addpath else None) for _ in range(R.randint(0, 3)))
        nl = b''.join(rpfx4(R.randint(0, 99) if addpath else None) for _ in range(R.randint(0, 3)))
        a = rattrs(w, addpath, True, True)
        et = R.randint(0, 999999) if R.random() < .3 else None
        out += bgp4mp(ts, sub, rasn(w), peer, update(wd, a, nl), afi=afi, w=w, et=et)
    elif kind < .7:
        sub = R.choice([0, 5]); w = 4 if sub == 5 else 2; afi = R.choice([1, 2])
        f = '!I' if w == 4 else '!H'
        ipl = 4 if afi == 1 else 16
        body = struct.pack(f, rasn(w)) + struct.pack(f, rasn(w)) + struct.pack('!HH', 0, afi) + R.getrandbits(ipl * 8).to_bytes(ipl, 'big') + R.getrandbits(ipl * 8).to_bytes(ipl, 'big') + struct.pack('!HH', R.randint(0, 8), R.randint(0, 8))
        out += rec(ts, 16, sub, body)
    elif kind < .9:
        # PIT + a RIB record
        npeer = R.randint(1, 4)
        pit = R.getrandbits(32).to_bytes(4, 'big') + struct.pack('!H', 0) + struct.pack('!H', npeer)
        for k in range(npeer):
            t = R.randint(0, 3)
            pit += bytes([t]) + R.getrandbits(32).to_bytes(4, 'big') + R.getrandbits(128 if t & 1 else 32).to_bytes(16 if t & 1 else 4, 'big') + (struct.pack('!I', rasn(4)) if t & 2 else struct.pack('!H', rasn(2)))
        out += rec(ts, 13, 1, pit)
        sub = R.choice([2, 4, 8, 10]); addpath = sub >= 8
        p = rpfx4() if sub in (2, 8) else rpfx6()
        ents = b''
        n = R.randint(0, 4)
        for k in range(n):
            a = rattrs(4, addpath, False)
            if sub in (4, 10) and R.random() < .7:
                nh = R.getrandbits(128).to_bytes(16, 'big'); a += attr(14, bytes([16]) + nh, 0x80)
            ents += struct.pack('!HI', R.randint(0, npeer - 1), R.getrandbits(32)) + (struct.pack('!I', R.randint(0, 99)) if addpath else b'') + struct.pack('!H', len(a)) + a
        out += rec(ts, 13, sub, struct.pack('!I', i) + p + struct.pack('!H', n) + ents)
    else:
        sub = R.choice([1, 3]); w = 4 if sub == 3 else 2
        l = R.randint(0, 32); pa = R.getrandbits(32) & ((0xffffffff << (32 - l)) & 0xffffffff if l else 0)
        a = rattrs(w, False, False, False)
        body = struct.pack('!HH', 0, i & 0xffff) + pa.to_bytes(4, 'big') + bytes([l, 1]) + struct.pack('!I', ts) + R.getrandbits(32).to_bytes(4, 'big') + (struct.pack('!I', rasn(4)) if w == 4 else struct.pack('!H', rasn(2))) + struct.pack('!H', len(a)) + a
        out += rec(ts, 12, sub, body)
sys.stdout.buffer.write(out)
