/* SMB2 header codec, MS-SMB2 2.2.1. */
#include "smb2/proto.h"

#include <string.h>

#include "util/error.h"

const char *smb2_command_name(uint16_t command)
{
    static const char *const names[SMB2_COMMAND_COUNT] = {
        "NEGOTIATE", "SESSION_SETUP", "LOGOFF", "TREE_CONNECT", "TREE_DISCONNECT",
        "CREATE", "CLOSE", "FLUSH", "READ", "WRITE", "LOCK", "IOCTL", "CANCEL", "ECHO",
        "QUERY_DIRECTORY", "CHANGE_NOTIFY", "QUERY_INFO", "SET_INFO", "OPLOCK_BREAK",
    };
    return command < SMB2_COMMAND_COUNT ? names[command] : "UNKNOWN";
}

int smb2_header_decode(struct reader *r, struct smb2_header *h)
{
    memset(h, 0, sizeof(*h));
    uint32_t protocol = reader_get_le32(r);
    uint16_t structure_size = reader_get_le16(r);
    h->credit_charge = reader_get_le16(r);
    h->status = reader_get_le32(r);
    h->command = reader_get_le16(r);
    h->credits = reader_get_le16(r);
    h->flags = reader_get_le32(r);
    h->next_command = reader_get_le32(r);
    h->message_id = reader_get_le64(r);
    if (h->flags & SMB2_FLAGS_ASYNC_COMMAND) {
        h->async_id = reader_get_le64(r);
    } else {
        reader_skip(r, 4); /* Reserved (ProcessId) */
        h->tree_id = reader_get_le32(r);
    }
    h->session_id = reader_get_le64(r);
    reader_get_bytes(r, h->signature, sizeof(h->signature));
    if (reader_error(r) || protocol != SMB2_PROTOCOL_ID || structure_size != 64)
        return SQ_ERR_PROTO;
    return 0;
}

void smb2_header_encode(struct writer *w, const struct smb2_header *h)
{
    writer_put_le32(w, SMB2_PROTOCOL_ID);
    writer_put_le16(w, 64);
    writer_put_le16(w, h->credit_charge);
    writer_put_le32(w, h->status);
    writer_put_le16(w, h->command);
    writer_put_le16(w, h->credits);
    writer_put_le32(w, h->flags);
    writer_put_le32(w, h->next_command);
    writer_put_le64(w, h->message_id);
    if (h->flags & SMB2_FLAGS_ASYNC_COMMAND) {
        writer_put_le64(w, h->async_id);
    } else {
        writer_put_le32(w, 0xFEFF); /* Reserved: Windows sends 0xFEFF */
        writer_put_le32(w, h->tree_id);
    }
    writer_put_le64(w, h->session_id);
    writer_put_bytes(w, h->signature, sizeof(h->signature));
}
