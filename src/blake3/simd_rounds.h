/*
 * simd_rounds.h - the seven BLAKE3 rounds on "transposed" state: v[g][i]
 * holds state word i of N independent compressions, one per vector lane,
 * and m[g][j] message word j of each; g numbers independent groups of N
 * lanes. Included by a kernel file after it defines:
 *
 *   V                 vector type
 *   V_ADD(a, b)       lane-wise 32-bit add
 *   V_XOR(a, b)       xor
 *   V_ROR16/12/8/7(x) lane-wise rotate right by 16, 12, 8, 7
 *   V_ADD_MSG(x, m)   x += m where m is an lvalue in memory (see below)
 *   ROUNDS_NAME       name of the function to define
 *
 * No shuffles are needed in this layout: columns and diagonals are just
 * different register indices. Each half-round is written as its four G
 * functions (times the groups) interleaved step by step, so the core sees
 * 4 x groups independent dependency chains. On CPUs where vector
 * operations take two cycles (AMD Zen 5), one group of four chains cannot
 * keep the vector units busy; two groups can.
 *
 * In a = a + b + m, m is added first: a and m are ready early, b arrives
 * last. V_ADD_MSG must keep the compiler from reassociating that sum into
 * (b + m) + a, which would put two additions on the critical path; kernel
 * files do it with an asm add.
 *
 * A kernel file may instead define V_HALF_ROUND(v, c8, m, A, B, C, D, X,
 * Y), a whole half-round on one group with state word 8 kept in c8 (see
 * x86_half_round.h), and then needs neither V_ROR* nor V_ADD_MSG; the
 * groups run one after the other. Both half-rounds list their G functions
 * so that C = {8, 9, 10, 11}.
 */

#define FOR_GROUPS _Pragma("GCC unroll 4") for (int g_ = 0; g_ < ng; g_++)

#define QUAD(stmt)                                                           \
	do {                                                                 \
		FOR_GROUPS                                                   \
		{                                                            \
			stmt(0);                                             \
			stmt(1);                                             \
			stmt(2);                                             \
			stmt(3);                                             \
		}                                                            \
	} while (0)

#ifdef V_HALF_ROUND
#define HALF_ROUND(A, B, C, D, X, Y)                                         \
	V_HALF_ROUND(v[g_], c8_, m[g_], A, B, C, D, X, Y)
#else
#define HALF_ROUND(A, B, C, D, X, Y)                                         \
	do {                                                                 \
		QUAD(STEP_MSG_##X);                                          \
		QUAD(STEP_AB);                                               \
		QUAD(STEP_DA_16);                                            \
		QUAD(STEP_CD);                                               \
		QUAD(STEP_BC_12);                                            \
		QUAD(STEP_MSG_##Y);                                          \
		QUAD(STEP_AB);                                               \
		QUAD(STEP_DA_8);                                             \
		QUAD(STEP_CD);                                               \
		QUAD(STEP_BC_7);                                             \
	} while (0)
#endif

/* The index tables A..D pick the columns or diagonals of the half-round;
 * X and Y are the message words of its four G functions. */
#define STEP_MSG_X(k) V_ADD_MSG(v[g_][A[k]], m[g_][X[k]])
#define STEP_MSG_Y(k) V_ADD_MSG(v[g_][A[k]], m[g_][Y[k]])
#define STEP_AB(k) v[g_][A[k]] = V_ADD(v[g_][A[k]], v[g_][B[k]])
#define STEP_DA_16(k) v[g_][D[k]] = V_ROR16(V_XOR(v[g_][D[k]], v[g_][A[k]]))
#define STEP_DA_8(k) v[g_][D[k]] = V_ROR8(V_XOR(v[g_][D[k]], v[g_][A[k]]))
#define STEP_CD(k) v[g_][C[k]] = V_ADD(v[g_][C[k]], v[g_][D[k]])
#define STEP_BC_12(k) v[g_][B[k]] = V_ROR12(V_XOR(v[g_][B[k]], v[g_][C[k]]))
#define STEP_BC_7(k) v[g_][B[k]] = V_ROR7(V_XOR(v[g_][B[k]], v[g_][C[k]]))

#define ONE_ROUND(s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12,     \
		  s13, s14, s15)                                             \
	do {                                                                 \
		{                                                            \
			const int A[4] = {0, 1, 2, 3}, B[4] = {4, 5, 6, 7};  \
			const int C[4] = {8, 9, 10, 11};                     \
			const int D[4] = {12, 13, 14, 15};                   \
			const int X[4] = {s0, s2, s4, s6};                   \
			const int Y[4] = {s1, s3, s5, s7};                   \
			HALF_ROUND(A, B, C, D, X, Y);                        \
		}                                                            \
		{                                                            \
			const int A[4] = {2, 3, 0, 1}, B[4] = {7, 4, 5, 6};  \
			const int C[4] = {8, 9, 10, 11};                     \
			const int D[4] = {13, 14, 15, 12};                   \
			const int X[4] = {s12, s14, s8, s10};                \
			const int Y[4] = {s13, s15, s9, s11};                \
			HALF_ROUND(A, B, C, D, X, Y);                        \
		}                                                            \
	} while (0)

#ifdef V_HALF_ROUND
static inline __attribute__((always_inline)) void
ROUNDS_NAME(V v[][16], V m[][16], const int ng)
{
	for (int g_ = 0; g_ < ng; g_++) {
		V c8_ = v[g_][8];

		B3_SCHEDULE(ONE_ROUND);
		v[g_][8] = c8_;
	}
}
#else
static inline __attribute__((always_inline)) void
ROUNDS_NAME(V v[][16], V m[][16], const int ng)
{
	B3_SCHEDULE(ONE_ROUND);
}
#endif

#undef FOR_GROUPS
#undef QUAD
#undef HALF_ROUND
#undef STEP_MSG_X
#undef STEP_MSG_Y
#undef STEP_AB
#undef STEP_DA_16
#undef STEP_DA_8
#undef STEP_CD
#undef STEP_BC_12
#undef STEP_BC_7
#undef ONE_ROUND
