/*
 * maint/copy_linked.c - what backup, restore and recover copy beyond
 * single objects: an object that holds links (b3cas_store_put_linked: a
 * tree, a checkpoint) with everything it reaches, and names.
 *
 * A store's walk of objects (b3cas_store_foreach) shows what callers
 * hold; what only links hold (a checkpoint's trees and files) it leaves
 * out, as it leaves out chunks. So a copy starts from each object callers
 * or names hold and goes down its links: an object is copied after every
 * object it links to (post-order, on a stack of our own, not the C
 * stack), and a linked object is stored with b3cas_lease_put_linked, so
 * the destination's links, and so its counts and its GC, are the
 * source's. Every object this stores is held by a lease until the end of
 * one top-level copy: then its parent's links hold it, and the lease's
 * references go (a crash in between leaves them to the next open, which
 * drops them: nothing leaks beyond what GC collects).
 *
 * Invariants: bytes arrive verified (the source's streaming reader, or,
 * for a linked object read whole, a hash of what was read compared with
 * its id); a linked object is stored only once every object it links to
 * is stored; a name is set only once its object is stored whole.
 */
#include <stdlib.h>
#include <string.h>

#include "maint/integrity_int.h"
#include "util/error.h"

/* ---- a set of ids ------------------------------------------------------- */

static size_t id_slot(const b3cas_oid *id, size_t cap)
{
	uint64_t h;

	memcpy(&h, id->bytes, sizeof(h)); /* a hash already */
	return (size_t)h & (cap - 1);
}

/* Add id: 1 added, 0 there already, or B3CAS_ENOMEM. */
static int seen_add(b3cas__seen *s, const b3cas_oid *id)
{
	size_t i;

	if ((s->n + 1) * 4 > s->cap * 3) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		b3cas_oid *ids = calloc(cap, sizeof(*ids));
		uint8_t *used = calloc(cap, 1);

		if (!ids || !used) {
			free(ids);
			free(used);
			return b3cas__error(B3CAS_ENOMEM, "out of memory");
		}
		for (size_t j = 0; j < s->cap; j++) {
			if (!s->used[j])
				continue;
			i = id_slot(&s->ids[j], cap);
			while (used[i])
				i = (i + 1) & (cap - 1);
			used[i] = 1;
			ids[i] = s->ids[j];
		}
		free(s->ids);
		free(s->used);
		s->ids = ids;
		s->used = used;
		s->cap = cap;
	}
	for (i = id_slot(id, s->cap); s->used[i]; i = (i + 1) & (s->cap - 1))
		if (b3cas_oid_equal(&s->ids[i], id))
			return 0;
	s->used[i] = 1;
	s->ids[i] = *id;
	s->n++;
	return 1;
}

void b3cas__deep_init(b3cas__deep *d, b3cas__copy *c, bool descend)
{
	memset(d, 0, sizeof(*d));
	d->c = c;
	d->descend = descend;
}

void b3cas__deep_free(b3cas__deep *d)
{
	free(d->seen.ids);
	free(d->seen.used);
	memset(&d->seen, 0, sizeof(d->seen));
}

/* ---- one object under the lease ----------------------------------------- */

/* Stream id (which holds no links) from the source into the destination,
 * the lease holding the reference. 0 or an error (*src_side: whose). */
static int copy_leased(b3cas__deep *d, b3cas_lease *lease,
		       const b3cas_oid *id, bool *src_side)
{
	char hex[B3CAS_OID_HEX_LEN + 1];
	b3cas_writer *w;
	b3cas_oid got;
	int rc = b3cas__copy_stream(d->c, id, false, &w, src_side);

	if (rc < 0)
		return rc;
	rc = b3cas_lease_commit(lease, w, &got);
	if (rc < 0)
		return rc;
	d->copied++;
	/* Cannot happen (the reader verified every byte); what was stored
	 * is stored under its own id and goes with the lease. */
	if (!b3cas_oid_equal(&got, id))
		return b3cas__error(B3CAS_ECORRUPT, "the copy of %s arrived "
				    "with another id",
				    b3cas_oid_fmt(hex, id));
	return 0;
}

/* Read linked object id whole from the source, verified, and store it
 * with its links (all stored already) under the lease. */
static int put_linked(b3cas__deep *d, b3cas_lease *lease, const b3cas_oid *id,
		      const b3cas_oid *links, size_t n, bool *src_side)
{
	b3cas__copy *c = d->c;
	char hex[B3CAS_OID_HEX_LEN + 1];
	b3cas_oid got;
	void *data;
	size_t len;
	int rc;

	*src_side = true;
	rc = b3cas_store_get(c->src, id, &data, &len);
	if (rc < 0)
		return rc;
	rc = b3cas__store_hash(c->src, &got, data, len);
	if (rc == 0 && !b3cas_oid_equal(&got, id))
		rc = b3cas__error(B3CAS_ECORRUPT, "object %s does not hash "
				  "to its id", b3cas_oid_fmt(hex, id));
	if (rc == 0) {
		*src_side = false;
		rc = b3cas_lease_put_linked(lease, &got, data, len, links, n);
		if (rc >= 0) {
			c->bytes += len;
			d->copied += rc == 0;
			rc = 0;
		}
	}
	b3cas_free(data);
	return rc;
}

/* ---- a whole graph ------------------------------------------------------- */

typedef struct frame {
	b3cas_oid id;
	b3cas_oid *links;
	size_t n, i;
	bool put; /* store it (with its links) once they are all there */
} frame;

/*
 * Start on id: *push set when it holds links in the source and must be
 * gone into (its frame filled in f), else it is dealt with here: there
 * already (nothing), or copied under the lease (*took).
 */
static int enter(b3cas__deep *d, b3cas_lease *lease, const b3cas_oid *id,
		 frame *f, bool *push, bool *took)
{
	b3cas__copy *c = d->c;
	b3cas_oid *links;
	size_t n;
	int rc, there;

	*push = false;
	*took = false;
	if (d->descend) {
		rc = seen_add(&d->seen, id);
		if (rc <= 0) {
			d->src_side = false;
			return rc; /* gone into already, or no memory */
		}
	}
	d->src_side = true;
	rc = b3cas__links_read(c->src, id, &links, &n);
	if (rc < 0)
		return rc;
	d->src_side = false;
	there = b3cas_store_exists(c->dst, id);
	if (there < 0) {
		free(links);
		return there;
	}
	if (rc == 0) { /* holds no links: copied as it is */
		if (there)
			return 0;
		rc = copy_leased(d, lease, id, &d->src_side);
		*took = rc == 0;
		return rc;
	}
	if (there) {
		/* Stored: does it hold its links there too? (A backup made
		 * before links were copied holds the object alone.) */
		there = b3cas__links_held(c->dst, id);
		if (there < 0) {
			free(links);
			return there;
		}
	}
	if (there && !d->descend) {
		free(links);
		return 0; /* there whole: its links hold the rest */
	}
	f->id = *id;
	f->links = links;
	f->n = n;
	f->i = 0;
	f->put = !there;
	*push = true;
	return 0;
}

int b3cas__copy_deep(b3cas__deep *d, b3cas_lease *lease, const b3cas_oid *id,
		     bool *took)
{
	frame *st = NULL, f;
	size_t depth = 0, cap = 0;
	bool push, t;
	int rc;

	*took = false;
	d->bad = *id;
	rc = enter(d, lease, id, &f, &push, took);
	while (rc == 0 && push) {
		if (depth == cap) {
			frame *g = realloc(st, (cap ? cap * 2 : 16) *
						       sizeof(*st));

			if (!g) {
				free(f.links);
				rc = b3cas__error(B3CAS_ENOMEM, "out of memory");
				break;
			}
			st = g;
			cap = cap ? cap * 2 : 16;
		}
		st[depth++] = f;
		push = false;
		while (rc == 0 && depth > 0 && !push) {
			frame *top = &st[depth - 1];

			if (top->i < top->n) {
				const b3cas_oid *next = &top->links[top->i++];

				d->bad = *next;
				rc = enter(d, lease, next, &f, &push, &t);
				continue;
			}
			d->bad = top->id;
			if (top->put)
				rc = put_linked(d, lease, &top->id, top->links,
						top->n, &d->src_side);
			if (rc == 0 && top->put && depth == 1)
				*took = true;
			free(top->links);
			depth--;
		}
	}
	while (depth > 0)
		free(st[--depth].links);
	free(st);
	return rc;
}

/* Under a lease of its own: id copied whole, then name set to it (name
 * not NULL) or its callers' count set at least to refs. */
static int copy_root(b3cas__deep *d, const b3cas_oid *id, const char *name,
		     uint64_t refs, bool only_raise)
{
	b3cas_lease *lease;
	bool took;
	int rc, crc;

	d->src_side = false;
	d->bad = *id;
	rc = b3cas_lease_open(d->c->dst, &lease);
	if (rc < 0)
		return rc;
	rc = b3cas__copy_deep(d, lease, id, &took);
	if (rc == 0 && name) {
		d->src_side = false;
		rc = b3cas_name_set(d->c->dst, name, id);
	} else if (rc == 0 && (refs > 0 || took)) {
		/* The callers' count, on top of the lease's reference if it
		 * took one: the lease's close then leaves the count. */
		d->src_side = false;
		rc = b3cas__store_set_refs_at_least(d->c->dst, id,
						    refs + (took ? 1 : 0),
						    only_raise);
	}
	rc = rc < 0 ? rc : 0;
	crc = b3cas_lease_close(lease);
	if (rc == 0 && crc < 0) {
		d->src_side = false;
		rc = crc;
	}
	return rc;
}

int b3cas__copy_rooted(b3cas__deep *d, const b3cas_oid *id, uint64_t refs,
		       bool only_raise)
{
	return copy_root(d, id, NULL, refs, only_raise);
}

int b3cas__copy_name(b3cas__deep *d, const char *name, const b3cas_oid *id)
{
	return copy_root(d, id, name, 0, false);
}
