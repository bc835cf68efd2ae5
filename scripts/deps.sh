#!/usr/bin/env bash
# Installs every Debian package keepon needs to build, test and run its lab.
# Idempotent: only missing packages are installed; 'apt-get update' runs only then.
# Usage: scripts/deps.sh [--quiet]
# Prints only to stderr: callers' stdout stays theirs (scripts/build.sh prints a path there).
set -euo pipefail
PKGS=(
  # build
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
  # libraries
  libssl-dev libsqlite3-dev libsodium-dev libmaxminddb-dev zlib1g-dev libbz2-dev libisal-dev
  # lab: namespaces, censor, servers, reference tools
  iproute2 iptables nftables conntrack ethtool dnsmasq-base nginx-light bird2
  openssl bind9-dnsutils iputils-ping curl procps psmisc bgpdump zmap python3 tcpdump
  python3-cryptography  # lab/qa (web QA world): its PKI
  # dashboard tests
  chromium
  # programs tests and the lab call (bc: demo; sqlite3: serve/bgp/watch tests; bzip2: bgp dump test)
  bc sqlite3 bzip2 zstd ca-certificates
  # features being added: control-plane HTTP (libcurl), zstd bodies, TURN/SOCKS relays, ClickHouse
  libcurl4-openssl-dev libzstd-dev coturn microsocks dante-server clickhouse-server clickhouse-client
)
# Node.js and npm (geolocation data, dashboard tests): any install that provides both commands
# will do (this machine kind ships NodeSource's nodejs, which conflicts with Debian's npm).
command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  [ "${1:-}" = --quiet ] || echo "deps: all ${#PKGS[@]} packages present" >&2
  exit 0
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d keeps nginx/bird packages from starting root-namespace daemons.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done" >&2
