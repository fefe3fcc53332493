/*
 * test_atomic.c - util/atomic.c, the one atomic publish of a file.
 *
 * Success in each durability mode (the target holds the new bytes, no
 * staging file is left), a staging file or a symbolic link left where the
 * staging file goes, and failures injected at each step: the create (a
 * descriptor that is not a folder), the write (RLIMIT_FSIZE makes it fail
 * with EFBIG, as a full disk would with ENOSPC), the rename (the target
 * is a folder). After each failure the old target must hold its old bytes
 * and no staging file may remain; a quiet write keeps the thread's
 * message.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "b3cas/b3cas.h"
#include "test_util.h"
#include "util/atomic.h"

typedef struct fixture {
	char root[256];
	int dir_fd;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	tu_make_root(f->root, sizeof(f->root), "atomic");
	f->dir_fd = open(f->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(f->dir_fd >= 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	close(f->dir_fd);
	tu_remove_root(f->root);
	free(f);
	return 0;
}

static b3cas_atomic_write plan(const fixture *f, b3cas_durability d)
{
	b3cas_atomic_write w = {
		.stage_fd = f->dir_fd, .stage_name = "target.tmp",
		.dir_fd = f->dir_fd, .name = "target",
		.where = f->root, .durability = d,
	};

	return w;
}

/* name under f's folder holds exactly text. */
static void expect_file(const fixture *f, const char *name, const char *text)
{
	char buf[256] = {0};
	int fd = openat(f->dir_fd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_int_equal(n, (ssize_t)strlen(text));
	assert_string_equal(buf, text);
}

static void expect_absent(const fixture *f, const char *name)
{
	struct stat st;

	assert_int_not_equal(fstatat(f->dir_fd, name, &st,
				     AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(errno, ENOENT);
}

static void put(const fixture *f, const char *name, const char *text)
{
	int fd = openat(f->dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void test_each_mode(void **state)
{
	const b3cas_durability modes[] = {B3CAS_DURABILITY_NONE,
					  B3CAS_DURABILITY_BATCH,
					  B3CAS_DURABILITY_FULL};
	fixture *f = *state;
	char text[32];

	for (size_t i = 0; i < 3; i++) {
		b3cas_atomic_write w = plan(f, modes[i]);

		snprintf(text, sizeof(text), "mode %d\n", (int)modes[i]);
		assert_int_equal(b3cas__atomic_write(&w, text, strlen(text)),
				 0);
		expect_file(f, "target", text);
		expect_absent(f, "target.tmp");
	}
}

/* A target below a sub-folder: FULL fsyncs that folder, not dir_fd. */
static void test_nested_full(void **state)
{
	fixture *f = *state;
	b3cas_atomic_write w = plan(f, B3CAS_DURABILITY_FULL);

	assert_int_equal(mkdirat(f->dir_fd, "sub", 0755), 0);
	w.stage_name = "sub/target.tmp";
	w.name = "sub/target";
	assert_int_equal(b3cas__atomic_write(&w, "nested", 6), 0);
	expect_file(f, "sub/target", "nested");
	expect_absent(f, "sub/target.tmp");
}

/* A crash's leftover staging file, and a link planted in its place. */
static void test_leftovers(void **state)
{
	fixture *f = *state;
	b3cas_atomic_write w = plan(f, B3CAS_DURABILITY_BATCH);

	put(f, "target", "old");
	put(f, "target.tmp", "half a write from before a crash");
	assert_int_equal(b3cas__atomic_write(&w, "new", 3), 0);
	expect_file(f, "target", "new");
	expect_absent(f, "target.tmp");

	put(f, "outside", "not ours");
	assert_int_equal(symlinkat("outside", f->dir_fd, "target.tmp"), 0);
	assert_int_equal(b3cas__atomic_write(&w, "newer", 5), 0);
	expect_file(f, "target", "newer");
	expect_file(f, "outside", "not ours");
	expect_absent(f, "target.tmp");

	/* A fresh name is taken as unique: a link there is refused, never
	 * written through. */
	assert_int_equal(symlinkat("outside", f->dir_fd, "target.tmp"), 0);
	w.fresh = true;
	assert_int_equal(b3cas__atomic_write(&w, "newest", 6),
			 B3CAS_EEXISTS);
	expect_file(f, "target", "newer");
	expect_file(f, "outside", "not ours");
}

static void test_create_fails(void **state)
{
	fixture *f = *state;
	b3cas_atomic_write w = plan(f, B3CAS_DURABILITY_FULL);
	int file_fd;

	put(f, "target", "old");
	file_fd = openat(f->dir_fd, "target", O_RDONLY | O_CLOEXEC);
	assert_true(file_fd >= 0);
	w.stage_fd = file_fd; /* not a folder: ENOTDIR */
	assert_true(b3cas__atomic_write(&w, "new", 3) < 0);
	close(file_fd);
	w.stage_fd = -1; /* EBADF */
	assert_true(b3cas__atomic_write(&w, "new", 3) < 0);
	assert_non_null(strstr(b3cas_error_last(), "target.tmp"));
	expect_file(f, "target", "old");
	expect_absent(f, "target.tmp");
}

/* A write that runs out of room (RLIMIT_FSIZE: EFBIG, like ENOSPC). */
static void test_write_fails(void **state)
{
	fixture *f = *state;
	b3cas_atomic_write w = plan(f, B3CAS_DURABILITY_FULL);
	struct rlimit old, small = {4096, 4096};
	static char big[64 * 1024];
	int rc;

	put(f, "target", "old");
	memset(big, 'x', sizeof(big));
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small.rlim_max = old.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	rc = b3cas__atomic_write(&w, big, sizeof(big));
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_true(rc < 0);
	assert_non_null(strstr(b3cas_error_last(), "cannot write"));
	expect_file(f, "target", "old");
	expect_absent(f, "target.tmp");
}

/* The rename fails (the target is a folder); a quiet write leaves the
 * thread's message as it was. */
static void test_rename_fails(void **state)
{
	fixture *f = *state;
	b3cas_atomic_write w = plan(f, B3CAS_DURABILITY_NONE);

	assert_int_equal(mkdirat(f->dir_fd, "target", 0755), 0);
	put(f, "target/inside", "old");
	assert_true(b3cas__atomic_write(&w, "new", 3) < 0);
	assert_non_null(strstr(b3cas_error_last(), "cannot publish"));
	expect_file(f, "target/inside", "old");
	expect_absent(f, "target.tmp");

	b3cas_error_clear();
	w.quiet = true;
	w.fresh = true;
	assert_true(b3cas__atomic_write(&w, "new", 3) < 0);
	assert_string_equal(b3cas_error_last(), "");
	expect_absent(f, "target.tmp");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_each_mode, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_nested_full, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_leftovers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_create_fails, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_write_fails, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rename_fails, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
