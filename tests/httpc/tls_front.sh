# tls_front.sh (sourced): an nginx TLS front for `keepon serve`, the supported deployment while
# the collector has no TLS of its own (docs/serve.md). Used by tests/httpc, tests/transport and
# bench/upload.sh.
#
#   front_pki DIR NAME...          test CA (DIR/ca.crt) + one leaf (DIR/front.crt/.key) for NAMEs
#   front_conf DIR LISTEN BACKEND PREFIX
#                                  DIR/front.conf: TLS on LISTEN ("198.18.0.5:443" or
#                                  "127.0.0.1:8443"), proxied to BACKEND ("127.0.0.1:PORT") over
#                                  kept-alive upstream connections; the public route prefix
#                                  PREFIX (e.g. /v1) maps to the collector's /api/v1/keepon, so
#                                  the path need not name keepon even to the front's own logs.
#   front_start DIR [NS]           run it (in netns NS if given); sets FRONT_PID
#   front_stop                     stop FRONT_PID (by PID)
front_pki() {
  local d=$1
  shift
  local san="" n
  for n in "$@"; do san="${san:+$san,}DNS:$n"; done
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$d/ca.key" \
    -out "$d/ca.crt" -days 2 -subj "/CN=Test Root CA" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$d/front.key" \
    -out "$d/front.csr" -subj "/CN=$1" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san" > "$d/front.ext"
  openssl x509 -req -in "$d/front.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
    -extfile "$d/front.ext" -out "$d/front.crt" 2>/dev/null
}

front_conf() {
  local d=$1 listen=$2 backend=$3 prefix=$4
  mkdir -p "$d/tmp"
  cat > "$d/front.conf" <<CONF
daemon off; master_process off; pid $d/front.pid; error_log $d/front-error.log;
events { worker_connections 256; }
http {
  access_log off; client_body_temp_path $d/tmp; proxy_temp_path $d/tmp; fastcgi_temp_path $d/tmp;
  uwsgi_temp_path $d/tmp; scgi_temp_path $d/tmp;
  client_max_body_size 8m; client_body_buffer_size 8m; keepalive_requests 100000;
  upstream collector { server $backend; keepalive 16; }
  server {
    listen $listen ssl; server_name _;
    ssl_certificate $d/front.crt; ssl_certificate_key $d/front.key; ssl_protocols TLSv1.3;
    server_tokens off;
    proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off;
    # the collector behind the front listens on loopback and accepts loopback Host names only
    # (guard.c); the front is what faces the network, so it names the collector "localhost"
    proxy_set_header Host localhost;
    proxy_read_timeout 60s;
    location $prefix/ { proxy_pass http://collector/api/v1/keepon/; }
    location / { proxy_pass http://collector; }
  }
}
CONF
}

front_start() {
  local d=$1 ns=${2:-}
  if [ -n "$ns" ]; then
    ip netns exec "$ns" nginx -e "$d/front-error.log" -p "$d" -c "$d/front.conf" </dev/null >>"$d/front.log" 2>&1 &
  else
    nginx -e "$d/front-error.log" -p "$d" -c "$d/front.conf" </dev/null >>"$d/front.log" 2>&1 &
  fi
  FRONT_PID=$!
}

front_stop() {
  [ -n "${FRONT_PID:-}" ] || return 0
  kill -TERM "$FRONT_PID" 2>/dev/null || true
  wait "$FRONT_PID" 2>/dev/null || true
  FRONT_PID=
}
