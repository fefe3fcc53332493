/*
 * test_hasher.c - the incremental hasher against the one-shot functions
 * and the independent reference: random split points (empty and one-byte
 * updates included), every mode, finalize leaving the hasher usable,
 * reset, extendable output from any offset (up to offsets near 2^64), a
 * context with NUL bytes, and inputs beyond the 64 MiB wide-tree run.
 */
#include "test_util.h"

#include "blake3/reference.h"

static uint64_t rng;

static int setup(void **state)
{
	(void)state;
	rng = tu_seed("test_hasher");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_report_levels();
	return 0;
}

enum mode { PLAIN, KEYED, DERIVE };

static const char context[] = "b3cas test_hasher 2026-11-25 context";

static void start(b3cas_hasher *h, enum mode m, const uint8_t key[32])
{
	if (m == KEYED)
		b3cas_hasher_init_keyed(h, key);
	else if (m == DERIVE)
		b3cas_hasher_init_derive_key(h, context);
	else
		b3cas_hasher_init(h);
}

static void reference(uint8_t *out, size_t out_len, uint64_t seek,
		      enum mode m, const uint8_t key[32], const uint8_t *in,
		      size_t len)
{
	if (m == KEYED)
		ref_keyed(out, out_len, seek, key, in, len);
	else if (m == DERIVE)
		ref_derive(out, out_len, seek, context, strlen(context), in,
			   len);
	else
		ref_hash(out, out_len, seek, in, len);
}

/* Feed in[0..len) in random pieces, some empty, some of one byte. */
static void feed_randomly(b3cas_hasher *h, const uint8_t *in, size_t len)
{
	size_t done = 0;

	while (done < len) {
		size_t piece;

		switch (tu_rand(&rng) % 6) {
		case 0: piece = 0; break;
		case 1: piece = 1; break;
		case 2: piece = tu_rand(&rng) % 64; break;
		case 3: piece = 1024 * (1 + tu_rand(&rng) % 4); break;
		case 4: piece = tu_rand(&rng) % 5000; break;
		default: piece = tu_rand(&rng) % (len + 1); break;
		}
		if (piece > len - done)
			piece = len - done;
		b3cas_hasher_update(h, in + done, piece);
		done += piece;
	}
}

static void test_random_splits(void **state)
{
	size_t max = 300 * 1024, n = 0;
	uint8_t *in = malloc(max);
	uint8_t key[32];

	(void)state;
	tu_fill_random(in, max, &rng);
	tu_fill_random(key, 32, &rng);
	for (int level = 0; level < tu_levels(); level++) {
		tu_force(level);
		for (int rep = 0; rep < 60; rep++) {
			enum mode m = (enum mode)(rep % 3);
			size_t len = rep < 20 ? tu_rand(&rng) % 4100
					      : tu_rand(&rng) % max;
			uint8_t want[64], got[64];
			b3cas_hasher h;

			reference(want, 64, 0, m, key, in, len);
			start(&h, m, key);
			feed_randomly(&h, in, len);
			b3cas_hasher_finalize(got, 64, &h);
			assert_memory_equal(got, want, 64);
			n++;
		}
	}
	fprintf(stderr, "random splits: %zu messages\n", n);
	free(in);
}

/*
 * Updates that end exactly on a subtree boundary (the hasher must keep the
 * last subtree open as two halves, or the root gets the wrong flags), one
 * after another, with finalize after each.
 */
static void test_subtree_boundaries(void **state)
{
	size_t max = (size_t)2 << 20;
	uint8_t *in = malloc(max);
	size_t n = 0;

	(void)state;
	tu_fill_random(in, max, &rng);
	for (int level = 0; level < tu_levels(); level++) {
		tu_force(level);
		for (size_t first = 1024; first <= (1u << 20); first *= 2) {
			uint8_t want[32], got[32];
			b3cas_hasher h;
			size_t done = 0;

			b3cas_hasher_init(&h);
			/* first, then powers of two that keep alignment */
			for (size_t piece = first; done + piece <= max;
			     piece = 1024u << (tu_rand(&rng) % 8)) {
				b3cas_hasher_update(&h, in + done, piece);
				done += piece;
				b3cas_hasher_finalize(got, 32, &h);
				ref_hash(want, 32, 0, in, done);
				assert_memory_equal(got, want, 32);
				n++;
				if (n % 7 == 0)
					break;
			}
		}
	}
	fprintf(stderr, "subtree boundaries: %zu prefixes\n", n);
	free(in);
}

/* finalize is read-only: hashing may go on after it. */
static void test_finalize_then_continue(void **state)
{
	size_t len = 70000;
	uint8_t *in = malloc(len);
	uint8_t want[32], got[32];
	b3cas_hasher h;

	(void)state;
	tu_fill_random(in, len, &rng);
	b3cas_hasher_init(&h);
	for (size_t done = 0; done < len;) {
		size_t piece = 1 + tu_rand(&rng) % 9000;

		if (piece > len - done)
			piece = len - done;
		b3cas_hasher_update(&h, in + done, piece);
		done += piece;
		/* finalize at every step: the prefix's hash */
		b3cas_hasher_finalize(got, 32, &h);
		ref_hash(want, 32, 0, in, done);
		assert_memory_equal(got, want, 32);
	}
	free(in);
}

static void test_reset(void **state)
{
	uint8_t key[32], in[3000], a[32], b[32];
	b3cas_hasher h;

	(void)state;
	tu_fill_random(key, 32, &rng);
	tu_fill_random(in, sizeof(in), &rng);
	b3cas_hasher_init_keyed(&h, key);
	b3cas_hasher_update(&h, "something else entirely", 23);
	b3cas_hasher_update(&h, in, 2000);
	b3cas_hasher_reset(&h);
	b3cas_hasher_update(&h, in, sizeof(in));
	b3cas_hasher_finalize(a, 32, &h);
	ref_keyed(b, 32, 0, key, in, sizeof(in));
	assert_memory_equal(a, b, 32); /* reset keeps the key */
}

/* finalize_seek(seek, n) is bytes [seek, seek + n) of the output. */
static void test_xof_seek(void **state)
{
	uint8_t key[32], in[5000];
	uint8_t *want = malloc(4200), *got = malloc(4200);
	size_t n = 0;

	(void)state;
	tu_fill_random(key, 32, &rng);
	tu_fill_random(in, sizeof(in), &rng);
	for (int level = 0; level < tu_levels(); level++) {
		tu_force(level);
		for (int rep = 0; rep < 60; rep++) {
			enum mode m = (enum mode)(rep % 3);
			size_t len = tu_rand(&rng) % sizeof(in);
			size_t out_len = tu_rand(&rng) % 2001;
			uint64_t seek = tu_rand(&rng) % 2200;
			b3cas_hasher h;

			if (rep % 4 == 0) /* far out: block counters >2^32 */
				seek = UINT64_MAX - 4096 - tu_rand(&rng) % 1000;
			start(&h, m, key);
			b3cas_hasher_update(&h, in, len);
			reference(want, out_len, seek, m, key, in, len);
			memset(got, 0, out_len);
			b3cas_hasher_finalize_seek(got, out_len, &h, seek);
			assert_memory_equal(got, want, out_len);
			/* and as a slice of a longer output from 0 */
			if (seek < 2200) {
				b3cas_hasher_finalize(got, seek + out_len, &h);
				reference(want, seek + out_len, 0, m, key, in,
					  len);
				assert_memory_equal(got, want,
						    seek + out_len);
			}
			n++;
		}
	}
	fprintf(stderr, "xof: %zu seeks\n", n);
	free(want);
	free(got);
}

static void test_derive_key_raw_context(void **state)
{
	static const char ctx[] = "with\0a NUL\0inside";
	uint8_t want[40], got[40];
	b3cas_hasher h;

	(void)state;
	b3cas_hasher_init_derive_key_raw(&h, ctx, sizeof(ctx));
	b3cas_hasher_update(&h, "material", 8);
	b3cas_hasher_finalize(got, 40, &h);
	ref_derive(want, 40, 0, ctx, sizeof(ctx),
		   (const uint8_t *)"material", 8);
	assert_memory_equal(got, want, 40);
	/* the NUL matters: the C-string form stops at it */
	b3cas_hasher_init_derive_key(&h, ctx);
	b3cas_hasher_update(&h, "material", 8);
	b3cas_hasher_finalize(want, 40, &h);
	assert_memory_not_equal(got, want, 40);
}

/* More than one 64 MiB wide-tree run, in uneven updates. */
static void test_beyond_wide_run(void **state)
{
	size_t len = (size_t)70 << 20;
	uint8_t *in = malloc(len);
	uint8_t want[32], got[32];
	b3cas_hasher h;

	(void)state;
	tu_fill_random(in, 1 << 20, &rng);
	for (size_t off = 1 << 20; off < len; off += 1 << 20)
		memcpy(in + off, in, 1 << 20);
	in[len - 1] ^= 1; /* not all copies */
	ref_hash(want, 32, 0, in, len);
	b3cas_hash(got, in, len);
	assert_memory_equal(got, want, 32);
	b3cas_hasher_init(&h);
	b3cas_hasher_update(&h, in, 3);
	b3cas_hasher_update(&h, in + 3, len - 1000 - 3);
	b3cas_hasher_update(&h, in + len - 1000, 1000);
	b3cas_hasher_finalize(got, 32, &h);
	assert_memory_equal(got, want, 32);
	free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_splits),
		cmocka_unit_test(test_subtree_boundaries),
		cmocka_unit_test(test_finalize_then_continue),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_xof_seek),
		cmocka_unit_test(test_derive_key_raw_context),
		cmocka_unit_test(test_beyond_wide_run),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
