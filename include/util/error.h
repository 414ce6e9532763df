/* Project error codes: functions return 0 or one of these negative values. NTSTATUS values
 * stay uint32_t inside the engine (see smb2/ntstatus.h); errno appears only at the edges. */
#ifndef SMBQUIC_UTIL_ERROR_H
#define SMBQUIC_UTIL_ERROR_H

enum sq_error {
    SQ_OK = 0,
    SQ_ERR_NOMEM = -1,       /* allocation failed */
    SQ_ERR_PROTO = -2,       /* malformed or unexpected message from the peer */
    SQ_ERR_INVAL = -3,       /* bad argument or option */
    SQ_ERR_STATUS = -4,      /* the server answered with a failing NTSTATUS */
    SQ_ERR_SIGNATURE = -5,   /* a signature was missing or did not verify */
    SQ_ERR_DECRYPT = -6,     /* an encrypted message did not authenticate */
    SQ_ERR_AUTH = -7,        /* authentication failed locally (GSSAPI) */
    SQ_ERR_POLICY = -8,      /* the server cannot meet what the user or policy requires */
    SQ_ERR_IO = -9,          /* socket or file I/O failed (see errno) */
    SQ_ERR_CLOSED = -10,     /* the connection is closed */
    SQ_ERR_TIMEOUT = -11,    /* no answer in time */
    SQ_ERR_CRYPTO = -12,     /* the crypto library failed */
    SQ_ERR_CANCELLED = -13,  /* the request was cancelled */
    SQ_ERR_UNSUPPORTED = -14,/* a feature the server or build does not offer */
    SQ_ERR_RESOLVE = -15,    /* name resolution failed */
};

/* A short English description of an sq_error value. */
const char *sq_strerror(int err);

#endif
