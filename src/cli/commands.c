/* The `smbquic` subcommands over one synchronous session. Each command keeps round trips to
 * the minimum: related compounds (MS-SMB2 3.2.4.1.4) for open+query+close, and pipelined
 * multi-credit READ/WRITE requests for transfers (MS-SMB2 3.2.4.1.5). */
#include "cli/commands.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client/requests.h"
#include "smb2/msg.h"
#include "smb2/ntstatus.h"
#include "util/error.h"
#include "util/log.h"
#include "util/utf16.h"

#define READ_CHUNK_MAX  (1024u * 1024u)
#define WRITE_CHUNK_MAX (1024u * 1024u)
/* READs or WRITEs in flight: enough to cover the path's bandwidth-delay product at
 * SQ_IO_TARGET_RATE (include/client/session.h), sized from the transport's round-trip
 * estimate when the transfer starts. At least IO_WINDOW_MIN (30 MiB in 1 MiB chunks: a 16
 * deep pipeline capped a 100 ms path near 160 MiB/s, and a LAN server's own latency needs
 * some depth); at most IO_WINDOW_MAX, which stays under QUIC's
 * largest receive windows (64 MiB: src/transport/quic.c, smbquic-gateway's GW_RX_WINDOW_MAX)
 * with room for headers and bounds what get holds for a pipe. The connection's credit target
 * (1,024 credits of 64 KiB) covers IO_WINDOW_MAX chunks of 1 MiB. */
#define IO_WINDOW_MIN   30
#define IO_WINDOW_MAX   60
/* Requests one call of transfer_issue sends at most. Building a WRITE (reading 1 MiB of the
 * file, signing it, queueing it for QUIC) takes a few milliseconds; filling a 60-deep window
 * in one go took about 260 ms in which no datagram was read: the server's first ACKs waited,
 * BBR measured 200 ms round trips on a 100 ms path, and its first doublings came 2.5 round
 * trips late. Batches with an I/O pass in between keep ACKs flowing while the window fills. */
#define ISSUE_BATCH     4
#define DIR_BUFFER_LEN  (256u * 1024u)

/* The share-relative path as UTF-16LE (empty for the root). */

static int op_fail(struct sq_failure *f, const char *op, uint32_t status)
{
    return sq_fail(f, SQ_STAGE_OPERATION, op, SQ_ERR_STATUS, status, NULL);
}

static int local_fail(struct sq_failure *f, const char *op, int err, const char *fmt,
                      const char *arg)
{
    return sq_fail(f, SQ_STAGE_OPERATION, op, err, 0, fmt, arg, strerror(errno));
}

static int conn_fail(struct sq_failure *f, const char *op, int err)
{
    return sq_fail(f, SQ_STAGE_OPERATION, op, err, 0, "%s", sq_strerror(err));
}

static void free_requests(struct smb2_request *reqs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        writer_free(&reqs[i].msg);
}

static void clear_replies(struct sq_reply *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sq_reply_clear(&r[i]);
}

/* ---- time formatting ---- */

/* FILETIME (100 ns since 1601-01-01) to "YYYY-MM-DD HH:MM:SS" UTC. */
static void format_filetime(uint64_t ft, char *buf, size_t len)
{
    const uint64_t epoch_diff = 116444736000000000ull;
    if (ft < epoch_diff) {
        snprintf(buf, len, "-");
        return;
    }
    time_t t = (time_t)((ft - epoch_diff) / 10000000ull);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

/* ---- info ---- */

static void format_guid(const uint8_t g[16], char *buf, size_t len)
{
    /* GUIDs are mixed-endian on the wire (MS-DTYP 2.3.4.2). */
    snprintf(buf, len, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", g[3],
             g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13],
             g[14], g[15]);
}

int cmd_info(struct sq_session *s, const struct sq_options *o, struct sq_failure *f)
{
    const struct sq_session_info *i = sq_session_info(s);
    char guid[40];
    format_guid(i->server_guid, guid, sizeof(guid));
    printf("server: %s\n", o->server);
    printf("share: %s\n", o->share);
    printf("transport: %s\n", i->transport);
    printf("peer: %s\n", i->peer);
    if (strcmp(i->transport, "quic") == 0) {
        printf("connection_id: %s\n", i->connection_id);
        printf("server_cert_subject: %s\n", i->cert_subject);
        printf("server_cert_issuer: %s\n", i->cert_issuer);
        printf("server_cert_sha256: %s\n", i->cert_sha256);
        printf("server_spki_sha256: %s\n", i->spki_sha256);
        printf("transport_security_only: %s\n", i->transport_security_only ? "yes" : "no");
    }
    printf("dialect: %s\n", sq_dialect_name(i->dialect));
    printf("cipher: %s\n", i->encrypted ? i->cipher : "none");
    printf("signing: %s\n", i->signing);
    printf("auth: %s\n", i->auth);
    printf("server_guid: %s\n", guid);
    printf("session_flags: 0x%04x\n", i->session_flags);
    printf("share_type: %s\n", i->share_type == SMB2_SHARE_TYPE_DISK   ? "disk"
                               : i->share_type == SMB2_SHARE_TYPE_PIPE ? "pipe"
                                                                       : "print");
    printf("share_flags: 0x%08x\n", i->share_flags);
    printf("max_read: %u\n", i->max_read);
    printf("max_write: %u\n", i->max_write);
    printf("max_transact: %u\n", i->max_transact);
    return 0;
}

/* ---- stat: CREATE + QUERY_INFO(FileAllInformation) + CLOSE in one round trip ---- */

int cmd_stat(struct sq_session *s, const struct sq_options *o, struct sq_failure *f)
{
    int rc;
    struct smb2_request reqs[3];
    struct sq_reply replies[3];
    memset(reqs, 0, sizeof(reqs));
    rc = sq_req_create(&reqs[0], o->path, FILE_READ_ATTRIBUTES | SMB2_SYNCHRONIZE, FILE_OPEN, 0, 0);
    if (!rc)
        rc = sq_req_query_info(&reqs[1], &sq_related_file_id, true, SMB2_0_INFO_FILE,
                               FILE_ALL_INFORMATION, 4096);
    if (!rc)
        rc = sq_req_close(&reqs[2], &sq_related_file_id, true);
    if (rc) {
        free_requests(reqs, 3);
        return conn_fail(f, "stat", rc);
    }
    rc = sq_session_call(s, reqs, 3, replies);
    if (rc) {
        clear_replies(replies, 3);
        return conn_fail(f, "stat", rc);
    }
    if (replies[0].status != STATUS_SUCCESS) {
        rc = op_fail(f, "stat", replies[0].status);
    } else if (replies[1].status != STATUS_SUCCESS) {
        rc = op_fail(f, "stat", replies[1].status);
    } else {
        struct smb2_output_buffer out;
        struct smb2_file_all_info all;
        rc = smb2_query_info_response_decode(replies[1].msg, replies[1].len, &out);
        if (!rc)
            rc = smb2_file_all_info_decode(out.buffer, out.buffer_len, &all);
        if (rc) {
            rc = conn_fail(f, "stat", rc);
        } else {
            char t[4][32];
            format_filetime(all.basic.creation_time, t[0], sizeof(t[0]));
            format_filetime(all.basic.last_access_time, t[1], sizeof(t[1]));
            format_filetime(all.basic.last_write_time, t[2], sizeof(t[2]));
            format_filetime(all.basic.change_time, t[3], sizeof(t[3]));
            bool dir = all.standard.directory;
            printf("type: %s\n", dir ? "directory" : "file");
            printf("size: %" PRIu64 "\n", all.standard.end_of_file);
            printf("allocation_size: %" PRIu64 "\n", all.standard.allocation_size);
            printf("attributes: 0x%08x\n", all.basic.file_attributes);
            printf("links: %u\n", all.standard.number_of_links);
            printf("file_id: %" PRIu64 "\n", all.index_number);
            printf("creation_time: %s\n", t[0]);
            printf("last_access_time: %s\n", t[1]);
            printf("last_write_time: %s\n", t[2]);
            printf("change_time: %s\n", t[3]);
        }
    }
    clear_replies(replies, 3);
    return rc;
}

/* ---- ls: CREATE + QUERY_DIRECTORY compound, then QUERY_DIRECTORY until NO_MORE_FILES ---- */

static int print_entries(const uint8_t *buf, uint32_t len, bool long_format)
{
    struct reader r;
    reader_init(&r, buf, len);
    struct smb2_dirent e;
    int rc;
    while ((rc = smb2_dirinfo_next(&r, FILE_ID_BOTH_DIRECTORY_INFORMATION, &e)) == 1) {
        char *name;
        if (utf16le_to_utf8(e.name, e.name_len, &name) != 0)
            return SQ_ERR_PROTO;
        if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
            bool dir = e.file_attributes & FILE_ATTRIBUTE_DIRECTORY;
            if (long_format) {
                char t[32];
                format_filetime(e.last_write_time, t, sizeof(t));
                /* Single spaces: scripts split it with read(1); TYPE says what a directory is. */
                printf("%c %" PRIu64 " %s %s\n", dir ? 'd' : '-', e.end_of_file, t, name);
            } else {
                printf("%s%s\n", name, dir ? "/" : "");
            }
        }
        free(name);
    }
    return rc < 0 ? rc : 0;
}

static int close_handle(struct sq_session *s, const struct smb2_file_id *id)
{
    struct smb2_request req;
    struct sq_reply reply;
    int rc = sq_req_close(&req, id, false);
    if (rc) {
        writer_free(&req.msg);
        return rc;
    }
    rc = sq_session_call(s, &req, 1, &reply);
    sq_reply_clear(&reply);
    return rc;
}

int cmd_ls(struct sq_session *s, const struct sq_options *o, bool long_format, struct sq_failure *f)
{
    int rc;
    /* CREATE, QUERY_DIRECTORY and a second QUERY_DIRECTORY in one related compound: the
     * second one answers STATUS_NO_MORE_FILES for a directory that fit in the first buffer
     * (most do), which saves the round trip that would only learn that. */
    struct smb2_request reqs[3];
    struct sq_reply replies[3];
    memset(reqs, 0, sizeof(reqs));
    rc = sq_req_create(&reqs[0], o->path,
                       FILE_LIST_DIRECTORY | FILE_READ_ATTRIBUTES | SMB2_SYNCHRONIZE, FILE_OPEN,
                       FILE_DIRECTORY_FILE, 0);
    if (!rc)
        rc = sq_req_query_directory(&reqs[1], &sq_related_file_id, true, true, DIR_BUFFER_LEN);
    if (!rc)
        rc = sq_req_query_directory(&reqs[2], &sq_related_file_id, true, false, DIR_BUFFER_LEN);
    if (rc) {
        free_requests(reqs, 3);
        return conn_fail(f, "list", rc);
    }
    rc = sq_session_call(s, reqs, 3, replies);
    if (rc) {
        clear_replies(replies, 3);
        return conn_fail(f, "list", rc);
    }
    if (replies[0].status != STATUS_SUCCESS) {
        rc = op_fail(f, "list", replies[0].status);
        clear_replies(replies, 3);
        return rc;
    }
    struct smb2_create_response created;
    rc = smb2_create_response_decode(replies[0].msg, replies[0].len, &created);
    if (rc) {
        clear_replies(replies, 3);
        return conn_fail(f, "list", rc);
    }
    struct smb2_file_id dir = created.file_id;
    struct sq_reply current = replies[1];
    struct sq_reply prefetched = replies[2]; /* the next batch, already here */
    bool have_prefetched = true;
    sq_reply_clear(&replies[0]);
    for (;;) {
        if (current.status == STATUS_NO_MORE_FILES) {
            rc = 0;
            break;
        }
        if (current.status != STATUS_SUCCESS) {
            rc = op_fail(f, "list", current.status);
            break;
        }
        struct smb2_output_buffer out;
        rc = smb2_query_directory_response_decode(current.msg, current.len, &out);
        if (!rc)
            rc = print_entries(out.buffer, out.buffer_len, long_format);
        if (rc) {
            rc = conn_fail(f, "list", rc);
            break;
        }
        sq_reply_clear(&current);
        if (have_prefetched) {
            current = prefetched;
            have_prefetched = false;
            continue;
        }
        struct smb2_request next;
        rc = sq_req_query_directory(&next, &dir, false, false, DIR_BUFFER_LEN);
        if (rc) {
            writer_free(&next.msg);
            rc = conn_fail(f, "list", rc);
            break;
        }
        rc = sq_session_call(s, &next, 1, &current);
        if (rc) {
            rc = conn_fail(f, "list", rc);
            break;
        }
    }
    sq_reply_clear(&current);
    if (have_prefetched)
        sq_reply_clear(&prefetched);
    /* The listing's last round trip also leaves the server (CLOSE, TREE_DISCONNECT, LOGOFF). */
    uint32_t close_status;
    int crc = smb2_conn_error(sq_session_conn(s))
                  ? 0
                  : sq_session_close_file_and_leave(s, &dir, &close_status);
    if (!rc && crc)
        rc = conn_fail(f, "list", crc);
    return rc;
}

/* ---- mkdir: CREATE(FILE_CREATE, directory) + CLOSE ---- */

static int check_chain(struct sq_reply *replies, size_t n, const char *op, struct sq_failure *f)
{
    /* In a related compound a failure propagates to the later requests; the first failing
     * status is the one that explains it. */
    for (size_t i = 0; i < n; i++)
        if (replies[i].status != STATUS_SUCCESS)
            return op_fail(f, op, replies[i].status);
    return 0;
}

int cmd_mkdir(struct sq_session *s, const struct sq_options *o, struct sq_failure *f)
{
    int rc;
    struct smb2_request reqs[2];
    struct sq_reply replies[2];
    memset(reqs, 0, sizeof(reqs));
    rc = sq_req_create(&reqs[0], o->path, FILE_READ_ATTRIBUTES | SMB2_SYNCHRONIZE, FILE_CREATE,
                       FILE_DIRECTORY_FILE, 0);
    if (!rc)
        rc = sq_req_close(&reqs[1], &sq_related_file_id, true);
    if (rc) {
        free_requests(reqs, 2);
        return conn_fail(f, "mkdir", rc);
    }
    rc = sq_session_call(s, reqs, 2, replies);
    rc = rc ? conn_fail(f, "mkdir", rc) : check_chain(replies, 2, "mkdir", f);
    clear_replies(replies, 2);
    return rc;
}

/* ---- rm, rmdir: CREATE(DELETE) + SET_INFO(FileDispositionInformation) + CLOSE ----
 * Setting the disposition, rather than FILE_DELETE_ON_CLOSE, makes the server check at once
 * and answer STATUS_DIRECTORY_NOT_EMPTY for a non-empty directory (MS-FSCC 2.4.11); a
 * delete-on-close open of such a directory would succeed and silently not delete it. */
static int remove_path(struct sq_session *s, const char *path, const char *op, bool directory,
                       struct sq_failure *f)
{
    int rc;
    struct smb2_request reqs[3];
    struct sq_reply replies[3];
    struct writer info;
    writer_init(&info);
    memset(reqs, 0, sizeof(reqs));
    rc = sq_req_create(&reqs[0], path, SMB2_DELETE | FILE_READ_ATTRIBUTES, FILE_OPEN,
                       directory ? FILE_DIRECTORY_FILE : FILE_NON_DIRECTORY_FILE, 0);
    if (!rc)
        rc = smb2_file_disposition_info_encode(&info, true);
    if (!rc)
        rc = sq_req_set_info(&reqs[1], &sq_related_file_id, true, FILE_DISPOSITION_INFORMATION,
                             info.data, info.len);
    if (!rc)
        rc = sq_req_close(&reqs[2], &sq_related_file_id, true);
    writer_free(&info);
    if (rc) {
        free_requests(reqs, 3);
        return conn_fail(f, op, rc);
    }
    rc = sq_session_call(s, reqs, 3, replies);
    rc = rc ? conn_fail(f, op, rc) : check_chain(replies, 3, op, f);
    clear_replies(replies, 3);
    return rc;
}

int cmd_rm(struct sq_session *s, const struct sq_options *o, struct sq_failure *f)
{
    return remove_path(s, o->path, "remove", false, f);
}

int cmd_rmdir(struct sq_session *s, const struct sq_options *o, struct sq_failure *f)
{
    return remove_path(s, o->path, "rmdir", true, f);
}

/* ---- mv: CREATE(DELETE) + SET_INFO(FileRenameInformation) + CLOSE ---- */

int cmd_mv(struct sq_session *s, const struct sq_options *o, const char *new_path,
           struct sq_failure *f)
{
    uint8_t *new_name = NULL;
    size_t new_len = 0;
    int rc;
    struct smb2_request reqs[3];
    struct sq_reply replies[3];
    struct writer info;
    writer_init(&info);
    memset(reqs, 0, sizeof(reqs));
    rc = sq_req_create(&reqs[0], o->path, SMB2_DELETE | FILE_READ_ATTRIBUTES | SMB2_SYNCHRONIZE,
                       FILE_OPEN, 0, 0);
    if (!rc)
        rc = sq_path_to_smb(new_path, &new_name, &new_len);
    if (!rc)
        rc = smb2_file_rename_info_encode(&info, false, new_name, new_len);
    if (!rc)
        rc = sq_req_set_info(&reqs[1], &sq_related_file_id, true, FILE_RENAME_INFORMATION,
                             info.data, info.len);
    if (!rc)
        rc = sq_req_close(&reqs[2], &sq_related_file_id, true);
    free(new_name);
    writer_free(&info);
    if (rc) {
        free_requests(reqs, 3);
        return conn_fail(f, "rename", rc);
    }
    rc = sq_session_call(s, reqs, 3, replies);
    rc = rc ? conn_fail(f, "rename", rc) : check_chain(replies, 3, "rename", f);
    clear_replies(replies, 3);
    return rc;
}

/* ---- get / put: pipelined multi-credit transfers ---- */

struct transfer {
    struct sq_session *session;
    struct smb2_file_id file_id;
    int fd;               /* local file */
    uint64_t size;        /* bytes to move */
    uint64_t next_offset; /* next request's offset */
    uint64_t done_bytes;
    uint32_t chunk;
    unsigned window; /* requests in flight at most (io_window) */
    unsigned in_flight;
    bool is_read; /* get (READ) or put (WRITE) */
    bool finished;
    /* get to a pipe, terminal or device: no pwrite, so completed reads are written in order;
     * ones that arrive early wait in `held` (at most `window` of them). */
    bool sequential;
    uint64_t written; /* bytes written to fd so far (sequential only) */
    struct held_chunk *held;
    int err;         /* first local or connection error */
    int io_errno;    /* errno of the first local I/O error (err == SQ_ERR_IO) */
    uint32_t status; /* first failing NTSTATUS */
};

struct held_chunk {
    struct held_chunk *next;
    uint64_t offset;
    size_t len;
    uint8_t data[];
};

/* Writes all of p: at offset with pwrite, or (offset < 0) at the descriptor's position for
 * pipes. A short write is retried, so a full disk reports ENOSPC rather than nothing. */
static int write_all(int fd, const uint8_t *p, size_t len, int64_t offset)
{
    while (len) {
        ssize_t n = offset < 0 ? write(fd, p, len) : pwrite(fd, p, len, (off_t)offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            errno = EIO;
        if (n <= 0)
            return SQ_ERR_IO;
        p += n;
        len -= (size_t)n;
        if (offset >= 0)
            offset += n;
    }
    return 0;
}

/* Delivers one completed read to a non-seekable output, in file order. */
static int deliver_sequential(struct transfer *t, uint64_t offset, const uint8_t *data, size_t len)
{
    if (offset != t->written) {
        struct held_chunk *h = malloc(sizeof(*h) + len);
        if (!h)
            return SQ_ERR_NOMEM;
        h->offset = offset;
        h->len = len;
        memcpy(h->data, data, len);
        h->next = t->held;
        t->held = h;
        return 0;
    }
    int rc = write_all(t->fd, data, len, -1);
    t->written += len;
    for (bool again = true; !rc && again;) {
        again = false;
        for (struct held_chunk **pp = &t->held; *pp; pp = &(*pp)->next) {
            struct held_chunk *h = *pp;
            if (h->offset != t->written)
                continue;
            *pp = h->next;
            rc = write_all(t->fd, h->data, h->len, -1);
            t->written += h->len;
            free(h);
            again = true;
            break;
        }
    }
    return rc;
}

static void transfer_finish_check(struct transfer *t)
{
    if (t->in_flight == 0 && (t->err || t->status || t->next_offset >= t->size))
        t->finished = true;
}

static int transfer_issue(struct transfer *t);

/* Accounts one finished request of a transfer. */
static void transfer_request_done(struct transfer *t, int err, const struct smb2_reply *reply)
{
    t->in_flight--;
    if (err) {
        if (!t->err)
            t->err = err;
    } else if (reply->hdr.status != STATUS_SUCCESS && !t->status) {
        t->status = reply->hdr.status;
    }
    transfer_finish_check(t);
}

struct read_slot {
    struct transfer *t;
    uint64_t offset;
    uint32_t length;
};

/* Takes in one READ response (the whole message) for [offset, offset + length): writes its
 * data to the local file. Failures land in t->err. */
static void transfer_take_read(struct transfer *t, uint64_t offset, uint32_t length,
                               const uint8_t *msg, size_t msg_len)
{
    struct smb2_read_response rr;
    int rc = smb2_read_response_decode(msg, msg_len, &rr);
    if (rc || rr.data_len > length) {
        t->err = SQ_ERR_PROTO;
    } else if (rr.data_len && t->sequential &&
               (rc = deliver_sequential(t, offset, rr.data, rr.data_len)) != 0) {
        t->err = rc;
        t->io_errno = errno;
    } else if (rr.data_len && !t->sequential &&
               (rc = write_all(t->fd, rr.data, rr.data_len, (int64_t)offset)) != 0) {
        t->err = rc;
        t->io_errno = errno;
    } else {
        t->done_bytes += rr.data_len;
        /* A short read before the end we learned at open means the file shrank. */
        if (rr.data_len < length && offset + rr.data_len < t->size)
            t->size = offset + rr.data_len;
    }
}

static void read_slot_cb(void *arg, int err, const struct smb2_reply *reply)
{
    struct read_slot *slot = arg;
    struct transfer *t = slot->t;
    if (!err && reply->hdr.status == STATUS_SUCCESS && !t->err && !t->status)
        transfer_take_read(t, slot->offset, slot->length, reply->msg, reply->len);
    free(slot);
    transfer_request_done(t, err, reply);
    if (!t->finished)
        transfer_issue(t);
}

struct write_slot {
    struct transfer *t;
    uint32_t length;
};

/* Takes in one successful WRITE response for length bytes. */
static void transfer_take_write(struct transfer *t, uint32_t length, const uint8_t *msg,
                                size_t msg_len)
{
    struct smb2_write_response wr;
    if (smb2_write_response_decode(msg, msg_len, &wr) != 0 || wr.count != length) {
        /* A short write is not retried silently: report it as an I/O error. */
        if (!t->err)
            t->err = SQ_ERR_PROTO;
    } else {
        t->done_bytes += wr.count;
    }
}

static void write_slot_cb(void *arg, int err, const struct smb2_reply *reply)
{
    struct write_slot *slot = arg;
    struct transfer *t = slot->t;
    if (!err && reply->hdr.status == STATUS_SUCCESS)
        transfer_take_write(t, slot->length, reply->msg, reply->len);
    free(slot);
    transfer_request_done(t, err, reply);
    if (!t->finished)
        transfer_issue(t);
}

/* A READ of [offset, offset + len) of file_id (or, related, of the compound's CREATE). */
static int encode_read(struct smb2_request *r, uint32_t tree_id, const struct smb2_file_id *file_id,
                       bool related, uint64_t offset, uint32_t len)
{
    int rc = smb2_request_init(r, SMB2_READ, tree_id);
    if (!rc) {
        struct smb2_read_request rq = {
            .padding = SMB2_READ_RESPONSE_DATA_OFFSET,
            .length = len,
            .offset = offset,
            .file_id = *file_id,
        };
        rc = smb2_read_request_encode(&r->msg, &rq);
    }
    r->expected_response_len = len;
    r->related = related;
    return rc;
}

static int issue_read(struct transfer *t)
{
    uint64_t left = t->size - t->next_offset;
    uint32_t len = left < t->chunk ? (uint32_t)left : t->chunk;
    struct read_slot *slot = malloc(sizeof(*slot));
    if (!slot)
        return SQ_ERR_NOMEM;
    slot->t = t;
    slot->offset = t->next_offset;
    slot->length = len;
    struct smb2_request r;
    int rc =
        encode_read(&r, sq_session_tree_id(t->session), &t->file_id, false, t->next_offset, len);
    r.cb = read_slot_cb;
    r.arg = slot;
    if (!rc)
        rc = smb2_conn_submit(sq_session_conn(t->session), &r, 1);
    else
        writer_free(&r.msg);
    if (rc) {
        free(slot);
        return rc;
    }
    t->in_flight++;
    t->next_offset += len;
    return 0;
}

/* Encodes the WRITE of the transfer's next chunk, read from the local file, into r (of
 * t->file_id, or related: of the compound's CREATE) and advances next_offset. *len is 0 when
 * a pipe ended exactly at the chunk boundary: then no request was made and t->size is set.
 * A local read failure sets t->io_errno and returns SQ_ERR_IO. */
static int build_write(struct transfer *t, struct smb2_request *r, bool related, uint32_t *len_out)
{
    uint64_t left = t->size - t->next_offset;
    uint32_t len = left < t->chunk ? (uint32_t)left : t->chunk;
    *len_out = 0;
    int rc = smb2_request_init(r, SMB2_WRITE, sq_session_tree_id(t->session));
    const struct smb2_file_id *file_id = related ? &sq_related_file_id : &t->file_id;
    if (!rc) {
        struct smb2_write_request wq = {
            .offset = t->next_offset,
            .file_id = *file_id,
            .length = len,
        };
        rc = smb2_write_request_encode_header(&r->msg, &wq);
    }
    r->related = related;
    /* Read the local data straight into the request: no intermediate copy. */
    uint8_t *payload = rc ? NULL : writer_extend(&r->msg, len);
    if (!rc && !payload)
        rc = writer_error(&r->msg);
    if (!rc && t->sequential) {
        /* A pipe: read until the chunk is full or the input ends. */
        size_t got = 0;
        while (got < len) {
            ssize_t n = read(t->fd, payload + got, len - got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                rc = SQ_ERR_IO;
                t->io_errno = errno;
                break;
            }
            if (n == 0)
                break;
            got += (size_t)n;
        }
        if (!rc && got < len) {
            t->size = t->next_offset + got; /* end of input */
            if (got == 0) {
                writer_free(&r->msg);
                return 0;
            }
            /* Rewrite the header for the shorter payload. */
            r->msg.len = SMB2_HEADER_SIZE;
            struct smb2_write_request wq = {
                .offset = t->next_offset,
                .file_id = *file_id,
                .length = (uint32_t)got,
            };
            rc = smb2_write_request_encode_header(&r->msg, &wq);
            if (!rc && writer_extend(&r->msg, got) == NULL)
                rc = writer_error(&r->msg);
            len = (uint32_t)got;
        }
    } else if (!rc) {
        ssize_t n = pread(t->fd, payload, len, (off_t)t->next_offset);
        if (n != (ssize_t)len) {
            rc = SQ_ERR_IO;
            t->io_errno = n < 0 ? errno : EIO; /* short: the file shrank under us */
        }
    }
    if (rc) {
        writer_free(&r->msg);
        return rc;
    }
    t->next_offset += len;
    *len_out = len;
    return 0;
}

static int issue_write(struct transfer *t)
{
    struct write_slot *slot = malloc(sizeof(*slot));
    if (!slot)
        return SQ_ERR_NOMEM;
    struct smb2_request r;
    uint32_t len;
    int rc = build_write(t, &r, false, &len);
    if (rc || len == 0) {
        free(slot);
        return rc;
    }
    slot->t = t;
    slot->length = len;
    r.cb = write_slot_cb;
    r.arg = slot;
    rc = smb2_conn_submit(sq_session_conn(t->session), &r, 1);
    if (rc) {
        free(slot);
        return rc;
    }
    t->in_flight++;
    return 0;
}

static bool transfer_can_issue(const struct transfer *t)
{
    return !t->err && !t->status && t->in_flight < t->window && t->next_offset < t->size;
}

/* Issues up to ISSUE_BATCH requests while the window has room. */
static int transfer_issue(struct transfer *t)
{
    for (unsigned n = 0; n < ISSUE_BATCH && transfer_can_issue(t); n++) {
        int rc = t->is_read ? issue_read(t) : issue_write(t);
        if (rc) {
            t->err = rc;
            break;
        }
    }
    transfer_finish_check(t);
    return t->err;
}

/* CREATE and, related to it, a transfer's first READ or WRITE as one compound (MS-SMB2
 * 3.2.4.1.4; the server runs the second on the handle the first opened, 3.3.5.2.7.2): a file
 * of up to one chunk costs one round trip instead of two, a larger one starts a round trip
 * sooner. first (NULL: a CREATE alone) passes to the connection. On success *cr is the
 * CREATE's response and *first_reply the I/O's reply, for the caller to clear; when the
 * CREATE fails the I/O fails with it and only the CREATE's status is reported. */
static int open_with_first_io(struct sq_session *s, const char *path, uint32_t access,
                              uint32_t disposition, struct smb2_request *first,
                              const char *first_op, struct smb2_create_response *cr,
                              struct sq_reply *first_reply, struct sq_failure *f)
{
    struct smb2_request reqs[2];
    struct sq_reply replies[2];
    memset(reqs, 0, sizeof(reqs));
    memset(replies, 0, sizeof(replies));
    int rc = sq_req_create(&reqs[0], path, access, disposition, FILE_NON_DIRECTORY_FILE,
                           FILE_ATTRIBUTE_NORMAL);
    if (first)
        reqs[1] = *first;
    size_t count = first ? 2 : 1;
    if (rc) {
        free_requests(reqs, count);
        return conn_fail(f, "open", rc);
    }
    rc = sq_session_call(s, reqs, count, replies);
    bool opened = replies[0].done && !replies[0].err && replies[0].status == STATUS_SUCCESS;
    if (rc) /* name the request that broke the connection: the I/O when the CREATE got through */
        rc = conn_fail(f, opened ? first_op : "open", rc);
    else if (replies[0].status != STATUS_SUCCESS)
        rc = op_fail(f, "open", replies[0].status);
    else if (smb2_create_response_decode(replies[0].msg, replies[0].len, cr) != 0)
        rc = conn_fail(f, "open", SQ_ERR_PROTO);
    sq_reply_clear(&replies[0]);
    if (rc) {
        sq_reply_clear(&replies[1]);
        return rc;
    }
    *first_reply = replies[1];
    return 0;
}

static uint32_t io_chunk(uint32_t server_max, uint32_t cap)
{
    uint32_t chunk = server_max < cap ? server_max : cap;
    return chunk ? chunk : 65536;
}

/* Requests to keep in flight for a path of this round-trip time (see IO_WINDOW_MIN). */
static unsigned io_window(uint64_t rtt_us, uint32_t chunk)
{
    uint64_t bytes = sq_io_bytes_in_flight(rtt_us);
    uint64_t n = (bytes + chunk - 1) / chunk;
    return n < IO_WINDOW_MIN ? IO_WINDOW_MIN : n > IO_WINDOW_MAX ? IO_WINDOW_MAX : (unsigned)n;
}

static int run_transfer(struct sq_session *s, struct transfer *t)
{
    /* NEGOTIATE, SESSION_SETUP, TREE_CONNECT and CREATE have given the transport several
     * round trips to measure. */
    uint64_t rtt_us = sq_session_rtt_us(s);
    t->window = io_window(rtt_us, t->chunk);
    sq_log(SQ_LOG_DEBUG, "%s: %u requests of %u bytes in flight (round trip %.1f ms)",
           t->is_read ? "get" : "put", t->window, t->chunk, (double)rtt_us / 1000.0);
    /* Fill the window a batch at a time, with an I/O pass that does not wait in between. A
     * connection that fails there fails the pending requests, which ends the transfer. */
    transfer_issue(t);
    while (!t->finished && transfer_can_issue(t)) {
        int rc = sq_session_run_for(s, &t->finished, 0);
        if (rc && rc != SQ_ERR_TIMEOUT)
            return rc;
        transfer_issue(t);
    }
    return sq_session_run_until(s, &t->finished);
}

int cmd_get(struct sq_session *s, const struct sq_options *o, const char *local,
            struct sq_failure *f)
{
    uint32_t chunk = io_chunk(sq_session_info(s)->max_read, READ_CHUNK_MAX);
    struct smb2_request first;
    struct sq_reply first_reply;
    struct smb2_create_response cr;
    int rc = encode_read(&first, sq_session_tree_id(s), &sq_related_file_id, true, 0, chunk);
    if (rc) {
        writer_free(&first.msg);
        return conn_fail(f, "open", rc);
    }
    rc = open_with_first_io(s, o->path, FILE_READ_DATA | FILE_READ_ATTRIBUTES | SMB2_SYNCHRONIZE,
                            FILE_OPEN, &first, "read", &cr, &first_reply, f);
    if (rc)
        return rc;
    /* "-" is standard output, as with cp-like tools in scripts. */
    bool to_stdout = strcmp(local, "-") == 0;
    int fd =
        to_stdout ? STDOUT_FILENO : open(local, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        int open_errno = errno;
        sq_reply_clear(&first_reply);
        close_handle(s, &cr.file_id);
        errno = open_errno;
        return local_fail(f, "get", SQ_ERR_IO, "cannot create %s: %s", local);
    }
    struct stat st;
    bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if (!regular) {
        /* Pipes may come non-blocking from the caller; we want plain blocking writes. */
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0 && (fl & O_NONBLOCK))
            (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    }
    struct transfer t = {
        .session = s,
        .file_id = cr.file_id,
        .fd = fd,
        .size = cr.end_of_file,
        .is_read = true,
        .sequential = !regular,
        .chunk = chunk,
    };
    /* The compound's READ brought the first chunk, or said that the file is empty (a READ at
     * or past the end fails with STATUS_END_OF_FILE, MS-SMB2 3.3.5.12). */
    if (first_reply.err)
        t.err = first_reply.err;
    else if (first_reply.status == STATUS_SUCCESS)
        transfer_take_read(&t, 0, chunk, first_reply.msg, first_reply.len);
    else if (first_reply.status == STATUS_END_OF_FILE)
        t.size = 0;
    else
        t.status = first_reply.status;
    sq_reply_clear(&first_reply);
    t.next_offset = t.size < chunk ? t.size : chunk;
    rc = run_transfer(s, &t);
    if (!rc)
        rc = t.err;
    while (t.held) {
        struct held_chunk *h = t.held;
        t.held = h->next;
        free(h);
    }
    /* The last round trip: CLOSE, TREE_DISCONNECT and LOGOFF together. A failing CLOSE
     * after the reads does not make the data we have wrong. */
    uint32_t close_status = 0;
    int crc = smb2_conn_error(sq_session_conn(s))
                  ? 0
                  : sq_session_close_file_and_leave(s, &cr.file_id, &close_status);
    /* The file may have shrunk while we read it: cut what we preallocated by offset. */
    if (!rc && !t.status && regular && ftruncate(fd, (off_t)t.size) != 0) {
        rc = SQ_ERR_IO;
        t.io_errno = errno;
    }
    if (!to_stdout && close(fd) != 0 && !rc) {
        rc = SQ_ERR_IO;
        t.io_errno = errno;
    }
    if (t.status)
        return op_fail(f, "read", t.status);
    if (rc == SQ_ERR_IO) {
        /* The failed write's errno: the CLOSE exchanged since may have changed errno. */
        errno = t.io_errno ? t.io_errno : EIO;
        return local_fail(f, "get", rc, "cannot write %s: %s", local);
    }
    if (rc)
        return conn_fail(f, "read", rc);
    if (crc)
        return conn_fail(f, "close", crc);
    return 0;
}

int cmd_put(struct sq_session *s, const struct sq_options *o, const char *local,
            struct sq_failure *f)
{
    /* "-" is standard input; pipes and FIFOs are read in order until they end. */
    bool from_stdin = strcmp(local, "-") == 0;
    int fd = from_stdin ? STDIN_FILENO : open(local, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return local_fail(f, "put", SQ_ERR_IO, "cannot open %s: %s", local);
    struct stat st;
    if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        if (!from_stdin)
            close(fd);
        errno = EISDIR;
        return local_fail(f, "put", SQ_ERR_IO, "cannot read %s: %s", local);
    }
    bool regular = S_ISREG(st.st_mode);
    if (!regular) {
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0 && (fl & O_NONBLOCK))
            (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    }
    struct transfer t = {
        .session = s,
        .fd = fd,
        .size = regular ? (uint64_t)st.st_size : UINT64_MAX,
        .sequential = !regular,
        .chunk = io_chunk(sq_session_info(s)->max_write, WRITE_CHUNK_MAX),
    };
    /* The first chunk goes with the CREATE. It is read before anything is sent, so a file we
     * cannot read leaves the remote one untouched. */
    struct smb2_request first;
    uint32_t first_len = 0;
    int rc = t.size > 0 ? build_write(&t, &first, true, &first_len) : 0;
    if (rc) {
        if (!from_stdin)
            close(fd);
        if (rc != SQ_ERR_IO)
            return conn_fail(f, "write", rc);
        errno = t.io_errno ? t.io_errno : EIO;
        return local_fail(f, "put", rc, "cannot read %s: %s", local);
    }
    struct smb2_create_response cr;
    struct sq_reply first_reply;
    rc = open_with_first_io(
        s, o->path,
        FILE_WRITE_DATA | FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES | SMB2_SYNCHRONIZE,
        FILE_OVERWRITE_IF, first_len ? &first : NULL, "write", &cr, &first_reply, f);
    if (rc) {
        if (!from_stdin)
            close(fd);
        return rc;
    }
    t.file_id = cr.file_id;
    if (first_len) {
        if (first_reply.err)
            t.err = first_reply.err;
        else if (first_reply.status != STATUS_SUCCESS)
            t.status = first_reply.status;
        else
            transfer_take_write(&t, first_len, first_reply.msg, first_reply.len);
        sq_reply_clear(&first_reply);
    }
    rc = run_transfer(s, &t);
    if (!rc)
        rc = t.err;
    if (!from_stdin)
        close(fd);
    /* CLOSE makes the server commit what we wrote; its failure is the put's failure. It
     * goes with TREE_DISCONNECT and LOGOFF: one round trip ends the command. */
    uint32_t close_status = 0;
    int crc = smb2_conn_error(sq_session_conn(s))
                  ? 0
                  : sq_session_close_file_and_leave(s, &cr.file_id, &close_status);
    if (t.status)
        return op_fail(f, "write", t.status);
    if (rc == SQ_ERR_IO) {
        errno = t.io_errno ? t.io_errno : EIO; /* the read's, not the CLOSE's since */
        return local_fail(f, "put", rc, "cannot read %s: %s", local);
    }
    if (rc)
        return conn_fail(f, "write", rc);
    if (crc)
        return conn_fail(f, "close", crc);
    if (close_status != STATUS_SUCCESS)
        return op_fail(f, "close", close_status);
    return 0;
}
