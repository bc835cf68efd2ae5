#!/usr/bin/env bash
# censor.sh: switch censorship techniques on the censor namespace P-censor.
#   censor.sh TECH on|off [TARGET]     (env KP_LAB_RATE for throttled, default 64kbit)
#   censor.sh reset | status
# TECH are the probe's technique keys (docs/lab.md). TARGET is an app, a host name or an address
# of lab/hosts.sh; network_down takes none.
#
# Bookkeeping (why `off` removes exactly what `on` added, with several techniques at once):
#   every change `on` makes is paired with its inverse, appended to $STATE/censor/TECH@TARGET.undo
#   (one shell-quoted command per line). `off` replays that file bottom-up and deletes it. A
#   failed `on` replays what it had done so far. State per (TECH, TARGET):
#        off --on--> on --off--> off;   on --on--> on (no-op);   off --off--> off (no-op)
#   Shared machinery (the lying resolver with its DNAT, the htb root qdisc) is reference-counted
#   through marker files and rebuilt from them (dns_sync, htb_release).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$LAB_DIR/pki.sh"

TECHS="dns_forged dns_injected dns_nxdomain ip_blackhole tcp_reset tls_sni_reset tls_sni_drop tls_mitm http_blockpage throttled network_down"
CDIR=$STATE/censor
UNDO=
SNI_DROP_MARK=0x4b0/0xff0

usage() {
  echo "usage: censor.sh TECH on|off [TARGET] | reset | status   (TECH: $TECHS)" >&2
  exit 2
}

# ---- primitives that record their inverse ----------------------------------------------------
# Rules are queued per (family, table) and applied in one iptables-restore --noflush each
# (ipt_flush): one process per batch instead of one per rule. Anything that depends on the rules
# being in place (conntrack flushes, daemons) calls ipt_flush first; replay_undo does the same.
declare -A IPTQ=()
undo() { printf '%q ' "$@" >>"$UNDO"; printf '\n' >>"$UNDO"; }
# restore-syntax line: every argument double-quoted (rules never contain '"')
ipt_line() { local a out=""; for a in "$@"; do out+=" \"$a\""; done; printf '%s\n' "${out# }"; }
ipt() { # FAMILY(4|6) TABLE CHAIN RULE...: insert RULE at the top (queued), record its deletion
  local fam=$1 table=$2 chain=$3
  shift 3
  IPTQ["$fam $table"]+="$(ipt_line -I "$chain" "$@")"$'\n'
  undo ipt_del "$fam" "$table" "$chain" "$@"
}
ipt_del() { # FAMILY TABLE CHAIN RULE...: delete RULE (queued)
  local fam=$1 table=$2 chain=$3
  shift 3
  IPTQ["$fam $table"]+="$(ipt_line -D "$chain" "$@")"$'\n'
}
ipt_flush() { # apply the queued rules; a failed deletion batch falls back to rule by rule
  local k fam table bin line
  for k in "${!IPTQ[@]}"; do
    fam=${k% *} table=${k#* } bin=iptables
    [ "$fam" = 6 ] && bin=ip6tables
    if ! printf '*%s\n%sCOMMIT\n' "$table" "${IPTQ[$k]}" | cen "$bin-restore" -w -n 2>/dev/null; then
      if grep -q '^"-I"' <<<"${IPTQ[$k]}"; then
        unset 'IPTQ[$k]'
        lab_die "$bin-restore failed for table $table"
      fi
      while IFS= read -r line; do
        [ -n "$line" ] && printf '*%s\n%s\nCOMMIT\n' "$table" "$line" | cen "$bin-restore" -w -n 2>/dev/null || true
      done <<<"${IPTQ[$k]}"
    fi
    unset 'IPTQ[$k]'
  done
}
# ct_flush_dst ADDR...: drop conntrack entries toward these addresses (stale NAT decisions,
# lab-notes 4); lists the table once and deletes only what is there.
ct_flush_dst() {
  local a fam table
  ipt_flush
  table=$(cen conntrack -L -f ipv4 2>/dev/null; cen conntrack -L -f ipv6 2>/dev/null) || true
  for a in "$@"; do
    grep -qF "dst=$a " <<<"$table" || continue
    fam=ipv4
    [[ $a == *:* ]] && fam=ipv6
    cen conntrack -D -f "$fam" -d "$a" >/dev/null 2>&1 || true
  done
}
ct_flush_target() { # TARGET: ct_flush_dst on all its addresses
  # shellcheck disable=SC2046
  ct_flush_dst $(lab_target_v4 "$1") $(lab_target_v6 "$1")
}
ct_flush_dns() {
  local p f
  ipt_flush
  for f in ipv4 ipv6; do
    for p in udp tcp; do cen conntrack -D -f "$f" -p "$p" --dport 53 >/dev/null 2>&1 || true; done
  done
}
replay_undo() { # FILE: run its commands bottom-up, then delete it
  local line
  [ -f "$1" ] || return 0
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    [[ $line == ipt_del\ * ]] || ipt_flush
    eval "$line" </dev/null || true
  done < <(tac "$1")
  ipt_flush
  rm -f "$1"
}
# DNS wire format of a name as an iptables --hex-string: web.x.com -> |03|web|01|x|03|com|00|
qname_hex() {
  local out="" label
  IFS=. read -ra labels <<<"$1"
  for label in "${labels[@]}"; do out+=$(printf '|%02x|%s' "${#label}" "$label"); done
  printf '%s|00|' "$out"
}
# The SNI host_name as it appears in a ClientHello: name type 0, 16-bit length, the name
sni_hex() { printf '|00 %02x %02x|%s' $((${#1} >> 8)) $((${#1} & 255)) "$1"; }

# ---- techniques: tech_TECH TARGET (one function each; `off` is the generic replay) ------------
tech_ip_blackhole() {
  local a
  for a in $(lab_target_v4 "$1"); do ipt 4 filter FORWARD -d "$a" -j DROP; done
  for a in $(lab_target_v6 "$1"); do ipt 6 filter FORWARD -d "$a" -j DROP; done
}

tech_tcp_reset() {
  local a
  for a in $(lab_target_v4 "$1"); do ipt 4 filter FORWARD -d "$a" -p tcp -j REJECT --reject-with tcp-reset; done
  for a in $(lab_target_v6 "$1"); do ipt 6 filter FORWARD -d "$a" -p tcp -j REJECT --reject-with tcp-reset; done
}

tech_tls_sni_reset() {
  local n f names
  names=$(lab_target_tls_names "$1")
  [ -n "$names" ] || lab_die "target '$1' has no TLS names (SNI techniques need names)"
  for n in $names; do
    for f in 4 6; do
      ipt $f filter FORWARD -i cen-cl -p tcp --dport 443 -m string --algo bm --hex-string "$(sni_hex "$n")" \
        -j REJECT --reject-with tcp-reset
    done
  done
}

# The ClientHello marks its connection; every later packet of a marked flow (retransmissions,
# both directions) is dropped, so the handshake times out.
tech_tls_sni_drop() {
  local n f names
  names=$(lab_target_tls_names "$1")
  [ -n "$names" ] || lab_die "target '$1' has no TLS names (SNI techniques need names)"
  for f in 4 6; do ipt $f filter FORWARD -m connmark --mark "$SNI_DROP_MARK" -j DROP; done
  for n in $names; do
    for f in 4 6; do
      ipt $f filter FORWARD -i cen-cl -p tcp --dport 443 -m string --algo bm --hex-string "$(sni_hex "$n")" \
        -j CONNMARK --set-xmark "$SNI_DROP_MARK"
    done
  done
}

# -- tls_mitm: the target's HTTPS goes to the censor's own TLS server, which presents a valid-looking
# certificate for the name from the censor's interception CA (clients that check fail: curl rc 60).
# One nginx (pid mitm) serves every name; it runs while at least one tls_mitm is on.
tech_tls_mitm() {
  local app name v4 v6 kind n=0
  undo mitm_release "$2"
  undo ct_flush_target "$1" # recorded before the rules: `off` runs it after they are gone
  mitm_ensure
  local addrs=()
  while read -r app name v4 v6 kind; do
    [ "$kind" = dc ] && continue
    n=$((n + 1))
    addrs+=("$v4")
    ipt 4 nat PREROUTING -i cen-cl -p tcp -d "$v4" --dport 443 -j DNAT --to-destination "$LAB_CENCL4:$LAB_MITM_PORT"
    [ "$v6" = - ] && continue
    addrs+=("$v6")
    ipt 6 nat PREROUTING -i cen-cl -p tcp -d "$v6" --dport 443 -j DNAT --to-destination "[$LAB_CENCL6]:$LAB_MITM_PORT"
  done < <(lab_target_rows "$1")
  [ "$n" -gt 0 ] || lab_die "target '$1' has no TLS names"
  ct_flush_dst "${addrs[@]}"
}
mitm_ensure() {
  lab_running mitm && return 0
  local d=$STATE/pki/mitm name
  lab_pki_mitm
  {
    cat <<CONF
user root;
worker_processes 1;
daemon off;
pid $STATE/run/mitm.pid;
error_log $STATE/log/mitm-error.log warn;
events { worker_connections 256; }
http {
  access_log $STATE/log/mitm-access.log;
  client_body_temp_path $STATE/run/mitm-body;
  proxy_temp_path $STATE/run/mitm-proxy;
  fastcgi_temp_path $STATE/run/mitm-fastcgi;
  uwsgi_temp_path $STATE/run/mitm-uwsgi;
  scgi_temp_path $STATE/run/mitm-scgi;
  server_tokens off;
  ssl_certificate_key $d/leaf.key;
  ssl_certificate $d/example.org.crt;
CONF
    for name in $(lab_names); do
      cat <<CONF
  server {
    listen $LAB_CENCL4:$LAB_MITM_PORT ssl; listen [$LAB_CENCL6]:$LAB_MITM_PORT ssl;
    server_name $name;
    ssl_certificate $d/$name.crt;
    location / { default_type text/html; return 200 '<!doctype html><html><body><p>$name (intercepted by the Lab Ministry)</p></body></html>\n'; }
  }
CONF
    done
    echo "}"
  } >"$STATE/conf/mitm.conf"
  lab_start mitm "$NS_CEN" nginx -e "$STATE/log/mitm-error.log" -p "$STATE/run" -c "$STATE/conf/mitm.conf"
  wait_until 3 cen bash -c "exec 3<>/dev/tcp/$LAB_CENCL4/$LAB_MITM_PORT" || lab_die "interception server did not start"
}
mitm_release() { # KEY: stop the interception server unless another tls_mitm is on
  local f
  for f in "$CDIR"/tls_mitm@*.undo; do [ "$f" = "$CDIR/tls_mitm@$1.undo" ] || return 0; done
  lab_stop mitm
}

tech_http_blockpage() {
  local app name v4 v6 kind port addrs=()
  undo ct_flush_target "$1" # recorded before the rules: `off` runs it after they are gone
  while read -r app name v4 v6 kind; do
    addrs+=("$v4")
    [ "$v6" = - ] || addrs+=("$v6")
    for port in 80 $([ "$kind" = dc ] && echo 443); do
      ipt 4 nat PREROUTING -i cen-cl -p tcp -d "$v4" --dport "$port" -j DNAT --to-destination "$LAB_CENCL4:$LAB_BLOCKPAGE_PORT"
      [ "$v6" = - ] ||
        ipt 6 nat PREROUTING -i cen-cl -p tcp -d "$v6" --dport "$port" -j DNAT --to-destination "[$LAB_CENCL6]:$LAB_BLOCKPAGE_PORT"
    done
  done < <(lab_target_rows "$1")
  ct_flush_dst "${addrs[@]}"
}

# network_down, optionally with allow-list exceptions (KP_LAB_ALLOW, `keepon lab censor
# network_down on --allow LIST`): what a whitelist cut or a national-only network still lets
# through. Entries: ADDR or ADDR/LEN (every packet to or from it), tcp:PORT / udp:PORT (that port
# toward any address, and its replies: Kazakhstan's holes, TCP 179/3785 and DNS on 53). The DROP
# goes in first; each ACCEPT is inserted above it, so the exceptions win. The undo file removes
# them all with the DROP.
tech_network_down() {
  local e fam proto port
  for e in ${KP_LAB_ALLOW:-}; do
    if [[ $e =~ ^(tcp|udp):([0-9]{1,5})$ ]]; then
      [ "${BASH_REMATCH[2]}" -ge 1 ] && [ "${BASH_REMATCH[2]}" -le 65535 ] || lab_die "bad allow port '$e'"
    elif [[ $e =~ ^[0-9.]+(/[0-9]{1,2})?$ || $e =~ ^[0-9a-fA-F:]+(/[0-9]{1,3})?$ ]]; then :
    else lab_die "bad allow entry '$e' (ADDR, ADDR/LEN, tcp:PORT, udp:PORT)"
    fi
  done
  ipt 4 filter FORWARD -j DROP
  ipt 6 filter FORWARD -j DROP
  for e in ${KP_LAB_ALLOW:-}; do
    if [[ $e =~ ^(tcp|udp):([0-9]+)$ ]]; then
      proto=${BASH_REMATCH[1]} port=${BASH_REMATCH[2]}
      for fam in 4 6; do
        ipt "$fam" filter FORWARD -p "$proto" --dport "$port" -j ACCEPT
        ipt "$fam" filter FORWARD -p "$proto" --sport "$port" -j ACCEPT
      done
    else
      fam=4
      [[ $e == *:* ]] && fam=6
      ipt "$fam" filter FORWARD -d "$e" -j ACCEPT
      ipt "$fam" filter FORWARD -s "$e" -j ACCEPT
    fi
  done
}

# -- throttled: htb on cen-cl (toward the client); class 1:N per (target), default class 1:99 --
tech_throttled() {
  local rate=${KP_LAB_RATE:-64kbit} n a
  [[ $rate =~ ^[0-9]+(bit|kbit|mbit|gbit)$ ]] || { echo "bad rate '$rate' (e.g. 64kbit, 2mbit)" >&2; exit 2; }
  for n in $(seq 10 98); do [ -e "$CDIR/htb.$n" ] || break; done
  [ -e "$CDIR/htb.$n" ] && lab_die "too many throttled targets"
  # grep without -q reads all of tc's output: `grep -q` stops at the first match, tc then dies of
  # SIGPIPE, pipefail fails the test, and the root qdisc was added twice ("Exclusivity flag on")
  if ! cen tc qdisc show dev cen-cl | grep '^qdisc htb 1:' >/dev/null; then
    cen tc qdisc add dev cen-cl root handle 1: htb default 99
    cen tc class add dev cen-cl parent 1: classid 1:99 htb rate 10gbit quantum 60000
  fi
  echo "$1" >"$CDIR/htb.$n"
  undo htb_release "$n"
  cen tc class add dev cen-cl parent 1: classid "1:$n" htb rate "$rate" ceil "$rate" quantum 1514 burst 1600
  # A bounded queue, as a real shaper/policer has: about 0.5 s at the rate (>= 2 full packets).
  # htb's default leaf is a txqueuelen (1000-packet) pfifo: an aborted download left ~200 KB
  # queued, 25 s at 64 kbit/s, and the next run's connects to the target timed out behind it
  # (the kz2022 demo's Messenger read ip_blackhole every other run).
  local bits=${rate%%[a-z]*} unit=${rate##*[0-9]} limit
  case $unit in kbit) bits=$((bits * 1000)) ;; mbit) bits=$((bits * 1000000)) ;; gbit) bits=$((bits * 1000000000)) ;; esac
  limit=$((bits / 16))
  [ "$limit" -ge 3028 ] || limit=3028
  cen tc qdisc add dev cen-cl parent "1:$n" bfifo limit "$limit"
  for a in $(lab_target_v4 "$1"); do
    cen tc filter add dev cen-cl parent 1: protocol ip prio "$n" u32 match ip src "$a/32" flowid "1:$n"
  done
  for a in $(lab_target_v6 "$1"); do
    cen tc filter add dev cen-cl parent 1: protocol ipv6 prio $((n + 100)) u32 match ip6 src "$a/128" flowid "1:$n"
  done
}
htb_release() {
  local n=$1 rest
  cen tc filter del dev cen-cl parent 1: prio "$n" 2>/dev/null || true
  cen tc filter del dev cen-cl parent 1: prio $((n + 100)) 2>/dev/null || true
  cen tc qdisc del dev cen-cl parent "1:$n" 2>/dev/null || true
  cen tc class del dev cen-cl classid "1:$n" 2>/dev/null || true
  rm -f "$CDIR/htb.$n"
  rest=("$CDIR"/htb.*)
  [ "${#rest[@]}" -gt 0 ] || cen tc qdisc del dev cen-cl root 2>/dev/null || true
}

# -- dns_forged / dns_nxdomain: one lying dnsmasq on the censor, fed from marker files ----------
# $CDIR/dns/forged@T and nxdomain@T list names. dns_sync (re)starts the liar with all of them and
# keeps the DNAT of port 53 (udp+tcp, v4+v6, from the client side) exactly while one exists.
tech_dns_forged() { dns_mark forged "$1"; }
tech_dns_nxdomain() { dns_mark nxdomain "$1"; }
dns_mark() {
  local f="$CDIR/dns/$1@$2"
  mkdir -p "$CDIR/dns"
  undo dns_sync
  undo rm -f "$f"
  lab_target_names "$2" >"$f"
  [ -s "$f" ] || lab_die "target '$2' has no DNS names"
  dns_sync
}
dns_sync() {
  local args=() n f p fam
  for f in "$CDIR"/dns/forged@*; do
    for n in $(cat "$f"); do args+=("--address=/$n/$LAB_FORGED4" "--address=/$n/$LAB_FORGED6"); done
  done
  for f in "$CDIR"/dns/nxdomain@*; do
    for n in $(cat "$f"); do args+=("--address=/$n/"); done
  done
  lab_stop dnsliar
  if [ "${#args[@]}" -eq 0 ]; then
    replay_undo "$CDIR/dnat.undo"
    ct_flush_dns
    return 0
  fi
  lab_start dnsliar "$NS_CEN" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
    --listen-address="$LAB_CENCL4,$LAB_CENCL6" --bind-interfaces --user=root --group=root \
    --pid-file="$STATE/run/dnsliar.pid" --log-facility=- --cache-size=0 --server="$LAB_RESOLVER4" "${args[@]}"
  wait_until 3 cen dig +time=1 +tries=1 "@$LAB_CENCL4" example.org A || lab_die "lying resolver did not start"
  if [ ! -f "$CDIR/dnat.undo" ]; then
    local saved=$UNDO
    UNDO=$CDIR/dnat.undo
    for p in udp tcp; do
      ipt 4 nat PREROUTING -i cen-cl -p "$p" --dport 53 -j DNAT --to-destination "$LAB_CENCL4:53"
      ipt 6 nat PREROUTING -i cen-cl -p "$p" --dport 53 -j DNAT --to-destination "[$LAB_CENCL6]:53"
    done
    ipt_flush
    UNDO=$saved
  fi
  ct_flush_dns
}

# -- dns_injected: keepon's on-path injector answers first; the true query is held back ---------
# The client's UDP query for a target name is dropped in FORWARD (so only the injector forwards
# it); the injector, tapping cen-cl, sends a forged answer spoofed from the resolver at once and
# re-sends the original query after --delay-ms, so the true answer arrives second.
tech_dns_injected() {
  local names n f key=inject-$2
  names=$(lab_target_names "$1")
  [ -n "$names" ] || lab_die "target '$1' has no DNS names"
  [ -n "${KP_BIN:-}" ] && [ -x "$KP_BIN" ] || lab_die "dns_injected needs KP_BIN (the keepon binary)"
  undo lab_stop "$key"
  lab_start "$key" "$NS_CEN" "$KP_BIN" lab inject --iface cen-cl --delay-ms "${KP_LAB_INJECT_DELAY_MS:-150}" \
    --forge4 "$LAB_FORGED4" --forge6 "$LAB_FORGED6" $names
  wait_until 3 grep -q "injector ready" "$STATE/log/$key.log" || lab_die "injector did not start (see $STATE/log/$key.log)"
  for n in $names; do
    for f in 4 6; do
      ipt $f filter FORWARD -i cen-cl -p udp --dport 53 -m string --algo bm --icase --hex-string "$(qname_hex "$n")" -j DROP
    done
  done
}

# ---- verbs -----------------------------------------------------------------------------------
censor_on() {
  local tech=$1 target=$2 key=$3 rc
  UNDO=$CDIR/$tech@$key.undo
  if [ -f "$UNDO" ]; then lab_log "$tech already on for $key"; return 0; fi
  : >"$UNDO"
  set +e
  (
    set -e
    "tech_$tech" "$target" "$key"
    ipt_flush
  )
  rc=$?
  set -e
  if [ "$rc" -ne 0 ]; then
    replay_undo "$UNDO"
    [ "$rc" -eq 2 ] && exit 2
    lab_die "$tech on $key failed (undone)"
  fi
  lab_log "$tech on for $key"
}
censor_off() {
  local tech=$1 key=$2
  UNDO=$CDIR/$tech@$key.undo
  if [ ! -f "$UNDO" ]; then lab_log "$tech is not on for $key"; return 0; fi
  replay_undo "$UNDO"
  lab_log "$tech off for $key"
}
censor_reset() {
  local f
  for f in "$CDIR"/*@*.undo; do replay_undo "$f"; done
  rm -rf "$CDIR/dns"
  lab_stop dnsliar
  replay_undo "$CDIR/dnat.undo"
  for f in "$STATE"/pid/inject-*.pid; do lab_stop "$(basename "$f" .pid)"; done
  lab_stop mitm
  for f in "$CDIR"/htb.*; do htb_release "${f##*.}"; done
  ct_flush_dns
  lab_log "censor reset"
}
# One censor change at a time per instance (undo files, shared liar/qdisc, restore batches).
censor_lock() {
  exec 9>"$CDIR/.lock"
  flock -w 60 9 || lab_die "another 'censor' is still running"
}
censor_active() { # one "TECH TARGET" line per active technique
  local f b
  for f in "$CDIR"/*@*.undo; do
    b=$(basename "$f" .undo)
    echo "${b%@*} ${b#*@}"
  done
}

main() {
  [ $# -ge 1 ] || usage
  case $1 in
  reset) lab_is_up || lab_die "not up"; mkdir -p "$CDIR"; censor_lock; censor_reset; return ;;
  status) censor_active; return ;;
  esac
  local tech=$1 action=${2:-} target=${3:-}
  [[ " $TECHS " == *" $tech "* ]] || { echo "unknown technique '$tech' (one of: $TECHS, reset, status)" >&2; exit 2; }
  [ "$action" = on ] || [ "$action" = off ] || usage
  if [ "$tech" = network_down ]; then
    [ -z "$target" ] || { echo "network_down takes no --target" >&2; exit 2; }
    key=all
  else
    [ -n "$target" ] || { echo "$tech needs --target (an app: $LAB_APPS, or a host name)" >&2; exit 2; }
    lab_target_valid "$target" || { echo "unknown target '$target' (an app: $LAB_APPS, or a name/address of docs/lab.md)" >&2; exit 2; }
    key=$target
  fi
  lab_is_up || lab_die "not up (run: keepon lab up)"
  mkdir -p "$CDIR"
  censor_lock
  if [ "$action" = on ]; then censor_on "$tech" "$target" "$key"; else censor_off "$tech" "$key"; fi
}
main "$@"
