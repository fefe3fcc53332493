/*
 * test_store_model_ops.c - each operation of the model run, checked
 * against the model before the model is updated: put (new, duplicate,
 * deleted), exists, delete, stat, put_batch and get_batch, the streaming
 * writer and reader, range reads, foreach (in a chunking store: the
 * objects and the chunks the chunk model expects), info, close + reopen,
 * a read-only open beside the writer, and sync. Part of the
 * test_store_model program.
 */
#include "test_store_model_int.h"

/* ---- the operations ----------------------------------------------------- */

/* Is an object of size bytes kept in the index? A chunking store keeps
 * every object there: whole up to CHUNK_MAX, as a manifest above. */
static bool want_inline(const run *r, uint64_t size)
{
	return r->chunking || (!r->rados && size <= r->threshold);
}

void op_put(run *r, content c)
{
	b3cas_oid want = expected_id(r, c), got;
	uint64_t before = refs_of(r, &want);
	int rc;

	memset(&got, 0xEE, sizeof(got));
	rc = b3cas_store_put(r->s, &got,
			     c.size == 0 && cu_chance(&r->rng, 1, 2) ? NULL
								   : r->buf,
			     c.size);
	CHECK(rc >= 0, "put of %zu bytes failed: %d", c.size, rc);
	CHECK(b3cas_oid_equal(&got, &want), "put id %s, b3cas_hash says %s",
	      hexid(&got), hexid(&want));
	CHECK_EQ(rc, before > 0, "put of %s (refs before %llu)", hexid(&want),
		 (unsigned long long)before);
	model_put(r, &want, c);
}

void op_put_existing(run *r, mobj *o)
{
	content c;

	if (!o) {
		op_put(r, pick_new(r));
		return;
	}
	c.seed = o->seed;
	c.size = o->size;
	op_put(r, c);
}

/* One id's exists, or, half the time, up to 40 at once (exists_batch;
 * duplicates among them now and then) */
void op_exists(run *r)
{
	b3cas_oid ids[40];
	bool found[40];
	size_t n;

	if (cu_chance(&r->rng, 1, 2)) {
		b3cas_oid id = pick_lookup(r);

		CHECK_EQ(b3cas_store_exists(r->s, &id), refs_of(r, &id) > 0,
			 "exists %s", hexid(&id));
		return;
	}
	n = (size_t)cu_range(&r->rng, 1, 40);
	for (size_t i = 0; i < n; i++)
		ids[i] = i && cu_chance(&r->rng, 1, 10) ? ids[i - 1]
							 : pick_lookup(r);
	memset(found, 0x55, sizeof(found));
	CHECK_EQ(b3cas_store_exists_batch(r->s, ids, n, found), 0, "%s",
		 "exists_batch");
	for (size_t i = 0; i < n; i++)
		CHECK_EQ(found[i], refs_of(r, &ids[i]) > 0,
			 "exists_batch item %zu, %s", i, hexid(&ids[i]));
}

void op_delete(run *r)
{
	b3cas_oid id = cu_chance(&r->rng, 9, 10) && r->m.nlive
			       ? pick_live(r)->id
			       : pick_lookup(r);
	mobj *o = model_find(&r->m, &id);
	int64_t rc = b3cas_store_delete(r->s, &id);

	if (!o || !o->refs) {
		CHECK_EQ(rc, B3CAS_ENOTFOUND, "delete of absent %s",
			 hexid(&id));
		return;
	}
	CHECK_EQ(rc, o->refs - 1, "delete of %s", hexid(&id));
	model_set_refs(&r->m, o, o->refs - 1);
	if (!o->refs) {
		r->deletes_to_zero++;
		CHECK_EQ(b3cas_store_exists(r->s, &id), 0,
			 "exists right after the last delete of %s",
			 hexid(&id));
	}
}

void op_stat(run *r)
{
	b3cas_oid id = pick_lookup(r);
	mobj *o = model_find(&r->m, &id);
	b3cas_object_info info;
	int rc;

	memset(&info, 0xEE, sizeof(info));
	rc = b3cas_store_stat(r->s, &id, &info);
	if (!o || !o->refs) {
		CHECK_EQ(rc, B3CAS_ENOTFOUND, "stat of absent %s", hexid(&id));
		return;
	}
	CHECK_EQ(rc, 0, "stat of %s", hexid(&id));
	CHECK(b3cas_oid_equal(&info.id, &id), "stat id %s for %s",
	      hexid(&info.id), hexid(&id));
	CHECK_EQ(info.size, o->size, "stat size of %s", hexid(&id));
	CHECK_EQ(info.refs, o->refs, "stat refs of %s", hexid(&id));
	CHECK_EQ(info.is_inline, want_inline(r, o->size),
		 "stat is_inline of %s (%llu bytes)", hexid(&id),
		 (unsigned long long)o->size);
}

void op_put_batch(run *r)
{
	size_t n = (size_t)cu_range(&r->rng, 1, MAX_BATCH);
	const void *data[MAX_BATCH];
	size_t lens[MAX_BATCH];
	content c[MAX_BATCH];
	b3cas_oid want[MAX_BATCH], got[MAX_BATCH];
	bool dup[MAX_BATCH], want_dup[MAX_BATCH];
	uint8_t *own[MAX_BATCH];
	int rc;

	for (size_t i = 0; i < n; i++) {
		unsigned x = (unsigned)cu_below(&r->rng, 100);
		mobj *o = NULL;

		if (x < 30)
			o = pick_live(r);
		else if (x < 40)
			o = pick_ghost(r);
		if (x >= 40 && x < 55 && i > 0) {
			c[i] = c[cu_below(&r->rng, i)];
		} else if (o) {
			c[i].seed = o->seed;
			c[i].size = o->size;
		} else {
			c[i] = pick_new(r);
		}
		own[i] = model_gen_alloc(r, c[i].seed, c[i].size);
		b3cas_hash(want[i].bytes, own[i], c[i].size);
		data[i] = c[i].size == 0 && cu_chance(&r->rng, 1, 2) ? NULL
								      : own[i];
		lens[i] = c[i].size;
		want_dup[i] = refs_of(r, &want[i]) > 0;
		for (size_t j = 0; j < i; j++)
			want_dup[i] |= b3cas_oid_equal(&want[i], &want[j]);
		dup[i] = !want_dup[i]; /* so that "not written" shows */
	}
	rc = b3cas_store_put_batch(r->s, got, dup, data, lens, n);
	CHECK_EQ(rc, 0, "put_batch of %zu", n);
	for (size_t i = 0; i < n; i++) {
		CHECK(b3cas_oid_equal(&got[i], &want[i]),
		      "put_batch item %zu of %zu: id %s, b3cas_hash says %s",
		      i, n, hexid(&got[i]), hexid(&want[i]));
		CHECK_EQ(dup[i], want_dup[i], "put_batch item %zu of %zu (%s)",
			 i, n, hexid(&want[i]));
		model_put(r, &want[i], c[i]);
		free(own[i]);
	}
	/* without dup_out, sometimes: the same again, now all duplicates */
	if (cu_chance(&r->rng, 1, 8)) {
		for (size_t i = 0; i < n; i++)
			own[i] = model_gen_alloc(r, c[i].seed, c[i].size),
			data[i] = own[i];
		CHECK_EQ(b3cas_store_put_batch(r->s, got, NULL, data, lens, n),
			 0, "put_batch of %zu again, dup_out NULL", n);
		for (size_t i = 0; i < n; i++) {
			CHECK(b3cas_oid_equal(&got[i], &want[i]),
			      "put_batch again item %zu", i);
			CHECK_EQ(model_put(r, &want[i], c[i]), 1,
				 "model: item %zu stored", i);
			free(own[i]);
		}
	}
}

void op_get_batch(run *r)
{
	size_t n = (size_t)cu_below(&r->rng, MAX_BATCH + 1);
	b3cas_oid ids[MAX_BATCH];
	void *data[MAX_BATCH];
	size_t lens[MAX_BATCH];
	int results[MAX_BATCH];
	int rc, want_rc = 0;
	bool with_results = cu_chance(&r->rng, 7, 8);

	for (size_t i = 0; i < n; i++) {
		if (i > 0 && cu_chance(&r->rng, 1, 8))
			ids[i] = ids[cu_below(&r->rng, i)];
		else
			ids[i] = pick_lookup(r);
		data[i] = (void *)1;
		results[i] = 12345;
		if (!want_rc && refs_of(r, &ids[i]) == 0)
			want_rc = B3CAS_ENOTFOUND;
	}
	rc = b3cas_store_get_batch(r->s, ids, n, data, lens,
				   with_results ? results : NULL);
	CHECK_EQ(rc, want_rc, "get_batch of %zu", n);
	for (size_t i = 0; i < n; i++) {
		mobj *o = model_find(&r->m, &ids[i]);

		if (!o || !o->refs) {
			if (with_results)
				CHECK_EQ(results[i], B3CAS_ENOTFOUND,
					 "get_batch item %zu (absent %s)", i,
					 hexid(&ids[i]));
			CHECK(data[i] == NULL,
			      "get_batch item %zu (absent): data not NULL", i);
			continue;
		}
		if (with_results)
			CHECK_EQ(results[i], 0, "get_batch item %zu (%s)", i,
				 hexid(&ids[i]));
		CHECK(data[i] != NULL, "get_batch item %zu: NULL data", i);
		check_bytes(r, o, data[i], lens[i], "get_batch");
		b3cas_free(data[i]);
	}
}

/* Feed bytes [0, end) of buf to w in random chunks, 0-length ones too. */
static void writer_feed(run *r, b3cas_writer *w, const uint8_t *buf,
			size_t end)
{
	size_t off = 0, most;

	switch (cu_below(&r->rng, 4)) {
	case 0: most = 1 + end; break;   /* often one call */
	case 1: most = 17; break;        /* many tiny calls */
	case 2: most = 1 + r->threshold; break;
	default: most = 1 + end / 3; break;
	}
	while (off < end || cu_chance(&r->rng, 1, 10)) {
		size_t n = cu_chance(&r->rng, 1, 10)
				   ? 0
				   : (size_t)cu_range(&r->rng, 1, most);

		if (n > end - off)
			n = end - off;
		CHECK_EQ(b3cas_writer_write(w, n ? buf + off : buf, n), 0,
			 "writer_write of %zu at %zu of %zu", n, off, end);
		off += n;
		if (off == end && n == 0)
			break;
	}
}

void op_writer(run *r)
{
	unsigned x = (unsigned)cu_below(&r->rng, 100);
	content c;
	b3cas_oid want, got;
	b3cas_writer *w = NULL;
	uint64_t before;
	bool with_id = cu_chance(&r->rng, 9, 10);
	int rc;

	if (x < 20 && r->m.nlive) {
		mobj *o = pick_live(r);

		c.seed = o->seed;
		c.size = o->size;
	} else {
		c = pick_new(r);
	}
	want = expected_id(r, c);
	before = refs_of(r, &want);
	CHECK_EQ(b3cas_writer_open(&w, r->s), 0, "writer_open");
	CHECK(w != NULL, "writer_open gave NULL");
	if (cu_chance(&r->rng, 1, 5)) {
		/* abort after some or all of the bytes: nothing stored */
		writer_feed(r, w, r->buf, (size_t)cu_range(&r->rng, 0, c.size));
		b3cas_writer_abort(w);
		r->aborts++;
		CHECK_EQ(b3cas_store_exists(r->s, &want), before > 0,
			 "exists after an aborted writer of %s", hexid(&want));
		if (before)
			CHECK_EQ(refs_of(r, &want), before, "%s", "model");
		check_tmp_empty(r, "writer_abort");
		return;
	}
	writer_feed(r, w, r->buf, c.size);
	memset(&got, 0xEE, sizeof(got));
	rc = b3cas_writer_commit(w, with_id ? &got : NULL);
	CHECK_EQ(rc, before > 0, "writer_commit of %zu bytes (%s)", c.size,
		 hexid(&want));
	if (with_id)
		CHECK(b3cas_oid_equal(&got, &want),
		      "writer id %s, b3cas_hash says %s", hexid(&got),
		      hexid(&want));
	model_put(r, &want, c);
	if (cu_chance(&r->rng, 1, 4))
		check_tmp_empty(r, "writer_commit");
}

void op_reader(run *r)
{
	b3cas_oid id = pick_lookup(r);
	mobj *o = model_find(&r->m, &id);
	b3cas_reader *rd = NULL;
	size_t off = 0, most;
	int rc = b3cas_reader_open(&rd, r->s, &id);

	if (!o || !o->refs) {
		CHECK_EQ(rc, B3CAS_ENOTFOUND, "reader_open of absent %s",
			 hexid(&id));
		return;
	}
	CHECK_EQ(rc, 0, "reader_open of %s", hexid(&id));
	CHECK_EQ(b3cas_reader_size(rd), o->size, "reader_size of %s",
		 hexid(&id));
	most = cu_chance(&r->rng, 1, 3) ? 7 : 1 + (size_t)o->size;
	for (;;) {
		size_t len = cu_chance(&r->rng, 1, 12)
				     ? 0
				     : (size_t)cu_range(&r->rng, 1, most);
		int64_t got = b3cas_reader_read(rd, r->buf + off, len);
		size_t want = len < o->size - off ? len : o->size - off;

		CHECK_EQ(got, want, "reader_read of %zu at %zu of %llu (%s)",
			 len, off, (unsigned long long)o->size, hexid(&id));
		off += (size_t)got;
		if (len && !got)
			break;
	}
	/* past the end: still 0 */
	CHECK_EQ(b3cas_reader_read(rd, r->buf2, 100), 0, "%s",
		 "reader_read past the end");
	check_bytes(r, o, r->buf, off, "reader");
	b3cas_reader_close(rd);
}

typedef struct walk {
	run *r;
	size_t seen, stop_after;
	b3cas_oid last;
	bool failed;
	const chunk_set *chunks; /* chunking store: the chunks it must hold */
} walk;

/* A listed object the run never put: never right. In a chunking store
 * foreach leaves out the chunks only manifests hold (the model's chunks
 * are all such: model_gen keeps them apart from every object). */
static void walk_chunk(walk *wk, const b3cas_object_info *info)
{
	const chunk_ref *c = chunk_set_find(wk->chunks, &info->id);

	CHECK(!c, "foreach lists chunk %s (%llu references), which no caller "
	      "holds", hexid(&info->id), (unsigned long long)info->refs);
	CHECK(c, "foreach: %s (%llu bytes, %llu references) is neither an "
	      "object of the model nor a chunk of a held chunked object",
	      hexid(&info->id), (unsigned long long)info->size,
	      (unsigned long long)info->refs);
}

static int walk_fn(const b3cas_object_info *info, void *ctx)
{
	walk *wk = ctx;
	run *r = wk->r;
	mobj *o = model_find(&r->m, &info->id);

	CHECK(!wk->seen || memcmp(wk->last.bytes, info->id.bytes,
				  B3CAS_OID_LEN) < 0,
	      "foreach: %s after %s, not in id order", hexid(&info->id),
	      hexid(&wk->last));
	wk->last = info->id;
	if (!o && wk->chunks) {
		walk_chunk(wk, info);
		return ++wk->seen == wk->stop_after ? 7 : 0;
	}
	CHECK(o && o->refs, "foreach: %s is not in the model (refs %llu)",
	      hexid(&info->id), (unsigned long long)(o ? o->refs : 0));
	CHECK_EQ(info->size, o->size, "foreach size of %s", hexid(&o->id));
	CHECK_EQ(info->refs, o->refs, "foreach refs of %s", hexid(&o->id));
	CHECK_EQ(info->is_inline, want_inline(r, o->size),
		 "foreach is_inline of %s", hexid(&o->id));
	if (++wk->seen == wk->stop_after)
		return 7;
	return 0;
}

/* foreach on s must give exactly the model's stored objects and, in a
 * chunking store, the chunks the chunk model expects. */
void check_foreach(run *r, b3cas_store *s, bool early_stop)
{
	walk wk = {.r = r};
	chunk_set cs = {0};
	int rc;

	if (r->chunking) {
		chunk_set_build(r, &cs);
		wk.chunks = &cs;
	}
	if (early_stop && r->m.nlive > 1)
		wk.stop_after = (size_t)cu_range(&r->rng, 1, r->m.nlive - 1);
	rc = b3cas_store_foreach(s, walk_fn, &wk);
	if (wk.stop_after) {
		CHECK_EQ(rc, 7, "foreach stopped after %zu", wk.stop_after);
		CHECK_EQ(wk.seen, wk.stop_after, "%s", "foreach early stop");
	} else {
		CHECK_EQ(rc, 0, "%s", "foreach");
		CHECK_EQ(wk.seen, r->m.nlive,
			 "objects seen by foreach (%zu of the model; %zu "
			 "chunks, which it leaves out)", r->m.nlive, cs.n);
	}
	chunk_set_free(&cs);
}

/* Every stored object, byte-exact, every chunk with its count and bytes,
 * and every absent object absent. */
void check_all(run *r, b3cas_store *s)
{
	check_foreach(r, s, false);
	if (r->chunking) {
		chunk_set cs;

		chunk_set_build(r, &cs);
		check_chunks(r, s, &cs);
		chunk_set_free(&cs);
	}
	for (size_t i = 0; i < r->m.nlive; i++) {
		check_get(r, s, &r->m.slot[r->m.live[i]].id);
		if (cu_chance(&r->rng, 1, 4))
			check_read_at(r, s, &r->m.slot[r->m.live[i]].id);
	}
	for (size_t i = 0; i < r->m.nghost && i < 200; i++) {
		mobj *o = pick_ghost(r);

		CHECK_EQ(b3cas_store_exists(s, &o->id), 0, "exists of deleted "
			 "%s", hexid(&o->id));
	}
}

void check_info(run *r, b3cas_store *s, bool read_only)
{
	b3cas_store_info info;

	memset(&info, 0, sizeof(info));
	b3cas_store_info_get(&info, s);
	CHECK(info.root && strcmp(info.root, r->root) == 0,
	      "info root \"%s\", want \"%s\"", info.root ? info.root : "(null)",
	      r->root);
	CHECK_EQ(info.hash, B3CAS_HASH_BLAKE3, "%s", "info hash");
	/* a RADOS store keeps every object in the pool */
	CHECK_EQ(info.inline_threshold, r->rados ? 0 : r->threshold, "%s",
		 "info threshold");
	CHECK_EQ(info.read_only, read_only, "%s", "info read_only");
	CHECK_EQ(info.format_version, r->chunking ? 2 : r->rados ? 3 : 1, "%s",
		 "info format_version");
	CHECK_EQ(info.chunk_max, r->chunking ? CHUNK_MAX : 0, "%s",
		 "info chunk_max");
	CHECK_EQ(info.chunk_min, r->chunking ? CHUNK_MIN : 0, "%s",
		 "info chunk_min");
	CHECK_EQ(info.compression_level, r->chunking ? 3 : 0, "%s",
		 "info compression_level");
	if (!read_only)
		CHECK_EQ(info.durability, r->durability, "%s",
			 "info durability");
}

int open_store(run *r, b3cas_store **out, bool create, bool read_only)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;

	o.create = create;
	o.read_only = read_only;
	o.durability = r->durability;
	/* when opening, 0 means "whatever the store has" */
	o.inline_threshold = create || cu_chance(&r->rng, 1, 2) ? r->threshold
								: 0;
	if (r->threshold == B3CAS_INLINE_THRESHOLD_DEFAULT &&
	    cu_chance(&r->rng, 1, 2))
		o.inline_threshold = 0;
	o.verify_on_read = cu_chance(&r->rng, 3, 4);
	o.hash = cu_chance(&r->rng, 1, 2) ? B3CAS_HASH_BLAKE3
					  : B3CAS_HASH_DEFAULT;
	o.sync_interval_ms = cu_chance(&r->rng, 1, 2) ? 0 : 50;
	/* B3CAS_TEST_CHUNKING=1: a chunking store; B3CAS_TEST_RADOS=1: a
	 * RADOS store in a namespace of its own, named when it is made (a
	 * reopen with create set must not name another) */
	tu_store_policy_at(&o, r->root);
	*out = NULL;
	return b3cas_store_open(out, r->root, &o);
}

void op_reopen(run *r)
{
	CHECK_EQ(b3cas_store_close(r->s), 0, "%s", "close");
	r->s = NULL;
	if (r->durability != B3CAS_DURABILITY_FULL)
		r->durability = cu_chance(&r->rng, 1, 2) ? B3CAS_DURABILITY_NONE
							 : B3CAS_DURABILITY_BATCH;
	CHECK_EQ(open_store(r, &r->s, cu_chance(&r->rng, 1, 2), false), 0,
		 "%s", "reopen");
	check_info(r, r->s, false);
	check_tmp_empty(r, "reopen");
	check_foreach(r, r->s, false);
	for (int i = 0; i < 50 && r->m.nlive; i++)
		check_get(r, r->s, &pick_live(r)->id);
}

/* A read-only handle beside the writer: same objects, no writes. */
void op_read_only(run *r)
{
	b3cas_store *ro = NULL;
	b3cas_oid id;
	bool dup;
	const void *data[1] = {r->buf};
	size_t lens[1] = {10};
	b3cas_writer *w = NULL;
	int rc;

	CHECK_EQ(open_store(r, &ro, false, true), 0, "%s", "read-only open");
	check_info(r, ro, true);
	check_foreach(r, ro, false);
	for (int i = 0; i < 30 && r->m.nlive; i++)
		check_get(r, ro, &pick_live(r)->id);
	for (int i = 0; i < 10; i++) {
		b3cas_oid look = pick_lookup(r);

		check_read_at(r, ro, &look);
	}
	for (int i = 0; i < 5; i++) {
		b3cas_oid look = pick_lookup(r);

		CHECK_EQ(b3cas_store_exists(ro, &look), refs_of(r, &look) > 0,
			 "read-only exists %s", hexid(&look));
	}
	CHECK_EQ(b3cas_store_put(ro, &id, "read-only", 9), B3CAS_EPERM, "%s",
		 "put on a read-only store");
	CHECK_EQ(b3cas_store_put_batch(ro, &id, &dup, data, lens, 1),
		 B3CAS_EPERM, "%s", "put_batch on a read-only store");
	if (r->m.nlive) {
		mobj *o = pick_live(r);

		CHECK_EQ(b3cas_store_delete(ro, &o->id), B3CAS_EPERM, "%s",
			 "delete on a read-only store");
	}
	rc = b3cas_writer_open(&w, ro);
	if (rc == 0) {
		CHECK_EQ(b3cas_writer_write(w, "x", 1) == 0 ||
				 b3cas_writer_write(w, "x", 1) == B3CAS_EPERM,
			 1, "%s", "writer_write on a read-only store");
		CHECK_EQ(b3cas_writer_commit(w, &id), B3CAS_EPERM, "%s",
			 "writer_commit on a read-only store");
	} else {
		CHECK_EQ(rc, B3CAS_EPERM, "%s", "writer_open on a read-only "
			 "store");
	}
	CHECK_EQ(b3cas_store_close(ro), 0, "%s", "close read-only");
	/* the writer's handle is unaffected */
	check_foreach(r, r->s, true);
}

void op_sync(run *r)
{
	CHECK_EQ(b3cas_store_sync(r->s), 0, "%s", "sync");
}

/* An offset into an object of size bytes: inside mostly, at or past the
 * end, at 0, or so far that offset + len would wrap. */
static uint64_t pick_offset(run *r, uint64_t size)
{
	switch (cu_below(&r->rng, 16)) {
	case 0: return size;
	case 1: return size + cu_range(&r->rng, 1, 5000);
	case 2: return UINT64_MAX - cu_below(&r->rng, 4096);
	case 3: case 4: return 0;
	case 5: /* near a chunk's end, for a range across two */
		return size > CHUNK_MAX ? cu_range(&r->rng, CHUNK_MIN,
						   CHUNK_MAX) : 0;
	default: return cu_below(&r->rng, size + 1);
	}
}

static size_t pick_range_len(run *r, uint64_t size)
{
	size_t len;

	switch (cu_below(&r->rng, 8)) {
	case 0: return 0;
	case 1: len = (size_t)cu_range(&r->rng, 1, 16); break;
	case 2: len = (size_t)size + (size_t)cu_below(&r->rng, 100); break;
	case 3: case 4: len = (size_t)cu_range(&r->rng, 1, 2 * CHUNK_MAX);
		break;
	default: len = (size_t)cu_range(&r->rng, 1, 70 * 1024); break;
	}
	return len < MAX_OBJ ? len : MAX_OBJ;
}

/*
 * b3cas_store_read_at of id on s at a random range: absent ids are
 * B3CAS_ENOTFOUND; otherwise exactly the model's bytes of the range, as
 * many as are there (0 at or past the end, or for a 0-length read), and
 * nothing written past them.
 */
void check_read_at(run *r, b3cas_store *s, const b3cas_oid *id)
{
	mobj *o = model_find(&r->m, id);
	uint64_t size = o ? o->size : 0;
	uint64_t off = pick_offset(r, size);
	size_t len = pick_range_len(r, size), want, n = 12345;
	bool with_n = cu_chance(&r->rng, 7, 8);
	void *buf = len || cu_chance(&r->rng, 1, 2) ? r->buf : NULL;
	int rc;

	memset(r->buf, 0xA5, len + 1);
	rc = b3cas_store_read_at(s, id, off, buf, len, with_n ? &n : NULL);
	r->ranges++;
	if (!o || !o->refs) {
		CHECK_EQ(rc, B3CAS_ENOTFOUND, "read_at of absent %s",
			 hexid(id));
		return;
	}
	CHECK_EQ(rc, 0, "read_at of %zu at %llu of %s (%llu bytes)", len,
		 (unsigned long long)off, hexid(id), (unsigned long long)size);
	want = off >= size ? 0 : (size_t)(size - off < len ? size - off : len);
	if (with_n)
		CHECK_EQ(n, want, "read_at of %zu at %llu of %s (%llu bytes)",
			 len, (unsigned long long)off, hexid(id),
			 (unsigned long long)size);
	model_gen(r, r->buf2, o->seed, o->size);
	CHECK(want == 0 || memcmp(r->buf, r->buf2 + off, want) == 0,
	      "read_at of %zu at %llu of %s (%llu bytes): wrong bytes", len,
	      (unsigned long long)off, hexid(id), (unsigned long long)size);
	CHECK(r->buf[want] == 0xA5, "read_at of %zu at %llu of %s wrote past "
	      "the %zu bytes it read", len, (unsigned long long)off,
	      hexid(id), want);
}

void op_read_at(run *r)
{
	b3cas_oid id = pick_lookup(r);

	check_read_at(r, r->s, &id);
}
