/*
 * test_cache_int.h - what the files of the test_cache program share: the
 * policies both run under, the id maker, the stats and accounting checks,
 * the payload run (a cache whose payloads count their holds and drops),
 * and the test functions that test_cache.c lists for cmocka. Private to
 * tests/cache/test_cache*.c.
 */
#ifndef B3CAS_TEST_CACHE_INT_H
#define B3CAS_TEST_CACHE_INT_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "test_util.h"

typedef struct payload {
	b3cas_oid id;
	int holds;    /* hold() calls on it */
	int hits;     /* gets that returned it */
	int drops;    /* drop() calls on it */
	bool accepted;
	bool wrong_id; /* drop() called with an id not its own */
} payload;

typedef struct hook_ctx {
	int drops;
	int wrong_ctx;
} hook_ctx;

typedef struct payload_run {
	b3cas_cache *c;
	hook_ctx hctx;
	b3cas_cache_hooks hooks;
	b3cas_oid *pool;
	payload **cur; /* the payload last accepted for each pool id */
	size_t pool_n;
	payload **all; /* every payload made, to check and free at the end */
	size_t all_n, all_cap;
	uint64_t hits, misses, accepted, erased;
} payload_run;

extern const b3cas_cache_policy policies[];

const char *policy_name(b3cas_cache_policy p);
void make_id(b3cas_oid *out, uint64_t n, uint64_t salt);
b3cas_cache_level_stats stats_of(b3cas_cache *c);
bool insert_now(b3cas_cache *c, const b3cas_oid *id, void *value,
		uint64_t charge);
uint64_t random_charge(uint64_t *rng, uint64_t max);
void expect_accounting(b3cas_cache *c, const b3cas_oid *pool,
		       const uint64_t *charge, size_t n,
		       const char *what);
void run_init(payload_run *run, uint64_t cap, unsigned shards,
	      b3cas_cache_policy policy, size_t pool_n, uint64_t salt);
bool run_insert(payload_run *run, size_t i, uint64_t charge,
		uint64_t ticket);
bool run_get(payload_run *run, size_t i);
void run_check(payload_run *run);
void run_finish(payload_run *run);
void test_byte_bound(void **state);
void test_payload_accounting(void **state);
void test_lru_model(void **state);
void test_lru_duplicate_is_not_a_touch(void **state);
void test_s3fifo_scan_resistance(void **state);
void test_s3fifo_one_hit_wonders(void **state);
void test_s3fifo_ghost(void **state);
void test_tickets_one_shard(void **state);
void test_tickets_same_id_many_shards(void **state);
void test_tickets_survive_evictions(void **state);
void test_resize(void **state);
void test_resize_zero_empties(void **state);
void test_stats_counters(void **state);
void test_free_keep(void **state);
void test_blob_payloads(void **state);
void test_threads(void **state);

#endif /* B3CAS_TEST_CACHE_INT_H */
