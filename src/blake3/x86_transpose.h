/*
 * x86_transpose.h - moving blocks between "one block per input" layout in
 * memory and "one state word per vector, one input per lane" layout in
 * registers, for 4, 8 and 16 lanes. Each width is only defined when the
 * including kernel file is compiled for it.
 *
 * The wide versions all work in 128-bit pieces: vector k of a group of
 * four is built from the same four words of inputs k, k+4, k+8, k+12 (one
 * per 128-bit lane), and then one 4x4 transpose inside every 128-bit lane
 * finishes the job. That needs far fewer shuffles than a full transpose.
 * The message is transposed in locals and written to m[] once: the AVX2
 * and SSE4.1 rounds read m[] from memory, and transposing it in place
 * made gcc store every vector twice.
 */
#ifndef B3CAS_X86_TRANSPOSE_H
#define B3CAS_X86_TRANSPOSE_H

#include <immintrin.h>
#include <stdint.h>

#define LOADU128(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
#define STOREU128(p, x) _mm_storeu_si128((__m128i *)(void *)(p), (x))

/*
 * Rotations of every 32-bit lane for CPUs without vprord: by 16 and 8 a
 * byte shuffle (one instruction), by 12 and 7 two shifts and an or.
 */
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

/* ror(x ^ y, n) for the row kernels (simd_rows.h), by n. */
#define XOR_ROR128_16(x, y) ror16_128(_mm_xor_si128((x), (y)))
#define XOR_ROR128_12(x, y) ROR_SHIFT_128(_mm_xor_si128((x), (y)), 12)
#define XOR_ROR128_8(x, y) ror8_128(_mm_xor_si128((x), (y)))
#define XOR_ROR128_7(x, y) ROR_SHIFT_128(_mm_xor_si128((x), (y)), 7)

/* ---- 4 lanes, 128-bit ---- */

static inline void transpose4_128(__m128i *a, __m128i *b, __m128i *c,
				  __m128i *d)
{
	__m128i ab_lo = _mm_unpacklo_epi32(*a, *b);
	__m128i ab_hi = _mm_unpackhi_epi32(*a, *b);
	__m128i cd_lo = _mm_unpacklo_epi32(*c, *d);
	__m128i cd_hi = _mm_unpackhi_epi32(*c, *d);

	*a = _mm_unpacklo_epi64(ab_lo, cd_lo);
	*b = _mm_unpackhi_epi64(ab_lo, cd_lo);
	*c = _mm_unpacklo_epi64(ab_hi, cd_hi);
	*d = _mm_unpackhi_epi64(ab_hi, cd_hi);
}

static inline __attribute__((always_inline)) void
load_msg_128(__m128i m[16], const uint8_t *const p[4], size_t off)
{
	for (int k = 0; k < 4; k++) {
		__m128i t[4];

		for (int j = 0; j < 4; j++)
			t[j] = LOADU128(p[j] + off + 16 * k);
		transpose4_128(&t[0], &t[1], &t[2], &t[3]);
		for (int j = 0; j < 4; j++)
			m[4 * k + j] = t[j];
	}
}

static inline void store_cvs_128(uint8_t *const o[4], const __m128i h[8])
{
	for (int half = 0; half < 2; half++) {
		__m128i a = h[4 * half], b = h[4 * half + 1];
		__m128i c = h[4 * half + 2], d = h[4 * half + 3];

		transpose4_128(&a, &b, &c, &d);
		STOREU128(o[0] + 16 * half, a);
		STOREU128(o[1] + 16 * half, b);
		STOREU128(o[2] + 16 * half, c);
		STOREU128(o[3] + 16 * half, d);
	}
}

static inline void store_blocks_128(uint8_t *out, const __m128i w[16])
{
	for (int k = 0; k < 4; k++) {
		__m128i a = w[4 * k], b = w[4 * k + 1];
		__m128i c = w[4 * k + 2], d = w[4 * k + 3];

		transpose4_128(&a, &b, &c, &d);
		STOREU128(out + 0 * 64 + 16 * k, a);
		STOREU128(out + 1 * 64 + 16 * k, b);
		STOREU128(out + 2 * 64 + 16 * k, c);
		STOREU128(out + 3 * 64 + 16 * k, d);
	}
}

/* ---- 8 lanes, 256-bit ---- */
#ifdef __AVX2__

static inline void transpose4_256(__m256i *a, __m256i *b, __m256i *c,
				  __m256i *d)
{
	__m256i ab_lo = _mm256_unpacklo_epi32(*a, *b);
	__m256i ab_hi = _mm256_unpackhi_epi32(*a, *b);
	__m256i cd_lo = _mm256_unpacklo_epi32(*c, *d);
	__m256i cd_hi = _mm256_unpackhi_epi32(*c, *d);

	*a = _mm256_unpacklo_epi64(ab_lo, cd_lo);
	*b = _mm256_unpackhi_epi64(ab_lo, cd_lo);
	*c = _mm256_unpacklo_epi64(ab_hi, cd_hi);
	*d = _mm256_unpackhi_epi64(ab_hi, cd_hi);
}

static inline __attribute__((always_inline)) __m256i
load2x128(const uint8_t *lo, const uint8_t *hi)
{
	return _mm256_inserti128_si256(_mm256_castsi128_si256(LOADU128(lo)),
				       LOADU128(hi), 1);
}

static inline __attribute__((always_inline)) void
load_msg_256(__m256i m[16], const uint8_t *const p[8], size_t off)
{
	for (int k = 0; k < 4; k++) {
		size_t o = off + 16 * (size_t)k;
		__m256i t[4];

		for (int j = 0; j < 4; j++)
			t[j] = load2x128(p[j] + o, p[j + 4] + o);
		transpose4_256(&t[0], &t[1], &t[2], &t[3]);
		for (int j = 0; j < 4; j++)
			m[4 * k + j] = t[j];
	}
}

static inline void store_cvs_256(uint8_t *const o[8], const __m256i h[8])
{
	__m256i lo[4] = {h[0], h[1], h[2], h[3]};
	__m256i hi[4] = {h[4], h[5], h[6], h[7]};

	transpose4_256(&lo[0], &lo[1], &lo[2], &lo[3]);
	transpose4_256(&hi[0], &hi[1], &hi[2], &hi[3]);
	for (int j = 0; j < 4; j++) {
		_mm256_storeu_si256((__m256i *)(void *)o[j],
				    _mm256_permute2x128_si256(lo[j], hi[j],
							      0x20));
		_mm256_storeu_si256((__m256i *)(void *)o[j + 4],
				    _mm256_permute2x128_si256(lo[j], hi[j],
							      0x31));
	}
}

static inline void store_blocks_256(uint8_t *out, const __m256i w[16])
{
	for (int k = 0; k < 4; k++) {
		__m256i a = w[4 * k], b = w[4 * k + 1];
		__m256i c = w[4 * k + 2], d = w[4 * k + 3];
		__m256i t[4];

		transpose4_256(&a, &b, &c, &d);
		t[0] = a, t[1] = b, t[2] = c, t[3] = d;
		for (int j = 0; j < 4; j++) {
			STOREU128(out + j * 64 + 16 * k,
				  _mm256_castsi256_si128(t[j]));
			STOREU128(out + (j + 4) * 64 + 16 * k,
				  _mm256_extracti128_si256(t[j], 1));
		}
	}
}

#endif /* __AVX2__ */

/* ---- 16 lanes, 512-bit ---- */
#ifdef __AVX512F__

static inline void transpose4_512(__m512i *a, __m512i *b, __m512i *c,
				  __m512i *d)
{
	__m512i ab_lo = _mm512_unpacklo_epi32(*a, *b);
	__m512i ab_hi = _mm512_unpackhi_epi32(*a, *b);
	__m512i cd_lo = _mm512_unpacklo_epi32(*c, *d);
	__m512i cd_hi = _mm512_unpackhi_epi32(*c, *d);

	*a = _mm512_unpacklo_epi64(ab_lo, cd_lo);
	*b = _mm512_unpackhi_epi64(ab_lo, cd_lo);
	*c = _mm512_unpacklo_epi64(ab_hi, cd_hi);
	*d = _mm512_unpackhi_epi64(ab_hi, cd_hi);
}

/* Two 256-bit halves joined once: a 512-bit insert costs AMD Zen 4 twice
 * a 256-bit one, and three of them per vector made the 16-lane message
 * load 160 pipe slots a block where this takes 128. */
static inline __attribute__((always_inline)) __m512i
load4x128(const uint8_t *p0, const uint8_t *p1, const uint8_t *p2,
	  const uint8_t *p3)
{
	return _mm512_inserti64x4(_mm512_castsi256_si512(load2x128(p0, p1)),
				  load2x128(p2, p3), 1);
}

static inline __attribute__((always_inline)) void
load_msg_512(__m512i m[16], const uint8_t *const p[16], size_t off)
{
	for (int k = 0; k < 4; k++) {
		size_t o = off + 16 * (size_t)k;
		__m512i t[4];

		for (int j = 0; j < 4; j++)
			t[j] = load4x128(p[j] + o, p[j + 4] + o, p[j + 8] + o,
					 p[j + 12] + o);
		transpose4_512(&t[0], &t[1], &t[2], &t[3]);
		for (int j = 0; j < 4; j++)
			m[4 * k + j] = t[j];
	}
}

static inline void store_lanes4x128(uint8_t *const o[16], size_t off,
				    const __m512i t[4])
{
	for (int j = 0; j < 4; j++) {
		STOREU128(o[j] + off, _mm512_castsi512_si128(t[j]));
		STOREU128(o[j + 4] + off, _mm512_extracti32x4_epi32(t[j], 1));
		STOREU128(o[j + 8] + off, _mm512_extracti32x4_epi32(t[j], 2));
		STOREU128(o[j + 12] + off,
			  _mm512_extracti32x4_epi32(t[j], 3));
	}
}

static inline void store_cvs_512(uint8_t *const o[16], const __m512i h[8])
{
	for (int half = 0; half < 2; half++) {
		__m512i t[4] = {h[4 * half], h[4 * half + 1], h[4 * half + 2],
				h[4 * half + 3]};

		transpose4_512(&t[0], &t[1], &t[2], &t[3]);
		store_lanes4x128(o, 16 * (size_t)half, t);
	}
}

static inline void store_blocks_512(uint8_t *out, const __m512i w[16])
{
	uint8_t *o[16];

	for (int l = 0; l < 16; l++)
		o[l] = out + 64 * l;
	for (int k = 0; k < 4; k++) {
		__m512i t[4] = {w[4 * k], w[4 * k + 1], w[4 * k + 2],
				w[4 * k + 3]};

		transpose4_512(&t[0], &t[1], &t[2], &t[3]);
		store_lanes4x128(o, 16 * (size_t)k, t);
	}
}

#endif /* __AVX512F__ */

#endif
