/*
 * store/stream.c - streaming puts and gets in constant memory.
 *
 * A writer hashes bytes as they arrive and keeps them in one buffer of at
 * least the inline threshold; when they outgrow it they go to a temp file
 * in tmp/, written a buffer at a time, which commit publishes as the loose
 * object (or throws away when the content was already stored).
 *
 * A reader of a loose object with verification on hashes the whole file at
 * open, so corruption is reported before any byte is handed out, and hashes
 * the bytes again as they are read, so a file changed after open fails the
 * final read instead of completing a wrong object. One opened with
 * B3CAS_READER_CHECK_AT_END skips the first hash (half the reads of a
 * restore): its final read is then the check, and a mismatch there is a
 * corrupt object, quarantined as any.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/chunked.h"
#include "util/error.h"
#include "util/fsutil.h"

#define WRITER_BUF_MIN (256u * 1024u)
/* A writer of a chunking store cuts and writes chunks a buffer at a time
 * (chunked.c): the buffer is the segment a feed writes. */
#define WRITER_BUF_CHUNKED (1024u * 1024u)
#define READER_CHUNK (1u << 20)

struct b3cas_writer {
	b3cas_store *store;
	b3cas_digest_state hasher;
	uint8_t *buf;
	size_t buf_len, buf_cap;
	uint64_t total;
	b3cas_tmpfile tmp; /* fd -1 until the bytes outgrow buf */
	int error;         /* first failure; the writer is then dead */
	/* A chunking store's writer stores chunks as the bytes come
	 * (cput: from the first full buffer on) instead of a temp file. */
	bool chunks;
	b3cas__cput *cput;
	/* b3cas_writer_set_base */
	bool has_base;
	b3cas_oid base;
};

static int writer_open(b3cas_writer **out, b3cas_store *s, bool chunks);

int b3cas_writer_open(b3cas_writer **out, b3cas_store *s)
{
	B3CAS__NONNULL(out, "out");
	B3CAS__NONNULL(s, "store");
	return writer_open(out, s, s->lay.chunk_max != 0);
}

int b3cas__writer_open_staged(b3cas_writer **out, b3cas_store *s)
{
	return writer_open(out, s, false);
}

static int writer_open(b3cas_writer **out, b3cas_store *s, bool chunks)
{
	b3cas_writer *w;
	int rc;

	B3CAS__NONNULL(out, "out");
	B3CAS__NONNULL(s, "store");
	rc = b3cas__store_check_writable(s, "store an object");
	if (rc < 0)
		return rc;
	w = calloc(1, sizeof(*w));
	if (!w)
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	w->store = s;
	w->tmp.fd = -1;
	w->chunks = chunks;
	w->buf_cap = s->lay.inline_threshold > WRITER_BUF_MIN
			     ? s->lay.inline_threshold
			     : WRITER_BUF_MIN;
	if (chunks && w->buf_cap < WRITER_BUF_CHUNKED)
		w->buf_cap = WRITER_BUF_CHUNKED;
	w->buf = malloc(w->buf_cap);
	rc = w->buf ? b3cas__store_hasher_init(&w->hasher, s)
		    : b3cas__error(B3CAS_ENOMEM, "out of memory");
	if (rc < 0) {
		free(w->buf);
		free(w);
		return rc;
	}
	atomic_fetch_add(&s->open_writers, 1); /* writer_free takes it back */
	*out = w;
	return 0;
}

/* A chunking writer's full buffer: its chunks stored, all but the tail
 * that may still grow into a longer chunk kept. */
static int feed(b3cas_writer *w, bool final)
{
	size_t used = 0;
	int rc = 0;

	if (!w->cput) {
		rc = b3cas__cput_begin(w->store, &w->cput);
		if (rc == 0 && w->has_base)
			rc = b3cas__cput_set_base(w->cput, &w->base);
	}
	if (rc == 0)
		rc = b3cas__cput_feed(w->cput, w->buf, w->buf_len, final,
				      &used);
	if (rc == 0) {
		memmove(w->buf, w->buf + used, w->buf_len - used);
		w->buf_len -= used;
	}
	return rc;
}

/* Move the buffered bytes to the temp file, creating it first. */
static int spill(b3cas_writer *w)
{
	int rc = 0;

	if (w->chunks)
		return feed(w, false);

	/* A staging file takes space: not the reserve's (reserve.c). */
	if (w->tmp.fd < 0)
		rc = b3cas__reserve_check_room(w->store);
	if (rc == 0 && w->tmp.fd < 0)
		rc = b3cas__tmpfile_create(&w->store->lay, &w->tmp);
	if (rc == 0)
		rc = b3cas__tmpfile_write(&w->store->lay, &w->tmp, w->buf,
					  w->buf_len);
	if (rc == 0)
		w->buf_len = 0;
	if (rc == B3CAS_ENOSPC)
		b3cas__reserve_note_full(w->store);
	return rc;
}

int b3cas_writer_write(b3cas_writer *w, const void *data, size_t len)
{
	const uint8_t *p = data;

	B3CAS__NONNULL(w, "w");
	if (w->error)
		return b3cas__error(w->error, "writer already failed");
	B3CAS__NONNULL_LEN(data, "data", len, "len");
	b3cas__digest_update(&w->hasher, data, len);
	w->total += len;
	while (len > 0) {
		size_t n = w->buf_cap - w->buf_len;

		if (n == 0) {
			int rc = spill(w);

			if (rc < 0) {
				w->error = rc;
				return rc;
			}
			continue;
		}
		if (n > len)
			n = len;
		memcpy(w->buf + w->buf_len, p, n);
		w->buf_len += n;
		p += n;
		len -= n;
	}
	return 0;
}

int b3cas_writer_set_base(b3cas_writer *w, const b3cas_oid *base)
{
	b3cas__entry e;
	int rc;

	B3CAS__NONNULL(w, "w");
	B3CAS__NONNULL(base, "base");
	if (w->error < 0)
		return b3cas__error(w->error, "writer already failed");
	if (w->total > 0 || w->has_base)
		return b3cas__error(B3CAS_EINVAL, "b3cas_writer_set_base: "
				    "the base is set before the first byte, "
				    "once");
	rc = b3cas__entry_head(w->store, base, &e);
	if (rc == 0) {
		if (e.unref)
			rc = b3cas__not_stored(base);
		b3cas__entry_done(&e);
	}
	if (rc < 0)
		return rc;
	w->base = *base;
	w->has_base = true;
	return 0;
}

static void writer_free(b3cas_writer *w)
{
	b3cas__cput_abort(w->cput);
	if (w->tmp.fd >= 0)
		b3cas__tmpfile_discard(&w->store->lay, &w->tmp);
	b3cas__digest_free(&w->hasher);
	atomic_fetch_sub(&w->store->open_writers, 1);
	free(w->buf);
	free(w);
}

int b3cas__writer_finish(b3cas_writer *w, b3cas_oid *id_out,
			 b3cas__publish_fn publish, void *ctx,
			 const b3cas__tag *tag)
{
	return b3cas__writer_finish_named(w, id_out, publish, ctx, tag, NULL,
					  NULL);
}

int b3cas__writer_finish_named(b3cas_writer *w, b3cas_oid *id_out,
			       b3cas__publish_fn publish, void *ctx,
			       const b3cas__tag *tag,
			       void (*named)(void *nctx, const b3cas_oid *id),
			       void *nctx)
{
	b3cas_store *s = w->store;
	b3cas_oid id;
	int rc = w->error;

	if (rc < 0) {
		writer_free(w);
		return b3cas__error(rc, "writer already failed");
	}
	b3cas__digest_final(&w->hasher, &id);
	if (named)
		named(nctx, &id);
	/* with a base, even a short chunked object goes through the put in
	 * steps, which makes deltas */
	if (w->cput || (w->has_base && w->chunks &&
			w->total > s->lay.chunk_max)) {
		/* only b3cas_writer_commit opens these (publish_put) */
		rc = feed(w, true);
		if (rc == 0) {
			rc = b3cas__cput_commit(w->cput, &id, tag);
			w->cput = NULL;
		}
		(void)publish;
		(void)ctx;
	} else if (w->tmp.fd < 0 &&
		   (w->total <= s->lay.inline_threshold || w->chunks)) {
		rc = publish(s, &id, w->buf, w->buf_len, NULL, ctx);
	} else {
		rc = spill(w);
		/* publish consumes the temp file, success or not; after a
		 * failed spill writer_free throws it away */
		if (rc == 0) {
			rc = publish(s, &id, NULL, w->total, &w->tmp, ctx);
			w->tmp.fd = -1;
		}
	}
	writer_free(w);
	if (rc >= 0 && id_out)
		*id_out = id;
	return rc;
}

static int publish_put(b3cas_store *s, const b3cas_oid *id, const void *data,
		       size_t len, b3cas_tmpfile *tmp, void *ctx)
{
	(void)ctx;
	return b3cas__store_publish(s, id, data, len, tmp);
}

b3cas_store *b3cas__writer_store(const b3cas_writer *w)
{
	return w->store;
}

uint64_t b3cas__writer_total(const b3cas_writer *w)
{
	return w->total;
}

int b3cas_writer_commit(b3cas_writer *w, b3cas_oid *id_out)
{
	b3cas_store *s;
	uint64_t t0, total;
	int rc;

	B3CAS__NONNULL(w, "w");
	s = w->store;
	t0 = b3cas__now_ns();
	total = w->total;
	rc = b3cas__writer_finish(w, id_out, publish_put, NULL, NULL);
	b3cas__note_put(s, t0, total, rc, 1);
	return rc;
}

void b3cas_writer_abort(b3cas_writer *w)
{
	if (w)
		writer_free(w);
}

/* ---- reader -------------------------------------------------------------- */

struct b3cas_reader {
	b3cas_store *store;
	b3cas_oid id;
	uint64_t size, pos;
	uint8_t *data;              /* inline objects: all their bytes */
	uint8_t *top;               /* chunked objects: the manifest top */
	b3cas__top t;
	/* chunked objects: a window read ahead for short reads, so that
	 * each does not check a whole segment again */
	uint8_t *win;
	uint64_t win_off;
	size_t win_len;
	int fd;                     /* loose objects */
	bool recheck;               /* hash again while reading */
	bool late;                  /* ... and only then: not at open */
	b3cas_digest_state hasher;
};

/* Hash the whole of an open loose object and compare with its id. */
static int verify_file(b3cas_reader *r)
{
	b3cas_digest_state h;
	uint8_t *chunk;
	b3cas_oid got;
	int rc;

	chunk = b3cas__malloc(READER_CHUNK);
	if (!chunk)
		return B3CAS_ENOMEM;
	rc = b3cas__store_hasher_init(&h, r->store);
	for (uint64_t off = 0; rc == 0 && off < r->size; off += READER_CHUNK) {
		size_t n = r->size - off < READER_CHUNK
				   ? (size_t)(r->size - off)
				   : READER_CHUNK;

		rc = b3cas__object_pread(&r->store->lay, &r->id, r->fd, chunk,
					 n, off);
		if (rc == 0)
			b3cas__digest_update(&h, chunk, n);
	}
	if (rc == 0) {
		b3cas__digest_final(&h, &got);
		if (!b3cas_oid_equal(&got, &r->id))
			rc = b3cas__digest_mismatch(&r->id, &got);
	}
	b3cas__digest_free(&h);
	free(chunk);
	return rc;
}

static int open_inline(b3cas_reader *r, const b3cas__entry *e)
{
	b3cas_oid got;
	int rc;

	r->data = b3cas__malloc((size_t)r->size + 1);
	if (!r->data)
		return B3CAS_ENOMEM;
	rc = b3cas__entry_decode(e, r->data);
	if (rc < 0)
		return b3cas__store_on_corrupt(r->store, &r->id, r->size,
					       false, rc);
	if (r->store->verify) {
		rc = b3cas__store_hash(r->store, &got, r->data,
				       (size_t)r->size);
		if (rc == 0 && !b3cas_oid_equal(&got, &r->id))
			rc = b3cas__store_on_corrupt(
				r->store, &r->id, r->size, false,
				b3cas__digest_mismatch(&r->id, &got));
	}
	return rc;
}

/* A RADOS store's object, read whole from its pool and checked: one this
 * host holds (through false: r->size from its entry), or, through, one
 * its index does not hold, which another host may. */
static int open_tier(b3cas_reader *r, bool through)
{
	b3cas_store *s = r->store;
	b3cas_oid got;
	void *data = NULL;
	size_t len = 0;
	int rc;

	if (through) {
		rc = b3cas__tier_read_through(s, &r->id, &data, &len);
		if (rc == B3CAS_ENOTFOUND)
			return b3cas__not_stored(&r->id);
		if (rc < 0)
			return rc;
		r->data = data;
		r->size = len;
	} else {
		r->data = b3cas__malloc((size_t)r->size + 1);
		if (!r->data)
			return B3CAS_ENOMEM;
		rc = b3cas__tier_read(s, &r->id, r->size, r->data);
		if (rc < 0)
			return rc == B3CAS_ECORRUPT
				       ? b3cas__store_on_corrupt(s, &r->id,
								 r->size,
								 false, rc)
				       : rc;
	}
	if (!s->verify)
		return 0;
	rc = b3cas__store_hash(s, &got, r->data, (size_t)r->size);
	if (rc == 0 && !b3cas_oid_equal(&got, &r->id))
		rc = b3cas__store_on_corrupt(s, &r->id, r->size, false,
					     b3cas__digest_mismatch(&r->id,
								    &got));
	return rc;
}

/* A chunked object is read range by range (chunked.c): keep its top. */
static int open_chunked(b3cas_reader *r, const b3cas__entry *e)
{
	r->top = b3cas__malloc(e->payload_len);
	if (!r->top)
		return B3CAS_ENOMEM;
	memcpy(r->top, e->payload, e->payload_len);
	return b3cas__top_parse(&r->t, &r->id, e->size, r->top,
				e->payload_len);
}

/*
 * The object was found corrupt (rc): take the good bytes from the mirror
 * (b3cas__store_heal also writes them back) and read from memory, as for
 * an inline object. If the mirror cannot: b3cas__store_heal_failed.
 */
static int heal_reader(b3cas_reader *r, int rc)
{
	char msg[B3CAS__MESSAGE_MAX];
	size_t len;
	void *buf;
	int hrc;

	snprintf(msg, sizeof(msg), "%s", b3cas_error_last());
	hrc = b3cas__store_heal(r->store, &r->id, &buf, &len);
	if (hrc < 0)
		return b3cas__store_heal_failed(r->store, rc, msg, hrc);
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	free(r->data);
	r->data = buf;
	r->size = len;
	r->recheck = false;
	b3cas__digest_free(&r->hasher);
	b3cas_error_clear();
	return 0;
}

/* Open a reader; late: check a loose object at its final read only (not
 * with a mirror, which heals at open only). */
static int reader_open(b3cas_reader **out, b3cas_store *s,
		       const b3cas_oid *id, bool late)
{
	b3cas_reader *r;
	b3cas__entry e;
	int kind = B3CAS_ENTRY_LOOSE, rc;

	r = calloc(1, sizeof(*r));
	if (!r)
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	r->store = s;
	atomic_fetch_add(&s->open_readers, 1); /* b3cas_reader_close: back */
	r->id = *id;
	r->fd = -1;
	rc = b3cas__entry_get(s, id, &e);
	if (s->tier && (rc == B3CAS_ENOTFOUND || (rc == 0 && e.unref))) {
		/* not held here: another host may hold it */
		if (rc == 0)
			b3cas__entry_done(&e);
		kind = -1;
		rc = open_tier(r, true);
	} else if (rc == 0 && e.unref) {
		b3cas__entry_done(&e);
		rc = b3cas__not_stored(id);
	}
	if (rc == 0 && kind != -1) {
		kind = e.kind;
		r->size = e.size;
		if (kind == B3CAS_ENTRY_CHUNKED)
			rc = open_chunked(r, &e);
		else if (kind != B3CAS_ENTRY_LOOSE)
			rc = open_inline(r, &e);
		else if (s->tier)
			rc = open_tier(r, false);
		b3cas__entry_done(&e);
	}
	if (rc == 0 && kind == B3CAS_ENTRY_LOOSE && !s->tier) {
		rc = b3cas__store_open_loose(s, id, r->size, &r->fd);
		r->late = late && !s->mirror.dir && s->verify;
		if (rc == 0 && s->verify && !r->late)
			rc = verify_file(r);
		if (rc == B3CAS_ECORRUPT)
			rc = b3cas__store_on_corrupt(s, id, r->size, true, rc);
		if (rc == 0 && s->verify) {
			rc = b3cas__store_hasher_init(&r->hasher, s);
			r->recheck = rc == 0;
		}
	}
	if (rc == B3CAS_ECORRUPT && s->mirror.dir)
		rc = heal_reader(r, rc);
	if (rc < 0) {
		b3cas_reader_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

int b3cas_reader_open(b3cas_reader **out, b3cas_store *s,
		      const b3cas_oid *id)
{
	B3CAS__NONNULL(out, "out");
	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(id, "id");
	return reader_open(out, s, id, false);
}

int b3cas_reader_open_flags(b3cas_reader **out, b3cas_store *s,
			    const b3cas_oid *id, unsigned flags)
{
	B3CAS__NONNULL(out, "out");
	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(id, "id");
	if (flags & ~(unsigned)B3CAS_READER_CHECK_AT_END)
		return b3cas__error(B3CAS_EINVAL, "b3cas_reader_open_flags: "
				    "unknown flags 0x%x", flags);
	return reader_open(out, s, id,
			   (flags & B3CAS_READER_CHECK_AT_END) != 0);
}

uint64_t b3cas_reader_size(const b3cas_reader *r)
{
	B3CAS__NONNULL_OR(r, "r", 0);
	return r->size;
}

/* The final read of a rechecked loose object: compare the second hash
 * (the only one, for a late reader: a mismatch is then a corrupt file). */
static int recheck_end(b3cas_reader *r)
{
	char hex[B3CAS_OID_HEX_LEN + 1];
	b3cas_oid got;

	b3cas__digest_final(&r->hasher, &got);
	r->recheck = false;
	if (b3cas_oid_equal(&got, &r->id))
		return 0;
	if (r->late)
		return b3cas__store_on_corrupt(r->store, &r->id, r->size, true,
					       b3cas__digest_mismatch(&r->id,
								      &got));
	return b3cas__error(B3CAS_ECORRUPT,
			    "the file of object %s changed while it was being "
			    "read",
			    b3cas_oid_fmt(hex, &r->id));
}

/* The window of a chunked object's reader. */
#define READER_WINDOW (64u * 1024u)

/* n bytes of a chunked object at r->pos: a long read straight from the
 * chunks, a short one from the window (filled when it lacks them). */
static int read_chunked(b3cas_reader *r, uint8_t *buf, size_t n)
{
	uint64_t left = r->size - r->pos;
	int rc;

	if (n >= READER_WINDOW)
		return b3cas__chunked_read(r->store, &r->id, &r->t, r->pos,
					   buf, n, 0);
	if (!(r->win && r->pos >= r->win_off &&
	      r->pos + n <= r->win_off + r->win_len)) {
		if (!r->win && !(r->win = b3cas__malloc(READER_WINDOW)))
			return B3CAS_ENOMEM;
		r->win_off = r->pos;
		r->win_len = left < READER_WINDOW ? (size_t)left
						  : READER_WINDOW;
		rc = b3cas__chunked_read(r->store, &r->id, &r->t, r->win_off,
					 r->win, r->win_len, 0);
		if (rc < 0) {
			r->win_len = 0;
			return rc;
		}
	}
	memcpy(buf, r->win + (r->pos - r->win_off), n);
	return 0;
}

int64_t b3cas_reader_read(b3cas_reader *r, void *buf, size_t len)
{
	uint64_t left;
	size_t n;
	int rc;

	B3CAS__NONNULL(r, "r");
	B3CAS__NONNULL_LEN(buf, "buf", len, "len");
	left = r->size - r->pos;
	n = left < len ? (size_t)left : len;
	if (n == 0)
		return 0;
	if (r->data) {
		memcpy(buf, r->data + r->pos, n);
	} else if (r->top) {
		rc = read_chunked(r, buf, n);
		if (rc < 0)
			return rc;
	} else {
		rc = b3cas__object_pread(&r->store->lay, &r->id, r->fd, buf,
					 n, r->pos);
		if (rc < 0)
			return rc;
		if (r->recheck) {
			b3cas__digest_update(&r->hasher, buf, n);
			if (r->pos + n == r->size) {
				rc = recheck_end(r);
				if (rc < 0)
					return rc;
			}
		}
	}
	r->pos += n;
	return (int64_t)n;
}

void b3cas_reader_close(b3cas_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	b3cas__digest_free(&r->hasher);
	atomic_fetch_sub(&r->store->open_readers, 1);
	free(r->data);
	free(r->top);
	free(r->win);
	free(r);
}
