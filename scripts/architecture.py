#!/usr/bin/env python3
"""Generates docs/architecture.md's "depends on" column from the build, and checks the layering.

The build (cmake/Keepon.cmake, kp_write_module_deps) writes BUILD/module-deps.tsv: one
"module<TAB>dep,dep,..." line per kp_add_module call, exactly the DEPS its CMakeLists.txt gives.
This script:
  - rewrites the third column of every "| `src/<module>/` | ... | ... |" row of the components
    table from that file (keepon modules first, then outside libraries), or with --check prints
    what differs and exits 1 (the docs_architecture test runs --check, so the table cannot go stale);
  - checks that every `#include "<dir>/..."` in src/<module>/ names its own module or one reachable
    through DEPS, and never another module's private header (internal.h, *_impl.h): a layering
    violation exits 1 in both modes. src/cli is the top and may include anything public.

Usage: scripts/architecture.py [--check] BUILD_DIR    (run from the source tree)
"""
import os
import re
import sys

# CMake target -> the name a reader knows
EXTERNAL = {
    "OpenSSL::SSL": "OpenSSL", "OpenSSL::Crypto": "OpenSSL", "PkgConfig::CURL": "libcurl",
    "PkgConfig::SODIUM": "libsodium", "PkgConfig::ZSTD": "zstd", "PkgConfig::ISAL": "ISA-L",
    "BZip2::BZip2": "bzip2", "PkgConfig::MAXMINDDB": "libmaxminddb", "SQLite::SQLite3": "SQLite",
    "Threads::Threads": "pthreads", "m": "libm", "ZLIB::ZLIB": "zlib",
}
ROW = re.compile(r"^\| `src/([a-z0-9_]+)/` \|(.*)\|([^|]*)\|\s*$")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z0-9_]+)/([^"]+)"', re.M)
PRIVATE = re.compile(r"(^|/)(internal\.h|[a-z0-9_]+_impl\.h)$")


def load(build):
    deps = {}
    with open(os.path.join(build, "module-deps.tsv"), encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            name, _, rest = line.partition("\t")
            deps[name] = [d for d in rest.split(",") if d]
    return deps


def column(dl):
    mods, ext = [], []
    for d in dl:
        if d.startswith("keepon_"):
            if d[7:] not in mods:
                mods.append(d[7:])
        else:
            n = EXTERNAL.get(d, d)
            if n not in ext:
                ext.append(n)
    text = ", ".join(mods)
    if ext:
        text = (text + "; " if text else "") + ", ".join(ext)
    return text or "libc"


def reach(deps, m, seen=None):
    seen = set() if seen is None else seen
    for d in deps.get(m, []):
        if d.startswith("keepon_") and d[7:] not in seen:
            seen.add(d[7:])
            reach(deps, d[7:], seen)
    return seen


def layering(deps):
    bad = []
    for m in sorted(deps):
        allowed = reach(deps, m) | {m}
        root = os.path.join("src", m)
        for dirpath, _, files in os.walk(root):
            for fn in sorted(files):
                if not fn.endswith((".c", ".h")):
                    continue
                path = os.path.join(dirpath, fn)
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = f.read()
                for inc_dir, inc in INCLUDE.findall(text):
                    if not os.path.isdir(os.path.join("src", inc_dir)):
                        continue  # a generated or local include, not a module
                    if inc_dir not in allowed:
                        bad.append(f"{path}: includes {inc_dir}/{inc}, but {m}'s DEPS do not reach {inc_dir}")
                    elif inc_dir != m and PRIVATE.search(inc):
                        bad.append(f"{path}: includes {inc_dir}/{inc}, a private header of {inc_dir}")
    return bad


def main(argv):
    check = "--check" in argv
    args = [a for a in argv if not a.startswith("--")]
    if len(args) != 1 or "-h" in argv or "--help" in argv:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    deps = load(args[0])
    doc = "docs/architecture.md"
    with open(doc, encoding="utf-8") as f:
        lines = f.read().split("\n")
    out, diffs, rows = [], [], set()
    for line in lines:
        m = ROW.match(line)
        if m and m.group(1) in deps:
            rows.add(m.group(1))
            want = column(deps[m.group(1)])
            new = f"| `src/{m.group(1)}/` |{m.group(2)}| {want} |"
            if new != line:
                diffs.append(f"src/{m.group(1)}/: doc says '{m.group(3).strip()}', CMake says '{want}'")
            line = new
        out.append(line)
    missing = sorted(set(deps) - rows)
    for mname in missing:
        diffs.append(f"src/{mname}/: a module with no row in the components table")
    bad = layering(deps)
    for b in bad:
        print("layering: " + b, file=sys.stderr)
    if check:
        for d in diffs:
            print("stale: " + d, file=sys.stderr)
        ok = not diffs and not bad
        print(f"architecture: {len(rows)} module rows, {len(diffs)} stale, {len(bad)} layering violations")
        return 0 if ok else 1
    if missing:
        for mname in missing:
            print(f"architecture: add a row for src/{mname}/ by hand (its 'owns' text)", file=sys.stderr)
    with open(doc + ".tmp", "w", encoding="utf-8") as f:
        f.write("\n".join(out))
    os.replace(doc + ".tmp", doc)
    print(f"architecture: {len(rows)} rows written, {len(diffs)} changed")
    return 1 if bad or missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
