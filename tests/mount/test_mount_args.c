/* Unit tests for mount.smbquic's command line (src/mount/args.h): the mount(8) helper
 * convention, password removal from option strings and wiping an environment variable. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"

static char why[256];

/* Parses a NULL-terminated list of arguments (argv[0] included). */
static int parse(struct mount_args *a, char **argv)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    why[0] = '\0';
    return mount_args_parse(argc, argv, a, why, sizeof(why));
}

START_TEST(test_helper_convention)
{
    /* What mount(8) runs: SPEC DIR first, then the flags. */
    char *argv[] = {"mount.smbquic", "//srv/share", "/mnt", "-s", "-f",      "-n", "-v", "-o",
                    "rw,uid=5",      "-N",          "1234", "-t", "smbquic", NULL};
    struct mount_args a;
    ck_assert_int_eq(parse(&a, argv), 0);
    ck_assert_str_eq(a.spec, "//srv/share");
    ck_assert_str_eq(a.dir, "/mnt");
    ck_assert(a.sloppy && a.fake && a.no_mtab);
    ck_assert_int_eq(a.verbose, 1);
    ck_assert(!a.foreground);
    ck_assert_str_eq(a.mount_ns, "1234");
    ck_assert_uint_eq(a.count, 1);
    ck_assert_str_eq(a.options[0], "rw,uid=5");
    /* The pointer is into argv: hiding a password there changes /proc/PID/cmdline. */
    ck_assert_ptr_eq(a.options[0], argv[8]);
    free(a.options);
}
END_TEST

START_TEST(test_flags_anywhere)
{
    char *argv[] = {"mount.smbquic", "-vvF",         "-ouid=1", "//srv/share", "--options=gid=2",
                    "/mnt",          "--foreground", "-o",      "ro",          NULL};
    struct mount_args a;
    ck_assert_int_eq(parse(&a, argv), 0);
    ck_assert_str_eq(a.spec, "//srv/share");
    ck_assert_str_eq(a.dir, "/mnt");
    ck_assert_int_eq(a.verbose, 2);
    ck_assert(a.foreground);
    ck_assert(!a.fake);
    ck_assert_uint_eq(a.count, 3);
    ck_assert_str_eq(a.options[0], "uid=1");
    ck_assert_str_eq(a.options[1], "gid=2");
    ck_assert_str_eq(a.options[2], "ro");
    free(a.options);

    /* POSIXLY_CORRECT does not stop parsing at SPEC (mount(8) puts flags last). */
    setenv("POSIXLY_CORRECT", "1", 1);
    char *argv2[] = {"mount.smbquic", "//srv/share", "/mnt", "-o", "ro", NULL};
    ck_assert_int_eq(parse(&a, argv2), 0);
    ck_assert_uint_eq(a.count, 1);
    free(a.options);
    unsetenv("POSIXLY_CORRECT");
}
END_TEST

START_TEST(test_errors)
{
    struct mount_args a;
    char *missing_dir[] = {"mount.smbquic", "//srv/share", NULL};
    ck_assert_int_eq(parse(&a, missing_dir), -1);
    ck_assert_ptr_nonnull(strstr(why, "usage: mount.smbquic //SERVER/SHARE DIR"));
    free(a.options);

    char *extra[] = {"mount.smbquic", "//srv/share", "/mnt", "/other", NULL};
    ck_assert_int_eq(parse(&a, extra), -1);
    ck_assert_str_eq(why, "unexpected argument '/other'");
    free(a.options);

    char *bad_flag[] = {"mount.smbquic", "//srv/share", "/mnt", "-q", NULL};
    ck_assert_int_eq(parse(&a, bad_flag), -1);
    ck_assert_str_eq(why, "unknown flag '-q'");
    free(a.options);

    char *bad_long[] = {"mount.smbquic", "//srv/share", "/mnt", "--frob", NULL};
    ck_assert_int_eq(parse(&a, bad_long), -1);
    ck_assert_str_eq(why, "unknown flag '--frob'");
    free(a.options);

    char *no_arg[] = {"mount.smbquic", "//srv/share", "/mnt", "-o", NULL};
    ck_assert_int_eq(parse(&a, no_arg), -1);
    ck_assert_str_eq(why, "option '-o' needs an argument");
    free(a.options);

    char *bad_type[] = {"mount.smbquic", "//srv/share", "/mnt", "-t", "cifs", NULL};
    ck_assert_int_eq(parse(&a, bad_type), -1);
    ck_assert_str_eq(why, "-t cifs: this helper mounts only type smbquic");
    free(a.options);

    char *help[] = {"mount.smbquic", "--help", NULL};
    ck_assert_int_eq(parse(&a, help), 0);
    ck_assert(a.help);
    free(a.options);
    char *version[] = {"mount.smbquic", "-V", NULL};
    ck_assert_int_eq(parse(&a, version), 0);
    ck_assert(a.version);
    free(a.options);
}
END_TEST

/* Hides passwords in a copy laid out like argv memory and checks the bytes after it. */
static void hide_case(const char *in, const char *want, size_t want_removed)
{
    size_t len = strlen(in);
    char *buf = malloc(len + 2);
    ck_assert_ptr_nonnull(buf);
    memcpy(buf, in, len + 1);
    buf[len + 1] = 'X'; /* the next argument: must stay untouched */
    ck_assert_uint_eq(mount_args_hide_passwords(buf), want_removed);
    ck_assert_str_eq(buf, want);
    for (size_t i = strlen(want); i <= len; i++)
        ck_assert_msg(buf[i] == '\0', "'%s': byte %zu not wiped", in, i);
    ck_assert_int_eq(buf[len + 1], 'X');
    free(buf);
}

START_TEST(test_hide_passwords)
{
    hide_case("rw,password=s3cret,uid=5", "rw,uid=5", 1);
    hide_case("password=s3cret", "", 1);
    hide_case("pass=a=b,username=bob,password=x", "username=bob", 2);
    hide_case("rw,uid=5", "rw,uid=5", 0);
    hide_case("", "", 0);
    hide_case("rw,,uid=5,", "rw,uid=5", 0);
    /* Only the option names password and pass; not names that contain them. */
    hide_case("passwd_file=x,mypassword=y,password", "passwd_file=x,mypassword=y,password", 0);
    hide_case("password=", "", 1);
}
END_TEST

START_TEST(test_wipe_env)
{
    setenv("SQ_TEST_SECRET", "hunter2", 1);
    char *value = getenv("SQ_TEST_SECRET");
    ck_assert_ptr_nonnull(value);
    char *entry = value - strlen("SQ_TEST_SECRET=");
    mount_args_wipe_env("SQ_TEST_SECRET");
    ck_assert_ptr_null(getenv("SQ_TEST_SECRET"));
    /* setenv's storage stays allocated (glibc never frees it): it must be zeroed. */
    for (size_t i = 0; i < strlen("SQ_TEST_SECRET=hunter2"); i++)
        ck_assert_int_eq(entry[i], 0);
    mount_args_wipe_env("SQ_TEST_NOT_SET"); /* nothing to do */
}
END_TEST

static Suite *mount_args_suite(void)
{
    Suite *s = suite_create("mount_args");
    TCase *tc = tcase_create("mount_args");
    tcase_add_test(tc, test_helper_convention);
    tcase_add_test(tc, test_flags_anywhere);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_hide_passwords);
    tcase_add_test(tc, test_wipe_env);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(mount_args_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
