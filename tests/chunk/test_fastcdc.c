/*
 * test_fastcdc.c - the FastCDC 2020 chunker (src/chunk/) against the
 * published vectors of the Remote Execution API (offset, length, SHA-256
 * and fingerprint of every chunk of tests/data/cdc/SekienAkashita.jpg for
 * seeds 0 and 666), its gear table against MD5, and the plain chunker of
 * fastcdc_ref.h over seeded random inputs and parameters, edge lengths,
 * and input arriving in pieces under the streaming contract; init's
 * refusals.
 */
#include "test_util.h"

#include <openssl/evp.h>
#include <unistd.h>

#include "chunk/fastcdc.h"
#include "chunk/fastcdc_ref.h"

#define MAX_CHUNKS 64

typedef struct vchunk {
	size_t offset, len;
	uint8_t sha256[32];
	uint64_t fp;
} vchunk;

typedef struct vseed {
	uint64_t seed;
	vchunk chunks[MAX_CHUNKS];
	size_t n;
} vseed;

static uint8_t *read_file(const char *name, size_t *len_out)
{
	char path[4096];
	uint8_t *buf;

	snprintf(path, sizeof(path), "%s/cdc/%s", tu_data_dir(), name);
	if (access(path, R_OK) != 0)
		fail_msg("cannot open %s", path);
	buf = (uint8_t *)tu_read_file(path, len_out);
	assert_true(*len_out > 0);
	return buf;
}

/* The vectors file: "# Seed: N" starts a seed, then one chunk a line:
 * offset, length, sha256 (hex), fingerprint. */
static size_t parse_vectors(vseed *seeds, size_t max_seeds, char *text)
{
	size_t ns = 0;

	for (char *line = strtok(text, "\n"); line;
	     line = strtok(NULL, "\n")) {
		unsigned long long seed, off, len, fp;
		char hex[65];

		if (sscanf(line, "# Seed: %llu", &seed) == 1) {
			assert_true(ns < max_seeds);
			seeds[ns].seed = seed;
			seeds[ns++].n = 0;
		} else if (line[0] != '#' &&
			   sscanf(line, "%llu %llu %64s %llu", &off, &len,
				  hex, &fp) == 4) {
			vseed *s;
			vchunk *c;

			assert_true(ns > 0 && seeds[ns - 1].n < MAX_CHUNKS);
			s = &seeds[ns - 1];
			c = &s->chunks[s->n++];
			assert_int_equal(strlen(hex), 64);
			c->offset = off;
			c->len = len;
			tu_hex_decode(c->sha256, hex, 32);
			c->fp = fp;
		}
	}
	return ns;
}

static void sha256(uint8_t out[32], const uint8_t *p, size_t len)
{
	unsigned out_len = 0;

	assert_true(EVP_Digest(p, len, out, &out_len, EVP_sha256(), NULL));
	assert_int_equal(out_len, 32);
}

typedef struct walk_log {
	size_t n, offset[MAX_CHUNKS], len[MAX_CHUNKS];
	uint64_t fp[MAX_CHUNKS];
} walk_log;

static int log_chunk(void *arg, size_t offset, size_t len, uint64_t fp)
{
	walk_log *w = arg;

	assert_true(w->n < MAX_CHUNKS);
	w->offset[w->n] = offset;
	w->len[w->n] = len;
	w->fp[w->n++] = fp;
	return 0;
}

static void check_vector_seed(const vseed *s, const uint8_t *img,
			      size_t img_len)
{
	size_t off = 0, i = 0;
	walk_log w = {0};
	b3cas_cdc cdc;

	assert_int_equal(b3cas__cdc_init(&cdc, 4096, 16384, 65535, s->seed),
			 0);
	for (; off < img_len; i++) {
		uint8_t digest[32];
		uint64_t fp;
		size_t n = b3cas__cdc_cut(&fp, &cdc, img + off, img_len - off);

		assert_true(i < s->n);
		assert_int_equal(off, s->chunks[i].offset);
		assert_int_equal(n, s->chunks[i].len);
		sha256(digest, img + off, n);
		tu_expect_mem(digest, s->chunks[i].sha256, 32,
			      "seed %llu chunk %zu sha256",
			      (unsigned long long)s->seed, i);
		assert_int_equal(fp, s->chunks[i].fp);
		off += n;
	}
	assert_int_equal(i, s->n);
	/* the walk gives the same chunks */
	assert_int_equal(b3cas__cdc_walk(&cdc, img, img_len, log_chunk, &w),
			 0);
	assert_int_equal(w.n, s->n);
	for (i = 0; i < s->n; i++) {
		assert_int_equal(w.offset[i], s->chunks[i].offset);
		assert_int_equal(w.len[i], s->chunks[i].len);
		assert_int_equal(w.fp[i], s->chunks[i].fp);
	}
}

static void test_published_vectors(void **state)
{
	static const char img_sha[] = "d9e749d9367fc908876749d6502eb212"
				      "fee88c9a94892fb07da5ef3ba8bc39ed";
	uint8_t want[32], got[32];
	size_t img_len, text_len, ns;
	vseed seeds[4] = {0};
	uint8_t *img;
	char *text;

	(void)state;
	img = read_file("SekienAkashita.jpg", &img_len);
	assert_int_equal(img_len, 109466);
	tu_hex_decode(want, img_sha, 32);
	sha256(got, img, img_len);
	tu_expect_mem(got, want, 32, "SekienAkashita.jpg sha256");
	text = (char *)read_file("fastcdc2020_test_vectors.txt", &text_len);
	ns = parse_vectors(seeds, 4, text);
	assert_int_equal(ns, 2);
	assert_int_equal(seeds[0].seed, 0);
	assert_int_equal(seeds[1].seed, 666);
	for (size_t i = 0; i < ns; i++) {
		assert_int_equal(seeds[i].n, 6);
		check_vector_seed(&seeds[i], img, img_len);
	}
	free(text);
	free(img);
}

static void test_gear_is_md5(void **state)
{
	static const uint64_t seeds[] = {0, 666, 0xffffffffffffffffull,
					 0x8000000000000001ull};
	uint64_t md5_gear[256];
	b3cas_cdc cdc;

	(void)state;
	assert_int_equal(cdc_ref_gear(md5_gear), 0);
	/* one entry written out, from `python3 hashlib.md5(b"\0" * 64)` */
	assert_int_equal(md5_gear[0], 0x3b5d3c7d207e37dcull);
	for (size_t k = 0; k < sizeof(seeds) / sizeof(seeds[0]); k++) {
		uint64_t s = seeds[k];

		assert_int_equal(b3cas__cdc_init(&cdc, 64, 256, 1024, s), 0);
		for (unsigned i = 0; i < 256; i++) {
			assert_int_equal(cdc.gear[i], md5_gear[i] ^ s);
			assert_int_equal(cdc.gear_ls[i],
					 (md5_gear[i] << 1) ^ (s << 1));
		}
	}
}

/* ---- against the plain chunker ---- */

typedef struct params {
	size_t min, avg, max;
	uint64_t seed;
} params;

static void init_both(b3cas_cdc *cdc, cdc_ref *ref, const params *p)
{
	static uint64_t md5_gear[256];
	static bool have_gear;
	int rc = b3cas__cdc_init(cdc, p->min, p->avg, p->max, p->seed);

	if (rc != 0)
		fail_msg("init %zu/%zu/%zu: %s", p->min, p->avg, p->max,
			 b3cas_error_last());
	if (!have_gear) {
		assert_int_equal(cdc_ref_gear(md5_gear), 0);
		have_gear = true;
	}
	cdc_ref_init(ref, md5_gear, p->min, p->avg, p->max, p->seed);
}

/* Cut all of data with both chunkers; fail at the first difference.
 * Returns the number of chunks. */
static size_t compare_all(const b3cas_cdc *cdc, const cdc_ref *ref,
			  const uint8_t *data, size_t len, const char *what)
{
	size_t off = 0, i = 0;

	while (off < len) {
		uint64_t fp = 1, want_fp;
		size_t n = b3cas__cdc_cut(&fp, cdc, data + off, len - off);
		size_t want = cdc_ref_cut(&want_fp, ref, data + off,
					  len - off);

		if (n != want || fp != want_fp)
			fail_msg("%s: min %zu avg %zu max %zu seed %llu, len "
				 "%zu, chunk %zu at %zu: cut %zu fp %llx, "
				 "reference %zu fp %llx", what, cdc->min,
				 cdc->avg, cdc->max,
				 (unsigned long long)cdc->seed, len, i, off,
				 n, (unsigned long long)fp, want,
				 (unsigned long long)want_fp);
		assert_true(n > 0 && n <= cdc->max);
		assert_true(n >= cdc->min || off + n == len);
		/* the fingerprint is optional */
		assert_int_equal(b3cas__cdc_cut(NULL, cdc, data + off,
						len - off), n);
		off += n;
		i++;
	}
	return i;
}

/* Random bytes, or bytes from a small alphabet, or long runs. */
static void fill(uint8_t *p, size_t len, unsigned kind, uint64_t *rng)
{
	switch (kind % 3) {
	case 0:
		tu_fill_random(p, len, rng);
		break;
	case 1:
		for (size_t i = 0; i < len; i++)
			p[i] = (uint8_t)("etaoin shrdlu\n"[tu_rand(rng) % 14]);
		break;
	default:
		for (size_t i = 0; i < len;) {
			size_t run = 1 + tu_rand(rng) % 300;
			uint8_t b = (uint8_t)tu_rand(rng);

			for (; run && i < len; run--)
				p[i++] = b;
		}
	}
}

static params random_params(uint64_t *rng)
{
	params p;
	unsigned bits = 8 + (unsigned)(tu_rand(rng) % 9); /* 256 .. 64K */

	p.avg = (size_t)1 << bits;
	p.min = 64 + 2 * (tu_rand(rng) % ((p.avg - 64) / 2));
	p.max = p.avg + 1 + tu_rand(rng) % (7 * p.avg);
	p.seed = tu_rand(rng) % 2 ? tu_rand(rng) : 0;
	return p;
}

static void test_random_against_reference(void **state)
{
	static const params fixed[] = {
		{4096, 16384, 65535, 0}, {4096, 16384, 65535, 666},
		{64, 256, 257, 0},	 {64, 256, 1024, 1},
		{254, 256, 100000, 7},	 {512, 2048, 8192, 0},
		{16384, 65536, 262144, 0}, {262144, 1048576, 4194304, 0},
	};
	uint64_t rng = tu_seed("test_random_against_reference");
	size_t buf_len = (size_t)9 << 20, chunks = 0, inputs = 0;
	uint8_t *buf = malloc(buf_len);

	(void)state;
	assert_non_null(buf);
	for (unsigned round = 0; round < 300; round++) {
		params p = round < 8 ? fixed[round] : random_params(&rng);
		size_t len = tu_rand(&rng) % (3 * p.max + 2);
		b3cas_cdc cdc;
		uint8_t *copy;
		cdc_ref ref;

		if (round < 8 && p.max > 65536)
			len = buf_len; /* large avg: one long input */
		init_both(&cdc, &ref, &p);
		fill(buf, len, round, &rng);
		/* an exact heap block: a read past the end is caught by
		 * AddressSanitizer */
		copy = tu_exact_copy(buf, len);
		chunks += compare_all(&cdc, &ref, copy, len, "random");
		inputs++;
		free(copy);
	}
	fprintf(stderr, "%zu inputs, %zu chunks agree\n", inputs, chunks);
	assert_true(chunks > 3000);
	free(buf);
}

/* The lengths around min, avg and max, and the empty input. */
static void test_edge_lengths(void **state)
{
	static const params ps[] = {
		{4096, 16384, 65535, 0}, {64, 256, 257, 0},
		{64, 256, 1000, 3},	 {1024, 4096, 16385, 0},
	};
	uint64_t rng = tu_seed("test_edge_lengths");
	uint8_t *buf = malloc(3 * 65536 + 64);

	(void)state;
	assert_non_null(buf);
	for (size_t k = 0; k < sizeof(ps) / sizeof(ps[0]); k++) {
		const params *p = &ps[k];
		size_t lens[] = {0, 1, p->min - 1, p->min, p->min + 1,
				 p->min + 2, p->avg - 1, p->avg, p->avg + 1,
				 p->max - 1, p->max, p->max + 1, p->max + 2,
				 2 * p->max, 2 * p->max + 1};
		b3cas_cdc cdc;
		cdc_ref ref;

		init_both(&cdc, &ref, p);
		for (size_t j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
			size_t len = lens[j];
			uint64_t fp = 1;
			uint8_t *copy;

			tu_fill_random(buf, len, &rng);
			copy = tu_exact_copy(buf, len);
			/* up to min: one chunk, fingerprint 0 */
			if (len <= p->min) {
				assert_int_equal(b3cas__cdc_cut(&fp, &cdc,
						 copy, len), len);
				assert_int_equal(fp, 0);
			}
			compare_all(&cdc, &ref, copy, len, "edge");
			free(copy);
		}
	}
	assert_int_equal(b3cas__cdc_cut(NULL, &(b3cas_cdc){.min = 64}, NULL,
					0), 0);
	free(buf);
}

/* All zeros never pass the masks of the vectors' parameters: every chunk
 * is max long, and the last what remains. */
static void test_all_zero(void **state)
{
	size_t len = 3 * 65535 + 100, off = 0, i = 0;
	uint8_t *zero = calloc(1, len);
	b3cas_cdc cdc;
	cdc_ref ref;

	(void)state;
	assert_non_null(zero);
	for (uint64_t seed = 0; seed <= 666; seed += 666) {
		init_both(&cdc, &ref, &(params){4096, 16384, 65535, seed});
		for (off = 0, i = 0; off < len; i++) {
			size_t n = b3cas__cdc_cut(NULL, &cdc, zero + off,
						  len - off);

			assert_int_equal(n, i < 3 ? 65535 : 100);
			off += n;
		}
		assert_int_equal(i, 4);
		compare_all(&cdc, &ref, zero, len, "zero");
	}
	free(zero);
}

/*
 * The streaming contract: bytes arrive in random pieces into a buffer of
 * what is not yet cut; a chunk is cut whenever the buffer holds at least
 * max bytes, and at the end from what remains. The chunks must be those
 * of the whole input.
 */
static void test_streaming(void **state)
{
	uint64_t rng = tu_seed("test_streaming");
	size_t cap = (size_t)4 << 20;
	uint8_t *input = malloc(cap), *pending = malloc(cap);

	(void)state;
	assert_non_null(input);
	assert_non_null(pending);
	for (unsigned round = 0; round < 60; round++) {
		params p = random_params(&rng);
		size_t len = tu_rand(&rng) % (20 * p.max), whole_off = 0;
		size_t fed = 0, have = 0, cuts = 0;
		b3cas_cdc cdc;
		cdc_ref ref;

		if (len > cap)
			len = cap;
		init_both(&cdc, &ref, &p);
		fill(input, len, round, &rng);
		while (fed < len || have > 0) {
			size_t piece = tu_rand(&rng) % (p.max / 3 + 2);
			bool at_end;

			if (piece > len - fed)
				piece = len - fed;
			memcpy(pending + have, input + fed, piece);
			have += piece;
			fed += piece;
			at_end = fed == len;
			while (have > 0 && (have >= p.max || at_end)) {
				uint64_t fp, wfp;
				size_t n = b3cas__cdc_cut(&fp, &cdc, pending,
							  have);
				size_t w = b3cas__cdc_cut(&wfp, &cdc,
							  input + whole_off,
							  len - whole_off);

				if (n != w || fp != wfp)
					fail_msg("round %u: chunk %zu at %zu: "
						 "streamed %zu, whole %zu",
						 round, cuts, whole_off, n, w);
				memmove(pending, pending + n, have - n);
				have -= n;
				whole_off += n;
				cuts++;
			}
		}
		assert_int_equal(whole_off, len);
	}
	free(pending);
	free(input);
}

static int stop_at_third(void *arg, size_t offset, size_t len, uint64_t fp)
{
	int *calls = arg;

	(void)offset;
	(void)len;
	(void)fp;
	return ++*calls == 3 ? 42 : 0;
}

static void test_walk_stops(void **state)
{
	uint64_t rng = 12345;
	size_t len = 1 << 20;
	uint8_t *buf = malloc(len);
	int calls = 0;
	b3cas_cdc cdc;

	(void)state;
	assert_non_null(buf);
	tu_fill_random(buf, len, &rng);
	assert_int_equal(b3cas__cdc_init(&cdc, 1024, 4096, 16384, 0), 0);
	assert_int_equal(b3cas__cdc_walk(&cdc, buf, len, stop_at_third,
					 &calls), 42);
	assert_int_equal(calls, 3);
	calls = 0;
	assert_int_equal(b3cas__cdc_walk(&cdc, buf, 0, stop_at_third,
					 &calls), 0);
	assert_int_equal(calls, 0);
	free(buf);
}

static void test_init_rejects(void **state)
{
	static const struct {
		size_t min, avg, max;
		const char *word;
	} bad[] = {
		{62, 256, 1024, "min 62"},	  /* below 64 */
		{65, 256, 1024, "min 65"},	  /* odd */
		{0, 256, 1024, "min 0"},
		{64, 128, 1024, "avg 128"},	  /* below 256 */
		{64, 300, 1024, "avg 300"},	  /* not a power of two */
		{64, 8 << 20, 16 << 20, "avg 8388608"}, /* above 4 MiB */
		{256, 256, 1024, "min 256"},	  /* min == avg */
		{512, 256, 1024, "min 512"},
		{64, 256, 256, "max 256"},	  /* max == avg */
		{64, 256, 255, "max 255"},
		{1024, 4096, (64 << 20) + 1, "max 67108865"},
	};
	b3cas_cdc cdc;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b3cas_error_clear();
		assert_int_equal(b3cas__cdc_init(&cdc, bad[i].min, bad[i].avg,
						 bad[i].max, 0),
				 B3CAS_EINVAL);
		if (!strstr(b3cas_error_last(), bad[i].word))
			fail_msg("case %zu: message \"%s\" lacks \"%s\"", i,
				 b3cas_error_last(), bad[i].word);
	}
	assert_int_equal(b3cas__cdc_init(NULL, 64, 256, 1024, 0), B3CAS_EINVAL);
	/* the limits themselves are accepted */
	assert_int_equal(b3cas__cdc_init(&cdc, 64, 256, 257, 0), 0);
	assert_int_equal(b3cas__cdc_init(&cdc, 1 << 20, 4 << 20, 64 << 20, 0),
			 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_published_vectors),
		cmocka_unit_test(test_gear_is_md5),
		cmocka_unit_test(test_random_against_reference),
		cmocka_unit_test(test_edge_lengths),
		cmocka_unit_test(test_all_zero),
		cmocka_unit_test(test_streaming),
		cmocka_unit_test(test_walk_stops),
		cmocka_unit_test(test_init_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
