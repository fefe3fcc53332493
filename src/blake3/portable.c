/*
 * portable.c - the reference kernel set in plain C11, and the constants of
 * BLAKE3. Every SIMD kernel is tested against these functions, so they are
 * written for clarity first; they are also the fallback on any CPU.
 */
#include "blake3_int.h"

const uint32_t b3_iv[8] = {0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
			   0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19};

/* Row r is the message permutation of the spec applied r times. */
const uint8_t b3_schedule[7][16] = {
	{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
	{2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8},
	{3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1},
	{10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6},
	{12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4},
	{9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7},
	{11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13},
};

static inline uint32_t rotr32(uint32_t w, unsigned c)
{
	return (w >> c) | (w << (32 - c));
}

static inline void g(uint32_t s[16], int a, int b, int c, int d, uint32_t x,
		     uint32_t y)
{
	s[a] = s[a] + s[b] + x;
	s[d] = rotr32(s[d] ^ s[a], 16);
	s[c] = s[c] + s[d];
	s[b] = rotr32(s[b] ^ s[c], 12);
	s[a] = s[a] + s[b] + y;
	s[d] = rotr32(s[d] ^ s[a], 8);
	s[c] = s[c] + s[d];
	s[b] = rotr32(s[b] ^ s[c], 7);
}

static inline void round_fn(uint32_t s[16], const uint32_t m[16], int r)
{
	const uint8_t *p = b3_schedule[r];

	g(s, 0, 4, 8, 12, m[p[0]], m[p[1]]);
	g(s, 1, 5, 9, 13, m[p[2]], m[p[3]]);
	g(s, 2, 6, 10, 14, m[p[4]], m[p[5]]);
	g(s, 3, 7, 11, 15, m[p[6]], m[p[7]]);
	g(s, 0, 5, 10, 15, m[p[8]], m[p[9]]);
	g(s, 1, 6, 11, 12, m[p[10]], m[p[11]]);
	g(s, 2, 7, 8, 13, m[p[12]], m[p[13]]);
	g(s, 3, 4, 9, 14, m[p[14]], m[p[15]]);
}

static void compress_state(uint32_t s[16], const uint32_t cv[8],
			   const uint8_t block[64], uint8_t block_len,
			   uint64_t counter, uint8_t flags)
{
	uint32_t m[16];

	for (int i = 0; i < 16; i++)
		m[i] = b3_load32(block + 4 * i);
	for (int i = 0; i < 8; i++)
		s[i] = cv[i];
	for (int i = 0; i < 4; i++)
		s[8 + i] = b3_iv[i];
	s[12] = (uint32_t)counter;
	s[13] = (uint32_t)(counter >> 32);
	s[14] = block_len;
	s[15] = flags;
	for (int r = 0; r < 7; r++)
		round_fn(s, m, r);
}

void b3_portable_compress(uint32_t cv[8], const uint8_t block[64],
			  uint8_t block_len, uint64_t counter, uint8_t flags)
{
	uint32_t s[16];

	compress_state(s, cv, block, block_len, counter, flags);
	for (int i = 0; i < 8; i++)
		cv[i] = s[i] ^ s[i + 8];
}

void b3_portable_compress_xof(uint8_t out[64], const uint32_t cv[8],
			      const uint8_t block[64], uint8_t block_len,
			      uint64_t counter, uint8_t flags)
{
	uint32_t s[16];

	compress_state(s, cv, block, block_len, counter, flags);
	for (int i = 0; i < 8; i++) {
		b3_store32(out + 4 * i, s[i] ^ s[i + 8]);
		b3_store32(out + 32 + 4 * i, s[i + 8] ^ cv[i]);
	}
}

void b3_hash_many_with(b3_compress_fn compress, uint8_t *out,
		       const uint8_t *input, size_t stride, size_t count,
		       size_t blocks, const uint32_t key[8], uint64_t counter,
		       bool increment_counter, uint8_t flags,
		       uint8_t flags_start, uint8_t flags_end)
{
	for (size_t i = 0; i < count; i++) {
		const uint8_t *in = input + i * stride;
		uint64_t ctr = counter + (increment_counter ? i : 0);
		uint32_t cv[8];

		memcpy(cv, key, 32);
		for (size_t b = 0; b < blocks; b++) {
			uint8_t f = flags;

			if (b == 0)
				f |= flags_start;
			if (b + 1 == blocks)
				f |= flags_end;
			compress(cv, in + 64 * b, B3_BLOCK_LEN, ctr, f);
		}
		b3_store_cv(out + 32 * i, cv);
	}
}

void b3_portable_hash_many(uint8_t *out, const uint8_t *input, size_t stride,
			   size_t count, size_t blocks, const uint32_t key[8],
			   uint64_t counter, bool increment_counter,
			   uint8_t flags, uint8_t flags_start,
			   uint8_t flags_end)
{
	b3_hash_many_with(b3_portable_compress, out, input, stride, count,
			  blocks, key, counter, increment_counter, flags,
			  flags_start, flags_end);
}

void b3_xof_many_with(b3_compress_xof_fn compress_xof, uint8_t *out,
		      const uint32_t cv[8], const uint8_t block[64],
		      uint8_t block_len, uint64_t counter, uint8_t flags,
		      size_t outblocks)
{
	for (size_t i = 0; i < outblocks; i++)
		compress_xof(out + 64 * i, cv, block, block_len, counter + i,
			     flags);
}

void b3_portable_xof_many(uint8_t *out, const uint32_t cv[8],
			  const uint8_t block[64], uint8_t block_len,
			  uint64_t counter, uint8_t flags, size_t outblocks)
{
	b3_xof_many_with(b3_portable_compress_xof, out, cv, block, block_len,
			 counter, flags, outblocks);
}

void b3_lanes_run_with(b3_compress_fn compress, b3_lanes *st, size_t lanes,
		       size_t nsteps)
{
	for (size_t l = 0; l < lanes; l++) {
		uint64_t ctr = st->ctr_lo[l] | (uint64_t)st->ctr_hi[l] << 32;
		uint32_t cv[8];

		for (int i = 0; i < 8; i++)
			cv[i] = (st->reset_mask >> l & 1) ? st->key[i]
							  : st->cv[i][l];
		for (size_t s = 0; s < nsteps; s++) {
			bool last = s + 1 == nsteps;
			uint32_t f = st->flags_mid[l];

			if (s == 0)
				f |= st->flags_first[l];
			if (last)
				f |= st->flags_last[l];
			compress(cv, last ? st->last[l] : st->ptr[l] + 64 * s,
				 (uint8_t)(last ? st->blen_last[l] : 64), ctr,
				 (uint8_t)f);
		}
		for (int i = 0; i < 8; i++)
			st->cv[i][l] = cv[i];
		if (st->out[l])
			b3_store_cv(st->out[l], cv);
	}
}

void b3_portable_lanes_run(b3_lanes *st, size_t nsteps)
{
	b3_lanes_run_with(b3_portable_compress, st, 1, nsteps);
}

const b3_kernels b3_kernels_portable = {
	.level = B3CAS_SIMD_PORTABLE,
	.name = "portable",
	.degree = 1,
	.lanes = 1,
	.compress = b3_portable_compress,
	.compress_xof = b3_portable_compress_xof,
	.hash_many = b3_portable_hash_many,
	.xof_many = b3_portable_xof_many,
	.lanes_run = b3_portable_lanes_run,
};
