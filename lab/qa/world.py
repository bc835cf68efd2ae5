#!/usr/bin/env python3
"""world.py: OONI's Web Connectivity QA world (netemx), rebuilt in network namespaces.

See ../../shared/data/ooni/qa/environment.md for the world this reproduces and
docs/web.md for the mapping. Verbs (run as root):

  world.py up     STATE PREFIX KEEPON   namespaces, PKI, resolvers, web hosts, ISP proxy, TH
  world.py apply  STATE PREFIX FILE NAME  reset, then recreate scenario NAME's `network`
                                          (exit 3 + "SKIP reason" on stdout if it cannot be)
  world.py reset  STATE PREFIX          remove every censor rule, default record sets
  world.py down   STATE PREFIX          stop by PID, delete namespaces and /etc/netns/PREFIX-*
  world.py serve  STATE                 (internal) the web hosts + ISP proxy, in PREFIX-w
  world.py inject STATE LISTEN UPSTREAM MATCH  (internal) spoof_http_response injector, in PREFIX-cen
  world.py relay  STATE LISTEN sni|payload TRIGGER  (internal) fin_on_* relay, in PREFIX-cen

Topology (IPv4 only, like netemx; only 198.18.0.0/15):
  PREFIX-cl  qc0 198.18.1.2/24 ── qcen-c 198.18.1.1  PREFIX-cen (router + DPI) qcen-w 198.18.2.1 ── qw0 198.18.2.2/24  PREFIX-w
  PREFIX-w holds every service address on lo (resolvers, web hosts, blockpage server, ISP proxy).
  PREFIX-th  qth0 198.18.5.80 ── qw-th 198.18.5.1  PREFIX-w: the TH in its own namespace, so the world's
  services are not the helper's own addresses (which it refuses to reach).
  The censor routes 198.18.0.0/16 to the world and blackholes everything else (10.10.34.35 goes nowhere).
Invariants: every process is started with its PID recorded in STATE/pids (one "PID NS NAME" per line)
and stopped only by that PID; the DPI lives in the censor's own chains QA (filter FORWARD) and QANAT
(nat PREROUTING), so reset flushes exactly what apply added.
"""
import datetime
import ipaddress
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

# ---- the address plan: every public QA address -> a lab address --------------------------
MAP = {
    "130.192.91.211": "198.18.1.2",    # the client
    "130.192.3.21": "198.18.3.21",     # ISP resolver
    "193.0.14.129": "198.18.4.53",     # root resolver ("other" records): also every public DNS below
    "8.8.8.8": "198.18.4.53", "8.8.4.4": "198.18.4.53", "9.9.9.9": "198.18.4.53",
    "149.112.112.112": "198.18.4.53", "1.1.1.1": "198.18.4.53", "1.0.0.1": "198.18.4.53",
    "208.67.222.222": "198.18.4.53", "208.67.220.220": "198.18.4.53",
    "172.64.41.4": "198.18.4.53", "38.175.119.129": "198.18.4.53",
    "68.183.70.80": "198.18.5.80",     # 0.th.ooni.org: the TH (keepon helper, plain HTTP :80)
    "137.184.235.44": "198.18.5.80", "178.62.195.24": "198.18.5.80", "209.97.183.73": "198.18.5.80",
    "52.85.15.84": "198.18.5.80",
    "93.184.216.34": "198.18.93.34",   # example.{com,org}
    "67.199.248.11": "198.18.67.11",   # bit.ly (443 only)
    "104.154.89.105": "198.18.104.105",  # badssl (443 only)
    "5.255.255.80": "198.18.55.80",    # yandex-like
    "52.35.36.75": "198.18.52.75",     # largefile
    "104.16.132.229": "198.18.104.229",  # cloudflare-cache
    "172.67.144.64": "198.18.172.64",  # httpbin
    "83.224.65.41": "198.18.83.41",    # blockpage server (80 only)
    "130.192.182.17": "198.18.130.17",  # ISP transparent proxy
}
CLIENT, CEN_C, CEN_W, WORLD = "198.18.1.2", "198.18.1.1", "198.18.2.1", "198.18.2.2"
ISP_RES, OTHER_RES, TH = "198.18.3.21", "198.18.4.53", "198.18.5.80"
TH_NAMES = ["0.th.ooni.org", "1.th.ooni.org", "2.th.ooni.org", "3.th.ooni.org", "d33d1gs9kpq1c5.cloudfront.net"]
HOSTS = {  # name -> public address (both record sets start with these)
    "www.example.com": "93.184.216.34", "example.com": "93.184.216.34",
    "www.example.org": "93.184.216.34", "example.org": "93.184.216.34",
    "bit.ly": "67.199.248.11", "bitly.com": "67.199.248.11",
    "expired.badssl.com": "104.154.89.105", "wrong.host.badssl.com": "104.154.89.105",
    "untrusted-root.badssl.com": "104.154.89.105",
    "ya.ru": "5.255.255.80", "yandex.com": "5.255.255.80", "xn--d1acpjx3f.xn--p1ai": "5.255.255.80",
    "largefile.com": "52.35.36.75", "www.largefile.com": "52.35.36.75",
    "www.cloudflare-cache.com": "104.16.132.229", "httpbin.com": "172.67.144.64",
    "dns.google": "8.8.8.8", "dns.quad9.net": "9.9.9.9", "cloudflare-dns.com": "1.1.1.1",
    "doh.opendns.com": "208.67.222.222", "mozilla.cloudflare-dns.com": "172.64.41.4", "dns.nextdns.io": "38.175.119.129",
    "0.th.ooni.org": "68.183.70.80", "1.th.ooni.org": "137.184.235.44", "2.th.ooni.org": "178.62.195.24",
    "3.th.ooni.org": "209.97.183.73", "d33d1gs9kpq1c5.cloudfront.net": "52.85.15.84",
}
# which web roles listen where (ip -> (role, ports))
SERVERS = {
    "198.18.93.34": ("example", (80, 443)), "198.18.67.11": ("bitly", (443,)),
    "198.18.104.105": ("badssl", (443,)), "198.18.55.80": ("yandex", (80, 443)),
    "198.18.52.75": ("largefile", (80, 443)), "198.18.104.229": ("cloudflare", (80, 443)),
    "198.18.172.64": ("httpbin", (80, 443)), "198.18.83.41": ("blockpage", (80,)),
    "198.18.130.17": ("proxy", (80, 443)),
}
BITLY = {"/21645": "https://www.example.com/", "/32447": "http://www.example.com/", "/24561": "https://example.com/",
         "/21309": "http://example.com/", "/30744": "https://www.example.org/", "/23894": "http://www.example.org/",
         "/30179": "https://example.org/", "/11372": "http://example.org/"}
DATE = "Thu, 24 Aug 2023 14:35:29 GMT"


def lab(ip):
    return MAP.get(ip, ip)


def pad_page(title, text, size):
    """An HTML page of exactly `size` bytes with <title>title</title> (our own text, padded)."""
    head = "<!doctype html>\n<html>\n<head>\n\t<title>%s</title>\n</head>\n<body>\n<p>%s</p>\n" % (title, text)
    tail = "</body>\n</html>\n"
    fill = size - len(head) - len(tail) - len("<!--  -->\n")
    assert fill >= 0
    return (head + "<!-- " + ("x" * fill) + " -->\n" + tail).encode()


EXAMPLE_PAGE = pad_page("Default Web Page", "This is the default web page of the QA world.", 1533)
BLOCKPAGE = pad_page("Access Denied", "This content cannot be served in your jurisdiction.", 188)
CAPTCHA = pad_page("Just a moment...", "Checking your browser before accessing the website.", 8432)


def sh(*args, check=True, quiet=False):
    r = subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(args), r.stderr.strip()))
    return r


def nsx(ns, *args, check=True):
    return sh("ip", "netns", "exec", ns, *args, check=check)


def names(prefix):
    return prefix + "-cl", prefix + "-cen", prefix + "-w"


def th_ns(prefix):
    return prefix + "-th"


# ---- processes -------------------------------------------------------------------------------
def start(state, ns, name, argv, env=None):
    log = open(os.path.join(state, "log", name + ".log"), "ab")
    p = subprocess.Popen(["ip", "netns", "exec", ns] + argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                         env=env, start_new_session=True)
    with open(os.path.join(state, "pids"), "a") as f:
        f.write("%d %s %s\n" % (p.pid, ns, name))
    return p.pid


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1][0] not in "ZX"
    except OSError:
        return False


def stop(state, which=None):
    path = os.path.join(state, "pids")
    if not os.path.exists(path):
        return
    keep, victims = [], []
    for line in open(path):
        pid, ns, name = line.split()
        (victims if which is None or name in which else keep).append((int(pid), ns, name))
    for pid, ns, _ in victims:
        r = sh("ip", "netns", "identify", str(pid), check=False)
        if alive(pid) and r.stdout.strip() == ns:
            os.kill(pid, signal.SIGTERM)
    deadline = time.time() + 3
    for pid, _, _ in victims:
        while alive(pid) and time.time() < deadline:
            time.sleep(0.02)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    with open(path, "w") as f:
        for v in keep:
            f.write("%d %s %s\n" % v)


# ---- PKI ---------------------------------------------------------------------------------------
def pki(state):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
    d = os.path.join(state, "pki")
    os.makedirs(d, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)

    def key():
        return ec.generate_private_key(ec.SECP256R1())

    def save(name, k, c):
        with open(os.path.join(d, name + ".key"), "wb") as f:
            f.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
        with open(os.path.join(d, name + ".crt"), "wb") as f:
            f.write(c.public_bytes(serialization.Encoding.PEM))

    def ca(cn):
        k = key()
        n = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        c = (x509.CertificateBuilder().subject_name(n).issuer_name(n).public_key(k.public_key())
             .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
             .not_valid_after(now + datetime.timedelta(days=30))
             .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
             .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
             .sign(k, hashes.SHA256()))
        return k, c

    def leaf(ca_k, ca_c, dns, nb, na):
        k = key()
        c = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns)]))
             .issuer_name(ca_c.subject).public_key(k.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(nb).not_valid_after(na)
             .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
             .sign(ca_k, hashes.SHA256()))
        return k, c

    cak, cac = ca("keepon QA world CA")
    save("ca", cak, cac)
    bad_k, bad_c = ca("untrusted throwaway CA")
    save("untrusted-ca", bad_k, bad_c)
    nb, na = now - datetime.timedelta(days=1), now + datetime.timedelta(days=30)
    for n in HOSTS:
        if n in ("expired.badssl.com", "wrong.host.badssl.com", "untrusted-root.badssl.com"):
            continue
        save("leaf-" + n, *leaf(cak, cac, n, nb, na))
    # badssl defects
    save("leaf-expired.badssl.com", *leaf(cak, cac, "expired.badssl.com",
                                          datetime.datetime(2017, 7, 16, tzinfo=datetime.timezone.utc),
                                          datetime.datetime(2017, 7, 18, tzinfo=datetime.timezone.utc)))
    save("leaf-wrong.host.badssl.com", *leaf(cak, cac, "wrong-host.badssl.com", nb, na))
    save("leaf-untrusted", *leaf(bad_k, bad_c, "untrusted-root.badssl.com", nb, na))


# ---- resolvers ---------------------------------------------------------------------------------
def dns_conf(state, which, overrides):
    """dnsmasq config lines for a record set ("isp" or "other") with scenario overrides."""
    recs = {n: [ip] for n, ip in HOSTS.items()}
    cnames = {}
    for n, v in (overrides or {}).items():
        if v == "NXDOMAIN":
            recs.pop(n, None)
        elif isinstance(v, list):
            recs[n] = v
        elif isinstance(v, dict):
            recs.pop(n, None)
            if v.get("a"):
                recs[n] = v["a"]
            if v.get("cname"):
                cnames[n] = v["cname"]
    lines = []
    for n, ips in recs.items():
        for ip in ips:
            lines.append("host-record=%s,%s" % (n, lab(ip)))
    for n, target in cnames.items():
        # a CNAME to a name with no address: dnsmasq wants the target known, so bind it to an
        # interface that does not exist (known name, no records -> NOERROR, CNAME only)
        lines.append("interface-name=%s,qa-noif" % target)
        lines.append("cname=%s,%s" % (n, target))
    path = os.path.join(state, "conf", "dns-%s.conf" % which)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def start_dns(state, prefix, which, overrides=None):
    _, _, w = names(prefix)
    addr = ISP_RES if which == "isp" else OTHER_RES
    conf = dns_conf(state, which, overrides)
    stop(state, ["dns-" + which])
    start(state, w, "dns-" + which, ["dnsmasq", "--keep-in-foreground", "--conf-file=" + conf, "--no-resolv",
                                     "--no-hosts", "--listen-address=" + addr, "--bind-interfaces", "--user=root",
                                     "--group=root", "--local-ttl=3600", "--address=/#/", "--pid-file="])


# ---- up / down / reset / apply -----------------------------------------------------------------
def up(state, prefix, keepon):
    cl, cen, w = names(prefix)
    for d in ("log", "conf", "pki", "run"):
        os.makedirs(os.path.join(state, d), exist_ok=True)
    pki(state)
    for ns in (cl, cen, w):
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    sh("ip", "link", "add", "qc0", "netns", cl, "type", "veth", "peer", "name", "qcen-c", "netns", cen)
    sh("ip", "link", "add", "qw0", "netns", w, "type", "veth", "peer", "name", "qcen-w", "netns", cen)
    for ns, dev, a in ((cl, "qc0", CLIENT + "/24"), (cen, "qcen-c", CEN_C + "/24"), (cen, "qcen-w", CEN_W + "/24"),
                       (w, "qw0", WORLD + "/24")):
        sh("ip", "-n", ns, "addr", "add", a, "dev", dev)
        sh("ip", "-n", ns, "link", "set", dev, "up")
    sh("ip", "-n", cl, "route", "add", "default", "via", CEN_C)
    sh("ip", "-n", w, "route", "add", "default", "via", CEN_W)
    sh("ip", "-n", cen, "route", "add", "198.18.0.0/16", "via", WORLD)
    sh("ip", "-n", cen, "route", "add", "blackhole", "default")
    nsx(cen, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    th = th_ns(prefix)
    sh("ip", "netns", "add", th)
    sh("ip", "-n", th, "link", "set", "lo", "up")
    sh("ip", "link", "add", "qth0", "netns", th, "type", "veth", "peer", "name", "qw-th", "netns", w)
    sh("ip", "-n", th, "addr", "add", TH, "peer", "198.18.5.1", "dev", "qth0")
    sh("ip", "-n", w, "addr", "add", "198.18.5.1", "peer", TH, "dev", "qw-th")
    sh("ip", "-n", th, "link", "set", "qth0", "up")
    sh("ip", "-n", w, "link", "set", "qw-th", "up")
    sh("ip", "-n", th, "route", "add", "default", "via", "198.18.5.1")
    nsx(w, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    svc = sorted(set(MAP.values()) - {CLIENT, TH})
    for a in svc:
        sh("ip", "-n", w, "addr", "add", a + "/32", "dev", "lo")
    # the censor's own chains (DPI rules live only there)
    nsx(cen, "iptables", "-w", "-N", "QA")
    nsx(cen, "iptables", "-w", "-I", "FORWARD", "-i", "qcen-c", "-j", "QA")
    nsx(cen, "iptables", "-w", "-t", "nat", "-N", "QANAT")
    nsx(cen, "iptables", "-w", "-t", "nat", "-I", "PREROUTING", "-i", "qcen-c", "-j", "QANAT")
    for ns, res in ((cl, ISP_RES), (w, OTHER_RES), (th, OTHER_RES)):
        os.makedirs("/etc/netns/" + ns, exist_ok=True)
        with open("/etc/netns/%s/resolv.conf" % ns, "w") as f:
            f.write("nameserver %s\noptions timeout:2 attempts:1\n" % res)
    start_dns(state, prefix, "isp")
    start_dns(state, prefix, "other")
    start(state, w, "web", [sys.executable, os.path.abspath(__file__), "serve", state])
    start(state, th, "th", [keepon, "helper", "--listen", TH + ":80", "--lab", "--allow-net", "198.18.0.0/15",
                            "--ca-file", os.path.join(state, "pki", "ca.crt"), "--step-timeout", "2", "--timeout", "15"])
    # wait for every service
    deadline = time.time() + 10
    for ip, port in ((TH, 80), ("198.18.93.34", 443), ("198.18.130.17", 80)):
        while True:
            r = nsx(cl, sys.executable, "-c", "import socket;socket.create_connection(('%s',%d),0.5)" % (ip, port),
                    check=False)
            if r.returncode == 0:
                break
            if time.time() > deadline:
                raise RuntimeError("service %s:%d did not come up (see %s/log)" % (ip, port, state))
            time.sleep(0.05)


def down(state, prefix):
    stop(state)
    for ns in names(prefix) + (th_ns(prefix),):
        sh("ip", "netns", "del", ns, check=False)
        d = "/etc/netns/" + ns
        if os.path.isdir(d):
            for f in os.listdir(d):
                os.unlink(os.path.join(d, f))
            os.rmdir(d)


def reset(state, prefix, restart_dns=True):
    _, cen, _ = names(prefix)
    nsx(cen, "iptables", "-w", "-F", "QA")
    nsx(cen, "iptables", "-w", "-t", "nat", "-F", "QANAT")
    nsx(cen, "tc", "qdisc", "del", "dev", "qcen-c", "root", check=False)
    stop(state, ["liar-isp", "liar-other", "inject"] + ["fin%d" % p for p in range(8200, 8210)])
    nsx(cen, "conntrack", "-F", check=False)
    if restart_dns:
        start_dns(state, prefix, "isp")
        start_dns(state, prefix, "other")


def ipt(cen, *rule, table="filter", chain="QA"):
    nsx(cen, "iptables", "-w", "-t", table, "-A", chain, *rule)


def drop_flow(cen, match):
    """Drop the packet that matches and every later packet of its flow (connmark 0x71)."""
    ipt(cen, *match, "-j", "CONNMARK", "--set-mark", "0x71")
    ipt(cen, *match, "-j", "DROP")


def apply(state, prefix, path, name):
    cl, cen, w = names(prefix)
    scen = next((s for s in json.load(open(path)) if s["name"] == name), None)
    if scen is None:
        print("SKIP no scenario named %s" % name)
        return 3
    net = scen.get("network", {})
    if scen.get("applies_to") and "v0.5" not in scen["applies_to"]:
        print("SKIP OONI does not run this scenario on v0.5 (applies_to %s)" % scen.get("applies_to"))
        return 3
    # applies_to [] (throttlingWithHTTP: disabled upstream as flaky) is still recreated and
    # compared on the v0.5 fields of expect_effective
    client = net.get("client") or {}
    if set(client) - {"getaddrinfo_error_mapping"}:
        print("SKIP needs a client-side behaviour we do not emulate (%s)" % ", ".join(client))
        return 3
    reset(state, prefix, restart_dns=False)
    start_dns(state, prefix, "isp", net.get("isp_resolver"))
    start_dns(state, prefix, "other", net.get("other_resolvers"))
    ipt(cen, "-m", "connmark", "--mark", "0x71", "-j", "DROP")
    liar, fins = [], []
    for r in net.get("dpi", []):
        kind = r["rule"]
        if r.get("inert"):
            continue
        dst = r.get("dst")
        ip, port = (lab(dst.rsplit(":", 1)[0]), dst.rsplit(":", 1)[1]) if dst and dst != "any" else (None, None)
        to = ["-d", ip, "-p", "tcp", "--dport", port] if ip else ["-p", "tcp"]
        if kind == "spoof_dns_response":
            liar.append((r["qname"], r["answer"]))
        elif kind in ("reset_on_tls_sni", "drop_on_tls_sni"):
            if r["sni"] in TH_NAMES:  # our TH speaks plain HTTP: cut the control request itself
                m = ["-d", TH, "-p", "tcp", "--dport", "80", "-m", "string", "--algo", "bm", "--string", "POST"]
            else:
                m = ["-p", "tcp", "--dport", "443", "-m", "string", "--algo", "bm", "--string", r["sni"]]
            if kind.startswith("reset"):
                ipt(cen, *m, "-j", "REJECT", "--reject-with", "tcp-reset")
            else:
                drop_flow(cen, m)
        elif kind in ("reset_on_payload_string", "drop_on_payload_string"):
            m = to + ["-m", "string", "--algo", "bm", "--string", r["match"]]
            if kind.startswith("reset"):
                ipt(cen, *m, "-j", "REJECT", "--reject-with", "tcp-reset")
            else:
                drop_flow(cen, m)
        elif kind == "rst_on_connect":
            ipt(cen, *to, "--syn", "-j", "REJECT", "--reject-with", "tcp-reset")
        elif kind == "drop_endpoint":
            ipt(cen, *to, "-j", "DROP")
        elif kind == "spoof_http_response_on_payload_string":
            lp = 8100 + len(liar) + 1
            start(state, cen, "inject", [sys.executable, os.path.abspath(__file__), "inject", state,
                                         "%s:%d" % (CEN_C, lp), "%s:%s" % (ip, port), r["match"]])
            nsx(cen, "iptables", "-w", "-t", "nat", "-A", "QANAT", *to, "-j", "DNAT", "--to-destination",
                "%s:%d" % (CEN_C, lp))
            wait_port(cen, CEN_C, lp)
        elif kind in ("throttle_tls_sni", "throttle_tcp_endpoint"):
            src = lab(HOSTS[r["sni"]]) if kind == "throttle_tls_sni" else ip
            sport = "443" if kind == "throttle_tls_sni" else port
            tc = ["tc"]
            nsx(cen, *tc, "qdisc", "add", "dev", "qcen-c", "root", "handle", "1:", "htb", "default", "99")
            nsx(cen, *tc, "class", "add", "dev", "qcen-c", "parent", "1:", "classid", "1:99", "htb", "rate",
                "10gbit", "quantum", "60000")
            nsx(cen, *tc, "class", "add", "dev", "qcen-c", "parent", "1:", "classid", "1:10", "htb", "rate",
                "16kbit", "ceil", "16kbit", "quantum", "1514")
            nsx(cen, *tc, "filter", "add", "dev", "qcen-c", "parent", "1:", "protocol", "ip", "prio", "1", "u32",
                "match", "ip", "src", src + "/32", "match", "ip", "sport", sport, "0xffff", "flowid", "1:10")
            nsx(w, "ethtool", "-K", "qw0", "tso", "off", "gso", "off", check=False)
        elif kind in ("fin_on_tls_sni", "fin_on_payload_string"):
            # iptables cannot inject a FIN: DNAT the flows to a relay on the censor that closes
            # (FIN) the client side when the trigger shows up, and splices the rest to the
            # original destination (SO_ORIGINAL_DST)
            lp = 8200 + len(fins)
            if kind == "fin_on_tls_sni":
                m, trig = ["-p", "tcp", "--dport", "443"], ["sni", r["sni"]]
            else:
                m, trig = to, ["payload", r["match"]]
            fins.append(lp)
            start(state, cen, "fin%d" % lp, [sys.executable, os.path.abspath(__file__), "relay", state,
                                             "%s:%d" % (CEN_C, lp)] + trig)
            nsx(cen, "iptables", "-w", "-t", "nat", "-A", "QANAT", *m, "-j", "DNAT", "--to-destination",
                "%s:%d" % (CEN_C, lp))
            wait_port(cen, CEN_C, lp)
        else:
            print("SKIP unsupported DPI rule %s" % kind)
            return 3
    if liar:
        # Every client DNS query goes through a liar in front of the resolver it was sent to:
        # the liar forges the target names and forwards everything else. (A per-qname DNAT
        # would be decided per UDP flow by conntrack, so a reused source port would send other
        # names to the liar or target names past it.)
        conf = os.path.join(state, "conf", "liar.conf")
        with open(conf, "w") as f:
            for q, ans in liar:
                if ans == "NXDOMAIN" or ans == []:
                    f.write("address=/%s/\n" % q)
                else:
                    for a_ in ans:
                        f.write("host-record=%s,%s\n" % (q, lab(a_)))
        for i, (name, upstream) in enumerate((("liar-isp", ISP_RES), ("liar-other", OTHER_RES))):
            port = 5301 + i
            start(state, cen, name, ["dnsmasq", "--keep-in-foreground", "--conf-file=" + conf, "--no-resolv",
                                     "--no-hosts", "--listen-address=" + CEN_C, "--port=%d" % port,
                                     "--bind-interfaces", "--server=" + upstream, "--cache-size=0",
                                     "--user=root", "--group=root", "--pid-file="])
            nsx(cen, "iptables", "-w", "-t", "nat", "-A", "QANAT", "-p", "udp", "-d", upstream, "--dport", "53",
                "-j", "DNAT", "--to-destination", "%s:%d" % (CEN_C, port))
        nsx(cen, "iptables", "-w", "-t", "nat", "-A", "QANAT", "-p", "udp", "--dport", "53", "-j", "DNAT",
            "--to-destination", "%s:5302" % CEN_C)
    time.sleep(0.15)  # dnsmasq restarts bind their sockets
    url = scen["input"]
    scheme, rest = url.split("://", 1)
    host, sep, path = rest.partition("/")
    print("INPUT %s://%s%s%s" % (scheme, host.encode("idna").decode(), sep, path))
    if "getaddrinfo_error_mapping" in client:  # the probe emulates the client OS: Android's wrapper
        print("CLIENT_GAI_FAILURE android_dns_cache_no_data")
    return 0


def wait_port(ns, ip, port):
    deadline = time.time() + 5
    while time.time() < deadline:
        r = nsx(ns, sys.executable, "-c", "import socket;socket.create_connection(('%s',%d),0.3)" % (ip, port),
                check=False)
        if r.returncode == 0:
            return
        time.sleep(0.05)


# ---- the web hosts (serve) ---------------------------------------------------------------------
def response(status, body=b"", headers=(), reason=None):
    reasons = {200: "OK", 302: "Found", 308: "Permanent Redirect", 400: "Bad Request", 404: "Not Found",
               503: "Service Unavailable"}
    h = ["HTTP/1.1 %d %s" % (status, reason or reasons.get(status, "X")), "Date: " + DATE]
    h += ["%s: %s" % kv for kv in headers]
    h += ["Content-Length: %d" % len(body), "Connection: close", "", ""]
    return "\r\n".join(h).encode() + body


PAGE_HDRS = (("Alt-Svc", 'h3=":443"'), ("Content-Type", "text/html; charset=utf-8"))
CDN_HDRS = (("Alt-Svc", 'h3=":443"'), ("Cache-Control", "no-cache"), ("Cf-Ray", "7f5e1e2d3c4b5a69-MXP"),
            ("Content-Type", "text/html; charset=utf-8"), ("Expires", DATE), ("Nel", '{"max_age":604800}'),
            ("Permissions-Policy", "interest-cohort=()"), ("Report-To", '{"group":"cf-nel"}'),
            ("Server", "cloudflare"), ("X-Frame-Options", "SAMEORIGIN"))


def handle_http(role, host, path, peer, tls):
    host = host.split(":")[0].lower()
    if role == "example":
        if host in ("www.example.com", "www.example.org"):
            return response(200, EXAMPLE_PAGE, PAGE_HDRS)
        if host in ("example.com", "example.org"):
            return response(308, b"", (("Location", "https://www.%s/" % host),))
        return response(400)
    if role == "bitly":
        if path in BITLY:
            return response(308, b"", (("Location", BITLY[path]),))
        return response(404)
    if role == "badssl":
        return response(200, EXAMPLE_PAGE, PAGE_HDRS)
    if role == "yandex":
        nxt = {"xn--d1acpjx3f.xn--p1ai": "https://yandex.com/", "yandex.com": "https://ya.ru/"}.get(host)
        return response(308, b"", (("Location", nxt),)) if nxt else response(200, EXAMPLE_PAGE, PAGE_HDRS)
    if role == "largefile":
        return None  # streamed by the caller
    if role == "cloudflare":
        if peer == CLIENT:
            return response(503, CAPTCHA, CDN_HDRS)
        return response(200, EXAMPLE_PAGE, CDN_HDRS)
    if role == "httpbin":
        if path.startswith("/redirect/"):
            try:
                n = int(path.split("/")[2].split("?")[0])
            except ValueError:
                return response(404)
            return response(302, b"", (("Location", "/redirect/%d" % (n - 1)),)) if n > 0 else response(200)
        if path in ("/broken-redirect-http", "/broken-redirect-https"):
            loc = ("http://" if path.endswith("http") else "https://") if peer == CLIENT else \
                "https://www.example.com/"
            return response(302, b"", (("Location", loc),))
        return response(200, EXAMPLE_PAGE, PAGE_HDRS)
    if role == "blockpage":
        return response(200, BLOCKPAGE)
    return response(404)


def read_head(conn, limit=16384):
    buf = b""
    while b"\r\n\r\n" not in buf and len(buf) < limit:
        d = conn.recv(4096)
        if not d:
            break
        buf += d
    return buf


def splice(a, b):
    def pump(x, y):
        try:
            while True:
                d = x.recv(65536)
                if not d:
                    break
                y.sendall(d)
        except OSError:
            pass
        for s in (x, y):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
    t = threading.Thread(target=pump, args=(b, a), daemon=True)
    t.start()
    pump(a, b)
    t.join(30)


def resolve_other(name):
    """The ISP proxy resolves with the world's resolver ("other" records)."""
    try:
        return socket.getaddrinfo(name, None, socket.AF_INET)[0][4][0]
    except OSError:
        return None


def client_hello_sni(data):
    try:
        if data[0] != 0x16:
            return None
        p = 5 + 4 + 2 + 32
        p += 1 + data[p]
        p += 2 + int.from_bytes(data[p:p + 2], "big")
        p += 1 + data[p]
        end = p + 2 + int.from_bytes(data[p:p + 2], "big")
        p += 2
        while p + 4 <= end:
            t, n = int.from_bytes(data[p:p + 2], "big"), int.from_bytes(data[p + 2:p + 4], "big")
            if t == 0:
                ln = int.from_bytes(data[p + 7:p + 9], "big")
                return data[p + 9:p + 9 + ln].decode()
            p += 4 + n
    except (IndexError, UnicodeDecodeError):
        return None
    return None


def serve_conn(conn, role, port, ctxs):
    try:
        conn.settimeout(20)
        peer = conn.getpeername()[0]
        if role == "proxy":
            if port == 443:  # splice to SNI:443 without terminating TLS
                first = conn.recv(16384)
                sni = client_hello_sni(first)
                ip = resolve_other(sni) if sni else None
                if not ip:
                    return
                up_ = socket.create_connection((ip, 443), 5)
                up_.sendall(first)
                splice(conn, up_)
            else:
                head = read_head(conn)
                host = b""
                for line in head.split(b"\r\n")[1:]:
                    if line.lower().startswith(b"host:"):
                        host = line[5:].strip()
                ip = resolve_other(host.decode(errors="replace").split(":")[0]) if host else None
                if not ip:
                    conn.sendall(response(400))
                    return
                up_ = socket.create_connection((ip, 80), 5)
                up_.sendall(head)
                splice(conn, up_)
            return
        if port == 443:
            conn = ctxs[role].wrap_socket(conn, server_side=True)
        head = read_head(conn)
        if not head:
            return
        line = head.split(b"\r\n")[0].decode(errors="replace").split()
        path = line[1] if len(line) > 1 else "/"
        host = ""
        for l in head.split(b"\r\n")[1:]:
            if l.lower().startswith(b"host:"):
                host = l[5:].strip().decode(errors="replace")
        if role == "largefile":
            n = 32 << 20
            conn.sendall(("HTTP/1.1 200 OK\r\nDate: %s\r\nContent-Type: application/octet-stream\r\n"
                          "Content-Length: %d\r\nConnection: close\r\n\r\n" % (DATE, n)).encode())
            chunk = os.urandom(1 << 16)
            for _ in range(n >> 16):
                conn.sendall(chunk)
            return
        conn.sendall(handle_http(role, host, path, peer, port == 443))
    except (OSError, ssl.SSLError, ValueError):
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


def tls_contexts(state):
    pk = os.path.join(state, "pki")

    def ctx(crt, key):
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        c.load_cert_chain(os.path.join(pk, crt), os.path.join(pk, key))
        c.set_alpn_protocols(["http/1.1"])
        return c
    per_name = {}
    for n in HOSTS:
        f = "leaf-%s" % n
        if os.path.exists(os.path.join(pk, f + ".crt")):
            per_name[n] = ctx(f + ".crt", f + ".key")
    untrusted = ctx("leaf-untrusted.crt", "leaf-untrusted.key")
    out = {}
    for role in set(r for r, _ in SERVERS.values()):
        base = ctx("leaf-untrusted.crt", "leaf-untrusted.key")

        def pick(sock, name, _c, role=role):
            # the badssl host signs unknown names with the throwaway CA, like netemx
            if name in per_name and (role != "badssl" or name in ("expired.badssl.com", "wrong.host.badssl.com")):
                sock.context = per_name[name]
            else:
                sock.context = untrusted
        base.sni_callback = pick
        out[role] = base
    return out


def serve(state):
    ctxs = tls_contexts(state)
    socks = []
    for ip, (role, ports) in SERVERS.items():
        for port in ports:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((ip, port))
            s.listen(512)
            socks.append((s, role, port))

    def loop(s, role, port):
        while True:
            c, _ = s.accept()
            threading.Thread(target=serve_conn, args=(c, role, port, ctxs), daemon=True).start()
    for s, role, port in socks:
        threading.Thread(target=loop, args=(s, role, port), daemon=True).start()
    signal.sigwait([signal.SIGTERM, signal.SIGINT])


def inject(state, listen, upstream, match):
    """spoof_http_response_on_payload_string: the first request containing MATCH gets the
    blockpage as one HTTP/1.0 response and the stream closes; others are relayed to UPSTREAM."""
    ip, port = listen.rsplit(":", 1)
    uip, uport = upstream.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, int(port)))
    s.listen(256)

    def one(c):
        try:
            c.settimeout(20)
            head = read_head(c)
            if match.encode() in head:
                c.sendall(b"HTTP/1.0 200 OK\r\n\r\n" + BLOCKPAGE)
                c.close()
                return
            u = socket.create_connection((uip, int(uport)), 5)
            u.sendall(head)
            splice(c, u)
        except OSError:
            pass
    while True:
        c, _ = s.accept()
        threading.Thread(target=one, args=(c,), daemon=True).start()


def relay(state, listen, mode, trigger):
    """fin_on_*: a transparent relay; the flow whose first bytes carry the trigger (TLS SNI or a
    payload string) gets a FIN toward the client, like netem's injected FIN|ACK."""
    ip, port = listen.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, int(port)))
    s.listen(256)

    def one(c):
        try:
            c.settimeout(20)
            od = c.getsockopt(socket.SOL_IP, 80, 16)  # SO_ORIGINAL_DST: sockaddr_in
            dst = (socket.inet_ntoa(od[4:8]), int.from_bytes(od[2:4], "big"))
            first = c.recv(16384)
            hit = client_hello_sni(first) == trigger if mode == "sni" else trigger.encode() in first
            if hit:
                c.shutdown(socket.SHUT_WR)
                time.sleep(1)
                c.close()
                return
            u = socket.create_connection(dst, 5)
            u.sendall(first)
            splice(c, u)
        except OSError:
            pass
    while True:
        c, _ = s.accept()
        threading.Thread(target=one, args=(c,), daemon=True).start()


def main(argv):
    verb = argv[1] if len(argv) > 1 else ""
    try:
        if verb == "up" and len(argv) == 5:
            os.makedirs(argv[2], exist_ok=True)
            up(argv[2], argv[3], argv[4])
        elif verb == "down" and len(argv) == 4:
            down(argv[2], argv[3])
        elif verb == "reset" and len(argv) == 4:
            reset(argv[2], argv[3])
        elif verb == "apply" and len(argv) == 6:
            return apply(argv[2], argv[3], argv[4], argv[5])
        elif verb == "serve" and len(argv) == 3:
            serve(argv[2])
        elif verb == "relay" and len(argv) == 6:
            relay(argv[2], argv[3], argv[4], argv[5])
        elif verb == "inject" and len(argv) == 6:
            inject(argv[2], argv[3], argv[4], argv[5])
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except RuntimeError as e:
        print("qa world: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
