/* Unit tests for the gateway's client-certificate rules (contrib/gateway/access.c): parsing
 * with line-numbered errors, and every decision rule, with certificates made here with
 * GnuTLS (including an impostor CA that has the real CA's name but not its key). */
#include <check.h>
#include <ctype.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "audit.h"

#define DAY (24 * 3600)

struct cert {
    gnutls_x509_privkey_t key;
    gnutls_x509_crt_t crt;
    gnutls_datum_t der;
    char sha256[65];
    char pem_path[256];
};

static char tmpdir[] = "/tmp/smbquic-access-test.XXXXXX";
static struct cert ca, ca2, impostor, client1, client2, from_ca2, from_impostor, no_eku, expired,
    notyet;
static unsigned serial_counter = 1;

static void make_cert(struct cert *c, const char *name, const char *cn, struct cert *issuer,
                      bool is_ca, const char *eku, time_t not_before, time_t not_after)
{
    ck_assert_int_eq(gnutls_x509_privkey_init(&c->key), 0);
    ck_assert_int_eq(gnutls_x509_privkey_generate(c->key, GNUTLS_PK_ECDSA,
                                                  GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
                                                  0),
                     0);
    ck_assert_int_eq(gnutls_x509_crt_init(&c->crt), 0);
    gnutls_x509_crt_t crt = c->crt;
    uint8_t serial[4] = {0x10, 0, 0, (uint8_t)serial_counter++};
    ck_assert_int_eq(gnutls_x509_crt_set_version(crt, 3), 0);
    ck_assert_int_eq(gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)), 0);
    ck_assert_int_eq(gnutls_x509_crt_set_activation_time(crt, not_before), 0);
    ck_assert_int_eq(gnutls_x509_crt_set_expiration_time(crt, not_after), 0);
    ck_assert_int_eq(
        gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, strlen(cn)), 0);
    ck_assert_int_eq(gnutls_x509_crt_set_key(crt, c->key), 0);
    if (is_ca) {
        ck_assert_int_eq(gnutls_x509_crt_set_basic_constraints(crt, 1, -1), 0);
        ck_assert_int_eq(gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_KEY_CERT_SIGN), 0);
    } else {
        ck_assert_int_eq(gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE), 0);
    }
    if (eku)
        ck_assert_int_eq(gnutls_x509_crt_set_key_purpose_oid(crt, eku, 0), 0);
    struct cert *signer = issuer ? issuer : c;
    ck_assert_int_eq(gnutls_x509_crt_sign2(crt, signer->crt, signer->key, GNUTLS_DIG_SHA256, 0), 0);
    ck_assert_int_eq(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &c->der), 0);
    uint8_t digest[32];
    ck_assert_int_eq(gnutls_hash_fast(GNUTLS_DIG_SHA256, c->der.data, c->der.size, digest), 0);
    for (int i = 0; i < 32; i++)
        snprintf(c->sha256 + 2 * i, 3, "%02x", digest[i]);
    gnutls_datum_t pem;
    ck_assert_int_eq(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &pem), 0);
    snprintf(c->pem_path, sizeof(c->pem_path), "%s/%s.pem", tmpdir, name);
    FILE *f = fopen(c->pem_path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(pem.data, 1, pem.size, f), pem.size);
    fclose(f);
    gnutls_free(pem.data);
}

static void setup_certs(void)
{
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    time_t now = time(NULL);
    time_t from = now - DAY, to = now + 365 * DAY;
    make_cert(&ca, "ca", "Test CA", NULL, true, NULL, from, to + DAY);
    make_cert(&ca2, "ca2", "Test CA 2", NULL, true, NULL, from, to + DAY);
    /* Same subject as the real CA, different key. */
    make_cert(&impostor, "impostor", "Test CA", NULL, true, NULL, from, to + DAY);
    make_cert(&client1, "client1", "client1", &ca, false, GNUTLS_KP_TLS_WWW_CLIENT, from, to);
    make_cert(&client2, "client2", "client2", &ca, false, GNUTLS_KP_TLS_WWW_CLIENT, from, to);
    make_cert(&from_ca2, "from_ca2", "from ca2", &ca2, false, GNUTLS_KP_TLS_WWW_CLIENT, from, to);
    make_cert(&from_impostor, "from_impostor", "client1", &impostor, false,
              GNUTLS_KP_TLS_WWW_CLIENT, from, to);
    make_cert(&no_eku, "no_eku", "no eku", &ca, false, GNUTLS_KP_TLS_WWW_SERVER, from, to);
    make_cert(&expired, "expired", "expired", &ca, false, GNUTLS_KP_TLS_WWW_CLIENT, now - 30 * DAY,
              now - DAY);
    make_cert(&notyet, "notyet", "not yet", &ca, false, GNUTLS_KP_TLS_WWW_CLIENT, now + DAY,
              now + 30 * DAY);
}

static void free_cert(struct cert *c)
{
    unlink(c->pem_path);
    gnutls_free(c->der.data);
    gnutls_x509_crt_deinit(c->crt);
    gnutls_x509_privkey_deinit(c->key);
}

static void teardown_certs(void)
{
    struct cert *all[] = {&ca,       &ca2,           &impostor, &client1, &client2,
                          &from_ca2, &from_impostor, &no_eku,   &expired, &notyet};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        free_cert(all[i]);
    char path[300];
    snprintf(path, sizeof(path), "%s/access", tmpdir);
    unlink(path);
    rmdir(tmpdir);
}

/* Writes text as the access file and loads it; returns NULL and fills why on failure. */
static struct gw_access *load(const char *text, char *why, size_t why_len)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/access", tmpdir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    struct gw_access *a = NULL;
    if (gw_access_load(path, &a, why, why_len) != 0)
        return NULL;
    return a;
}

static struct gw_access *load_ok(const char *text)
{
    char why[512] = "";
    struct gw_access *a = load(text, why, sizeof(why));
    ck_assert_msg(a != NULL, "load failed: %s", why);
    return a;
}

static void expect(const struct gw_access *a, const struct cert *c, bool allowed, const char *rule)
{
    struct gw_decision d;
    gw_access_decide(a, c ? &c->der : NULL, c ? 1 : 0, time(NULL), &d);
    ck_assert_msg(d.allowed == allowed, "%s: want %s, got %s by %s", c ? c->pem_path : "no cert",
                  allowed ? "allowed" : "denied", d.allowed ? "allowed" : "denied", d.rule);
    ck_assert_str_eq(d.rule, rule);
}

START_TEST(test_parse_errors)
{
    static const struct {
        const char *text;
        const char *why; /* after "PATH:" */
    } cases[] = {
        {"allow\n", "1: expected 'allow sha256 HEX' or 'allow issuer FILE'"},
        {"# ok\n\npermit sha256 00\n", "3: unknown rule 'permit' (allow, deny or require)"},
        {"deny md5 00\n", "1: unknown match 'md5' (sha256 or issuer)"},
        {"allow sha256 abcd\n", "1: 'abcd' is not a SHA-256 (64 hex digits)"},
        {"allow sha256 "
         "zz00000000000000000000000000000000000000000000000000000000000000\n",
         "1: 'zz00000000000000000000000000000000000000000000000000000000000000' is not a "
         "SHA-256 (64 hex digits)"},
        {"require me\n", "1: 'require' takes no argument"},
        {"allow sha256 00 extra words\n", "1: too many words"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char why[512], want[600];
        ck_assert_ptr_null(load(cases[i].text, why, sizeof(why)));
        snprintf(want, sizeof(want), "%s/access:%s", tmpdir, cases[i].why);
        ck_assert_str_eq(why, want);
    }
    char why[512];
    ck_assert_ptr_null(load("allow issuer /nonexistent/ca.pem\n", why, sizeof(why)));
    ck_assert_msg(strstr(why, ":1: cannot read /nonexistent/ca.pem") != NULL, "%s", why);
    struct gw_access *a = NULL;
    ck_assert_int_eq(gw_access_load("/nonexistent/access", &a, why, sizeof(why)), -1);
    ck_assert_str_eq(why, "/nonexistent/access: No such file or directory");
}
END_TEST

START_TEST(test_parse_forms)
{
    char text[1024];
    /* Upper case with colons, trailing comments, relative issuer path, blank lines. */
    char colon_hex[200] = "";
    for (int i = 0; i < 32; i++) {
        char byte[4];
        snprintf(byte, sizeof(byte), "%c%c%s", toupper((unsigned char)client1.sha256[2 * i]),
                 toupper((unsigned char)client1.sha256[2 * i + 1]), i < 31 ? ":" : "");
        strcat(colon_hex, byte);
    }
    snprintf(text, sizeof(text), "  # comment\n\nallow sha256 %s # client1\nallow issuer ca2.pem\n",
             colon_hex);
    struct gw_access *a = load_ok(text);
    ck_assert_uint_eq(gw_access_rule_count(a), 2);
    expect(a, &client1, true, "3:allow sha256");
    expect(a, &from_ca2, true, "4:allow issuer");
    expect(a, &client2, false, "default");
    gw_access_free(a);
}
END_TEST

START_TEST(test_no_rules)
{
    expect(NULL, NULL, true, "default");
    expect(NULL, &expired, true, "default"); /* without --access nothing is checked */
    struct gw_access *a = load_ok("# nothing\n");
    expect(a, NULL, true, "default");
    expect(a, &client1, true, "default");
    expect(a, &expired, false, "cert:expired");
    gw_access_free(a);
}
END_TEST

START_TEST(test_require)
{
    struct gw_access *a = load_ok("\nrequire\n");
    expect(a, NULL, false, "2:require");
    expect(a, &client1, true, "default");
    expect(a, &from_ca2, true, "default");
    expect(a, &no_eku, false, "cert:no-clientAuth-EKU");
    expect(a, &expired, false, "cert:expired");
    expect(a, &notyet, false, "cert:not-yet-valid");
    gw_access_free(a);
}
END_TEST

START_TEST(test_allow_list)
{
    char text[512];
    snprintf(text, sizeof(text), "allow sha256 %s\n", client1.sha256);
    struct gw_access *a = load_ok(text);
    expect(a, NULL, false, "default"); /* an allow list needs a certificate */
    expect(a, &client1, true, "1:allow sha256");
    expect(a, &client2, false, "default");
    gw_access_free(a);
}
END_TEST

START_TEST(test_deny_wins)
{
    char text[512];
    snprintf(text, sizeof(text), "allow issuer %s\ndeny sha256 %s\nallow sha256 %s\n", ca.pem_path,
             client2.sha256, client2.sha256);
    struct gw_access *a = load_ok(text);
    expect(a, &client1, true, "1:allow issuer");
    expect(a, &client2, false, "2:deny sha256");
    expect(a, &from_ca2, false, "default");
    gw_access_free(a);
}
END_TEST

START_TEST(test_issuer_is_cryptographic)
{
    char text[512];
    snprintf(text, sizeof(text), "allow issuer %s\n", ca.pem_path);
    struct gw_access *a = load_ok(text);
    expect(a, &client1, true, "1:allow issuer");
    /* Same issuer name, same subject as client1, signed by another key: no match. */
    expect(a, &from_impostor, false, "default");
    gw_access_free(a);

    snprintf(text, sizeof(text), "deny issuer %s\n", ca2.pem_path);
    a = load_ok(text);
    expect(a, &from_ca2, false, "1:deny issuer");
    expect(a, &client1, true, "default");
    gw_access_free(a);
}
END_TEST

START_TEST(test_deny_before_validity)
{
    char text[512];
    snprintf(text, sizeof(text), "deny sha256 %s\nallow issuer %s\n", expired.sha256, ca.pem_path);
    struct gw_access *a = load_ok(text);
    expect(a, &expired, false, "1:deny sha256");
    expect(a, &notyet, false, "cert:not-yet-valid");
    expect(a, &no_eku, false, "cert:no-clientAuth-EKU");
    gw_access_free(a);
}
END_TEST

START_TEST(test_chain_and_garbage)
{
    char text[512];
    snprintf(text, sizeof(text), "allow issuer %s\n", ca.pem_path);
    struct gw_access *a = load_ok(text);
    gnutls_datum_t chain[2] = {client1.der, ca.der};
    struct gw_decision d;
    gw_access_decide(a, chain, 2, time(NULL), &d);
    ck_assert(d.allowed);
    uint8_t junk[10] = {0x30, 0x08, 1, 2, 3};
    gnutls_datum_t bad = {junk, sizeof(junk)};
    gw_access_decide(a, &bad, 1, time(NULL), &d);
    ck_assert(!d.allowed);
    ck_assert_str_eq(d.rule, "cert:unparsable");
    gw_access_free(a);
}
END_TEST

START_TEST(test_describe)
{
    struct gw_cert_info info;
    gw_cert_describe(NULL, 0, &info);
    ck_assert(!info.present);
    ck_assert_str_eq(info.subject, "-");
    ck_assert_str_eq(info.sha256, "-");
    gw_cert_describe(&client1.der, 1, &info);
    ck_assert(info.present);
    ck_assert_str_eq(info.subject, "CN=client1");
    ck_assert_str_eq(info.issuer, "CN=Test CA");
    ck_assert_str_eq(info.sha256, client1.sha256);
    ck_assert_str_eq(info.serial, "10000004");
}
END_TEST

START_TEST(test_audit_quoting)
{
    struct gw_audit_line line;
    gw_audit_begin(&line);
    size_t stamp = line.len;
    ck_assert_uint_eq(stamp, strlen("2026-01-01T00:00:00.000Z"));
    gw_audit_add(&line, "a", "bare-value:1");
    gw_audit_add(&line, "b", "CN=x, O=\"y\"\\z");
    gw_audit_add(&line, "c", "");
    gw_audit_add(&line, "d", "tab\there\nnewline\x7f");
    line.text[line.len] = '\0';
    ck_assert_str_eq(line.text + stamp, " a=bare-value:1 b=\"CN=x, O=\\\"y\\\"\\\\z\" c=\"\" "
                                        "d=\"tab\\x09here\\x0anewline\\x7f\"");
}
END_TEST

static Suite *access_suite(void)
{
    Suite *s = suite_create("gateway_access");
    TCase *tc = tcase_create("rules");
    tcase_add_unchecked_fixture(tc, setup_certs, teardown_certs);
    tcase_add_test(tc, test_parse_errors);
    tcase_add_test(tc, test_parse_forms);
    tcase_add_test(tc, test_no_rules);
    tcase_add_test(tc, test_require);
    tcase_add_test(tc, test_allow_list);
    tcase_add_test(tc, test_deny_wins);
    tcase_add_test(tc, test_issuer_is_cryptographic);
    tcase_add_test(tc, test_deny_before_validity);
    tcase_add_test(tc, test_chain_and_garbage);
    tcase_add_test(tc, test_describe);
    tcase_add_test(tc, test_audit_quoting);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(access_suite());
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
