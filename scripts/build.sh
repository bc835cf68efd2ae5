#!/usr/bin/env bash
# Installs missing Debian packages and builds keepon into build/ (prints the binary's path).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh --quiet
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build >/dev/null
echo "$PWD/build/src/cli/keepon"
