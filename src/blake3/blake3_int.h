/*
 * blake3_int.h - the contract between the BLAKE3 tree logic and its SIMD
 * kernels. Private to src/blake3/.
 *
 * Every kernel set (portable, SSE4.1, AVX2, AVX-512) implements the same
 * five entry points and must produce bit-identical results; the tests hold
 * each one against the portable set. Kernel files are compiled with only
 * their own ISA flags, so nothing outside them may assume that ISA.
 */
#ifndef B3CAS_BLAKE3_INT_H
#define B3CAS_BLAKE3_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "b3cas/hash.h"

#define B3_BLOCK_LEN 64
#define B3_CHUNK_LEN 1024
#define B3_OUT_LEN 32
#define B3_KEY_LEN 32
#define B3_MAX_LANES 16 /* widest kernel: AVX-512, 16 x 32-bit lanes */

/* Domain flags of the compression function (BLAKE3 spec, table 3). */
enum {
	B3_CHUNK_START = 1 << 0,
	B3_CHUNK_END = 1 << 1,
	B3_PARENT = 1 << 2,
	B3_ROOT = 1 << 3,
	B3_KEYED_HASH = 1 << 4,
	B3_DERIVE_KEY_CONTEXT = 1 << 5,
	B3_DERIVE_KEY_MATERIAL = 1 << 6
};

extern const uint32_t b3_iv[8];
/* 1 KiB of zeros: what idle SIMD lanes read. */
extern const uint8_t b3_zero_chunk[B3_CHUNK_LEN];
/*
 * The message schedule of the spec: ROUND(s0, ..., s15) once per round,
 * where s_i is the message word used at position i (row r is the spec's
 * permutation applied r times). Every kernel spells its rounds through
 * this, so the word indices are compile-time constants.
 */
#define B3_SCHEDULE(ROUND)                                                   \
	ROUND(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);         \
	ROUND(2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8);         \
	ROUND(3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1);         \
	ROUND(10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6);         \
	ROUND(12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4);         \
	ROUND(9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7);         \
	ROUND(11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13)

static inline uint32_t b3_load32(const void *src)
{
	uint32_t w;
	memcpy(&w, src, 4);
	return w; /* x86-64 only: little-endian, as BLAKE3 wants */
}

static inline void b3_store32(void *dst, uint32_t w)
{
	memcpy(dst, &w, 4);
}

static inline void b3_load_key(uint32_t key_words[8], const uint8_t key[32])
{
	for (int i = 0; i < 8; i++)
		key_words[i] = b3_load32(key + 4 * i);
}

static inline void b3_store_cv(uint8_t out[32], const uint32_t cv[8])
{
	memcpy(out, cv, 32);
}

/*
 * State of the batch ("lanes") kernel: up to 16 independent chunk jobs, one
 * per lane, advanced together by nsteps block compressions. Every lane does
 * its steps with its own counter and flags: every step uses flags_mid, the
 * first step adds flags_first (CHUNK_START when the job starts there) and
 * the last adds flags_last (CHUNK_END | ROOT when the job ends there).
 * Step s reads the 64 bytes at ptr[lane] + 64 * s, except the last step,
 * which reads last[lane] with length blen_last[lane] (a zero-padded copy
 * of a partial final block). Lanes in reset_mask start from the key instead
 * of their stored chaining value. After the run, a lane whose out[lane] is
 * not NULL gets its 32-byte chaining value written there (its job is done,
 * and its cv[][] entries are unspecified); every other lane keeps its
 * chaining value in cv[][] for the next run.
 */
typedef struct b3_lanes {
	uint32_t cv[8][B3_MAX_LANES];
	uint32_t ctr_lo[B3_MAX_LANES];
	uint32_t ctr_hi[B3_MAX_LANES];
	uint32_t flags_first[B3_MAX_LANES];
	uint32_t flags_mid[B3_MAX_LANES];
	uint32_t flags_last[B3_MAX_LANES];
	uint32_t blen_last[B3_MAX_LANES];
	const uint8_t *ptr[B3_MAX_LANES];
	const uint8_t *last[B3_MAX_LANES];
	uint8_t *out[B3_MAX_LANES];
	uint32_t key[8];
	uint32_t reset_mask;
} b3_lanes;

/* Compress one block into cv in place (cv = first half of the output). */
typedef void (*b3_compress_fn)(uint32_t cv[8], const uint8_t block[64],
			       uint8_t block_len, uint64_t counter,
			       uint8_t flags);

/*
 * The len bytes at in as consecutive blocks of one chunk (len <= 1024),
 * chaining value in and out through cv: ceil(len / 64) blocks, one if len
 * is 0, the last zero-padded and compressed with its true length. flags
 * on every block, flags_start added on the first, flags_end on the last.
 * With flags_end = CHUNK_END | ROOT, cv ends as the 32-byte hash of a
 * one-chunk message. The SIMD sets keep the chaining value in registers
 * from block to block.
 */
typedef void (*b3_chunk_fn)(uint32_t cv[8], const uint8_t *in, size_t len,
			    uint64_t counter, uint8_t flags,
			    uint8_t flags_start, uint8_t flags_end);

/* The full 64-byte output of one compression (for XOF). */
typedef void (*b3_compress_xof_fn)(uint8_t out[64], const uint32_t cv[8],
				   const uint8_t block[64], uint8_t block_len,
				   uint64_t counter, uint8_t flags);

/*
 * Hash count inputs, input + i * stride, each of exactly `blocks` full
 * blocks (at most 16), starting from key, into out + 32 * i. Input i uses counter
 * counter + i when increment_counter, else counter. Flags: `flags` on every
 * block, plus flags_start on the first and flags_end on the last. Used for
 * runs of whole chunks (stride 1024, 16 blocks) and for parents (stride 64,
 * one block, the two child chaining values side by side).
 */
typedef void (*b3_hash_many_fn)(uint8_t *out, const uint8_t *input,
				size_t stride, size_t count, size_t blocks,
				const uint32_t key[8], uint64_t counter,
				bool increment_counter, uint8_t flags,
				uint8_t flags_start, uint8_t flags_end);

/* outblocks consecutive 64-byte XOF blocks, counters counter.. onwards. */
typedef void (*b3_xof_many_fn)(uint8_t *out, const uint32_t cv[8],
			       const uint8_t block[64], uint8_t block_len,
			       uint64_t counter, uint8_t flags,
			       size_t outblocks);

/* Advance the first `lanes` lanes (the kernel's width) by nsteps blocks. */
typedef void (*b3_lanes_fn)(b3_lanes *st, size_t nsteps);

typedef struct b3_kernels {
	b3cas_simd level;
	const char *name;
	size_t degree; /* inputs hash_many handles at full speed at once */
	size_t lanes;  /* lanes of the batch kernel */
	b3_compress_fn compress;
	b3_chunk_fn chunk;
	b3_compress_xof_fn compress_xof;
	b3_hash_many_fn hash_many;
	b3_xof_many_fn xof_many;
	b3_lanes_fn lanes_run;
} b3_kernels;

extern const b3_kernels b3_kernels_portable;
#if defined(__x86_64__)
extern const b3_kernels b3_kernels_sse41;
extern const b3_kernels b3_kernels_avx2;
extern const b3_kernels b3_kernels_avx512;
/* Pieces of the SSE4.1 set that the AVX2 set reuses. */
void b3_sse41_hash_many(uint8_t *out, const uint8_t *input, size_t stride,
			size_t count, size_t blocks, const uint32_t key[8],
			uint64_t counter, bool increment_counter,
			uint8_t flags, uint8_t flags_start, uint8_t flags_end);
void b3_sse41_xof_many(uint8_t *out, const uint32_t cv[8],
		       const uint8_t block[64], uint8_t block_len,
		       uint64_t counter, uint8_t flags, size_t outblocks);
/* The AVX2 set's hash_many for one to four inputs (avx2_rows.c). */
void b3_avx2_rows_pairs(uint8_t *out, const uint8_t *input, size_t stride,
			size_t count, size_t blocks, const uint32_t key[8],
			uint64_t counter, bool increment_counter,
			uint8_t flags, uint8_t flags_start, uint8_t flags_end);
#endif

/*
 * True on CPUs where single compressions run faster in scalar code (AMD
 * Zen 5, or B3CAS_SINGLE_BLOCK=scalar; see dispatch.c). Set once, before
 * any kernel set is handed out. The SIMD sets then also hash two to four
 * inputs with their padded transposed kernel rather than as rows, and one
 * input with the scalar chunk.
 */
extern bool b3_scalar_single;

/* The kernel set in use (dispatch.c). Cheap: one atomic load. */
const b3_kernels *b3_kernels_active(void);
/* The kernel set of a given level, or NULL if this build lacks it. */
const b3_kernels *b3_kernels_for(b3cas_simd level);

/*
 * Shared building blocks used by the kernel files to implement the parts
 * they do not speed up themselves (portable.c).
 */
void b3_portable_compress(uint32_t cv[8], const uint8_t block[64],
			  uint8_t block_len, uint64_t counter, uint8_t flags);
void b3_portable_compress_xof(uint8_t out[64], const uint32_t cv[8],
			      const uint8_t block[64], uint8_t block_len,
			      uint64_t counter, uint8_t flags);
void b3_portable_chunk(uint32_t cv[8], const uint8_t *in, size_t len,
		       uint64_t counter, uint8_t flags, uint8_t flags_start,
		       uint8_t flags_end);
/* hash_many / xof_many one input (block) at a time over a kernel set's
 * chunk (or compress_xof). */
void b3_hash_many_with(const b3_kernels *k, uint8_t *out,
		       const uint8_t *input, size_t stride, size_t count,
		       size_t blocks, const uint32_t key[8], uint64_t counter,
		       bool increment_counter, uint8_t flags,
		       uint8_t flags_start, uint8_t flags_end);
void b3_xof_many_with(b3_compress_xof_fn compress_xof, uint8_t *out,
		      const uint32_t cv[8], const uint8_t block[64],
		      uint8_t block_len, uint64_t counter, uint8_t flags,
		      size_t outblocks);
void b3_portable_hash_many(uint8_t *out, const uint8_t *input, size_t stride,
			   size_t count, size_t blocks, const uint32_t key[8],
			   uint64_t counter, bool increment_counter,
			   uint8_t flags, uint8_t flags_start,
			   uint8_t flags_end);
void b3_portable_xof_many(uint8_t *out, const uint32_t cv[8],
			  const uint8_t block[64], uint8_t block_len,
			  uint64_t counter, uint8_t flags, size_t outblocks);
/* Generic lanes runner over a kernel's single-block compress. */
void b3_lanes_run_with(b3_compress_fn compress, b3_lanes *st, size_t lanes,
		       size_t nsteps);
void b3_portable_lanes_run(b3_lanes *st, size_t nsteps);

/* Helpers shared by hasher.c, parallel.c and batch.c. */

/* Chaining value of a whole subtree of 2^k full chunks (k >= 0) starting at
 * chunk `counter`, single-threaded, widest kernel. Not root. */
void b3_subtree_cv(uint8_t out[32], const uint8_t *input, size_t chunks,
		   const uint32_t key[8], uint64_t counter, uint8_t flags,
		   const b3_kernels *k);

/*
 * Hasher updates with a pluggable subtree hasher (parallel.c): for each
 * aligned run of n > 1 whole chunks, subtree(h, in, n, more_follows, arg)
 * must hash it (the top block when !more_follows, else the chaining value)
 * and hand the result to b3_hasher_push_result.
 */
typedef void (*b3_subtree_fn)(b3cas_hasher *h, const uint8_t *in, uint64_t n,
			      bool more_follows, void *arg);
void b3_hasher_update_with(b3cas_hasher *h, const uint8_t *in, size_t len,
			   const b3_kernels *k, b3_subtree_fn subtree,
			   void *subtree_arg);
void b3_hasher_push_result(b3cas_hasher *h, const uint8_t *top_or_cv,
			   uint64_t n, bool more_follows);
/* The single-threaded subtree hasher (what subtree == NULL means). */
void b3_hasher_hash_subtree(b3cas_hasher *h, const uint8_t *in, uint64_t n,
			    bool more_follows, const b3_kernels *k);

/* Largest power of two <= x (x >= 1). */
static inline uint64_t b3_pow2_floor(uint64_t x)
{
	return (uint64_t)1 << (63 - __builtin_clzll(x));
}

#endif
