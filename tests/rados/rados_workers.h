/*
 * rados_workers.h - what the RADOS tests' worker processes share: each
 * is this test program run again (/proc/self/exe) with "worker" and its
 * arguments, standing in for another host, and hands its ledger (the
 * references it holds, one count per object) back in a file.
 */
#ifndef B3CAS_TESTS_RADOS_WORKERS_H
#define B3CAS_TESTS_RADOS_WORKERS_H

#include <stdint.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"

static inline double rw_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Start this program as a worker: argv[0] "worker" a b c d, then the
 * ledger file made for it (its path into out, 64 bytes). */
static inline pid_t rw_spawn(char out[64], const char *a, const char *b,
			     const char *c, const char *d)
{
	pid_t pid;

	snprintf(out, 64, "/tmp/b3cas-ledger-XXXXXX");
	close(mkstemp(out));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl("/proc/self/exe", "worker-host", "worker", a, b, c, d,
		      out, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Wait for worker pid, which must exit 0, and read its ledger of n
 * counts from out (then removed). */
static inline void rw_collect(pid_t pid, const char *out, int64_t *ledger,
			      int n)
{
	int status;
	FILE *f;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	f = fopen(out, "r");
	assert_non_null(f);
	for (int k = 0; k < n; k++) {
		long long v;

		assert_int_equal(fscanf(f, "%lld", &v), 1);
		ledger[k] = v;
	}
	fclose(f);
	unlink(out);
}

/* A worker's side: write its ledger, the sum over its threads (held[t]
 * is thread t's array of n counts, stride apart). 0, or 1 when the file
 * cannot be written. */
static inline int rw_write(const char *path, const int64_t *held,
			   int threads, size_t stride, int n)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return 1;
	for (int k = 0; k < n; k++) {
		int64_t sum = 0;

		for (int i = 0; i < threads; i++)
			sum += *(const int64_t *)((const char *)held +
						  (size_t)i * stride +
						  (size_t)k * sizeof(int64_t));
		fprintf(f, "%lld\n", (long long)sum);
	}
	return fclose(f) == 0 ? 0 : 1;
}

#endif
