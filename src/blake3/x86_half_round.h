/*
 * x86_half_round.h - a half-round of the N-lane kernels (simd_rounds.h) as
 * four asm statements with a fixed register plan, for kernel files with 16
 * vector registers: SSE4.1 (legacy encoding) and AVX2 (VEX). A kernel
 * file passes X86_HALF_ROUND to simd_rounds.h as V_HALF_ROUND.
 *
 * Why asm: the state is 16 vectors and a rotation by 12 or 7 needs one
 * more, so something must live in memory. Left to itself gcc 12 spills
 * whatever it likes, often a value that the very next step waits for; the
 * 8-lane AVX2 kernel then ran at 0.84x the official release's assembly
 * (hash_many on 8 chunks, AMD Zen 4). Here the choice is made once: state
 * word 8 lives in memory for the whole compression, every other word in a
 * register, and one register is scratch (0.99x). Word 8 is the c word of
 * the first G function of both half-rounds (simd_rounds.h lists the
 * diagonal half-round from the G function on words 2, 7, 8, 13). Of the
 * four words of a G function, c leaves the longest gap between being
 * written (c += d) and being needed again (the next c += d, seven cycles
 * of the critical path later on Zen 4), long enough for the store to
 * reach the load.
 *
 * Operand names: a0..a3, b0..b3, c1..c3, d0..d3 the state words of the
 * four G functions in registers, c0 state word 8 in memory, x0..x3 the
 * message words (memory) of this step, t scratch, rot the byte-shuffle
 * mask (memory) of the rotation by 16 or by 8.
 *
 * In a = a + m + b, m is added first: a and m are ready early, b arrives
 * last, so only one addition is on the critical path.
 */
#ifndef B3CAS_X86_HALF_ROUND_H
#define B3CAS_X86_HALF_ROUND_H

#include <immintrin.h>

#define X86_4(f) f(0) f(1) f(2) f(3)
#define X86_3(f) f(1) f(2) f(3)

/* ---- VEX encoding (three operands): AVX2 ---- */

#define VEX_ADD(k) "vpaddd %[x" #k "], %[a" #k "], %[a" #k "]\n\t"
#define VEX_AB(k) "vpaddd %[b" #k "], %[a" #k "], %[a" #k "]\n\t"
#define VEX_DA(k) "vpxor %[a" #k "], %[d" #k "], %[d" #k "]\n\t"
#define VEX_SHUF(k) "vpshufb %[rot], %[d" #k "], %[d" #k "]\n\t"
#define VEX_CD(k) "vpaddd %[d" #k "], %[c" #k "], %[c" #k "]\n\t"
#define VEX_BC(k) "vpxor %[c" #k "], %[b" #k "], %[b" #k "]\n\t"
#define VEX_ROR(k, r, l)                                                     \
	"vpsrld $" #r ", %[b" #k "], %[t]\n\t"                               \
	"vpslld $" #l ", %[b" #k "], %[b" #k "]\n\t"                         \
	"vpor %[t], %[b" #k "], %[b" #k "]\n\t"
#define VEX_ROR12(k) VEX_ROR(k, 12, 20)
#define VEX_ROR7(k) VEX_ROR(k, 7, 25)
/* c0 += d0; b0 ^= c0, with c0 in memory and t holding it meanwhile. */
#define VEX_CD_BC0                                                           \
	"vpaddd %[c0], %[d0], %[t]\n\t"                                      \
	X86_3(VEX_CD)                                                        \
	"vpxor %[t], %[b0], %[b0]\n\t"                                       \
	"vmovdqu %[t], %[c0]\n\t"                                            \
	X86_3(VEX_BC)

#define VEX_ADD_XOR_SHUF                                                     \
	X86_4(VEX_ADD) X86_4(VEX_AB) X86_4(VEX_DA) X86_4(VEX_SHUF)
#define VEX_ADD_XOR_ROR12 VEX_CD_BC0 X86_4(VEX_ROR12)
#define VEX_ADD_XOR_ROR7 VEX_CD_BC0 X86_4(VEX_ROR7)

/* ---- legacy SSE encoding (two operands): SSE4.1 ---- */

#define SSE_ADD(k) "paddd %[x" #k "], %[a" #k "]\n\t"
#define SSE_AB(k) "paddd %[b" #k "], %[a" #k "]\n\t"
#define SSE_DA(k) "pxor %[a" #k "], %[d" #k "]\n\t"
#define SSE_SHUF(k) "pshufb %[rot], %[d" #k "]\n\t"
#define SSE_CD(k) "paddd %[d" #k "], %[c" #k "]\n\t"
#define SSE_BC(k) "pxor %[c" #k "], %[b" #k "]\n\t"
#define SSE_ROR(k, r, l)                                                     \
	"movdqa %[b" #k "], %[t]\n\t"                                        \
	"psrld $" #r ", %[t]\n\t"                                            \
	"pslld $" #l ", %[b" #k "]\n\t"                                      \
	"por %[t], %[b" #k "]\n\t"
#define SSE_ROR12(k) SSE_ROR(k, 12, 20)
#define SSE_ROR7(k) SSE_ROR(k, 7, 25)
#define SSE_CD_BC0                                                           \
	"movdqa %[c0], %[t]\n\t"                                             \
	"paddd %[d0], %[t]\n\t"                                              \
	X86_3(SSE_CD)                                                        \
	"pxor %[t], %[b0]\n\t"                                               \
	"movdqa %[t], %[c0]\n\t"                                             \
	X86_3(SSE_BC)

#define SSE_ADD_XOR_SHUF                                                     \
	X86_4(SSE_ADD) X86_4(SSE_AB) X86_4(SSE_DA) X86_4(SSE_SHUF)
#define SSE_ADD_XOR_ROR12 SSE_CD_BC0 X86_4(SSE_ROR12)
#define SSE_ADD_XOR_ROR7 SSE_CD_BC0 X86_4(SSE_ROR7)

/*
 * The two statements of each quarter of a half-round, as in simd_rounds.h:
 * a += m; a += b; d = ror(d ^ a) (X86_ADD_XOR_SHUF), then c += d;
 * b = ror(b ^ c) (X86_ADD_XOR_ROR). Two statements, not one: gcc takes at
 * most 30 operands, and a read-write operand counts twice. Between them
 * nothing but the 15 state registers is live, so gcc has no reason to move
 * any. v: the state (word 8 unused), c8: word 8 in memory, m: the message,
 * A..D, M: index tables with C = {8, 9, 10, 11}, mask: a mask lvalue.
 */
#define X86_ADD_XOR_SHUF(text, v, m, A, B, D, M, mask)                        \
	__asm__(text                                                         \
		: [a0] "+x"(v[A[0]]), [a1] "+x"(v[A[1]]),                    \
		  [a2] "+x"(v[A[2]]), [a3] "+x"(v[A[3]]),                    \
		  [d0] "+x"(v[D[0]]), [d1] "+x"(v[D[1]]),                    \
		  [d2] "+x"(v[D[2]]), [d3] "+x"(v[D[3]])                     \
		: [b0] "x"(v[B[0]]), [b1] "x"(v[B[1]]), [b2] "x"(v[B[2]]),   \
		  [b3] "x"(v[B[3]]), [x0] "m"(m[M[0]]), [x1] "m"(m[M[1]]),   \
		  [x2] "m"(m[M[2]]), [x3] "m"(m[M[3]]), [rot] "m"(mask))

#define X86_ADD_XOR_ROR(text, v, c8, B, C, D)                                \
	do {                                                                 \
		__typeof__((v)[0]) t_;                                       \
		__asm__(text                                                 \
			: [b0] "+x"(v[B[0]]), [b1] "+x"(v[B[1]]),            \
			  [b2] "+x"(v[B[2]]), [b3] "+x"(v[B[3]]),            \
			  [c1] "+x"(v[C[1]]), [c2] "+x"(v[C[2]]),            \
			  [c3] "+x"(v[C[3]]), [c0] "+m"(c8), [t] "=&x"(t_)   \
			: [d0] "x"(v[D[0]]), [d1] "x"(v[D[1]]),              \
			  [d2] "x"(v[D[2]]), [d3] "x"(v[D[3]]));             \
	} while (0)

#define X86_HALF_ROUND(ISA, v, c8, m, A, B, C, D, X, Y, r16, r8)             \
	do {                                                                 \
		X86_ADD_XOR_SHUF(ISA##_ADD_XOR_SHUF, v, m, A, B, D, X, r16); \
		X86_ADD_XOR_ROR(ISA##_ADD_XOR_ROR12, v, c8, B, C, D);        \
		X86_ADD_XOR_SHUF(ISA##_ADD_XOR_SHUF, v, m, A, B, D, Y, r8);  \
		X86_ADD_XOR_ROR(ISA##_ADD_XOR_ROR7, v, c8, B, C, D);         \
	} while (0)

/* pshufb masks: every 32-bit lane rotated right by 16 and by 8 bits. */
#define X86_ROT16_Q0 0x0504070601000302LL
#define X86_ROT16_Q1 0x0D0C0F0E09080B0ALL
#define X86_ROT8_Q0 0x0407060500030201LL
#define X86_ROT8_Q1 0x0C0F0E0D080B0A09LL
static const __m128i x86_rot16_128 __attribute__((unused)) = {
	X86_ROT16_Q0, X86_ROT16_Q1};
static const __m128i x86_rot8_128 __attribute__((unused)) = {
	X86_ROT8_Q0, X86_ROT8_Q1};
static const __m256i x86_rot16_256 __attribute__((unused)) = {
	X86_ROT16_Q0, X86_ROT16_Q1, X86_ROT16_Q0, X86_ROT16_Q1};
static const __m256i x86_rot8_256 __attribute__((unused)) = {
	X86_ROT8_Q0, X86_ROT8_Q1, X86_ROT8_Q0, X86_ROT8_Q1};

#endif
