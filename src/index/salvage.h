/*
 * index/salvage.h - reading back every entry of an index that may be
 * damaged: each table block's checksum verified, the parts that cannot be
 * read gone around and named by key range. recover uses it to find
 * damage in an index that opens, and to keep what still reads.
 */
#ifndef B3CAS_INDEX_SALVAGE_H
#define B3CAS_INDEX_SALVAGE_H

#include "index/index.h"

/* Called for each entry that reads back, in key order per column family;
 * a non-zero return stops the walk with that value. */
typedef int (*b3cas__salvage_fn)(int cf, const char *key, size_t klen,
				 const char *val, size_t vlen, void *ctx);

typedef struct b3cas__salvage_report {
	uint64_t entries[B3CAS_CF_COUNT]; /* read back, per column family */
	uint64_t unreadable;    /* key ranges that could not be read */
	char first_error[256];  /* RocksDB's words for the first, or "" */
	/* The first unreadable ranges, "content 3a4f..3a52, refs 00", each
	 * a hex key prefix (or two: from..to): every key starting so. */
	char ranges[512];
} b3cas__salvage_report;

/*
 * Walk every key of ix's column families with checksums verified and
 * without filling the block cache. Where RocksDB reports corruption the
 * walk narrows to longer key prefixes (to three bytes) to read around the
 * damaged block, and counts and names what it could not read. visit may
 * be NULL: a check only, which stops at the first damage (r then names
 * only that). Returns 0 (any damage is in r), an error other
 * than corruption (B3CAS_EIO, ...), or visit's non-zero value.
 */
int b3cas__index_salvage(b3cas_index *ix, b3cas__salvage_fn visit, void *ctx,
			 b3cas__salvage_report *r);

/* "content", "refs", "meta". */
const char *b3cas__index_cf_name(int cf);

#endif
