/*
 * test_links_crash.c - kill -9 a process that puts objects holding links
 * (b3cas_store_put_linked), plain objects, deletes and collects, and
 * holds references through a lease (b3cas_lease_*: puts whole and
 * streamed, references, drops, closes), at random moments; after each
 * kill check the store it left (reopened: the lease's references go):
 *   - it opens, and fsck finds nothing but loose files no entry names
 *     (harmless: test_store_crash.c) - every held count and node count
 *     agrees with the links and manifests there are;
 *   - every reference the writer acknowledged holds: each id's count is
 *     what its log says (the operation in flight: the count before it or
 *     after it), its bytes read back, and everything it links to, at any
 *     depth, is stored;
 *   - nothing leaks: once every reference is deleted (the log's, and the
 *     one the operation in flight may have taken) and GC has run, the
 *     store holds no object and the index no key of the links machinery.
 * Every kill gets a new store, half of them chunking. A linked object's
 * bytes are 'L', its link count (u32 LE) and its links' ids, then random
 * bytes, so the check finds the links from the bytes alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include "b3cas/b3cas.h"
#include "core/core_util.h"
#include "store/store_int.h"
#include "meta_keys.h"

#define REC_INTENT 1
#define REC_COMMIT 2
#define MAXLINKS 64

typedef struct record {
	uint32_t kind;
	uint32_t pad;
	int64_t delta;
	uint8_t id[32];
} record;

static int failures;
#define FAILF(...)                                                \
	do {                                                      \
		fprintf(stderr, "FAIL: " __VA_ARGS__);            \
		fprintf(stderr, "\n");                            \
		failures++;                                       \
	} while (0)

/* ---- the writer (child) ------------------------------------------------- */

typedef struct held {
	b3cas_oid id;
	int64_t refs;
} held;

static held mine[4096];
static size_t nmine;
static int log_fd;

static void log_rec(uint32_t kind, const b3cas_oid *id, int64_t delta)
{
	record r;

	memset(&r, 0, sizeof(r));
	r.kind = kind;
	r.delta = delta;
	if (id)
		memcpy(r.id, id->bytes, 32);
	if (write(log_fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
		_exit(4);
}

static held *remember(const b3cas_oid *id)
{
	for (size_t i = 0; i < nmine; i++)
		if (b3cas_oid_equal(&mine[i].id, id))
			return &mine[i];
	if (nmine == sizeof(mine) / sizeof(mine[0]))
		_exit(5);
	mine[nmine] = (held){*id, 0};
	return &mine[nmine++];
}

/* The references the writer's lease holds (an id once per reference):
 * none is logged, since a reopen drops them all. */
static b3cas_oid leased[1024];
static size_t nleased;

/* One of the ids the writer holds a reference to (so it is stored). */
static held *pick_held(uint64_t *rng)
{
	size_t tries = 0;

	while (nmine && tries++ < 64) {
		held *h = &mine[cu_below(rng, nmine)];

		if (h->refs > 0)
			return h;
	}
	return NULL;
}

static uint8_t *make_bytes(uint64_t *rng, size_t *len_out, const b3cas_oid *links,
			   uint32_t nlinks)
{
	size_t tail = cu_chance(rng, 1, 4) ? cu_range(rng, 5000, 120000)
					    : cu_range(rng, 1, 900);
	size_t len = 5 + (size_t)nlinks * 32 + tail;
	uint8_t *p = malloc(len);

	if (!p)
		_exit(4);
	p[0] = 'L';
	memcpy(p + 1, &nlinks, 4);
	for (uint32_t k = 0; k < nlinks; k++)
		memcpy(p + 5 + k * 32, links[k].bytes, 32);
	/* few distinct tails: duplicates come often */
	cu_gen(p + 5 + (size_t)nlinks * 32, cu_below(rng, 40), tail);
	*len_out = len;
	return p;
}

/* Links for a new object: ids held by the writer or by its lease. */
static uint32_t pick_links(uint64_t *rng, b3cas_oid *links)
{
	uint32_t n = 0;

	if (cu_chance(rng, 2, 3)) {
		uint32_t want = (uint32_t)cu_below(rng, MAXLINKS);

		for (uint32_t k = 0; k < want; k++) {
			held *h = pick_held(rng);

			if (nleased && cu_chance(rng, 1, 3))
				links[n++] = leased[cu_below(rng, nleased)];
			else if (h)
				links[n++] = h->id;
		}
	}
	return n;
}

/* An operation of the writer's lease: a put (whole, or through a
 * writer), a reference to an object held, a drop, or a close and a new
 * lease. */
static int lease_op(b3cas_store *s, b3cas_lease **l, uint64_t *rng)
{
	b3cas_oid links[MAXLINKS], id;
	uint64_t r = cu_below(rng, 100);
	size_t len;
	uint8_t *p;
	int rc = 0;

	memset(links, 0, sizeof(links)); /* (gcc's -O1 with ASan warns) */
	if (r < 3) {
		nleased = 0;
		rc = b3cas_lease_close(*l);
		*l = NULL;
		return rc < 0 ? rc : b3cas_lease_open(s, l);
	}
	if (r < 35 && nleased) {
		size_t i = cu_below(rng, nleased);
		int64_t left = b3cas_lease_drop(*l, &leased[i]);

		leased[i] = leased[--nleased];
		return left < 0 ? (int)left : 0;
	}
	if (nleased == sizeof(leased) / sizeof(leased[0]))
		return 0;
	if (r < 50) {
		held *h = pick_held(rng);

		if (!h)
			return 0;
		id = h->id;
		rc = b3cas_lease_ref(*l, &id);
	} else {
		uint32_t n = pick_links(rng, links);

		p = make_bytes(rng, &len, links, n);
		if (n == 0 && cu_chance(rng, 1, 2)) {
			b3cas_writer *w;

			rc = b3cas_writer_open(&w, s);
			for (size_t off = 0; rc >= 0 && off < len;
			     off += 7000)
				rc = b3cas_writer_write(
					w, p + off,
					len - off < 7000 ? len - off : 7000);
			if (rc >= 0)
				rc = b3cas_lease_commit(*l, w, &id);
			else
				b3cas_writer_abort(w);
		} else {
			rc = b3cas_lease_put_linked(*l, &id, p, len, links, n);
		}
		free(p);
	}
	if (rc >= 0)
		leased[nleased++] = id;
	return rc < 0 ? rc : 0;
}

static int put_one(b3cas_store *s, uint64_t *rng)
{
	b3cas_oid links[MAXLINKS], id;
	uint32_t n = 0;
	size_t len;
	uint8_t *p;
	int rc;

	memset(links, 0, sizeof(links));
	n = pick_links(rng, links);
	p = make_bytes(rng, &len, links, n);
	b3cas_hash(id.bytes, p, len);
	log_rec(REC_INTENT, &id, 1);
	rc = b3cas_store_put_linked(s, NULL, p, len, links, n);
	free(p);
	if (rc < 0)
		return rc;
	remember(&id)->refs++;
	log_rec(REC_COMMIT, NULL, 0);
	return 0;
}

static int delete_one(b3cas_store *s, uint64_t *rng)
{
	held *h = pick_held(rng);
	int64_t left;

	if (!h)
		return 0;
	log_rec(REC_INTENT, &h->id, -1);
	left = b3cas_store_delete(s, &h->id);
	if (left < 0)
		return (int)left;
	h->refs--;
	log_rec(REC_COMMIT, NULL, 0);
	return 0;
}

static int run_writer(const char *root, const char *log_path, uint64_t seed,
		      int ready_fd)
{
	b3cas_store *s;
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_lease *lease = NULL;
	uint64_t rng = seed;
	int rc;

	log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (log_fd < 0)
		return 3;
	o.durability = (b3cas_durability)cu_below(&rng, 3);
	if (b3cas_store_open(&s, root, &o) != 0) {
		fprintf(stderr, "writer: %s\n", b3cas_error_last());
		return 3;
	}
	if (b3cas_lease_open(s, &lease) != 0) {
		fprintf(stderr, "writer: %s\n", b3cas_error_last());
		return 3;
	}
	if (write(ready_fd, "r", 1) != 1)
		return 3;
	for (;;) {
		uint64_t r = cu_below(&rng, 100);

		if (r < 40)
			rc = put_one(s, &rng);
		else if (r < 60)
			rc = lease_op(s, &lease, &rng);
		else if (r < 95)
			rc = delete_one(s, &rng);
		else {
			b3cas_gc_options g = B3CAS_GC_OPTIONS_INIT;

			g.normal_priority = true;
			rc = b3cas_gc(s, &g, NULL);
		}
		if (rc < 0) {
			fprintf(stderr, "writer: %d %s\n", rc,
				b3cas_error_last());
			return 2;
		}
	}
}

/* ---- the check (parent) ------------------------------------------------- */

typedef struct expect {
	b3cas_oid id;
	int64_t refs;
} expect;

static expect exps[8192];
static size_t nexp;
static expect *inflight;
static int64_t inflight_delta;

static expect *find_expect(const uint8_t *id)
{
	for (size_t i = 0; i < nexp; i++)
		if (memcmp(exps[i].id.bytes, id, 32) == 0)
			return &exps[i];
	if (nexp == sizeof(exps) / sizeof(exps[0]))
		abort();
	memcpy(exps[nexp].id.bytes, id, 32);
	exps[nexp].refs = 0;
	return &exps[nexp++];
}

static void load_log(const char *path)
{
	int fd = open(path, O_RDONLY);
	record r, pending;
	bool open_intent = false;

	nexp = 0;
	inflight = NULL;
	if (fd < 0)
		return;
	while (read(fd, &r, sizeof(r)) == (ssize_t)sizeof(r)) {
		if (r.kind == REC_INTENT) {
			pending = r;
			open_intent = true;
			(void)find_expect(r.id);
		} else if (r.kind == REC_COMMIT && open_intent) {
			find_expect(pending.id)->refs += pending.delta;
			open_intent = false;
		}
	}
	close(fd);
	if (open_intent) {
		inflight = find_expect(pending.id);
		inflight_delta = pending.delta;
	}
}

/* The ids check_reaches has read (each once: the links form a DAG). */
static b3cas_oid seen[1 << 14];
static size_t nseen;

static bool was_seen(const b3cas_oid *id)
{
	for (size_t i = 0; i < nseen; i++)
		if (b3cas_oid_equal(&seen[i], id))
			return true;
	if (nseen < sizeof(seen) / sizeof(seen[0]))
		seen[nseen++] = *id;
	return false;
}

/* id and everything it links to are stored and read back. */
static void check_reaches(b3cas_store *s, const b3cas_oid *id, int depth)
{
	char hex[B3CAS_OID_HEX_LEN + 1];
	uint8_t *p;
	size_t len;
	uint32_t n = 0;

	if (was_seen(id))
		return;
	if (b3cas_store_get(s, id, (void **)&p, &len) != 0) {
		FAILF("object %s (depth %d) lost: %s", b3cas_oid_fmt(hex, id),
		      depth, b3cas_error_last());
		return;
	}
	if (len >= 5)
		memcpy(&n, p + 1, 4);
	if (len < 5 || p[0] != 'L' || len < 5 + (size_t)n * 32)
		FAILF("object %s: not what the writer put",
		      b3cas_oid_fmt(hex, id));
	else
		for (uint32_t k = 0; k < n; k++) {
			b3cas_oid c;

			memcpy(c.bytes, p + 5 + k * 32, 32);
			check_reaches(s, &c, depth + 1);
		}
	b3cas_free(p);
}

static int count_object(const b3cas_object_info *info, void *ctx)
{
	(void)info;
	(*(uint64_t *)ctx)++;
	return 0;
}

static void check_store(const char *root)
{
	b3cas_store *s;
	b3cas_fsck_report fr;
	b3cas_gc_options g = B3CAS_GC_OPTIONS_INIT;
	uint64_t left = 0;
	unsigned meta;

	if (b3cas_store_open(&s, root, NULL) != 0) {
		FAILF("open after the kill: %s", b3cas_error_last());
		return;
	}
	nseen = 0;
	/* a loose file no entry names (a kill between its rename and the
	 * index write) is harmless, as in test_store_crash */
	if (b3cas_fsck(s, NULL, &fr) != 0 || fr.problems != fr.orphans)
		FAILF("fsck after the kill: %llu problems (held %llu, "
		      "nodes %llu) %s", (unsigned long long)fr.problems,
		      (unsigned long long)fr.held_counts,
		      (unsigned long long)fr.node_counts, b3cas_error_last());
	for (size_t i = 0; i < nexp; i++) {
		expect *e = &exps[i];
		uint64_t count = 0;
		int rc = b3cas_refcount(s, &e->id, &count);
		bool ok = (int64_t)count == e->refs ||
			  (e == inflight &&
			   (int64_t)count == e->refs + inflight_delta);

		if (rc < 0 && rc != B3CAS_ENOTFOUND)
			FAILF("refcount: %s", b3cas_error_last());
		if (!ok) {
			char hex[B3CAS_OID_HEX_LEN + 1];

			FAILF("object %s: %llu references, the log says "
			      "%lld%s", b3cas_oid_fmt(hex, &e->id),
			      (unsigned long long)count, (long long)e->refs,
			      e == inflight ? " (in flight)" : "");
		}
		/* (the count is checked above; 0 may be right: a delete
		 * in flight that happened) */
		if (count > 0)
			check_reaches(s, &e->id, 0);
		/* every caller reference goes: nothing may stay after GC */
		while (count-- > 0)
			if (b3cas_store_delete(s, &e->id) < 0)
				FAILF("delete: %s", b3cas_error_last());
	}
	g.normal_priority = true;
	if (b3cas_gc(s, &g, NULL) != 0)
		FAILF("gc: %s", b3cas_error_last());
	if (b3cas_store_foreach(s, count_object, &left) != 0)
		FAILF("foreach: %s", b3cas_error_last());
	meta = tu_meta_keys(b3cas__store_index(s));
	if (left || meta)
		FAILF("leaked: %llu objects and %u index keys after every "
		      "reference went and GC ran", (unsigned long long)left,
		      meta);
	if (b3cas_store_close(s) != 0)
		FAILF("close: %s", b3cas_error_last());
}

static void kill_once(const char *self, const char *root, const char *log,
		      uint64_t *rng)
{
	char seed_arg[32], fd_arg[8], c;
	int pipefd[2], status;
	pid_t pid;

	if (pipe(pipefd) != 0)
		abort();
	snprintf(seed_arg, sizeof(seed_arg), "%llu",
		 (unsigned long long)tu_rand(rng));
	snprintf(fd_arg, sizeof(fd_arg), "%d", pipefd[1]);
	pid = fork();
	if (pid == 0) {
		close(pipefd[0]);
		execl(self, self, "writer", root, log, seed_arg, fd_arg,
		      (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	if (read(pipefd[0], &c, 1) != 1)
		FAILF("writer did not start");
	usleep((useconds_t)cu_range(rng, 2000, 150000));
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	close(pipefd[0]);
	if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
		FAILF("writer ended by itself (status %d) before the kill",
		      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

int main(int argc, char **argv)
{
	unsigned long kills = cu_env_num("B3CAS_CRASH_KILLS", 100) *
			      (getenv("B3CAS_TEST_LONG") ? 10 : 1);
	uint64_t seed, rng;
	char base[512], root[600], log[640];
	double t0 = cu_now();
	unsigned long objects = 0;

	if (argc == 5 && strcmp(argv[1], "writer") == 0)
		return run_writer(argv[2], argv[3],
				  strtoull(argv[4], NULL, 10), 0) ?: 0;
	if (argc == 6 && strcmp(argv[1], "writer") == 0)
		return run_writer(argv[2], argv[3],
				  strtoull(argv[4], NULL, 10), atoi(argv[5]));
	seed = cu_seed_from_env();
	rng = seed;
	fprintf(stderr, "test_links_crash: seed %llu, %lu kills\n",
		(unsigned long long)seed, kills);
	if (!cu_mkdtemp(base, sizeof(base), "links-crash"))
		return 1;
	for (unsigned long k = 0; k < kills && failures == 0; k++) {
		b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
		b3cas_store *s;

		snprintf(root, sizeof(root), "%s/s%lu", base, k);
		snprintf(log, sizeof(log), "%s/log%lu", base, k);
		o.create = true;
		o.inline_threshold = 1024;
		o.chunking = k % 2 ? B3CAS_CHUNKING_ON : B3CAS_CHUNKING_OFF;
		o.chunk_avg = 1024;
		if (b3cas_store_open(&s, root, &o) != 0 ||
		    b3cas_store_close(s) != 0) {
			FAILF("create: %s", b3cas_error_last());
			break;
		}
		kill_once(argv[0], root, log, &rng);
		load_log(log);
		objects += nexp;
		check_store(root);
		if (failures)
			fprintf(stderr, "kill %lu (store %s) failed\n", k, root);
		else
			cu_rm_rf(root);
	}
	fprintf(stderr, "test_links_crash: %lu kills, %lu objects, %d "
		"failures, %.1f s\n", kills, objects, failures,
		cu_now() - t0);
	if (!failures)
		cu_rm_rf(base);
	return failures ? 1 : 0;
}
