#!/usr/bin/env bash
# lab.sh: entry point `keepon lab` execs: lab.sh up|down|status|censor ARGS...
# (env: KP_LAB_PREFIX, KP_LAB_STATE, KP_LAB_TARGET, KP_LAB_RATE, KP_BIN; see lib.sh)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ "$(id -u)" = 0 ] || { echo "lab: needs root (network namespaces)" >&2; exit 1; }
verb=${1:-}
shift || true
case $verb in
up) exec bash "$here/up.sh" ;;
down) exec bash "$here/down.sh" ;;
status) exec bash "$here/status.sh" ;;
censor)
  if [ "${1:-}" = reset ] || [ "${1:-}" = status ]; then exec bash "$here/censor.sh" "$1"; fi
  exec bash "$here/censor.sh" "${1:-}" "${2:-}" "${KP_LAB_TARGET:-}"
  ;;
*) echo "usage: lab.sh up|down|status|censor TECH on|off" >&2; exit 2 ;;
esac
