/* Unit tests for src/auth/gss.c: real SPNEGO/NTLMSSP exchanges against an in-process
 * gss-ntlmssp acceptor (no mocks). gss-ntlmssp verifies the initiator's NTLMv2 response
 * against the file named by NTLM_USER_FILE ("DOMAIN:user:password" lines, the Heimdal
 * format). The Kerberos environment is made hermetic: empty krb5.conf, no ccache, no keytabs. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>

#include "auth/gss.h"
#include "util/error.h"

#define TEST_DOMAIN   "TESTDOM"
#define TEST_USER     "testuser"
#define TEST_PASSWORD "testpassword"

static char tmpdir[] = "/tmp/smbquic-auth-XXXXXX";
static char users_path[256], krb5_conf_path[256];

static gss_OID_desc spnego_oid = {6, (void *)"\x2b\x06\x01\x05\x05\x02"};
static gss_OID_desc session_key_oid = {11, (void *)"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02\x05\x05"};

struct acceptor {
    gss_cred_id_t cred;
    gss_ctx_id_t ctx;
    OM_uint32 major;
    OM_uint32 minor;
    bool complete;
    OM_uint32 flags; /* ret_flags of the last gss_accept_sec_context */
    char peer[128];
};

struct exchange {
    int rc;           /* last auth_step result */
    bool done;        /* auth_step reported complete */
    int client_steps; /* auth_step calls */
    int server_steps; /* gss_accept_sec_context calls */
};

/* Runs before the suite, outside check's test context: exits on failure. */
static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static void acceptor_init(struct acceptor *acc)
{
    gss_OID_set_desc mechs = {1, &spnego_oid};
    OM_uint32 minor;

    memset(acc, 0, sizeof(*acc));
    acc->ctx = GSS_C_NO_CONTEXT;
    acc->major = gss_acquire_cred(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE, &mechs, GSS_C_ACCEPT,
                                  &acc->cred, NULL, NULL);
    ck_assert_msg(!GSS_ERROR(acc->major), "acceptor credentials: major 0x%x minor 0x%x", acc->major,
                  minor);
}

static void acceptor_free(struct acceptor *acc)
{
    OM_uint32 minor;

    if (acc->ctx != GSS_C_NO_CONTEXT)
        gss_delete_sec_context(&minor, &acc->ctx, GSS_C_NO_BUFFER);
    gss_release_cred(&minor, &acc->cred);
}

/* Plays SESSION_SETUP: auth_step's token goes to gss_accept_sec_context, and every acceptor
 * token, including the last one sent with GSS_S_COMPLETE, goes back to auth_step. */
static struct exchange run_exchange(struct auth_ctx *a, struct acceptor *acc)
{
    struct exchange ex = {0};
    gss_buffer_desc from_server = GSS_C_EMPTY_BUFFER;
    OM_uint32 minor;

    for (int round = 0; round < 10; round++) {
        uint8_t *out = NULL;
        size_t out_len = 0;

        ex.rc = auth_step(a, from_server.value, from_server.length, &out, &out_len, &ex.done);
        gss_release_buffer(&minor, &from_server);
        ex.client_steps++;
        if (ex.rc != 0)
            break;
        if (out_len != 0) {
            gss_buffer_desc in = {out_len, out};
            gss_name_t peer = GSS_C_NO_NAME;

            ck_assert_msg(!acc->complete, "client sent a token after the acceptor completed");
            acc->major = gss_accept_sec_context(&acc->minor, &acc->ctx, acc->cred, &in,
                                                GSS_C_NO_CHANNEL_BINDINGS, &peer, NULL,
                                                &from_server, &acc->flags, NULL, NULL);
            ex.server_steps++;
            free(out);
            if (GSS_ERROR(acc->major)) {
                gss_release_buffer(&minor, &from_server);
                break;
            }
            if (acc->major == GSS_S_COMPLETE) {
                gss_buffer_desc text;

                acc->complete = true;
                if (!GSS_ERROR(gss_display_name(&minor, peer, &text, NULL))) {
                    snprintf(acc->peer, sizeof(acc->peer), "%.*s", (int)text.length,
                             (const char *)text.value);
                    gss_release_buffer(&minor, &text);
                }
            }
            gss_release_name(&minor, &peer);
        }
        if (ex.done || from_server.length == 0)
            break;
    }
    gss_release_buffer(&minor, &from_server);
    return ex;
}

static size_t acceptor_session_key(struct acceptor *acc, uint8_t *key, size_t cap)
{
    gss_buffer_set_t set = GSS_C_NO_BUFFER_SET;
    OM_uint32 major, minor;
    size_t len = 0;

    major = gss_inquire_sec_context_by_oid(&minor, acc->ctx, &session_key_oid, &set);
    ck_assert_msg(!GSS_ERROR(major), "acceptor session key: major 0x%x", major);
    ck_assert_ptr_nonnull(set);
    ck_assert_uint_ge(set->count, 1);
    len = set->elements[0].length;
    ck_assert_uint_le(len, cap);
    memcpy(key, set->elements[0].value, len);
    gss_release_buffer_set(&minor, &set);
    return len;
}

static struct auth_ctx *new_ctx(const char *user, const char *domain, const char *password,
                                enum auth_mech_pref mech)
{
    struct auth_params p = {
        .server = "fileserver.smbq.test",
        .username = user,
        .domain = domain,
        .password = password,
        .mech = mech,
    };
    struct auth_ctx *a = NULL;

    ck_assert_int_eq(auth_new(&p, &a), 0);
    ck_assert_ptr_nonnull(a);
    return a;
}

static bool contains(const uint8_t *hay, size_t hay_len, const void *needle, size_t len)
{
    for (size_t i = 0; len <= hay_len && i <= hay_len - len; i++)
        if (memcmp(hay + i, needle, len) == 0)
            return true;
    return false;
}

static void check_round_trip(struct auth_ctx *a, const char *expected_peer)
{
    struct acceptor acc;
    struct exchange ex;
    uint8_t client_key[64], server_key[64], zero[16] = {0};
    size_t client_len = 0, server_len;

    acceptor_init(&acc);
    ex = run_exchange(a, &acc);
    ck_assert_msg(ex.rc == 0, "auth_step failed: %s", auth_last_error(a));
    ck_assert_msg(acc.complete, "acceptor did not complete: major 0x%x minor 0x%x", acc.major,
                  acc.minor);
    ck_assert_msg(ex.done, "initiator not complete after %d steps", ex.client_steps);
    /* NTLM in SPNEGO: NegTokenInit(NEGOTIATE), NegTokenResp(AUTHENTICATE + mechListMIC), and
     * the acceptor's final mechListMIC, which must be fed back for GSS_S_COMPLETE. */
    ck_assert_int_eq(ex.client_steps, 3);
    ck_assert_int_eq(ex.server_steps, 2);
    ck_assert_str_eq(auth_mech_name(a), "ntlmssp");
    ck_assert_str_eq(acc.peer, expected_peer);
    /* Integrity was asked for (it makes NTLMSSP negotiate signing, and SPNEGO exchange
     * mechListMICs); delegation never is. */
    ck_assert_msg(acc.flags & GSS_C_INTEG_FLAG, "acceptor flags 0x%x", acc.flags);
    ck_assert_msg(!(acc.flags & GSS_C_DELEG_FLAG), "acceptor flags 0x%x", acc.flags);

    ck_assert_int_eq(auth_session_key(a, client_key, sizeof(client_key), &client_len), 0);
    server_len = acceptor_session_key(&acc, server_key, sizeof(server_key));
    ck_assert_uint_eq(client_len, 16);
    ck_assert_uint_eq(server_len, 16);
    ck_assert_mem_eq(client_key, server_key, 16);
    ck_assert_int_ne(memcmp(client_key, zero, 16), 0);

    /* Too small a buffer is refused, not truncated. */
    ck_assert_int_eq(auth_session_key(a, client_key, 8, &client_len), SQ_ERR_AUTH);
    ck_assert_uint_eq(client_len, 0);
    /* A further step on an established context is refused and keeps the session key. */
    {
        uint8_t *out = NULL;
        size_t out_len = 0;
        bool done = false;

        ck_assert_int_eq(auth_step(a, NULL, 0, &out, &out_len, &done), SQ_ERR_INVAL);
        ck_assert_int_eq(auth_session_key(a, client_key, sizeof(client_key), &client_len), 0);
        ck_assert_uint_eq(client_len, 16);
    }
    acceptor_free(&acc);
}

START_TEST(test_ntlm_round_trip_domain)
{
    /* The password is copied by auth_new: the caller may wipe its own copy at once. */
    char password[] = TEST_PASSWORD;
    struct auth_ctx *a = new_ctx(TEST_USER, TEST_DOMAIN, password, AUTH_MECH_NTLMSSP);

    memset(password, 'x', sizeof(password) - 1);
    ck_assert_str_eq(auth_mech_name(a), "unknown");
    check_round_trip(a, TEST_DOMAIN "\\" TEST_USER);
    auth_free(a);
}
END_TEST

START_TEST(test_ntlm_round_trip_any_no_domain)
{
    /* AUTH_MECH_ANY with a password and no Kerberos ticket: SPNEGO falls to NTLM. Without a
     * domain the acceptor matches the user file's line by user name alone. */
    struct auth_ctx *a = new_ctx(TEST_USER, NULL, TEST_PASSWORD, AUTH_MECH_ANY);

    check_round_trip(a, TEST_USER);
    auth_free(a);
}
END_TEST

START_TEST(test_ntlm_wrong_password)
{
    struct auth_ctx *a = new_ctx(TEST_USER, TEST_DOMAIN, "not-the-password", AUTH_MECH_NTLMSSP);
    struct acceptor acc;
    struct exchange ex;
    uint8_t key[64];
    size_t key_len = 99;

    acceptor_init(&acc);
    ex = run_exchange(a, &acc);
    /* The initiator cannot know the password is wrong: it sends AUTHENTICATE and the
     * acceptor refuses it (the server's STATUS_LOGON_FAILURE). */
    ck_assert_msg(ex.rc == 0, "initiator failed early: %s", auth_last_error(a));
    ck_assert_msg(GSS_ERROR(acc.major), "acceptor accepted a wrong password");
    ck_assert(!acc.complete);
    ck_assert_int_eq(ex.server_steps, 2);
    ck_assert(!ex.done);
    ck_assert_int_eq(auth_session_key(a, key, sizeof(key), &key_len), SQ_ERR_AUTH);
    ck_assert_uint_eq(key_len, 0);
    ck_assert_str_eq(auth_mech_name(a), "unknown");
    acceptor_free(&acc);
    auth_free(a);
}
END_TEST

START_TEST(test_ntlm_first_token)
{
    static const uint8_t spnego_der[] = {0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02};
    static const uint8_t ntlmssp_der[] = {0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04,
                                          0x01, 0x82, 0x37, 0x02, 0x02, 0x0a};
    static const uint8_t krb5_der[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                       0xf7, 0x12, 0x01, 0x02, 0x02};
    static const uint8_t negotiate[] = {'N', 'T', 'L', 'M', 'S', 'S', 'P', 0, 1, 0, 0, 0};
    struct auth_ctx *a = new_ctx(TEST_USER, TEST_DOMAIN, TEST_PASSWORD, AUTH_MECH_NTLMSSP);
    uint8_t *out = NULL;
    size_t out_len = 0;
    bool done = true;

    ck_assert_int_eq(auth_step(a, NULL, 0, &out, &out_len, &done), 0);
    ck_assert(!done);
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_gt(out_len, 40);
    /* RFC 2743 3.1 InitialContextToken [APPLICATION 0] carrying the SPNEGO OID, then an
     * RFC 4178 NegTokenInit [0] whose mechTypes list NTLMSSP and, with sec=ntlmssp, not
     * Kerberos, and whose mechToken is an NTLM NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.1). */
    ck_assert_uint_eq(out[0], 0x60);
    ck_assert_mem_eq(out + 2, spnego_der, sizeof(spnego_der));
    ck_assert_uint_eq(out[2 + sizeof(spnego_der)], 0xa0);
    ck_assert(contains(out, out_len, ntlmssp_der, sizeof(ntlmssp_der)));
    ck_assert(!contains(out, out_len, krb5_der, sizeof(krb5_der)));
    ck_assert(contains(out, out_len, negotiate, sizeof(negotiate)));
    /* MS-NLMP 2.2.2.5: SMB needs NEGOTIATE_SIGN (0x10) and KEY_EXCH (0x40000000) for a
     * random exported session key, and EXTENDED_SESSIONSECURITY (0x80000) for NTLMv2. */
    for (size_t i = 0; i + sizeof(negotiate) + 4 <= out_len; i++) {
        if (memcmp(out + i, negotiate, sizeof(negotiate)) == 0) {
            const uint8_t *f = out + i + sizeof(negotiate);
            uint32_t flags =
                (uint32_t)f[0] | (uint32_t)f[1] << 8 | (uint32_t)f[2] << 16 | (uint32_t)f[3] << 24;

            ck_assert_msg((flags & 0x40080010u) == 0x40080010u, "NEGOTIATE flags 0x%08x", flags);
            break;
        }
    }
    free(out);
    auth_free(a);
}
END_TEST

START_TEST(test_bad_server_tokens)
{
    static const uint8_t garbage[] = {0xa1, 0x03, 0x30, 0x01, 0xff, 0x00, 0x42};
    struct auth_ctx *a = new_ctx(TEST_USER, TEST_DOMAIN, TEST_PASSWORD, AUTH_MECH_NTLMSSP);
    uint8_t *out = NULL;
    size_t out_len = 0;
    bool done = false;

    ck_assert_int_eq(auth_step(a, NULL, 0, &out, &out_len, &done), 0);
    free(out);
    ck_assert_int_eq(auth_step(a, garbage, sizeof(garbage), &out, &out_len, &done), SQ_ERR_AUTH);
    ck_assert_ptr_null(out);
    ck_assert_uint_eq(out_len, 0);
    ck_assert(!done);
    ck_assert_msg(strstr(auth_last_error(a), "gss_init_sec_context: ") != NULL, "error: %s",
                  auth_last_error(a));
    /* A failed context stays failed. */
    ck_assert_int_eq(auth_step(a, garbage, sizeof(garbage), &out, &out_len, &done), SQ_ERR_AUTH);
    auth_free(a);

    /* A missing token before completion is an error, not a silent success. */
    a = new_ctx(TEST_USER, TEST_DOMAIN, TEST_PASSWORD, AUTH_MECH_NTLMSSP);
    ck_assert_int_eq(auth_step(a, NULL, 0, &out, &out_len, &done), 0);
    free(out);
    ck_assert_int_eq(auth_step(a, NULL, 0, &out, &out_len, &done), SQ_ERR_AUTH);
    ck_assert(!done);
    ck_assert_ptr_nonnull(strstr(auth_last_error(a), "no security token"));
    auth_free(a);
}
END_TEST

static void check_no_ticket(enum auth_mech_pref mech, const char *user, const char *who)
{
    struct timespec t0, t1;
    struct auth_ctx *a = new_ctx(user, TEST_DOMAIN, NULL, mech);
    uint8_t *out = NULL;
    size_t out_len = 0;
    bool done = false;
    char expected[128];
    double elapsed;
    int r;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    r = auth_step(a, NULL, 0, &out, &out_len, &done);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    elapsed = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

    ck_assert_int_eq(r, SQ_ERR_AUTH);
    ck_assert_ptr_null(out);
    ck_assert(!done);
    ck_assert_msg(elapsed < 5.0, "took %.1f s", elapsed);
    snprintf(expected, sizeof(expected), "no Kerberos ticket for %s and no password given", who);
    ck_assert_msg(strstr(auth_last_error(a), expected) != NULL, "error: %s", auth_last_error(a));
    auth_free(a);
}

START_TEST(test_krb5_no_ticket)
{
    check_no_ticket(AUTH_MECH_KRB5, TEST_USER, TEST_USER);
    check_no_ticket(AUTH_MECH_KRB5, NULL, "the default principal");
    /* No password means Kerberos also under AUTH_MECH_ANY, even though NTLM_USER_FILE would
     * give gss-ntlmssp default credentials. */
    check_no_ticket(AUTH_MECH_ANY, TEST_USER, TEST_USER);
}
END_TEST

START_TEST(test_bad_params)
{
    struct auth_params p = {.server = "srv", .username = NULL, .password = "pw"};
    struct auth_ctx *a = (struct auth_ctx *)1;

    /* NTLM needs a user name with the password. */
    ck_assert_int_eq(auth_new(&p, &a), SQ_ERR_INVAL);
    ck_assert_ptr_null(a);
    p.username = "u";
    p.server = NULL;
    ck_assert_int_eq(auth_new(&p, &a), SQ_ERR_INVAL);
    p.server = "";
    ck_assert_int_eq(auth_new(&p, &a), SQ_ERR_INVAL);
    p.server = "srv";
    p.mech = (enum auth_mech_pref)42;
    ck_assert_int_eq(auth_new(&p, &a), SQ_ERR_INVAL);
    p.mech = AUTH_MECH_ANY;
    ck_assert_int_eq(auth_new(&p, &a), 0);
    ck_assert_int_eq(auth_step(a, NULL, 5, NULL, NULL, NULL), SQ_ERR_INVAL);
    auth_free(a);
    auth_free(NULL);
}
END_TEST

static void setup_environment(void)
{
    char path[300];

    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(users_path, sizeof(users_path), "%s/ntlm_users", tmpdir);
    snprintf(krb5_conf_path, sizeof(krb5_conf_path), "%s/krb5.conf", tmpdir);
    write_file(users_path, TEST_DOMAIN ":" TEST_USER ":" TEST_PASSWORD "\n");
    write_file(krb5_conf_path, "");
    setenv("NTLM_USER_FILE", users_path, 1);
    setenv("KRB5_CONFIG", krb5_conf_path, 1);
    snprintf(path, sizeof(path), "FILE:%s/ccache", tmpdir);
    setenv("KRB5CCNAME", path, 1);
    snprintf(path, sizeof(path), "FILE:%s/keytab", tmpdir);
    setenv("KRB5_KTNAME", path, 1);
    snprintf(path, sizeof(path), "FILE:%s/client.keytab", tmpdir);
    setenv("KRB5_CLIENT_KTNAME", path, 1);
}

static void cleanup_environment(void)
{
    unlink(users_path);
    unlink(krb5_conf_path);
    rmdir(tmpdir);
}

static Suite *auth_suite(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("gss");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_ntlm_round_trip_domain);
    tcase_add_test(tc, test_ntlm_round_trip_any_no_domain);
    tcase_add_test(tc, test_ntlm_wrong_password);
    tcase_add_test(tc, test_ntlm_first_token);
    tcase_add_test(tc, test_bad_server_tokens);
    tcase_add_test(tc, test_krb5_no_ticket);
    tcase_add_test(tc, test_bad_params);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    setup_environment();
    sr = srunner_create(auth_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    cleanup_environment();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
