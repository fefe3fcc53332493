/*
 * test_store_model_chunks.c - what a chunking store must hold besides the
 * objects the run put, and GC against it. Part of the test_store_model
 * program.
 *
 * Chunks are objects of their own (docs/chunked-objects.md): foreach
 * lists them, and each one's count is its occurrences in the manifests of
 * the chunked objects that still have an entry (stored, or deleted and
 * not yet collected). The model does not ask the store how an object was
 * cut: it cuts each chunked object itself with the reference FastCDC of
 * tests/chunk/fastcdc_ref.h (written apart from src/chunk/, with the
 * store's parameters: 256, 1024, 4096, seed 0) and hashes each chunk, so
 * a chunk freed while a manifest holds it, a count that leaks, and a
 * chunk that no held manifest names all show against an independent
 * expectation. model_gen keeps these chunks apart from every object the
 * run puts (test_store_model_model.c), so the two kinds never share an
 * id and the model's own counts stay the callers'.
 */
#include "test_store_model_int.h"

#include "store/chunked.h"
#include "chunk_nodes.h"

uint64_t md5_gear[256];

/* The chunks of chunked object o, cut and hashed once, then kept. */
static const mchunk *chunks_of(run *r, mobj *o)
{
	size_t off = 0, n = 0, cap = o->size / CHUNK_MIN + 2;

	if (o->chunks)
		return o->chunks;
	o->chunks = calloc(cap, sizeof(*o->chunks));
	assert_non_null(o->chunks);
	model_gen(r, r->buf3, o->seed, o->size);
	while (off < o->size) {
		uint64_t fp;
		size_t len = cdc_ref_cut(&fp, &r->cdc, r->buf3 + off,
					 o->size - off);

		assert_true(n < cap && len > 0 && len <= CHUNK_MAX);
		b3cas_hash(o->chunks[n].id.bytes, r->buf3 + off, len);
		o->chunks[n].off = (uint32_t)off;
		o->chunks[n].len = (uint32_t)len;
		off += len;
		n++;
	}
	o->nchunks = (uint32_t)n;
	return o->chunks;
}

static uint64_t chunk_hash(const b3cas_oid *id)
{
	uint64_t h;

	memcpy(&h, id->bytes + 8, 8);
	return h;
}

static chunk_ref *chunk_slot(const chunk_set *cs, const b3cas_oid *id)
{
	size_t j = chunk_hash(id) & (cs->cap - 1);

	while (cs->slot[j].used && !b3cas_oid_equal(&cs->slot[j].id, id))
		j = (j + 1) & (cs->cap - 1);
	return &cs->slot[j];
}

chunk_ref *chunk_set_find(const chunk_set *cs, const b3cas_oid *id)
{
	chunk_ref *c;

	if (!cs->cap)
		return NULL;
	c = chunk_slot(cs, id);
	return c->used ? c : NULL;
}

/*
 * Every chunk the store must hold now, with its count: the occurrences in
 * each held chunked object. A table sized for all of them at once (a
 * quarter full at most), so it never grows.
 */
void chunk_set_build(run *r, chunk_set *cs)
{
	size_t total = 0, nn = 0;
	b3cas_oid *ids, *nodes;
	uint32_t *lens;

	memset(cs, 0, sizeof(*cs));
	for (size_t i = 0; i < r->m.cap; i++) {
		mobj *o = &r->m.slot[i];

		if (o->used && o->held && o->size > CHUNK_MAX) {
			chunks_of(r, o);
			total += o->nchunks;
		}
	}
	for (cs->cap = 64; cs->cap < 4 * total; cs->cap *= 2)
		;
	cs->slot = calloc(cs->cap, sizeof(*cs->slot));
	assert_non_null(cs->slot);
	ids = malloc(CHUNK_MODEL_NODE_MAX * sizeof(*ids));
	lens = malloc(CHUNK_MODEL_NODE_MAX * sizeof(*lens));
	nodes = malloc((total + 1) * sizeof(*nodes));
	assert_true(ids && lens && nodes);
	for (size_t i = 0; i < r->m.cap; i++) {
		mobj *o = &r->m.slot[i];
		uint32_t start = 0;

		if (!o->used || !o->held || o->size <= CHUNK_MAX)
			continue;
		/* node by node: each distinct node holds its chunks once,
		 * however many held objects name it */
		for (uint32_t k = 0; k < o->nchunks; k++) {
			size_t kn = k + 1 - start;
			b3cas_oid node;
			bool seen = false;

			ids[kn - 1] = o->chunks[k].id;
			lens[kn - 1] = o->chunks[k].len;
			if (!chunk_model_node_ends(&ids[kn - 1]) &&
			    kn < CHUNK_MODEL_NODE_MAX && k + 1 < o->nchunks)
				continue;
			chunk_model_node_id(&node, ids, lens, kn);
			for (size_t j = 0; j < nn && !seen; j++)
				seen = b3cas_oid_equal(&nodes[j], &node);
			for (uint32_t q = start; !seen && q <= k; q++) {
				const mchunk *mc = &o->chunks[q];
				chunk_ref *c = chunk_slot(cs, &mc->id);

				if (!c->used) {
					*c = (chunk_ref){mc->id,   0,
							 o->seed,  o->size,
							 mc->off,  mc->len,
							 true,     false};
					cs->n++;
				}
				c->count++;
			}
			if (!seen)
				nodes[nn++] = node;
			start = k + 1;
		}
	}
	free(ids);
	free(lens);
	free(nodes);
}

void chunk_set_free(chunk_set *cs)
{
	free(cs->slot);
	memset(cs, 0, sizeof(*cs));
}

/*
 * The references stat reports for chunk c, got, and its held count. The
 * store counts a chunk's references from manifests apart from its
 * callers' (docs/chunked-objects.md, "held count"): callers hold none of
 * these chunks (model_gen keeps them apart from every object), so stat
 * says 0, and the held count is the chunk's occurrences in the held
 * manifests. A leaked or lost manifest reference shows in the second, a
 * manifest reference counted as a caller's in the first.
 */
void chunk_refs_check(run *r, b3cas_store *s, uint64_t got,
		      const chunk_ref *c)
{
	uint64_t held = UINT64_MAX;

	(void)r;
	CHECK_EQ(got, 0, "references callers hold of chunk %s (%llu "
		 "occurrences in held manifests)", hexid(&c->id),
		 (unsigned long long)c->count);
	CHECK_EQ(b3cas__chunked_held(s, &c->id, &held), 0, "held count of %s",
		 hexid(&c->id));
	CHECK_EQ(held, c->count, "held count of chunk %s: its occurrences in "
		 "held manifests", hexid(&c->id));
}

static void check_chunk(run *r, b3cas_store *s, const chunk_ref *c,
			const uint8_t *bytes)
{
	b3cas_object_info info;
	void *data = NULL;
	size_t len = 0;

	CHECK_EQ(b3cas_store_stat(s, &c->id, &info), 0, "stat of chunk %s",
		 hexid(&c->id));
	CHECK_EQ(info.size, c->len, "size of chunk %s", hexid(&c->id));
	chunk_refs_check(r, s, info.refs, c);
	CHECK_EQ(b3cas_store_get(s, &c->id, &data, &len), 0, "get of chunk %s",
		 hexid(&c->id));
	CHECK(len == c->len && memcmp(data, bytes, len) == 0,
	      "get of chunk %s (%zu bytes at %u of a %llu-byte object): wrong "
	      "bytes", hexid(&c->id), len, c->off,
	      (unsigned long long)c->size);
	b3cas_free(data);
}

/*
 * Every chunk in cs (built by chunk_set_build just before), on s: stat
 * gives its size and the manifests' count, get its bytes. Object by
 * object, so that each object's bytes are made once.
 */
void check_chunks(run *r, b3cas_store *s, chunk_set *cs)
{
	for (size_t i = 0; i < r->m.cap; i++) {
		mobj *o = &r->m.slot[i];
		bool made = false;

		if (!o->used || !o->held || o->size <= CHUNK_MAX)
			continue;
		for (uint32_t k = 0; k < o->nchunks; k++) {
			chunk_ref *c = chunk_set_find(cs, &o->chunks[k].id);

			assert_non_null(c);
			if (c->checked)
				continue;
			if (!made)
				model_gen(r, r->buf3, o->seed, o->size);
			made = true;
			check_chunk(r, s, c, r->buf3 + o->chunks[k].off);
			c->checked = true;
		}
	}
}

/* What a collection with no grace must remove: candidates the model
 * holds (count and bytes). */
static void gc_expect(run *r, uint64_t *objects, uint64_t *bytes)
{
	*objects = *bytes = 0;
	for (size_t i = 0; i < r->m.cap; i++) {
		const mobj *o = &r->m.slot[i];

		if (o->used && o->held && !o->refs) {
			(*objects)++;
			*bytes += o->size;
		}
	}
}

/*
 * GC with no grace period (a quarter of them dry runs): it removes exactly
 * the objects deleted to zero since the last one, and, in a chunking
 * store, exactly the chunks that only their manifests held, in the same
 * run; nothing stored goes. The report's counts say so too.
 */
void op_gc(run *r)
{
	b3cas_gc_options go = B3CAS_GC_OPTIONS_INIT;
	b3cas_gc_report rep;
	chunk_set before = {0}, after = {0};
	uint64_t objects, bytes;

	go.dry_run = cu_chance(&r->rng, 1, 4);
	go.normal_priority = cu_chance(&r->rng, 1, 2);
	gc_expect(r, &objects, &bytes);
	if (r->chunking && !go.dry_run)
		chunk_set_build(r, &before);
	memset(&rep, 0xEE, sizeof(rep));
	CHECK_EQ(b3cas_gc(r->s, &go, &rep), 0, "gc%s",
		 go.dry_run ? " (dry run)" : "");
	CHECK_EQ(rep.young, 0, "%s", "gc young, grace 0");
	if (!go.dry_run) {
		for (size_t i = 0; i < r->m.cap; i++)
			if (r->m.slot[i].used && !r->m.slot[i].refs)
				r->m.slot[i].held = false;
		r->gcs++;
		r->collected += objects;
	}
	if (r->chunking && !go.dry_run) {
		chunk_set_build(r, &after);
		for (size_t k = 0; k < before.cap; k++) {
			const chunk_ref *c = &before.slot[k];

			if (c->used && !chunk_set_find(&after, &c->id)) {
				objects++;
				bytes += c->len;
				r->chunks_freed++;
			}
		}
		chunk_set_free(&before);
		chunk_set_free(&after);
	}
	CHECK_EQ(rep.objects, objects, "objects gc removed%s",
		 go.dry_run ? " (dry run)" : "");
	CHECK_EQ(rep.bytes, bytes, "bytes gc removed%s",
		 go.dry_run ? " (dry run)" : "");
}
