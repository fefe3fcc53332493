/*
 * bench/bench_util.h - what the benchmark programs share: the clock,
 * quantiles, generated content, dying with a message, removing a folder.
 * Each program defines BENCH_NAME before including it.
 */
#ifndef B3CAS_BENCH_UTIL_H
#define B3CAS_BENCH_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../tests/prng.h"

#ifndef BENCH_NAME
#error "define BENCH_NAME before including bench_util.h"
#endif

static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Sorts v and returns its q quantile (nearest rank); 0 when n is 0. */
static inline double quantile(double *v, size_t n, double q)
{
	size_t i;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(double), cmp_double);
	i = (size_t)(q * (double)n);
	return v[i < n ? i : n - 1];
}

static inline double median(double *v, int n)
{
	return quantile(v, (size_t)n, 0.5);
}

/* inline: a program of several files need not call it in each */
static inline void die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

static inline void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs(BENCH_NAME ": ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* Content number n of a run: distinct for every n, len bytes. */
static inline void make_content(uint8_t *buf, size_t len, uint64_t run,
				uint64_t n)
{
	uint64_t s = tu_mix(run * 0x100000001b3ull + n);

	for (size_t i = 0; i + 8 <= len; i += 8) {
		s = tu_mix(s);
		memcpy(buf + i, &s, 8);
	}
	for (size_t i = len & ~(size_t)7; i < len; i++)
		buf[i] = (uint8_t)tu_mix(s + i);
}

static inline void remove_tree(const char *path)
{
	char cmd[4400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, BENCH_NAME ": could not remove %s\n", path);
}

/*
 * Errors a run found (bench_fail); a program that found any exits 1. A
 * program of several files defines BENCH_SHARED_FAILURES before
 * including this header in each of them and defines bench_failures once
 * (beside main), so every file counts into the one counter.
 */
#ifdef BENCH_SHARED_FAILURES
extern int bench_failures;
#else
static int bench_failures;
#endif

/* Report something the store got wrong: an error, not a slow figure. */
static inline __attribute__((format(printf, 1, 2))) void
bench_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("ERROR  ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
	bench_failures++;
}

/* A figure beside its target: PASS or MISS, never an error; INFO when
 * the run is too small (quick) to judge a target by. */
static inline __attribute__((format(printf, 3, 4))) void
bench_target(bool quick, bool ok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("%s  ", quick ? "INFO" : ok ? "PASS" : "MISS");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
}

#endif
