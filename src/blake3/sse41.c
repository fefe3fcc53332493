/*
 * sse41.c - the SSE4.1 kernel set (compiled with -msse4.1 only).
 *
 * hash_many, lanes and xof_many run four inputs side by side, one per lane;
 * two inputs run as two interleaved row compressions, and single blocks and
 * one-chunk messages as one (simd_rows.h): on Intel and AMD Zen 2 to Zen 4
 * that beats the scalar compression of portable.c, which dispatch.c still
 * picks on Zen 5.
 */
#include "blake3_int.h"
#include "x86_half_round.h"
#include "x86_transpose.h"

/* ---- one compression at a time ---- */

#define KR(name) rows_sse41_##name
#include "simd_rows.h"

/* ---- four inputs side by side ---- */

#define V __m128i
#define N 4
#define KN(name) name##_sse41_4
#define V_ADD(a, b) _mm_add_epi32((a), (b))
#define V_XOR(a, b) _mm_xor_si128((a), (b))
#define V_OR(a, b) _mm_or_si128((a), (b))
#define V_SET1(x) _mm_set1_epi32((int)(x))
/* Legacy encoding, unless the build enabled AVX for every file: then gcc
 * emits VEX for the intrinsics, and mixing the two stalls Intel CPUs. */
#ifdef __AVX__
#define X86_ISA_128 VEX
#else
#define X86_ISA_128 SSE
#endif
#define X86_HALF_ROUND_128(isa, ...) X86_HALF_ROUND(isa, __VA_ARGS__)
#define V_HALF_ROUND(v, c8, m, A, B, C, D, X, Y)                             \
	X86_HALF_ROUND_128(X86_ISA_128, v, c8, m, A, B, C, D, X, Y,           \
			   x86_rot16_128, x86_rot8_128)
#define V_LOAD32(p) LOADU128(p)
#define V_STORE32(p, x) STOREU128((p), (x))
#define LOAD_MSG(m, p, off) load_msg_128((m), (p), (off))
#define STORE_BLOCKS(out, w) store_blocks_128((out), (w))
#define STORE_CVS(o, h) store_cvs_128((o), (h))
#define PREFETCH_AHEAD(addr) _mm_prefetch((const char *)(addr), _MM_HINT_T1)
#include "simd_kernels.h"

/* Groups of four, the last one padded when three are left; two run as two
 * interleaved row compressions (see simd_rows.h), one as one. */
void b3_sse41_hash_many(uint8_t *out, const uint8_t *input, size_t stride,
			size_t count, size_t blocks, const uint32_t key[8],
			uint64_t counter, bool increment_counter,
			uint8_t flags, uint8_t flags_start, uint8_t flags_end)
{
	while (count > (b3_scalar_single ? 1 : 2)) {
		size_t n = count < 4 ? count : 4;

		hash_n_sse41_4(out, input, stride, n, blocks, key, counter,
			       increment_counter, flags, flags_start,
			       flags_end);
		out += n * B3_OUT_LEN;
		input += n * stride;
		count -= n;
		counter += increment_counter ? n : 0;
	}
	if (count == 2)
		rows_sse41_hash_rows(out, input, stride, count, blocks, key,
				     counter, increment_counter, flags,
				     flags_start, flags_end, 2);
	else if (count > 0)
		b3_hash_many_with(b3_scalar_single ? &b3_kernels_portable
						   : &b3_kernels_sse41,
				  out, input, stride, count,
				  blocks, key, counter, increment_counter,
				  flags, flags_start, flags_end);
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
	b3_xof_many_with(rows_sse41_compress_xof, out, cv, block, block_len,
			 counter, flags, outblocks);
}

const b3_kernels b3_kernels_sse41 = {
	.level = B3CAS_SIMD_SSE41,
	.name = "sse41",
	.degree = 4,
	.lanes = 4,
	.compress = rows_sse41_compress,
	.chunk = rows_sse41_chunk,
	.compress_xof = rows_sse41_compress_xof,
	.hash_many = b3_sse41_hash_many,
	.xof_many = b3_sse41_xof_many,
	.lanes_run = lanes_sse41_4,
};
