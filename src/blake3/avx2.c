/*
 * avx2.c - the AVX2 kernel set (compiled with -mavx2 only): eight inputs
 * side by side in 256-bit vectors (the N-lane kernels); single blocks and
 * one-chunk messages as 128-bit rows (simd_rows.h), VEX-encoded. Two to
 * four inputs run as row compressions, two per 256-bit vector, in
 * avx2_rows.c (compiled with other flags). XOF remainders of fewer than
 * eight blocks go to the SSE4.1 code.
 */
#include "blake3_int.h"
#include "x86_half_round.h"
#include "x86_transpose.h"

/* One compression at a time: the SSE4.1 rows, VEX-encoded. */
#define KR(name) rows_avx2_##name
#include "simd_rows.h"


#define V __m256i
#define N 8
#define KN(name) name##_avx2_8
#define V_ADD(a, b) _mm256_add_epi32((a), (b))
#define V_XOR(a, b) _mm256_xor_si256((a), (b))
#define V_OR(a, b) _mm256_or_si256((a), (b))
#define V_SET1(x) _mm256_set1_epi32((int)(x))
#define V_HALF_ROUND(v, c8, m, A, B, C, D, X, Y)                             \
	X86_HALF_ROUND(VEX, v, c8, m, A, B, C, D, X, Y, x86_rot16_256,        \
		       x86_rot8_256)
#define V_LOAD32(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define V_STORE32(p, x) _mm256_storeu_si256((__m256i *)(void *)(p), (x))
#define LOAD_MSG(m, p, off) load_msg_256((m), (p), (off))
#define STORE_BLOCKS(out, w) store_blocks_256((out), (w))
#define STORE_CVS(o, h) store_cvs_256((o), (h))
#define PREFETCH_AHEAD(addr) _mm_prefetch((const char *)(addr), _MM_HINT_T1)
#include "simd_kernels.h"

/*
 * Groups of eight, the last one padded when more than four inputs are
 * left. Four or fewer run as rows, two compressions per vector and two
 * vectors interleaved: a row compression is bound by its chain of
 * dependent operations, so a second and a third one beside it are almost
 * free, where the transposed kernel costs the same for one input as for
 * its full width.
 */

static void hash_many_avx2(uint8_t *out, const uint8_t *input, size_t stride,
			   size_t count, size_t blocks, const uint32_t key[8],
			   uint64_t counter, bool increment_counter,
			   uint8_t flags, uint8_t flags_start,
			   uint8_t flags_end)
{
	while (count > 4) {
		size_t n = count < 8 ? count : 8;

		hash_n_avx2_8(out, input, stride, n, blocks, key, counter,
			      increment_counter, flags, flags_start, flags_end);
		out += n * B3_OUT_LEN;
		input += n * stride;
		count -= n;
		counter += increment_counter ? n : 0;
	}
	if (count == 0) /* a call chain for nothing cost full groups 5% */
		return;
	if (b3_scalar_single)
		b3_sse41_hash_many(out, input, stride, count, blocks, key,
				   counter, increment_counter, flags,
				   flags_start, flags_end);
	else
		b3_avx2_rows_pairs(out, input, stride, count, blocks, key,
				   counter, increment_counter, flags,
				   flags_start, flags_end);
}

static void xof_many_avx2(uint8_t *out, const uint32_t cv[8],
			  const uint8_t block[64], uint8_t block_len,
			  uint64_t counter, uint8_t flags, size_t outblocks)
{
	while (outblocks >= 8) {
		xof_n_avx2_8(out, cv, block, block_len, counter, flags);
		out += 8 * 64;
		counter += 8;
		outblocks -= 8;
	}
	b3_sse41_xof_many(out, cv, block, block_len, counter, flags,
			  outblocks);
}

const b3_kernels b3_kernels_avx2 = {
	.level = B3CAS_SIMD_AVX2,
	.name = "avx2",
	.degree = 8,
	.lanes = 8,
	.compress = rows_avx2_compress,
	.chunk = rows_avx2_chunk,
	.compress_xof = rows_avx2_compress_xof,
	.hash_many = hash_many_avx2,
	.xof_many = xof_many_avx2,
	.lanes_run = lanes_avx2_8,
};
