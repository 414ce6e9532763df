/* `smbquic check`: walks the connection stage by stage and says, one line each, what works and
 * where it stops, with a hint for the failing stage (shared/PRODUCT.md "Diagnostics"). */
#include "cli/commands.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "client/session.h"
#include "util/error.h"

/* The stages in the order they are printed. */
enum check_line {
    LINE_RESOLVE,
    LINE_REACH,       /* "udp reachability" or "tcp connect" */
    LINE_HANDSHAKE,   /* QUIC only */
    LINE_CERTIFICATE, /* QUIC only */
    LINE_NEGOTIATE,
    LINE_AUTH,
    LINE_TREE,
    LINE_COUNT,
};

static const char *line_name(enum check_line l, bool quic)
{
    switch (l) {
    case LINE_RESOLVE: return "name resolution";
    case LINE_REACH: return quic ? "udp reachability" : "tcp connect";
    case LINE_HANDSHAKE: return "quic handshake";
    case LINE_CERTIFICATE: return "certificate";
    case LINE_NEGOTIATE: return "negotiate";
    case LINE_AUTH: return "authentication";
    case LINE_TREE: return "tree connect";
    case LINE_COUNT: break;
    }
    return "?";
}

struct check_state {
    const struct sq_options *o;
    bool quic;
    int printed; /* lines printed so far */
};

static void print_ok(struct check_state *c, enum check_line l, const char *detail)
{
    printf("%s: OK%s%s%s\n", line_name(l, c->quic), *detail ? " (" : "", detail,
           *detail ? ")" : "");
    c->printed = (int)l + 1;
}

static void observe(void *arg, enum sq_stage stage, const struct sq_session *s)
{
    struct check_state *c = arg;
    const struct sq_session_info *i = sq_session_info(s);
    char detail[600];
    switch (stage) {
    case SQ_STAGE_CONNECT:
        if (c->quic) {
            print_ok(c, LINE_REACH, i->peer);
            snprintf(detail, sizeof(detail), "TLS 1.3, ALPN smb, connection %s",
                     i->connection_id);
            print_ok(c, LINE_HANDSHAKE, detail);
        } else {
            print_ok(c, LINE_REACH, i->peer);
        }
        break;
    case SQ_STAGE_CERTIFICATE:
        snprintf(detail, sizeof(detail), "%s, issuer %s, sha256 %s%s", i->cert_subject,
                 i->cert_issuer, i->cert_sha256, c->o->has_pin ? ", pinned" : "");
        print_ok(c, LINE_CERTIFICATE, detail);
        break;
    case SQ_STAGE_NEGOTIATE:
        snprintf(detail, sizeof(detail), "SMB %s, cipher %s, signing %s",
                 sq_dialect_name(i->dialect), i->cipher, i->signing);
        print_ok(c, LINE_NEGOTIATE, detail);
        break;
    case SQ_STAGE_SESSION_SETUP:
        snprintf(detail, sizeof(detail), "%s as %s, %s", i->auth,
                 c->o->username ? c->o->username : "(ticket)",
                 i->encrypted ? "encrypted" : "signed");
        print_ok(c, LINE_AUTH, detail);
        break;
    case SQ_STAGE_TREE_CONNECT:
        snprintf(detail, sizeof(detail), "\\\\%s\\%s%s", c->o->server, c->o->share,
                 i->encrypted ? ", encrypted" : "");
        print_ok(c, LINE_TREE, detail);
        break;
    default:
        break;
    }
}

static enum check_line failing_line(const struct sq_failure *f, bool quic)
{
    switch (f->stage) {
    case SQ_STAGE_RESOLVE: return LINE_RESOLVE;
    case SQ_STAGE_CONNECT:
        return quic && strcmp(f->stage_name, "quic handshake") == 0 ? LINE_HANDSHAKE
                                                                     : LINE_REACH;
    case SQ_STAGE_CERTIFICATE: return LINE_CERTIFICATE;
    case SQ_STAGE_NEGOTIATE: return LINE_NEGOTIATE;
    case SQ_STAGE_SESSION_SETUP: return LINE_AUTH;
    case SQ_STAGE_TREE_CONNECT: return LINE_TREE;
    default: return LINE_RESOLVE;
    }
}

/* What to try for the stage that failed; f (NULL before a session was tried) tells a refused
 * client certificate from a server certificate that did not verify. */
static const char *hint_for(enum check_line l, bool quic, const struct sq_failure *f)
{
    switch (l) {
    case LINE_RESOLVE: return "check the server name and the resolver (/etc/resolv.conf)";
    case LINE_REACH:
        return quic ? "is the server (or smbquic-gateway) listening on this UDP port, and does "
                      "a firewall let UDP through? On a LAN, transport=tcp may work"
                    : "is the server listening on this TCP port (445 by default)?";
    case LINE_HANDSHAKE:
        return "the peer does not complete an SMB over QUIC handshake (ALPN smb); is it an "
               "SMB over QUIC server?";
    case LINE_CERTIFICATE:
        /* The server refusing our client certificate is not about trusting the server's. */
        if (f && strcmp(f->stage_name, "client certificate") == 0)
            return "the server wants a client certificate it accepts: give it with cert= and "
                   "key=";
        return "trust a private CA with cafile=, name the server with servername= when "
               "connecting by address, or pin a self-signed server with pin=sha256:...";
    case LINE_NEGOTIATE:
        return "the server cannot meet the required dialect, signing or encryption (vers=, "
               "sign, seal)";
    case LINE_AUTH:
        return "check username=, domain= and the password (credentials= or PASSWD); for "
               "Kerberos, kinit first";
    case LINE_TREE: return "check the share name and that your account may use it";
    case LINE_COUNT: break;
    }
    return "";
}

int cmd_check(const struct sq_options *o, struct sq_failure *f)
{
    struct check_state c = {.o = o, .quic = o->transport != SQ_TRANSPORT_TCP};
    /* Resolve here too, to show the addresses; the transport resolves again to connect. */
    struct addrinfo hints = {.ai_socktype = c.quic ? SOCK_DGRAM : SOCK_STREAM};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(o->server, NULL, &hints, &res);
    if (gai != 0) {
        printf("name resolution: FAILED: cannot resolve %s: %s\n", o->server,
               gai_strerror(gai));
        printf("  hint: %s\n", hint_for(LINE_RESOLVE, c.quic, NULL));
        return sq_fail(f, SQ_STAGE_RESOLVE, "name resolution", SQ_ERR_RESOLVE, 0,
                       "cannot resolve %s: %s", o->server, gai_strerror(gai));
    }
    char addrs[256] = "";
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        char a[INET6_ADDRSTRLEN] = "?";
        const void *p = ai->ai_family == AF_INET6
                            ? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
                            : (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
        inet_ntop(ai->ai_family, p, a, sizeof(a));
        if (!strstr(addrs, a) && strlen(addrs) + strlen(a) + 3 < sizeof(addrs)) {
            if (*addrs)
                strcat(addrs, ", ");
            strcat(addrs, a);
        }
    }
    freeaddrinfo(res);
    print_ok(&c, LINE_RESOLVE, addrs);

    struct sq_session *s = NULL;
    int rc = sq_session_open_observed(o, &s, f, observe, &c);
    if (!rc) {
        sq_session_close(s);
        printf("all stages OK\n");
        return 0;
    }
    if (f->stage == SQ_STAGE_OPTIONS)
        return rc;
    /* With transport=auto the session may have fallen back to TCP: label lines by what was
     * actually tried last. */
    enum check_line bad = failing_line(f, c.quic);
    /* Stages the transport passed inside one call before it failed (a certificate is checked
     * during the handshake, so the server answered). */
    for (int l = c.printed; l < (int)bad; l++)
        print_ok(&c, (enum check_line)l, "the server answered");
    const char *what = strstr(f->detail, " failed: ");
    printf("%s: FAILED: %s\n", line_name(bad, c.quic), what ? what + 9 : f->detail);
    printf("  hint: %s\n", hint_for(bad, c.quic, f));
    /* The ALPN is checked once the handshake is over, so a server that completed it but
     * picked no "smb" did pass the certificate checks (the transport's message says so). */
    bool cert_passed = bad == LINE_HANDSHAKE && strstr(f->detail, "did not select ALPN");
    for (int l = (int)bad + 1; l < LINE_COUNT; l++) {
        if (!c.quic && (l == LINE_HANDSHAKE || l == LINE_CERTIFICATE))
            continue;
        if (l == LINE_CERTIFICATE && cert_passed)
            printf("%s: OK (verified during the handshake)\n", line_name(LINE_CERTIFICATE, true));
        else
            printf("%s: skipped\n", line_name((enum check_line)l, c.quic));
    }
    return rc;
}
