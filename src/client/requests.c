/* Shared request builders; contract in include/client/requests.h. */
#include "client/requests.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/utf16.h"

const struct smb2_file_id sq_related_file_id = {UINT64_MAX, UINT64_MAX};

int sq_path_to_smb(const char *path, uint8_t **out, size_t *out_len)
{
    char *copy = strdup(path ? path : "");
    if (!copy)
        return SQ_ERR_NOMEM;
    for (char *p = copy; *p; p++)
        if (*p == '/')
            *p = '\\';
    int rc = utf8_to_utf16le(copy, strlen(copy), out, out_len);
    free(copy);
    return rc;
}

static int create_name(struct smb2_request *r, const uint8_t *name, size_t name_len,
                       uint32_t access, uint32_t disposition, uint32_t options, uint32_t attributes,
                       const struct sq_create_caching *caching)
{
    const struct smb2_lease *lease = caching ? caching->lease : NULL;
    int rc = smb2_request_init(r, SMB2_CREATE, 0);
    if (rc)
        return rc;
    struct smb2_create_request c = {
        .requested_oplock_level = lease ? SMB2_OPLOCK_LEVEL_LEASE : SMB2_OPLOCK_LEVEL_NONE,
        .impersonation_level = SMB2_IMPERSONATION_IMPERSONATION,
        .desired_access = access,
        .file_attributes = attributes,
        .share_access = FILE_SHARE_ALL,
        .create_disposition = disposition,
        .create_options = options,
        .name = name,
        .name_len = name_len,
        .lease = lease,
        .durable = caching ? caching->durable : NULL,
        .durable_reconnect = caching ? caching->durable_reconnect : NULL,
    };
    return smb2_create_request_encode(&r->msg, &c);
}

int sq_req_create_name(struct smb2_request *r, const uint8_t *name, size_t name_len,
                       uint32_t access, uint32_t disposition, uint32_t options, uint32_t attributes)
{
    return create_name(r, name, name_len, access, disposition, options, attributes, NULL);
}

int sq_req_create_leased(struct smb2_request *r, const char *path, uint32_t access,
                         uint32_t disposition, uint32_t options, uint32_t attributes,
                         const struct sq_create_caching *caching)
{
    uint8_t *name;
    size_t name_len;
    memset(r, 0, sizeof(*r));
    int rc = sq_path_to_smb(path, &name, &name_len);
    if (rc)
        return rc;
    rc = create_name(r, name, name_len, access, disposition, options, attributes, caching);
    free(name);
    return rc;
}

int sq_req_create(struct smb2_request *r, const char *path, uint32_t access, uint32_t disposition,
                  uint32_t options, uint32_t attributes)
{
    return sq_req_create_leased(r, path, access, disposition, options, attributes, NULL);
}

int sq_req_close(struct smb2_request *r, const struct smb2_file_id *id, bool related)
{
    int rc = smb2_request_init(r, SMB2_CLOSE, 0);
    if (rc)
        return rc;
    struct smb2_close_request c = {.file_id = *id};
    r->related = related;
    return smb2_close_request_encode(&r->msg, &c);
}

int sq_req_query_info(struct smb2_request *r, const struct smb2_file_id *id, bool related,
                      uint8_t info_type, uint8_t info_class, uint32_t output_len)
{
    int rc = smb2_request_init(r, SMB2_QUERY_INFO, 0);
    if (rc)
        return rc;
    struct smb2_query_info_request q = {
        .info_type = info_type,
        .info_class = info_class,
        .output_buffer_length = output_len,
        .file_id = *id,
    };
    r->related = related;
    r->expected_response_len = output_len;
    return smb2_query_info_request_encode(&r->msg, &q);
}

int sq_req_set_info(struct smb2_request *r, const struct smb2_file_id *id, bool related,
                    uint8_t info_class, const uint8_t *buf, size_t len)
{
    int rc = smb2_request_init(r, SMB2_SET_INFO, 0);
    if (rc)
        return rc;
    struct smb2_set_info_request si = {
        .info_type = SMB2_0_INFO_FILE,
        .info_class = info_class,
        .file_id = *id,
        .buffer = buf,
        .buffer_len = (uint32_t)len,
    };
    r->related = related;
    return smb2_set_info_request_encode(&r->msg, &si);
}

int sq_req_query_directory(struct smb2_request *r, const struct smb2_file_id *id, bool related,
                           bool restart, uint32_t output_len)
{
    static const uint8_t star[2] = {'*', 0};
    int rc = smb2_request_init(r, SMB2_QUERY_DIRECTORY, 0);
    if (rc)
        return rc;
    struct smb2_query_directory_request q = {
        .info_class = FILE_ID_BOTH_DIRECTORY_INFORMATION,
        .flags = restart ? SMB2_RESTART_SCANS : 0,
        .file_id = *id,
        .pattern = star,
        .pattern_len = sizeof(star),
        .output_buffer_length = output_len,
    };
    r->related = related;
    r->expected_response_len = output_len;
    return smb2_query_directory_request_encode(&r->msg, &q);
}

int sq_req_fsctl(struct smb2_request *r, const struct smb2_file_id *id, uint32_t ctl_code,
                 const uint8_t *input, size_t input_len, uint32_t max_output)
{
    int rc = smb2_request_init(r, SMB2_IOCTL, 0);
    if (rc)
        return rc;
    struct smb2_ioctl_request q = {
        .ctl_code = ctl_code,
        .file_id = *id,
        .input = input,
        .input_len = (uint32_t)input_len,
        .max_output_response = max_output,
        .flags = SMB2_0_IOCTL_IS_FSCTL,
    };
    /* Credits are charged for the larger of what is sent and what may come back
     * (MS-SMB2 3.2.4.1.5). */
    r->expected_response_len = max_output > input_len ? max_output : (uint32_t)input_len;
    return smb2_ioctl_request_encode(&r->msg, &q);
}

int sq_req_query_eas(struct smb2_request *r, const struct smb2_file_id *id, bool related,
                     uint32_t output_len)
{
    int rc = smb2_request_init(r, SMB2_QUERY_INFO, 0);
    if (rc)
        return rc;
    struct smb2_query_info_request q = {
        .info_type = SMB2_0_INFO_FILE,
        .info_class = FILE_FULL_EA_INFORMATION,
        .output_buffer_length = output_len,
        .flags = SMB2_SL_RESTART_SCAN, /* the whole list, from its start (MS-SMB2 2.2.37) */
        .file_id = *id,
    };
    r->related = related;
    r->expected_response_len = output_len;
    return smb2_query_info_request_encode(&r->msg, &q);
}
