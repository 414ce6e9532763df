# shellcheck shell=bash
# An MIT Kerberos KDC for smbquic's tests, and a KDC proxy (MS-KKDCP) in front of it. Source
# after testlib.sh (it uses rig_cleanup_add, _rig_random_port, TEST_TMP).
#
#   kdc_start USER     a realm SMBQUIC.TEST in a database of its own under $TEST_TMP/kdc, its
#                      krb5kdc on 127.0.0.1 at a free port (UDP and TCP), and principals:
#                        USER                 the test user; its key in KDC_USER_KEYTAB, so
#                                             `kinit -k -t "$KDC_USER_KEYTAB" USER` needs no
#                                             password prompt
#                        cifs/127.0.0.1, cifs/smb.test   the SMB server (the tests reach it
#                                             by address, over QUIC with servername=smb.test);
#                                             their keys in KDC_SERVICE_KEYTAB for smbd (the
#                                             samba.sh variant "kerberos")
#                      Exports KRB5_CONFIG (a krb5.conf naming only this realm and KDC; the
#                      machine's /etc/krb5.conf is never read), KRB5CCNAME (a credential cache
#                      under $TEST_TMP), KDC_REALM, KDC_PORT, KDC_USER_KEYTAB,
#                      KDC_SERVICE_KEYTAB, KDC_DIR. Stopped by PID from the rig's EXIT trap.
#   kdc_proxy_start CERT KEY
#                      a KKDCP server (python3-kdcproxy's WSGI application behind TLS with
#                      CERT/KEY) on 127.0.0.1 at a free port, forwarding to the KDC; exports
#                      KDC_PROXY_URL (https://127.0.0.1:PORT/KdcProxy), KDC_PROXY_LOG (one line
#                      per request) and KRB5_PROXY_CONFIG: a krb5.conf whose realm is reached
#                      only through the proxy, trusting CERT_CA for its certificate.
#   kdc_require        skip the test (exit 77) unless krb5kdc, kdb5_util, kadmin.local,
#                      kinit and Debian's python3-kdcproxy are installed.
#
# MIT's KDC (1.20 and later) puts a PAC in every ticket unless the service says otherwise; a
# standalone Samba refuses tickets with a PAC (only a domain's PAC means anything to it), so
# the service principals carry +no_auth_data_required.

KDC_REALM=SMBQUIC.TEST

kdc_require() {
    local tool
    for tool in krb5kdc kdb5_util kadmin.local kinit klist kdestroy; do
        command -v "$tool" >/dev/null 2>&1 ||
            skip "$tool not installed (krb5-kdc, krb5-admin-server, krb5-user)"
    done
    /usr/bin/python3 -c 'import kdcproxy' 2>/dev/null || skip "python3-kdcproxy not installed"
    compgen -G '/usr/lib/*/krb5/plugins/tls/k5tls.so' >/dev/null ||
        skip "krb5-k5tls not installed (MIT krb5's HTTPS transport for KDC proxies)"
}

_kdc_admin() {
    kadmin.local -r "$KDC_REALM" -q "$1" >>"$KDC_DIR/kadmin.log" 2>&1 ||
        { rig_log "kadmin.local '$1' failed:"; cat "$KDC_DIR/kadmin.log" >&2; return 1; }
}

kdc_start() {
    local user=$1 i
    KDC_DIR=$TEST_TMP/kdc
    mkdir -p "$KDC_DIR" || return 1
    KDC_PORT=$(_rig_random_port)
    export KDC_DIR KDC_PORT KDC_REALM
    cat >"$KDC_DIR/krb5.conf" <<EOF
[libdefaults]
    default_realm = $KDC_REALM
    dns_lookup_kdc = false
    dns_lookup_realm = false
    dns_canonicalize_hostname = false
    rdns = false
[realms]
    $KDC_REALM = {
        kdc = 127.0.0.1:$KDC_PORT
    }
EOF
    cat >"$KDC_DIR/kdc.conf" <<EOF
[kdcdefaults]
    kdc_listen = 127.0.0.1:$KDC_PORT
    kdc_tcp_listen = 127.0.0.1:$KDC_PORT
[realms]
    $KDC_REALM = {
        database_name = $KDC_DIR/principal
        key_stash_file = $KDC_DIR/stash
        acl_file = $KDC_DIR/kadm5.acl
        max_life = 1h
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
    }
[logging]
    kdc = FILE:$KDC_DIR/kdc.log
EOF
    export KRB5_CONFIG=$KDC_DIR/krb5.conf KRB5_KDC_PROFILE=$KDC_DIR/kdc.conf
    export KRB5CCNAME=FILE:$KDC_DIR/ccache
    KDC_USER_KEYTAB=$KDC_DIR/user.keytab
    KDC_SERVICE_KEYTAB=$KDC_DIR/service.keytab
    export KDC_USER_KEYTAB KDC_SERVICE_KEYTAB
    kdb5_util create -s -r "$KDC_REALM" -P "$(head -c 24 /dev/urandom | base64)" \
        >"$KDC_DIR/kdb5_util.log" 2>&1 ||
        { rig_log "kdb5_util create failed:"; cat "$KDC_DIR/kdb5_util.log" >&2; return 1; }
    _kdc_admin "addprinc -randkey $user" &&
        _kdc_admin "addprinc -randkey +no_auth_data_required cifs/127.0.0.1" &&
        _kdc_admin "addprinc -randkey +no_auth_data_required cifs/smb.test" &&
        _kdc_admin "ktadd -k $KDC_USER_KEYTAB $user" &&
        _kdc_admin "ktadd -k $KDC_SERVICE_KEYTAB cifs/127.0.0.1 cifs/smb.test" || return 1
    # smbd reads the service keytab as the user it runs as (root): nobody else needs it.
    chmod 600 "$KDC_USER_KEYTAB" "$KDC_SERVICE_KEYTAB"
    krb5kdc -n -r "$KDC_REALM" </dev/null >"$KDC_DIR/krb5kdc.out" 2>&1 &
    KDC_PID=$!
    rig_cleanup_add "_kdc_stop_pid $KDC_PID"
    for ((i = 0; i < 100; i++)); do
        ss -Hltn "sport = :$KDC_PORT" 2>/dev/null | grep -q . && return 0
        kill -0 "$KDC_PID" 2>/dev/null || break
        sleep 0.05
    done
    rig_log "krb5kdc did not start:"
    cat "$KDC_DIR/krb5kdc.out" "$KDC_DIR/kdc.log" >&2 2>/dev/null
    return 1
}

_kdc_stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

kdc_proxy_start() {
    local cert=$1 key=$2 port i
    port=$(_rig_random_port)
    KDC_PROXY_URL=https://127.0.0.1:$port/KdcProxy
    KDC_PROXY_LOG=$KDC_DIR/kdcproxy.log
    export KDC_PROXY_URL KDC_PROXY_LOG
    cat >"$KDC_DIR/kdcproxy.conf" <<EOF
[global]
use_dns = false
[$KDC_REALM]
kerberos = kerberos+tcp://127.0.0.1:$KDC_PORT
EOF
    # Debian's python3 (a python3 earlier in PATH would not see python3-kdcproxy).
    KDCPROXY_CONFIG=$KDC_DIR/kdcproxy.conf /usr/bin/python3 - "$port" "$cert" "$key" \
        >"$KDC_PROXY_LOG" 2>&1 <<'PY' &
# The KKDCP application as Debian packages it, served over TLS by the standard library.
import ssl, sys
from wsgiref.simple_server import WSGIRequestHandler, make_server
import kdcproxy
port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
class Handler(WSGIRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write("request: " + (fmt % args) + "\n")
        sys.stderr.flush()
server = make_server("127.0.0.1", port, kdcproxy.Application(), handler_class=Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
print("listening", flush=True)
server.serve_forever()
PY
    KDC_PROXY_PID=$!
    rig_cleanup_add "_kdc_stop_pid $KDC_PROXY_PID"
    KRB5_PROXY_CONFIG=$KDC_DIR/krb5-proxy.conf
    export KRB5_PROXY_CONFIG
    sed "s|kdc = 127.0.0.1:$KDC_PORT|kdc = $KDC_PROXY_URL\\n        http_anchors = FILE:$CERT_CA|" \
        "$KDC_DIR/krb5.conf" >"$KRB5_PROXY_CONFIG"
    for ((i = 0; i < 100; i++)); do
        grep -q '^listening' "$KDC_PROXY_LOG" 2>/dev/null && return 0
        kill -0 "$KDC_PROXY_PID" 2>/dev/null || break
        sleep 0.05
    done
    rig_log "the KDC proxy did not start:"
    cat "$KDC_PROXY_LOG" >&2
    return 1
}
