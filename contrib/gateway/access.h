/* Client-certificate access rules of smbquic-gateway (the --access file).
 *
 * File format: one rule per line; blank lines and lines whose first word starts with '#' are
 * ignored, and a word starting with '#' ends the line (a comment):
 *     allow sha256 HEX      the certificate whose DER encoding has this SHA-256
 *     deny sha256 HEX       (64 hex digits; ':' separators and upper case accepted)
 *     allow issuer FILE     certificates that verify against a CA certificate in FILE (PEM;
 *     deny issuer FILE      one or more certificates), cryptographically, not by name; a
 *                           relative FILE is relative to the access file's directory
 *     require               a client certificate is mandatory
 *
 * Decision (gw_access_decide):
 *   1. no certificate: denied by `require`; denied when any allow rule exists (nothing can
 *      match it); otherwise allowed;
 *   2. a certificate that lacks EKU clientAuth (1.3.6.1.5.5.7.3.2) or is outside its validity
 *      period is denied;
 *   3. any matching deny rule denies (deny wins over allow);
 *   4. when allow rules exist, the first matching one allows, and no match denies;
 *   5. otherwise allowed.
 * Without an access file (rules == NULL) every client is allowed and certificates are only
 * described for the audit log. */
#ifndef SMBQUIC_GATEWAY_ACCESS_H
#define SMBQUIC_GATEWAY_ACCESS_H

#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct gw_access;

/* What the audit log says about a client certificate ("-" for each field when absent). */
struct gw_cert_info {
    bool present;
    char subject[512]; /* RFC 4514 DN */
    char issuer[512];
    char serial[84]; /* hex */
    char sha256[65]; /* hex of the SHA-256 of the DER encoding */
};

struct gw_decision {
    bool allowed;
    char rule[96]; /* "default", "3:deny sha256", "cert:expired", ... */
};

/* Parses the access file. On failure returns -1 and writes "FILE:LINE: reason" into why.
 * The caller frees *out with gw_access_free. */
int gw_access_load(const char *path, struct gw_access **out, char *why, size_t why_len);
void gw_access_free(struct gw_access *access);

/* Number of rules (for the startup log). */
size_t gw_access_rule_count(const struct gw_access *access);

/* Fills info from the peer's chain (leaf first); n == 0 means no certificate. */
void gw_cert_describe(const gnutls_datum_t *chain, unsigned n, struct gw_cert_info *info);

/* Applies the rules (see above) to the peer's chain at time now. access may be NULL. */
void gw_access_decide(const struct gw_access *access, const gnutls_datum_t *chain, unsigned n,
                      time_t now, struct gw_decision *out);

#endif
