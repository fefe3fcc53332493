/*
 * test_zstd.c - compress/zstd: round trips at several sizes, kinds of
 * data and levels; the worth-it rule against a brute-force model; and
 * decompression of damaged, hostile and foreign frames, which must fail
 * with B3CAS_ECORRUPT and a message, never write outside the caller's
 * buffer (an exact-size heap block for AddressSanitizer, and a guard
 * zone checked in every build) and never read outside the input (an
 * exact-size copy).
 *
 * Hand-made frames are written from RFC 8878, not from libzstd, so the
 * header checks of zstd.c are tested against the specification.
 */
#include <pthread.h>

#include "compress/zstd.h"
#include "test_util.h"

#include <zstd.h>

#define GUARD 64

static uint64_t seed;

/* Words from a small vocabulary: compresses like text (about 3x). */
static void fill_text(uint8_t *buf, size_t len, uint64_t *st)
{
	static const char *const words[] = {
		"the ", "store ", "chunk ", "object ", "index ", "of ",
		"and ", "writes ", "reads ", "a ", "hash ", "id\n",
		"compressed ", "bytes ", "{ ", "} ", "return ", "int ",
	};
	size_t i = 0;

	while (i < len) {
		const char *w = words[tu_rand(st) % 18];

		for (size_t j = 0; w[j] && i < len; j++)
			buf[i++] = (uint8_t)w[j];
	}
}

static uint8_t *compress_new(const void *src, size_t len, int level,
			     size_t *csize)
{
	size_t cap = b3cas__zstd_bound(len);
	uint8_t *dst = malloc(cap);

	assert_non_null(dst);
	assert_int_equal(b3cas__zstd_compress(csize, dst, cap, src, len,
					      level), 0);
	assert_true(*csize <= cap);
	return dst;
}

/*
 * Decompress twice: into an exact-size block (AddressSanitizer sees any
 * write past it) and into one with a guard zone after expected bytes
 * (checked here, in every build). The input is an exact-size copy. Both
 * calls must agree; on success want (if not NULL) is the content.
 */
static int decompress_checked(const void *src, size_t csize,
			      size_t expected, const void *want)
{
	uint8_t *in = tu_exact_copy(src, csize);
	uint8_t *exact = malloc(expected ? expected : 1);
	uint8_t *guarded = malloc(expected + GUARD);
	int rc1, rc2;

	assert_non_null(exact);
	assert_non_null(guarded);
	memset(guarded, 0xa5, expected + GUARD);
	rc1 = b3cas__zstd_decompress(exact, expected, in, csize);
	rc2 = b3cas__zstd_decompress(guarded, expected, in, csize);
	for (size_t i = 0; i < GUARD; i++)
		if (guarded[expected + i] != 0xa5)
			fail_msg("byte %zu past the %zu expected was written",
				 i, expected);
	assert_int_equal(rc1, rc2);
	if (rc1 == 0) {
		tu_expect_mem(guarded, exact, expected, "two decodes");
		if (want)
			tu_expect_mem(exact, want, expected, "round trip");
	} else {
		assert_true(rc1 < 0);
		assert_true(strncmp(b3cas_error_last(), "zstd: ", 6) == 0);
	}
	free(in);
	free(exact);
	free(guarded);
	return rc1;
}

static void round_trip(const uint8_t *data, size_t len, int level)
{
	size_t csize;
	uint8_t *c = compress_new(data, len, level, &csize);

	if (decompress_checked(c, csize, len, data) != 0)
		fail_msg("level %d, %zu bytes: %s", level, len,
			 b3cas_error_last());
	free(c);
}

static void test_round_trips(void **state)
{
	static const size_t sizes[] = {0, 1, 2, 100, 4096, 65535, 65536,
				       65537, 1 << 20};
	static const int levels[] = {-5, 1, 3, 9, 19};
	uint64_t st = seed;
	uint8_t *text = malloc(1 << 20), *rnd = malloc(1 << 20);

	(void)state;
	assert_non_null(text);
	assert_non_null(rnd);
	fill_text(text, 1 << 20, &st);
	tu_fill_random(rnd, 1 << 20, &st);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]);
		     l++) {
			if (levels[l] > 9 && sizes[i] > 65537)
				continue; /* slow, and no other path */
			round_trip(text, sizes[i], levels[l]);
			round_trip(rnd, sizes[i], levels[l]);
		}
	round_trip(NULL, 0, 3);
	free(text);
	free(rnd);
}

/* Random bytes do not compress: the rule says no, and a capped
 * compression stops with B3CAS_ERANGE. Text does and the rule says yes. */
static void test_worth_on_data(void **state)
{
	uint64_t st = seed + 1;
	size_t len = 65536, csize, max;
	uint8_t *data = malloc(len), *c;

	(void)state;
	assert_non_null(data);
	tu_fill_random(data, len, &st);
	c = compress_new(data, len, 3, &csize);
	assert_true(csize >= len);
	assert_false(b3cas__zstd_worth(len, csize, 64, 5));
	max = b3cas__zstd_worth_max(len, 64, 5);
	assert_int_equal(b3cas__zstd_compress(&csize, c, max, data, len, 3),
			 B3CAS_ERANGE);
	assert_non_null(strstr(b3cas_error_last(), "do not compress"));
	free(c);

	fill_text(data, len, &st);
	c = compress_new(data, len, 3, &csize);
	assert_true(csize < len / 2);
	assert_true(b3cas__zstd_worth(len, csize, 64, 5));
	assert_int_equal(b3cas__zstd_compress(&csize, c, max, data, len, 3),
			 0);
	free(c);
	free(data);
}

/* The largest worthwhile size, found by trying every size. */
static size_t worth_max_model(size_t len, size_t saving, unsigned pct)
{
	for (size_t c = len; c-- > 0;)
		if (len - c >= saving && (len - c) * 100 >= len * pct &&
		    c > 0)
			return c;
	return 0;
}

static void test_worth_rule(void **state)
{
	static const size_t savings[] = {0, 1, 10, 64, 500};
	static const unsigned pcts[] = {0, 1, 5, 12, 50, 99, 100, 150};

	(void)state;
	for (size_t len = 0; len < 700; len++)
		for (size_t s = 0; s < 5; s++)
			for (size_t p = 0; p < 8; p++) {
				size_t want = worth_max_model(len, savings[s],
							      pcts[p]);
				size_t got = b3cas__zstd_worth_max(
					len, savings[s], pcts[p]);

				if (got != want)
					fail_msg("len %zu saving %zu pct %u: "
						 "%zu, not %zu", len,
						 savings[s], pcts[p], got,
						 want);
				assert_int_equal(
					b3cas__zstd_worth(len, want, savings[s],
							  pcts[p]),
					want > 0);
				assert_false(b3cas__zstd_worth(
					len, want + 1, savings[s], pcts[p]));
			}
	/* no overflow on huge lengths */
	assert_int_equal(b3cas__zstd_worth_max(SIZE_MAX, 0, 50),
			 SIZE_MAX / 2);
}

static void test_bad_arguments(void **state)
{
	uint8_t buf[64];
	size_t csize;

	(void)state;
	assert_int_equal(b3cas__zstd_compress(&csize, buf, 64, "x", 1, 20),
			 B3CAS_EINVAL);
	assert_non_null(strstr(b3cas_error_last(), "level 20"));
	assert_int_equal(b3cas__zstd_compress(&csize, buf, 64, "x", 1,
					      B3CAS_ZSTD_LEVEL_MIN - 1),
			 B3CAS_EINVAL);
	assert_int_equal(b3cas__zstd_compress(NULL, buf, 64, "x", 1, 3),
			 B3CAS_EINVAL);
	assert_int_equal(b3cas__zstd_compress(&csize, buf, 64, NULL, 1, 3),
			 B3CAS_EINVAL);
	assert_int_equal(b3cas__zstd_decompress(NULL, 5, buf, 10),
			 B3CAS_EINVAL);
	assert_int_equal(b3cas__zstd_decompress(buf, 5, NULL, 10),
			 B3CAS_EINVAL);
	assert_int_equal(b3cas__zstd_compress(&csize, NULL, 0, "x", 1, 3),
			 B3CAS_ERANGE);
	assert_true(b3cas__zstd_bound(100) >= 100);
	assert_int_equal(b3cas__zstd_bound(SIZE_MAX), 0);
}

static void test_truncated(void **state)
{
	uint64_t st = seed + 2;
	size_t len = 20000, csize;
	uint8_t *data = malloc(len), *c;

	(void)state;
	assert_non_null(data);
	fill_text(data, len, &st);
	c = compress_new(data, len, 3, &csize);
	for (size_t cut = 0; cut < csize; cut++)
		assert_int_equal(decompress_checked(c, cut, len, NULL),
				 B3CAS_ECORRUPT);
	free(c);
	free(data);
}

/*
 * Every byte of a frame flipped in turn: the frame has no checksum (the
 * store verifies the decoded bytes by their id), so a flip in literals
 * may decode to other bytes of the right length; everything else must
 * fail cleanly. Either way nothing is written or read out of bounds.
 */
static void test_flipped_bytes(void **state)
{
	uint64_t st = seed + 3;
	size_t len = 8192, csize, failed = 0, differ = 0;
	uint8_t *data = malloc(len), *back = malloc(len), *c;

	(void)state;
	assert_non_null(data);
	assert_non_null(back);
	fill_text(data, len, &st);
	c = compress_new(data, len, 3, &csize);
	for (size_t i = 0; i < csize; i++) {
		c[i] ^= 0xff;
		if (decompress_checked(c, csize, len, NULL) != 0) {
			failed++;
		} else {
			assert_int_equal(
				b3cas__zstd_decompress(back, len, c, csize), 0);
			differ += memcmp(back, data, len) != 0;
		}
		c[i] ^= 0xff;
	}
	fprintf(stderr, "[flipped] %zu of %zu flips refused, %zu decoded "
		"to other bytes, %zu to the same\n", failed, csize, differ,
		csize - failed - differ);
	free(back);
	/* the magic and the header at least */
	assert_true(failed >= 6);
	free(c);
	free(data);
}

static void test_declared_size_differs(void **state)
{
	uint64_t st = seed + 4;
	size_t len = 5000, csize;
	uint8_t *data = malloc(len), *c;

	(void)state;
	assert_non_null(data);
	fill_text(data, len, &st);
	c = compress_new(data, len, 3, &csize);
	assert_int_equal(decompress_checked(c, csize, len - 1, NULL),
			 B3CAS_ECORRUPT);
	assert_non_null(strstr(b3cas_error_last(), "declares 5000 bytes"));
	assert_int_equal(decompress_checked(c, csize, len + 1, NULL),
			 B3CAS_ECORRUPT);
	assert_int_equal(decompress_checked(c, csize, 0, NULL),
			 B3CAS_ECORRUPT);
	free(c);
	free(data);
}

/* A frame made with libzstd's streaming API and no content size. */
static uint8_t *compress_no_size(const void *src, size_t len, int level,
				 size_t *csize)
{
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	size_t cap = ZSTD_compressBound(len), r;
	uint8_t *dst = malloc(cap);
	ZSTD_inBuffer in = {src, len, 0};
	ZSTD_outBuffer out = {dst, cap, 0};

	assert_non_null(cctx);
	assert_non_null(dst);
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(
		cctx, ZSTD_c_contentSizeFlag, 0)));
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(
		cctx, ZSTD_c_compressionLevel, level)));
	r = ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_end);
	assert_int_equal(r, 0);
	ZSTD_freeCCtx(cctx);
	assert_int_equal(ZSTD_getFrameContentSize(dst, out.pos),
			 ZSTD_CONTENTSIZE_UNKNOWN);
	*csize = out.pos;
	return dst;
}

static void test_no_content_size(void **state)
{
	uint64_t st = seed + 5;
	size_t len = 30000, csize;
	uint8_t *data = malloc(len), *c;

	(void)state;
	assert_non_null(data);
	fill_text(data, len, &st);
	c = compress_no_size(data, len, 3, &csize);
	assert_int_equal(decompress_checked(c, csize, len, data), 0);
	assert_int_equal(decompress_checked(c, csize, len - 1, NULL),
			 B3CAS_ECORRUPT);
	assert_non_null(strstr(b3cas_error_last(), "more than"));
	assert_int_equal(decompress_checked(c, csize, len + 1, NULL),
			 B3CAS_ECORRUPT);
	assert_non_null(strstr(b3cas_error_last(), "decodes to 30000"));
	assert_int_equal(decompress_checked(c, csize, 0, NULL),
			 B3CAS_ECORRUPT);
	free(c);
	free(data);
}

/* 64 MiB of zeros in a frame of a few KiB, declared or not. */
static void test_bomb(void **state)
{
	size_t len = (size_t)64 << 20, csize;
	uint8_t *zeros = calloc(1, len), *c;

	(void)state;
	assert_non_null(zeros);
	c = compress_no_size(zeros, len, 1, &csize);
	assert_true(csize < 8192);
	assert_int_equal(decompress_checked(c, csize, 100, NULL),
			 B3CAS_ECORRUPT);
	assert_int_equal(decompress_checked(c, csize, 65536, NULL),
			 B3CAS_ECORRUPT);
	free(c);
	c = compress_new(zeros, len, 1, &csize);
	assert_int_equal(decompress_checked(c, csize, 100, NULL),
			 B3CAS_ECORRUPT);
	assert_non_null(strstr(b3cas_error_last(), "declares 67108864"));
	free(c);
	free(zeros);
}

static void test_garbage(void **state)
{
	uint64_t st = seed + 6;
	uint8_t buf[512];

	(void)state;
	for (int i = 0; i < 2000; i++) {
		size_t n = tu_rand(&st) % sizeof(buf);

		tu_fill_random(buf, n, &st);
		if (i & 1 && n >= 4)
			memcpy(buf, "\x28\xb5\x2f\xfd", 4); /* our magic */
		assert_true(decompress_checked(buf, n, tu_rand(&st) % 4096,
					       NULL) < 0 ||
			    n >= 4);
	}
	assert_int_equal(decompress_checked("hello, world", 12, 12, NULL),
			 B3CAS_ECORRUPT);
	assert_non_null(strstr(b3cas_error_last(), "not a zstd frame"));
	assert_int_equal(decompress_checked(NULL, 0, 0, NULL),
			 B3CAS_ECORRUPT);
}

/* Frames written by hand from RFC 8878. A last raw block of 0 bytes is
 * 01 00 00; a last RLE block of n bytes is (n << 3 | 3) and one byte. */
static void test_hand_made_frames(void **state)
{
	/* no content size, window descriptor 0 (1 KiB), empty */
	static const uint8_t empty[] = {0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00,
					0x01, 0x00, 0x00};
	/* the same with a window of 2^30 (exponent 20) */
	static const uint8_t huge_window[] = {0x28, 0xb5, 0x2f, 0xfd, 0x00,
					      0xa0, 0x01, 0x00, 0x00};
	/* a window of exactly 2^23 (exponent 13) is still accepted */
	static const uint8_t max_window[] = {0x28, 0xb5, 0x2f, 0xfd, 0x00,
					     0x68, 0x01, 0x00, 0x00};
	/* single segment, 2-byte content size 300 (stored as 44), RLE 'a' */
	static const uint8_t rle300[] = {0x28, 0xb5, 0x2f, 0xfd, 0x60,
					 0x2c, 0x00, 0x63, 0x09, 0x00, 'a'};
	/* single segment, dictionary id 5 (1 byte), content size 0 */
	static const uint8_t dict[] = {0x28, 0xb5, 0x2f, 0xfd, 0x21, 0x05,
				       0x00, 0x01, 0x00, 0x00};
	/* reserved bit set */
	static const uint8_t reserved[] = {0x28, 0xb5, 0x2f, 0xfd, 0x08,
					   0x00, 0x01, 0x00, 0x00};
	/* a skippable frame of 1 byte */
	static const uint8_t skippable[] = {0x50, 0x2a, 0x4d, 0x18, 0x01,
					    0x00, 0x00, 0x00, 0x00};
	uint8_t want[300], two[sizeof(empty) * 2];

	(void)state;
	assert_int_equal(decompress_checked(empty, sizeof(empty), 0, NULL),
			 0);
	assert_int_equal(decompress_checked(empty, sizeof(empty), 1, NULL),
			 B3CAS_ECORRUPT);
	assert_int_equal(decompress_checked(huge_window, sizeof(huge_window),
					    0, NULL),
			 B3CAS_ECORRUPT);
	assert_non_null(strstr(b3cas_error_last(), "window"));
	assert_int_equal(decompress_checked(max_window, sizeof(max_window), 0,
					    NULL),
			 0);
	memset(want, 'a', sizeof(want));
	assert_int_equal(decompress_checked(rle300, sizeof(rle300), 300,
					    want),
			 0);
	assert_int_equal(decompress_checked(rle300, sizeof(rle300), 299,
					    NULL),
			 B3CAS_ECORRUPT);
	assert_int_equal(decompress_checked(dict, sizeof(dict), 0, NULL),
			 B3CAS_ECORRUPT);
	assert_non_null(strstr(b3cas_error_last(), "dictionary 5"));
	assert_int_equal(decompress_checked(reserved, sizeof(reserved), 0,
					    NULL),
			 B3CAS_ECORRUPT);
	assert_int_equal(decompress_checked(skippable, sizeof(skippable), 0,
					    NULL),
			 B3CAS_ECORRUPT);
	memcpy(two, empty, sizeof(empty));
	memcpy(two + sizeof(empty), empty, sizeof(empty));
	assert_int_equal(decompress_checked(two, sizeof(two), 0, NULL),
			 B3CAS_ECORRUPT);
	assert_non_null(strstr(b3cas_error_last(), "follow the frame"));
}

/* Frames with a checksum (made by libzstd, not by us) are checked. */
static void test_checksum_frames(void **state)
{
	uint64_t st = seed + 7;
	size_t len = 4000, csize;
	uint8_t *data = malloc(len), *c = malloc(ZSTD_compressBound(len));
	ZSTD_CCtx *cctx = ZSTD_createCCtx();

	(void)state;
	assert_non_null(data);
	assert_non_null(c);
	assert_non_null(cctx);
	fill_text(data, len, &st);
	assert_false(ZSTD_isError(
		ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)));
	csize = ZSTD_compress2(cctx, c, ZSTD_compressBound(len), data, len);
	assert_false(ZSTD_isError(csize));
	assert_int_equal(decompress_checked(c, csize, len, data), 0);
	c[csize - 1] ^= 1; /* the checksum's last byte */
	assert_int_equal(decompress_checked(c, csize, len, NULL),
			 B3CAS_ECORRUPT);
	ZSTD_freeCCtx(cctx);
	free(c);
	free(data);
}

/* ---- threads ------------------------------------------------------- */

#define THREADS 8

struct worker {
	uint64_t seed;
	int failures;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	uint64_t st = w->seed;
	uint8_t *data = malloc(65536), *back = malloc(65536);
	uint8_t *c = malloc(b3cas__zstd_bound(65536));

	if (!data || !back || !c) {
		w->failures++;
		goto out;
	}
	for (int i = 0; i < 200; i++) {
		size_t len = tu_rand(&st) % 65537, csize;
		int level = (int)(tu_rand(&st) % 8) - 2;

		if (i & 1)
			fill_text(data, len, &st);
		else
			tu_fill_random(data, len, &st);
		if (b3cas__zstd_compress(&csize, c, b3cas__zstd_bound(len),
					 data, len, level) != 0 ||
		    b3cas__zstd_decompress(back, len, c, csize) != 0 ||
		    memcmp(back, data, len) != 0)
			w->failures++;
	}
out:
	free(data);
	free(back);
	free(c);
	return NULL;
}

static void run_threads(void)
{
	pthread_t t[THREADS];
	struct worker w[THREADS];

	for (int i = 0; i < THREADS; i++) {
		w[i].seed = seed + 100 + (uint64_t)i;
		w[i].failures = 0;
		assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
}

/* Many threads at once, each with its own contexts, all freed when the
 * threads exit (LeakSanitizer checks the memory; the counter checks that
 * the destructor ran). */
static void test_threads(void **state)
{
	size_t before, csize;
	uint8_t c[64];

	(void)state;
	b3cas__zstd_thread_release();
	before = b3cas__zstd_threads_with_contexts();
	for (int round = 0; round < 3; round++) {
		run_threads();
		assert_int_equal(b3cas__zstd_threads_with_contexts(), before);
	}
	assert_int_equal(b3cas__zstd_compress(&csize, c, sizeof(c), "x", 1,
					      3),
			 0);
	assert_int_equal(b3cas__zstd_threads_with_contexts(), before + 1);
	b3cas__zstd_thread_release();
	assert_int_equal(b3cas__zstd_threads_with_contexts(), before);
}

static int teardown(void **state)
{
	(void)state;
	b3cas__zstd_thread_release();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_worth_on_data),
		cmocka_unit_test(test_worth_rule),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_flipped_bytes),
		cmocka_unit_test(test_declared_size_differs),
		cmocka_unit_test(test_no_content_size),
		cmocka_unit_test(test_bomb),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_hand_made_frames),
		cmocka_unit_test(test_checksum_frames),
		cmocka_unit_test(test_threads),
	};

	seed = tu_seed("test_zstd");
	return cmocka_run_group_tests(tests, NULL, teardown);
}
