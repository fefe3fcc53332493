/*
 * test_powerloss_child.c - what test_powerloss's children run: the
 * contents (the pool of POOL objects), the random workload of a round
 * with its log shared with the parent (child_run), and the check of the
 * image after a power loss (check_image), which also makes a fresh store.
 */
#include <dirent.h>
#include <execinfo.h>
#include <signal.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "test_powerloss_int.h"
#include "test_util.h"

char base[256], store_dir[300], image_dir[300];
uint8_t *data[POOL];
size_t lens[POOL];
b3cas_oid ids[POOL];
uint8_t ckpt_bytes[NCKPT][8 + CKPT_LINKS * B3CAS_OID_LEN];
size_t ckpt_lens[NCKPT], ckpt_nlinks[NCKPT];
int ckpt_of[NCKPT][CKPT_LINKS];
b3cas_oid ckpt_ids[NCKPT], ckpt_links[NCKPT][CKPT_LINKS];

void make_checkpoints(void)
{
	for (int k = 0; k < NCKPT; k++) {
		size_t n = 1 + (size_t)k % CKPT_LINKS;

		memcpy(ckpt_bytes[k], "ckpt", 4);
		memcpy(ckpt_bytes[k] + 4, &k, 4);
		for (size_t j = 0; j < n; j++) {
			/* inline, loose and 1 MiB contents among them */
			int c = (k * 11 + (int)j * 5) % POOL;

			ckpt_of[k][j] = c;
			ckpt_links[k][j] = ids[c];
			memcpy(ckpt_bytes[k] + 8 + j * B3CAS_OID_LEN, ids[c].bytes,
			       B3CAS_OID_LEN);
		}
		ckpt_nlinks[k] = n;
		ckpt_lens[k] = 8 + n * B3CAS_OID_LEN;
		b3cas_hash(ckpt_ids[k].bytes, ckpt_bytes[k], ckpt_lens[k]);
	}
}

static void ckpt_name(char *out, size_t n, int k)
{
	snprintf(out, n, "ckpt/sb%d/0", k);
}

static void child_fail(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

static void child_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sh->msg, sizeof(sh->msg), fmt, ap);
	va_end(ap);
	_exit(3);
}

static uint32_t log_start(int content, int delta)
{
	uint32_t r = sh->nrec;

	if (r == MAXREC)
		child_fail("log full");
	sh->rec[r].content = content;
	sh->rec[r].delta = delta;
	sh->rec[r].state = REC_FLIGHT;
	atomic_thread_fence(memory_order_seq_cst);
	sh->nrec = r + 1;
	return r;
}

static void log_end(uint32_t from, uint32_t to, bool ok, b3cas_durability d,
		    uint64_t *cur)
{
	for (uint32_t r = from; r < to; r++) {
		sh->rec[r].state = ok ? REC_DONE : REC_FAILED;
		if (ok)
			cur[sh->rec[r].content] += (uint64_t)sh->rec[r].delta;
	}
	atomic_thread_fence(memory_order_seq_cst);
	if (ok && d == B3CAS_DURABILITY_FULL)
		sh->durable = sh->nrec;
}

static b3cas_store *child_open(b3cas_durability d)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *s = NULL;
	int rc;

	o.durability = d;
	o.sync_interval_ms = 3; /* the flusher runs often: it may crash */
	o.l1_bytes = 0;
	rc = b3cas_store_open(&s, store_dir, &o);
	if (rc != 0) {
		/* Only an injected failure may stop the open. */
		if (pl.fault.fired)
			return NULL;
		child_fail("open: %s", b3cas_error_last());
	}
	return s;
}

static void child_put(b3cas_store *s, int i, int how, b3cas_durability d,
		      uint64_t *cur)
{
	uint32_t r = log_start(i, 1);
	b3cas_oid id;
	int rc;

	if (how == 0) {
		rc = b3cas_store_put(s, &id, data[i], lens[i]);
	} else {
		b3cas_writer *w = NULL;

		rc = b3cas_writer_open(&w, s);
		for (size_t off = 0; rc == 0 && off < lens[i]; off += 4000) {
			size_t n = lens[i] - off < 4000 ? lens[i] - off : 4000;

			rc = b3cas_writer_write(w, data[i] + off, n);
		}
		if (rc == 0)
			rc = b3cas_writer_commit(w, &id);
		else if (w)
			b3cas_writer_abort(w);
	}
	if (rc >= 0 && !b3cas_oid_equal(&id, &ids[i]))
		child_fail("put of content %d returned another id", i);
	log_end(r, r + 1, rc >= 0, d, cur);
}

static void child_batch(b3cas_store *s, uint64_t *rng, b3cas_durability d,
			uint64_t *cur)
{
	const void *ptrs[4];
	size_t ls[4];
	b3cas_oid out[4];
	bool dup[4];
	int idx[4], n = 2 + (int)(tu_rand(rng) % 3);
	uint32_t first = sh->nrec;
	int rc;

	for (int k = 0; k < n; k++) {
		idx[k] = (int)(tu_rand(rng) % POOL);
		for (int j = 0; j < k; j++)
			if (idx[j] == idx[k])
				idx[k] = (idx[k] + 1 + j) % POOL;
		ptrs[k] = data[idx[k]];
		ls[k] = lens[idx[k]];
		log_start(idx[k], 1);
	}
	rc = b3cas_store_put_batch(s, out, dup, ptrs, ls, (size_t)n);
	if (rc >= 0)
		for (int k = 0; k < n; k++)
			if (!b3cas_oid_equal(&out[k], &ids[idx[k]]))
				child_fail("batch put returned another id");
	log_end(first, sh->nrec, rc >= 0, d, cur);
}

static void child_get(b3cas_store *s, int i)
{
	void *got;
	size_t len;

	if (b3cas_store_get(s, &ids[i], &got, &len) != 0)
		return; /* an injected failure may explain it; checked later */
	if (len != lens[i] || memcmp(got, data[i], len) != 0)
		child_fail("get of content %d returned wrong bytes", i);
	b3cas_free(got);
}

/* One caller reference to content i goes (the log knows it is there);
 * false when the delete failed (an injected failure). */
static bool child_release(b3cas_store *s, int i, b3cas_durability d,
			  uint64_t *cur)
{
	uint32_t r = log_start(i, -1);
	bool ok = b3cas_store_delete(s, &ids[i]) >= 0;

	log_end(r, r + 1, ok, d, cur);
	return ok;
}

/* A checkpoint's create: the contents it links that no one holds put
 * first (its files), then its record and name in one step (refused when
 * a link is not stored, after a failed put: a failure, nothing changed).
 * The log's view (cur) decides what to do. When release is set the
 * caller then lets go of every content it holds that the checkpoint
 * links (a sandbox engine that held its files until the checkpoint was
 * made), so the link alone keeps them: the case the check after the
 * power loss must see (ss->only_linked). */
static void child_ckpt_create(b3cas_store *s, int k, bool release,
			      b3cas_durability d, uint64_t *cur)
{
	char name[64];
	b3cas_oid id;
	uint32_t r;
	int rc;

	if (cur[POOL + k])
		return;
	for (size_t j = 0; j < ckpt_nlinks[k]; j++)
		if (!cur[ckpt_of[k][j]])
			child_put(s, ckpt_of[k][j], 0, d, cur);
	ckpt_name(name, sizeof(name), k);
	r = log_start(POOL + k, 1);
	rc = b3cas_name_put_linked(s, name, ckpt_bytes[k], ckpt_lens[k],
				   ckpt_links[k], ckpt_nlinks[k], &id);
	if (rc >= 0 && !b3cas_oid_equal(&id, &ckpt_ids[k]))
		child_fail("checkpoint %d's record stored as another id", k);
	log_end(r, r + 1, rc >= 0, d, cur);
	if (rc < 0 || !release)
		return;
	for (size_t j = 0; j < ckpt_nlinks[k]; j++)
		while (cur[ckpt_of[k][j]] > 0)
			if (!child_release(s, ckpt_of[k][j], d, cur))
				return;
}

/* A checkpoint's removal (checkpoint rm, prune): its name goes. */
static void child_ckpt_delete(b3cas_store *s, int k, b3cas_durability d,
			      uint64_t *cur)
{
	char name[64];
	uint32_t r;

	for (int n = 0; n < NCKPT && !cur[POOL + k]; n++)
		k = (k + 1) % NCKPT;
	if (!cur[POOL + k])
		return;
	ckpt_name(name, sizeof(name), k);
	r = log_start(POOL + k, -1);
	log_end(r, r + 1, b3cas_name_delete(s, name) == 0, d, cur);
}

/* A failed assertion inside librocksdb (Debian builds it with them on):
 * say where, for the failure message. */
static void on_abort(int sig)
{
	void *frames[40];
	int n = backtrace(frames, 40);

	(void)sig;
	backtrace_symbols_fd(frames, n, 2);
	_exit(5);
}

/* A workload's start: the store as the parent closed it is durable; the
 * simulated disk takes over, and cur starts from the counts found. */
static void child_begin(uint64_t *cur)
{
	struct stat st;

	signal(SIGABRT, on_abort);
	signal(SIGRTMIN + 2, on_freeze);
	memcpy(cur, ss->counts, sizeof(uint64_t) * SLOTS);
	if (lstat(pl.root, &st) != 0)
		child_fail("no store folder");
	pl.rootnode = node_new(st.st_ino, true);
	snap_everything();
	pl.active = true;
}

/* A workload's end: the power fails now (unless it already has, in a
 * thread that is writing the image: let that finish). */
static void child_end(void)
{
	pthread_mutex_lock(&pl.lock);
	if (!pl.active) {
		pthread_mutex_unlock(&pl.lock);
		for (;;)
			pause();
	}
	power_loss(2);
}

void child_run(uint64_t seed, b3cas_durability d)
{
	uint64_t rng = seed, cur[SLOTS];
	int nops = 1 + (int)(tu_rand(&rng) % MAXOPS);
	b3cas_store *s;

	child_begin(cur);
	s = child_open(d);
	for (int op = 0; s && op < nops; op++) {
		unsigned what = (unsigned)(tu_rand(&rng) % 110);
		int i = (int)(tu_rand(&rng) % POOL);

		if (what < 35) {
			child_put(s, i, 0, d, cur);
		} else if (what < 45) {
			child_put(s, i, 1, d, cur);
		} else if (what < 52) {
			child_batch(s, &rng, d, cur);
		} else if (what < 72) {
			/* delete one reference this log knows is there */
			for (int k = 0; k < POOL && !cur[i]; k++)
				i = (i + 1) % POOL;
			if (cur[i])
				child_release(s, i, d, cur);
		} else if (what < 77) {
			b3cas_gc_options go = B3CAS_GC_OPTIONS_INIT;

			go.normal_priority = true;
			b3cas_gc(s, &go, NULL);
		} else if (what < 87) {
			uint32_t upto = sh->nrec;

			if (b3cas_store_sync(s) == 0)
				sh->durable = upto;
		} else if (what < 91) {
			uint32_t upto = sh->nrec;

			if (b3cas_store_close(s) == 0)
				sh->durable = upto;
			sh->reopened++;
			s = child_open(d);
		} else if (what < 100) {
			child_get(s, i);
		} else if (what < 107) {
			child_ckpt_create(s, i % NCKPT, tu_rand(&rng) % 2,
					  d, cur);
		} else {
			child_ckpt_delete(s, i % NCKPT, d, cur);
		}
	}
	/* The end of the workload: the power fails now, store still open. */
	child_end();
}

/*
 * A log an open kept, never synced (index/index.c, sync_kept_logs): puts
 * in durability none leave their records in the log, unsynced; a put
 * then fails on an injected EIO in the log, so the close does not flush;
 * the reopen replays the log into the memtables and keeps it; more puts,
 * and the close flushes the column families one by one. The power fails
 * at pl.crash_at (the caller tries each sync event after the reopen) or
 * at the end, and the image must open.
 */
void child_kept_log(void)
{
	const b3cas_durability d = B3CAS_DURABILITY_NONE;
	uint64_t cur[SLOTS];
	b3cas_store *s;
	uint32_t failed;

	child_begin(cur);
	if (!(s = child_open(d)))
		child_fail("first open failed");
	/* Inline contents only (every third): no object file, so the
	 * close makes no syncfs that would sync the log as well. */
	for (int i = 0; i < 24; i += 3)
		child_put(s, i, 0, d, cur);
	/* Deletes to no reference: GC candidates, in another column
	 * family than the entries. */
	for (int i = 0; i < 24; i += 6)
		child_release(s, i, d, cur);
	pthread_mutex_lock(&pl.lock);
	memset(&pl.fault, 0, sizeof(pl.fault));
	pl.fault.at = 1; /* the next write to an index file: the log's */
	pl.fault.err = EIO;
	pthread_mutex_unlock(&pl.lock);
	failed = sh->nrec;
	child_put(s, 24, 0, d, cur);
	if (sh->rec[failed].state != REC_FAILED)
		child_fail("the put meeting the injected EIO did not fail");
	(void)b3cas_store_close(s); /* may fail: nothing is promised */
	pthread_mutex_lock(&pl.lock);
	pl.fault.at = 0;
	sh->mark = pl.syncs;
	pthread_mutex_unlock(&pl.lock);
	if (!(s = child_open(d)))
		child_fail("reopen: %s", b3cas_error_last());
	for (int i = 27; i < 39; i += 3)
		child_put(s, i, 0, d, cur);
	if (b3cas_store_close(s) == 0)
		sh->durable = sh->nrec;
	child_end();
}

/* ---- the checker: a child too ---------------------------------------------- */

/*
 * Every use of RocksDB happens in a child process: RocksDB's default Env
 * keeps a thread pool for the whole process once a database was opened,
 * and a fork copies none of those threads, so a child of a parent that
 * had opened one would wait for flushes that never run.
 */

static b3cas_store *checker_open(void)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *s = NULL;

	no_sync = true; /* in a child of its own (see in_child) */
	o.create = true;
	o.inline_threshold = THRESHOLD;
	o.l1_bytes = 0;
	tu_store_policy(&o);
	if (b3cas_store_open(&s, store_dir, &o) != 0)
		child_fail("open after the power loss: %s",
			   b3cas_error_last());
	return s;
}

typedef struct lost_ids {
	b3cas_oid ids[POOL * 4];
	size_t n;
} lost_ids;

static int note_lost(const b3cas_fsck_problem *p, void *ctx)
{
	lost_ids *l = ctx;

	if (p->lost && p->has_id && l->n < POOL * 4)
		l->ids[l->n++] = p->id;
	return 0;
}

/* A problem fsck still finds after its repair: into the failure message. */
static int note_left(const b3cas_fsck_problem *p, void *ctx)
{
	char hex[B3CAS_OID_HEX_LEN + 1];

	(void)ctx;
	snprintf(sh->msg, sizeof(sh->msg), "kind %d, %s: %s",
		 (int)p->kind, p->has_id ? b3cas_oid_fmt(hex, &p->id) : "-",
		 p->detail ? p->detail : "");
	return 0;
}

static int find_content(const b3cas_oid *id)
{
	for (int i = 0; i < POOL; i++)
		if (b3cas_oid_equal(id, &ids[i]))
			return i;
	return -1;
}

static int find_record(const b3cas_oid *id)
{
	for (int k = 0; k < NCKPT; k++)
		if (b3cas_oid_equal(id, &ckpt_ids[k]))
			return k;
	return -1;
}

static int check_known(const b3cas_object_info *info, void *ctx)
{
	(void)ctx;
	/* a chunking store lists its chunks (at most 4096 bytes) too */
	if (tu_chunking() && info->size <= 4096)
		return 0;
	if (find_content(&info->id) < 0 && find_record(&info->id) < 0) {
		char hex[B3CAS_OID_HEX_LEN + 1];

		child_fail("the store holds %s, which was never put",
			   b3cas_oid_fmt(hex, &info->id));
	}
	return 0;
}

/* id reads back as the n bytes at want. */
static void read_exact(b3cas_store *s, const b3cas_oid *id, const void *want,
		       size_t n, const char *what, int which)
{
	void *got;
	size_t len;

	if (b3cas_store_get(s, id, &got, &len) != 0)
		child_fail("%s %d unreadable: %s", what, which,
			   b3cas_error_last());
	if (len != n || memcmp(got, want, n) != 0)
		child_fail("%s %d read back wrong", what, which);
	b3cas_free(got);
}

/*
 * Checkpoint k after the power loss: its name exists as the log allows
 * (lo..hi: a create or removal done before the durable point is certain),
 * its record has the name's reference and no other, and a checkpoint
 * that exists reads back whole: the record and every content it links
 * to, whatever the contents' own counts (the workload's GC ran with no
 * grace: a link that did not hold would have let it free them).
 */
static void check_checkpoint(b3cas_store *s, int k, int64_t lo, int64_t hi)
{
	char name[64];
	b3cas_oid id;
	uint64_t c = 0;
	int rc, there;

	ckpt_name(name, sizeof(name), k);
	rc = b3cas_name_get(s, name, &id);
	if (rc != 0 && rc != B3CAS_ENOTFOUND)
		child_fail("name_get: %s", b3cas_error_last());
	there = rc == 0;
	if (there < lo || there > hi)
		child_fail("checkpoint %d %s; the log allows %lld..%lld "
			   "(durable point %u of %u records)", k,
			   there ? "exists" : "is gone", (long long)lo,
			   (long long)hi, sh->durable, sh->nrec);
	rc = b3cas_refcount(s, &ckpt_ids[k], &c);
	if (rc != 0 && rc != B3CAS_ENOTFOUND)
		child_fail("refcount: %s", b3cas_error_last());
	if (rc != 0)
		c = 0;
	if (c != (uint64_t)there)
		child_fail("checkpoint %d's record has %llu references, and "
			   "its name %s", k, (unsigned long long)c,
			   there ? "exists" : "does not");
	ss->counts[POOL + k] = (uint64_t)there;
	if (!there)
		return;
	if (!b3cas_oid_equal(&id, &ckpt_ids[k]))
		child_fail("checkpoint %d's name names another object", k);
	read_exact(s, &ckpt_ids[k], ckpt_bytes[k], ckpt_lens[k],
		   "the record of checkpoint", k);
	for (size_t j = 0; j < ckpt_nlinks[k]; j++) {
		int i = ckpt_of[k][j];

		read_exact(s, &ids[i], data[i], lens[i],
			   "a live checkpoint's content", i);
		/* the pool's checks ran first: counts[i] is the callers' */
		ss->only_linked += ss->counts[i] == 0;
	}
	ss->reached++;
}

/* The check after a power loss (see the header), in a child; the counts
 * found go back through shared memory. */
void check_image(void)
{
	int64_t lo[SLOTS], hi[SLOTS];
	b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;
	b3cas_fsck_report rep;
	lost_ids lost = {.n = 0};
	b3cas_store *s;

	for (int i = 0; i < SLOTS; i++)
		lo[i] = hi[i] = (int64_t)ss->counts[i];
	for (uint32_t r = 0; r < sh->nrec; r++) {
		const oprec *o = &sh->rec[r];
		bool certain = o->state == REC_DONE && r < sh->durable;

		if (certain || o->delta > 0)
			hi[o->content] += o->delta;
		if (certain || o->delta < 0)
			lo[o->content] += o->delta;
	}
	s = checker_open();
	fo.repair = true;
	fo.on_problem = note_lost;
	fo.ctx = &lost;
	if (b3cas_fsck(s, &fo, &rep) != 0)
		child_fail("fsck --repair: %s", b3cas_error_last());
	ss->repaired += rep.problems;
	fo.repair = false;
	fo.on_problem = note_left;
	if (b3cas_fsck(s, &fo, &rep) != 0)
		child_fail("fsck: %s", b3cas_error_last());
	if (rep.problems) {
		char last[sizeof(sh->msg)];

		memcpy(last, sh->msg, sizeof(last));
		child_fail("%llu problems left after fsck --repair (the last: "
			   "%.300s)", (unsigned long long)rep.problems, last);
	}
	for (size_t k = 0; k < lost.n; k++) {
		int i = find_content(&lost.ids[k]);

		if (i >= 0 && lo[i] > 0)
			child_fail("fsck lost content %d, which had %lld "
				   "durable references", i, (long long)lo[i]);
	}
	if (b3cas_store_foreach(s, check_known, NULL) != 0)
		child_fail("foreach: %s", b3cas_error_last());
	for (int i = 0; i < POOL; i++) {
		uint64_t c = 0;
		int rc = b3cas_refcount(s, &ids[i], &c);
		void *got;
		size_t len;

		if (rc != 0 && rc != B3CAS_ENOTFOUND)
			child_fail("refcount: %s", b3cas_error_last());
		if (rc != 0)
			c = 0;
		/* fsck re-indexes a sound file whose entry the power loss
		 * took as a GC candidate (count 0), never with a reference:
		 * a delete or GC the log says happened must stay done. */
		if ((int64_t)c < lo[i] || (int64_t)c > hi[i])
			child_fail("content %d has %llu references; the log "
				   "allows %lld..%lld (durable point %u of %u "
				   "records)", i, (unsigned long long)c,
				   (long long)lo[i], (long long)hi[i],
				   sh->durable, sh->nrec);
		if (lo[i] > 0)
			ss->certain++;
		if (c > 0) {
			rc = b3cas_store_get(s, &ids[i], &got, &len);
			if (rc != 0)
				child_fail("content %d (%llu references, %lld "
					   "durable) unreadable: %s", i,
					   (unsigned long long)c,
					   (long long)lo[i],
					   b3cas_error_last());
			if (len != lens[i] || memcmp(got, data[i], len) != 0)
				child_fail("content %d read back wrong", i);
			b3cas_free(got);
			ss->checked++;
		}
		ss->counts[i] = c;
	}
	for (int k = 0; k < NCKPT; k++)
		check_checkpoint(s, k, lo[POOL + k], hi[POOL + k]);
	if (b3cas_store_close(s) != 0)
		child_fail("close: %s", b3cas_error_last());
}

void make_fresh_store(void)
{
	b3cas_store *s = checker_open();

	if (b3cas_store_close(s) != 0)
		child_fail("close: %s", b3cas_error_last());
	memset(ss->counts, 0, sizeof(ss->counts));
}

/*
 * Before a store is made anew: every checkpoint removed and every
 * reference the last check found deleted, GC with no grace must leave
 * nothing, not a record, content or chunk (what a checkpoint held goes
 * with it: no leak after prune and GC).
 */
void drain_store(void)
{
	b3cas_store *s = checker_open();
	b3cas_gc_options go = B3CAS_GC_OPTIONS_INIT;
	b3cas_stats st;
	char name[64];

	for (int k = 0; k < NCKPT; k++) {
		int rc;

		ckpt_name(name, sizeof(name), k);
		rc = b3cas_name_delete(s, name);
		if (rc != 0 && rc != B3CAS_ENOTFOUND)
			child_fail("name_delete: %s", b3cas_error_last());
	}
	for (int i = 0; i < POOL; i++)
		for (uint64_t n = 0; n < ss->counts[i]; n++)
			if (b3cas_store_delete(s, &ids[i]) < 0)
				child_fail("delete of content %d (%llu "
					   "references): %s", i,
					   (unsigned long long)ss->counts[i],
					   b3cas_error_last());
	if (b3cas_gc(s, &go, NULL) != 0)
		child_fail("gc: %s", b3cas_error_last());
	if (b3cas_store_stats(s, &st) != 0)
		child_fail("stats: %s", b3cas_error_last());
	if (st.objects || st.candidates)
		child_fail("every checkpoint and reference gone and GC run: "
			   "%llu objects and %llu candidates left",
			   (unsigned long long)st.objects,
			   (unsigned long long)st.candidates);
	if (b3cas_store_close(s) != 0)
		child_fail("close: %s", b3cas_error_last());
	ss->drained++;
}
