/*
 * test_links.c - objects that hold references (b3cas_store_put_linked)
 * against a reference model: random puts of plain and linked objects
 * (links to any stored object, repeated ones, chains and shared
 * subgraphs), duplicates, plain bytes that get their links later,
 * deletes, names (set, moved, deleted, and put with their object), GC
 * with no grace, reopens, in stores that chunk and that do not. After each collection the stored objects must be exactly those
 * that the model reaches from the objects callers and names hold (0
 * lost, 0 leaked), each with its bytes and its callers' count, fsck must find
 * nothing, and once everything is deleted and collected the index holds
 * no key of the links machinery.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"
#include "meta_keys.h"
#include "prng.h"
#include "test_util.h"
#include <b3cas/integrity.h>

#define MAXOBJ 400
#define MAXLINKS 40

typedef struct mobj {
	b3cas_oid id;
	uint8_t *bytes;
	size_t len;
	uint32_t callers;       /* references callers hold */
	bool has_links;         /* stored with links (fixed by its bytes) */
	uint32_t nlinks;
	uint32_t links[MAXLINKS]; /* indexes into the model */
	bool stored;            /* the model says so (after a GC: reached) */
} mobj;

#define NNAMES 12

typedef struct model {
	mobj o[MAXOBJ];
	uint32_t n;
	int named[NNAMES]; /* name i ("n/i") -> object index, or -1 */
	b3cas_store *s;
	char root[80];
	bool chunking;
	uint64_t rng;
} model;

static b3cas_store *open_store(model *m, bool create)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *s;

	o.create = create;
	o.inline_threshold = 512;
	o.chunking = m->chunking ? B3CAS_CHUNKING_ON : B3CAS_CHUNKING_OFF;
	o.chunk_avg = 1024;
	assert_int_equal(b3cas_store_open(&s, m->root, &o), 0);
	return s;
}

/* The model's GC: stored = reached from what callers hold. */
static void reach(model *m)
{
	uint32_t stack[MAXOBJ * MAXLINKS + MAXOBJ], sp = 0;

	for (uint32_t i = 0; i < m->n; i++) {
		m->o[i].stored = false;
		if (m->o[i].callers)
			stack[sp++] = i;
	}
	for (int k = 0; k < NNAMES; k++)
		if (m->named[k] >= 0)
			stack[sp++] = (uint32_t)m->named[k];
	while (sp) {
		mobj *x = &m->o[stack[--sp]];

		if (x->stored)
			continue;
		x->stored = true;
		for (uint32_t k = 0; x->has_links && k < x->nlinks; k++)
			if (!m->o[x->links[k]].stored)
				stack[sp++] = x->links[k];
	}
}

/* The references callers and names hold to object i. */
static uint64_t refs_of(const model *m, uint32_t i)
{
	uint64_t n = m->o[i].callers;

	for (int k = 0; k < NNAMES; k++)
		n += m->named[k] == (int)i;
	return n;
}

/* Before a GC an object is stored if callers hold it or it is still
 * reached; the model only asserts what is sure at any time: everything
 * reached is there with its bytes and its callers' count. */
static void check_reached(model *m)
{
	reach(m);
	for (uint32_t i = 0; i < m->n; i++) {
		mobj *x = &m->o[i];
		uint64_t count = 99;

		if (!x->stored)
			continue;
		tu_expect_object(m->s, &x->id, x->bytes, x->len,
				 refs_of(m, i));
		assert_int_equal(b3cas_refcount(m->s, &x->id, &count), 0);
		assert_int_equal(count, refs_of(m, i));
	}
}

static void check_fsck(model *m)
{
	b3cas_fsck_report r;

	assert_int_equal(b3cas_fsck(m->s, NULL, &r), 0);
	if (r.problems)
		fail_msg("fsck: %llu problems (held %llu, nodes %llu)",
			 (unsigned long long)r.problems,
			 (unsigned long long)r.held_counts,
			 (unsigned long long)r.node_counts);
}

/* GC with no grace, then exactly the reached objects are stored. */
static void gc_and_check(model *m)
{
	b3cas_gc_options o = B3CAS_GC_OPTIONS_INIT;

	o.normal_priority = true;
	assert_int_equal(b3cas_gc(m->s, &o, NULL), 0);
	check_reached(m);
	for (uint32_t i = 0; i < m->n; i++) {
		mobj *x = &m->o[i];
		uint64_t count;

		if (x->stored)
			continue;
		assert_int_equal(b3cas_store_exists(m->s, &x->id), 0);
		if (b3cas_refcount(m->s, &x->id, &count) !=
		    B3CAS_ENOTFOUND)
			fail_msg("object %u: not reached, yet kept (count "
				 "%llu)", i, (unsigned long long)count);
	}
}

/* Bytes of a new object: linked ones name their links, so equal bytes
 * have equal links, as trees do. */
static uint32_t new_obj(model *m, bool linked)
{
	mobj *x;
	uint32_t i;
	size_t len;

	if (m->n == MAXOBJ)
		return (uint32_t)(tu_rand(&m->rng) % m->n);
	i = m->n++;
	x = &m->o[i];
	memset(x, 0, sizeof(*x));
	if (linked) {
		uint32_t stored[MAXOBJ], ns = 0;

		reach(m);
		for (uint32_t k = 0; k < i; k++)
			if (m->o[k].stored)
				stored[ns++] = k;
		x->has_links = true;
		x->nlinks = ns ? (uint32_t)(tu_rand(&m->rng) % MAXLINKS) : 0;
		for (uint32_t k = 0; k < x->nlinks; k++)
			x->links[k] = stored[tu_rand(&m->rng) % ns];
		if (x->nlinks > 2 && tu_rand(&m->rng) % 4 == 0)
			x->links[1] = x->links[0]; /* the same link twice */
	}
	/* sizes around the inline and chunk thresholds, some large */
	switch (tu_rand(&m->rng) % 4) {
	case 0: len = 8 + tu_rand(&m->rng) % 64; break;
	case 1: len = 400 + tu_rand(&m->rng) % 300; break;
	case 2: len = 2000 + tu_rand(&m->rng) % 6000; break;
	default: len = 16 + tu_rand(&m->rng) % 200000; break;
	}
	len += x->nlinks * B3CAS_OID_LEN + 1;
	x->bytes = malloc(len);
	assert_non_null(x->bytes);
	x->len = len;
	tu_fill_random(x->bytes, len, &m->rng);
	x->bytes[0] = linked ? 'L' : 'P';
	for (uint32_t k = 0; k < x->nlinks; k++)
		memcpy(x->bytes + 1 + k * B3CAS_OID_LEN,
		       m->o[x->links[k]].id.bytes, B3CAS_OID_LEN);
	b3cas_hash(x->id.bytes, x->bytes, len);
	return i;
}

static b3cas_oid *link_ids(model *m, const mobj *x, b3cas_oid *out)
{
	for (uint32_t k = 0; k < x->nlinks; k++)
		out[k] = m->o[x->links[k]].id;
	return out;
}

/* Put object i again (or first) as it is meant: linked or plain. */
static void put(model *m, uint32_t i)
{
	mobj *x = &m->o[i];
	b3cas_oid ids[MAXLINKS], got;
	int rc;

	reach(m);
	if (x->has_links) {
		/* every link must be stored: one that is not is refused */
		bool ok = true;

		for (uint32_t k = 0; k < x->nlinks; k++)
			ok &= m->o[x->links[k]].stored;
		rc = b3cas_store_put_linked(m->s, &got, x->bytes, x->len,
					    link_ids(m, x, ids), x->nlinks);
		if (!ok) {
			/* a link only GC has left may still be there
			 * (stored but unreached): then it is taken */
			if (rc == B3CAS_ENOTFOUND)
				return;
		}
	} else {
		rc = b3cas_store_put(m->s, &got, x->bytes, x->len);
	}
	if (rc < 0)
		fail_msg("put %u: %d %s", i, rc, b3cas_error_last());
	assert_true(b3cas_oid_equal(&got, &x->id));
	x->callers++;
}

static void delete_one(model *m)
{
	uint32_t held[MAXOBJ], nh = 0;
	int64_t left;
	uint32_t i;

	for (uint32_t k = 0; k < m->n; k++)
		if (m->o[k].callers)
			held[nh++] = k;
	if (!nh)
		return;
	i = held[tu_rand(&m->rng) % nh];
	left = b3cas_store_delete(m->s, &m->o[i].id);
	assert_true(left >= 0);
	m->o[i].callers--;
	assert_int_equal(left, refs_of(m, i));
}

/* Names: set one to a stored object, delete one, or put a new linked
 * object under a free one; then every name reads back as the model's. */
static void name_op(model *m)
{
	int k = (int)(tu_rand(&m->rng) % NNAMES);
	char name[16];
	uint64_t r = tu_rand(&m->rng) % 3;

	snprintf(name, sizeof(name), "n/%d", k);
	reach(m);
	if (r == 0 && m->n) {
		uint32_t i = (uint32_t)(tu_rand(&m->rng) % m->n);
		int rc = b3cas_name_set(m->s, name, &m->o[i].id);

		if (!m->o[i].stored) {
			/* maybe still there, unreached: then taken */
			if (rc == B3CAS_ENOTFOUND)
				return;
		}
		assert_int_equal(rc, m->named[k] >= 0);
		m->named[k] = (int)i;
	} else if (r == 1) {
		int rc = b3cas_name_delete(m->s, name);

		assert_int_equal(rc, m->named[k] >= 0 ? 0 : B3CAS_ENOTFOUND);
		m->named[k] = -1;
	} else {
		uint32_t before = m->n, i = new_obj(m, true);
		b3cas_oid ids[MAXLINKS], got;
		int rc;

		if (m->n == before)
			return; /* the table was full: an old one */
		rc = b3cas_name_put_linked(m->s, name, m->o[i].bytes,
					   m->o[i].len,
					   link_ids(m, &m->o[i], ids),
					   m->o[i].nlinks, &got);
		if (m->named[k] >= 0) {
			assert_int_equal(rc, B3CAS_EEXISTS);
			return;
		}
		if (rc < 0)
			fail_msg("name_put_linked: %s", b3cas_error_last());
		assert_true(b3cas_oid_equal(&got, &m->o[i].id));
		m->named[k] = (int)i;
	}
	for (int j = 0; j < NNAMES; j++) {
		b3cas_oid id;

		snprintf(name, sizeof(name), "n/%d", j);
		if (m->named[j] < 0) {
			assert_int_equal(b3cas_name_get(m->s, name, &id),
					 B3CAS_ENOTFOUND);
		} else {
			assert_int_equal(b3cas_name_get(m->s, name, &id), 0);
			assert_true(b3cas_oid_equal(&id,
						    &m->o[m->named[j]].id));
		}
	}
}

static void run(bool chunking, uint64_t seed, unsigned ops)
{
	model *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	m->chunking = chunking;
	m->rng = seed;
	for (int k = 0; k < NNAMES; k++)
		m->named[k] = -1;
	tu_make_root(m->root, sizeof(m->root), "links");
	m->s = open_store(m, true);
	for (unsigned op = 0; op < ops; op++) {
		uint64_t r = tu_rand(&m->rng) % 100;

		if (r < 25 || m->n == 0)
			put(m, new_obj(m, false));
		else if (r < 50)
			put(m, new_obj(m, true));
		else if (r < 62)
			put(m, (uint32_t)(tu_rand(&m->rng) % m->n));
		else if (r < 66) {
			/* plain bytes first, its links with a later put
			 * (a new object: an old one's links may be gone) */
			uint32_t before = m->n, i = new_obj(m, true);

			if (m->n > before) {
				b3cas_oid got;

				assert_true(b3cas_store_put(m->s, &got,
						m->o[i].bytes,
						m->o[i].len) >= 0);
				put(m, i); /* now with links */
				m->o[i].callers++; /* both puts' */
			}
		} else if (r < 84)
			delete_one(m);
		else if (r < 92)
			name_op(m);
		else if (r < 97)
			gc_and_check(m);
		else {
			assert_int_equal(b3cas_store_close(m->s), 0);
			m->s = open_store(m, false);
		}
		if (op % 50 == 0)
			check_reached(m);
	}
	gc_and_check(m);
	check_fsck(m);
	/* everything goes: nothing of the machinery is left */
	for (int k = 0; k < NNAMES; k++) {
		char name[16];

		snprintf(name, sizeof(name), "n/%d", k);
		if (m->named[k] >= 0)
			assert_int_equal(b3cas_name_delete(m->s, name), 0);
		m->named[k] = -1;
	}
	for (uint32_t i = 0; i < m->n; i++)
		while (m->o[i].callers)
			delete_one(m), i = 0;
	gc_and_check(m);
	check_fsck(m);
	for (uint32_t i = 0; i < m->n; i++)
		assert_false(m->o[i].stored);
	assert_int_equal(tu_meta_keys(b3cas__store_index(m->s)), 0);
	assert_int_equal(b3cas_store_close(m->s), 0);
	tu_remove_root(m->root);
	for (uint32_t i = 0; i < m->n; i++)
		free(m->o[i].bytes);
	free(m);
}

static unsigned ops(void)
{
	const char *e = getenv("B3CAS_LINKS_OPS");
	unsigned n = e ? (unsigned)strtoul(e, NULL, 10) : 1000;

	/* the long form (scripts/campaign.sh): ten times as many */
	return getenv("B3CAS_TEST_LONG") ? 10 * n : n;
}

static void test_model_plain(void **state)
{
	(void)state;
	run(false, tu_seed("links-plain"), ops());
}

static void test_model_chunking(void **state)
{
	(void)state;
	run(true, tu_seed("links-chunking"), ops());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_plain),
		cmocka_unit_test(test_model_chunking),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
