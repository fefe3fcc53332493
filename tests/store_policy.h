/*
 * store_policy.h - the store policy the tests run under (no cmocka: the
 * crash programs include it too).
 */
#ifndef B3CAS_TESTS_STORE_POLICY_H
#define B3CAS_TESTS_STORE_POLICY_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

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

static inline void tu_store_policy(b3cas_store_options *o)
{
	const char *env = getenv("B3CAS_TEST_CHUNKING");

	if (!o->create || !env || strcmp(env, "1") != 0 ||
	    o->hash == B3CAS_HASH_SHA256)
		return;
	o->chunking = B3CAS_CHUNKING_ON;
	o->chunk_avg = 1024;
	o->compression_level = 3;
}

#endif
