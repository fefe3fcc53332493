/*
 * digest/digest.c - the store's hash algorithm behind one interface (see
 * digest.h): BLAKE3 (ours, parallel on the pool for large inputs) or
 * OpenSSL's SHA-256.
 *
 * Invariants: the pool is started at most once, under pool_lock, and read
 * without it afterwards (an atomic pointer); a pool that cannot start
 * leaves hashing on the caller's thread, never an error.
 */
#include "digest/digest.h"

#include <errno.h>
#include <unistd.h>

#include "util/error.h"

void b3cas__digest_init(b3cas_digest *d, b3cas_hash_algo algo)
{
	d->algo = algo;
	pthread_mutex_init(&d->pool_lock, NULL);
	atomic_init(&d->pool, NULL);
}

void b3cas__digest_destroy(b3cas_digest *d)
{
	b3cas_pool_free(atomic_load(&d->pool));
	atomic_store(&d->pool, NULL);
	pthread_mutex_destroy(&d->pool_lock);
}

static b3cas_pool *digest_pool(b3cas_digest *d)
{
	b3cas_pool *pool = atomic_load(&d->pool);

	if (pool)
		return pool;
	pthread_mutex_lock(&d->pool_lock);
	pool = atomic_load(&d->pool);
	if (!pool && b3cas_pool_new(&pool, 0) == 0)
		atomic_store(&d->pool, pool);
	pthread_mutex_unlock(&d->pool_lock);
	return pool; /* NULL (one thread) if the pool could not start */
}

int b3cas__digest_begin(b3cas_digest_state *h, b3cas_digest *d)
{
	h->algo = d->algo;
	h->digest = d;
	h->pool = NULL;
	h->sha = NULL;
	if (h->algo == B3CAS_HASH_BLAKE3) {
		/* The pool's threads start at the first update that can use
		 * them: a small object is hashed without them. */
		b3cas_hasher_init(&h->b3);
		return 0;
	}
	h->sha = EVP_MD_CTX_new();
	if (!h->sha || EVP_DigestInit_ex(h->sha, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(h->sha);
		h->sha = NULL;
		return b3cas__error(B3CAS_ENOMEM,
				    "cannot start a SHA-256 context");
	}
	return 0;
}

void b3cas__digest_update(b3cas_digest_state *h, const void *data, size_t len)
{
	if (h->algo != B3CAS_HASH_BLAKE3) {
		EVP_DigestUpdate(h->sha, data, len);
		return;
	}
	if (!h->pool && len >= B3CAS_PARALLEL_HASH_MIN)
		h->pool = digest_pool(h->digest);
	b3cas_hasher_update_parallel(&h->b3, data, len, h->pool);
}

void b3cas__digest_final(b3cas_digest_state *h, b3cas_oid *out)
{
	unsigned n = 0;

	if (h->algo == B3CAS_HASH_BLAKE3)
		b3cas_hasher_finalize(out->bytes, B3CAS_OID_LEN, &h->b3);
	else
		EVP_DigestFinal_ex(h->sha, out->bytes, &n);
}

void b3cas__digest_free(b3cas_digest_state *h)
{
	EVP_MD_CTX_free(h->sha);
	h->sha = NULL;
}

int b3cas__digest(b3cas_digest *d, b3cas_oid *out, const void *data,
		  size_t len)
{
	if (d->algo == B3CAS_HASH_BLAKE3) {
		if (len >= B3CAS_PARALLEL_HASH_MIN)
			b3cas_hash_parallel(out->bytes, data, len,
					    digest_pool(d));
		else
			b3cas_hash(out->bytes, data, len);
		return 0;
	}
	if (EVP_Digest(data, len, out->bytes, NULL, EVP_sha256(), NULL) != 1)
		return b3cas__error(B3CAS_ERROR, "SHA-256 failed");
	return 0;
}

int b3cas__digest_file_check(b3cas_digest *d, int fd, const b3cas_oid *id,
			     uint64_t size, uint8_t *buf, size_t buf_len,
			     uint64_t *hashed)
{
	b3cas_digest_state h;
	uint64_t off = 0;
	b3cas_oid got;

	if (b3cas__digest_begin(&h, d) != 0)
		return -1;
	/* To the end of the file: bytes past size make it wrong too. */
	for (;;) {
		ssize_t n = pread(fd, buf, buf_len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		b3cas__digest_update(&h, buf, (size_t)n);
		off += (uint64_t)n;
	}
	b3cas__digest_final(&h, &got);
	b3cas__digest_free(&h);
	if (hashed)
		*hashed += off;
	return off == size && b3cas_oid_equal(&got, id);
}

int b3cas__digest_mismatch(const b3cas_oid *id, const b3cas_oid *got)
{
	char want_hex[B3CAS_OID_HEX_LEN + 1], got_hex[B3CAS_OID_HEX_LEN + 1];

	return b3cas__error(B3CAS_ECORRUPT,
			    "object %s is corrupt: its stored bytes hash to %s",
			    b3cas_oid_fmt(want_hex, id),
			    b3cas_oid_fmt(got_hex, got));
}

const char *b3cas_hash_algo_name(b3cas_hash_algo algo)
{
	switch (algo) {
	case B3CAS_HASH_BLAKE3: return "blake3";
	case B3CAS_HASH_SHA256: return "sha256";
	default: return "default";
	}
}
