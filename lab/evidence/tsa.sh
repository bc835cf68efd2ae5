# tsa.sh: make a test TSA (root CA + time-stamping certificate + `openssl ts` config) in $1.
# Sourced by the evidence tests and the demo (lab/demo/kz2022.sh). tsa_make DIR NAME -> DIR/ca.pem, DIR/tsa.cnf
tsa_make() {
  local d=$1 name=$2
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/ca.key" -out "$d/ca.pem" \
    -days 30 -subj "/CN=$name test root" >/dev/null 2>&1 || return 1
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/tsa.key" -out "$d/tsa.csr" \
    -subj "/CN=$name TSA" >/dev/null 2>&1 || return 1
  printf 'extendedKeyUsage=critical,timeStamping\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n' > "$d/ext"
  openssl x509 -req -in "$d/tsa.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 30 \
    -extfile "$d/ext" -out "$d/tsa.pem" >/dev/null 2>&1 || return 1
  echo 01 > "$d/serial"
  cat > "$d/tsa.cnf" <<CNF
[ tsa ]
default_tsa = tsa1
[ tsa1 ]
dir = $d
serial = \$dir/serial
crypto_device = builtin
signer_cert = \$dir/tsa.pem
certs = \$dir/ca.pem
signer_key = \$dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
CNF
}
