#!/usr/bin/env bash
# up.sh: build the lab instance P (docs/lab.md): three namespaces, two veth pairs, the service
# addresses on the servers' lo, the lab resolver (dnsmasq), the app stand-ins (nginx, HTTPS with
# the lab CA) and the censor's blockpage server. Idempotent: a complete running instance is left
# alone; a partial one is torn down and rebuilt. On any failure everything is torn down again.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$LAB_DIR/pki.sh"

topology() {
  local ns
  for ns in $LAB_NAMESPACES; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    nsx "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
  done
  ip link add cl0 netns "$NS_CL" type veth peer name cen-cl netns "$NS_CEN"
  ip link add sv0 netns "$NS_SV" type veth peer name cen-sv netns "$NS_CEN"
  ip -n "$NS_CL" addr add "$LAB_CL4/24" dev cl0
  ip -n "$NS_CL" -6 addr add "$LAB_CL6/64" dev cl0 nodad
  ip -n "$NS_CEN" addr add "$LAB_CENCL4/24" dev cen-cl
  ip -n "$NS_CEN" -6 addr add "$LAB_CENCL6/64" dev cen-cl nodad
  ip -n "$NS_CEN" addr add "$LAB_CENSV4/24" dev cen-sv
  ip -n "$NS_CEN" -6 addr add "$LAB_CENSV6/64" dev cen-sv nodad
  ip -n "$NS_SV" addr add "$LAB_SV4/24" dev sv0
  ip -n "$NS_SV" -6 addr add "$LAB_SV6/64" dev sv0 nodad
  for ns in $LAB_NAMESPACES; do
    ip -n "$ns" link set dev lo up
  done
  ip -n "$NS_CL" link set cl0 up
  ip -n "$NS_CEN" link set cen-cl up
  ip -n "$NS_CEN" link set cen-sv up
  ip -n "$NS_SV" link set sv0 up
  # The censor is the only router and has no default route: nothing leaves the lab.
  ip -n "$NS_CL" route add default via "$LAB_CENCL4"
  ip -n "$NS_CL" -6 route add default via "$LAB_CENCL6"
  ip -n "$NS_SV" route add default via "$LAB_CENSV4"
  ip -n "$NS_SV" -6 route add default via "$LAB_CENSV6"
  ip -n "$NS_CEN" route add "$LAB_SVC_NET4" via "$LAB_SV4"
  ip -n "$NS_CEN" -6 route add "$LAB_SVC_NET6" via "$LAB_SV6"
  cen sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  # htb needs wire-sized packets at low rates (lab-notes pitfall 6): no TSO/GSO toward the client.
  nsx "$NS_SV" ethtool -K sv0 tso off gso off >/dev/null 2>&1 || true
  cen ethtool -K cen-cl tso off gso off >/dev/null 2>&1 || true
  cen ethtool -K cen-sv tso off gso off >/dev/null 2>&1 || true
  # The forged addresses exist with nothing listening: a client that trusts a forged answer gets
  # a RST at once (curl rc 7) on v4 and v6, instead of an unreachable that TCP may sit out.
  ip -n "$NS_CEN" route add "$LAB_FORGED4/32" via "$LAB_SV4"
  ip -n "$NS_CEN" -6 route add "$LAB_FORGED6/128" via "$LAB_SV6"
  ip -n "$NS_SV" addr add "$LAB_FORGED4/32" dev lo
  ip -n "$NS_SV" -6 addr add "$LAB_FORGED6/128" dev lo
  ip -n "$NS_SV" addr add "$LAB_RESOLVER4/32" dev lo
  ip -n "$NS_SV" -6 addr add "$LAB_RESOLVER6/128" dev lo
  local app name v4 v6 kind
  while read -r app name v4 v6 kind; do
    ip -n "$NS_SV" addr add "$v4/32" dev lo
    [ "$v6" = - ] || ip -n "$NS_SV" -6 addr add "$v6/128" dev lo
  done < <(lab_hosts)
  mkdir -p "/etc/netns/$NS_CL"
  printf 'nameserver %s\nnameserver %s\noptions timeout:1 attempts:1\n' \
    "$LAB_RESOLVER4" "$LAB_RESOLVER6" >"/etc/netns/$NS_CL/resolv.conf"
}

start_dns() {
  local args=() app name v4 v6 kind
  while read -r app name v4 v6 kind; do
    [ "$name" = - ] && continue
    if [ "$v6" = - ]; then args+=("--host-record=$name,$v4"); else args+=("--host-record=$name,$v4,$v6"); fi
  done < <(lab_hosts)
  lab_start dns "$NS_SV" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
    --listen-address="$LAB_RESOLVER4,$LAB_RESOLVER6" --bind-interfaces --user=root --group=root \
    --pid-file="$STATE/run/dnsmasq.pid" --log-facility=- --local-ttl=60 --address=/#/ "${args[@]}"
}

# www: a small realistic page per name and one shared 1 MB file (throttling tests)
content() {
  local app name v4 v6 kind d
  mkdir -p "$STATE/www/common"
  head -c 1048576 /dev/urandom >"$STATE/www/common/1mb.bin"
  while read -r app name v4 v6 kind; do
    [ "$name" = - ] && continue
    d="$STATE/www/$name"
    mkdir -p "$d"
    cat >"$d/index.html" <<HTML
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>$name</title></head>
<body><h1>$name</h1><p>keepon lab stand-in for $name ($app), served at $v4 and $v6.</p></body></html>
HTML
  done < <(lab_hosts)
}

nginx_common() { # $1 = name of the instance (nginx | blockpage)
  cat <<CONF
user root;
worker_processes 1;
daemon off;
pid $STATE/run/$1.pid;
error_log $STATE/log/$1-error.log warn;
events { worker_connections 512; }
http {
  access_log $STATE/log/$1-access.log;
  client_body_temp_path $STATE/run/$1-body;
  proxy_temp_path $STATE/run/$1-proxy;
  fastcgi_temp_path $STATE/run/$1-fastcgi;
  uwsgi_temp_path $STATE/run/$1-uwsgi;
  scgi_temp_path $STATE/run/$1-scgi;
  types { text/html html; application/octet-stream bin; application/json json; }
  default_type application/octet-stream;
  server_tokens off;
  keepalive_timeout 5;
CONF
}

nginx_conf() {
  local app name v4 v6 kind ports
  nginx_common nginx
  cat <<CONF
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_certificate_key $STATE/pki/leaf.key;
CONF
  while read -r app name v4 v6 kind; do
    [ "$kind" = svc ] && continue
    echo "  server {"
    if [ "$kind" = dc ]; then
      for ports in 80 443; do echo "    listen $v4:$ports;"; done
      cat <<CONF
    location / { default_type application/octet-stream; return 200 "keepon lab telegram dc $v4\n"; }
  }
CONF
      continue
    fi
    echo "    listen $v4:80; listen $v4:443 ssl;"
    [ "$v6" = - ] || echo "    listen [$v6]:80; listen [$v6]:443 ssl;"
    if [ "$kind" = wa ]; then
      echo "    listen $v4:5222;"
      [ "$v6" = - ] || echo "    listen [$v6]:5222;"
    fi
    cat <<CONF
    server_name $name;
    ssl_certificate $STATE/pki/$name.crt;
    root $STATE/www/$name;
    index index.html;
    location = /1mb.bin { root $STATE/www/common; }
CONF
    [ "$kind" = reg ] &&
      echo "    location = /v2/register { default_type application/json; return 200 '{\"status\":\"fail\",\"reason\":\"missing_param\",\"param\":\"cc\"}\n'; }"
    echo "  }"
  done < <(lab_hosts)
  echo "}"
}

blockpage_conf() {
  nginx_common blockpage
  cat <<CONF
  server {
    listen $LAB_CENCL4:$LAB_BLOCKPAGE_PORT; listen [$LAB_CENCL6]:$LAB_BLOCKPAGE_PORT;
    location / {
      default_type text/html;
      return 451 '<!doctype html><html><head><title>Blocked</title></head><body><h1>451 Unavailable For Legal Reasons</h1><p>This site is blocked by order of the Lab Ministry.</p></body></html>\n';
    }
  }
}
CONF
}

ready() {
  nsx "$NS_CL" ping -6 -c1 -W1 "$LAB_RESOLVER6" &&
    [ -n "$(nsx "$NS_CL" dig +short +time=1 +tries=1 "@$LAB_RESOLVER4" example.org A)" ] &&
    nsx "$NS_CL" curl -s -o /dev/null --max-time 1 "http://$LAB_CENCL4:$LAB_BLOCKPAGE_PORT/" &&
    nsx "$NS_CL" curl -sf -o /dev/null --max-time 1 --cacert "$STATE/pki/ca.crt" https://example.org/ &&
    nsx "$NS_CL" curl -sf -o /dev/null --max-time 1 -6 --cacert "$STATE/pki/ca.crt" https://example.org/
}

build() {
  mkdir -p "$STATE"/{pid,log,run,conf,www,censor}
  touch "$STATE/.keepon-lab"
  topology
  lab_pki
  content
  nginx_conf >"$STATE/conf/nginx.conf"
  blockpage_conf >"$STATE/conf/blockpage.conf"
  start_dns
  lab_start nginx "$NS_SV" nginx -e "$STATE/log/nginx-error.log" -p "$STATE/run" -c "$STATE/conf/nginx.conf"
  lab_start blockpage "$NS_CEN" nginx -e "$STATE/log/blockpage-error.log" -p "$STATE/run" \
    -c "$STATE/conf/blockpage.conf"
  # extensions: every lab/up.d/*.sh is sourced here, with lib.sh's helpers and the core up
  local hook
  for hook in "$LAB_DIR"/up.d/*.sh; do
    # shellcheck disable=SC1090
    . "$hook"
  done
  # IPv6 needs about 1 s after the veths come up (lab-notes pitfall 1), daemons a moment to bind.
  wait_until 20 ready || { lab_log "services did not come up; logs in $STATE/log"; return 1; }
  lab_running dns && lab_running nginx && lab_running blockpage || return 1
  touch "$STATE/.up"
}

if lab_is_up; then
  lab_log "already up"
  exit 0
fi
"$LAB_DIR/down.sh" --quiet
# build runs in a subshell with errexit live (an `if ! build` would silently disable it).
set +e
(
  set -e
  build
)
rc=$?
set -e
if [ "$rc" -ne 0 ]; then
  [ -n "${KP_LAB_KEEP_FAILED:-}" ] || "$LAB_DIR/down.sh" --quiet
  lab_die "up failed"
fi
lab_log "up (state $STATE, CA $STATE/pki/ca.crt)"
