/*
 * util/histogram.c - the log-linear latency histogram.
 */
#include "util/histogram.h"

#include <string.h>
#include <time.h>

uint64_t b3cas__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t b3cas__wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Values below 16 get a bucket each; from there, the top bit picks the
 * power and the next four bits the sub-bucket. */
static unsigned bucket_of(uint64_t ns)
{
	unsigned top, b;

	if (ns < B3CAS_HIST_SUB)
		return (unsigned)ns;
	top = 63u - (unsigned)__builtin_clzll(ns); /* >= 4 */
	b = (top - 3) * B3CAS_HIST_SUB +
	    (unsigned)((ns >> (top - 4)) & (B3CAS_HIST_SUB - 1));
	return b < B3CAS_HIST_BUCKETS ? b : B3CAS_HIST_BUCKETS - 1;
}

/* The largest value that lands in bucket b. */
static uint64_t bucket_top(unsigned b)
{
	unsigned power, sub;

	if (b < B3CAS_HIST_SUB)
		return b;
	power = b / B3CAS_HIST_SUB + 3;
	sub = b % B3CAS_HIST_SUB;
	return (((uint64_t)(B3CAS_HIST_SUB + sub) + 1) << (power - 4)) - 1;
}

static unsigned shard_of_thread(void)
{
	static atomic_uint next;
	static _Thread_local unsigned mine = ~0u;

	if (mine == ~0u)
		mine = atomic_fetch_add_explicit(&next, 1,
						 memory_order_relaxed) %
		       B3CAS_HIST_SHARDS;
	return mine;
}

void b3cas__hist_record(b3cas_histogram *h, uint64_t ns)
{
	unsigned s = shard_of_thread();

	atomic_fetch_add_explicit(&h->shard[s].count[bucket_of(ns)], 1,
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&h->shard[s].sum_ns, ns,
				  memory_order_relaxed);
}

void b3cas__hist_summarize(const b3cas_histogram *h, b3cas_hist_summary *out)
{
	memset(out, 0, sizeof(*out));
	for (int s = 0; s < B3CAS_HIST_SHARDS; s++) {
		out->sum_ns += atomic_load_explicit(&h->shard[s].sum_ns,
						    memory_order_relaxed);
		for (int b = 0; b < B3CAS_HIST_BUCKETS; b++) {
			uint64_t n = atomic_load_explicit(
				&h->shard[s].count[b], memory_order_relaxed);

			out->buckets[b] += n;
			out->count += n;
		}
	}
}

uint64_t b3cas__hist_quantile(const b3cas_hist_summary *s, double q)
{
	uint64_t rank, seen = 0;

	if (s->count == 0)
		return 0;
	rank = (uint64_t)(q * (double)s->count);
	if (rank >= s->count)
		rank = s->count - 1;
	for (unsigned b = 0; b < B3CAS_HIST_BUCKETS; b++) {
		seen += s->buckets[b];
		if (seen > rank)
			return bucket_top(b);
	}
	return bucket_top(B3CAS_HIST_BUCKETS - 1);
}
