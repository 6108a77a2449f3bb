#!/bin/sh
# Makes every certificate the tests use, with GnuTLS certtool, into OUTDIR.
#
#   make-certs.sh OUTDIR [STAMP]
#
# Validity windows are relative to now, so a fresh run never produces
# certificates that have expired by accident: the good ones last ten years,
# "expired" ended 30 days ago, "future" starts in ten years.
#
# Files (each NAME has NAME.pem and NAME.key; chains are NAME-chain.pem):
#   ca, unknown-ca, inter     test CA, a CA nobody trusts, an intermediate
#   a.test, b.test            dNSName SANs, EKU serverAuth+clientAuth
#   w.test                    dNSName *.w.test only
#   multi                     dNSName c.test and d.test (SNI selection)
#   expired, future           dNSName expired.test / future.test
#   self                      self-signed, dNSName self.test
#   unknown                   dNSName unknown.test, signed by unknown-ca
#   revoked                   dNSName revoked.test, listed in crl.pem
#   srv                       SRVName _xmpp-server.srv.test only
#   xmpp                      id-on-xmppAddr xmpp.test only
#   serverauth                dNSName serverauth.test, EKU serverAuth only
#   clientauth                dNSName clientauth.test, EKU clientAuth only
#   cn                        subject CN=cn.test, no SAN at all
#   idn                       dNSName xn--bcher-kva.test (bücher.test) only
#   chain                     dNSName chain.test, signed by inter
#                             (chain-chain.pem: leaf, inter, ca)
#   crl.pem                   CRL of ca revoking "revoked"
set -eu

out=${1:?usage: make-certs.sh OUTDIR [STAMP]}
stamp=${2:-}

command -v certtool >/dev/null 2>&1 || {
  echo "make-certs.sh: certtool not found: install the Debian package gnutls-bin" >&2
  exit 1
}

case $stamp in
  ''|/*) ;;
  *) stamp=$PWD/$stamp ;; # the script changes directory below
esac
mkdir -p "$out"
cd "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ago=$(date -u -d '-400 days' '+%Y-%m-%d %H:%M:%S')
ended=$(date -u -d '-30 days' '+%Y-%m-%d %H:%M:%S')
later=$(date -u -d '+3650 days' '+%Y-%m-%d %H:%M:%S')
muchlater=$(date -u -d '+7300 days' '+%Y-%m-%d %H:%M:%S')

key() {
  certtool --generate-privkey --key-type=ecdsa --outfile "$1.key" 2>/dev/null
}

# DER of an IA5String, in hex, for certtool's other_name.
ia5_hex() {
  printf '16%02x' "${#1}"
  printf '%s' "$1" | od -An -tx1 | tr -d ' \n'
}

# ca NAME CN: a self-signed CA.
ca() {
  key "$1"
  cat >"$tmp/$1.tmpl" <<EOF
cn = "$2"
organization = "xs2s test"
expiration_days = 3650
ca
cert_signing_key
crl_signing_key
EOF
  certtool --generate-self-signed --load-privkey "$1.key" \
    --template "$tmp/$1.tmpl" --outfile "$1.pem" 2>/dev/null
}

# leaf NAME ISSUER TEMPLATE-LINES...: a certificate signed by ISSUER
# ("self" for self-signed).
leaf() {
  name=$1 issuer=$2
  shift 2
  key "$name"
  {
    echo 'organization = "xs2s test"'
    echo 'signing_key'
    echo 'encryption_key'
    for line in "$@"; do echo "$line"; done
  } >"$tmp/$name.tmpl"
  if [ "$issuer" = self ]; then
    certtool --generate-self-signed --load-privkey "$name.key" \
      --template "$tmp/$name.tmpl" --outfile "$name.pem" 2>/dev/null
  else
    certtool --generate-certificate --load-privkey "$name.key" \
      --load-ca-certificate "$issuer.pem" --load-ca-privkey "$issuer.key" \
      --template "$tmp/$name.tmpl" --outfile "$name.pem" 2>/dev/null
  fi
}

both='tls_www_server
tls_www_client'
ten='expiration_days = 3650'

ca ca "xs2s test CA"
ca unknown-ca "xs2s unknown CA"

key inter
cat >"$tmp/inter.tmpl" <<EOF
cn = "xs2s test intermediate"
organization = "xs2s test"
expiration_days = 3650
ca
cert_signing_key
EOF
certtool --generate-certificate --load-privkey inter.key \
  --load-ca-certificate ca.pem --load-ca-privkey ca.key \
  --template "$tmp/inter.tmpl" --outfile inter.pem 2>/dev/null

leaf a.test ca 'cn = "a.test"' 'dns_name = "a.test"' "$ten" "$both"
leaf b.test ca 'cn = "b.test"' 'dns_name = "b.test"' "$ten" "$both"
leaf w.test ca 'cn = "*.w.test"' 'dns_name = "*.w.test"' "$ten" "$both"
leaf multi ca 'cn = "c.test"' 'dns_name = "c.test"' 'dns_name = "d.test"' \
  "$ten" "$both"
leaf expired ca 'cn = "expired.test"' 'dns_name = "expired.test"' \
  "activation_date = \"$ago\"" "expiration_date = \"$ended\"" "$both"
leaf future ca 'cn = "future.test"' 'dns_name = "future.test"' \
  "activation_date = \"$later\"" "expiration_date = \"$muchlater\"" "$both"
leaf self self 'cn = "self.test"' 'dns_name = "self.test"' "$ten" "$both"
leaf unknown unknown-ca 'cn = "unknown.test"' 'dns_name = "unknown.test"' \
  "$ten" "$both"
leaf revoked ca 'cn = "revoked.test"' 'dns_name = "revoked.test"' \
  "$ten" "$both"
leaf srv ca 'cn = "srv.test"' \
  "other_name = \"1.3.6.1.5.5.7.8.7 $(ia5_hex _xmpp-server.srv.test)\"" \
  "$ten" "$both"
leaf xmpp ca 'cn = "xmpp.test"' 'xmpp_name = "xmpp.test"' "$ten" "$both"
leaf serverauth ca 'cn = "serverauth.test"' 'dns_name = "serverauth.test"' \
  "$ten" 'tls_www_server'
leaf clientauth ca 'cn = "clientauth.test"' 'dns_name = "clientauth.test"' \
  "$ten" 'tls_www_client'
leaf cn ca 'cn = "cn.test"' "$ten" "$both"
leaf idn ca 'cn = "xn--bcher-kva.test"' 'dns_name = "xn--bcher-kva.test"' \
  "$ten" "$both"
leaf chain inter 'cn = "chain.test"' 'dns_name = "chain.test"' "$ten" "$both"
cat chain.pem inter.pem ca.pem >chain-chain.pem

cat >"$tmp/crl.tmpl" <<EOF
crl_next_update = 3650
crl_number = 1
EOF
certtool --generate-crl --load-ca-privkey ca.key --load-ca-certificate ca.pem \
  --load-certificate revoked.pem --template "$tmp/crl.tmpl" \
  --outfile crl.pem 2>/dev/null

if [ -n "$stamp" ]; then
  date -u >"$stamp"
fi
