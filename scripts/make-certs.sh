#!/bin/sh
# Test and demo certificates for RaftKV's TLS settings, made with openssl: a CA, one certificate
# per node (server and client use, SAN IP:127.0.0.1, DNS:localhost and the node's name), a
# client certificate, and an unrelated CA with its own node certificate for negative tests.
#
#   scripts/make-certs.sh DIR [NAME...]     # default names: n1 n2 n3
#   RAFTKV_CERT_SANS="IP:172.30.57.1" scripts/make-certs.sh ./certs   # extra SANs for every node
#
# Writes DIR/ca.crt, DIR/ca.key, DIR/NAME.crt + DIR/NAME.key per name, DIR/client.crt +
# DIR/client.key, DIR/other-ca.crt and DIR/other.crt + DIR/other.key (signed by other-ca).
# Keys are EC P-256, certificates last 30 days: these are for tests and demos, not production.
set -eu
dir=${1:?usage: make-certs.sh DIR [NAME...]}
shift
[ "$#" -gt 0 ] || set -- n1 n2 n3
mkdir -p "$dir"
cd "$dir"
extra=${RAFTKV_CERT_SANS:-}

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca() { # name subject
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -sha256 -days 30 -subj "/CN=$2" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -out "$1.crt" 2>/dev/null
}

leaf() { # name ca sans extendedKeyUsage
  key "$1.key"
  openssl req -new -key "$1.key" -subj "/CN=$1" -out "$1.csr" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=%s\nsubjectAltName=%s\n' \
    "$4" "$3" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -days 30 -sha256 \
    -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

ca ca 'RaftKV test CA'
ca other-ca 'Unrelated test CA'
for name in "$@"; do
  leaf "$name" ca "IP:127.0.0.1,IP:::1,DNS:localhost,DNS:$name${extra:+,$extra}" serverAuth,clientAuth
done
leaf client ca 'DNS:client' clientAuth
leaf other other-ca "IP:127.0.0.1,DNS:localhost,DNS:other" serverAuth,clientAuth
rm -f ./*.srl
# The containers' node user must read the keys of a bind-mounted folder.
chmod 644 ./*.crt ./*.key
