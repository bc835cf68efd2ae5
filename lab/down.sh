#!/usr/bin/env bash
# down.sh: remove lab instance P completely. Idempotent and safe on a half-built instance:
#   1. stop every recorded daemon by its PID (TERM, then KILL after 2 s);
#   2. kill whatever still runs in P-client/P-censor/P-servers and the namespaces extensions
#      registered (lab_register_ns), found by `ip netns pids`, by PID;
#   3. delete the namespaces (their veths, addresses, routes, rules and qdiscs go with them);
#   4. remove /etc/netns/P-* and $STATE (only if it carries the lab's .keepon-lab marker).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
quiet=${1:-}

for f in "$STATE"/pid/*.pid; do
  lab_stop "$(basename "$f" .pid)"
done
namespaces=$(lab_all_namespaces)
for ns in $namespaces; do
  ns_exists "$ns" || continue
  for pid in $(ip netns pids "$ns" 2>/dev/null); do
    kill_pid "$pid" "$ns"
  done
done
for ns in $namespaces; do
  if ns_exists "$ns"; then
    ip netns del "$ns" 2>/dev/null || { sleep 0.2; ip netns del "$ns"; }
  fi
  rm -rf "/etc/netns/$ns"
done
if [ -d "$STATE" ]; then
  if [ -f "$STATE/.keepon-lab" ]; then
    rm -rf "$STATE"
  elif [ -n "$(ls -A "$STATE" 2>/dev/null)" ]; then
    lab_log "not removing $STATE: it has no .keepon-lab marker"
  else
    rmdir "$STATE"
  fi
fi
[ "$quiet" = --quiet ] || lab_log "down"
