/*
 * simd_kernels.h - the N-lane kernels (hash N or 2N inputs, run N batch
 * lanes, produce N XOF blocks) written once over a kernel file's vector
 * type. A kernel file includes it once per vector width after defining:
 *
 *   V, N                        vector type and its number of 32-bit lanes
 *   KN(name)                    name of a function of this width
 *   V_ADD, V_XOR, V_OR, V_ROR16/12/8/7, V_SET1(u32), V_ADD_MSG
 *                               (see simd_rounds.h)
 *   V_LOAD32(const uint32_t *)  load N consecutive 32-bit words
 *   V_STORE32(uint32_t *, V)    store N consecutive 32-bit words
 *   LOAD_MSG(V m[16], const uint8_t *const p[N], size_t off)
 *                               m[j] lane i = word j of the block p[i]+off
 *   STORE_BLOCKS(uint8_t *out, const V w[16])
 *                               lane i's 16 words to out + 64 * i
 *   STORE_CVS(uint8_t *const o[N], const V h[8])
 *                               lane i's 8 words to o[i]
 */

#define ROUNDS_NAME KN(rounds)
#include "simd_rounds.h"
#undef ROUNDS_NAME

#define KERNEL static inline __attribute__((always_inline, unused))

KERNEL void KN(init_state)(V v[16], const V h[8], V ctr_lo, V ctr_hi, V blen,
			   V flags)
{
	for (int i = 0; i < 8; i++)
		v[i] = h[i];
	v[8] = V_SET1(b3_iv[0]);
	v[9] = V_SET1(b3_iv[1]);
	v[10] = V_SET1(b3_iv[2]);
	v[11] = V_SET1(b3_iv[3]);
	v[12] = ctr_lo;
	v[13] = ctr_hi;
	v[14] = blen;
	v[15] = flags;
}

KERNEL void KN(counters)(V *lo, V *hi, uint64_t counter, bool inc)
{
	static const uint32_t iota[16] = {0, 1, 2,  3,  4,  5,  6,  7,
					  8, 9, 10, 11, 12, 13, 14, 15};
	uint32_t l[N], h[N];

	/* The common cases from constants: the low words do not wrap. (An
	 * array built with scalar stores and loaded as one vector stalls on
	 * store forwarding; in the parent kernel that was a tenth of the
	 * time.) */
	*lo = V_SET1((uint32_t)counter);
	*hi = V_SET1((uint32_t)(counter >> 32));
	if (!inc)
		return;
	if ((uint32_t)counter <= UINT32_MAX - (N - 1)) {
		*lo = V_ADD(*lo, V_LOAD32(iota));
		return;
	}
	for (int i = 0; i < N; i++) {
		uint64_t c = counter + (uint64_t)i;

		l[i] = (uint32_t)c;
		h[i] = (uint32_t)(c >> 32);
	}
	*lo = V_LOAD32(l);
	*hi = V_LOAD32(h);
}

/*
 * count <= ng * N inputs (input + i * stride, `blocks` <= 16 blocks each),
 * as ng independent groups of N lanes whose rounds are interleaved. Lanes
 * past count hash a zero chunk into a scratch buffer: a partly empty call
 * costs the same as a full one, far less than hashing the inputs one after
 * the other. When `full` (count == ng * N), every lane's address is input
 * plus a multiple of stride: with stride and blocks constants, the loads
 * then all address off one register instead of ng * N pointers, which did
 * not fit the general-purpose registers beside the loop's own.
 */
KERNEL void KN(groups_body)(uint8_t *out, const uint8_t *input, size_t stride,
			    size_t count, size_t blocks, bool full,
			    const uint32_t key[8], uint64_t counter,
			    bool increment_counter, uint8_t flags,
			    uint8_t flags_start, uint8_t flags_end,
			    const int ng)
{
	const uint8_t *p[2][N];
	uint8_t *o[2][N];
	uint8_t sink[B3_OUT_LEN];
	V h[2][8], ctr_lo[2], ctr_hi[2], v[2][16], m[2][16];
	const V blen = V_SET1(B3_BLOCK_LEN);

	for (int g = 0; g < ng; g++) {
		for (int i = 0; i < N; i++) {
			size_t idx = (size_t)(g * N + i);
			bool real = full || idx < count;

			p[g][i] = real ? input + idx * stride : b3_zero_chunk;
			o[g][i] = real ? out + idx * B3_OUT_LEN : sink;
		}
		for (int i = 0; i < 8; i++)
			h[g][i] = V_SET1(key[i]);
		KN(counters)(&ctr_lo[g], &ctr_hi[g],
			     counter + (increment_counter ? (uint64_t)g * N : 0),
			     increment_counter);
	}
	for (size_t b = 0; b < blocks; b++) {
		uint32_t f = flags;
		size_t off = b * B3_BLOCK_LEN;

		if (b == 0)
			f |= flags_start;
		if (b + 1 == blocks)
			f |= flags_end;
		if (full) {
			/* One base register, opaque to gcc: otherwise it keeps
			 * ng * N hoisted pointers and spills them. */
			const uint8_t *base = input + off;

			__asm__("" : "+r"(base));
			for (int g = 0; g < ng; g++)
				for (int i = 0; i < N; i++)
					p[g][i] = base + (size_t)(g * N + i) *
								 stride;
			off = 0;
		}
#ifdef PREFETCH_AHEAD
		/* The caller hashes runs of chunks front to back: fetch the
		 * same block of the next ng * N chunks (one cache line per
		 * lane), a whole kernel call ahead of its use. */
		if (blocks > 1)
			for (int g = 0; g < ng; g++)
				for (int i = 0; i < N; i++)
					PREFETCH_AHEAD(p[g][i] + off +
						       (size_t)ng * N * stride);
#endif
		for (int g = 0; g < ng; g++) {
			LOAD_MSG(m[g], p[g], off);
			KN(init_state)(v[g], h[g], ctr_lo[g], ctr_hi[g], blen,
				       V_SET1(f));
		}
		KN(rounds)(v, m, ng);
		for (int g = 0; g < ng; g++)
			for (int i = 0; i < 8; i++)
				h[g][i] = V_XOR(v[g][i], v[g][i + 8]);
	}
	for (int g = 0; g < ng; g++)
		STORE_CVS(o[g], h[g]);
}

/* The two shapes tree.c asks for, full groups of whole chunks and of
 * parents, get a copy of the loop each with stride and blocks fixed;
 * anything else takes the general one. */
KERNEL void KN(hash_groups)(uint8_t *out, const uint8_t *input, size_t stride,
			    size_t count, size_t blocks,
			    const uint32_t key[8], uint64_t counter,
			    bool increment_counter, uint8_t flags,
			    uint8_t flags_start, uint8_t flags_end,
			    const int ng)
{
	const size_t chunk_blocks = B3_CHUNK_LEN / B3_BLOCK_LEN;

	if (count == (size_t)ng * N && stride == B3_CHUNK_LEN &&
	    blocks == chunk_blocks)
		KN(groups_body)(out, input, B3_CHUNK_LEN, count, chunk_blocks,
				true, key, counter, increment_counter, flags,
				flags_start, flags_end, ng);
	else if (count == (size_t)ng * N && stride == B3_BLOCK_LEN &&
		 blocks == 1)
		KN(groups_body)(out, input, B3_BLOCK_LEN, count, 1, true, key,
				counter, increment_counter, flags,
				flags_start, flags_end, ng);
	else
		KN(groups_body)(out, input, stride, count, blocks, false, key,
				counter, increment_counter, flags, flags_start,
				flags_end, ng);
}

/* Up to N inputs in one group; see hash_groups. */
static __attribute__((unused)) void
KN(hash_n)(uint8_t *out, const uint8_t *input, size_t stride, size_t count,
	   size_t blocks, const uint32_t key[8], uint64_t counter,
	   bool increment_counter, uint8_t flags, uint8_t flags_start,
	   uint8_t flags_end)
{
	KN(hash_groups)(out, input, stride, count, blocks, key, counter,
			increment_counter, flags, flags_start, flags_end, 1);
}

/* Up to 2N inputs in two interleaved groups; see hash_groups. */
static __attribute__((unused)) void
KN(hash_2n)(uint8_t *out, const uint8_t *input, size_t stride, size_t count,
	    size_t blocks, const uint32_t key[8], uint64_t counter,
	    bool increment_counter, uint8_t flags, uint8_t flags_start,
	    uint8_t flags_end)
{
	KN(hash_groups)(out, input, stride, count, blocks, key, counter,
			increment_counter, flags, flags_start, flags_end, 2);
}

/* N lanes of the batch kernel (see b3_lanes in blake3_int.h). */
static __attribute__((unused)) void KN(lanes)(b3_lanes *st, size_t nsteps)
{
	V h[8], v[1][16], m[1][16];
	bool all_out = true;

	for (int l = 0; l < N; l++) {
		if (st->reset_mask >> l & 1)
			for (int i = 0; i < 8; i++)
				st->cv[i][l] = st->key[i];
		all_out &= st->out[l] != NULL;
	}
	for (int i = 0; i < 8; i++)
		h[i] = V_LOAD32(st->cv[i]);
	const V ctr_lo = V_LOAD32(st->ctr_lo);
	const V ctr_hi = V_LOAD32(st->ctr_hi);
	const V f_mid = V_LOAD32(st->flags_mid);

	for (size_t s = 0; s < nsteps; s++) {
		bool last = s + 1 == nsteps;
		V f = f_mid, blen = V_SET1(B3_BLOCK_LEN);

		if (s == 0)
			f = V_OR(f, V_LOAD32(st->flags_first));
		if (last) {
			f = V_OR(f, V_LOAD32(st->flags_last));
			blen = V_LOAD32(st->blen_last);
			LOAD_MSG(m[0], st->last, 0);
		} else {
			LOAD_MSG(m[0], st->ptr, s * B3_BLOCK_LEN);
		}
		KN(init_state)(v[0], h, ctr_lo, ctr_hi, blen, f);
		KN(rounds)(v, m, 1);
		for (int i = 0; i < 8; i++)
			h[i] = V_XOR(v[0][i], v[0][i + 8]);
	}
	if (all_out) {
		STORE_CVS(st->out, h);
		return;
	}
	for (int i = 0; i < 8; i++)
		V_STORE32(st->cv[i], h[i]);
	for (int l = 0; l < N; l++) {
		if (!st->out[l])
			continue;
		for (int i = 0; i < 8; i++)
			b3_store32(st->out[l] + 4 * i, st->cv[i][l]);
	}
}

/* N consecutive root output blocks, counters counter..counter+N-1. */
static __attribute__((unused)) void
KN(xof_n)(uint8_t *out, const uint32_t cv[8], const uint8_t block[64],
	  uint8_t block_len, uint64_t counter, uint8_t flags)
{
	V h[8], v[1][16], m[1][16], ctr_lo, ctr_hi;

	for (int i = 0; i < 8; i++)
		h[i] = V_SET1(cv[i]);
	for (int j = 0; j < 16; j++)
		m[0][j] = V_SET1(b3_load32(block + 4 * j));
	KN(counters)(&ctr_lo, &ctr_hi, counter, true);
	KN(init_state)(v[0], h, ctr_lo, ctr_hi, V_SET1(block_len),
		       V_SET1(flags));
	KN(rounds)(v, m, 1);
	for (int i = 0; i < 8; i++) {
		V upper = v[0][i + 8];

		v[0][i] = V_XOR(v[0][i], upper);
		v[0][i + 8] = V_XOR(upper, h[i]);
	}
	STORE_BLOCKS(out, v[0]);
}

#undef KERNEL
