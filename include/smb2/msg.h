/* SMB2 command codecs. Conventions for every codec (MS-SMB2 2.2):
 *
 * - Request encoders append the command body to a writer that already holds exactly one
 *   message's 64-byte header (so the header starts at offset 0 and buffer offsets inside the
 *   body are w->len at the point of writing). They return writer_error(w).
 * - Response decoders take one whole message (header first; compounds are split by the
 *   connection) as (msg, len) and fill a struct. Pointers in the struct point into msg and live
 *   as long as msg. They validate StructureSize and every offset/length pair before use and
 *   return 0 or SQ_ERR_PROTO, never reading outside msg.
 */
#ifndef SMBQUIC_SMB2_MSG_H
#define SMBQUIC_SMB2_MSG_H

#include "smb2/msg_session.h"
#include "smb2/msg_file.h"

#endif
