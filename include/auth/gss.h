/* GSSAPI SPNEGO client for SMB SESSION_SETUP: Kerberos when the user has a ticket, NTLMv2
 * through the gss-ntlmssp mechanism with a password. Only this module includes GSSAPI.
 * See shared/PROTOCOL.md "NTLMv2 and Kerberos through MIT GSSAPI SPNEGO". */
#ifndef SMBQUIC_AUTH_GSS_H
#define SMBQUIC_AUTH_GSS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum auth_mech_pref {
    AUTH_MECH_ANY = 0,    /* SPNEGO chooses: Kerberos if a ticket matches, else NTLM */
    AUTH_MECH_KRB5,       /* sec=krb5 */
    AUTH_MECH_NTLMSSP,    /* sec=ntlmssp */
};

struct auth_params {
    const char *server;    /* host name for the SPN cifs@server */
    const char *username;  /* may be NULL: use the credential cache's principal */
    const char *domain;    /* may be NULL */
    const char *password;  /* may be NULL: Kerberos only; copied and wiped by auth_free */
    enum auth_mech_pref mech;
};

struct auth_ctx;

/* Creates a context; acquires credentials lazily on the first auth_step. */
int auth_new(const struct auth_params *p, struct auth_ctx **out);
/* Wipes and frees everything the context holds. NULL is fine. */
void auth_free(struct auth_ctx *a);

/* Runs one gss_init_sec_context step. in/in_len: the server's token (NULL/0 on the first
 * call). On success *out/*out_len is a token to send (malloc'd, caller frees; may be empty
 * with *out == NULL), and *complete tells whether the context is established.
 * Returns 0, SQ_ERR_AUTH (with a message in auth_last_error) or SQ_ERR_NOMEM. */
int auth_step(struct auth_ctx *a, const uint8_t *in, size_t in_len, uint8_t **out,
              size_t *out_len, bool *complete);

/* After completion: the session key (16 bytes for NTLM, 32 for Kerberos AES), copied into
 * key (max 64 bytes). Returns 0 or SQ_ERR_AUTH. */
int auth_session_key(struct auth_ctx *a, uint8_t *key, size_t key_cap, size_t *key_len);
/* After completion: "kerberos" or "ntlmssp". */
const char *auth_mech_name(const struct auth_ctx *a);
/* Human-readable GSSAPI error of the last failure (major/minor status text). */
const char *auth_last_error(const struct auth_ctx *a);

#endif
