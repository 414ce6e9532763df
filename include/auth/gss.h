/* GSSAPI SPNEGO client for SMB SESSION_SETUP: Kerberos when the user has a ticket, NTLMv2
 * through the gss-ntlmssp mechanism with a password. Only this module includes GSSAPI.
 * See shared/PROTOCOL.md "NTLMv2 and Kerberos through MIT GSSAPI SPNEGO".
 *
 * The engine's loop (MS-SMB2 3.2.4.2.3, 3.2.5.3):
 *     auth_step(a, NULL, 0, &tok, &len, &done)           -> first SESSION_SETUP request
 *     while the response is MORE_PROCESSING_REQUIRED:
 *         auth_step(a, its token, ..., &tok, &len, &done) -> next request
 *     on STATUS_SUCCESS: if !done, auth_step(a, its token, ...) once more (the token carries
 *     the server's SPNEGO mechListMIC); then require done, else fail the session.
 * NTLM takes 3 auth_step calls (2 round trips; the third call consumes the final token and
 * produces nothing); Kerberos with mutual authentication 2 calls (1 round trip). */
#ifndef SMBQUIC_AUTH_GSS_H
#define SMBQUIC_AUTH_GSS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum auth_mech_pref {
    AUTH_MECH_ANY = 0, /* SPNEGO chooses: Kerberos if a ticket matches, else NTLM */
    AUTH_MECH_KRB5,    /* sec=krb5 */
    AUTH_MECH_NTLMSSP, /* sec=ntlmssp */
};

/* How the parameters are used:
 * - With a password (ANY or NTLMSSP): the user name is "DOMAIN\user" when a domain is given
 *   and the name has no '\' or '@', else the name as given ("user", "DOMAIN\user",
 *   "user@DOMAIN" all work with gss-ntlmssp). Under ANY, SPNEGO offers Kerberos first only if
 *   a ticket for exactly that name ("user" or "user@REALM") is in the credential cache.
 * - Without a password (ANY or KRB5): Kerberos only, from the default credential cache or
 *   client keytab; the user name, if any, must match its principal ("user" or "user@REALM";
 *   the domain is not added). With no ticket the first auth_step fails at once with
 *   "no Kerberos ticket for USER and no password given (...)".
 * - KRB5 ignores any password (run kinit). NTLMSSP without a password uses gss-ntlmssp's
 *   default credentials (NTLM_USER_FILE or winbind).
 * - Requested flags: mutual, replay, sequence, integrity; never delegation. */
struct auth_params {
    const char *server;   /* host name for the SPN cifs@server; required */
    const char *username; /* may be NULL: use the credential cache's principal; required
                           * with a password unless mech is AUTH_MECH_KRB5 */
    const char *domain;   /* may be NULL */
    const char *password; /* may be NULL: Kerberos only; copied by auth_new, and the copy is
                           * wiped as soon as credentials are acquired (first auth_step) or
                           * by auth_free */
    enum auth_mech_pref mech;
};

struct auth_ctx;

/* Creates a context; acquires credentials lazily on the first auth_step. All strings are
 * copied. Returns 0, SQ_ERR_INVAL (no server, unknown mech, password without user name) or
 * SQ_ERR_NOMEM; *out is NULL on failure. */
int auth_new(const struct auth_params *p, struct auth_ctx **out);
/* Wipes and frees everything the context holds. NULL is fine. */
void auth_free(struct auth_ctx *a);

/* Runs one gss_init_sec_context step. in/in_len: the server's token; on the first call it is
 * ignored (pass NULL/0; the NEGOTIATE response's hint token may be ignored per
 * MS-SMB2 3.2.4.2.3), on every later call it is required (an empty token before completion is
 * SQ_ERR_AUTH). On success *out and *out_len are a token to send (malloc'd, caller frees; may be
 * empty with *out == NULL), and *complete tells whether the context is established
 * (GSS_S_COMPLETE).
 * Returns 0; SQ_ERR_AUTH (message in auth_last_error; the context is then dead and every
 * later auth_step returns SQ_ERR_AUTH); SQ_ERR_NOMEM; SQ_ERR_INVAL for NULL out-pointers or a
 * call after completion (the established context and its key are kept). */
int auth_step(struct auth_ctx *a, const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len,
              bool *complete);

/* After completion: the session key (16 bytes for NTLM, 32 for Kerberos AES; SMB uses the
 * first 16, MS-SMB2 3.2.5.3.1), copied into key. The caller wipes it when done.
 * Returns 0, SQ_ERR_AUTH (not complete, no key, or key_cap too small; *key_len is 0) or
 * SQ_ERR_INVAL. */
int auth_session_key(struct auth_ctx *a, uint8_t *key, size_t key_cap, size_t *key_len);
/* After completion: "kerberos" or "ntlmssp" (the mechanism SPNEGO chose); "unknown" before
 * completion or for another mechanism. Never NULL. */
const char *auth_mech_name(const struct auth_ctx *a);
/* Human-readable GSSAPI error of the last failure (major/minor status text); "" if none.
 * Never contains the password or keys. Valid until the next call on a. */
const char *auth_last_error(const struct auth_ctx *a);

#endif
