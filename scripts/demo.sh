#!/usr/bin/env bash
# The main job: installs what is missing (apt-get), builds keepon and runs the Kazakhstan
# January 2022 replay in the network-namespace lab (`keepon demo kz2022`). Needs root.
# Extra arguments go to `keepon demo kz2022`: the default replays the whole week at 1 s per
# simulated hour (~3 min); --speed 10 is the 28-minute version, --days 4-6 a 1.5-minute one.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "scripts/demo.sh: run as root (the lab creates network namespaces)" >&2; exit 2; }
bin=$(bash scripts/build.sh)
# build.sh's stdout is the binary's path and nothing else; anything more is a bug there
[ -x "$bin" ] || { echo "scripts/demo.sh: scripts/build.sh printed '$bin', not the binary's path" >&2; exit 1; }
exec "$bin" demo kz2022 "$@"
