#!/usr/bin/env bash
# Installs the npm packages keepon's dashboard browser test needs (playwright-core only: the
# browser is Debian's /usr/bin/chromium, no browser download). Idempotent; the cache folder
# is shared by every build dir.
# Usage: scripts/npm-deps.sh [DIR]   (default: var/npm under the source root)
# Exit 0 installed/present, 1 npm failed (e.g. no network): callers skip with a message.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/var/npm}
ver=1.49.1
mkdir -p "$dir"
if [ -f "$dir/node_modules/playwright-core/package.json" ] &&
   grep -q "\"version\": \"$ver\"" "$dir/node_modules/playwright-core/package.json"; then
  exit 0
fi
command -v npm >/dev/null || { echo "npm-deps: npm not found (scripts/deps.sh installs it)" >&2; exit 1; }
# a lock so two test runs (ctest -j2, release + ASan) do not install into the same folder at once
exec 9>"$dir/.lock"
flock 9
[ -f "$dir/node_modules/playwright-core/package.json" ] &&
  grep -q "\"version\": \"$ver\"" "$dir/node_modules/playwright-core/package.json" && exit 0
[ -f "$dir/package.json" ] || echo '{"name":"keepon-npm-deps","private":true}' > "$dir/package.json"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 timeout 180 npm install --prefix "$dir" --no-audit --no-fund \
  --loglevel=error "playwright-core@$ver" >&2
