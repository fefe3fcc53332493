/*
 * test_batch.c - b3cas_hash_batch and b3cas_hash_batch_keyed, message by
 * message, against the independent reference and against b3cas_hash /
 * b3cas_hash_keyed of the same message, at every SIMD level.
 *
 * The batch scheduler packs messages of different lengths into the lanes
 * and refills a lane as soon as its message ends, so the batches are
 * random mixes: counts 0..100 with lengths 0..1024 and every length where
 * the block count changes (0, 1, 63, 64, 65, 1023, 1024) present, batches
 * all of one length (64, 1024), messages longer than a chunk mixed in or
 * alone (up to 96 KiB: those of up to 64 chunks go through the lanes as
 * chunks and parents unless their own chunks would fill the lanes, the
 * others are hashed apart), lengths at chunk and
 * tree boundaries, every length 0..4200 alone and in mixed batches,
 * batches large enough to need several groups of chaining values, input
 * pointers at every alignment, the same pointer several times, and an
 * output that need not be aligned. Some messages sit at the very end of
 * their own heap block, so that a read past a message shows up under
 * AddressSanitizer; guard bytes after the output catch a write past it.
 */
#include "test_util.h"

#include "blake3/reference.h"

#define POOL_LEN (1 << 20)
#define MAX_LARGE (96 * 1024)
#define MAX_BATCHED (64 * 1024) /* batch.c batches up to 64 chunks */

static uint64_t rng;
static uint8_t *pool; /* most messages are slices of this */

static int setup(void **state)
{
	(void)state;
	rng = tu_seed("test_batch");
	pool = malloc(POOL_LEN);
	if (!pool)
		return -1;
	tu_fill_random(pool, POOL_LEN, &rng);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(pool);
	tu_report_levels();
	return 0;
}

enum shape { MIXED, ALL_64, ALL_1024, SPECIAL, WITH_LARGE, ONLY_LARGE,
	     BOUNDARY, ALL_2048, NSHAPES };

static const char *const shape_names[] = {
	"mixed",      "all 64",     "all 1024", "special",
	"with large", "only large", "boundary", "all 2048"};
static const size_t special[] = {0, 1, 63, 64, 65, 1023, 1024};
/* chunk counts that change the tree's shape, and the batching limit */
static const size_t boundary[] = {
	1023,  1024,  1025,  2047,  2048,  2049,  3071,  3072,  3073,
	4095,  4096,  4097,  5120,  6144,  7168,  8191,  8192,  8193,
	9216,  12288, 15360, 16383, 16384, 16385, 17408, 24576, 32768,
	48128, 49152, 49153, 64512, 65535, 65536, 65537, 66560, 98304};

#define NSPECIAL (sizeof(special) / sizeof(special[0]))
#define NBOUNDARY (sizeof(boundary) / sizeof(boundary[0]))

/* Longer than a chunk: half up to the batching limit, half up to
 * MAX_LARGE. */
static size_t pick_large(void)
{
	if (tu_rand(&rng) % 2)
		return 1025 + tu_rand(&rng) % MAX_BATCHED;
	return 1025 + tu_rand(&rng) % (MAX_LARGE - 1024);
}

static size_t pick_len(enum shape s, size_t i)
{
	switch (s) {
	case ALL_64: return 64;
	case ALL_1024: return 1024;
	case SPECIAL: return special[i % NSPECIAL];
	case WITH_LARGE:
		if (tu_rand(&rng) % 4 == 0)
			return pick_large();
		return tu_rand(&rng) % 1025;
	case ONLY_LARGE: return pick_large();
	case BOUNDARY:
		if (tu_rand(&rng) % 3 == 0)
			return tu_rand(&rng) % 1025;
		return boundary[tu_rand(&rng) % NBOUNDARY];
	case ALL_2048: return 2048;
	default:
		/* the first messages of a mix are the special lengths */
		if (i < NSPECIAL)
			return special[i];
		return tu_rand(&rng) % 1025;
	}
}

typedef struct batch_case {
	size_t count;
	const void **in;
	size_t *lens;
	void **own; /* heap blocks of messages that have their own, or NULL */
	uint8_t *out_mem, *out;
} batch_case;

#define OUT_GUARD 64

/* lens_fixed, when not NULL, gives every message's length instead of s. */
static void batch_case_new(batch_case *b, size_t count, enum shape s,
			   const size_t *lens_fixed)
{
	size_t misalign = tu_rand(&rng) % 4;

	b->count = count;
	b->in = calloc(count + 1, sizeof(*b->in));
	b->lens = calloc(count + 1, sizeof(*b->lens));
	b->own = calloc(count + 1, sizeof(*b->own));
	b->out_mem = malloc(32 * count + OUT_GUARD + misalign);
	assert_true(b->in && b->lens && b->own && b->out_mem);
	b->out = b->out_mem + misalign;
	memset(b->out, 0xEE, 32 * count + OUT_GUARD);
	for (size_t i = 0; i < count; i++) {
		size_t len = lens_fixed ? lens_fixed[i] : pick_len(s, i);
		const uint8_t *src = pool + tu_rand(&rng) % (POOL_LEN - len);

		if (!lens_fixed && i > 0 && tu_rand(&rng) % 10 == 0) {
			b->in[i] = b->in[i - 1]; /* the same bytes twice */
			b->lens[i] = b->lens[i - 1];
			continue;
		}
		b->lens[i] = len;
		if (tu_rand(&rng) % 4 == 0) {
			b->in[i] = tu_exact_copy_at(src, len, tu_rand(&rng) % 8,
						    &b->own[i]);
		} else {
			b->in[i] = src;
		}
	}
}

static void batch_case_free(batch_case *b)
{
	for (size_t i = 0; i < b->count; i++)
		free(b->own[i]);
	free(b->own);
	free(b->in);
	free(b->lens);
	free(b->out_mem);
}

static void check_batch(const batch_case *b, enum shape s,
			const uint8_t *key)
{
	for (size_t i = 0; i < b->count; i++) {
		uint8_t want[32], single[32];

		if (key) {
			ref_keyed(want, 32, 0, key, b->in[i], b->lens[i]);
			b3cas_hash_keyed(single, key, b->in[i], b->lens[i]);
		} else {
			ref_hash(want, 32, 0, b->in[i], b->lens[i]);
			b3cas_hash(single, b->in[i], b->lens[i]);
		}
		tu_expect_mem(single, want, 32,
			      "b3cas_hash%s of %zu bytes at %s",
			      key ? "_keyed" : "", b->lens[i],
			      b3cas_simd_name());
		tu_expect_mem(b->out + 32 * i, want, 32,
			      "batch%s of %zu (%s) at %s: message %zu of "
			      "%zu bytes",
			      key ? " keyed" : "", b->count, shape_names[s],
			      b3cas_simd_name(), i, b->lens[i]);
	}
	for (size_t i = 0; i < OUT_GUARD; i++)
		if (b->out[32 * b->count + i] != 0xEE)
			fail_msg("batch of %zu (%s) at %s wrote past its "
				 "output",
				 b->count, shape_names[s], b3cas_simd_name());
}

static void run_batch_of(size_t count, enum shape s,
			 const size_t *lens_fixed, bool keyed)
{
	batch_case b;
	uint8_t key[32];

	tu_fill_random(key, 32, &rng);
	batch_case_new(&b, count, s, lens_fixed);
	if (keyed)
		b3cas_hash_batch_keyed(b.out, key, b.in, b.lens, count);
	else
		b3cas_hash_batch(b.out, b.in, b.lens, count);
	check_batch(&b, s, keyed ? key : NULL);
	batch_case_free(&b);
}

static void run_batch(size_t count, enum shape s, bool keyed)
{
	run_batch_of(count, s, NULL, keyed);
}

static void test_batches(void **state)
{
	size_t batches = 0, messages = 0;

	(void)state;
	for (int level = 0; level < tu_levels(); level++) {
		tu_force(level);
		for (size_t count = 0; count <= 100; count++) {
			for (enum shape s = MIXED; s < NSHAPES; s++) {
				run_batch(count, s, false);
				run_batch(count, s, true);
				batches += 2;
				messages += 2 * count;
			}
		}
	}
	fprintf(stderr, "batch: %zu batches, %zu messages\n", batches,
		messages);
}

/* Big batches: many refills of every lane, lanes in lockstep. */
static void test_big_batches(void **state)
{
	size_t n = 0;

	(void)state;
	for (int level = 0; level < tu_levels(); level++) {
		tu_force(level);
		run_batch(4096, ALL_64, false);
		run_batch(4096, ALL_1024, true);
		run_batch(4096, MIXED, false);
		run_batch(2000, WITH_LARGE, true);
		/* 1000 x 2 KiB: several groups of chaining values */
		run_batch(1000, ALL_2048, false);
		run_batch(1000, ONLY_LARGE, true);
		run_batch(1000, BOUNDARY, false);
		n += 7;
	}
	fprintf(stderr, "big batches: %zu\n", n);
}

#define EVERY_MAX 4200 /* past four chunks, so past two tree levels */

/* A batch of n copies of one message, for every length 0..EVERY_MAX. */
static void test_every_length(void **state)
{
	const void *in[17];
	size_t lens[17];
	uint8_t out[17 * 32], want[32];

	(void)state;
	for (size_t len = 0; len <= EVERY_MAX; len++) {
		uint8_t *msg = tu_exact_copy(pool + len, len);
		size_t n = 1 + len % 17;

		ref_hash(want, 32, 0, msg, len);
		for (size_t i = 0; i < n; i++) {
			in[i] = msg;
			lens[i] = len;
		}
		for (int level = 0; level < tu_levels(); level++) {
			tu_force(level);
			b3cas_hash_batch(out, in, lens, n);
			for (size_t i = 0; i < n; i++)
				tu_expect_mem(out + 32 * i, want, 32,
					      "batch of %zu x %zu bytes at %s, "
					      "message %zu",
					      n, len, b3cas_simd_name(), i);
		}
		free(msg);
	}
	fprintf(stderr, "batch: every length 0..%d\n", EVERY_MAX);
}

/*
 * Every length 0..EVERY_MAX once per level, shuffled into batches of 1 to
 * 40 messages, plain and keyed in turn: each length beside others.
 */
static void test_every_length_mixed(void **state)
{
	static size_t lens[EVERY_MAX + 1];
	size_t batches = 0;

	(void)state;
	for (int level = 0; level < tu_levels(); level++) {
		tu_force(level);
		for (size_t i = 0; i <= EVERY_MAX; i++)
			lens[i] = i;
		for (size_t i = EVERY_MAX; i > 0; i--) {
			size_t j = tu_rand(&rng) % (i + 1), t = lens[i];

			lens[i] = lens[j];
			lens[j] = t;
		}
		for (size_t i = 0; i <= EVERY_MAX;) {
			size_t n = 1 + tu_rand(&rng) % 40;

			if (n > EVERY_MAX + 1 - i)
				n = EVERY_MAX + 1 - i;
			run_batch_of(n, MIXED, lens + i, batches % 2);
			i += n;
			batches++;
		}
	}
	fprintf(stderr, "batch: every length 0..%d mixed, %zu batches\n",
		EVERY_MAX, batches);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batches),
		cmocka_unit_test(test_big_batches),
		cmocka_unit_test(test_every_length),
		cmocka_unit_test(test_every_length_mixed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
