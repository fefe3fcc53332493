/*
 * meta_keys.h - for tests of chunking stores: how many keys the index's
 * meta family holds besides the store's "hash" (manifest nodes and their
 * counts, held counts, pages, pending keys): 0 once everything is deleted
 * and collected.
 */
#ifndef B3CAS_TESTS_META_KEYS_H
#define B3CAS_TESTS_META_KEYS_H

#include <string.h>

#include "index/index.h"

/* The meta keys whose first byte is in firsts (NULL: every key but the
 * store's "hash"). */
static inline unsigned tu_meta_keys_of(b3cas_index *ix, const char *firsts)
{
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it =
		rocksdb_create_iterator_cf(ix->db, ro, ix->cf[B3CAS_CF_META]);
	unsigned n = 0;

	for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t kl;
		const char *k = rocksdb_iter_key(it, &kl);

		if (firsts)
			n += kl > 0 && strchr(firsts, k[0]) && k[0];
		else
			n += !(kl == 4 && memcmp(k, "hash", 4) == 0);
	}
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	return n;
}

static inline unsigned tu_meta_keys(b3cas_index *ix)
{
	return tu_meta_keys_of(ix, NULL);
}

#endif
