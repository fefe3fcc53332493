/*
 * test_api_misuse.c - misuse of the public API is an error, not a crash.
 *
 * One test per public function in the headers of include/b3cas/, named t_<function>.
 * Each calls its function with every required pointer NULL in turn (the
 * others valid) and expects the rule of include/b3cas/common.h:
 * B3CAS_EINVAL, or the function's documented value when it returns
 * something else, with the message "<function>: <argument> is NULL";
 * outputs are left as they were. Where a pointer is optional (the header
 * says "may be NULL"), the call is made with NULL too and must work as
 * before. The t_ tests live by header: test_api_misuse_hash.c (common.h
 * and hash.h), test_api_misuse_store.c, test_api_misuse_cache.c and
 * test_api_misuse_integrity.c, test_api_misuse_tree.c and
 * test_api_misuse_git.c.
 *
 * This file holds the shared store, the refusal checks, main() and the
 * list of tests, and the two checks of the headers themselves:
 * test_every_function_covered reads the headers at run time and fails if
 * a public function has no t_ test in the list, so a new function cannot
 * be added without its misuse cases. test_every_function_documents_errors
 * reads them too and fails if a public function's comment names no
 * B3CAS_E... code and does not say "never fails" (the convention of
 * common.h).
 *
 * Every options struct is refused, with B3CAS_EINVAL and a message naming
 * it and its _INIT, at version 0 and at one past the newest
 * (VERSION_REFUSED).
 *
 * Lifetimes (test_api_misuse_lifetimes.c): closing a store with a writer
 * or reader open is refused with B3CAS_EBUSY and the store stays usable;
 * views outlive their store.
 *
 * Only the public headers are used, so the test builds against any
 * version of the library (to show that the old one crashes).
 */
#include "test_api_misuse_int.h"

#ifndef B3CAS_INCLUDE_DIR
#error "B3CAS_INCLUDE_DIR must name include/b3cas"
#endif

/* The shared store, with one inline and one loose object. */
char root[64];
b3cas_store *st;
b3cas_oid id_small, id_big;
const char small[] = "hello, misuse";
uint8_t big[3000];
const uint8_t key[B3CAS_KEY_LEN] = {1, 2, 3};

/*
 * The last call failed as a misuse of argument arg of function fn: the
 * message says exactly that.
 */
void expect_msg(const char *fn, const char *arg)
{
	const char *msg = b3cas_error_last();
	char want[160];

	assert_non_null(msg);
	snprintf(want, sizeof(want), "%s: %s is NULL", fn, arg);
	if (strncmp(msg, want, strlen(want)) != 0)
		fail_msg("message '%s' does not start with '%s'", msg, want);
}

/*
 * The last call was refused for an options version this library does not
 * know: B3CAS_EINVAL (rc) and a message naming the struct, the version
 * and the _INIT to start from.
 */
void expect_version_refused(int64_t rc, const char *what,
			    unsigned got, const char *init)
{
	const char *msg = b3cas_error_last();
	char want[96];

	assert_int_equal(rc, B3CAS_EINVAL);
	snprintf(want, sizeof(want), "%s options version %u is not", what,
		 got);
	if (strncmp(msg, want, strlen(want)) != 0 || !strstr(msg, init))
		fail_msg("message '%s' does not start with '%s' or does not "
			 "name %s", msg, want, init);
}

void make_dir(char *out, size_t len, const char *tag)
{
	snprintf(out, len, "/tmp/b3cas-misuse-%s-XXXXXX", tag);
	assert_non_null(mkdtemp(out));
}

void remove_dir(const char *dir)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

b3cas_store *open_new(char *dir, size_t len, const char *tag)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *s = NULL;

	make_dir(dir, len, tag);
	o.create = true;
	o.inline_threshold = 1024;
	assert_int_equal(b3cas_store_open(&s, dir, &o), 0);
	return s;
}

static int group_setup(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 1);
	st = open_new(root, sizeof(root), "shared");
	if (b3cas_store_put(st, &id_small, small, sizeof(small)) != 0 ||
	    b3cas_store_put(st, &id_big, big, sizeof(big)) != 0)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (b3cas_store_close(st) != 0)
		return -1;
	remove_dir(root);
	return 0;
}

/* A hasher filled with a pattern, to see that a refused call left it. */
void poison(void *p, size_t len)
{
	memset(p, 0xA5, len);
}

bool poisoned(const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i] != 0xA5)
			return false;
	return true;
}

/* ---- every public function has its test --------------------------------- */

static void test_every_function_covered(void **state);
static void test_every_function_documents_errors(void **state);

#define T(fn) cmocka_unit_test(t_##fn)
static const struct CMUnitTest misuse_tests[] = {
	T(b3cas_error_last), T(b3cas_error_clear), T(b3cas_error_set), T(b3cas_strerror),
	T(b3cas_version),

	T(b3cas_hasher_init), T(b3cas_hasher_init_keyed),
	T(b3cas_hasher_init_derive_key), T(b3cas_hasher_init_derive_key_raw),
	T(b3cas_hasher_update), T(b3cas_hasher_finalize),
	T(b3cas_hasher_finalize_seek), T(b3cas_hasher_reset), T(b3cas_hash),
	T(b3cas_hash_keyed), T(b3cas_derive_key), T(b3cas_hash_batch),
	T(b3cas_hash_batch_keyed), T(b3cas_pool_new), T(b3cas_pool_free),
	T(b3cas_pool_threads), T(b3cas_hasher_update_parallel),
	T(b3cas_hash_parallel), T(b3cas_simd_detected), T(b3cas_simd_active),
	T(b3cas_simd_name), T(b3cas_simd_level_name), T(b3cas_simd_parse),
	T(b3cas_simd_force),

	T(b3cas_oid_fmt), T(b3cas_oid_parse), T(b3cas_oid_equal),
	T(b3cas_store_open), T(b3cas_store_close), T(b3cas_store_sync),
	T(b3cas_store_interrupt),
	T(b3cas_store_info_get), T(b3cas_hash_algo_name), T(b3cas_store_put),
	T(b3cas_store_put_linked), T(b3cas_name_set), T(b3cas_name_get),
	T(b3cas_name_delete), T(b3cas_name_foreach), T(b3cas_name_put_linked),
	T(b3cas_lease_open), T(b3cas_lease_put), T(b3cas_lease_put_linked),
	T(b3cas_lease_commit), T(b3cas_lease_ref), T(b3cas_lease_drop),
	T(b3cas_lease_count), T(b3cas_lease_store), T(b3cas_lease_close),
	T(b3cas_store_get), T(b3cas_free), T(b3cas_store_exists),
	T(b3cas_store_delete), T(b3cas_ref_add), T(b3cas_ref_remove),
	T(b3cas_refcount), T(b3cas_gc), T(b3cas_store_compact), T(b3cas_dedup_check),
	T(b3cas_store_stats), T(b3cas_store_stat), T(b3cas_store_foreach),
	T(b3cas_store_put_batch), T(b3cas_store_get_batch),
	T(b3cas_store_exists_batch),
	T(b3cas_writer_open), T(b3cas_writer_write), T(b3cas_writer_commit),
	T(b3cas_writer_set_base),
	T(b3cas_writer_abort), T(b3cas_reader_open),
	T(b3cas_reader_open_flags), T(b3cas_reader_size),
	T(b3cas_reader_read), T(b3cas_reader_close), T(b3cas_store_read_at),

	T(b3cas_store_get_view), T(b3cas_blob_data), T(b3cas_blob_size),
	T(b3cas_blob_retain), T(b3cas_blob_release), T(b3cas_cache_lookup),
	T(b3cas_cache_load), T(b3cas_cache_evict), T(b3cas_cache_resize),
	T(b3cas_cache_stats_get),

	T(b3cas_fsck_kind_name), T(b3cas_fsck), T(b3cas_scrub),
	T(b3cas_backup), T(b3cas_restore),
	T(b3cas_recover_action_name), T(b3cas_recover),

	T(b3cas_tree_encode), T(b3cas_tree_parse), T(b3cas_tree_free),
	T(b3cas_tree_find), T(b3cas_tree_put_dir), T(b3cas_tree_put),
	T(b3cas_tree_get), T(b3cas_tree_get_dir),
	T(b3cas_tree_load), T(b3cas_tree_diff), T(b3cas_checkpoint_create),
	T(b3cas_checkpoint_load), T(b3cas_checkpoint_free),
	T(b3cas_checkpoint_list), T(b3cas_checkpoint_find),
	T(b3cas_checkpoint_delete), T(b3cas_checkpoint_prune),
	T(b3cas_git_oid_len), T(b3cas_git_type_name), T(b3cas_git_type_parse),
	T(b3cas_git_oid_parse), T(b3cas_git_oid_fmt), T(b3cas_git_hash),
	T(b3cas_git_put), T(b3cas_git_writer_open),
	T(b3cas_git_writer_write), T(b3cas_git_writer_commit),
	T(b3cas_git_writer_abort), T(b3cas_git_lookup), T(b3cas_git_lookup_prefix),
	T(b3cas_git_mapping), T(b3cas_git_reverse), T(b3cas_git_foreach),
	T(b3cas_git_each_named), T(b3cas_git_links), T(b3cas_git_linked),
	T(b3cas_git_link),
	T(b3cas_git_odb_backend_new), T(b3cas_git_odb_backend_leased),

	cmocka_unit_test(test_every_function_covered),
	cmocka_unit_test(test_every_function_documents_errors),
};
#undef T

#define N_MISUSE (sizeof(misuse_tests) / sizeof(misuse_tests[0]))

static bool has_test(const char *fn)
{
	for (size_t i = 0; i < N_MISUSE; i++)
		if (strncmp(misuse_tests[i].name, "t_", 2) == 0 &&
		    strcmp(misuse_tests[i].name + 2, fn) == 0)
			return true;
	return false;
}

/* What a header walk looks at: the header's text, where a declaration
 * starts (its line) and the function's name. */
typedef void (*decl_visit)(const char *path, const char *text,
			   const char *line, const char *name, int *bad);

/*
 * The names declared with B3CAS_EXTERN in one header: for each use that
 * is not the macro's own #define, the identifier just before the first
 * '(' of the declaration, passed to visit. Adds to *found.
 */
static void scan_header(const char *path, decl_visit visit, int *found,
			int *bad)
{
	char *text = tu_read_file(path, NULL);
	const char *p = text;

	while ((p = strstr(p, "B3CAS_EXTERN")) != NULL) {
		const char *line = p, *paren, *end;
		char name[128];

		while (line > text && line[-1] != '\n')
			line--;
		p += strlen("B3CAS_EXTERN");
		if (line[0] == '#')
			continue; /* the macro itself */
		paren = strchr(p, '(');
		assert_non_null(paren);
		end = paren;
		while (end > p && (end[-1] == ' ' || end[-1] == '\t' ||
				   end[-1] == '\n'))
			end--;
		const char *start = end;
		while (start > p && (start[-1] == '_' ||
				     (start[-1] >= 'a' && start[-1] <= 'z') ||
				     (start[-1] >= '0' && start[-1] <= '9')))
			start--;
		assert_true(end > start && (size_t)(end - start) < sizeof(name));
		memcpy(name, start, (size_t)(end - start));
		name[end - start] = '\0';
		++*found;
		visit(path, text, line, name, bad);
	}
	free(text);
}

/* Every header of include/b3cas/ through scan_header; returns the number
 * of declarations, *bad those visit found wanting. */
static int scan_headers(decl_visit visit, int *bad)
{
	DIR *d = opendir(B3CAS_INCLUDE_DIR);
	struct dirent *e;
	int found = 0, headers = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		char path[512];

		if (n < 3 || strcmp(e->d_name + n - 2, ".h") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", B3CAS_INCLUDE_DIR,
			 e->d_name);
		scan_header(path, visit, &found, bad);
		headers++;
	}
	closedir(d);
	assert_true(headers >= 6);
	return found;
}

static void visit_covered(const char *path, const char *text,
			  const char *line, const char *name, int *missing)
{
	(void)text;
	(void)line;
	if (has_test(name))
		return;
	print_error("%s: public function %s has no t_%s test in "
		    "test_api_misuse.c\n", path, name, name);
	++*missing;
}

static void test_every_function_covered(void **state)
{
	int missing = 0, found;

	(void)state;
	found = scan_headers(visit_covered, &missing);
	assert_int_equal(missing, 0);
	/* every t_ test is a public function, so this is the exact count
	 * (the two header tests aside) */
	assert_int_equal((size_t)found, N_MISUSE - 2);
}

/*
 * The comment that documents the declaration at line: the last one
 * before it, with nothing between but other declarations (functions
 * declared together share one comment). NULL if there is none. *len is
 * its length.
 */
static const char *doc_comment(const char *text, const char *line,
			       size_t *len)
{
	const char *end = NULL, *start;

	for (const char *q = line; q > text + 1; q--)
		if (q[-2] == '*' && q[-1] == '/') {
			end = q;
			break;
		}
	if (!end)
		return NULL;
	for (const char *q = end; q < line; q++)
		if (*q == '{' || *q == '}' || *q == '#' ||
		    strncmp(q, "typedef", 7) == 0)
			return NULL; /* a type or macro lies between */
	for (start = end - 2; start > text; start--)
		if (start[0] == '/' && start[1] == '*')
			break;
	*len = (size_t)(end - start);
	return start;
}

/* Does s[0..len) start with words (any case), where a space in words
 * matches a line break of the comment (" *" and blanks) too? */
static bool starts_with(const char *s, const char *end, const char *words)
{
	for (; *words; words++) {
		if (*words == ' ') {
			const char *from = s;

			while (s < end && strchr(" \t\n*", *s))
				s++;
			if (s == from)
				return false;
		} else if (s == end || tolower((unsigned char)*s++) !=
					       tolower((unsigned char)*words)) {
			return false;
		}
	}
	return true;
}

static bool mentions(const char *s, size_t len, const char *words)
{
	for (size_t i = 0; i < len; i++)
		if (starts_with(s + i, s + len, words))
			return true;
	return false;
}

/* The convention of include/b3cas/common.h ("Documentation"): a comment
 * names the B3CAS_E... codes, or says the function never fails. */
static void visit_documented(const char *path, const char *text,
			     const char *line, const char *name, int *bad)
{
	size_t len = 0;
	const char *doc = doc_comment(text, line, &len);

	if (doc && (mentions(doc, len, "B3CAS_E") ||
		    mentions(doc, len, "never fails")))
		return;
	print_error("%s: %s's comment %s\n", path, name,
		    doc ? "names no B3CAS_E... error and does not say "
			  "\"never fails\""
			: "is missing");
	++*bad;
}

static void test_every_function_documents_errors(void **state)
{
	int bad = 0;

	(void)state;
	assert_true(scan_headers(visit_documented, &bad) > 0);
	assert_int_equal(bad, 0);
}

int main(void)
{
	const struct CMUnitTest lifetime_tests[] = {
		cmocka_unit_test(test_close_with_open_writer),
		cmocka_unit_test(test_close_with_open_reader),
		cmocka_unit_test(test_close_counts_every_stream),
		cmocka_unit_test(test_close_after_internal_streams),
		cmocka_unit_test(test_view_outlives_store),
	};
	int failed;

	failed = _cmocka_run_group_tests("misuse", misuse_tests, N_MISUSE,
					 group_setup, group_teardown);
	failed += cmocka_run_group_tests_name("lifetimes", lifetime_tests,
					      NULL, NULL);
	return failed ? 1 : 0;
}
