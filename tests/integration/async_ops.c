/* Drives the engine against a real Samba (started by test_async.sh) through the requests the
 * CLI does not use: interim STATUS_PENDING responses and CANCEL (MS-SMB2 3.2.4.24, 3.2.5.1.5),
 * CHANGE_NOTIFY, blocking LOCK, ECHO, FLUSH, and compounds of three. Prints TAP-style lines
 * and exits non-zero on the first failure.
 *
 * usage: async_ops OPTIONS   (the CLI's -o string, e.g. port=N,transport=tcp,username=U;
 *                            the password in $PASSWD)
 *        async_ops PORT USER (the same as port=PORT,transport=tcp,username=USER)   */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/options.h"
#include "client/session.h"
#include "smb2/msg.h"
#include "smb2/ntstatus.h"
#include "util/error.h"
#include "util/utf16.h"

static int failures;

#define CHECK(cond, ...)                                                                        \
    do {                                                                                        \
        if (cond) {                                                                             \
            printf("ok - ");                                                                    \
        } else {                                                                                \
            printf("not ok - ");                                                                \
            failures++;                                                                         \
        }                                                                                       \
        printf(__VA_ARGS__);                                                                    \
        printf("\n");                                                                           \
        fflush(stdout);                                                                         \
    } while (0)

struct outcome {
    bool done;
    int err;
    uint32_t status;
    uint8_t *msg;
    size_t len;
};

static void outcome_cb(void *arg, int err, const struct smb2_reply *reply)
{
    struct outcome *o = arg;
    o->done = true;
    o->err = err;
    if (!err) {
        o->status = reply->hdr.status;
        o->msg = malloc(reply->len);
        if (o->msg) {
            memcpy(o->msg, reply->msg, reply->len);
            o->len = reply->len;
        }
    }
}

static int open_file(struct sq_session *s, const char *path, uint32_t access,
                     uint32_t disposition, uint32_t options, struct smb2_file_id *id)
{
    uint8_t *name;
    size_t name_len;
    if (utf8_to_utf16le(path, strlen(path), &name, &name_len))
        return -1;
    struct smb2_request req;
    smb2_request_init(&req, SMB2_CREATE, 0);
    struct smb2_create_request c = {
        .impersonation_level = SMB2_IMPERSONATION_IMPERSONATION,
        .desired_access = access,
        .share_access = FILE_SHARE_ALL,
        .create_disposition = disposition,
        .create_options = options,
        .name = name,
        .name_len = name_len,
    };
    int rc = smb2_create_request_encode(&req.msg, &c);
    free(name);
    struct sq_reply reply;
    if (!rc)
        rc = sq_session_call(s, &req, 1, &reply);
    else
        writer_free(&req.msg);
    if (rc)
        return rc;
    struct smb2_create_response cr;
    if (reply.status != STATUS_SUCCESS ||
        smb2_create_response_decode(reply.msg, reply.len, &cr) != 0) {
        rc = -1;
    } else {
        *id = cr.file_id;
    }
    sq_reply_clear(&reply);
    return rc;
}

static void close_file(struct sq_session *s, const struct smb2_file_id *id)
{
    struct smb2_request req;
    smb2_request_init(&req, SMB2_CLOSE, 0);
    struct smb2_close_request c = {.file_id = *id};
    smb2_close_request_encode(&req.msg, &c);
    struct sq_reply reply;
    sq_session_call(s, &req, 1, &reply);
    sq_reply_clear(&reply);
}

static int submit(struct sq_session *s, struct smb2_request *req, struct outcome *o,
                  uint64_t *message_id)
{
    memset(o, 0, sizeof(*o));
    req->tree_id = sq_session_tree_id(s);
    req->cb = outcome_cb;
    req->arg = o;
    req->message_id_out = message_id;
    return smb2_conn_submit(sq_session_conn(s), req, 1);
}

static void test_change_notify(struct sq_session *s)
{
    struct smb2_file_id dir, file;
    CHECK(open_file(s, "watched", FILE_LIST_DIRECTORY | FILE_READ_ATTRIBUTES | SMB2_SYNCHRONIZE,
                    FILE_OPEN_IF, FILE_DIRECTORY_FILE, &dir) == 0,
          "create directory to watch");

    /* 1. A CHANGE_NOTIFY waits on the server (interim STATUS_PENDING), then a change in the
     *    directory completes it with the file's name. */
    struct smb2_request req;
    struct outcome notify;
    uint64_t mid = 0;
    smb2_request_init(&req, SMB2_CHANGE_NOTIFY, 0);
    struct smb2_change_notify_request nr = {
        .output_buffer_length = 4096,
        .file_id = dir,
        .completion_filter = FILE_NOTIFY_CHANGE_FILE_NAME,
    };
    smb2_change_notify_request_encode(&req.msg, &nr);
    req.expected_response_len = 4096;
    CHECK(submit(s, &req, &notify, &mid) == 0, "CHANGE_NOTIFY submitted");
    int rc = sq_session_run_for(s, &notify.done, 500);
    CHECK(rc == SQ_ERR_TIMEOUT && !notify.done,
          "CHANGE_NOTIFY is still pending after 500 ms (interim response handled)");
    CHECK(smb2_conn_pending_count(sq_session_conn(s)) == 1, "exactly one request pending");

    CHECK(open_file(s, "watched\\new-file", FILE_READ_ATTRIBUTES | FILE_WRITE_DATA,
                    FILE_CREATE, FILE_NON_DIRECTORY_FILE, &file) == 0,
          "create a file in the watched directory");
    close_file(s, &file);
    rc = sq_session_run_for(s, &notify.done, 10000);
    CHECK(rc == 0 && notify.done && notify.err == 0 && notify.status == STATUS_SUCCESS,
          "CHANGE_NOTIFY completed with STATUS_SUCCESS (status 0x%08x)", notify.status);
    bool found = false;
    if (notify.msg) {
        struct smb2_output_buffer out;
        if (smb2_change_notify_response_decode(notify.msg, notify.len, &out) == 0) {
            struct reader r;
            reader_init(&r, out.buffer, out.buffer_len);
            struct smb2_notify_info ni;
            while (smb2_notify_info_next(&r, &ni) == 1) {
                char *name;
                if (utf16le_to_utf8(ni.name, ni.name_len, &name) == 0) {
                    if (strcmp(name, "new-file") == 0 && ni.action == FILE_ACTION_ADDED)
                        found = true;
                    free(name);
                }
            }
        }
    }
    CHECK(found, "notification names new-file as FILE_ACTION_ADDED");
    free(notify.msg);

    /* 2. A pending CHANGE_NOTIFY cancelled: the request completes with STATUS_CANCELLED. */
    smb2_request_init(&req, SMB2_CHANGE_NOTIFY, 0);
    smb2_change_notify_request_encode(&req.msg, &nr);
    req.expected_response_len = 4096;
    CHECK(submit(s, &req, &notify, &mid) == 0, "second CHANGE_NOTIFY submitted");
    rc = sq_session_run_for(s, &notify.done, 300);
    CHECK(rc == SQ_ERR_TIMEOUT, "second CHANGE_NOTIFY pending");
    CHECK(smb2_conn_cancel(sq_session_conn(s), mid) == 0, "CANCEL sent");
    rc = sq_session_run_for(s, &notify.done, 10000);
    CHECK(rc == 0 && notify.done && notify.status == STATUS_CANCELLED,
          "cancelled CHANGE_NOTIFY completed with STATUS_CANCELLED (status 0x%08x, %s)",
          notify.status, sq_strerror(notify.err));
    free(notify.msg);
    CHECK(smb2_conn_sent_count(sq_session_conn(s), SMB2_CANCEL) == 1, "one CANCEL counted");
    close_file(s, &dir);
}

static void lock_request(struct smb2_request *req, const struct smb2_file_id *id,
                         const struct smb2_lock_element *el)
{
    smb2_request_init(req, SMB2_LOCK, 0);
    struct smb2_lock_request lr = {.file_id = *id, .locks = el, .lock_count = 1};
    smb2_lock_request_encode(&req->msg, &lr);
}

static void test_blocking_lock(struct sq_session *s)
{
    struct smb2_file_id a, b;
    CHECK(open_file(s, "locked", FILE_READ_DATA | FILE_WRITE_DATA, FILE_OVERWRITE_IF,
                    FILE_NON_DIRECTORY_FILE, &a) == 0 &&
              open_file(s, "locked", FILE_READ_DATA | FILE_WRITE_DATA, FILE_OPEN,
                        FILE_NON_DIRECTORY_FILE, &b) == 0,
          "two handles on one file");
    struct smb2_lock_element excl = {.offset = 0, .length = 100,
                                     .flags = SMB2_LOCKFLAG_EXCLUSIVE_LOCK |
                                              SMB2_LOCKFLAG_FAIL_IMMEDIATELY};
    struct smb2_request req;
    struct outcome first, second;
    uint64_t mid = 0;
    lock_request(&req, &a, &excl);
    submit(s, &req, &first, &mid);
    sq_session_run_for(s, &first.done, 10000);
    CHECK(first.done && first.status == STATUS_SUCCESS, "exclusive lock on handle A");
    free(first.msg);

    /* Immediate conflict. */
    lock_request(&req, &b, &excl);
    submit(s, &req, &second, &mid);
    sq_session_run_for(s, &second.done, 10000);
    CHECK(second.done && second.status == STATUS_LOCK_NOT_GRANTED,
          "conflicting FAIL_IMMEDIATELY lock on handle B: STATUS_LOCK_NOT_GRANTED (0x%08x)",
          second.status);
    free(second.msg);

    /* A blocking lock goes async; CANCEL ends it. */
    struct smb2_lock_element blocking = {.offset = 0, .length = 100,
                                         .flags = SMB2_LOCKFLAG_EXCLUSIVE_LOCK};
    lock_request(&req, &b, &blocking);
    submit(s, &req, &second, &mid);
    int rc = sq_session_run_for(s, &second.done, 500);
    CHECK(rc == SQ_ERR_TIMEOUT && !second.done, "blocking lock is pending");
    smb2_conn_cancel(sq_session_conn(s), mid);
    sq_session_run_for(s, &second.done, 10000);
    CHECK(second.done && second.status == STATUS_CANCELLED,
          "cancelled blocking lock: STATUS_CANCELLED (0x%08x)", second.status);
    free(second.msg);

    /* A blocking lock granted when the holder unlocks. */
    lock_request(&req, &b, &blocking);
    submit(s, &req, &second, &mid);
    sq_session_run_for(s, &second.done, 300);
    struct smb2_lock_element unlock = {.offset = 0, .length = 100,
                                       .flags = SMB2_LOCKFLAG_UNLOCK};
    lock_request(&req, &a, &unlock);
    submit(s, &req, &first, &mid);
    sq_session_run_for(s, &first.done, 10000);
    CHECK(first.done && first.status == STATUS_SUCCESS, "unlock on handle A");
    sq_session_run_for(s, &second.done, 10000);
    CHECK(second.done && second.status == STATUS_SUCCESS,
          "pending lock on handle B granted after the unlock (0x%08x)", second.status);
    free(first.msg);
    free(second.msg);
    close_file(s, &a);
    close_file(s, &b);
}

static void test_echo_flush_compound(struct sq_session *s)
{
    struct smb2_request req;
    struct sq_reply reply;
    smb2_request_init(&req, SMB2_ECHO, 0);
    smb2_echo_request_encode(&req.msg);
    int rc = sq_session_call(s, &req, 1, &reply);
    CHECK(rc == 0 && reply.status == STATUS_SUCCESS &&
              smb2_echo_response_decode(reply.msg, reply.len) == 0,
          "ECHO");
    sq_reply_clear(&reply);

    /* CREATE + WRITE + FLUSH + CLOSE related compound, then read back. */
    static const char payload[] = "compound payload";
    uint8_t *name;
    size_t name_len;
    utf8_to_utf16le("compound.txt", 12, &name, &name_len);
    struct smb2_request reqs[4];
    struct sq_reply replies[4];
    const struct smb2_file_id related = {UINT64_MAX, UINT64_MAX};
    smb2_request_init(&reqs[0], SMB2_CREATE, 0);
    struct smb2_create_request c = {
        .impersonation_level = SMB2_IMPERSONATION_IMPERSONATION,
        .desired_access = FILE_WRITE_DATA | FILE_READ_ATTRIBUTES,
        .share_access = FILE_SHARE_ALL,
        .create_disposition = FILE_OVERWRITE_IF,
        .create_options = FILE_NON_DIRECTORY_FILE,
        .name = name,
        .name_len = name_len,
    };
    smb2_create_request_encode(&reqs[0].msg, &c);
    free(name);
    smb2_request_init(&reqs[1], SMB2_WRITE, 0);
    struct smb2_write_request w = {.file_id = related,
                                   .data = (const uint8_t *)payload,
                                   .length = sizeof(payload) - 1};
    smb2_write_request_encode(&reqs[1].msg, &w);
    reqs[1].related = true;
    smb2_request_init(&reqs[2], SMB2_FLUSH, 0);
    smb2_flush_request_encode(&reqs[2].msg, &related);
    reqs[2].related = true;
    smb2_request_init(&reqs[3], SMB2_CLOSE, 0);
    struct smb2_close_request cl = {.flags = SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB,
                                    .file_id = related};
    smb2_close_request_encode(&reqs[3].msg, &cl);
    reqs[3].related = true;
    rc = sq_session_call(s, reqs, 4, replies);
    struct smb2_write_response wr = {0};
    struct smb2_close_response cr = {0};
    bool ok = rc == 0;
    for (int i = 0; ok && i < 4; i++)
        ok = replies[i].status == STATUS_SUCCESS;
    ok = ok && smb2_write_response_decode(replies[1].msg, replies[1].len, &wr) == 0 &&
         smb2_flush_response_decode(replies[2].msg, replies[2].len) == 0 &&
         smb2_close_response_decode(replies[3].msg, replies[3].len, &cr) == 0;
    CHECK(ok && wr.count == sizeof(payload) - 1 && cr.end_of_file == sizeof(payload) - 1,
          "CREATE+WRITE+FLUSH+CLOSE compound: %u bytes written, size %llu after close",
          wr.count, (unsigned long long)cr.end_of_file);
    for (int i = 0; i < 4; i++)
        sq_reply_clear(&replies[i]);
}

/* ---- lease break between two sessions (MS-SMB2 3.2.5.19.2, 3.2.4.25) ---- */

struct break_seen {
    bool done;
    struct smb2_break brk;
};

static void break_cb(void *arg, const struct smb2_reply *reply)
{
    struct break_seen *b = arg;
    if (smb2_oplock_break_decode(reply->msg, reply->len, &b->brk) == 0)
        b->done = true;
}

static void test_lease_break(struct sq_session *s1, struct sq_session *s2)
{
    uint8_t *name;
    size_t name_len;
    utf8_to_utf16le("leased.txt", 10, &name, &name_len);
    struct smb2_lease lease = {.state = SMB2_LEASE_READ_CACHING | SMB2_LEASE_WRITE_CACHING |
                                        SMB2_LEASE_HANDLE_CACHING};
    memcpy(lease.key, "smbquic-lease-01", 16);
    struct smb2_request req;
    smb2_request_init(&req, SMB2_CREATE, 0);
    struct smb2_create_request c = {
        .requested_oplock_level = SMB2_OPLOCK_LEVEL_LEASE,
        .impersonation_level = SMB2_IMPERSONATION_IMPERSONATION,
        .desired_access = FILE_READ_DATA | FILE_WRITE_DATA | FILE_READ_ATTRIBUTES,
        .share_access = FILE_SHARE_ALL,
        .create_disposition = FILE_OVERWRITE_IF,
        .create_options = FILE_NON_DIRECTORY_FILE,
        .name = name,
        .name_len = name_len,
        .lease = &lease,
    };
    smb2_create_request_encode(&req.msg, &c);
    struct sq_reply reply;
    int rc = sq_session_call(s1, &req, 1, &reply);
    struct smb2_create_response cr = {0};
    bool ok = rc == 0 && reply.status == STATUS_SUCCESS &&
              smb2_create_response_decode(reply.msg, reply.len, &cr) == 0;
    CHECK(ok && cr.has_lease && cr.lease.state == lease.state,
          "session 1 holds a RWH lease (granted state 0x%x)", cr.lease.state);
    sq_reply_clear(&reply);
    struct smb2_file_id leased = cr.file_id;

    struct break_seen seen = {0};
    smb2_conn_set_break_callback(sq_session_conn(s1), break_cb, &seen);

    /* Session 2 opens the same file for writing: the server breaks session 1's lease and
     * holds session 2's CREATE until session 1 acknowledges. */
    struct outcome second;
    uint64_t mid;
    smb2_request_init(&req, SMB2_CREATE, 0);
    c.requested_oplock_level = SMB2_OPLOCK_LEVEL_NONE;
    c.lease = NULL;
    c.create_disposition = FILE_OPEN;
    smb2_create_request_encode(&req.msg, &c);
    free(name);
    submit(s2, &req, &second, &mid);
    sq_session_run_for(s2, &second.done, 300);
    rc = sq_session_run_for(s1, &seen.done, 10000);
    CHECK(rc == 0 && seen.done && seen.brk.kind == SMB2_BREAK_LEASE_NOTIFY &&
              memcmp(seen.brk.lease_key, lease.key, 16) == 0,
          "session 1 received a lease break notification for its lease key");
    CHECK(seen.brk.flags & SMB2_NOTIFY_BREAK_LEASE_FLAG_ACK_REQUIRED,
          "the break requires an acknowledgment (0x%x -> 0x%x)", seen.brk.lease_state,
          seen.brk.new_lease_state);

    smb2_request_init(&req, SMB2_OPLOCK_BREAK, 0);
    smb2_lease_break_ack_encode(&req.msg, lease.key, seen.brk.new_lease_state);
    rc = sq_session_call(s1, &req, 1, &reply);
    struct smb2_break ack = {0};
    CHECK(rc == 0 && reply.status == STATUS_SUCCESS &&
              smb2_oplock_break_decode(reply.msg, reply.len, &ack) == 0 &&
              ack.kind == SMB2_BREAK_LEASE_RESPONSE &&
              ack.lease_state == seen.brk.new_lease_state,
          "lease break acknowledged (status 0x%08x)", reply.status);
    sq_reply_clear(&reply);

    rc = sq_session_run_for(s2, &second.done, 10000);
    CHECK(rc == 0 && second.done && second.status == STATUS_SUCCESS,
          "session 2's open completed after the acknowledgment (0x%08x)", second.status);
    struct smb2_create_response cr2;
    if (second.msg && smb2_create_response_decode(second.msg, second.len, &cr2) == 0)
        close_file(s2, &cr2.file_id);
    free(second.msg);
    close_file(s1, &leased);
    smb2_conn_set_break_callback(sq_session_conn(s1), NULL, NULL);
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: async_ops OPTIONS | async_ops PORT USER (password in $PASSWD)\n");
        return 2;
    }
    struct sq_options o;
    sq_options_init(&o);
    char why[256], opts[1024];
    if (argc == 2)
        snprintf(opts, sizeof(opts), "%s", argv[1]);
    else
        snprintf(opts, sizeof(opts), "port=%s,transport=tcp,username=%s", argv[1], argv[2]);
    if (sq_options_parse(&o, opts, why, sizeof(why)) ||
        sq_options_parse_unc(&o, "//127.0.0.1/share", true, why, sizeof(why))) {
        fprintf(stderr, "%s\n", why);
        return 2;
    }
    struct sq_failure f;
    struct sq_session *s;
    if (sq_session_open(&o, &s, &f) != 0) {
        printf("not ok - connect: %s\n", f.detail);
        return 1;
    }
    test_change_notify(s);
    test_blocking_lock(s);
    test_echo_flush_compound(s);
    struct sq_session *s2;
    if (sq_session_open(&o, &s2, &f) == 0) {
        test_lease_break(s, s2);
        CHECK(smb2_conn_error(sq_session_conn(s2)) == 0, "second connection healthy");
        sq_session_close(s2);
    } else {
        CHECK(false, "second connection: %s", f.detail);
    }
    CHECK(smb2_conn_error(sq_session_conn(s)) == 0, "connection still healthy at the end");
    sq_session_close(s);
    sq_options_free(&o);
    printf("%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
