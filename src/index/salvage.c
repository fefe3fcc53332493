/*
 * index/salvage.c - read back every entry of an index, around the parts
 * that cannot be read.
 *
 * RocksDB checks a table block's checksum when it reads the block; an
 * iterator that meets a bad one stops with a "Corruption" status, and
 * every key after it would be out of reach of a plain scan. So a walk
 * that meets one starts again from each longer key prefix (one byte,
 * two, three): a seek to a prefix lands in the block holding its first
 * key, so the prefixes whose keys sit in good blocks read back and only
 * those in the damaged block stay unread. Ids are uniform, so a block of
 * a few KiB spans a narrow range of three-byte prefixes. Keys already
 * passed to the caller are never passed twice (the walk only moves
 * forward). The number of seeks is bounded (DESCENT_BUDGET) so that a
 * table unreadable as a whole (its index block damaged) costs seconds,
 * not hours: its range is then named at a shorter prefix.
 */
#include "index/salvage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

#define MAX_DEPTH 3
/* Prefixes that may be split further after they failed: at most 256
 * seeks each, a block read and checksummed again per failing seek, so a
 * table damaged all through costs well under a second (measured, a
 * table of 240 objects damaged over 60%: a budget of 2048 took 5 s, 256
 * took 1 s). Beyond it the damage is named at shorter prefixes. */
#define DESCENT_BUDGET 64

typedef struct walk {
	b3cas_index *ix;
	rocksdb_readoptions_t *ro;
	int cf;
	b3cas__salvage_fn visit;
	void *ctx;
	b3cas__salvage_report *r;
	char *last;         /* the last key passed on, or NULL */
	size_t last_len;
	unsigned budget;
	/* The range being named: [from, to] prefixes of the same length. */
	bool open_range;
	uint8_t from[MAX_DEPTH], to[MAX_DEPTH];
	size_t range_len;
} walk;

const char *b3cas__index_cf_name(int cf)
{
	static const char *const names[B3CAS_CF_COUNT] = {"content", "refs",
							  "meta", "data"};

	return cf >= 0 && cf < B3CAS_CF_COUNT ? names[cf] : "?";
}

static void hex(char *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
	out[2 * n] = '\0';
}

/* Append the range being named to r->ranges (as much as fits). */
static void close_range(walk *w)
{
	char a[2 * MAX_DEPTH + 1], b[2 * MAX_DEPTH + 1], item[64];
	size_t used = strlen(w->r->ranges);

	if (!w->open_range)
		return;
	w->open_range = false;
	hex(a, w->from, w->range_len);
	hex(b, w->to, w->range_len);
	if (w->range_len == 0)
		snprintf(item, sizeof(item), "%s (all)",
			 b3cas__index_cf_name(w->cf));
	else if (strcmp(a, b) == 0)
		snprintf(item, sizeof(item), "%s %s",
			 b3cas__index_cf_name(w->cf), a);
	else
		snprintf(item, sizeof(item), "%s %s..%s",
			 b3cas__index_cf_name(w->cf), a, b);
	if (used + strlen(item) + 3 < sizeof(w->r->ranges))
		snprintf(w->r->ranges + used, sizeof(w->r->ranges) - used,
			 "%s%s", used ? ", " : "", item);
}

/* Is prefix p (n bytes) the one right after w->to? */
static bool follows(const walk *w, const uint8_t *p, size_t n)
{
	uint8_t next[MAX_DEPTH];
	size_t i = n;

	if (!w->open_range || n != w->range_len || n == 0)
		return false;
	memcpy(next, w->to, n);
	while (i > 0 && ++next[i - 1] == 0)
		i--;
	return i > 0 && memcmp(next, p, n) == 0;
}

static void unreadable(walk *w, const uint8_t *p, size_t n)
{
	if (follows(w, p, n)) {
		memcpy(w->to, p, n);
		return;
	}
	close_range(w);
	w->r->unreadable++;
	w->open_range = true;
	w->range_len = n;
	memcpy(w->from, p, n);
	memcpy(w->to, p, n);
}

/* Pass key on unless it was passed already; 0 or visit's value. */
static int pass_on(walk *w, const char *key, size_t klen, const char *val,
		   size_t vlen)
{
	if (w->last) {
		size_t n = klen < w->last_len ? klen : w->last_len;
		int c = memcmp(key, w->last, n);

		if (c < 0 || (c == 0 && klen <= w->last_len))
			return 0;
	}
	if (klen > w->last_len || !w->last) {
		char *p = realloc(w->last, klen ? klen : 1);

		if (!p)
			return b3cas__error(B3CAS_ENOMEM, "out of memory");
		w->last = p;
	}
	memcpy(w->last, key, klen);
	w->last_len = klen;
	w->r->entries[w->cf]++;
	return w->visit ? w->visit(w->cf, key, klen, val, vlen, w->ctx) : 0;
}

/* The keys starting with prefix (n bytes; n == 0: all). */
static int walk_prefix(walk *w, uint8_t *prefix, size_t n)
{
	rocksdb_iterator_t *it = rocksdb_create_iterator_cf(
		w->ix->db, w->ro, w->ix->cf[w->cf]);
	char *err = NULL;
	int rc = 0;

	if (n == 0)
		rocksdb_iter_seek_to_first(it);
	else
		rocksdb_iter_seek(it, (const char *)prefix, n);
	for (; rc == 0 && rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const char *key = rocksdb_iter_key(it, &klen);
		const char *val;

		if (klen < n || memcmp(key, prefix, n) != 0)
			break;
		val = rocksdb_iter_value(it, &vlen);
		rc = pass_on(w, key, klen, val, vlen);
	}
	if (rc == 0)
		rocksdb_iter_get_error(it, &err);
	rocksdb_iter_destroy(it);
	if (!err)
		return rc;
	if (strncmp(err, "Corruption", 10) != 0)
		return b3cas__index_error(err, "cannot read the index");
	if (!w->r->first_error[0])
		snprintf(w->r->first_error, sizeof(w->r->first_error), "%s",
			 err);
	free(err);
	if (!w->visit) {
		/* A check only: the first damage answers it. */
		unreadable(w, prefix, n);
		return 0;
	}
	if (n == MAX_DEPTH || (n >= 1 && w->budget == 0)) {
		unreadable(w, prefix, n);
		return 0;
	}
	if (n >= 1)
		w->budget--;
	for (unsigned b = 0; b < 256 && rc == 0; b++) {
		prefix[n] = (uint8_t)b;
		rc = walk_prefix(w, prefix, n + 1);
	}
	return rc;
}

int b3cas__index_salvage(b3cas_index *ix, b3cas__salvage_fn visit, void *ctx,
			 b3cas__salvage_report *r)
{
	walk w;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	memset(&w, 0, sizeof(w));
	w.ix = ix;
	w.visit = visit;
	w.ctx = ctx;
	w.r = r;
	w.budget = DESCENT_BUDGET;
	w.ro = rocksdb_readoptions_create();
	rocksdb_readoptions_set_verify_checksums(w.ro, 1);
	rocksdb_readoptions_set_fill_cache(w.ro, 0);
	for (int cf = 0; cf < B3CAS_CF_COUNT && rc == 0 &&
			 (visit || !r->first_error[0]); cf++) {
		uint8_t prefix[MAX_DEPTH];

		if (!ix->cf[cf])
			continue; /* an index without a data family */
		w.cf = cf;
		free(w.last);
		w.last = NULL;
		w.last_len = 0;
		rc = walk_prefix(&w, prefix, 0);
		close_range(&w);
	}
	free(w.last);
	rocksdb_readoptions_destroy(w.ro);
	return rc;
}
