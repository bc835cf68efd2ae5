import struct, sys
def attr(t, v, flags=0x40):
    if len(v) > 255: return struct.pack('!BBH', flags|0x10, t, len(v)) + v
    return struct.pack('!BBB', flags, t, len(v)) + v
def seg(t, asns, w):
    return struct.pack('!BB', t, len(asns)) + b''.join(struct.pack('!I' if w==4 else '!H', a) for a in asns)
def pfx4(p, l, pid=None):
    b = bytes(int(x) for x in p.split('.'))[: (l+7)//8]
    return (struct.pack('!I', pid) if pid is not None else b'') + bytes([l]) + b
import ipaddress
def pfx6(p, l, pid=None):
    b = ipaddress.IPv6Address(p).packed[: (l+7)//8]
    return (struct.pack('!I', pid) if pid is not None else b'') + bytes([l]) + b
def update(withdrawn, attrs, nlri):
    body = struct.pack('!H', len(withdrawn)) + withdrawn + struct.pack('!H', len(attrs)) + attrs + nlri
    return b'\xff'*16 + struct.pack('!HB', 19+len(body), 2) + body
def bgp4mp(ts, sub, peer_as, peer_ip, msg, afi=1, w=2, et=None, typ=16):
    ipb = ipaddress.ip_address(peer_ip).packed
    local = ipaddress.ip_address('198.18.0.1' if afi==1 else '2001:db8::1').packed
    f = '!I' if w==4 else '!H'
    body = struct.pack(f, peer_as) + struct.pack(f, 65000) + struct.pack('!HH', 0, afi) + ipb + local + msg
    if et is not None:
        return struct.pack('!IHHI', ts, 17, sub, len(body)+4) + struct.pack('!I', et) + body
    return struct.pack('!IHHI', ts, typ, sub, len(body)) + body
def rec(ts, t, sub, body): return struct.pack('!IHHI', ts, t, sub, len(body)) + body
out = b''
O = attr(1, b'\x00'); NH = attr(3, bytes([198,18,1,1]))
# 1 sets/confeds (AS4 message)
p = seg(2,[1,2],4)+seg(1,[3,4],4)+seg(3,[5],4)+seg(4,[6,7],4)
out += bgp4mp(1000, 4, 65001, '198.18.0.2', update(b'', O+attr(2,p)+NH+attr(6,b'')+attr(7,struct.pack('!I',65010)+bytes([198,18,9,9]),0xc0), pfx4('198.18.4.0',24)), w=4)
# 2 AS4 merge AS2 session
p2 = seg(2,[1,23456,23456,3],2); p4 = seg(2,[70000,80000,3],4)
out += bgp4mp(1001, 1, 65001, '198.18.0.2', update(b'', O+attr(2,p2)+NH+attr(17,p4,0xc0), pfx4('198.18.5.0',24)))
# 3 aggregator AS_TRANS + AS4_AGGREGATOR, plus merge
out += bgp4mp(1002, 1, 65001, '198.18.0.2', update(b'', O+attr(2,p2)+NH+attr(7,struct.pack('!H',23456)+bytes([198,18,9,9]),0xc0)+attr(17,p4,0xc0)+attr(18,struct.pack('!I',70000)+bytes([198,18,9,8]),0xc0), pfx4('198.18.6.0',24)))
# 4 aggregator non-trans + AS4_AGG blocks merge
out += bgp4mp(1003, 1, 65001, '198.18.0.2', update(b'', O+attr(2,p2)+NH+attr(7,struct.pack('!H',100)+bytes([198,18,9,9]),0xc0)+attr(17,p4,0xc0)+attr(18,struct.pack('!I',70000)+bytes([198,18,9,8]),0xc0), pfx4('198.18.7.0',24)))
# 5 communities names, no origin, no nexthop, MED, LP
comm = struct.pack('!IIII', 0xFFFFFF01, 0xFFFFFF02, 0xFFFFFF03, (65535<<16)|65535)
out += bgp4mp(1004, 1, 65001, '198.18.0.2', update(b'', attr(2,seg(2,[1],2))+attr(4,struct.pack('!I',7),0x80)+attr(5,struct.pack('!I',300))+attr(8,comm,0xc0)+attr(32, struct.pack('!III',1,2,3),0xc0), pfx4('198.18.8.0',23)))
# 6 MP_REACH IPv4 with LP > 2^31, and MP_UNREACH ipv4
mp = struct.pack('!HBB',1,1,4)+bytes([198,18,1,2])+b'\x00'+pfx4('198.18.10.0',24)
mpu = struct.pack('!HB',1,1)+pfx4('198.18.11.0',24)
out += bgp4mp(1005, 4, 65001, '198.18.0.2', update(b'', O+attr(2,seg(2,[65001],4))+attr(5,struct.pack('!I',3000000000))+attr(4,struct.pack('!I',4000000000),0x80)+attr(14,mp,0x80)+attr(15,mpu,0x80), b''), w=4)
# 7 LOCAL ipv4 session with v6 MP withdraw + v6 announce (nexthop 32 bytes)
mp6 = struct.pack('!HBB',2,1,32)+ipaddress.IPv6Address('2001:db8:0:1::1').packed+ipaddress.IPv6Address('fe80::1').packed+b'\x00'+pfx6('2001:db8:100::',48)
mpu6 = struct.pack('!HB',2,1)+pfx6('2001:db8:200::',40)
out += bgp4mp(1006, 7, 65001, '198.18.0.2', update(pfx4('198.18.12.0',22), O+attr(2,seg(2,[65001],4))+attr(14,mp6,0x80)+attr(15,mpu6,0x80), b''), w=4)
# 8 ADD-PATH message AS4 with v4 nlri and withdrawals
out += bgp4mp(1007, 9, 65001, '198.18.0.2', update(pfx4('198.18.13.0',24,7), O+attr(2,seg(2,[65001],4))+NH, pfx4('198.18.14.0',24,9)+pfx4('198.18.15.0',25,10)), w=4)
# 9 ET message + state change v6 AS4
out += bgp4mp(1008, 4, 65001, '2001:db8::2', update(b'', O+attr(2,seg(2,[65001],4))+attr(14, struct.pack('!HBB',2,1,16)+ipaddress.IPv6Address('::ffff:1.2.3.4').packed+b'\x00'+pfx6('2001:db8:0:0:1::',80),0x80), b''), afi=2, w=4, et=42)
sc = struct.pack('!IIHH', 65001, 65000, 0, 2) + ipaddress.IPv6Address('2001:db8::2').packed + ipaddress.IPv6Address('2001:db8::1').packed + struct.pack('!HH', 3, 6)
out += rec(1009, 16, 5, sc)
# 10 MRTD type 5 update with communities
mr = struct.pack('!H', 65001) + bytes([198,18,0,2]) + struct.pack('!H', 65000) + bytes([198,18,0,1])
upd = update(pfx4('198.18.16.0',24), O+attr(2,seg(2,[65001,65002],2))+NH+attr(8,struct.pack('!I',(1<<16)|2),0xc0), pfx4('198.18.17.0',24))[19:]
out += rec(1010, 5, 1, mr + upd)
upd = update(b'', O+attr(2,seg(2,[65001,65002],2))+NH, pfx4('198.18.18.0',24))[19:]
out += rec(1010, 5, 1, mr + upd)
out += rec(1010, 5, 3, struct.pack('!H', 65001) + bytes([198,18,0,2]) + struct.pack('!HH', 1, 2))
# 11 TABLE_DUMP v1 ipv6 subtype 2 and 4
att = O+attr(2,seg(2,[65001],2))+NH
td = struct.pack('!HH',0,1)+ipaddress.IPv6Address('2001:db8:300::').packed+bytes([40,1])+struct.pack('!I',5)+ipaddress.IPv6Address('2001:db8::9').packed+struct.pack('!H',65009)+struct.pack('!H',len(att))+att
out += rec(1011, 12, 2, td)
att4 = O+attr(2,seg(2,[70009],4))+NH
td = struct.pack('!HH',0,1)+ipaddress.IPv6Address('2001:db8:300::').packed+bytes([40,1])+struct.pack('!I',5)+ipaddress.IPv6Address('2001:db8::9').packed+struct.pack('!I',70009)+struct.pack('!H',len(att4))+att4
out += rec(1011, 12, 4, td)
# 12 v6 formatting: single zero group, v4compat
for a in ['2001:db8:0:1:1:1:1:1', '::1.2.3.4', '::', '::1', '1::', '2001:0:0:1:0:0:0:1']:
    sc = struct.pack('!HHHH', 65001, 65000, 0, 2) + ipaddress.IPv6Address(a).packed + ipaddress.IPv6Address('2001:db8::1').packed + struct.pack('!HH', 1, 2)
    out += rec(1012, 16, 0, sc)
# 13 merge first-segment quirk
p2b = seg(2,[1],2)+seg(2,[2,3,23456],2); p4b = seg(2,[70000],4)
out += bgp4mp(1013, 1, 65001, '198.18.0.2', update(b'', O+attr(2,p2b)+NH+attr(17,p4b,0xc0), pfx4('198.18.19.0',24)))
p2c = seg(1,[1,2],2)+seg(2,[2,3,23456],2)
out += bgp4mp(1014, 1, 65001, '198.18.0.2', update(b'', O+attr(2,p2c)+NH+attr(17,p4b,0xc0), pfx4('198.18.20.0',24)))
# 14 EGP origin, bad segment path
out += bgp4mp(1015, 1, 65001, '198.18.0.2', update(b'', attr(1,b'\x01')+attr(2,b'\x07\x01\x00\x01')+NH, pfx4('198.18.21.0',24)))
# 15 TABLE_DUMP_V2 with peer index + rib ipv4 + ipv6 with mp nexthop + generic (not printed)
pit = bytes([198,18,0,100]) + struct.pack('!H',4) + b'test' + struct.pack('!H',3)
pit += bytes([0]) + bytes([198,18,0,2]) + bytes([198,18,0,2]) + struct.pack('!H',65002)
pit += bytes([3]) + bytes([198,18,0,3]) + ipaddress.IPv6Address('2001:db8::3').packed + struct.pack('!I',4200000000)
pit += bytes([2]) + bytes([198,18,0,4]) + bytes([198,18,0,4]) + struct.pack('!I',70004)
out += rec(1016, 13, 1, pit)
a1 = O+attr(2,seg(2,[65002,65100],4))+NH+attr(8,struct.pack('!I',(3<<16)|4),0xc0)
rib = struct.pack('!I',0)+pfx4('198.18.64.0',18)+struct.pack('!H',2)+struct.pack('!HI',0,999)+struct.pack('!H',len(a1))+a1+struct.pack('!HI',2,998)+struct.pack('!H',len(a1))+a1
out += rec(1016, 13, 2, rib)
a6 = O+attr(2,seg(2,[65002,65100],4))+attr(14, bytes([16])+ipaddress.IPv6Address('2001:db8::3').packed, 0x80)
rib = struct.pack('!I',1)+pfx6('2001:db8:400::',36)+struct.pack('!H',1)+struct.pack('!HI',1,999)+struct.pack('!H',len(a6))+a6
out += rec(1016, 13, 4, rib)
# 16 LOCAL_ADDPATH (bgpdump 1.6 names it BGP4MP_AP and shows the second address pair)
out += bgp4mp(1017, 11, 65001, '198.18.0.2', update(pfx4('198.18.22.0',24,5), O+attr(2,seg(2,[65001],4))+NH, pfx4('198.18.23.0',24,6)), w=4)
# 17 TABLE_DUMP_V2 entry whose MP_REACH is the full IPv4 form: its next hop is printed
a7 = O+attr(2,seg(2,[65002],4))+attr(14, struct.pack('!HBB',1,1,4)+bytes([198,18,1,7])+b'\x00', 0x80)
rib = struct.pack('!I',2)+pfx4('198.18.128.0',17)+struct.pack('!H',1)+struct.pack('!HI',0,999)+struct.pack('!H',len(a7))+a7
out += rec(1018, 13, 2, rib)
sys.stdout.buffer.write(out)
