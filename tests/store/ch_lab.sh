#!/usr/bin/env bash
# tests/store/ch_lab.sh: start and stop throw-away clickhouse-server processes (sourced by tests
# and bench/store.sh).
#
#   . tests/store/ch_lab.sh
#   ch_need                      # exit 77 with a message when the package is missing
#   ch_start DIR [CLUSTER_SPEC]  # sets CH_PID CH_HTTP CH_TCP; DIR is created and owned by the caller
#                                # ports: CH_PORTS="HTTP TCP INTERSERVER" if set, else free ones
#   ch_cluster "127.0.0.1:TCP1 127.0.0.1:TCP2"  # -> CLUSTER_SPEC (one shard per host:port)
#   ch_stop PID                  # SIGTERM, wait, then SIGKILL; by PID only
#   ch_serve BIN LOG STORE_URL [ARGS...]  # `BIN serve` on 127.0.0.1:0 in the background: sets SRV
#                                # and PORT once it listens (up to 60 s: a fresh schema's
#                                # migration); returns 1 with PORT empty if it did not
#   ch_two_shards NAME           # a temp folder T (/tmp/kpt-NAME-*), two shards of cluster kp
#                                # (PIDs S1 S2, HTTP ports H1 H2, their port triples P1 P2) and
#                                # URL for serve; traps EXIT to stop $SRV and both shards and
#                                # remove T. The caller defines fail() first.
#   CH_KEEP_PARTS=SECONDS ch_start ...  # merged-away parts kept that long (old_parts_lifetime,
#                                # 480 s by default): bench/store.sh, so no file is deleted mid-run
#
# Each server runs as a plain process from DIR: config.xml and users.xml copied from
# /etc/clickhouse-server, every path rewritten into DIR, free loopback ports, listening on
# 127.0.0.1 only, and (with CLUSTER_SPEC) a remote_servers cluster "kp" written into the config.
# Nothing is left outside DIR; the caller removes DIR.
CH_ETC=${CH_ETC:-/etc/clickhouse-server}
ch_need() {
  if ! command -v clickhouse-server >/dev/null 2>&1 || [ ! -r "$CH_ETC/config.xml" ]; then
    echo "skip: clickhouse-server is not installed (scripts/deps.sh installs it)"
    exit 77
  fi
}

ch_free_ports() { # N -> N free loopback TCP ports, one per line
  python3 - "$1" <<'PY'
import socket, sys
ss = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); ss.append(s)
for s in ss: print(s.getsockname()[1])
PY
}

ch_cluster() { # "host:port host:port ..." -> remote_servers XML for cluster kp, one shard each
  local spec="<kp>" hp
  for hp in $1; do
    spec+="<shard><internal_replication>false</internal_replication><replica><host>${hp%:*}</host><port>${hp##*:}</port></replica></shard>"
  done
  echo "$spec</kp>"
}

# ch_write_config DIR HTTP TCP INTERSERVER [CLUSTER_SPEC [KEEP_PARTS]]; CH_LOG_QUERIES=1 turns on
# system.query_log (18.16 writes it only with the log_queries setting; off by default: it costs)
ch_write_config() {
  python3 - "$CH_ETC" "$@" <<'PY'
import os, sys, shutil, xml.etree.ElementTree as ET
etc, d, http, tcp, inter = sys.argv[1:6]
cluster = sys.argv[6] if len(sys.argv) > 6 else ""
keep = sys.argv[7] if len(sys.argv) > 7 else ""
t = ET.parse(etc + "/config.xml"); r = t.getroot()
def setv(tag, v):
    e = r.find(tag)
    if e is None: e = ET.SubElement(r, tag)
    e.text = v
for tag in ("https_port", "tcp_port_secure", "interserver_http_host", "mysql_port"):
    for e in r.findall(tag): r.remove(e)
for e in r.findall("listen_host"): r.remove(e)
setv("listen_host", "127.0.0.1")
setv("http_port", http); setv("tcp_port", tcp); setv("interserver_http_port", inter)
setv("path", d + "/data/"); setv("tmp_path", d + "/tmp/")
setv("user_files_path", d + "/user_files/"); setv("format_schema_path", d + "/format_schemas/")
setv("users_config", d + "/users.xml")
setv("include_from", d + "/metrika.xml")
lg = r.find("logger")
lg.find("log").text = d + "/log/server.log"; lg.find("errorlog").text = d + "/log/err.log"
lg.find("level").text = "warning"
rs = r.find("remote_servers")
for c in list(rs): rs.remove(c)
if cluster: rs.append(ET.fromstring(cluster))
if keep:  # bench: no part is deleted while it runs (see docs/store.md, "the disk")
    mt = r.find("merge_tree")
    if mt is None: mt = ET.SubElement(r, "merge_tree")
    e = ET.SubElement(mt, "old_parts_lifetime"); e.text = keep
dd = r.find("distributed_ddl")
if dd is not None: r.remove(dd)
t.write(d + "/config.xml")
shutil.copy(etc + "/users.xml", d + "/users.xml")
if os.environ.get("CH_LOG_QUERIES") == "1":  # bench diagnostics: every query in system.query_log
    u = ET.parse(d + "/users.xml"); prof = u.getroot().find("profiles/default")
    ET.SubElement(prof, "log_queries").text = "1"
    u.write(d + "/users.xml")
open(d + "/metrika.xml", "w").write("<yandex></yandex>\n")
PY
}

ch_start() { # DIR [CLUSTER_SPEC]
  local d=$1 ports
  mkdir -p "$d/log" "$d/data" "$d/tmp"
  ports=(${CH_PORTS:-$(ch_free_ports 3)})
  CH_HTTP=${ports[0]} CH_TCP=${ports[1]}
  ch_write_config "$d" "${ports[0]}" "${ports[1]}" "${ports[2]}" "${2:-}" "${CH_KEEP_PARTS:-}"
  (cd "$d" && exec clickhouse-server --config-file="$d/config.xml" >"$d/log/stdout" 2>&1) &
  CH_PID=$!
  local i
  for i in $(seq 300); do
    if curl -fsS "http://127.0.0.1:$CH_HTTP/?query=SELECT%201" >/dev/null 2>&1; then return 0; fi
    kill -0 "$CH_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "clickhouse-server in $d did not start:" >&2
  tail -5 "$d/log/err.log" "$d/log/stdout" >&2 2>/dev/null
  ch_stop "$CH_PID"
  return 1
}

# ch_restart DIR: start the server of DIR again on the ports in its config.xml
ch_restart() {
  local d=$1
  CH_HTTP=$(sed -n 's:.*<http_port>\([0-9]*\)</http_port>.*:\1:p' "$d/config.xml")
  (cd "$d" && exec clickhouse-server --config-file="$d/config.xml" >>"$d/log/stdout" 2>&1) &
  CH_PID=$!
  local i
  for i in $(seq 300); do
    curl -fsS "http://127.0.0.1:$CH_HTTP/?query=SELECT%201" >/dev/null 2>&1 && return 0
    kill -0 "$CH_PID" 2>/dev/null || break
    sleep 0.1
  done
  return 1
}

ch_stop() { # PID
  local p=$1 i
  [ -n "$p" ] || return 0
  kill -TERM "$p" 2>/dev/null || return 0
  for i in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}

ch_serve() {
  local bin=$1 log=$2 url=$3; shift 3
  "$bin" serve --store "$url" --listen 127.0.0.1:0 "$@" 2> "$log" &
  SRV=$!
  for _ in $(seq 600); do grep -q 'port [0-9]' "$log" 2>/dev/null && break; kill -0 "$SRV" 2>/dev/null || break; sleep 0.1; done
  PORT=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$log")
  [ -n "$PORT" ]
}

ch_q() { # PORT SQL -> answer
  curl -fsS --data-binary "$2" "http://127.0.0.1:$1/"
}

ch_two_shards_cleanup() {
  [ -n "${SRV:-}" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
  ch_stop "${S1:-}"; ch_stop "${S2:-}"
  [ -n "${T:-}" ] && rm -rf "$T"
}

ch_two_shards() { # NAME
  T=$(mktemp -d "/tmp/kpt-$1-XXXXXX")
  S1= S2= SRV=
  trap ch_two_shards_cleanup EXIT
  export KEEPON_DATA=${KP_SRC:-.}/data KEEPON_HOME=$T/home
  P1=($(ch_free_ports 3)) P2=($(ch_free_ports 3))
  SPEC=$(ch_cluster "127.0.0.1:${P1[1]} 127.0.0.1:${P2[1]}")
  CH_PORTS="${P1[*]}" ch_start "$T/s1" "$SPEC" || fail "shard 1 did not start"
  S1=$CH_PID
  CH_PORTS="${P2[*]}" ch_start "$T/s2" "$SPEC" || fail "shard 2 did not start"
  S2=$CH_PID
  H1=${P1[0]} H2=${P2[0]}
  URL="clickhouse://127.0.0.1:$H1,127.0.0.1:$H2/kp?cluster=kp"
}
