/*
 * avx512.c - the AVX-512 kernel set (compiled with -mavx512f -mavx512vl
 * only). AVX-512 brings a rotate instruction (vprord), so every rotation
 * is one instruction at every width; the kernels here run 16 inputs side
 * by side in 512-bit vectors, and 8 or 4 in 256- or 128-bit ones for what
 * is left over.
 *
 * Groups of 16 run one after the other, not two interleaved: 32 state
 * vectors plus the message do not fit 32 registers, and on AMD Zen 4 the
 * spills made two interleaved groups slower than two calls (hash_many on
 * 32 chunks: 0.73-0.85x the official release, against 0.96x).
 * Two to four inputs run as row compressions (two per 256-bit vector,
 * four per 512-bit one), single blocks and one-chunk messages as 128-bit
 * rows (simd_rows.h), with the rotation written for a three-way xor.
 */
#include "blake3_int.h"
#include "x86_transpose.h"

/* ---- one compression at a time (128-bit rows, with vprord) ---- */

#define KR(name) rows_avx512_##name
/*
 * ror(x ^ y, n) = ror(x, n) ^ (y >> n) ^ (y << (32 - n)): the two shifted
 * halves of y do not overlap, so or is xor. ror(x, n) is ready before y
 * arrives, and from y it is two steps (the shifts side by side, then one
 * three-way xor) instead of an xor and a rotation. vprord takes two cycles
 * on AMD Zen 4, so this shortens every G function there.
 */
#define RV_XOR_ROR(x, y, n)                                                  \
	_mm_ternarylogic_epi32(_mm_ror_epi32((x), (n)),                      \
			       _mm_srli_epi32((y), (n)),                     \
			       _mm_slli_epi32((y), 32 - (n)), 0x96)
#include "simd_rows.h"

/* Two to four inputs: the rows of two compressions in one 256-bit vector
 * (on Zen 4 a 512-bit operation is two 256-bit ones). */
#define KR(name) rows2_avx512_##name
#define RV_LANES 2
#define RV_XOR_ROR(x, y, n)                                                  \
	_mm256_ternarylogic_epi32(_mm256_ror_epi32((x), (n)),                \
				  _mm256_srli_epi32((y), (n)),               \
				  _mm256_slli_epi32((y), 32 - (n)), 0x96)
#include "simd_rows.h"

/* Three or four inputs: the rows of four compressions in one vector. */
#define KR(name) rows4_avx512_##name
#define RV_LANES 4
/* Four compressions per vector are bound by throughput, not latency (Zen
 * 4 runs a 512-bit operation as two 256-bit halves), so the rotation is
 * one vprord: the three-way xor form takes three shift-port operations.
 * Measured on 4 KiB: 1.00x the official release, against 0.92x. */
#define RV_XOR_ROR(x, y, n) _mm512_ror_epi32(_mm512_xor_si512((x), (y)), (n))
#include "simd_rows.h"

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
#define V_ADD_MSG(x, mem) __asm__("vpaddd %1, %0, %0" : "+v"(x) : "vm"(mem))
#define V_LOAD32(p) _mm512_loadu_si512((const void *)(p))
#define V_STORE32(p, x) _mm512_storeu_si512((void *)(p), (x))
#define LOAD_MSG(m, p, off) load_msg_512((m), (p), (off))
#define STORE_BLOCKS(out, w) store_blocks_512((out), (w))
#define STORE_CVS(o, h) store_cvs_512((o), (h))
#define PREFETCH_AHEAD(addr) _mm_prefetch((const char *)(addr), _MM_HINT_T1)
#include "simd_kernels.h"
#undef PREFETCH_AHEAD
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
#undef V_ADD_MSG
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
#define V_ADD_MSG(x, mem) __asm__("vpaddd %1, %0, %0" : "+v"(x) : "vm"(mem))
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
#undef V_ADD_MSG
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
#define V_ADD_MSG(x, mem) __asm__("vpaddd %1, %0, %0" : "+v"(x) : "vm"(mem))
#define V_LOAD32(p) LOADU128(p)
#define V_STORE32(p, x) STOREU128((p), (x))
#define LOAD_MSG(m, p, off) load_msg_128((m), (p), (off))
#define STORE_BLOCKS(out, w) store_blocks_128((out), (w))
#define STORE_CVS(o, h) store_cvs_128((o), (h))
#include "simd_kernels.h"

/*
 * Every call takes the narrowest kernel that holds what is left, even
 * partly empty: on a two-cycle-latency core a 4-lane call costs about the
 * same as one compression chain of 1.5 blocks, so two or three inputs are
 * already cheaper side by side than one after the other.
 */
static void hash_many_avx512(uint8_t *out, const uint8_t *input,
			     size_t stride, size_t count, size_t blocks,
			     const uint32_t key[8], uint64_t counter,
			     bool increment_counter, uint8_t flags,
			     uint8_t flags_start, uint8_t flags_end)
{
	while (count > 1) {
		size_t n;

		if (count > 8) {
			n = count < 16 ? count : 16;
			hash_n_avx512_16(out, input, stride, n, blocks, key,
					 counter, increment_counter, flags,
					 flags_start, flags_end);
		} else if (count > 4) {
			n = count;
			hash_n_avx512_8(out, input, stride, n, blocks, key,
					counter, increment_counter, flags,
					flags_start, flags_end);
		} else {
			/* Rows, two compressions per vector: see avx2.c. */
			n = count;
			if (b3_scalar_single)
				hash_n_avx512_4(out, input, stride, n, blocks,
						key, counter,
						increment_counter, flags,
						flags_start, flags_end);
			else if (n > 2)
				rows4_avx512_hash_rows(
					out, input, stride, n, blocks, key,
					counter, increment_counter, flags,
					flags_start, flags_end, 1);
			else
				rows2_avx512_hash_rows(
					out, input, stride, n, blocks, key,
					counter, increment_counter, flags,
					flags_start, flags_end, 1);
		}
		out += n * B3_OUT_LEN;
		input += n * stride;
		count -= n;
		counter += increment_counter ? n : 0;
	}
	if (count > 0) /* a call for nothing costs; see hash_many_avx2 */
		b3_hash_many_with(b3_scalar_single ? &b3_kernels_portable
						   : &b3_kernels_avx512,
				  out, input, stride, count,
				  blocks, key, counter, increment_counter,
				  flags, flags_start, flags_end);
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
	b3_xof_many_with(rows_avx512_compress_xof, out, cv, block, block_len,
			 counter, flags, outblocks);
}

const b3_kernels b3_kernels_avx512 = {
	.level = B3CAS_SIMD_AVX512,
	.name = "avx512",
	.degree = 16,
	.lanes = 16,
	.compress = rows_avx512_compress,
	.chunk = rows_avx512_chunk,
	.compress_xof = rows_avx512_compress_xof,
	.hash_many = hash_many_avx512,
	.xof_many = xof_many_avx512,
	.lanes_run = lanes_avx512_16,
};
