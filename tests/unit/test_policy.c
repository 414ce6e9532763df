/* Unit tests for the system policy (include/client/policy.h): the file format, its errors
 * (each naming the line), matching by server and share, the strictest rule winning, and the
 * checks sq_policy_load makes of the file before trusting it. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/policy.h"
#include "smb2/proto.h"
#include "util/error.h"

static char why[256];

static int parse(const char *text, struct sq_policy *p)
{
    why[0] = '\0';
    return sq_policy_parse(text, strlen(text), p, why, sizeof(why));
}

static void assert_refused(const char *text, const char *needle)
{
    struct sq_policy p;
    ck_assert_int_eq(parse(text, &p), SQ_ERR_INVAL);
    ck_assert_msg(strstr(why, needle) != NULL, "message '%s' lacks '%s'", why, needle);
    ck_assert_uint_eq(p.count, 0);
}

#define BIT(r) (1u << (r))

START_TEST(parses_the_documented_example)
{
    const char *text = "# UNC hardening\n"
                       "\n"
                       "//fs.example.com/projects  RequireIntegrity=1, RequirePrivacy=1\n"
                       "  //*/finance   RequireMutualAuthentication=1,RequireQuic=1  \r\n"
                       "; another comment\n"
                       "\\\\FS.example.com\\*  MinimumDialect=3.1.1, RequireClientCertificate=1";
    struct sq_policy p;
    ck_assert_int_eq(parse(text, &p), 0);
    ck_assert_uint_eq(p.count, 3);
    ck_assert_str_eq(p.rules[0].server, "fs.example.com");
    ck_assert_str_eq(p.rules[0].share, "projects");
    ck_assert_uint_eq(p.rules[0].line, 3);
    ck_assert_uint_eq(p.rules[0].requires, BIT(SQ_POLICY_INTEGRITY) | BIT(SQ_POLICY_PRIVACY));
    ck_assert_str_eq(p.rules[1].server, "*");
    ck_assert_uint_eq(p.rules[1].requires, BIT(SQ_POLICY_MUTUAL_AUTH) | BIT(SQ_POLICY_QUIC));
    ck_assert_str_eq(p.rules[2].server, "fs.example.com"); /* lowercased */
    ck_assert_str_eq(p.rules[2].share, "*");
    ck_assert_str_eq(p.rules[2].pattern, "\\\\FS.example.com\\*");
    ck_assert_uint_eq(p.rules[2].min_dialect, SMB2_DIALECT_0311);
    ck_assert_uint_eq(p.rules[2].line, 6);
    sq_policy_free(&p);
}
END_TEST

START_TEST(a_quoted_pattern_may_hold_blanks)
{
    struct sq_policy p;
    ck_assert_int_eq(parse("\"//fs/Team Share\"  RequirePrivacy=1\n", &p), 0);
    ck_assert_str_eq(p.rules[0].share, "team share");
    struct sq_policy_match m;
    sq_policy_match(&p, "FS", NULL, "TEAM SHARE", &m);
    ck_assert_uint_eq(m.requires, BIT(SQ_POLICY_PRIVACY));
    sq_policy_free(&p);
    assert_refused("\"//fs/Team Share RequirePrivacy=1\n", "closing quote is missing");
    assert_refused("\"//fs/x\"RequirePrivacy=1\n", "no blank after the quoted pattern");
}
END_TEST

START_TEST(zero_turns_a_setting_off_and_names_ignore_case)
{
    struct sq_policy p;
    ck_assert_int_eq(parse("//s/x requireprivacy=0, REQUIREQUIC=1\n", &p), 0);
    ck_assert_uint_eq(p.rules[0].requires, BIT(SQ_POLICY_QUIC));
    sq_policy_free(&p);
}
END_TEST

START_TEST(errors_name_the_line)
{
    assert_refused("\n\n//s/x RequirePrivacy=yes\n", "line 3: RequirePrivacy=yes: use 1 or 0");
    assert_refused("//s/x RequireMagic=1\n", "line 1: unknown setting 'RequireMagic'");
    assert_refused("//s/x MinimumDialect=2.1\n", "MinimumDialect=2.1");
    assert_refused("//s/x\n", "line 1: '//s/x' has no settings");
    assert_refused("/s/x RequireQuic=1\n", "not a //SERVER/SHARE pattern");
    assert_refused("//s RequireQuic=1\n", "not a //SERVER/SHARE pattern");
    assert_refused("//s/x/y RequireQuic=1\n", "not a //SERVER/SHARE pattern");
    assert_refused("//fs*/x RequireQuic=1\n", "* must be a whole server or share name");
    assert_refused("//s/x RequireQuic\n", "is not SETTING=VALUE");
    char longline[2048];
    memset(longline, 'a', sizeof(longline) - 1);
    longline[sizeof(longline) - 1] = '\0';
    assert_refused(longline, "line 1: longer than");
    struct sq_policy p;
    ck_assert_int_eq(sq_policy_parse("//s/x Req\0uireQuic=1", 20, &p, why, sizeof(why)),
                     SQ_ERR_INVAL);
}
END_TEST

START_TEST(matching_takes_the_strictest_of_every_rule)
{
    const char *text = "//*/* MinimumDialect=3.0\n"
                       "//fs.example.com/* RequireIntegrity=1, MinimumDialect=3.1.1\n"
                       "//*/finance RequirePrivacy=1\n"
                       "//other/finance RequireQuic=1\n";
    struct sq_policy p;
    ck_assert_int_eq(parse(text, &p), 0);
    struct sq_policy_match m;
    sq_policy_match(&p, "FS.Example.com", NULL, "Finance", &m);
    ck_assert_uint_eq(m.requires, BIT(SQ_POLICY_MIN_DIALECT) | BIT(SQ_POLICY_INTEGRITY) |
                                      BIT(SQ_POLICY_PRIVACY));
    ck_assert_uint_eq(m.min_dialect, SMB2_DIALECT_0311);
    ck_assert_uint_eq(m.by[SQ_POLICY_MIN_DIALECT]->line, 2); /* the stricter rule */
    ck_assert_uint_eq(m.by[SQ_POLICY_PRIVACY]->line, 3);
    ck_assert_ptr_null(m.by[SQ_POLICY_QUIC]);
    /* By address, a rule naming the server matches through servername=. */
    sq_policy_match(&p, "192.0.2.7", "fs.example.com", "projects", &m);
    ck_assert_uint_eq(m.requires, BIT(SQ_POLICY_MIN_DIALECT) | BIT(SQ_POLICY_INTEGRITY));
    sq_policy_match(&p, "192.0.2.7", NULL, "projects", &m);
    ck_assert_uint_eq(m.requires, BIT(SQ_POLICY_MIN_DIALECT));
    ck_assert_uint_eq(m.min_dialect, SMB2_DIALECT_0300);
    sq_policy_free(&p);
    struct sq_policy empty = {0};
    sq_policy_match(&empty, "s", NULL, "x", &m);
    ck_assert_uint_eq(m.requires, 0);
}
END_TEST

START_TEST(load_trusts_only_a_root_owned_file)
{
    char dir[] = "/tmp/smbquic-policy.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[sizeof(dir) + 16];
    snprintf(path, sizeof(path), "%s/policy.conf", dir);
    struct sq_policy p;
    why[0] = '\0';
    ck_assert_int_eq(sq_policy_load(path, &p, why, sizeof(why)), 0); /* none: no rules */
    ck_assert_uint_eq(p.count, 0);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    ck_assert_int_ge(fd, 0);
    const char rule[] = "//s/x RequireQuic=1\n";
    ck_assert_int_eq(write(fd, rule, strlen(rule)), (ssize_t)strlen(rule));
    close(fd);
    if (geteuid() == 0) {
        ck_assert_int_eq(sq_policy_load(path, &p, why, sizeof(why)), 0);
        ck_assert_uint_eq(p.count, 1);
        sq_policy_free(&p);
        ck_assert_int_eq(chmod(path, 0664), 0);
        ck_assert_int_eq(sq_policy_load(path, &p, why, sizeof(why)), SQ_ERR_INVAL);
        ck_assert_msg(strstr(why, "may be written by others than root") != NULL, "%s", why);
        ck_assert_int_eq(chmod(path, 0644), 0);
        ck_assert_int_eq(chown(path, 1, 1), 0);
    }
    /* Not owned by root (when not root, the file is the caller's own). */
    ck_assert_int_eq(sq_policy_load(path, &p, why, sizeof(why)), SQ_ERR_INVAL);
    ck_assert_msg(strstr(why, "may be written by others than root") != NULL, "%s", why);
    unlink(path);
    rmdir(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("policy");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, parses_the_documented_example);
    tcase_add_test(tc, a_quoted_pattern_may_hold_blanks);
    tcase_add_test(tc, zero_turns_a_setting_off_and_names_ignore_case);
    tcase_add_test(tc, errors_name_the_line);
    tcase_add_test(tc, matching_takes_the_strictest_of_every_rule);
    tcase_add_test(tc, load_trusts_only_a_root_owned_file);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
