/*
 * test_kernels.c - every SIMD kernel against the portable one, entry point
 * by entry point, on random inputs (counters that carry into the high
 * word, every block length and flag combination, partial and full SIMD
 * groups); and b3cas_hash at every level against the independent
 * reference for every input length up to eight chunks and around chunk
 * and subtree boundaries.
 */
#include "test_util.h"

#include "blake3/blake3_int.h"
#include "blake3/reference.h"

#define BUF_LEN (128 * 1024)

static uint64_t rng;
static uint8_t *buf; /* random bytes every kernel reads from */

static int setup(void **state)
{
	(void)state;
	rng = tu_seed("test_kernels");
	buf = malloc(BUF_LEN);
	if (!buf)
		return -1;
	tu_fill_random(buf, BUF_LEN, &rng);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(buf);
	tu_report_levels();
	return 0;
}

/* Counters near 2^32 exercise the carry into the high word. */
static uint64_t random_counter(void)
{
	switch (tu_rand(&rng) % 4) {
	case 0: return tu_rand(&rng) % 1000;
	case 1: return 0xFFFFFFFFull - tu_rand(&rng) % 40;
	case 2: return 0xFFFFFFFFFFFFFF00ull + tu_rand(&rng) % 200;
	default: return tu_rand(&rng);
	}
}

static void random_cv(uint32_t cv[8])
{
	for (int i = 0; i < 8; i++)
		cv[i] = (uint32_t)tu_rand(&rng);
}

static const b3_kernels *portable(void)
{
	return b3_kernels_for(B3CAS_SIMD_PORTABLE);
}

static void test_compress(void **state)
{
	size_t n = 0;

	(void)state;
	for (int level = 1; level < tu_levels(); level++) {
		const b3_kernels *k = b3_kernels_for((b3cas_simd)level);

		for (int i = 0; i < 3000; i++) {
			uint32_t cv[8], a[8], b[8];
			uint8_t xa[64], xb[64];
			const uint8_t *block = buf + tu_rand(&rng) % 4096;
			uint8_t len = (uint8_t)(tu_rand(&rng) % 65);
			uint64_t ctr = random_counter();
			uint8_t flags = (uint8_t)(tu_rand(&rng) & 127);

			random_cv(cv);
			memcpy(a, cv, 32);
			memcpy(b, cv, 32);
			k->compress(a, block, len, ctr, flags);
			portable()->compress(b, block, len, ctr, flags);
			assert_memory_equal(a, b, 32);
			k->compress_xof(xa, cv, block, len, ctr, flags);
			portable()->compress_xof(xb, cv, block, len, ctr, flags);
			assert_memory_equal(xa, xb, 64);
			/* The first half of the XOF block is the cv. */
			assert_memory_equal(xa, a, 32);
			n++;
		}
	}
	fprintf(stderr, "compress: %zu cases\n", n);
}

static void test_hash_many(void **state)
{
	static const size_t strides[] = {64, 1024, 1088, 2048};
	uint8_t out_k[40 * 32 + 32], out_p[40 * 32 + 32];
	size_t n = 0;

	(void)state;
	for (int level = 1; level < tu_levels(); level++) {
		const b3_kernels *k = b3_kernels_for((b3cas_simd)level);

		for (size_t count = 0; count <= 40; count++) {
			for (int rep = 0; rep < 12; rep++) {
				size_t stride = strides[tu_rand(&rng) % 4];
				size_t blocks = 1 + tu_rand(&rng) % 16;
				uint64_t ctr = random_counter();
				bool inc = tu_rand(&rng) & 1;
				uint8_t f = (uint8_t)(tu_rand(&rng) & 127);
				uint8_t fs = (uint8_t)(tu_rand(&rng) & 127);
				uint8_t fe = (uint8_t)(tu_rand(&rng) & 127);
				uint32_t key[8];
				const uint8_t *in = buf + tu_rand(&rng) % 64;

				if (blocks * 64 > stride)
					blocks = stride / 64;
				random_cv(key);
				memset(out_k, 0xAA, sizeof(out_k));
				memset(out_p, 0xAA, sizeof(out_p));
				k->hash_many(out_k, in, stride, count, blocks,
					     key, ctr, inc, f, fs, fe);
				portable()->hash_many(out_p, in, stride, count,
						      blocks, key, ctr, inc, f,
						      fs, fe);
				/* including the untouched bytes after */
				assert_memory_equal(out_k, out_p,
						    sizeof(out_k));
				n++;
			}
		}
	}
	fprintf(stderr, "hash_many: %zu cases\n", n);
}

static void test_xof_many(void **state)
{
	uint8_t out_k[41 * 64], out_p[41 * 64];
	size_t n = 0;

	(void)state;
	for (int level = 1; level < tu_levels(); level++) {
		const b3_kernels *k = b3_kernels_for((b3cas_simd)level);

		for (size_t blocks = 0; blocks <= 40; blocks++) {
			for (int rep = 0; rep < 10; rep++) {
				uint32_t cv[8];
				const uint8_t *block = buf + tu_rand(&rng) % 512;
				uint8_t len = (uint8_t)(tu_rand(&rng) % 65);
				uint64_t ctr = random_counter();
				uint8_t f = (uint8_t)(tu_rand(&rng) & 127);

				random_cv(cv);
				memset(out_k, 0x55, sizeof(out_k));
				memset(out_p, 0x55, sizeof(out_p));
				k->xof_many(out_k, cv, block, len, ctr, f,
					    blocks);
				portable()->xof_many(out_p, cv, block, len,
						     ctr, f, blocks);
				assert_memory_equal(out_k, out_p,
						    sizeof(out_k));
				n++;
			}
		}
	}
	fprintf(stderr, "xof_many: %zu cases\n", n);
}

/* A random state for the lanes kernel: each lane at its own place. */
static void random_lanes(b3_lanes *st, size_t lanes, size_t nsteps,
			 uint8_t outs[][32], uint8_t pads[][64])
{
	memset(st, 0, sizeof(*st));
	random_cv(st->key);
	st->reset_mask = (uint32_t)tu_rand(&rng) & ((1u << lanes) - 1);
	for (size_t l = 0; l < lanes; l++) {
		for (int i = 0; i < 8; i++)
			st->cv[i][l] = (uint32_t)tu_rand(&rng);
		st->ctr_lo[l] = (uint32_t)random_counter();
		st->ctr_hi[l] = (uint32_t)tu_rand(&rng);
		st->flags_first[l] = (uint32_t)(tu_rand(&rng) & 127);
		st->flags_mid[l] = (uint32_t)(tu_rand(&rng) & 127);
		st->flags_last[l] = (uint32_t)(tu_rand(&rng) & 127);
		st->ptr[l] = buf + tu_rand(&rng) % 8192;
		if (tu_rand(&rng) & 1) {
			/* a partial last block, zero padded */
			st->blen_last[l] = (uint32_t)(tu_rand(&rng) % 65);
			memset(pads[l], 0, 64);
			memcpy(pads[l], buf + tu_rand(&rng) % 4096,
			       st->blen_last[l]);
			st->last[l] = pads[l];
		} else {
			st->blen_last[l] = 64;
			st->last[l] = st->ptr[l] + 64 * (nsteps - 1);
		}
		st->out[l] = (tu_rand(&rng) & 1) ? outs[l] : NULL;
	}
}

static void test_lanes(void **state)
{
	size_t n = 0;

	(void)state;
	for (int level = 0; level < tu_levels(); level++) {
		const b3_kernels *k = b3_kernels_for((b3cas_simd)level);

		for (int rep = 0; rep < 2000; rep++) {
			size_t nsteps = 1 + tu_rand(&rng) % 16;
			uint8_t outs_k[16][32], outs_p[16][32];
			uint8_t pads[16][64];
			b3_lanes sk, sp;

			random_lanes(&sk, k->lanes, nsteps, outs_k, pads);
			if (rep % 5 == 0) /* everyone finishes */
				for (size_t l = 0; l < k->lanes; l++)
					sk.out[l] = outs_k[l];
			sp = sk;
			for (size_t l = 0; l < k->lanes; l++)
				if (sk.out[l])
					sp.out[l] = outs_p[l];
			k->lanes_run(&sk, nsteps);
			b3_lanes_run_with(b3_portable_compress, &sp, k->lanes,
					  nsteps);
			for (size_t l = 0; l < k->lanes; l++) {
				if (sk.out[l]) {
					assert_memory_equal(outs_k[l],
							    outs_p[l], 32);
					continue;
				}
				for (int i = 0; i < 8; i++)
					assert_int_equal(sk.cv[i][l],
							 sp.cv[i][l]);
			}
			n++;
		}
	}
	fprintf(stderr, "lanes: %zu cases\n", n);
}

static void check_hash_vs_reference(const uint8_t *in, size_t len)
{
	uint8_t want[32], got[32];

	ref_hash(want, 32, 0, in, len);
	for (int level = 0; level < tu_levels(); level++) {
		tu_force(level);
		b3cas_hash(got, in, len);
		if (memcmp(got, want, 32) != 0)
			fail_msg("b3cas_hash of %zu bytes at level %s differs "
				 "from the reference",
				 len, b3cas_simd_name());
	}
}

static void test_hash_every_length(void **state)
{
	size_t n = 0;

	(void)state;
	for (size_t len = 0; len <= 8 * 1024 + 1; len++, n++)
		check_hash_vs_reference(buf + len % 61, len);
	fprintf(stderr, "b3cas_hash: lengths 0..%zu at every level\n",
		(size_t)8 * 1024 + 1);
}

static void test_hash_boundaries(void **state)
{
	size_t big = ((size_t)4 << 20) + 2 * 1024 + 2;
	uint8_t *in = malloc(big);
	size_t n = 0;

	(void)state;
	tu_fill_random(in, big, &rng);
	for (size_t chunks = 1; chunks <= 4096; chunks *= 2) {
		for (int d = -1; d <= 1; d++) {
			check_hash_vs_reference(in, chunks * 1024 + d);
			/* one chunk more than a power of two */
			check_hash_vs_reference(in, (chunks + 1) * 1024 + d);
			n += 2;
		}
	}
	check_hash_vs_reference(in, big - 1);
	check_hash_vs_reference(in, big - 2);
	/* 17..33 chunks: partial and double 16-lane groups */
	for (size_t chunks = 17; chunks <= 33; chunks++, n++)
		check_hash_vs_reference(in + 1, chunks * 1024 + 513);
	fprintf(stderr, "b3cas_hash: %zu boundary lengths at every level\n",
		n + 2);
	free(in);
}

static void test_keyed_sample(void **state)
{
	uint8_t key[32], want[32], got[32];
	size_t n = 0;

	(void)state;
	for (int rep = 0; rep < 60; rep++) {
		size_t len = tu_rand(&rng) % (40 * 1024);

		tu_fill_random(key, 32, &rng);
		ref_keyed(want, 32, 0, key, buf, len);
		for (int level = 0; level < tu_levels(); level++) {
			tu_force(level);
			b3cas_hash_keyed(got, key, buf, len);
			assert_memory_equal(got, want, 32);
			n++;
		}
	}
	fprintf(stderr, "keyed: %zu cases\n", n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compress),
		cmocka_unit_test(test_hash_many),
		cmocka_unit_test(test_xof_many),
		cmocka_unit_test(test_lanes),
		cmocka_unit_test(test_hash_every_length),
		cmocka_unit_test(test_hash_boundaries),
		cmocka_unit_test(test_keyed_sample),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
