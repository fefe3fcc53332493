/*
 * tier_util.h - the pool of a RADOS store a test made, seen from beside
 * the store (tests that run over RADOS stores: B3CAS_TEST_RADOS=1,
 * tests/store_policy.h). Include after cmocka (test_util.h).
 */
#ifndef B3CAS_TESTS_TIER_UTIL_H
#define B3CAS_TESTS_TIER_UTIL_H

#include <stdio.h>
#include <string.h>

#include "tier/rados.h"

/*
 * The pool of the RADOS store at root, as that store's own host: its pool,
 * namespace and configuration and its store id (the host), all read from
 * its b3cas.conf. NULL, said on stderr, if the store has none of them or
 * the pool does not open.
 */
static inline b3cas_rados *tu_pool_try_open(const char *root)
{
	static char pool[256], ns[256], conf[4200];
	b3cas_rados_conf c = {NULL, NULL, NULL, NULL, 30000, {0}};
	char path[4200], line[4400], hex[33];
	b3cas_rados *t = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/b3cas.conf", root);
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "cannot read %s\n", path);
		return NULL;
	}
	ns[0] = conf[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "store_id = %32s", hex) == 1)
			for (int i = 0; i < 16; i++) {
				unsigned v = 0;

				sscanf(hex + 2 * i, "%2x", &v);
				c.host[i] = (uint8_t)v;
			}
		else if (sscanf(line, "rados_pool = %255s", pool) == 1)
			c.pool = pool;
		else if (sscanf(line, "rados_namespace = %255s", ns) == 1)
			c.ns = ns;
		else if (sscanf(line, "rados_conf = %4199s", conf) == 1)
			c.conf = conf;
	}
	fclose(f);
	if (!c.pool) {
		fprintf(stderr, "%s is not a RADOS store\n", root);
		return NULL;
	}
	if (!c.ns)
		c.ns = ""; /* an empty namespace: the pool's default */
	if (b3cas__rados_open(&t, &c) != 0) {
		fprintf(stderr, "the pool of %s: %s\n", root,
			b3cas_error_last());
		return NULL;
	}
	return t;
}

#ifdef assert_non_null
/* tu_pool_try_open, or the test fails. */
static inline b3cas_rados *tu_pool_open(const char *root)
{
	b3cas_rados *t = tu_pool_try_open(root);

	assert_non_null(t);
	return t;
}

static inline int tu_pool_count_visit(void *ctx, const uint8_t id[32])
{
	(void)id;
	(*(long *)ctx)++;
	return 0;
}

/* How many objects the pool holds (in the tier's namespace). */
static inline long tu_pool_objects(b3cas_rados *t)
{
	long n = 0;

	assert_int_equal(b3cas__rados_list(t, tu_pool_count_visit, &n, NULL),
			 0);
	return n;
}

/* The pool loses id, as a lost or wrongly removed object: t's host lets
 * go of every count it has and the object is collected (other hosts must
 * hold none). */
static inline void tu_pool_drop(b3cas_rados *t, const b3cas_oid *id)
{
	int64_t mine;

	assert_int_equal(b3cas__rados_counts(t, id->bytes, NULL, &mine), 0);
	while (mine-- > 0)
		assert_int_equal(b3cas__rados_release(t, id->bytes, NULL), 0);
	assert_int_equal(b3cas__rados_collect(t, id->bytes), 1);
}

#endif /* assert_non_null */

#endif
