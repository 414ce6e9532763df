/* Unit tests for the bounded reader and the writer (include/util/buf.h): exact values, sticky
 * errors, bounds written as `n > len - off` (so SIZE_MAX lengths and offsets cannot wrap), sub-
 * readers, alignment, seeking, growth and fixed-capacity overflow. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/error.h"

static const uint8_t bytes[16] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};

/* ---- reader --------------------------------------------------------------------------------- */

START_TEST(test_reader_getters)
{
    struct reader r;
    reader_init(&r, bytes, sizeof(bytes));
    ck_assert_uint_eq(reader_remaining(&r), 16);
    ck_assert_uint_eq(reader_get_u8(&r), 0x01);
    ck_assert_uint_eq(reader_get_le16(&r), 0x0302);
    ck_assert_uint_eq(reader_get_le32(&r), 0x07060504u);
    ck_assert_uint_eq(reader_get_be24(&r), 0x08090au);
    ck_assert_uint_eq(reader_get_be32(&r), 0x0b0c0d0eu);
    ck_assert_uint_eq(r.off, 14);
    ck_assert_uint_eq(reader_remaining(&r), 2);
    ck_assert_int_eq(reader_error(&r), 0);

    reader_init(&r, bytes, sizeof(bytes));
    ck_assert_uint_eq(reader_get_le64(&r), 0x0807060504030201ull);
    ck_assert_uint_eq(reader_get_le64(&r), 0x100f0e0d0c0b0a09ull);
    ck_assert_uint_eq(reader_remaining(&r), 0);
    ck_assert_int_eq(reader_error(&r), 0);

    uint8_t out[4];
    reader_init(&r, bytes, sizeof(bytes));
    reader_skip(&r, 3);
    reader_get_bytes(&r, out, 4);
    ck_assert_mem_eq(out, bytes + 3, 4);
    const uint8_t *p = reader_get_ptr(&r, 9);
    ck_assert_ptr_eq(p, bytes + 7);
    ck_assert_uint_eq(reader_remaining(&r), 0);
    /* Zero-length reads at the end succeed. */
    ck_assert_ptr_eq(reader_get_ptr(&r, 0), bytes + 16);
    reader_get_bytes(&r, out, 0);
    reader_skip(&r, 0);
    ck_assert_int_eq(reader_error(&r), 0);
}
END_TEST

START_TEST(test_reader_sticky_error)
{
    struct reader r;
    reader_init(&r, bytes, 5);
    ck_assert_uint_eq(reader_get_le32(&r), 0x04030201u);
    ck_assert_uint_eq(reader_get_le16(&r), 0); /* one byte left: short */
    ck_assert_int_eq(reader_error(&r), SQ_ERR_PROTO);
    ck_assert_uint_eq(r.off, 4); /* the failed read consumed nothing */
    ck_assert_uint_eq(reader_remaining(&r), 0);
    /* Everything after the first failure returns zero, even reads that would fit. */
    ck_assert_uint_eq(reader_get_u8(&r), 0);
    ck_assert_uint_eq(reader_get_le16(&r), 0);
    ck_assert_uint_eq(reader_get_le32(&r), 0);
    ck_assert_uint_eq(reader_get_le64(&r), 0);
    ck_assert_uint_eq(reader_get_be24(&r), 0);
    ck_assert_uint_eq(reader_get_be32(&r), 0);
    ck_assert_ptr_null(reader_get_ptr(&r, 0));
    uint8_t out[3] = {0xaa, 0xbb, 0xcc};
    reader_get_bytes(&r, out, 1);
    ck_assert_uint_eq(out[0], 0);
    ck_assert_uint_eq(out[1], 0xbb);
    reader_seek(&r, 0);
    ck_assert_uint_eq(r.off, 4); /* seek does not clear the error */
    reader_align(&r, 8);
    ck_assert_uint_eq(r.off, 4);
    ck_assert_int_eq(reader_error(&r), SQ_ERR_PROTO);

    /* le64 with 6 bytes: the high half is short; nothing partial leaks out. */
    reader_init(&r, bytes, 6);
    ck_assert_uint_eq(reader_get_le64(&r), 0);
    ck_assert_int_eq(reader_error(&r), SQ_ERR_PROTO);

    /* get_bytes on short input zero-fills the whole output. */
    reader_init(&r, bytes, 3);
    uint8_t big[8];
    memset(big, 0xee, sizeof(big));
    reader_get_bytes(&r, big, sizeof(big));
    for (size_t i = 0; i < sizeof(big); i++)
        ck_assert_uint_eq(big[i], 0);

    /* reader_fail marks a semantic error. */
    reader_init(&r, bytes, sizeof(bytes));
    reader_fail(&r);
    ck_assert_int_eq(reader_error(&r), SQ_ERR_PROTO);
    ck_assert_uint_eq(reader_get_u8(&r), 0);
}
END_TEST

START_TEST(test_reader_huge_lengths)
{
    struct reader r;
    reader_init(&r, bytes, sizeof(bytes));
    reader_skip(&r, 4);
    /* off + n would wrap to a small value for these. */
    reader_skip(&r, SIZE_MAX);
    ck_assert_int_eq(reader_error(&r), SQ_ERR_PROTO);
    ck_assert_uint_eq(r.off, 4);

    reader_init(&r, bytes, sizeof(bytes));
    reader_skip(&r, 4);
    ck_assert_ptr_null(reader_get_ptr(&r, SIZE_MAX - 3));
    ck_assert_int_eq(reader_error(&r), SQ_ERR_PROTO);

    reader_init(&r, bytes, sizeof(bytes));
    reader_skip(&r, 1);
    ck_assert_ptr_null(reader_get_ptr(&r, 16)); /* one past the end */
    ck_assert_int_eq(reader_error(&r), SQ_ERR_PROTO);

    reader_init(&r, bytes, sizeof(bytes));
    reader_skip(&r, 1);
    ck_assert_ptr_eq(reader_get_ptr(&r, 15), bytes + 1); /* exactly to the end */
    ck_assert_int_eq(reader_error(&r), 0);

    /* A NULL buffer is an empty reader whatever length is claimed. */
    reader_init(&r, NULL, 100);
    ck_assert_uint_eq(r.len, 0);
    ck_assert_uint_eq(reader_remaining(&r), 0);
    ck_assert_uint_eq(reader_get_u8(&r), 0);
    ck_assert_int_eq(reader_error(&r), SQ_ERR_PROTO);
}
END_TEST

START_TEST(test_reader_seek)
{
    struct reader r;
    reader_init(&r, bytes, sizeof(bytes));
    reader_seek(&r, 10);
    ck_assert_uint_eq(reader_get_u8(&r), 0x0b);
    reader_seek(&r, 2); /* backwards is allowed */
    ck_assert_uint_eq(reader_get_u8(&r), 0x03);
    reader_seek(&r, 16); /* the end itself */
    ck_assert_int_eq(reader_error(&r), 0);
    ck_assert_uint_eq(reader_remaining(&r), 0);
    reader_seek(&r, 17);
    ck_assert_int_eq(reader_error(&r), SQ_ERR_PROTO);
    ck_assert_uint_eq(r.off, 16);

    reader_init(&r, bytes, sizeof(bytes));
    reader_seek(&r, SIZE_MAX);
    ck_assert_int_eq(reader_error(&r), SQ_ERR_PROTO);
    ck_assert_uint_eq(r.off, 0);
}
END_TEST

START_TEST(test_reader_align)
{
    struct reader r;
    reader_init(&r, bytes, sizeof(bytes));
    reader_skip(&r, 1);
    reader_align(&r, 8);
    ck_assert_uint_eq(r.off, 8);
    reader_align(&r, 8); /* already aligned */
    ck_assert_uint_eq(r.off, 8);
    reader_skip(&r, 1);
    reader_align(&r, 4);
    ck_assert_uint_eq(r.off, 12);
    reader_align(&r, 1); /* no-ops */
    reader_align(&r, 0);
    ck_assert_uint_eq(r.off, 12);
    ck_assert_int_eq(reader_error(&r), 0);

    /* Trailing padding is optional: aligning past the end stops at the end, no error. */
    reader_init(&r, bytes, 13);
    reader_skip(&r, 9);
    reader_align(&r, 8);
    ck_assert_uint_eq(r.off, 13);
    ck_assert_int_eq(reader_error(&r), 0);
    ck_assert_uint_eq(reader_remaining(&r), 0);
    /* ... but a read after it fails. */
    ck_assert_uint_eq(reader_get_u8(&r), 0);
    ck_assert_int_eq(reader_error(&r), SQ_ERR_PROTO);

    /* Alignment counts from the reader's own start (offsets are relative to its data). */
    reader_init(&r, bytes + 3, 13);
    reader_skip(&r, 1);
    reader_align(&r, 4);
    ck_assert_uint_eq(r.off, 4);
    ck_assert_uint_eq(reader_get_u8(&r), 0x08);
}
END_TEST

START_TEST(test_reader_sub)
{
    struct reader r, sub;
    reader_init(&r, bytes, sizeof(bytes));
    reader_skip(&r, 2);
    reader_sub(&r, 4, 6, &sub); /* absolute offsets, independent of r.off */
    ck_assert_int_eq(reader_error(&r), 0);
    ck_assert_uint_eq(r.off, 2);
    ck_assert_ptr_eq(sub.data, bytes + 4);
    ck_assert_uint_eq(sub.len, 6);
    ck_assert_uint_eq(sub.off, 0);
    ck_assert_uint_eq(reader_get_le32(&sub), 0x08070605u);
    ck_assert_uint_eq(reader_get_le16(&sub), 0x0a09);
    ck_assert_uint_eq(reader_get_u8(&sub), 0); /* bounded by the sub-range, not r */
    ck_assert_int_eq(reader_error(&sub), SQ_ERR_PROTO);
    ck_assert_int_eq(reader_error(&r), 0); /* the sub-reader's error is its own */

    /* Ranges touching the end are fine; empty ranges too. */
    reader_sub(&r, 10, 6, &sub);
    ck_assert_int_eq(reader_error(&r), 0);
    ck_assert_uint_eq(reader_get_u8(&sub), 0x0b);
    reader_sub(&r, 16, 0, &sub);
    ck_assert_int_eq(reader_error(&r), 0);
    ck_assert_int_eq(reader_error(&sub), 0);
    ck_assert_uint_eq(reader_remaining(&sub), 0);

    static const struct {
        size_t off, n;
    } bad[] = {
        {10, 7},             /* one byte past the end */
        {17, 0},             /* offset past the end */
        {1, SIZE_MAX},       /* off + n wraps to 0 */
        {SIZE_MAX, 1},       /* off + n wraps to 0 */
        {SIZE_MAX, SIZE_MAX},
        {16, 1},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        reader_init(&r, bytes, sizeof(bytes));
        memset(&sub, 0x55, sizeof(sub));
        reader_sub(&r, bad[i].off, bad[i].n, &sub);
        ck_assert_msg(reader_error(&r) == SQ_ERR_PROTO, "case %zu: parent not failed", i);
        ck_assert_int_eq(reader_error(&sub), SQ_ERR_PROTO);
        ck_assert_uint_eq(sub.len, 0);
        ck_assert_uint_eq(reader_remaining(&sub), 0);
        ck_assert_uint_eq(reader_get_u8(&sub), 0);
    }

    /* A failed parent yields failed sub-readers. */
    reader_init(&r, bytes, sizeof(bytes));
    reader_fail(&r);
    reader_sub(&r, 0, 4, &sub);
    ck_assert_int_eq(reader_error(&sub), SQ_ERR_PROTO);
    ck_assert_uint_eq(reader_get_u8(&sub), 0);
}
END_TEST

/* ---- writer --------------------------------------------------------------------------------- */

START_TEST(test_writer_values_and_growth)
{
    struct writer w;
    writer_init(&w);
    ck_assert_uint_eq(w.len, 0);
    ck_assert_ptr_null(w.data);
    writer_put_u8(&w, 0xa1);
    writer_put_le16(&w, 0xb2c3);
    writer_put_le32(&w, 0xd4e5f607u);
    writer_put_le64(&w, 0x0102030405060708ull);
    writer_put_be24(&w, 0x0a0b0c);
    static const uint8_t want[] = {0xa1, 0xc3, 0xb2, 0x07, 0xf6, 0xe5, 0xd4, 0x08, 0x07,
                                   0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0x0a, 0x0b, 0x0c};
    ck_assert_uint_eq(w.len, sizeof(want));
    ck_assert_mem_eq(w.data, want, sizeof(want));
    ck_assert_uint_eq(w.cap, 256);

    /* Growth keeps the content and doubles the capacity. */
    for (size_t i = 0; i < 10000; i++)
        writer_put_u8(&w, (uint8_t)(i * 13));
    ck_assert_int_eq(writer_error(&w), 0);
    ck_assert_uint_eq(w.len, sizeof(want) + 10000);
    ck_assert_uint_eq(w.cap, 16384);
    ck_assert_mem_eq(w.data, want, sizeof(want));
    for (size_t i = 0; i < 10000; i++)
        ck_assert_uint_eq(w.data[sizeof(want) + i], (uint8_t)(i * 13));

    /* A large single reservation. */
    ck_assert_int_eq(writer_reserve(&w, 100000), 0);
    ck_assert_uint_ge(w.cap - w.len, 100000);
    uint8_t *p = writer_extend(&w, 5);
    ck_assert_ptr_eq(p, w.data + sizeof(want) + 10000);
    ck_assert_uint_eq(w.len, sizeof(want) + 10005);
    writer_free(&w);
    ck_assert_ptr_null(w.data);
    ck_assert_uint_eq(w.len, 0);
}
END_TEST

START_TEST(test_writer_bytes_zeros_align)
{
    struct writer w;
    writer_init(&w);
    writer_put_bytes(&w, NULL, 0); /* nothing: allowed with NULL */
    writer_put_zeros(&w, 0);
    ck_assert_uint_eq(w.len, 0);
    writer_put_bytes(&w, bytes, 3);
    writer_put_zeros(&w, 2);
    static const uint8_t want[] = {1, 2, 3, 0, 0};
    ck_assert_mem_eq(w.data, want, 5);

    writer_align(&w, 0, 8);
    ck_assert_uint_eq(w.len, 8);
    writer_align(&w, 0, 8);
    ck_assert_uint_eq(w.len, 8);
    /* Relative to a base: len 9, base 3 -> 6 bytes in, pad to 8 -> len 11. */
    writer_put_u8(&w, 0xff);
    writer_align(&w, 3, 8);
    ck_assert_uint_eq(w.len, 11);
    ck_assert_uint_eq(w.data[9], 0);
    ck_assert_uint_eq(w.data[10], 0);
    /* A base beyond the end, and alignments 0 and 1, do nothing. */
    writer_align(&w, 100, 8);
    writer_align(&w, 0, 1);
    writer_align(&w, 0, 0);
    ck_assert_uint_eq(w.len, 11);
    ck_assert_int_eq(writer_error(&w), 0);
    writer_wipe_free(&w);
    ck_assert_ptr_null(w.data);
}
END_TEST

START_TEST(test_writer_fixed_overflow)
{
    uint8_t buf[10];
    memset(buf, 0xcc, sizeof(buf));
    struct writer w;
    writer_init_fixed(&w, buf, 8);
    writer_put_le32(&w, 0x04030201u);
    writer_put_le16(&w, 0x0605);
    ck_assert_int_eq(writer_error(&w), 0);
    writer_put_le32(&w, 0xdeadbeefu); /* 2 bytes left: nothing written */
    ck_assert_int_eq(writer_error(&w), SQ_ERR_INVAL);
    ck_assert_uint_eq(w.len, 6);
    ck_assert_uint_eq(buf[6], 0xcc);
    ck_assert_uint_eq(buf[7], 0xcc);
    /* Sticky: even a fitting write does nothing now. */
    writer_put_u8(&w, 0x77);
    writer_put_bytes(&w, "ab", 2);
    writer_put_zeros(&w, 1);
    ck_assert_ptr_null(writer_extend(&w, 1));
    ck_assert_int_eq(writer_reserve(&w, 0), SQ_ERR_INVAL);
    ck_assert_uint_eq(w.len, 6);
    ck_assert_uint_eq(buf[6], 0xcc);
    ck_assert_int_eq(writer_error(&w), SQ_ERR_INVAL);
    writer_free(&w); /* must not free the caller's buffer */
    ck_assert_uint_eq(buf[0], 0x01);
    ck_assert_uint_eq(buf[8], 0xcc);

    /* Exactly full is fine. */
    writer_init_fixed(&w, buf, 4);
    writer_put_le32(&w, 1);
    ck_assert_int_eq(writer_error(&w), 0);
    ck_assert_uint_eq(w.len, 4);
    writer_put_bytes(&w, NULL, 0);
    ck_assert_int_eq(writer_error(&w), 0);
    writer_put_u8(&w, 1);
    ck_assert_int_eq(writer_error(&w), SQ_ERR_INVAL);
}
END_TEST

START_TEST(test_writer_huge_reserve)
{
    struct writer w;
    writer_init(&w);
    writer_put_u8(&w, 1);
    ck_assert_int_eq(writer_reserve(&w, SIZE_MAX), SQ_ERR_NOMEM);
    ck_assert_int_eq(writer_error(&w), SQ_ERR_NOMEM);
    ck_assert_uint_eq(w.len, 1);
    writer_put_u8(&w, 2); /* sticky */
    ck_assert_uint_eq(w.len, 1);
    writer_free(&w);

    /* Sizes whose doubling would wrap the capacity to zero (and loop forever) are refused. */
    writer_init(&w);
    writer_put_zeros(&w, 3);
    ck_assert_int_eq(writer_reserve(&w, SIZE_MAX - 8), SQ_ERR_NOMEM);
    ck_assert_int_eq(writer_reserve(&w, SIZE_MAX / 2), SQ_ERR_NOMEM);
    ck_assert_uint_eq(w.cap, 256);
    writer_free(&w);

    /* Just past the growth limit: refused before any allocation is attempted. */
    writer_init(&w);
    ck_assert_int_eq(writer_reserve(&w, SIZE_MAX / 2 + 1), SQ_ERR_NOMEM);
    ck_assert_ptr_null(w.data);
    writer_free(&w);
}
END_TEST

START_TEST(test_writer_patch)
{
    struct writer w;
    writer_init(&w);
    writer_put_zeros(&w, 8);
    writer_patch_le16(&w, 0, 0x0201);
    writer_patch_le32(&w, 4, 0x08070605u);
    static const uint8_t want[] = {1, 2, 0, 0, 5, 6, 7, 8};
    ck_assert_mem_eq(w.data, want, 8);
    writer_patch_le16(&w, 6, 0xbbaa); /* the last two bytes */
    ck_assert_uint_eq(w.data[6], 0xaa);
    ck_assert_uint_eq(w.data[7], 0xbb);

    /* Out of range: ignored, no error, nothing written, no growth. */
    uint8_t before[8];
    memcpy(before, w.data, 8);
    writer_patch_le16(&w, 7, 0xffff);
    writer_patch_le16(&w, 8, 0xffff);
    writer_patch_le32(&w, 5, 0xffffffffu);
    writer_patch_le32(&w, SIZE_MAX, 0xffffffffu);
    writer_patch_le32(&w, SIZE_MAX - 1, 0xffffffffu);
    writer_patch_le16(&w, SIZE_MAX, 0xffff);
    ck_assert_mem_eq(w.data, before, 8);
    ck_assert_uint_eq(w.len, 8);
    ck_assert_int_eq(writer_error(&w), 0);

    /* A failed writer ignores patches. */
    uint8_t buf[4] = {0};
    struct writer f;
    writer_init_fixed(&f, buf, 4);
    writer_put_le16(&f, 0);
    writer_put_le32(&f, 0);
    writer_patch_le16(&f, 0, 0x1234);
    ck_assert_uint_eq(buf[0], 0);
    writer_free(&w);
}
END_TEST

static Suite *buf_suite(void)
{
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("reader");
    tcase_add_test(tc, test_reader_getters);
    tcase_add_test(tc, test_reader_sticky_error);
    tcase_add_test(tc, test_reader_huge_lengths);
    tcase_add_test(tc, test_reader_seek);
    tcase_add_test(tc, test_reader_align);
    tcase_add_test(tc, test_reader_sub);
    suite_add_tcase(s, tc);
    tc = tcase_create("writer");
    tcase_add_test(tc, test_writer_values_and_growth);
    tcase_add_test(tc, test_writer_bytes_zeros_align);
    tcase_add_test(tc, test_writer_fixed_overflow);
    tcase_add_test(tc, test_writer_huge_reserve);
    tcase_add_test(tc, test_writer_patch);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(buf_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
