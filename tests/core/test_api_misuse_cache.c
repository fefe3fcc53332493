/*
 * test_api_misuse_cache.c - the t_<function> misuse tests for the
 * functions of cache.h (views, blobs, lookup, load, evict, resize, stats):
 * each required pointer NULL in turn is refused with its message and
 * leaves outputs as they were. Part of the test_api_misuse program.
 */
#include "test_api_misuse_int.h"

/* ---- cache.h ------------------------------------------------------------ */

void t_b3cas_store_get_view(void **state)
{
	b3cas_blob *b = (b3cas_blob *)&b;

	(void)state;
	EINVAL_FOR("b3cas_store_get_view", "store",
		   b3cas_store_get_view(NULL, &id_small, &b));
	EINVAL_FOR("b3cas_store_get_view", "id",
		   b3cas_store_get_view(st, NULL, &b));
	EINVAL_FOR("b3cas_store_get_view", "out",
		   b3cas_store_get_view(st, &id_small, NULL));
	assert_ptr_equal(b, (b3cas_blob *)&b);
}

void t_b3cas_blob_data(void **state)
{
	(void)state;
	MSG_FOR("b3cas_blob_data", "blob", assert_null(b3cas_blob_data(NULL)));
}

void t_b3cas_blob_size(void **state)
{
	(void)state;
	MSG_FOR("b3cas_blob_size", "blob",
		assert_int_equal(b3cas_blob_size(NULL), 0));
}

void t_b3cas_blob_retain(void **state)
{
	(void)state;
	MSG_FOR("b3cas_blob_retain", "blob",
		assert_null(b3cas_blob_retain(NULL)));
}

void t_b3cas_blob_release(void **state)
{
	(void)state;
	b3cas_blob_release(NULL); /* accepted */
}

void t_b3cas_cache_lookup(void **state)
{
	b3cas_blob *b = NULL;

	(void)state;
	EINVAL_FOR("b3cas_cache_lookup", "store",
		   b3cas_cache_lookup(NULL, &id_small, &b));
	EINVAL_FOR("b3cas_cache_lookup", "id",
		   b3cas_cache_lookup(st, NULL, &b));
	EINVAL_FOR("b3cas_cache_lookup", "out",
		   b3cas_cache_lookup(st, &id_small, NULL));
	assert_null(b);
}

void t_b3cas_cache_load(void **state)
{
	(void)state;
	EINVAL_FOR("b3cas_cache_load", "store",
		   b3cas_cache_load(NULL, &id_small));
	EINVAL_FOR("b3cas_cache_load", "id", b3cas_cache_load(st, NULL));
}

void t_b3cas_cache_evict(void **state)
{
	(void)state;
	EINVAL_FOR("b3cas_cache_evict", "store",
		   b3cas_cache_evict(NULL, &id_small));
	EINVAL_FOR("b3cas_cache_evict", "id", b3cas_cache_evict(st, NULL));
}

void t_b3cas_cache_resize(void **state)
{
	(void)state;
	EINVAL_FOR("b3cas_cache_resize", "store",
		   b3cas_cache_resize(NULL, 1 << 20, 0));
}

void t_b3cas_cache_stats_get(void **state)
{
	b3cas_cache_stats cs;

	(void)state;
	poison(&cs, sizeof(cs));
	MSG_FOR("b3cas_cache_stats_get", "store",
		b3cas_cache_stats_get(NULL, &cs));
	assert_true(poisoned(&cs, sizeof(cs)));
	MSG_FOR("b3cas_cache_stats_get", "out",
		b3cas_cache_stats_get(st, NULL));
}
