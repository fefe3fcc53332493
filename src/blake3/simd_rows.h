/*
 * simd_rows.h - one compression at a time, the state held as four 128-bit
 * rows (a = v0..v3, b = v4..v7, c = v8..v11, d = v12..v15), so that the
 * four G functions of a column or diagonal step run side by side in one
 * vector each. A kernel file includes it after defining:
 *
 *   KR(name)       name of a function of this kernel file
 *   R_ROR16/12/8/7(x)  rotate each 32-bit lane of an __m128i right
 *   R_XOR_ROR(x, y, n) (optional) ror(x ^ y, n) where y arrives last
 *
 * A single compression is one long dependency chain, so its speed is its
 * latency, and everything here is arranged to keep work off that chain:
 *
 *  - Between the column and the diagonal step the rows a, c and d are
 *    rotated and b is left alone. b is the last row a G function computes
 *    (b = ror(b ^ c, 7)) and the first the next one needs (a += b), so the
 *    three rotations run while b is still being computed, and cost nothing
 *    on the chain. With b fixed, lane j of the diagonal step runs the
 *    spec's diagonal G number j - 1 (mod 4), which is what the row
 *    rotations and the message words below are arranged for.
 *  - The message words each step adds are gathered once per round into
 *    four vectors (column x, column y, diagonal x, diagonal y words) and
 *    added to a before b is: both are ready early.
 *  - The next round's four message vectors are one fixed permutation of
 *    this round's (the spec applies the same permutation to the message
 *    every round), computed in the shadow of the rounds.
 *  - The blocks of one chunk (KR(chunk)) keep the chaining
 *    value in registers from block to block.
 */

typedef uint32_t KR(u32x4) __attribute__((vector_size(16)));

#define R_SHUF(x, y, i, j, k, l)                                             \
	((__m128i)__builtin_shufflevector((KR(u32x4))(x), (KR(u32x4))(y),    \
					  i, j, k, l))

/* Lane i of a row rotated by n places: lane (i + n) % 4 of the old one. */
#define R_ROT1(x) _mm_shuffle_epi32((x), 0x39) /* [1 2 3 0] */
#define R_ROT2(x) _mm_shuffle_epi32((x), 0x4E) /* [2 3 0 1] */
#define R_ROT3(x) _mm_shuffle_epi32((x), 0x93) /* [3 0 1 2] */

/*
 * a += m, opaque to the compiler: left to itself it rewrites a + m + b as
 * (a + b) + m or a + (b + m), which puts two additions after b on the
 * chain instead of one.
 */
#define R_ADD_FIRST(a, m)                                                    \
	do {                                                                 \
		a = _mm_add_epi32(a, m);                                     \
		__asm__("" : "+v"(a));                                       \
	} while (0)

#ifndef R_XOR_ROR
#define R_XOR_ROR(x, y, n) R_ROR##n(_mm_xor_si128((x), (y)))
#endif

#define R_G(a, b, c, d, mx, my)                                              \
	do {                                                                 \
		R_ADD_FIRST(a, mx);                                          \
		a = _mm_add_epi32(a, b);                                     \
		d = R_XOR_ROR(d, a, 16);                                     \
		c = _mm_add_epi32(c, d);                                     \
		b = R_XOR_ROR(b, c, 12);                                     \
		R_ADD_FIRST(a, my);                                          \
		a = _mm_add_epi32(a, b);                                     \
		d = R_XOR_ROR(d, a, 8);                                      \
		c = _mm_add_epi32(c, d);                                     \
		b = R_XOR_ROR(b, c, 7);                                      \
	} while (0)

/*
 * One round. Column step: lane i is G(v[i], v[4+i], v[8+i], v[12+i]) with
 * message words (s[2i], s[2i+1]): cx = s0 s2 s4 s6, cy = s1 s3 s5 s7.
 * Diagonal step, b unmoved: lane j runs the diagonal G number j - 1, so a
 * holds v3 v0 v1 v2, c holds v9 v10 v11 v8, d holds v14 v15 v12 v13, and
 * the words are dx = s14 s8 s10 s12, dy = s15 s9 s11 s13.
 */
#define R_ROUND(a, b, c, d, cx, cy, dx, dy)                                  \
	do {                                                                 \
		R_G(a, b, c, d, cx, cy);                                     \
		a = R_ROT3(a);                                               \
		c = R_ROT1(c);                                               \
		d = R_ROT2(d);                                               \
		R_G(a, b, c, d, dx, dy);                                     \
		a = R_ROT1(a);                                               \
		c = R_ROT3(c);                                               \
		d = R_ROT2(d);                                               \
	} while (0)

/*
 * From one round's message vectors to the next one's. In words of the
 * round before, the next round needs (by the permutation of the spec)
 *   cx' = cx1 cy1 cy3 cx2        cy' = cx3 dx2 cx0 dy3
 *   dx' = dy0 cy0 dx3 dy1        dy' = dx1 dy2 cy2 dx0
 */
#define R_PERMUTE(cx, cy, dx, dy)                                            \
	do {                                                                 \
		__m128i ncx = R_SHUF(cx, cy, 1, 5, 7, 2);                    \
		__m128i t1 = R_SHUF(cx, dx, 3, 6, 0, 0);                     \
		__m128i ncy = R_SHUF(t1, dy, 0, 1, 2, 7);                    \
		__m128i t2 = R_SHUF(dy, cy, 0, 4, 1, 1);                     \
		__m128i ndx = R_SHUF(t2, dx, 0, 1, 7, 2);                    \
		__m128i t3 = R_SHUF(dx, dy, 1, 6, 0, 0);                     \
		__m128i ndy = R_SHUF(t3, cy, 0, 1, 6, 2);                    \
		cx = ncx;                                                    \
		cy = ncy;                                                    \
		dx = ndx;                                                    \
		dy = ndy;                                                    \
	} while (0)

/* The seven rounds on rows a..d, message block at p. */
static inline __attribute__((always_inline)) void
KR(rounds)(__m128i *ra, __m128i *rb, __m128i *rc, __m128i *rd,
	   const uint8_t *p)
{
	__m128i a = *ra, b = *rb, c = *rc, d = *rd;
	const __m128i m0 = _mm_loadu_si128((const __m128i *)(const void *)p);
	const __m128i m1 =
		_mm_loadu_si128((const __m128i *)(const void *)(p + 16));
	const __m128i m2 =
		_mm_loadu_si128((const __m128i *)(const void *)(p + 32));
	const __m128i m3 =
		_mm_loadu_si128((const __m128i *)(const void *)(p + 48));
	__m128i cx = R_SHUF(m0, m1, 0, 2, 4, 6);
	__m128i cy = R_SHUF(m0, m1, 1, 3, 5, 7);
	__m128i dx = R_SHUF(m2, m3, 6, 0, 2, 4);
	__m128i dy = R_SHUF(m2, m3, 7, 1, 3, 5);

	R_ROUND(a, b, c, d, cx, cy, dx, dy);
	_Pragma("GCC unroll 6") for (int r = 1; r < 7; r++) {
		R_PERMUTE(cx, cy, dx, dy);
		R_ROUND(a, b, c, d, cx, cy, dx, dy);
	}
	*ra = a, *rb = b, *rc = c, *rd = d;
}

static inline __attribute__((always_inline)) __m128i
KR(row_d)(uint64_t counter, uint32_t block_len, uint32_t flags)
{
	return _mm_setr_epi32((int)(uint32_t)counter,
			      (int)(uint32_t)(counter >> 32), (int)block_len,
			      (int)flags);
}

static inline __attribute__((always_inline)) __m128i KR(row_iv)(void)
{
	return _mm_loadu_si128((const __m128i *)(const void *)b3_iv);
}

static void KR(compress)(uint32_t cv[8], const uint8_t block[64],
			 uint8_t block_len, uint64_t counter, uint8_t flags)
{
	__m128i a = _mm_loadu_si128((const __m128i *)(void *)cv);
	__m128i b = _mm_loadu_si128((const __m128i *)(void *)(cv + 4));
	__m128i c = KR(row_iv)();
	__m128i d = KR(row_d)(counter, block_len, flags);

	KR(rounds)(&a, &b, &c, &d, block);
	_mm_storeu_si128((__m128i *)(void *)cv, _mm_xor_si128(a, c));
	_mm_storeu_si128((__m128i *)(void *)(cv + 4), _mm_xor_si128(b, d));
}

static void KR(compress_xof)(uint8_t out[64], const uint32_t cv[8],
			     const uint8_t block[64], uint8_t block_len,
			     uint64_t counter, uint8_t flags)
{
	const __m128i h0 = _mm_loadu_si128((const __m128i *)(const void *)cv);
	const __m128i h1 =
		_mm_loadu_si128((const __m128i *)(const void *)(cv + 4));
	__m128i a = h0, b = h1, c = KR(row_iv)();
	__m128i d = KR(row_d)(counter, block_len, flags);

	KR(rounds)(&a, &b, &c, &d, block);
	_mm_storeu_si128((__m128i *)(void *)out, _mm_xor_si128(a, c));
	_mm_storeu_si128((__m128i *)(void *)(out + 16), _mm_xor_si128(b, d));
	_mm_storeu_si128((__m128i *)(void *)(out + 32), _mm_xor_si128(c, h0));
	_mm_storeu_si128((__m128i *)(void *)(out + 48), _mm_xor_si128(d, h1));
}

/* See b3_chunk_fn in blake3_int.h. */
static void KR(chunk)(uint32_t cv[8], const uint8_t *in, size_t len,
		      uint64_t counter, uint8_t flags, uint8_t flags_start,
		      uint8_t flags_end)
{
	size_t before = len > 0 ? (len - 1) / B3_BLOCK_LEN : 0;
	size_t tail = len - before * B3_BLOCK_LEN;
	const uint8_t *last = in + before * B3_BLOCK_LEN;
	uint8_t pad[B3_BLOCK_LEN];
	__m128i h0 = _mm_loadu_si128((const __m128i *)(void *)cv);
	__m128i h1 = _mm_loadu_si128((const __m128i *)(void *)(cv + 4));
	__m128i d = KR(row_d)(counter, B3_BLOCK_LEN, flags | flags_start);
	const __m128i dn = KR(row_d)(counter, B3_BLOCK_LEN, flags);

	/* Pad a short last block first: its stores are long retired when
	 * the last compression loads it, instead of stalling it. */
	if (tail < B3_BLOCK_LEN) {
		memset(pad, 0, sizeof(pad));
		if (tail > 0)
			memcpy(pad, last, tail);
		last = pad;
	}
	for (size_t i = 0; i < before; i++) {
		__m128i a = h0, b = h1, c = KR(row_iv)();

		KR(rounds)(&a, &b, &c, &d, in + i * B3_BLOCK_LEN);
		h0 = _mm_xor_si128(a, c);
		h1 = _mm_xor_si128(b, d);
		d = dn;
	}
	__m128i a = h0, b = h1, c = KR(row_iv)();

	d = _mm_insert_epi32(_mm_or_si128(d, KR(row_d)(0, 0, flags_end)),
			     (int)tail, 2);
	KR(rounds)(&a, &b, &c, &d, last);
	_mm_storeu_si128((__m128i *)(void *)cv, _mm_xor_si128(a, c));
	_mm_storeu_si128((__m128i *)(void *)(cv + 4), _mm_xor_si128(b, d));
}

#undef R_SHUF
#undef R_ROT1
#undef R_ROT2
#undef R_ROT3
#undef R_G
#undef R_XOR_ROR
#undef R_ADD_FIRST
#undef R_ROUND
#undef R_PERMUTE
