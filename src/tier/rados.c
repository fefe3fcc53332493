/*
 * tier/rados.c - the RADOS object tier (tier/rados.h): librados loaded at
 * the first open, compound operations that the OSD applies atomically,
 * and batches of asynchronous ones.
 *
 * The counts are changed by the numops object class (shipped with the
 * OSD, libcls_numops): its "add" takes an omap key and a decimal
 * difference, each encoded as Ceph encodes a string (a 32-bit
 * little-endian length, then the bytes), reads the key's value as a
 * number (none: 0), adds and writes it back as text with 10 significant
 * digits. It fails with ENOENT on an object that does not exist, so an
 * add never creates one; the operations assert that anyway.
 */
#include "tier/rados.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <rados/librados.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

/* ---- librados, loaded once ----------------------------------------------- */

#define LIBRADOS_SONAME "librados.so.2"

#define RADOS_FUNCS(X)                                                       \
	X(rados_create) X(rados_conf_read_file) X(rados_conf_set)            \
	X(rados_connect) X(rados_shutdown) X(rados_ioctx_create)             \
	X(rados_ioctx_destroy) X(rados_ioctx_set_namespace)                  \
	X(rados_create_write_op) X(rados_release_write_op)                   \
	X(rados_write_op_create) X(rados_write_op_write_full)                \
	X(rados_write_op_omap_set) X(rados_write_op_assert_exists)           \
	X(rados_write_op_exec) X(rados_write_op_omap_cmp)                    \
	X(rados_write_op_remove) X(rados_write_op_operate)                   \
	X(rados_aio_write_op_operate) X(rados_create_read_op)                \
	X(rados_release_read_op) X(rados_read_op_stat)                       \
	X(rados_read_op_read) X(rados_read_op_omap_get_vals_by_keys)         \
	X(rados_read_op_operate) X(rados_aio_read_op_operate)                \
	X(rados_omap_get_next) X(rados_omap_get_end)                         \
	X(rados_aio_create_completion) X(rados_aio_wait_for_complete)        \
	X(rados_aio_get_return_value) X(rados_aio_release) X(rados_aio_stat) \
	X(rados_nobjects_list_open) X(rados_nobjects_list_next)              \
	X(rados_nobjects_list_close) X(rados_stat) X(rados_read)             \
	X(rados_aio_write_full) X(rados_aio_read) X(rados_aio_remove)        \
	X(rados_remove)

static struct {
#define DECLARE(f) __typeof__(f) *f;
	RADOS_FUNCS(DECLARE)
#undef DECLARE
	void *handle;
	char why[256]; /* why loading failed ("" when it did not) */
} lib;
static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_load(void)
{
	const char *missing = NULL;

	lib.handle = dlopen(LIBRADOS_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!lib.handle) {
		const char *e = dlerror();

		snprintf(lib.why, sizeof(lib.why), "cannot load %s (%s): "
			 "install librados2", LIBRADOS_SONAME, e ? e : "?");
		return;
	}
#define RESOLVE(f)                                                   \
	if (!missing && !(*(void **)&lib.f = dlsym(lib.handle, #f))) \
		missing = #f;
	RADOS_FUNCS(RESOLVE)
#undef RESOLVE
	if (missing) {
		snprintf(lib.why, sizeof(lib.why), "%s has no %s: librados "
			 "16.2 or later is needed", LIBRADOS_SONAME, missing);
		dlclose(lib.handle);
		lib.handle = NULL;
	}
}

/* ---- the tier ------------------------------------------------------------ */

struct b3cas_rados {
	rados_t cluster;
	rados_ioctx_t io;
	char *pool;
	unsigned timeout_s;
	char host_key[2 + 32 + 1]; /* "h." and the host id in hex */
};

#define NAME_LEN 64
#define TOTAL_KEY "t"
/* A put of up to this many bytes sends them with its first try, which
 * creates the object if it is new (one round trip); a larger one first
 * tries to add a reference, so that a duplicate's bytes are not sent.
 * Sending 256 KiB costs about what a round trip does on a 10 Gb/s
 * network (0.2 ms); bench_rados measures both sides. */
#define PUT_SEND_MAX (256u << 10)
/* How many times a put goes round create -> exists -> add -> gone. */
#define PUT_TRIES 64
/* What a read asks for when it does not know the object's size. */
#define READ_GUESS (64u << 10)
/* A big object (over B3CAS_RADOS_OBJECT_MAX): its head, named by its id,
 * holds the counts and BIG_KEY = "GEN:PARTS:SIZE" (GEN 16 hex digits,
 * new for every put that writes parts); its bytes are in parts named
 * ID.GEN.K (K = 0.. in decimal) of PART_BYTES each (the last shorter),
 * written before the head is made and removed after it is collected. */
#define BIG_KEY "p"
#define PART_BYTES (16u << 20)
/* parts in flight at once */
#define PART_WINDOW 4

static void hex(char *out, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int unhex(uint8_t *out, const char *s, size_t n)
{
	for (size_t i = 0; i < 2 * n; i++) {
		int v = s[i] >= '0' && s[i] <= '9'   ? s[i] - '0'
			: s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10
						     : -1;
		if (v < 0)
			return -1;
		if (i % 2 == 0)
			out[i / 2] = (uint8_t)(v << 4);
		else
			out[i / 2] |= (uint8_t)v;
	}
	return 0;
}

/* The message and code of librados's failure r (negative errno) at what
 * (id may be NULL). */
static int fail(const b3cas_rados *t, int r, const char *what,
		const uint8_t *id)
{
	char name[NAME_LEN + 1] = "";
	const char *pool = t ? t->pool : "?";

	if (id)
		hex(name, id, 32);
	switch (-r) {
	case ETIMEDOUT:
		return b3cas__error(B3CAS_EIO, "RADOS pool %s: %s%s%s: timed "
				    "out after %u s: the cluster is down, slow "
				    "or full", pool, what, id ? " " : "", name,
				    t ? t->timeout_s : 0);
	case ENOENT:
		return b3cas__error(B3CAS_ENOTFOUND, "RADOS pool %s: %s%s%s: "
				    "no such object", pool, what,
				    id ? " " : "", name);
	case ENOSPC:
	case EDQUOT:
		return b3cas__error(B3CAS_ENOSPC, "RADOS pool %s: %s%s%s: the "
				    "pool or the cluster is full (%s)", pool,
				    what, id ? " " : "", name, strerror(-r));
	case EPERM:
	case EACCES:
		return b3cas__error(B3CAS_EPERM, "RADOS pool %s: %s%s%s: "
				    "refused by the cluster (%s)", pool, what,
				    id ? " " : "", name, strerror(-r));
	case EOPNOTSUPP:
		return b3cas__error(B3CAS_EUNSUPPORTED, "RADOS pool %s: "
				    "%s%s%s: the OSDs cannot run the numops "
				    "object class (libcls_numops; see 'osd "
				    "class load list')", pool, what,
				    id ? " " : "", name);
	default:
		return b3cas__error(B3CAS_EIO, "RADOS pool %s: %s%s%s: %s",
				    pool, what, id ? " " : "", name,
				    strerror(-r));
	}
}

static int set_opt(b3cas_rados *t, const char *k, const char *v)
{
	int r = lib.rados_conf_set(t->cluster, k, v);

	if (r < 0)
		return b3cas__error(B3CAS_EINVAL, "RADOS: cannot set %s to %s:"
				    " %s", k, v, strerror(-r));
	return 0;
}

int b3cas__rados_open(b3cas_rados **out, const b3cas_rados_conf *c)
{
	b3cas_rados *t;
	char secs[32];
	int r;

	*out = NULL;
	if (!c->pool || !*c->pool)
		return b3cas__error(B3CAS_EINVAL, "RADOS: no pool named");
	pthread_once(&lib_once, lib_load);
	if (!lib.handle)
		return b3cas__error(B3CAS_EUNSUPPORTED, "RADOS: %s", lib.why);
	t = calloc(1, sizeof(*t));
	if (!t || !(t->pool = strdup(c->pool))) {
		free(t);
		return b3cas__error(B3CAS_ENOMEM, "RADOS: out of memory");
	}
	t->timeout_s = c->timeout_ms ? (c->timeout_ms + 999) / 1000 : 30;
	memcpy(t->host_key, "h.", 2);
	hex(t->host_key + 2, c->host, 16);
	r = lib.rados_create(&t->cluster, c->user ? c->user : "admin");
	if (r < 0) {
		r = fail(t, r, "cannot make a client", NULL);
		free(t->pool);
		free(t);
		return r;
	}
	r = lib.rados_conf_read_file(t->cluster, c->conf);
	if (r < 0) {
		r = b3cas__error(r == -ENOENT ? B3CAS_ENOTFOUND : B3CAS_EIO,
				 "RADOS: cannot read the configuration %s: %s",
				 c->conf ? c->conf : "(librados's default "
						     "places)",
				 strerror(-r));
		goto fail_cluster;
	}
	/* every wait bounded; nothing printed by librados itself */
	snprintf(secs, sizeof(secs), "%u", t->timeout_s);
	if ((r = set_opt(t, "rados_osd_op_timeout", secs)) < 0 ||
	    (r = set_opt(t, "rados_mon_op_timeout", secs)) < 0 ||
	    (r = set_opt(t, "client_mount_timeout", secs)) < 0 ||
	    (r = set_opt(t, "log_to_stderr", "false")) < 0 ||
	    (r = set_opt(t, "err_to_stderr", "false")) < 0 ||
	    (r = set_opt(t, "log_to_file", "false")) < 0 ||
	    (r = set_opt(t, "log_file", "")) < 0)
		goto fail_cluster;
	r = lib.rados_connect(t->cluster);
	if (r < 0) {
		r = fail(t, r, "cannot connect to the cluster", NULL);
		goto fail_cluster;
	}
	r = lib.rados_ioctx_create(t->cluster, c->pool, &t->io);
	if (r < 0) {
		r = r == -ENOENT
			    ? b3cas__error(B3CAS_ENOTFOUND, "RADOS: no pool "
					   "named %s in the cluster", c->pool)
			    : fail(t, r, "cannot open the pool", NULL);
		lib.rados_shutdown(t->cluster);
		free(t->pool);
		free(t);
		return r;
	}
	lib.rados_ioctx_set_namespace(t->io, c->ns && *c->ns ? c->ns : NULL);
	*out = t;
	return 0;
fail_cluster:
	lib.rados_shutdown(t->cluster);
	free(t->pool);
	free(t);
	return r;
}

void b3cas__rados_close(b3cas_rados *t)
{
	if (!t)
		return;
	lib.rados_ioctx_destroy(t->io);
	lib.rados_shutdown(t->cluster);
	free(t->pool);
	free(t);
}

const char *b3cas__rados_pool(const b3cas_rados *t)
{
	return t->pool;
}

/* ---- operations, built once for the synchronous and the batch forms ---- */

/* numops "add" input: key and difference, each as Ceph encodes a string */
typedef struct {
	char b[4 + 2 + 32 + 4 + 24];
	size_t n;
} num_arg;

static void put_str(num_arg *a, const char *s)
{
	uint32_t n = (uint32_t)strlen(s);

	a->b[a->n] = (char)(n & 0xff);
	a->b[a->n + 1] = (char)((n >> 8) & 0xff);
	a->b[a->n + 2] = (char)((n >> 16) & 0xff);
	a->b[a->n + 3] = (char)(n >> 24);
	memcpy(a->b + a->n + 4, s, n);
	a->n += 4 + n;
}

static void num_add(num_arg *a, const char *key, long long diff)
{
	char d[24];

	snprintf(d, sizeof(d), "%lld", diff);
	a->n = 0;
	put_str(a, key);
	put_str(a, d);
}

/* What an operation in flight needs kept until it completes. */
typedef struct {
	num_arg total, mine;
	int rv[4];
	char one[2];
} op_args;

/* The counts' two additions of n (may be negative) onto op. */
static void add_counts(const b3cas_rados *t, rados_write_op_t op,
		       op_args *a, long long n)
{
	num_add(&a->total, TOTAL_KEY, n);
	num_add(&a->mine, t->host_key, n);
	lib.rados_write_op_exec(op, "numops", "add", a->total.b, a->total.n,
				&a->rv[1]);
	lib.rados_write_op_exec(op, "numops", "add", a->mine.b, a->mine.n,
				&a->rv[2]);
}

/* A write op adding n references to an existing object. */
static rados_write_op_t op_ref(const b3cas_rados *t, op_args *a, uint32_t n)
{
	rados_write_op_t op = lib.rados_create_write_op();

	if (op) {
		lib.rados_write_op_assert_exists(op);
		add_counts(t, op, a, n);
	}
	return op;
}

/* A write op making a new object, its bytes and counts of 1. */
static rados_write_op_t op_create(const b3cas_rados *t, op_args *a,
				  const void *data, size_t len)
{
	rados_write_op_t op = lib.rados_create_write_op();
	const char *keys[2] = {TOTAL_KEY, t->host_key};
	const char *vals[2] = {"1", "1"};
	size_t lens[2] = {1, 1};

	(void)a; /* nothing to keep: omap_set copies its input */
	if (op) {
		lib.rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE, NULL);
		lib.rados_write_op_write_full(op, data, len);
		lib.rados_write_op_omap_set(op, keys, vals, lens, 2);
	}
	return op;
}

static int run_write(const b3cas_rados *t, rados_write_op_t op,
		     const char *name)
{
	int r;

	if (!op)
		return -ENOMEM;
	r = lib.rados_write_op_operate(op, t->io, name, NULL, 0);
	lib.rados_release_write_op(op);
	return r;
}

/* One step of a put: what the last try returned (r) decides the next.
 * step: 0 try to create, 1 try to add. Returns 1 when done, 0 to go on
 * with *step, or a negative errno. */
static int put_next(int r, int *step, bool *created)
{
	if (r == 0) {
		*created = *step == 0;
		return 1;
	}
	if (*step == 0 && r == -EEXIST) {
		*step = 1;
		return 0;
	}
	if (*step == 1 && r == -ENOENT) {
		*step = 0;
		return 0;
	}
	return r;
}

static int put_big(b3cas_rados *t, const uint8_t id[32], const void *data,
		   size_t len, bool *created);

int b3cas__rados_put(b3cas_rados *t, const uint8_t id[32], const void *data,
		     size_t len, bool *created)
{
	char name[NAME_LEN + 1];
	int step = len <= PUT_SEND_MAX ? 0 : 1;
	bool made = false;

	if (len > B3CAS_RADOS_BIG_MAX)
		return b3cas__error(B3CAS_ERANGE, "RADOS pool %s: an object "
				    "of %zu bytes: at most %llu here", t->pool,
				    len,
				    (unsigned long long)B3CAS_RADOS_BIG_MAX);
	if (len > B3CAS_RADOS_OBJECT_MAX) {
		/* a reference if it is there: its bytes are not sent */
		op_args a;
		int r;

		hex(name, id, 32);
		r = run_write(t, op_ref(t, &a, 1), name);

		if (r == 0) {
			if (created)
				*created = false;
			return 0;
		}
		if (r != -ENOENT)
			return fail(t, r, "cannot store", id);
		return put_big(t, id, data, len, created);
	}
	hex(name, id, 32);
	for (int i = 0; i < PUT_TRIES; i++) {
		op_args a;
		int r = run_write(t, step == 0 ? op_create(t, &a, data, len)
					       : op_ref(t, &a, 1),
				  name);

		r = put_next(r, &step, &made);
		if (r < 0)
			return fail(t, r, "cannot store", id);
		if (r == 1) {
			if (created)
				*created = made;
			return 0;
		}
	}
	return b3cas__error(B3CAS_EBUSY, "RADOS pool %s: cannot store %s: it "
			    "was collected %d times while this put tried",
			    t->pool, name, PUT_TRIES / 2);
}

/* ---- big objects ------------------------------------------------------- */

typedef struct {
	char gen[17];
	uint32_t parts;
	uint64_t size;
} big_info;

static void part_name(char *out, size_t n, const char *head,
		      const char *gen, uint32_t k)
{
	snprintf(out, n, "%s.%s.%u", head, gen, k);
}

/* "GEN:PARTS:SIZE" into *b: 0, or -1 when it is not that. */
static int parse_big(big_info *b, const char *v, size_t n)
{
	char text[64];
	unsigned long long parts, size;

	if (n == 0 || n >= sizeof(text))
		return -1;
	memcpy(text, v, n);
	text[n] = '\0';
	if (sscanf(text, "%16[0-9a-f]:%llu:%llu", b->gen, &parts, &size) != 3 ||
	    strlen(b->gen) != 16 || parts == 0 || parts > UINT32_MAX ||
	    size > B3CAS_RADOS_BIG_MAX ||
	    parts != (size + PART_BYTES - 1) / PART_BYTES)
		return -1;
	b->parts = (uint32_t)parts;
	b->size = size;
	return 0;
}

/*
 * Run op (0 write, 1 read, 2 remove) on parts [first, last] of a big
 * object, PART_WINDOW at a time; data is the object's bytes from offset
 * base (reads: into buf from base; each part's bytes clipped to
 * [off, off + len) for reads). Returns 0 or the first failure (negative
 * errno). Removes ignore parts already gone.
 */
static int parts_run(const b3cas_rados *t, const char *head, const big_info *b,
		     int op, uint8_t *buf, uint64_t off, uint64_t len)
{
	uint32_t first = (uint32_t)(off / PART_BYTES);
	uint32_t last = len ? (uint32_t)((off + len - 1) / PART_BYTES) : first;
	rados_completion_t c[PART_WINDOW] = {0};
	size_t want[PART_WINDOW];
	int rc = 0, inflight = 0, head_i = 0;

	if (op == 2) {
		first = 0;
		last = b->parts - 1;
	}
	for (uint32_t k = first; k <= last || inflight > 0;) {
		if (rc == 0 && k <= last && inflight < PART_WINDOW) {
			int slot = (head_i + inflight) % PART_WINDOW;
			uint64_t p0 = (uint64_t)k * PART_BYTES;
			uint64_t p1 = p0 + PART_BYTES < b->size ? p0 + PART_BYTES
								 : b->size;
			uint64_t a = op == 2 ? p0 : p0 > off ? p0 : off;
			uint64_t z = op == 2 ? p1 : p1 < off + len ? p1 : off + len;
			char name[NAME_LEN + 64];
			int r;

			part_name(name, sizeof(name), head, b->gen, k);
			r = lib.rados_aio_create_completion(NULL, NULL, NULL,
							    &c[slot]);
			if (r == 0 && op == 0)
				r = lib.rados_aio_write_full(
					t->io, name, c[slot],
					(const char *)buf + (a - off),
					(size_t)(z - a));
			else if (r == 0 && op == 1)
				r = lib.rados_aio_read(t->io, name, c[slot],
						       (char *)buf + (a - off),
						       (size_t)(z - a), a - p0);
			else if (r == 0)
				r = lib.rados_aio_remove(t->io, name, c[slot]);
			if (r < 0) {
				if (c[slot])
					lib.rados_aio_release(c[slot]);
				c[slot] = NULL;
				rc = r;
				continue;
			}
			want[slot] = (size_t)(z - a);
			inflight++;
			k++;
			continue;
		}
		if (inflight == 0)
			break;
		{
			int r;

			lib.rados_aio_wait_for_complete(c[head_i]);
			r = lib.rados_aio_get_return_value(c[head_i]);
			lib.rados_aio_release(c[head_i]);
			c[head_i] = NULL;
			/* a part shorter than its place: the object is
			 * damaged (its reader checks the bytes) */
			if (op == 1 && r >= 0 && (size_t)r != want[head_i])
				r = -EIO;
			if (op == 2 && r == -ENOENT)
				r = 0;
			if (r < 0 && rc == 0)
				rc = r;
			inflight--;
			head_i = (head_i + 1) % PART_WINDOW;
		}
	}
	return rc;
}

/* The big object's record, or b->parts = 0 for a whole one: 0, or a code
 * (B3CAS_ENOTFOUND: no such object). */
static int big_get(b3cas_rados *t, const uint8_t id[32], big_info *b)
{
	char name[NAME_LEN + 1];
	const char *keys[1] = {BIG_KEY};
	rados_read_op_t op = lib.rados_create_read_op();
	rados_omap_iter_t it = NULL;
	int rv = 0, r;

	memset(b, 0, sizeof(*b));
	if (!op)
		return fail(t, -ENOMEM, "cannot read", id);
	hex(name, id, 32);
	lib.rados_read_op_omap_get_vals_by_keys(op, keys, 1, &it, &rv);
	r = lib.rados_read_op_operate(op, t->io, name, 0);
	if (r == 0 && rv < 0)
		r = rv;
	if (r == 0 && it) {
		char *k, *v;
		size_t n;

		while (lib.rados_omap_get_next(it, &k, &v, &n) == 0 && k)
			if (strcmp(k, BIG_KEY) == 0 && parse_big(b, v, n) != 0)
				r = -EUCLEAN;
	}
	if (it)
		lib.rados_omap_get_end(it);
	lib.rados_release_read_op(op);
	if (r == -EUCLEAN)
		return b3cas__error(B3CAS_ECORRUPT, "RADOS pool %s: object %s "
				    "has a damaged record of its parts",
				    t->pool, name);
	return r < 0 ? fail(t, r, "cannot read", id) : 0;
}

/* A new generation: 16 hex digits no other put will pick. */
static void new_gen(char gen[17])
{
	uint8_t r[8];
	FILE *f = fopen("/dev/urandom", "rb");

	if (!f || fread(r, 1, sizeof(r), f) != sizeof(r)) {
		struct timespec ts;
		uint64_t x;

		clock_gettime(CLOCK_REALTIME, &ts);
		x = (uint64_t)ts.tv_sec * 1000000007ull ^
		    (uint64_t)ts.tv_nsec ^ ((uint64_t)(uintptr_t)gen << 17);
		memcpy(r, &x, sizeof(r));
	}
	if (f)
		fclose(f);
	hex(gen, r, 8);
}

static int put_big(b3cas_rados *t, const uint8_t id[32], const void *data,
		   size_t len, bool *created)
{
	char name[NAME_LEN + 1], rec[64];
	big_info b;
	int rc;

	hex(name, id, 32);
	new_gen(b.gen);
	b.size = len;
	b.parts = (uint32_t)((len + PART_BYTES - 1) / PART_BYTES);
	snprintf(rec, sizeof(rec), "%s:%u:%llu", b.gen, b.parts,
		 (unsigned long long)len);
	/* the bytes first: a head names only parts that are there */
	rc = parts_run(t, name, &b, 0, (uint8_t *)(uintptr_t)data, 0, len);
	for (int i = 0; rc == 0 && i < PUT_TRIES; i++) {
		rados_write_op_t op = lib.rados_create_write_op();
		const char *keys[3] = {TOTAL_KEY, t->host_key, BIG_KEY};
		const char *vals[3] = {"1", "1", rec};
		size_t lens[3] = {1, 1, strlen(rec)};
		op_args a;
		int r;

		if (op) {
			lib.rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE,
						  NULL);
			lib.rados_write_op_omap_set(op, keys, vals, lens, 3);
		}
		r = run_write(t, op, name);
		if (r == 0) {
			if (created)
				*created = true;
			return 0;
		}
		if (r != -EEXIST) {
			rc = r;
			break;
		}
		/* stored already (by another put, with parts of its own):
		 * a reference to it, and these parts go */
		r = run_write(t, op_ref(t, &a, 1), name);
		if (r == 0) {
			if (created)
				*created = false;
			(void)parts_run(t, name, &b, 2, NULL, 0, 0);
			return 0;
		}
		if (r != -ENOENT) {
			rc = r;
			break;
		}
		/* collected meanwhile: make it again, with these parts */
	}
	(void)parts_run(t, name, &b, 2, NULL, 0, 0);
	if (rc == 0)
		return b3cas__error(B3CAS_EBUSY, "RADOS pool %s: cannot store "
				    "%s: it was collected %d times while this "
				    "put tried", t->pool, name, PUT_TRIES);
	return fail(t, rc, "cannot store", id);
}

int b3cas__rados_read_big(b3cas_rados *t, const uint8_t id[32], uint64_t off,
			  void *buf, size_t len, size_t *got, uint64_t *size)
{
	char name[NAME_LEN + 1];
	big_info b;
	int rc = big_get(t, id, &b);

	*got = 0;
	if (rc < 0)
		return rc;
	hex(name, id, 32);
	if (b.parts == 0)
		return b3cas__error(B3CAS_ECORRUPT, "RADOS pool %s: object %s "
				    "is not a big one (no record of parts)",
				    t->pool, name);
	if (size)
		*size = b.size;
	if (off >= b.size)
		return 0;
	if (len > b.size - off)
		len = (size_t)(b.size - off);
	rc = parts_run(t, name, &b, 1, buf, off, len);
	if (rc == -ENOENT || rc == -EIO)
		return b3cas__error(B3CAS_ECORRUPT, "RADOS pool %s: object %s "
				    "lacks a part, or one is short", t->pool,
				    name);
	if (rc < 0)
		return fail(t, rc, "cannot read", id);
	*got = len;
	return 0;
}

int b3cas__rados_ref(b3cas_rados *t, const uint8_t id[32], uint32_t n)
{
	char name[NAME_LEN + 1];
	op_args a;
	int r;

	if (n == 0)
		return 0;
	hex(name, id, 32);
	r = run_write(t, op_ref(t, &a, n), name);
	return r < 0 ? fail(t, r, "cannot reference", id) : 0;
}

int b3cas__rados_release(b3cas_rados *t, const uint8_t id[32], bool *last)
{
	char name[NAME_LEN + 1];
	rados_write_op_t op = lib.rados_create_write_op();
	op_args a;
	int r;

	hex(name, id, 32);
	if (op) {
		lib.rados_write_op_assert_exists(op);
		/* this host's count, as text, above "0": a positive number
		 * (a missing key compares as "", a negative one as "-...") */
		lib.rados_write_op_omap_cmp(op, t->host_key,
					    LIBRADOS_CMPXATTR_OP_GT, "0", 1,
					    &a.rv[0]);
		add_counts(t, op, &a, -1);
	}
	r = run_write(t, op, name);
	if (r == -ECANCELED)
		return b3cas__error(B3CAS_ERANGE, "RADOS pool %s: cannot "
				    "release %s: this host holds no reference"
				    " to it", t->pool, name);
	if (r < 0)
		return fail(t, r, "cannot release", id);
	if (last) {
		int64_t total;

		r = b3cas__rados_counts(t, id, &total, NULL);
		if (r == B3CAS_ENOTFOUND) {
			*last = true; /* collected already */
			b3cas_error_clear();
			return 0;
		}
		if (r < 0)
			return r;
		*last = total <= 0;
	}
	return 0;
}

int b3cas__rados_collect(b3cas_rados *t, const uint8_t id[32])
{
	char name[NAME_LEN + 1], rec[64];
	rados_write_op_t op;
	big_info b;
	int rv = 0, rv2 = 0, r;

	/* a big object's record first: its parts go after its head, and
	 * only if the head is the one read (a put that made it again since
	 * has parts of its own) */
	r = big_get(t, id, &b);
	if (r == B3CAS_ENOTFOUND)
		return r;
	if (r < 0 && r != B3CAS_ECORRUPT)
		return r;
	b3cas_error_clear();
	hex(name, id, 32);
	op = lib.rados_create_write_op();
	if (op) {
		lib.rados_write_op_omap_cmp(op, TOTAL_KEY,
					    LIBRADOS_CMPXATTR_OP_EQ, "0", 1,
					    &rv);
		if (b.parts) {
			snprintf(rec, sizeof(rec), "%s:%u:%llu", b.gen,
				 b.parts, (unsigned long long)b.size);
			lib.rados_write_op_omap_cmp(op, BIG_KEY,
						    LIBRADOS_CMPXATTR_OP_EQ,
						    rec, strlen(rec), &rv2);
		}
		lib.rados_write_op_remove(op);
	}
	r = run_write(t, op, name);
	if (r == -ECANCELED)
		return 0; /* referenced again */
	if (r < 0)
		return fail(t, r, "cannot collect", id);
	/* a crash here leaves the parts: a leak, never a loss */
	if (b.parts)
		(void)parts_run(t, name, &b, 2, NULL, 0, 0);
	return 1;
}

static int64_t parse_count(const char *v, size_t n)
{
	char buf[32];
	double d;

	if (n == 0 || n >= sizeof(buf))
		return 0;
	memcpy(buf, v, n);
	buf[n] = '\0';
	d = strtod(buf, NULL);
	return (int64_t)d;
}

/* The counts among vals of an omap read: total and this host's. */
static void take_counts(const b3cas_rados *t, rados_omap_iter_t it,
			int64_t *total, int64_t *mine)
{
	char *k, *v;
	size_t n;

	*total = *mine = 0;
	while (it && lib.rados_omap_get_next(it, &k, &v, &n) == 0 && k) {
		if (strcmp(k, TOTAL_KEY) == 0)
			*total = parse_count(v, n);
		else if (strcmp(k, t->host_key) == 0)
			*mine = parse_count(v, n);
	}
}

int b3cas__rados_counts(b3cas_rados *t, const uint8_t id[32], int64_t *total,
			int64_t *mine)
{
	char name[NAME_LEN + 1];
	const char *keys[2] = {TOTAL_KEY, t->host_key};
	rados_read_op_t op = lib.rados_create_read_op();
	rados_omap_iter_t it = NULL;
	int rv = 0, r;

	if (!op)
		return fail(t, -ENOMEM, "cannot read the counts of", id);
	hex(name, id, 32);
	lib.rados_read_op_omap_get_vals_by_keys(op, keys, 2, &it, &rv);
	r = lib.rados_read_op_operate(op, t->io, name, 0);
	if (r == 0 && rv < 0)
		r = rv;
	if (total)
		*total = 0;
	if (mine)
		*mine = 0;
	if (r == 0) {
		int64_t all, own;

		take_counts(t, it, &all, &own);
		if (total)
			*total = all;
		if (mine)
			*mine = own;
	}
	if (it)
		lib.rados_omap_get_end(it);
	lib.rados_release_read_op(op);
	return r < 0 ? fail(t, r, "cannot read the counts of", id) : 0;
}

int b3cas__rados_stat(b3cas_rados *t, const uint8_t id[32], uint64_t *size)
{
	char name[NAME_LEN + 1];
	time_t mtime;
	int r;

	hex(name, id, 32);
	r = lib.rados_stat(t->io, name, size, &mtime);
	return r < 0 ? fail(t, r, "cannot stat", id) : 0;
}

int b3cas__rados_read_at(b3cas_rados *t, const uint8_t id[32], uint64_t off,
			 void *buf, size_t len, size_t *got)
{
	char name[NAME_LEN + 1];
	size_t done = 0;

	hex(name, id, 32);
	while (done < len) {
		/* librados reads at most INT_MAX bytes at once */
		size_t want = len - done < (1u << 30) ? len - done : 1u << 30;
		int r = lib.rados_read(t->io, name, (char *)buf + done, want,
				       off + done);

		if (r < 0)
			return fail(t, r, "cannot read", id);
		done += (size_t)r;
		if ((size_t)r < want)
			break;
	}
	*got = done;
	return 0;
}

/* The first read of an object filled its buffer (*buf, cap bytes, *got
 * of them read): its size, then the rest, into a buffer grown to fit. */
static int read_rest(b3cas_rados *t, const uint8_t id[32], uint8_t **buf,
		     size_t cap, size_t *got)
{
	uint64_t size;
	uint8_t *more;
	size_t rest = 0;
	int r;

	if (*got < cap)
		return 0;
	r = b3cas__rados_stat(t, id, &size);
	if (r == 0 && size > B3CAS_RADOS_OBJECT_MAX) {
		char name[NAME_LEN + 1];

		hex(name, id, 32);
		return b3cas__error(B3CAS_ECORRUPT, "RADOS pool %s: object %s "
				    "holds %llu bytes, more than any object "
				    "stored here", t->pool, name,
				    (unsigned long long)size);
	}
	if (r < 0 || size <= *got)
		return r;
	if (!(more = realloc(*buf, (size_t)size)))
		return b3cas__error(B3CAS_ENOMEM, "RADOS: out of memory");
	*buf = more;
	r = b3cas__rados_read_at(t, id, *got, more + *got,
				 (size_t)size - *got, &rest);
	*got += rest;
	return r;
}

int b3cas__rados_read(b3cas_rados *t, const uint8_t id[32],
		      uint64_t size_hint, void **data, size_t *len)
{
	/* one byte more than the hint: a read that fills the buffer did not
	 * reach the object's end, so a short one read it all */
	size_t cap = size_hint && size_hint < B3CAS_RADOS_OBJECT_MAX
			     ? (size_t)size_hint + 1
			     : READ_GUESS;
	size_t got = 0;
	uint8_t *buf = malloc(cap);
	int r;

	*data = NULL;
	*len = 0;
	if (!buf)
		return b3cas__error(B3CAS_ENOMEM, "RADOS: out of memory");
	r = b3cas__rados_read_at(t, id, 0, buf, cap, &got);
	if (r == 0)
		r = read_rest(t, id, &buf, cap, &got);
	if (r < 0) {
		free(buf);
		return r;
	}
	*data = buf;
	*len = got;
	return 0;
}

int b3cas__rados_read_held(b3cas_rados *t, const uint8_t id[32],
			   void **data, size_t *len, int64_t *others)
{
	const char *keys[3] = {TOTAL_KEY, t->host_key, BIG_KEY};
	char name[NAME_LEN + 1];
	rados_read_op_t op;
	rados_omap_iter_t it = NULL;
	uint8_t *buf = malloc(READ_GUESS);
	size_t got = 0;
	int64_t total = 0, mine = 0;
	big_info big = {{0}, 0, 0};
	int rv_read = 0, rv_keys = 0, r;

	*data = NULL;
	*len = 0;
	*others = 0;
	if (!buf)
		return b3cas__error(B3CAS_ENOMEM, "RADOS: out of memory");
	if (!(op = lib.rados_create_read_op())) {
		free(buf);
		return fail(t, -ENOMEM, "cannot read", id);
	}
	hex(name, id, 32);
	/* the first bytes, the counts and a big object's record in one
	 * round trip */
	lib.rados_read_op_read(op, 0, READ_GUESS, (char *)buf, &got, &rv_read);
	lib.rados_read_op_omap_get_vals_by_keys(op, keys, 3, &it, &rv_keys);
	r = lib.rados_read_op_operate(op, t->io, name, 0);
	if (r == 0)
		r = rv_read < 0 ? rv_read : rv_keys;
	if (r == 0 && it) {
		char *k, *v;
		size_t n;

		while (lib.rados_omap_get_next(it, &k, &v, &n) == 0 && k) {
			if (strcmp(k, TOTAL_KEY) == 0)
				total = parse_count(v, n);
			else if (strcmp(k, t->host_key) == 0)
				mine = parse_count(v, n);
			else if (strcmp(k, BIG_KEY) == 0 &&
				 parse_big(&big, v, n) != 0)
				r = -EUCLEAN;
		}
	}
	if (it)
		lib.rados_omap_get_end(it);
	lib.rados_release_read_op(op);
	if (r == -EUCLEAN)
		r = b3cas__error(B3CAS_ECORRUPT, "RADOS pool %s: object %s "
				 "has a damaged record of its parts", t->pool,
				 name);
	else
		r = r < 0 ? fail(t, r, "cannot read", id) : 0;
	*others = total - mine;
	/* nobody else's: the rest is not worth reading */
	if (r == 0 && *others > 0 && big.parts) {
		uint8_t *more = realloc(buf, (size_t)big.size);

		if (!more) {
			r = b3cas__error(B3CAS_ENOMEM, "RADOS: out of memory");
		} else {
			buf = more;
			r = b3cas__rados_read_big(t, id, 0, buf,
						  (size_t)big.size, &got, NULL);
		}
	} else if (r == 0 && *others > 0) {
		r = read_rest(t, id, &buf, READ_GUESS, &got);
	}
	if (r < 0 || *others <= 0) {
		free(buf);
		return r;
	}
	*data = buf;
	*len = got;
	return 0;
}

/* ---- batches: a window of asynchronous operations ----------------------- */

/* One slot of the window: an operation in flight and what it needs. */
typedef struct {
	rados_completion_t c;
	rados_write_op_t wop;
	rados_read_op_t rop;
	size_t item;
	op_args a;
	uint64_t size;
	time_t mtime;
	size_t got;
	int rv_stat, rv_read, rv_keys;
	rados_omap_iter_t it; /* counts: the omap values read */
} slot;

typedef struct batch batch;
struct batch {
	b3cas_rados *t;
	const uint8_t (*ids)[32];
	/* start item i's next operation in sl (its name in name) */
	int (*start)(batch *b, slot *sl, const char *name);
	/* item's operation finished with r: 1 done, 0 again (requeued), or
	 * a code already reported */
	int (*finish)(batch *b, slot *sl, int r);
	void *ctx;
	int *step; /* per item: puts' step */
};

static void slot_clear(slot *sl)
{
	if (sl->wop)
		lib.rados_release_write_op(sl->wop);
	if (sl->rop)
		lib.rados_release_read_op(sl->rop);
	if (sl->c)
		lib.rados_aio_release(sl->c);
	if (sl->it)
		lib.rados_omap_get_end(sl->it);
	sl->it = NULL;
	sl->wop = NULL;
	sl->rop = NULL;
	sl->c = NULL;
}

/* Wait for sl's operation and finish it: see batch.finish. */
static int slot_wait(batch *b, slot *sl)
{
	int r;

	lib.rados_aio_wait_for_complete(sl->c);
	r = lib.rados_aio_get_return_value(sl->c);
	r = b->finish(b, sl, r);
	slot_clear(sl);
	return r;
}

/*
 * Run items todo[0..n) through b's start and finish, at most
 * B3CAS_RADOS_WINDOW in flight; an item whose finish says "again" is run
 * again in the next round. Returns 0 or the first failure (after
 * waiting for everything in flight).
 */
static int batch_run(batch *b, size_t *todo, size_t n)
{
	slot *win = calloc(B3CAS_RADOS_WINDOW, sizeof(*win));
	size_t *again = malloc((n ? n : 1) * sizeof(*again));
	int rc = 0;

	if (!win || !again) {
		free(win);
		free(again);
		return b3cas__error(B3CAS_ENOMEM, "RADOS: out of memory");
	}
	for (int round = 0; n > 0 && rc == 0; round++) {
		size_t head = 0, inflight = 0, nagain = 0;

		if (round == PUT_TRIES) {
			rc = b3cas__error(B3CAS_EBUSY, "RADOS pool %s: an "
					  "object was collected %d times while "
					  "a put tried to store it", b->t->pool,
					  PUT_TRIES / 2);
			break;
		}
		for (size_t i = 0; i < n || inflight > 0;) {
			slot *sl;
			int r;

			if (rc == 0 && i < n && inflight < B3CAS_RADOS_WINDOW) {
				char name[NAME_LEN + 1];

				sl = &win[(head + inflight) % B3CAS_RADOS_WINDOW];
				sl->item = todo[i++];
				hex(name, b->ids[sl->item], 32);
				r = lib.rados_aio_create_completion(NULL, NULL,
								    NULL, &sl->c);
				if (r == 0)
					r = b->start(b, sl, name);
				if (r < 0) {
					slot_clear(sl);
					rc = fail(b->t, r, "cannot start an "
						  "operation on",
						  b->ids[sl->item]);
					continue;
				}
				inflight++;
				continue;
			}
			if (inflight == 0)
				break; /* a failure: nothing more started */
			/* the oldest in flight is at head */
			sl = &win[head];
			r = slot_wait(b, sl);
			inflight--;
			head = (head + 1) % B3CAS_RADOS_WINDOW;
			if (r == 0)
				again[nagain++] = sl->item;
			else if (r < 0 && rc == 0)
				rc = r;
		}
		memcpy(todo, again, nagain * sizeof(*todo));
		n = nagain;
	}
	free(win);
	free(again);
	return rc;
}

static size_t *all_items(size_t n)
{
	size_t *todo = malloc((n ? n : 1) * sizeof(*todo));

	for (size_t i = 0; todo && i < n; i++)
		todo[i] = i;
	return todo;
}

/* Every item of b, 0..n, through batch_run. */
static int run_all(batch *b, size_t n)
{
	size_t *todo = all_items(n);
	int rc;

	if (!todo)
		return b3cas__error(B3CAS_ENOMEM, "RADOS: out of memory");
	rc = batch_run(b, todo, n);
	free(todo);
	return rc;
}

/* exists */

static int exists_start(batch *b, slot *sl, const char *name)
{
	return lib.rados_aio_stat(b->t->io, name, sl->c, &sl->size,
				  &sl->mtime);
}

static int exists_finish(batch *b, slot *sl, int r)
{
	bool *found = b->ctx;

	if (r < 0 && r != -ENOENT)
		return fail(b->t, r, "cannot stat", b->ids[sl->item]);
	found[sl->item] = r == 0;
	return 1;
}

int64_t b3cas__rados_exists_batch(b3cas_rados *t, const uint8_t (*ids)[32],
				  size_t n, bool *found)
{
	batch b = {t, ids, exists_start, exists_finish, found, NULL};
	int64_t count = 0;
	int rc = run_all(&b, n);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		count += found[i];
	return count;
}

/* counts */

static int counts_start(batch *b, slot *sl, const char *name)
{
	const char *keys[2] = {TOTAL_KEY, b->t->host_key};

	sl->rop = lib.rados_create_read_op();
	if (!sl->rop)
		return -ENOMEM;
	sl->rv_keys = 0;
	sl->it = NULL;
	lib.rados_read_op_omap_get_vals_by_keys(sl->rop, keys, 2, &sl->it,
						&sl->rv_keys);
	return lib.rados_aio_read_op_operate(sl->rop, b->t->io, sl->c, name,
					     0);
}

static int counts_finish(batch *b, slot *sl, int r)
{
	int64_t *others = b->ctx, total, mine;

	if (r == 0 && sl->rv_keys < 0)
		r = sl->rv_keys;
	if (r == -ENOENT) {
		others[sl->item] = -1;
		return 1;
	}
	if (r < 0)
		return fail(b->t, r, "cannot read the counts of",
			    b->ids[sl->item]);
	take_counts(b->t, sl->it, &total, &mine);
	others[sl->item] = total - mine;
	return 1;
}

int b3cas__rados_others_batch(b3cas_rados *t, const uint8_t (*ids)[32],
			      size_t n, int64_t *others)
{
	batch b = {t, ids, counts_start, counts_finish, others, NULL};
	return run_all(&b, n);
}

/* put */

typedef struct {
	const void *const *data;
	const size_t *lens;
	bool *created;
} put_ctx;

static int put_start(batch *b, slot *sl, const char *name)
{
	put_ctx *p = b->ctx;
	size_t i = sl->item;

	sl->wop = b->step[i] == 0
			  ? op_create(b->t, &sl->a, p->data[i], p->lens[i])
			  : op_ref(b->t, &sl->a, 1);
	if (!sl->wop)
		return -ENOMEM;
	return lib.rados_aio_write_op_operate(sl->wop, b->t->io, sl->c, name,
					      NULL, 0);
}

static int put_finish(batch *b, slot *sl, int r)
{
	put_ctx *p = b->ctx;
	bool made = false;

	r = put_next(r, &b->step[sl->item], &made);
	if (r < 0)
		return fail(b->t, r, "cannot store", b->ids[sl->item]);
	if (r == 1 && p->created)
		p->created[sl->item] = made;
	return r;
}

int b3cas__rados_put_batch(b3cas_rados *t, const uint8_t (*ids)[32],
			   const void *const *data, const size_t *lens,
			   size_t n, bool *created)
{
	put_ctx p = {data, lens, created};
	batch b = {t, ids, put_start, put_finish, &p, NULL};
	size_t *todo = all_items(n);
	int rc;

	b.step = malloc((n ? n : 1) * sizeof(*b.step));
	if (!todo || !b.step) {
		free(todo);
		free(b.step);
		return b3cas__error(B3CAS_ENOMEM, "RADOS: out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		if (lens[i] > B3CAS_RADOS_OBJECT_MAX) {
			free(todo);
			free(b.step);
			return b3cas__error(B3CAS_ERANGE, "RADOS pool %s: an "
					    "object of %zu bytes: at most %u "
					    "here", t->pool, lens[i],
					    B3CAS_RADOS_OBJECT_MAX);
		}
		b.step[i] = lens[i] <= PUT_SEND_MAX ? 0 : 1;
	}
	rc = batch_run(&b, todo, n);
	free(todo);
	free(b.step);
	return rc;
}

/* read */

typedef struct {
	void *const *bufs;
	const size_t *caps;
	size_t *lens;
} read_ctx;

static int read_start(batch *b, slot *sl, const char *name)
{
	read_ctx *p = b->ctx;
	size_t i = sl->item;

	sl->rop = lib.rados_create_read_op();
	if (!sl->rop)
		return -ENOMEM;
	sl->rv_stat = sl->rv_read = 0;
	lib.rados_read_op_stat(sl->rop, &sl->size, &sl->mtime, &sl->rv_stat);
	lib.rados_read_op_read(sl->rop, 0, p->caps[i], p->bufs[i], &sl->got,
			       &sl->rv_read);
	return lib.rados_aio_read_op_operate(sl->rop, b->t->io, sl->c, name,
					     0);
}

static int read_finish(batch *b, slot *sl, int r)
{
	read_ctx *p = b->ctx;
	size_t i = sl->item;

	if (r == 0)
		r = sl->rv_stat < 0 ? sl->rv_stat : sl->rv_read;
	if (r < 0)
		return fail(b->t, r, "cannot read", b->ids[i]);
	if (sl->size > p->caps[i]) {
		char name[NAME_LEN + 1];

		hex(name, b->ids[i], 32);
		return b3cas__error(B3CAS_ERANGE, "RADOS pool %s: object %s "
				    "holds %llu bytes, more than the %zu its "
				    "buffer has", b->t->pool, name,
				    (unsigned long long)sl->size, p->caps[i]);
	}
	p->lens[i] = sl->got;
	return 1;
}

int b3cas__rados_read_batch(b3cas_rados *t, const uint8_t (*ids)[32],
			    void *const *bufs, const size_t *caps, size_t n,
			    size_t *lens)
{
	read_ctx p = {bufs, caps, lens};
	batch b = {t, ids, read_start, read_finish, &p, NULL};
	return run_all(&b, n);
}

/* ---- listing ------------------------------------------------------------- */

int b3cas__rados_list(b3cas_rados *t,
		      int (*visit)(void *ctx, const uint8_t id[32]),
		      void *ctx, uint64_t *others)
{
	rados_list_ctx_t lc;
	const char *entry, *key, *nspace;
	int r = lib.rados_nobjects_list_open(t->io, &lc), rc = 0;

	if (others)
		*others = 0;
	if (r < 0)
		return fail(t, r, "cannot list the objects", NULL);
	while (rc == 0 &&
	       (r = lib.rados_nobjects_list_next(lc, &entry, &key,
						 &nspace)) == 0) {
		uint8_t id[32];

		if (strlen(entry) != NAME_LEN || unhex(id, entry, 32) < 0) {
			if (others)
				(*others)++;
			continue;
		}
		rc = visit(ctx, id);
	}
	lib.rados_nobjects_list_close(lc);
	if (rc != 0)
		return rc;
	return r < 0 && r != -ENOENT ? fail(t, r, "cannot list the objects",
					    NULL)
				     : 0;
}

/* ---- parts no head names ------------------------------------------------ */

/* name "<id hex>.<gen>.<k>" into *p: 0, or -1 when it is not a part's. */
static int parse_part(b3cas_rados_part *p, const char *name)
{
	size_t n = strlen(name);
	char *end;
	unsigned long k;

	if (n < NAME_LEN + 1 + 16 + 2 || name[NAME_LEN] != '.' ||
	    name[NAME_LEN + 17] != '.' || unhex(p->id, name, 32) < 0)
		return -1;
	memcpy(p->gen, name + NAME_LEN + 1, 16);
	p->gen[16] = '\0';
	for (int i = 0; i < 16; i++)
		if (!strchr("0123456789abcdef", p->gen[i]))
			return -1;
	k = strtoul(name + NAME_LEN + 18, &end, 10);
	if (*end || k > UINT32_MAX || !isdigit((unsigned char)name[NAME_LEN + 18]))
		return -1;
	p->k = (uint32_t)k;
	return 0;
}

int b3cas__rados_list_parts(b3cas_rados *t,
			    int (*visit)(void *ctx, const b3cas_rados_part *p),
			    void *ctx)
{
	rados_list_ctx_t lc;
	const char *entry, *key, *nspace;
	int r = lib.rados_nobjects_list_open(t->io, &lc), rc = 0;

	if (r < 0)
		return fail(t, r, "cannot list the objects", NULL);
	while (rc == 0 &&
	       (r = lib.rados_nobjects_list_next(lc, &entry, &key,
						 &nspace)) == 0) {
		b3cas_rados_part p;

		if (parse_part(&p, entry) == 0)
			rc = visit(ctx, &p);
	}
	lib.rados_nobjects_list_close(lc);
	if (rc != 0)
		return rc;
	return r < 0 && r != -ENOENT ? fail(t, r, "cannot list the objects",
					    NULL)
				     : 0;
}

int b3cas__rados_part_orphaned(b3cas_rados *t, const b3cas_rados_part *p,
			       uint64_t min_age_s, uint64_t *age_s)
{
	char head[NAME_LEN + 1], name[NAME_LEN + 64];
	big_info b;
	uint64_t size;
	time_t mtime;
	int r = big_get(t, p->id, &b);

	*age_s = 0;
	if (r == 0 && b.parts && strcmp(b.gen, p->gen) == 0)
		return 0; /* its head names it */
	if (r < 0 && r != B3CAS_ENOTFOUND)
		return r;
	b3cas_error_clear();
	hex(head, p->id, 32);
	part_name(name, sizeof(name), head, p->gen, p->k);
	r = lib.rados_stat(t->io, name, &size, &mtime);
	if (r == -ENOENT)
		return 0; /* gone meanwhile */
	if (r < 0)
		return fail(t, r, "cannot stat a part of", p->id);
	*age_s = time(NULL) > mtime ? (uint64_t)(time(NULL) - mtime) : 0;
	return *age_s >= min_age_s;
}

int b3cas__rados_part_remove(b3cas_rados *t, const b3cas_rados_part *p,
			     uint64_t min_age_s)
{
	char head[NAME_LEN + 1], name[NAME_LEN + 64];
	uint64_t age;
	int r = b3cas__rados_part_orphaned(t, p, min_age_s, &age);

	if (r <= 0)
		return r;
	hex(head, p->id, 32);
	part_name(name, sizeof(name), head, p->gen, p->k);
	r = lib.rados_remove(t->io, name);
	if (r < 0 && r != -ENOENT)
		return fail(t, r, "cannot remove a part of", p->id);
	return 1;
}
