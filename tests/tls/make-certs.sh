#!/bin/sh
# Throw-away certificates for the rediss:// tests, made fresh by each run
# (nothing here is committed): a test CA, a server certificate for
# localhost / 127.0.0.1 / redis.test, and the bad ones: a wrong name, an
# expired one, one from a CA nobody trusts; and a client certificate for
# tls-auth-clients (the server one also serves as a cluster bus client).
# EC P-256 keys: quick to make.
# Usage: make-certs.sh DIR
set -eu
d=$1
mkdir -p "$d"
cd "$d"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
ca() { # name subject
	key "$1"
	openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 2 -subj "/CN=$2" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
leaf() { # name ca days san usage
	key "$1"
	openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$1" 2>/dev/null
	printf 'subjectAltName=%s\nextendedKeyUsage=%s\nbasicConstraints=CA:FALSE\n' "$4" "$5" >"$1.ext"
	openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days "$3" \
		-extfile "$1.ext" -out "$1.pem" 2>/dev/null
	rm -f "$1.csr" "$1.ext"
}
ca ca "sgid-fcgi test CA"
ca other-ca "an unknown CA"
here="DNS:localhost,IP:127.0.0.1,DNS:redis.test"
leaf server ca 2 "$here" serverAuth,clientAuth
leaf wrongname ca 2 "DNS:other.example" serverAuth
leaf expired ca -1 "$here" serverAuth
leaf unknown other-ca 2 "$here" serverAuth
leaf client ca 2 "DNS:sgid-fcgi" clientAuth
chmod 600 ./*.key
