/*
 * digest/digest.h - hashing with a store's algorithm (BLAKE3, or SHA-256
 * for the comparison mode) behind one interface: one-shot, incremental,
 * and whole files. Part of the hash layer: it knows ids and algorithms,
 * nothing of stores.
 *
 * A b3cas_digest is owned by whoever embeds it (the store handle) and
 * lives as long as it: it holds the algorithm and the thread pool that
 * hashes large inputs, started at the first input that can use it (a
 * small object is hashed on the caller's thread alone). It is safe to
 * use from any number of threads; a b3cas_digest_state is one thread's.
 */
#ifndef B3CAS_DIGEST_DIGEST_H
#define B3CAS_DIGEST_DIGEST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "b3cas/hash.h"
#include "b3cas/store.h"
#include "blake3/pool.h"

/* Inputs at least this large are hashed on the digest's thread pool. */
#define B3CAS_PARALLEL_HASH_MIN (256u * 1024u)

typedef struct b3cas_digest {
	b3cas_hash_algo algo;
	pthread_mutex_t pool_lock; /* guards starting the pool */
	b3cas_pool *_Atomic pool;  /* NULL until first needed */
} b3cas_digest;

/* A hash in progress. */
typedef struct b3cas_digest_state {
	b3cas_hash_algo algo;
	b3cas_digest *digest; /* whose pool hashes large updates */
	b3cas_pool *pool;     /* NULL until the first large update */
	b3cas_hasher b3;
	EVP_MD_CTX *sha;
} b3cas_digest_state;

/* Set up d for algo (never fails; the pool starts when needed). */
void b3cas__digest_init(b3cas_digest *d, b3cas_hash_algo algo);
/* Stop d's pool and release it. */
void b3cas__digest_destroy(b3cas_digest *d);

/* One-shot hash of data: 0, or B3CAS_ERROR (SHA-256 failed). */
int b3cas__digest(b3cas_digest *d, b3cas_oid *out, const void *data,
		  size_t len);

/* Incremental: begin (0, or B3CAS_ENOMEM for a SHA-256 context), update,
 * final, and free (always, also after final). */
int b3cas__digest_begin(b3cas_digest_state *h, b3cas_digest *d);
void b3cas__digest_update(b3cas_digest_state *h, const void *data,
			  size_t len);
void b3cas__digest_final(b3cas_digest_state *h, b3cas_oid *out);
void b3cas__digest_free(b3cas_digest_state *h);

/*
 * Hash the open file fd to its end through buf (buf_len bytes): 1 if it
 * holds exactly size bytes that hash to id, 0 if not, -1 if it cannot
 * tell (no hasher). Bytes read are added to *hashed (may be NULL).
 */
int b3cas__digest_file_check(b3cas_digest *d, int fd, const b3cas_oid *id,
			     uint64_t size, uint8_t *buf, size_t buf_len,
			     uint64_t *hashed);

/* B3CAS_ECORRUPT naming id and what its bytes hash to (got). */
int b3cas__digest_mismatch(const b3cas_oid *id, const b3cas_oid *got);

/* The value of hex digit c (either case), or -1 (oid.c). */
int b3cas__hex_value(char c);

#endif
