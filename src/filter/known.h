/*
 * filter/known.h - ids known to be stored and referenced: an exact,
 * bounded, in-memory set that spares a put of content already stored the
 * read of the object's index entry.
 *
 * Every id in the set has a live content entry (stored, not a GC
 * candidate). That holds because an id's presence is changed and read
 * only under the id's stripe lock, the lock every change of the id's
 * entries takes: an id is added after the index write that made it live
 * succeeded (or after a read that found it live), and dropped before the
 * write that makes it a candidate or removes it. Evicting is always safe;
 * a false "yes" would make a put count a reference to bytes that are not
 * there, so ids are compared whole, never by a fingerprint.
 *
 * At most 1,048,576 ids (32 MiB of them): 256 shards of up to 512 sets of
 * 8 ways, each shard growing as ids arrive and replacing round-robin in
 * a set once full; a shard's own mutex guards its table (known.c).
 */
#ifndef B3CAS_DEDUP_KNOWN_H
#define B3CAS_DEDUP_KNOWN_H

#include <stdbool.h>
#include <stdint.h>

#include "b3cas/store.h"

typedef struct b3cas_known b3cas_known;

/* A new empty set, or NULL without memory (the store then goes without). */
b3cas_known *b3cas__known_new(void);

/* As b3cas__known_new, holding at most about max_bytes of ids (0: the
 * default 32 MiB; never less than 4 sets a shard, 256 KiB). */
b3cas_known *b3cas__known_new_sized(uint64_t max_bytes);
void b3cas__known_free(b3cas_known *k);

/* The caller holds id's stripe lock for each of these. NULL k: no set. */
bool b3cas__known_has(const b3cas_known *k, const b3cas_oid *id);
void b3cas__known_add(b3cas_known *k, const b3cas_oid *id);
void b3cas__known_drop(b3cas_known *k, const b3cas_oid *id);

/* How many ids the set can hold. */
uint64_t b3cas__known_capacity(void);

#endif
