/*
 * test_nomem_ops.c - the operations test_nomem sweeps, part one: each
 * one's prepare, run (the call made while the allocator is armed) and
 * check (its result against the model) for open and close, puts,
 * put_batch, the streaming writer and reader, and the reads (get,
 * get_view, get_batch). ops[] in test_nomem.c lists them in order.
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
#include "store/store_int.h"
#include "filter/filter.h"
#include "store_policy.h"
#include "test_nomem_int.h"
#include "test_util.h"

char what[128];
unsigned long long last_fired;
run_out out;

void evict(b3cas_store *s, const op *o)
{
	b3cas_cache_evict(s, &objs[o->obj].id);
}

void load(b3cas_store *s, const op *o)
{
	b3cas_cache_evict(s, &objs[o->obj].id);
	assert_int_equal(b3cas_cache_load(s, &objs[o->obj].id), 0);
}

/* A check for an operation that changes nothing and returns 0. */
void check_zero(b3cas_store *s, const op *o, int64_t rc)
{
	(void)s;
	(void)o;
	if (rc < 0)
		expect_nomem(rc, what);
	else
		assert_int_equal(rc, 0);
}

/* ---- open and close ---- */

int64_t run_open(b3cas_store **sp, const op *o)
{
	b3cas_store_options opts = handle_options(0);

	opts.read_only = o->obj == 1;
	return b3cas_store_open(sp, store_dir, &opts);
}

void check_open(b3cas_store *s, const op *o, int64_t rc)
{
	(void)o;
	if (rc < 0) {
		expect_nomem(rc, what);
		assert_null(s);
		return;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(b3cas_store_exists(s, &objs[O_INLINE].id), 1);
	settle(s);
}

/* The filter saved at close is gone: this open builds one. */
void prepare_no_filter(b3cas_store *s, const op *o)
{
	char path[320];

	(void)s;
	(void)o;
	snprintf(path, sizeof(path), "%s/cache/bloom", store_dir);
	unlink(path);
}

static void rm_rf(const char *path)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	assert_int_equal(system(cmd), 0);
}

static b3cas_store_options create_options(void)
{
	/* L2's open is swept with the opens of the store (256 folders
	 * fewer to make each time here) */
	b3cas_store_options o = handle_options(H_NO_L2);

	o.create = true;
	o.objects_dir = fresh_tier;  /* the tier elsewhere: realpath */
	o.mirror_dir = store_dir;    /* kept, opened only when needed */
	tu_store_policy(&o);
	return o;
}

void prepare_create(b3cas_store *s, const op *o)
{
	(void)s;
	(void)o;
	snprintf(fresh_dir, sizeof(fresh_dir), "%s/fresh", root);
	snprintf(fresh_tier, sizeof(fresh_tier), "%s/fresh-tier", root);
	rm_rf(fresh_dir);
	rm_rf(fresh_tier);
}

int64_t run_create(b3cas_store **sp, const op *o)
{
	b3cas_store_options opts = create_options();

	(void)o;
	return b3cas_store_open(sp, fresh_dir, &opts);
}

void check_create(b3cas_store *s, const op *o, int64_t rc)
{
	(void)o;
	if (rc < 0) {
		expect_nomem(rc, what);
		assert_null(s);
		return;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(b3cas_store_exists(s, &objs[O_INLINE].id), 0);
	settle(s);
}

/* Whatever a failed create left, creating again makes a sound store. */
void verify_create(const op *o)
{
	b3cas_store_options opts = create_options();
	b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;
	b3cas_fsck_report r;
	b3cas_store *s = NULL;
	void *buf;
	size_t len;

	(void)o;
	if (b3cas_store_open(&s, fresh_dir, &opts) != 0)
		fail_msg("%s: the store cannot be made afterwards: %s", what,
			 b3cas_error_last());
	put_known(s, O_LOOSE);
	objs[O_LOOSE].refs--; /* that was another store */
	assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
	assert_int_equal(r.problems, 0);
	assert_int_equal(b3cas_store_get(s, &objs[O_LOOSE].id, &buf, &len),
			 0);
	expect_bytes(buf, len, O_LOOSE);
	b3cas_free(buf);
	assert_int_equal(b3cas_store_close(s), 0);
	rm_rf(fresh_dir);
	rm_rf(fresh_tier);
}

int64_t run_close(b3cas_store **sp, const op *o)
{
	int rc = b3cas_store_close(*sp);

	(void)o;
	*sp = NULL;
	return rc;
}

/* ---- puts ---- */

int64_t run_put(b3cas_store **sp, const op *o)
{
	return b3cas_store_put(*sp, &out.id, objs[o->obj].data,
			       obj_len[o->obj]);
}

void check_put(b3cas_store *s, const op *o, int64_t rc)
{
	struct object *x = &objs[o->obj];

	(void)s;
	if (rc < 0) {
		expect_nomem(rc, what);
		return;
	}
	assert_int_equal(rc, x->refs ? 1 : 0);
	assert_true(b3cas_oid_equal(&out.id, &x->id));
	x->refs++;
}

/* New inline, new loose, a stored one, the first again, the pooled one. */
static const int batch_items[] = {O_BATCH_INLINE, O_BATCH_LOOSE, O_INLINE,
				  O_BATCH_INLINE, O_LARGE};
#define BATCH_N (sizeof(batch_items) / sizeof(batch_items[0]))
static b3cas_oid batch_ids[BATCH_N];
static bool batch_dups[BATCH_N];

int64_t run_put_batch(b3cas_store **sp, const op *o)
{
	const void *data[BATCH_N];
	size_t lens[BATCH_N];

	(void)o;
	for (size_t i = 0; i < BATCH_N; i++) {
		data[i] = objs[batch_items[i]].data;
		lens[i] = obj_len[batch_items[i]];
	}
	memset(batch_ids, 0, sizeof(batch_ids));
	return b3cas_store_put_batch(*sp, batch_ids, batch_dups, data, lens,
				     BATCH_N);
}

void check_put_batch(b3cas_store *s, const op *o, int64_t rc)
{
	(void)s;
	(void)o;
	if (rc < 0) {
		expect_nomem(rc, what); /* and no reference added */
		return;
	}
	assert_int_equal(rc, 0);
	for (size_t i = 0; i < BATCH_N; i++) {
		struct object *x = &objs[batch_items[i]];

		assert_true(b3cas_oid_equal(&batch_ids[i], &x->id));
		assert_int_equal(batch_dups[i], x->refs > 0);
		x->refs++;
	}
}

/* ---- streaming ---- */

int64_t run_writer(b3cas_store **sp, const op *o)
{
	const struct object *x = &objs[o->obj];
	size_t len = obj_len[o->obj], step = len > 200000 ? 256 * 1024 : 10000;
	b3cas_writer *w;
	int rc = b3cas_writer_open(&w, *sp);

	if (rc < 0)
		return rc;
	for (size_t off = 0; off < len; off += step) {
		rc = b3cas_writer_write(w, x->data + off,
					len - off < step ? len - off : step);
		if (rc < 0) {
			b3cas_writer_abort(w);
			return rc;
		}
	}
	return b3cas_writer_commit(w, &out.id);
}

int64_t run_reader(b3cas_store **sp, const op *o)
{
	b3cas_reader *r;
	int64_t n = 0;
	int rc = b3cas_reader_open(&r, *sp, &objs[o->obj].id);

	if (rc < 0)
		return rc;
	out.len = 0;
	assert_int_equal(b3cas_reader_size(r), obj_len[o->obj]);
	while ((n = b3cas_reader_read(r, read_buf + out.len, 100000)) > 0)
		out.len += (size_t)n;
	b3cas_reader_close(r);
	return n;
}

void check_reader(b3cas_store *s, const op *o, int64_t rc)
{
	(void)s;
	if (rc < 0) {
		expect_nomem(rc, what);
		return;
	}
	assert_int_equal(rc, 0);
	expect_bytes(read_buf, out.len, o->obj);
}

/* ---- reads ---- */

int64_t run_get(b3cas_store **sp, const op *o)
{
	return b3cas_store_get(*sp, &objs[o->obj].id, &out.buf, &out.len);
}

void check_get(b3cas_store *s, const op *o, int64_t rc)
{
	(void)s;
	if (rc < 0) {
		expect_nomem(rc, what);
		return;
	}
	assert_int_equal(rc, 0);
	expect_bytes(out.buf, out.len, o->obj);
	b3cas_free(out.buf);
}

int64_t run_view(b3cas_store **sp, const op *o)
{
	return b3cas_store_get_view(*sp, &objs[o->obj].id, &out.blob);
}

void check_view(b3cas_store *s, const op *o, int64_t rc)
{
	(void)s;
	if (rc < 0) {
		expect_nomem(rc, what);
		return;
	}
	assert_int_equal(rc, 0);
	expect_bytes(b3cas_blob_data(out.blob), b3cas_blob_size(out.blob),
		     o->obj);
	b3cas_blob_release(out.blob);
}

/* An L1 hit, an inline and two loose ones read cold, the empty object,
 * one that is not stored. */
static const int get_items[] = {O_LOOSE, O_INLINE, O_LARGE, O_DEL, O_EMPTY,
				O_MISSING};
#define GET_N (sizeof(get_items) / sizeof(get_items[0]))
static b3cas_oid get_ids[GET_N];
static void *get_bufs[GET_N];
static size_t get_lens[GET_N];
static int get_results[GET_N];

/* Not yet set by the call. */
#define UNSET 1

void prepare_get_batch(b3cas_store *s, const op *o)
{
	(void)o;
	for (size_t i = 0; i < GET_N; i++) {
		get_ids[i] = objs[get_items[i]].id;
		get_bufs[i] = NULL;
		get_results[i] = UNSET;
		b3cas_cache_evict(s, &get_ids[i]);
	}
	assert_int_equal(b3cas_cache_load(s, &objs[O_LOOSE].id), 0);
}

int64_t run_get_batch(b3cas_store **sp, const op *o)
{
	/* obj 1: without results (the call makes an array of its own) */
	return b3cas_store_get_batch(*sp, get_ids, GET_N, get_bufs, get_lens,
				     o->obj ? NULL : get_results);
}

/*
 * Each item is its bytes or its own error (B3CAS_ENOMEM after a failed
 * allocation, B3CAS_ENOTFOUND for the one not stored), and the call
 * returns the first item's error; or the call failed before any item.
 */
void check_get_batch(b3cas_store *s, const op *o, int64_t rc)
{
	bool untouched = true;
	int first = 0;

	(void)s;
	for (size_t i = 0; i < GET_N; i++)
		untouched &= !get_bufs[i] &&
			     (o->obj || get_results[i] == UNSET);
	if (untouched) {
		expect_nomem(rc, what);
		return;
	}
	for (size_t i = 0; i < GET_N; i++) {
		const struct object *x = &objs[get_items[i]];
		int got = get_results[i];

		if (o->obj)
			got = get_bufs[i] ? 0
			      : x->refs   ? B3CAS_ENOMEM
					  : B3CAS_ENOTFOUND;
		if (got == 0) {
			assert_non_null(get_bufs[i]);
			expect_bytes(get_bufs[i], get_lens[i], get_items[i]);
			b3cas_free(get_bufs[i]);
			continue;
		}
		assert_null(get_bufs[i]);
		if (got != (x->refs ? B3CAS_ENOMEM : B3CAS_ENOTFOUND) ||
		    (x->refs && !last_fired))
			fail_msg("%s: item %zu gave %d (%s)", what, i, got,
				 b3cas_error_last());
		if (!first)
			first = got;
	}
	assert_int_equal(rc, first);
}
