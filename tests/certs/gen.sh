#!/bin/bash
# Regenerates wisp's test PKI with openssl (3.0 or later).
#
#   tests/certs/gen.sh [OUTDIR]     (default: the directory this script is in)
#   tests/certs/gen.sh --profile-leaves [OUTDIR]
#                                   only the X.509-profile leaves (below), issued by
#                                   the ca.pem/ca.key already in OUTDIR, so nothing
#                                   else changes (other tests embed ca.pem)
#   tests/certs/gen.sh --add-missing [OUTDIR]
#                                   only the certificates of the "certificate error"
#                                   set (cert_error_files below) that OUTDIR lacks,
#                                   issued by the ca.pem/ca.key already there; files
#                                   that exist are never rewritten
#
# Every certificate is issued through `openssl ca` with explicit dates, so the
# validity windows do not depend on the day the script runs: everything is valid
# from 2020-01-01 to 2101-01-01, except expired.pem and client-expired.pem
# (2000-01-01 to 2001-01-01) and server-future.pem (2099-01-01 to 2101-01-01).
# Keys are new on every run; file names are fixed. The work happens in a temporary
# directory and only finished files are moved into OUTDIR, so a failed run leaves
# the previous set untouched. See README.md for what each file is for.
set -eu

only_profile=0
add_missing=0
if [ "${1:-}" = --profile-leaves ]; then
    only_profile=1
    shift
elif [ "${1:-}" = --add-missing ]; then
    add_missing=1
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
FUTURE_START=20990101000000Z

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

# A server's names, but an extendedKeyUsage that allows client authentication only.
[ server_clientauth ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = clientAuth
subjectAltName         = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid

# A self-signed leaf: the server's names, issuer == subject, not a CA.
[ server_self ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = serverAuth
subjectAltName         = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier   = hash
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

# One certificate per verification failure wisp reports with its own code
# (include/wisp/error.h), beyond those above: each .pem with its .key.
#   server-future      notBefore 2099-01-01                     WISP_ECERTFUTURE
#   server-selfsigned  self-signed leaf, not in any trust store WISP_ECERTSELFSIGNED
#   server-clientauth  extendedKeyUsage clientAuth only         WISP_ECERTUSAGE
#   server-sha1        signed with SHA-1                        WISP_ECERTWEAK
#   client-expired     the client certificate, expired          (server side)
#   chain-long         leaf + 9 intermediates, one more than mbedTLS's default
#                      MBEDTLS_X509_MAX_INTERMEDIATE_CA (8)      WISP_ECERTCHAIN
#   chain-long-ok      leaf + 8 intermediates: the longest that verifies (control)
# The chain files hold the leaf first, then its issuers up to (not including) ca.
CHAIN_INTERMEDIATES=9
cert_error_leaves() {
    local i prev=ca
    key_ec server-future
    issue server-future ca server_ec localhost "$FUTURE_START" "$END"
    key_ec server-selfsigned
    issue server-selfsigned self server_self localhost "$START" "$END"
    key_ec server-clientauth
    issue server-clientauth ca server_clientauth localhost "$START" "$END"
    key_ec server-sha1
    issue server-sha1 ca server_ec localhost "$START" "$END" sha1
    key_ec client-expired
    issue client-expired ca client wisp-test-client "$OLD_START" "$OLD_END"
    : >"$work/chain-issuers.pem"
    for i in $(seq 1 $CHAIN_INTERMEDIATES); do
        key_ec "chain-i$i"
        issue "chain-i$i" "$prev" v3_ca "wisp test chain intermediate $i" "$CA_START" "$END"
        ca_config "chain-i$i"
        cat "$work/chain-i$i.pem" "$work/chain-issuers.pem" >"$work/chain-issuers.tmp"
        mv "$work/chain-issuers.tmp" "$work/chain-issuers.pem"
        prev=chain-i$i
        if [ "$i" = $((CHAIN_INTERMEDIATES - 1)) ]; then
            cp "$work/chain-issuers.pem" "$work/chain-issuers-ok.pem"
        fi
    done
    key_ec chain-long-ok
    issue chain-long-ok "chain-i$((CHAIN_INTERMEDIATES - 1))" server_ec localhost "$START" "$END"
    cat "$work/chain-issuers-ok.pem" >>"$work/chain-long-ok.pem"
    key_ec chain-long
    issue chain-long "chain-i$CHAIN_INTERMEDIATES" server_ec localhost "$START" "$END"
    cat "$work/chain-issuers.pem" >>"$work/chain-long.pem"

    # Each is wrong in exactly its one way: OpenSSL accepts the rest.
    openssl verify -attime "$(date -d 2099-06-01 +%s)" -CAfile "$work/ca.pem" \
        "$work/server-future.pem" >/dev/null
    openssl verify -CAfile "$work/server-selfsigned.pem" "$work/server-selfsigned.pem" >/dev/null
    openssl verify -CAfile "$work/ca.pem" "$work/server-clientauth.pem" >/dev/null
    openssl verify -auth_level 0 -CAfile "$work/ca.pem" "$work/server-sha1.pem" >/dev/null
    openssl verify -attime "$(date -d 2000-06-01 +%s)" -CAfile "$work/ca.pem" \
        "$work/client-expired.pem" >/dev/null
    for c in chain-long chain-long-ok; do
        openssl verify -CAfile "$work/ca.pem" -untrusted "$work/$c.pem" "$work/$c.pem" >/dev/null
    done
}
cert_error_files="server-future server-selfsigned server-clientauth server-sha1 client-expired
                  chain-long chain-long-ok"

if [ "$add_missing" = 1 ]; then
    cp "$out/ca.pem" "$out/ca.key" "$work/"
    ca_config ca
    cert_error_leaves
    for f in $cert_error_files; do
        if [ -e "$out/$f.pem" ] || [ -e "$out/$f.key" ]; then
            continue
        fi
        chmod 644 "$work/$f.key" "$work/$f.pem"
        mv "$work/$f.key" "$work/$f.pem" "$out/"
        echo "gen.sh: added $f.pem, $f.key"
    done
    exit 0
fi

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
cert_error_leaves

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
       other-server client $profile_files $cert_error_files"
for f in $files; do
    chmod 644 "$work/$f.key" "$work/$f.pem"
    mv -f "$work/$f.key" "$work/$f.pem" "$out/"
done
for f in ca.der inter.der other-ca.der server-inter-chain.pem; do
    chmod 644 "$work/$f"
    mv -f "$work/$f" "$out/"
done
echo "gen.sh: test PKI written to $out"
