/*
 * store/tier.c - where a store's loose objects live: files under
 * objects/ (layout/objects.h), or, in a RADOS store (format 3), a Ceph
 * RADOS pool shared with other hosts (tier/rados.h, docs/rados.md). Every
 * layer that writes, reads or removes a loose object goes through here.
 *
 * In a RADOS store every object is "loose" (the inline threshold is 0)
 * and the index is this host's record of what it holds. The cluster
 * counts, per object, one reference for each host whose index has an
 * entry for it (live or a GC candidate), under the object's stripe
 * lock:
 *   - a new object's put adds the host's reference before the index
 *     batch that makes its entry is written;
 *   - a candidate revived by a put keeps the reference it has (read back
 *     to be sure: a collection that crashed between the cluster and the
 *     index may have dropped it);
 *   - a collection (GC, or a remove) drops it, and removes the object
 *     from the pool if no host holds it, before the batch that deletes
 *     the entry.
 * So the cluster never counts fewer references than the hosts hold: a
 * crash between the two steps leaves one too many (a leak for the tier's
 * fsck), never one too few. Counts finer than that (how many references
 * the host's callers hold) stay in the host's index, as in a local store.
 */
#include "store/handle.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"
#include "util/fsutil.h"

bool b3cas__store_tiered(const b3cas_store *s)
{
	return s->tier != NULL;
}

int b3cas__tier_open(b3cas_store *s, const b3cas_store_options *o)
{
	b3cas_rados_conf c;

	if (s->lay.format != B3CAS_FORMAT_VERSION_RADOS)
		return 0;
	memset(&c, 0, sizeof(c));
	c.conf = o->rados_conf ? o->rados_conf
	       : *s->lay.rados_conf ? s->lay.rados_conf
				    : NULL;
	c.pool = s->lay.rados_pool;
	c.ns = s->lay.rados_ns;
	c.timeout_ms = o->rados_timeout_ms;
	/* the host: this store's id (32 hex digits, 16 bytes) */
	for (int i = 0; i < 16; i++) {
		unsigned v;

		if (sscanf(s->lay.store_id + 2 * i, "%2x", &v) != 1)
			return b3cas__error(B3CAS_EFORMAT, "%s: a RADOS store "
					    "needs a store id", s->lay.root);
		c.host[i] = (uint8_t)v;
	}
	return b3cas__rados_open(&s->tier, &c);
}

void b3cas__tier_close(b3cas_store *s)
{
	b3cas__rados_close(s->tier);
	s->tier = NULL;
}

static int too_large(const b3cas_store *s, uint64_t len)
{
	return b3cas__error(B3CAS_ERANGE, "RADOS pool %s: an object of %llu "
			    "bytes: a RADOS store keeps objects of at most "
			    "%llu bytes", b3cas__rados_pool(s->tier),
			    (unsigned long long)len,
			    (unsigned long long)B3CAS_RADOS_BIG_MAX);
}

/* The host's reference to id, for a put: a new object's is added (and
 * the bytes stored if the pool lacks them); a revived candidate keeps
 * its own if it still has it. */
static int tier_put(b3cas_store *s, const b3cas_oid *id, const void *data,
		    size_t len, bool revive)
{
	if (revive) {
		int64_t mine = 0;
		int rc = b3cas__rados_counts(s->tier, id->bytes, NULL, &mine);

		if (rc == 0 && mine > 0)
			return 0;
		if (rc < 0 && rc != B3CAS_ENOTFOUND)
			return rc;
		b3cas_error_clear();
	}
	return b3cas__rados_put(s->tier, id->bytes, data, len, NULL);
}

/* The new objects of a put_batch that b3cas__tier_put_ahead stored in the
 * pool, sorted, for this thread's staging of that batch (under its
 * stripe locks) until b3cas__tier_put_ahead_done. */
static _Thread_local const b3cas_oid *ahead;
static _Thread_local size_t n_ahead;

static bool put_ahead(const b3cas_oid *id)
{
	size_t lo = 0, hi = n_ahead;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(ahead[mid].bytes, id->bytes, B3CAS_OID_LEN);

		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

int b3cas__tier_put_ahead(b3cas_store *s, const b3cas_oid *ids,
			  const void *const *data, const size_t *lens,
			  size_t n)
{
	uint8_t(*raw)[32] = malloc((n ? n : 1) * sizeof(*raw));
	int rc;

	if (!raw)
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		memcpy(raw[i], ids[i].bytes, B3CAS_OID_LEN);
	rc = b3cas__rados_put_batch(s->tier, (const uint8_t(*)[32])raw, data,
				    lens, n, NULL);
	free(raw);
	if (rc == 0) {
		ahead = ids;
		n_ahead = n;
	}
	return rc;
}

void b3cas__tier_put_ahead_done(void)
{
	ahead = NULL;
	n_ahead = 0;
}

int b3cas__loose_write(b3cas_store *s, const b3cas_oid *id, const void *data,
		       size_t len, bool revive)
{
	if (!s->tier)
		return b3cas__object_write(&s->lay, id, data, len,
					   s->durability ==
						   B3CAS_DURABILITY_FULL);
	if (len > B3CAS_RADOS_BIG_MAX)
		return too_large(s, len);
	/* stored already, with this host's reference, by its batch */
	if (!revive && put_ahead(id))
		return 0;
	return tier_put(s, id, data, len, revive);
}

int b3cas__loose_publish(b3cas_store *s, b3cas_tmpfile *tmp,
			 const b3cas_oid *id, bool revive)
{
	struct stat st;
	uint8_t *p;
	int rc;

	if (!s->tier)
		return b3cas__object_publish(&s->lay, tmp, id,
					     s->durability ==
						     B3CAS_DURABILITY_FULL);
	/* the staged bytes, read back and sent */
	if (fstat(tmp->fd, &st) != 0) {
		rc = b3cas__error_errno(errno, "cannot read a staged object");
		b3cas__tmpfile_discard(&s->lay, tmp);
		return rc;
	}
	if ((uint64_t)st.st_size > B3CAS_RADOS_BIG_MAX) {
		b3cas__tmpfile_discard(&s->lay, tmp);
		return too_large(s, (uint64_t)st.st_size);
	}
	if (st.st_size == 0) {
		b3cas__tmpfile_discard(&s->lay, tmp);
		return tier_put(s, id, "", 0, revive);
	}
	/* mapped, not copied: a big object stays out of memory but for the
	 * pages being sent */
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, tmp->fd, 0);
	if (p == MAP_FAILED) {
		rc = b3cas__error_errno(errno, "cannot map a staged object");
		b3cas__tmpfile_discard(&s->lay, tmp);
		return rc;
	}
	rc = tier_put(s, id, p, (size_t)st.st_size, revive);
	munmap(p, (size_t)st.st_size);
	b3cas__tmpfile_discard(&s->lay, tmp);
	return rc;
}

int b3cas__loose_remove(b3cas_store *s, const b3cas_oid *id)
{
	int rc;

	if (!s->tier)
		return b3cas__object_remove(&s->lay, id);
	/* this host's reference (none left by a collection that crashed
	 * before its index write: B3CAS_ERANGE), then the object if no host
	 * holds it */
	rc = b3cas__rados_release(s->tier, id->bytes, NULL);
	if (rc == B3CAS_ERANGE || rc == B3CAS_ENOTFOUND) {
		b3cas_error_clear();
		rc = 0;
	}
	if (rc == 0) {
		rc = b3cas__rados_collect(s->tier, id->bytes);
		if (rc == B3CAS_ENOTFOUND) {
			b3cas_error_clear();
			rc = 0;
		}
	}
	return rc < 0 ? rc : 0;
}

/* size bytes of id from the pool into buf: B3CAS_ENOTFOUND when the
 * pool lacks it, B3CAS_ECORRUPT when it is shorter. Only a short object
 * is caught here: bytes past size would be damage to the stored copy,
 * not to what is read, which the caller checks against the id. */
static int read_exact(b3cas_store *s, const b3cas_oid *id, uint64_t size,
		      void *buf)
{
	size_t got = 0;
	/* a big object's bytes are in its parts */
	int rc = size > B3CAS_RADOS_OBJECT_MAX
			 ? b3cas__rados_read_big(s->tier, id->bytes, 0, buf,
						 (size_t)size, &got, NULL)
			 : b3cas__rados_read_at(s->tier, id->bytes, 0, buf,
						(size_t)size, &got);

	if (rc == 0 && got != size) {
		char hex[B3CAS_OID_HEX_LEN + 1];

		return b3cas__error(B3CAS_ECORRUPT, "object %s holds %llu "
				    "bytes in RADOS pool %s, its index entry "
				    "says %llu", b3cas_oid_fmt(hex, id),
				    (unsigned long long)got,
				    b3cas__rados_pool(s->tier),
				    (unsigned long long)size);
	}
	return rc;
}

int b3cas__tier_read(b3cas_store *s, const b3cas_oid *id, uint64_t size,
		     void *buf)
{
	int rc = read_exact(s, id, size, buf);

	if (rc == B3CAS_ENOTFOUND) {
		char hex[B3CAS_OID_HEX_LEN + 1];

		return b3cas__error(B3CAS_ECORRUPT, "the index lists object %s "
				    "but RADOS pool %s does not hold it",
				    b3cas_oid_fmt(hex, id),
				    b3cas__rados_pool(s->tier));
	}
	return rc;
}

int b3cas__loose_open(b3cas_store *s, const b3cas_oid *id, uint64_t size,
		      int *fd_out)
{
	uint8_t *p;
	int fd, rc;

	if (!s->tier)
		return b3cas__object_open(&s->lay, id, size, fd_out);
	/* the bytes from the pool into a file in memory, for the readers
	 * that read through a descriptor (streams, fsck, restore) */
	if (size > B3CAS_RADOS_BIG_MAX)
		return too_large(s, size);
	p = malloc(size ? (size_t)size : 1);
	if (!p)
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	rc = read_exact(s, id, size, p);
	if (rc == 0) {
		fd = memfd_create("b3cas-object", MFD_CLOEXEC);
		if (fd < 0)
			rc = b3cas__error_errno(errno, "cannot make a file in "
						"memory");
		else if ((rc = b3cas__write_all(fd, p, (size_t)size,
						"a file in memory")) < 0)
			close(fd);
		else
			*fd_out = fd;
	}
	free(p);
	return rc;
}

int b3cas__tier_read_through(b3cas_store *s, const b3cas_oid *id,
			     void **data, size_t *len)
{
	int64_t others;
	int rc = b3cas__rados_read_held(s->tier, id->bytes, data, len, &others);

	if (rc == 0 && others <= 0)
		return B3CAS_ENOTFOUND;
	return rc;
}

int b3cas__tier_exists(b3cas_store *s, const b3cas_oid *id)
{
	int64_t total, mine;
	int rc = b3cas__rados_counts(s->tier, id->bytes, &total, &mine);

	if (rc == B3CAS_ENOTFOUND) {
		b3cas_error_clear();
		return 0;
	}
	return rc < 0 ? rc : total - mine > 0;
}

/* ---- fsck's view of the pool ------------------------------------------- */

typedef struct list_ctx {
	int (*visit)(void *ctx, const b3cas_oid *id);
	void *ctx;
} list_ctx;

static int list_visit(void *ctx, const uint8_t id[32])
{
	list_ctx *v = ctx;
	b3cas_oid oid;

	memcpy(oid.bytes, id, B3CAS_OID_LEN);
	return v->visit(v->ctx, &oid);
}

int b3cas__tier_list(b3cas_store *s,
		     int (*visit)(void *ctx, const b3cas_oid *id), void *ctx,
		     uint64_t *others)
{
	list_ctx v = {visit, ctx};

	return b3cas__rados_list(s->tier, list_visit, &v, others);
}

int b3cas__tier_check_count(b3cas_store *s, const b3cas_oid *id,
			    bool repair, b3cas__pool_count *c)
{
	pthread_mutex_t *lock = b3cas__store_stripe(s, id);
	uint64_t refs = 0;
	int64_t total = 0, mine = 0;
	bool last = false;
	int rc, kind;

	memset(c, 0, sizeof(*c));
	/* Under the stripe lock a put has either not yet added this host's
	 * count in the pool or has also written its entry, and a GC has
	 * either not yet dropped the count or has also deleted the entry:
	 * the index and the pool are judged at one point. */
	pthread_mutex_lock(lock);
	kind = b3cas__lookup_count(s, id, &refs);
	rc = kind < 0 ? kind
		      : b3cas__rados_counts(s->tier, id->bytes, &total, &mine);
	if (rc == B3CAS_ENOTFOUND) {
		/* collected by another host since the listing */
		b3cas_error_clear();
		rc = 0;
		goto out;
	}
	if (rc < 0)
		goto out;
	/* one reference for a live entry; a GC candidate's may have been
	 * dropped by a GC cut short (a revival adds it back); none else */
	c->mine = mine;
	c->want_min = kind == 1 ? 1 : 0;
	c->want_max = kind == 0 ? 0 : 1;
	c->listed = kind == 1 ? "holds" : kind == 2 ? "keeps as a GC candidate"
						    : "does not list";
	if (mine >= c->want_min && mine <= c->want_max)
		goto out;
	rc = 1;
	if (!repair)
		goto out;
	if (mine < c->want_min) {
		rc = b3cas__rados_ref(s->tier, id->bytes, 1);
		c->set_to = 1;
	} else {
		for (c->set_to = mine; c->set_to > c->want_max; c->set_to--)
			if ((rc = b3cas__rados_release(s->tier, id->bytes,
						       &last)) < 0)
				break;
		/* nobody's now: it goes, unless referenced again meanwhile */
		if (rc >= 0 && last)
			rc = b3cas__rados_collect(s->tier, id->bytes);
	}
	if (rc >= 0) {
		c->mended = true;
		rc = 1;
	}
out:
	pthread_mutex_unlock(lock);
	return rc;
}

int b3cas__tier_count(b3cas_store *s, const b3cas_oid *id, int64_t *mine)
{
	return b3cas__rados_counts(s->tier, id->bytes, NULL, mine);
}

int b3cas__tier_exists_batch(b3cas_store *s, const b3cas_oid *ids, size_t n,
			     bool *found)
{
	int64_t *others = malloc((n ? n : 1) * sizeof(*others));
	uint8_t(*raw)[32] = malloc((n ? n : 1) * sizeof(*raw));
	int rc;

	if (!others || !raw) {
		free(others);
		free(raw);
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++)
		memcpy(raw[i], ids[i].bytes, B3CAS_OID_LEN);
	rc = b3cas__rados_others_batch(s->tier, (const uint8_t(*)[32])raw, n,
				       others);
	for (size_t i = 0; rc == 0 && i < n; i++)
		found[i] = others[i] > 0;
	free(others);
	free(raw);
	return rc;
}

int b3cas__tier_list_parts(b3cas_store *s,
			   int (*visit)(void *ctx, const b3cas_rados_part *p),
			   void *ctx)
{
	return b3cas__rados_list_parts(s->tier, visit, ctx);
}

int b3cas__tier_part_orphaned(b3cas_store *s, const b3cas_rados_part *p,
			      uint64_t *age_s)
{
	return b3cas__rados_part_orphaned(s->tier, p, B3CAS_PART_MIN_AGE,
					  age_s);
}

int b3cas__tier_part_remove(b3cas_store *s, const b3cas_rados_part *p)
{
	return b3cas__rados_part_remove(s->tier, p, B3CAS_PART_MIN_AGE);
}
