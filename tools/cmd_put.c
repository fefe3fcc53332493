/*
 * cmd_put.c - `b3cas put`: store files or standard input and print their
 * ids, which are what b3sum prints for the same bytes.
 *
 * Files are streamed through a b3cas_writer with plain reads (never mmap,
 * so a file shrinking underneath cannot crash us). A regular file that
 * changes while it is being read (size or modification time, or a byte
 * count other than its size) is not stored: what we would store is not
 * what the file holds.
 *
 * A writer stages what outgrows its buffer in the store's tmp/ before it
 * knows the id, so storing a large file takes its size in free space even
 * when the content is stored already. A regular file larger than the
 * inline threshold is therefore hashed first (BLAKE3 stores): if the store
 * has that content, b3cas_ref_add adds the reference (it re-checks under
 * the id's stripe lock, and says "not stored" for a GC candidate, which
 * only a put revives) and nothing is staged; else the file is read again
 * and stored as before, its bytes hashed again as they are staged. A file
 * that changes between the two reads is caught by the same checks.
 *
 * Files of procfs, sysfs and their kin report a size (0 or 4096) that is
 * not what a read gives: they are read to their end like a pipe, and
 * their size is not held against them (b3sum hashes them the same way).
 *
 * An input of PROGRESS_MIN bytes or more (its size known from fstat, or,
 * for a pipe, once that much has been read) gets a progress line on a
 * terminal: bytes, rate and, when the size is known, the time left. A
 * smaller input pays one comparison per 1 MiB read.
 *
 * Several files are stored at once, on --threads threads (default: one
 * per CPU, at most MAX_THREADS), each taking the next file not yet taken,
 * largest first (sizes from stat before the first is taken): a large
 * file taken last would leave the other threads idle while one chunks
 * it. What is printed stays in the order of the arguments: a file's line
 * (its id, or with --json its failure line) waits until every file
 * before it is done; messages on stderr come as they happen. Progress
 * lines are drawn only when one thread stores. A store error stops the
 * others from taking more files; the files taken finish, and with --json
 * each file not taken gets its "not done" line in its place. Standard
 * input among the inputs makes the run one thread (two reads of it must
 * not interleave).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "cli.h"

#define READ_CHUNK (1u << 20)
#define PROGRESS_MIN (64ull << 20)
#define PROGRESS_NS 100000000ull
/* Chunks at least this large are hashed on the pool's threads. */
#define PARALLEL_MIN (256u * 1024u)
/* The default number of threads at most (each holds two 1 MiB buffers). */
#define MAX_THREADS 8

typedef struct put_opts {
	bool json;
	bool no_names;
	uint64_t threads;
	const char *files0_from; /* --files0-from F: the names, NUL-ended */
	const char *base;        /* --base ID */
} put_opts;

enum { PUT_PENDING, PUT_STORED, PUT_FAILED };

/* What one input came to, kept until the inputs before it are printed. */
typedef struct put_result {
	b3cas_oid id;
	uint64_t size;
	const char *error; /* with --json, a failure: its name ... */
	char *message;     /* ... and message (malloc'd; NULL if none) */
	unsigned char state;
	bool dup;
} put_result;

/* What every input of one run shares. */
typedef struct put_run {
	put_opts o;
	b3cas_store *store;
	b3cas_store_info info;
	char **names;
	int n;
	bool bare;         /* standard input alone: a bare id */
	bool meter;        /* progress lines allowed: one thread */
	atomic_int next;   /* the next place in order no thread has taken */
	int *order;        /* inputs by size, largest first; NULL: as given */
	atomic_bool stop;  /* a store error: take no more */
	pthread_mutex_t lock; /* the pool's making, and the fields below */
	b3cas_pool *pool;  /* for hashing first; made when first needed */
	bool pool_failed;
	bool has_base;     /* --base: every file's new chunks as deltas */
	b3cas_oid base;
	put_result *res;   /* one per input, written under the lock */
	int printed;       /* inputs [0, printed) are written out */
	int rc;            /* the worst exit code so far */
} put_run;

/* One thread's share: its read buffer and the input it stores. */
typedef struct put_task {
	put_run *r;
	char *buf;         /* READ_CHUNK bytes */
	put_result *res;   /* the input's result, this thread's own */
} put_task;

static const cli_opt put_table[] = {
	CLI_FLAG("no-names", 0, put_opts, no_names, "print bare ids"),
	CLI_FLAG("json", 0, put_opts, json,
		 "one JSON object per line: id, name, size, duplicate; for a "
		 "file not stored: name, error, message"),
	CLI_NUMBER("threads", 0, "N", put_opts, threads, 0, 256,
		   "store N files at once (default 0: one per CPU, at most "
		   "8; output keeps the order of the FILEs)"),
	CLI_VALUE("files0-from", 0, "F", put_opts, files0_from, NULL,
		  "store the files named in F, each name ended by a NUL byte "
		  "(find -print0); '-' reads the names from standard input"),
	CLI_VALUE("base", 0, "ID", put_opts, base, NULL,
		  "an earlier version of the FILEs, stored: its chunks that\n"
		  "theirs replace are rewritten as deltas against them where\n"
		  "that saves space (a store made with --compress and\n"
		  "chunking)"),
	CLI_ARGS("FILE", false, NULL,
		 "a file to store; '-' is standard input"),
	CLI_END,
};

const cli_spec cmd_put_spec = {
	.name = "put",
	.summary = "store files or stdin, print their ids",
	.about = "Store each FILE (standard input when there is none, or for "
		 "'-') and print\nits id, the BLAKE3-256 hash b3sum prints for "
		 "the same bytes. Content that\nis already stored gets one more "
		 "reference instead of a second copy.\n"
		 "\n"
		 "Output: '<id>  <FILE>' per file, like b3sum; a bare id for "
		 "standard input\nwhen no FILE is given.\n"
		 "\n"
		 "With --files0-from F the files are those F names, as `du "
		 "--files0-from`\ntakes them: one run stores a whole tree "
		 "(`find DIR -type f -print0 |\nb3cas put --files0-from -`), "
		 "opening the store once.\n",
	.exits = "Exit codes: 0 stored, 2 a file could not be read or changed "
		 "while it was\nread (the others are still stored), 3 store "
		 "error (locked, full, I/O).\n",
	.opts = put_table,
	.store = true,
};

static bool same_file_state(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The progress of one input: size its size when known (else 0). */
typedef struct put_meter {
	uint64_t size;
	uint64_t t0, shown_at;
	bool on;
	bool allowed; /* one thread stores: lines do not interleave */
} put_meter;

/* After each chunk: draw at most every PROGRESS_NS, once the input is
 * known or seen to be large. */
static void meter_update(put_meter *m, uint64_t total)
{
	uint64_t now;

	if (!m->on) {
		if (!m->allowed)
			return;
		if (m->size < PROGRESS_MIN && total < PROGRESS_MIN)
			return;
		m->on = true;
	}
	now = now_ns();
	if (now - m->shown_at < PROGRESS_NS)
		return;
	m->shown_at = now;
	cli_progress_bytes("put", total, m->size,
			   (double)(now - m->t0) * 1e-9, false);
}

/*
 * Report that the task's input was not stored: the message on stderr now
 * and, with --json, a failure line naming the error (cli_error_name) when
 * its turn to be printed comes. Returns rc.
 */
static int put_failed(put_task *t, int rc, const char *error,
		      const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int put_failed(put_task *t, int rc, const char *error,
		      const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cli_error("%s", msg);
	t->res->state = PUT_FAILED;
	if (t->r->o.json) {
		t->res->error = error;
		/* Out of memory: the line says the error without words. */
		t->res->message = strdup(msg);
	}
	return rc;
}

/* The task's input was stored as id. */
static void put_stored(put_task *t, const b3cas_oid *id, uint64_t size,
		       bool dup)
{
	t->res->state = PUT_STORED;
	t->res->id = *id;
	t->res->size = size;
	t->res->dup = dup;
}

/* Feed fd (size bytes when known, else 0) to w; CLI_OK, or an exit code
 * after a message about name. */
static int copy_in(put_task *t, b3cas_writer *w, int fd, const char *name,
		   uint64_t size, uint64_t *total)
{
	put_meter m = {size, 0, 0, false, t->r->meter};
	char *buf = t->buf;
	int rc = CLI_OK;

	*total = 0;
	m.t0 = m.shown_at = now_ns();
	for (;;) {
		long long n = cli_read_full(fd, buf, READ_CHUNK);
		int err;

		if (n < 0) {
			rc = put_failed(t, CLI_USAGE, cli_errno_name(errno),
					"cannot read %s: %s", name,
					strerror(errno));
			break;
		}
		if (n == 0)
			break;
		err = b3cas_writer_write(w, buf, (size_t)n);
		if (err < 0) {
			rc = put_failed(t, cli_exit_code(err, false),
					cli_error_name(err),
					"cannot store %s: %s", name,
					b3cas_error_last());
			break;
		}
		*total += (uint64_t)n;
		meter_update(&m, *total);
	}
	/* The id line goes to stdout next: leave no half line behind. */
	if (m.on)
		cli_progress_clear();
	return rc;
}

static void print_id(const put_opts *o, const b3cas_oid *id,
		     const char *name, uint64_t size, bool dup, bool bare)
{
	char hex[B3CAS_OID_HEX_LEN + 1];

	b3cas_oid_fmt(hex, id);
	/* One line, whole: a signal writes out only whole lines. */
	flockfile(stdout);
	if (o->json) {
		printf("{\"id\":\"%s\",\"name\":", hex);
		cli_json_string(stdout, name);
		printf(",\"size\":%llu,\"duplicate\":%s}\n",
		       (unsigned long long)size, dup ? "true" : "false");
	} else if (bare || o->no_names) {
		printf("%s\n", hex);
	} else {
		cli_print_id_name(stdout, hex, name);
	}
	funlockfile(stdout);
}

/* The file system of device dev (where fd is) is one whose files report
 * a size that reading does not give. The answer of the last device each
 * thread asked about is kept: a folder of files is on one device, and the
 * fstatfs for each file was a quarter of the system calls of a put of
 * many small files. */
static bool pseudo_fs(int fd, dev_t dev)
{
	static _Thread_local bool known, pseudo;
	static _Thread_local dev_t known_dev;
	struct statfs f;

	if (known && known_dev == dev)
		return pseudo;
	if (fstatfs(fd, &f) != 0)
		return false;
	known = true;
	known_dev = dev;
	pseudo = false;
	switch ((unsigned long)f.f_type) {
	case PROC_SUPER_MAGIC:
	case SYSFS_MAGIC:
	case DEBUGFS_MAGIC:
	case TRACEFS_MAGIC:
	case SECURITYFS_MAGIC:
	case CGROUP_SUPER_MAGIC:
	case CGROUP2_SUPER_MAGIC:
	case 0x62656570: /* configfs; not in linux/magic.h */
	case PSTOREFS_MAGIC:
	case EFIVARFS_MAGIC:
	case BPF_FS_MAGIC:
		pseudo = true;
		break;
	default:
		break;
	}
	return pseudo;
}

/*
 * The pool that hashes one large read on every CPU, or NULL (hash on this
 * thread): only while no other thread of the run has a file to take
 * (one thread, or every file taken), since otherwise those threads are
 * busy hashing files of their own and the pool's workers, which spin a
 * while after each job, only take CPU from them.
 */
static b3cas_pool *run_pool(put_run *r)
{
	b3cas_pool *pool;

	if (!r->meter && atomic_load(&r->next) < r->n)
		return NULL;
	pthread_mutex_lock(&r->lock);
	if (!r->pool && !r->pool_failed && b3cas_pool_new(&r->pool, 0) != 0)
		r->pool_failed = true; /* hash on one thread */
	pool = r->pool;
	pthread_mutex_unlock(&r->lock);
	return pool;
}

/*
 * Hash regular file fd (state *before) and, if the store has its content,
 * add a reference and print its id: *done. Else fd is back at its start
 * for the writer. CLI_OK, or an exit code after a message.
 */
static int put_if_stored(put_task *t, int fd, const char *path,
			 const struct stat *before, bool *done)
{
	put_run *r = t->r;
	put_meter m = {(uint64_t)before->st_size, 0, 0, false, r->meter};
	b3cas_hasher h;
	struct stat after;
	uint64_t total = 0;
	b3cas_oid id;
	int64_t refs;

	*done = false;
	b3cas_hasher_init(&h);
	m.t0 = m.shown_at = now_ns();
	for (;;) {
		long long n = cli_read_full(fd, t->buf, READ_CHUNK);

		if (n < 0) {
			if (m.on)
				cli_progress_clear();
			return put_failed(t, CLI_USAGE, cli_errno_name(errno),
					  "cannot read %s: %s", path,
					  strerror(errno));
		}
		if (n == 0)
			break;
		b3cas_hasher_update_parallel(&h, t->buf, (size_t)n,
					     n >= PARALLEL_MIN ? run_pool(r)
							       : NULL);
		total += (uint64_t)n;
		meter_update(&m, total);
	}
	if (m.on)
		cli_progress_clear();
	if (fstat(fd, &after) != 0 || !same_file_state(before, &after) ||
	    (uint64_t)before->st_size != total)
		return put_failed(t, CLI_USAGE, CLI_ENAME_CHANGED,
				  "%s changed while it was being stored (%lld "
				  "bytes when opened, %llu read); nothing "
				  "stored for it",
				  path, (long long)before->st_size,
				  (unsigned long long)total);
	b3cas_hasher_finalize(id.bytes, sizeof(id.bytes), &h);
	refs = b3cas_ref_add(r->store, &id);
	if (refs == B3CAS_ENOTFOUND) {
		b3cas_error_clear();
		if (lseek(fd, 0, SEEK_SET) != 0)
			return put_failed(t, CLI_USAGE, cli_errno_name(errno),
					  "cannot read %s again: %s", path,
					  strerror(errno));
		return CLI_OK;
	}
	if (refs < 0)
		return put_failed(t, cli_exit_code((int)refs, false),
				  cli_error_name((int)refs),
				  "cannot store %s: %s", path,
				  b3cas_error_last());
	put_stored(t, &id, total, true);
	*done = true;
	return CLI_OK;
}

/* Store one input: path "-" is standard input. */
static int put_one(put_task *t, const char *path)
{
	put_run *r = t->r;
	bool is_stdin = strcmp(path, "-") == 0, sized, done = false;
	int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	struct stat before, after;
	b3cas_writer *w = NULL;
	b3cas_oid id;
	uint64_t total = 0;
	int rc, err;

	if (fd < 0)
		return put_failed(t, CLI_USAGE, cli_errno_name(errno),
				  "cannot read %s: %s", path, strerror(errno));
	if (fstat(fd, &before) != 0) {
		rc = put_failed(t, CLI_USAGE, cli_errno_name(errno),
				"cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	if (S_ISDIR(before.st_mode)) {
		rc = put_failed(t, CLI_USAGE, cli_errno_name(EISDIR),
				"cannot read %s: it is a folder", path);
		goto out;
	}
	/* Only a regular file of a real file system has a size to trust. */
	sized = S_ISREG(before.st_mode) && !pseudo_fs(fd, before.st_dev);
	if (sized && r->info.hash == B3CAS_HASH_BLAKE3 &&
	    (uint64_t)before.st_size > r->info.inline_threshold) {
		rc = put_if_stored(t, fd, path, &before, &done);
		if (rc != CLI_OK || done)
			goto out;
	}
	err = b3cas_writer_open(&w, r->store);
	if (err >= 0 && r->has_base) {
		err = b3cas_writer_set_base(w, &r->base);
		if (err < 0)
			b3cas_writer_abort(w);
	}
	if (err < 0) {
		rc = put_failed(t, cli_exit_code(err, false),
				cli_error_name(err), "cannot store %s: %s",
				path, b3cas_error_last());
		goto out;
	}
	rc = copy_in(t, w, fd, path, sized ? (uint64_t)before.st_size : 0,
		     &total);
	if (rc == CLI_OK && sized &&
	    (fstat(fd, &after) != 0 || !same_file_state(&before, &after) ||
	     (uint64_t)before.st_size != total))
		rc = put_failed(t, CLI_USAGE, CLI_ENAME_CHANGED,
				"%s changed while it was being stored (%lld "
				"bytes when opened, %llu read); nothing "
				"stored for it",
				path, (long long)before.st_size,
				(unsigned long long)total);
	if (rc != CLI_OK) {
		b3cas_writer_abort(w);
		goto out;
	}
	err = b3cas_writer_commit(w, &id);
	if (err < 0) {
		rc = put_failed(t, cli_exit_code(err, false),
				cli_error_name(err), "cannot store %s: %s",
				path, b3cas_error_last());
		goto out;
	}
	put_stored(t, &id, total, err == 1);
out:
	if (!is_stdin)
		close(fd);
	return rc;
}

/* The line of input r->printed, which is done; the next one's turn. */
static void print_next(put_run *r)
{
	put_result *p = &r->res[r->printed];
	const char *name = r->names[r->printed];

	if (p->state == PUT_STORED)
		print_id(&r->o, &p->id, name, p->size, p->dup, r->bare);
	else if (r->o.json && p->error)
		cli_json_failure("name", name, p->error,
				 p->message ? p->message : "");
	free(p->message);
	p->message = NULL;
	r->printed++;
}

/*
 * Input i is done with exit code rc and result *res (the storing thread's
 * own, copied in here under the lock that the printing reads under): keep
 * the worst code, stop the run on a store error, and print every finished
 * input that no longer waits for an earlier one.
 */
static void put_done(put_run *r, int i, int rc, const put_result *res)
{
	pthread_mutex_lock(&r->lock);
	r->res[i] = *res;
	r->rc = cli_worse(r->rc, rc);
	/* A store error ends the run; a bad file does not. */
	if (rc == CLI_STORE)
		atomic_store(&r->stop, true);
	if (r->res[i].state == PUT_PENDING)
		r->res[i].state = PUT_FAILED; /* rc says what, stderr why */
	while (r->printed < r->n && r->res[r->printed].state != PUT_PENDING)
		print_next(r);
	pthread_mutex_unlock(&r->lock);
}

/* After the threads: the lines still owed, in order; a file no thread
 * took (a store error ended the run) gets, with --json, its "not done"
 * line in its place. */
static void put_print_rest(const cli_ctx *ctx, put_run *r)
{
	while (r->printed < r->n) {
		if (r->res[r->printed].state != PUT_PENDING) {
			print_next(r);
			continue;
		}
		if (r->o.json && !r->bare)
			cli_json_not_done(ctx, true, "name",
					  &r->names[r->printed], 1);
		r->printed++;
	}
}

/* Store inputs until none is left or one failed the store. */
static void put_inputs(put_task *t)
{
	put_run *r = t->r;
	put_result mine;
	int rc;

	while (!atomic_load(&r->stop)) {
		int i = atomic_fetch_add(&r->next, 1);

		if (i >= r->n)
			break;
		if (r->order)
			i = r->order[i];
		memset(&mine, 0, sizeof(mine));
		t->res = &mine;
		rc = put_one(t, r->names[i]);
		put_done(r, i, rc, &mine);
	}
}

/* put_inputs on a thread of its own, with its own buffer. */
static void *put_worker(void *arg)
{
	put_task t = {arg, malloc(READ_CHUNK), NULL};

	/* Without a buffer this thread takes nothing; the others go on
	 * (the calling thread has its buffer before any starts). */
	if (t.buf)
		put_inputs(&t);
	free(t.buf);
	return NULL;
}

/* The threads to store with: --threads, else one per CPU (at most
 * MAX_THREADS), never more than the inputs; one when stdin is one. */
static unsigned put_threads(const put_run *r)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t n = r->o.threads;

	if (n == 0)
		n = cpus > 0 ? (uint64_t)(cpus < MAX_THREADS ? cpus
							     : MAX_THREADS)
			     : 1;
	if (n > (uint64_t)r->n)
		n = (uint64_t)r->n;
	for (int i = 0; i < r->n && n > 1; i++)
		if (strcmp(r->names[i], "-") == 0)
			n = 1;
	return n ? (unsigned)n : 1;
}

/* An input and its size, for the order of taking. */
typedef struct sized {
	uint64_t size;
	int i;
} sized;

static int larger_first(const void *a, const void *b)
{
	const sized *x = a, *y = b;

	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* r->order: the inputs by size, largest first (ties and inputs stat
 * cannot size, which put_one then reports, in argument order). Without
 * memory, NULL: the order given. */
static void order_by_size(put_run *r)
{
	sized *v = malloc((size_t)r->n * sizeof(*v));

	r->order = malloc((size_t)r->n * sizeof(*r->order));
	if (!v || !r->order) {
		free(v);
		free(r->order);
		r->order = NULL;
		return;
	}
	for (int i = 0; i < r->n; i++) {
		struct stat st;

		v[i].i = i;
		v[i].size = stat(r->names[i], &st) == 0 ? (uint64_t)st.st_size
							 : 0;
	}
	qsort(v, (size_t)r->n, sizeof(*v), larger_first);
	for (int i = 0; i < r->n; i++)
		r->order[i] = v[i].i;
	free(v);
}

/* Store every input; the calling thread is one of the threads. Returns
 * the worst exit code. */
static int put_all(put_run *r)
{
	unsigned want = put_threads(r), started = 0;
	pthread_t *tid = calloc(want, sizeof(*tid));
	char *buf = malloc(READ_CHUNK);
	put_task first = {r, buf, NULL};

	r->res = calloc((size_t)r->n, sizeof(*r->res));
	if (!tid || !buf || !r->res) {
		free(tid);
		free(buf);
		cli_error("out of memory");
		return CLI_STORE;
	}
	r->meter = want == 1;
	if (want > 1)
		order_by_size(r);
	for (unsigned k = 1; k < want; k++)
		if (pthread_create(&tid[started], NULL, put_worker, r) == 0)
			started++;
	put_inputs(&first);
	for (unsigned k = 0; k < started; k++)
		pthread_join(tid[k], NULL);
	free(tid);
	free(buf);
	return r->rc;
}

/*
 * The names of --files0-from F ('-': standard input) into *names and *n:
 * pointers into *text, which the caller frees. Each name ends with a NUL
 * byte (the last may end with the file instead). CLI_OK, or CLI_USAGE
 * after a message: F unreadable, an empty name, or '-' named while the
 * names come from standard input.
 */
static int read_files0(const char *from, char **text, char ***names,
		       int *n)
{
	bool from_stdin = strcmp(from, "-") == 0;
	int fd = from_stdin ? 0 : open(from, O_RDONLY | O_CLOEXEC);
	size_t len = 0, cap = 1 << 16, count = 0, k = 0;
	char *buf = NULL;

	*text = NULL;
	*names = NULL;
	*n = 0;
	if (fd < 0)
		return cli_usage_error("put", "cannot open --files0-from %s: %s",
				       from, strerror(errno));
	for (;;) {
		long long got;

		if (!buf || len == cap) {
			char *more = len == cap ? realloc(buf, cap *= 2)
						: malloc(cap);

			if (!more) {
				free(buf);
				if (!from_stdin)
					close(fd);
				cli_error("out of memory");
				return CLI_STORE;
			}
			buf = more;
		}
		got = cli_read_full(fd, buf + len, cap - len);
		if (got < 0) {
			int e = errno;

			free(buf);
			if (!from_stdin)
				close(fd);
			return cli_usage_error("put", "cannot read "
					       "--files0-from %s: %s", from,
					       strerror(e));
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	if (!from_stdin)
		close(fd);
	/* One more byte for a last name that the file ends without a NUL. */
	if (len == cap) {
		char *more = realloc(buf, cap + 1);

		if (!more) {
			free(buf);
			cli_error("out of memory");
			return CLI_STORE;
		}
		buf = more;
	}
	if (len > 0 && buf[len - 1] != '\0')
		buf[len++] = '\0';
	for (size_t i = 0; i < len; i++)
		count += buf[i] == '\0';
	if (count > INT_MAX - 1) {
		free(buf);
		return cli_usage_error("put", "--files0-from %s: too many names",
				       from);
	}
	*names = malloc((count ? count : 1) * sizeof(**names));
	if (!*names) {
		free(buf);
		cli_error("out of memory");
		return CLI_STORE;
	}
	for (size_t i = 0; i < len; i += strlen(buf + i) + 1) {
		const char *why = buf[i] == '\0' ? "an empty file name"
				  : from_stdin && strcmp(buf + i, "-") == 0
					  ? "'-', but standard input holds "
					    "the names"
					  : NULL;

		if (why) {
			free(*names);
			*names = NULL;
			free(buf);
			return cli_usage_error("put", "--files0-from %s: name "
					       "%zu is %s", from, k + 1, why);
		}
		(*names)[k++] = buf + i;
	}
	*text = buf;
	*n = (int)k;
	return CLI_OK;
}

int cmd_put(cli_ctx *ctx, int argc, char **argv)
{
	static char *stdin_only[] = {"-"};
	put_run r = {.o = {false, false, 0, NULL, NULL}};
	put_opts *o = &r.o;
	cli_args pos;
	char *list = NULL, **listed = NULL;
	int rc;

	if (!cli_opt_parse(&rc, &pos, &cmd_put_spec, o, argc, argv))
		return rc;
	if (o->files0_from) {
		if (pos.n)
			return cli_usage_error("put", "FILE arguments and "
					       "--files0-from cannot go "
					       "together");
		rc = read_files0(o->files0_from, &list, &listed, &pos.n);
		if (rc != CLI_OK)
			return rc;
		pos.v = listed;
		if (pos.n == 0) {
			/* An empty list stores nothing (find found nothing). */
			free(list);
			free(listed);
			return CLI_OK;
		}
	}
	if (o->base && !cli_parse_oid(&r.base, o->base)) {
		free(list);
		free(listed);
		return CLI_USAGE;
	}
	r.has_base = o->base != NULL;
	r.names = pos.n ? pos.v : stdin_only;
	r.n = pos.n ? pos.n : 1;
	r.bare = pos.n == 0;
	pthread_mutex_init(&r.lock, NULL);
	rc = cli_open_store_rw(&r.store, ctx);
	if (rc == CLI_OK && r.has_base &&
	    b3cas_store_exists(r.store, &r.base) != 1) {
		char hex[B3CAS_OID_HEX_LEN + 1];

		cli_error("put: --base %s is not stored",
			  b3cas_oid_fmt(hex, &r.base));
		rc = cli_close_store(r.store, CLI_USAGE);
		r.store = NULL;
	}
	if (rc == CLI_OK && r.store) {
		b3cas_store_info_get(&r.info, r.store);
		rc = put_all(&r);
		if (r.res)
			put_print_rest(ctx, &r);
		else if (o->json && pos.n)
			cli_json_not_done(ctx, true, "name", pos.v, pos.n);
		rc = cli_close_store(r.store, rc);
	} else if (o->json) {
		cli_json_not_done(ctx, false, "name", r.names, r.n);
	}
	if (r.res)
		for (int i = 0; i < r.n; i++)
			free(r.res[i].message);
	free(r.res);
	free(r.order);
	b3cas_pool_free(r.pool);
	pthread_mutex_destroy(&r.lock);
	free(listed);
	free(list);
	return cli_finish_stdout(rc);
}
