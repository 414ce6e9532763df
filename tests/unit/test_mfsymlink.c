/* Unit tests for client/mfsymlink: Minshall+French symlink files. The expected bytes are
 * built by hand from the layout the Linux cifs client writes. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/mfsymlink.h"
#include "util/error.h"

/* The checksum is checked against a published MD5 vector. */
START_TEST(encodes_the_cifs_layout)
{
    uint8_t file[MFSYMLINK_FILE_SIZE];
    ck_assert_int_eq(mfsymlink_encode("abc", file), 0);
    /* RFC 1321 test suite: MD5("abc") = 900150983cd24fb0d6963f7d28e17f72. */
    const char *head = "XSym\n0003\n900150983cd24fb0d6963f7d28e17f72\nabc\n";
    ck_assert_mem_eq(file, head, strlen(head));
    for (size_t i = strlen(head); i < MFSYMLINK_FILE_SIZE; i++)
        ck_assert_uint_eq(file[i], ' ');
}
END_TEST

START_TEST(round_trips)
{
    const char *targets[] = {"a", "../up/there", "/abs/path with space", "d\xc3\xa9j\xc3\xa0"};
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        uint8_t file[MFSYMLINK_FILE_SIZE];
        ck_assert_int_eq(mfsymlink_encode(targets[i], file), 0);
        char *back = NULL;
        ck_assert_int_eq(mfsymlink_decode(file, sizeof(file), &back), 0);
        ck_assert_str_eq(back, targets[i]);
        free(back);
    }
}
END_TEST

START_TEST(longest_target_fills_the_file)
{
    char target[MFSYMLINK_TARGET_MAX + 2];
    memset(target, 'x', sizeof(target));
    target[MFSYMLINK_TARGET_MAX] = '\0';
    uint8_t file[MFSYMLINK_FILE_SIZE];
    ck_assert_int_eq(mfsymlink_encode(target, file), 0);
    char *back = NULL;
    ck_assert_int_eq(mfsymlink_decode(file, sizeof(file), &back), 0);
    ck_assert_uint_eq(strlen(back), MFSYMLINK_TARGET_MAX);
    free(back);
    target[MFSYMLINK_TARGET_MAX] = 'x';
    target[MFSYMLINK_TARGET_MAX + 1] = '\0';
    ck_assert_int_eq(mfsymlink_encode(target, file), SQ_ERR_INVAL);
    ck_assert_int_eq(mfsymlink_encode("", file), SQ_ERR_INVAL);
}
END_TEST

START_TEST(ordinary_files_are_not_links)
{
    uint8_t file[MFSYMLINK_FILE_SIZE];
    char *back = NULL;
    ck_assert_int_eq(mfsymlink_encode("target", file), 0);
    /* Wrong size. */
    ck_assert_int_eq(mfsymlink_decode(file, sizeof(file) - 1, &back), SQ_ERR_PROTO);
    /* A changed target no longer matches its checksum. */
    file[43] = 'T';
    ck_assert_int_eq(mfsymlink_decode(file, sizeof(file), &back), SQ_ERR_PROTO);
    file[43] = 't';
    /* A length that is not four digits, or too long, or zero. */
    memcpy(file + 5, "00a6", 4);
    ck_assert_int_eq(mfsymlink_decode(file, sizeof(file), &back), SQ_ERR_PROTO);
    memcpy(file + 5, "2000", 4);
    ck_assert_int_eq(mfsymlink_decode(file, sizeof(file), &back), SQ_ERR_PROTO);
    memcpy(file + 5, "0000", 4);
    ck_assert_int_eq(mfsymlink_decode(file, sizeof(file), &back), SQ_ERR_PROTO);
    memcpy(file + 5, "0006", 4);
    ck_assert_int_eq(mfsymlink_decode(file, sizeof(file), &back), 0);
    free(back);
    back = NULL;
    /* Another magic. */
    file[0] = 'x';
    ck_assert_int_eq(mfsymlink_decode(file, sizeof(file), &back), SQ_ERR_PROTO);
    ck_assert_ptr_null(back);
}
END_TEST

START_TEST(embedded_nul_is_refused)
{
    /* A target holding a NUL cannot be a C string: refused whatever the checksum says. */
    uint8_t file[MFSYMLINK_FILE_SIZE];
    ck_assert_int_eq(mfsymlink_encode("a?b", file), 0);
    file[44] = '\0';
    char *back = NULL;
    ck_assert_int_eq(mfsymlink_decode(file, sizeof(file), &back), SQ_ERR_PROTO);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mfsymlink");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, encodes_the_cifs_layout);
    tcase_add_test(tc, round_trips);
    tcase_add_test(tc, longest_target_fills_the_file);
    tcase_add_test(tc, ordinary_files_are_not_links);
    tcase_add_test(tc, embedded_nul_is_refused);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
