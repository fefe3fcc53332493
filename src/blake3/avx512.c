/*
 * avx512.c - the AVX-512 kernel set (compiled with -mavx512f -mavx512vl
 * only). AVX-512 brings a rotate instruction (vprord), so every rotation
 * is one instruction at every width; the kernels here run 16 inputs side
 * by side in 512-bit vectors, and 8 or 4 in 256- or 128-bit ones for what
 * is left over.
 *
 * compress (one block, row layout): each round's message vectors come from
 * one permute of the whole block, and the diagonal step rotates rows a, c
 * and d rather than b, c and d: b is the last value the column step
 * produces, so leaving it in place takes a shuffle off the critical path.
 */
#include "blake3_int.h"
#include "x86_transpose.h"

/* ---- one block, row layout ---- */

#define G_ROWS(a, b, c, d, m, r1, r2)                                        \
	do {                                                                 \
		a = _mm_add_epi32(_mm_add_epi32(a, m), b);                   \
		d = _mm_ror_epi32(_mm_xor_si128(d, a), r1);                  \
		c = _mm_add_epi32(c, d);                                     \
		b = _mm_ror_epi32(_mm_xor_si128(b, c), r2);                  \
	} while (0)

/* Per round: (s0 s2 s4 s6 | s1 s3 s5 s7 | s14 s8 s10 s12 | s15 s9 s11 s13),
 * the diagonal vectors rotated to match the rotated a row. */
#define SCHED_IDX(s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, \
		  s14, s15)                                                  \
	{                                                                    \
		s0, s2, s4, s6, s1, s3, s5, s7, s14, s8, s10, s12, s15, s9,  \
			s11, s13                                             \
	}

static const uint32_t msg_idx[7][16] __attribute__((aligned(64))) = {
	SCHED_IDX(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
	SCHED_IDX(2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8),
	SCHED_IDX(3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1),
	SCHED_IDX(10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6),
	SCHED_IDX(12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4),
	SCHED_IDX(9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7),
	SCHED_IDX(11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13),
};

static inline __attribute__((always_inline)) void
compress_rows(__m128i r[4], const uint32_t cv[8], const uint8_t block[64],
	      uint8_t block_len, uint64_t counter, uint8_t flags)
{
	const __m512i msg = _mm512_loadu_si512(block);
	__m128i a = LOADU128(cv), b = LOADU128(cv + 4);
	__m128i c = _mm_set_epi32((int)b3_iv[3], (int)b3_iv[2], (int)b3_iv[1],
				  (int)b3_iv[0]);
	__m128i d = _mm_set_epi32(flags, block_len,
				  (int)(uint32_t)(counter >> 32),
				  (int)(uint32_t)counter);

	for (int round = 0; round < 7; round++) {
		__m512i mr = _mm512_permutexvar_epi32(
			_mm512_load_si512(msg_idx[round]), msg);
		__m128i m0 = _mm512_castsi512_si128(mr);
		__m128i m1 = _mm512_extracti32x4_epi32(mr, 1);
		__m128i m2 = _mm512_extracti32x4_epi32(mr, 2);
		__m128i m3 = _mm512_extracti32x4_epi32(mr, 3);

		G_ROWS(a, b, c, d, m0, 16, 12);
		G_ROWS(a, b, c, d, m1, 8, 7);
		a = _mm_shuffle_epi32(a, _MM_SHUFFLE(2, 1, 0, 3));
		c = _mm_shuffle_epi32(c, _MM_SHUFFLE(0, 3, 2, 1));
		d = _mm_shuffle_epi32(d, _MM_SHUFFLE(1, 0, 3, 2));
		G_ROWS(a, b, c, d, m2, 16, 12);
		G_ROWS(a, b, c, d, m3, 8, 7);
		a = _mm_shuffle_epi32(a, _MM_SHUFFLE(0, 3, 2, 1));
		c = _mm_shuffle_epi32(c, _MM_SHUFFLE(2, 1, 0, 3));
		d = _mm_shuffle_epi32(d, _MM_SHUFFLE(1, 0, 3, 2));
	}
	r[0] = a, r[1] = b, r[2] = c, r[3] = d;
}

static void compress_avx512(uint32_t cv[8], const uint8_t block[64],
			    uint8_t block_len, uint64_t counter, uint8_t flags)
{
	__m128i r[4];

	compress_rows(r, cv, block, block_len, counter, flags);
	STOREU128(cv, _mm_xor_si128(r[0], r[2]));
	STOREU128(cv + 4, _mm_xor_si128(r[1], r[3]));
}

static void compress_xof_avx512(uint8_t out[64], const uint32_t cv[8],
				const uint8_t block[64], uint8_t block_len,
				uint64_t counter, uint8_t flags)
{
	__m128i r[4];

	compress_rows(r, cv, block, block_len, counter, flags);
	STOREU128(out, _mm_xor_si128(r[0], r[2]));
	STOREU128(out + 16, _mm_xor_si128(r[1], r[3]));
	STOREU128(out + 32, _mm_xor_si128(r[2], LOADU128(cv)));
	STOREU128(out + 48, _mm_xor_si128(r[3], LOADU128(cv + 4)));
}

/* ---- 16 inputs side by side ---- */

#define V __m512i
#define N 16
#define KN(name) name##_avx512_16
#define V_ADD(a, b) _mm512_add_epi32((a), (b))
#define V_XOR(a, b) _mm512_xor_si512((a), (b))
#define V_OR(a, b) _mm512_or_si512((a), (b))
#define V_ROR16(x) _mm512_ror_epi32((x), 16)
#define V_ROR12(x) _mm512_ror_epi32((x), 12)
#define V_ROR8(x) _mm512_ror_epi32((x), 8)
#define V_ROR7(x) _mm512_ror_epi32((x), 7)
#define V_SET1(x) _mm512_set1_epi32((int)(x))
#define V_LOAD32(p) _mm512_loadu_si512((const void *)(p))
#define V_STORE32(p, x) _mm512_storeu_si512((void *)(p), (x))
#define LOAD_MSG(m, p, off) load_msg_512((m), (p), (off))
#define STORE_BLOCKS(out, w) store_blocks_512((out), (w))
#define STORE_CVS(o, h) store_cvs_512((o), (h))
#include "simd_kernels.h"
#undef V
#undef N
#undef KN
#undef V_ADD
#undef V_XOR
#undef V_OR
#undef V_ROR16
#undef V_ROR12
#undef V_ROR8
#undef V_ROR7
#undef V_SET1
#undef V_LOAD32
#undef V_STORE32
#undef LOAD_MSG
#undef STORE_BLOCKS
#undef STORE_CVS

/* ---- 8 inputs side by side (256-bit, with vprord) ---- */

#define V __m256i
#define N 8
#define KN(name) name##_avx512_8
#define V_ADD(a, b) _mm256_add_epi32((a), (b))
#define V_XOR(a, b) _mm256_xor_si256((a), (b))
#define V_OR(a, b) _mm256_or_si256((a), (b))
#define V_ROR16(x) _mm256_ror_epi32((x), 16)
#define V_ROR12(x) _mm256_ror_epi32((x), 12)
#define V_ROR8(x) _mm256_ror_epi32((x), 8)
#define V_ROR7(x) _mm256_ror_epi32((x), 7)
#define V_SET1(x) _mm256_set1_epi32((int)(x))
#define V_LOAD32(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define V_STORE32(p, x) _mm256_storeu_si256((__m256i *)(void *)(p), (x))
#define LOAD_MSG(m, p, off) load_msg_256((m), (p), (off))
#define STORE_BLOCKS(out, w) store_blocks_256((out), (w))
#define STORE_CVS(o, h) store_cvs_256((o), (h))
#include "simd_kernels.h"
#undef V
#undef N
#undef KN
#undef V_ADD
#undef V_XOR
#undef V_OR
#undef V_ROR16
#undef V_ROR12
#undef V_ROR8
#undef V_ROR7
#undef V_SET1
#undef V_LOAD32
#undef V_STORE32
#undef LOAD_MSG
#undef STORE_BLOCKS
#undef STORE_CVS

/* ---- 4 inputs side by side (128-bit, with vprord) ---- */

#define V __m128i
#define N 4
#define KN(name) name##_avx512_4
#define V_ADD(a, b) _mm_add_epi32((a), (b))
#define V_XOR(a, b) _mm_xor_si128((a), (b))
#define V_OR(a, b) _mm_or_si128((a), (b))
#define V_ROR16(x) _mm_ror_epi32((x), 16)
#define V_ROR12(x) _mm_ror_epi32((x), 12)
#define V_ROR8(x) _mm_ror_epi32((x), 8)
#define V_ROR7(x) _mm_ror_epi32((x), 7)
#define V_SET1(x) _mm_set1_epi32((int)(x))
#define V_LOAD32(p) LOADU128(p)
#define V_STORE32(p, x) STOREU128((p), (x))
#define LOAD_MSG(m, p, off) load_msg_128((m), (p), (off))
#define STORE_BLOCKS(out, w) store_blocks_128((out), (w))
#define STORE_CVS(o, h) store_cvs_128((o), (h))
#include "simd_kernels.h"

static void hash_many_avx512(uint8_t *out, const uint8_t *input,
			     size_t stride, size_t count, size_t blocks,
			     const uint32_t key[8], uint64_t counter,
			     bool increment_counter, uint8_t flags,
			     uint8_t flags_start, uint8_t flags_end)
{
	size_t step = increment_counter ? 1 : 0;

	while (count >= 16) {
		hash_n_avx512_16(out, input, stride, blocks, key, counter,
				 increment_counter, flags, flags_start,
				 flags_end);
		out += 16 * B3_OUT_LEN;
		input += 16 * stride;
		count -= 16;
		counter += 16 * step;
	}
	if (count >= 8) {
		hash_n_avx512_8(out, input, stride, blocks, key, counter,
				increment_counter, flags, flags_start,
				flags_end);
		out += 8 * B3_OUT_LEN;
		input += 8 * stride;
		count -= 8;
		counter += 8 * step;
	}
	if (count >= 4) {
		hash_n_avx512_4(out, input, stride, blocks, key, counter,
				increment_counter, flags, flags_start,
				flags_end);
		out += 4 * B3_OUT_LEN;
		input += 4 * stride;
		count -= 4;
		counter += 4 * step;
	}
	b3_hash_many_with(compress_avx512, out, input, stride, count, blocks,
			  key, counter, increment_counter, flags, flags_start,
			  flags_end);
}

static void xof_many_avx512(uint8_t *out, const uint32_t cv[8],
			    const uint8_t block[64], uint8_t block_len,
			    uint64_t counter, uint8_t flags, size_t outblocks)
{
	while (outblocks >= 16) {
		xof_n_avx512_16(out, cv, block, block_len, counter, flags);
		out += 16 * 64;
		counter += 16;
		outblocks -= 16;
	}
	if (outblocks >= 8) {
		xof_n_avx512_8(out, cv, block, block_len, counter, flags);
		out += 8 * 64;
		counter += 8;
		outblocks -= 8;
	}
	if (outblocks >= 4) {
		xof_n_avx512_4(out, cv, block, block_len, counter, flags);
		out += 4 * 64;
		counter += 4;
		outblocks -= 4;
	}
	b3_xof_many_with(compress_xof_avx512, out, cv, block, block_len,
			 counter, flags, outblocks);
}

const b3_kernels b3_kernels_avx512 = {
	.level = B3CAS_SIMD_AVX512,
	.name = "avx512",
	.degree = 16,
	.lanes = 16,
	.compress = compress_avx512,
	.compress_xof = compress_xof_avx512,
	.hash_many = hash_many_avx512,
	.xof_many = xof_many_avx512,
	.lanes_run = lanes_avx512_16,
};
