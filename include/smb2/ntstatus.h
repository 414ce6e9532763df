/* NTSTATUS values (MS-ERREF 2.3.1) and the project's one NTSTATUS -> errno table.
 *
 * NTSTATUS stays a uint32_t inside the engine; ntstatus_to_errno() is meant for the FUSE and
 * CLI edges only. Every value defined here is also in the table in src/smb2/ntstatus.c, so
 * ntstatus_name() knows it; the unit test checks that the table is sorted and free of
 * duplicates. */
#ifndef SMBQUIC_SMB2_NTSTATUS_H
#define SMBQUIC_SMB2_NTSTATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Success and informational (severity 0 and 1). */
#define STATUS_SUCCESS            0x00000000u
#define STATUS_PENDING            0x00000103u
#define STATUS_REPARSE            0x00000104u
#define STATUS_NOTIFY_CLEANUP     0x0000010Bu
#define STATUS_NOTIFY_ENUM_DIR    0x0000010Cu
#define STATUS_OBJECT_NAME_EXISTS 0x40000000u

/* Warnings (severity 2). */
#define STATUS_BUFFER_OVERFLOW      0x80000005u
#define STATUS_NO_MORE_FILES        0x80000006u
#define STATUS_NO_MORE_EAS          0x80000012u
#define STATUS_INVALID_EA_NAME      0x80000013u
#define STATUS_EA_LIST_INCONSISTENT 0x80000014u
#define STATUS_NO_MORE_ENTRIES      0x8000001Au
#define STATUS_STOPPED_ON_SYMLINK   0x8000002Du

/* Errors (severity 3). */
#define STATUS_UNSUCCESSFUL                          0xC0000001u
#define STATUS_NOT_IMPLEMENTED                       0xC0000002u
#define STATUS_INVALID_INFO_CLASS                    0xC0000003u
#define STATUS_INFO_LENGTH_MISMATCH                  0xC0000004u
#define STATUS_ACCESS_VIOLATION                      0xC0000005u
#define STATUS_INVALID_HANDLE                        0xC0000008u
#define STATUS_INVALID_PARAMETER                     0xC000000Du
#define STATUS_NO_SUCH_DEVICE                        0xC000000Eu
#define STATUS_NO_SUCH_FILE                          0xC000000Fu
#define STATUS_INVALID_DEVICE_REQUEST                0xC0000010u
#define STATUS_END_OF_FILE                           0xC0000011u
#define STATUS_MORE_PROCESSING_REQUIRED              0xC0000016u
#define STATUS_NO_MEMORY                             0xC0000017u
#define STATUS_INVALID_LOCK_SEQUENCE                 0xC000001Eu
#define STATUS_ACCESS_DENIED                         0xC0000022u
#define STATUS_BUFFER_TOO_SMALL                      0xC0000023u
#define STATUS_OBJECT_TYPE_MISMATCH                  0xC0000024u
#define STATUS_NOT_LOCKED                            0xC000002Au
#define STATUS_OBJECT_NAME_INVALID                   0xC0000033u
#define STATUS_OBJECT_NAME_NOT_FOUND                 0xC0000034u
#define STATUS_OBJECT_NAME_COLLISION                 0xC0000035u
#define STATUS_OBJECT_PATH_INVALID                   0xC0000039u
#define STATUS_OBJECT_PATH_NOT_FOUND                 0xC000003Au
#define STATUS_OBJECT_PATH_SYNTAX_BAD                0xC000003Bu
#define STATUS_DATA_ERROR                            0xC000003Eu
#define STATUS_SHARING_VIOLATION                     0xC0000043u
#define STATUS_QUOTA_EXCEEDED                        0xC0000044u
#define STATUS_EAS_NOT_SUPPORTED                     0xC000004Fu
#define STATUS_EA_TOO_LARGE                          0xC0000050u
#define STATUS_NONEXISTENT_EA_ENTRY                  0xC0000051u
#define STATUS_NO_EAS_ON_FILE                        0xC0000052u
#define STATUS_EA_CORRUPT_ERROR                      0xC0000053u
#define STATUS_FILE_LOCK_CONFLICT                    0xC0000054u
#define STATUS_LOCK_NOT_GRANTED                      0xC0000055u
#define STATUS_DELETE_PENDING                        0xC0000056u
#define STATUS_NO_LOGON_SERVERS                      0xC000005Eu
#define STATUS_PRIVILEGE_NOT_HELD                    0xC0000061u
#define STATUS_NO_SUCH_USER                          0xC0000064u
#define STATUS_WRONG_PASSWORD                        0xC000006Au
#define STATUS_LOGON_FAILURE                         0xC000006Du
#define STATUS_ACCOUNT_RESTRICTION                   0xC000006Eu
#define STATUS_INVALID_LOGON_HOURS                   0xC000006Fu
#define STATUS_INVALID_WORKSTATION                   0xC0000070u
#define STATUS_PASSWORD_EXPIRED                      0xC0000071u
#define STATUS_ACCOUNT_DISABLED                      0xC0000072u
#define STATUS_NONE_MAPPED                           0xC0000073u
#define STATUS_INVALID_SECURITY_DESCR                0xC0000079u
#define STATUS_RANGE_NOT_LOCKED                      0xC000007Eu
#define STATUS_DISK_FULL                             0xC000007Fu
#define STATUS_INSUFFICIENT_RESOURCES                0xC000009Au
#define STATUS_MEDIA_WRITE_PROTECTED                 0xC00000A2u
#define STATUS_DEVICE_NOT_READY                      0xC00000A3u
#define STATUS_BAD_IMPERSONATION_LEVEL               0xC00000A5u
#define STATUS_PIPE_NOT_AVAILABLE                    0xC00000ACu
#define STATUS_INVALID_PIPE_STATE                    0xC00000ADu
#define STATUS_PIPE_BUSY                             0xC00000AEu
#define STATUS_PIPE_DISCONNECTED                     0xC00000B0u
#define STATUS_PIPE_CLOSING                          0xC00000B1u
#define STATUS_IO_TIMEOUT                            0xC00000B5u
#define STATUS_FILE_FORCED_CLOSED                    0xC00000B6u
#define STATUS_FILE_IS_A_DIRECTORY                   0xC00000BAu
#define STATUS_NOT_SUPPORTED                         0xC00000BBu
#define STATUS_BAD_NETWORK_PATH                      0xC00000BEu
#define STATUS_NETWORK_BUSY                          0xC00000BFu
#define STATUS_INVALID_NETWORK_RESPONSE              0xC00000C3u
#define STATUS_UNEXPECTED_NETWORK_ERROR              0xC00000C4u
#define STATUS_NETWORK_NAME_DELETED                  0xC00000C9u
#define STATUS_NETWORK_ACCESS_DENIED                 0xC00000CAu
#define STATUS_BAD_DEVICE_TYPE                       0xC00000CBu
#define STATUS_BAD_NETWORK_NAME                      0xC00000CCu
#define STATUS_TOO_MANY_SESSIONS                     0xC00000CEu
#define STATUS_REQUEST_NOT_ACCEPTED                  0xC00000D0u
#define STATUS_NOT_SAME_DEVICE                       0xC00000D4u
#define STATUS_FILE_RENAMED                          0xC00000D5u
#define STATUS_CANT_WAIT                             0xC00000D8u
#define STATUS_OPLOCK_NOT_GRANTED                    0xC00000E2u
#define STATUS_INTERNAL_ERROR                        0xC00000E5u
#define STATUS_DIRECTORY_NOT_EMPTY                   0xC0000101u
#define STATUS_FILE_CORRUPT_ERROR                    0xC0000102u
#define STATUS_NOT_A_DIRECTORY                       0xC0000103u
#define STATUS_NAME_TOO_LONG                         0xC0000106u
#define STATUS_FILES_OPEN                            0xC0000107u
#define STATUS_TOO_MANY_OPENED_FILES                 0xC000011Fu
#define STATUS_CANCELLED                             0xC0000120u
#define STATUS_CANNOT_DELETE                         0xC0000121u
#define STATUS_FILE_DELETED                          0xC0000123u
#define STATUS_FILE_CLOSED                           0xC0000128u
#define STATUS_TIME_DIFFERENCE_AT_DC                 0xC0000133u
#define STATUS_PIPE_BROKEN                           0xC000014Bu
#define STATUS_LOGON_TYPE_NOT_GRANTED                0xC000015Bu
#define STATUS_INVALID_DEVICE_STATE                  0xC0000184u
#define STATUS_IO_DEVICE_ERROR                       0xC0000185u
#define STATUS_TRUSTED_RELATIONSHIP_FAILURE          0xC000018Du
#define STATUS_ACCOUNT_EXPIRED                       0xC0000193u
#define STATUS_FS_DRIVER_REQUIRED                    0xC000019Cu
#define STATUS_USER_SESSION_DELETED                  0xC0000203u
#define STATUS_INSUFF_SERVER_RESOURCES               0xC0000205u
#define STATUS_INVALID_BUFFER_SIZE                   0xC0000206u
#define STATUS_CONNECTION_DISCONNECTED               0xC000020Cu
#define STATUS_CONNECTION_RESET                      0xC000020Du
#define STATUS_PASSWORD_MUST_CHANGE                  0xC0000224u
#define STATUS_NOT_FOUND                             0xC0000225u
#define STATUS_RETRY                                 0xC000022Du
#define STATUS_ACCOUNT_LOCKED_OUT                    0xC0000234u
#define STATUS_CONNECTION_REFUSED                    0xC0000236u
#define STATUS_NETWORK_UNREACHABLE                   0xC000023Cu
#define STATUS_HOST_UNREACHABLE                      0xC000023Du
#define STATUS_CONNECTION_ABORTED                    0xC0000241u
#define STATUS_USER_MAPPED_FILE                      0xC0000243u
#define STATUS_PATH_NOT_COVERED                      0xC0000257u
#define STATUS_TOO_MANY_LINKS                        0xC0000265u
#define STATUS_FILE_IS_OFFLINE                       0xC0000267u
#define STATUS_VOLUME_DISMOUNTED                     0xC000026Eu
#define STATUS_NOT_A_REPARSE_POINT                   0xC0000275u
#define STATUS_IO_REPARSE_TAG_INVALID                0xC0000276u
#define STATUS_IO_REPARSE_TAG_MISMATCH               0xC0000277u
#define STATUS_IO_REPARSE_DATA_INVALID               0xC0000278u
#define STATUS_IO_REPARSE_TAG_NOT_HANDLED            0xC0000279u
#define STATUS_REPARSE_POINT_NOT_RESOLVED            0xC0000280u
#define STATUS_DIRECTORY_IS_A_REPARSE_POINT          0xC0000281u
#define STATUS_ENCRYPTION_FAILED                     0xC000028Au
#define STATUS_DECRYPTION_FAILED                     0xC000028Bu
#define STATUS_NETWORK_SESSION_EXPIRED               0xC000035Cu
#define STATUS_DOWNGRADE_DETECTED                    0xC0000388u
#define STATUS_NTLM_BLOCKED                          0xC0000418u
#define STATUS_FILE_SYSTEM_LIMITATION                0xC0000427u
#define STATUS_SERVER_UNAVAILABLE                    0xC0000466u
#define STATUS_FILE_NOT_AVAILABLE                    0xC0000467u
#define STATUS_DISK_QUOTA_EXCEEDED                   0xC0000802u
#define STATUS_FILE_TOO_LARGE                        0xC0000904u
#define STATUS_INVALID_SIGNATURE                     0xC000A000u
#define STATUS_SMB_NO_PREAUTH_INTEGRITY_HASH_OVERLAP 0xC05D0000u
#define STATUS_SMB_BAD_CLUSTER_DIALECT               0xC05D0001u
#define STATUS_SMB_GUEST_LOGON_BLOCKED               0xC05D0002u

/* Severity, the top two bits (MS-ERREF 2.3). */
static inline bool ntstatus_is_error(uint32_t status)
{
    return (status >> 30) == 3;
}
static inline bool ntstatus_is_warning(uint32_t status)
{
    return (status >> 30) == 2;
}
/* Success or informational severity (NT_SUCCESS in Windows terms). */
static inline bool ntstatus_is_success(uint32_t status)
{
    return (status >> 30) < 2;
}

/* The symbolic name ("STATUS_LOGON_FAILURE"), or NULL when the table does not know it. */
const char *ntstatus_name(uint32_t status);

/* Writes "0xC000006D" (always the hex form, NUL-terminated) into buf. */
#define NTSTATUS_FORMAT_SIZE 32
void ntstatus_format(uint32_t status, char buf[NTSTATUS_FORMAT_SIZE]);

/* The name when known, else the hex form written into buf; returns a pointer that is valid
 * while buf is: `printf("%s", ntstatus_str(st, buf))`. */
const char *ntstatus_str(uint32_t status, char buf[NTSTATUS_FORMAT_SIZE]);

/* A short lower-case hint for users ("wrong user name or password"), or NULL when the table
 * does not know the status. */
const char *ntstatus_description(uint32_t status);

/* The positive errno for a status: the table's value for known statuses (0 for
 * STATUS_SUCCESS, EINPROGRESS for STATUS_PENDING, ENOENT for STATUS_OBJECT_NAME_NOT_FOUND...);
 * for unknown statuses 0 when the severity is success or informational, EIO otherwise. */
int ntstatus_to_errno(uint32_t status);

/* Table introspection, for the unit test: the number of entries and the i-th status (entries
 * are sorted by status; 0 when i is out of range). */
size_t ntstatus_table_size(void);
uint32_t ntstatus_table_status(size_t i);

#endif
