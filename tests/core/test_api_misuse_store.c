/*
 * test_api_misuse_store.c - the t_<function> misuse tests for the
 * functions of store.h (ids, open and close, put and get, references and
 * GC, stats, foreach, batches, writers and readers): each required pointer
 * NULL in turn, and each options struct at an unknown version, is refused
 * with its message and leaves outputs as they were. Part of the
 * test_api_misuse program.
 */
#include "test_api_misuse_int.h"

/* ---- store.h ------------------------------------------------------------ */

void t_b3cas_oid_fmt(void **state)
{
	char hex[B3CAS_OID_HEX_LEN + 1];

	(void)state;
	MSG_FOR("b3cas_oid_fmt", "out",
		assert_null(b3cas_oid_fmt(NULL, &id_small)));
	poison(hex, sizeof(hex));
	MSG_FOR("b3cas_oid_fmt", "id", assert_null(b3cas_oid_fmt(hex, NULL)));
	assert_true(poisoned(hex, sizeof(hex)));
}

void t_b3cas_oid_parse(void **state)
{
	char hex[B3CAS_OID_HEX_LEN + 1];
	b3cas_oid id;

	(void)state;
	b3cas_oid_fmt(hex, &id_small);
	EINVAL_FOR("b3cas_oid_parse", "out", b3cas_oid_parse(NULL, hex));
	poison(&id, sizeof(id));
	EINVAL_FOR("b3cas_oid_parse", "text", b3cas_oid_parse(&id, NULL));
	assert_true(poisoned(&id, sizeof(id)));
}

void t_b3cas_oid_equal(void **state)
{
	(void)state;
	MSG_FOR("b3cas_oid_equal", "a",
		assert_false(b3cas_oid_equal(NULL, &id_small)));
	MSG_FOR("b3cas_oid_equal", "b",
		assert_false(b3cas_oid_equal(&id_small, NULL)));
}

void t_b3cas_store_open(void **state)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *s = (b3cas_store *)&s;

	(void)state;
	EINVAL_FOR("b3cas_store_open", "out",
		   b3cas_store_open(NULL, root, NULL));
	EINVAL_FOR("b3cas_store_open", "root",
		   b3cas_store_open(&s, NULL, NULL));
	assert_ptr_equal(s, (b3cas_store *)&s); /* *out left alone */
	/* options of an unknown version (not initialised with _INIT) */
	o.read_only = true;
	VERSION_REFUSED("store", o, B3CAS_STORE_OPTIONS_VERSION,
			"B3CAS_STORE_OPTIONS_INIT",
			b3cas_store_open(&s, root, &o));
	assert_ptr_equal(s, (b3cas_store *)&s);
}

void t_b3cas_store_close(void **state)
{
	(void)state;
	b3cas_error_clear();
	assert_int_equal(b3cas_store_close(NULL), 0); /* accepted */
	assert_string_equal(b3cas_error_last(), "");
}

void t_b3cas_store_sync(void **state)
{
	(void)state;
	EINVAL_FOR("b3cas_store_sync", "store", b3cas_store_sync(NULL));
}

void t_b3cas_store_interrupt(void **state)
{
	(void)state;
	EINVAL_FOR("b3cas_store_interrupt", "store",
		   b3cas_store_interrupt(NULL));
}

void t_b3cas_store_info_get(void **state)
{
	b3cas_store_info info;

	(void)state;
	MSG_FOR("b3cas_store_info_get", "out",
		b3cas_store_info_get(NULL, st));
	poison(&info, sizeof(info));
	MSG_FOR("b3cas_store_info_get", "store",
		b3cas_store_info_get(&info, NULL));
	assert_true(poisoned(&info, sizeof(info)));
}

void t_b3cas_hash_algo_name(void **state)
{
	(void)state;
	assert_string_equal(b3cas_hash_algo_name(B3CAS_HASH_BLAKE3), "blake3");
}

void t_b3cas_store_put(void **state)
{
	b3cas_oid id;

	(void)state;
	EINVAL_FOR("b3cas_store_put", "store",
		   b3cas_store_put(NULL, &id, small, sizeof(small)));
	poison(&id, sizeof(id));
	EINVAL_FOR("b3cas_store_put", "data",
		   b3cas_store_put(st, &id, NULL, 5));
	assert_true(poisoned(&id, sizeof(id)));
	/* id_out is optional; the duplicate still counts a reference */
	assert_int_equal(b3cas_store_put(st, NULL, small, sizeof(small)), 1);
	assert_int_equal(b3cas_store_delete(st, &id_small), 1);
}

void t_b3cas_store_put_linked(void **state)
{
	b3cas_oid id, missing;

	(void)state;
	EINVAL_FOR("b3cas_store_put_linked", "store",
		   b3cas_store_put_linked(NULL, &id, big, sizeof(big),
					  &id_small, 1));
	poison(&id, sizeof(id));
	EINVAL_FOR("b3cas_store_put_linked", "data",
		   b3cas_store_put_linked(st, &id, NULL, 5, &id_small, 1));
	EINVAL_FOR("b3cas_store_put_linked", "links",
		   b3cas_store_put_linked(st, &id, big, sizeof(big), NULL, 1));
	/* a link that is not stored: nothing is */
	memset(&missing, 0x5a, sizeof(missing));
	assert_int_equal(b3cas_store_put_linked(st, &id, "x", 1, &missing, 1),
			 B3CAS_ENOTFOUND);
	assert_non_null(strstr(b3cas_error_last(), "is not stored"));
	assert_true(poisoned(&id, sizeof(id)));
	/* no links and no id_out: a plain object */
	assert_int_equal(b3cas_store_put_linked(st, NULL, "x", 1, NULL, 0), 0);
	b3cas_hash(id.bytes, "x", 1);
	assert_int_equal(b3cas_store_delete(st, &id), 0);
}

void t_b3cas_name_set(void **state)
{
	char longname[B3CAS_NAME_MAX + 2];

	(void)state;
	EINVAL_FOR("b3cas_name_set", "store",
		   b3cas_name_set(NULL, "n", &id_small));
	EINVAL_FOR("b3cas_name_set", "name",
		   b3cas_name_set(st, NULL, &id_small));
	EINVAL_FOR("b3cas_name_set", "id", b3cas_name_set(st, "n", NULL));
	assert_int_equal(b3cas_name_set(st, "", &id_small), B3CAS_EINVAL);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(b3cas_name_set(st, longname, &id_small),
			 B3CAS_EINVAL);
	/* set, set again (no change), move, and gone */
	assert_int_equal(b3cas_name_set(st, "misuse/n", &id_small), 0);
	assert_int_equal(b3cas_name_set(st, "misuse/n", &id_small), 1);
	assert_int_equal(b3cas_name_set(st, "misuse/n", &id_big), 1);
	assert_int_equal(b3cas_name_delete(st, "misuse/n"), 0);
}

void t_b3cas_name_get(void **state)
{
	b3cas_oid id;

	(void)state;
	EINVAL_FOR("b3cas_name_get", "store", b3cas_name_get(NULL, "n", &id));
	EINVAL_FOR("b3cas_name_get", "name", b3cas_name_get(st, NULL, &id));
	EINVAL_FOR("b3cas_name_get", "id_out", b3cas_name_get(st, "n", NULL));
	poison(&id, sizeof(id));
	assert_int_equal(b3cas_name_get(st, "misuse/none", &id),
			 B3CAS_ENOTFOUND);
	assert_true(poisoned(&id, sizeof(id)));
}

void t_b3cas_name_delete(void **state)
{
	(void)state;
	EINVAL_FOR("b3cas_name_delete", "store", b3cas_name_delete(NULL, "n"));
	EINVAL_FOR("b3cas_name_delete", "name", b3cas_name_delete(st, NULL));
	assert_int_equal(b3cas_name_delete(st, "misuse/none"),
			 B3CAS_ENOTFOUND);
}

static int count_names(const char *name, const b3cas_oid *id, void *ctx)
{
	(void)name;
	(void)id;
	(*(int *)ctx)++;
	return 0;
}

void t_b3cas_name_foreach(void **state)
{
	int n = 0;

	(void)state;
	EINVAL_FOR("b3cas_name_foreach", "store",
		   b3cas_name_foreach(NULL, NULL, count_names, &n));
	EINVAL_FOR("b3cas_name_foreach", "fn",
		   b3cas_name_foreach(st, NULL, NULL, &n));
	assert_int_equal(b3cas_name_foreach(st, "misuse/", count_names, &n),
			 0);
	assert_int_equal(n, 0);
}

void t_b3cas_name_put_linked(void **state)
{
	b3cas_oid id;

	(void)state;
	EINVAL_FOR("b3cas_name_put_linked", "store",
		   b3cas_name_put_linked(NULL, "n", "x", 1, &id_small, 1, &id));
	EINVAL_FOR("b3cas_name_put_linked", "name",
		   b3cas_name_put_linked(st, NULL, "x", 1, &id_small, 1, &id));
	EINVAL_FOR("b3cas_name_put_linked", "data",
		   b3cas_name_put_linked(st, "n", NULL, 1, &id_small, 1, &id));
	EINVAL_FOR("b3cas_name_put_linked", "links",
		   b3cas_name_put_linked(st, "n", "x", 1, NULL, 1, &id));
	assert_int_equal(b3cas_name_put_linked(st, "misuse/p", "xy", 2,
					       &id_small, 1, &id), 0);
	/* the name exists: refused, nothing changes */
	assert_int_equal(b3cas_name_put_linked(st, "misuse/p", "xyz", 3,
					       &id_small, 1, NULL),
			 B3CAS_EEXISTS);
	assert_int_equal(b3cas_store_exists(st, &id), 1);
	assert_int_equal(b3cas_name_delete(st, "misuse/p"), 0);
	assert_int_equal(b3cas_store_exists(st, &id), 0);
}

void t_b3cas_lease_open(void **state)
{
	b3cas_lease *l = (b3cas_lease *)&l;

	(void)state;
	EINVAL_FOR("b3cas_lease_open", "store", b3cas_lease_open(NULL, &l));
	EINVAL_FOR("b3cas_lease_open", "out", b3cas_lease_open(st, NULL));
	assert_int_equal(b3cas_lease_open(st, &l), 0);
	assert_int_equal(b3cas_lease_count(l), 0);
	assert_int_equal(b3cas_lease_close(l), 0);
}

void t_b3cas_lease_put(void **state)
{
	b3cas_lease *l;
	b3cas_oid id;
	uint64_t before, count;

	(void)state;
	assert_int_equal(b3cas_lease_open(st, &l), 0);
	EINVAL_FOR("b3cas_lease_put", "lease",
		   b3cas_lease_put(NULL, &id, "x", 1));
	EINVAL_FOR("b3cas_lease_put", "data", b3cas_lease_put(l, &id, NULL, 1));
	/* a duplicate of a caller's object: one more reference, the
	 * lease's, which its close takes back */
	assert_int_equal(b3cas_refcount(st, &id_small, &before), 0);
	assert_int_equal(b3cas_lease_put(l, &id, small, sizeof(small)), 1);
	assert_true(b3cas_oid_equal(&id, &id_small));
	assert_int_equal(b3cas_refcount(st, &id_small, &count), 0);
	assert_int_equal(count, before + 1);
	assert_int_equal(b3cas_lease_count(l), 1);
	assert_int_equal(b3cas_lease_close(l), 0);
	assert_int_equal(b3cas_refcount(st, &id_small, &count), 0);
	assert_int_equal(count, before);
}

void t_b3cas_lease_put_linked(void **state)
{
	b3cas_lease *l;
	b3cas_oid id, missing;

	(void)state;
	assert_int_equal(b3cas_lease_open(st, &l), 0);
	EINVAL_FOR("b3cas_lease_put_linked", "lease",
		   b3cas_lease_put_linked(NULL, &id, "x", 1, &id_small, 1));
	EINVAL_FOR("b3cas_lease_put_linked", "data",
		   b3cas_lease_put_linked(l, &id, NULL, 1, &id_small, 1));
	EINVAL_FOR("b3cas_lease_put_linked", "links",
		   b3cas_lease_put_linked(l, &id, "x", 1, NULL, 1));
	memset(&missing, 0x5a, sizeof(missing));
	assert_int_equal(b3cas_lease_put_linked(l, &id, "lease-linked", 12,
						&missing, 1),
			 B3CAS_ENOTFOUND);
	assert_int_equal(b3cas_lease_count(l), 0);
	assert_int_equal(b3cas_lease_put_linked(l, &id, "lease-linked", 12,
						&id_small, 1),
			 0);
	assert_int_equal(b3cas_store_exists(st, &id), 1);
	assert_int_equal(b3cas_lease_close(l), 0);
	assert_int_equal(b3cas_store_exists(st, &id), 0);
}

void t_b3cas_lease_commit(void **state)
{
	b3cas_lease *l;
	b3cas_writer *w;
	b3cas_oid id;

	(void)state;
	assert_int_equal(b3cas_lease_open(st, &l), 0);
	assert_int_equal(b3cas_writer_open(&w, st), 0);
	EINVAL_FOR("b3cas_lease_commit", "w", b3cas_lease_commit(l, NULL, &id));
	EINVAL_FOR("b3cas_lease_commit", "lease",
		   b3cas_lease_commit(NULL, w, &id));
	assert_int_equal(b3cas_writer_write(w, "lease-streamed", 14), 0);
	assert_int_equal(b3cas_lease_commit(l, w, &id), 0);
	assert_int_equal(b3cas_store_exists(st, &id), 1);
	assert_int_equal(b3cas_lease_drop(l, &id), 0);
	assert_int_equal(b3cas_store_exists(st, &id), 0);
	assert_int_equal(b3cas_lease_close(l), 0);
}

void t_b3cas_lease_ref(void **state)
{
	b3cas_lease *l;
	b3cas_oid missing;

	(void)state;
	assert_int_equal(b3cas_lease_open(st, &l), 0);
	EINVAL_FOR("b3cas_lease_ref", "lease", b3cas_lease_ref(NULL, &id_small));
	EINVAL_FOR("b3cas_lease_ref", "id", b3cas_lease_ref(l, NULL));
	memset(&missing, 0xa5, sizeof(missing));
	assert_int_equal(b3cas_lease_ref(l, &missing), B3CAS_ENOTFOUND);
	assert_int_equal(b3cas_lease_ref(l, &id_small), 0);
	assert_int_equal(b3cas_lease_ref(l, &id_small), 0);
	assert_int_equal(b3cas_lease_count(l), 2);
	assert_int_equal(b3cas_lease_close(l), 0);
}

void t_b3cas_lease_drop(void **state)
{
	b3cas_lease *l;

	(void)state;
	assert_int_equal(b3cas_lease_open(st, &l), 0);
	EINVAL_FOR("b3cas_lease_drop", "lease",
		   b3cas_lease_drop(NULL, &id_small));
	EINVAL_FOR("b3cas_lease_drop", "id", b3cas_lease_drop(l, NULL));
	assert_int_equal(b3cas_lease_drop(l, &id_small), B3CAS_ENOTFOUND);
	assert_int_equal(b3cas_lease_ref(l, &id_small), 0);
	assert_int_equal(b3cas_lease_ref(l, &id_small), 0);
	assert_int_equal(b3cas_lease_drop(l, &id_small), 1);
	assert_int_equal(b3cas_lease_drop(l, &id_small), 0);
	assert_int_equal(b3cas_lease_drop(l, &id_small), B3CAS_ENOTFOUND);
	assert_int_equal(b3cas_lease_close(l), 0);
}

void t_b3cas_lease_count(void **state)
{
	(void)state;
	b3cas_error_clear();
	assert_int_equal(b3cas_lease_count(NULL), 0);
	assert_non_null(strstr(b3cas_error_last(), "lease is NULL"));
}

void t_b3cas_lease_store(void **state)
{
	b3cas_lease *l;

	(void)state;
	b3cas_error_clear();
	assert_null(b3cas_lease_store(NULL));
	assert_non_null(strstr(b3cas_error_last(), "b3cas_lease_store: lease "
				"is NULL"));
	assert_int_equal(b3cas_lease_open(st, &l), 0);
	assert_ptr_equal(b3cas_lease_store(l), st);
	assert_int_equal(b3cas_lease_close(l), 0);
}

void t_b3cas_lease_close(void **state)
{
	(void)state;
	assert_int_equal(b3cas_lease_close(NULL), 0);
}

void t_b3cas_store_get(void **state)
{
	void *data = (void *)&data;
	size_t len = 77;

	(void)state;
	EINVAL_FOR("b3cas_store_get", "store",
		   b3cas_store_get(NULL, &id_small, &data, &len));
	EINVAL_FOR("b3cas_store_get", "id",
		   b3cas_store_get(st, NULL, &data, &len));
	EINVAL_FOR("b3cas_store_get", "data_out",
		   b3cas_store_get(st, &id_small, NULL, &len));
	EINVAL_FOR("b3cas_store_get", "len_out",
		   b3cas_store_get(st, &id_small, &data, NULL));
	EINVAL_FOR("b3cas_store_get", "len_out",
		   b3cas_store_get(st, &id_big, &data, NULL));
	assert_ptr_equal(data, (void *)&data);
	assert_int_equal(len, 77);
}

void t_b3cas_free(void **state)
{
	(void)state;
	b3cas_free(NULL); /* accepted */
}

void t_b3cas_store_exists(void **state)
{
	(void)state;
	EINVAL_FOR("b3cas_store_exists", "store",
		   b3cas_store_exists(NULL, &id_small));
	EINVAL_FOR("b3cas_store_exists", "id", b3cas_store_exists(st, NULL));
}

void t_b3cas_store_delete(void **state)
{
	(void)state;
	EINVAL_FOR("b3cas_store_delete", "store",
		   b3cas_store_delete(NULL, &id_small));
	EINVAL_FOR("b3cas_store_delete", "id", b3cas_store_delete(st, NULL));
}

void t_b3cas_ref_add(void **state)
{
	(void)state;
	EINVAL_FOR("b3cas_ref_add", "store", b3cas_ref_add(NULL, &id_small));
	EINVAL_FOR("b3cas_ref_add", "id", b3cas_ref_add(st, NULL));
}

void t_b3cas_ref_remove(void **state)
{
	(void)state;
	EINVAL_FOR("b3cas_ref_remove", "store",
		   b3cas_ref_remove(NULL, &id_small));
	EINVAL_FOR("b3cas_ref_remove", "id", b3cas_ref_remove(st, NULL));
}

void t_b3cas_refcount(void **state)
{
	uint64_t n = 42;

	(void)state;
	EINVAL_FOR("b3cas_refcount", "store",
		   b3cas_refcount(NULL, &id_small, &n));
	EINVAL_FOR("b3cas_refcount", "id", b3cas_refcount(st, NULL, &n));
	EINVAL_FOR("b3cas_refcount", "count",
		   b3cas_refcount(st, &id_small, NULL));
	assert_int_equal(n, 42);
	/* the failed calls changed no count */
	assert_int_equal(b3cas_refcount(st, &id_small, &n), 0);
	assert_int_equal(n, 1);
}

void t_b3cas_gc(void **state)
{
	b3cas_gc_options o = B3CAS_GC_OPTIONS_INIT;
	b3cas_gc_report r;

	(void)state;
	EINVAL_FOR("b3cas_gc", "store", b3cas_gc(NULL, NULL, NULL));
	o.dry_run = true;
	VERSION_REFUSED("gc", o, B3CAS_GC_OPTIONS_VERSION,
			"B3CAS_GC_OPTIONS_INIT", b3cas_gc(st, &o, &r));
	assert_int_equal(b3cas_gc(st, &o, &r), 0);
}

void t_b3cas_store_compact(void **state)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *ro = NULL;

	(void)state;
	EINVAL_FOR("b3cas_store_compact", "store", b3cas_store_compact(NULL));
	assert_int_equal(b3cas_store_compact(st), 0);
	o.read_only = true;
	assert_int_equal(b3cas_store_open(&ro, root, &o), 0);
	assert_int_equal(b3cas_store_compact(ro), B3CAS_EPERM);
	assert_non_null(strstr(b3cas_error_last(), "read-only"));
	assert_int_equal(b3cas_store_close(ro), 0);
}

void t_b3cas_dedup_check(void **state)
{
	b3cas_oid id;
	bool dup = false;

	(void)state;
	EINVAL_FOR("b3cas_dedup_check", "store",
		   b3cas_dedup_check(NULL, small, sizeof(small), &id, &dup));
	EINVAL_FOR("b3cas_dedup_check", "data",
		   b3cas_dedup_check(st, NULL, 5, &id, &dup));
	EINVAL_FOR("b3cas_dedup_check", "is_dup",
		   b3cas_dedup_check(st, small, sizeof(small), &id, NULL));
	/* id_out is optional */
	assert_int_equal(
		b3cas_dedup_check(st, small, sizeof(small), NULL, &dup), 0);
	assert_true(dup);
}

void t_b3cas_store_stats(void **state)
{
	b3cas_stats stats;

	(void)state;
	EINVAL_FOR("b3cas_store_stats", "store",
		   b3cas_store_stats(NULL, &stats));
	EINVAL_FOR("b3cas_store_stats", "out", b3cas_store_stats(st, NULL));
}

void t_b3cas_store_stat(void **state)
{
	b3cas_object_info info;

	(void)state;
	EINVAL_FOR("b3cas_store_stat", "store",
		   b3cas_store_stat(NULL, &id_small, &info));
	EINVAL_FOR("b3cas_store_stat", "id",
		   b3cas_store_stat(st, NULL, &info));
	EINVAL_FOR("b3cas_store_stat", "out",
		   b3cas_store_stat(st, &id_small, NULL));
}

static int count_object(const b3cas_object_info *info, void *ctx)
{
	(void)info;
	++*(int *)ctx;
	return 0;
}

void t_b3cas_store_foreach(void **state)
{
	int n = 0;

	(void)state;
	EINVAL_FOR("b3cas_store_foreach", "store",
		   b3cas_store_foreach(NULL, count_object, &n));
	EINVAL_FOR("b3cas_store_foreach", "fn",
		   b3cas_store_foreach(st, NULL, &n));
	assert_int_equal(n, 0);
}

void t_b3cas_store_put_batch(void **state)
{
	const void *data[2] = {small, big};
	const void *holed[2] = {small, NULL};
	size_t lens[2] = {sizeof(small), 10};
	b3cas_oid ids[2];
	bool dups[2];

	(void)state;
	EINVAL_FOR("b3cas_store_put_batch", "store",
		   b3cas_store_put_batch(NULL, ids, dups, data, lens, 2));
	EINVAL_FOR("b3cas_store_put_batch", "data",
		   b3cas_store_put_batch(st, ids, dups, NULL, lens, 2));
	EINVAL_FOR("b3cas_store_put_batch", "lens",
		   b3cas_store_put_batch(st, ids, dups, data, NULL, 2));
	b3cas_error_clear();
	assert_int_equal(b3cas_store_put_batch(st, ids, dups, holed, lens, 2),
			 B3CAS_EINVAL);
	assert_string_equal(b3cas_error_last(),
			    "b3cas_store_put_batch: data[1] is NULL but "
			    "lens[1] is 10");
	/* an empty batch needs no arrays; ids_out and dup_out are optional */
	assert_int_equal(b3cas_store_put_batch(st, NULL, NULL, NULL, NULL, 0),
			 0);
	assert_int_equal(b3cas_store_put_batch(st, NULL, NULL, data, lens, 1),
			 0);
	assert_int_equal(b3cas_store_delete(st, &id_small), 1);
}

void t_b3cas_store_exists_batch(void **state)
{
	b3cas_oid ids[2] = {id_small, id_small};
	bool found[2] = {false, true};

	(void)state;
	EINVAL_FOR("b3cas_store_exists_batch", "store",
		   b3cas_store_exists_batch(NULL, ids, 2, found));
	EINVAL_FOR("b3cas_store_exists_batch", "ids",
		   b3cas_store_exists_batch(st, NULL, 2, found));
	EINVAL_FOR("b3cas_store_exists_batch", "found",
		   b3cas_store_exists_batch(st, ids, 2, NULL));
	/* an empty batch needs no arrays */
	assert_int_equal(b3cas_store_exists_batch(st, NULL, 0, NULL), 0);
	memset(&ids[1], 0, sizeof(ids[1]));
	assert_int_equal(b3cas_store_exists_batch(st, ids, 2, found), 0);
	assert_true(found[0]);
	assert_false(found[1]);
}

void t_b3cas_store_get_batch(void **state)
{
	void *bufs[1] = {NULL};
	size_t lens[1];
	int results[1];

	(void)state;
	EINVAL_FOR("b3cas_store_get_batch", "store",
		   b3cas_store_get_batch(NULL, &id_small, 1, bufs, lens,
					 results));
	EINVAL_FOR("b3cas_store_get_batch", "ids",
		   b3cas_store_get_batch(st, NULL, 1, bufs, lens, results));
	EINVAL_FOR("b3cas_store_get_batch", "data_out",
		   b3cas_store_get_batch(st, &id_small, 1, NULL, lens,
					 results));
	EINVAL_FOR("b3cas_store_get_batch", "lens_out",
		   b3cas_store_get_batch(st, &id_small, 1, bufs, NULL,
					 results));
	assert_int_equal(
		b3cas_store_get_batch(st, NULL, 0, NULL, NULL, NULL), 0);
	/* results is optional */
	assert_int_equal(
		b3cas_store_get_batch(st, &id_small, 1, bufs, lens, NULL), 0);
	assert_int_equal(lens[0], sizeof(small));
	assert_memory_equal(bufs[0], small, sizeof(small));
	b3cas_free(bufs[0]);
}

void t_b3cas_writer_open(void **state)
{
	b3cas_writer *w = (b3cas_writer *)&w;

	(void)state;
	EINVAL_FOR("b3cas_writer_open", "out", b3cas_writer_open(NULL, st));
	EINVAL_FOR("b3cas_writer_open", "store", b3cas_writer_open(&w, NULL));
	assert_ptr_equal(w, (b3cas_writer *)&w);
}

void t_b3cas_writer_write(void **state)
{
	b3cas_writer *w;
	b3cas_oid id;

	(void)state;
	EINVAL_FOR("b3cas_writer_write", "w",
		   b3cas_writer_write(NULL, small, 5));
	assert_int_equal(b3cas_writer_open(&w, st), 0);
	EINVAL_FOR("b3cas_writer_write", "data",
		   b3cas_writer_write(w, NULL, 5));
	/* the refused call left the writer as it was */
	assert_int_equal(b3cas_writer_write(w, NULL, 0), 0);
	assert_int_equal(b3cas_writer_write(w, small, sizeof(small)), 0);
	assert_int_equal(b3cas_writer_commit(w, &id), 1);
	assert_true(b3cas_oid_equal(&id, &id_small));
	assert_int_equal(b3cas_store_delete(st, &id_small), 1);
}

void t_b3cas_writer_commit(void **state)
{
	b3cas_writer *w;

	(void)state;
	EINVAL_FOR("b3cas_writer_commit", "w",
		   b3cas_writer_commit(NULL, &id_small));
	/* id_out is optional */
	assert_int_equal(b3cas_writer_open(&w, st), 0);
	assert_int_equal(b3cas_writer_write(w, big, sizeof(big)), 0);
	assert_int_equal(b3cas_writer_commit(w, NULL), 1);
	assert_int_equal(b3cas_store_delete(st, &id_big), 1);
}

void t_b3cas_writer_set_base(void **state)
{
	b3cas_writer *w;
	b3cas_oid none;
	b3cas_oid id;

	(void)state;
	memset(none.bytes, 0xa5, sizeof(none.bytes));
	EINVAL_FOR("b3cas_writer_set_base", "w",
		   b3cas_writer_set_base(NULL, &id_big));
	assert_int_equal(b3cas_writer_open(&w, st), 0);
	EINVAL_FOR("b3cas_writer_set_base", "base",
		   b3cas_writer_set_base(w, NULL));
	assert_int_equal(b3cas_writer_set_base(w, &none), B3CAS_ENOTFOUND);
	/* a base in a store that does not chunk: accepted, the same id */
	assert_int_equal(b3cas_writer_set_base(w, &id_big), 0);
	assert_int_equal(b3cas_writer_set_base(w, &id_big), B3CAS_EINVAL);
	assert_int_equal(b3cas_writer_write(w, big, sizeof(big)), 0);
	assert_int_equal(b3cas_writer_commit(w, &id), 1);
	assert_true(b3cas_oid_equal(&id, &id_big));
	assert_int_equal(b3cas_store_delete(st, &id_big), 1);
	/* after a byte: refused, the writer still good */
	assert_int_equal(b3cas_writer_open(&w, st), 0);
	assert_int_equal(b3cas_writer_write(w, small, sizeof(small)), 0);
	assert_int_equal(b3cas_writer_set_base(w, &id_big), B3CAS_EINVAL);
	assert_int_equal(b3cas_writer_commit(w, &id), 1);
	assert_int_equal(b3cas_store_delete(st, &id_small), 1);
}

void t_b3cas_writer_abort(void **state)
{
	(void)state;
	b3cas_writer_abort(NULL); /* accepted */
}

void t_b3cas_reader_open(void **state)
{
	b3cas_reader *r = (b3cas_reader *)&r;

	(void)state;
	EINVAL_FOR("b3cas_reader_open", "out",
		   b3cas_reader_open(NULL, st, &id_big));
	EINVAL_FOR("b3cas_reader_open", "store",
		   b3cas_reader_open(&r, NULL, &id_big));
	EINVAL_FOR("b3cas_reader_open", "id",
		   b3cas_reader_open(&r, st, NULL));
	assert_ptr_equal(r, (b3cas_reader *)&r);
}

void t_b3cas_reader_open_flags(void **state)
{
	b3cas_reader *r = (b3cas_reader *)&r;
	uint8_t buf[sizeof(big) + 1];

	(void)state;
	EINVAL_FOR("b3cas_reader_open_flags", "out",
		   b3cas_reader_open_flags(NULL, st, &id_big, 0));
	EINVAL_FOR("b3cas_reader_open_flags", "store",
		   b3cas_reader_open_flags(&r, NULL, &id_big, 0));
	EINVAL_FOR("b3cas_reader_open_flags", "id",
		   b3cas_reader_open_flags(&r, st, NULL, 0));
	assert_ptr_equal(r, (b3cas_reader *)&r);
	/* a flag this library does not know */
	assert_int_equal(b3cas_reader_open_flags(&r, st, &id_big, 2),
			 B3CAS_EINVAL);
	assert_non_null(strstr(b3cas_error_last(), "unknown flags"));
	assert_ptr_equal(r, (b3cas_reader *)&r);
	/* a sound loose object reads whole, checked at the end */
	assert_int_equal(b3cas_reader_open_flags(&r, st, &id_big,
						 B3CAS_READER_CHECK_AT_END),
			 0);
	assert_int_equal(b3cas_reader_read(r, buf, sizeof(buf)),
			 (int64_t)sizeof(big));
	assert_memory_equal(buf, big, sizeof(big));
	assert_int_equal(b3cas_reader_read(r, buf, sizeof(buf)), 0);
	b3cas_reader_close(r);
}

void t_b3cas_reader_size(void **state)
{
	(void)state;
	MSG_FOR("b3cas_reader_size", "r",
		assert_int_equal(b3cas_reader_size(NULL), 0));
}

void t_b3cas_reader_read(void **state)
{
	uint8_t buf[sizeof(big)];
	b3cas_reader *r;

	(void)state;
	EINVAL_FOR("b3cas_reader_read", "r",
		   b3cas_reader_read(NULL, buf, sizeof(buf)));
	assert_int_equal(b3cas_reader_open(&r, st, &id_big), 0);
	EINVAL_FOR("b3cas_reader_read", "buf",
		   b3cas_reader_read(r, NULL, 10));
	assert_int_equal(b3cas_reader_read(r, NULL, 0), 0);
	/* the refused call moved nothing */
	assert_int_equal(b3cas_reader_read(r, buf, sizeof(buf)), sizeof(big));
	assert_memory_equal(buf, big, sizeof(big));
	b3cas_reader_close(r);
}

void t_b3cas_store_read_at(void **state)
{
	uint8_t buf[16];
	size_t n = 99;

	(void)state;
	EINVAL_FOR("b3cas_store_read_at", "store",
		   b3cas_store_read_at(NULL, &id_big, 0, buf, 4, &n));
	EINVAL_FOR("b3cas_store_read_at", "id",
		   b3cas_store_read_at(st, NULL, 0, buf, 4, &n));
	EINVAL_FOR("b3cas_store_read_at", "buf",
		   b3cas_store_read_at(st, &id_big, 0, NULL, 4, &n));
	assert_int_equal(n, 99); /* left as it was */
	/* nread may be NULL; a NULL buf with len 0 reads nothing */
	assert_int_equal(b3cas_store_read_at(st, &id_big, 5, buf, 4, NULL),
			 0);
	assert_memory_equal(buf, big + 5, 4);
	assert_int_equal(b3cas_store_read_at(st, &id_big, 0, NULL, 0, &n), 0);
	assert_int_equal(n, 0);
}

void t_b3cas_reader_close(void **state)
{
	(void)state;
	b3cas_reader_close(NULL); /* accepted */
}
