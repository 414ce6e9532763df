/* SMB2 file-operation codecs: CREATE (with create contexts), CLOSE, FLUSH, READ, WRITE, LOCK,
 * IOCTL (and the FSCTL payloads a filesystem needs), QUERY_DIRECTORY, CHANGE_NOTIFY,
 * QUERY_INFO, SET_INFO and OPLOCK_BREAK, plus the MS-FSCC information structures they carry.
 *
 * The conventions of smb2/msg.h apply to every function here:
 * - Request encoders append the command body to a writer whose last 64 bytes are the message's
 *   SMB2 header (offsets in the body are counted from that header) and return
 *   writer_error(w), or SQ_ERR_INVAL (writing nothing) when an argument cannot be encoded.
 * - Response decoders take one whole message (header first) as (msg, len), validate
 *   StructureSize and every offset/length pair, and return 0 or SQ_ERR_PROTO, never reading
 *   outside msg. They do not look at the header: the caller checks Command and Status first
 *   (an SMB2 ERROR response is not decoded here). Pointers in the output structs point into
 *   msg and live as long as msg; a pointer is NULL when its length is 0. Nothing allocates.
 * - Iterators (`*_next`) walk a chained list held by a struct reader initialised over the list
 *   bytes. They return 1 with *out filled, 0 at the clean end, or SQ_ERR_PROTO (sticky: the
 *   reader keeps its error). Every entry is bounds checked; NextEntryOffset values must move
 *   strictly forward, stay aligned, and leave room for the next entry, so no chain can loop.
 * - Names are UTF-16LE byte spans (pointer, length in bytes); conversion is the caller's job.
 *   Times are Windows FILETIME values (100 ns units since 1601-01-01).
 */
#ifndef SMBQUIC_SMB2_MSG_FILE_H
#define SMBQUIC_SMB2_MSG_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smb2/proto.h"
#include "util/buf.h"

/* ---------------------------------------------------------------------------------------- */
/* Constants                                                                                */
/* ---------------------------------------------------------------------------------------- */

/* Oplock levels, MS-SMB2 2.2.13 (RequestedOplockLevel) and 2.2.23.1. */
#define SMB2_OPLOCK_LEVEL_NONE      0x00
#define SMB2_OPLOCK_LEVEL_II        0x01
#define SMB2_OPLOCK_LEVEL_EXCLUSIVE 0x08
#define SMB2_OPLOCK_LEVEL_BATCH     0x09
#define SMB2_OPLOCK_LEVEL_LEASE     0xFF

/* ImpersonationLevel, MS-SMB2 2.2.13. */
#define SMB2_IMPERSONATION_ANONYMOUS      0x00000000u
#define SMB2_IMPERSONATION_IDENTIFICATION 0x00000001u
#define SMB2_IMPERSONATION_IMPERSONATION  0x00000002u
#define SMB2_IMPERSONATION_DELEGATE       0x00000003u

/* Access mask, MS-SMB2 2.2.13.1.1 (files/pipes) and 2.2.13.1.2 (directories). */
#define FILE_READ_DATA              0x00000001u
#define FILE_LIST_DIRECTORY         0x00000001u
#define FILE_WRITE_DATA             0x00000002u
#define FILE_ADD_FILE               0x00000002u
#define FILE_APPEND_DATA            0x00000004u
#define FILE_ADD_SUBDIRECTORY       0x00000004u
#define FILE_READ_EA                0x00000008u
#define FILE_WRITE_EA               0x00000010u
#define FILE_EXECUTE                0x00000020u
#define FILE_TRAVERSE               0x00000020u
#define FILE_DELETE_CHILD           0x00000040u
#define FILE_READ_ATTRIBUTES        0x00000080u
#define FILE_WRITE_ATTRIBUTES       0x00000100u
#define SMB2_DELETE                 0x00010000u
#define SMB2_READ_CONTROL           0x00020000u
#define SMB2_WRITE_DAC              0x00040000u
#define SMB2_WRITE_OWNER            0x00080000u
#define SMB2_SYNCHRONIZE            0x00100000u
#define SMB2_ACCESS_SYSTEM_SECURITY 0x01000000u
#define SMB2_MAXIMUM_ALLOWED        0x02000000u
#define SMB2_GENERIC_ALL            0x10000000u
#define SMB2_GENERIC_EXECUTE        0x20000000u
#define SMB2_GENERIC_WRITE          0x40000000u
#define SMB2_GENERIC_READ           0x80000000u

/* ShareAccess, MS-SMB2 2.2.13. */
#define FILE_SHARE_READ   0x00000001u
#define FILE_SHARE_WRITE  0x00000002u
#define FILE_SHARE_DELETE 0x00000004u
#define FILE_SHARE_ALL    0x00000007u

/* CreateDisposition, MS-SMB2 2.2.13. */
#define FILE_SUPERSEDE    0x00000000u
#define FILE_OPEN         0x00000001u
#define FILE_CREATE       0x00000002u
#define FILE_OPEN_IF      0x00000003u
#define FILE_OVERWRITE    0x00000004u
#define FILE_OVERWRITE_IF 0x00000005u

/* CreateOptions, MS-SMB2 2.2.13. */
#define FILE_DIRECTORY_FILE            0x00000001u
#define FILE_WRITE_THROUGH             0x00000002u
#define FILE_SEQUENTIAL_ONLY           0x00000004u
#define FILE_NO_INTERMEDIATE_BUFFERING 0x00000008u
#define FILE_SYNCHRONOUS_IO_ALERT      0x00000010u
#define FILE_SYNCHRONOUS_IO_NONALERT   0x00000020u
#define FILE_NON_DIRECTORY_FILE        0x00000040u
#define FILE_COMPLETE_IF_OPLOCKED      0x00000100u
#define FILE_NO_EA_KNOWLEDGE           0x00000200u
#define FILE_OPEN_REMOTE_INSTANCE      0x00000400u
#define FILE_RANDOM_ACCESS             0x00000800u
#define FILE_DELETE_ON_CLOSE           0x00001000u
#define FILE_OPEN_BY_FILE_ID           0x00002000u
#define FILE_OPEN_FOR_BACKUP_INTENT    0x00004000u
#define FILE_NO_COMPRESSION            0x00008000u
#define FILE_OPEN_REQUIRING_OPLOCK     0x00010000u
#define FILE_DISALLOW_EXCLUSIVE        0x00020000u
#define FILE_RESERVE_OPFILTER          0x00100000u
#define FILE_OPEN_REPARSE_POINT        0x00200000u
#define FILE_OPEN_NO_RECALL            0x00400000u
#define FILE_OPEN_FOR_FREE_SPACE_QUERY 0x00800000u

/* CreateAction (CREATE response), MS-SMB2 2.2.14. */
#define FILE_SUPERSEDED  0x00000000u
#define FILE_OPENED      0x00000001u
#define FILE_CREATED     0x00000002u
#define FILE_OVERWRITTEN 0x00000003u

/* CREATE response Flags, MS-SMB2 2.2.14. */
#define SMB2_CREATE_FLAG_REPARSEPOINT 0x01

/* File attributes, MS-FSCC 2.6. */
#define FILE_ATTRIBUTE_READONLY              0x00000001u
#define FILE_ATTRIBUTE_HIDDEN                0x00000002u
#define FILE_ATTRIBUTE_SYSTEM                0x00000004u
#define FILE_ATTRIBUTE_DIRECTORY             0x00000010u
#define FILE_ATTRIBUTE_ARCHIVE               0x00000020u
#define FILE_ATTRIBUTE_NORMAL                0x00000080u
#define FILE_ATTRIBUTE_TEMPORARY             0x00000100u
#define FILE_ATTRIBUTE_SPARSE_FILE           0x00000200u
#define FILE_ATTRIBUTE_REPARSE_POINT         0x00000400u
#define FILE_ATTRIBUTE_COMPRESSED            0x00000800u
#define FILE_ATTRIBUTE_OFFLINE               0x00001000u
#define FILE_ATTRIBUTE_NOT_CONTENT_INDEXED   0x00002000u
#define FILE_ATTRIBUTE_ENCRYPTED             0x00004000u
#define FILE_ATTRIBUTE_INTEGRITY_STREAM      0x00008000u
#define FILE_ATTRIBUTE_NO_SCRUB_DATA         0x00020000u
#define FILE_ATTRIBUTE_RECALL_ON_OPEN        0x00040000u
#define FILE_ATTRIBUTE_PINNED                0x00080000u
#define FILE_ATTRIBUTE_UNPINNED              0x00100000u
#define FILE_ATTRIBUTE_RECALL_ON_DATA_ACCESS 0x00400000u

/* Create context names, MS-SMB2 2.2.13.2 / 2.2.14.2 (4 ASCII bytes on the wire, in order). */
#define SMB2_CREATE_EA_BUFFER                    "ExtA"
#define SMB2_CREATE_SD_BUFFER                    "SecD"
#define SMB2_CREATE_DURABLE_HANDLE_REQUEST       "DHnQ"
#define SMB2_CREATE_DURABLE_HANDLE_RECONNECT     "DHnC"
#define SMB2_CREATE_ALLOCATION_SIZE              "AlSi"
#define SMB2_CREATE_QUERY_MAXIMAL_ACCESS_REQUEST "MxAc"
#define SMB2_CREATE_TIMEWARP_TOKEN               "TWrp"
#define SMB2_CREATE_QUERY_ON_DISK_ID             "QFid"
#define SMB2_CREATE_REQUEST_LEASE                "RqLs"
#define SMB2_CREATE_REQUEST_LEASE_V2             "RqLs"
#define SMB2_CREATE_DURABLE_HANDLE_REQUEST_V2    "DH2Q"
#define SMB2_CREATE_DURABLE_HANDLE_RECONNECT_V2  "DH2C"
#define SMB2_CREATE_CONTEXT_TAG_LEN              4

/* Lease states and flags, MS-SMB2 2.2.13.2.8 / 2.2.13.2.10. */
#define SMB2_LEASE_NONE                      0x00000000u
#define SMB2_LEASE_READ_CACHING              0x00000001u
#define SMB2_LEASE_HANDLE_CACHING            0x00000002u
#define SMB2_LEASE_WRITE_CACHING             0x00000004u
#define SMB2_LEASE_FLAG_BREAK_IN_PROGRESS    0x00000002u
#define SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET 0x00000004u
#define SMB2_LEASE_KEY_SIZE                  16

/* Durable handle v2 flags, MS-SMB2 2.2.13.2.11 / 2.2.13.2.12 / 2.2.14.2.12. */
#define SMB2_DHANDLE_FLAG_PERSISTENT 0x00000002u

/* CLOSE Flags, MS-SMB2 2.2.15. */
#define SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB 0x0001

/* READ request Flags (2.2.19), READ response Flags (2.2.20), Channel (2.2.19). */
#define SMB2_READFLAG_READ_UNBUFFERED         0x01
#define SMB2_READFLAG_REQUEST_COMPRESSED      0x02
#define SMB2_READFLAG_RESPONSE_NONE           0x00000000u
#define SMB2_READFLAG_RESPONSE_RDMA_TRANSFORM 0x00000001u
#define SMB2_CHANNEL_NONE                     0x00000000u
/* The Padding value Windows clients send: data right after a READ response's fixed part. */
#define SMB2_READ_RESPONSE_DATA_OFFSET 0x50

/* WRITE request Flags, MS-SMB2 2.2.21. */
#define SMB2_WRITEFLAG_WRITE_THROUGH    0x00000001u
#define SMB2_WRITEFLAG_WRITE_UNBUFFERED 0x00000002u
/* The fixed part of a WRITE request ends here; smb2_write_request_encode_header's payload goes
 * at this offset from the header. */
#define SMB2_WRITE_REQUEST_DATA_OFFSET 0x70

/* LOCK element Flags, MS-SMB2 2.2.26.1. */
#define SMB2_LOCKFLAG_SHARED_LOCK      0x00000001u
#define SMB2_LOCKFLAG_EXCLUSIVE_LOCK   0x00000002u
#define SMB2_LOCKFLAG_UNLOCK           0x00000004u
#define SMB2_LOCKFLAG_FAIL_IMMEDIATELY 0x00000010u

/* IOCTL Flags, MS-SMB2 2.2.31. */
#define SMB2_0_IOCTL_IS_FSCTL 0x00000001u

/* FSCTL codes, MS-FSCC 2.3 and MS-SMB2 2.2.31. */
#define FSCTL_DFS_GET_REFERRALS       0x00060194u
#define FSCTL_PIPE_TRANSCEIVE         0x0011C017u
#define FSCTL_SRV_COPYCHUNK           0x001440F2u
#define FSCTL_SRV_COPYCHUNK_WRITE     0x001480F2u
#define FSCTL_SRV_REQUEST_RESUME_KEY  0x00140078u
#define FSCTL_VALIDATE_NEGOTIATE_INFO 0x00140204u
#define FSCTL_QUERY_ALLOCATED_RANGES  0x000940CFu
#define FSCTL_SET_ZERO_DATA           0x000980C8u
#define FSCTL_SET_SPARSE              0x000900C4u
#define FSCTL_GET_REPARSE_POINT       0x000900A8u
#define FSCTL_SET_REPARSE_POINT       0x000900A4u
#define FSCTL_DELETE_REPARSE_POINT    0x000900ACu

/* Reparse tags (MS-FSCC 2.1.2.1) and symlink flags (MS-FSCC 2.1.2.4). */
#define SMB2_IO_REPARSE_TAG_MOUNT_POINT 0xA0000003u
#define SMB2_IO_REPARSE_TAG_SYMLINK     0xA000000Cu
#define SMB2_IO_REPARSE_TAG_NFS         0x80000014u
#define SMB2_SYMLINK_FLAG_RELATIVE      0x00000001u

/* QUERY_DIRECTORY Flags, MS-SMB2 2.2.33. */
#define SMB2_RESTART_SCANS       0x01
#define SMB2_RETURN_SINGLE_ENTRY 0x02
#define SMB2_INDEX_SPECIFIED     0x04
#define SMB2_REOPEN              0x10

/* CHANGE_NOTIFY Flags (MS-SMB2 2.2.35), CompletionFilter (2.2.35), Action (MS-FSCC 2.7.1). */
#define SMB2_WATCH_TREE                    0x0001
#define FILE_NOTIFY_CHANGE_FILE_NAME       0x00000001u
#define FILE_NOTIFY_CHANGE_DIR_NAME        0x00000002u
#define FILE_NOTIFY_CHANGE_ATTRIBUTES      0x00000004u
#define FILE_NOTIFY_CHANGE_SIZE            0x00000008u
#define FILE_NOTIFY_CHANGE_LAST_WRITE      0x00000010u
#define FILE_NOTIFY_CHANGE_LAST_ACCESS     0x00000020u
#define FILE_NOTIFY_CHANGE_CREATION        0x00000040u
#define FILE_NOTIFY_CHANGE_EA              0x00000080u
#define FILE_NOTIFY_CHANGE_SECURITY        0x00000100u
#define FILE_NOTIFY_CHANGE_STREAM_NAME     0x00000200u
#define FILE_NOTIFY_CHANGE_STREAM_SIZE     0x00000400u
#define FILE_NOTIFY_CHANGE_STREAM_WRITE    0x00000800u
#define FILE_ACTION_ADDED                  0x00000001u
#define FILE_ACTION_REMOVED                0x00000002u
#define FILE_ACTION_MODIFIED               0x00000003u
#define FILE_ACTION_RENAMED_OLD_NAME       0x00000004u
#define FILE_ACTION_RENAMED_NEW_NAME       0x00000005u
#define FILE_ACTION_ADDED_STREAM           0x00000006u
#define FILE_ACTION_REMOVED_STREAM         0x00000007u
#define FILE_ACTION_MODIFIED_STREAM        0x00000008u
#define FILE_ACTION_REMOVED_BY_DELETE      0x00000009u
#define FILE_ACTION_ID_NOT_TUNNELLED       0x0000000Au
#define FILE_ACTION_TUNNELLED_ID_COLLISION 0x0000000Bu

/* QUERY_INFO / SET_INFO InfoType, MS-SMB2 2.2.37. */
#define SMB2_0_INFO_FILE       0x01
#define SMB2_0_INFO_FILESYSTEM 0x02
#define SMB2_0_INFO_SECURITY   0x03
#define SMB2_0_INFO_QUOTA      0x04

/* QUERY_INFO Flags (for FILE_FULL_EA_INFORMATION), MS-SMB2 2.2.37. */
#define SMB2_SL_RESTART_SCAN        0x00000001u
#define SMB2_SL_RETURN_SINGLE_ENTRY 0x00000002u
#define SMB2_SL_INDEX_SPECIFIED     0x00000004u

/* AdditionalInformation for SMB2_0_INFO_SECURITY, MS-SMB2 2.2.37. */
#define SMB2_OWNER_SECURITY_INFORMATION 0x00000001u
#define SMB2_GROUP_SECURITY_INFORMATION 0x00000002u
#define SMB2_DACL_SECURITY_INFORMATION  0x00000004u
#define SMB2_SACL_SECURITY_INFORMATION  0x00000008u

/* File information classes, MS-FSCC 2.4. */
#define FILE_DIRECTORY_INFORMATION         1
#define FILE_FULL_DIRECTORY_INFORMATION    2
#define FILE_BOTH_DIRECTORY_INFORMATION    3
#define FILE_BASIC_INFORMATION             4
#define FILE_STANDARD_INFORMATION          5
#define FILE_INTERNAL_INFORMATION          6
#define FILE_EA_INFORMATION                7
#define FILE_ACCESS_INFORMATION            8
#define FILE_NAME_INFORMATION              9
#define FILE_RENAME_INFORMATION            10
#define FILE_LINK_INFORMATION              11
#define FILE_NAMES_INFORMATION             12
#define FILE_DISPOSITION_INFORMATION       13
#define FILE_POSITION_INFORMATION          14
#define FILE_FULL_EA_INFORMATION           15
#define FILE_MODE_INFORMATION              16
#define FILE_ALIGNMENT_INFORMATION         17
#define FILE_ALL_INFORMATION               18
#define FILE_ALLOCATION_INFORMATION        19
#define FILE_END_OF_FILE_INFORMATION       20
#define FILE_ALTERNATE_NAME_INFORMATION    21
#define FILE_STREAM_INFORMATION            22
#define FILE_COMPRESSION_INFORMATION       28
#define FILE_NETWORK_OPEN_INFORMATION      34
#define FILE_ATTRIBUTE_TAG_INFORMATION     35
#define FILE_ID_BOTH_DIRECTORY_INFORMATION 37
#define FILE_ID_FULL_DIRECTORY_INFORMATION 38
#define FILE_NORMALIZED_NAME_INFORMATION   48
#define FILE_ID_INFORMATION                59

/* File system information classes, MS-FSCC 2.5. */
#define FILE_FS_VOLUME_INFORMATION      1
#define FILE_FS_LABEL_INFORMATION       2
#define FILE_FS_SIZE_INFORMATION        3
#define FILE_FS_DEVICE_INFORMATION      4
#define FILE_FS_ATTRIBUTE_INFORMATION   5
#define FILE_FS_CONTROL_INFORMATION     6
#define FILE_FS_FULL_SIZE_INFORMATION   7
#define FILE_FS_OBJECT_ID_INFORMATION   8
#define FILE_FS_SECTOR_SIZE_INFORMATION 11

/* FILE_FS_ATTRIBUTE_INFORMATION attributes (selection), MS-FSCC 2.5.1. */
#define FILE_CASE_SENSITIVE_SEARCH        0x00000001u
#define FILE_CASE_PRESERVED_NAMES         0x00000002u
#define FILE_UNICODE_ON_DISK              0x00000004u
#define FILE_PERSISTENT_ACLS              0x00000008u
#define FILE_SUPPORTS_SPARSE_FILES        0x00000040u
#define FILE_SUPPORTS_REPARSE_POINTS      0x00000080u
#define FILE_NAMED_STREAMS                0x00040000u
#define FILE_READ_ONLY_VOLUME             0x00080000u
#define FILE_SUPPORTS_EXTENDED_ATTRIBUTES 0x00800000u
#define FILE_SUPPORTS_HARD_LINKS          0x00400000u

/* FILE_FULL_EA_INFORMATION Flags, MS-FSCC 2.4.15. */
#define FILE_NEED_EA 0x80

/* OPLOCK_BREAK StructureSize values, MS-SMB2 2.2.23-2.2.25. */
#define SMB2_OPLOCK_BREAK_SIZE       24
#define SMB2_LEASE_BREAK_NOTIFY_SIZE 44
#define SMB2_LEASE_BREAK_ACK_SIZE    36
/* Lease break notification Flags, MS-SMB2 2.2.23.2. */
#define SMB2_NOTIFY_BREAK_LEASE_FLAG_ACK_REQUIRED 0x00000001u

/* ---------------------------------------------------------------------------------------- */
/* Common                                                                                   */
/* ---------------------------------------------------------------------------------------- */

/* SMB2_FILEID, MS-SMB2 2.2.14.1. */
struct smb2_file_id {
    uint64_t persistent;
    uint64_t volatile_;
};
#define SMB2_FILE_ID_SIZE 16

/* Appends / reads the 16-byte SMB2_FILEID. */
void smb2_file_id_encode(struct writer *w, const struct smb2_file_id *id);
void smb2_file_id_decode(struct reader *r, struct smb2_file_id *id);

/* ---------------------------------------------------------------------------------------- */
/* CREATE, MS-SMB2 2.2.13 / 2.2.14                                                          */
/* ---------------------------------------------------------------------------------------- */

/* A lease: SMB2_CREATE_REQUEST_LEASE_V2 (2.2.13.2.10) and the v1/v2 responses
 * (2.2.14.2.10/11). Requests always use v2 (the only form for the 3.x dialects). */
struct smb2_lease {
    uint8_t key[SMB2_LEASE_KEY_SIZE];
    uint32_t state;                          /* SMB2_LEASE_*_CACHING */
    uint32_t flags;                          /* SMB2_LEASE_FLAG_* */
    uint8_t parent_key[SMB2_LEASE_KEY_SIZE]; /* used with SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET */
    uint16_t epoch;
    uint8_t version; /* responses: 1 (32-byte form) or 2 (52-byte form) */
};

/* SMB2_CREATE_DURABLE_HANDLE_REQUEST_V2, 2.2.13.2.11. */
struct smb2_durable_v2_request {
    uint32_t timeout_ms; /* 0: the server's default */
    uint32_t flags;      /* SMB2_DHANDLE_FLAG_PERSISTENT */
    uint8_t create_guid[16];
};

/* SMB2_CREATE_DURABLE_HANDLE_RECONNECT_V2, 2.2.13.2.12. */
struct smb2_durable_reconnect_v2 {
    struct smb2_file_id file_id;
    uint8_t create_guid[16];
    uint32_t flags;
};

/* One raw create context (2.2.13.2): a name (4-byte tag or 16-byte GUID) and its data. Used
 * for extra request contexts and by the response iterator. */
struct smb2_create_context {
    const uint8_t *name;
    uint16_t name_len;
    const uint8_t *data;
    uint32_t data_len;
};

struct smb2_create_request {
    uint8_t requested_oplock_level; /* SMB2_OPLOCK_LEVEL_LEASE with a lease */
    uint32_t impersonation_level;   /* usually SMB2_IMPERSONATION_IMPERSONATION */
    uint32_t desired_access;
    uint32_t file_attributes;
    uint32_t share_access;
    uint32_t create_disposition;
    uint32_t create_options;
    /* Path relative to the share root, UTF-16LE, no leading backslash; may be empty (root). */
    const uint8_t *name;
    size_t name_len;
    /* Optional contexts, encoded in this order when present. */
    const struct smb2_durable_reconnect_v2 *durable_reconnect; /* "DH2C" */
    const struct smb2_durable_v2_request *durable;             /* "DH2Q" */
    const struct smb2_lease *lease;                            /* "RqLs" v2 */
    bool query_maximal_access;                                 /* "MxAc" */
    uint64_t maximal_access_timestamp; /* MxAc Timestamp (2.2.13.2.5); 0 sends no data */
    bool query_on_disk_id;             /* "QFid" */
    const uint8_t *ea_buffer;          /* "ExtA": a FILE_FULL_EA_INFORMATION list */
    size_t ea_buffer_len;
    const struct smb2_create_context *extra_contexts; /* appended last, as given */
    size_t extra_context_count;
};

/* Encodes a CREATE request: the name at offset 0x78, then the contexts, each 8-byte aligned
 * (relative to the header), with Next chaining them. SQ_ERR_INVAL for an odd or over-long
 * name, a context name or data too long, or a total beyond 32 bits. */
int smb2_create_request_encode(struct writer *w, const struct smb2_create_request *req);

struct smb2_create_response {
    uint8_t oplock_level;
    uint8_t flags; /* SMB2_CREATE_FLAG_REPARSEPOINT */
    uint32_t create_action;
    uint64_t creation_time;
    uint64_t last_access_time;
    uint64_t last_write_time;
    uint64_t change_time;
    uint64_t allocation_size;
    uint64_t end_of_file;
    uint32_t file_attributes;
    struct smb2_file_id file_id;
    /* The validated context list (for smb2_create_context_next), NULL/0 when absent. */
    const uint8_t *contexts;
    uint32_t contexts_len;
    /* Contexts recognised in the response (the first of each kind counts). */
    bool has_lease;
    struct smb2_lease lease; /* "RqLs" v1 or v2 (lease.version) */
    bool has_durable_v1;     /* "DHnQ" */
    bool has_durable_v2;     /* "DH2Q" */
    uint32_t durable_timeout_ms;
    uint32_t durable_flags;
    bool has_maximal_access;        /* "MxAc" */
    uint32_t maximal_access_status; /* NTSTATUS of the query */
    uint32_t maximal_access;
    bool has_on_disk_id; /* "QFid" (2.2.14.2.9) */
    uint64_t disk_file_id;
    uint64_t volume_id;
};

/* Decodes a CREATE response and walks its create contexts with full checks (CVE-2023-52434):
 * CreateContextsOffset 8-byte aligned, after the fixed part and inside msg; each context's
 * Next, NameOffset/NameLength and DataOffset/DataLength inside that context and 8-byte aligned;
 * a known context with too little data is an error; unknown contexts are skipped. */
int smb2_create_response_decode(const uint8_t *msg, size_t len, struct smb2_create_response *out);

/* Iterates a create context list (r over contexts/contexts_len, or over a request's list). */
int smb2_create_context_next(struct reader *r, struct smb2_create_context *out);

/* ---------------------------------------------------------------------------------------- */
/* CLOSE (2.2.15/16), FLUSH (2.2.17/18), READ (2.2.19/20), WRITE (2.2.21/22), LOCK (2.2.26/27)*/
/* ---------------------------------------------------------------------------------------- */

struct smb2_close_request {
    uint16_t flags; /* SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB */
    struct smb2_file_id file_id;
};
int smb2_close_request_encode(struct writer *w, const struct smb2_close_request *req);

/* The attributes are valid only when flags has SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB. */
struct smb2_close_response {
    uint16_t flags;
    uint64_t creation_time;
    uint64_t last_access_time;
    uint64_t last_write_time;
    uint64_t change_time;
    uint64_t allocation_size;
    uint64_t end_of_file;
    uint32_t file_attributes;
};
int smb2_close_response_decode(const uint8_t *msg, size_t len, struct smb2_close_response *out);

int smb2_flush_request_encode(struct writer *w, const struct smb2_file_id *file_id);
/* Checks the 4-byte FLUSH response body. */
int smb2_flush_response_decode(const uint8_t *msg, size_t len);

struct smb2_read_request {
    uint8_t padding; /* requested DataOffset in the response; 0 or SMB2_READ_RESPONSE_DATA_OFFSET */
    uint8_t flags;   /* SMB2_READFLAG_* */
    uint32_t length;
    uint64_t offset;
    struct smb2_file_id file_id;
    uint32_t minimum_count;
    uint32_t remaining_bytes;
};
/* Channel is SMB2_CHANNEL_NONE (no RDMA over QUIC); Buffer is the one required zero byte. */
int smb2_read_request_encode(struct writer *w, const struct smb2_read_request *req);

struct smb2_read_response {
    const uint8_t *data; /* inside msg; NULL when data_len is 0 */
    uint32_t data_len;
    uint32_t data_remaining;
    uint32_t flags; /* Reserved2/Flags */
};
/* The data must lie in msg, after the 16-byte fixed part (DataOffset >= 0x50). */
int smb2_read_response_decode(const uint8_t *msg, size_t len, struct smb2_read_response *out);

struct smb2_write_request {
    uint64_t offset;
    struct smb2_file_id file_id;
    uint32_t remaining_bytes;
    uint32_t flags; /* SMB2_WRITEFLAG_* */
    const uint8_t *data;
    uint32_t length;
};
/* Encodes the fixed part (DataOffset 0x70, Length = req->length) and appends the data. */
int smb2_write_request_encode(struct writer *w, const struct smb2_write_request *req);
/* Encodes only the fixed part: the caller then sends exactly req->length payload bytes right
 * after it (req->data is ignored), e.g. straight from its own buffer. When req->length is 0
 * this writes the one-byte Buffer itself and nothing must follow. */
int smb2_write_request_encode_header(struct writer *w, const struct smb2_write_request *req);

struct smb2_write_response {
    uint32_t count;
    uint32_t remaining;
};
int smb2_write_response_decode(const uint8_t *msg, size_t len, struct smb2_write_response *out);

/* SMB2_LOCK_ELEMENT, 2.2.26.1. */
struct smb2_lock_element {
    uint64_t offset;
    uint64_t length;
    uint32_t flags; /* SMB2_LOCKFLAG_* */
};
struct smb2_lock_request {
    uint8_t lock_sequence_number; /* 4 bits */
    uint32_t lock_sequence_index; /* 28 bits; 0 when resilient/persistent handles are unused */
    struct smb2_file_id file_id;
    const struct smb2_lock_element *locks;
    uint16_t lock_count; /* at least 1 */
};
int smb2_lock_request_encode(struct writer *w, const struct smb2_lock_request *req);
int smb2_lock_response_decode(const uint8_t *msg, size_t len);

/* ---------------------------------------------------------------------------------------- */
/* IOCTL, MS-SMB2 2.2.31 / 2.2.32, and FSCTL payloads                                        */
/* ---------------------------------------------------------------------------------------- */

struct smb2_ioctl_request {
    uint32_t ctl_code;
    struct smb2_file_id file_id; /* all 0xFF for requests not bound to an open */
    const uint8_t *input;
    uint32_t input_len;
    uint32_t max_input_response;
    uint32_t max_output_response;
    uint32_t flags; /* SMB2_0_IOCTL_IS_FSCTL */
};
/* Input at offset 0x78; no output buffer is sent (OutputOffset/OutputCount 0). */
int smb2_ioctl_request_encode(struct writer *w, const struct smb2_ioctl_request *req);

struct smb2_ioctl_response {
    uint32_t ctl_code;
    struct smb2_file_id file_id;
    const uint8_t *input;
    uint32_t input_len;
    const uint8_t *output;
    uint32_t output_len;
    uint32_t flags;
};
int smb2_ioctl_response_decode(const uint8_t *msg, size_t len, struct smb2_ioctl_response *out);

/* FSCTL_SRV_REQUEST_RESUME_KEY output (SRV_REQUEST_RESUME_KEY, 2.2.32.3). */
#define SMB2_RESUME_KEY_SIZE 24
int smb2_resume_key_decode(const uint8_t *p, size_t len, uint8_t key[SMB2_RESUME_KEY_SIZE]);

/* FSCTL_SRV_COPYCHUNK(_WRITE) input (SRV_COPYCHUNK_COPY, 2.2.31.1) and output
 * (SRV_COPYCHUNK_RESPONSE, 2.2.32.1). */
struct smb2_copychunk {
    uint64_t source_offset;
    uint64_t target_offset;
    uint32_t length;
};
int smb2_copychunk_encode(struct writer *w, const uint8_t key[SMB2_RESUME_KEY_SIZE],
                          const struct smb2_copychunk *chunks, uint32_t count);
/* On success the counts are what was written; after STATUS_INVALID_PARAMETER they are the
 * server's limits (chunk count, max chunk size, max total), 3.3.5.15.6. */
struct smb2_copychunk_response {
    uint32_t chunks_written;
    uint32_t chunk_bytes_written;
    uint32_t total_bytes_written;
};
int smb2_copychunk_response_decode(const uint8_t *p, size_t len,
                                   struct smb2_copychunk_response *out);

/* FSCTL_QUERY_ALLOCATED_RANGES: FILE_ALLOCATED_RANGE_BUFFER (MS-FSCC 2.3) input and an
 * iterator over the output array (its length must be a multiple of 16). */
int smb2_allocated_range_encode(struct writer *w, uint64_t offset, uint64_t length);
int smb2_allocated_range_next(struct reader *r, uint64_t *offset, uint64_t *length);

/* FSCTL_SET_ZERO_DATA input, FILE_ZERO_DATA_INFORMATION (MS-FSCC 2.3). */
int smb2_zero_data_encode(struct writer *w, uint64_t offset, uint64_t beyond_final_zero);
/* FSCTL_SET_SPARSE input, FILE_SET_SPARSE_BUFFER (MS-FSCC 2.3). */
int smb2_set_sparse_encode(struct writer *w, bool sparse);

/* REPARSE_DATA_BUFFER (MS-FSCC 2.1.2.2): tag and ReparseDataLength bytes of data, checked. */
struct smb2_reparse {
    uint32_t tag;
    const uint8_t *data;
    uint16_t data_len;
};
int smb2_reparse_decode(const uint8_t *p, size_t len, struct smb2_reparse *out);

/* Symbolic link reparse data (MS-FSCC 2.1.2.4). Names are UTF-16LE spans inside PathBuffer. */
struct smb2_symlink_reparse {
    const uint8_t *substitute_name;
    uint16_t substitute_name_len;
    const uint8_t *print_name;
    uint16_t print_name_len;
    uint32_t flags; /* SMB2_SYMLINK_FLAG_RELATIVE */
};
/* Decodes a whole REPARSE_DATA_BUFFER with tag SMB2_IO_REPARSE_TAG_SYMLINK (FSCTL_GET_REPARSE_POINT
 * output); SQ_ERR_PROTO for any other tag or a name outside PathBuffer. */
int smb2_symlink_reparse_decode(const uint8_t *p, size_t len, struct smb2_symlink_reparse *out);
/* Encodes it for FSCTL_SET_REPARSE_POINT: PathBuffer holds the substitute name then the print
 * name. SQ_ERR_INVAL when the data would exceed 16 bits. */
int smb2_symlink_reparse_encode(struct writer *w, const struct smb2_symlink_reparse *in);

/* ---------------------------------------------------------------------------------------- */
/* QUERY_DIRECTORY (2.2.33/34) and CHANGE_NOTIFY (2.2.35/36)                                */
/* ---------------------------------------------------------------------------------------- */

struct smb2_query_directory_request {
    uint8_t info_class; /* FILE_ID_BOTH_DIRECTORY_INFORMATION, ... */
    uint8_t flags;      /* SMB2_RESTART_SCANS, ... */
    uint32_t file_index;
    struct smb2_file_id file_id;
    const uint8_t *pattern; /* UTF-16LE search pattern, e.g. "*" */
    uint16_t pattern_len;
    uint32_t output_buffer_length;
};
int smb2_query_directory_request_encode(struct writer *w,
                                        const struct smb2_query_directory_request *req);

/* The QUERY_DIRECTORY, CHANGE_NOTIFY and QUERY_INFO responses share one shape: an output buffer
 * after an 8-byte fixed part. */
struct smb2_output_buffer {
    const uint8_t *buffer;
    uint32_t buffer_len;
};
int smb2_query_directory_response_decode(const uint8_t *msg, size_t len,
                                         struct smb2_output_buffer *out);
/* The shared decoder of that shape (StructureSize 9, OutputBufferOffset/Length, the buffer
 * after the fixed part and inside msg). */
int smb2_output_buffer_response_decode(const uint8_t *msg, size_t len,
                                       struct smb2_output_buffer *out);

/* One directory entry from FILE_DIRECTORY_INFORMATION, FILE_FULL_DIRECTORY_INFORMATION,
 * FILE_BOTH_DIRECTORY_INFORMATION, FILE_ID_FULL_DIRECTORY_INFORMATION or
 * FILE_ID_BOTH_DIRECTORY_INFORMATION (MS-FSCC 2.4); absent fields are zero. */
struct smb2_dirent {
    uint32_t file_index;
    uint64_t creation_time;
    uint64_t last_access_time;
    uint64_t last_write_time;
    uint64_t change_time;
    uint64_t end_of_file;
    uint64_t allocation_size;
    uint32_t file_attributes;
    uint32_t ea_size; /* the reparse tag when file_attributes has FILE_ATTRIBUTE_REPARSE_POINT */
    uint64_t file_id; /* Id* classes only */
    const uint8_t *short_name; /* *Both* classes only */
    uint8_t short_name_len;
    const uint8_t *name;
    uint32_t name_len; /* non-zero and even */
};
/* Iterates the output buffer of a QUERY_DIRECTORY of info_class (r over that buffer). Entries
 * are 8-byte aligned; FileNameLength must fit inside its entry. SQ_ERR_PROTO for an unknown
 * class too. */
int smb2_dirinfo_next(struct reader *r, uint8_t info_class, struct smb2_dirent *out);

struct smb2_change_notify_request {
    uint16_t flags; /* SMB2_WATCH_TREE */
    uint32_t output_buffer_length;
    struct smb2_file_id file_id;
    uint32_t completion_filter; /* FILE_NOTIFY_CHANGE_* */
};
int smb2_change_notify_request_encode(struct writer *w,
                                      const struct smb2_change_notify_request *req);
int smb2_change_notify_response_decode(const uint8_t *msg, size_t len,
                                       struct smb2_output_buffer *out);

/* FILE_NOTIFY_INFORMATION, MS-FSCC 2.7.1 (entries 4-byte aligned). */
struct smb2_notify_info {
    uint32_t action; /* FILE_ACTION_* */
    const uint8_t *name;
    uint32_t name_len;
};
int smb2_notify_info_next(struct reader *r, struct smb2_notify_info *out);

/* ---------------------------------------------------------------------------------------- */
/* QUERY_INFO (2.2.37/38), SET_INFO (2.2.39/40) and MS-FSCC information structures           */
/* ---------------------------------------------------------------------------------------- */

struct smb2_query_info_request {
    uint8_t info_type;  /* SMB2_0_INFO_* */
    uint8_t info_class; /* File*Information / FileFs*Information */
    uint32_t output_buffer_length;
    const uint8_t *input; /* e.g. a FILE_GET_EA_INFORMATION list */
    uint32_t input_len;
    uint32_t additional_information;
    uint32_t flags; /* SMB2_SL_* */
    struct smb2_file_id file_id;
};
int smb2_query_info_request_encode(struct writer *w, const struct smb2_query_info_request *req);
int smb2_query_info_response_decode(const uint8_t *msg, size_t len, struct smb2_output_buffer *out);

struct smb2_set_info_request {
    uint8_t info_type;
    uint8_t info_class;
    uint32_t additional_information;
    struct smb2_file_id file_id;
    const uint8_t *buffer; /* built with the *_info_encode functions below */
    uint32_t buffer_len;
};
int smb2_set_info_request_encode(struct writer *w, const struct smb2_set_info_request *req);
/* Checks the 2-byte SET_INFO response body. */
int smb2_set_info_response_decode(const uint8_t *msg, size_t len);

/* Information decoders take the output buffer (p, len): len must hold the fixed part (extra
 * bytes are ignored) and every variable name must fit. Encoders append to any writer (build a
 * SET_INFO buffer in its own writer). */

/* FILE_BASIC_INFORMATION, MS-FSCC 2.4.7 (40 bytes). In SET_INFO a time of 0 means "leave
 * unchanged" and -1 (UINT64_MAX) "stop updating it on this handle"; attributes 0 too. */
struct smb2_file_basic_info {
    uint64_t creation_time;
    uint64_t last_access_time;
    uint64_t last_write_time;
    uint64_t change_time;
    uint32_t file_attributes;
};
int smb2_file_basic_info_decode(const uint8_t *p, size_t len, struct smb2_file_basic_info *out);
int smb2_file_basic_info_encode(struct writer *w, const struct smb2_file_basic_info *in);

/* FILE_STANDARD_INFORMATION, MS-FSCC 2.4 FileStandardInformation (24 bytes). */
struct smb2_file_standard_info {
    uint64_t allocation_size;
    uint64_t end_of_file;
    uint32_t number_of_links;
    bool delete_pending;
    bool directory;
};
int smb2_file_standard_info_decode(const uint8_t *p, size_t len,
                                   struct smb2_file_standard_info *out);

/* FILE_INTERNAL_INFORMATION, MS-FSCC 2.4 FileInternalInformation: the 64-bit file index (inode
 * number). */
int smb2_file_internal_info_decode(const uint8_t *p, size_t len, uint64_t *index_number);

/* FILE_ALL_INFORMATION, MS-FSCC 2.4 FileAllInformation (100 fixed bytes then the name). */
struct smb2_file_all_info {
    struct smb2_file_basic_info basic;
    struct smb2_file_standard_info standard;
    uint64_t index_number;
    uint32_t ea_size;
    uint32_t access_flags;
    uint64_t current_byte_offset;
    uint32_t mode;
    uint32_t alignment_requirement;
    const uint8_t *name;
    uint32_t name_len;
};
int smb2_file_all_info_decode(const uint8_t *p, size_t len, struct smb2_file_all_info *out);

/* FILE_NETWORK_OPEN_INFORMATION, MS-FSCC 2.4.29 (56 bytes). */
struct smb2_file_network_open_info {
    uint64_t creation_time;
    uint64_t last_access_time;
    uint64_t last_write_time;
    uint64_t change_time;
    uint64_t allocation_size;
    uint64_t end_of_file;
    uint32_t file_attributes;
};
int smb2_file_network_open_info_decode(const uint8_t *p, size_t len,
                                       struct smb2_file_network_open_info *out);

/* FILE_FS_FULL_SIZE_INFORMATION (MS-FSCC 2.5.4, 32 bytes) and FILE_FS_SIZE_INFORMATION (2.5.8, 24
 * bytes; caller_available and actual_available both get AvailableAllocationUnits). */
struct smb2_fs_size_info {
    uint64_t total_allocation_units;
    uint64_t caller_available_units;
    uint64_t actual_available_units;
    uint32_t sectors_per_allocation_unit;
    uint32_t bytes_per_sector;
};
int smb2_fs_full_size_info_decode(const uint8_t *p, size_t len, struct smb2_fs_size_info *out);
int smb2_fs_size_info_decode(const uint8_t *p, size_t len, struct smb2_fs_size_info *out);

/* FILE_FS_ATTRIBUTE_INFORMATION, MS-FSCC 2.5.1. */
struct smb2_fs_attribute_info {
    uint32_t attributes; /* FILE_CASE_SENSITIVE_SEARCH, ... */
    uint32_t max_component_name_len;
    const uint8_t *fs_name; /* UTF-16LE, e.g. "NTFS" */
    uint32_t fs_name_len;
};
int smb2_fs_attribute_info_decode(const uint8_t *p, size_t len, struct smb2_fs_attribute_info *out);

/* FILE_FULL_EA_INFORMATION, MS-FSCC 2.4.15: names are 8-bit, not NUL-terminated here (the
 * wire form has the NUL, which the decoder checks and the encoder adds) and never contain a
 * NUL (the decoder refuses such entries, the encoder such names). */
struct smb2_ea {
    uint8_t flags; /* FILE_NEED_EA */
    const uint8_t *name;
    uint8_t name_len;
    const uint8_t *value;
    uint16_t value_len;
};
/* Appends a FILE_FULL_EA_INFORMATION list (entries 4-byte aligned, last Next 0). SQ_ERR_INVAL for
 * an empty list or an empty name. A value_len of 0 in SET_INFO deletes that EA. */
int smb2_ea_list_encode(struct writer *w, const struct smb2_ea *eas, size_t count);
int smb2_ea_next(struct reader *r, struct smb2_ea *out);
/* Appends a FILE_GET_EA_INFORMATION list (MS-FSCC 2.4.15.1) naming the EAs a QUERY_INFO of
 * FILE_FULL_EA_INFORMATION should return. */
int smb2_get_ea_list_encode(struct writer *w, const struct smb2_ea *names, size_t count);

/* FILE_STREAM_INFORMATION, MS-FSCC 2.4 FileStreamInformation (entries 8-byte aligned). */
struct smb2_stream_info {
    uint64_t size;
    uint64_t allocation_size;
    const uint8_t *name; /* UTF-16LE, e.g. ":foo:$DATA" */
    uint32_t name_len;
};
int smb2_stream_info_next(struct reader *r, struct smb2_stream_info *out);

/* SET_INFO payloads. */
int smb2_file_end_of_file_info_encode(struct writer *w,
                                      uint64_t end_of_file); /* FileEndOfFileInformation */
int smb2_file_allocation_info_encode(struct writer *w,
                                     uint64_t allocation_size); /* FileAllocationInformation */
int smb2_file_disposition_info_encode(struct writer *w,
                                      bool delete_pending); /* FileDispositionInformation */
/* FILE_RENAME_INFORMATION / FILE_LINK_INFORMATION for SMB2 (MS-FSCC 2.4,
 * FILE_RENAME_INFORMATION_TYPE_2 / FILE_LINK_INFORMATION_TYPE_2): ReplaceIfExists, RootDirectory 0,
 * the new path relative to the share root (UTF-16LE), then a UTF-16 NUL not counted in
 * FileNameLength (what Windows and cifs send; some servers size-check against the 24-byte C
 * struct). SQ_ERR_INVAL for an empty or odd-length name. */
int smb2_file_rename_info_encode(struct writer *w, bool replace_if_exists, const uint8_t *name,
                                 size_t name_len);
int smb2_file_link_info_encode(struct writer *w, bool replace_if_exists, const uint8_t *name,
                               size_t name_len);

/* ---------------------------------------------------------------------------------------- */
/* OPLOCK_BREAK, MS-SMB2 2.2.23 / 2.2.24 / 2.2.25                                            */
/* ---------------------------------------------------------------------------------------- */

enum smb2_break_kind {
    SMB2_BREAK_OPLOCK = 1,     /* oplock break notification or response (StructureSize 24) */
    SMB2_BREAK_LEASE_NOTIFY,   /* lease break notification (StructureSize 44) */
    SMB2_BREAK_LEASE_RESPONSE, /* lease break response (StructureSize 36) */
};

struct smb2_break {
    enum smb2_break_kind kind;
    /* SMB2_BREAK_OPLOCK */
    uint8_t oplock_level;
    struct smb2_file_id file_id;
    /* SMB2_BREAK_LEASE_NOTIFY and SMB2_BREAK_LEASE_RESPONSE */
    uint8_t lease_key[SMB2_LEASE_KEY_SIZE];
    uint32_t flags;       /* SMB2_NOTIFY_BREAK_LEASE_FLAG_ACK_REQUIRED in notifications */
    uint32_t lease_state; /* notify: CurrentLeaseState; response: LeaseState */
    /* SMB2_BREAK_LEASE_NOTIFY only */
    uint16_t new_epoch;
    uint32_t new_lease_state;
    uint32_t break_reason;
    uint32_t access_mask_hint;
    uint32_t share_mask_hint;
};

/* Decodes any OPLOCK_BREAK message from the server, telling the forms apart by StructureSize
 * (24, 44 or 36); SQ_ERR_PROTO for any other size or a short body. */
int smb2_oplock_break_decode(const uint8_t *msg, size_t len, struct smb2_break *out);

/* Oplock break acknowledgment (2.2.24.1). */
int smb2_oplock_break_ack_encode(struct writer *w, uint8_t oplock_level,
                                 const struct smb2_file_id *file_id);
/* Lease break acknowledgment (2.2.24.2): Flags and LeaseDuration 0. */
int smb2_lease_break_ack_encode(struct writer *w, const uint8_t lease_key[SMB2_LEASE_KEY_SIZE],
                                uint32_t lease_state);

#endif
