/*
 * test_kernels.c - the kernel contract of blake3_int.h, entry point by
 * entry point, and b3cas_hash over the lengths where the tree changes
 * shape.
 *
 * Each entry point of every level is run on the same random arguments as
 * the portable set and as a model written here from the contract over the
 * reference compression function (reference.c): the portable set must
 * equal the model, and every SIMD set must equal the portable set. The
 * arguments go where kernels break: counters whose low word carries in the
 * middle of a call, every block length, every flag byte, input counts that
 * fill SIMD groups partly, twice, or not at all, odd strides, unaligned
 * inputs, lanes in every state. Inputs end exactly at the end of their
 * heap block and outputs are either exactly sized or followed by guard
 * bytes, so a read or write past them shows up (under AddressSanitizer, or
 * as a changed guard byte). B3CAS_TEST_LONG=1 runs ten times the random
 * cases and hashes 128 MiB inputs too.
 *
 * Then b3cas_hash at every level against the reference for every length
 * from 0 to eight chunks plus one byte, and around chunk and subtree
 * boundaries up to the 64 MiB the wide tree takes at once; keyed hash and
 * key derivation on samples.
 */
#include "test_util.h"

#include "blake3/blake3_int.h"
#include "blake3/reference.h"

#define BUF_LEN (128 * 1024)
#define MAX_COUNT 40
#define GUARD 0xA5

static uint64_t rng;
static uint8_t *buf; /* random bytes the arguments are cut from */

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

static const b3_kernels *portable(void)
{
	return b3_kernels_for(B3CAS_SIMD_PORTABLE);
}

/* ---- random arguments ---- */

/*
 * A counter for a call that uses counters counter .. counter + span: often
 * one whose low word carries within the span, sometimes with a high word
 * already set, sometimes one that wraps 2^64.
 */
static uint64_t random_counter(size_t span)
{
	uint64_t before_carry = tu_rand(&rng) % (span + 1);

	switch (tu_rand(&rng) % 7) {
	case 0: return tu_rand(&rng) % 1000;
	case 1: return 0xFFFFFFFFull - before_carry;
	case 2: return (tu_rand(&rng) << 32) | (0xFFFFFFFFull - before_carry);
	case 3: return 0xFFFFFFFFull;
	case 4: return ((tu_rand(&rng) % 16) << 32) | 0xFFFFFFFFull;
	case 5: return UINT64_MAX - before_carry;
	default: return tu_rand(&rng);
	}
}

static void random_words(uint32_t *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		w[i] = (uint32_t)tu_rand(&rng);
}

static uint8_t random_flags(void)
{
	return (uint8_t)tu_rand(&rng);
}

static const uint8_t *random_bytes(size_t len)
{
	return buf + tu_rand(&rng) % (BUF_LEN - len + 1);
}

/* ---- the contract, over the reference compression function ---- */

static void words_le(uint32_t *w, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		w[i] = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 |
		       (uint32_t)b[4 * i + 2] << 16 |
		       (uint32_t)b[4 * i + 3] << 24;
}

static void model_compress(uint32_t cv[8], const uint8_t block[64],
			   uint8_t block_len, uint64_t counter, uint8_t flags)
{
	uint8_t out[64];

	ref_compress(out, cv, block, block_len, counter, flags);
	words_le(cv, out, 8);
}

static void model_compress_xof(uint8_t out[64], const uint32_t cv[8],
			       const uint8_t block[64], uint8_t block_len,
			       uint64_t counter, uint8_t flags)
{
	ref_compress(out, cv, block, block_len, counter, flags);
}

static void store_words_le(uint8_t *b, const uint32_t *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (int j = 0; j < 4; j++)
			b[4 * i + j] = (uint8_t)(w[i] >> (8 * j));
}

static void model_hash_many(uint8_t *out, const uint8_t *input,
			    size_t stride, size_t count, size_t blocks,
			    const uint32_t key[8], uint64_t counter,
			    bool increment_counter, uint8_t flags,
			    uint8_t flags_start, uint8_t flags_end)
{
	for (size_t i = 0; i < count; i++) {
		uint64_t ctr = increment_counter ? counter + i : counter;
		uint32_t cv[8];

		memcpy(cv, key, sizeof(cv));
		for (size_t b = 0; b < blocks; b++) {
			uint8_t f = flags;

			f |= b == 0 ? flags_start : 0;
			f |= b == blocks - 1 ? flags_end : 0;
			model_compress(cv, input + i * stride + 64 * b, 64,
				       ctr, f);
		}
		store_words_le(out + 32 * i, cv, 8);
	}
}

static void model_xof_many(uint8_t *out, const uint32_t cv[8],
			   const uint8_t block[64], uint8_t block_len,
			   uint64_t counter, uint8_t flags, size_t outblocks)
{
	for (size_t i = 0; i < outblocks; i++)
		ref_compress(out + 64 * i, cv, block, block_len, counter + i,
			     flags);
}

/* The lanes kernel as the comment on b3_lanes describes it. */
static void model_lanes(b3_lanes *st, size_t lanes, size_t nsteps)
{
	for (size_t l = 0; l < lanes; l++) {
		uint64_t ctr = (uint64_t)st->ctr_hi[l] << 32 | st->ctr_lo[l];
		uint32_t cv[8];

		for (int i = 0; i < 8; i++)
			cv[i] = (st->reset_mask >> l & 1) ? st->key[i]
							  : st->cv[i][l];
		for (size_t s = 0; s < nsteps; s++) {
			uint32_t f = st->flags_mid[l];
			const uint8_t *block = st->ptr[l] + 64 * s;
			uint32_t len = 64;

			if (s == 0)
				f |= st->flags_first[l];
			if (s == nsteps - 1) {
				f |= st->flags_last[l];
				block = st->last[l];
				len = st->blen_last[l];
			}
			model_compress(cv, block, (uint8_t)len, ctr,
				       (uint8_t)f);
		}
		if (st->out[l])
			store_words_le(st->out[l], cv, 8);
		else
			for (int i = 0; i < 8; i++)
				st->cv[i][l] = cv[i];
	}
}

/* The portable runner at any width: what the SIMD lanes must equal. */
static void portable_lanes(b3_lanes *st, size_t lanes, size_t nsteps)
{
	b3_lanes_run_with(b3_portable_compress, st, lanes, nsteps);
}

/* ---- output buffers: exactly sized, or guarded ---- */

typedef struct outbuf {
	uint8_t *p;
	size_t len;
	bool guarded; /* GUARD bytes follow p[0..len) */
} outbuf;

#define GUARD_LEN 64

static void outbuf_new(outbuf *o, size_t len, bool guarded)
{
	o->len = len;
	o->guarded = guarded;
	o->p = malloc(len + (guarded ? GUARD_LEN : 0) + 1);
	assert_non_null(o->p);
	memset(o->p, GUARD, len + (guarded ? GUARD_LEN : 0));
}

static void outbuf_check_guard(const outbuf *o, const char *what)
{
	if (!o->guarded)
		return;
	for (size_t i = 0; i < GUARD_LEN; i++)
		if (o->p[o->len + i] != GUARD)
			fail_msg("%s wrote %zu bytes past its %zu-byte output",
				 what, i + 1, o->len);
}

/* ---- compress and compress_xof ---- */

static void check_compress_case(const b3_kernels *k, const uint32_t cv[8],
				const uint8_t *block, uint8_t len,
				uint64_t ctr, uint8_t flags)
{
	uint32_t got[8], port[8], want[8];
	uint8_t xgot[64], xport[64], xwant[64];

	memcpy(got, cv, 32);
	memcpy(port, cv, 32);
	memcpy(want, cv, 32);
	k->compress(got, block, len, ctr, flags);
	portable()->compress(port, block, len, ctr, flags);
	model_compress(want, block, len, ctr, flags);
	tu_expect_mem(port, want, 32,
		      "portable compress: len %u counter %#llx flags %#x",
		      len, (unsigned long long)ctr, flags);
	tu_expect_mem(got, port, 32,
		      "%s compress: len %u counter %#llx flags %#x", k->name,
		      len, (unsigned long long)ctr, flags);
	k->compress_xof(xgot, cv, block, len, ctr, flags);
	portable()->compress_xof(xport, cv, block, len, ctr, flags);
	model_compress_xof(xwant, cv, block, len, ctr, flags);
	tu_expect_mem(xport, xwant, 64,
		      "portable compress_xof: len %u counter %#llx flags %#x",
		      len, (unsigned long long)ctr, flags);
	tu_expect_mem(xgot, xport, 64,
		      "%s compress_xof: len %u counter %#llx flags %#x",
		      k->name, len, (unsigned long long)ctr, flags);
}

static void test_compress(void **state)
{
	static const uint64_t counters[] = {
		0, 1, 0xFFFFFFFFull, 0x100000000ull, 0x1FFFFFFFFull,
		0xFFFFFFFF00000000ull, UINT64_MAX,
	};
	size_t n = 0;

	(void)state;
	for (int level = 0; level < tu_levels(); level++) {
		const b3_kernels *k = b3_kernels_for((b3cas_simd)level);

		for (int i = 0; i < 4000 * tu_scale(); i++) {
			uint32_t cv[8];
			void *mem;
			uint8_t *block = tu_exact_copy_at(random_bytes(64), 64,
							  (size_t)i % 5, &mem);
			uint8_t len = (uint8_t)(tu_rand(&rng) % 65);
			uint64_t ctr = i < 65 * 7 ? counters[i % 7]
						  : random_counter(0);

			if (i < 65 * 7)
				len = (uint8_t)(i / 7); /* every length */
			random_words(cv, 8);
			check_compress_case(k, cv, block, len, ctr,
					    random_flags());
			free(mem);
			n++;
		}
	}
	fprintf(stderr, "compress, compress_xof: %zu cases\n", n);
}

/* ---- chunk: the blocks of one chunk in a row ---- */

static void model_chunk(uint32_t cv[8], const uint8_t *in, size_t len,
			uint64_t counter, uint8_t flags, uint8_t flags_start,
			uint8_t flags_end)
{
	size_t off = 0;

	do {
		uint8_t block[64] = {0};
		size_t n = len - off > 64 ? 64 : len - off;
		uint8_t f = flags;

		memcpy(block, in + off, n);
		if (off == 0)
			f |= flags_start;
		if (off + n == len)
			f |= flags_end;
		model_compress(cv, block, (uint8_t)n, counter, f);
		off += n;
	} while (off < len);
}

/* Every length 0..1024 at every level, from an allocation of exactly len
 * bytes (a read past the end is a sanitizer error), against the model. */
static void test_chunk(void **state)
{
	size_t n = 0;

	(void)state;
	for (int level = 0; level < tu_levels(); level++) {
		const b3_kernels *k = b3_kernels_for((b3cas_simd)level);

		for (size_t len = 0; len <= B3_CHUNK_LEN; len++) {
			void *mem;
			uint8_t *in = tu_exact_copy_at(random_bytes(len), len,
						       len % 5, &mem);
			uint32_t got[8], want[8];
			uint64_t ctr = random_counter(0);
			uint8_t f = random_flags(), fs = random_flags();
			uint8_t fe = random_flags();

			random_words(got, 8);
			memcpy(want, got, 32);
			k->chunk(got, in, len, ctr, f, fs, fe);
			model_chunk(want, in, len, ctr, f, fs, fe);
			tu_expect_mem(got, want, 32,
				      "%s chunk: len %zu counter %#llx flags "
				      "%#x start %#x end %#x",
				      k->name, len, (unsigned long long)ctr, f,
				      fs, fe);
			free(mem);
			n++;
		}
	}
	fprintf(stderr, "chunk: %zu cases\n", n);
}

/* ---- hash_many ---- */

typedef struct many_args {
	size_t count, blocks, stride;
	uint32_t key[8];
	uint64_t counter;
	bool inc;
	uint8_t flags, flags_start, flags_end;
} many_args;

static size_t random_stride(size_t blocks)
{
	switch (tu_rand(&rng) % 8) {
	case 0: return 64;   /* parents (inputs overlap if blocks > 1) */
	case 1:
	case 2: return 1024; /* chunks */
	case 3: return 64 * blocks;
	case 4: return 64 * blocks + 64;
	case 5: return 64 * blocks + 1 + tu_rand(&rng) % 63; /* unaligned */
	case 6: return 2048;
	default: return 1 + tu_rand(&rng) % 2048;
	}
}

static void run_hash_many(b3_hash_many_fn fn, uint8_t *out,
			  const uint8_t *in, const many_args *a)
{
	fn(out, in, a->stride, a->count, a->blocks, a->key, a->counter,
	   a->inc, a->flags, a->flags_start, a->flags_end);
}

static void check_hash_many_case(const b3_kernels *k, const many_args *a,
				 bool guarded)
{
	size_t in_len = a->count ? (a->count - 1) * a->stride + 64 * a->blocks
				 : 0;
	void *in_block;
	uint8_t *in = tu_exact_copy_at(random_bytes(in_len), in_len,
				       tu_rand(&rng) % 8, &in_block);
	outbuf got, port, want;
	char what[160];

	snprintf(what, sizeof(what),
		 "hash_many: count %zu blocks %zu stride %zu counter %#llx "
		 "inc %d flags %#x/%#x/%#x",
		 a->count, a->blocks, a->stride,
		 (unsigned long long)a->counter, a->inc, a->flags,
		 a->flags_start, a->flags_end);
	outbuf_new(&got, 32 * a->count, guarded);
	outbuf_new(&port, 32 * a->count, guarded);
	outbuf_new(&want, 32 * a->count, guarded);
	run_hash_many(k->hash_many, got.p, in, a);
	run_hash_many(portable()->hash_many, port.p, in, a);
	run_hash_many(model_hash_many, want.p, in, a);
	tu_expect_mem(port.p, want.p, want.len, "portable %s", what);
	tu_expect_mem(got.p, port.p, port.len, "%s %s", k->name, what);
	outbuf_check_guard(&port, "portable hash_many");
	outbuf_check_guard(&got, k->name);
	free(got.p);
	free(port.p);
	free(want.p);
	free(in_block);
}

static void test_hash_many(void **state)
{
	size_t n = 0;

	(void)state;
	for (int level = 0; level < tu_levels(); level++) {
		const b3_kernels *k = b3_kernels_for((b3cas_simd)level);

		for (size_t count = 0; count <= MAX_COUNT; count++) {
			for (int rep = 0; rep < 16 * tu_scale(); rep++) {
				many_args a;

				a.count = count;
				a.blocks = 1 + tu_rand(&rng) % 16;
				if (rep < 2) /* the library's two shapes */
					a.blocks = rep ? 16 : 1;
				a.stride = rep < 2 ? (rep ? 1024 : 64)
						   : random_stride(a.blocks);
				random_words(a.key, 8);
				a.counter = random_counter(count);
				a.inc = tu_rand(&rng) & 1;
				a.flags = random_flags();
				a.flags_start = random_flags();
				a.flags_end = random_flags();
				check_hash_many_case(k, &a, rep & 1);
				n++;
			}
		}
	}
	fprintf(stderr, "hash_many: %zu cases (counts 0..%d)\n", n,
		MAX_COUNT);
}

/* ---- xof_many ---- */

static void test_xof_many(void **state)
{
	size_t n = 0;

	(void)state;
	for (int level = 0; level < tu_levels(); level++) {
		const b3_kernels *k = b3_kernels_for((b3cas_simd)level);

		for (size_t blocks = 0; blocks <= MAX_COUNT; blocks++) {
			for (int rep = 0; rep < 12 * tu_scale(); rep++) {
				uint32_t cv[8];
				void *mem;
				uint8_t *block = tu_exact_copy_at(
					random_bytes(64), 64, (size_t)rep % 3,
					&mem);
				uint8_t len = (uint8_t)(tu_rand(&rng) % 65);
				uint64_t ctr = random_counter(blocks);
				uint8_t f = random_flags();
				outbuf got, port, want;

				random_words(cv, 8);
				outbuf_new(&got, 64 * blocks, rep & 1);
				outbuf_new(&port, 64 * blocks, rep & 1);
				outbuf_new(&want, 64 * blocks, rep & 1);
				k->xof_many(got.p, cv, block, len, ctr, f,
					    blocks);
				portable()->xof_many(port.p, cv, block, len,
						     ctr, f, blocks);
				model_xof_many(want.p, cv, block, len, ctr, f,
					       blocks);
				tu_expect_mem(port.p, want.p, want.len,
					      "portable xof_many: %zu blocks "
					      "counter %#llx len %u flags %#x",
					      blocks, (unsigned long long)ctr,
					      len, f);
				tu_expect_mem(got.p, port.p, port.len,
					      "%s xof_many: %zu blocks "
					      "counter %#llx len %u flags %#x",
					      k->name, blocks,
					      (unsigned long long)ctr, len, f);
				outbuf_check_guard(&port, "portable xof_many");
				outbuf_check_guard(&got, k->name);
				free(got.p);
				free(port.p);
				free(want.p);
				free(mem);
				n++;
			}
		}
	}
	fprintf(stderr, "xof_many: %zu cases (0..%d blocks)\n", n, MAX_COUNT);
}

/* ---- lanes_run ---- */

/*
 * One random lanes state with its memory: per lane, either nsteps full
 * blocks (the last one read through last[]), or nsteps - 1 full blocks and
 * a separate zero-padded final block of 0..64 bytes; each in its own
 * exactly sized heap block. Lanes past the kernel's width get guard
 * values that must survive the run.
 */
typedef struct lanes_case {
	b3_lanes st;
	size_t width, nsteps;
	void *mem[B3_MAX_LANES], *final[B3_MAX_LANES]; /* to free */
	uint8_t out[B3_MAX_LANES][32];
} lanes_case;

static void lanes_case_new(lanes_case *c, size_t width, size_t nsteps)
{
	b3_lanes *st = &c->st;
	bool all_out = tu_rand(&rng) % 4 == 0;
	bool none_out = !all_out && tu_rand(&rng) % 3 == 0;

	memset(c, 0, sizeof(*c));
	c->width = width;
	c->nsteps = nsteps;
	random_words(st->key, 8);
	st->reset_mask = (uint32_t)tu_rand(&rng) &
			 (uint32_t)((1ull << width) - 1);
	for (size_t l = 0; l < B3_MAX_LANES; l++) {
		bool partial = tu_rand(&rng) & 1;
		size_t full = partial ? nsteps - 1 : nsteps;
		uint64_t ctr = random_counter(0);

		for (int i = 0; i < 8; i++)
			st->cv[i][l] = (uint32_t)tu_rand(&rng);
		st->ctr_lo[l] = (uint32_t)ctr;
		st->ctr_hi[l] = (uint32_t)(ctr >> 32);
		st->flags_first[l] = random_flags();
		st->flags_mid[l] = random_flags();
		st->flags_last[l] = random_flags();
		st->ptr[l] = tu_exact_copy_at(random_bytes(64 * full),
					      64 * full, tu_rand(&rng) % 8,
					      &c->mem[l]);
		if (partial) {
			uint32_t len = (uint32_t)(tu_rand(&rng) % 65);
			uint8_t block[64] = {0};

			memcpy(block, random_bytes(len), len);
			st->last[l] = tu_exact_copy_at(block, 64,
						       tu_rand(&rng) % 8,
						       &c->final[l]);
			st->blen_last[l] = len;
		} else {
			st->last[l] = st->ptr[l] + 64 * (nsteps - 1);
			st->blen_last[l] = 64;
		}
		memset(c->out[l], GUARD, 32);
		if (l >= width || all_out ||
		    (!none_out && (tu_rand(&rng) & 1)))
			st->out[l] = c->out[l];
	}
}

static void lanes_case_free(lanes_case *c)
{
	for (size_t l = 0; l < B3_MAX_LANES; l++) {
		free(c->mem[l]);
		free(c->final[l]);
	}
}

/* Point a copy of c's state at the copy's own output buffers. */
static void lanes_case_copy(lanes_case *dst, const lanes_case *src)
{
	*dst = *src;
	for (size_t l = 0; l < B3_MAX_LANES; l++)
		if (src->st.out[l])
			dst->st.out[l] = dst->out[l];
}

static void expect_lanes(const lanes_case *got, const lanes_case *want,
			 const lanes_case *before, const char *who)
{
	for (size_t l = 0; l < B3_MAX_LANES; l++) {
		char what[120];
		uint32_t g[8], w[8];

		snprintf(what, sizeof(what),
			 "%s lanes_run (width %zu, %zu steps): lane %zu "
			 "(reset %d, out %d, final block %u bytes)",
			 who, got->width, got->nsteps, l,
			 (int)(before->st.reset_mask >> l & 1),
			 before->st.out[l] != NULL, before->st.blen_last[l]);
		if (l >= got->width) {
			/* not ours: untouched */
			for (int i = 0; i < 8; i++) {
				g[i] = got->st.cv[i][l];
				w[i] = before->st.cv[i][l];
			}
			tu_expect_mem(g, w, 32, "%s: cv changed", what);
			tu_expect_mem(got->out[l], before->out[l], 32,
				      "%s: out written", what);
			continue;
		}
		if (before->st.out[l]) {
			tu_expect_mem(got->out[l], want->out[l], 32, "%s",
				      what);
			continue;
		}
		for (int i = 0; i < 8; i++) {
			g[i] = got->st.cv[i][l];
			w[i] = want->st.cv[i][l];
		}
		tu_expect_mem(g, w, 32, "%s: kept cv", what);
		tu_expect_mem(got->out[l], before->out[l], 32,
			      "%s: out written though NULL", what);
	}
}

static void test_lanes(void **state)
{
	size_t n = 0;

	(void)state;
	for (int level = 0; level < tu_levels(); level++) {
		const b3_kernels *k = b3_kernels_for((b3cas_simd)level);

		for (int rep = 0; rep < 3000 * tu_scale(); rep++) {
			size_t nsteps = 1 + (size_t)rep % 16;
			lanes_case before, got, port, want;

			lanes_case_new(&before, k->lanes, nsteps);
			lanes_case_copy(&got, &before);
			lanes_case_copy(&port, &before);
			lanes_case_copy(&want, &before);
			k->lanes_run(&got.st, nsteps);
			portable_lanes(&port.st, k->lanes, nsteps);
			model_lanes(&want.st, k->lanes, nsteps);
			expect_lanes(&port, &want, &before, "portable (wide)");
			expect_lanes(&got, &port, &before, k->name);
			lanes_case_free(&before);
			n++;
		}
	}
	fprintf(stderr, "lanes_run: %zu cases\n", n);
}

/* ---- b3cas_hash against the reference ---- */

/* in[0..len) must end exactly where its heap block ends. */
static void check_hash(const uint8_t *in, size_t len)
{
	uint8_t want[32], got[32];

	ref_hash(want, 32, 0, in, len);
	for (int level = 0; level < tu_levels(); level++) {
		tu_force(level);
		memset(got, 0, sizeof(got));
		b3cas_hash(got, in, len);
		tu_expect_mem(got, want, 32, "b3cas_hash of %zu bytes at %s",
			      len, b3cas_simd_name());
	}
}

static void test_hash_every_length(void **state)
{
	size_t max = 8 * 1024 + 1;

	(void)state;
	for (size_t len = 0; len <= max; len++) {
		void *mem;
		uint8_t *in = tu_exact_copy_at(random_bytes(len), len, len % 32,
					       &mem);

		check_hash(in, len);
		free(mem);
	}
	fprintf(stderr, "b3cas_hash: every length 0..%zu at every level\n",
		max);
}

static void test_hash_boundaries(void **state)
{
	static const long around_wide[] = {-1025, -1, 0, 1, 1023, 1024, 1025};
	size_t wide = (size_t)1024 << 16; /* B3_TREE_MAX_LOG */
	size_t big = (tu_long() ? 2 * wide : wide) + 2048;
	uint8_t *in = malloc(big);
	size_t n = 0;

	(void)state;
	assert_non_null(in);
	tu_fill_random(in, big, &rng);
	/* 2^k chunks, one more, one less: +-1 byte each */
	for (size_t chunks = 1; chunks <= 8192; chunks *= 2) {
		for (int d = -1; d <= 1; d++) {
			check_hash(in + big - (chunks * 1024 + d),
				   chunks * 1024 + d);
			check_hash(in + big - ((chunks + 1) * 1024 + d),
				   (chunks + 1) * 1024 + d);
			if (chunks > 2)
				check_hash(in + big - ((chunks - 1) * 1024 + d),
					   (chunks - 1) * 1024 + d);
			n += chunks > 2 ? 3 : 2;
		}
	}
	/* 17..65 chunks and a half: every partly filled pair of SIMD
	 * groups */
	for (size_t chunks = 17; chunks <= 65; chunks++, n++)
		check_hash(in + big - (chunks * 1024 + 513),
			   chunks * 1024 + 513);
	/* the one-shot wide tree's limit, and a little past it */
	for (size_t i = 0; i < 7; i++, n++)
		check_hash(in + big - (wide + around_wide[i]),
			   wide + around_wide[i]);
	if (tu_long()) {
		check_hash(in + big - 2 * wide, 2 * wide);
		check_hash(in + big - (2 * wide + 2047), 2 * wide + 2047);
		n += 2;
	}
	fprintf(stderr, "b3cas_hash: %zu boundary lengths (up to %zu) at "
		"every level\n", n, tu_long() ? 2 * wide + 2047 : wide + 1025);
	free(in);
}

static void test_keyed_and_derive_samples(void **state)
{
	static const char *contexts[] = {
		"", "b3cas test_kernels 2026 derive", "x",
	};
	size_t n = 0;

	(void)state;
	for (int rep = 0; rep < 80 * tu_scale(); rep++) {
		size_t len = rep < 8 ? (size_t)rep * 1024 + (rep & 1)
				     : tu_rand(&rng) % (40 * 1024);
		const char *ctx = contexts[rep % 3];
		size_t out_len = tu_rand(&rng) % 200;
		void *mem;
		uint8_t *in = tu_exact_copy_at(random_bytes(len), len,
					       (size_t)rep % 7, &mem);
		uint8_t key[32], want_keyed[32], want[200], got[200];

		tu_fill_random(key, 32, &rng);
		ref_keyed(want_keyed, 32, 0, key, in, len);
		ref_derive(want, out_len, 0, ctx, strlen(ctx), in, len);
		for (int level = 0; level < tu_levels(); level++) {
			tu_force(level);
			b3cas_hash_keyed(got, key, in, len);
			tu_expect_mem(got, want_keyed, 32,
				      "b3cas_hash_keyed of %zu bytes at %s",
				      len, b3cas_simd_name());
			b3cas_derive_key(got, out_len, ctx, in, len);
			tu_expect_mem(got, want, out_len,
				      "b3cas_derive_key(\"%s\") of %zu bytes, "
				      "%zu out, at %s",
				      ctx, len, out_len, b3cas_simd_name());
			n++;
		}
		free(mem);
	}
	fprintf(stderr, "keyed + derive-key: %zu cases\n", n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compress),
		cmocka_unit_test(test_chunk),
		cmocka_unit_test(test_hash_many),
		cmocka_unit_test(test_xof_many),
		cmocka_unit_test(test_lanes),
		cmocka_unit_test(test_hash_every_length),
		cmocka_unit_test(test_hash_boundaries),
		cmocka_unit_test(test_keyed_and_derive_samples),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
