#include "util/error.h"

const char *sq_strerror(int err)
{
    switch (err) {
    case SQ_OK: return "success";
    case SQ_ERR_NOMEM: return "out of memory";
    case SQ_ERR_PROTO: return "malformed message from the server";
    case SQ_ERR_INVAL: return "invalid argument";
    case SQ_ERR_STATUS: return "the server returned an error";
    case SQ_ERR_SIGNATURE: return "a response's signature is missing or invalid (tampered with?); connection closed";
    case SQ_ERR_DECRYPT: return "a response failed decryption or was not encrypted (tampered with?); connection closed";
    case SQ_ERR_AUTH: return "authentication failed";
    case SQ_ERR_POLICY: return "the server cannot meet the required security";
    case SQ_ERR_IO: return "input/output error";
    case SQ_ERR_CLOSED: return "connection closed";
    case SQ_ERR_TIMEOUT: return "timed out";
    case SQ_ERR_CRYPTO: return "cryptographic library failure";
    case SQ_ERR_CANCELLED: return "cancelled";
    case SQ_ERR_UNSUPPORTED: return "not supported";
    case SQ_ERR_RESOLVE: return "name resolution failed";
    }
    return "unknown error";
}
