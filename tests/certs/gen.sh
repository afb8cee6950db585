#!/bin/bash
# Regenerates wisp's test PKI with openssl (3.0 or later).
#
#   tests/certs/gen.sh [OUTDIR]     (default: the directory this script is in)
#   tests/certs/gen.sh --profile-leaves [OUTDIR]
#                                   only the X.509-profile leaves (below), issued by
#                                   the ca.pem/ca.key already in OUTDIR, so nothing
#                                   else changes (other tests embed ca.pem)
#
# Every certificate is issued through `openssl ca` with explicit dates, so the
# validity windows do not depend on the day the script runs: everything is valid
# from 2020-01-01 to 2101-01-01, except expired.pem (2000-01-01 to 2001-01-01).
# Keys are new on every run; file names are fixed. The work happens in a temporary
# directory and only finished files are moved into OUTDIR, so a failed run leaves
# the previous set untouched. See README.md for what each file is for.
set -eu

only_profile=0
if [ "${1:-}" = --profile-leaves ]; then
    only_profile=1
    shift
fi
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
mkdir -p "$out"
out=$(cd "$out" && pwd)

command -v openssl >/dev/null || { echo "gen.sh: openssl not found" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Validity windows (GeneralizedTime). The CAs start in 1999 so that even the
# deliberately expired leaf lies inside its issuer's validity.
CA_START=19991231000000Z
START=20200101000000Z
END=21010101000000Z
OLD_START=20000101000000Z
OLD_END=20010101000000Z

# Extension sections shared by every issuing CA; selected with -extensions.
cat >"$work/ext.cnf" <<'EOF'
[ v3_ca ]
basicConstraints       = critical, CA:TRUE
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ v3_inter ]
basicConstraints       = critical, CA:TRUE, pathlen:0
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ server_ec ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = serverAuth
subjectAltName         = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid

[ server_rsa ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature, keyEncipherment
extendedKeyUsage       = serverAuth
subjectAltName         = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid

[ wronghost ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = serverAuth
subjectAltName         = DNS:wrong.example
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid

# Deliberately no subjectAltName: the address is only in the CN.
[ ipcn ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = serverAuth
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid

[ client ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = clientAuth
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid
EOF

# ca_config NAME: a throwaway `openssl ca` database for the CA called NAME.
ca_config() {
    local d="$work/db-$1"
    mkdir -p "$d/new"
    : >"$d/index.txt"
    cat >"$d/ca.cnf" <<EOF
[ ca ]
default_ca = this_ca

[ this_ca ]
dir              = $d
database         = \$dir/index.txt
new_certs_dir    = \$dir/new
serial           = \$dir/serial
certificate      = $work/$1.pem
private_key      = $work/$1.key
default_md       = sha256
policy           = policy_any
unique_subject   = no
email_in_dn      = no
copy_extensions  = none
preserve         = yes

[ policy_any ]
organizationName = optional
commonName       = supplied
EOF
}

# key_ec NAME / key_rsa NAME: a fresh private key in the traditional PEM form
# (SEC1 "EC PRIVATE KEY", PKCS#1 "RSA PRIVATE KEY"), which every mbedTLS parses.
key_ec() {
    openssl ecparam -name prime256v1 -genkey -noout -out "$work/$1.key" 2>/dev/null
}
key_rsa() {
    openssl genrsa -traditional -out "$work/$1.key" 2048 2>/dev/null
}

key_ec_curve() {
    openssl ecparam -name "$2" -genkey -noout -out "$work/$1.key" 2>/dev/null
}
key_rsa_bits() {
    openssl genrsa -traditional -out "$work/$1.key" "$2" 2>/dev/null
}

# issue NAME CA EXT CN START END [MD]: a certificate for NAME's key, signed by CA
# (or self-signed when CA is "self") with digest MD (default sha256), with
# extension section EXT.
issue() {
    local name=$1 ca=$2 ext=$3 cn=$4 start=$5 end=$6 md=${7:-sha256} cfg selfsign=""
    openssl req -new -key "$work/$name.key" -subj "/O=wisp test/CN=$cn" \
        -out "$work/$name.csr"
    if [ "$ca" = self ]; then
        ca_config "$name"
        cfg="$work/db-$name/ca.cnf"
        selfsign=-selfsign
    else
        cfg="$work/db-$ca/ca.cnf"
    fi
    # shellcheck disable=SC2086  # $selfsign is one word or nothing
    openssl ca -batch -notext -config "$cfg" $selfsign -rand_serial -md "$md" \
        -extfile "$work/ext.cnf" -extensions "$ext" \
        -startdate "$start" -enddate "$end" \
        -in "$work/$name.csr" -out "$work/$name.pem" 2>"$work/$name.log" ||
        { cat "$work/$name.log" >&2; return 1; }
    rm -f "$work/$name.csr"
}

# Leaves that are valid but outside wisp's X.509 profile (SPEC section 8: SHA-256
# or better, RSA >= 2048, P-256 or P-384): each must fail verification.
profile_leaves() {
    key_ec server-sha224
    issue server-sha224 ca server_ec localhost "$START" "$END" sha224
    key_rsa_bits server-rsa1024 1024
    issue server-rsa1024 ca server_rsa localhost "$START" "$END"
    key_ec_curve server-p521 secp521r1
    issue server-p521 ca server_ec localhost "$START" "$END"
    for c in server-sha224 server-rsa1024 server-p521; do
        openssl verify -auth_level 0 -CAfile "$work/ca.pem" "$work/$c.pem" >/dev/null
    done
}
profile_files="server-sha224 server-rsa1024 server-p521"

if [ "$only_profile" = 1 ]; then
    cp "$out/ca.pem" "$out/ca.key" "$work/"
    ca_config ca
    profile_leaves
    for f in $profile_files; do
        chmod 644 "$work/$f.key" "$work/$f.pem"
        mv -f "$work/$f.key" "$work/$f.pem" "$out/"
    done
    echo "gen.sh: profile leaves written to $out"
    exit 0
fi

# The root everything trusts, and an intermediate under it.
key_ec ca
issue ca self v3_ca "wisp test CA" "$CA_START" "$END"
key_ec inter
issue inter ca v3_inter "wisp test intermediate CA" "$CA_START" "$END"
ca_config inter

# An unrelated root, for "unknown CA" tests.
key_ec other-ca
issue other-ca self v3_ca "wisp other test CA" "$CA_START" "$END"

key_ec server
issue server ca server_ec localhost "$START" "$END"
key_rsa server-rsa
issue server-rsa ca server_rsa localhost "$START" "$END"
key_ec server-inter
issue server-inter inter server_ec localhost "$START" "$END"
cat "$work/server-inter.pem" "$work/inter.pem" >"$work/server-inter-chain.pem"

key_ec wronghost
issue wronghost ca wronghost wrong.example "$START" "$END"
key_ec ipcn
issue ipcn ca ipcn 127.0.0.1 "$START" "$END"
key_ec expired
issue expired ca server_ec localhost "$OLD_START" "$OLD_END"
key_ec other-server
issue other-server other-ca server_ec localhost "$START" "$END"
key_ec client
issue client ca client wisp-test-client "$START" "$END"
profile_leaves

for c in ca inter other-ca; do
    openssl x509 -in "$work/$c.pem" -outform DER -out "$work/$c.der"
done

# Check the set before it replaces anything.
for c in server server-rsa wronghost ipcn client; do
    openssl verify -x509_strict -CAfile "$work/ca.pem" "$work/$c.pem" >/dev/null
done
openssl verify -x509_strict -CAfile "$work/ca.pem" -untrusted "$work/inter.pem" \
    "$work/server-inter.pem" >/dev/null
openssl verify -x509_strict -CAfile "$work/other-ca.pem" "$work/other-server.pem" >/dev/null
if openssl verify -CAfile "$work/ca.pem" "$work/expired.pem" >/dev/null 2>&1; then
    echo "gen.sh: expired.pem verifies, but must not" >&2
    exit 1
fi

files="ca inter other-ca server server-rsa server-inter wronghost ipcn expired
       other-server client $profile_files"
for f in $files; do
    chmod 644 "$work/$f.key" "$work/$f.pem"
    mv -f "$work/$f.key" "$work/$f.pem" "$out/"
done
for f in ca.der inter.der other-ca.der server-inter-chain.pem; do
    chmod 644 "$work/$f"
    mv -f "$work/$f" "$out/"
done
echo "gen.sh: test PKI written to $out"
