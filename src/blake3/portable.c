/*
 * portable.c - the reference kernel set in plain C11, and the constants of
 * BLAKE3. Every SIMD kernel is tested against these functions, so they are
 * written for clarity first; they are also the fallback on any CPU.
 */
#include "blake3_int.h"

const uint32_t b3_iv[8] = {0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
			   0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19};

const uint8_t b3_zero_chunk[B3_CHUNK_LEN];

static inline uint32_t rotr32(uint32_t w, unsigned c)
{
	return (w >> c) | (w << (32 - c));
}

/*
 * The state lives in sixteen named locals rather than an array so that the
 * compiler keeps it in registers. A compression is one long dependency
 * chain, so its speed is its latency: in a = a + b + m, m is added first
 * (a and m are ready early, b arrives last). On x86-64 that addition is
 * an asm instruction with a memory operand: it keeps the compiler from
 * reassociating the sum back into (a + b) + m, and from loading all sixteen
 * message words into registers up front, which would spill the state.
 */
#if defined(__x86_64__)
#define ADD_MSG(a, i)                                                        \
	__asm__("addl %1, %0" : "+r"(a) : "m"(*(const uint32_t *)(const void *)(block + 4 * (i))))
#else
#define ADD_MSG(a, i) ((a) += b3_load32(block + 4 * (i)))
#endif

#define G(a, b, c, d, x, y)                                                  \
	do {                                                                 \
		ADD_MSG(a, x);                                               \
		a += b;                                                      \
		d = rotr32(d ^ a, 16);                                       \
		c += d;                                                      \
		b = rotr32(b ^ c, 12);                                       \
		ADD_MSG(a, y);                                               \
		a += b;                                                      \
		d = rotr32(d ^ a, 8);                                        \
		c += d;                                                      \
		b = rotr32(b ^ c, 7);                                        \
	} while (0)

#define ROUND(s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13,    \
	      s14, s15)                                                      \
	do {                                                                 \
		G(v0, v4, v8, v12, s0, s1);                            \
		G(v1, v5, v9, v13, s2, s3);                            \
		G(v2, v6, v10, v14, s4, s5);                           \
		G(v3, v7, v11, v15, s6, s7);                           \
		G(v0, v5, v10, v15, s8, s9);                           \
		G(v1, v6, v11, v12, s10, s11);                         \
		G(v2, v7, v8, v13, s12, s13);                          \
		G(v3, v4, v9, v14, s14, s15);                          \
	} while (0)

static inline __attribute__((always_inline)) void
compress_state(uint32_t s[16], const uint32_t cv[8], const uint8_t block[64],
	       uint8_t block_len, uint64_t counter, uint8_t flags)
{
	uint32_t v0 = cv[0], v1 = cv[1], v2 = cv[2], v3 = cv[3];
	uint32_t v4 = cv[4], v5 = cv[5], v6 = cv[6], v7 = cv[7];
	uint32_t v8 = b3_iv[0], v9 = b3_iv[1], v10 = b3_iv[2], v11 = b3_iv[3];
	uint32_t v12 = (uint32_t)counter, v13 = (uint32_t)(counter >> 32);
	uint32_t v14 = block_len, v15 = flags;

	B3_SCHEDULE(ROUND);
	s[0] = v0, s[1] = v1, s[2] = v2, s[3] = v3;
	s[4] = v4, s[5] = v5, s[6] = v6, s[7] = v7;
	s[8] = v8, s[9] = v9, s[10] = v10, s[11] = v11;
	s[12] = v12, s[13] = v13, s[14] = v14, s[15] = v15;
}

#undef G
#undef ADD_MSG
#undef ROUND

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

void b3_portable_chunk(uint32_t cv[8], const uint8_t *in, size_t len,
		       uint64_t counter, uint8_t flags, uint8_t flags_start,
		       uint8_t flags_end)
{
	uint8_t f = flags | flags_start;
	uint8_t last[B3_BLOCK_LEN] = {0};

	while (len > B3_BLOCK_LEN) {
		b3_portable_compress(cv, in, B3_BLOCK_LEN, counter, f);
		f = flags;
		in += B3_BLOCK_LEN;
		len -= B3_BLOCK_LEN;
	}
	if (len > 0)
		memcpy(last, in, len);
	b3_portable_compress(cv, last, (uint8_t)len, counter, f | flags_end);
}

void b3_hash_many_with(const b3_kernels *k, uint8_t *out,
		       const uint8_t *input, size_t stride, size_t count,
		       size_t blocks, const uint32_t key[8], uint64_t counter,
		       bool increment_counter, uint8_t flags,
		       uint8_t flags_start, uint8_t flags_end)
{
	for (size_t i = 0; i < count; i++) {
		uint64_t ctr = counter + (increment_counter ? i : 0);
		uint32_t cv[8];

		memcpy(cv, key, 32);
		k->chunk(cv, input + i * stride, blocks * B3_BLOCK_LEN, ctr,
			 flags, flags_start, flags_end);
		b3_store_cv(out + 32 * i, cv);
	}
}

void b3_portable_hash_many(uint8_t *out, const uint8_t *input, size_t stride,
			   size_t count, size_t blocks, const uint32_t key[8],
			   uint64_t counter, bool increment_counter,
			   uint8_t flags, uint8_t flags_start,
			   uint8_t flags_end)
{
	b3_hash_many_with(&b3_kernels_portable, out, input, stride, count,
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
	.chunk = b3_portable_chunk,
	.compress_xof = b3_portable_compress_xof,
	.hash_many = b3_portable_hash_many,
	.xof_many = b3_portable_xof_many,
	.lanes_run = b3_portable_lanes_run,
};
