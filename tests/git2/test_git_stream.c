/*
 * test_git_stream.c - a large blob through the libgit2 backend in bounded
 * memory: written with a write stream and read back with a read stream,
 * 1 MiB at a time, into a compressing chunking store. The bytes are made
 * from a seed as they go (never held whole), checked on the way back, and
 * libgit2's SHA-1 of what it was given must be the store's. The peak RSS
 * of this process (getrusage: this process only) after each is printed
 * and must stay under half the blob's size: an implementation that held
 * the blob whole would pass it.
 *
 * Size: B3CAS_GIT_STREAM_MIB, else 256 MiB (1024 with B3CAS_TEST_LONG,
 * the campaign's form, as issue 18 asks for a 1 GiB blob; 32 under a
 * sanitizer, where RSS is not this code's and is not bounded here).
 * Measured (release, 2026-12-06): 256 MiB 95 MB after the write, 109
 * after the read; 1 GiB 159 and 165 MB (issue 18 asks for 64: the store's
 * own caches, not the blob, make most of it: RocksDB's memtables, up to
 * 64 MiB per family, and the set of known ids, up to 32 MiB).
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <sys/resource.h>

#include <cmocka.h>
#include <git2.h>
#include <git2/sys/odb_backend.h>

#include "b3cas/git2.h"
#include "test_util.h"

#define PIECE (1u << 20)

/* Under a sanitizer RSS measures the sanitizer (shadow memory, freed
 * blocks held in quarantine): the bytes are still checked, on a smaller
 * blob, and the bound is not. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
	__has_feature(memory_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* Piece k of the blob: text lines that vary (compressible, and chunked
 * into distinct chunks), with a run of repeated MiBs every 64. */
static void piece_of(uint8_t *buf, uint64_t k)
{
	uint64_t x = (k % 64 == 63 ? 1 : k) * 0x9E3779B97F4A7C15ull + 1;
	size_t at = 0;

	while (at < PIECE) {
		char line[64];
		int n;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = snprintf(line, sizeof(line), "%016llx %llu\n",
			     (unsigned long long)x,
			     (unsigned long long)(k * 131071 + at));
		if ((size_t)n > PIECE - at)
			n = (int)(PIECE - at);
		memcpy(buf + at, line, (size_t)n);
		at += (size_t)n;
	}
}

static long peak_kib(void)
{
	struct rusage ru;

	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_maxrss;
}

static void git_ok(int rc)
{
	if (rc < 0) {
		const git_error *e = git_error_last();

		fail_msg("libgit2: %d: %s", rc, e ? e->message : "?");
	}
}

/* The blob of mib MiB through the backend over a new store opened with
 * index_memory; the peak RSS so far after the read, in KiB. */
static long blob_through(uint64_t mib, uint64_t index_memory)
{
	b3cas_store_options o = tu_store_options(true, 4096);
	uint8_t *buf = malloc(PIECE), *back = malloc(PIECE);
	char root[64], dir[128];
	git_odb_backend *be;
	git_odb_stream *st;
	git_object_t type;
	b3cas_store *s;
	git_odb *odb;
	git_oid oid;
	size_t len;
	long before, after_write, after_read;

	assert_non_null(buf);
	assert_non_null(back);
	tu_make_root(root, sizeof(root), "git-stream");
	snprintf(dir, sizeof(dir), "%s/store", root);
	o.chunking = B3CAS_CHUNKING_ON;
	o.compression_level = 3;
	o.packing = B3CAS_PACKING_ON;
	o.index_memory = index_memory;
	s = tu_open_store(dir, &o);
	assert_int_equal(b3cas_git_odb_backend_new(&be, s), 0);
	git_ok(git_odb_new(&odb));
	git_ok(git_odb_add_backend(odb, be, 1));
	before = peak_kib();

	git_ok(git_odb_open_wstream(&st, odb, mib * PIECE, GIT_OBJECT_BLOB));
	for (uint64_t k = 0; k < mib; k++) {
		piece_of(buf, k);
		git_ok(git_odb_stream_write(st, (const char *)buf, PIECE));
	}
	/* libgit2's hash of the pieces; the backend refuses another id */
	git_ok(git_odb_stream_finalize_write(&oid, st));
	git_odb_stream_free(st);
	after_write = peak_kib();

	git_ok(git_odb_open_rstream(&st, &len, &type, odb, &oid));
	assert_int_equal(len, mib * PIECE);
	assert_int_equal(type, GIT_OBJECT_BLOB);
	for (uint64_t k = 0; k < mib; k++) {
		size_t at = 0;

		while (at < PIECE) {
			int n = git_odb_stream_read(st, (char *)back + at,
						    PIECE - at);

			assert_true(n > 0);
			at += (size_t)n;
		}
		piece_of(buf, k);
		if (memcmp(buf, back, PIECE) != 0)
			fail_msg("MiB %llu read back differs",
				 (unsigned long long)k);
	}
	assert_int_equal(git_odb_stream_read(st, (char *)back, PIECE), 0);
	git_odb_stream_free(st);
	after_read = peak_kib();
	printf("%llu MiB blob through the backend, index memory %llu MiB: "
	       "peak RSS %ld KiB before, %ld after the write stream, %ld "
	       "after the read stream\n",
	       (unsigned long long)mib,
	       (unsigned long long)(index_memory >> 20), before, after_write,
	       after_read);
	git_odb_free(odb);
	assert_int_equal(b3cas_store_close(s), 0);
	tu_remove_root(root);
	free(buf);
	free(back);
	return after_read;
}

/* First with the index's memory bounded (16 MiB), whose peak must stay
 * under 64 MiB whatever the blob's size; then with the defaults, under
 * half the blob (the peak only grows: the bounded run comes first). */
static void test_large_blob(void **state)
{
	const char *env = getenv("B3CAS_GIT_STREAM_MIB");
	uint64_t mib = env ? strtoull(env, NULL, 10)
		       : SANITIZED		   ? 32
		       : getenv("B3CAS_TEST_LONG") ? 1024
						   : 256;
	long bounded, dflt;

	(void)state;
	assert_true(mib >= 2);
	bounded = blob_through(mib, 8u << 20);
	dflt = blob_through(mib, 0);
	if (!SANITIZED) {
		assert_true(bounded < 64 * 1024);
		assert_true((uint64_t)dflt < mib * 1024 / 2);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_large_blob),
	};
	int rc;

	/*
	 * glibc's threshold for serving an allocation by mmap moves up to
	 * the size of the largest such block freed (up to 32 MiB), and its
	 * heaps keep twice that free before giving memory back. Here the
	 * first to move it is libgit2's start-up (a 216 KiB buffer of its
	 * CA certificates), then each manifest node's index batch (the
	 * node's new chunks: up to 3.3 MB for this blob): from then on
	 * every thread's heap keeps several MiB it no longer uses, which
	 * made the peak 62-66 MB at 1 GiB and 8 MiB of index memory from
	 * run to run (2026-12-07; 52 MB with the threshold kept). The
	 * threshold is kept at glibc's default, as an application that
	 * bounds its memory does (mallopt, or MALLOC_MMAP_THRESHOLD_=131072
	 * in its environment; docs/git.md), so that the peak measures what
	 * b3cas holds.
	 */
#if !SANITIZED /* a sanitizer's allocator has no such threshold */
	if (mallopt(M_MMAP_THRESHOLD, 128 * 1024) != 1)
		return 2;
#endif
	git_libgit2_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	git_libgit2_shutdown();
	return rc;
}
