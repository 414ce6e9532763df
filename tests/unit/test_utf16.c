/* Unit tests for util/utf16: strict UTF-8 <-> UTF-16LE conversion. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/utf16.h"

/* Standard UTF-8 encoding of cp, written independently of the code under test. */
static size_t encode_utf8(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static void expect_utf16(const char *s, size_t len, const uint8_t *want, size_t want_len)
{
    uint8_t *out;
    size_t out_len;
    ck_assert_int_eq(utf8_to_utf16le(s, len, &out, &out_len), 0);
    ck_assert_uint_eq(out_len, want_len);
    ck_assert_mem_eq(out, want, want_len);
    char *back;
    ck_assert_int_eq(utf16le_to_utf8(out, out_len, &back), 0);
    ck_assert_uint_eq(strlen(back), len);
    ck_assert_mem_eq(back, s, len);
    free(back);
    free(out);
}

static void expect_bad_utf8(const char *s, size_t len)
{
    uint8_t *out = (uint8_t *)1;
    size_t out_len = 99, size = 99;
    ck_assert_int_eq(utf8_to_utf16le(s, len, &out, &out_len), SQ_ERR_INVAL);
    ck_assert_ptr_null(out);
    ck_assert_uint_eq(out_len, 0);
    ck_assert_int_eq(utf8_utf16le_size(s, len, &size), SQ_ERR_INVAL);
}

static void expect_bad_utf16(const uint8_t *p, size_t len)
{
    char *out = (char *)1;
    ck_assert_int_eq(utf16le_to_utf8(p, len, &out), SQ_ERR_PROTO);
    ck_assert_ptr_null(out);
}

START_TEST(test_known_conversions)
{
    expect_utf16("abc", 3, (const uint8_t *)"a\0b\0c\0", 6);
    expect_utf16("\xC3\xA9", 2, (const uint8_t *)"\xE9\x00", 2);                 /* U+00E9 */
    expect_utf16("\xE2\x82\xAC", 3, (const uint8_t *)"\xAC\x20", 2);             /* U+20AC */
    expect_utf16("\xEF\xBF\xBF", 3, (const uint8_t *)"\xFF\xFF", 2);             /* U+FFFF */
    expect_utf16("\xF0\x9F\x98\x80", 4, (const uint8_t *)"\x3D\xD8\x00\xDE", 4); /* U+1F600 */
    expect_utf16("\xF4\x8F\xBF\xBF", 4, (const uint8_t *)"\xFF\xDB\xFF\xDF", 4); /* U+10FFFF */
    expect_utf16("\xF0\x90\x80\x80", 4, (const uint8_t *)"\x00\xD8\x00\xDC", 4); /* U+10000 */
    expect_utf16("\\\\server\\share", 14,
                 (const uint8_t *)"\\\0\\\0s\0e\0r\0v\0e\0r\0\\\0s\0h\0a\0r\0e\0", 28);

    /* Empty input: a non-NULL empty result both ways. */
    uint8_t *out;
    size_t out_len;
    ck_assert_int_eq(utf8_to_utf16le("", 0, &out, &out_len), 0);
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(out_len, 0);
    free(out);
    ck_assert_int_eq(utf8_to_utf16le(NULL, 0, &out, &out_len), 0);
    free(out);
    char *s;
    ck_assert_int_eq(utf16le_to_utf8((const uint8_t *)"", 0, &s), 0);
    ck_assert_str_eq(s, "");
    free(s);
    ck_assert_int_eq(utf16le_to_utf8(NULL, 0, &s), 0);
    free(s);
}
END_TEST

START_TEST(test_invalid_utf8)
{
    expect_bad_utf8("\x80", 1);                     /* lone continuation */
    expect_bad_utf8("a\xBF", 2);                    /* lone continuation after ASCII */
    expect_bad_utf8("\xC0\x80", 2);                 /* overlong NUL */
    expect_bad_utf8("\xC1\xBF", 2);                 /* overlong U+007F */
    expect_bad_utf8("\xE0\x80\x80", 3);             /* overlong */
    expect_bad_utf8("\xE0\x9F\xBF", 3);             /* overlong U+07FF */
    expect_bad_utf8("\xF0\x80\x80\x80", 4);         /* overlong */
    expect_bad_utf8("\xF0\x8F\xBF\xBF", 4);         /* overlong U+FFFF */
    expect_bad_utf8("\xED\xA0\x80", 3);             /* U+D800 */
    expect_bad_utf8("\xED\xBF\xBF", 3);             /* U+DFFF */
    expect_bad_utf8("\xED\xA0\xBD\xED\xB8\x80", 6); /* CESU-8 surrogate pair */
    expect_bad_utf8("\xF4\x90\x80\x80", 4);         /* U+110000 */
    expect_bad_utf8("\xF5\x80\x80\x80", 4);
    expect_bad_utf8("\xFE", 1);
    expect_bad_utf8("\xFF", 1);
    expect_bad_utf8("\xE2\x82", 2);     /* truncated */
    expect_bad_utf8("\xF0\x9F\x98", 3); /* truncated */
    expect_bad_utf8("\xC3", 1);         /* truncated */
    expect_bad_utf8("\xE2\x28\xA1", 3); /* bad continuation */
    expect_bad_utf8("\xC3\xC3", 2);
    expect_bad_utf8("a\0b", 3); /* embedded NUL */
    expect_bad_utf8("\0", 1);

    uint8_t *out;
    size_t out_len;
    ck_assert_int_eq(utf8_to_utf16le(NULL, 1, &out, &out_len), SQ_ERR_INVAL);
}
END_TEST

START_TEST(test_invalid_utf16)
{
    expect_bad_utf16((const uint8_t *)"a", 1);                /* odd length */
    expect_bad_utf16((const uint8_t *)"a\0b", 3);             /* odd length */
    expect_bad_utf16((const uint8_t *)"\x00\xD8", 2);         /* lone high at end */
    expect_bad_utf16((const uint8_t *)"\x00\xD8\x61\x00", 4); /* high + non-low */
    expect_bad_utf16((const uint8_t *)"\x00\xD8\x00\xD8", 4); /* high + high */
    expect_bad_utf16((const uint8_t *)"\x00\xDC", 2);         /* lone low */
    expect_bad_utf16((const uint8_t *)"\x61\x00\x00\xDC", 4); /* lone low after 'a' */
    expect_bad_utf16((const uint8_t *)"\x00\x00", 2);         /* NUL */
    expect_bad_utf16((const uint8_t *)"a\0\0\0b\0", 6);       /* embedded NUL */
    expect_bad_utf16((const uint8_t *)"a\0\0", 3);            /* odd, NUL */
    expect_bad_utf16(NULL, 2);
}
END_TEST

/* Every scalar value round-trips and gets the expected UTF-16 form. */
START_TEST(test_all_code_points)
{
    for (uint32_t cp = 1; cp <= 0x10FFFF; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        char u8[4];
        size_t n = encode_utf8(cp, u8);
        uint8_t want[4];
        size_t want_len;
        if (cp < 0x10000) {
            want[0] = (uint8_t)cp;
            want[1] = (uint8_t)(cp >> 8);
            want_len = 2;
        } else {
            uint32_t v = cp - 0x10000;
            uint16_t hi = (uint16_t)(0xD800 + (v >> 10)), lo = (uint16_t)(0xDC00 + (v & 0x3FF));
            want[0] = (uint8_t)hi;
            want[1] = (uint8_t)(hi >> 8);
            want[2] = (uint8_t)lo;
            want[3] = (uint8_t)(lo >> 8);
            want_len = 4;
        }
        uint8_t *out;
        size_t out_len;
        if (utf8_to_utf16le(u8, n, &out, &out_len) != 0 || out_len != want_len ||
            memcmp(out, want, want_len) != 0)
            ck_abort_msg("U+%04X: bad UTF-16", (unsigned)cp);
        char *back;
        if (utf16le_to_utf8(out, out_len, &back) != 0 || strlen(back) != n ||
            memcmp(back, u8, n) != 0)
            ck_abort_msg("U+%04X: bad round trip", (unsigned)cp);
        free(back);
        free(out);
    }
}
END_TEST

/* Every 2- and 3-byte string with a non-ASCII lead is judged as RFC 3629's table says. */
START_TEST(test_exhaustive_short_sequences)
{
    for (unsigned a = 0x80; a <= 0xFF; a++) {
        for (unsigned b = 0; b <= 0xFF; b++) {
            char s[2] = {(char)a, (char)b};
            size_t size;
            bool valid = a >= 0xC2 && a <= 0xDF && b >= 0x80 && b <= 0xBF;
            ck_assert_int_eq(utf8_utf16le_size(s, 2, &size) == 0, valid);
        }
    }
    for (unsigned a = 0xE0; a <= 0xEF; a++) {
        unsigned lo = a == 0xE0 ? 0xA0 : 0x80, hi = a == 0xED ? 0x9F : 0xBF;
        for (unsigned b = 0; b <= 0xFF; b++) {
            for (unsigned c = 0; c <= 0xFF; c++) {
                char s[3] = {(char)a, (char)b, (char)c};
                size_t size;
                bool valid = b >= lo && b <= hi && c >= 0x80 && c <= 0xBF;
                if ((utf8_utf16le_size(s, 3, &size) == 0) != valid)
                    ck_abort_msg("%02X %02X %02X misjudged", a, b, c);
            }
        }
    }
    for (unsigned a = 0xF0; a <= 0xFF; a++) {
        unsigned lo = a == 0xF0 ? 0x90 : 0x80, hi = a == 0xF4 ? 0x8F : 0xBF;
        for (unsigned b = 0; b <= 0xFF; b++) {
            char s[4] = {(char)a, (char)b, '\x80', '\xBF'};
            size_t size;
            bool valid = a <= 0xF4 && b >= lo && b <= hi;
            ck_assert_int_eq(utf8_utf16le_size(s, 4, &size) == 0, valid);
            if (valid)
                ck_assert_uint_eq(size, 4);
            s[3] = 'a';
            ck_assert_int_ne(utf8_utf16le_size(s, 4, &size), 0);
        }
    }
}
END_TEST

START_TEST(test_writer_put)
{
    struct writer w;
    writer_init(&w);
    writer_put_u8(&w, 0x42);
    writer_put_utf16le(&w, "h\xC3\xA9");
    ck_assert_int_eq(writer_error(&w), 0);
    ck_assert_uint_eq(w.len, 5);
    ck_assert_mem_eq(w.data, "\x42h\0\xE9\0", 5);

    writer_put_utf16le(&w, ""); /* nothing */
    ck_assert_int_eq(writer_error(&w), 0);
    ck_assert_uint_eq(w.len, 5);

    writer_put_utf16le_len(&w, "ab\xF0\x9F\x98\x80", 6);
    ck_assert_int_eq(writer_error(&w), 0);
    ck_assert_uint_eq(w.len, 13);

    writer_put_utf16le(&w, "ok\xC0\x80"); /* invalid: nothing appended */
    ck_assert_int_eq(writer_error(&w), SQ_ERR_INVAL);
    ck_assert_uint_eq(w.len, 13);
    writer_put_utf16le(&w, "more"); /* sticky */
    ck_assert_uint_eq(w.len, 13);
    writer_free(&w);

    writer_init(&w);
    writer_put_utf16le(&w, NULL);
    ck_assert_int_eq(writer_error(&w), SQ_ERR_INVAL);
    writer_free(&w);

    writer_init(&w);
    writer_put_utf16le_len(&w, "a\0b", 3);
    ck_assert_int_eq(writer_error(&w), SQ_ERR_INVAL);
    ck_assert_uint_eq(w.len, 0);
    writer_free(&w);

    /* A fixed writer with exactly enough room succeeds; one byte less fails. */
    uint8_t buf[6];
    writer_init_fixed(&w, buf, sizeof(buf));
    writer_put_utf16le(&w, "a\xE2\x82\xAC\xC3\xA9");
    ck_assert_int_eq(writer_error(&w), 0);
    ck_assert_mem_eq(buf, "a\0\xAC\x20\xE9\0", 6);
    writer_init_fixed(&w, buf, 5);
    writer_put_utf16le(&w, "a\xE2\x82\xAC\xC3\xA9");
    ck_assert_int_eq(writer_error(&w), SQ_ERR_INVAL);
}
END_TEST

START_TEST(test_size)
{
    size_t size;
    ck_assert_int_eq(utf8_utf16le_size("", 0, &size), 0);
    ck_assert_uint_eq(size, 0);
    ck_assert_int_eq(utf8_utf16le_size("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", 10, &size), 0);
    ck_assert_uint_eq(size, 10);
    ck_assert_int_eq(utf8_utf16le_size(NULL, 3, &size), SQ_ERR_INVAL);
}
END_TEST

static Suite *utf16_suite(void)
{
    Suite *s = suite_create("utf16");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_known_conversions);
    tcase_add_test(tc, test_invalid_utf8);
    tcase_add_test(tc, test_invalid_utf16);
    tcase_add_test(tc, test_all_code_points);
    tcase_add_test(tc, test_exhaustive_short_sequences);
    tcase_add_test(tc, test_writer_put);
    tcase_add_test(tc, test_size);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(utf16_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
