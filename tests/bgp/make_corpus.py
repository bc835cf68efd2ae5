#!/usr/bin/env python3
"""make_corpus.py SHARED_MRT_DIR CRAFTED OUTDIR: the MRT fuzz seed corpus.

Cuts small seeds (< 20 KB) from the real MRT files: for each file, the first
records of every (type, subtype) seen, a TABLE_DUMP_V2 peer index table with
the RIB records after it, the largest record; plus each crafted record, and
corrupt variants (short header, wrong length, bad prefix length, truncation).
"""
import gzip, os, struct, sys

src, crafted, out = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(out, exist_ok=True)
LIM = 20000

def records(b):
    off = 0
    while off + 12 <= len(b):
        ts, t, st, ln = struct.unpack('!IHHI', b[off:off + 12])
        end = off + 12 + ln
        if end > len(b):
            break
        yield t, st, b[off:end]
        off = end

def put(name, data):
    if 0 < len(data) <= LIM:
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)

for fn in sorted(os.listdir(src)):
    if not fn.endswith('.gz'):
        continue
    b = gzip.open(os.path.join(src, fn)).read()
    base = fn.replace('.gz', '')
    seen = {}
    pit = None
    ribs = []
    for t, st, r in records(b):
        k = (t, st)
        seen.setdefault(k, [])
        if len(seen[k]) < 3:
            seen[k].append(r)
        if t == 13 and st == 1 and pit is None:
            pit = r
        elif t == 13 and pit is not None and len(ribs) < 4:
            ribs.append(r)
    for (t, st), rs in seen.items():
        if t == 13 and st != 1 and pit is not None:
            put(f'{base}-{t}-{st}', pit + b''.join(rs))
        else:
            put(f'{base}-{t}-{st}', b''.join(rs))
    if pit is not None:
        put(f'{base}-pit-ribs', pit + b''.join(ribs))
        if ribs:
            r = ribs[0]
            put(f'{base}-rib-trunc', pit + r[:len(r) // 2])
            bad = bytearray(r)
            bad[16] = 0xff  # prefix length byte of the RIB record
            put(f'{base}-rib-badlen', pit + bytes(bad))
    for k, rs in seen.items():
        if k[0] in (16, 17) and rs:
            r = bytearray(rs[0])
            put(f'{base}-shorthdr', bytes(r[:7]))
            r2 = bytearray(r)
            struct.pack_into('!I', r2, 8, len(r) - 12 - 3)
            put(f'{base}-wronglen', bytes(r2) + rs[0])
            break

c = open(crafted, 'rb').read()
put('crafted-all', c)
for i, (t, st, r) in enumerate(records(c)):
    put(f'crafted-{i:02d}-{t}-{st}', r)
