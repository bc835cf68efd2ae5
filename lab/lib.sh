# shellcheck shell=bash
# lib.sh: shared helpers of the lab scripts. Sourced, never run.
#
# Environment (set by `keepon lab`, defaults for running the scripts by hand):
#   KP_LAB_PREFIX  instance prefix P (default kp): namespaces P-client, P-censor, P-servers
#   KP_LAB_STATE   run-time folder (default $PWD/var/lab/P): pid/, log/, conf/, pki/, www/, censor/
#   KP_BIN         the keepon binary (needed only for dns_injected)
#
# Invariants:
#  - every process the lab starts is recorded in $STATE/pid/NAME.pid as "PID NAMESPACE" and is
#    stopped only by that PID, and only while it still lives in that namespace (no PID reuse
#    accident, no kill by name);
#  - nothing is created outside P-* namespaces, /etc/netns/P-* and $STATE.
set -euo pipefail
shopt -s nullglob

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
P=${KP_LAB_PREFIX:-kp}
if ! [[ $P =~ ^[a-z0-9][a-z0-9-]{0,23}$ ]]; then
  echo "lab: bad prefix '$P' (a-z, 0-9, '-', at most 24 characters)" >&2
  exit 2
fi
STATE=${KP_LAB_STATE:-$PWD/var/lab/$P}
NS_CL=$P-client
NS_CEN=$P-censor
NS_SV=$P-servers
LAB_NAMESPACES="$NS_CL $NS_CEN $NS_SV"
# Extensions (lab/up.d/*.sh, e.g. OONI's QA world) that add namespaces register them here, so
# status and down handle them like the core three.
lab_register_ns() { # NS: create (if needed) and remember an extra namespace of this instance
  ns_exists "$1" || { ip netns add "$1"; ip -n "$1" link set lo up; }
  grep -qx "$1" "$STATE/namespaces.extra" 2>/dev/null || echo "$1" >>"$STATE/namespaces.extra"
}
lab_all_namespaces() {
  echo $LAB_NAMESPACES
  [ -f "$STATE/namespaces.extra" ] && grep -E "^$P-[a-z0-9-]+$" "$STATE/namespaces.extra" || true
}
# shellcheck source=hosts.sh
. "$LAB_DIR/hosts.sh"

lab_log() { echo "lab $P: $*" >&2; }
lab_die() { echo "lab $P: $*" >&2; exit 1; }

nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
cen() { ip netns exec "$NS_CEN" "$@"; }
ns_exists() { [ -e "/run/netns/$1" ]; }

# ---- host table queries -------------------------------------------------------------------
# lab_hosts: the table without blank lines; columns app name v4 v6 kind
lab_hosts() { printf '%s\n' "$LAB_HOSTS" | awk 'NF == 5'; }
# lab_names: every DNS name
lab_names() { lab_hosts | awk '$2 != "-" { print $2 }'; }
# lab_target_rows TARGET: the host rows a --target selects: an app, a name or an address, or
# APP:HOST (one endpoint of an app: whatsapp:e3.whatsapp.net or whatsapp:198.19.12.3). An IPv6
# address also has colons: APP:HOST applies only when the part before the first colon is an app.
lab_target_rows() {
  local t=$1
  lab_hosts | awk -v t="$t" '
    { rows[NR] = $0; app[$1] = 1; a[NR] = $1; n[NR] = $2; v4[NR] = $3; v6[NR] = $4 }
    END {
      i = index(t, ":"); pa = i ? substr(t, 1, i - 1) : ""; ph = i ? substr(t, i + 1) : ""
      scoped = (pa in app) && ph != ""
      for (r = 1; r <= NR; r++)
        if (scoped ? (a[r] == pa && (n[r] == ph || v4[r] == ph || v6[r] == ph)) \
                   : (a[r] == t || n[r] == t || v4[r] == t || v6[r] == t)) print rows[r]
    }'
}
lab_target_valid() { [ -n "$(lab_target_rows "$1")" ]; }
lab_target_names() { lab_target_rows "$1" | awk '$2 != "-" { print $2 }'; }
lab_target_v4() { lab_target_rows "$1" | awk '$3 != "-" { print $3 }'; }
lab_target_v6() { lab_target_rows "$1" | awk '$4 != "-" { print $4 }'; }
# names that speak TLS on 443 (SNI techniques)
lab_target_tls_names() { lab_target_rows "$1" | awk '$2 != "-" && $5 != "dc" { print $2 }'; }

# ---- processes ----------------------------------------------------------------------------
# pid_alive PID: true while PID exists and is not a zombie (PID 1 here reaps orphans late).
pid_alive() {
  local st
  [ -r "/proc/$1/stat" ] || return 1
  st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
# pid_in_ns PID NS: the process lives in namespace NS
pid_in_ns() { [ "$(ip netns identify "$1" 2>/dev/null)" = "$2" ]; }

# lab_start NAME NS CMD...: start a daemon in NS, record its PID (ip netns exec execs, so $! is it).
# fd 9 (the censor lock) is closed for the daemon, or it would hold the lock for its lifetime.
lab_start() {
  local name=$1 ns=$2
  shift 2
  mkdir -p "$STATE/pid" "$STATE/log"
  ip netns exec "$ns" "$@" </dev/null >>"$STATE/log/$name.log" 2>&1 9>&- &
  echo "$! $ns" >"$STATE/pid/$name.pid"
}

# kill_pid PID NS: TERM, wait up to 2 s, then KILL; only if PID still lives in NS
kill_pid() {
  local pid=$1 ns=$2 i
  pid_alive "$pid" && pid_in_ns "$pid" "$ns" || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 40); do
    pid_alive "$pid" || return 0
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
}

# lab_stop NAME: stop the daemon recorded in pid/NAME.pid and forget it
lab_stop() {
  local f="$STATE/pid/$1.pid" pid ns
  [ -f "$f" ] || return 0
  read -r pid ns <"$f" || true
  [ -n "${pid:-}" ] && [ -n "${ns:-}" ] && kill_pid "$pid" "$ns"
  rm -f "$f"
}

# lab_running NAME: the recorded daemon is alive
lab_running() {
  local f="$STATE/pid/$1.pid" pid ns
  [ -f "$f" ] || return 1
  read -r pid ns <"$f" || return 1
  pid_alive "$pid" && pid_in_ns "$pid" "$ns"
}

# wait_until SECONDS CMD...: poll CMD every 50 ms
wait_until() {
  local t=$1 i
  shift
  for i in $(seq $((t * 20))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  return 1
}

# lab_is_up: namespaces exist, the up marker is there and the three daemons live
lab_is_up() {
  local ns
  [ -f "$STATE/.up" ] || return 1
  for ns in $LAB_NAMESPACES; do ns_exists "$ns" || return 1; done
  lab_running dns && lab_running nginx && lab_running blockpage
}
