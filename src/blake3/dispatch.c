/*
 * dispatch.c - chooses the kernel set once, at the first hash.
 *
 * The CPU's features are read with cpuid, and the OS's willingness to save
 * the wide registers with xgetbv (a CPU with AVX-512 under an OS that does
 * not enable it must not use it). The choice can be lowered, never raised,
 * by B3CAS_SIMD at that moment or by b3cas_simd_force later. This choice is
 * the library's only global mutable state; it is a single atomic pointer.
 *
 * One more choice is made once per process: how a single compression (a
 * one-chunk message, a parent, the root) runs. The SIMD sets do it on
 * 128-bit rows, which wins wherever vector additions and xors take one
 * cycle (Intel, AMD Zen 2 to Zen 4). On AMD Zen 5 (family 1Ah) every
 * vector operation takes two cycles and six scalar ALUs are there, and the
 * scalar compression of portable.c was measured about twice as fast, so
 * there each SIMD set is used with the scalar single-block entries.
 * B3CAS_SINGLE_BLOCK=scalar or =vector overrides the choice.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "blake3_int.h"
#include "util/error.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

static const char *const level_names[] = {"portable", "sse41", "avx2",
					  "avx512"};

static _Atomic(const b3_kernels *) active_kernels;
static atomic_int detected_level = -1;

#if defined(__x86_64__)
static uint64_t read_xcr0(void)
{
	uint32_t lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (uint64_t)hi << 32 | lo;
}

static b3cas_simd probe_cpu(void)
{
	unsigned a, b, c, d;
	unsigned b7 = 0;
	uint64_t xcr0 = 0;
	bool os_avx, os_avx512;

	if (!__get_cpuid(1, &a, &b, &c, &d))
		return B3CAS_SIMD_PORTABLE;
	bool sse41 = c & bit_SSE4_1;
	bool osxsave = c & bit_OSXSAVE;
	bool avx = c & bit_AVX;

	if (osxsave)
		xcr0 = read_xcr0();
	os_avx = osxsave && (xcr0 & 0x6) == 0x6;
	os_avx512 = os_avx && (xcr0 & 0xE0) == 0xE0;
	if (__get_cpuid_count(7, 0, &a, &b7, &c, &d) == 0)
		b7 = 0;
	bool avx2 = avx && os_avx && (b7 & bit_AVX2);
	bool avx512 = avx2 && os_avx512 && (b7 & bit_AVX512F) &&
		      (b7 & bit_AVX512VL);

	if (avx512)
		return B3CAS_SIMD_AVX512;
	if (avx2)
		return B3CAS_SIMD_AVX2;
	if (sse41)
		return B3CAS_SIMD_SSE41;
	return B3CAS_SIMD_PORTABLE;
}
#else
static b3cas_simd probe_cpu(void)
{
	return B3CAS_SIMD_PORTABLE;
}
#endif

#if defined(__x86_64__)
static bool amd_zen5_or_later(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(0, &a, &b, &c, &d))
		return false;
	/* "AuthenticAMD" in ebx, edx, ecx */
	if (b != 0x68747541 || d != 0x69746e65 || c != 0x444d4163)
		return false;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return false;
	unsigned family = (a >> 8) & 0xF;

	if (family == 0xF)
		family += (a >> 20) & 0xFF;
	return family >= 0x1A;
}
#else
static bool amd_zen5_or_later(void)
{
	return false;
}
#endif

static b3_kernels scalar_single[4];
bool b3_scalar_single;
static pthread_once_t single_once = PTHREAD_ONCE_INIT;

static const b3_kernels *kernels_of(b3cas_simd level);

static void choose_single(void)
{
	const char *env = getenv("B3CAS_SINGLE_BLOCK");

	if (env && strcmp(env, "scalar") == 0)
		b3_scalar_single = true;
	else if (env && strcmp(env, "vector") == 0)
		b3_scalar_single = false;
	else
		b3_scalar_single = amd_zen5_or_later();
	for (int l = 0; l <= (int)B3CAS_SIMD_AVX512; l++) {
		const b3_kernels *k = kernels_of((b3cas_simd)l);

		if (!k)
			continue;
		scalar_single[l] = *k;
		scalar_single[l].compress = b3_portable_compress;
		scalar_single[l].chunk = b3_portable_chunk;
		scalar_single[l].compress_xof = b3_portable_compress_xof;
	}
}

const b3_kernels *b3_kernels_for(b3cas_simd level)
{
	const b3_kernels *k = kernels_of(level);

	pthread_once(&single_once, choose_single);
	if (k && b3_scalar_single)
		return &scalar_single[level];
	return k;
}

static const b3_kernels *kernels_of(b3cas_simd level)
{
	switch (level) {
	case B3CAS_SIMD_PORTABLE:
		return &b3_kernels_portable;
#if defined(__x86_64__)
	case B3CAS_SIMD_SSE41:
		return &b3_kernels_sse41;
	case B3CAS_SIMD_AVX2:
		return &b3_kernels_avx2;
	case B3CAS_SIMD_AVX512:
		return &b3_kernels_avx512;
#endif
	default:
		return NULL;
	}
}

b3cas_simd b3cas_simd_detected(void)
{
	int level = atomic_load_explicit(&detected_level, memory_order_relaxed);

	if (level < 0) {
		level = (int)probe_cpu();
		atomic_store_explicit(&detected_level, level,
				      memory_order_relaxed);
	}
	return (b3cas_simd)level;
}

static const b3_kernels *initial_choice(void)
{
	b3cas_simd best = b3cas_simd_detected();
	b3cas_simd want = best;
	const char *env = getenv("B3CAS_SIMD");

	if (env && *env && b3cas_simd_parse(&want, env) == 0 && want > best)
		want = best;
	return b3_kernels_for(want);
}

const b3_kernels *b3_kernels_active(void)
{
	const b3_kernels *k =
		atomic_load_explicit(&active_kernels, memory_order_acquire);

	if (__builtin_expect(k == NULL, 0)) {
		const b3_kernels *expected = NULL;

		k = initial_choice();
		/* A concurrent first call or a force may win; keep theirs. */
		if (!atomic_compare_exchange_strong(&active_kernels, &expected,
						    k))
			k = expected;
	}
	return k;
}

b3cas_simd b3cas_simd_active(void)
{
	return b3_kernels_active()->level;
}

const char *b3cas_simd_name(void)
{
	return b3_kernels_active()->name;
}

const char *b3cas_simd_level_name(b3cas_simd level)
{
	if ((int)level < 0 || (int)level > (int)B3CAS_SIMD_AVX512)
		return NULL;
	return level_names[level];
}

int b3cas_simd_parse(b3cas_simd *out, const char *name)
{
	B3CAS__NONNULL(out, "out");
	B3CAS__NONNULL(name, "name");
	for (int i = 0; i <= (int)B3CAS_SIMD_AVX512; i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (b3cas_simd)i;
			return 0;
		}
	}
	return b3cas__error(B3CAS_EINVAL,
			    "unknown SIMD level '%s' (expected portable, "
			    "sse41, avx2 or avx512)",
			    name);
}

int b3cas_simd_force(b3cas_simd level)
{
	const b3_kernels *k = b3_kernels_for(level);

	if (!k)
		return b3cas__error(B3CAS_EINVAL, "invalid SIMD level %d",
				    (int)level);
	if (level > b3cas_simd_detected())
		return b3cas__error(B3CAS_EUNSUPPORTED,
				    "this CPU does not support %s (best: %s)",
				    level_names[level],
				    level_names[b3cas_simd_detected()]);
	atomic_store_explicit(&active_kernels, k, memory_order_release);
	return 0;
}
