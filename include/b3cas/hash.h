/*
 * b3cas/hash.h - BLAKE3: the hash that names every object in b3cas.
 *
 * A complete implementation of BLAKE3 (hash, keyed hash, key derivation,
 * extendable output from any offset) with portable, SSE4.1, AVX2 and AVX-512
 * kernels chosen once at run time, multithreaded hashing of large inputs
 * through a reusable thread pool, and batch hashing of many small inputs.
 *
 * Thread safety: every function here may be called from any thread. A
 * b3cas_hasher is a plain value owned by its caller; one hasher must not be
 * used by two threads at once, but any number of hashers may run in
 * parallel. A b3cas_pool may be shared by many threads (see below).
 *
 * Memory: the hasher and the one-shot functions never touch the heap; a
 * hasher lives wherever its caller puts it (the stack is fine). Only
 * b3cas_pool_new allocates. Hashing a large input uses up to about 48 KiB
 * of the calling thread's stack (one small buffer per tree level).
 *
 * Misuse (common.h, "API rules"): every pointer is required unless said
 * otherwise; a buffer may be NULL when its length is 0. Most functions
 * here return nothing: given a NULL required pointer they do nothing
 * (outputs and the hasher are left as they were) and set the message
 * "<function>: <argument> is NULL" for b3cas_error_last().
 *
 * Errors: hashing cannot fail. The functions below that return nothing
 * say "Never fails": misuse as above is their only failure. Only
 * b3cas_pool_new, b3cas_simd_parse and b3cas_simd_force return codes.
 *
 * Lifetimes: nothing here keeps a pointer it was given after it returns
 * (a hasher copies its key; outputs are written before the return).
 */
#ifndef B3CAS_HASH_H
#define B3CAS_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define B3CAS_OUT_LEN 32   /* default output length in bytes */
#define B3CAS_KEY_LEN 32   /* key length for keyed hashing */
#define B3CAS_BLOCK_LEN 64
#define B3CAS_CHUNK_LEN 1024
#define B3CAS_MAX_DEPTH 54 /* 2^54 chunks = 2^64 bytes */

/*
 * Incremental hasher. The fields are private: use the functions below. The
 * struct is public only so that callers can place it on the stack.
 */
typedef struct b3cas_hasher {
	uint32_t key[8];
	uint32_t cv[8];            /* chaining value of the current chunk */
	uint64_t chunk_counter;    /* index of the current chunk */
	uint8_t buf[B3CAS_BLOCK_LEN];
	uint8_t buf_len;
	uint8_t blocks_compressed; /* blocks of the current chunk already done */
	uint8_t flags;             /* mode flags: keyed, derive-key, ... */
	uint8_t cv_stack_len;
	uint8_t cv_stack[(B3CAS_MAX_DEPTH + 1) * B3CAS_OUT_LEN];
} b3cas_hasher;

/* Start a plain BLAKE3 hash in *h. Never fails. */
B3CAS_EXTERN void b3cas_hasher_init(b3cas_hasher *h);

/* Start a keyed hash (a MAC / PRF) with a 32-byte key, which is copied.
 * Never fails. */
B3CAS_EXTERN void b3cas_hasher_init_keyed(b3cas_hasher *h,
					  const uint8_t key[B3CAS_KEY_LEN]);

/*
 * Start a key derivation with a NUL-terminated context string; the key
 * material is then fed with b3cas_hasher_update. The context should be a
 * hard-coded, globally unique, application-specific string. Never fails.
 */
B3CAS_EXTERN void b3cas_hasher_init_derive_key(b3cas_hasher *h,
					       const char *context);

/* The same with a context of explicit length (it may contain NUL bytes;
 * context may be NULL when context_len is 0). Never fails. */
B3CAS_EXTERN void b3cas_hasher_init_derive_key_raw(b3cas_hasher *h,
						   const void *context,
						   size_t context_len);

/* Feed len bytes. data may be NULL when len is 0. Never fails. */
B3CAS_EXTERN void b3cas_hasher_update(b3cas_hasher *h, const void *data,
				      size_t len);

/*
 * Write out_len bytes of output (any length; 32 is the standard hash) to
 * out. The hasher is not modified: more input may follow, and finalizing
 * again gives the output for the longer input. Never fails.
 */
B3CAS_EXTERN void b3cas_hasher_finalize(uint8_t *out, size_t out_len,
					const b3cas_hasher *h);

/*
 * Extendable output from byte offset seek: the same bytes as finalizing
 * seek + out_len bytes and keeping the last out_len. Never fails.
 */
B3CAS_EXTERN void b3cas_hasher_finalize_seek(uint8_t *out, size_t out_len,
					     const b3cas_hasher *h,
					     uint64_t seek);

/* Forget all input, keeping the mode and key. Never fails. */
B3CAS_EXTERN void b3cas_hasher_reset(b3cas_hasher *h);

/* One-shot BLAKE3-256 of len bytes. Never fails. */
B3CAS_EXTERN void b3cas_hash(uint8_t out[B3CAS_OUT_LEN], const void *data,
			     size_t len);

/* One-shot keyed hash. Never fails. */
B3CAS_EXTERN void b3cas_hash_keyed(uint8_t out[B3CAS_OUT_LEN],
				   const uint8_t key[B3CAS_KEY_LEN],
				   const void *data, size_t len);

/* One-shot key derivation: out_len bytes of key from context and material.
 * Never fails. */
B3CAS_EXTERN void b3cas_derive_key(uint8_t *out, size_t out_len,
				   const char *context, const void *material,
				   size_t material_len);

/*
 * Batch hashing: hash count independent messages, inputs[i] of lens[i]
 * bytes, writing BLAKE3-256 of message i to out + 32 * i. Messages of any
 * mix of lengths up to a few chunks (6 KiB at AVX-512, 4 at AVX2, 2 at
 * SSE4.1 and portable) are packed into the SIMD lanes side by side, chunk
 * by chunk and then parent by parent, which is faster than hashing them
 * one by one (several times for 1 KiB, about 1.9x for 2 KiB); larger
 * messages are hashed one by one. Uses about 22 KiB of stack and no
 * heap. The results are always identical to b3cas_hash of each message.
 * inputs[i] may be NULL when lens[i] is 0; out, inputs and lens may be
 * NULL when count is 0. Never fails; misuse, including a NULL inputs[i]
 * with a length, writes no output at all and sets the B3CAS_EINVAL
 * message naming it.
 */
B3CAS_EXTERN void b3cas_hash_batch(uint8_t *out, const void *const *inputs,
				   const size_t *lens, size_t count);

/* The same in keyed mode, one key for all messages. Never fails. */
B3CAS_EXTERN void b3cas_hash_batch_keyed(uint8_t *out,
					 const uint8_t key[B3CAS_KEY_LEN],
					 const void *const *inputs,
					 const size_t *lens, size_t count);

/*
 * Thread pool for hashing large inputs on several cores. The calling thread
 * always takes part, so a pool of n threads starts n - 1 workers. Workers
 * are created once and reused; a call never creates a thread.
 *
 * A pool may be shared: when two threads hash through the same pool at
 * once, one of them gets the workers and the other hashes on its own
 * thread. Results never depend on the pool.
 */
typedef struct b3cas_pool b3cas_pool;

/*
 * Create a pool of nthreads threads in all (0 means one per online CPU;
 * at most 256). Returns 0, B3CAS_ENOMEM, B3CAS_EINVAL (NULL out, too many
 * threads), or B3CAS_ERROR when a thread cannot be started; on an error
 * no thread is left running and *out is unchanged. The caller owns *out
 * and frees it with b3cas_pool_free.
 */
B3CAS_EXTERN int b3cas_pool_new(b3cas_pool **out, unsigned nthreads);

/*
 * Stop the workers and free the pool. Accepts NULL. Never fails. No other
 * thread may be hashing through the pool, nor use it afterwards.
 */
B3CAS_EXTERN void b3cas_pool_free(b3cas_pool *pool);

/* Number of threads the pool hashes with, the caller included (a NULL
 * pool, as the functions below take it: 1). Never fails. */
B3CAS_EXTERN unsigned b3cas_pool_threads(const b3cas_pool *pool);

/*
 * Like b3cas_hasher_update, but large inputs are spread over the pool's
 * threads, split on BLAKE3 subtree boundaries. pool may be NULL (one
 * thread). The result is identical to b3cas_hasher_update. Never fails.
 */
B3CAS_EXTERN void b3cas_hasher_update_parallel(b3cas_hasher *h,
					       const void *data, size_t len,
					       b3cas_pool *pool);

/* One-shot BLAKE3-256 through a pool (NULL: one thread). Never fails. */
B3CAS_EXTERN void b3cas_hash_parallel(uint8_t out[B3CAS_OUT_LEN],
				      const void *data, size_t len,
				      b3cas_pool *pool);

/*
 * SIMD levels. The best level the CPU and OS support is chosen at the first
 * hash. The environment variable B3CAS_SIMD=portable|sse41|avx2|avx512,
 * read at that moment, or b3cas_simd_force, lowers it for tests and
 * benchmarks; neither can raise it above what the CPU has.
 */
typedef enum b3cas_simd {
	B3CAS_SIMD_PORTABLE = 0,
	B3CAS_SIMD_SSE41 = 1,
	B3CAS_SIMD_AVX2 = 2,
	B3CAS_SIMD_AVX512 = 3
} b3cas_simd;

/* The best level this CPU and OS support. Never fails. */
B3CAS_EXTERN b3cas_simd b3cas_simd_detected(void);

/* The level in use now. Never fails. */
B3CAS_EXTERN b3cas_simd b3cas_simd_active(void);

/* Name of the level in use now: "portable", "sse41", "avx2" or "avx512"
 * (a static string). Never fails. */
B3CAS_EXTERN const char *b3cas_simd_name(void);

/* Name of a level (a static string); NULL for a value that is not a
 * level. Never fails. */
B3CAS_EXTERN const char *b3cas_simd_level_name(b3cas_simd level);

/* Parse a level name into *out. Returns 0, or B3CAS_EINVAL (unknown name,
 * NULL) with *out unchanged. */
B3CAS_EXTERN int b3cas_simd_parse(b3cas_simd *out, const char *name);

/*
 * Use the given level from now on, in every thread. Returns 0, or
 * B3CAS_EUNSUPPORTED (and changes nothing) when the CPU lacks it. Meant for
 * tests and benchmarks; hashes in flight on other threads finish correctly.
 */
B3CAS_EXTERN int b3cas_simd_force(b3cas_simd level);

#ifdef __cplusplus
}
#endif

#endif
