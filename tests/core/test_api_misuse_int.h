/*
 * test_api_misuse_int.h - what the files of the test_api_misuse program
 * share: the shared store and its two objects (made by group_setup), the
 * checks of a refusal's code and message (EINVAL_FOR, MSG_FOR,
 * VERSION_REFUSED), temporary stores, and the t_<function> and lifetime
 * tests that test_api_misuse.c lists for cmocka. Only the public headers
 * are used. Private to tests/core/test_api_misuse*.c.
 */
#ifndef B3CAS_TEST_API_MISUSE_INT_H
#define B3CAS_TEST_API_MISUSE_INT_H

#include <ctype.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "test_util.h"

/* call must return B3CAS_EINVAL for a NULL arg of fn. */
#define EINVAL_FOR(fn, arg, call)                                         \
	do {                                                              \
		b3cas_error_clear();                                      \
		assert_int_equal((int64_t)(call), B3CAS_EINVAL);          \
		expect_msg(fn, arg);                                      \
	} while (0)

/* A void function (or one returning a value) given a NULL arg of fn:
 * the message is set; the caller checks what it returned or wrote. */
#define MSG_FOR(fn, arg, stmt)                                            \
	do {                                                              \
		b3cas_error_clear();                                      \
		stmt;                                                     \
		expect_msg(fn, arg);                                      \
	} while (0)

/* call, made with opts.version 0 and then latest + 1, is refused; opts
 * keeps its version latest afterwards. */
#define VERSION_REFUSED(what, opts, latest, init, call)                   \
	do {                                                              \
		(opts).version = 0;                                       \
		expect_version_refused((call), what, 0, init);            \
		(opts).version = (latest) + 1;                            \
		expect_version_refused((call), what, (latest) + 1, init); \
		(opts).version = (latest);                                \
	} while (0)

/* The shared store, with one inline and one loose object (group_setup). */
extern char root[64];
extern b3cas_store *st;
extern b3cas_oid id_small, id_big;
extern const char small[14]; /* "hello, misuse" */
extern uint8_t big[3000];
extern const uint8_t key[B3CAS_KEY_LEN];

void expect_msg(const char *fn, const char *arg);
void expect_version_refused(int64_t rc, const char *what,
			    unsigned got, const char *init);
void make_dir(char *out, size_t len, const char *tag);
void remove_dir(const char *dir);
b3cas_store *open_new(char *dir, size_t len, const char *tag);
void poison(void *p, size_t len);
bool poisoned(const void *p, size_t len);
void t_b3cas_error_last(void **state);
void t_b3cas_error_clear(void **state);
void t_b3cas_error_set(void **state);
void t_b3cas_strerror(void **state);
void t_b3cas_version(void **state);
void t_b3cas_hasher_init(void **state);
void t_b3cas_hasher_init_keyed(void **state);
void t_b3cas_hasher_init_derive_key(void **state);
void t_b3cas_hasher_init_derive_key_raw(void **state);
void t_b3cas_hasher_update(void **state);
void t_b3cas_hasher_finalize(void **state);
void t_b3cas_hasher_finalize_seek(void **state);
void t_b3cas_hasher_reset(void **state);
void t_b3cas_hash(void **state);
void t_b3cas_hash_keyed(void **state);
void t_b3cas_derive_key(void **state);
void t_b3cas_hash_batch(void **state);
void t_b3cas_hash_batch_keyed(void **state);
void t_b3cas_pool_new(void **state);
void t_b3cas_pool_free(void **state);
void t_b3cas_pool_threads(void **state);
void t_b3cas_hasher_update_parallel(void **state);
void t_b3cas_hash_parallel(void **state);
void t_b3cas_simd_detected(void **state);
void t_b3cas_simd_active(void **state);
void t_b3cas_simd_name(void **state);
void t_b3cas_simd_level_name(void **state);
void t_b3cas_simd_parse(void **state);
void t_b3cas_simd_force(void **state);
void t_b3cas_oid_fmt(void **state);
void t_b3cas_oid_parse(void **state);
void t_b3cas_oid_equal(void **state);
void t_b3cas_store_open(void **state);
void t_b3cas_store_close(void **state);
void t_b3cas_store_sync(void **state);
void t_b3cas_store_interrupt(void **state);
void t_b3cas_store_info_get(void **state);
void t_b3cas_hash_algo_name(void **state);
void t_b3cas_store_put(void **state);
void t_b3cas_store_put_linked(void **state);
void t_b3cas_name_set(void **state);
void t_b3cas_name_get(void **state);
void t_b3cas_name_delete(void **state);
void t_b3cas_name_foreach(void **state);
void t_b3cas_name_put_linked(void **state);
void t_b3cas_lease_open(void **state);
void t_b3cas_lease_put(void **state);
void t_b3cas_lease_put_linked(void **state);
void t_b3cas_lease_commit(void **state);
void t_b3cas_lease_ref(void **state);
void t_b3cas_lease_drop(void **state);
void t_b3cas_lease_count(void **state);
void t_b3cas_lease_store(void **state);
void t_b3cas_lease_close(void **state);
void t_b3cas_store_get(void **state);
void t_b3cas_free(void **state);
void t_b3cas_store_exists(void **state);
void t_b3cas_store_delete(void **state);
void t_b3cas_ref_add(void **state);
void t_b3cas_ref_remove(void **state);
void t_b3cas_refcount(void **state);
void t_b3cas_gc(void **state);
void t_b3cas_store_compact(void **state);
void t_b3cas_dedup_check(void **state);
void t_b3cas_store_stats(void **state);
void t_b3cas_store_stat(void **state);
void t_b3cas_store_foreach(void **state);
void t_b3cas_store_put_batch(void **state);
void t_b3cas_store_get_batch(void **state);
void t_b3cas_store_exists_batch(void **state);
void t_b3cas_writer_open(void **state);
void t_b3cas_writer_write(void **state);
void t_b3cas_writer_commit(void **state);
void t_b3cas_writer_set_base(void **state);
void t_b3cas_writer_abort(void **state);
void t_b3cas_reader_open(void **state);
void t_b3cas_reader_open_flags(void **state);
void t_b3cas_reader_size(void **state);
void t_b3cas_reader_read(void **state);
void t_b3cas_store_read_at(void **state);
void t_b3cas_reader_close(void **state);
void t_b3cas_store_get_view(void **state);
void t_b3cas_blob_data(void **state);
void t_b3cas_blob_size(void **state);
void t_b3cas_blob_retain(void **state);
void t_b3cas_blob_release(void **state);
void t_b3cas_cache_lookup(void **state);
void t_b3cas_cache_load(void **state);
void t_b3cas_cache_evict(void **state);
void t_b3cas_cache_resize(void **state);
void t_b3cas_cache_stats_get(void **state);
void t_b3cas_fsck_kind_name(void **state);
void t_b3cas_fsck(void **state);
void t_b3cas_scrub(void **state);
void t_b3cas_backup(void **state);
void t_b3cas_restore(void **state);
void t_b3cas_recover_action_name(void **state);
void t_b3cas_recover(void **state);
void t_b3cas_tree_encode(void **state);
void t_b3cas_tree_parse(void **state);
void t_b3cas_tree_free(void **state);
void t_b3cas_tree_find(void **state);
void t_b3cas_tree_put_dir(void **state);
void t_b3cas_tree_put(void **state);
void t_b3cas_tree_get(void **state);
void t_b3cas_tree_get_dir(void **state);
void t_b3cas_tree_load(void **state);
void t_b3cas_tree_diff(void **state);
void t_b3cas_checkpoint_create(void **state);
void t_b3cas_checkpoint_load(void **state);
void t_b3cas_checkpoint_free(void **state);
void t_b3cas_checkpoint_list(void **state);
void t_b3cas_checkpoint_find(void **state);
void t_b3cas_checkpoint_delete(void **state);
void t_b3cas_checkpoint_prune(void **state);
void t_b3cas_git_oid_len(void **state);
void t_b3cas_git_type_name(void **state);
void t_b3cas_git_type_parse(void **state);
void t_b3cas_git_oid_parse(void **state);
void t_b3cas_git_oid_fmt(void **state);
void t_b3cas_git_hash(void **state);
void t_b3cas_git_put(void **state);
void t_b3cas_git_writer_open(void **state);
void t_b3cas_git_writer_write(void **state);
void t_b3cas_git_writer_commit(void **state);
void t_b3cas_git_writer_abort(void **state);
void t_b3cas_git_lookup(void **state);
void t_b3cas_git_lookup_prefix(void **state);
void t_b3cas_git_mapping(void **state);
void t_b3cas_git_reverse(void **state);
void t_b3cas_git_foreach(void **state);
void t_b3cas_git_each_named(void **state);
void t_b3cas_git_links(void **state);
void t_b3cas_git_linked(void **state);
void t_b3cas_git_link(void **state);
void t_b3cas_git_odb_backend_new(void **state);
void t_b3cas_git_odb_backend_leased(void **state);
void test_close_with_open_writer(void **state);
void test_close_with_open_reader(void **state);
void test_close_counts_every_stream(void **state);
void test_close_after_internal_streams(void **state);
void test_view_outlives_store(void **state);

#endif /* B3CAS_TEST_API_MISUSE_INT_H */
