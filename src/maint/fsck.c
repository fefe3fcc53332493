/*
 * maint/fsck.c - b3cas_fsck: every index entry checked against its
 * bytes, every file of the object tier against the index, reference
 * counts against objects, and L2 cache copies against their names; with
 * repair, each finding mended or reported lost. b3cas_scrub: the first
 * of these alone, in id order and paced.
 *
 * Invariants: everything reported or repaired about an id is examined
 * while its stripe lock is held (an entry and its bytes; a tier file
 * without an entry, judged again with its entry read again; an L2 copy),
 * so a put, delete or GC of the same id is either wholly before or wholly
 * after the examination and is never reported as a problem; repairs
 * re-check under the lock what they change (b3cas__quarantine_loose,
 * b3cas__store_heal, remove_lost, an orphan indexed under the same hold
 * that found it); a file of the tier is never deleted unless its bytes
 * are kept elsewhere (the index, or integrity/quarantine/), and an object
 * is declared lost only when no good copy exists here or in the mirror.
 * An orphan is indexed without a reference (a GC candidate), so no
 * object whose last reference was dropped comes back (docs/store.md,
 * "Orphans"). A GC candidate whose file is gone is no damage: GC unlinks
 * before it removes the entry. L2 copies are only a cache: a bad one is
 * deleted, through L2's own index when it has one.
 *
 * A read-only handle's index is the snapshot it opened, and stripe locks
 * do not reach the writing process: findings that the writer's later work
 * could explain (missing, orphan, an L2 copy of an object not held) are
 * kept as suspects and judged again after their phase against the index
 * opened afresh (confirm_suspects); only those that still hold are
 * reported.
 *
 * Beyond the four phases: the tier's top folder (anything but 00..ff is
 * a stray) and the staging folder (files of puts that never finished)
 * are looked at on the calling thread before the tier phase; damage to
 * the index itself - a block a walk cannot read, a damaged log - is one
 * "index" finding, never an error that stops the check and never
 * repaired here (b3cas_recover mends it); and the store's mirror is
 * opened and checked before anything else, so a mirror that cannot be
 * used is an error, not a reason to call objects lost.
 *
 * Threads. fsck runs four phases one after the other: index entries,
 * tier files, reference counts, L2 copies; each on opts->threads workers
 * that the calling thread starts and joins. Phases never overlap because
 * a repair in one changes what the next sees (a loose file that could not
 * be quarantined is a stray once its entry is removed), so with the
 * phases apart the findings do not depend on the number of threads. No
 * list of work is kept in memory: the two index phases cut the key space
 * into RANGES ranges by the first two bytes of the key (ids are uniform,
 * so the ranges hold about as many keys each), the two folder phases
 * into the 256 sub-folders, and each worker takes the next untaken piece
 * from one atomic counter, walking a range with its own RocksDB
 * iterator. A slow piece (a huge object) therefore holds up one worker,
 * not the others, and memory is one 1 MiB buffer and one iterator per
 * worker whatever the size of the store.
 *
 * Each worker counts into its own report, summed after the last join, so
 * no increment is lost; progress reads two shared relaxed counters. The
 * calling thread only waits, drawing progress ten times a second.
 * on_problem and progress are called under call_lock (one at a time,
 * never under a store lock); a non-zero return sets stop, which every
 * worker checks before each key or file. The first error a worker meets
 * is kept with its message (which is thread-local) and set again on the
 * calling thread once every worker has stopped.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "b3cas/integrity.h"
#include "store/store_int.h"
#include "index/wal.h"
#include "util/atomic.h"
#include "util/error.h"
#include "util/fsutil.h"

#define FILE_CHUNK (1u << 20)
#define MAX_THREADS 256
/* Pieces of the index: 1024 ranges of 64 stripes. Enough that the last
 * piece taken is a small part of the walk with 256 threads; few enough
 * that the seeks cost nothing on a small store (~2 ms). */
#define RANGES 1024u
#define RANGE_SPAN (65536u / RANGES)
#define PROGRESS_NS 100000000ull
/* A read-only handle's suspected orphan whose file changed this recently
 * before the index was read again may be a put still between publishing
 * its file and writing its entry: it is looked at once more this much
 * later. */
#define SETTLE_NS 2000000000ull

typedef enum fsck_phase {
	PHASE_ENTRIES,
	PHASE_TIER,
	PHASE_REFS,
	PHASE_COPIES
} fsck_phase;

typedef struct fsck_run {
	b3cas_store *s;
	const b3cas_fsck_options *o;
	atomic_int stop;            /* a callback's non-zero return */
	atomic_bool failed;         /* err is set */
	pthread_mutex_t call_lock;  /* one callback at a time */
	fsck_phase phase;           /* set before its workers start */
	atomic_uint next;           /* the next piece of the phase to take */
	atomic_ullong done, bytes;  /* index keys walked, bytes hashed */
	pthread_mutex_t wait_lock;  /* guards finished */
	pthread_cond_t finished_cond;
	unsigned finished;          /* workers done with the phase */
	pthread_mutex_t err_lock;   /* guards err, err_msg */
	int err;
	char err_msg[B3CAS__MESSAGE_MAX];
	atomic_bool index_damaged;  /* a walk met a part it cannot read */
	char index_msg[512];        /* RocksDB's words (under err_lock) */
	b3cas_l2 *l2;               /* the handle's L2 cache, or NULL */
	int l2_fd;                  /* the L2 folder to check, or -1 */
	bool own_l2_fd;
	/* Read-only handles: findings that may only say that the index
	 * was read before the writer's latest changes, confirmed against
	 * a fresh read of the index after the phase (confirm_suspects). */
	pthread_mutex_t suspects_lock;
	struct suspect *suspects;
	size_t n_suspects, cap_suspects;
} fsck_run;

/* A finding to confirm (see fsck_run). */
typedef struct suspect {
	b3cas_fsck_kind kind;
	b3cas_oid id;
	uint64_t size;
	char *path;       /* the finding's full path, or NULL */
	char rel[B3CAS_OBJECT_REL_LEN + 1]; /* orphans and copies: under
					     * the tier's or L2's folder */
	char detail[160];
	struct stat seen; /* orphans and copies: the file when found */
	int verdict; /* SUSPECT_... */
} suspect;

enum { SUSPECT_OPEN, SUSPECT_CONFIRMED, SUSPECT_DROPPED, SUSPECT_WAIT };

typedef struct fsck_worker {
	fsck_run *f;
	b3cas_fsck_report r;        /* this worker's counts */
	uint8_t *buf;               /* FILE_CHUNK bytes for reading files */
	pthread_t thread;
} fsck_worker;

const char *b3cas_fsck_kind_name(b3cas_fsck_kind kind)
{
	switch (kind) {
	case B3CAS_FSCK_CORRUPT: return "corrupt";
	case B3CAS_FSCK_MISSING: return "missing";
	case B3CAS_FSCK_WRONG_SIZE: return "wrong-size";
	case B3CAS_FSCK_ORPHAN: return "orphan";
	case B3CAS_FSCK_STRAY: return "stray";
	case B3CAS_FSCK_MALFORMED: return "malformed";
	case B3CAS_FSCK_DANGLING_REFS: return "dangling-refs";
	case B3CAS_FSCK_CACHE_COPY: return "cache-copy";
	case B3CAS_FSCK_INDEX: return "index";
	case B3CAS_FSCK_STAGING: return "staging";
	default: return "unknown";
	}
}

static bool halted(fsck_run *f)
{
	return atomic_load_explicit(&f->stop, memory_order_relaxed) != 0 ||
	       atomic_load_explicit(&f->failed, memory_order_relaxed);
}

/* Keep the first error (rc, with this thread's message) and halt all. */
static void fail(fsck_run *f, int rc)
{
	pthread_mutex_lock(&f->err_lock);
	if (!f->err) {
		f->err = rc;
		snprintf(f->err_msg, sizeof(f->err_msg), "%s",
			 b3cas_error_last());
		atomic_store(&f->failed, true);
	}
	pthread_mutex_unlock(&f->err_lock);
}

/* Count a finding and hand it to the caller. */
static void found(fsck_worker *w, b3cas_fsck_problem *p)
{
	fsck_run *f = w->f;
	b3cas_fsck_report *r = &w->r;
	int stop;

	r->problems++;
	switch (p->kind) {
	case B3CAS_FSCK_CORRUPT: r->corrupt++; break;
	case B3CAS_FSCK_MISSING: r->missing++; break;
	case B3CAS_FSCK_WRONG_SIZE: r->wrong_size++; break;
	case B3CAS_FSCK_ORPHAN: r->orphans++; break;
	case B3CAS_FSCK_STRAY: r->strays++; break;
	case B3CAS_FSCK_MALFORMED: r->malformed++; break;
	case B3CAS_FSCK_DANGLING_REFS: r->dangling_refs++; break;
	case B3CAS_FSCK_CACHE_COPY: r->cache_copies++; break;
	case B3CAS_FSCK_INDEX: r->index_damage++; break;
	case B3CAS_FSCK_STAGING: r->staging++; break;
	}
	r->lost += p->lost;
	if (!f->o->on_problem)
		return;
	pthread_mutex_lock(&f->call_lock);
	/* Looked at under the lock: once a call said stop, none follows. */
	if (!atomic_load_explicit(&f->stop, memory_order_relaxed)) {
		stop = f->o->on_problem(p, f->o->ctx);
		if (stop)
			atomic_store(&f->stop, stop);
	}
	pthread_mutex_unlock(&f->call_lock);
}

/* Does the open file fd hold exactly size bytes that hash to id? When
 * it cannot tell, it does not accuse the file. */
static bool file_sound(fsck_worker *w, int fd, const b3cas_oid *id,
		       uint64_t size, uint64_t *hashed)
{
	return b3cas__file_check(w->f->s, fd, id, size, w->buf, FILE_CHUNK,
				 hashed) != 0;
}

/* dir/rel in a new string (NULL without memory: the finding is still
 * reported, without its path). */
static char *full_path(const char *dir, const char *rel)
{
	size_t n = strlen(dir) + strlen(rel) + 2;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s/%s", dir, rel);
	return p;
}

/* The full path of id's loose file. */
static char *object_path(b3cas_store *s, const b3cas_oid *id)
{
	char rel[B3CAS_OID_HEX_LEN + 4], hex[B3CAS_OID_HEX_LEN + 1];

	b3cas_oid_fmt(hex, id);
	snprintf(rel, sizeof(rel), "%.2s/%s", hex, hex);
	return full_path(s->lay.objects_path, rel);
}

/* ---- index entries ------------------------------------------------------ */

/* What examining one entry found (under the stripe lock). */
typedef struct finding {
	b3cas_fsck_kind kind; /* 0: sound */
	bool loose;
	bool candidate;       /* a GC candidate (no references) */
	uint64_t size;
	char detail[160];
} finding;

/* Examine id's entry and bytes; with count, add it to the report (a
 * re-check under a repair's lock does not count twice). */
static void examine_locked(fsck_worker *w, const b3cas_oid *id,
			   finding *out, bool count)
{
	b3cas_store *s = w->f->s;
	rocksdb_pinnableslice_t *v;
	const uint8_t *p;
	uint64_t again = 0;
	size_t len;
	int kind, fd, rc;

	memset(out, 0, sizeof(*out));
	rc = b3cas__index_get(s->ix, B3CAS_CF_CONTENT, id->bytes,
			      B3CAS_OID_LEN, &v);
	if (rc <= 0)
		return; /* gone meanwhile, or unreadable (reported by RocksDB) */
	p = (const uint8_t *)rocksdb_pinnableslice_value(v, &len);
	kind = len ? p[0] & ~B3CAS_ENTRY_UNREF : 0;
	if (len < B3CAS_ENTRY_HEADER_LEN ||
	    (kind == B3CAS_ENTRY_INLINE &&
	     len - B3CAS_ENTRY_HEADER_LEN != b3cas__get_u64(p + 1)) ||
	    (kind == B3CAS_ENTRY_LOOSE && len != B3CAS_ENTRY_HEADER_LEN) ||
	    (kind != B3CAS_ENTRY_INLINE && kind != B3CAS_ENTRY_LOOSE)) {
		out->kind = B3CAS_FSCK_MALFORMED;
		snprintf(out->detail, sizeof(out->detail),
			 "its index entry (%zu bytes) cannot be read", len);
		rocksdb_pinnableslice_destroy(v);
		return;
	}
	w->r.objects += count;
	out->size = b3cas__get_u64(p + 1);
	out->loose = kind == B3CAS_ENTRY_LOOSE;
	out->candidate = (p[0] & B3CAS_ENTRY_UNREF) != 0;
	if (!out->loose) {
		b3cas_oid got;

		b3cas__store_hash(s, &got, p + B3CAS_ENTRY_HEADER_LEN,
				  (size_t)out->size);
		w->r.bytes += count ? out->size : 0;
		if (!b3cas_oid_equal(&got, id)) {
			out->kind = B3CAS_FSCK_CORRUPT;
			snprintf(out->detail, sizeof(out->detail),
				 "its %llu bytes inside the index do not hash "
				 "to its id",
				 (unsigned long long)out->size);
		}
		rocksdb_pinnableslice_destroy(v);
		return;
	}
	rocksdb_pinnableslice_destroy(v);
	rc = b3cas__object_open(&s->lay, id, out->size, &fd);
	if (rc == B3CAS_ENOTFOUND && out->candidate) {
		/* GC unlinks a candidate's file before it removes the entry
		 * (maint/gc.c): a collection that stopped in between. */
	} else if (rc == B3CAS_ENOTFOUND) {
		out->kind = B3CAS_FSCK_MISSING;
		snprintf(out->detail, sizeof(out->detail),
			 "the index lists it (%llu bytes) but its file is "
			 "missing", (unsigned long long)out->size);
	} else if (rc == B3CAS_ECORRUPT) {
		out->kind = B3CAS_FSCK_WRONG_SIZE;
		snprintf(out->detail, sizeof(out->detail),
			 "its file is not the %llu bytes the index records",
			 (unsigned long long)out->size);
	} else if (rc == 0) {
		if (!file_sound(w, fd, id, out->size,
				count ? &w->r.bytes : &again)) {
			out->kind = B3CAS_FSCK_CORRUPT;
			snprintf(out->detail, sizeof(out->detail),
				 "its file's bytes do not hash to its id");
		}
		close(fd);
	}
	b3cas_error_clear();
}

/* Remove id's entries if its bytes are still not to be had: the object
 * is lost. */
static bool remove_lost(fsck_worker *w, const b3cas_oid *id)
{
	b3cas_store *s = w->f->s;
	pthread_mutex_t *lock = b3cas__store_stripe(s, id);
	rocksdb_writebatch_t *b = rocksdb_writebatch_create();
	finding again;
	bool removed = false;

	pthread_mutex_lock(lock);
	examine_locked(w, id, &again, false);
	if (again.kind) {
		b3cas__store_batch_remove(s, b, id);
		removed = b3cas__store_write_batch(s, b) == 0;
	}
	pthread_mutex_unlock(lock);
	rocksdb_writebatch_destroy(b);
	if (removed)
		b3cas__caches_forget(s, id, true);
	return removed;
}

/* Repair what examine found wrong with id; set p->action and p->lost. */
static void repair_entry(fsck_worker *w, const b3cas_oid *id,
			 const finding *x, b3cas_fsck_problem *p)
{
	b3cas_store *s = w->f->s;
	int rc;

	if (x->kind == B3CAS_FSCK_MALFORMED) {
		p->action = remove_lost(w, id) ? "entry removed" : "changed "
							      "meanwhile";
		w->r.removed += p->action[0] == 'e';
		return;
	}
	if (x->candidate) {
		/* Nobody holds a reference: nothing to heal or lose. A
		 * damaged file goes to quarantine, leaving a candidate
		 * without its file, which the next gc removes; a damaged
		 * inline entry is removed now. */
		if (x->loose && x->kind != B3CAS_FSCK_MISSING &&
		    b3cas__quarantine_loose(s, id, x->size) == 1) {
			w->r.quarantined++;
			p->action = "a GC candidate (no references): its file "
				    "was moved to integrity/quarantine/";
		} else if (!x->loose && remove_lost(w, id)) {
			w->r.removed++;
			p->action = "a GC candidate (no references): its "
				    "entry was removed";
		} else {
			p->action = "changed meanwhile";
		}
		return;
	}
	if (x->loose && x->kind != B3CAS_FSCK_MISSING &&
	    b3cas__quarantine_loose(s, id, x->size) == 1) {
		w->r.quarantined++;
		p->action = "moved to integrity/quarantine/";
	}
	rc = b3cas__store_heal(s, id, NULL, NULL);
	if (rc == 0) {
		w->r.healed++;
		p->action = "healed from the mirror";
		return;
	}
	if (rc == B3CAS_ENOMEM) {
		/* The mirror was not consulted: nothing is known lost. Stop
		 * rather than remove an entry a mirror could heal. */
		fail(w->f, rc);
		p->action = "not repaired: out of memory";
		return;
	}
	b3cas_error_clear();
	p->lost = true;
	if (remove_lost(w, id)) {
		w->r.removed++;
		p->action = "lost: no good copy here or in a mirror; its "
			    "entry was removed";
	} else {
		p->lost = false;
		p->action = "changed meanwhile";
	}
}

static void note_suspect(fsck_worker *w, const b3cas_fsck_problem *p,
			 uint64_t size, const char *rel);

/* One key of the content column family. */
static void check_entry(fsck_worker *w, const char *key, size_t klen)
{
	fsck_run *f = w->f;
	uint64_t bytes_before = w->r.bytes;
	b3cas_fsck_problem p = {0};
	pthread_mutex_t *lock;
	char *path = NULL;
	b3cas_oid id;
	finding x;

	if (klen != B3CAS_OID_LEN) {
		/* Not an id: nothing to lock; report it. */
		p.kind = B3CAS_FSCK_MALFORMED;
		p.detail = "an index key that is not an id";
		found(w, &p);
		goto out;
	}
	memcpy(id.bytes, key, B3CAS_OID_LEN);
	lock = b3cas__store_stripe(f->s, &id);
	pthread_mutex_lock(lock);
	examine_locked(w, &id, &x, true);
	pthread_mutex_unlock(lock);
	if (x.kind) {
		p.kind = x.kind;
		p.has_id = true;
		p.id = id;
		p.detail = x.detail;
		if (x.loose)
			p.path = path = object_path(f->s, &id);
		if (f->o->repair)
			repair_entry(w, &id, &x, &p);
		/* A read-only handle's entry may be one the writer has
		 * collected since (its file gone first). */
		if (f->s->read_only && x.kind == B3CAS_FSCK_MISSING)
			note_suspect(w, &p, x.size, NULL);
		else
			found(w, &p);
		free(path);
	}
out:
	atomic_fetch_add_explicit(&f->done, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&f->bytes, w->r.bytes - bytes_before,
				  memory_order_relaxed);
}

/* RocksDB's estimate of the number of index entries (0: none). */
static uint64_t estimate_objects(b3cas_store *s)
{
	char *v = rocksdb_property_value_cf(s->ix->db,
					    s->ix->cf[B3CAS_CF_CONTENT],
					    "rocksdb.estimate-num-keys");
	uint64_t n = v ? strtoull(v, NULL, 10) : 0;

	free(v);
	return n;
}

/* Call progress with the shared counters (final: done is the total). */
static void report_progress(fsck_run *f, uint64_t t0, uint64_t total,
			    bool final)
{
	uint64_t done = atomic_load_explicit(&f->done, memory_order_relaxed);
	b3cas_progress p = {
		done, final || total < done ? done : total,
		atomic_load_explicit(&f->bytes, memory_order_relaxed),
		(double)(b3cas__now_ns() - t0) * 1e-9};

	pthread_mutex_lock(&f->call_lock);
	f->o->progress(&p, f->o->ctx);
	pthread_mutex_unlock(&f->call_lock);
}

/* ---- the index's logs ----------------------------------------------------- */

/* One "index" finding for the log at path: live (in index/, RocksDB drops
 * its tail at the next open) or kept (a copy a writing open made). */
static void report_log(fsck_worker *w, const char *path, bool kept)
{
	b3cas_fsck_problem p = {0};
	b3cas__wal_report r;
	char detail[512];

	if (b3cas__wal_scan(path, NULL, NULL, &r) != 0 || !r.damaged) {
		b3cas_error_clear();
		return;
	}
	snprintf(detail, sizeof(detail), kept
		 ? "a damaged log of the index, kept when the store was "
		   "opened: RocksDB dropped the %llu writes after byte %llu; "
		   "run 'b3cas recover' (with --from BACKUP if you have one) "
		   "to bring back what they stored and name what is lost"
		 : "the index's log is damaged: RocksDB drops the %llu writes "
		   "after byte %llu when it opens the index; run 'b3cas "
		   "recover' (with --from BACKUP if you have one) to bring "
		   "back what they stored and name what is lost",
		 (unsigned long long)r.after,
		 (unsigned long long)r.damage_at);
	p.kind = B3CAS_FSCK_INDEX;
	p.path = path;
	p.detail = detail;
	found(w, &p);
}

/* The logs in folder rel of the store whose names end in .log (and, for
 * kept copies, start with "wal."). */
static void check_logs(fsck_worker *w, const char *rel, bool kept)
{
	char *dir = b3cas__layout_path(&w->f->s->lay, rel);
	DIR *d = dir ? opendir(dir) : NULL;
	struct dirent *e;

	while (d && (e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		char *path;

		if (n < 5 || strcmp(e->d_name + n - 4, ".log") != 0 ||
		    (kept && strncmp(e->d_name, "wal.", 4) != 0))
			continue;
		path = full_path(dir, e->d_name);
		if (path)
			report_log(w, path, kept);
		free(path);
	}
	if (d)
		closedir(d);
	free(dir);
}

/* ---- one piece at a time ------------------------------------------------ */

/* Is key before the two-byte bound hi in RocksDB's bytewise order? */
static bool key_below(const char *key, size_t klen, const uint8_t hi[2])
{
	int c = memcmp(key, hi, klen < 2 ? klen : 2);

	return c < 0 || (c == 0 && klen < 2);
}

typedef void (*key_fn)(fsck_worker *w, const char *key, size_t klen);

/* If err (RocksDB's) says part of the index cannot be read (a checksum
 * or format failure, not an I/O error of the moment), note it for the
 * one "index" finding and say true; the walk goes on past it. */
static bool index_damage(fsck_run *f, const char *err)
{
	if (strncmp(err, "Corruption", 10) != 0)
		return false;
	pthread_mutex_lock(&f->err_lock);
	if (!atomic_load(&f->index_damaged))
		snprintf(f->index_msg, sizeof(f->index_msg), "%s", err);
	atomic_store(&f->index_damaged, true);
	pthread_mutex_unlock(&f->err_lock);
	return true;
}

/* After a phase: the one finding for the index damage it met, if any. */
static void report_index_damage(fsck_run *f, fsck_worker *w)
{
	b3cas_fsck_problem p = {0};
	char detail[768];
	char *path;

	if (!atomic_exchange(&f->index_damaged, false))
		return;
	path = b3cas__layout_path(&f->s->lay, "index");
	snprintf(detail, sizeof(detail), "the index is damaged: part of it "
		 "cannot be read, so the entries there were not checked "
		 "(RocksDB: %s); run 'b3cas recover' (with --from BACKUP if "
		 "you have one) to keep what still reads and rebuild the "
		 "rest", f->index_msg);
	p.kind = B3CAS_FSCK_INDEX;
	p.path = path;
	p.detail = detail;
	found(w, &p);
	free(path);
}

/*
 * Take ranges of column family cf until none is left, calling visit for
 * each key. Range r holds the keys from r * RANGE_SPAN (as two bytes)
 * up to the next range's start; the first also holds the keys that sort
 * before "\0\0" ("", "\0") and the last everything to the end, so every
 * key, an id or not, is in exactly one range.
 */
static void walk_ranges(fsck_worker *w, int cf, key_fn visit)
{
	fsck_run *f = w->f;
	b3cas_index *ix = f->s->ix;
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it;
	char *err = NULL;
	unsigned r;

	/* One pass over everything: keep the block cache for the users. */
	rocksdb_readoptions_set_fill_cache(ro, 0);
	it = rocksdb_create_iterator_cf(ix->db, ro, ix->cf[cf]);
	while (!halted(f) && (r = atomic_fetch_add(&f->next, 1)) < RANGES) {
		unsigned start = r * RANGE_SPAN, end = start + RANGE_SPAN;
		uint8_t lo[2] = {(uint8_t)(start >> 8), (uint8_t)start};
		uint8_t hi[2] = {(uint8_t)(end >> 8), (uint8_t)end};
		bool last = r == RANGES - 1;

		if (r == 0)
			rocksdb_iter_seek_to_first(it);
		else
			rocksdb_iter_seek(it, (const char *)lo, sizeof(lo));
		for (; rocksdb_iter_valid(it) && !halted(f);
		     rocksdb_iter_next(it)) {
			size_t klen;
			const char *key = rocksdb_iter_key(it, &klen);

			if (!last && !key_below(key, klen, hi))
				break;
			visit(w, key, klen);
		}
		rocksdb_iter_get_error(it, &err);
		if (err && !index_damage(f, err)) {
			fail(f, b3cas__index_error(err, "cannot walk the "
						   "index"));
			break;
		}
		if (err) {
			/* The rest of this range is not readable; the next
			 * range starts afresh. */
			free(err);
			err = NULL;
			rocksdb_iter_destroy(it);
			it = rocksdb_create_iterator_cf(ix->db, ro,
							ix->cf[cf]);
		}
	}
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
}

typedef void (*file_fn)(fsck_worker *w, int sub_fd, unsigned sub,
			const char *name);

/* Take sub-folders 00..ff of dir_fd (the folder base, for messages)
 * until none is left, calling visit for each name in them but "."
 * names. */
static void walk_folders(fsck_worker *w, int dir_fd, const char *base,
			 file_fn visit)
{
	fsck_run *f = w->f;
	unsigned sub;

	while (!halted(f) && (sub = atomic_fetch_add(&f->next, 1)) < 256) {
		char name[3];
		struct dirent *e;
		int fd;
		DIR *d;

		snprintf(name, sizeof(name), "%02x", sub);
		fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT)
			continue; /* no object ever had that prefix */
		d = fd < 0 ? NULL : fdopendir(fd);
		if (!d) {
			/* A folder that cannot be read would leave its files
			 * unchecked while fsck said all was well: an error. */
			int why = errno;

			if (fd >= 0)
				close(fd);
			fail(f, b3cas__error_errno(why, "cannot list folder "
						   "%s/%s", base, name));
			return;
		}
		while ((e = readdir(d)) != NULL && !halted(f))
			if (e->d_name[0] != '.')
				visit(w, fd, sub, e->d_name);
		closedir(d);
	}
}

/* ---- files of the tier -------------------------------------------------- */

/* Move a file that is not an object to quarantine (its bytes kept). */
static bool quarantine_file(fsck_worker *w, int dir_fd, const char *name)
{
	char dest[B3CAS_OID_HEX_LEN + 64];
	int qfd = openat(w->f->s->lay.root_fd, "integrity/quarantine",
			 O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool ok;

	if (qfd < 0)
		return false;
	snprintf(dest, sizeof(dest), "stray-%.64s.%llu", name,
		 (unsigned long long)b3cas__wall_ns());
	ok = renameat(dir_fd, name, qfd, dest) == 0;
	close(qfd);
	if (ok)
		w->r.quarantined++;
	return ok;
}

/*
 * Index orphan id (a sound loose file of size bytes that no entry names),
 * under its stripe lock with its absence just confirmed. Nothing tells a
 * file that GC or an unacknowledged put left from one whose entry the
 * index lost, so it gets no reference: it becomes a GC candidate (its
 * bytes kept until a collection; a put of the same bytes revives it),
 * and no object whose last reference was dropped comes back. The one
 * exception is a count of 2 or more left in the refs column family: only
 * a live object has one (a delete and GC change both entries in one
 * batch), so its content entry was lost and it is indexed with that
 * count. Returns the action, or NULL when the index could not be written.
 */
static const char *index_orphan_locked(b3cas_store *s, const b3cas_oid *id,
				       uint64_t size)
{
	rocksdb_writebatch_t *b = rocksdb_writebatch_create();
	rocksdb_pinnableslice_t *v;
	const char *action = "re-indexed as a GC candidate (no references: "
			     "put it again to keep it)";
	uint64_t count = 0;
	size_t len;
	int rc;

	rc = b3cas__index_get(s->ix, B3CAS_CF_REFS, id->bytes, B3CAS_OID_LEN,
			      &v);
	if (rc == 1) {
		const uint8_t *p =
			(const uint8_t *)rocksdb_pinnableslice_value(v, &len);

		count = len == 8 ? b3cas__get_u64(p) : 0;
		rocksdb_pinnableslice_destroy(v);
	}
	b3cas_error_clear();
	b3cas__filter_add(s, id);
	if (count >= 2) {
		b3cas__store_batch_put_entry(s, b, id, NULL, (size_t)size,
					     false);
		action = "re-indexed with the reference count the index kept";
	} else {
		b3cas__store_batch_put_candidate(s, b, id, size);
	}
	rc = b3cas__store_write_batch(s, b);
	rocksdb_writebatch_destroy(b);
	if (rc < 0) {
		b3cas_error_clear();
		return NULL;
	}
	return action;
}

/* What a tier file turned out to be, judged under its stripe lock. */
typedef enum file_verdict {
	FILE_FINE,   /* named by an entry, or gone meanwhile */
	FILE_ORPHAN, /* sound, and no entry names it */
	FILE_STRAY   /* its bytes do not hash to its name; no entry */
} file_verdict;

/*
 * Under id's stripe lock: the file name (of id) in sub_fd against the
 * index, both read again now, so that a put (which publishes the file
 * before its entry) or a GC (which unlinks the file before it removes the
 * entry) of id is wholly before or after; *size gets the file's size.
 */
static file_verdict judge_file_locked(fsck_worker *w, int sub_fd,
				      const char *name, const b3cas_oid *id,
				      uint64_t *size)
{
	b3cas_store *s = w->f->s;
	file_verdict verdict;
	struct stat st;
	int fd, rc;

	rc = b3cas__index_has(s->ix, B3CAS_CF_CONTENT, id->bytes,
			      B3CAS_OID_LEN);
	if (rc != 0) {
		/* Named by an entry, or unreadable (the entry phase's). */
		b3cas_error_clear();
		return FILE_FINE;
	}
	fd = openat(sub_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return FILE_FINE; /* gone meanwhile */
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return FILE_FINE; /* replaced meanwhile: judged unlocked */
	}
	*size = (uint64_t)st.st_size;
	verdict = file_sound(w, fd, id, *size, &w->r.bytes) ? FILE_ORPHAN
							    : FILE_STRAY;
	close(fd);
	return verdict;
}

static void check_file(fsck_worker *w, int sub_fd, unsigned sub,
		       const char *name)
{
	fsck_run *f = w->f;
	b3cas_fsck_problem p = {0};
	char rel[B3CAS_OBJECT_REL_LEN + 1], *path = NULL;
	rocksdb_pinnableslice_t *v;
	pthread_mutex_t *lock;
	file_verdict verdict;
	const char *action = NULL;
	uint64_t size = 0;
	struct stat st;
	b3cas_oid id;
	int rc, stat_rc;

	w->r.files++;
	snprintf(rel, sizeof(rel), "%02x/%.64s", sub, name);
	p.path = path = full_path(f->s->lay.objects_path, rel);
	stat_rc = fstatat(sub_fd, name, &st, AT_SYMLINK_NOFOLLOW);
	if (stat_rc != 0 && errno == ENOENT)
		goto out; /* collected meanwhile: no file is no finding */
	if (b3cas_oid_parse(&id, name) != 0 || id.bytes[0] != sub ||
	    stat_rc != 0 || !S_ISREG(st.st_mode)) {
		b3cas_error_clear();
		p.kind = B3CAS_FSCK_STRAY;
		p.detail = "not an object: a name that is not its folder's "
			   "id, or not a file";
		if (f->o->repair && quarantine_file(w, sub_fd, name))
			p.action = "moved to integrity/quarantine/";
		found(w, &p);
		goto out;
	}
	p.has_id = true;
	p.id = id;
	/* Most files are named by an entry: that needs no lock. */
	rc = b3cas__index_get(f->s->ix, B3CAS_CF_CONTENT, id.bytes,
			      B3CAS_OID_LEN, &v);
	if (rc != 0) {
		if (rc > 0)
			rocksdb_pinnableslice_destroy(v);
		b3cas_error_clear();
		goto out;
	}
	/* The rest is judged, and repaired, again under the lock. */
	lock = b3cas__store_stripe(f->s, &id);
	pthread_mutex_lock(lock);
	verdict = judge_file_locked(w, sub_fd, name, &id, &size);
	if (verdict == FILE_ORPHAN && f->o->repair) {
		action = index_orphan_locked(f->s, &id, size);
		w->r.reindexed += action != NULL;
	} else if (verdict == FILE_STRAY && f->o->repair &&
		   quarantine_file(w, sub_fd, name)) {
		action = "moved to integrity/quarantine/";
	}
	pthread_mutex_unlock(lock);
	if (verdict == FILE_FINE)
		goto out;
	p.action = action;
	if (verdict == FILE_ORPHAN) {
		p.kind = B3CAS_FSCK_ORPHAN;
		p.detail = "a sound object file that the index does not list";
		/* A read-only handle's index is as it was at its open. */
		if (f->s->read_only) {
			note_suspect(w, &p, size, rel);
			goto out;
		}
	} else {
		p.kind = B3CAS_FSCK_STRAY;
		p.detail = "a file named by an id that its bytes do not hash "
			   "to, listed by no index entry";
	}
	found(w, &p);
out:
	free(path);
}

/* ---- the tier's top folder and the staging folder ------------------------ */

/* Is the tier a folder of its own, not <root>/objects? Its staging
 * folder (tmp/) then lives inside it. */
static bool tier_elsewhere(b3cas_store *s)
{
	struct stat a, b;

	return fstat(s->lay.objects_fd, &a) != 0 ||
	       fstatat(s->lay.root_fd, "objects", &b, 0) != 0 ||
	       a.st_dev != b.st_dev || a.st_ino != b.st_ino;
}

/* "00".."ff": the name of one of the tier's sub-folders. */
static bool sub_name(const char *name)
{
	return strlen(name) == 2 && strchr("0123456789abcdef", name[0]) &&
	       strchr("0123456789abcdef", name[1]);
}

/* Everything in the tier's top folder but its sub-folders (and its
 * staging folder when the tier is elsewhere) is a stray: a file or a
 * folder the store never made there. */
static void check_top(fsck_worker *w)
{
	fsck_run *f = w->f;
	b3cas_store *s = f->s;
	int fd = dup(s->lay.objects_fd);
	bool elsewhere = tier_elsewhere(s);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;

	if (!d) {
		if (fd >= 0)
			close(fd);
		fail(f, b3cas__error_errno(errno, "cannot list %s",
					   s->lay.objects_path));
		return;
	}
	while ((e = readdir(d)) != NULL && !halted(f)) {
		b3cas_fsck_problem p = {0};
		struct stat st;
		char *path;
		bool dir;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		dir = fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		      S_ISDIR(st.st_mode);
		/* lost+found: the tier may be a file system of its own,
		 * whose fsck needs that folder where it is. */
		if (dir && (sub_name(e->d_name) ||
			    (elsewhere && strcmp(e->d_name, "tmp") == 0) ||
			    strcmp(e->d_name, "lost+found") == 0))
			continue;
		/* The owner mark (layout/owner.c) names the store the folder
		 * belongs to. */
		if (!dir && strcmp(e->d_name, B3CAS_OWNER_NAME) == 0)
			continue;
		p.kind = B3CAS_FSCK_STRAY;
		p.path = path = full_path(s->lay.objects_path, e->d_name);
		p.detail = dir ? "not part of the object tier: a folder that "
				 "is not one of 00..ff"
			       : "not part of the object tier: only the "
				 "folders 00..ff belong in its top folder";
		w->r.files++;
		if (f->o->repair && quarantine_file(w, fd, e->d_name))
			p.action = "moved to integrity/quarantine/";
		found(w, &p);
		free(path);
	}
	closedir(d);
}

/* A name the store gives its staging files, "<pid>.<n>.tmp"; *pid. */
static bool staging_name(const char *name, long *pid)
{
	const char *p = name;
	char *end;

	if (*p < '0' || *p > '9')
		return false;
	*pid = strtol(p, &end, 10);
	if (*end != '.' || end[1] < '0' || end[1] > '9')
		return false;
	strtoull(end + 1, &end, 10);
	return strcmp(end, ".tmp") == 0;
}

/* Why staging file st (of process pid) is left over, or NULL when it may
 * belong to a put still running. */
static const char *staging_stale(long pid, const struct stat *st,
				 char *why, size_t n)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	if (pid > 0 && pid != (long)getpid() && kill((pid_t)pid, 0) != 0 &&
	    errno == ESRCH) {
		snprintf(why, n, "a staging file of a put that never finished:"
			 " process %ld is gone", pid);
		return why;
	}
	if (now.tv_sec - st->st_mtime > 3600) {
		snprintf(why, n, "a staging file of a put that never finished:"
			 " not written to for %lld minutes",
			 (long long)(now.tv_sec - st->st_mtime) / 60);
		return why;
	}
	return NULL;
}

/* Staging files left over in tmp/ (or the tier's tmp/): reported; with
 * repair removed (they were never objects). Other names there are not
 * the store's and are left alone. */
static void check_staging(fsck_worker *w)
{
	fsck_run *f = w->f;
	b3cas_store *s = f->s;
	bool elsewhere = tier_elsewhere(s);
	int fd = openat(elsewhere ? s->lay.objects_fd : s->lay.root_fd, "tmp",
			O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	char *dir = elsewhere ? full_path(s->lay.objects_path, "tmp")
			      : b3cas__layout_path(&s->lay, "tmp");
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;

	if (!d) {
		if (fd >= 0)
			close(fd);
		free(dir);
		return; /* no staging folder: nothing left over */
	}
	while (dir && (e = readdir(d)) != NULL && !halted(f)) {
		b3cas_fsck_problem p = {0};
		char why[160];
		struct stat st;
		long pid;

		if (!staging_name(e->d_name, &pid) ||
		    fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		p.detail = staging_stale(pid, &st, why, sizeof(why));
		if (!p.detail)
			continue;
		p.kind = B3CAS_FSCK_STAGING;
		p.path = full_path(dir, e->d_name);
		if (f->o->repair && unlinkat(fd, e->d_name, 0) == 0)
			p.action = "removed";
		found(w, &p);
		free((char *)p.path);
	}
	closedir(d);
	free(dir);
}

/* ---- reference counts ---------------------------------------------------- */

/* One key of the refs column family: a count with no object? */
static void check_ref(fsck_worker *w, const char *key, size_t klen)
{
	fsck_run *f = w->f;
	b3cas_store *s = f->s;
	b3cas_fsck_problem p = {0};
	rocksdb_pinnableslice_t *v;
	pthread_mutex_t *lock;
	bool dangling = false, removed = false;
	int rc;

	if (klen != B3CAS_OID_LEN)
		return;
	memcpy(p.id.bytes, key, B3CAS_OID_LEN);
	lock = b3cas__store_stripe(s, &p.id);
	pthread_mutex_lock(lock);
	rc = b3cas__index_get(s->ix, B3CAS_CF_CONTENT, p.id.bytes,
			      B3CAS_OID_LEN, &v);
	if (rc == 1)
		rocksdb_pinnableslice_destroy(v);
	if (rc == 0)
		rc = b3cas__index_get(s->ix, B3CAS_CF_REFS, p.id.bytes,
				      B3CAS_OID_LEN, &v);
	else
		rc = 0;
	if (rc == 1) {
		rocksdb_pinnableslice_destroy(v);
		dangling = true;
		if (f->o->repair) {
			rocksdb_writebatch_t *b = rocksdb_writebatch_create();

			b3cas__store_batch_remove(s, b, &p.id);
			removed = b3cas__store_write_batch(s, b) == 0;
			rocksdb_writebatch_destroy(b);
		}
	}
	pthread_mutex_unlock(lock);
	b3cas_error_clear();
	if (!dangling)
		return;
	p.kind = B3CAS_FSCK_DANGLING_REFS;
	p.has_id = true;
	p.detail = "a reference count kept for an object that is not stored";
	if (removed) {
		w->r.removed++;
		p.action = "count removed";
	}
	found(w, &p);
}

/* ---- L2 cache copies ----------------------------------------------------- */

/*
 * Why the copy name (of id) in sub_fd must not be kept, in detail; false
 * when it may (sound, gone meanwhile, or it cannot tell: an unreadable
 * entry is the entry phase's finding). Bytes read are added to *hashed.
 */
static bool copy_bad(fsck_worker *w, int sub_fd, const char *name,
		     const b3cas_oid *id, char *detail, size_t n,
		     uint64_t *hashed, bool *not_held)
{
	b3cas_store *s = w->f->s;
	rocksdb_pinnableslice_t *v;
	const uint8_t *p;
	struct stat st;
	uint64_t size;
	size_t len;
	bool bad = false;
	int rc, fd;

	rc = b3cas__index_get(s->ix, B3CAS_CF_CONTENT, id->bytes,
			      B3CAS_OID_LEN, &v);
	if (rc < 0) {
		b3cas_error_clear();
		return false;
	}
	*not_held = rc == 0;
	if (rc == 0) {
		/* Gone since the folder was listed: GC's erase deleted it. */
		if (fstatat(sub_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			return false;
		snprintf(detail, n, "a cached copy of an object the store "
			 "does not hold");
		return true;
	}
	p = (const uint8_t *)rocksdb_pinnableslice_value(v, &len);
	size = len >= B3CAS_ENTRY_HEADER_LEN ? b3cas__get_u64(p + 1) : 0;
	rocksdb_pinnableslice_destroy(v);
	if (len < B3CAS_ENTRY_HEADER_LEN)
		return false;
	fd = openat(sub_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false; /* evicted meanwhile */
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return false;
	}
	if ((uint64_t)st.st_size != size) {
		snprintf(detail, n, "a cached copy of %llu bytes; the object "
			 "has %llu", (unsigned long long)st.st_size,
			 (unsigned long long)size);
		bad = true;
	} else if (!file_sound(w, fd, id, size, hashed)) {
		snprintf(detail, n, "a cached copy whose bytes do not hash "
			 "to its id");
		bad = true;
	}
	close(fd);
	return bad;
}

static void check_copy(fsck_worker *w, int sub_fd, unsigned sub,
		       const char *name)
{
	fsck_run *f = w->f;
	b3cas_fsck_problem p = {0};
	char rel[B3CAS_OBJECT_REL_LEN + 32], first[160], detail[160];
	bool repair = f->o->repair && f->l2, bad, gone = false;
	bool not_held = false;
	pthread_mutex_t *lock;
	uint64_t again = 0;
	char *path;

	w->r.cache_files++;
	snprintf(rel, sizeof(rel), B3CAS_L2_DIR "/%02x/%.64s", sub, name);
	p.kind = B3CAS_FSCK_CACHE_COPY;
	p.path = path = full_path(f->s->lay.root, rel);
	if (b3cas_oid_parse(&p.id, name) != 0 || p.id.bytes[0] != sub) {
		b3cas_error_clear();
		p.detail = "not a cached copy: a name that is not its "
			   "folder's id";
		if (repair && b3cas__l2_discard(f->l2, sub_fd, name, NULL))
			p.action = "deleted";
		found(w, &p);
		free(path);
		return;
	}
	p.has_id = true;
	/* Judged once unlocked (most copies are sound and need no lock),
	 * then again under the stripe lock, which keeps a put of the id
	 * from making it stored between the judgement and the delete. */
	if (!copy_bad(w, sub_fd, name, &p.id, first, sizeof(first),
		      &w->r.bytes, &not_held))
		goto out;
	lock = b3cas__store_stripe(f->s, &p.id);
	pthread_mutex_lock(lock);
	bad = copy_bad(w, sub_fd, name, &p.id, detail, sizeof(detail),
		       &again, &not_held);
	/* A copy that no L2 entry names may be an add that GC's erase
	 * overtook, about to be deleted by its writer: let adds finish. */
	if (bad && not_held && f->l2 && !b3cas__l2_contains(f->l2, &p.id)) {
		b3cas__l2_settle(f->l2);
		bad = copy_bad(w, sub_fd, name, &p.id, detail, sizeof(detail),
			       &again, &not_held);
	}
	if (bad && repair)
		gone = b3cas__l2_discard(f->l2, sub_fd, name, &p.id);
	pthread_mutex_unlock(lock);
	if (!bad)
		goto out; /* replaced or evicted meanwhile */
	p.detail = detail;
	if (gone)
		p.action = "deleted from the L2 cache";
	/* A read-only handle's index predates the writer's latest puts. */
	if (f->s->read_only && not_held)
		note_suspect(w, &p, 0, rel + strlen(B3CAS_L2_DIR "/"));
	else
		found(w, &p);
out:
	free(path);
}

/* ---- confirming a read-only handle's findings --------------------------- */

static void drop_suspects(fsck_run *f)
{
	for (size_t i = 0; i < f->n_suspects; i++)
		free(f->suspects[i].path);
	f->n_suspects = 0;
}

/* Keep p to be judged again; rel (orphans and copies) names its file
 * under the tier's or the L2 cache's folder. */
static void note_suspect(fsck_worker *w, const b3cas_fsck_problem *p,
			 uint64_t size, const char *rel)
{
	fsck_run *f = w->f;
	int dir_fd = p->kind == B3CAS_FSCK_ORPHAN ? f->s->lay.objects_fd
						  : f->l2_fd;
	struct stat st;
	suspect *x;

	/* A file's identity now, before the index is read again: one seen
	 * again unchanged after that read was there all along. */
	memset(&st, 0, sizeof(st));
	if (rel && fstatat(dir_fd, rel, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return; /* gone already */
	pthread_mutex_lock(&f->suspects_lock);
	if (f->n_suspects == f->cap_suspects) {
		size_t cap = f->cap_suspects ? 2 * f->cap_suspects : 64;
		suspect *more = realloc(f->suspects, cap * sizeof(*more));

		if (!more) {
			pthread_mutex_unlock(&f->suspects_lock);
			fail(f, b3cas__error(B3CAS_ENOMEM, "out of memory for "
					     "the findings to confirm"));
			return;
		}
		f->suspects = more;
		f->cap_suspects = cap;
	}
	x = &f->suspects[f->n_suspects++];
	memset(x, 0, sizeof(*x));
	x->kind = p->kind;
	x->id = p->id;
	x->size = size;
	/* Without memory the finding is still kept, with no path. */
	x->path = p->path ? strdup(p->path) : NULL;
	if (rel)
		snprintf(x->rel, sizeof(x->rel), "%s", rel);
	snprintf(x->detail, sizeof(x->detail), "%s", p->detail);
	x->seen = st;
	pthread_mutex_unlock(&f->suspects_lock);
}

/* Is id's content entry in ix a live loose object of size bytes? 1 yes,
 * 0 no, -1 no entry at all. */
static int fresh_entry(b3cas_index *ix, const b3cas_oid *id, uint64_t size,
		       bool *live_out)
{
	rocksdb_pinnableslice_t *v;
	const uint8_t *p;
	size_t len;
	int rc = b3cas__index_get(ix, B3CAS_CF_CONTENT, id->bytes,
				  B3CAS_OID_LEN, &v);

	b3cas_error_clear();
	if (rc <= 0)
		return -1;
	p = (const uint8_t *)rocksdb_pinnableslice_value(v, &len);
	*live_out = len > 0 && !(p[0] & B3CAS_ENTRY_UNREF);
	rc = len == B3CAS_ENTRY_HEADER_LEN && *live_out &&
	     (p[0] & ~B3CAS_ENTRY_UNREF) == B3CAS_ENTRY_LOOSE &&
	     b3cas__get_u64(p + 1) == size;
	rocksdb_pinnableslice_destroy(v);
	return rc;
}

/* Is the file at path under dir_fd still the one x saw? */
static bool same_file(int dir_fd, const suspect *x)
{
	struct stat st;

	return fstatat(dir_fd, x->rel, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       st.st_dev == x->seen.st_dev && st.st_ino == x->seen.st_ino &&
	       st.st_ctim.tv_sec == x->seen.st_ctim.tv_sec &&
	       st.st_ctim.tv_nsec == x->seen.st_ctim.tv_nsec;
}

/*
 * Judge x again against ix, an index opened (at opened_ns, wall clock)
 * after x was found, and the files as they are now. An orphan or a copy
 * holds only if the very file found before ix was opened (same inode and
 * ctime: a put or a new copy makes a new file) is still there after, with
 * no entry in ix in between. With settle, an orphan whose file changed
 * shortly before opened_ns waits for another look (a put may be between
 * its rename and its index write).
 */
static int judge_suspect(fsck_run *f, b3cas_index *ix, const suspect *x,
			 uint64_t opened_ns, bool settle)
{
	b3cas_store *s = f->s;
	bool live = false;
	int fd, rc = fresh_entry(ix, &x->id, x->size, &live);

	switch (x->kind) {
	case B3CAS_FSCK_MISSING:
		/* Collected, or deleted, since; or put again (its file
		 * comes before its entry). */
		if (rc != 1)
			return SUSPECT_DROPPED;
		rc = b3cas__object_open(&s->lay, &x->id, x->size, &fd);
		b3cas_error_clear();
		if (rc == 0)
			close(fd);
		return rc == B3CAS_ENOTFOUND ? SUSPECT_CONFIRMED
					     : SUSPECT_DROPPED;
	case B3CAS_FSCK_ORPHAN:
		if (rc >= 0 || !same_file(s->lay.objects_fd, x))
			return SUSPECT_DROPPED; /* indexed, or gone, since */
		if (settle && (uint64_t)x->seen.st_ctim.tv_sec * 1000000000ull +
					      (uint64_t)x->seen.st_ctim.tv_nsec +
					      SETTLE_NS >
				      opened_ns)
			return SUSPECT_WAIT;
		return SUSPECT_CONFIRMED;
	default: /* a copy in L2 of an object the index did not hold */
		return rc < 0 && same_file(f->l2_fd, x) ? SUSPECT_CONFIRMED
							 : SUSPECT_DROPPED;
	}
}

/* Open the index afresh and judge again the suspects whose verdict is
 * want or want_too; *waiting says whether some wait for another look,
 * *left how many still stand (confirmed or waiting). */
static int judge_round(fsck_run *f, int want, int want_too, bool settle,
		       bool *waiting, size_t *left)
{
	b3cas_index *ix = NULL;
	char *path = b3cas__layout_path(&f->s->lay, "index");
	uint64_t opened_ns = b3cas__wall_ns();
	int rc;

	if (!path)
		return B3CAS_ENOMEM;
	rc = b3cas__index_open(&ix, path, false, true);
	free(path);
	if (rc < 0)
		return rc;
	*waiting = false;
	*left = 0;
	for (size_t i = 0; i < f->n_suspects; i++) {
		suspect *x = &f->suspects[i];

		if (x->verdict != want && x->verdict != want_too)
			continue;
		x->verdict = judge_suspect(f, ix, x, opened_ns, settle);
		*waiting |= x->verdict == SUSPECT_WAIT;
		*left += x->verdict != SUSPECT_DROPPED;
	}
	b3cas__index_close(ix);
	return 0;
}

/*
 * A read-only handle reads the index as it was when the handle opened:
 * what the writing process did since looks like damage (a file put since
 * has no entry; a collected object's entry has no file). Each such finding
 * is judged again, after the phase, against the index opened afresh, and
 * what still holds once more against an index opened after that (so that
 * one object collected and put again while it was judged is not taken
 * for damage); a suspected orphan whose file is only seconds old waits
 * SETTLE_NS before that second look. What holds twice is reported
 * through w.
 */
static int confirm_suspects(fsck_run *f, fsck_worker *w)
{
	bool waiting = false;
	size_t left = 0;
	int rc = 0;

	if (!f->n_suspects || halted(f))
		goto out;
	rc = judge_round(f, SUSPECT_OPEN, SUSPECT_OPEN, true, &waiting, &left);
	if (rc < 0 || left == 0)
		goto out;
	if (waiting) {
		struct timespec ts = {(time_t)(SETTLE_NS / 1000000000ull),
				      (long)(SETTLE_NS % 1000000000ull)};

		nanosleep(&ts, NULL);
	}
	rc = judge_round(f, SUSPECT_CONFIRMED, SUSPECT_WAIT, false, &waiting,
			 &left);
	for (size_t i = 0; rc == 0 && i < f->n_suspects && !halted(f); i++) {
		suspect *x = &f->suspects[i];
		b3cas_fsck_problem p = {0};

		if (x->verdict != SUSPECT_CONFIRMED)
			continue;
		p.kind = x->kind;
		p.has_id = true;
		p.id = x->id;
		p.path = x->path;
		p.detail = x->detail;
		found(w, &p);
	}
out:
	drop_suspects(f);
	return rc;
}

/* ---- running the phases -------------------------------------------------- */

static void *worker_main(void *arg)
{
	fsck_worker *w = arg;
	fsck_run *f = w->f;

	switch (f->phase) {
	case PHASE_ENTRIES:
		walk_ranges(w, B3CAS_CF_CONTENT, check_entry);
		break;
	case PHASE_TIER:
		walk_folders(w, f->s->lay.objects_fd, f->s->lay.objects_path,
			     check_file);
		break;
	case PHASE_REFS:
		walk_ranges(w, B3CAS_CF_REFS, check_ref);
		break;
	case PHASE_COPIES: {
		char l2[4200];

		snprintf(l2, sizeof(l2), "%s/cache/l2", f->s->lay.root);
		walk_folders(w, f->l2_fd, l2, check_copy);
		break;
	}
	}
	pthread_mutex_lock(&f->wait_lock);
	f->finished++;
	pthread_cond_signal(&f->finished_cond);
	pthread_mutex_unlock(&f->wait_lock);
	return NULL;
}

/* Wait for started workers to finish; with show, draw progress every
 * PROGRESS_NS meanwhile. */
static void wait_workers(fsck_run *f, unsigned started, bool show,
			 uint64_t t0, uint64_t total)
{
	uint64_t shown_at = b3cas__now_ns();

	pthread_mutex_lock(&f->wait_lock);
	while (f->finished < started) {
		uint64_t due = shown_at + PROGRESS_NS;
		struct timespec ts = {(time_t)(due / 1000000000ull),
				      (long)(due % 1000000000ull)};

		if (!show) {
			pthread_cond_wait(&f->finished_cond, &f->wait_lock);
			continue;
		}
		/* b3cas__now_ns and the condition both use the monotonic
		 * clock (run_init). */
		pthread_cond_timedwait(&f->finished_cond, &f->wait_lock, &ts);
		if (f->finished < started && b3cas__now_ns() >= due) {
			pthread_mutex_unlock(&f->wait_lock);
			report_progress(f, t0, total, false);
			shown_at = b3cas__now_ns();
			pthread_mutex_lock(&f->wait_lock);
		}
	}
	pthread_mutex_unlock(&f->wait_lock);
}

/* Run phase on up to n workers. When fewer threads start, those that do
 * take every piece between them; none at all is an error. */
static int run_phase(fsck_run *f, fsck_worker *ws, unsigned n,
		     fsck_phase phase, uint64_t t0, uint64_t total)
{
	bool show = phase == PHASE_ENTRIES && f->o->progress;
	unsigned started = 0;

	f->phase = phase;
	atomic_store(&f->next, 0);
	f->finished = 0;
	for (; started < n; started++)
		if (pthread_create(&ws[started].thread, NULL, worker_main,
				   &ws[started]) != 0)
			break;
	if (started == 0)
		return b3cas__error(B3CAS_ENOMEM, "cannot start a thread to "
				    "check the store");
	wait_workers(f, started, show, t0, total);
	for (unsigned i = 0; i < started; i++)
		pthread_join(ws[i].thread, NULL);
	if (show)
		report_progress(f, t0, total, true);
	return 0;
}

/* Set f up; with copies, find the L2 folder to check. */
static void run_init(fsck_run *f, b3cas_store *s, const b3cas_fsck_options *o,
		     bool copies)
{
	pthread_condattr_t ca;

	memset(f, 0, sizeof(*f));
	f->s = s;
	f->o = o;
	atomic_init(&f->stop, 0);
	atomic_init(&f->failed, false);
	atomic_init(&f->next, 0);
	atomic_init(&f->done, 0);
	atomic_init(&f->bytes, 0);
	pthread_mutex_init(&f->call_lock, NULL);
	pthread_mutex_init(&f->wait_lock, NULL);
	pthread_mutex_init(&f->err_lock, NULL);
	pthread_mutex_init(&f->suspects_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->finished_cond, &ca);
	pthread_condattr_destroy(&ca);
	f->l2 = copies ? atomic_load_explicit(&s->l2, memory_order_acquire)
		       : NULL;
	f->l2_fd = -1;
	if (!copies)
		return;
	if (f->l2) {
		f->l2_fd = b3cas__l2_dir_fd(f->l2);
	} else if (s->read_only) {
		/* The writer's copies: judged, never touched. */
		f->l2_fd = openat(s->lay.root_fd, B3CAS_L2_DIR,
				  O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		f->own_l2_fd = f->l2_fd >= 0;
	}
}

static void run_destroy(fsck_run *f)
{
	if (f->own_l2_fd)
		close(f->l2_fd);
	pthread_mutex_destroy(&f->call_lock);
	pthread_mutex_destroy(&f->wait_lock);
	pthread_mutex_destroy(&f->err_lock);
	pthread_mutex_destroy(&f->suspects_lock);
	drop_suspects(f);
	free(f->suspects);
	pthread_cond_destroy(&f->finished_cond);
}

/* n workers with their buffers, or NULL without memory. */
static fsck_worker *workers_new(fsck_run *f, unsigned n)
{
	fsck_worker *ws = calloc(n, sizeof(*ws));

	for (unsigned i = 0; ws && i < n; i++) {
		ws[i].f = f;
		ws[i].buf = b3cas__malloc(FILE_CHUNK);
		if (!ws[i].buf) {
			while (i--)
				free(ws[i].buf);
			free(ws);
			ws = NULL;
		}
	}
	return ws;
}

static void workers_free(fsck_worker *ws, unsigned n)
{
	for (unsigned i = 0; ws && i < n; i++)
		free(ws[i].buf);
	free(ws);
}

/* Add the counts of src to dst (not seconds). */
static void report_add(b3cas_fsck_report *dst, const b3cas_fsck_report *src)
{
	dst->objects += src->objects;
	dst->bytes += src->bytes;
	dst->files += src->files;
	dst->problems += src->problems;
	dst->corrupt += src->corrupt;
	dst->missing += src->missing;
	dst->wrong_size += src->wrong_size;
	dst->orphans += src->orphans;
	dst->strays += src->strays;
	dst->malformed += src->malformed;
	dst->dangling_refs += src->dangling_refs;
	dst->quarantined += src->quarantined;
	dst->healed += src->healed;
	dst->reindexed += src->reindexed;
	dst->removed += src->removed;
	dst->lost += src->lost;
	dst->cache_files += src->cache_files;
	dst->cache_copies += src->cache_copies;
	dst->index_damage += src->index_damage;
	dst->staging += src->staging;
}

static unsigned fsck_threads(unsigned asked)
{
	long cpus;

	if (asked == 0) {
		cpus = sysconf(_SC_NPROCESSORS_ONLN);
		asked = cpus > 0 ? (unsigned)cpus : 1;
	}
	return asked > MAX_THREADS ? MAX_THREADS : asked;
}

/* The phases in order, until one fails or a callback says stop. */
static int check_all(fsck_run *f, fsck_worker *ws, unsigned n, uint64_t t0)
{
	static const fsck_phase order[] = {PHASE_ENTRIES, PHASE_TIER,
					   PHASE_REFS, PHASE_COPIES};
	uint64_t total = f->o->progress ? estimate_objects(f->s) : 0;
	int rc = 0;

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (rc < 0 || halted(f))
			break;
		if (order[i] == PHASE_COPIES && f->l2_fd < 0)
			break;
		if (order[i] == PHASE_TIER) {
			/* On this thread: the workers are all joined. */
			check_top(&ws[0]);
			check_staging(&ws[0]);
		}
		rc = run_phase(f, ws, n, order[i], t0, total);
		if (rc == 0)
			rc = confirm_suspects(f, &ws[0]);
	}
	/* Met in either index walk: reported once. */
	report_index_damage(f, &ws[0]);
	if (rc == 0 && !halted(f)) {
		check_logs(&ws[0], "index", false);
		check_logs(&ws[0], B3CAS_RECOVER_DIR, true);
	}
	return rc;
}

int b3cas_fsck(b3cas_store *s, const b3cas_fsck_options *opts,
	       b3cas_fsck_report *report)
{
	b3cas_fsck_options defaults = B3CAS_FSCK_OPTIONS_INIT;
	b3cas_fsck_report local;
	uint64_t t0 = b3cas__now_ns();
	fsck_worker *ws;
	unsigned n;
	fsck_run f;
	int rc;

	B3CAS__NONNULL(s, "store");
	if (!opts)
		opts = &defaults;
	if (!report)
		report = &local;
	memset(report, 0, sizeof(*report));
	if (opts->repair) {
		rc = b3cas__store_check_writable(s, "repair");
		if (rc < 0)
			return rc;
	}
	/* Before anything is judged lost for want of a good copy there. */
	rc = b3cas__store_mirror_check(s, true);
	if (rc < 0)
		return rc;
	n = fsck_threads(opts->threads);
	run_init(&f, s, opts, true);
	ws = workers_new(&f, n);
	if (!ws) {
		run_destroy(&f);
		return b3cas__error(B3CAS_ENOMEM, "out of memory for %u "
				    "buffers of fsck", n);
	}
	rc = check_all(&f, ws, n, t0);
	for (unsigned i = 0; i < n; i++)
		report_add(report, &ws[i].r);
	if (rc == 0 && opts->repair && (report->removed || report->reindexed))
		b3cas__filter_note_freed(s, report->removed +
						    report->reindexed);
	report->seconds = (double)(b3cas__now_ns() - t0) * 1e-9;
	/* A worker's message was set on its own thread: set it here. */
	if (rc == 0 && f.err)
		rc = b3cas__error(f.err, "%s", f.err_msg);
	if (rc == 0)
		rc = atomic_load(&f.stop);
	workers_free(ws, n);
	run_destroy(&f);
	return rc;
}

/* ---- scrub ------------------------------------------------------------------- */

#define SCRUB_FILE "integrity/checksums/scrub"

/* The position file: "next-after <64 hex>\n", or absent: from the start. */
static bool scrub_load(b3cas_store *s, b3cas_oid *after)
{
	char text[128] = {0};
	int fd = openat(s->lay.root_fd, SCRUB_FILE, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	bool ok;

	if (fd < 0)
		return false;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 11 + B3CAS_OID_HEX_LEN || strncmp(text, "next-after ", 11))
		return false; /* damaged: start over, losing nothing */
	text[11 + B3CAS_OID_HEX_LEN] = '\0';
	ok = b3cas_oid_parse(after, text + 11) == 0;
	b3cas_error_clear();
	return ok;
}

/* Save the position after last (NULL: none done), or with done (a whole
 * pass) remove it so the next scrub starts over. */
static int scrub_save(b3cas_store *s, const b3cas_oid *last, bool done)
{
	char text[128], hex[B3CAS_OID_HEX_LEN + 1];
	/* No fsync: a position lost or damaged by a power loss only makes
	 * the next scrub start over (scrub_load). */
	const b3cas_atomic_write w = {
		.stage_fd = s->lay.root_fd, .stage_name = SCRUB_FILE ".tmp",
		.dir_fd = s->lay.root_fd, .name = SCRUB_FILE,
		.where = s->lay.root, .durability = B3CAS_DURABILITY_NONE,
	};
	int n;

	if (done || !last) {
		/* A whole pass: the next scrub starts over. */
		if (unlinkat(s->lay.root_fd, SCRUB_FILE, 0) != 0 &&
		    errno != ENOENT)
			return b3cas__error_errno(errno, "cannot reset %s/%s",
						  s->lay.root, SCRUB_FILE);
		return 0;
	}
	n = snprintf(text, sizeof(text), "next-after %s\n",
		     b3cas_oid_fmt(hex, last));
	return b3cas__atomic_write(&w, text, (size_t)n);
}

/* Where a scrub walks from, how far and how fast. */
typedef struct scrub_pos {
	bool has_start;
	b3cas_oid start;      /* resume after this id */
	uint64_t max_objects; /* 0: no limit */
	uint64_t rate_bytes;  /* 0: no limit */
	bool completed;       /* the walk reached the end of the index */
} scrub_pos;

/* Sleep as long as it takes for bytes hashed since t0 to fit the rate. */
static void pace(uint64_t bytes, uint64_t t0, uint64_t rate)
{
	uint64_t due = rate ? bytes * 1000000000ull / rate : 0;
	uint64_t spent = b3cas__now_ns() - t0;

	if (due > spent) {
		struct timespec ts = {(time_t)((due - spent) / 1000000000ull),
				      (long)((due - spent) % 1000000000ull)};

		nanosleep(&ts, NULL);
	}
}

/* Seek it to the first key after pos->start, or to the first key. */
static void scrub_seek(rocksdb_iterator_t *it, const scrub_pos *pos)
{
	size_t kl;
	const char *k;

	if (!pos->has_start) {
		rocksdb_iter_seek_to_first(it);
		return;
	}
	rocksdb_iter_seek(it, (const char *)pos->start.bytes, B3CAS_OID_LEN);
	if (!rocksdb_iter_valid(it))
		return;
	k = rocksdb_iter_key(it, &kl);
	if (kl == B3CAS_OID_LEN &&
	    memcmp(k, pos->start.bytes, B3CAS_OID_LEN) == 0)
		rocksdb_iter_next(it); /* after it, not it again */
}

/* The index entries in id order on this thread, paced, the position
 * saved at least once a second and at the end. */
static int scrub_walk(fsck_worker *w, scrub_pos *pos)
{
	fsck_run *f = w->f;
	b3cas_store *s = f->s;
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it;
	uint64_t t0 = b3cas__now_ns(), saved_at = t0, shown_at = t0, done = 0;
	uint64_t total = f->o->progress ? estimate_objects(s) : 0;
	b3cas_oid last;
	bool any = false, damaged = false;
	char *err = NULL;
	int rc = 0;

	rocksdb_readoptions_set_fill_cache(ro, 0);
	it = rocksdb_create_iterator_cf(s->ix->db, ro,
					s->ix->cf[B3CAS_CF_CONTENT]);
	scrub_seek(it, pos);
	for (; rocksdb_iter_valid(it) && !halted(f); rocksdb_iter_next(it)) {
		size_t klen;
		const char *key;

		if (pos->max_objects && done == pos->max_objects)
			break;
		if (any && b3cas__now_ns() - saved_at >= 1000000000ull) {
			scrub_save(s, &last, false);
			saved_at = b3cas__now_ns();
		}
		pace(w->r.bytes, t0, pos->rate_bytes);
		if (f->o->progress &&
		    b3cas__now_ns() - shown_at >= PROGRESS_NS) {
			report_progress(f, t0, total, false);
			shown_at = b3cas__now_ns();
		}
		done++;
		key = rocksdb_iter_key(it, &klen);
		if (klen == B3CAS_OID_LEN) {
			memcpy(last.bytes, key, B3CAS_OID_LEN);
			any = true;
		}
		check_entry(w, key, klen);
	}
	rocksdb_iter_get_error(it, &err);
	if (err && index_damage(f, err)) {
		/* Reported as a finding; the pass is not complete, and the
		 * next scrub starts from the last saved position again. */
		free(err);
		report_index_damage(f, w);
		damaged = true;
	} else if (err) {
		rc = b3cas__index_error(err, "cannot walk the index");
	}
	if (f->o->progress)
		report_progress(f, t0, total, true);
	if (rc == 0 && !halted(f) && !damaged) {
		pos->completed = !rocksdb_iter_valid(it);
		rc = scrub_save(s, any ? &last : NULL, pos->completed);
	}
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	return rc;
}

int b3cas_scrub(b3cas_store *s, const b3cas_scrub_options *opts,
		b3cas_scrub_report *report)
{
	b3cas_scrub_options defaults = B3CAS_SCRUB_OPTIONS_INIT;
	b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;
	b3cas_scrub_report local;
	uint64_t t0 = b3cas__now_ns();
	fsck_worker *ws;
	scrub_pos pos;
	fsck_run f;
	int rc;

	B3CAS__NONNULL(s, "store");
	if (!opts)
		opts = &defaults;
	if (opts->repair) {
		rc = b3cas__store_check_writable(s, "repair");
		if (rc < 0)
			return rc;
	}
	if (!report)
		report = &local;
	memset(report, 0, sizeof(*report));
	rc = b3cas__store_mirror_check(s, true);
	if (rc < 0)
		return rc;
	memset(&pos, 0, sizeof(pos));
	fo.repair = opts->repair;
	fo.on_problem = opts->on_problem;
	fo.ctx = opts->ctx;
	fo.progress = opts->progress;
	run_init(&f, s, &fo, false);
	ws = workers_new(&f, 1);
	if (!ws) {
		run_destroy(&f);
		return b3cas__error(B3CAS_ENOMEM, "out of memory for a buffer "
				    "of scrub");
	}
	pos.has_start = scrub_load(s, &pos.start);
	pos.max_objects = opts->max_objects;
	pos.rate_bytes = opts->rate_bytes;
	report->resumed = pos.has_start;
	rc = scrub_walk(&ws[0], &pos);
	if (rc == 0)
		rc = confirm_suspects(&f, &ws[0]);
	report->found = ws[0].r;
	report->completed = rc == 0 && pos.completed;
	report->found.seconds = (double)(b3cas__now_ns() - t0) * 1e-9;
	if (rc == 0)
		rc = atomic_load(&f.stop);
	workers_free(ws, 1);
	run_destroy(&f);
	return rc;
}
