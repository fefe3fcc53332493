/*
 * filter/bloom.h - a blocked bloom filter of object ids.
 *
 * Each id sets 7 bits inside one 512-bit block (one cache line), chosen
 * from the id's own bytes: ids are hashes already, so no further hashing
 * is needed. 12 bits per id give about 0.5% false positives. Adding is
 * lock-free (atomic or), so any number of threads may add and test at
 * once. A filter never forgets: removing an id is not possible, which is
 * why the store rebuilds it after collections free many objects.
 */
#ifndef B3CAS_DEDUP_BLOOM_H
#define B3CAS_DEDUP_BLOOM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "b3cas/store.h"

#define B3CAS_BLOOM_BITS_PER_ID 12
#define B3CAS_BLOOM_K 7

typedef struct b3cas_bloom {
	uint64_t nblocks;          /* 512-bit blocks */
	uint64_t capacity;         /* ids it was sized for */
	_Atomic uint64_t *words;   /* nblocks * 8 */
	void *map;                 /* a loaded file's mapping, holding words */
	size_t map_len;
} b3cas_bloom;

/* A new empty filter sized for capacity ids, or NULL (out of memory). */
b3cas_bloom *b3cas__bloom_new(uint64_t capacity);
void b3cas__bloom_free(b3cas_bloom *b);

void b3cas__bloom_add(b3cas_bloom *b, const b3cas_oid *id);
/* false: id was never added. true: it may have been. */
bool b3cas__bloom_may_contain(const b3cas_bloom *b, const b3cas_oid *id);

/*
 * Save to path (written to tmp_path, renamed) with count and
 * stamp, a value the caller checks at load (the index's sequence number),
 * and load it back: 0, or B3CAS_ENOTFOUND (no file), B3CAS_ECORRUPT (a
 * damaged or foreign file), B3CAS_EIO, B3CAS_ENOMEM.
 */
int b3cas__bloom_save(const b3cas_bloom *b, uint64_t count, uint64_t stamp,
		      const char *path, const char *tmp_path);
int b3cas__bloom_load(b3cas_bloom **out, uint64_t *count, uint64_t *stamp,
		      const char *path);

#endif
