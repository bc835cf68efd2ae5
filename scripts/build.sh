#!/usr/bin/env bash
# Installs missing Debian packages and builds keepon into build/.
# stdout is data: the binary's path and nothing else (scripts/demo.sh runs it); progress and
# errors go to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh --quiet >&2
echo "build: configuring and building build/ (first time: a few minutes)" >&2
cmake -S . -B build -G Ninja -DKP_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja --quiet -C build >&2   # compiler messages only, on stderr
echo "$PWD/build/src/cli/keepon"
