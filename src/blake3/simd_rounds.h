/*
 * simd_rounds.h - the seven BLAKE3 rounds on "transposed" state: v[i] holds
 * state word i of N independent compressions, one per vector lane, and
 * m[j] holds message word j of each. Included by a kernel file after it
 * defines its vector type and operations:
 *
 *   V                 vector type
 *   V_ADD(a, b)       lane-wise 32-bit add
 *   V_XOR(a, b)       xor
 *   V_ROR16/12/8/7(x) lane-wise rotate right by 16, 12, 8, 7
 *   ROUNDS_NAME       name of the function to define
 *
 * No shuffles are needed in this layout: columns and diagonals are just
 * different register indices. Each half-round is written as four G
 * functions interleaved step by step so the out-of-order core sees four
 * independent chains. In a = a + b + m, m is added first: a and m are
 * ready early, b arrives last.
 */

#define HALF_ROUND(a0, b0, c0, d0, a1, b1, c1, d1, a2, b2, c2, d2, a3, b3,  \
		   c3, d3, x0, y0, x1, y1, x2, y2, x3, y3)                   \
	do {                                                                 \
		v[a0] = V_ADD(V_ADD(v[a0], m[x0]), v[b0]);                   \
		v[a1] = V_ADD(V_ADD(v[a1], m[x1]), v[b1]);                   \
		v[a2] = V_ADD(V_ADD(v[a2], m[x2]), v[b2]);                   \
		v[a3] = V_ADD(V_ADD(v[a3], m[x3]), v[b3]);                   \
		v[d0] = V_ROR16(V_XOR(v[d0], v[a0]));                        \
		v[d1] = V_ROR16(V_XOR(v[d1], v[a1]));                        \
		v[d2] = V_ROR16(V_XOR(v[d2], v[a2]));                        \
		v[d3] = V_ROR16(V_XOR(v[d3], v[a3]));                        \
		v[c0] = V_ADD(v[c0], v[d0]);                                 \
		v[c1] = V_ADD(v[c1], v[d1]);                                 \
		v[c2] = V_ADD(v[c2], v[d2]);                                 \
		v[c3] = V_ADD(v[c3], v[d3]);                                 \
		v[b0] = V_ROR12(V_XOR(v[b0], v[c0]));                        \
		v[b1] = V_ROR12(V_XOR(v[b1], v[c1]));                        \
		v[b2] = V_ROR12(V_XOR(v[b2], v[c2]));                        \
		v[b3] = V_ROR12(V_XOR(v[b3], v[c3]));                        \
		v[a0] = V_ADD(V_ADD(v[a0], m[y0]), v[b0]);                   \
		v[a1] = V_ADD(V_ADD(v[a1], m[y1]), v[b1]);                   \
		v[a2] = V_ADD(V_ADD(v[a2], m[y2]), v[b2]);                   \
		v[a3] = V_ADD(V_ADD(v[a3], m[y3]), v[b3]);                   \
		v[d0] = V_ROR8(V_XOR(v[d0], v[a0]));                         \
		v[d1] = V_ROR8(V_XOR(v[d1], v[a1]));                         \
		v[d2] = V_ROR8(V_XOR(v[d2], v[a2]));                         \
		v[d3] = V_ROR8(V_XOR(v[d3], v[a3]));                         \
		v[c0] = V_ADD(v[c0], v[d0]);                                 \
		v[c1] = V_ADD(v[c1], v[d1]);                                 \
		v[c2] = V_ADD(v[c2], v[d2]);                                 \
		v[c3] = V_ADD(v[c3], v[d3]);                                 \
		v[b0] = V_ROR7(V_XOR(v[b0], v[c0]));                         \
		v[b1] = V_ROR7(V_XOR(v[b1], v[c1]));                         \
		v[b2] = V_ROR7(V_XOR(v[b2], v[c2]));                         \
		v[b3] = V_ROR7(V_XOR(v[b3], v[c3]));                         \
	} while (0)

#define ONE_ROUND(s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12,     \
		  s13, s14, s15)                                             \
	do {                                                                 \
		HALF_ROUND(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, \
			   15, s0, s1, s2, s3, s4, s5, s6, s7);               \
		HALF_ROUND(0, 5, 10, 15, 1, 6, 11, 12, 2, 7, 8, 13, 3, 4, 9, \
			   14, s8, s9, s10, s11, s12, s13, s14, s15);         \
	} while (0)

/* The message schedule of the spec, one row per round (see portable.c). */
static inline __attribute__((always_inline)) void ROUNDS_NAME(V v[16],
							    const V m[16])
{
	ONE_ROUND(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
	ONE_ROUND(2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8);
	ONE_ROUND(3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1);
	ONE_ROUND(10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6);
	ONE_ROUND(12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4);
	ONE_ROUND(9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7);
	ONE_ROUND(11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13);
}

#undef HALF_ROUND
#undef ONE_ROUND
