#!/usr/bin/env bash
# fresh-check.sh: the README's two commands on a fresh Debian 12 machine (part of CI, .ci/run).
#
#   1. root   a Debian 12 (bookworm) minbase root made with debootstrap. The package tarball is
#             cached outside the repository ($KP_FRESH_CACHE, default /var/cache/keepon): the
#             first run downloads it (~45 MB), later runs only unpack it. Apt sources: the
#             Debian mirror this machine uses (bookworm, -updates, -security), nothing else.
#   2. tree   the committed tree (`git archive HEAD`; --tree worktree: the tracked and
#             untracked-not-ignored files as they are now) at /work/keepon; ../shared of this
#             checkout, when present, bind-mounted read-only at /work/shared (the same relative
#             path, so tests that read ../shared/data run instead of skipping).
#   3. run    inside a private mount + PID namespace (nothing mounted or started inside can
#             outlive the check): /proc, /sys, a /dev of its own, a tmpfs /run (network namespaces live in
#             /run/netns), this machine's /etc/resolv.conf, /root/.npmrc and local CAs
#             (/usr/local/share/ca-certificates, NODE_EXTRA_CA_CERTS: npm reaches the registry
#             the way this machine does); then, as root, from /work/keepon, nothing
#             else installed:
#                 bash scripts/demo.sh  [--demo-args]      (default: as the README writes it)
#                 bash scripts/test.sh  [--test-args]      (default: --fast, the release suite;
#                                                           CI runs both suites on the machine)
#   4. verdict the demo exits 0 with `demo check` MATCH; test.sh exits 0 (0 failed); no log says
#             "command not found"; every skipped test is printed with its reason, and a skip
#             whose reason is not one docs/testing.md lists as unchangeable on a fresh machine
#             fails the check (a missing package must fail here, not pass as a skip).
#   5. exit   on every path (trap): the namespace's processes are killed (its PID 1 by PID),
#             its mounts vanish with it, the root is deleted (after checking that nothing is
#             mounted under it any more).
#
# Usage: scripts/fresh-check.sh [--demo-args "ARGS"] [--test-args "ARGS"] [--tree head|worktree]
#                               [--keep-root] [--timeout SEC]
# Env:   KP_FRESH_CACHE (tarball cache), KP_FRESH_BASE (where the root goes, default /var/tmp),
#        KP_FRESH_OUT (logs kept after the root is gone, default /var/tmp/kp-fresh-out),
#        KP_FRESH_MIRROR (Debian mirror URL; default: this machine's).
# Needs root (debootstrap, chroot, namespaces) and ~4 GB of disk. Exit 0 = both commands passed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
demo_args= test_args=--fast tree=head keep_root=0 limit=2700
while [ $# -gt 0 ]; do
  case $1 in
  --demo-args) demo_args=$2; shift 2 ;;
  --test-args) test_args=$2; shift 2 ;;
  --tree) tree=$2; shift 2 ;;
  --keep-root) keep_root=1; shift ;;
  --timeout) limit=$2; shift 2 ;;
  -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "fresh-check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "fresh-check: needs root (debootstrap, chroot, namespaces)" >&2; exit 2; }
case $tree in head | worktree) ;; *) echo "fresh-check: --tree head|worktree" >&2; exit 2 ;; esac

t0=$(date +%s)
say() { printf '[fresh %5ds] %s\n' "$(($(date +%s) - t0))" "$*"; }
die() { say "FAIL: $*"; exit 1; }

cache=${KP_FRESH_CACHE:-/var/cache/keepon}
out=${KP_FRESH_OUT:-/var/tmp/kp-fresh-out}
base=${KP_FRESH_BASE:-/var/tmp}
mkdir -p "$cache" "$out" "$base"
rm -f "$out"/*.log "$out"/check.txt
log=$out/console.log

# ---------------------------------------------------------------- cleanup (every exit path)
work= fs= ns_pid=
mounted_under() { # prints the mount points of this namespace under $1
  awk -v p="$1/" 'index($5 "/", p) == 1 { print $5 }' /proc/self/mountinfo
}
cleanup() {
  local rc=$? m
  trap - EXIT INT TERM
  if [ -n "$ns_pid" ] && kill -0 "$ns_pid" 2>/dev/null; then
    say "stopping the root's processes (unshare pid $ns_pid)"
    kill -TERM "$ns_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$ns_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$ns_pid" 2>/dev/null || true
    wait "$ns_pid" 2>/dev/null || true
  fi
  if [ -n "$work" ] && [ -d "$work" ]; then
    # the mounts live in the namespace and die with it; this is the safety net should one leak
    for m in $(mounted_under "$work" | sort -r); do umount -l "$m" 2>/dev/null || true; done
    if [ -n "$(mounted_under "$work")" ]; then
      say "WARN still mounted under $work, not deleting it: $(mounted_under "$work" | tr '\n' ' ')"
      rc=1
    elif [ "$keep_root" = 1 ]; then
      say "root kept (--keep-root): $work/fs  (delete with: rm -rf --one-file-system $work)"
    else
      rm -rf --one-file-system "$work"
    fi
  fi
  say "exit $rc; logs in $out"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- 1. root
command -v debootstrap >/dev/null || {
  say "installing debootstrap on this machine (the check's own tool)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
}
# the Debian mirror this machine uses (deb822 .sources or one-line lists), else deb.debian.org
mirror=${KP_FRESH_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | sed -n 's|^URIs: *\(\S*/debian\)/\?$|\1|p' | head -1)
  [ -n "$mirror" ] || mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    sed -n 's|^deb \(\[[^]]*\] \)\?\(\S*/debian\)/\? bookworm .*|\2|p' | head -1)
  [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
fi
security=${mirror%/debian}/debian-security

work=$(mktemp -d "$base/kp-fresh.XXXXXX")
fs=$work/fs
tgz=$cache/bookworm-minbase-amd64.tgz
exec 8>"$cache/.lock"
flock 8
if [ ! -s "$tgz" ]; then
  say "downloading the bookworm minbase packages from $mirror into $tgz (once)"
  unshare --mount --propagation private \
    debootstrap --variant=minbase --make-tarball="$tgz.part" bookworm "$work/tarball" "$mirror" >"$out/debootstrap.log" 2>&1 ||
    { tail -20 "$out/debootstrap.log"; die "debootstrap --make-tarball failed (see $out/debootstrap.log)"; }
  mv "$tgz.part" "$tgz"
  rm -rf --one-file-system "$work/tarball"
fi
flock -u 8
say "debootstrap --variant=minbase bookworm (from $tgz)"
# in its own mount namespace: the /proc and /sys debootstrap mounts in the target cannot leak
unshare --mount --propagation private \
  debootstrap --variant=minbase --unpack-tarball="$tgz" bookworm "$fs" "$mirror" >>"$out/debootstrap.log" 2>&1 ||
  { tail -20 "$out/debootstrap.log"; die "debootstrap failed (see $out/debootstrap.log)"; }
cat >"$fs/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
EOF
cp -L /etc/resolv.conf "$fs/etc/resolv.conf"
[ -e /root/.npmrc ] && cp /root/.npmrc "$fs/root/.npmrc"
# this machine's own CAs (e.g. an egress proxy's that re-signs https to the npm registry): the
# root's ca-certificates package adds them to its store when deps.sh installs it, as it would on
# a machine set up the same way; node is pointed at that store as here (NODE_EXTRA_CA_CERTS)
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
  mkdir -p "$fs/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$fs/usr/local/share/ca-certificates/"
fi
node_ca=
[ -n "${NODE_EXTRA_CA_CERTS:-}" ] && node_ca="NODE_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS"
grep -q localhost "$fs/etc/hosts" 2>/dev/null || printf '127.0.0.1 localhost\n::1 localhost ip6-localhost\n' >"$fs/etc/hosts"
echo keepon-fresh >"$fs/etc/hostname"
say "root ready: $(du -sh --one-file-system "$fs" | cut -f1), $(chroot "$fs" dpkg-query -W | wc -l) packages"

# ---------------------------------------------------------------- 2. tree
mkdir -p "$fs/work/keepon"
rev=$(git -C "$repo" rev-parse --short HEAD)
if [ "$tree" = head ]; then
  git -C "$repo" archive HEAD | tar -x -C "$fs/work/keepon"
  dirty=$(git -C "$repo" status --porcelain --untracked-files=no | wc -l)
  say "tree: git archive HEAD ($rev)$([ "$dirty" = 0 ] || echo "; NOTE $dirty modified files are not in it (--tree worktree tests them)")"
else
  (cd "$repo" && git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done | tar --null -T - -c) | tar -x -C "$fs/work/keepon"
  say "tree: the working tree's tracked and untracked files (--tree worktree, $(git -C "$repo" rev-parse --short HEAD) + changes)"
fi
shared=
if [ -d "$repo/../shared" ]; then
  shared=$(cd "$repo/../shared" && pwd)
  mkdir -p "$fs/work/shared"
  say "shared data: $shared -> /work/shared (read-only)"
else
  say "NOTE no ../shared beside this checkout: tests that need ../shared/data will skip (allowed)"
fi

# ---------------------------------------------------------------- 3. run
# The inside, as a newcomer types it: a login shell as root in the tree, the README's commands.
cat >"$fs/work/fresh-inside.sh" <<EOF
cd /work/keepon
echo "== fresh: bash scripts/demo.sh $demo_args"
s=\$(date +%s); rc=0
bash scripts/demo.sh $demo_args </dev/null || rc=\$?
echo "== fresh: demo exit \$rc after \$((\$(date +%s) - s)) s"
echo "== fresh: bash scripts/test.sh $test_args"
s=\$(date +%s); rc=0
bash scripts/test.sh $test_args </dev/null || rc=\$?
echo "== fresh: test exit \$rc after \$((\$(date +%s) - s)) s"
EOF
# The namespace side: make the root a mount point (ip netns exec remounts / as a slave), the
# kernel file systems, /run as tmpfs (netns bind mounts), ../shared read-only, then chroot.
inner='set -e
fs=$1 shared=$2 node_ca=$3
mount --bind "$fs" "$fs"
mount -t proc proc "$fs/proc"
mount -t sysfs sysfs "$fs/sys"
# a /dev of its own, as a fresh machine has it (this machine'"'"'s /dev/null may be mode 600,
# which breaks apt'"'"'s unprivileged _apt user): the usual nodes, a private devpts, /dev/shm
mount -t tmpfs -o mode=755,nosuid tmpfs "$fs/dev"
for d in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
  IFS=: read -r n ma mi <<<"$d"; mknod -m 666 "$fs/dev/$n" c "$ma" "$mi"
done
mkdir -p "$fs/dev/pts" "$fs/dev/shm" "$fs/dev/net"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$fs/dev/pts"
ln -s pts/ptmx "$fs/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$fs/dev/shm"
[ -e /dev/net/tun ] && mknod -m 666 "$fs/dev/net/tun" c 10 200
ln -s /proc/self/fd "$fs/dev/fd"
ln -s /proc/self/fd/0 "$fs/dev/stdin"; ln -s /proc/self/fd/1 "$fs/dev/stdout"; ln -s /proc/self/fd/2 "$fs/dev/stderr"
mount -t tmpfs -o mode=755 tmpfs "$fs/run"
if [ -n "$shared" ]; then mount --bind "$shared" "$fs/work/shared"; mount -o remount,bind,ro "$fs/work/shared"; fi
exec chroot "$fs" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb $node_ca \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /bin/bash -l /work/fresh-inside.sh'
say "running the README's commands inside (log: $log; limit ${limit}s)"
# PID 1 inside is the in-root bash (it reaps orphans); timeout signals unshare, whose death
# SIGKILLs that PID 1 (--kill-child), which takes every process of the namespace with it
timeout --kill-after=20 "$limit" unshare --mount --pid --fork --kill-child --propagation private \
  bash -c "$inner" inner "$fs" "$shared" "$node_ca" > >(tee "$log") 2>&1 &
ns_pid=$!
rc=0
wait "$ns_pid" || rc=$?
ns_pid=
sleep 0.2 # tee drains
[ "$rc" = 124 ] || [ "$rc" = 137 ] && say "FAIL: the inside hit the ${limit}s limit"

# ---------------------------------------------------------------- 4. verdict
k=$fs/work/keepon
for d in "$k"/build*/; do
  [ -e "$d/Testing/Temporary/LastTest.log" ] && cp "$d/Testing/Temporary/LastTest.log" "$out/LastTest-$(basename "$d").log"
done
[ -e "$k/kz2022-out/check.txt" ] && cp "$k/kz2022-out/check.txt" "$out/check.txt"
[ -d "$k/kz2022-out/logs" ] && tar -C "$k/kz2022-out" -czf "$out/demo-logs.tgz" logs 2>/dev/null || true

bad=()
demo_rc=$(sed -n 's/^== fresh: demo exit \([0-9]*\).*/\1/p' "$log")
test_rc=$(sed -n 's/^== fresh: test exit \([0-9]*\).*/\1/p' "$log")
echo
say "=== verdict ($rev, $tree tree)"
if [ "$demo_rc" = 0 ] && grep -q '^MATCH' "$out/check.txt" 2>/dev/null; then
  say "ok   demo: exit 0, demo check MATCH ($(sed -n 's/.*demo exit 0 after \([0-9]*\) s/\1/p' "$log") s)"
else
  say "FAIL demo: exit ${demo_rc:-none}, $(grep -E '^(MATCH|MISMATCH)' "$out/check.txt" 2>/dev/null || echo 'no check result')"
  bad+=(demo)
fi
summary=$(grep -E '^[0-9]+% tests passed' "$log" | tail -1 || true)
if [ "$test_rc" = 0 ]; then
  say "ok   tests: exit 0, $summary ($(sed -n 's/.*test exit 0 after \([0-9]*\) s/\1/p' "$log") s)"
else
  say "FAIL tests: exit ${test_rc:-none}, ${summary:-no ctest summary}"
  grep -E '^\s+[0-9]+ - .*\((Failed|Timeout|SEGFAULT|Subprocess aborted|Not Run)' "$log" | sed 's/^/         /' || true
  bad+=(tests)
fi
nf=$(cat "$log" "$out"/LastTest-*.log 2>/dev/null | grep -c 'command not found' || true)
if [ "$nf" != 0 ]; then
  say "FAIL $nf 'command not found' in the logs (a program scripts/deps.sh does not install):"
  cat "$log" "$out"/LastTest-*.log 2>/dev/null | grep 'command not found' | sort | uniq -c | head -20 | sed 's/^/         /'
  bad+=(commands)
fi
# test.sh prints one "skipped: SUITE NAME: reason" line per skipped test or test case. The
# reasons a fresh machine cannot change (docs/testing.md, "Skips on a fresh machine"):
allowed=(
  '\.\./shared/data.* absent|shared data absent|KP_SHARED_DATA'  # no ../shared beside the checkout
)
[ -n "$shared" ] && allowed=()   # with ../shared present nothing about it may skip
# the npm registry (geolocation databases, playwright-core): a skip only when this machine
# itself cannot reach it; when it can, the root must too
registry=$(npm config get registry 2>/dev/null || sed -n 's/^registry *= *//p' /root/.npmrc 2>/dev/null || true)
registry=${registry:-https://registry.npmjs.org/}
if ! curl -fsS -m 15 -o /dev/null "$registry" 2>/dev/null; then
  say "NOTE this machine cannot reach the npm registry $registry: npm-fed tests may skip (allowed)"
  allowed+=('npm could not install|no var/geo databases')
fi
nskip=0 nbadskip=0
while IFS= read -r line; do
  nskip=$((nskip + 1))
  ok=0
  for re in "${allowed[@]}"; do grep -qE "$re" <<<"$line" && ok=1; done
  if [ "$ok" = 1 ]; then say "skip ${line#skipped: }  (allowed: docs/testing.md)"
  else say "FAIL skip ${line#skipped: }  (not a reason a fresh machine cannot change)"; nbadskip=$((nbadskip + 1)); fi
done < <(grep '^skipped: ' "$log" || true)
[ "$nskip" = 0 ] && say "ok   no test skipped"
[ "$nbadskip" = 0 ] || bad+=(skips)
grep -q '^== test: skip report' "$log" || { say "FAIL test.sh printed no skip report"; bad+=(skip-report); }
say "total $(($(date +%s) - t0)) s"
[ "${#bad[@]}" = 0 ] || die "fresh machine check failed: ${bad[*]}"
say "PASS: both README commands work on a fresh Debian 12 root"
