/*
 * test_store_model_model.c - the in-memory model of test_store_model: a
 * hash table from every id the run has produced to the (seed, size) that
 * regenerates its bytes and its expected reference count (0: not stored),
 * with lists of live and ghost (once made, now absent) objects; picking
 * new contents, live objects, ghosts and ids to look up; and the checks
 * several operations share (bytes, get, an empty tmp/, the id of a
 * content, a put answered new or duplicate), and the bytes of a content
 * (model_gen), which in a chunking run keep small objects and chunks
 * apart.
 */
#include "test_store_model_int.h"

/* ---- the model ------------------------------------------------------------ */

const char *hexid(const b3cas_oid *id)
{
	static char text[4][B3CAS_OID_HEX_LEN + 1];
	static unsigned n;

	tu_hex_encode(text[n % 4], id->bytes, B3CAS_OID_LEN);
	return text[n++ % 4];
}

static uint64_t id_hash(const b3cas_oid *id)
{
	uint64_t h;

	memcpy(&h, id->bytes, 8);
	return h;
}

static void model_index_add(model *m, uint32_t i)
{
	mobj *o = &m->slot[i];

	if (o->refs) {
		o->pos = (uint32_t)m->nlive;
		m->live[m->nlive++] = i;
	} else {
		o->pos = (uint32_t)m->nghost;
		m->ghost[m->nghost++] = i;
	}
}

static void model_index_remove(model *m, uint32_t i)
{
	mobj *o = &m->slot[i];
	uint32_t *list = o->refs ? m->live : m->ghost;
	size_t *n = o->refs ? &m->nlive : &m->nghost;
	uint32_t last = list[--*n];

	list[o->pos] = last;
	m->slot[last].pos = o->pos;
}

static void model_grow(model *m)
{
	size_t old_cap = m->cap;
	mobj *old = m->slot;

	m->cap = old_cap ? old_cap * 2 : 1024;
	m->slot = calloc(m->cap, sizeof(*m->slot));
	m->live = realloc(m->live, m->cap * sizeof(*m->live));
	m->ghost = realloc(m->ghost, m->cap * sizeof(*m->ghost));
	assert_non_null(m->slot);
	assert_non_null(m->live);
	assert_non_null(m->ghost);
	m->nlive = m->nghost = 0;
	for (size_t i = 0; i < old_cap; i++) {
		size_t j;

		if (!old[i].used)
			continue;
		for (j = id_hash(&old[i].id) & (m->cap - 1); m->slot[j].used;
		     j = (j + 1) & (m->cap - 1))
			;
		m->slot[j] = old[i];
		model_index_add(m, (uint32_t)j);
	}
	free(old);
}

/* The entry for id, or NULL. */
mobj *model_find(model *m, const b3cas_oid *id)
{
	if (!m->cap)
		return NULL;
	for (size_t j = id_hash(id) & (m->cap - 1); m->slot[j].used;
	     j = (j + 1) & (m->cap - 1))
		if (b3cas_oid_equal(&m->slot[j].id, id))
			return &m->slot[j];
	return NULL;
}

/* The entry for id, made (with refs 0) if it is new. */
static mobj *model_get(model *m, const b3cas_oid *id, uint64_t seed,
		       uint64_t size)
{
	mobj *o = model_find(m, id);
	size_t j;

	if (o)
		return o;
	if (2 * (m->count + 1) > m->cap)
		model_grow(m);
	for (j = id_hash(id) & (m->cap - 1); m->slot[j].used;
	     j = (j + 1) & (m->cap - 1))
		;
	o = &m->slot[j];
	o->used = true;
	o->id = *id;
	o->seed = seed;
	o->size = size;
	o->refs = 0;
	m->count++;
	model_index_add(m, (uint32_t)j);
	return o;
}

void model_set_refs(model *m, mobj *o, uint64_t refs)
{
	uint32_t i = (uint32_t)(o - m->slot);

	if ((o->refs == 0) == (refs == 0)) {
		o->refs = refs;
		return;
	}
	model_index_remove(m, i);
	o->refs = refs;
	model_index_add(m, i);
}

void model_free(model *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->slot[i].chunks);
	free(m->slot);
	free(m->live);
	free(m->ghost);
	memset(m, 0, sizeof(*m));
}

/* ---- picking contents and ids --------------------------------------------- */

/*
 * In a chunking run, 40% of the objects are chunked (above CHUNK_MAX, up
 * to 300 KiB), 15% sit right at CHUNK_MAX, where put turns from whole to
 * chunked.
 */
static size_t pick_size_chunking(run *r)
{
	unsigned x = (unsigned)cu_below(&r->rng, 1000);
	size_t t = r->threshold;

	if (x < 350)
		return cu_below(&r->rng, CHUNK_MAX + 1);
	if (x < 500)
		return cu_range(&r->rng, CHUNK_MAX - 64, CHUNK_MAX + 64);
	if (x < 600)
		return (size_t)cu_range(&r->rng, t > 64 ? t - 64 : 0, t + 64);
	if (x < 900)
		return cu_range(&r->rng, CHUNK_MAX + 1, 70 * 1024);
	return cu_range(&r->rng, 70 * 1024, MAX_OBJ);
}

static size_t pick_size(run *r)
{
	unsigned x = (unsigned)cu_below(&r->rng, 1000);
	size_t t = r->threshold;

	if (r->chunking)
		return pick_size_chunking(r);

	if (x < 680)
		return cu_below(&r->rng, 4097);
	if (x < 880) /* right around the threshold */
		return (size_t)cu_range(&r->rng, t > 64 ? t - 64 : 0, t + 64);
	if (x < 960)
		return cu_range(&r->rng, 4097, 70 * 1024);
	return cu_range(&r->rng, 70 * 1024, MAX_OBJ);
}

content pick_new(run *r)
{
	content c;

	if (r->narrow) {
		unsigned k = (unsigned)cu_below(&r->rng, NARROW_N);

		c.seed = r->narrow_seed[k];
		c.size = r->narrow_size[k];
		return c;
	}
	c.seed = tu_rand(&r->rng);
	c.size = pick_size(r);
	return c;
}

mobj *pick_live(run *r)
{
	if (!r->m.nlive)
		return NULL;
	return &r->m.slot[r->m.live[cu_below(&r->rng, r->m.nlive)]];
}

mobj *pick_ghost(run *r)
{
	if (!r->m.nghost)
		return NULL;
	return &r->m.slot[r->m.ghost[cu_below(&r->rng, r->m.nghost)]];
}

/* An id to look up: stored (mostly), deleted, or never made. */
b3cas_oid pick_lookup(run *r)
{
	unsigned x = (unsigned)cu_below(&r->rng, 100);
	b3cas_oid id;
	mobj *o = NULL;

	if (x < 75)
		o = pick_live(r);
	else if (x < 90)
		o = pick_ghost(r);
	if (o)
		return o->id;
	for (size_t i = 0; i < B3CAS_OID_LEN; i += 8) {
		uint64_t v = tu_rand(&r->rng);

		memcpy(id.bytes + i, &v, 8);
	}
	return id;
}

uint64_t refs_of(run *r, const b3cas_oid *id)
{
	mobj *o = model_find(&r->m, id);

	return o ? o->refs : 0;
}

/* ---- the bytes of a content -------------------------------------------- */

/*
 * The bytes of content (seed, size): cu_gen's, except in a chunking run.
 *
 * There a chunk is an ordinary object whose count holds the manifests'
 * references (docs/chunked-objects.md), so a small object the run puts
 * that is byte for byte a chunk of a chunked one would show references
 * the model does not know of, and stay stored after its last delete.
 * cu_gen's contents can be: all zeros and the short patterns repeat at
 * every size (a chunk of a zero object is a smaller zero object), and a
 * large object's last chunk may be a few bytes, as likely as a small
 * object of that size to match. So the run makes the two kinds of
 * content from disjoint alphabets: every byte SMALL_MARK of a large
 * object (above CHUNK_MAX: chunked) becomes SMALL_MARK - 1, and the
 * first byte of every non-empty small object (at most CHUNK_MAX: stored
 * whole, never chunked) is SMALL_MARK. A chunk is a non-empty run of a
 * large object's bytes, so it holds no SMALL_MARK and equals no small
 * object; the empty object equals no chunk (chunks are not empty); a
 * large object is longer than any chunk. Hence no id the model knows,
 * stored or absent (a ghost, a content never put), is a chunk's id, and
 * every count the model expects is the callers' alone. Two large
 * objects may share chunks (zeros, patterns; two sizes of one seed):
 * that is the store's business, and the chunk model (test_store_model_
 * chunks.c) counts each occurrence. Zeros and patterns keep their
 * structure, so chunks and small objects still compress.
 */
void model_gen(const run *r, uint8_t *out, uint64_t seed, size_t size)
{
	cu_gen(out, seed, size);
	if (!r->chunking)
		return;
	if (size > CHUNK_MAX) {
		for (size_t i = 0; i < size; i++) /* no branch: vectorized */
			out[i] = (uint8_t)(out[i] - (out[i] == SMALL_MARK));
	} else if (size > 0) {
		out[0] = SMALL_MARK;
	}
}

/* A malloc'd copy of model_gen's bytes; never NULL. */
uint8_t *model_gen_alloc(const run *r, uint64_t seed, size_t size)
{
	uint8_t *p = malloc(size ? size : 1);

	assert_non_null(p);
	model_gen(r, p, seed, size);
	return p;
}

/* ---- checks shared by several operations -------------------------------- */

void check_bytes(run *r, const mobj *o, const void *got, size_t len,
		 const char *what)
{
	CHECK_EQ(len, o->size, "%s of %s", what, hexid(&o->id));
	model_gen(r, r->buf2, o->seed, o->size);
	if (memcmp(got, r->buf2, len) != 0) {
		const uint8_t *g = got;
		size_t i = 0;

		while (g[i] == r->buf2[i])
			i++;
		CHECK(0, "%s of %s (%zu bytes): byte %zu differs (got %02x, "
		      "want %02x)", what, hexid(&o->id), len, i, g[i],
		      r->buf2[i]);
	}
}

/* get(id) against the model, on store s (the run's or a read-only one). */
void check_get(run *r, b3cas_store *s, const b3cas_oid *id)
{
	mobj *o = model_find(&r->m, id);
	void *data = (void *)1;
	size_t len = 12345;
	int rc = b3cas_store_get(s, id, &data, &len);

	if (!o || !o->refs) {
		CHECK_EQ(rc, B3CAS_ENOTFOUND, "get of absent %s", hexid(id));
		return;
	}
	CHECK_EQ(rc, 0, "get of %s", hexid(id));
	CHECK(data != NULL, "get of %s gave a NULL buffer", hexid(id));
	check_bytes(r, o, data, len, "get");
	b3cas_free(data);
}

void check_tmp_empty(run *r, const char *after)
{
	char path[PATH_MAX + 8];
	long n;

	snprintf(path, sizeof(path), "%s/tmp", r->root);
	n = cu_count_entries(path);
	CHECK(n == 0, "tmp/ holds %ld entries after %s", n, after);
}

/* The id b3cas_hash gives for content c (bytes left in r->buf). */
b3cas_oid expected_id(run *r, content c)
{
	b3cas_oid id;

	model_gen(r, r->buf, c.seed, c.size);
	b3cas_hash(id.bytes, r->buf, c.size);
	return id;
}

/* The model's answer to putting content c once: 0 new, 1 duplicate. */
int model_put(run *r, const b3cas_oid *id, content c)
{
	mobj *o = model_get(&r->m, id, c.seed, c.size);
	int dup = o->refs > 0;

	model_set_refs(&r->m, o, o->refs + 1);
	o->held = true;
	r->dups += (unsigned long)dup;
	r->bytes_put += c.size;
	return dup;
}
