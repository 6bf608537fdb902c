#!/usr/bin/env bash
# Writes a throw-away test PKI into DIR for the TLS interop tests (e2e/tests/interop.rs):
# ca.pem (a CA), server.pem + server.key (for localhost and 127.0.0.1, signed by the CA),
# client.pem + client.key (a client certificate signed by the CA), and other-ca.pem (a CA that
# signed nothing here). EC P-256 keys, valid for two days.
# Usage: e2e/interop/make-certs.sh DIR
set -euo pipefail
dir=${1:?usage: make-certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ca() {
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 2 -subj "/CN=$1" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
}
leaf() {
  key "$1.key"
  openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$1"
  printf '%s\n' "basicConstraints=CA:FALSE" "extendedKeyUsage=$2" "subjectAltName=$3" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.pem" \
    -days 2 -extfile "$1.ext" 2>/dev/null
}
ca ca
ca other-ca
leaf server serverAuth "DNS:localhost,IP:127.0.0.1"
leaf client clientAuth "DNS:esme.test"
