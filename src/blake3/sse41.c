/*
 * sse41.c - the SSE4.1 kernel set (compiled with -msse4.1 only).
 *
 * compress: one block, the state as four rows of four words; the diagonal
 * half-round is a column half-round after rotating rows b, c, d by 1, 2, 3
 * lanes. The message words of each round are rebuilt from the previous
 * round's with a few shuffles, off the state's critical path.
 * hash_many, lanes, xof_many: four inputs side by side, one per lane.
 */
#include "blake3_int.h"
#include "x86_transpose.h"

static inline __m128i ror16_128(__m128i x)
{
	return _mm_shuffle_epi8(x, _mm_set_epi8(13, 12, 15, 14, 9, 8, 11, 10,
						5, 4, 7, 6, 1, 0, 3, 2));
}

static inline __m128i ror8_128(__m128i x)
{
	return _mm_shuffle_epi8(x, _mm_set_epi8(12, 15, 14, 13, 8, 11, 10, 9,
						4, 7, 6, 5, 0, 3, 2, 1));
}

#define ROR_SHIFT_128(x, c)                                                  \
	_mm_or_si128(_mm_srli_epi32((x), (c)), _mm_slli_epi32((x), 32 - (c)))

/* ---- one block, row layout ---- */

#define SHUF_PS(a, b, imm)                                                   \
	_mm_castps_si128(_mm_shuffle_ps(_mm_castsi128_ps(a),                 \
					_mm_castsi128_ps(b), (imm)))

static inline void g_rows(__m128i r[4], __m128i m, bool second)
{
	r[0] = _mm_add_epi32(_mm_add_epi32(r[0], m), r[1]);
	r[3] = _mm_xor_si128(r[3], r[0]);
	r[3] = second ? ror8_128(r[3]) : ror16_128(r[3]);
	r[2] = _mm_add_epi32(r[2], r[3]);
	r[1] = _mm_xor_si128(r[1], r[2]);
	r[1] = second ? ROR_SHIFT_128(r[1], 7) : ROR_SHIFT_128(r[1], 12);
}

/*
 * The four message vectors of round r+1 from those of round r, where
 * round r uses M0 = words (s0 s2 s4 s6), M1 = (s1 s3 s5 s7),
 * M2 = (s8 s10 s12 s14), M3 = (s9 s11 s13 s15) of its schedule s.
 */
static inline void next_message(__m128i M[4])
{
	__m128i m0 = M[0], m1 = M[1], m2 = M[2], m3 = M[3], t;

	/* (M0[1] M1[1] M1[3] M0[2]) */
	t = SHUF_PS(m0, m1, _MM_SHUFFLE(3, 1, 2, 1));
	M[0] = _mm_shuffle_epi32(t, _MM_SHUFFLE(1, 3, 2, 0));
	/* (M0[3] M2[1] M0[0] M3[2]) */
	t = SHUF_PS(m0, m2, _MM_SHUFFLE(1, 1, 0, 3));
	t = _mm_shuffle_epi32(t, _MM_SHUFFLE(3, 1, 2, 0));
	M[1] = _mm_blend_epi16(t, _mm_shuffle_epi32(m3, _MM_SHUFFLE(2, 2, 2, 2)),
			       0xC0);
	/* (M1[0] M2[2] M3[0] M3[3]) */
	t = SHUF_PS(m1, m3, _MM_SHUFFLE(3, 0, 0, 0));
	M[2] = _mm_blend_epi16(t, _mm_shuffle_epi32(m2, _MM_SHUFFLE(2, 2, 2, 2)),
			       0x0C);
	/* (M3[1] M1[2] M2[3] M2[0]) */
	t = SHUF_PS(m3, m2, _MM_SHUFFLE(0, 3, 1, 1));
	M[3] = _mm_blend_epi16(t, _mm_shuffle_epi32(m1, _MM_SHUFFLE(2, 2, 2, 2)),
			       0x0C);
}

static inline __attribute__((always_inline)) void
compress_rows(__m128i r[4], const uint32_t cv[8], const uint8_t block[64],
	      uint8_t block_len, uint64_t counter, uint8_t flags)
{
	__m128i M[4];
	__m128i w0 = LOADU128(block), w1 = LOADU128(block + 16);
	__m128i w2 = LOADU128(block + 32), w3 = LOADU128(block + 48);

	r[0] = LOADU128(cv);
	r[1] = LOADU128(cv + 4);
	r[2] = _mm_set_epi32((int)b3_iv[3], (int)b3_iv[2], (int)b3_iv[1],
			     (int)b3_iv[0]);
	r[3] = _mm_set_epi32(flags, block_len, (int)(uint32_t)(counter >> 32),
			     (int)(uint32_t)counter);
	M[0] = SHUF_PS(w0, w1, _MM_SHUFFLE(2, 0, 2, 0));
	M[1] = SHUF_PS(w0, w1, _MM_SHUFFLE(3, 1, 3, 1));
	M[2] = SHUF_PS(w2, w3, _MM_SHUFFLE(2, 0, 2, 0));
	M[3] = SHUF_PS(w2, w3, _MM_SHUFFLE(3, 1, 3, 1));
	for (int round = 0; round < 7; round++) {
		g_rows(r, M[0], false);
		g_rows(r, M[1], true);
		r[1] = _mm_shuffle_epi32(r[1], _MM_SHUFFLE(0, 3, 2, 1));
		r[2] = _mm_shuffle_epi32(r[2], _MM_SHUFFLE(1, 0, 3, 2));
		r[3] = _mm_shuffle_epi32(r[3], _MM_SHUFFLE(2, 1, 0, 3));
		g_rows(r, M[2], false);
		g_rows(r, M[3], true);
		r[1] = _mm_shuffle_epi32(r[1], _MM_SHUFFLE(2, 1, 0, 3));
		r[2] = _mm_shuffle_epi32(r[2], _MM_SHUFFLE(1, 0, 3, 2));
		r[3] = _mm_shuffle_epi32(r[3], _MM_SHUFFLE(0, 3, 2, 1));
		if (round < 6)
			next_message(M);
	}
}

void b3_sse41_compress(uint32_t cv[8], const uint8_t block[64],
		       uint8_t block_len, uint64_t counter, uint8_t flags)
{
	__m128i r[4];

	compress_rows(r, cv, block, block_len, counter, flags);
	STOREU128(cv, _mm_xor_si128(r[0], r[2]));
	STOREU128(cv + 4, _mm_xor_si128(r[1], r[3]));
}

void b3_sse41_compress_xof(uint8_t out[64], const uint32_t cv[8],
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

/* ---- four inputs side by side ---- */

#define V __m128i
#define N 4
#define KN(name) name##_sse41_4
#define V_ADD(a, b) _mm_add_epi32((a), (b))
#define V_XOR(a, b) _mm_xor_si128((a), (b))
#define V_OR(a, b) _mm_or_si128((a), (b))
#define V_ROR16(x) ror16_128(x)
#define V_ROR12(x) ROR_SHIFT_128((x), 12)
#define V_ROR8(x) ror8_128(x)
#define V_ROR7(x) ROR_SHIFT_128((x), 7)
#define V_SET1(x) _mm_set1_epi32((int)(x))
#define V_LOAD32(p) LOADU128(p)
#define V_STORE32(p, x) STOREU128((p), (x))
#define LOAD_MSG(m, p, off) load_msg_128((m), (p), (off))
#define STORE_BLOCKS(out, w) store_blocks_128((out), (w))
#define STORE_CVS(o, h) store_cvs_128((o), (h))
#include "simd_kernels.h"

void b3_sse41_hash_many(uint8_t *out, const uint8_t *input, size_t stride,
			size_t count, size_t blocks, const uint32_t key[8],
			uint64_t counter, bool increment_counter,
			uint8_t flags, uint8_t flags_start, uint8_t flags_end)
{
	while (count >= 4) {
		hash_n_sse41_4(out, input, stride, blocks, key, counter,
			       increment_counter, flags, flags_start,
			       flags_end);
		out += 4 * B3_OUT_LEN;
		input += 4 * stride;
		count -= 4;
		counter += increment_counter ? 4 : 0;
	}
	b3_hash_many_with(b3_sse41_compress, out, input, stride, count, blocks,
			  key, counter, increment_counter, flags, flags_start,
			  flags_end);
}

void b3_sse41_xof_many(uint8_t *out, const uint32_t cv[8],
		       const uint8_t block[64], uint8_t block_len,
		       uint64_t counter, uint8_t flags, size_t outblocks)
{
	while (outblocks >= 4) {
		xof_n_sse41_4(out, cv, block, block_len, counter, flags);
		out += 4 * 64;
		counter += 4;
		outblocks -= 4;
	}
	b3_xof_many_with(b3_sse41_compress_xof, out, cv, block, block_len,
			 counter, flags, outblocks);
}

const b3_kernels b3_kernels_sse41 = {
	.level = B3CAS_SIMD_SSE41,
	.name = "sse41",
	.degree = 4,
	.lanes = 4,
	.compress = b3_sse41_compress,
	.compress_xof = b3_sse41_compress_xof,
	.hash_many = b3_sse41_hash_many,
	.xof_many = b3_sse41_xof_many,
	.lanes_run = lanes_sse41_4,
};
