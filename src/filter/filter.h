/*
 * filter/filter.h - the duplicate filter in front of the index: a bloom
 * filter holding every id of the index, so that a "no" lets a put skip
 * its index lookup (see filter.c for how that rule is kept while it is
 * built, grown and saved).
 *
 * Owned by the store handle, made at open and freed at close, after the
 * last put and before the index closes. Every function takes a NULL
 * filter (none could be made: puts go on without one). Thread safe:
 * may_contain and add are called under the id's stripe lock.
 */
#ifndef B3CAS_FILTER_FILTER_H
#define B3CAS_FILTER_FILTER_H

#include <stdbool.h>
#include <stdint.h>

#include "b3cas/store.h"
#include "filter/bloom.h"
#include "index/index.h"
#include "stripe/stripes.h"

typedef struct b3cas_filter b3cas_filter;

/*
 * Load the filter saved in root/cache/bloom if it matches the index, else
 * start building one in the background (writable stores; a read-only one
 * gets an empty filter). NULL when out of memory: the store goes without.
 * Never sets the error message.
 */
b3cas_filter *b3cas__filter_open(b3cas_index *ix, b3cas_stripes *stripes,
				const char *root, bool read_only);
/* Save a complete filter (writable stores) and free it all; the index
 * must still be open. A build under way is let finish first when
 * finish_build (then saved: a filter lost to a crash is built once, not
 * begun and dropped by every short run after it), else stopped. */
void b3cas__filter_close(b3cas_filter *f, bool finish_build);
/* Under id's stripe lock, before a lookup: false when the filter proves
 * id is not in the index (the lookup can be skipped). */
bool b3cas__filter_may_contain(b3cas_filter *f, const b3cas_oid *id);
/* Under id's stripe lock, before the new object's index write. */
void b3cas__filter_add(b3cas_filter *f, const b3cas_oid *id);
/* Count a lookup the filter could not spare: was id there or not. */
void b3cas__filter_outcome(b3cas_filter *f, bool found);
/* After a collection removed n objects: rebuild when that has made the
 * filter too stale. */
void b3cas__filter_note_freed(b3cas_filter *f, uint64_t n);
/* The counters since open: puts that skipped the lookup, and "maybe"
 * answers for ids stored and not stored. */
void b3cas__filter_counters(const b3cas_filter *f, uint64_t *skips,
			    uint64_t *hits, uint64_t *false_pos);
/* Ids in the complete filter (about), 0 when there is none yet. */
uint64_t b3cas__filter_ids(const b3cas_filter *f);
/* The complete filter (NULL until one is built), and whether a build is
 * running: for tests and diagnostics. */
const b3cas_bloom *b3cas__filter_bloom(const b3cas_filter *f);
bool b3cas__filter_building(const b3cas_filter *f);

#endif
