/*
 * test_hasher.c - the incremental hasher against the independent reference
 * and the one-shot functions, at every SIMD level, in every mode (hash,
 * keyed hash, derive-key).
 *
 * The hasher's invariants are about where input is cut: a block, chunk or
 * subtree may be finished only once more input is known to follow. So the
 * input is fed in random pieces (empty ones, single bytes, pieces that end
 * on chunk and subtree boundaries, pieces larger than the 64 MiB the wide
 * tree takes at once), and the output is checked after the last piece and
 * at points in between. Finalizing must not change the hasher (the bytes
 * of the struct are compared), reset must forget the input but keep the
 * key, and extended output from any offset - not a multiple of 64, block
 * counters carrying past 2^32, the last bytes before 2^64 - must be the
 * same bytes as a slice of a longer output and as the reference's.
 */
#include "test_util.h"

#include "blake3/reference.h"

#define MAX_OUT 2048

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

enum mode { PLAIN, KEYED, DERIVE, NMODES };

static const char *const mode_names[] = {"hash", "keyed", "derive-key"};
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

/* The one-shot function of the mode: the 32-byte hash. */
static void one_shot(uint8_t out[32], enum mode m, const uint8_t key[32],
		     const uint8_t *in, size_t len)
{
	if (m == KEYED)
		b3cas_hash_keyed(out, key, in, len);
	else if (m == DERIVE)
		b3cas_derive_key(out, 32, context, in, len);
	else
		b3cas_hash(out, in, len);
}

/* A piece size: empty, one byte, within a block, whole chunks, ... */
static size_t random_piece(size_t left)
{
	size_t piece;

	switch (tu_rand(&rng) % 8) {
	case 0: piece = 0; break;
	case 1: piece = 1; break;
	case 2: piece = tu_rand(&rng) % 65; break;
	case 3: piece = 1024 * (1 + tu_rand(&rng) % 4); break;
	case 4: piece = (size_t)1024 << (tu_rand(&rng) % 9); break;
	case 5: piece = 1024 - tu_rand(&rng) % 3 + tu_rand(&rng) % 3; break;
	case 6: piece = tu_rand(&rng) % 5000; break;
	default: piece = tu_rand(&rng) % (left + 1); break;
	}
	return piece < left ? piece : left;
}

/*
 * Feed in[0..len) in random pieces; after every check_every pieces (0:
 * never), compare the hash of the input so far with the reference.
 * Returns the number of pieces.
 */
static size_t feed_randomly(b3cas_hasher *h, enum mode m,
			    const uint8_t key[32], const uint8_t *in,
			    size_t len, size_t check_every)
{
	size_t done = 0, pieces = 0;

	while (done < len) {
		size_t piece = random_piece(len - done);

		b3cas_hasher_update(h, in + done, piece);
		done += piece;
		pieces++;
		if (check_every && pieces % check_every == 0) {
			uint8_t want[32], got[32];

			b3cas_hasher_finalize(got, 32, h);
			reference(want, 32, 0, m, key, in, done);
			tu_expect_mem(got, want, 32,
				      "%s, prefix of %zu bytes at %s",
				      mode_names[m], done, b3cas_simd_name());
		}
	}
	return pieces;
}

static size_t random_message_len(int rep, size_t max)
{
	if (rep % 4 == 0)
		return tu_rand(&rng) % 4100;
	if (rep % 4 == 1) /* exactly whole chunks */
		return 1024 * (tu_rand(&rng) % 300);
	if (rep % 16 == 2)
		return tu_rand(&rng) % max;
	return tu_rand(&rng) % (max / 8);
}

static void test_random_splits(void **state)
{
	size_t max = (size_t)3 << 20, n = 0, pieces = 0;
	uint8_t *in = malloc(max);
	uint8_t key[32];

	(void)state;
	assert_non_null(in);
	tu_fill_random(in, max, &rng);
	tu_fill_random(key, 32, &rng);
	for (int level = 0; level < tu_levels(); level++) {
		tu_force(level);
		for (int rep = 0; rep < 96 * tu_scale(); rep++) {
			enum mode m = (enum mode)(rep % NMODES);
			size_t len = random_message_len(rep, max);
			uint8_t want[64], got[64];
			b3cas_hasher h;

			reference(want, 64, 0, m, key, in, len);
			start(&h, m, key);
			pieces += feed_randomly(&h, m, key, in, len,
						len < 20000 ? 5 : 0);
			b3cas_hasher_finalize(got, 64, &h);
			tu_expect_mem(got, want, 64,
				      "%s of %zu bytes in pieces at %s",
				      mode_names[m], len, b3cas_simd_name());
			one_shot(got, m, key, in, len);
			tu_expect_mem(got, want, 32,
				      "one-shot %s of %zu bytes at %s",
				      mode_names[m], len, b3cas_simd_name());
			n++;
		}
	}
	fprintf(stderr, "random splits: %zu messages, %zu updates\n", n,
		pieces);
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
	assert_non_null(in);
	tu_fill_random(in, max, &rng);
	for (int level = 0; level < tu_levels(); level++) {
		tu_force(level);
		for (size_t first = 1024; first <= ((size_t)1 << 20);
		     first *= 2) {
			b3cas_hasher h;
			size_t done = 0, steps = 0;

			b3cas_hasher_init(&h);
			/* first, then powers of two that keep alignment */
			for (size_t piece = first;
			     done + piece <= max && steps < 7;
			     piece = (size_t)1024 << (tu_rand(&rng) % 8)) {
				uint8_t want[32], got[32];

				b3cas_hasher_update(&h, in + done, piece);
				done += piece;
				b3cas_hasher_finalize(got, 32, &h);
				ref_hash(want, 32, 0, in, done);
				tu_expect_mem(got, want, 32,
					      "after pieces of %zu then "
					      "powers of two, %zu bytes, at %s",
					      first, done, b3cas_simd_name());
				steps++;
				n++;
			}
		}
	}
	fprintf(stderr, "subtree boundaries: %zu prefixes\n", n);
	free(in);
}

/*
 * finalize and finalize_seek take a const hasher: the struct's bytes must
 * not change, and hashing goes on after them as if they had not happened.
 */
static void test_finalize_is_read_only(void **state)
{
	size_t len = 200000, n = 0;
	uint8_t *in = malloc(len);
	uint8_t key[32];

	(void)state;
	assert_non_null(in);
	tu_fill_random(in, len, &rng);
	tu_fill_random(key, 32, &rng);
	for (int level = 0; level < tu_levels(); level++) {
		tu_force(level);
		for (enum mode m = PLAIN; m < NMODES; m++) {
			b3cas_hasher h, copy;
			size_t done = 0;

			start(&h, m, key);
			while (done < len) {
				size_t piece = random_piece(len - done) % 9000;
				uint8_t out[300], want[32];

				b3cas_hasher_update(&h, in + done, piece);
				done += piece;
				memcpy(&copy, &h, sizeof(h));
				b3cas_hasher_finalize(out, 32, &h);
				b3cas_hasher_finalize(out, sizeof(out), &h);
				b3cas_hasher_finalize_seek(out, 100, &h,
							   tu_rand(&rng));
				b3cas_hasher_finalize_seek(out, 0, &h, 5);
				tu_expect_mem(&h, &copy, sizeof(h),
					      "%s hasher changed by finalize "
					      "after %zu bytes at %s",
					      mode_names[m], done,
					      b3cas_simd_name());
				if (n++ % 8 == 0 || done == len) {
					b3cas_hasher_finalize(out, 32, &h);
					reference(want, 32, 0, m, key, in,
						  done);
					tu_expect_mem(out, want, 32,
						      "%s of %zu bytes, "
						      "finalized on the way, "
						      "at %s",
						      mode_names[m], done,
						      b3cas_simd_name());
				}
			}
		}
	}
	fprintf(stderr, "finalize read-only: %zu finalizes\n", n);
	free(in);
}

static void test_reset(void **state)
{
	size_t len = 70000, n = 0;
	uint8_t *in = malloc(len);
	uint8_t key[32];

	(void)state;
	assert_non_null(in);
	tu_fill_random(in, len, &rng);
	tu_fill_random(key, 32, &rng);
	for (int level = 0; level < tu_levels(); level++) {
		tu_force(level);
		for (int rep = 0; rep < 12; rep++) {
			enum mode m = (enum mode)(rep % NMODES);
			size_t before = tu_rand(&rng) % len;
			size_t after = tu_rand(&rng) % (rep < 6 ? 3000 : len);
			uint8_t want[64], got[64];
			b3cas_hasher h;

			start(&h, m, key);
			feed_randomly(&h, m, key, in + len - before, before,
				      0);
			b3cas_hasher_reset(&h);
			feed_randomly(&h, m, key, in, after, 0);
			b3cas_hasher_finalize(got, 64, &h);
			reference(want, 64, 0, m, key, in, after);
			tu_expect_mem(got, want, 64,
				      "%s reset after %zu bytes, then %zu "
				      "bytes, at %s",
				      mode_names[m], before, after,
				      b3cas_simd_name());
			/* twice in a row, and on nothing */
			b3cas_hasher_reset(&h);
			b3cas_hasher_reset(&h);
			b3cas_hasher_finalize(got, 64, &h);
			reference(want, 64, 0, m, key, in, 0);
			tu_expect_mem(got, want, 64,
				      "%s reset twice: empty input at %s",
				      mode_names[m], b3cas_simd_name());
			n++;
		}
	}
	fprintf(stderr, "reset: %zu cases\n", n);
	free(in);
}

/* An offset for extended output of out_len bytes. */
static uint64_t random_seek(int rep, size_t out_len)
{
	/* 2^64 - out_len: the output must end by 2^64 */
	uint64_t end = out_len ? UINT64_MAX - out_len + 1 : UINT64_MAX;
	uint64_t carry = (uint64_t)64 << 32;      /* block counter 2^32 */

	switch (rep % 6) {
	case 0: return tu_rand(&rng) % 64;
	case 1: return tu_rand(&rng) % 2200;
	case 2: return 64 * (tu_rand(&rng) % 40);
	case 3: /* block counters whose low word carries mid-output */
		return carry - tu_rand(&rng) % (out_len + 64);
	case 4: /* the last bytes there are */
		return end - (tu_rand(&rng) % 2 ? 0 : tu_rand(&rng) % 5000);
	default: return tu_rand(&rng) % end;
	}
}

static void test_xof_seek(void **state)
{
	size_t in_len = 20000, n = 0;
	uint8_t *in = malloc(in_len);
	uint8_t key[32];
	uint8_t *want = malloc(2 * MAX_OUT), *got = malloc(2 * MAX_OUT);

	(void)state;
	assert_non_null(in);
	assert_non_null(want);
	assert_non_null(got);
	tu_fill_random(in, in_len, &rng);
	tu_fill_random(key, 32, &rng);
	for (int level = 0; level < tu_levels(); level++) {
		tu_force(level);
		for (int rep = 0; rep < 120 * tu_scale(); rep++) {
			enum mode m = (enum mode)(rep % NMODES);
			size_t len = rep % 5 ? tu_rand(&rng) % 5000
					     : tu_rand(&rng) % in_len;
			size_t out_len = rep % 10 ? tu_rand(&rng) % 2001
						  : (rep % 20 ? 32 : 0);
			uint64_t seek = random_seek(rep / NMODES, out_len);
			size_t back = (size_t)(seek < MAX_OUT ? seek
					       : tu_rand(&rng) % MAX_OUT);
			b3cas_hasher h;

			start(&h, m, key);
			b3cas_hasher_update(&h, in, len);
			reference(want, out_len, seek, m, key, in, len);
			memset(got, 0, out_len + 1);
			b3cas_hasher_finalize_seek(got, out_len, &h, seek);
			tu_expect_mem(got, want, out_len,
				      "%s of %zu bytes: %zu bytes from %llu, "
				      "at %s",
				      mode_names[m], len, out_len,
				      (unsigned long long)seek,
				      b3cas_simd_name());
			/* the same bytes inside a longer output that starts
			 * `back` bytes earlier (from 0 when seek is small) */
			b3cas_hasher_finalize_seek(want, back + out_len, &h,
						   seek - back);
			tu_expect_mem(got, want + back, out_len,
				      "%s of %zu bytes: %zu bytes from %llu "
				      "vs from %llu, at %s",
				      mode_names[m], len, out_len,
				      (unsigned long long)seek,
				      (unsigned long long)(seek - back),
				      b3cas_simd_name());
			n++;
		}
	}
	fprintf(stderr, "xof: %zu seeks\n", n);
	free(want);
	free(got);
	free(in);
}

static void check_derive_raw(const void *ctx, size_t ctx_len,
			     const uint8_t *material, size_t len)
{
	uint8_t want[100], got[100];
	b3cas_hasher h;

	ref_derive(want, sizeof(want), 0, ctx, ctx_len, material, len);
	for (int level = 0; level < tu_levels(); level++) {
		tu_force(level);
		b3cas_hasher_init_derive_key_raw(&h, ctx, ctx_len);
		b3cas_hasher_update(&h, material, len);
		b3cas_hasher_finalize(got, sizeof(got), &h);
		tu_expect_mem(got, want, sizeof(got),
			      "derive_key_raw, %zu-byte context, %zu bytes, "
			      "at %s",
			      ctx_len, len, b3cas_simd_name());
	}
}

static void test_derive_key_raw_context(void **state)
{
	static const char ctx[] = "with\0a NUL\0inside";
	uint8_t big_ctx[2500], material[3000];
	uint8_t a[40], b[40];
	b3cas_hasher h;

	(void)state;
	tu_fill_random(big_ctx, sizeof(big_ctx), &rng);
	tu_fill_random(material, sizeof(material), &rng);
	big_ctx[10] = 0;
	check_derive_raw(ctx, sizeof(ctx), material, 8);
	check_derive_raw(ctx, sizeof(ctx) - 1, material, 0);
	check_derive_raw("", 0, material, 100);
	check_derive_raw(big_ctx, sizeof(big_ctx), material, 3000);
	check_derive_raw(big_ctx, 1024, material, 1024);
	check_derive_raw(big_ctx, 1025, material, 1);
	/* the NUL matters: the C-string form stops at it */
	b3cas_hasher_init_derive_key_raw(&h, ctx, sizeof(ctx));
	b3cas_hasher_update(&h, material, 8);
	b3cas_hasher_finalize(a, sizeof(a), &h);
	b3cas_hasher_init_derive_key(&h, ctx);
	b3cas_hasher_update(&h, material, 8);
	b3cas_hasher_finalize(b, sizeof(b), &h);
	assert_memory_not_equal(a, b, sizeof(a));
	/* and the C-string form is the raw form up to the NUL */
	b3cas_hasher_init_derive_key_raw(&h, ctx, strlen(ctx));
	b3cas_hasher_update(&h, material, 8);
	b3cas_hasher_finalize(a, sizeof(a), &h);
	assert_memory_equal(a, b, sizeof(a));
}

/*
 * hash.h: "data may be NULL when len is 0", in whatever state the hasher
 * is - empty, part of a block buffered, a full block buffered, a chunk
 * done. (Under UndefinedBehaviorSanitizer a memcpy from NULL fails here
 * even when it copies nothing.)
 */
static void test_update_null_empty(void **state)
{
	static const size_t before[] = {0, 1, 10, 63, 64, 65, 1023, 1024,
					1025, 2048, 5000};
	uint8_t in[5000 + 7], key[32];
	size_t n = 0;

	(void)state;
	tu_fill_random(in, sizeof(in), &rng);
	tu_fill_random(key, 32, &rng);
	for (int level = 0; level < tu_levels(); level++) {
		tu_force(level);
		for (size_t i = 0; i < sizeof(before) / sizeof(before[0]);
		     i++) {
			enum mode m = (enum mode)(i % NMODES);
			uint8_t want[32], got[32];
			b3cas_hasher h;

			start(&h, m, key);
			b3cas_hasher_update(&h, in, before[i]);
			b3cas_hasher_update(&h, NULL, 0);
			b3cas_hasher_update_parallel(&h, NULL, 0, NULL);
			b3cas_hasher_update(&h, in + before[i], 7);
			b3cas_hasher_finalize(got, 32, &h);
			reference(want, 32, 0, m, key, in, before[i] + 7);
			tu_expect_mem(got, want, 32,
				      "%s: %zu bytes, update(NULL, 0), 7 "
				      "bytes, at %s",
				      mode_names[m], before[i],
				      b3cas_simd_name());
			n++;
		}
	}
	fprintf(stderr, "update(NULL, 0): %zu cases\n", n);
}

/*
 * More input than one 64 MiB wide-tree run: one-shot, in uneven pieces
 * (one of them larger than 64 MiB), and in many pieces of random sizes.
 */
static void test_beyond_wide_run(void **state)
{
	size_t len = (size_t)70 << 20, mib = (size_t)1 << 20;
	uint8_t *in = malloc(len);
	uint8_t want[32], got[32], key[32], want_keyed[32];
	b3cas_hasher h;
	size_t updates = 0;

	(void)state;
	assert_non_null(in);
	tu_fill_random(in, mib, &rng);
	tu_fill_random(key, 32, &rng);
	for (size_t off = mib; off < len; off += mib) {
		memcpy(in + off, in, mib);
		in[off] ^= (uint8_t)(off / mib); /* no two MiB alike */
	}
	ref_hash(want, 32, 0, in, len);
	ref_keyed(want_keyed, 32, 0, key, in, len);
	for (int level = 0; level < tu_levels(); level++) {
		tu_force(level);
		b3cas_hash(got, in, len);
		tu_expect_mem(got, want, 32, "one-shot 70 MiB at %s",
			      b3cas_simd_name());
		b3cas_hasher_init(&h);
		b3cas_hasher_update(&h, in, 3);
		b3cas_hasher_update(&h, in + 3, len - 1000 - 3);
		b3cas_hasher_update(&h, in + len - 1000, 1000);
		b3cas_hasher_finalize(got, 32, &h);
		tu_expect_mem(got, want, 32, "70 MiB in 3 updates at %s",
			      b3cas_simd_name());
		b3cas_hasher_init(&h);
		for (size_t done = 0; done < len;) {
			size_t piece = tu_rand(&rng) % (3 * mib);

			if (tu_rand(&rng) % 4 == 0)
				piece = random_piece(len - done);
			if (piece > len - done)
				piece = len - done;
			b3cas_hasher_update(&h, in + done, piece);
			done += piece;
			updates++;
		}
		b3cas_hasher_finalize(got, 32, &h);
		tu_expect_mem(got, want, 32,
			      "70 MiB in random updates at %s",
			      b3cas_simd_name());
	}
	b3cas_hash_keyed(got, key, in, len);
	tu_expect_mem(got, want_keyed, 32, "keyed one-shot 70 MiB at %s",
		      b3cas_simd_name());
	fprintf(stderr, "70 MiB: one-shot and %zu updates at every level\n",
		updates);
	free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_splits),
		cmocka_unit_test(test_subtree_boundaries),
		cmocka_unit_test(test_finalize_is_read_only),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_xof_seek),
		cmocka_unit_test(test_derive_key_raw_context),
		cmocka_unit_test(test_beyond_wide_run),
		/* last: it stops a UBSan run at the first memcpy from NULL */
		cmocka_unit_test(test_update_null_empty),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
