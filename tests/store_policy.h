/*
 * store_policy.h - the store policy the tests run under (no cmocka: the
 * crash programs include it too).
 */
#ifndef B3CAS_TESTS_STORE_POLICY_H
#define B3CAS_TESTS_STORE_POLICY_H

#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "b3cas/store.h"

/*
 * With B3CAS_TEST_CHUNKING=1 in the environment, a store a test creates
 * chunks and compresses (format 2: chunks of 256..4096 bytes, zstd level
 * 3), so the store tests written for whole objects run again over chunked
 * ones (ctest runs the _chunked variants). Call on options before the
 * open that creates the store; opens of an existing store take the
 * store's own record and need nothing.
 */
/* Does this run make chunking stores (B3CAS_TEST_CHUNKING=1)? Then no
 * object is a loose file: small ones are inline, large ones chunked. */
static inline bool tu_chunking(void)
{
	const char *env = getenv("B3CAS_TEST_CHUNKING");

	return env && strcmp(env, "1") == 0;
}

/*
 * With B3CAS_TEST_RADOS=1, a store a test creates is a RADOS store (format
 * 3) in the pool B3CAS_TEST_RADOS_POOL of the cluster B3CAS_TEST_CEPH_CONF
 * names, each in a namespace of its own, so the store tests run again
 * with every object in the cluster (ctest runs the _rados variants on the
 * rados fixture's cluster). Either variable missing fails the open: a
 * missing cluster is an error, never a skip.
 */
static inline bool tu_rados(void)
{
	const char *env = getenv("B3CAS_TEST_RADOS");

	return env && strcmp(env, "1") == 0;
}

/* Are the objects of this run's stores files a test may look at or damage
 * (neither chunking nor RADOS)? */
static inline bool tu_loose_files(void)
{
	return !tu_chunking() && !tu_rados();
}

static inline void tu_store_policy(b3cas_store_options *o)
{
	static _Thread_local char ns[96];
	static unsigned made;

	if (!o->create)
		return;
	if (tu_rados()) {
		const char *pool = getenv("B3CAS_TEST_RADOS_POOL");

		/* NULL pool: the open fails, naming the missing variable's
		 * effect (an empty pool name is refused) */
		o->rados_pool = pool ? pool : "";
		o->rados_conf = getenv("B3CAS_TEST_CEPH_CONF");
		snprintf(ns, sizeof(ns), "test-%ld-%ld-%u", (long)getpid(),
			 (long)time(NULL), __atomic_fetch_add(&made, 1,
							      __ATOMIC_RELAXED));
		o->rados_namespace = ns;
		return;
	}
	if (!tu_chunking() || o->hash == B3CAS_HASH_SHA256)
		return;
	o->chunking = B3CAS_CHUNKING_ON;
	o->chunk_avg = 1024;
	o->compression_level = 3;
}

/* tu_store_policy for a store at root that options o may be creating or
 * opening: a store already made there keeps its own record (a RADOS
 * store its namespace), so nothing is set. */
static inline void tu_store_policy_at(b3cas_store_options *o,
				      const char *root)
{
	char conf[4200];

	snprintf(conf, sizeof(conf), "%s/b3cas.conf", root);
	if (access(conf, F_OK) != 0)
		tu_store_policy(o);
}

#endif
