/* smbquic-gateway: command line, startup, privilege drop, shutdown. See smbquic-gateway(8).
 *
 * Startup reads everything that may need privileges (certificate, key, access rules and the
 * CA files they name, the audit file) and binds the UDP port, then drops privileges for
 * good: to --user (default nobody) when started as root, or, when started unprivileged with
 * capabilities (systemd's AmbientCapabilities=CAP_NET_BIND_SERVICE), by clearing every
 * capability. Always in the foreground, logging to stderr. */
#include "gateway.h"
#include "audit.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <malloc.h>
#include <linux/capability.h>
#include <netdb.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EXIT_USAGE 2

int gw_verbosity = GW_LOG_WARN;

void gw_log(int level, const char *fmt, ...)
{
    if (level > gw_verbosity)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "smbquic-gateway: %s\n", line);
}

static void usage(FILE *out)
{
    fputs("usage: smbquic-gateway --listen ADDR:PORT --cert FILE --key FILE --backend HOST:PORT\n"
          "                       [--access FILE] [--audit FILE] [--user NAME]\n"
          "                       [--max-connections N] [-v] [-f]\n"
          "Publishes an SMB server that listens on TCP over SMB over QUIC (ALPN \"smb\").\n"
          "  --listen ADDR:PORT     UDP address to serve, e.g. 0.0.0.0:443, [::]:443 (IPv4\n"
          "                         and IPv6), 192.0.2.1:443\n"
          "  --cert FILE            server certificate chain (PEM, leaf first)\n"
          "  --key FILE             its private key (PEM)\n"
          "  --backend HOST:PORT    the SMB server's TCP address, e.g. 127.0.0.1:445\n"
          "  --access FILE          client-certificate rules (see smbquic-gateway(8))\n"
          "  --audit FILE           append one line per connection event to FILE\n"
          "  --user NAME            run as NAME after binding (default when root: nobody)\n"
          "  --max-connections N    at most N connections at once (default 256)\n"
          "  -v                     log connection events and audit lines to stderr; -vv more\n"
          "  -f                     stay in the foreground (always the case)\n",
          out);
}

/* "host:port", "[v6]:port". Writes host (without brackets) and port. */
static int split_host_port(const char *arg, char *host, size_t host_len, char *port,
                           size_t port_len)
{
    const char *colon;
    const char *h = arg;
    size_t hlen;
    if (arg[0] == '[') {
        const char *close = strchr(arg, ']');
        if (!close || close[1] != ':')
            return -1;
        h = arg + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(arg, ':');
        if (!colon)
            return -1;
        hlen = (size_t)(colon - arg);
        if (memchr(arg, ':', hlen))
            return -1; /* an IPv6 address needs brackets */
    }
    if (hlen == 0 || hlen >= host_len || strlen(colon + 1) == 0 || strlen(colon + 1) >= port_len)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    strcpy(port, colon + 1);
    for (const char *p = port; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    long n = strtol(port, NULL, 10);
    return n >= 0 && n <= 65535 ? 0 : -1;
}

static int resolve(const char *arg, bool listen, struct sockaddr_storage *out, socklen_t *out_len,
                   char *why, size_t why_len)
{
    char host[256], port[8];
    if (split_host_port(arg, host, sizeof(host), port, sizeof(port)) != 0) {
        snprintf(why, why_len, "'%s' is not HOST:PORT (IPv6 as [ADDR]:PORT)", arg);
        return -1;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = listen ? SOCK_DGRAM : SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (listen ? AI_NUMERICHOST | AI_PASSIVE : AI_ADDRCONFIG);
    int rv = getaddrinfo(host, port, &hints, &res);
    if (rv != 0 || !res) {
        snprintf(why, why_len, "%s: %s", arg,
                 listen && rv == EAI_NONAME ? "not a numeric address" : gai_strerror(rv));
        return -1;
    }
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *out_len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int clear_capabilities(void)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof(data));
    (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    return (int)syscall(SYS_capset, &hdr, data);
}

static int drop_privileges(const char *user, char *why, size_t why_len)
{
    if (geteuid() != 0) {
        if (user) {
            struct passwd *pw = getpwnam(user);
            if (!pw || pw->pw_uid != geteuid()) {
                snprintf(why, why_len, "--user %s needs the gateway to start as root", user);
                return -1;
            }
        }
        if (clear_capabilities() != 0) {
            snprintf(why, why_len, "cannot drop capabilities: %s", strerror(errno));
            return -1;
        }
        return 0;
    }
    const char *name = user ? user : "nobody";
    errno = 0;
    struct passwd *pw = getpwnam(name);
    if (!pw) {
        snprintf(why, why_len, "unknown user '%s' for --user", name);
        return -1;
    }
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    if (uid == 0) {
        snprintf(why, why_len, "--user %s is root: refusing to keep root privileges", name);
        return -1;
    }
    if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0) {
        snprintf(why, why_len, "cannot switch to user %s: %s", name, strerror(errno));
        return -1;
    }
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 || ru != uid || eu != uid ||
        su != uid || rg != gid || eg != gid || sg != gid || getgroups(0, NULL) != 0 ||
        setuid(0) == 0) {
        snprintf(why, why_len, "privileges were not dropped to %s", name);
        return -1;
    }
    return 0;
}

static void after_privileges(void)
{
    /* No regaining privileges through exec; no ptrace or core dump of the key in memory by
     * other processes of the same (often shared: nobody) user. */
    (void)prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"listen", required_argument, NULL, 'l'},
        {"cert", required_argument, NULL, 'c'},
        {"key", required_argument, NULL, 'k'},
        {"backend", required_argument, NULL, 'b'},
        {"access", required_argument, NULL, 'a'},
        {"audit", required_argument, NULL, 'A'},
        {"user", required_argument, NULL, 'u'},
        {"max-connections", required_argument, NULL, 'm'},
        {"verbose", no_argument, NULL, 'v'},
        {"foreground", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *listen_arg = NULL, *cert = NULL, *key = NULL, *backend = NULL;
    const char *access_file = NULL, *audit_file = NULL, *user = NULL;
    static struct gw_server srv;
    /* A transfer frees and allocates queue chunks all the time. With glibc's default 128 KiB
     * trim threshold the heap's top went back to the system after every acknowledgment and
     * every new chunk page-faulted again: ~20,000 faults and half the gateway's CPU for a
     * 512 MiB get (measured with bench/quic.sh). Freed memory stays in the heap for reuse;
     * RSS still follows the open connections because the loop calls malloc_trim() a second
     * after connections end (server.c). */
    mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
    srv.cfg.max_connections = GW_DEFAULT_MAX_CONNECTIONS;
    srv.epfd = srv.udp_fd = srv.timer_fd = srv.signal_fd = -1;
    int opt;
    while ((opt = getopt_long(argc, argv, "vfh", options, NULL)) != -1) {
        switch (opt) {
        case 'l':
            listen_arg = optarg;
            break;
        case 'c':
            cert = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 'b':
            backend = optarg;
            break;
        case 'a':
            access_file = optarg;
            break;
        case 'A':
            audit_file = optarg;
            break;
        case 'u':
            user = optarg;
            break;
        case 'm': {
            char *end;
            errno = 0;
            long n = strtol(optarg, &end, 10);
            if (errno || *end || n < 1 || n > 65536) {
                fprintf(stderr, "smbquic-gateway: --max-connections: '%s' is not 1-65536\n",
                        optarg);
                return EXIT_USAGE;
            }
            srv.cfg.max_connections = (size_t)n;
            break;
        }
        case 'v':
            if (gw_verbosity < GW_LOG_DEBUG)
                gw_verbosity++;
            break;
        case 'f':
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("smbquic-gateway %s (ngtcp2 %s, GnuTLS %s)\n", SMBQUIC_VERSION,
                   ngtcp2_version(0)->version_str, gnutls_check_version(NULL));
            return 0;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc || !listen_arg || !cert || !key || !backend) {
        fprintf(stderr, "smbquic-gateway: %s\n",
                optind != argc ? "unexpected argument"
                               : "--listen, --cert, --key and --backend are required");
        usage(stderr);
        return EXIT_USAGE;
    }
    srv.cfg.verbose = gw_verbosity;

    char why[600];
    if (resolve(listen_arg, true, &srv.cfg.listen_addr, &srv.cfg.listen_len, why, sizeof(why)) !=
            0 ||
        resolve(backend, false, &srv.cfg.backend_addr, &srv.cfg.backend_len, why, sizeof(why)) !=
            0) {
        fprintf(stderr, "smbquic-gateway: %s\n", why);
        return EXIT_USAGE;
    }
    snprintf(srv.cfg.backend_name, sizeof(srv.cfg.backend_name), "%s", backend);

    /* SIGTERM, SIGINT and SIGHUP arrive through a signalfd; a closed backend must not kill
     * us. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct gw_access *access = NULL;
    int status = 1;
    if (gw_tls_init(&srv.tls, cert, key, why, sizeof(why)) != 0) {
        fprintf(stderr, "smbquic-gateway: %s\n", why);
        return 1;
    }
    if (access_file && gw_access_load(access_file, &access, why, sizeof(why)) != 0) {
        fprintf(stderr, "smbquic-gateway: --access %s\n", why);
        goto out;
    }
    srv.access = access;
    if (gw_audit_open(audit_file, gw_verbosity >= GW_LOG_INFO, why, sizeof(why)) != 0) {
        fprintf(stderr, "smbquic-gateway: --audit %s\n", why);
        goto out;
    }
    if (gw_server_init(&srv, why, sizeof(why)) != 0 ||
        drop_privileges(user, why, sizeof(why)) != 0) {
        fprintf(stderr, "smbquic-gateway: %s\n", why);
        goto out;
    }
    after_privileges();

    char local[64], addr[64];
    gw_format_addr(&srv.local.sa, local, sizeof(local));
    gw_format_addr((const struct sockaddr *)&srv.cfg.backend_addr, addr, sizeof(addr));
    gw_log(GW_LOG_WARN, "listening on %s (UDP), backend %s (%s), %zu access rules, uid %u", local,
           srv.cfg.backend_name, addr, gw_access_rule_count(access), (unsigned)getuid());
    gw_log(GW_LOG_INFO, "UDP GRO %s; GSO tried on first use", srv.gro ? "on" : "unavailable");
    status = gw_server_run(&srv);
    if (status == 0)
        gw_log(GW_LOG_WARN, "stopped");

out:
    gw_server_free(&srv);
    gw_access_free(access);
    gw_tls_free(&srv.tls);
    gw_audit_close();
    return status;
}
