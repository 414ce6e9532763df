/* SMB2/3 wire constants and the 64-byte header, MS-SMB2 2.2.1. */
#ifndef SMBQUIC_SMB2_PROTO_H
#define SMBQUIC_SMB2_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define SMB2_HEADER_SIZE 64
#define SMB2_TRANSFORM_HEADER_SIZE 52
#define SMB2_PROTOCOL_ID 0x424d53feu           /* "\xfeSMB" read as little-endian */
#define SMB2_TRANSFORM_PROTOCOL_ID 0x424d53fdu /* "\xfdSMB" */
#define SMB2_COMPRESSION_PROTOCOL_ID 0x424d53fcu
#define SMB1_PROTOCOL_ID 0x424d53ffu

/* Commands, MS-SMB2 2.2.1.2. */
enum smb2_command {
    SMB2_NEGOTIATE = 0x0000,
    SMB2_SESSION_SETUP = 0x0001,
    SMB2_LOGOFF = 0x0002,
    SMB2_TREE_CONNECT = 0x0003,
    SMB2_TREE_DISCONNECT = 0x0004,
    SMB2_CREATE = 0x0005,
    SMB2_CLOSE = 0x0006,
    SMB2_FLUSH = 0x0007,
    SMB2_READ = 0x0008,
    SMB2_WRITE = 0x0009,
    SMB2_LOCK = 0x000A,
    SMB2_IOCTL = 0x000B,
    SMB2_CANCEL = 0x000C,
    SMB2_ECHO = 0x000D,
    SMB2_QUERY_DIRECTORY = 0x000E,
    SMB2_CHANGE_NOTIFY = 0x000F,
    SMB2_QUERY_INFO = 0x0010,
    SMB2_SET_INFO = 0x0011,
    SMB2_OPLOCK_BREAK = 0x0012,
    SMB2_COMMAND_COUNT = 0x0013,
};
const char *smb2_command_name(uint16_t command);

/* Header flags, MS-SMB2 2.2.1.2. */
#define SMB2_FLAGS_SERVER_TO_REDIR 0x00000001u
#define SMB2_FLAGS_ASYNC_COMMAND 0x00000002u
#define SMB2_FLAGS_RELATED_OPERATIONS 0x00000004u
#define SMB2_FLAGS_SIGNED 0x00000008u
#define SMB2_FLAGS_PRIORITY_MASK 0x00000070u
#define SMB2_FLAGS_DFS_OPERATIONS 0x10000000u
#define SMB2_FLAGS_REPLAY_OPERATION 0x20000000u

/* Dialects, MS-SMB2 2.2.3. */
#define SMB2_DIALECT_0202 0x0202
#define SMB2_DIALECT_0210 0x0210
#define SMB2_DIALECT_0300 0x0300
#define SMB2_DIALECT_0302 0x0302
#define SMB2_DIALECT_0311 0x0311
#define SMB2_DIALECT_WILDCARD 0x02FF

/* SecurityMode, MS-SMB2 2.2.3. */
#define SMB2_NEGOTIATE_SIGNING_ENABLED 0x0001
#define SMB2_NEGOTIATE_SIGNING_REQUIRED 0x0002

/* Global capabilities, MS-SMB2 2.2.3. */
#define SMB2_GLOBAL_CAP_DFS 0x00000001u
#define SMB2_GLOBAL_CAP_LEASING 0x00000002u
#define SMB2_GLOBAL_CAP_LARGE_MTU 0x00000004u
#define SMB2_GLOBAL_CAP_MULTI_CHANNEL 0x00000008u
#define SMB2_GLOBAL_CAP_PERSISTENT_HANDLES 0x00000010u
#define SMB2_GLOBAL_CAP_DIRECTORY_LEASING 0x00000020u
#define SMB2_GLOBAL_CAP_ENCRYPTION 0x00000040u

/* Negotiate context types, MS-SMB2 2.2.3.1. */
#define SMB2_PREAUTH_INTEGRITY_CAPABILITIES 0x0001
#define SMB2_ENCRYPTION_CAPABILITIES 0x0002
#define SMB2_COMPRESSION_CAPABILITIES 0x0003
#define SMB2_NETNAME_NEGOTIATE_CONTEXT_ID 0x0005
#define SMB2_TRANSPORT_CAPABILITIES 0x0006
#define SMB2_RDMA_TRANSFORM_CAPABILITIES 0x0007
#define SMB2_SIGNING_CAPABILITIES 0x0008
#define SMB2_PREAUTH_HASH_SHA512 0x0001
#define SMB2_ACCEPT_TRANSPORT_LEVEL_SECURITY 0x00000001u

/* Session flags (SESSION_SETUP response), MS-SMB2 2.2.6. */
#define SMB2_SESSION_FLAG_IS_GUEST 0x0001
#define SMB2_SESSION_FLAG_IS_NULL 0x0002
#define SMB2_SESSION_FLAG_ENCRYPT_DATA 0x0004

/* Share flags (TREE_CONNECT response), MS-SMB2 2.2.10. */
#define SMB2_SHAREFLAG_ENCRYPT_DATA 0x00008000u
#define SMB2_SHARE_TYPE_DISK 0x01
#define SMB2_SHARE_TYPE_PIPE 0x02
#define SMB2_SHARE_TYPE_PRINT 0x03

/* TRANSFORM_HEADER flags, MS-SMB2 2.2.41. */
#define SMB2_TRANSFORM_FLAG_ENCRYPTED 0x0001

/* The 64-byte SMB2 header in both its sync and async forms, MS-SMB2 2.2.1.1/2.2.1.2. */
struct smb2_header {
    uint16_t credit_charge;
    uint32_t status;        /* NTSTATUS in responses; ChannelSequence in 3.x requests */
    uint16_t command;
    uint16_t credits;       /* CreditRequest or CreditResponse */
    uint32_t flags;
    uint32_t next_command;
    uint64_t message_id;
    uint64_t async_id;      /* valid when flags & SMB2_FLAGS_ASYNC_COMMAND */
    uint32_t tree_id;       /* valid otherwise */
    uint64_t session_id;
    uint8_t signature[16];
};

/* Decodes a header from r (which must be at the header's first byte). Checks ProtocolId and
 * StructureSize; returns 0 or SQ_ERR_PROTO. */
int smb2_header_decode(struct reader *r, struct smb2_header *h);
/* Appends the 64-byte header to w. */
void smb2_header_encode(struct writer *w, const struct smb2_header *h);

/* Offsets of header fields inside a message, for in-place patching (signing, chaining). */
#define SMB2_HDR_OFF_FLAGS 16
#define SMB2_HDR_OFF_NEXT_COMMAND 20
#define SMB2_HDR_OFF_MESSAGE_ID 24
#define SMB2_HDR_OFF_SESSION_ID 40
#define SMB2_HDR_OFF_SIGNATURE 48

#endif
