# shellcheck shell=bash
# Test certificates for smbquic's QUIC tests, made with certtool (gnutls-bin) at test time.
#
# Source this file from bash, then:
#   certs_make DIR     generate everything into DIR (created if missing); ~1 s
#
# Every certificate uses an ECDSA P-256 key and SHA-256. certs_make exports, for each NAME
# below, CERT_<NAME> (PEM certificate), KEY_<NAME> (PEM private key) and SHA256_<NAME> (hex
# SHA-256 of the certificate's DER encoding, as the gateway's access rules and audit log use):
#   CA           the test CA ("smbquic test CA"); clients trust it with cafile=
#   CA2          a second CA ("smbquic test CA 2"), also issues client certificates
#   ROGUE_CA     a CA nobody trusts
#   SERVER       the good server certificate: CN and DNS SAN smb.test, EKU serverAuth,
#                key usage digitalSignature, issued by CA, valid now
#   SERVER_EXPIRED      as SERVER but expired (2020)
#   SERVER_NOTYET       as SERVER but valid only from a year from now
#   SERVER_WRONGNAME    as SERVER but for other.test
#   SERVER_NOSERVERAUTH as SERVER but EKU clientAuth only (no serverAuth)
#   SERVER_UNKNOWNCA    as SERVER but issued by ROGUE_CA
#   SERVER_RENEWED      as SERVER, a new certificate for the same key (a renewal)
#   CLIENT1, CLIENT2    client certificates from CA (EKU clientAuth), CN client1 / client2
#   CLIENT_CA2          a client certificate from CA2
#   CLIENT_NOAUTH       from CA, but EKU serverAuth only (no clientAuth)
#   CLIENT_EXPIRED      from CA, EKU clientAuth, expired (2020)
# Also CERTS_DIR, CERTS_SERVER_NAME (smb.test) and SPKI_SERVER (hex SHA-256 of SERVER's
# public key, its SubjectPublicKeyInfo, as pin=spki-sha256: names it).

CERTS_SERVER_NAME=smb.test

_certs_key() {
    certtool --generate-privkey --key-type ecdsa --curve secp256r1 --outfile "$1" \
        >/dev/null 2>&1
}

# _certs_template FILE CN [LINE...]: a certtool template.
_certs_template() {
    local file=$1 cn=$2
    shift 2
    {
        printf 'cn = "%s"\n' "$cn"
        printf 'serial = 0x%s\n' "$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
        printf '%s\n' "$@"
    } >"$file"
}

# _certs_ca NAME CN
_certs_ca() {
    local dir=$CERTS_DIR name=$1 cn=$2
    _certs_key "$dir/$name.key" || return 1
    _certs_template "$dir/$name.tmpl" "$cn" ca cert_signing_key crl_signing_key \
        'expiration_days = 3650'
    certtool --generate-self-signed --load-privkey "$dir/$name.key" \
        --template "$dir/$name.tmpl" --outfile "$dir/$name.pem" >/dev/null 2>&1
}

# _certs_leaf NAME ISSUER CN [TEMPLATE LINE...]
_certs_leaf() {
    local dir=$CERTS_DIR name=$1 issuer=$2 cn=$3
    shift 3
    _certs_key "$dir/$name.key" || return 1
    _certs_template "$dir/$name.tmpl" "$cn" "$@"
    certtool --generate-certificate --load-privkey "$dir/$name.key" \
        --load-ca-certificate "$dir/$issuer.pem" --load-ca-privkey "$dir/$issuer.key" \
        --template "$dir/$name.tmpl" --outfile "$dir/$name.pem" >/dev/null 2>&1
}

# _certs_renew NAME FROM: a new certificate NAME (a new serial) for FROM's key, from FROM's
# template.
_certs_renew() {
    local dir=$CERTS_DIR
    cp "$dir/$2.key" "$dir/$1.key" &&
        sed "s/^serial = .*/serial = 0x$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')/" \
            "$dir/$2.tmpl" >"$dir/$1.tmpl" &&
        certtool --generate-certificate --load-privkey "$dir/$1.key" \
            --load-ca-certificate "$dir/ca.pem" --load-ca-privkey "$dir/ca.key" \
            --template "$dir/$1.tmpl" --outfile "$dir/$1.pem" >/dev/null 2>&1
}

_certs_export() {
    local name=$1 var=$2 sha
    sha=$(certtool --fingerprint --hash sha256 --infile "$CERTS_DIR/$name.pem" 2>/dev/null) ||
        return 1
    printf -v "CERT_$var" '%s' "$CERTS_DIR/$name.pem"
    printf -v "KEY_$var" '%s' "$CERTS_DIR/$name.key"
    printf -v "SHA256_$var" '%s' "$sha"
    export "CERT_$var" "KEY_$var" "SHA256_$var"
}

# certs_make DIR
certs_make() {
    local dir=$1
    if ! command -v certtool >/dev/null 2>&1; then
        echo "certs_make: certtool not installed (package gnutls-bin)" >&2
        return 1
    fi
    mkdir -p "$dir" || return 1
    CERTS_DIR=$(cd "$dir" && pwd)
    export CERTS_DIR CERTS_SERVER_NAME

    local future_start future_end
    future_start=$(date -u -d '+365 days' '+%Y-%m-%d %H:%M:%S')
    future_end=$(date -u -d '+730 days' '+%Y-%m-%d %H:%M:%S')
    local server=(signing_key 'expiration_days = 365')
    local past=('activation_date = "2019-01-01 00:00:00"' 'expiration_date = "2020-01-01 00:00:00"')

    _certs_ca ca "smbquic test CA" &&
        _certs_ca ca2 "smbquic test CA 2" &&
        _certs_ca rogue-ca "smbquic rogue CA" &&
        _certs_leaf server ca smb.test 'dns_name = "smb.test"' tls_www_server "${server[@]}" &&
        _certs_leaf server-expired ca smb.test 'dns_name = "smb.test"' tls_www_server \
            signing_key "${past[@]}" &&
        _certs_leaf server-notyet ca smb.test 'dns_name = "smb.test"' tls_www_server \
            signing_key "activation_date = \"$future_start\"" "expiration_date = \"$future_end\"" &&
        _certs_leaf server-wrongname ca other.test 'dns_name = "other.test"' tls_www_server \
            "${server[@]}" &&
        _certs_leaf server-noserverauth ca smb.test 'dns_name = "smb.test"' tls_www_client \
            "${server[@]}" &&
        _certs_leaf server-unknownca rogue-ca smb.test 'dns_name = "smb.test"' tls_www_server \
            "${server[@]}" &&
        _certs_renew server-renewed server &&
        _certs_leaf client1 ca client1 tls_www_client signing_key 'expiration_days = 365' &&
        _certs_leaf client2 ca client2 tls_www_client signing_key 'expiration_days = 365' &&
        _certs_leaf client-ca2 ca2 client-ca2 tls_www_client signing_key 'expiration_days = 365' &&
        _certs_leaf client-noauth ca client-noauth tls_www_server signing_key \
            'expiration_days = 365' &&
        _certs_leaf client-expired ca client-expired tls_www_client signing_key "${past[@]}" || {
        echo "certs_make: certtool failed in $CERTS_DIR" >&2
        return 1
    }

    local pair
    for pair in ca:CA ca2:CA2 rogue-ca:ROGUE_CA server:SERVER server-expired:SERVER_EXPIRED \
        server-notyet:SERVER_NOTYET server-wrongname:SERVER_WRONGNAME \
        server-noserverauth:SERVER_NOSERVERAUTH server-unknownca:SERVER_UNKNOWNCA \
        server-renewed:SERVER_RENEWED \
        client1:CLIENT1 client2:CLIENT2 client-ca2:CLIENT_CA2 client-noauth:CLIENT_NOAUTH \
        client-expired:CLIENT_EXPIRED; do
        _certs_export "${pair%%:*}" "${pair#*:}" || {
            echo "certs_make: no fingerprint for ${pair%%:*}" >&2
            return 1
        }
    done
    SPKI_SERVER=$(certtool --pubkey-info --load-privkey "$CERTS_DIR/server.key" --outder \
        2>/dev/null | sha256sum | cut -d' ' -f1)
    export SPKI_SERVER
    rm -f "$CERTS_DIR"/*.tmpl
    return 0
}
