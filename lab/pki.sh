#!/usr/bin/env bash
# pki.sh: the lab CA and one leaf certificate per HTTPS name (SAN = the name, EKU serverAuth),
# in $STATE/pki: ca.crt ca.key leaf.key NAME.crt. EC P-256, valid 30 days; all leaves share
# one key (the lab tests name checks, not key separation). Idempotent: existing files are kept.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# pki_make DIR CA_SUBJECT: a CA in DIR and one leaf per lab name signed by it (kept if present).
pki_make() {
  local d=$1 subj=$2 name
  mkdir -p "$d"
  if [ ! -s "$d/ca.crt" ] || [ ! -s "$d/ca.key" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout "$d/ca.key" -out "$d/ca.crt" -days 30 -subj "$subj" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
      2>/dev/null
  fi
  [ -s "$d/leaf.key" ] ||
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$d/leaf.key" 2>/dev/null
  for name in $(lab_names); do
    [ -s "$d/$name.crt" ] && continue
    openssl req -x509 -new -key "$d/leaf.key" -CA "$d/ca.crt" -CAkey "$d/ca.key" -days 30 \
      -subj "/CN=$name" -addext "subjectAltName=DNS:$name" -addext extendedKeyUsage=serverAuth \
      -addext basicConstraints=CA:FALSE -out "$d/$name.crt" 2>/dev/null
  done
}

lab_pki() { pki_make "$STATE/pki" "/O=keepon lab/CN=keepon lab CA ($P)"; }

# lab_pki_mitm: the censor's own interception CA (NOT trusted by clients) and a leaf per name,
# in $STATE/pki/mitm/, for tls_mitm. Made on first use only.
lab_pki_mitm() { pki_make "$STATE/pki/mitm" "/O=Lab Ministry/CN=Lab Ministry Interception CA ($P)"; }
if [ "${BASH_SOURCE[0]}" = "$0" ]; then lab_pki; fi
