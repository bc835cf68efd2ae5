#!/usr/bin/env bash
# caps.sh: keepon watch started by an unprivileged user from a binary that has only the file
# capability cap_net_raw (setcap) opens its raw socket and then keeps no capability and sets
# no-new-privs (issue 13). The run is inside a fresh network namespace with only loopback up
# (127.0.0.0/24 opened with --allow-reserved): no packet leaves it. The driver logs what the
# kernel reports after the drop; before the fix this user kept CAP_NET_RAW for the whole run.
set -euo pipefail
bin=${KP_BIN:?KP_BIN not set}
[ "$(id -u)" = 0 ] || { echo "skip: needs root (setcap, unshare)"; exit 77; }
for c in setcap setpriv unshare; do command -v $c >/dev/null || { echo "skip: $c missing"; exit 77; }; done
id nobody >/dev/null 2>&1 || { echo "skip: no user nobody"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
cp "$bin" "$tmp/keepon"
setcap cap_net_raw+ep "$tmp/keepon" 2>/dev/null || { echo "skip: file capabilities not supported here"; exit 77; }
chmod 755 "$tmp/keepon"
echo 127.0.0.0/24 > "$tmp/lo.cidr"
mkdir "$tmp/home" && chown nobody "$tmp/home"
printf '{"block":"127.0.0.0/24","a":1.0000,"hosts":[1,2,3]}\n' > "$tmp/census.jsonl"
chmod 644 "$tmp/lo.cidr" "$tmp/census.jsonl"
unshare -n sh -c "ip link set lo up && exec setpriv --reuid nobody --regid $(id -g nobody) --clear-groups \
  env KEEPON_HOME=$tmp/home $tmp/keepon -v watch --allow-reserved 127.0.0.0/8 --census $tmp/census.jsonl \
  --cidr $tmp/lo.cidr --min-hosts 1 --round 1 --rounds 2 --timeout 0.2 --no-geo-default --out $tmp/home/out.jsonl" \
  > "$tmp/err" 2>&1 || { cat "$tmp/err"; echo "watch failed"; exit 1; }
nobody=$(id -u nobody)
grep privileges "$tmp/err"
grep -q "privileges: uid $nobody euid $nobody, CAP_NET_RAW gone, no-new-privs 1" "$tmp/err" \
  || { echo "FAIL: capabilities kept after opening the socket"; cat "$tmp/err"; exit 1; }
[ -s "$tmp/home/out.jsonl" ] || { echo "FAIL: no output (the socket must still work after the drop)"; exit 1; }
echo ok
