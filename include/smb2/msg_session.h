/* SMB2 session-level codecs: NEGOTIATE, SESSION_SETUP, LOGOFF, TREE_CONNECT, TREE_DISCONNECT,
 * ECHO, CANCEL and the ERROR response (MS-SMB2 2.2.2 - 2.2.10, 2.2.28, 2.2.30).
 *
 * The conventions of smb2/msg.h apply to every function here:
 * - Request encoders append the command body to a writer whose last 64 bytes are the message's
 *   SMB2 header (offsets in the body are counted from that header) and return
 *   writer_error(w), or SQ_ERR_INVAL (writing nothing) when an argument cannot be encoded.
 * - Response decoders take one whole message (header first) as (msg, len), validate
 *   StructureSize and every offset/length pair, and return 0 or SQ_ERR_PROTO, never reading
 *   outside msg. They do not look at the header. Pointers in the output structs point into msg
 *   and live as long as msg; a pointer is NULL when its length is 0. Nothing allocates.
 * - Strings are UTF-16LE byte spans (pointer, length in bytes); util/utf16.h converts them.
 *
 * Which decoder applies to a response is the caller's decision, per command and status: a
 * failing status normally comes with an ERROR response body (smb2_error_response_decode), but
 * some non-success statuses carry the command's own body, e.g. STATUS_MORE_PROCESSING_REQUIRED
 * for SESSION_SETUP, STATUS_BUFFER_OVERFLOW for QUERY_INFO, READ and IOCTL (MS-SMB2 3.3.4.4).
 * smb2_status_has_command_body() encodes that list; an interim STATUS_PENDING response always
 * has the ERROR form.
 */
#ifndef SMBQUIC_SMB2_MSG_SESSION_H
#define SMBQUIC_SMB2_MSG_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smb2/proto.h"
#include "util/buf.h"

/* ---------------------------------------------------------------------------------------- */
/* NEGOTIATE, MS-SMB2 2.2.3 and 2.2.4                                                       */
/* ---------------------------------------------------------------------------------------- */

/* Cipher ids, MS-SMB2 2.2.3.1.2 (0 in a response: no common cipher). */
#define SMB2_ENCRYPTION_AES128_CCM 0x0001
#define SMB2_ENCRYPTION_AES128_GCM 0x0002
#define SMB2_ENCRYPTION_AES256_CCM 0x0003
#define SMB2_ENCRYPTION_AES256_GCM 0x0004
/* Signing algorithm ids, MS-SMB2 2.2.3.1.7. */
#define SMB2_SIGNING_HMAC_SHA256 0x0000
#define SMB2_SIGNING_AES_CMAC    0x0001
#define SMB2_SIGNING_AES_GMAC    0x0002
/* Compression algorithm ids, MS-SMB2 2.2.3.1.3. */
#define SMB2_COMPRESSION_NONE 0x0000

/* Bit for a negotiate context type in smb2_negotiate_response.contexts_seen (types < 32). */
#define SMB2_NEGOTIATE_CONTEXT_BIT(type) (1u << (type))

/* Limits the encoder accepts (far above what any client sends). */
#define SMB2_NEGOTIATE_MAX_DIALECTS   64
#define SMB2_NEGOTIATE_MAX_ALGORITHMS 64

struct smb2_negotiate_request {
    const uint16_t *dialects; /* in any order; 1 .. SMB2_NEGOTIATE_MAX_DIALECTS of them */
    size_t dialect_count;
    uint16_t security_mode; /* SMB2_NEGOTIATE_SIGNING_* */
    uint32_t capabilities;  /* SMB2_GLOBAL_CAP_* */
    uint8_t client_guid[16];

    /* SMB 3.1.1 negotiate contexts, sent only when dialects contains 0x0311 (MS-SMB2 2.2.3.1);
     * otherwise ClientStartTime is sent as 0 and these fields are ignored. The
     * PREAUTH_INTEGRITY_CAPABILITIES context (SHA-512 only) is then always sent. */
    const uint8_t *preauth_salt; /* 32 random bytes (MS-SMB2 3.2.4.2.2.2) */
    size_t preauth_salt_len;
    const uint16_t *ciphers; /* most preferred first; 0 of them: no ENCRYPTION context */
    size_t cipher_count;
    const uint16_t *signing_algorithms; /* most preferred first; 0: no SIGNING context */
    size_t signing_algorithm_count;
    const char *netname;              /* UTF-8 server name (NETNAME context); NULL or "": none */
    bool send_transport_capabilities; /* TRANSPORT_CAPABILITIES context (SMB over QUIC) */
    uint32_t transport_flags;         /* SMB2_ACCEPT_TRANSPORT_LEVEL_SECURITY or 0 */
    bool send_compression_none;       /* COMPRESSION_CAPABILITIES listing only NONE */
};

/* Encodes the NEGOTIATE request body, its contexts 8-byte aligned from the header, without
 * padding after the last one. SQ_ERR_INVAL for no or too many dialects or algorithms, a salt
 * or netname too long for a context, invalid UTF-8 in netname, or a NULL array with a count. */
int smb2_negotiate_request_encode(struct writer *w, const struct smb2_negotiate_request *req);

struct smb2_negotiate_response {
    uint16_t security_mode;
    uint16_t dialect; /* DialectRevision */
    uint8_t server_guid[16];
    uint32_t capabilities;
    uint32_t max_transact_size;
    uint32_t max_read_size;
    uint32_t max_write_size;
    uint64_t system_time;           /* FILETIME */
    uint64_t server_start_time;     /* FILETIME, usually 0 */
    const uint8_t *security_buffer; /* the server's GSS token (may be empty) */
    size_t security_buffer_len;

    /* Negotiate contexts: parsed only when dialect is 0x0311, else all zero. */
    uint16_t negotiate_context_count;
    uint32_t contexts_seen; /* SMB2_NEGOTIATE_CONTEXT_BIT(type) for every context type < 32 */
    /* PREAUTH_INTEGRITY_CAPABILITIES as sent: the engine must insist on exactly one algorithm,
     * SHA-512 (MS-SMB2 3.2.5.2). */
    uint16_t preauth_hash_algorithm_count;
    uint16_t preauth_hash_algorithm; /* the first one listed, 0 when none */
    const uint8_t *preauth_salt;
    size_t preauth_salt_len;
    uint16_t cipher;            /* ENCRYPTION_CAPABILITIES: the one selected (0: none common) */
    uint16_t signing_algorithm; /* SIGNING_CAPABILITIES: the one selected */
    uint32_t transport_flags;   /* TRANSPORT_CAPABILITIES */
    /* COMPRESSION_CAPABILITIES is checked for well-formedness and otherwise ignored. */
};

/* Decodes a NEGOTIATE response. Rejects (SQ_ERR_PROTO) a StructureSize other than 65, a
 * security buffer outside the message or overlapping the fixed part; and for 3.1.1: a context
 * list that starts unaligned, inside the fixed part or outside the message, a context whose
 * DataLength or inner counts overrun it, a repeated context type, an ENCRYPTION or SIGNING
 * context with a count other than 1. Unknown context types are skipped. */
int smb2_negotiate_response_decode(const uint8_t *msg, size_t len,
                                   struct smb2_negotiate_response *out);

/* ---------------------------------------------------------------------------------------- */
/* SESSION_SETUP, MS-SMB2 2.2.5 and 2.2.6                                                    */
/* ---------------------------------------------------------------------------------------- */

#define SMB2_SESSION_FLAG_BINDING 0x01 /* request Flags: bind an existing session (channel) */

struct smb2_session_setup_request {
    uint8_t flags;         /* SMB2_SESSION_FLAG_BINDING or 0 */
    uint8_t security_mode; /* SMB2_NEGOTIATE_SIGNING_* */
    uint32_t capabilities; /* only SMB2_GLOBAL_CAP_DFS is meaningful */
    uint64_t previous_session_id;
    const uint8_t *security_buffer; /* GSS token, at most 65535 bytes */
    size_t security_buffer_len;
};

int smb2_session_setup_request_encode(struct writer *w,
                                      const struct smb2_session_setup_request *req);

struct smb2_session_setup_response {
    uint16_t session_flags; /* SMB2_SESSION_FLAG_IS_GUEST, _IS_NULL, _ENCRYPT_DATA */
    const uint8_t *security_buffer;
    size_t security_buffer_len;
};

/* Also used for STATUS_MORE_PROCESSING_REQUIRED responses, which carry this body. */
int smb2_session_setup_response_decode(const uint8_t *msg, size_t len,
                                       struct smb2_session_setup_response *out);

/* ---------------------------------------------------------------------------------------- */
/* LOGOFF, TREE_DISCONNECT, ECHO (2.2.7/2.2.8, 2.2.11/2.2.12, 2.2.28/2.2.29), CANCEL (2.2.30) */
/* ---------------------------------------------------------------------------------------- */

/* These bodies are StructureSize 4 and two reserved bytes. CANCEL has no response. */
int smb2_logoff_request_encode(struct writer *w);
int smb2_logoff_response_decode(const uint8_t *msg, size_t len);
int smb2_tree_disconnect_request_encode(struct writer *w);
int smb2_tree_disconnect_response_decode(const uint8_t *msg, size_t len);
int smb2_echo_request_encode(struct writer *w);
int smb2_echo_response_decode(const uint8_t *msg, size_t len);
int smb2_cancel_request_encode(struct writer *w);

/* ---------------------------------------------------------------------------------------- */
/* TREE_CONNECT, MS-SMB2 2.2.9 and 2.2.10                                                    */
/* ---------------------------------------------------------------------------------------- */

/* Request Flags (3.1.1). EXTENSION_PRESENT needs a TREE_CONNECT_Request_Extension, which the
 * encoder does not build, so it refuses that flag. */
#define SMB2_TREE_CONNECT_FLAG_CLUSTER_RECONNECT 0x0001
#define SMB2_TREE_CONNECT_FLAG_REDIRECT_TO_OWNER 0x0002
#define SMB2_TREE_CONNECT_FLAG_EXTENSION_PRESENT 0x0004

/* ShareFlags besides SMB2_SHAREFLAG_ENCRYPT_DATA (proto.h). */
#define SMB2_SHAREFLAG_MANUAL_CACHING              0x00000000u
#define SMB2_SHAREFLAG_AUTO_CACHING                0x00000010u
#define SMB2_SHAREFLAG_VDO_CACHING                 0x00000020u
#define SMB2_SHAREFLAG_NO_CACHING                  0x00000030u
#define SMB2_SHAREFLAG_CACHING_MASK                0x00000030u
#define SMB2_SHAREFLAG_DFS                         0x00000001u
#define SMB2_SHAREFLAG_DFS_ROOT                    0x00000002u
#define SMB2_SHAREFLAG_RESTRICT_EXCLUSIVE_OPENS    0x00000100u
#define SMB2_SHAREFLAG_FORCE_SHARED_DELETE         0x00000200u
#define SMB2_SHAREFLAG_ALLOW_NAMESPACE_CACHING     0x00000400u
#define SMB2_SHAREFLAG_ACCESS_BASED_DIRECTORY_ENUM 0x00000800u
#define SMB2_SHAREFLAG_FORCE_LEVELII_OPLOCK        0x00001000u
#define SMB2_SHAREFLAG_ENABLE_HASH_V1              0x00002000u
#define SMB2_SHAREFLAG_ENABLE_HASH_V2              0x00004000u
#define SMB2_SHAREFLAG_IDENTITY_REMOTING           0x00040000u
#define SMB2_SHAREFLAG_COMPRESS_DATA               0x00100000u
#define SMB2_SHAREFLAG_ISOLATED_TRANSPORT          0x00200000u

/* Share Capabilities. */
#define SMB2_SHARE_CAP_DFS                     0x00000008u
#define SMB2_SHARE_CAP_CONTINUOUS_AVAILABILITY 0x00000010u
#define SMB2_SHARE_CAP_SCALEOUT                0x00000020u
#define SMB2_SHARE_CAP_CLUSTER                 0x00000040u
#define SMB2_SHARE_CAP_ASYMMETRIC              0x00000080u
#define SMB2_SHARE_CAP_REDIRECT_TO_OWNER       0x00000100u

struct smb2_tree_connect_request {
    uint16_t flags;   /* SMB2_TREE_CONNECT_FLAG_*, except EXTENSION_PRESENT */
    const char *path; /* UTF-8 "\\\\server\\share", sent as UTF-16LE */
};

/* SQ_ERR_INVAL for a NULL or empty path, invalid UTF-8, a path longer than 65535 bytes in
 * UTF-16, or the EXTENSION_PRESENT flag. */
int smb2_tree_connect_request_encode(struct writer *w, const struct smb2_tree_connect_request *req);

struct smb2_tree_connect_response {
    uint8_t share_type; /* SMB2_SHARE_TYPE_* */
    uint32_t share_flags;
    uint32_t capabilities; /* SMB2_SHARE_CAP_* */
    uint32_t maximal_access;
};

int smb2_tree_connect_response_decode(const uint8_t *msg, size_t len,
                                      struct smb2_tree_connect_response *out);

/* ---------------------------------------------------------------------------------------- */
/* ERROR response, MS-SMB2 2.2.2                                                             */
/* ---------------------------------------------------------------------------------------- */

#define SMB2_ERROR_ID_DEFAULT        0x00000000u
#define SMB2_ERROR_ID_SHARE_REDIRECT 0x72645253u
#define SMB2_SYMLINK_ERROR_TAG       0x4C4D5953u /* "SYML", MS-SMB2 2.2.2.2.1 */

struct smb2_error_response {
    uint8_t error_context_count; /* 3.1.1 only; 0 means error_data is one plain blob */
    const uint8_t *error_data;   /* ByteCount bytes */
    size_t error_data_len;
};

/* Decodes the ERROR response body of any command (StructureSize 9). Accepts the 8-byte body
 * some servers send when ByteCount is 0. Rejects a short body, a ByteCount past the end of
 * the message, and, when ErrorContextCount is nonzero, any of those contexts that does not fit
 * inside ErrorData (each is 8-byte aligned from the start of ErrorData). */
int smb2_error_response_decode(const uint8_t *msg, size_t len, struct smb2_error_response *out);

/* An SMB2 ERROR Context, MS-SMB2 2.2.2.1. */
struct smb2_error_context {
    uint32_t error_id; /* SMB2_ERROR_ID_* */
    const uint8_t *data;
    size_t len;
};

/* The index-th error context of a decoded response: 0, or SQ_ERR_INVAL when index is not below
 * error_context_count. */
int smb2_error_context_get(const struct smb2_error_response *er, unsigned index,
                           struct smb2_error_context *out);

/* The error data in its status-specific format (MS-SMB2 2.2.2.2): ErrorData itself when there
 * are no contexts, else the data of the first SMB2_ERROR_ID_DEFAULT context. Sets an empty span
 * (NULL, 0) when there is none. */
void smb2_error_default_data(const struct smb2_error_response *er, const uint8_t **data,
                             size_t *len);

/* Symbolic Link Error Response (STATUS_STOPPED_ON_SYMLINK), MS-SMB2 2.2.2.2.1. */
struct smb2_symlink_error {
    uint16_t unparsed_path_length;  /* bytes at the end of the request's path not yet used */
    const uint8_t *substitute_name; /* UTF-16LE, inside PathBuffer */
    size_t substitute_name_len;
    const uint8_t *print_name;
    size_t print_name_len;
    uint32_t flags; /* SYMLINK_FLAG_RELATIVE (0x1, MS-FSCC 2.1.2.4) */
};

/* Decodes the symlink error data (from smb2_error_default_data). Rejects a wrong
 * SymLinkErrorTag or ReparseTag (0xA000000C), a SymLinkLength past len, names outside
 * PathBuffer or of odd length. Servers that send no data (macOS) fail here: fall back to
 * FSCTL_GET_REPARSE_POINT. */
int smb2_symlink_error_decode(const uint8_t *data, size_t len, struct smb2_symlink_error *out);
/* smb2_error_default_data + smb2_symlink_error_decode. */
int smb2_error_response_symlink(const struct smb2_error_response *er,
                                struct smb2_symlink_error *out);

/* STATUS_BUFFER_TOO_SMALL carries the minimum buffer length as 4 bytes (MS-SMB2 2.2.2.2):
 * 0, or SQ_ERR_PROTO when the error data is shorter. */
int smb2_error_buffer_too_small(const struct smb2_error_response *er, uint32_t *required);

/* True when a response to command with this status carries the command's own body rather than
 * an ERROR body: success and informational statuses except STATUS_PENDING, and the exceptions
 * of MS-SMB2 3.3.4.4 (SESSION_SETUP + MORE_PROCESSING_REQUIRED; QUERY_INFO, READ and IOCTL +
 * BUFFER_OVERFLOW; CHANGE_NOTIFY + NOTIFY_ENUM_DIR). IOCTL + STATUS_INVALID_PARAMETER carries
 * an IOCTL body only for FSCTL_SRV_COPYCHUNK(_WRITE): copychunk callers check that case. */
bool smb2_status_has_command_body(uint16_t command, uint32_t status);

#endif
