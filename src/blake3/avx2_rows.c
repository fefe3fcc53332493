/*
 * avx2_rows.c - the AVX2 set's row kernels for two to four inputs: the
 * rows of two compressions in one 256-bit vector (simd_rows.h), two such
 * vectors interleaved for three or four inputs. Compiled with -mavx2 and,
 * under gcc, with pre-register-allocation scheduling (-fschedule-insns
 * -fsched-pressure, see CMakeLists.txt), which gcc does not run on x86 by
 * default. Without it the two vectors' chains reach the core one G
 * function after the other and the pair ran at 0.93-0.96x the official
 * release's assembly on four chunks (AMD Zen 4, 3,416 against 3,291 TSC
 * ticks a call); with it, 0.99-1.01x, and four parents (one block each)
 * went from 0.93x to 1.05x. The same flags slowed the 8-lane kernel of
 * avx2.c (its order is fixed by asm; the scheduler moved the message
 * transposes into it), which is why these functions have a file of their
 * own.
 */
#include "blake3_int.h"
#include "x86_transpose.h"

/* Two or four inputs: the rows of two compressions in one vector. */
#define KR(name) rows2_avx2_##name
#define RV_LANES 2
#define RV_XOR_ROR(x, y, n) XOR_ROR256_##n((x), (y))
#define XOR_ROR256_16(x, y) ror16_256(_mm256_xor_si256((x), (y)))
#define XOR_ROR256_12(x, y) ROR_SHIFT_256(_mm256_xor_si256((x), (y)), 12)
#define XOR_ROR256_8(x, y) ror8_256(_mm256_xor_si256((x), (y)))
#define XOR_ROR256_7(x, y) ROR_SHIFT_256(_mm256_xor_si256((x), (y)), 7)
#define ROR_SHIFT_256(x, c)                                                  \
	_mm256_or_si256(_mm256_srli_epi32((x), (c)),                         \
			_mm256_slli_epi32((x), 32 - (c)))

static inline __m256i ror16_256(__m256i x)
{
	return _mm256_shuffle_epi8(
		x, _mm256_set_epi8(13, 12, 15, 14, 9, 8, 11, 10, 5, 4, 7, 6, 1,
				   0, 3, 2, 13, 12, 15, 14, 9, 8, 11, 10, 5, 4,
				   7, 6, 1, 0, 3, 2));
}

static inline __m256i ror8_256(__m256i x)
{
	return _mm256_shuffle_epi8(
		x, _mm256_set_epi8(12, 15, 14, 13, 8, 11, 10, 9, 4, 7, 6, 5, 0,
				   3, 2, 1, 12, 15, 14, 13, 8, 11, 10, 9, 4, 7,
				   6, 5, 0, 3, 2, 1));
}

#include "simd_rows.h"

/*
 * One to four inputs as row compressions, two per vector: three or four as
 * two vectors interleaved, two as one vector, one as the single-row chunk
 * of the AVX2 set.
 */
void b3_avx2_rows_pairs(uint8_t *out, const uint8_t *input, size_t stride,
			size_t count, size_t blocks, const uint32_t key[8],
			uint64_t counter, bool increment_counter,
			uint8_t flags, uint8_t flags_start, uint8_t flags_end)
{
	if (count > 2)
		rows2_avx2_hash_rows(out, input, stride, count, blocks, key,
				     counter, increment_counter, flags,
				     flags_start, flags_end, 2);
	else if (count == 2)
		rows2_avx2_hash_rows(out, input, stride, count, blocks, key,
				     counter, increment_counter, flags,
				     flags_start, flags_end, 1);
	else
		b3_hash_many_with(&b3_kernels_avx2, out, input, stride, count,
				  blocks, key, counter, increment_counter,
				  flags, flags_start, flags_end);
}
