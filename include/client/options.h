/* Connection options shared by the `smbquic` CLI and (later) mount.smbquic: UNC parsing,
 * `-o` option strings with the names mount.cifs users know, and mount.cifs credentials files. */
#ifndef SMBQUIC_CLIENT_OPTIONS_H
#define SMBQUIC_CLIENT_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "auth/gss.h"

enum sq_transport_kind {
    SQ_TRANSPORT_QUIC = 0, /* the default: SMB over QUIC on UDP 443 */
    SQ_TRANSPORT_TCP,
    SQ_TRANSPORT_AUTO,
};

enum sq_cache_mode {
    SQ_CACHE_STRICT = 0, /* the default */
    SQ_CACHE_LOOSE,
    SQ_CACHE_NONE,
};

/* Options only mount.smbquic uses (shared/PRODUCT.md "Mounting", man/mount.smbquic.8).
 * sq_options_parse accepts them only when enabled is set, which mount.smbquic does before
 * parsing; otherwise each is refused with a message naming it. */
struct sq_mount_options {
    bool enabled;
    bool sloppy;      /* mount -s: unknown options are skipped with a warning */
    uid_t uid;        /* uid=, owner shown for every file; default: the caller's uid */
    gid_t gid;        /* gid=; default: the caller's gid */
    mode_t file_mode; /* file_mode=, octal; default 0644 */
    mode_t dir_mode;  /* dir_mode=, octal; default 0755 */
    bool read_only;   /* ro (rw clears it) */
    bool allow_other;
    enum sq_cache_mode cache;
    double actimeo;         /* seconds attributes are cached; default 1 */
    bool hard;              /* hard (soft, the default, clears it) */
    unsigned echo_interval; /* seconds between keep-alive echoes, 1..600; default 60 */
    unsigned closetimeo;    /* seconds the handle of a file closed after reading is kept
                             * while leased, 0..3600; default 1 */
    bool noexec;            /* noexec (exec clears it) */
    bool foreground;        /* foreground: do not daemonize */
    bool mfsymlinks;        /* symlinks stored as Minshall+French "XSym" files (as cifs) */
};

struct sq_options {
    char *server;     /* host name or address from the UNC */
    char *share;      /* share name; NULL when the UNC names only a server */
    char *path;       /* path inside the share, '\\'-separated, no leading separator; "" = root */
    uint16_t port;    /* 0 = the transport's default */
    enum sq_transport_kind transport;
    char *username;
    char *domain;
    char *password;   /* wiped by sq_options_free */
    bool sign;        /* require signing */
    bool seal;        /* require encryption */
    bool guest;       /* allow a guest session (never a fallback) */
    enum auth_mech_pref sec;
    uint16_t dialect; /* the one dialect to offer; SMB 3.1.1 by default */
    int verbose;
    /* QUIC (shared/PRODUCT.md "Transport and certificates") */
    char *servername; /* the name the server certificate must carry (connecting by address) */
    char *cafile;     /* extra trusted CA certificates, PEM */
    uint8_t pin[32];  /* SHA-256 of the one server certificate to trust (pin=sha256:HEX), or
                       * of its public key (pin=spki-sha256:HEX, pin_spki) */
    bool has_pin;
    bool pin_spki;
    char *cert;       /* client certificate and key, PEM */
    char *key;
    bool quic_tls_only; /* accept skipping SMB encryption inside QUIC (MS-SMB2 2.2.3.1.5) */
    struct sq_mount_options mount;
    /* Set by the program, never by an option. A mount keeps one ClientGuid for all its
     * connections: the server finds durable handles and leases by it (MS-SMB2 3.3.5.9.12),
     * and Samba hands a reconnecting client to the process that held its old connection.
     * When !has_client_guid each session makes a random one. */
    uint8_t client_guid[16];
    bool has_client_guid;
    /* The session a reconnect replaces (SESSION_SETUP's PreviousSessionId, MS-SMB2
     * 3.2.4.2.3): the server ends it at once instead of when it notices the old connection
     * is dead, and keeps its durable handles for us to reclaim. 0: none. */
    uint64_t previous_session_id;
};

/* Sets the defaults (QUIC, SMB 3.1.1, user from $USER, password from $PASSWD; the mount
 * defaults above, with mount.enabled false). */
void sq_options_init(struct sq_options *o);
void sq_options_free(struct sq_options *o);

/* Parses //server/share[/path] (or backslashes). Returns 0 or SQ_ERR_INVAL with a message. */
int sq_options_parse_unc(struct sq_options *o, const char *unc, bool share_required, char *why,
                         size_t why_len);
/* Parses a comma-separated option string (may be called several times). Returns 0 or
 * SQ_ERR_INVAL with a message naming the bad option. Options mount(8) passes to helpers that
 * mean nothing here (_netdev, nofail, auto, noauto, user, users, nouser, defaults, x-*) are
 * accepted and ignored; with mount.enabled so are the VFS flags a FUSE mount always has or
 * that have no meaning over SMB (nosuid, nodev, suid, dev, async, the atime family, nomand,
 * iversion, lazytime, silent, loud; see mount.smbquic(8)), and the mount options of struct
 * sq_mount_options are parsed. */
int sq_options_parse(struct sq_options *o, const char *opts, char *why, size_t why_len);
/* Reads a mount.cifs credentials file (username=, password=, domain= lines). Refuses a file
 * that group or others can read. */
int sq_options_read_credentials(struct sq_options *o, const char *file, char *why,
                                size_t why_len);
/* Checks combinations (e.g. vers= below 3.1.1 only over TCP). */
int sq_options_validate(const struct sq_options *o, char *why, size_t why_len);

/* "3.1.1", "3.0.2", "3.0" */
const char *sq_dialect_name(uint16_t dialect);

#endif
