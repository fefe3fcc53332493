/*
 * model/tree_store.c - trees in a store (docs/trees.md): a directory put
 * as trees whose links hold their entries' contents and subtrees
 * (b3cas_store_put_linked), restored, loaded and compared.
 *
 * A put owns one reference to each object it stores until the tree that
 * names it holds it: each file's content and each tree is put with a
 * reference, and once its parent's tree is stored (holding one of its
 * own) the put drops its reference. What the put still owns when it fails
 * is dropped; the caller gets the root's reference. A put that is killed
 * keeps the references it owned then, as b3cas_store_put would
 * (docs/trees.md, "Objects that hold references").
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "b3cas/hash.h"
#include "b3cas/tree.h"
#include "model/fstree.h"
#include "model/statcache.h"
#include "model/tree_int.h"
#include "util/error.h"

#define IO_CHUNK (1u << 20)

/* ---- put -------------------------------------------------------------- */

typedef struct put_ctx {
	b3cas_store *s;
	b3cas_lease *lease; /* holds every reference the put takes */
	b3cas_oid *owned;   /* those references, in the order taken */
	size_t n, cap;
	uint8_t *buf;
	b3cas_tree_counts *counts;
	b3cas__statcache *old; /* NULL: every file is read */
	b3cas__statcache *fresh;     /* NULL: none is kept */
	bool stale; /* the cache named an object the store lacks */
	bool blake3; /* ids are BLAKE3: a tree's is known without the store */
	/* trees whose entries were all known, kept unwritten until a
	 * parent that must be written (or the top) asks: most are then
	 * never looked up, since a stored parent holds them */
	struct deferred *defer;
	size_t ndefer, defer_cap;
	size_t *dslots; /* ndefer's indexes by id; SIZE_MAX free */
	size_t dslot_cap;
	uint64_t written; /* trees written */
} put_ctx;

typedef struct deferred {
	b3cas_oid id;
	uint8_t *bytes; /* NULL once settled */
	size_t len;
	b3cas_oid *links;
	size_t n;
} deferred;

static int own(put_ctx *p, const b3cas_oid *id)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 256;
		b3cas_oid *o = realloc(p->owned, cap * sizeof(*o));

		if (!o)
			return b3cas__error(B3CAS_ENOMEM, "tree put: out of "
					    "memory");
		p->owned = o;
		p->cap = cap;
	}
	p->owned[p->n++] = *id;
	return 0;
}

/* Where the put's latest reference to id is in p->owned, or p->n. */
static size_t owned_at(const put_ctx *p, const b3cas_oid *id)
{
	for (size_t i = p->n; i-- > 0;)
		if (b3cas_oid_equal(&p->owned[i], id))
			return i;
	return p->n;
}

/* Drop the put's reference to id (the latest it took), now that a tree
 * holds id; nothing when the put holds none (a file known from the
 * cache, a tree found stored). */
static int disown(put_ctx *p, const b3cas_oid *id)
{
	size_t i = owned_at(p, id);

	if (i == p->n)
		return 0;
	p->owned[i] = p->owned[--p->n];
	return b3cas_lease_drop(p->lease, id) < 0
		       ? b3cas__error(B3CAS_ERROR, "tree put: %s",
				      b3cas_error_last())
		       : 0;
}

/* Read up to len bytes (less only at the end of the file): the count,
 * or a negative code. */
static ssize_t read_full(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return b3cas__error_errno(errno, "tree put: cannot "
						  "read a file");
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static int changed(const struct stat *st, uint64_t total)
{
	return b3cas__error(B3CAS_EBUSY, "tree put: a file of %llu bytes had "
			    "%llu when read (changed meanwhile)",
			    (unsigned long long)st->st_size,
			    (unsigned long long)total);
}

/* A file's content: one put when it fits the buffer, else streamed. */
static int put_file(void *ctx, int fd, const struct stat *st, b3cas_oid *id)
{
	put_ctx *p = ctx;
	b3cas_writer *w = NULL;
	ssize_t n = read_full(fd, p->buf, IO_CHUNK);
	uint64_t total = n > 0 ? (uint64_t)n : 0;
	int rc = n < 0 ? (int)n : 0;

	if (rc == 0 && n < (ssize_t)IO_CHUNK)
		rc = total != (uint64_t)st->st_size
			     ? changed(st, total)
			     : b3cas_lease_put(p->lease, id, p->buf,
					       (size_t)n);
	else if (rc == 0)
		rc = b3cas_writer_open(&w, p->s);
	while (w && rc >= 0 && n > 0) {
		rc = b3cas_writer_write(w, p->buf, (size_t)n);
		if (rc >= 0)
			n = read_full(fd, p->buf, IO_CHUNK);
		if (n < 0)
			rc = (int)n;
		else
			total += (uint64_t)n;
	}
	if (w && rc >= 0 && total != (uint64_t)st->st_size)
		rc = changed(st, total);
	if (w && rc >= 0)
		rc = b3cas_lease_commit(p->lease, w, id);
	else
		b3cas_writer_abort(w);
	if (rc < 0)
		return rc;
	p->counts->files++;
	p->counts->bytes += total;
	return own(p, id);
}

/* A file the cache knows: its id, read from nothing. */
static int cached_file(void *ctx, const char *rel, const struct stat *st,
		       b3cas_oid *id, bool *xattrs)
{
	put_ctx *p = ctx;

	if (!p->old || !b3cas__statcache_find(p->old, rel, st, id, xattrs))
		return 0;
	p->counts->files++;
	p->counts->cached++;
	p->counts->bytes += (uint64_t)st->st_size;
	return 1;
}

static int seen_file(void *ctx, const char *rel, const struct stat *st,
		     const b3cas_oid *id, bool xattrs)
{
	put_ctx *p = ctx;

	return p->fresh ? b3cas__statcache_add(p->fresh, rel, st, id, xattrs)
			: 0;
}

/* The deferred tree id, or NULL. */
static deferred *deferred_of(const put_ctx *p, const b3cas_oid *id)
{
	uint64_t h;

	if (!p->dslot_cap)
		return NULL;
	memcpy(&h, id->bytes, sizeof(h));
	for (size_t i = (size_t)h & (p->dslot_cap - 1);
	     p->dslots[i] != SIZE_MAX; i = (i + 1) & (p->dslot_cap - 1))
		if (b3cas_oid_equal(&p->defer[p->dslots[i]].id, id))
			return &p->defer[p->dslots[i]];
	return NULL;
}

/* Keep tree id (bytes, links) unwritten for now. */
static int defer_tree(put_ctx *p, const b3cas_oid *id, const uint8_t *bytes,
		      size_t len, const b3cas_oid *links, size_t n)
{
	deferred *d;
	uint64_t h;
	size_t i;

	if (deferred_of(p, id))
		return 0; /* the same folder met before */
	if (2 * (p->ndefer + 1) > p->dslot_cap) {
		size_t cap = p->dslot_cap ? 2 * p->dslot_cap : 1024;
		size_t *sl = malloc(cap * sizeof(*sl));

		if (!sl)
			return b3cas__error(B3CAS_ENOMEM, "tree put: out of "
					    "memory");
		memset(sl, 0xff, cap * sizeof(*sl));
		for (size_t k = 0; k < p->ndefer; k++) {
			memcpy(&h, p->defer[k].id.bytes, sizeof(h));
			for (i = (size_t)h & (cap - 1); sl[i] != SIZE_MAX;
			     i = (i + 1) & (cap - 1))
				;
			sl[i] = k;
		}
		free(p->dslots);
		p->dslots = sl;
		p->dslot_cap = cap;
	}
	if (p->ndefer == p->defer_cap) {
		size_t cap = p->defer_cap ? 2 * p->defer_cap : 256;
		deferred *v = realloc(p->defer, cap * sizeof(*v));

		if (!v)
			return b3cas__error(B3CAS_ENOMEM, "tree put: out of "
					    "memory");
		p->defer = v;
		p->defer_cap = cap;
	}
	d = &p->defer[p->ndefer];
	d->id = *id;
	d->len = len;
	d->n = n;
	d->bytes = malloc(len ? len : 1);
	d->links = malloc((n ? n : 1) * sizeof(*links));
	if (!d->bytes || !d->links) {
		free(d->bytes);
		free(d->links);
		return b3cas__error(B3CAS_ENOMEM, "tree put: out of memory");
	}
	memcpy(d->bytes, bytes, len);
	if (n)
		memcpy(d->links, links, n * sizeof(*links));
	memcpy(&h, id->bytes, sizeof(h));
	for (i = (size_t)h & (p->dslot_cap - 1); p->dslots[i] != SIZE_MAX;
	     i = (i + 1) & (p->dslot_cap - 1))
		;
	p->dslots[i] = p->ndefer++;
	return 0;
}

static void defer_free(put_ctx *p)
{
	for (size_t i = 0; i < p->ndefer; i++) {
		free(p->defer[i].bytes);
		free(p->defer[i].links);
	}
	free(p->defer);
	free(p->dslots);
	p->defer = NULL;
	p->dslots = NULL;
	p->ndefer = p->defer_cap = p->dslot_cap = 0;
}

static int write_tree(put_ctx *p, const uint8_t *bytes, size_t len,
		      b3cas_oid *links, size_t n, b3cas_oid *id);

/*
 * Settle deferred tree d: stored already (it then holds all it reaches),
 * or written now, after the deferred trees among its entries are settled
 * the same way (the put then holds a reference to it).
 */
static int settle(put_ctx *p, deferred *d)
{
	bool dup = false;
	int rc;

	if (!d->bytes)
		return 0;
	rc = b3cas_dedup_check(p->s, d->bytes, d->len, NULL, &dup);
	if (rc == 0 && !dup)
		rc = write_tree(p, d->bytes, d->len, d->links, d->n, &d->id);
	if (rc < 0)
		return rc;
	free(d->bytes);
	free(d->links);
	d->bytes = NULL;
	d->links = NULL;
	return 0;
}

/* Write a tree (links: its entries' ids) holding its entries: those
 * deferred are settled first; the put's references to them go once the
 * tree holds them. */
static int write_tree(put_ctx *p, const uint8_t *bytes, size_t len,
		      b3cas_oid *links, size_t n, b3cas_oid *id)
{
	int rc = 0;

	for (size_t i = 0; rc >= 0 && i < n; i++) {
		deferred *d = deferred_of(p, &links[i]);

		if (d)
			rc = settle(p, d);
	}
	if (rc >= 0)
		rc = b3cas_lease_put_linked(p->lease, id, bytes, len, links, n);
	if (rc == B3CAS_ENOTFOUND && p->old)
		p->stale = true;
	if (rc >= 0) {
		p->written++;
		rc = own(p, id);
	}
	/* the tree holds them now: the put's own references go */
	for (size_t i = 0; rc >= 0 && i < n; i++)
		rc = disown(p, &links[i]);
	return rc;
}

static int put_tree(void *ctx, const uint8_t *bytes, size_t len,
		    const b3cas_tree *t, b3cas_oid *id)
{
	put_ctx *p = ctx;
	b3cas_oid *links = calloc(t->count ? t->count : 1, sizeof(*links));
	size_t n = 0;
	bool held = false; /* the put holds a reference to an entry */
	int rc = 0;

	if (!links)
		return b3cas__error(B3CAS_ENOMEM, "tree put: out of memory");
	for (size_t i = 0; i < t->count; i++) {
		const b3cas_tree_entry *e = &t->entries[i];

		if (e->type == B3CAS_TREE_FILE || e->type == B3CAS_TREE_DIR) {
			links[n++] = e->id;
			held = held || owned_at(p, &e->id) < p->n;
		} else {
			p->counts->others++;
		}
	}
	p->counts->dirs++;
	/* Entries all known (from the cache, or deferred): the tree may be
	 * stored already, and then it holds them all. Whether it is, is
	 * asked only when a parent must be written (or at the top): a
	 * stored parent holds it. A tree found gone then, or an entry,
	 * makes the put start over without the cache. */
	if (p->old && p->blake3 && !held) {
		b3cas_hash(id->bytes, bytes, len);
		rc = defer_tree(p, id, bytes, len, links, n);
	} else {
		rc = write_tree(p, bytes, len, links, n, id);
	}
	free(links);
	return rc;
}

/* Drop every reference the put still holds (after a failure: the
 * failure is the news). */
static void drop_owned(put_ctx *p, int code)
{
	char msg[B3CAS__MESSAGE_MAX];

	snprintf(msg, sizeof(msg), "%s", b3cas_error_last());
	while (p->n > 0)
		(void)b3cas_lease_drop(p->lease, &p->owned[--p->n]);
	(void)b3cas__error(code, "%s", msg);
}

/* One scan of path; *root is then held by the lease, once. */
static int put_once(put_ctx *p, const char *path, b3cas_oid *root)
{
	static const b3cas__scan_ops ops = {put_file, put_tree, cached_file,
					    seen_file};
	int rc = b3cas__scan(path, &ops, p, root);
	deferred *top = rc >= 0 ? deferred_of(p, root) : NULL;

	if (top)
		rc = settle(p, top);
	/* the top tree found stored: the put's reference to it now */
	if (rc >= 0 && owned_at(p, root) == p->n) {
		rc = b3cas_lease_ref(p->lease, root);
		if (rc == B3CAS_ENOTFOUND)
			p->stale = true;
		if (rc >= 0)
			rc = own(p, root);
	}
	if (rc < 0)
		drop_owned(p, rc);
	defer_free(p);
	return rc < 0 ? rc : 0;
}

static int64_t wall_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

int b3cas_tree_put(b3cas_store *store, const char *path,
		   const b3cas_tree_put_options *opts, b3cas_oid *root_out,
		   b3cas_tree_counts *counts)
{
	b3cas_tree_counts local;
	put_ctx p = {0};
	b3cas__statcache *old = NULL;
	b3cas_oid root;
	int rc = 0;

	B3CAS__NONNULL(store, "store");
	B3CAS__NONNULL(path, "path");
	if (opts && opts->version != B3CAS_TREE_PUT_OPTIONS_VERSION)
		return b3cas__error(B3CAS_EINVAL, "b3cas_tree_put: options of "
				    "version %u (this library: %u)",
				    opts->version,
				    B3CAS_TREE_PUT_OPTIONS_VERSION);
	p.s = store;
	{
		b3cas_store_info info;

		b3cas_store_info_get(&info, store);
		p.blake3 = info.hash == B3CAS_HASH_BLAKE3;
	}
	p.counts = counts ? counts : &local;
	memset(p.counts, 0, sizeof(*p.counts));
	p.buf = malloc(IO_CHUNK);
	if (!p.buf)
		return b3cas__error(B3CAS_ENOMEM, "tree put: out of memory");
	if (opts && opts->cache) {
		/* a file changed within 2 s of the scan may change again
		 * within its clock's tick unseen: not kept */
		old = b3cas__statcache_load(opts->cache);
		p.fresh = b3cas__statcache_new(wall_ns() - 2000000000ll,
					       b3cas__statcache_bytes(old) +
						       4096);
		if (!old || !p.fresh)
			rc = B3CAS_ENOMEM;
	}
	if (rc == 0 && opts && opts->lease)
		p.lease = opts->lease;
	else if (rc == 0)
		rc = b3cas_lease_open(store, &p.lease);
	p.old = old;
	if (rc == 0) {
		rc = put_once(&p, path, &root);
		if (rc < 0 && p.stale) {
			/* the cache named what is no longer stored: again,
			 * reading every file */
			b3cas__statcache_free(p.fresh);
			p.fresh = b3cas__statcache_new(
				wall_ns() - 2000000000ll,
				b3cas__statcache_bytes(old) + 4096);
			p.old = NULL;
			p.stale = false;
			p.written = 0;
			memset(p.counts, 0, sizeof(*p.counts));
			rc = p.fresh ? put_once(&p, path, &root)
				     : B3CAS_ENOMEM;
		}
	}
	/* the cache is a hint: one that cannot be written is left as it
	 * was (its entries are checked at every use) */
	if (rc == 0 && p.fresh &&
	    b3cas__statcache_save(p.fresh, opts->cache) < 0)
		b3cas_error_clear();
	if (rc == 0 && !(opts && opts->lease)) {
		/* the caller's reference, and the lease's goes */
		int64_t r = root_out ? b3cas_ref_add(store, &root) : 0;

		rc = r < 0 ? (int)r : 0;
	}
	if (rc == 0 && p.old)
		p.counts->found = p.counts->dirs - p.written;
	if (rc == 0 && root_out)
		*root_out = root;
	if (p.lease && p.lease != (opts ? opts->lease : NULL)) {
		int crc = b3cas_lease_close(p.lease);

		if (rc == 0)
			rc = crc;
	}
	b3cas__statcache_free(old);
	b3cas__statcache_free(p.fresh);
	free(p.owned);
	free(p.buf);
	return rc;
}

int b3cas_tree_put_dir(b3cas_store *store, const char *path,
		       b3cas_oid *root_out, b3cas_tree_counts *counts)
{
	B3CAS__NONNULL(store, "store");
	B3CAS__NONNULL(path, "path");
	return b3cas_tree_put(store, path, NULL, root_out, counts);
}

/* ---- get -------------------------------------------------------------- */

/*
 * Each content is read through a b3cas_reader opened with
 * B3CAS_READER_CHECK_AT_END: a loose object is read and hashed once (a
 * plain reader hashes it whole at open, then again as it is read), and a
 * file whose last read finds a mismatch is removed (restore.c). Reads
 * are READ_CHUNK long, below the size from which the store hashes on its
 * pool of threads: the workers are the parallelism, and the pool's
 * threads spinning beside them only took CPU from them (docs/trees.md).
 * Reading small objects whole with b3cas_store_get_view was slower too:
 * it fills L1 with contents no one reads again.
 */
#define READ_CHUNK (128u << 10)
/* Files of chunked objects from 2 * PART_MIN bytes up are written in
 * parts of about PART_MIN by the workers together, read PART_READ bytes
 * at a time: a range read finds the object's entry and seeks its first
 * chunk once for PART_READ bytes. */
#define PART_MIN (8u << 20)
#define PART_READ (1u << 20)

typedef struct get_ctx {
	b3cas_store *s;
	/* buffers per worker, made when first needed */
	uint8_t **bufs, **part_bufs;
} get_ctx;

static int get_tree(void *ctx, const b3cas_oid *id, uint8_t **bytes,
		    size_t *len)
{
	get_ctx *g = ctx;
	void *data;
	int rc = b3cas_store_get(g->s, id, &data, len);

	if (rc < 0)
		return rc;
	*bytes = data;
	return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

#define HOLE_BLOCK 4096

/* The length of the run at p (n bytes left) of blocks that are all zero
 * (zero) or not: whole HOLE_BLOCKs, aligned as the file is. */
static size_t run_of(const uint8_t *p, size_t n, bool zero)
{
	size_t run = 0;

	while (run < n) {
		size_t blk = n - run < HOLE_BLOCK ? n - run : HOLE_BLOCK;

		if (all_zero(p + run, blk) != zero)
			break;
		run += blk;
	}
	return run;
}

/* Write n bytes at p to f's file at offset at, counting them in
 * f->done; with sparse, blocks of zeros are skipped, so they stay holes.
 * (Every read but a file's last is a multiple of HOLE_BLOCK long, and
 * starts at one.) */
static int write_out(const b3cas__restore_file *f, const uint8_t *p,
		     size_t n, uint64_t at)
{
	size_t off = 0;

	while (off < n) {
		bool zero = f->sparse &&
			    all_zero(p + off, n - off < HOLE_BLOCK
						      ? n - off
						      : HOLE_BLOCK);
		size_t run = f->sparse ? run_of(p + off, n - off, zero)
				       : n - off;

		for (size_t end = off + run; !zero && off < end;) {
			ssize_t w = pwrite(f->fd, p + off, end - off,
					   (off_t)(at + off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return b3cas__error_errno(errno, "cannot "
							  "write");
			off += (size_t)w;
		}
		if (zero)
			off += run;
	}
	atomic_fetch_add_explicit(f->done, n, memory_order_relaxed);
	return 0;
}

static int wrong_size(const b3cas_oid *id, uint64_t has, uint64_t size)
{
	char hex[B3CAS_OID_HEX_LEN + 1];

	return b3cas__error(B3CAS_ECORRUPT, "content %s has %llu bytes, its "
			    "tree says %llu", b3cas_oid_fmt(hex, id),
			    (unsigned long long)has, (unsigned long long)size);
}

/* Part f of a chunked object (parts_of): range reads of PART_READ
 * bytes, each chunk checked as it is read. */
static int get_part(get_ctx *g, const b3cas__restore_file *f)
{
	uint8_t **buf = &g->part_bufs[f->worker];
	uint64_t off = f->off, end = f->off + f->len;
	int rc = 0;

	if (!*buf && !(*buf = malloc(PART_READ)))
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	while (rc == 0 && off < end) {
		size_t want = end - off < PART_READ ? (size_t)(end - off)
						    : PART_READ,
		       got = 0;

		if (atomic_load_explicit(f->stop, memory_order_relaxed))
			return B3CAS_ECANCELED; /* the restore is stopping */
		rc = b3cas_store_read_at(g->s, f->id, off, *buf, want, &got);
		if (rc == 0 && got != want)
			rc = wrong_size(f->id, off + got, f->size);
		if (rc == 0)
			rc = write_out(f, *buf, want, off);
		off += want;
	}
	return rc;
}

static int get_file(void *ctx, const b3cas__restore_file *f)
{
	get_ctx *g = ctx;
	uint8_t **buf = &g->bufs[f->worker];
	uint64_t at = 0;
	b3cas_reader *r;
	int rc;

	if (f->off != 0 || f->len != f->size)
		return get_part(g, f);
	if (!*buf && !(*buf = malloc(READ_CHUNK)))
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	rc = b3cas_reader_open_flags(&r, g->s, f->id,
				     B3CAS_READER_CHECK_AT_END);
	if (rc < 0)
		return rc;
	if (b3cas_reader_size(r) != f->size)
		rc = wrong_size(f->id, b3cas_reader_size(r), f->size);
	while (rc >= 0) {
		int64_t n;

		if (atomic_load_explicit(f->stop, memory_order_relaxed)) {
			rc = B3CAS_ECANCELED; /* the restore is stopping */
			break;
		}
		n = b3cas_reader_read(r, *buf, READ_CHUNK);
		if (n <= 0) {
			rc = (int)n;
			break;
		}
		rc = write_out(f, *buf, (size_t)n, at);
		at += (uint64_t)n;
	}
	b3cas_reader_close(r);
	return rc;
}

/* A chunked object of PART_MIN bytes or more is cut into parts of about
 * PART_MIN, so that the workers write a large file together (each chunk
 * is checked as it is read, so a part needs no other). Loose objects,
 * checked whole, are read whole. */
static unsigned get_parts(void *ctx, const b3cas_oid *id, uint64_t size,
			  unsigned threads)
{
	get_ctx *g = ctx;
	b3cas_object_info info;

	(void)threads;
	if (size < 2 * PART_MIN || b3cas_store_stat(g->s, id, &info) < 0 ||
	    !info.is_inline || info.size != size) {
		b3cas_error_clear();
		return 1;
	}
	return size / PART_MIN > UINT_MAX ? UINT_MAX
					   : (unsigned)(size / PART_MIN);
}

/* The threads asked for: 0 is one per online CPU. */
static unsigned get_threads(unsigned asked)
{
	long cpus;

	if (asked == 0) {
		cpus = sysconf(_SC_NPROCESSORS_ONLN);
		asked = cpus > 0 ? (unsigned)cpus : 1;
	}
	return asked > B3CAS_TREE_GET_THREADS_MAX ? B3CAS_TREE_GET_THREADS_MAX
						  : asked;
}

int b3cas_tree_get(b3cas_store *store, const b3cas_oid *root,
		   const char *dest, const b3cas_tree_get_options *opts,
		   b3cas_tree_counts *counts)
{
	static const b3cas__restore_ops ops = {get_tree, get_file,
					       get_parts};
	static const b3cas_tree_get_options defaults =
		B3CAS_TREE_GET_OPTIONS_INIT;
	b3cas__restore_params params;
	get_ctx g = {store, NULL, NULL};
	int rc;

	B3CAS__NONNULL(store, "store");
	B3CAS__NONNULL(root, "root");
	B3CAS__NONNULL(dest, "dest");
	if (!opts)
		opts = &defaults;
	if (b3cas__check_version(opts->version, 1,
				 B3CAS_TREE_GET_OPTIONS_VERSION,
				 "tree_get") < 0)
		return B3CAS_EINVAL;
	if (counts)
		memset(counts, 0, sizeof(*counts));
	params.threads = get_threads(opts->threads);
	params.progress = opts->progress;
	params.progress_ctx = opts->progress_ctx;
	params.counts = counts;
	g.bufs = calloc(params.threads, sizeof(*g.bufs));
	g.part_bufs = calloc(params.threads, sizeof(*g.part_bufs));
	rc = g.bufs && g.part_bufs ? b3cas__restore(root, dest, &ops, &g,
						    &params)
				   : b3cas__error(B3CAS_ENOMEM, "tree get: "
						  "out of memory");
	for (unsigned i = 0; g.bufs && g.part_bufs && i < params.threads;
	     i++) {
		free(g.bufs[i]);
		free(g.part_bufs[i]);
	}
	free(g.bufs);
	free(g.part_bufs);
	return rc;
}

int b3cas_tree_get_dir(b3cas_store *store, const b3cas_oid *root,
		       const char *dest, b3cas_tree_counts *counts)
{
	B3CAS__NONNULL(store, "store");
	B3CAS__NONNULL(root, "root");
	B3CAS__NONNULL(dest, "dest");
	return b3cas_tree_get(store, root, dest, NULL, counts);
}

/* ---- load and diff ---------------------------------------------------- */

int b3cas_tree_load(b3cas_store *store, const b3cas_oid *id,
		    b3cas_tree **out)
{
	void *data;
	size_t len;
	int rc;

	B3CAS__NONNULL(store, "store");
	B3CAS__NONNULL(id, "id");
	B3CAS__NONNULL(out, "out");
	*out = NULL;
	rc = b3cas_store_get(store, id, &data, &len);
	if (rc < 0)
		return rc;
	rc = b3cas_tree_parse(data, len, out);
	if (rc < 0) {
		char hex[B3CAS_OID_HEX_LEN + 1];

		b3cas_free(data);
		return b3cas__error(rc, "object %s: %s",
				    b3cas_oid_fmt(hex, id), b3cas_error_last());
	}
	b3cas__tree_own(*out, data);
	return 0;
}

static bool attr_equal(const b3cas_tree_attr *a, const b3cas_tree_attr *b)
{
	if (a->mode != b->mode || a->uid != b->uid || a->gid != b->gid ||
	    a->mtime_sec != b->mtime_sec || a->mtime_nsec != b->mtime_nsec ||
	    a->xattr_count != b->xattr_count)
		return false;
	for (size_t i = 0; i < a->xattr_count; i++) {
		const b3cas_tree_xattr *x = &a->xattrs[i], *y = &b->xattrs[i];

		if (x->name_len != y->name_len ||
		    x->value_len != y->value_len ||
		    memcmp(x->name, y->name, x->name_len) != 0 ||
		    (x->value_len &&
		     memcmp(x->value, y->value, x->value_len) != 0))
			return false;
	}
	return true;
}

/* Are two entries of one name the same (a directory: the same tree)? */
static bool entry_equal(const b3cas_tree_entry *a, const b3cas_tree_entry *b)
{
	if (a->type != b->type)
		return false;
	if (a->type == B3CAS_TREE_DIR)
		return b3cas_oid_equal(&a->id, &b->id);
	return attr_equal(&a->attr, &b->attr) && a->flags == b->flags &&
	       a->size == b->size && b3cas_oid_equal(&a->id, &b->id) &&
	       a->link == b->link && a->target_len == b->target_len &&
	       (a->target_len == 0 ||
		memcmp(a->target, b->target, a->target_len) == 0) &&
	       a->rdev_major == b->rdev_major && a->rdev_minor == b->rdev_minor;
}

typedef struct diff_run {
	b3cas_store *s;
	b3cas_tree_diff_fn fn;
	void *ctx;
	char *path; /* the folder's path, '/'-joined, grown as needed */
	size_t cap;
} diff_run;

static int diff_trees(diff_run *d, size_t plen, const b3cas_oid *a,
		      const b3cas_oid *b);

/* path + "/" + name at plen; the new length, or 0 after ENOMEM. */
static size_t push_name(diff_run *d, size_t plen, const b3cas_tree_entry *e)
{
	size_t need = plen + 1 + e->name_len + 1;

	if (need > d->cap) {
		char *p = realloc(d->path, need * 2);

		if (!p)
			return 0;
		d->path = p;
		d->cap = need * 2;
	}
	if (plen)
		d->path[plen++] = '/';
	memcpy(d->path + plen, e->name, e->name_len);
	d->path[plen + e->name_len] = '\0';
	return plen + e->name_len;
}

static int diff_pair(diff_run *d, size_t plen, const b3cas_tree_entry *x,
		     const b3cas_tree_entry *y)
{
	const b3cas_tree_entry *e = x ? x : y;
	size_t n = push_name(d, plen, e);
	int rc = 0;

	if (n == 0)
		return b3cas__error(B3CAS_ENOMEM, "tree diff: out of memory");
	if (!x)
		rc = d->fn(d->path, B3CAS_TREE_ADDED, NULL, y, d->ctx);
	else if (!y)
		rc = d->fn(d->path, B3CAS_TREE_REMOVED, x, NULL, d->ctx);
	else if (x->type == B3CAS_TREE_DIR && y->type == B3CAS_TREE_DIR)
		rc = diff_trees(d, n, &x->id, &y->id);
	else if (!entry_equal(x, y))
		rc = d->fn(d->path, B3CAS_TREE_CHANGED, x, y, d->ctx);
	d->path[plen] = '\0';
	return rc;
}

/* Compare trees a and b, the folder at d->path[0..plen). Equal ids are
 * equal trees: nothing below them is read. */
static int diff_trees(diff_run *d, size_t plen, const b3cas_oid *a,
		      const b3cas_oid *b)
{
	b3cas_tree *ta = NULL, *tb = NULL;
	size_t i = 0, j = 0;
	int rc;

	if (b3cas_oid_equal(a, b))
		return 0;
	rc = b3cas_tree_load(d->s, a, &ta);
	if (rc == 0)
		rc = b3cas_tree_load(d->s, b, &tb);
	if (rc == 0 && !attr_equal(&ta->self, &tb->self))
		rc = d->fn(plen ? d->path : ".", B3CAS_TREE_CHANGED, NULL, NULL,
			   d->ctx);
	while (rc == 0 && (i < (ta ? ta->count : 0) ||
			   j < (tb ? tb->count : 0))) {
		const b3cas_tree_entry *x = i < ta->count ? &ta->entries[i]
							  : NULL;
		const b3cas_tree_entry *y = j < tb->count ? &tb->entries[j]
							  : NULL;
		int c = !x ? 1
			: !y ? -1
			     : b3cas__tree_name_cmp(x->name, x->name_len,
						    y->name, y->name_len);

		rc = diff_pair(d, plen, c <= 0 ? x : NULL, c >= 0 ? y : NULL);
		i += c <= 0;
		j += c >= 0;
	}
	b3cas_tree_free(ta);
	b3cas_tree_free(tb);
	return rc;
}

int b3cas_tree_diff(b3cas_store *store, const b3cas_oid *a,
		    const b3cas_oid *b, b3cas_tree_diff_fn fn, void *ctx)
{
	diff_run d = {store, fn, ctx, NULL, 0};
	int rc;

	B3CAS__NONNULL(store, "store");
	B3CAS__NONNULL(a, "a");
	B3CAS__NONNULL(b, "b");
	B3CAS__NONNULL(fn, "fn");
	d.path = calloc(1, 256);
	if (!d.path)
		return b3cas__error(B3CAS_ENOMEM, "tree diff: out of memory");
	d.cap = 256;
	rc = diff_trees(&d, 0, a, b);
	free(d.path);
	return rc;
}
