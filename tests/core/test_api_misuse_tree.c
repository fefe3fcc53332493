/*
 * test_api_misuse_tree.c - the t_<function> tests of b3cas/tree.h (see
 * test_api_misuse.c): NULL arguments are refused with B3CAS_EINVAL (or
 * -1 from b3cas_tree_find) and the message naming them, and outputs are
 * left as they were.
 */
#include "test_api_misuse_int.h"

/* an empty root: magic, its attributes (all 0), no entries */
static const uint8_t empty_tree[15] = {'b', '3', 't', 'r', 'e', 'e', 0, 1};

void t_b3cas_tree_encode(void **state)
{
	b3cas_tree t = {0};
	uint8_t *out = (uint8_t *)&t;
	size_t len = 7;

	(void)state;
	EINVAL_FOR("b3cas_tree_encode", "tree",
		   b3cas_tree_encode(NULL, &out, &len));
	EINVAL_FOR("b3cas_tree_encode", "out",
		   b3cas_tree_encode(&t, NULL, &len));
	EINVAL_FOR("b3cas_tree_encode", "out_len",
		   b3cas_tree_encode(&t, &out, NULL));
	assert_ptr_equal(out, (uint8_t *)&t);
	assert_int_equal(len, 7);
	assert_int_equal(b3cas_tree_encode(&t, &out, &len), 0);
	assert_int_equal(len, sizeof(empty_tree));
	assert_memory_equal(out, empty_tree, len);
	free(out);
}

void t_b3cas_tree_parse(void **state)
{
	b3cas_tree *t = (b3cas_tree *)&t;

	(void)state;
	EINVAL_FOR("b3cas_tree_parse", "data",
		   b3cas_tree_parse(NULL, sizeof(empty_tree), &t));
	EINVAL_FOR("b3cas_tree_parse", "out",
		   b3cas_tree_parse(empty_tree, sizeof(empty_tree), NULL));
	assert_ptr_equal(t, (b3cas_tree *)&t);
	/* no bytes at all: not a tree, whatever the pointer */
	assert_int_equal(b3cas_tree_parse(NULL, 0, &t), B3CAS_EFORMAT);
	assert_null(t);
}

void t_b3cas_tree_free(void **state)
{
	(void)state;
	b3cas_tree_free(NULL); /* a no-op */
}

void t_b3cas_tree_find(void **state)
{
	b3cas_tree t = {0};
	ptrdiff_t r = 0;

	(void)state;
	MSG_FOR("b3cas_tree_find", "tree", r = b3cas_tree_find(NULL, "a", 1));
	assert_int_equal(r, -1);
	MSG_FOR("b3cas_tree_find", "name", r = b3cas_tree_find(&t, NULL, 1));
	assert_int_equal(r, -1);
	assert_int_equal(b3cas_tree_find(&t, NULL, 0), -1); /* empty name */
}

void t_b3cas_tree_put_dir(void **state)
{
	b3cas_oid id;
	b3cas_tree_counts c;

	(void)state;
	poison(&id, sizeof(id));
	EINVAL_FOR("b3cas_tree_put_dir", "store",
		   b3cas_tree_put_dir(NULL, "/", &id, &c));
	EINVAL_FOR("b3cas_tree_put_dir", "path",
		   b3cas_tree_put_dir(st, NULL, &id, &c));
	assert_true(poisoned(&id, sizeof(id)));
	/* not a folder: refused, nothing kept */
	assert_int_equal(b3cas_tree_put_dir(st, "/dev/null", &id, NULL),
			 B3CAS_EINVAL);
	assert_true(poisoned(&id, sizeof(id)));
}

void t_b3cas_tree_put(void **state)
{
	b3cas_tree_put_options o = B3CAS_TREE_PUT_OPTIONS_INIT;
	b3cas_oid id;

	(void)state;
	poison(&id, sizeof(id));
	EINVAL_FOR("b3cas_tree_put", "store",
		   b3cas_tree_put(NULL, "/", &o, &id, NULL));
	EINVAL_FOR("b3cas_tree_put", "path",
		   b3cas_tree_put(st, NULL, &o, &id, NULL));
	o.version = 99;
	assert_int_equal(b3cas_tree_put(st, "/dev", &o, &id, NULL),
			 B3CAS_EINVAL);
	assert_non_null(strstr(b3cas_error_last(), "version 99"));
	o.version = B3CAS_TREE_PUT_OPTIONS_VERSION;
	assert_int_equal(b3cas_tree_put(st, "/dev/null", &o, &id, NULL),
			 B3CAS_EINVAL);
	assert_true(poisoned(&id, sizeof(id)));
}

void t_b3cas_tree_get_dir(void **state)
{
	b3cas_oid id;

	(void)state;
	memset(&id, 7, sizeof(id));
	EINVAL_FOR("b3cas_tree_get_dir", "store",
		   b3cas_tree_get_dir(NULL, &id, "/nonexistent/x", NULL));
	EINVAL_FOR("b3cas_tree_get_dir", "root",
		   b3cas_tree_get_dir(st, NULL, "/nonexistent/x", NULL));
	EINVAL_FOR("b3cas_tree_get_dir", "dest",
		   b3cas_tree_get_dir(st, &id, NULL, NULL));
}

void t_b3cas_tree_get(void **state)
{
	b3cas_tree_get_options o = B3CAS_TREE_GET_OPTIONS_INIT;
	b3cas_tree_counts c;
	char dir[64], dest[96];
	b3cas_oid id, empty;
	b3cas_store *s;

	(void)state;
	memset(&id, 7, sizeof(id));
	EINVAL_FOR("b3cas_tree_get", "store",
		   b3cas_tree_get(NULL, &id, "/nonexistent/x", &o, &c));
	EINVAL_FOR("b3cas_tree_get", "root",
		   b3cas_tree_get(st, NULL, "/nonexistent/x", &o, &c));
	EINVAL_FOR("b3cas_tree_get", "dest",
		   b3cas_tree_get(st, &id, NULL, &o, &c));
	VERSION_REFUSED("tree_get", o, B3CAS_TREE_GET_OPTIONS_VERSION,
			"B3CAS_TREE_GET_OPTIONS_INIT",
			b3cas_tree_get(st, &id, "/nonexistent/x", &o, &c));
	/* options and counts may be NULL: an empty tree, restored */
	s = open_new(dir, sizeof(dir), "tree-get");
	assert_int_equal(b3cas_store_put(s, &empty, empty_tree,
					 sizeof(empty_tree)), 0);
	snprintf(dest, sizeof(dest), "%s/out", dir);
	assert_int_equal(b3cas_tree_get(s, &empty, dest, NULL, NULL), 0);
	/* a root not stored: ENOTFOUND, counts zero, no thread left */
	snprintf(dest, sizeof(dest), "%s/out2", dir);
	poison(&c, sizeof(c));
	assert_int_equal(b3cas_tree_get(s, &id, dest, &o, &c),
			 B3CAS_ENOTFOUND);
	assert_int_equal(c.files + c.dirs + c.others + c.bytes, 0);
	assert_int_equal(b3cas_store_close(s), 0);
	remove_dir(dir);
}

void t_b3cas_tree_load(void **state)
{
	b3cas_tree *t = (b3cas_tree *)&t;
	b3cas_oid id;

	(void)state;
	memset(&id, 7, sizeof(id));
	EINVAL_FOR("b3cas_tree_load", "store", b3cas_tree_load(NULL, &id, &t));
	EINVAL_FOR("b3cas_tree_load", "id", b3cas_tree_load(st, NULL, &t));
	EINVAL_FOR("b3cas_tree_load", "out", b3cas_tree_load(st, &id, NULL));
	assert_ptr_equal(t, (b3cas_tree *)&t);
	assert_int_equal(b3cas_tree_load(st, &id, &t), B3CAS_ENOTFOUND);
	assert_null(t);
	/* an object that is not a tree */
	assert_int_equal(b3cas_tree_load(st, &id_small, &t), B3CAS_EFORMAT);
	assert_null(t);
}

static int no_diff(const char *path, int change, const b3cas_tree_entry *a,
		   const b3cas_tree_entry *b, void *ctx)
{
	(void)path, (void)change, (void)a, (void)b, (void)ctx;
	fail_msg("no difference expected");
	return 0;
}

void t_b3cas_tree_diff(void **state)
{
	b3cas_oid id;

	(void)state;
	memset(&id, 7, sizeof(id));
	EINVAL_FOR("b3cas_tree_diff", "store",
		   b3cas_tree_diff(NULL, &id, &id, no_diff, NULL));
	EINVAL_FOR("b3cas_tree_diff", "a",
		   b3cas_tree_diff(st, NULL, &id, no_diff, NULL));
	EINVAL_FOR("b3cas_tree_diff", "b",
		   b3cas_tree_diff(st, &id, NULL, no_diff, NULL));
	EINVAL_FOR("b3cas_tree_diff", "fn",
		   b3cas_tree_diff(st, &id, &id, NULL, NULL));
	/* equal ids: equal trees, nothing read */
	assert_int_equal(b3cas_tree_diff(st, &id, &id, no_diff, NULL), 0);
}

/* ---- b3cas/checkpoint.h ---- */

static int no_ckpt(const char *sandbox, int64_t t, const b3cas_oid *id,
		   void *ctx)
{
	(void)sandbox, (void)t, (void)id, (void)ctx;
	fail_msg("no checkpoint expected");
	return 0;
}

void t_b3cas_checkpoint_create(void **state)
{
	b3cas_checkpoint c = {0};
	b3cas_checkpoint_blob blob = {"m", {{0}}};
	b3cas_oid id;
	int64_t t = 5;

	(void)state;
	c.sandbox = "misuse";
	EINVAL_FOR("b3cas_checkpoint_create", "store",
		   b3cas_checkpoint_create(NULL, &c, &id, &t));
	EINVAL_FOR("b3cas_checkpoint_create", "c",
		   b3cas_checkpoint_create(st, NULL, &id, &t));
	c.sandbox = NULL;
	EINVAL_FOR("b3cas_checkpoint_create", "c->sandbox",
		   b3cas_checkpoint_create(st, &c, &id, &t));
	c.sandbox = "misuse";
	c.blob_count = 1;
	EINVAL_FOR("b3cas_checkpoint_create", "c->blobs",
		   b3cas_checkpoint_create(st, &c, &id, &t));
	assert_int_equal(t, 5);
	/* a blob that is not stored: nothing is created */
	c.blobs = &blob;
	assert_int_equal(b3cas_checkpoint_create(st, &c, &id, &t),
			 B3CAS_ENOTFOUND);
	c.sandbox = "a/b";
	c.blob_count = 0;
	assert_int_equal(b3cas_checkpoint_create(st, &c, &id, &t),
			 B3CAS_EINVAL);
	assert_int_equal(b3cas_checkpoint_list(st, NULL, no_ckpt, NULL), 0);
}

void t_b3cas_checkpoint_load(void **state)
{
	b3cas_checkpoint *c = (b3cas_checkpoint *)&c;

	(void)state;
	EINVAL_FOR("b3cas_checkpoint_load", "store",
		   b3cas_checkpoint_load(NULL, &id_small, &c));
	EINVAL_FOR("b3cas_checkpoint_load", "id",
		   b3cas_checkpoint_load(st, NULL, &c));
	EINVAL_FOR("b3cas_checkpoint_load", "out",
		   b3cas_checkpoint_load(st, &id_small, NULL));
	assert_ptr_equal(c, (b3cas_checkpoint *)&c);
	assert_int_equal(b3cas_checkpoint_load(st, &id_small, &c),
			 B3CAS_EFORMAT);
	assert_null(c);
}

void t_b3cas_checkpoint_free(void **state)
{
	(void)state;
	b3cas_checkpoint_free(NULL); /* a no-op */
}

void t_b3cas_checkpoint_list(void **state)
{
	(void)state;
	EINVAL_FOR("b3cas_checkpoint_list", "store",
		   b3cas_checkpoint_list(NULL, NULL, no_ckpt, NULL));
	EINVAL_FOR("b3cas_checkpoint_list", "fn",
		   b3cas_checkpoint_list(st, NULL, NULL, NULL));
	assert_int_equal(b3cas_checkpoint_list(st, "", no_ckpt, NULL),
			 B3CAS_EINVAL);
}

void t_b3cas_checkpoint_find(void **state)
{
	b3cas_oid id;

	(void)state;
	EINVAL_FOR("b3cas_checkpoint_find", "store",
		   b3cas_checkpoint_find(NULL, "s", 0, &id, NULL));
	EINVAL_FOR("b3cas_checkpoint_find", "sandbox",
		   b3cas_checkpoint_find(st, NULL, 0, &id, NULL));
	EINVAL_FOR("b3cas_checkpoint_find", "id_out",
		   b3cas_checkpoint_find(st, "s", 0, NULL, NULL));
	assert_int_equal(b3cas_checkpoint_find(st, "s", INT64_MAX, &id, NULL),
			 B3CAS_ENOTFOUND);
}

void t_b3cas_checkpoint_delete(void **state)
{
	(void)state;
	EINVAL_FOR("b3cas_checkpoint_delete", "store",
		   b3cas_checkpoint_delete(NULL, "s", 1));
	EINVAL_FOR("b3cas_checkpoint_delete", "sandbox",
		   b3cas_checkpoint_delete(st, NULL, 1));
	assert_int_equal(b3cas_checkpoint_delete(st, "s", 1), B3CAS_ENOTFOUND);
}

void t_b3cas_checkpoint_prune(void **state)
{
	b3cas_retention r = {0};
	uint64_t n = 9;

	(void)state;
	EINVAL_FOR("b3cas_checkpoint_prune", "store",
		   b3cas_checkpoint_prune(NULL, NULL, &r, true, NULL, NULL,
					  &n));
	EINVAL_FOR("b3cas_checkpoint_prune", "r",
		   b3cas_checkpoint_prune(st, NULL, NULL, true, NULL, NULL,
					  &n));
	/* no rule: refused, as it would delete everything */
	assert_int_equal(b3cas_checkpoint_prune(st, NULL, &r, false, NULL,
						NULL, &n),
			 B3CAS_EINVAL);
	assert_int_equal(n, 0);
}
