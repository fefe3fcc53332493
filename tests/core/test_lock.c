/*
 * test_lock.c - the writer lock against the ways it was stolen or
 * misreported: LOCK unlinked, replaced or made a link while a writer runs,
 * an earlier holder's stale pid, a busy index taken for damage, and the
 * lock_timeout_ms wait.
 *
 * Holders are child processes of this program (fork, then exec of this
 * same binary with "--hold MODE DIR"), so each is a clean process whose
 * pid we know, with no RocksDB threads copied from the parent. A holder
 * takes what MODE says, writes one byte to its standard output, and lets
 * go when its standard input reaches end of file (or, in "linger" mode,
 * 200 ms after it reads a byte; in "crash" mode it kills itself at once). The parent asserts on return codes, on
 * the pid named in messages, and on files it checks are unchanged; times
 * are only ever lower bounds that the wait promises.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "core/core_util.h"
#include "index/index.h"
#include "test_util.h"

/* ---- the holder side (a separate process) ------------------------------ */

static int hold_store(const char *dir, bool crash, bool linger)
{
	b3cas_store *s;
	char c;

	if (b3cas_store_open(&s, dir, NULL) != 0) {
		fprintf(stderr, "holder: %s\n", b3cas_error_last());
		return 1;
	}
	if (write(1, "R", 1) != 1)
		return 1;
	if (crash) /* a writer killed: no close, its pid stays in LOCK */
		kill(getpid(), SIGKILL);
	if (read(0, &c, 1) == 1 && linger) {
		struct timespec t = {0, 200 * 1000 * 1000};

		nanosleep(&t, NULL);
	}
	return b3cas_store_close(s) == 0 ? 0 : 1;
}

/* flock the folder and LOCK as a writer does, but record no pid: a writer
 * caught between taking the lock and writing its pid. */
static int hold_flock(const char *dir)
{
	char path[4200], c;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	int lfd;

	snprintf(path, sizeof(path), "%s/LOCK", dir);
	lfd = open(path, O_RDWR | O_CREAT, 0644);
	if (dfd < 0 || lfd < 0 || flock(dfd, LOCK_EX | LOCK_NB) != 0 ||
	    flock(lfd, LOCK_EX | LOCK_NB) != 0)
		return 1;
	if (write(1, "R", 1) != 1)
		return 1;
	while (read(0, &c, 1) > 0)
		;
	return 0;
}

/* Hold only RocksDB's lock on the index, as a writer whose store lock was
 * stolen would. */
static int hold_index(const char *dir)
{
	char path[4200], c;
	b3cas_index *ix;

	snprintf(path, sizeof(path), "%s/index", dir);
	if (b3cas__index_open(&ix, path, false, false, 0) != 0)
		return 1;
	if (write(1, "R", 1) != 1)
		return 1;
	while (read(0, &c, 1) > 0)
		;
	b3cas__index_close(ix);
	return 0;
}

static int holder_main(const char *mode, const char *dir)
{
	if (strcmp(mode, "store") == 0)
		return hold_store(dir, false, false);
	if (strcmp(mode, "linger") == 0)
		return hold_store(dir, false, true);
	if (strcmp(mode, "crash") == 0)
		return hold_store(dir, true, false);
	if (strcmp(mode, "flock") == 0)
		return hold_flock(dir);
	if (strcmp(mode, "index") == 0)
		return hold_index(dir);
	return 2;
}

/* ---- the parent side ---------------------------------------------------- */

typedef struct holder {
	pid_t pid;
	int to;   /* its standard input: a byte, or close to let go */
} holder;

static char self_exe[4096];

/* Start a holder and wait until it holds. */
static holder spawn(const char *mode, const char *dir)
{
	int in[2], out[2];
	holder h;
	char c;

	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	h.pid = fork();
	assert_true(h.pid >= 0);
	if (h.pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		execl(self_exe, self_exe, "--hold", mode, dir, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	if (read(out[0], &c, 1) != 1)
		fail_msg("holder '%s' of %s did not take the lock", mode, dir);
	close(out[0]);
	h.to = in[1];
	return h;
}

/* Let go of the holder and check that it ended well. */
static void release(holder *h)
{
	int status;

	if (h->to >= 0)
		close(h->to);
	h->to = -1;
	assert_int_equal(waitpid(h->pid, &status, 0), h->pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Reap a holder that killed itself. */
static void reap_killed(holder *h)
{
	int status;

	close(h->to);
	h->to = -1;
	assert_int_equal(waitpid(h->pid, &status, 0), h->pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
}

static void make_store(char *root, size_t len, const char *tag)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *s;

	assert_true(cu_mkdtemp(root, len, tag));
	o.create = true;
	assert_int_equal(b3cas_store_open(&s, root, &o), 0);
	assert_int_equal(b3cas_store_put(s, &(b3cas_oid){{0}}, "kept", 4), 0);
	assert_int_equal(b3cas_store_close(s), 0);
}

static int open_rw(const char *root, unsigned timeout_ms, b3cas_store **s)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;

	o.lock_timeout_ms = timeout_ms;
	*s = NULL;
	return b3cas_store_open(s, root, &o);
}

/* The last error message names process pid as the holder. */
static void assert_names(pid_t pid)
{
	char want[64];

	snprintf(want, sizeof(want), "by process %ld (", (long)pid);
	if (!strstr(b3cas_error_last(), want))
		fail_msg("message \"%s\" does not name holder %ld",
			 b3cas_error_last(), (long)pid);
}

static void assert_refused(const char *root, pid_t holder_pid)
{
	b3cas_store *s;

	assert_int_equal(open_rw(root, 0, &s), B3CAS_ELOCKED);
	assert_null(s);
	assert_names(holder_pid);
}

static void assert_opens(const char *root)
{
	b3cas_store *s;

	assert_int_equal(open_rw(root, 0, &s), 0);
	assert_int_equal(b3cas_store_close(s), 0);
}

static bool exists_at(const char *root, const char *name)
{
	char path[4200];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", root, name);
	return lstat(path, &st) == 0;
}

static void rel_path(char *out, size_t len, const char *root,
		     const char *name)
{
	snprintf(out, len, "%s/%s", root, name);
}

/* LOCK unlinked under a live writer: a second writer (and recover) are
 * still refused, and the next writer after it works without LOCK. */
static void test_unlinked_lock(void **state)
{
	char root[256], lock[512], staging[512], name[64];
	b3cas_recover_report r;
	b3cas_store *s;
	holder h;
	int rc;

	(void)state;
	make_store(root, sizeof(root), "lock-unlink");
	rel_path(lock, sizeof(lock), root, "LOCK");
	h = spawn("store", root);
	/* a put of the holder's in flight, in its staging file */
	snprintf(name, sizeof(name), "tmp/%ld.7.tmp", (long)h.pid);
	rel_path(staging, sizeof(staging), root, name);
	assert_true(cu_write_file(staging, "half a put"));
	assert_int_equal(unlink(lock), 0);
	rc = open_rw(root, 0, &s);
	if (!exists_at(root, name))
		fail_msg("a second writer (open: %d) removed the holder's "
			 "staging file %s", rc, staging);
	assert_int_equal(rc, B3CAS_ELOCKED);
	assert_null(s);
	assert_names(h.pid);
	/* recover refuses too, before it changes anything */
	assert_int_equal(b3cas_recover(root, NULL, &r), B3CAS_ELOCKED);
	assert_names(h.pid);
	assert_false(exists_at(root, "integrity/recover"));
	assert_true(exists_at(root, name));
	unlink(staging);
	release(&h);
	/* LOCK missing with nobody holding: made again */
	assert_false(exists_at(root, "LOCK"));
	assert_opens(root);
	assert_true(exists_at(root, "LOCK"));
	cu_rm_rf(root);
}

/* LOCK replaced by another file under a live writer. */
static void test_replaced_lock(void **state)
{
	char root[256], lock[512], other[512];
	holder h;

	(void)state;
	make_store(root, sizeof(root), "lock-replace");
	rel_path(lock, sizeof(lock), root, "LOCK");
	rel_path(other, sizeof(other), root, "LOCK.new");
	h = spawn("store", root);
	assert_true(cu_write_file(other, ""));
	assert_int_equal(rename(other, lock), 0);
	assert_refused(root, h.pid);
	release(&h);
	assert_opens(root);
	cu_rm_rf(root);
}

/* A LOCK that is a link (or a fifo) is never written through or opened
 * as the lock: the open fails, the link's target keeps its bytes. */
static void test_lock_not_a_file(void **state)
{
	char root[256], lock[512], outside[512], text[64] = "";
	b3cas_store *s;
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	FILE *f;

	(void)state;
	make_store(root, sizeof(root), "lock-link");
	rel_path(lock, sizeof(lock), root, "LOCK");
	snprintf(outside, sizeof(outside), "%s.outside", root);
	assert_true(cu_write_file(outside, "precious\n"));
	assert_int_equal(unlink(lock), 0);
	assert_int_equal(symlink(outside, lock), 0);
	assert_int_equal(open_rw(root, 0, &s), B3CAS_EFORMAT);
	assert_non_null(strstr(b3cas_error_last(), "symbolic link"));
	f = fopen(outside, "r");
	assert_non_null(f);
	assert_non_null(fgets(text, sizeof(text), f));
	fclose(f);
	assert_string_equal(text, "precious\n");
	assert_true(exists_at(root, "LOCK"));
	/* readers are not concerned */
	o.read_only = true;
	assert_int_equal(b3cas_store_open(&s, root, &o), 0);
	assert_int_equal(b3cas_store_close(s), 0);
	/* a fifo: refused at once, not waited on */
	assert_int_equal(unlink(lock), 0);
	assert_int_equal(mkfifo(lock, 0644), 0);
	assert_int_equal(open_rw(root, 0, &s), B3CAS_EFORMAT);
	assert_non_null(strstr(b3cas_error_last(), "not a regular file"));
	assert_int_equal(unlink(lock), 0);
	assert_opens(root);
	unlink(outside);
	cu_rm_rf(root);
}

/* An earlier writer died leaving its pid in LOCK; the one holding the
 * lock now has not written its pid yet. The message names the live one. */
static void test_holder_named(void **state)
{
	char root[256];
	holder a, b, c;

	(void)state;
	make_store(root, sizeof(root), "lock-pid");
	a = spawn("crash", root);
	reap_killed(&a); /* gone: its pid is stale in LOCK */
	b = spawn("flock", root);
	assert_refused(root, b.pid);
	assert_null(strstr(b3cas_error_last(), "pid not known"));
	release(&b);
	/* and a real writer after that */
	c = spawn("store", root);
	assert_refused(root, c.pid);
	release(&c);
	cu_rm_rf(root);
}

static double seconds_since(double t0)
{
	return cu_now() - t0;
}

/* lock_timeout_ms: a writer that leaves is waited for; one that stays
 * makes the open fail after the timeout, naming it. */
static void test_wait(void **state)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	char root[256];
	b3cas_store *s;
	holder h;
	double t0;

	(void)state;
	make_store(root, sizeof(root), "lock-wait");
	h = spawn("linger", root);
	assert_refused(root, h.pid);
	/* it lets go 200 ms after this byte */
	assert_int_equal(write(h.to, "g", 1), 1);
	assert_int_equal(open_rw(root, 60000, &s), 0);
	assert_int_equal(b3cas_store_close(s), 0);
	release(&h);

	h = spawn("store", root);
	t0 = cu_now();
	assert_int_equal(open_rw(root, 300, &s), B3CAS_ELOCKED);
	assert_true(seconds_since(t0) >= 0.3);
	assert_names(h.pid);
	assert_non_null(strstr(b3cas_error_last(), "waited 0.300 s"));
	/* a version 2 caller's struct ends before lock_timeout_ms: what
	 * lies there is not read (it would wait for ever, and hang) */
	o.version = 2;
	o.lock_timeout_ms = B3CAS_LOCK_WAIT_FOREVER;
	assert_int_equal(b3cas_store_open(&s, root, &o), B3CAS_ELOCKED);
	assert_names(h.pid);
	release(&h);
	cu_rm_rf(root);
}

/* Read-only opens take no lock and never wait, whatever the timeout. */
static void test_readers_not_blocked(void **state)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	char root[256];
	b3cas_store *s;
	void *data;
	size_t len;
	b3cas_oid id;
	holder h;

	(void)state;
	make_store(root, sizeof(root), "lock-ro");
	b3cas_hash(id.bytes, "kept", 4);
	h = spawn("store", root);
	o.read_only = true;
	o.lock_timeout_ms = B3CAS_LOCK_WAIT_FOREVER;
	assert_int_equal(b3cas_store_open(&s, root, &o), 0);
	assert_int_equal(b3cas_store_get(s, &id, &data, &len), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(data, "kept", 4);
	b3cas_free(data);
	assert_int_equal(b3cas_store_close(s), 0);
	release(&h);
	cu_rm_rf(root);
}

/* An index that another process holds open is in use, not damaged: the
 * open says who holds it, and recover changes nothing. */
static void test_index_in_use(void **state)
{
	char root[256], index[512];
	b3cas_recover_report r;
	b3cas_index *ix;
	b3cas_store *s;
	holder h;
	char want[64];
	int rc;

	(void)state;
	make_store(root, sizeof(root), "lock-index");
	rel_path(index, sizeof(index), root, "index");
	h = spawn("index", root);
	snprintf(want, sizeof(want), "in use by process %ld ", (long)h.pid);
	rc = b3cas_recover(root, NULL, &r);
	if (rc != B3CAS_ELOCKED)
		fail_msg("recover of an index in use returned %d, action %s "
			 "(saved as %s)", rc, b3cas_recover_action_name(r.action),
			 r.saved_index);
	assert_int_equal(r.action, B3CAS_RECOVER_NOTHING);
	assert_false(exists_at(root, "integrity/recover"));
	assert_int_equal(b3cas__index_open(&ix, index, false, false, 0),
			 B3CAS_ELOCKED);
	if (!strstr(b3cas_error_last(), want))
		fail_msg("message \"%s\" does not name holder %ld",
			 b3cas_error_last(), (long)h.pid);
	assert_int_equal(open_rw(root, 0, &s), B3CAS_ELOCKED);
	assert_non_null(strstr(b3cas_error_last(), want));
	release(&h);
	/* untouched: the store opens and has its object */
	assert_int_equal(open_rw(root, 0, &s), 0);
	{
		b3cas_oid id;

		b3cas_hash(id.bytes, "kept", 4);
		assert_int_equal(b3cas_store_exists(s, &id), 1);
	}
	assert_int_equal(b3cas_store_close(s), 0);
	cu_rm_rf(root);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unlinked_lock),
		cmocka_unit_test(test_replaced_lock),
		cmocka_unit_test(test_lock_not_a_file),
		cmocka_unit_test(test_holder_named),
		cmocka_unit_test(test_wait),
		cmocka_unit_test(test_readers_not_blocked),
		cmocka_unit_test(test_index_in_use),
	};
	ssize_t n;

	if (argc == 4 && strcmp(argv[1], "--hold") == 0)
		return holder_main(argv[2], argv[3]);
	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (n <= 0) {
		perror("readlink /proc/self/exe");
		return 1;
	}
	self_exe[n] = '\0';
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
