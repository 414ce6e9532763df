/* Builders for the SMB2 requests the CLI and the filesystem both send, so CREATE, CLOSE,
 * QUERY_INFO, SET_INFO and QUERY_DIRECTORY are put together in one place. Each returns 0 or a
 * negative sq_error; on error the caller still frees r->msg (writer_free is safe). */
#ifndef SMBQUIC_CLIENT_REQUESTS_H
#define SMBQUIC_CLIENT_REQUESTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smb2/conn.h"
#include "smb2/msg.h"

/* The file id that means "the file the previous request of this related compound opened"
 * (MS-SMB2 3.2.4.1.4). */
extern const struct smb2_file_id sq_related_file_id;

/* A share-relative path ('/' or '\\' separated, "" for the root) as the UTF-16LE,
 * backslash-separated name CREATE wants (MS-SMB2 2.2.13). Caller frees *out. */
int sq_path_to_smb(const char *path, uint8_t **out, size_t *out_len);

/* CREATE without leases or contexts, sharing read/write/delete with others. */
int sq_req_create_name(struct smb2_request *r, const uint8_t *name, size_t name_len,
                       uint32_t access, uint32_t disposition, uint32_t options,
                       uint32_t attributes);
int sq_req_create(struct smb2_request *r, const char *path, uint32_t access,
                  uint32_t disposition, uint32_t options, uint32_t attributes);
/* Caching and durability contexts of a CREATE; each NULL when not wanted. */
struct sq_create_caching {
    const struct smb2_lease *lease; /* SMB2_CREATE_REQUEST_LEASE_V2, MS-SMB2 2.2.13.2.10 */
    const struct smb2_durable_v2_request *durable;             /* 2.2.13.2.11 */
    const struct smb2_durable_reconnect_v2 *durable_reconnect; /* 2.2.13.2.12 */
};
/* The same, with those contexts (caching NULL: none). */
int sq_req_create_leased(struct smb2_request *r, const char *path, uint32_t access,
                         uint32_t disposition, uint32_t options, uint32_t attributes,
                         const struct sq_create_caching *caching);
int sq_req_close(struct smb2_request *r, const struct smb2_file_id *id, bool related);
int sq_req_query_info(struct smb2_request *r, const struct smb2_file_id *id, bool related,
                      uint8_t info_type, uint8_t info_class, uint32_t output_len);
int sq_req_set_info(struct smb2_request *r, const struct smb2_file_id *id, bool related,
                    uint8_t info_class, const uint8_t *buf, size_t len);
/* QUERY_DIRECTORY of FileIdBothDirectoryInformation for "*". */
int sq_req_query_directory(struct smb2_request *r, const struct smb2_file_id *id, bool related,
                           bool restart, uint32_t output_len);
/* IOCTL with SMB2_0_IOCTL_IS_FSCTL on an open file (not related). */
int sq_req_fsctl(struct smb2_request *r, const struct smb2_file_id *id, uint32_t ctl_code,
                 const uint8_t *input, size_t input_len, uint32_t max_output);
/* QUERY_INFO of the whole FILE_FULL_EA_INFORMATION list. */
int sq_req_query_eas(struct smb2_request *r, const struct smb2_file_id *id, bool related,
                     uint32_t output_len);

#endif
