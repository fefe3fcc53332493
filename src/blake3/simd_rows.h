/*
 * simd_rows.h - one compression at a time, the state held as four 128-bit
 * rows (a = v0..v3, b = v4..v7, c = v8..v11, d = v12..v15), so that the
 * four G functions of a column or diagonal step run side by side in one
 * vector each. Wider vectors hold the rows of two or four independent
 * compressions, one per 128-bit lane (every operation here stays inside
 * its 128-bit lane), and ng such groups can run interleaved. A kernel file
 * includes it once per width after defining:
 *
 *   KR(name)            name of a function of this width
 *   RV_LANES            (optional) 1, the default: __m128i; 2: __m256i;
 *                       4: __m512i
 *   RV_XOR_ROR(x, y, n) (optional) ror(x ^ y, n) on 32-bit lanes, where y
 *                       arrives last; the default xors, then rotates with
 *                       a byte shuffle (16, 8) or two shifts (12, 7)
 *
 * and undefines all of them at its end.
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
 *  - The blocks of one chunk (KR(chunk)) keep the chaining value in
 *    registers from block to block.
 */

#ifndef RV_LANES
#define RV_LANES 1
#endif
#if RV_LANES == 1
#define RV __m128i
#define RV_ADD(a, b) _mm_add_epi32((a), (b))
#define RV_XOR(a, b) _mm_xor_si128((a), (b))
#define RV_SHUFD(x, imm) _mm_shuffle_epi32((x), (imm))
#define RV_GATHER(p, off) LOADU128((p)[0] + (off))
#define RV_LOADU(p) LOADU128(p)
#define RV_STOREU(p, x) STOREU128((p), (x))
#define RV_FROM128(x0, x1, x2, x3) (x0)
#ifndef RV_XOR_ROR
#define RV_XOR_ROR(x, y, n) XOR_ROR128_##n((x), (y))
#endif
#elif RV_LANES == 4 /* four compressions in a 512-bit vector */
#define RV __m512i
#define RV_ADD(a, b) _mm512_add_epi32((a), (b))
#define RV_XOR(a, b) _mm512_xor_si512((a), (b))
#define RV_SHUFD(x, imm) _mm512_shuffle_epi32((x), (_MM_PERM_ENUM)(imm))
#define RV_GATHER(p, off)                                                    \
	_mm512_inserti32x4(                                                  \
		_mm512_inserti32x4(                                          \
			_mm512_inserti32x4(_mm512_castsi128_si512(LOADU128(   \
						   (p)[0] + (off))),         \
					   LOADU128((p)[1] + (off)), 1),     \
			LOADU128((p)[2] + (off)), 2),                        \
		LOADU128((p)[3] + (off)), 3)
#define RV_LOADU(p) _mm512_loadu_si512((const void *)(p))
#define RV_STOREU(p, x) _mm512_storeu_si512((void *)(p), (x))
#define RV_FROM128(x0, x1, x2, x3)                                           \
	_mm512_inserti32x4(                                                  \
		_mm512_inserti32x4(                                          \
			_mm512_inserti32x4(_mm512_castsi128_si512(x0), (x1),  \
					   1),                               \
			(x2), 2),                                            \
		(x3), 3)
#else /* two compressions, one per 128-bit lane of a 256-bit vector */
#define RV __m256i
#define RV_ADD(a, b) _mm256_add_epi32((a), (b))
#define RV_XOR(a, b) _mm256_xor_si256((a), (b))
#define RV_SHUFD(x, imm) _mm256_shuffle_epi32((x), (imm))
#define RV_GATHER(p, off)                                                    \
	_mm256_inserti128_si256(                                             \
		_mm256_castsi128_si256(LOADU128((p)[0] + (off))),            \
		LOADU128((p)[1] + (off)), 1)
#define RV_LOADU(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define RV_STOREU(p, x) _mm256_storeu_si256((__m256i *)(void *)(p), (x))
#define RV_FROM128(x0, x1, x2, x3)                                           \
	_mm256_inserti128_si256(_mm256_castsi128_si256(x0), (x1), 1)
#endif

/* Immediates for four 32-bit lanes: lane 0 takes word i, and so on. */
#define R_SEL(i, j, k, l) ((i) | (j) << 2 | (k) << 4 | (l) << 6)
/* shufps: [x_i x_j y_k y_l] in every 128-bit lane; R_BLEND: lane t from y
 * where bit t of the four-bit mask is set. Blends run on every vector
 * port; shuffles and shifts share two on AMD Zen 4, so the message
 * permutation below is written with as few shuffles as it can. */
#if RV_LANES == 1
#define R_SHUFPS(x, y, imm)                                                  \
	_mm_castps_si128(_mm_shuffle_ps(_mm_castsi128_ps(x),                 \
					_mm_castsi128_ps(y), (imm)))
#define R_BLEND(x, y, m)                                                     \
	_mm_blend_epi16((x), (y),                                            \
			((m)&1) * 3 | ((m)&2) * 6 | ((m)&4) * 12 | ((m)&8) * 24)
#elif RV_LANES == 4
#define R_SHUFPS(x, y, imm)                                                  \
	_mm512_castps_si512(_mm512_shuffle_ps(_mm512_castsi512_ps(x),        \
					      _mm512_castsi512_ps(y), (imm)))
#define R_BLEND(x, y, m)                                                     \
	_mm512_mask_blend_epi32((__mmask16)((m) * 0x1111), (x), (y))
#else
#define R_SHUFPS(x, y, imm)                                                  \
	_mm256_castps_si256(_mm256_shuffle_ps(_mm256_castsi256_ps(x),        \
					      _mm256_castsi256_ps(y), (imm)))
#define R_BLEND(x, y, m) _mm256_blend_epi32((x), (y), (m) | (m) << 4)
#endif

/* Lane i of a row rotated by n places: lane (i + n) % 4 of the old one. */
#define R_ROT1(x) RV_SHUFD((x), 0x39) /* [1 2 3 0] */
#define R_ROT2(x) RV_SHUFD((x), 0x4E) /* [2 3 0 1] */
#define R_ROT3(x) RV_SHUFD((x), 0x93) /* [3 0 1 2] */

#define R_FOR_GROUPS _Pragma("GCC unroll 4") for (int g = 0; g < ng; g++)

/*
 * a += m, opaque to the compiler: left to itself it rewrites a + m + b as
 * (a + b) + m or a + (b + m), which puts two additions after b on the
 * chain instead of one.
 */
#define R_ADD_FIRST(a, m)                                                    \
	do {                                                                 \
		a = RV_ADD(a, m);                                            \
		__asm__("" : "+v"(a));                                       \
	} while (0)

#define R_G(a, b, c, d, mx, my)                                              \
	R_FOR_GROUPS                                                         \
	{                                                                    \
		R_ADD_FIRST(a[g], mx[g]);                                    \
		a[g] = RV_ADD(a[g], b[g]);                                   \
		d[g] = RV_XOR_ROR(d[g], a[g], 16);                           \
		c[g] = RV_ADD(c[g], d[g]);                                   \
		b[g] = RV_XOR_ROR(b[g], c[g], 12);                           \
		R_ADD_FIRST(a[g], my[g]);                                    \
		a[g] = RV_ADD(a[g], b[g]);                                   \
		d[g] = RV_XOR_ROR(d[g], a[g], 8);                            \
		c[g] = RV_ADD(c[g], d[g]);                                   \
		b[g] = RV_XOR_ROR(b[g], c[g], 7);                            \
	}

#define R_TURN(a, c, d, ra, rc, rd)                                          \
	R_FOR_GROUPS                                                         \
	{                                                                    \
		a[g] = ra(a[g]);                                             \
		c[g] = rc(c[g]);                                             \
		d[g] = rd(d[g]);                                             \
	}

/*
 * One round. Column step: lane i is G(v[i], v[4+i], v[8+i], v[12+i]) with
 * message words (s[2i], s[2i+1]): cx = s0 s2 s4 s6, cy = s1 s3 s5 s7.
 * Diagonal step, b unmoved: lane j runs the diagonal G number j - 1, so a
 * holds v3 v0 v1 v2, c holds v9 v10 v11 v8, d holds v14 v15 v12 v13, and
 * the words are dx = s14 s8 s10 s12, dy = s15 s9 s11 s13.
 */
#define R_ROUND()                                                            \
	do {                                                                 \
		R_G(a, b, c, d, cx, cy);                                     \
		R_TURN(a, c, d, R_ROT3, R_ROT1, R_ROT2);                     \
		R_G(a, b, c, d, dx, dy);                                     \
		R_TURN(a, c, d, R_ROT1, R_ROT3, R_ROT2);                     \
	} while (0)

/*
 * From one round's message vectors to the next one's. In words of the
 * round before, the next round needs (by the permutation of the spec)
 *   cx' = cx1 cy1 cy3 cx2        cy' = cx3 dx2 cx0 dy3
 *   dx' = dy0 cy0 dx3 dy1        dy' = dx1 dy2 cy2 dx0
 */
#define R_PERMUTE()                                                          \
	R_FOR_GROUPS                                                         \
	{                                                                    \
		RV ncx = RV_SHUFD(R_SHUFPS(cx[g], cy[g], R_SEL(1, 2, 1, 3)), \
				  R_SEL(0, 2, 3, 1));                        \
		RV ncy = R_BLEND(RV_SHUFD(cx[g], R_SEL(3, 3, 0, 0)),          \
				 R_SHUFPS(dx[g], dy[g], R_SEL(2, 2, 3, 3)),   \
				 0xA);                                       \
		RV ndx = R_BLEND(RV_SHUFD(dy[g], R_SEL(0, 0, 1, 1)),          \
				 R_SHUFPS(cy[g], dx[g], R_SEL(0, 0, 3, 3)),   \
				 0x6);                                       \
		RV ndy = R_BLEND(RV_SHUFD(dx[g], R_SEL(1, 1, 0, 0)),          \
				 R_SHUFPS(dy[g], cy[g], R_SEL(2, 2, 2, 2)),   \
				 0x6);                                       \
		cx[g] = ncx;                                                 \
		cy[g] = ncy;                                                 \
		dx[g] = ndx;                                                 \
		dy[g] = ndy;                                                 \
	}

/*
 * The seven rounds on ng groups of rows a..d; m[g][k] holds words 4k to
 * 4k + 3 of group g's message block(s).
 */
static inline __attribute__((always_inline)) void
KR(rounds)(RV *a, RV *b, RV *c, RV *d, RV m[][4], const int ng)
{
	RV cx[4], cy[4], dx[4], dy[4];

	R_FOR_GROUPS
	{
		cx[g] = R_SHUFPS(m[g][0], m[g][1], R_SEL(0, 2, 0, 2));
		cy[g] = R_SHUFPS(m[g][0], m[g][1], R_SEL(1, 3, 1, 3));
		dx[g] = RV_SHUFD(R_SHUFPS(m[g][2], m[g][3], R_SEL(0, 2, 0, 2)),
				 R_SEL(3, 0, 1, 2));
		dy[g] = RV_SHUFD(R_SHUFPS(m[g][2], m[g][3], R_SEL(1, 3, 1, 3)),
				 R_SEL(3, 0, 1, 2));
	}
	R_ROUND();
	_Pragma("GCC unroll 6") for (int r = 1; r < 7; r++) {
		R_PERMUTE();
		R_ROUND();
	}
}

#if RV_LANES == 1
/* The rounds on one compression, message block at p. */
static inline __attribute__((always_inline)) void
KR(rounds1)(__m128i *a, __m128i *b, __m128i *c, __m128i *d, const uint8_t *p)
{
	__m128i m[1][4];

	for (int k = 0; k < 4; k++)
		m[0][k] = _mm_loadu_si128(
			(const __m128i *)(const void *)(p + 16 * k));
	KR(rounds)(a, b, c, d, m, 1);
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

	KR(rounds1)(&a, &b, &c, &d, block);
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

	KR(rounds1)(&a, &b, &c, &d, block);
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
	uint8_t pad[B3_BLOCK_LEN];
	const uint8_t *last = pad; /* in may be NULL when len is 0 */
	__m128i h0 = _mm_loadu_si128((const __m128i *)(void *)cv);
	__m128i h1 = _mm_loadu_si128((const __m128i *)(void *)(cv + 4));
	__m128i d = KR(row_d)(counter, B3_BLOCK_LEN, flags | flags_start);
	const __m128i dn = KR(row_d)(counter, B3_BLOCK_LEN, flags);

	/* Pad a short last block first: its stores are long retired when
	 * the last compression loads it, instead of stalling it. */
	if (tail == B3_BLOCK_LEN) {
		last = in + before * B3_BLOCK_LEN;
	} else {
		memset(pad, 0, sizeof(pad));
		if (tail > 0)
			memcpy(pad, in + before * B3_BLOCK_LEN, tail);
	}
	for (size_t i = 0; i < before; i++) {
		__m128i a = h0, b = h1, c = KR(row_iv)();

		KR(rounds1)(&a, &b, &c, &d, in + i * B3_BLOCK_LEN);
		h0 = _mm_xor_si128(a, c);
		h1 = _mm_xor_si128(b, d);
		d = dn;
	}
	__m128i a = h0, b = h1, c = KR(row_iv)();

	d = _mm_insert_epi32(_mm_or_si128(d, KR(row_d)(0, 0, flags_end)),
			     (int)tail, 2);
	KR(rounds1)(&a, &b, &c, &d, last);
	_mm_storeu_si128((__m128i *)(void *)cv, _mm_xor_si128(a, c));
	_mm_storeu_si128((__m128i *)(void *)(cv + 4), _mm_xor_si128(b, d));
}

#endif /* RV_LANES == 1 */

/*
 * Like hash_many (blake3_int.h) for count <= ng * RV_LANES inputs: the
 * rows of input i in lane i % RV_LANES of group i / RV_LANES. Lanes past
 * count hash a zero chunk into a scratch buffer.
 */
static inline __attribute__((always_inline)) void
KR(hash_rows)(uint8_t *out, const uint8_t *input, size_t stride, size_t count,
	      size_t blocks, const uint32_t key[8], uint64_t counter,
	      bool increment_counter, uint8_t flags, uint8_t flags_start,
	      uint8_t flags_end, const int ng)
{
	const uint8_t *p[4][RV_LANES];
	uint8_t fl[3] = {flags | flags_start, flags, flags | flags_end};
	const __m128i k0 = LOADU128(key), k1 = LOADU128(key + 4);
	const __m128i iv0 = LOADU128(b3_iv);
	const RV iv = RV_FROM128(iv0, iv0, iv0, iv0);
	RV h0[4], h1[4], a[4], b[4], c[4], d[4], m[4][4], dbase[4];

	if (blocks == 1)
		fl[2] |= flags_start;
	/*
	 * Every row is built in registers, once per call: words stored one by
	 * one and read back as a vector cannot be forwarded from the store
	 * buffer, and that wait cost more than the whole compression of a
	 * parent.
	 */
	R_FOR_GROUPS
	{
		__m128i dl[4];

		for (int i = 0; i < RV_LANES; i++) {
			size_t idx = (size_t)(g * RV_LANES + i);
			uint64_t ctr = counter + (increment_counter ? idx : 0);

			p[g][i] = idx < count ? input + idx * stride
					      : b3_zero_chunk;
			dl[i] = _mm_setr_epi32((int)(uint32_t)ctr,
					       (int)(uint32_t)(ctr >> 32),
					       B3_BLOCK_LEN, 0);
		}
		for (int i = RV_LANES; i < 4; i++)
			dl[i] = dl[0];
		dbase[g] = RV_FROM128(dl[0], dl[1], dl[2], dl[3]);
		h0[g] = RV_FROM128(k0, k0, k0, k0);
		h1[g] = RV_FROM128(k1, k1, k1, k1);
	}
	for (size_t blk = 0; blk < blocks; blk++) {
		int v = blk + 1 == blocks ? 2 : blk == 0 ? 0 : 1;
		const __m128i f = _mm_setr_epi32(0, 0, 0, fl[v]);
		const RV fv = RV_FROM128(f, f, f, f);

		R_FOR_GROUPS
		{
			for (int k = 0; k < 4; k++)
				m[g][k] = RV_GATHER(p[g],
						    blk * B3_BLOCK_LEN + 16 * k);
			a[g] = h0[g];
			b[g] = h1[g];
			c[g] = iv;
			d[g] = RV_XOR(dbase[g], fv);
		}
		KR(rounds)(a, b, c, d, m, ng);
		R_FOR_GROUPS
		{
			h0[g] = RV_XOR(a[g], c[g]);
			h1[g] = RV_XOR(b[g], d[g]);
		}
	}
	for (int g = 0; g < ng; g++) {
		uint32_t w0[4 * RV_LANES], w1[4 * RV_LANES];

		RV_STOREU(w0, h0[g]);
		RV_STOREU(w1, h1[g]);
		for (int i = 0; i < RV_LANES; i++) {
			size_t idx = (size_t)(g * RV_LANES + i);

			if (idx >= count)
				break;
			memcpy(out + idx * B3_OUT_LEN, w0 + 4 * i, 16);
			memcpy(out + idx * B3_OUT_LEN + 16, w1 + 4 * i, 16);
		}
	}
}
#undef R_SEL
#undef R_SHUFPS
#undef R_BLEND
#undef R_FOR_GROUPS
#undef R_TURN
#undef R_ROT1
#undef R_ROT2
#undef R_ROT3
#undef R_G
#undef R_ADD_FIRST
#undef R_ROUND
#undef R_PERMUTE
#undef KR
#undef RV
#undef RV_LANES
#undef RV_ADD
#undef RV_XOR
#undef RV_SHUFD
#undef RV_XOR_ROR
#undef RV_GATHER
#undef RV_LOADU
#undef RV_STOREU
#undef RV_FROM128
