/*
 * store/get.c - reading an object: L1, L2, then the index and the inline
 * bytes or loose file; verified against its id; a corrupt copy is
 * quarantined and, with a mirror, healed.
 *
 * Invariants: nothing reaches a caller that did not hash to its id (when
 * verify_on_read is on); a reader offers L1 only what it read with a
 * ticket taken before the read, so a delete in between is never undone;
 * reads take no lock of the store's own.
 */
#include "store/handle.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/chunked.h"
#include "util/error.h"
#include "util/fsutil.h"

/* Check that buf hashes to id (when the store verifies reads). */
int b3cas__verify(b3cas_store *s, const b3cas_oid *id, const void *buf,
		  size_t len)
{
	b3cas_oid got;
	int rc;

	if (!s->verify)
		return 0;
	rc = b3cas__store_hash(s, &got, buf, len);
	if (rc == 0 && !b3cas_oid_equal(&got, id))
		rc = b3cas__digest_mismatch(id, &got);
	return rc;
}

/* A ticket for an L2 copy of id, taken before its index entry is read
 * (b3cas__l2_ticket); one that never matches without L2. */
static uint64_t l2_ticket(b3cas_store *s, const b3cas_oid *id)
{
	b3cas_l2 *l2 = atomic_load_explicit(&s->cache.l2, memory_order_acquire);

	return l2 ? b3cas__l2_ticket(l2, id) : UINT64_MAX;
}

/* A RADOS store's read of an object its index does not hold (or holds
 * no reference to): from the pool, where another host may keep it;
 * verified as an index read is (FROM_INDEX: and kept out of L2, which
 * holds copies of what this host holds). */
static int read_through(b3cas_store *s, const b3cas_oid *id,
			b3cas_blob **blob_out, void **data_out,
			size_t *len_out, read_source *from)
{
	void *data;
	size_t len;
	int rc = b3cas__tier_read_through(s, id, &data, &len);

	if (rc == B3CAS_ENOTFOUND)
		return b3cas__not_stored(id);
	if (rc < 0)
		return rc;
	if (blob_out) {
		b3cas_blob *blob = b3cas__blob_new(len);

		if (!blob) {
			free(data);
			return b3cas__error(B3CAS_ENOMEM, "out of memory");
		}
		memcpy(b3cas__blob_bytes(blob), data, len);
		free(data);
		*blob_out = blob;
	} else {
		*data_out = data;
	}
	*len_out = len;
	*from = FROM_INDEX;
	return 0;
}

/*
 * Read object id into a new buffer: a blob when blob_out is not NULL,
 * else a malloc'd *data_out. The bytes are not verified unless they came
 * from L2 (which verifies every copy it returns). *ticket_out gets the L2
 * ticket for offering a copy of what was read (l2_ticket).
 */
int b3cas__read_object(b3cas_store *s, const b3cas_oid *id,
		       b3cas_blob **blob_out, void **data_out,
		       size_t *len_out, read_source *from,
		       uint64_t *ticket_out)
{
	b3cas_blob *blob = NULL;
	b3cas__entry e;
	b3cas_l2 *l2;
	uint8_t *buf;
	int fd = -1, rc;

	*ticket_out = l2_ticket(s, id);
	rc = b3cas__entry_get(s, id, &e);
	if (s->tier && (rc == B3CAS_ENOTFOUND || (rc == 0 && e.unref))) {
		/* Not held here: another host may hold it. */
		if (rc == 0)
			b3cas__entry_done(&e);
		return read_through(s, id, blob_out, data_out, len_out, from);
	}
	if (rc < 0)
		return rc;
	/* An object without references is gone, as far as callers see. */
	if (e.unref) {
		b3cas__entry_done(&e);
		return b3cas__not_stored(id);
	}
	if (e.size > SIZE_MAX - 4096) {
		b3cas__entry_done(&e);
		return b3cas__error(B3CAS_ENOMEM, "object too large");
	}
	if (blob_out) {
		blob = b3cas__blob_new((size_t)e.size);
		buf = blob ? b3cas__blob_bytes(blob) : NULL;
		if (!buf)
			b3cas__error(B3CAS_ENOMEM, "out of memory");
	} else {
		buf = b3cas__malloc((size_t)e.size);
	}
	if (!buf) {
		b3cas__entry_done(&e);
		return B3CAS_ENOMEM;
	}
	if (e.kind == B3CAS_ENTRY_INLINE || e.kind == B3CAS_ENTRY_ZINLINE ||
	    e.kind == B3CAS_ENTRY_PACKED || e.kind == B3CAS_ENTRY_DELTA) {
		rc = b3cas__entry_decode(&e, buf);
		if (rc < 0)
			rc = b3cas__store_on_corrupt(s, id, e.size, false, rc);
		*from = FROM_INDEX;
	} else if (e.kind == B3CAS_ENTRY_CHUNKED) {
		b3cas__top t;

		rc = b3cas__top_parse(&t, id, e.size, e.payload,
				      e.payload_len);
		if (rc == 0)
			rc = b3cas__chunked_read(s, id, &t, 0, buf,
						 (size_t)e.size, 0);
		if (rc == B3CAS_ECORRUPT)
			rc = b3cas__store_on_corrupt(s, id, e.size, false, rc);
		*from = FROM_CHUNKS;
	} else if ((l2 = atomic_load_explicit(&s->cache.l2,
					      memory_order_acquire)) &&
		   b3cas__l2_read(l2, id, e.size, buf) == 1) {
		*from = FROM_L2;
	} else if (s->tier) {
		rc = b3cas__tier_read(s, id, e.size, buf);
		if (rc == B3CAS_ECORRUPT)
			rc = b3cas__store_on_corrupt(s, id, e.size, false, rc);
		*from = FROM_TIER;
	} else {
		rc = b3cas__store_open_loose(s, id, e.size, &fd);
		if (rc == 0) {
			rc = b3cas__object_pread(&s->lay, id, fd, buf,
						 (size_t)e.size, 0);
			close(fd);
		}
		/* A file of the wrong size, or missing, is a corrupt object
		 * too (a missing one has nothing to move). */
		if (rc == B3CAS_ECORRUPT)
			rc = b3cas__store_on_corrupt(s, id, e.size, true, rc);
		*from = FROM_TIER;
	}
	*len_out = (size_t)e.size;
	b3cas__entry_done(&e);
	if (rc < 0) {
		if (blob)
			b3cas_blob_release(blob);
		else
			free(buf);
		return rc;
	}
	if (blob_out)
		*blob_out = blob;
	else
		*data_out = buf;
	return 0;
}

void b3cas__tier_prefetch(b3cas_store *s, const b3cas_oid *ids, size_t n,
			  void **bufs, size_t *lens, uint64_t *l1_tickets,
			  uint64_t *l2_tickets)
{
	uint8_t(*raw)[32] = malloc((n ? n : 1) * sizeof(*raw));
	void **rb = malloc((n ? n : 1) * sizeof(*rb));
	size_t *caps = malloc((n ? n : 1) * sizeof(*caps));
	size_t *got = malloc((n ? n : 1) * sizeof(*got));
	size_t *at = malloc((n ? n : 1) * sizeof(*at));
	b3cas_l2 *l2 = atomic_load_explicit(&s->cache.l2, memory_order_acquire);
	size_t m = 0;
	int rc;

	for (size_t i = 0; i < n; i++)
		bufs[i] = NULL;
	if (!raw || !rb || !caps || !got || !at)
		goto out;
	for (size_t i = 0; i < n; i++) {
		b3cas__entry e;
		bool loose;

		/* L1 and L2 serve theirs without the cluster */
		if (b3cas__cache_contains(s->cache.l1, &ids[i]) ||
		    (l2 && b3cas__l2_contains(l2, &ids[i])))
			continue;
		/* both tickets before the entry is read, as a get takes them */
		l1_tickets[i] = b3cas__cache_ticket(s->cache.l1, &ids[i]);
		l2_tickets[i] = l2_ticket(s, &ids[i]);
		if (b3cas__entry_get(s, &ids[i], &e) != 0)
			continue; /* not held here: read one by one */
		loose = !e.unref && e.kind == B3CAS_ENTRY_LOOSE &&
			e.size <= B3CAS_RADOS_OBJECT_MAX;
		caps[m] = (size_t)e.size;
		b3cas__entry_done(&e);
		if (!loose || !(rb[m] = b3cas__malloc(caps[m] ? caps[m] : 1)))
			continue;
		memcpy(raw[m], ids[i].bytes, B3CAS_OID_LEN);
		at[m++] = i;
	}
	rc = m ? b3cas__rados_read_batch(s->tier, (const uint8_t(*)[32])raw,
					 rb, caps, m, got)
	       : 0;
	for (size_t k = 0; k < m; k++) {
		/* a failed batch, or an object not of its entry's size: one
		 * by one, as a get reads (and reports) it */
		if (rc < 0 || got[k] != caps[k]) {
			free(rb[k]);
			continue;
		}
		bufs[at[k]] = rb[k];
		lens[at[k]] = got[k];
	}
out:
	b3cas_error_clear();
	free(raw);
	free(rb);
	free(caps);
	free(got);
	free(at);
}

int b3cas__store_on_corrupt(b3cas_store *s, const b3cas_oid *id,
			    uint64_t len, bool loose, int rc)
{
	char msg[B3CAS__MESSAGE_MAX];

	atomic_fetch_add_explicit(&s->count.corrupt_reads, 1,
				  memory_order_relaxed);
	if (!loose)
		return rc;
	snprintf(msg, sizeof(msg), "%s", b3cas_error_last());
	if (b3cas__quarantine_loose(s, id, len) == 1)
		return b3cas__error(rc, "%s; its file was moved to "
				    "%s/integrity/quarantine/", msg,
				    s->lay.root);
	return b3cas__error(rc, "%s", msg);
}

/* After a read: verify (unless L2 did), then copy a loose object read
 * from the tier into L2 (with the ticket read_object took). */
static int finish_read(b3cas_store *s, const b3cas_oid *id, const void *buf,
		       size_t len, read_source from, uint64_t ticket)
{
	b3cas_l2 *l2;
	/* L2 verified its copy; a chunked read, every chunk and segment. */
	int rc = from == FROM_L2 || from == FROM_CHUNKS
			 ? 0
			 : b3cas__verify(s, id, buf, len);

	if (rc == B3CAS_ECORRUPT)
		return b3cas__store_on_corrupt(s, id, len,
					       from == FROM_TIER && !s->tier,
					       rc);

	if (rc == 0 && from == FROM_TIER &&
	    (l2 = atomic_load_explicit(&s->cache.l2, memory_order_acquire)))
		b3cas__l2_add(l2, id, buf, len, ticket);
	return rc;
}

/* What an L1 entry of len bytes costs: its bytes and its bookkeeping. */
#define L1_OVERHEAD 192

static bool l1_admits(b3cas_store *s, size_t len)
{
	/* As the engine decides: at most a quarter of one of 64 shards. */
	uint64_t capacity = atomic_load_explicit(&s->cache.l1_capacity,
						 memory_order_relaxed);

	return (uint64_t)len + L1_OVERHEAD <= capacity / 256;
}

/* Offer a verified blob to L1; the caller keeps its own reference. */
static void l1_offer(b3cas_store *s, const b3cas_oid *id, b3cas_blob *blob,
		     uint64_t ticket)
{
	size_t len = b3cas_blob_size(blob);

	if (!l1_admits(s, len))
		return;
	b3cas_blob_retain(blob);
	if (!b3cas__cache_insert(s->cache.l1, id, blob, len + L1_OVERHEAD,
				 ticket))
		b3cas_blob_release(blob);
}

/* Offer verified bytes in a caller's buffer to L1 (copied). */
void b3cas__l1_offer_copy(b3cas_store *s, const b3cas_oid *id,
			  const void *buf, size_t len, uint64_t ticket)
{
	b3cas_blob *blob;

	if (!l1_admits(s, len) || !(blob = b3cas__blob_new(len)))
		return;
	memcpy(b3cas__blob_bytes(blob), buf, len);
	l1_offer(s, id, blob, ticket);
	b3cas_blob_release(blob);
}

/* A copy of an L1 hit in a new malloc'd buffer. */
int b3cas__copy_blob(b3cas_blob *blob, void **data_out, size_t *len_out)
{
	size_t len = b3cas_blob_size(blob);
	void *buf = b3cas__malloc(len);

	if (buf)
		memcpy(buf, b3cas_blob_data(blob), len);
	b3cas_blob_release(blob);
	if (!buf)
		return B3CAS_ENOMEM;
	*data_out = buf;
	*len_out = len;
	return 0;
}

int b3cas__store_load(b3cas_store *s, const b3cas_oid *id,
		      b3cas_blob **out)
{
	uint64_t ticket = b3cas__cache_ticket(s->cache.l1, id), l2t;
	read_source from;
	b3cas_blob *blob;
	void *good;
	size_t len;
	int rc = b3cas__read_object(s, id, &blob, NULL, &len, &from, &l2t);

	if (rc == 0) {
		rc = finish_read(s, id, b3cas__blob_bytes(blob), len, from,
				 l2t);
		if (rc < 0)
			b3cas_blob_release(blob);
	}
	if (rc == B3CAS_ECORRUPT) {
		rc = b3cas__heal(s, id, rc, &good, &len);
		if (rc == 0) {
			blob = b3cas__blob_new(len);
			if (blob)
				memcpy(b3cas__blob_bytes(blob), good, len);
			else
				rc = b3cas__error(B3CAS_ENOMEM,
						  "out of memory");
			free(good);
		}
	}
	if (rc < 0)
		return rc;
	l1_offer(s, id, blob, ticket);
	*out = blob;
	return 0;
}

int b3cas_store_get_view(b3cas_store *s, const b3cas_oid *id,
			 b3cas_blob **out)
{
	uint64_t t0 = b3cas__now_ns();
	void *hit;
	int rc = 0;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(id, "id");
	B3CAS__NONNULL(out, "out");
	if (b3cas__cache_get(s->cache.l1, id, &hit))
		*out = hit;
	else
		rc = b3cas__store_load(s, id, out);
	b3cas__note_get(s, t0, 1);
	return rc;
}

int b3cas_store_get(b3cas_store *s, const b3cas_oid *id, void **data_out,
		    size_t *len_out)
{
	uint64_t t0 = b3cas__now_ns(), ticket, l2t;
	read_source from;
	void *buf, *hit;
	size_t len;
	int rc;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(id, "id");
	B3CAS__NONNULL(data_out, "data_out");
	B3CAS__NONNULL(len_out, "len_out");
	if (b3cas__cache_get(s->cache.l1, id, &hit)) {
		rc = b3cas__copy_blob(hit, data_out, len_out);
		goto out;
	}
	ticket = b3cas__cache_ticket(s->cache.l1, id);
	rc = b3cas__read_object(s, id, NULL, &buf, &len, &from, &l2t);
	if (rc == 0) {
		rc = finish_read(s, id, buf, len, from, l2t);
		if (rc < 0)
			free(buf);
	}
	rc = b3cas__heal(s, id, rc, &buf, &len);
	if (rc == 0) {
		b3cas__l1_offer_copy(s, id, buf, len, ticket);
		*data_out = buf;
		*len_out = len;
	}
out:
	b3cas__note_get(s, t0, 1);
	return rc;
}

/*
 * A whole read of an object the index holds, or of a loose one (no L2),
 * straight into the caller's buffer (len >= e->size): no copy of the
 * object in between, and nothing offered to L1. 1 when read and
 * verified; 0 when this does not serve it (another kind, or anything
 * amiss: the caller reads it the usual way, which counts, heals or
 * quarantines what is wrong and says so); < 0 out of memory.
 */
static int read_whole_into(b3cas_store *s, const b3cas_oid *id,
			   const b3cas__entry *e, void *buf)
{
	int rc, fd = -1;

	if (e->kind == B3CAS_ENTRY_INLINE || e->kind == B3CAS_ENTRY_ZINLINE ||
	    e->kind == B3CAS_ENTRY_PACKED || e->kind == B3CAS_ENTRY_DELTA) {
		rc = e->payload ? b3cas__entry_decode(e, buf) : B3CAS_ECORRUPT;
	} else if (e->kind == B3CAS_ENTRY_LOOSE && s->tier &&
		   !atomic_load_explicit(&s->cache.l2, memory_order_acquire)) {
		rc = b3cas__tier_read(s, id, e->size, buf);
	} else if (e->kind == B3CAS_ENTRY_LOOSE &&
		   !atomic_load_explicit(&s->cache.l2, memory_order_acquire)) {
		rc = b3cas__store_open_loose(s, id, e->size, &fd);
		if (rc == 0) {
			rc = b3cas__object_pread(&s->lay, id, fd, buf,
						 (size_t)e->size, 0);
			close(fd);
		}
	} else {
		return 0;
	}
	if (rc == 0)
		rc = b3cas__verify(s, id, buf, (size_t)e->size);
	if (rc == B3CAS_ENOMEM)
		return rc;
	b3cas_error_clear();
	return rc == 0;
}

int b3cas_store_read_at(b3cas_store *s, const b3cas_oid *id, uint64_t offset,
			void *buf, size_t len, size_t *nread)
{
	uint64_t t0 = b3cas__now_ns();
	b3cas_blob *blob = NULL;
	b3cas__entry e;
	void *hit;
	size_t n = 0;
	int rc;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(id, "id");
	B3CAS__NONNULL_LEN(buf, "buf", len, "len");
	if (nread)
		*nread = 0;
	if (b3cas__cache_get(s->cache.l1, id, &hit)) {
		blob = hit;
		rc = 0;
		goto copy;
	}
	rc = b3cas__entry_get(s, id, &e);
	if (rc == 0 && e.unref) {
		b3cas__entry_done(&e);
		rc = b3cas__not_stored(id);
	}
	if (rc == 0 && e.kind == B3CAS_ENTRY_CHUNKED) {
		b3cas__top t;

		if (offset < e.size)
			n = e.size - offset < len ? (size_t)(e.size - offset)
						  : len;
		rc = b3cas__top_parse(&t, id, e.size, e.payload,
				      e.payload_len);
		if (rc == 0 && n)
			rc = b3cas__chunked_read(s, id, &t, offset, buf, n,
						 0);
		if (rc == B3CAS_ECORRUPT)
			rc = b3cas__store_on_corrupt(s, id, e.size, false, rc);
		b3cas__entry_done(&e);
		goto out;
	}
	if (rc == 0 && offset == 0 && len >= e.size && e.size > 0) {
		int whole = read_whole_into(s, id, &e, buf);

		b3cas__entry_done(&e);
		if (whole > 0)
			n = (size_t)e.size;
		if (whole != 0) {
			rc = whole > 0 ? 0 : whole;
			goto out;
		}
	} else if (rc == 0) {
		b3cas__entry_done(&e);
	}
	if (rc == 0)
		rc = b3cas__store_load(s, id, &blob);
copy:
	if (rc == 0) {
		size_t size = b3cas_blob_size(blob);

		if (offset < size)
			n = size - offset < len ? size - (size_t)offset : len;
		if (n)
			memcpy(buf, (const uint8_t *)b3cas_blob_data(blob) +
					    offset,
			       n);
		b3cas_blob_release(blob);
	}
out:
	if (rc == 0 && nread)
		*nread = n;
	b3cas__note_get(s, t0, 1);
	return rc;
}
