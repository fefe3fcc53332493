/*
 * test_nomem_store.c - test_nomem's model of the store: the objects the
 * test knows and the references the store acknowledged, the handles an
 * operation asks for, the checks run after every failed run
 * (verify_store: fsck clean, every acknowledged object byte-exact with
 * its references, nothing else stored: in a chunking store, besides the
 * objects, exactly the chunks of the chunked ones that have an entry,
 * each with one reference per occurrence), and the case's setup/teardown.
 */
#include <dirent.h>
#include <errno.h>
#include <execinfo.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "chunk/fastcdc.h"
#include "store/chunked.h"
#include "store/store_int.h"
#include "filter/filter.h"
#include "store_policy.h"
#include "test_nomem_int.h"
#include "test_util.h"

const size_t obj_len[NOBJ] = {
	[O_INLINE] = 200,         [O_LOOSE] = 5000,
	[O_LARGE] = 600 * 1024,   [O_EMPTY] = 0,
	[O_PUT_INLINE] = 300,     [O_PUT_LOOSE] = 7000,
	[O_PUT_LARGE] = 700 * 1024,
	[O_BATCH_INLINE] = 100,   [O_BATCH_LOOSE] = 3000,
	[O_W_INLINE] = 900,       [O_W_LOOSE] = 100 * 1024,
	[O_W_LARGE] = 1536 * 1024,
	[O_DEL] = 2000,           [O_GC] = 4000,
	[O_HEAL] = 6000,          [O_MISSING] = 50,
};

struct object objs[NOBJ];

char root[256], store_dir[300], fresh_dir[320], fresh_tier[330];
char mirror_dir[300];
uint8_t *read_buf;

b3cas_store_options handle_options(unsigned flags)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;

	o.inline_threshold = THRESHOLD;
	o.durability = B3CAS_DURABILITY_NONE;
	o.l1_bytes = flags & H_NO_L1 ? 0 : B3CAS_L1_BYTES_DEFAULT;
	o.l2_bytes = flags & H_NO_L2 ? 0 : L2_BYTES;
	o.mirror_dir = flags & H_MIRROR ? mirror_dir : NULL;
	return o;
}

/*
 * Wait for the bloom filter that an open may build in the background:
 * whether close finds one to save (and the next open one to load) then
 * does not depend on timing, so every run of a sweep takes one path.
 */
void settle(b3cas_store *s)
{
	struct timespec ms = {0, 1000 * 1000};

	while (b3cas__filter_building(b3cas__store_filter(s)))
		nanosleep(&ms, NULL);
}

b3cas_store *open_handle(unsigned flags)
{
	b3cas_store_options o = handle_options(flags);
	b3cas_store *s = NULL;

	if (b3cas_store_open(&s, store_dir, &o) != 0)
		fail_msg("open %s: %s", store_dir, b3cas_error_last());
	settle(s);
	return s;
}

/* Entries in a folder (not . and ..), -1 if it cannot be read. */
int count_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

/* The descriptors open in this process (the listing's own excluded). */
int count_fds(void)
{
	return count_entries("/proc/self/fd") - 1;
}

void expect_bytes(const void *got, size_t len, int i)
{
	assert_int_equal(len, obj_len[i]);
	if (len)
		tu_expect_mem(got, objs[i].data, len, "object %d", i);
}

/* A failed call: B3CAS_ENOMEM, and a message saying why. */
void expect_nomem(int64_t rc, const char *label)
{
	if (rc != B3CAS_ENOMEM)
		fail_msg("%s: a failed allocation gave %lld (%s: %s), not "
			 "B3CAS_ENOMEM", label, (long long)rc,
			 b3cas_strerror((int)rc), b3cas_error_last());
	if (!*b3cas_error_last())
		fail_msg("%s: B3CAS_ENOMEM without a message", label);
}

/* A chunk a chunking store must hold, with its occurrences. */
typedef struct chunk_ref {
	b3cas_oid id;
	uint64_t count;
} chunk_ref;

typedef struct chunk_walk {
	chunk_ref *chunks;
	size_t n, cap;
	uint64_t objects;
	const char *label;
} chunk_walk;

static void chunk_add(chunk_walk *w, const uint8_t *data, size_t len)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 1024;
		w->chunks = realloc(w->chunks, w->cap * sizeof(*w->chunks));
		assert_non_null(w->chunks);
	}
	b3cas_hash(w->chunks[w->n].id.bytes, data, len);
	w->chunks[w->n].count = 1;
	w->n++;
}

static int chunk_cmp(const void *a, const void *b)
{
	return memcmp(((const chunk_ref *)a)->id.bytes,
		      ((const chunk_ref *)b)->id.bytes, B3CAS_OID_LEN);
}

/* Sort the occurrences and merge each chunk's into one with its count. */
static void chunk_merge(chunk_walk *w)
{
	size_t n = 0;

	if (!w->n)
		return;
	qsort(w->chunks, w->n, sizeof(*w->chunks), chunk_cmp);
	for (size_t k = 1; k < w->n; k++) {
		if (chunk_cmp(&w->chunks[n], &w->chunks[k]) == 0)
			w->chunks[n].count++;
		else
			w->chunks[++n] = w->chunks[k];
	}
	w->n = n + 1;
}

/*
 * The chunks of every object larger than a chunk that has an entry in s:
 * stored (acknowledged), or a GC candidate (refcount 0), whose manifest
 * still holds its chunks. Cut with the store's chunker and parameters
 * (tu_store_policy); test_chunked and test_store_model check the cuts.
 */
static void chunks_expected(b3cas_store *s, chunk_walk *w)
{
	b3cas_store_info info;
	b3cas_cdc cdc;

	b3cas_store_info_get(&info, s);
	assert_int_equal(b3cas__cdc_init(&cdc, info.chunk_min, info.chunk_avg,
					 info.chunk_max, 0), 0);
	for (int i = 0; i < NOBJ; i++) {
		uint64_t count = 1;

		if (obj_len[i] <= info.chunk_max)
			continue;
		if (!objs[i].refs &&
		    b3cas_refcount(s, &objs[i].id, &count) != 0)
			continue; /* no entry */
		for (size_t off = 0; off < obj_len[i];) {
			size_t len = b3cas__cdc_cut(NULL, &cdc,
						    objs[i].data + off,
						    obj_len[i] - off);

			chunk_add(w, objs[i].data + off, len);
			off += len;
		}
	}
	chunk_merge(w);
}

static int chunk_walk_fn(const b3cas_object_info *info, void *ctx)
{
	chunk_walk *w = ctx;
	chunk_ref key, *c;

	for (int i = 0; i < NOBJ; i++)
		if (b3cas_oid_equal(&info->id, &objs[i].id)) {
			w->objects++;
			return 0;
		}
	key.id = info->id;
	c = w->n ? bsearch(&key, w->chunks, w->n, sizeof(key), chunk_cmp)
		 : NULL;
	if (c) {
		/* foreach lists what callers hold, and they hold no chunk */
		fail_msg("%s: foreach lists a chunk (%llu references) that "
			 "only manifests hold", w->label,
			 (unsigned long long)info->refs);
		return 1;
	}
	fail_msg("%s: a %llu-byte object with %llu references is stored that "
		 "is neither acknowledged nor a chunk of a held object",
		 w->label, (unsigned long long)info->size,
		 (unsigned long long)info->refs);
	return 1;
}

/* Nothing stored but the acknowledged objects and, in a chunking store,
 * the chunks of the chunked ones with an entry: none leaked by a failed
 * put, none missing. */
static void verify_stored_set(b3cas_store *s, const char *label,
			      uint64_t stored)
{
	chunk_walk w = {.label = label};
	b3cas_stats st;

	if (!tu_chunking()) {
		assert_int_equal(b3cas_store_stats(s, &st), 0);
		if (st.objects != stored)
			fail_msg("%s: %llu objects stored, %llu acknowledged",
				 label, (unsigned long long)st.objects,
				 (unsigned long long)stored);
		return;
	}
	chunks_expected(s, &w);
	assert_int_equal(b3cas_store_foreach(s, chunk_walk_fn, &w), 0);
	if (w.objects != stored)
		fail_msg("%s: foreach lists %llu objects, %llu acknowledged",
			 label, (unsigned long long)w.objects,
			 (unsigned long long)stored);
	/* Every chunk expected is held exactly by its occurrences in the
	 * manifests, callers hold none of it, and the index holds nothing
	 * else: stats counts every entry, chunks too. */
	for (size_t i = 0; i < w.n; i++) {
		uint64_t held = UINT64_MAX, mine = UINT64_MAX;

		assert_int_equal(b3cas__chunked_held(s, &w.chunks[i].id, &held),
				 0);
		assert_int_equal(b3cas_refcount(s, &w.chunks[i].id, &mine), 0);
		if (held != w.chunks[i].count || mine != 0)
			fail_msg("%s: a chunk held %llu times (callers %llu), "
				 "%llu occurrences in manifests", label,
				 (unsigned long long)held,
				 (unsigned long long)mine,
				 (unsigned long long)w.chunks[i].count);
	}
	assert_int_equal(b3cas_store_stats(s, &st), 0);
	if (st.objects != stored + w.n)
		fail_msg("%s: %llu entries stored, %llu acknowledged and %zu "
			 "chunks expected", label,
			 (unsigned long long)st.objects,
			 (unsigned long long)stored, w.n);
	free(w.chunks);
}

/*
 * The whole store against the model, through a new read-only handle
 * without caches (so the bytes come from where they are kept): fsck
 * finds nothing, every object acknowledged reads back with exactly its
 * references, and nothing else is stored.
 */
void verify_store(const char *label)
{
	b3cas_store_options o = handle_options(H_NO_L1 | H_NO_L2);
	b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;
	b3cas_fsck_report r;
	b3cas_store *s = NULL;
	uint64_t stored = 0;

	/* A chunked put that could not release what it had stored (a
	 * failed put, or a duplicate whose own copy's release failed after
	 * the reference was added) leaves its pending key, which the next
	 * writable open releases (docs/chunked-objects.md): open one first,
	 * so that what is checked is what every later user sees. */
	if (tu_chunking()) {
		if (b3cas_store_open(&s, store_dir, &o) != 0)
			fail_msg("%s: the store does not open again: %s",
				 label, b3cas_error_last());
		assert_int_equal(b3cas_store_close(s), 0);
		s = NULL;
	}
	o.read_only = true;
	if (b3cas_store_open(&s, store_dir, &o) != 0)
		fail_msg("%s: the store does not open again: %s", label,
			 b3cas_error_last());
	assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
	if (r.problems)
		fail_msg("%s: fsck finds %llu problems (%llu orphans)", label,
			 (unsigned long long)r.problems,
			 (unsigned long long)r.orphans);
	for (int i = 0; i < NOBJ; i++) {
		uint64_t count = 0;
		void *buf;
		size_t len;

		if (!objs[i].refs) {
			assert_int_equal(b3cas_store_exists(s, &objs[i].id), 0);
			continue;
		}
		stored++;
		if (b3cas_store_get(s, &objs[i].id, &buf, &len) != 0)
			fail_msg("%s: object %d: %s", label, i,
				 b3cas_error_last());
		expect_bytes(buf, len, i);
		b3cas_free(buf);
		assert_int_equal(b3cas_refcount(s, &objs[i].id, &count), 0);
		if (count != objs[i].refs)
			fail_msg("%s: object %d has %llu references, %llu "
				 "acknowledged", label, i,
				 (unsigned long long)count,
				 (unsigned long long)objs[i].refs);
	}
	verify_stored_set(s, label, stored);
	assert_int_equal(b3cas_store_close(s), 0);
}

void put_known(b3cas_store *s, int i)
{
	b3cas_oid id;
	int rc = b3cas_store_put(s, &id, objs[i].data, obj_len[i]);

	if (rc < 0)
		fail_msg("put %d: %s", i, b3cas_error_last());
	assert_true(b3cas_oid_equal(&id, &objs[i].id));
	objs[i].refs++;
}

int setup(void **state)
{
	uint64_t rng = 0x6e6f6d656dull; /* the bytes do not matter */
	b3cas_store_options o = handle_options(0);
	b3cas_store *s = NULL;

	(void)state;
	/* backtrace loads its unwinder on first use: not while armed */
	(void)call_site();
	plan.trace = getenv("B3CAS_NOMEM_TRACE") != NULL;
	tu_make_root(root, sizeof(root), "nomem");
	snprintf(store_dir, sizeof(store_dir), "%s/store", root);
	snprintf(mirror_dir, sizeof(mirror_dir), "%s/mirror", root);
	read_buf = malloc(obj_len[O_W_LARGE]);
	assert_non_null(read_buf);
	for (int i = 0; i < NOBJ; i++) {
		objs[i].data = malloc(obj_len[i] + 1);
		assert_non_null(objs[i].data);
		tu_fill_random(objs[i].data, obj_len[i], &rng);
		b3cas_hash(objs[i].id.bytes, objs[i].data, obj_len[i]);
	}
	o.create = true;
	tu_store_policy(&o); /* B3CAS_TEST_CHUNKING=1: a chunking store */
	assert_int_equal(b3cas_store_open(&s, store_dir, &o), 0);
	put_known(s, O_INLINE);
	put_known(s, O_LOOSE);
	put_known(s, O_LOOSE);
	put_known(s, O_LARGE);
	put_known(s, O_EMPTY);
	put_known(s, O_DEL);
	put_known(s, O_HEAL);
	/* a copy in L2, for the opens to list */
	assert_int_equal(b3cas_cache_load(s, &objs[O_LOOSE].id), 0);
	assert_int_equal(b3cas_backup(s, mirror_dir, NULL, NULL), 0);
	assert_int_equal(b3cas_store_close(s), 0);
	verify_store("setup");
	return 0;
}

int teardown(void **state)
{
	(void)state;
	tu_remove_root(root);
	for (int i = 0; i < NOBJ; i++)
		free(objs[i].data);
	free(read_buf);
	return 0;
}
