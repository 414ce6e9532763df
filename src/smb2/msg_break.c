/* SMB2 OPLOCK_BREAK: oplock and lease break notifications, acknowledgments and responses,
 * MS-SMB2 2.2.23-2.2.25. Contracts in include/smb2/msg_file.h. */
#include "smb2/msg_file.h"

#include <string.h>

#include "util/error.h"

int smb2_oplock_break_decode(const uint8_t *msg, size_t len, struct smb2_break *out)
{
    memset(out, 0, sizeof(*out));
    struct reader r;
    reader_init(&r, msg, len);
    reader_seek(&r, SMB2_HEADER_SIZE);
    uint16_t structure_size = reader_get_le16(&r);
    switch (structure_size) {
    case SMB2_OPLOCK_BREAK_SIZE: /* 2.2.23.1 notification, 2.2.25.1 response */
        out->kind = SMB2_BREAK_OPLOCK;
        out->oplock_level = reader_get_u8(&r);
        reader_skip(&r, 1 + 4); /* Reserved, Reserved2 */
        smb2_file_id_decode(&r, &out->file_id);
        break;
    case SMB2_LEASE_BREAK_NOTIFY_SIZE: /* 2.2.23.2 */
        out->kind = SMB2_BREAK_LEASE_NOTIFY;
        out->new_epoch = reader_get_le16(&r);
        out->flags = reader_get_le32(&r);
        reader_get_bytes(&r, out->lease_key, SMB2_LEASE_KEY_SIZE);
        out->lease_state = reader_get_le32(&r);
        out->new_lease_state = reader_get_le32(&r);
        out->break_reason = reader_get_le32(&r);
        out->access_mask_hint = reader_get_le32(&r);
        out->share_mask_hint = reader_get_le32(&r);
        break;
    case SMB2_LEASE_BREAK_ACK_SIZE: /* 2.2.25.2 */
        out->kind = SMB2_BREAK_LEASE_RESPONSE;
        reader_skip(&r, 2); /* Reserved */
        out->flags = reader_get_le32(&r);
        reader_get_bytes(&r, out->lease_key, SMB2_LEASE_KEY_SIZE);
        out->lease_state = reader_get_le32(&r);
        reader_skip(&r, 8); /* LeaseDuration */
        break;
    default:
        reader_fail(&r);
        break;
    }
    if (reader_error(&r)) {
        memset(out, 0, sizeof(*out));
        return SQ_ERR_PROTO;
    }
    return 0;
}

int smb2_oplock_break_ack_encode(struct writer *w, uint8_t oplock_level,
                                 const struct smb2_file_id *file_id)
{
    writer_put_le16(w, SMB2_OPLOCK_BREAK_SIZE);
    writer_put_u8(w, oplock_level);
    writer_put_u8(w, 0);   /* Reserved */
    writer_put_le32(w, 0); /* Reserved2 */
    smb2_file_id_encode(w, file_id);
    return writer_error(w);
}

int smb2_lease_break_ack_encode(struct writer *w, const uint8_t lease_key[SMB2_LEASE_KEY_SIZE],
                                uint32_t lease_state)
{
    writer_put_le16(w, SMB2_LEASE_BREAK_ACK_SIZE);
    writer_put_le16(w, 0); /* Reserved */
    writer_put_le32(w, 0); /* Flags */
    writer_put_bytes(w, lease_key, SMB2_LEASE_KEY_SIZE);
    writer_put_le32(w, lease_state);
    writer_put_le64(w, 0); /* LeaseDuration */
    return writer_error(w);
}
