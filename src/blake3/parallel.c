/*
 * parallel.c - hashing large inputs on several cores.
 *
 * The incremental hasher already cuts its input into aligned power-of-two
 * subtrees (hasher.c). Here each large subtree is cut again into 2^j equal
 * parts, also whole subtrees, whose chaining values the pool's threads
 * compute independently; the parts' values are then merged as the upper
 * levels of the same tree. Cutting only on subtree boundaries is what
 * makes the result identical to the single-threaded one. There are several
 * parts per thread, so a thread slowed by a noisy neighbour does not hold
 * up the others.
 */
#include "blake3_int.h"
#include "pool.h"
#include "util/error.h"

#define MIN_PART_CHUNKS 64   /* 64 KiB: below this, threads cost more */
#define PARTS_PER_THREAD 4
#define MAX_PARTS 64

typedef struct subtree_job {
	const uint8_t *in;
	size_t part_chunks;
	const uint32_t *key;
	uint64_t counter;
	uint8_t flags;
	const b3_kernels *k;
	uint8_t cvs[MAX_PARTS * B3_OUT_LEN];
} subtree_job;

static void hash_part(void *arg, uint32_t part)
{
	subtree_job *job = arg;
	size_t first = (size_t)part * job->part_chunks;

	b3_subtree_cv(job->cvs + (size_t)part * B3_OUT_LEN,
		      job->in + first * B3_CHUNK_LEN, job->part_chunks,
		      job->key, job->counter + first, job->flags, job->k);
}

static size_t parts_for(size_t chunks, unsigned threads)
{
	size_t parts = 1;

	while (parts * 2 <= (size_t)threads * PARTS_PER_THREAD &&
	       parts * 2 <= MAX_PARTS &&
	       chunks / (parts * 2) >= MIN_PART_CHUNKS)
		parts *= 2;
	return parts;
}

/* Merge n (a power of two, >= 2) sibling values in place down to 2. */
static void merge_to_pair(uint8_t *cvs, size_t n, const uint32_t key[8],
			  uint8_t flags, const b3_kernels *k)
{
	uint8_t next[MAX_PARTS / 2 * B3_OUT_LEN];

	while (n > 2) {
		k->hash_many(next, cvs, B3_BLOCK_LEN, n / 2, 1, key, 0, false,
			     flags | B3_PARENT, 0, 0);
		n /= 2;
		memcpy(cvs, next, n * B3_OUT_LEN);
	}
}

typedef struct parallel_ctx {
	b3cas_pool *pool;
	const b3_kernels *k;
} parallel_ctx;

static void parallel_subtree(b3cas_hasher *h, const uint8_t *in, uint64_t n,
			     bool more_follows, void *arg)
{
	parallel_ctx *ctx = arg;
	size_t parts = parts_for((size_t)n, b3cas_pool_threads(ctx->pool));
	subtree_job job;
	uint8_t result[64];

	if (parts < 2) {
		b3_hasher_hash_subtree(h, in, n, more_follows, ctx->k);
		return;
	}
	job.in = in;
	job.part_chunks = (size_t)n / parts;
	job.key = h->key;
	job.counter = h->chunk_counter;
	job.flags = h->flags;
	job.k = ctx->k;
	b3_pool_run(ctx->pool, hash_part, &job, (uint32_t)parts);
	merge_to_pair(job.cvs, parts, h->key, h->flags, ctx->k);
	if (more_follows) {
		uint32_t cv[8];

		memcpy(cv, h->key, 32);
		ctx->k->compress(cv, job.cvs, B3_BLOCK_LEN, 0,
				 h->flags | B3_PARENT);
		b3_store_cv(result, cv);
	} else {
		memcpy(result, job.cvs, 64);
	}
	b3_hasher_push_result(h, result, n, more_follows);
}

void b3cas_hasher_update_parallel(b3cas_hasher *h, const void *data,
				  size_t len, b3cas_pool *pool)
{
	parallel_ctx ctx = {pool, b3_kernels_active()};

	B3CAS__NONNULL_VOID(h, "h");
	B3CAS__NONNULL_LEN_VOID(data, "data", len, "len");
	if (!pool || b3cas_pool_threads(pool) < 2) {
		b3cas_hasher_update(h, data, len);
		return;
	}
	b3_hasher_update_with(h, data, len, ctx.k, parallel_subtree, &ctx);
}

void b3cas_hash_parallel(uint8_t out[B3CAS_OUT_LEN], const void *data,
			 size_t len, b3cas_pool *pool)
{
	b3cas_hasher h;

	B3CAS__NONNULL_VOID(out, "out");
	B3CAS__NONNULL_LEN_VOID(data, "data", len, "len");
	if (!pool || b3cas_pool_threads(pool) < 2 ||
	    len < 2 * MIN_PART_CHUNKS * B3_CHUNK_LEN) {
		b3cas_hash(out, data, len);
		return;
	}
	b3cas_hasher_init(&h);
	b3cas_hasher_update_parallel(&h, data, len, pool);
	b3cas_hasher_finalize(out, B3CAS_OUT_LEN, &h);
}
