/*
 * stripe/stripes.h - the stripe locks: a fixed array of mutexes, one for
 * each range of ids, that serialize every change to one object (its
 * entries, its file, its count) without a store-wide lock.
 *
 * Invariants: the stripe of an id is a function of its first 16 bits, so
 * stripes follow id order and a batch sorted by id takes them in
 * increasing order (no deadlock between batches); a stripes object made
 * with fewer locks keeps that order (stripe = index >> shift).
 */
#ifndef B3CAS_STRIPE_STRIPES_H
#define B3CAS_STRIPE_STRIPES_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * Ids are uniformly distributed, so their first bits spread the locks.
 * 2^16 stripes: with 1024 threads, of which a few hundred may hold a
 * stripe while they wait in RocksDB's write group, a new operation finds
 * its stripe taken well under 1% of the time (4096 stripes: ~7%).
 */
#define B3CAS_STRIPES 65536
/*
 * A read-only handle writes nothing and its locks exclude no other
 * process, so it has this many (its fsck rechecks and batches still take
 * them): 10 KB instead of 2.6 MB, which was a sixth of a read-only open's
 * memory.
 */
#define B3CAS_STRIPES_READ_ONLY 256

typedef struct b3cas_stripes {
	pthread_mutex_t *locks; /* n of them, or NULL */
	unsigned n, shift;
	bool zeroed; /* zeroed memory is the mutexes: nothing to destroy (stripes.c) */
} b3cas_stripes;

/* The stripe index of an id (or index key): its first 16 bits. */
static inline unsigned b3cas__stripe_index(const uint8_t *id_bytes)
{
	return (unsigned)id_bytes[0] << 8 | id_bytes[1];
}

/* Make n locks (a power of two, at most B3CAS_STRIPES): 0 or
 * B3CAS_ENOMEM. A stripes object that failed is safe to destroy. */
int b3cas__stripes_init(b3cas_stripes *st, unsigned n);
void b3cas__stripes_destroy(b3cas_stripes *st);

/* The lock of the id whose bytes start at id_bytes. */
static inline pthread_mutex_t *b3cas__stripe_of(b3cas_stripes *st,
						const uint8_t *id_bytes)
{
	return &st->locks[b3cas__stripe_index(id_bytes) >> st->shift];
}

/* Wait until every stripe has been free once: every change that held a
 * stripe before this call has finished. */
void b3cas__stripes_drain(b3cas_stripes *st);

#endif
