#!/usr/bin/env bash
# status.sh: what instance P looks like: namespaces, daemons, active techniques, censor rules.
# Exit 0 when the lab is up, 3 when it is not (so scripts can test it).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

echo "lab $P (state $STATE)"
for ns in $(lab_all_namespaces); do
  if ns_exists "$ns"; then echo "  namespace $ns: present"; else echo "  namespace $ns: absent"; fi
done
for f in "$STATE"/pid/*.pid; do
  name=$(basename "$f" .pid)
  read -r pid ns <"$f" || true
  if lab_running "$name"; then s=running; else s=dead; fi
  echo "  daemon $name: pid $pid in $ns, $s"
done
active=$("$LAB_DIR/censor.sh" status 2>/dev/null || true)
if [ -n "$active" ]; then
  echo "  censorship:"
  printf '%s\n' "$active" | sed 's/^/    /'
else
  echo "  censorship: none"
fi
if ns_exists "$NS_CEN"; then
  echo "  forwarding: v4=$(cen sysctl -n net.ipv4.ip_forward) v6=$(cen sysctl -n net.ipv6.conf.all.forwarding)"
  echo "  censor rules:"
  { cen iptables-save 2>/dev/null; cen ip6tables-save 2>/dev/null; } | grep -E '^-A' | sed 's/^/    /' || true
  cen tc qdisc show dev cen-cl 2>/dev/null | grep -v 'noqueue' | sed 's/^/    /' || true
fi
if lab_is_up; then echo "  state: up"; exit 0; fi
echo "  state: down"
exit 3
