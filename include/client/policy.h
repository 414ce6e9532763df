/* System policy (UNC hardening, shared/PRODUCT.md "System policy"): rules an administrator
 * writes in SQ_POLICY_FILE that every mount and every CLI call obeys, whatever the user's
 * options say. One rule per line: a pattern (//SERVER/SHARE, either part a name or * for
 * any) and comma-separated SETTING=VALUE pairs; smbquic-policy(5) has the settings. Every rule
 * whose pattern matches applies; the strictest of them wins. */
#ifndef SMBQUIC_CLIENT_POLICY_H
#define SMBQUIC_CLIENT_POLICY_H

#include <stddef.h>
#include <stdint.h>

#ifndef SQ_POLICY_FILE
#define SQ_POLICY_FILE "/etc/smbquic/policy.conf"
#endif

/* The largest policy file read (a few lines are typical). */
#define SQ_POLICY_MAX_BYTES (256 * 1024)

enum sq_policy_requirement {
    SQ_POLICY_INTEGRITY,   /* RequireIntegrity: signing */
    SQ_POLICY_PRIVACY,     /* RequirePrivacy: SMB encryption */
    SQ_POLICY_MUTUAL_AUTH, /* RequireMutualAuthentication: Kerberos, never NTLM or guest */
    SQ_POLICY_QUIC,        /* RequireQuic: never TCP 445 */
    SQ_POLICY_CLIENT_CERT, /* RequireClientCertificate: cert= and key= */
    SQ_POLICY_MIN_DIALECT, /* MinimumDialect=3.0|3.0.2|3.1.1 */
    SQ_POLICY_REQUIREMENTS,
};

struct sq_policy_rule {
    char *server;         /* lowercase, "*" for any */
    char *share;          /* lowercase, "*" for any */
    char *pattern;        /* as written, for messages */
    unsigned line;        /* in the file */
    unsigned requires;    /* 1 << enum sq_policy_requirement */
    uint16_t min_dialect; /* SMB2_DIALECT_*, with SQ_POLICY_MIN_DIALECT */
};

struct sq_policy {
    struct sq_policy_rule *rules;
    size_t count;
};

/* What the rules matching one server and share require: the union, the highest minimum
 * dialect, and for each requirement the rule that imposed it first (for messages). */
struct sq_policy_match {
    unsigned requires;
    uint16_t min_dialect;
    const struct sq_policy_rule *by[SQ_POLICY_REQUIREMENTS];
};

/* Parses a policy file's text. 0, or SQ_ERR_INVAL with why naming the line and what is wrong
 * (an unknown setting, a bad value or pattern, a line too long), or SQ_ERR_NOMEM. On failure
 * *out is empty. */
int sq_policy_parse(const char *text, size_t len, struct sq_policy *out, char *why, size_t why_len);
/* Reads and parses path. A missing file is an empty policy. A file that someone other than
 * root could have written (not owned by root, or writable by its group or others) is refused,
 * as is one that does not parse: the policy fails closed. */
int sq_policy_load(const char *path, struct sq_policy *out, char *why, size_t why_len);
void sq_policy_free(struct sq_policy *p);

/* The rules that apply to //server/share (names compared without regard to case; also_server,
 * when not NULL, is another name of the server that a rule may name, the servername=). */
void sq_policy_match(const struct sq_policy *p, const char *server, const char *also_server,
                     const char *share, struct sq_policy_match *m);

/* "RequirePrivacy", ... */
const char *sq_policy_requirement_name(enum sq_policy_requirement r);

#endif
