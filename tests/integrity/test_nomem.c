/*
 * test_nomem.c - failed allocations: every allocation that b3cas's own
 * code makes on the path of a public operation is made to fail, and each
 * failure must leave a clean error and a sound store.
 *
 * How: the test links the static library with --wrap for the allocation
 * functions (tests/integrity/CMakeLists.txt; the library calls malloc,
 * calloc, strdup and aligned_alloc, and opendir, fdopendir and realpath,
 * which allocate inside libc), so those calls, in the library and in this
 * file, land in the wrappers below. RocksDB's allocations (a shared
 * library whose failed new throws) and OpenSSL's are not our error paths
 * and are not failed. Disarmed, the wrappers pass every call through;
 * armed, they count the calls of every thread (GC sweeps in a thread of
 * its own) and fail one with ENOMEM: by default the first allocation made
 * from a call stack that no earlier run of the sweep has failed, so each
 * allocation site on the path fails once (a loop of 256 allocations is
 * one site). With B3CAS_TEST_LONG=1 every operation is swept twice more:
 * failing the Nth allocation for every N, and with sticky plans, where
 * every allocation after the first failed one fails too.
 * B3CAS_NOMEM_TRACE=1 prints the stack of each failed allocation (for
 * addr2line).
 *
 * For each operation in ops[] (opens, puts, put_batch, writers, gets,
 * views, get_batch, readers, references, walks, GC, stats, the cache
 * manager, close, reads that heal from a mirror), runs go on until one
 * reaches its end without an allocation to fail. After each run, with the
 * allocator disarmed:
 *  - the call returned B3CAS_ENOMEM with a message, or succeeded with a
 *    result that is right (some allocations are optional: a cache entry,
 *    the hashing pool, the saved bloom filter), never a success with a
 *    wrong result, and a failed call changed no reference count;
 *  - no staging file is left in tmp/; the handle closes with 0 and leaves
 *    the thread's error message as it was; no descriptor is left open or
 *    was closed that was not ours;
 *  - a new read-only handle opens, fsck finds nothing, every object the
 *    store acknowledged reads back byte-exact with exactly the references
 *    acknowledged, and nothing else is stored;
 *  - under AddressSanitizer, LeakSanitizer reports no leak at exit.
 *
 * What it catches (each seen: docs/store.md, "Failed allocations"): a
 * leak, double free or use after free on an error path (the sanitizer),
 * an error code other than B3CAS_ENOMEM for a failed allocation (L2's
 * open said B3CAS_EIO), an error without a message, a success after a
 * lost allocation (stats with zeroed latencies), a failed create that
 * leaves a store no open accepts, a descriptor closed that was not ours
 * (standard input), a close that erases the caller's error message.
 *
 * fsck, scrub and backup are not swept (they run here only as checkers).
 */
#include <dirent.h>
#include <errno.h>
#include <execinfo.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "store/store_int.h"
#include "filter/filter.h"
#include "test_util.h"

/* ---- the failing allocator -------------------------------------------- */

#define SITES_MAX 4096
#define FRAMES_MAX 64

/*
 * What to fail. By site (the default), a run fails the first allocation
 * made from a call stack that no earlier run of the sweep has failed, so
 * a loop that allocates 256 times is one site, failed once; by number
 * (B3CAS_TEST_LONG), the Nth allocation, whatever its stack.
 */
static struct {
	atomic_bool armed;
	atomic_ullong seen;          /* allocations while armed */
	atomic_ullong fired;         /* of those, failed */
	bool by_site;
	unsigned long long fail_at;  /* by number: 1-based */
	bool sticky;                 /* and every allocation after it */
	bool trace;                  /* print the stack of each failed one */
	pthread_mutex_t lock;        /* guards sites */
	uint64_t sites[SITES_MAX];   /* stacks failed in this sweep */
	size_t nsites;
} plan = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* The calling thread is inside the plan (backtrace must not recurse). */
static _Thread_local bool in_plan;

/* A hash of the call stack: the allocation's site. */
static uint64_t call_site(void)
{
	void *frames[FRAMES_MAX];
	int n = backtrace(frames, FRAMES_MAX);
	uint64_t h = 0xcbf29ce484222325ull;

	for (int i = 0; i < n; i++)
		h = (h ^ (uint64_t)(uintptr_t)frames[i]) * 0x100000001b3ull;
	return h;
}

/* By site: is this the first allocation of a site not failed yet? */
static bool new_site(void)
{
	uint64_t site = call_site();
	bool fresh = true;

	pthread_mutex_lock(&plan.lock);
	for (size_t i = 0; fresh && i < plan.nsites; i++)
		fresh = plan.sites[i] != site;
	if (fresh && plan.nsites < SITES_MAX)
		plan.sites[plan.nsites++] = site;
	pthread_mutex_unlock(&plan.lock);
	return fresh;
}

/* Should this allocation fail? Sets errno as the real one would. */
static bool fail_now(void)
{
	unsigned long long n;
	bool fail;

	if (!atomic_load_explicit(&plan.armed, memory_order_acquire) ||
	    in_plan)
		return false;
	in_plan = true;
	n = atomic_fetch_add(&plan.seen, 1) + 1;
	if (plan.sticky && atomic_load(&plan.fired))
		fail = true;
	else if (plan.by_site)
		fail = !atomic_load(&plan.fired) && new_site();
	else
		fail = n == plan.fail_at;
	if (fail && plan.trace && atomic_load(&plan.fired) == 0) {
		void *frames[FRAMES_MAX];

		/* backtrace_symbols_fd does not allocate */
		backtrace_symbols_fd(frames, backtrace(frames, FRAMES_MAX), 2);
		write(2, "\n", 1);
	}
	in_plan = false;
	if (!fail)
		return false;
	atomic_fetch_add(&plan.fired, 1);
	errno = ENOMEM;
	return true;
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
int __real_posix_memalign(void **p, size_t a, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
DIR *__real_opendir(const char *name);
DIR *__real_fdopendir(int fd);
char *__real_realpath(const char *path, char *resolved);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_posix_memalign(void **p, size_t a, size_t n);
void *__wrap_aligned_alloc(size_t a, size_t n);
DIR *__wrap_opendir(const char *name);
DIR *__wrap_fdopendir(int fd);
char *__wrap_realpath(const char *path, char *resolved);

void *__wrap_malloc(size_t n)
{
	return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
	return fail_now() ? NULL : __real_calloc(n, m);
}

/* A failed realloc leaves the old block as it was. */
void *__wrap_realloc(void *p, size_t n)
{
	return fail_now() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
	return fail_now() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	return fail_now() ? NULL : __real_strndup(s, n);
}

int __wrap_posix_memalign(void **p, size_t a, size_t n)
{
	return fail_now() ? ENOMEM : __real_posix_memalign(p, a, n);
}

void *__wrap_aligned_alloc(size_t a, size_t n)
{
	return fail_now() ? NULL : __real_aligned_alloc(a, n);
}

/*
 * libc calls that allocate inside libc, where --wrap cannot reach: they
 * fail as a whole, as they do when their malloc does. (fdopendir leaves
 * fd open then.)
 */
DIR *__wrap_opendir(const char *name)
{
	return fail_now() ? NULL : __real_opendir(name);
}

DIR *__wrap_fdopendir(int fd)
{
	return fail_now() ? NULL : __real_fdopendir(fd);
}

/* Only realpath(path, NULL) allocates the result. */
char *__wrap_realpath(const char *path, char *resolved)
{
	return !resolved && fail_now() ? NULL
					: __real_realpath(path, resolved);
}

/* A new sweep: no site failed yet. */
static void plan_start(bool by_site, bool sticky)
{
	plan.by_site = by_site;
	plan.sticky = sticky;
	plan.nsites = 0;
}

/* Arm for the next run; fail_at is used by number. */
static void arm(unsigned long long fail_at)
{
	atomic_store(&plan.seen, 0);
	atomic_store(&plan.fired, 0);
	plan.fail_at = fail_at;
	atomic_store_explicit(&plan.armed, true, memory_order_release);
}

/* Stop failing; how many allocations failed since arm(). */
static unsigned long long disarm(void)
{
	atomic_store(&plan.armed, false);
	return atomic_load(&plan.fired);
}

/* ---- the store and what it must hold ------------------------------------ */

#define THRESHOLD 1024
#define L2_BYTES (8u << 20) /* copies of up to 128 KiB */

/* The objects the test knows; refs is what the store acknowledged. */
enum {
	O_INLINE,     /* stored at the start */
	O_LOOSE,      /* stored at the start, two references */
	O_LARGE,      /* stored at the start; hashed on the pool */
	O_EMPTY,      /* 0 bytes, stored at the start */
	O_PUT_INLINE, /* stored by the sweeps, one each */
	O_PUT_LOOSE,
	O_PUT_LARGE,
	O_BATCH_INLINE,
	O_BATCH_LOOSE,
	O_W_INLINE,
	O_W_LOOSE,
	O_W_LARGE,
	O_DEL,        /* stored at the start, deleted by a sweep */
	O_GC,         /* made a GC candidate and collected */
	O_HEAL,       /* stored at the start, damaged, healed */
	O_MISSING,    /* never stored */
	NOBJ
};

static const size_t obj_len[NOBJ] = {
	[O_INLINE] = 200,         [O_LOOSE] = 5000,
	[O_LARGE] = 600 * 1024,   [O_EMPTY] = 0,
	[O_PUT_INLINE] = 300,     [O_PUT_LOOSE] = 7000,
	[O_PUT_LARGE] = 700 * 1024,
	[O_BATCH_INLINE] = 100,   [O_BATCH_LOOSE] = 3000,
	[O_W_INLINE] = 900,       [O_W_LOOSE] = 100 * 1024,
	[O_W_LARGE] = 1536 * 1024,
	[O_DEL] = 2000,           [O_GC] = 4000,
	[O_HEAL] = 6000,          [O_MISSING] = 50,
};

static struct object {
	uint8_t *data;
	b3cas_oid id;
	uint64_t refs;  /* acknowledged references; 0: not stored */
} objs[NOBJ];

static char root[256], store_dir[300], fresh_dir[320], fresh_tier[330];
static char mirror_dir[300]; /* a backup of the store's first objects */
static uint8_t *read_buf; /* room for the largest object */

/* Handle options an operation asks for. */
enum {
	H_OWN = 1 << 0,    /* the operation opens (or closes) the handle */
	H_NO_L1 = 1 << 1,  /* L1 off */
	H_NO_L2 = 1 << 2,  /* L2 off */
	H_MIRROR = 1 << 3, /* mirror_dir: heals from the backup */
};

static b3cas_store_options handle_options(unsigned flags)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;

	o.inline_threshold = THRESHOLD;
	o.durability = B3CAS_DURABILITY_NONE;
	o.l1_bytes = flags & H_NO_L1 ? 0 : B3CAS_L1_BYTES_DEFAULT;
	o.l2_bytes = flags & H_NO_L2 ? 0 : L2_BYTES;
	o.mirror_dir = flags & H_MIRROR ? mirror_dir : NULL;
	return o;
}

/*
 * Wait for the bloom filter that an open may build in the background:
 * whether close finds one to save (and the next open one to load) then
 * does not depend on timing, so every run of a sweep takes one path.
 */
static void settle(b3cas_store *s)
{
	struct timespec ms = {0, 1000 * 1000};

	while (b3cas__filter_building(b3cas__store_filter(s)))
		nanosleep(&ms, NULL);
}

static b3cas_store *open_handle(unsigned flags)
{
	b3cas_store_options o = handle_options(flags);
	b3cas_store *s = NULL;

	if (b3cas_store_open(&s, store_dir, &o) != 0)
		fail_msg("open %s: %s", store_dir, b3cas_error_last());
	settle(s);
	return s;
}

/* Entries in a folder (not . and ..), -1 if it cannot be read. */
static int count_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

/* The descriptors open in this process (the listing's own excluded). */
static int count_fds(void)
{
	return count_entries("/proc/self/fd") - 1;
}

static void expect_bytes(const void *got, size_t len, int i)
{
	assert_int_equal(len, obj_len[i]);
	if (len)
		tu_expect_mem(got, objs[i].data, len, "object %d", i);
}

/* A failed call: B3CAS_ENOMEM, and a message saying why. */
static void expect_nomem(int64_t rc, const char *what)
{
	if (rc != B3CAS_ENOMEM)
		fail_msg("%s: a failed allocation gave %lld (%s: %s), not "
			 "B3CAS_ENOMEM", what, (long long)rc,
			 b3cas_strerror((int)rc), b3cas_error_last());
	if (!*b3cas_error_last())
		fail_msg("%s: B3CAS_ENOMEM without a message", what);
}

/*
 * The whole store against the model, through a new read-only handle
 * without caches (so the bytes come from where they are kept): fsck
 * finds nothing, every object acknowledged reads back with exactly its
 * references, and nothing else is stored.
 */
static void verify_store(const char *what)
{
	b3cas_store_options o = handle_options(H_NO_L1 | H_NO_L2);
	b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;
	b3cas_fsck_report r;
	b3cas_store *s = NULL;
	b3cas_stats st;
	uint64_t stored = 0;

	o.read_only = true;
	if (b3cas_store_open(&s, store_dir, &o) != 0)
		fail_msg("%s: the store does not open again: %s", what,
			 b3cas_error_last());
	assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
	if (r.problems)
		fail_msg("%s: fsck finds %llu problems (%llu orphans)", what,
			 (unsigned long long)r.problems,
			 (unsigned long long)r.orphans);
	for (int i = 0; i < NOBJ; i++) {
		uint64_t count = 0;
		void *buf;
		size_t len;

		if (!objs[i].refs) {
			assert_int_equal(b3cas_store_exists(s, &objs[i].id), 0);
			continue;
		}
		stored++;
		if (b3cas_store_get(s, &objs[i].id, &buf, &len) != 0)
			fail_msg("%s: object %d: %s", what, i,
				 b3cas_error_last());
		expect_bytes(buf, len, i);
		b3cas_free(buf);
		assert_int_equal(b3cas_refcount(s, &objs[i].id, &count), 0);
		if (count != objs[i].refs)
			fail_msg("%s: object %d has %llu references, %llu "
				 "acknowledged", what, i,
				 (unsigned long long)count,
				 (unsigned long long)objs[i].refs);
	}
	assert_int_equal(b3cas_store_stats(s, &st), 0);
	if (st.objects != stored)
		fail_msg("%s: %llu objects stored, %llu acknowledged", what,
			 (unsigned long long)st.objects,
			 (unsigned long long)stored);
	assert_int_equal(b3cas_store_close(s), 0);
}

static void put_known(b3cas_store *s, int i)
{
	b3cas_oid id;
	int rc = b3cas_store_put(s, &id, objs[i].data, obj_len[i]);

	if (rc < 0)
		fail_msg("put %d: %s", i, b3cas_error_last());
	assert_true(b3cas_oid_equal(&id, &objs[i].id));
	objs[i].refs++;
}

static int setup(void **state)
{
	uint64_t rng = 0x6e6f6d656dull; /* the bytes do not matter */
	b3cas_store_options o = handle_options(0);
	b3cas_store *s = NULL;

	(void)state;
	/* backtrace loads its unwinder on first use: not while armed */
	(void)call_site();
	plan.trace = getenv("B3CAS_NOMEM_TRACE") != NULL;
	tu_make_root(root, sizeof(root), "nomem");
	snprintf(store_dir, sizeof(store_dir), "%s/store", root);
	snprintf(mirror_dir, sizeof(mirror_dir), "%s/mirror", root);
	read_buf = malloc(obj_len[O_W_LARGE]);
	assert_non_null(read_buf);
	for (int i = 0; i < NOBJ; i++) {
		objs[i].data = malloc(obj_len[i] + 1);
		assert_non_null(objs[i].data);
		tu_fill_random(objs[i].data, obj_len[i], &rng);
		b3cas_hash(objs[i].id.bytes, objs[i].data, obj_len[i]);
	}
	o.create = true;
	assert_int_equal(b3cas_store_open(&s, store_dir, &o), 0);
	put_known(s, O_INLINE);
	put_known(s, O_LOOSE);
	put_known(s, O_LOOSE);
	put_known(s, O_LARGE);
	put_known(s, O_EMPTY);
	put_known(s, O_DEL);
	put_known(s, O_HEAL);
	/* a copy in L2, for the opens to list */
	assert_int_equal(b3cas_cache_load(s, &objs[O_LOOSE].id), 0);
	assert_int_equal(b3cas_backup(s, mirror_dir, NULL, NULL), 0);
	assert_int_equal(b3cas_store_close(s), 0);
	verify_store("setup");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_remove_root(root);
	for (int i = 0; i < NOBJ; i++)
		free(objs[i].data);
	free(read_buf);
	return 0;
}

/* ---- the operations -------------------------------------------------------- */

typedef struct op op;

struct op {
	const char *name;
	int obj;        /* the object it works on, or a variant (open: 1
			   read-only; get_batch: 1 without results) */
	unsigned flags; /* H_... */
	/* Disarmed, on the handle the operation will use (NULL with
	 * H_OWN): bring the store and caches to the state it needs. */
	void (*prepare)(b3cas_store *s, const op *o);
	/* Armed: the operation itself; may open or close *sp. */
	int64_t (*run)(b3cas_store **sp, const op *o);
	/* Disarmed: rc is run's; check what it did (a failure too) and
	 * update the model. s is the handle after run (NULL if closed). */
	void (*check)(b3cas_store *s, const op *o, int64_t rc);
	/* Instead of verify_store, for an operation on another store. */
	void (*verify)(const op *o);
};

/* The sweep's position, for messages; how many allocations failed in
 * the last run. */
static char what[128];
static unsigned long long last_fired;

/* What a run returned, for its check. */
static struct {
	b3cas_oid id;
	void *buf;
	size_t len;
	b3cas_blob *blob;
	uint64_t count;
	bool is_dup;
	b3cas_object_info info;
	b3cas_stats stats;
	b3cas_gc_report gc;
} out;

static void evict(b3cas_store *s, const op *o)
{
	b3cas_cache_evict(s, &objs[o->obj].id);
}

static void load(b3cas_store *s, const op *o)
{
	b3cas_cache_evict(s, &objs[o->obj].id);
	assert_int_equal(b3cas_cache_load(s, &objs[o->obj].id), 0);
}

/* A check for an operation that changes nothing and returns 0. */
static void check_zero(b3cas_store *s, const op *o, int64_t rc)
{
	(void)s;
	(void)o;
	if (rc < 0)
		expect_nomem(rc, what);
	else
		assert_int_equal(rc, 0);
}

/* ---- open and close ---- */

static int64_t run_open(b3cas_store **sp, const op *o)
{
	b3cas_store_options opts = handle_options(0);

	opts.read_only = o->obj == 1;
	return b3cas_store_open(sp, store_dir, &opts);
}

static void check_open(b3cas_store *s, const op *o, int64_t rc)
{
	(void)o;
	if (rc < 0) {
		expect_nomem(rc, what);
		assert_null(s);
		return;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(b3cas_store_exists(s, &objs[O_INLINE].id), 1);
	settle(s);
}

/* The filter saved at close is gone: this open builds one. */
static void prepare_no_filter(b3cas_store *s, const op *o)
{
	char path[320];

	(void)s;
	(void)o;
	snprintf(path, sizeof(path), "%s/cache/bloom", store_dir);
	unlink(path);
}

static void rm_rf(const char *path)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	assert_int_equal(system(cmd), 0);
}

static b3cas_store_options create_options(void)
{
	/* L2's open is swept with the opens of the store (256 folders
	 * fewer to make each time here) */
	b3cas_store_options o = handle_options(H_NO_L2);

	o.create = true;
	o.objects_dir = fresh_tier;  /* the tier elsewhere: realpath */
	o.mirror_dir = store_dir;    /* kept, opened only when needed */
	return o;
}

static void prepare_create(b3cas_store *s, const op *o)
{
	(void)s;
	(void)o;
	snprintf(fresh_dir, sizeof(fresh_dir), "%s/fresh", root);
	snprintf(fresh_tier, sizeof(fresh_tier), "%s/fresh-tier", root);
	rm_rf(fresh_dir);
	rm_rf(fresh_tier);
}

static int64_t run_create(b3cas_store **sp, const op *o)
{
	b3cas_store_options opts = create_options();

	(void)o;
	return b3cas_store_open(sp, fresh_dir, &opts);
}

static void check_create(b3cas_store *s, const op *o, int64_t rc)
{
	(void)o;
	if (rc < 0) {
		expect_nomem(rc, what);
		assert_null(s);
		return;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(b3cas_store_exists(s, &objs[O_INLINE].id), 0);
	settle(s);
}

/* Whatever a failed create left, creating again makes a sound store. */
static void verify_create(const op *o)
{
	b3cas_store_options opts = create_options();
	b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;
	b3cas_fsck_report r;
	b3cas_store *s = NULL;
	void *buf;
	size_t len;

	(void)o;
	if (b3cas_store_open(&s, fresh_dir, &opts) != 0)
		fail_msg("%s: the store cannot be made afterwards: %s", what,
			 b3cas_error_last());
	put_known(s, O_LOOSE);
	objs[O_LOOSE].refs--; /* that was another store */
	assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
	assert_int_equal(r.problems, 0);
	assert_int_equal(b3cas_store_get(s, &objs[O_LOOSE].id, &buf, &len),
			 0);
	expect_bytes(buf, len, O_LOOSE);
	b3cas_free(buf);
	assert_int_equal(b3cas_store_close(s), 0);
	rm_rf(fresh_dir);
	rm_rf(fresh_tier);
}

static int64_t run_close(b3cas_store **sp, const op *o)
{
	int rc = b3cas_store_close(*sp);

	(void)o;
	*sp = NULL;
	return rc;
}

/* ---- puts ---- */

static int64_t run_put(b3cas_store **sp, const op *o)
{
	return b3cas_store_put(*sp, &out.id, objs[o->obj].data,
			       obj_len[o->obj]);
}

static void check_put(b3cas_store *s, const op *o, int64_t rc)
{
	struct object *x = &objs[o->obj];

	(void)s;
	if (rc < 0) {
		expect_nomem(rc, what);
		return;
	}
	assert_int_equal(rc, x->refs ? 1 : 0);
	assert_true(b3cas_oid_equal(&out.id, &x->id));
	x->refs++;
}

/* New inline, new loose, a stored one, the first again, the pooled one. */
static const int batch_items[] = {O_BATCH_INLINE, O_BATCH_LOOSE, O_INLINE,
				  O_BATCH_INLINE, O_LARGE};
#define BATCH_N (sizeof(batch_items) / sizeof(batch_items[0]))
static b3cas_oid batch_ids[BATCH_N];
static bool batch_dups[BATCH_N];

static int64_t run_put_batch(b3cas_store **sp, const op *o)
{
	const void *data[BATCH_N];
	size_t lens[BATCH_N];

	(void)o;
	for (size_t i = 0; i < BATCH_N; i++) {
		data[i] = objs[batch_items[i]].data;
		lens[i] = obj_len[batch_items[i]];
	}
	memset(batch_ids, 0, sizeof(batch_ids));
	return b3cas_store_put_batch(*sp, batch_ids, batch_dups, data, lens,
				     BATCH_N);
}

static void check_put_batch(b3cas_store *s, const op *o, int64_t rc)
{
	(void)s;
	(void)o;
	if (rc < 0) {
		expect_nomem(rc, what); /* and no reference added */
		return;
	}
	assert_int_equal(rc, 0);
	for (size_t i = 0; i < BATCH_N; i++) {
		struct object *x = &objs[batch_items[i]];

		assert_true(b3cas_oid_equal(&batch_ids[i], &x->id));
		assert_int_equal(batch_dups[i], x->refs > 0);
		x->refs++;
	}
}

/* ---- streaming ---- */

static int64_t run_writer(b3cas_store **sp, const op *o)
{
	const struct object *x = &objs[o->obj];
	size_t len = obj_len[o->obj], step = len > 200000 ? 256 * 1024 : 10000;
	b3cas_writer *w;
	int rc = b3cas_writer_open(&w, *sp);

	if (rc < 0)
		return rc;
	for (size_t off = 0; off < len; off += step) {
		rc = b3cas_writer_write(w, x->data + off,
					len - off < step ? len - off : step);
		if (rc < 0) {
			b3cas_writer_abort(w);
			return rc;
		}
	}
	return b3cas_writer_commit(w, &out.id);
}

static int64_t run_reader(b3cas_store **sp, const op *o)
{
	b3cas_reader *r;
	int64_t n = 0;
	int rc = b3cas_reader_open(&r, *sp, &objs[o->obj].id);

	if (rc < 0)
		return rc;
	out.len = 0;
	assert_int_equal(b3cas_reader_size(r), obj_len[o->obj]);
	while ((n = b3cas_reader_read(r, read_buf + out.len, 100000)) > 0)
		out.len += (size_t)n;
	b3cas_reader_close(r);
	return n;
}

static void check_reader(b3cas_store *s, const op *o, int64_t rc)
{
	(void)s;
	if (rc < 0) {
		expect_nomem(rc, what);
		return;
	}
	assert_int_equal(rc, 0);
	expect_bytes(read_buf, out.len, o->obj);
}

/* ---- reads ---- */

static int64_t run_get(b3cas_store **sp, const op *o)
{
	return b3cas_store_get(*sp, &objs[o->obj].id, &out.buf, &out.len);
}

static void check_get(b3cas_store *s, const op *o, int64_t rc)
{
	(void)s;
	if (rc < 0) {
		expect_nomem(rc, what);
		return;
	}
	assert_int_equal(rc, 0);
	expect_bytes(out.buf, out.len, o->obj);
	b3cas_free(out.buf);
}

static int64_t run_view(b3cas_store **sp, const op *o)
{
	return b3cas_store_get_view(*sp, &objs[o->obj].id, &out.blob);
}

static void check_view(b3cas_store *s, const op *o, int64_t rc)
{
	(void)s;
	if (rc < 0) {
		expect_nomem(rc, what);
		return;
	}
	assert_int_equal(rc, 0);
	expect_bytes(b3cas_blob_data(out.blob), b3cas_blob_size(out.blob),
		     o->obj);
	b3cas_blob_release(out.blob);
}

/* An L1 hit, an inline and two loose ones read cold, the empty object,
 * one that is not stored. */
static const int get_items[] = {O_LOOSE, O_INLINE, O_LARGE, O_DEL, O_EMPTY,
				O_MISSING};
#define GET_N (sizeof(get_items) / sizeof(get_items[0]))
static b3cas_oid get_ids[GET_N];
static void *get_bufs[GET_N];
static size_t get_lens[GET_N];
static int get_results[GET_N];

/* Not yet set by the call. */
#define UNSET 1

static void prepare_get_batch(b3cas_store *s, const op *o)
{
	(void)o;
	for (size_t i = 0; i < GET_N; i++) {
		get_ids[i] = objs[get_items[i]].id;
		get_bufs[i] = NULL;
		get_results[i] = UNSET;
		b3cas_cache_evict(s, &get_ids[i]);
	}
	assert_int_equal(b3cas_cache_load(s, &objs[O_LOOSE].id), 0);
}

static int64_t run_get_batch(b3cas_store **sp, const op *o)
{
	/* obj 1: without results (the call makes an array of its own) */
	return b3cas_store_get_batch(*sp, get_ids, GET_N, get_bufs, get_lens,
				     o->obj ? NULL : get_results);
}

/*
 * Each item is its bytes or its own error (B3CAS_ENOMEM after a failed
 * allocation, B3CAS_ENOTFOUND for the one not stored), and the call
 * returns the first item's error; or the call failed before any item.
 */
static void check_get_batch(b3cas_store *s, const op *o, int64_t rc)
{
	bool untouched = true;
	int first = 0;

	(void)s;
	for (size_t i = 0; i < GET_N; i++)
		untouched &= !get_bufs[i] &&
			     (o->obj || get_results[i] == UNSET);
	if (untouched) {
		expect_nomem(rc, what);
		return;
	}
	for (size_t i = 0; i < GET_N; i++) {
		const struct object *x = &objs[get_items[i]];
		int got = get_results[i];

		if (o->obj)
			got = get_bufs[i] ? 0
			      : x->refs   ? B3CAS_ENOMEM
					  : B3CAS_ENOTFOUND;
		if (got == 0) {
			assert_non_null(get_bufs[i]);
			expect_bytes(get_bufs[i], get_lens[i], get_items[i]);
			b3cas_free(get_bufs[i]);
			continue;
		}
		assert_null(get_bufs[i]);
		if (got != (x->refs ? B3CAS_ENOMEM : B3CAS_ENOTFOUND) ||
		    (x->refs && !last_fired))
			fail_msg("%s: item %zu gave %d (%s)", what, i, got,
				 b3cas_error_last());
		if (!first)
			first = got;
	}
	assert_int_equal(rc, first);
}

/* ---- references, walks, GC, stats ---- */

static int64_t run_delete(b3cas_store **sp, const op *o)
{
	return b3cas_store_delete(*sp, &objs[o->obj].id);
}

static int64_t run_ref_add(b3cas_store **sp, const op *o)
{
	return b3cas_ref_add(*sp, &objs[o->obj].id);
}

static int64_t run_ref_remove(b3cas_store **sp, const op *o)
{
	return b3cas_ref_remove(*sp, &objs[o->obj].id);
}

/* A new count: the old one, minus or plus one. */
static void check_count(b3cas_store *s, const op *o, int64_t rc, int by)
{
	struct object *x = &objs[o->obj];

	(void)s;
	if (rc < 0) {
		expect_nomem(rc, what);
		return;
	}
	assert_int_equal(rc, (int64_t)x->refs + by);
	x->refs = (uint64_t)rc;
}

static void check_down(b3cas_store *s, const op *o, int64_t rc)
{
	check_count(s, o, rc, -1);
}

static void check_up(b3cas_store *s, const op *o, int64_t rc)
{
	check_count(s, o, rc, 1);
}

static int64_t run_refcount(b3cas_store **sp, const op *o)
{
	return b3cas_refcount(*sp, &objs[o->obj].id, &out.count);
}

static void check_refcount(b3cas_store *s, const op *o, int64_t rc)
{
	check_zero(s, o, rc);
	if (rc == 0)
		assert_int_equal(out.count, objs[o->obj].refs);
}

static int64_t run_stat(b3cas_store **sp, const op *o)
{
	return b3cas_store_stat(*sp, &objs[o->obj].id, &out.info);
}

static void check_stat(b3cas_store *s, const op *o, int64_t rc)
{
	check_zero(s, o, rc);
	if (rc == 0) {
		assert_true(b3cas_oid_equal(&out.info.id, &objs[o->obj].id));
		assert_int_equal(out.info.size, obj_len[o->obj]);
		assert_int_equal(out.info.refs, objs[o->obj].refs);
		assert_int_equal(out.info.is_inline,
				 obj_len[o->obj] <= THRESHOLD);
	}
}

static int64_t run_exists(b3cas_store **sp, const op *o)
{
	return b3cas_store_exists(*sp, &objs[o->obj].id);
}

static void check_exists(b3cas_store *s, const op *o, int64_t rc)
{
	(void)s;
	if (rc < 0)
		expect_nomem(rc, what);
	else
		assert_int_equal(rc, objs[o->obj].refs > 0);
}

static int64_t run_dedup_check(b3cas_store **sp, const op *o)
{
	return b3cas_dedup_check(*sp, objs[o->obj].data, obj_len[o->obj],
				 &out.id, &out.is_dup);
}

static void check_dedup_check(b3cas_store *s, const op *o, int64_t rc)
{
	check_zero(s, o, rc);
	if (rc == 0) {
		assert_true(b3cas_oid_equal(&out.id, &objs[o->obj].id));
		assert_int_equal(out.is_dup, objs[o->obj].refs > 0);
	}
}

static int count_object(const b3cas_object_info *info, void *ctx)
{
	uint64_t *seen = ctx;

	for (int i = 0; i < NOBJ; i++) {
		if (!b3cas_oid_equal(&info->id, &objs[i].id))
			continue;
		assert_int_equal(info->refs, objs[i].refs);
		assert_int_equal(info->size, obj_len[i]);
		seen[i]++;
		return 0;
	}
	fail_msg("%s: foreach found an object the test never stored", what);
	return 0;
}

static uint64_t walk_seen[NOBJ];

static int64_t run_foreach(b3cas_store **sp, const op *o)
{
	(void)o;
	memset(walk_seen, 0, sizeof(walk_seen));
	return b3cas_store_foreach(*sp, count_object, walk_seen);
}

static void check_foreach(b3cas_store *s, const op *o, int64_t rc)
{
	check_zero(s, o, rc);
	for (int i = 0; rc == 0 && i < NOBJ; i++)
		assert_int_equal(walk_seen[i], objs[i].refs > 0);
}

/* O_DEL stored with one reference (again, for a second sweep). */
static void prepare_delete(b3cas_store *s, const op *o)
{
	(void)o;
	if (!objs[O_DEL].refs)
		put_known(s, O_DEL);
}

/* A candidate for the collection: O_GC put, then deleted. */
static void prepare_gc(b3cas_store *s, const op *o)
{
	uint64_t count;

	(void)o;
	if (b3cas_refcount(s, &objs[O_GC].id, &count) == 0)
		return; /* still a candidate from a failed run */
	put_known(s, O_GC);
	assert_int_equal(b3cas_store_delete(s, &objs[O_GC].id), 0);
	objs[O_GC].refs = 0;
}

static int64_t run_gc(b3cas_store **sp, const op *o)
{
	b3cas_gc_options go = B3CAS_GC_OPTIONS_INIT;

	/* In its own thread at nice 19, as by default: the plan counts
	 * every thread's allocations. */
	(void)o;
	return b3cas_gc(*sp, &go, &out.gc);
}

static void check_gc(b3cas_store *s, const op *o, int64_t rc)
{
	uint64_t count = 9;

	check_zero(s, o, rc);
	if (rc < 0) {
		/* still a candidate */
		assert_int_equal(b3cas_refcount(s, &objs[O_GC].id, &count), 0);
		assert_int_equal(count, 0);
		return;
	}
	assert_true(out.gc.objects >= 1);
	assert_int_equal(b3cas_refcount(s, &objs[O_GC].id, &count),
			 B3CAS_ENOTFOUND);
}

static void prepare_stats(b3cas_store *s, const op *o)
{
	void *buf;
	size_t len;

	(void)o;
	assert_int_equal(b3cas_store_get(s, &objs[O_INLINE].id, &buf, &len),
			 0);
	b3cas_free(buf);
}

static int64_t run_stats(b3cas_store **sp, const op *o)
{
	(void)o;
	return b3cas_store_stats(*sp, &out.stats);
}

/* What a second call, with nothing failing, says too. */
static void check_stats(b3cas_store *s, const op *o, int64_t rc)
{
	b3cas_stats again;

	check_zero(s, o, rc);
	if (rc < 0)
		return;
	assert_int_equal(b3cas_store_stats(s, &again), 0);
	assert_int_equal(out.stats.objects, again.objects);
	assert_int_equal(out.stats.references, again.references);
	assert_int_equal(out.stats.logical_bytes, again.logical_bytes);
	assert_int_equal(out.stats.physical_bytes, again.physical_bytes);
	assert_int_equal(out.stats.candidates, again.candidates);
	assert_int_equal(out.stats.gets, again.gets);
	assert_true(again.get.count > 0);
	if (out.stats.get.count != again.get.count ||
	    out.stats.get.p50 != again.get.p50)
		fail_msg("%s: stats succeeded with get latency count %llu, "
			 "p50 %g; a second call says %llu, %g", what,
			 (unsigned long long)out.stats.get.count,
			 out.stats.get.p50,
			 (unsigned long long)again.get.count, again.get.p50);
}

/* ---- the cache manager ---- */

static int64_t run_cache_load(b3cas_store **sp, const op *o)
{
	return b3cas_cache_load(*sp, &objs[o->obj].id);
}

static int64_t run_cache_evict(b3cas_store **sp, const op *o)
{
	return b3cas_cache_evict(*sp, &objs[o->obj].id);
}

static void check_cache_evict(b3cas_store *s, const op *o, int64_t rc)
{
	b3cas_blob *b;

	assert_int_equal(rc, 1);
	assert_int_equal(b3cas_cache_lookup(s, &objs[o->obj].id, &b), 0);
}

static int64_t run_cache_resize(b3cas_store **sp, const op *o)
{
	(void)o;
	return b3cas_cache_resize(*sp, B3CAS_L1_BYTES_DEFAULT / 2, L2_BYTES);
}

static void check_cache_resize(b3cas_store *s, const op *o, int64_t rc)
{
	b3cas_cache_stats cs;

	check_zero(s, o, rc);
	if (rc < 0)
		return;
	b3cas_cache_stats_get(s, &cs);
	assert_true(cs.l2.capacity > 0);
	/* and the new L2 works */
	assert_int_equal(b3cas_cache_load(s, &objs[O_LOOSE].id), 0);
}

/* ---- self-healing reads ---- */

/* Replace O_HEAL's file by one of the same size with other bytes. */
static void damage_heal(b3cas_store *s, const op *o)
{
	char path[420];
	uint8_t *junk;
	FILE *f;

	(void)o;
	b3cas_cache_evict(s, &objs[O_HEAL].id);
	tu_object_file(path, sizeof(path), store_dir, "objects",
		       &objs[O_HEAL].id);
	junk = tu_exact_copy(objs[O_HEAL].data, obj_len[O_HEAL]);
	junk[17] ^= 0x40;
	unlink(path);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(junk, 1, obj_len[O_HEAL], f),
			 obj_len[O_HEAL]);
	assert_int_equal(fclose(f), 0);
	free(junk);
}

/*
 * After a read that could not heal: the damaged file is in quarantine
 * and the object reads as corrupt until a read with the mirror heals it,
 * which one with nothing failing must do; then the store is whole.
 */
static void verify_healed(const op *o)
{
	b3cas_store *s = open_handle(H_MIRROR | H_NO_L1 | H_NO_L2);
	void *buf;
	size_t len;

	(void)o;
	if (b3cas_store_get(s, &objs[O_HEAL].id, &buf, &len) != 0)
		fail_msg("%s: the mirror does not heal it afterwards: %s",
			 what, b3cas_error_last());
	expect_bytes(buf, len, O_HEAL);
	b3cas_free(buf);
	assert_int_equal(b3cas_store_close(s), 0);
	verify_store(what);
}


/* ---- the sweep -------------------------------------------------------------- */

static const op ops[] = {
	{"open", 0, H_OWN, NULL, run_open, check_open, NULL},
	{"open, filter to build", 0, H_OWN, prepare_no_filter, run_open,
	 check_open, NULL},
	{"open read-only", 1, H_OWN, NULL, run_open, check_open, NULL},
	{"open and create", 0, H_OWN, prepare_create, run_create,
	 check_create, verify_create},
	{"put inline", O_PUT_INLINE, 0, NULL, run_put, check_put, NULL},
	{"put loose", O_PUT_LOOSE, 0, NULL, run_put, check_put, NULL},
	{"put large", O_PUT_LARGE, 0, NULL, run_put, check_put, NULL},
	{"put stored", O_LOOSE, 0, NULL, run_put, check_put, NULL},
	{"put_batch", 0, 0, NULL, run_put_batch, check_put_batch, NULL},
	{"writer inline", O_W_INLINE, 0, NULL, run_writer, check_put, NULL},
	{"writer loose", O_W_LOOSE, 0, NULL, run_writer, check_put, NULL},
	{"writer large", O_W_LARGE, 0, NULL, run_writer, check_put, NULL},
	{"get inline", O_INLINE, 0, evict, run_get, check_get, NULL},
	{"get loose", O_LOOSE, 0, evict, run_get, check_get, NULL},
	{"get large", O_LARGE, 0, evict, run_get, check_get, NULL},
	{"get empty", O_EMPTY, 0, evict, run_get, check_get, NULL},
	{"get from L2", O_LOOSE, H_NO_L1, load, run_get, check_get, NULL},
	{"get from L1", O_LOOSE, 0, load, run_get, check_get, NULL},
	{"get_view", O_LOOSE, 0, evict, run_view, check_view, NULL},
	{"get_view from L1", O_LOOSE, 0, load, run_view, check_view, NULL},
	{"get_batch", 0, 0, prepare_get_batch, run_get_batch,
	 check_get_batch, NULL},
	{"get_batch, no results", 1, 0, prepare_get_batch, run_get_batch,
	 check_get_batch, NULL},
	{"reader inline", O_INLINE, 0, NULL, run_reader, check_reader, NULL},
	{"reader loose", O_LOOSE, 0, NULL, run_reader, check_reader, NULL},
	{"reader large", O_LARGE, 0, NULL, run_reader, check_reader, NULL},
	{"exists", O_INLINE, 0, evict, run_exists, check_exists, NULL},
	{"dedup_check", O_LOOSE, 0, NULL, run_dedup_check, check_dedup_check,
	 NULL},
	{"stat", O_LARGE, 0, NULL, run_stat, check_stat, NULL},
	{"refcount", O_LOOSE, 0, NULL, run_refcount, check_refcount, NULL},
	{"ref_add", O_LOOSE, 0, NULL, run_ref_add, check_up, NULL},
	{"ref_remove", O_LOOSE, 0, NULL, run_ref_remove, check_down, NULL},
	{"delete", O_DEL, 0, prepare_delete, run_delete, check_down, NULL},
	{"foreach", 0, 0, NULL, run_foreach, check_foreach, NULL},
	{"gc", O_GC, 0, prepare_gc, run_gc, check_gc, NULL},
	{"stats", 0, 0, prepare_stats, run_stats, check_stats, NULL},
	{"cache_load", O_LOOSE, 0, evict, run_cache_load, check_zero, NULL},
	{"cache_evict", O_LOOSE, 0, load, run_cache_evict, check_cache_evict,
	 NULL},
	{"cache_resize", 0, H_NO_L2, NULL, run_cache_resize,
	 check_cache_resize, NULL},
	{"close", 0, 0, NULL, run_close, check_zero, NULL},
	{"get, healed", O_HEAL, H_MIRROR, damage_heal, run_get, check_get,
	 verify_healed},
	{"get_view, healed", O_HEAL, H_MIRROR, damage_heal, run_view,
	 check_view, verify_healed},
	{"reader, healed", O_HEAL, H_MIRROR, damage_heal, run_reader,
	 check_reader, verify_healed},
};

#define NOPS (sizeof(ops) / sizeof(ops[0]))

/* What a sweep did. */
typedef struct sweep_count {
	unsigned long long runs;  /* that failed an allocation */
	unsigned long long path;  /* allocations of the run that did not */
} sweep_count;

/*
 * Run o again and again, each time failing the next allocation (by site
 * or by number, as plan_start said; sticky: and every later one), until
 * it runs to its end without reaching one to fail.
 */
static sweep_count sweep(const op *o, bool by_site, bool sticky)
{
	sweep_count c = {0, 0};
	char tmp[320], msg[1024];

	snprintf(tmp, sizeof(tmp), "%s/tmp", store_dir);
	plan_start(by_site, sticky);
	for (unsigned long long n = 1;; n++) {
		b3cas_store *s = NULL;
		int fds = count_fds();
		int64_t rc;

		snprintf(what, sizeof(what), "%s, %s %llu failing%s", o->name,
			 by_site ? "site" : "allocation", n,
			 sticky ? " and every later allocation" : "");
		if (!(o->flags & H_OWN))
			s = open_handle(o->flags);
		if (o->prepare)
			o->prepare(s, o);
		b3cas_error_clear();
		arm(n);
		rc = o->run(&s, o);
		last_fired = disarm();
		o->check(s, o, rc);
		if (s && !o->verify && count_entries(tmp) != 0)
			fail_msg("%s: a staging file is left in tmp/", what);
		snprintf(msg, sizeof(msg), "%s", b3cas_error_last());
		if (s && b3cas_store_close(s) != 0)
			fail_msg("%s: close: %s", what, b3cas_error_last());
		/* a failure may be reported after a close */
		if (s && strcmp(msg, b3cas_error_last()) != 0)
			fail_msg("%s: close changed the message '%s' to '%s'",
				 what, msg, b3cas_error_last());
		if (o->verify)
			o->verify(o);
		else
			verify_store(what);
		if (count_fds() != fds)
			fail_msg("%s: %d descriptors open before, %d after",
				 what, fds, count_fds());
		if (!last_fired) {
			c.path = atomic_load(&plan.seen);
			return c;
		}
		c.runs++;
	}
}

static void test_failed_allocations(void **state)
{
	unsigned long long sites = 0, numbered = 0, sticky = 0;

	(void)state;
	for (size_t i = 0; i < NOPS; i++) {
		struct timespec t0, t1;
		sweep_count c;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		c = sweep(&ops[i], true, false);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		sites += c.runs;
		printf("[nomem] %-22s %3llu sites failed, %4llu allocations "
		       "on its path (%.1f s)\n", ops[i].name, c.runs, c.path,
		       (double)(t1.tv_sec - t0.tv_sec) +
			       (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);
		if (!tu_long())
			continue;
		numbered += sweep(&ops[i], false, false).runs;
		sticky += sweep(&ops[i], true, true).runs;
	}
	printf("[nomem] %zu operations, %llu sites failed", NOPS, sites);
	if (tu_long())
		printf("; long run: %llu allocations failed one by one, %llu "
		       "sticky runs", numbered, sticky);
	printf("\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_failed_allocations, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
