/*
 * util/histogram.h - a lock-free latency histogram.
 *
 * Log-linear buckets: each power of two of nanoseconds is split into 16
 * equal sub-buckets, so any recorded value is off by at most 1/16 (6%)
 * when read back as a quantile, from 1 ns up to about 2^40 ns (18
 * minutes; longer values land in the last bucket). Recording is one
 * relaxed atomic add into one of a few shards picked per thread, so
 * threads rarely share a cache line.
 */
#ifndef B3CAS_UTIL_HISTOGRAM_H
#define B3CAS_UTIL_HISTOGRAM_H

#include <stdatomic.h>
#include <stdint.h>

#define B3CAS_HIST_SUB 16                 /* sub-buckets per power of 2 */
#define B3CAS_HIST_POWERS 40
#define B3CAS_HIST_BUCKETS (B3CAS_HIST_POWERS * B3CAS_HIST_SUB)
#define B3CAS_HIST_SHARDS 8

typedef struct b3cas_histogram {
	struct {
		_Atomic uint64_t count[B3CAS_HIST_BUCKETS];
		_Atomic uint64_t sum_ns;
	} shard[B3CAS_HIST_SHARDS];
} b3cas_histogram;

/* Nanoseconds on the monotonic clock. */
uint64_t b3cas__now_ns(void);

/* Nanoseconds since the epoch (CLOCK_REALTIME): for times kept on disk. */
uint64_t b3cas__wall_ns(void);

/* Record one value of ns nanoseconds. */
void b3cas__hist_record(b3cas_histogram *h, uint64_t ns);

/* The values recorded so far: count, sum, and quantiles q (0..1) in ns
 * (the upper edge of the bucket holding the q-th value; 0 if empty). */
typedef struct b3cas_hist_summary {
	uint64_t count, sum_ns;
	uint64_t buckets[B3CAS_HIST_BUCKETS];
} b3cas_hist_summary;

void b3cas__hist_summarize(const b3cas_histogram *h, b3cas_hist_summary *out);
uint64_t b3cas__hist_quantile(const b3cas_hist_summary *s, double q);

#endif
