/*
 * test_api_misuse_git.c - the t_ tests of b3cas/git.h (see
 * test_api_misuse.c): every required pointer NULL in turn, and the
 * values each function refuses.
 */
#include "test_api_misuse_int.h"

#include "b3cas/git2.h"

static const char blob[] = "hello\n";

void t_b3cas_git_oid_len(void **state)
{
	(void)state;
	assert_int_equal(b3cas_git_oid_len(B3CAS_GIT_SHA1), 20);
	assert_int_equal(b3cas_git_oid_len(B3CAS_GIT_SHA256), 32);
	assert_int_equal(b3cas_git_oid_len((b3cas_git_algo)9), 0);
}

void t_b3cas_git_type_name(void **state)
{
	(void)state;
	assert_string_equal(b3cas_git_type_name(B3CAS_GIT_TAG), "tag");
	assert_null(b3cas_git_type_name((b3cas_git_type)0));
	assert_null(b3cas_git_type_name((b3cas_git_type)5));
}

void t_b3cas_git_type_parse(void **state)
{
	b3cas_git_type t = B3CAS_GIT_TAG;

	(void)state;
	EINVAL_FOR("b3cas_git_type_parse", "out",
		   b3cas_git_type_parse(NULL, "blob"));
	EINVAL_FOR("b3cas_git_type_parse", "name",
		   b3cas_git_type_parse(&t, NULL));
	assert_int_equal(b3cas_git_type_parse(&t, "Blob"), B3CAS_EINVAL);
	assert_int_equal(t, B3CAS_GIT_TAG);
}

void t_b3cas_git_oid_parse(void **state)
{
	b3cas_git_oid g;

	(void)state;
	EINVAL_FOR("b3cas_git_oid_parse", "out",
		   b3cas_git_oid_parse(NULL, "00"));
	EINVAL_FOR("b3cas_git_oid_parse", "hex",
		   b3cas_git_oid_parse(&g, NULL));
	poison(&g, sizeof(g));
	assert_int_equal(b3cas_git_oid_parse(&g, "abc"), B3CAS_EINVAL);
	assert_int_equal(b3cas_git_oid_parse(
				 &g, "ce013625030ba8dba906f756967f9e9ca394464g"),
			 B3CAS_EINVAL);
	assert_true(poisoned(&g, sizeof(g)));
}

void t_b3cas_git_oid_fmt(void **state)
{
	char hex[B3CAS_GIT_HEX_MAX + 1];
	b3cas_git_oid g = {B3CAS_GIT_SHA1, {0}};

	(void)state;
	MSG_FOR("b3cas_git_oid_fmt", "buf",
		assert_null(b3cas_git_oid_fmt(NULL, &g)));
	poison(hex, sizeof(hex));
	MSG_FOR("b3cas_git_oid_fmt", "id", assert_null(b3cas_git_oid_fmt(hex,
									 NULL)));
	assert_true(poisoned(hex, sizeof(hex)));
}

void t_b3cas_git_hash(void **state)
{
	b3cas_git_oid g;

	(void)state;
	EINVAL_FOR("b3cas_git_hash", "out",
		   b3cas_git_hash(NULL, B3CAS_GIT_SHA1, B3CAS_GIT_BLOB, blob,
				  6));
	EINVAL_FOR("b3cas_git_hash", "data",
		   b3cas_git_hash(&g, B3CAS_GIT_SHA1, B3CAS_GIT_BLOB, NULL,
				  6));
	assert_int_equal(b3cas_git_hash(&g, (b3cas_git_algo)3, B3CAS_GIT_BLOB,
					blob, 6),
			 B3CAS_EINVAL);
	assert_int_equal(b3cas_git_hash(&g, B3CAS_GIT_SHA1, (b3cas_git_type)7,
					blob, 6),
			 B3CAS_EINVAL);
	/* NULL data with 0 bytes: the empty blob */
	assert_int_equal(b3cas_git_hash(&g, B3CAS_GIT_SHA1, B3CAS_GIT_BLOB,
					NULL, 0),
			 0);
}

void t_b3cas_git_put(void **state)
{
	b3cas_lease *l;
	b3cas_git_object o;
	b3cas_oid missing = {{7}};

	(void)state;
	assert_int_equal(b3cas_lease_open(st, &l), 0);
	EINVAL_FOR("b3cas_git_put", "lease",
		   b3cas_git_put(NULL, B3CAS_GIT_SHA1, B3CAS_GIT_BLOB, blob, 6,
				 NULL, 0, &o));
	EINVAL_FOR("b3cas_git_put", "data",
		   b3cas_git_put(l, B3CAS_GIT_SHA1, B3CAS_GIT_BLOB, NULL, 6,
				 NULL, 0, &o));
	EINVAL_FOR("b3cas_git_put", "links",
		   b3cas_git_put(l, B3CAS_GIT_SHA1, B3CAS_GIT_TREE, blob, 6,
				 NULL, 1, &o));
	assert_int_equal(b3cas_git_put(l, (b3cas_git_algo)0, B3CAS_GIT_BLOB,
				       blob, 6, NULL, 0, &o),
			 B3CAS_EINVAL);
	/* a link that is not stored: nothing is stored */
	assert_int_equal(b3cas_git_put(l, B3CAS_GIT_SHA1, B3CAS_GIT_TREE, blob,
				       5, &missing, 1, &o),
			 B3CAS_ENOTFOUND);
	/* out may be NULL */
	assert_true(b3cas_git_put(l, B3CAS_GIT_SHA1, B3CAS_GIT_BLOB, blob, 6,
				  NULL, 0, NULL) >= 0);
	assert_int_equal(b3cas_lease_close(l), 0);
}

void t_b3cas_git_writer_open(void **state)
{
	b3cas_git_writer *w = (b3cas_git_writer *)&w;
	b3cas_lease *l;

	(void)state;
	assert_int_equal(b3cas_lease_open(st, &l), 0);
	EINVAL_FOR("b3cas_git_writer_open", "out",
		   b3cas_git_writer_open(NULL, l, B3CAS_GIT_SHA1,
					 B3CAS_GIT_BLOB, 1));
	EINVAL_FOR("b3cas_git_writer_open", "lease",
		   b3cas_git_writer_open(&w, NULL, B3CAS_GIT_SHA1,
					 B3CAS_GIT_BLOB, 1));
	assert_null(w); /* *out is cleared on an error */
	assert_int_equal(b3cas_git_writer_open(&w, l, (b3cas_git_algo)9,
					       B3CAS_GIT_BLOB, 1),
			 B3CAS_EINVAL);
	assert_int_equal(b3cas_git_writer_open(&w, l, B3CAS_GIT_SHA1,
					       (b3cas_git_type)0, 1),
			 B3CAS_EINVAL);
	assert_null(w);
	assert_int_equal(b3cas_lease_close(l), 0);
}

void t_b3cas_git_writer_write(void **state)
{
	b3cas_git_writer *w;
	b3cas_lease *l;

	(void)state;
	assert_int_equal(b3cas_lease_open(st, &l), 0);
	assert_int_equal(b3cas_git_writer_open(&w, l, B3CAS_GIT_SHA1,
					       B3CAS_GIT_BLOB, 6),
			 0);
	EINVAL_FOR("b3cas_git_writer_write", "w",
		   b3cas_git_writer_write(NULL, blob, 6));
	EINVAL_FOR("b3cas_git_writer_write", "data",
		   b3cas_git_writer_write(w, NULL, 6));
	/* NULL with 0 bytes is nothing */
	assert_int_equal(b3cas_git_writer_write(w, NULL, 0), 0);
	assert_int_equal(b3cas_git_writer_write(w, blob, 6), 0);
	assert_true(b3cas_git_writer_commit(w, NULL) >= 0);
	assert_int_equal(b3cas_lease_close(l), 0);
}

void t_b3cas_git_writer_commit(void **state)
{
	b3cas_git_object o;

	(void)state;
	EINVAL_FOR("b3cas_git_writer_commit", "w",
		   b3cas_git_writer_commit(NULL, &o));
}

void t_b3cas_git_writer_abort(void **state)
{
	b3cas_git_writer *w;
	b3cas_lease *l;

	(void)state;
	b3cas_git_writer_abort(NULL); /* nothing */
	assert_int_equal(b3cas_lease_open(st, &l), 0);
	assert_int_equal(b3cas_git_writer_open(&w, l, B3CAS_GIT_SHA1,
					       B3CAS_GIT_BLOB, 100),
			 0);
	assert_int_equal(b3cas_git_writer_write(w, blob, 6), 0);
	b3cas_git_writer_abort(w);
	assert_int_equal(b3cas_lease_close(l), 0);
}

void t_b3cas_git_lookup(void **state)
{
	b3cas_git_oid g = {B3CAS_GIT_SHA1, {1}};
	b3cas_git_object o;

	(void)state;
	EINVAL_FOR("b3cas_git_lookup", "store", b3cas_git_lookup(NULL, &g, &o));
	EINVAL_FOR("b3cas_git_lookup", "git", b3cas_git_lookup(st, NULL, &o));
	EINVAL_FOR("b3cas_git_lookup", "out", b3cas_git_lookup(st, &g, NULL));
	g.algo = (b3cas_git_algo)5;
	assert_int_equal(b3cas_git_lookup(st, &g, &o), B3CAS_EINVAL);
}

void t_b3cas_git_lookup_prefix(void **state)
{
	b3cas_git_object o;

	(void)state;
	EINVAL_FOR("b3cas_git_lookup_prefix", "store",
		   b3cas_git_lookup_prefix(NULL, B3CAS_GIT_SHA1, "abcd", &o));
	EINVAL_FOR("b3cas_git_lookup_prefix", "hex",
		   b3cas_git_lookup_prefix(st, B3CAS_GIT_SHA1, NULL, &o));
	EINVAL_FOR("b3cas_git_lookup_prefix", "out",
		   b3cas_git_lookup_prefix(st, B3CAS_GIT_SHA1, "abcd", NULL));
	assert_int_equal(b3cas_git_lookup_prefix(st, B3CAS_GIT_SHA1, "abc",
						 &o),
			 B3CAS_EINVAL);
	assert_int_equal(b3cas_git_lookup_prefix(st, B3CAS_GIT_SHA1, "abcx",
						 &o),
			 B3CAS_EINVAL);
	assert_int_equal(
		b3cas_git_lookup_prefix(
			st, B3CAS_GIT_SHA1,
			"0123456789012345678901234567890123456789a", &o),
		B3CAS_EINVAL);
}

void t_b3cas_git_mapping(void **state)
{
	b3cas_git_oid g = {B3CAS_GIT_SHA1, {0}};
	b3cas_git_object o;

	(void)state;
	EINVAL_FOR("b3cas_git_mapping", "store",
		   b3cas_git_mapping(NULL, &g, &o));
	EINVAL_FOR("b3cas_git_mapping", "git", b3cas_git_mapping(st, NULL, &o));
	EINVAL_FOR("b3cas_git_mapping", "out", b3cas_git_mapping(st, &g, NULL));
	g.algo = (b3cas_git_algo)7;
	assert_int_equal(b3cas_git_mapping(st, &g, &o), B3CAS_EINVAL);
}

void t_b3cas_git_reverse(void **state)
{
	b3cas_git_object o;

	(void)state;
	EINVAL_FOR("b3cas_git_reverse", "store",
		   b3cas_git_reverse(NULL, &id_small, B3CAS_GIT_SHA1, 0, &o));
	EINVAL_FOR("b3cas_git_reverse", "id",
		   b3cas_git_reverse(st, NULL, B3CAS_GIT_SHA1, 0, &o));
	EINVAL_FOR("b3cas_git_reverse", "out",
		   b3cas_git_reverse(st, &id_small, B3CAS_GIT_SHA1, 0, NULL));
	assert_int_equal(b3cas_git_reverse(st, &id_small, (b3cas_git_algo)0, 0,
					   &o),
			 B3CAS_EINVAL);
}

static int no_git(const b3cas_git_object *obj, void *ctx)
{
	(void)obj, (void)ctx;
	return 0;
}

void t_b3cas_git_foreach(void **state)
{
	(void)state;
	EINVAL_FOR("b3cas_git_foreach", "store",
		   b3cas_git_foreach(NULL, 0, no_git, NULL));
	EINVAL_FOR("b3cas_git_foreach", "fn",
		   b3cas_git_foreach(st, 0, NULL, NULL));
	assert_int_equal(b3cas_git_foreach(st, (b3cas_git_algo)3, no_git,
					   NULL),
			 B3CAS_EINVAL);
}

static int no_named(const b3cas_git_oid *git, void *ctx)
{
	(void)git, (void)ctx;
	return 0;
}

void t_b3cas_git_each_named(void **state)
{
	(void)state;
	EINVAL_FOR("b3cas_git_each_named", "fn",
		   b3cas_git_each_named(B3CAS_GIT_SHA1, B3CAS_GIT_TREE, "", 0,
					NULL, NULL));
	assert_int_equal(b3cas_git_each_named(B3CAS_GIT_SHA1, B3CAS_GIT_TREE,
					      NULL, 3, no_named, NULL),
			 B3CAS_EINVAL);
	assert_int_equal(b3cas_git_each_named((b3cas_git_algo)0,
					      B3CAS_GIT_TREE, "", 0, no_named,
					      NULL),
			 B3CAS_EINVAL);
	assert_int_equal(b3cas_git_each_named(B3CAS_GIT_SHA1,
					      (b3cas_git_type)5, "", 0,
					      no_named, NULL),
			 B3CAS_EINVAL);
}

void t_b3cas_git_links(void **state)
{
	b3cas_oid *links = (b3cas_oid *)1;
	size_t n = 9;

	(void)state;
	EINVAL_FOR("b3cas_git_links", "store",
		   b3cas_git_links(NULL, B3CAS_GIT_SHA1, B3CAS_GIT_TREE, "", 0,
				   &links, &n));
	EINVAL_FOR("b3cas_git_links", "out",
		   b3cas_git_links(st, B3CAS_GIT_SHA1, B3CAS_GIT_TREE, "", 0,
				   NULL, &n));
	EINVAL_FOR("b3cas_git_links", "n",
		   b3cas_git_links(st, B3CAS_GIT_SHA1, B3CAS_GIT_TREE, "", 0,
				   &links, NULL));
	assert_int_equal(b3cas_git_links(st, (b3cas_git_algo)9,
					 B3CAS_GIT_TREE, "", 0, &links, &n),
			 B3CAS_EINVAL);
	assert_null(links);
	assert_int_equal(n, 0);
}

void t_b3cas_git_linked(void **state)
{
	b3cas_git_oid g = {B3CAS_GIT_SHA1, {0}};

	(void)state;
	EINVAL_FOR("b3cas_git_linked", "store", b3cas_git_linked(NULL, &g));
	EINVAL_FOR("b3cas_git_linked", "git", b3cas_git_linked(st, NULL));
	g.algo = (b3cas_git_algo)9;
	assert_int_equal(b3cas_git_linked(st, &g), B3CAS_EINVAL);
	/* not mapped: 0, no error */
	g.algo = B3CAS_GIT_SHA1;
	assert_int_equal(b3cas_git_linked(st, &g), 0);
}

void t_b3cas_git_link(void **state)
{
	b3cas_git_oid g = {B3CAS_GIT_SHA1, {0}};
	b3cas_lease *l;
	uint64_t links = 0;

	(void)state;
	assert_int_equal(b3cas_lease_open(st, &l), 0);
	EINVAL_FOR("b3cas_git_link", "lease", b3cas_git_link(NULL, &g, NULL));
	EINVAL_FOR("b3cas_git_link", "git", b3cas_git_link(l, NULL, NULL));
	g.algo = (b3cas_git_algo)9;
	assert_int_equal(b3cas_git_link(l, &g, &links), B3CAS_EINVAL);
	/* not stored: nothing to link */
	g.algo = B3CAS_GIT_SHA1;
	assert_int_equal(b3cas_git_link(l, &g, &links), 0);
	assert_int_equal(links, 0);
	assert_int_equal(b3cas_lease_close(l), 0);
}

/* ---- git2.h ---------------------------------------------------------- */

void t_b3cas_git_odb_backend_new(void **state)
{
	git_odb_backend *be = NULL;

	(void)state;
	EINVAL_FOR("b3cas_git_odb_backend_new", "out",
		   b3cas_git_odb_backend_new(NULL, st));
	EINVAL_FOR("b3cas_git_odb_backend_new", "store",
		   b3cas_git_odb_backend_new(&be, NULL));
	assert_null(be);
	assert_int_equal(b3cas_git_odb_backend_new(&be, st), 0);
	assert_non_null(be);
	be->free(be);
}

void t_b3cas_git_odb_backend_leased(void **state)
{
	git_odb_backend *be = NULL;
	b3cas_lease *l;

	(void)state;
	assert_int_equal(b3cas_lease_open(st, &l), 0);
	EINVAL_FOR("b3cas_git_odb_backend_leased", "out",
		   b3cas_git_odb_backend_leased(NULL, l));
	EINVAL_FOR("b3cas_git_odb_backend_leased", "lease",
		   b3cas_git_odb_backend_leased(&be, NULL));
	assert_null(be);
	assert_int_equal(b3cas_git_odb_backend_leased(&be, l), 0);
	assert_non_null(be);
	be->free(be);
	assert_int_equal(b3cas_lease_close(l), 0);
}
