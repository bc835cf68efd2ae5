# shellcheck shell=bash
# world.sh: the remote-measurement lab world (sourced; needs P, S and KP_BIN).
#
#   $P-o  outside   198.18.100.2/24  keepon remote; control resolver 198.18.100.10 (dnsmasq)
#   $P-c  censor    198.18.100.1 | 198.18.200.1  (forwarding, iptables string matching, injector)
#   $P-i  "country" 198.18.200.2/24  resolvers .10 honest, .11 forges, .12 NXDOMAIN, .13 honest
#                   (its queries for the name are dropped on path), .14 honest (injected on path);
#                   web (nginx, 80 and 443 with one lab-CA certificate for every test and control
#                   name, $S/ca.pem) .20, echo (port 7, python) .21; answers .99 forged
# Only 198.18.0.0/15, inside namespaces made and deleted here; daemons stopped by PID.
# Censor actions (remote_censor_on) are this world's own, not lab/censor.sh's:
#   dns-timeout  qname of blocked.test to .13 dropped
#   dns-injected keepon lab inject on the censor's outside leg for inj.test, true query to .14 held back
#   http reset   "Host: rst.test" to .20:80 and .21:7 -> TCP reset
#   http drop    "Host: drop.test" to .20:80 and .21:7 -> dropped (the flow is marked and dropped)
#   tls reset    SNI sni-rst.test in a ClientHello to .20:443 -> TCP reset
#   tls drop     SNI sni-drop.test to .20:443 -> the flow is marked and dropped
# remote_blockpage_on (a separate phase, it takes port 80 over): every connection to .20:80 is
# DNATed to the censor's transparent proxy (nginx at 198.18.100.1:8080), which answers
# "Host: bp.test" with its own short page and passes every other Host to the real server.

W_NS="$P-o $P-c $P-i"
w_pids=()
ino() { ip netns exec "$P-o" "$@"; }
inc() { ip netns exec "$P-c" "$@"; }
ini() { ip netns exec "$P-i" "$@"; }

w_start() { # NAME NS CMD...: a daemon, its PID remembered
  local name=$1 ns=$2
  shift 2
  ip netns exec "$ns" "$@" </dev/null >>"$S/$name.log" 2>&1 &
  echo "$! $ns" >"$S/$name.pid"
}

w_stop_all() {
  local f pid ns i
  for f in "$S"/*.pid; do
    [ -e "$f" ] || continue
    read -r pid ns <"$f" || continue
    if [ "$(ip netns identify "$pid" 2>/dev/null)" = "$ns" ]; then
      kill -TERM "$pid" 2>/dev/null || true
      for i in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
  done
}

remote_world_down() {
  w_stop_all
  local ns
  for ns in $W_NS; do ip netns del "$ns" 2>/dev/null || true; done
}

# qname as an iptables hex string: |07|blocked|04|test|00|
w_qhex() {
  local out="" l
  IFS=. read -ra ls <<<"$1"
  for l in "${ls[@]}"; do out+=$(printf '|%02x|%s' "${#l}" "$l"); done
  printf '%s|00|' "$out"
}

w_dnsmasq() { # NAME ADDR EXTRA-ARGS...
  local name=$1 addr=$2
  shift 2
  local ns=$P-i
  [[ $addr == 198.18.100.* ]] && ns=$P-o
  w_start "$name" "$ns" dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
    --listen-address="$addr" --port=53 --pid-file= --user=root --group=root --log-facility=- \
    --address=/open.test/198.18.100.51 --address=/inj.test/198.18.100.52 --local=/scan.test/ "$@"
}

remote_world_up() {
  local ns
  for ns in $W_NS; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
  ip link add name o0 netns "$P-o" type veth peer name co netns "$P-c"
  ip link add name ci netns "$P-c" type veth peer name i0 netns "$P-i"
  ip -n "$P-o" addr add 198.18.100.2/24 dev o0
  ip -n "$P-o" addr add 198.18.100.10/24 dev o0
  ip -n "$P-c" addr add 198.18.100.1/24 dev co
  ip -n "$P-c" addr add 198.18.200.1/24 dev ci
  ip -n "$P-i" addr add 198.18.200.2/24 dev i0
  local a
  for a in 10 11 12 13 14 20 21; do ip -n "$P-i" addr add "198.18.200.$a/24" dev i0; done
  for ns in $W_NS; do ip -n "$ns" link set dev "$(ip -n "$ns" -o link show | awk -F': ' '$2 !~ /^lo/ {sub(/@.*/,"",$2); print $2; exit}')" up; done
  ip -n "$P-c" link set ci up
  ip -n "$P-c" link set co up
  ip -n "$P-o" route add 198.18.200.0/24 via 198.18.100.1
  ip -n "$P-i" route add 198.18.100.0/24 via 198.18.200.1
  inc sysctl -qw net.ipv4.ip_forward=1
  # the control resolver (outside) and the in-country resolvers
  # the control resolver is also OUR reverse-DNS resolver for keepon remote scan: names of .10-.14
  # (.13 named like an end-user line, .9 without a name); scan.test is local (NXDOMAIN) everywhere
  w_dnsmasq ctl 198.18.100.10 --address=/blocked.test/198.18.100.50 \
    --ptr-record=10.200.18.198.in-addr.arpa,ns1.isp.test --ptr-record=11.200.18.198.in-addr.arpa,ns2.isp.test \
    --ptr-record=12.200.18.198.in-addr.arpa,nameserver.isp.test \
    --ptr-record=13.200.18.198.in-addr.arpa,dsl-13.pool.isp.test --ptr-record=14.200.18.198.in-addr.arpa,ns4.isp.test
  w_dnsmasq r10 198.18.200.10 --address=/blocked.test/198.18.100.50
  w_dnsmasq r11 198.18.200.11 --address=/blocked.test/198.18.200.99
  w_dnsmasq r12 198.18.200.12 --address=/blocked.test/
  w_dnsmasq r13 198.18.200.13 --address=/blocked.test/198.18.100.50
  w_dnsmasq r14 198.18.200.14 --address=/blocked.test/198.18.100.50
  # web: one page for every Host, over HTTP and HTTPS (a lab CA's certificate for all names)
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=keepon-lab-remote-ca -keyout "$S/ca.key" \
    -out "$S/ca.pem" -addext basicConstraints=critical,CA:TRUE 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=web.test -keyout "$S/web.key" -out "$S/web.csr" 2>/dev/null
  printf 'subjectAltName=DNS:control.test,DNS:open.test,DNS:rst.test,DNS:drop.test,DNS:sni-rst.test,DNS:sni-drop.test,DNS:bp.test\n' >"$S/web.ext"
  openssl x509 -req -in "$S/web.csr" -CA "$S/ca.pem" -CAkey "$S/ca.key" -CAcreateserial -days 2 \
    -extfile "$S/web.ext" -out "$S/web.pem" 2>/dev/null
  mkdir -p "$S/www"
  printf '<html><body>%0400d</body></html>\n' 0 >"$S/www/index.html"
  cat >"$S/nginx.conf" <<NG
daemon off; master_process off; worker_processes 1; pid $S/nginx.pidfile; error_log $S/nginx.err;
events { worker_connections 256; }
http { access_log off; client_body_temp_path $S/tmp; proxy_temp_path $S/tmp; fastcgi_temp_path $S/tmp;
  uwsgi_temp_path $S/tmp; scgi_temp_path $S/tmp;
  server { listen 198.18.200.20:80 default_server; server_name _; root $S/www; }
  server { listen 198.18.200.20:443 ssl default_server; server_name _; root $S/www;
    ssl_certificate $S/web.pem; ssl_certificate_key $S/web.key; } }
NG
  mkdir -p "$S/tmp"
  w_start nginx "$P-i" nginx -c "$S/nginx.conf" -p "$S"
  # echo (RFC 862) on port 7
  w_start echo "$P-i" python3 -c '
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("198.18.200.21", 7)); s.listen(64)
def serve(c):
    try:
        while True:
            d = c.recv(4096)
            if not d: break
            c.sendall(d)
    except OSError: pass
    c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()'
  local i
  for i in $(seq 60); do
    if ino bash -c 'exec 3<>/dev/tcp/198.18.200.20/80 && exec 4<>/dev/tcp/198.18.200.21/7 && exec 5<>/dev/tcp/198.18.200.20/443' 2>/dev/null &&
      ini ss -uln | grep -q 198.18.200.14:53 && ino ss -uln | grep -q 198.18.100.10:53; then return 0; fi
    sleep 0.1
  done
  echo "remote world did not come up" >&2
  return 1
}

remote_censor_on() {
  inc iptables -A FORWARD -i co -d 198.18.200.13 -p udp --dport 53 -m string --algo bm --icase --hex-string "$(w_qhex blocked.test)" -j DROP
  inc iptables -A FORWARD -i co -d 198.18.200.14 -p udp --dport 53 -m string --algo bm --icase --hex-string "$(w_qhex inj.test)" -j DROP
  local d
  for d in 198.18.200.20 198.18.200.21; do
    inc iptables -A FORWARD -i co -d "$d" -p tcp -m string --algo bm --string "Host: rst.test" -j REJECT --reject-with tcp-reset
    inc iptables -A FORWARD -i co -d "$d" -p tcp -m string --algo bm --string "Host: drop.test" -j CONNMARK --set-mark 0x77
  done
  # SNI as it sits in a ClientHello's server_name: type 0, 16-bit length, the name (lab/censor.sh's sni_hex)
  inc iptables -A FORWARD -i co -d 198.18.200.20 -p tcp --dport 443 -m string --algo bm --hex-string "|00 00 0c|sni-rst.test" -j REJECT --reject-with tcp-reset
  inc iptables -A FORWARD -i co -d 198.18.200.20 -p tcp --dport 443 -m string --algo bm --hex-string "|00 00 0d|sni-drop.test" -j CONNMARK --set-mark 0x77
  inc iptables -I FORWARD -m connmark --mark 0x77 -j DROP
  w_start inject "$P-c" "$KP_BIN" lab inject --iface co --delay-ms 150 --forge4 198.18.200.98 --forge6 2001:db8:66::66 inj.test
  local i
  for i in $(seq 60); do grep -q "injector ready" "$S/inject.log" 2>/dev/null && return 0; sleep 0.05; done
  echo "injector did not start" >&2
  return 1
}

remote_blockpage_on() {
  mkdir -p "$S/cen-tmp"
  cat >"$S/cen-nginx.conf" <<NG
daemon off; master_process off; worker_processes 1; pid $S/cen-nginx.pidfile; error_log $S/cen-nginx.err;
events { worker_connections 256; }
http { access_log off; client_body_temp_path $S/cen-tmp; proxy_temp_path $S/cen-tmp; fastcgi_temp_path $S/cen-tmp;
  uwsgi_temp_path $S/cen-tmp; scgi_temp_path $S/cen-tmp;
  server { listen 198.18.100.1:8080 default_server; server_name _;
    location / { proxy_pass http://198.18.200.20:80; proxy_set_header Host \$host; } }
  server { listen 198.18.100.1:8080; server_name bp.test;
    location / { default_type text/html; return 200 "<html><body>Access restricted</body></html>\n"; } } }
NG
  w_start cen-nginx "$P-c" nginx -c "$S/cen-nginx.conf" -p "$S"
  local i
  for i in $(seq 60); do
    inc ss -tln | grep -q 198.18.100.1:8080 && break
    sleep 0.05
  done
  inc iptables -t nat -A PREROUTING -i co -d 198.18.200.20 -p tcp --dport 80 -j DNAT --to-destination 198.18.100.1:8080
}
