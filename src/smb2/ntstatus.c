/* NTSTATUS names, user hints and the project's one NTSTATUS -> errno table; contracts in
 * include/smb2/ntstatus.h. Values from MS-ERREF 2.3.1. */
#include "smb2/ntstatus.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>

struct ntstatus_entry {
    uint32_t status;
    int err;
    const char *name;
    const char *description;
};

/* Sorted by status (as unsigned); the unit test checks the order and that no value repeats.
 * The name is the macro's own spelling, so it cannot drift from the #define. */
/* clang-format off */
#define E(status, err, description) {status, err, #status, description}
/* clang-format on */
static const struct ntstatus_entry table[] = {
    E(STATUS_SUCCESS, 0, "success"),
    E(STATUS_PENDING, EINPROGRESS, "operation in progress"),
    E(STATUS_REPARSE, EIO, "reparse required"),
    E(STATUS_NOTIFY_CLEANUP, 0, "change notification cleaned up"),
    E(STATUS_NOTIFY_ENUM_DIR, 0, "too many changes: directory must be re-read"),
    E(STATUS_OBJECT_NAME_EXISTS, EEXIST, "file exists"),
    E(STATUS_BUFFER_OVERFLOW, EOVERFLOW, "more data than fits in the buffer"),
    E(STATUS_NO_MORE_FILES, ENODATA, "no more files"),
    E(STATUS_NO_MORE_EAS, ENODATA, "no more extended attributes"),
    E(STATUS_INVALID_EA_NAME, EINVAL, "invalid extended attribute name"),
    E(STATUS_EA_LIST_INCONSISTENT, EINVAL, "inconsistent extended attribute list"),
    E(STATUS_NO_MORE_ENTRIES, ENODATA, "no more entries"),
    E(STATUS_STOPPED_ON_SYMLINK, ELOOP, "path contains a symbolic link"),
    E(STATUS_UNSUCCESSFUL, EIO, "operation failed"),
    E(STATUS_NOT_IMPLEMENTED, ENOSYS, "not implemented by the server"),
    E(STATUS_INVALID_INFO_CLASS, EOPNOTSUPP, "information class not supported"),
    E(STATUS_INFO_LENGTH_MISMATCH, EIO, "information length mismatch"),
    E(STATUS_ACCESS_VIOLATION, EACCES, "access violation"),
    E(STATUS_INVALID_HANDLE, EBADF, "invalid file handle"),
    E(STATUS_INVALID_PARAMETER, EINVAL, "invalid parameter"),
    E(STATUS_NO_SUCH_DEVICE, ENODEV, "no such device"),
    E(STATUS_NO_SUCH_FILE, ENOENT, "no such file or directory"),
    E(STATUS_INVALID_DEVICE_REQUEST, EOPNOTSUPP, "request not supported by the device"),
    E(STATUS_END_OF_FILE, ENODATA, "end of file"),
    E(STATUS_MORE_PROCESSING_REQUIRED, EIO, "authentication continues"),
    E(STATUS_NO_MEMORY, ENOMEM, "server out of memory"),
    E(STATUS_INVALID_LOCK_SEQUENCE, EINVAL, "invalid lock sequence"),
    E(STATUS_ACCESS_DENIED, EACCES, "access denied"),
    E(STATUS_BUFFER_TOO_SMALL, ERANGE, "buffer too small"),
    E(STATUS_OBJECT_TYPE_MISMATCH, EIO, "object type mismatch"),
    E(STATUS_NOT_LOCKED, ENOLCK, "range not locked"),
    E(STATUS_OBJECT_NAME_INVALID, EINVAL, "invalid file name"),
    E(STATUS_OBJECT_NAME_NOT_FOUND, ENOENT, "no such file or directory"),
    E(STATUS_OBJECT_NAME_COLLISION, EEXIST, "file exists"),
    E(STATUS_OBJECT_PATH_INVALID, ENOTDIR, "a path component is not a directory"),
    E(STATUS_OBJECT_PATH_NOT_FOUND, ENOENT, "no such file or directory"),
    E(STATUS_OBJECT_PATH_SYNTAX_BAD, EINVAL, "invalid path"),
    E(STATUS_DATA_ERROR, EIO, "data error"),
    E(STATUS_SHARING_VIOLATION, EBUSY, "file in use by another open"),
    E(STATUS_QUOTA_EXCEEDED, EDQUOT, "quota exceeded"),
    E(STATUS_EAS_NOT_SUPPORTED, EOPNOTSUPP, "extended attributes not supported"),
    E(STATUS_EA_TOO_LARGE, E2BIG, "extended attribute too large"),
    E(STATUS_NONEXISTENT_EA_ENTRY, ENODATA, "no such extended attribute"),
    E(STATUS_NO_EAS_ON_FILE, ENODATA, "file has no extended attributes"),
    E(STATUS_EA_CORRUPT_ERROR, EIO, "corrupt extended attributes"),
    E(STATUS_FILE_LOCK_CONFLICT, EACCES, "range locked by another open"),
    E(STATUS_LOCK_NOT_GRANTED, EAGAIN, "lock conflict"),
    E(STATUS_DELETE_PENDING, ENOENT, "file is being deleted"),
    E(STATUS_NO_LOGON_SERVERS, EIO, "no domain controller available"),
    E(STATUS_PRIVILEGE_NOT_HELD, EPERM, "privilege not held"),
    E(STATUS_NO_SUCH_USER, EACCES, "no such user"),
    E(STATUS_WRONG_PASSWORD, EACCES, "wrong password"),
    E(STATUS_LOGON_FAILURE, EACCES, "wrong user name or password"),
    E(STATUS_ACCOUNT_RESTRICTION, EACCES, "account restriction"),
    E(STATUS_INVALID_LOGON_HOURS, EACCES, "logon not allowed at this time"),
    E(STATUS_INVALID_WORKSTATION, EACCES, "logon not allowed from this computer"),
    E(STATUS_PASSWORD_EXPIRED, EKEYEXPIRED, "password expired"),
    E(STATUS_ACCOUNT_DISABLED, EACCES, "account disabled"),
    E(STATUS_NONE_MAPPED, EINVAL, "no account name could be mapped"),
    E(STATUS_INVALID_SECURITY_DESCR, EINVAL, "invalid security descriptor"),
    E(STATUS_RANGE_NOT_LOCKED, ENOLCK, "range not locked"),
    E(STATUS_DISK_FULL, ENOSPC, "disk full"),
    E(STATUS_INSUFFICIENT_RESOURCES, EAGAIN, "server short of resources"),
    E(STATUS_MEDIA_WRITE_PROTECTED, EROFS, "share is read-only"),
    E(STATUS_DEVICE_NOT_READY, EAGAIN, "device not ready"),
    E(STATUS_BAD_IMPERSONATION_LEVEL, EACCES, "bad impersonation level"),
    E(STATUS_PIPE_NOT_AVAILABLE, EAGAIN, "pipe not available"),
    E(STATUS_INVALID_PIPE_STATE, EPIPE, "invalid pipe state"),
    E(STATUS_PIPE_BUSY, EBUSY, "pipe busy"),
    E(STATUS_PIPE_DISCONNECTED, EPIPE, "pipe disconnected"),
    E(STATUS_PIPE_CLOSING, EPIPE, "pipe closing"),
    E(STATUS_IO_TIMEOUT, ETIMEDOUT, "operation timed out"),
    E(STATUS_FILE_FORCED_CLOSED, EBADF, "file closed by the server"),
    E(STATUS_FILE_IS_A_DIRECTORY, EISDIR, "is a directory"),
    E(STATUS_NOT_SUPPORTED, EOPNOTSUPP, "not supported by the server"),
    E(STATUS_BAD_NETWORK_PATH, ENOENT, "network path not found"),
    E(STATUS_NETWORK_BUSY, EBUSY, "network busy"),
    E(STATUS_INVALID_NETWORK_RESPONSE, EIO, "invalid network response"),
    E(STATUS_UNEXPECTED_NETWORK_ERROR, EIO, "unexpected network error"),
    E(STATUS_NETWORK_NAME_DELETED, ENOTCONN, "share disconnected"),
    E(STATUS_NETWORK_ACCESS_DENIED, EACCES, "access to the share denied"),
    E(STATUS_BAD_DEVICE_TYPE, ENODEV, "wrong share type"),
    E(STATUS_BAD_NETWORK_NAME, ENOENT, "no such share"),
    E(STATUS_TOO_MANY_SESSIONS, EAGAIN, "too many sessions"),
    E(STATUS_REQUEST_NOT_ACCEPTED, EAGAIN, "server refuses more connections"),
    E(STATUS_NOT_SAME_DEVICE, EXDEV, "rename across shares or volumes"),
    E(STATUS_FILE_RENAMED, ESTALE, "file was renamed"),
    E(STATUS_CANT_WAIT, EAGAIN, "operation would block"),
    E(STATUS_OPLOCK_NOT_GRANTED, EAGAIN, "oplock not granted"),
    E(STATUS_INTERNAL_ERROR, EIO, "internal server error"),
    E(STATUS_DIRECTORY_NOT_EMPTY, ENOTEMPTY, "directory not empty"),
    E(STATUS_FILE_CORRUPT_ERROR, EIO, "file corrupt"),
    E(STATUS_NOT_A_DIRECTORY, ENOTDIR, "not a directory"),
    E(STATUS_NAME_TOO_LONG, ENAMETOOLONG, "name too long"),
    E(STATUS_FILES_OPEN, EBUSY, "files still open"),
    E(STATUS_TOO_MANY_OPENED_FILES, EMFILE, "too many open files on the server"),
    E(STATUS_CANCELLED, ECANCELED, "operation cancelled"),
    E(STATUS_CANNOT_DELETE, EACCES, "file cannot be deleted"),
    E(STATUS_FILE_DELETED, ESTALE, "file was deleted"),
    E(STATUS_FILE_CLOSED, EBADF, "file handle closed"),
    E(STATUS_TIME_DIFFERENCE_AT_DC, EACCES, "clock skew too great"),
    E(STATUS_PIPE_BROKEN, EPIPE, "pipe broken"),
    E(STATUS_LOGON_TYPE_NOT_GRANTED, EACCES, "logon type not granted"),
    E(STATUS_INVALID_DEVICE_STATE, EIO, "invalid device state"),
    E(STATUS_IO_DEVICE_ERROR, EIO, "I/O error on the server"),
    E(STATUS_TRUSTED_RELATIONSHIP_FAILURE, EACCES, "domain trust failure"),
    E(STATUS_ACCOUNT_EXPIRED, EKEYEXPIRED, "account expired"),
    E(STATUS_FS_DRIVER_REQUIRED, EOPNOTSUPP, "file system driver required"),
    E(STATUS_USER_SESSION_DELETED, ENOTCONN, "session ended by the server"),
    E(STATUS_INSUFF_SERVER_RESOURCES, EAGAIN, "server short of resources"),
    E(STATUS_INVALID_BUFFER_SIZE, EINVAL, "invalid buffer size"),
    E(STATUS_CONNECTION_DISCONNECTED, ECONNRESET, "connection closed"),
    E(STATUS_CONNECTION_RESET, ECONNRESET, "connection reset"),
    E(STATUS_PASSWORD_MUST_CHANGE, EKEYEXPIRED, "password must be changed"),
    E(STATUS_NOT_FOUND, ENOENT, "not found"),
    E(STATUS_RETRY, EAGAIN, "retry the operation"),
    E(STATUS_ACCOUNT_LOCKED_OUT, EACCES, "account locked out"),
    E(STATUS_CONNECTION_REFUSED, ECONNREFUSED, "connection refused"),
    E(STATUS_NETWORK_UNREACHABLE, ENETUNREACH, "network unreachable"),
    E(STATUS_HOST_UNREACHABLE, EHOSTUNREACH, "host unreachable"),
    E(STATUS_CONNECTION_ABORTED, ECONNABORTED, "connection aborted"),
    E(STATUS_USER_MAPPED_FILE, EBUSY, "file is memory-mapped on the server"),
    E(STATUS_PATH_NOT_COVERED, EREMOTE, "path is on another server (DFS)"),
    E(STATUS_TOO_MANY_LINKS, EMLINK, "too many links"),
    E(STATUS_FILE_IS_OFFLINE, EAGAIN, "file is offline"),
    E(STATUS_VOLUME_DISMOUNTED, ENODEV, "volume dismounted"),
    E(STATUS_NOT_A_REPARSE_POINT, EINVAL, "not a symbolic link or reparse point"),
    E(STATUS_IO_REPARSE_TAG_INVALID, EINVAL, "invalid reparse tag"),
    E(STATUS_IO_REPARSE_TAG_MISMATCH, EINVAL, "reparse tag mismatch"),
    E(STATUS_IO_REPARSE_DATA_INVALID, EINVAL, "invalid reparse data"),
    E(STATUS_IO_REPARSE_TAG_NOT_HANDLED, EOPNOTSUPP, "reparse point type not supported"),
    E(STATUS_REPARSE_POINT_NOT_RESOLVED, ELOOP, "reparse point not resolved"),
    E(STATUS_DIRECTORY_IS_A_REPARSE_POINT, ELOOP, "directory is a reparse point"),
    E(STATUS_ENCRYPTION_FAILED, EIO, "encryption failed"),
    E(STATUS_DECRYPTION_FAILED, EIO, "decryption failed"),
    E(STATUS_NETWORK_SESSION_EXPIRED, EKEYEXPIRED, "session expired: authenticate again"),
    E(STATUS_DOWNGRADE_DETECTED, EACCES, "security downgrade detected"),
    E(STATUS_NTLM_BLOCKED, EACCES, "NTLM authentication disabled by the server"),
    E(STATUS_FILE_SYSTEM_LIMITATION, EFBIG, "file system limitation"),
    E(STATUS_SERVER_UNAVAILABLE, EAGAIN, "server unavailable"),
    E(STATUS_FILE_NOT_AVAILABLE, EAGAIN, "file not available"),
    E(STATUS_DISK_QUOTA_EXCEEDED, EDQUOT, "disk quota exceeded"),
    E(STATUS_FILE_TOO_LARGE, EFBIG, "file too large"),
    E(STATUS_INVALID_SIGNATURE, EACCES, "invalid signature"),
    E(STATUS_SMB_NO_PREAUTH_INTEGRITY_HASH_OVERLAP, EPROTO, "no common pre-auth integrity hash"),
    E(STATUS_SMB_BAD_CLUSTER_DIALECT, EPROTO, "dialect not supported by the cluster"),
    E(STATUS_SMB_GUEST_LOGON_BLOCKED, EACCES, "guest logon blocked"),
};
#undef E

static const struct ntstatus_entry *lookup(uint32_t status)
{
    size_t lo = 0, hi = sizeof(table) / sizeof(table[0]);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (table[mid].status == status)
            return &table[mid];
        if (table[mid].status < status)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *ntstatus_name(uint32_t status)
{
    const struct ntstatus_entry *e = lookup(status);
    return e ? e->name : NULL;
}

void ntstatus_format(uint32_t status, char buf[NTSTATUS_FORMAT_SIZE])
{
    snprintf(buf, NTSTATUS_FORMAT_SIZE, "0x%08X", (unsigned)status);
}

const char *ntstatus_str(uint32_t status, char buf[NTSTATUS_FORMAT_SIZE])
{
    const char *name = ntstatus_name(status);
    if (name)
        return name;
    ntstatus_format(status, buf);
    return buf;
}

const char *ntstatus_description(uint32_t status)
{
    const struct ntstatus_entry *e = lookup(status);
    return e ? e->description : NULL;
}

int ntstatus_to_errno(uint32_t status)
{
    const struct ntstatus_entry *e = lookup(status);
    if (e)
        return e->err;
    return ntstatus_is_success(status) ? 0 : EIO;
}

size_t ntstatus_table_size(void)
{
    return sizeof(table) / sizeof(table[0]);
}
uint32_t ntstatus_table_status(size_t i)
{
    return i < ntstatus_table_size() ? table[i].status : 0;
}
