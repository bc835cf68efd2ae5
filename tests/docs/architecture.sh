#!/usr/bin/env bash
# docs/architecture.md's "depends on" column must equal the DEPS in src/*/CMakeLists.txt
# (module-deps.tsv, written at configure time) and every include must follow those DEPS.
# Fix a failure with: python3 scripts/architecture.py BUILD_DIR (then review the diff).
set -euo pipefail
cd "${KP_SRC:?}"
command -v python3 >/dev/null || { echo "skip: python3 not installed"; exit 77; }
python3 scripts/architecture.py --check "${KP_BUILD:?}"
