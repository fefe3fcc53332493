/*
 * test_fsck_int.h - what the files of test_fsck share: the test folders
 * (set by test_fsck.c's setup for each case), the store opener, the
 * problem counter, raw index access, and the cases that
 * test_fsck_threads.c, test_fsck_l2.c and test_fsck_held.c define for
 * main()'s group list.
 */
#ifndef B3CAS_TEST_FSCK_INT_H
#define B3CAS_TEST_FSCK_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "b3cas/b3cas.h"
#include "test_util.h"

#define THRESHOLD 1024

/* The case's temporary root, its store and its mirror folder. */
extern char root[256], store_dir[300], mirror_dir[300];

b3cas_store *open_at(const char *dir, bool create, const char *mirror);
void tier_path(char *out, size_t n, const b3cas_oid *id);
void write_file(const char *path, const void *data, size_t len);

/* Damage through the index of open store s (the next open sees it): put
 * or delete key in column family cf; get its value (malloc'd, *vlen
 * bytes), or NULL when absent. */
void put_raw(b3cas_store *s, int cf, const void *key, size_t klen,
	     const void *val, size_t vlen);
void del_raw(b3cas_store *s, int cf, const void *key, size_t klen);
uint8_t *get_raw(b3cas_store *s, int cf, const void *key, size_t klen,
		 size_t *vlen);

/* Problems counted by kind, and the last lost one (on_problem's ctx). */
typedef struct seen {
	int by_kind[16];
	int lost;
	b3cas_oid lost_id;
} seen;

int on_problem(const b3cas_fsck_problem *p, void *ctx);

/* test_fsck_threads.c */
void test_threads_same_report(void **state);
void test_threads_stop(void **state);
void test_threads_exact_totals(void **state);

/* test_fsck_l2.c */
void test_l2_copies(void **state);

/* test_fsck_held.c */
void test_held_clean(void **state);
void test_held_damage(void **state);
void test_held_missing(void **state);
void test_held_live(void **state);
void test_node_counts(void **state);

#endif
