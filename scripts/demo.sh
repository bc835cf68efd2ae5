#!/usr/bin/env bash
# The main job: installs what is missing (apt-get), builds keepon and runs the Kazakhstan
# January 2022 replay in the network-namespace lab (`keepon demo kz2022`). Needs root.
# Extra arguments go to `keepon demo kz2022` (e.g. --days 4-6 --speed 1 for a 1.5-minute run).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "scripts/demo.sh: run as root (the lab creates network namespaces)" >&2; exit 2; }
bin=$(bash scripts/build.sh)
exec "$bin" demo kz2022 "$@"
