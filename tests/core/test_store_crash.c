/*
 * test_store_crash.c - kill -9 a writing process at random moments, again
 * and again, and check after each kill that nothing acknowledged was lost.
 *
 * The child (this program with "writer" as its first argument) opens the
 * store and loops forever: puts of new content (inline and loose, plain,
 * streamed and batched), puts of content it stored before, and deletes of
 * references it holds. Around every operation it appends fixed-size
 * records to a log: first the intended changes (id, the seed and size
 * that regenerate the bytes, the change of its reference count), then,
 * after the call returned success, a commit record. The parent kills the
 * child with SIGKILL after a random delay (sometimes before the store is
 * even open), then opens the store and checks:
 *   - it opens (and its tmp/ is emptied);
 *   - every committed change holds: each id's reference count is what the
 *     log says and its bytes read back exactly (get verifies the hash);
 *     ids whose count reached zero are absent;
 *   - the one operation in flight, if any, happened entirely or not at all
 *     (a batch too): each of its ids shows either the count before it or
 *     the count after it, the same choice for all of them;
 *   - every object the index lists can be read (no entry names a missing
 *     or torn loose file) and is one the log knows;
 *   - loose files that no entry names (left by a kill between the rename
 *     and the index write) are counted, not failed: they are harmless.
 * Durability modes rotate through none, batch and full. The record of the
 * in-flight operation is what makes the check exact, not a guess.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include "b3cas/b3cas.h"
#include "core/core_util.h"
#include "store_policy.h"
#include "tier_util.h"

#define REC_INTENT 1
#define REC_COMMIT 2
#define REC_ABORT 3 /* the operation in flight at a kill did not happen */
#define MAX_ITEMS 6

typedef struct record {
	uint32_t kind;
	uint32_t pad;
	uint64_t seed;
	uint64_t size;
	int64_t delta;
	uint8_t id[32];
} record;

/* ---- the writer (child) ------------------------------------------------- */

typedef struct held {
	b3cas_oid id;
	uint64_t seed, size;
	int64_t refs;
} held;

static held *mine;
static size_t nmine, capmine;
static int log_fd;

static void log_records(const record *r, size_t n)
{
	/* One write per group: O_APPEND keeps groups whole and in order. */
	if (write(log_fd, r, n * sizeof(*r)) != (ssize_t)(n * sizeof(*r)))
		_exit(4);
}

static void intend(record *r, const b3cas_oid *id, uint64_t seed,
		   uint64_t size, int64_t delta)
{
	memset(r, 0, sizeof(*r));
	r->kind = REC_INTENT;
	r->seed = seed;
	r->size = size;
	r->delta = delta;
	memcpy(r->id, id->bytes, 32);
}

static void commit(void)
{
	record r;

	memset(&r, 0, sizeof(r));
	r.kind = REC_COMMIT;
	log_records(&r, 1);
}

static held *remember(const b3cas_oid *id, uint64_t seed, uint64_t size)
{
	for (size_t i = 0; i < nmine; i++)
		if (b3cas_oid_equal(&mine[i].id, id))
			return &mine[i];
	if (nmine == capmine) {
		capmine = capmine ? 2 * capmine : 256;
		mine = realloc(mine, capmine * sizeof(*mine));
		if (!mine)
			_exit(4);
	}
	mine[nmine] = (held){*id, seed, size, 0};
	return &mine[nmine++];
}

static uint64_t pick_size(uint64_t *rng)
{
	unsigned r = (unsigned)cu_below(rng, 100);

	if (r < 60)
		return cu_below(rng, 4096);
	if (r < 90)
		return cu_range(rng, 64 * 1024 - 8, 300 * 1024);
	return cu_range(rng, 512 * 1024, 1200 * 1024);
}

static int writer_put(b3cas_store *s, uint64_t *rng, bool stream)
{
	uint64_t seed = tu_rand(rng), size = pick_size(rng);
	uint8_t *bytes;

	/* In a chunking store a small all-zero or patterned object can be
	 * byte for byte a chunk of a large one, and then its count holds
	 * the manifests' references too (docs/chunked-objects.md): small
	 * objects are noise there, so every count is the log's. */
	if (tu_chunking() && size <= 4096 && (seed & 15) < 2)
		seed |= 2;
	b3cas_oid id, got;
	record r;
	int rc;

	/* A duplicate of something held, now and then. */
	if (nmine && cu_chance(rng, 1, 4)) {
		held *h = &mine[cu_below(rng, nmine)];

		seed = h->seed;
		size = h->size;
	}
	bytes = cu_gen_alloc(seed, size);
	b3cas_hash(id.bytes, bytes, size);
	intend(&r, &id, seed, size, 1);
	log_records(&r, 1);
	if (stream) {
		b3cas_writer *w;
		size_t off = 0;

		rc = b3cas_writer_open(&w, s);
		while (rc == 0 && off < size) {
			size_t n = (size_t)cu_range(rng, 1, 200000);

			n = n > size - off ? size - off : n;
			rc = b3cas_writer_write(w, bytes + off, n);
			off += n;
		}
		rc = rc == 0 ? b3cas_writer_commit(w, &got) : rc;
	} else {
		rc = b3cas_store_put(s, &got, bytes, size);
	}
	free(bytes);
	if (rc < 0 || !b3cas_oid_equal(&got, &id))
		return -1;
	commit();
	remember(&id, seed, size)->refs++;
	return 0;
}

static int writer_batch(b3cas_store *s, uint64_t *rng)
{
	size_t n = (size_t)cu_range(rng, 1, MAX_ITEMS);
	const void *data[MAX_ITEMS];
	size_t lens[MAX_ITEMS];
	uint64_t seeds[MAX_ITEMS];
	b3cas_oid ids[MAX_ITEMS], got[MAX_ITEMS];
	record r[MAX_ITEMS];
	int rc;

	for (size_t i = 0; i < n; i++) {
		seeds[i] = i > 0 && cu_chance(rng, 1, 5) ? seeds[i - 1]
							 : tu_rand(rng);
		lens[i] = (size_t)(i > 0 && seeds[i] == seeds[i - 1]
					   ? lens[i - 1]
					   : cu_below(rng, 100 * 1024));
		data[i] = cu_gen_alloc(seeds[i], lens[i]);
		b3cas_hash(ids[i].bytes, data[i], lens[i]);
		intend(&r[i], &ids[i], seeds[i], lens[i], 1);
	}
	log_records(r, n);
	rc = b3cas_store_put_batch(s, got, NULL, data, lens, n);
	for (size_t i = 0; i < n; i++)
		free((void *)data[i]);
	if (rc < 0)
		return -1;
	commit();
	for (size_t i = 0; i < n; i++)
		remember(&ids[i], seeds[i], lens[i])->refs++;
	return 0;
}

static int writer_delete(b3cas_store *s, uint64_t *rng)
{
	held *h = NULL;
	record r;

	for (int tries = 0; tries < 8 && nmine; tries++) {
		held *c = &mine[cu_below(rng, nmine)];

		if (c->refs > 0) {
			h = c;
			break;
		}
	}
	if (!h)
		return 0;
	intend(&r, &h->id, h->seed, h->size, -1);
	log_records(&r, 1);
	if (b3cas_store_delete(s, &h->id) != h->refs - 1)
		return -1;
	commit();
	h->refs--;
	return 0;
}

/*
 * Rebuild "mine" from the log, and settle the operation the last writer
 * had in flight when it was killed: it happened (all of it) or not at all,
 * and the store says which; a COMMIT or ABORT record tells the checker.
 */
static int resume(b3cas_store *s, const char *log_path)
{
	record r, pending[MAX_ITEMS + 1];
	size_t np = 0;
	int fd = open(log_path, O_RDONLY);
	bool applied = true;

	while (fd >= 0 && read(fd, &r, sizeof(r)) == sizeof(r)) {
		if (r.kind == REC_INTENT && np <= MAX_ITEMS) {
			pending[np++] = r;
		} else if (r.kind == REC_COMMIT) {
			for (size_t i = 0; i < np; i++) {
				b3cas_oid id;

				memcpy(id.bytes, pending[i].id, 32);
				remember(&id, pending[i].seed, pending[i].size)
					->refs += pending[i].delta;
			}
			np = 0;
		} else if (r.kind == REC_ABORT) {
			np = 0;
		}
	}
	if (fd >= 0)
		close(fd);
	if (np == 0)
		return 0;
	for (size_t i = 0; i < np; i++) {
		b3cas_object_info info;
		b3cas_oid id;
		int64_t delta = 0, want;

		memcpy(id.bytes, pending[i].id, 32);
		for (size_t j = 0; j < np; j++)
			if (memcmp(pending[j].id, pending[i].id, 32) == 0)
				delta += pending[j].delta;
		want = remember(&id, pending[i].seed, pending[i].size)->refs +
		       delta;
		if (b3cas_store_stat(s, &id, &info) == 0
			    ? (int64_t)info.refs != want
			    : want != 0)
			applied = false;
	}
	if (applied) {
		for (size_t i = 0; i < np; i++) {
			b3cas_oid id;

			memcpy(id.bytes, pending[i].id, 32);
			remember(&id, pending[i].seed, pending[i].size)->refs +=
				pending[i].delta;
		}
		commit();
	} else {
		memset(&r, 0, sizeof(r));
		r.kind = REC_ABORT;
		log_records(&r, 1);
	}
	return 0;
}

/* Forever, until killed; a failure exits with a code the parent reports. */
static int run_writer(const char *root, int mode, const char *log_path,
		      uint64_t seed, int ready_fd)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *s;
	uint64_t rng = seed;

	log_fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (log_fd < 0)
		return 4;
	o.create = true;
	o.durability = (b3cas_durability)mode;
	tu_store_policy_at(&o, root);
	if (b3cas_store_open(&s, root, &o) != 0) {
		fprintf(stderr, "writer: open: %s\n", b3cas_error_last());
		return 3;
	}
	if (resume(s, log_path) != 0)
		return 6;
	if (write(ready_fd, "r", 1) != 1)
		return 4;
	for (;;) {
		unsigned op = (unsigned)cu_below(&rng, 100);
		int rc;

		if (op < 45)
			rc = writer_put(s, &rng, false);
		else if (op < 55)
			rc = writer_put(s, &rng, true);
		else if (op < 70)
			rc = writer_batch(s, &rng);
		else
			rc = writer_delete(s, &rng);
		if (rc < 0) {
			fprintf(stderr, "writer: operation failed: %s\n",
				b3cas_error_last());
			return 5;
		}
	}
}

/* ---- the checker (parent) ----------------------------------------------- */

typedef struct expect {
	b3cas_oid id;
	uint64_t seed, size;
	int64_t refs;     /* committed */
	int64_t pending;  /* change of the operation in flight */
} expect;

static expect *exp_tab;
static size_t nexp, capexp;

static expect *find_expect(const uint8_t *id, bool add)
{
	for (size_t i = 0; i < nexp; i++)
		if (memcmp(exp_tab[i].id.bytes, id, 32) == 0)
			return &exp_tab[i];
	if (!add)
		return NULL;
	if (nexp == capexp) {
		capexp = capexp ? 2 * capexp : 1024;
		exp_tab = realloc(exp_tab, capexp * sizeof(*exp_tab));
		if (!exp_tab)
			abort();
	}
	memset(&exp_tab[nexp], 0, sizeof(exp_tab[0]));
	memcpy(exp_tab[nexp].id.bytes, id, 32);
	return &exp_tab[nexp++];
}

/* Read the log: committed counts, and the uncommitted tail if any. */
static size_t load_log(const char *path)
{
	record r[1], pending[MAX_ITEMS + 1];
	size_t np = 0, commits = 0;
	int fd = open(path, O_RDONLY);

	nexp = 0;
	while (fd >= 0 && read(fd, r, sizeof(r[0])) == sizeof(r[0])) {
		if (r[0].kind == REC_INTENT) {
			if (np > MAX_ITEMS)
				abort();
			pending[np++] = r[0];
		} else if (r[0].kind == REC_COMMIT) {
			for (size_t i = 0; i < np; i++) {
				expect *e = find_expect(pending[i].id, true);

				e->seed = pending[i].seed;
				e->size = pending[i].size;
				e->refs += pending[i].delta;
			}
			np = 0;
			commits++;
		} else if (r[0].kind == REC_ABORT) {
			np = 0;
		}
	}
	if (fd >= 0)
		close(fd);
	for (size_t i = 0; i < np; i++) {
		expect *e = find_expect(pending[i].id, true);

		e->seed = pending[i].seed;
		e->size = pending[i].size;
		e->pending += pending[i].delta;
	}
	return commits;
}

static int failures;

#define FAILF(...)                                                        \
	do {                                                              \
		fprintf(stderr, "FAIL: " __VA_ARGS__);                    \
		fputc('\n', stderr);                                      \
		failures++;                                               \
	} while (0)

typedef struct stats {
	long kills, checked, read_back, orphans, in_flight_applied,
		in_flight_dropped;
} stats;

/* A RADOS store's pool, in the full checks (B3CAS_TEST_RADOS=1). */
static b3cas_rados *pool;

static int count_indexed(const b3cas_object_info *info, void *arg)
{
	long *n = arg;
	expect *e = find_expect(info->id.bytes, false);
	int64_t own = 0;

	(*n)++;
	/* the pool never counts fewer references than the hosts hold: a
	 * kill between the pool and the index leaves one too many, never
	 * one too few */
	if (pool && (b3cas__rados_counts(pool, info->id.bytes, NULL, &own) !=
			     0 ||
		     own < 1)) {
		char hex[65];

		FAILF("the index holds %s, the pool counts %lld of this "
		      "host's references (%s)", b3cas_oid_fmt(hex, &info->id),
		      (long long)own, b3cas_error_last());
	}
	/* Listed with a reference: committed, or the in-flight put; an
	 * in-flight delete of its last reference may not have happened. */
	/* A chunking store lists its chunks too (at most 4096 bytes under
	 * tu_store_policy): objects no operation put by themselves. */
	if (!e && tu_chunking() && info->size <= 4096)
		return 0;
	if (!e || (e->refs < 1 && e->refs + e->pending < 1)) {
		char hex[65];

		FAILF("the index lists %s, which no operation stored",
		      b3cas_oid_fmt(hex, &info->id));
	}
	return 0;
}

/* Look at one id; *state says which side of the in-flight op we saw. */
static void check_one(b3cas_store *s, expect *e, int *state, stats *st)
{
	b3cas_object_info info;
	char hex[65];
	int64_t have;
	int rc = b3cas_store_stat(s, &e->id, &info);

	b3cas_oid_fmt(hex, &e->id);
	have = rc == 0 ? (int64_t)info.refs : 0;
	if (rc < 0 && rc != B3CAS_ENOTFOUND) {
		FAILF("stat %s: %s", hex, b3cas_error_last());
		return;
	}
	if (e->pending) {
		int side = have == e->refs ? 0 : have == e->refs + e->pending
							 ? 1 : -1;

		if (side < 0 || (*state >= 0 && side != *state))
			FAILF("%s has %lld references: %lld committed, %+lld in "
			      "flight, not applied all-or-nothing",
			      hex, (long long)have, (long long)e->refs,
			      (long long)e->pending);
		*state = side;
	} else if (have != e->refs) {
		FAILF("%s has %lld references; %lld were acknowledged", hex,
		      (long long)have, (long long)e->refs);
	}
	if (have > 0) {
		void *data;
		size_t len;
		uint8_t *want;

		rc = b3cas_store_get(s, &e->id, &data, &len);
		if (rc != 0) {
			FAILF("get %s: %s", hex, b3cas_error_last());
			return;
		}
		want = cu_gen_alloc(e->seed, e->size);
		if (len != e->size || memcmp(data, want, len) != 0)
			FAILF("%s reads back wrong bytes", hex);
		free(want);
		b3cas_free(data);
		st->read_back++;
	}
	st->checked++;
}

/* A pool object this host counts a reference to but holds none of: the
 * harmless over-count a kill between the pool and the index leaves (GC
 * of an object this host never listed does not release it). */
static int pool_extra(void *ctx, const uint8_t id[32])
{
	void **a = ctx;
	b3cas_oid oid;
	int64_t own = 0;
	int rc;

	memcpy(oid.bytes, id, 32);
	rc = b3cas_store_exists(a[0], &oid);
	if (rc == 0 && b3cas__rados_counts(pool, id, NULL, &own) == 0 &&
	    own > 0)
		(*(long *)a[1])++;
	return 0;
}

static long count_orphans(b3cas_store *s, const char *root)
{
	char path[4300];
	long n = 0;

	for (int i = 0; i < 256; i++) {
		DIR *d;
		struct dirent *e;

		snprintf(path, sizeof(path), "%s/objects/%02x", root, i);
		d = opendir(path);
		while (d && (e = readdir(d)) != NULL) {
			b3cas_oid id;

			if (e->d_name[0] == '.')
				continue;
			if (b3cas_oid_parse(&id, e->d_name) != 0) {
				FAILF("stray file objects/%02x/%s", i,
				      e->d_name);
				continue;
			}
			n += b3cas_store_exists(s, &id) != 1;
		}
		if (d)
			closedir(d);
	}
	return n;
}

static void check_store(const char *root, const char *log_path, bool full,
			stats *st)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *s;
	int state = -1;
	char tmp[4300];

	/* A kill while the store was being made leaves no acknowledged
	 * write; opening with create finishes making it. */
	o.create = true;
	tu_store_policy_at(&o, root);
	load_log(log_path);
	if (b3cas_store_open(&s, root, &o) != 0) {
		FAILF("store does not open after kill %ld: %s", st->kills,
		      b3cas_error_last());
		return;
	}
	snprintf(tmp, sizeof(tmp), "%s/tmp", root);
	if (cu_count_entries(tmp) != 0)
		FAILF("tmp/ not emptied at open");
	for (size_t i = 0; i < nexp; i++)
		if (full || exp_tab[i].pending || i + 64 >= nexp ||
		    cu_below(&(uint64_t){i * 31 + (uint64_t)st->kills}, 16) ==
			    0)
			check_one(s, &exp_tab[i], &state, st);
	if (state == 1)
		st->in_flight_applied++;
	else if (state == 0)
		st->in_flight_dropped++;
	if (full) {
		long indexed = 0;

		if (tu_rados() && !(pool = tu_pool_try_open(root)))
			FAILF("the pool of %s does not open", root);
		if (b3cas_store_foreach(s, count_indexed, &indexed) != 0)
			FAILF("foreach: %s", b3cas_error_last());
		if (pool) {
			long extra = 0;
			void *a[2] = {s, &extra};

			if (b3cas__rados_list(pool, pool_extra, a, NULL) != 0)
				FAILF("pool list: %s", b3cas_error_last());
			st->orphans = extra;
			b3cas__rados_close(pool);
			pool = NULL;
		} else {
			st->orphans = count_orphans(s, root);
		}
	}
	if (b3cas_store_close(s) != 0)
		FAILF("close: %s", b3cas_error_last());
}

static void kill_once(const char *self, const char *root, const char *log,
		      int mode, uint64_t *rng)
{
	int pipefd[2];
	char seed_arg[32], mode_arg[8], fd_arg[8];
	pid_t pid;
	char c;
	int status;

	if (pipe(pipefd) != 0)
		abort();
	snprintf(seed_arg, sizeof(seed_arg), "%llu",
		 (unsigned long long)tu_rand(rng));
	snprintf(mode_arg, sizeof(mode_arg), "%d", mode);
	snprintf(fd_arg, sizeof(fd_arg), "%d", pipefd[1]);
	pid = fork();
	if (pid == 0) {
		close(pipefd[0]);
		execl(self, self, "writer", root, mode_arg, log, seed_arg,
		      fd_arg, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	if (cu_chance(rng, 1, 10)) {
		/* Sometimes during the open itself. */
		usleep((useconds_t)cu_below(rng, 30000));
	} else {
		if (read(pipefd[0], &c, 1) != 1)
			FAILF("writer did not start");
		usleep((useconds_t)cu_below(rng, 80000));
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	close(pipefd[0]);
	if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
		FAILF("writer ended by itself (status %d) before the kill",
		      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

int main(int argc, char **argv)
{
	/* B3CAS_TEST_LONG (scripts/campaign.sh): five times the kills CI
	 * runs (tests/core/CMakeLists.txt) */
	unsigned long kills = cu_env_num("B3CAS_CRASH_KILLS", 210) *
			      (getenv("B3CAS_TEST_LONG") ? 5 : 1);
	uint64_t seed, rng;
	stats st = {0};
	char base[512], root[600], log[640];
	double t0 = cu_now();

	if (argc == 7 && strcmp(argv[1], "writer") == 0)
		return run_writer(argv[2], atoi(argv[3]), argv[4],
				  strtoull(argv[5], NULL, 10), atoi(argv[6]));
	seed = cu_seed_from_env();
	rng = seed;
	fprintf(stderr, "[test_store_crash] seed %llu, %lu kills\n",
		(unsigned long long)seed, kills);
	if (!cu_mkdtemp(base, sizeof(base), "crash"))
		return 1;
	for (unsigned long k = 0; k < kills && failures == 0; k++) {
		/* A fresh store every 70 kills keeps each check short. */
		if (k % 70 == 0) {
			snprintf(root, sizeof(root), "%s/store-%lu", base, k);
			snprintf(log, sizeof(log), "%s/log-%lu", base, k);
		}
		kill_once(argv[0], root, log, (int)(k % 3), &rng);
		st.kills++;
		if (access(root, F_OK) != 0)
			continue; /* killed before the store was made */
		check_store(root, log, k % 70 == 69 || k + 1 == kills, &st);
		if (failures)
			fprintf(stderr, "after kill %lu (mode %lu); replay "
				"with B3CAS_TEST_SEED=%llu\n",
				k, k % 3, (unsigned long long)seed);
	}
	fprintf(stderr,
		"[test_store_crash] %ld kills in %.1f s: %ld id checks, %ld "
		"objects read back byte-exact, in-flight op applied %ld / "
		"not applied %ld times, %ld %s (harmless), %d failures\n",
		st.kills, cu_now() - t0, st.checked, st.read_back,
		st.in_flight_applied, st.in_flight_dropped, st.orphans,
		tu_rados() ? "pool objects counted for this host, not held "
			     "(GC candidates, or a kill's over-count)"
			   : "unreferenced loose files",
		failures);
	if (failures == 0)
		cu_rm_rf(base);
	else
		fprintf(stderr, "stores kept in %s\n", base);
	return failures ? 1 : 0;
}
