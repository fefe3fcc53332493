/*
 * maint/fsck.c - b3cas_fsck: every index entry checked against its
 * bytes, every file of the object tier against the index, reference
 * counts against objects, and L2 cache copies against their names; with
 * repair, each finding mended or reported lost. b3cas_scrub: the first
 * of these alone, in id order and paced.
 *
 * This file is the driver: the run, its workers and phases, and the
 * findings' counting. The phases are in fsck_index.c (entries, reference
 * counts, the index's own damage), fsck_files.c (the tier's files, its
 * top and staging folders), fsck_held.c (chunks' held counts) and
 * fsck_l2.c (L2 copies); a read-only
 * handle's suspects in fsck_suspects.c; scrub in scrub.c; what they
 * share in fsck_int.h. The invariants and threads below hold for all.
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
 * are looked at on the calling thread before the tier phase; in a
 * chunking store, chunks' held counts against the manifests' segments
 * after the reference counts' phase, on the calling thread too
 * (fsck_held.c: judged from one snapshot of the index, which a sound
 * store always agrees with, since a segment and its chunks' counts change
 * in one batch; mended under each chunk's stripe lock by the difference
 * the snapshot showed, store/held.c); damage to the index itself - a
 * block a walk cannot read, a damaged log - is one "index" finding,
 * never an error that stops the check and never
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
#include "maint/fsck_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/error.h"
#include "util/histogram.h"
#include "util/fsutil.h"

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
	case B3CAS_FSCK_HELD_COUNT: return "held-count";
	case B3CAS_FSCK_NODE_COUNT: return "node-count";
	case B3CAS_FSCK_ROOT: return "root";
	case B3CAS_FSCK_GIT_MAP: return "git-map";
	case B3CAS_FSCK_TIER_COUNT: return "tier-count";
	default: return "unknown";
	}
}

bool b3cas__fsck_halted(fsck_run *f)
{
	return atomic_load_explicit(&f->stop, memory_order_relaxed) != 0 ||
	       atomic_load_explicit(&f->failed, memory_order_relaxed);
}

void b3cas__fsck_fail(fsck_run *f, int rc)
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

void b3cas__fsck_found(fsck_worker *w, b3cas_fsck_problem *p)
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
	case B3CAS_FSCK_HELD_COUNT: r->held_counts++; break;
	case B3CAS_FSCK_NODE_COUNT: r->node_counts++; break;
	case B3CAS_FSCK_ROOT: r->roots++; break;
	case B3CAS_FSCK_GIT_MAP: r->git_maps++; break;
	case B3CAS_FSCK_TIER_COUNT: r->tier_counts++; break;
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

bool b3cas__fsck_file_sound(fsck_worker *w, int fd, const b3cas_oid *id,
			    uint64_t size, uint64_t *hashed)
{
	return b3cas__file_check(w->f->s, fd, id, size, w->buf, FILE_CHUNK,
				 hashed) != 0;
}

char *b3cas__fsck_full_path(const char *dir, const char *rel)
{
	size_t n = strlen(dir) + strlen(rel) + 2;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s/%s", dir, rel);
	return p;
}

char *b3cas__fsck_object_path(b3cas_store *s, const b3cas_oid *id)
{
	char rel[B3CAS_OBJECT_REL_LEN + 1];

	b3cas__object_rel(rel, id);
	return b3cas__fsck_full_path(b3cas__store_layout(s)->objects_path, rel);
}

void b3cas__fsck_report_progress(fsck_run *f, uint64_t t0, uint64_t total,
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

/* ---- running the phases -------------------------------------------------- */

static void *worker_main(void *arg)
{
	fsck_worker *w = arg;
	fsck_run *f = w->f;
	b3cas_layout *lay = b3cas__store_layout(f->s);

	switch (f->phase) {
	case PHASE_ENTRIES:
		b3cas__fsck_walk_ranges(w, B3CAS_CF_CONTENT,
					b3cas__fsck_check_entry);
		break;
	case PHASE_TIER:
		b3cas__fsck_walk_folders(w, lay->objects_fd, lay->objects_path,
					 b3cas__fsck_check_file);
		break;
	case PHASE_REFS:
		b3cas__fsck_walk_ranges(w, B3CAS_CF_REFS,
					b3cas__fsck_check_ref);
		break;
	case PHASE_COPIES: {
		char l2[4200];

		snprintf(l2, sizeof(l2), "%s/cache/l2", lay->root);
		b3cas__fsck_walk_folders(w, f->l2_fd, l2,
					 b3cas__fsck_check_copy);
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
		 * clock (b3cas__fsck_run_init). */
		pthread_cond_timedwait(&f->finished_cond, &f->wait_lock, &ts);
		if (f->finished < started && b3cas__now_ns() >= due) {
			pthread_mutex_unlock(&f->wait_lock);
			b3cas__fsck_report_progress(f, t0, total, false);
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
		b3cas__fsck_report_progress(f, t0, total, true);
	return 0;
}

void b3cas__fsck_run_init(fsck_run *f, b3cas_store *s,
			  const b3cas_fsck_options *o,
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
	f->l2 = copies ? b3cas__store_l2(s) : NULL;
	f->l2_fd = -1;
	if (!copies)
		return;
	if (f->l2) {
		f->l2_fd = b3cas__l2_dir_fd(f->l2);
	} else if (b3cas__store_read_only(s)) {
		/* The writer's copies: judged, never touched. */
		f->l2_fd = openat(b3cas__store_layout(s)->root_fd, B3CAS_L2_DIR,
				  O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		f->own_l2_fd = f->l2_fd >= 0;
	}
}

void b3cas__fsck_run_destroy(fsck_run *f)
{
	if (f->own_l2_fd)
		close(f->l2_fd);
	pthread_mutex_destroy(&f->call_lock);
	pthread_mutex_destroy(&f->wait_lock);
	pthread_mutex_destroy(&f->err_lock);
	pthread_mutex_destroy(&f->suspects_lock);
	b3cas__fsck_drop_suspects(f);
	free(f->suspects);
	pthread_cond_destroy(&f->finished_cond);
}

fsck_worker *b3cas__fsck_workers_new(fsck_run *f, unsigned n)
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

void b3cas__fsck_workers_free(fsck_worker *ws, unsigned n)
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
	dst->held_counts += src->held_counts;
	dst->node_counts += src->node_counts;
	dst->roots += src->roots;
	dst->git_maps += src->git_maps;
	dst->git_mended += src->git_mended;
	dst->tier_objects += src->tier_objects;
	dst->tier_counts += src->tier_counts;
	dst->tier_mended += src->tier_mended;
	dst->node_mended += src->node_mended;
	dst->held_mended += src->held_mended;
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
	uint64_t total = f->o->progress ? b3cas__estimate_objects(f->s) : 0;
	int rc = 0;

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (rc < 0 || b3cas__fsck_halted(f))
			break;
		if (order[i] == PHASE_COPIES) {
			/* On this thread, after both walks of the index. */
			rc = b3cas__fsck_check_held(&ws[0]);
			if (rc == 0 && !b3cas__fsck_halted(f))
				rc = b3cas__fsck_check_packed(&ws[0]);
			if (rc == 0 && !b3cas__fsck_halted(f))
				rc = b3cas__fsck_check_roots(&ws[0]);
			if (rc == 0 && !b3cas__fsck_halted(f))
				rc = b3cas__fsck_check_gitmap(&ws[0]);
			if (rc == 0 && !b3cas__fsck_halted(f))
				rc = b3cas__fsck_check_pool(&ws[0]);
			if (rc < 0 || b3cas__fsck_halted(f))
				break;
		}
		if (order[i] == PHASE_COPIES && f->l2_fd < 0)
			break;
		if (order[i] == PHASE_TIER) {
			/* On this thread: the workers are all joined. */
			b3cas__fsck_check_top(&ws[0]);
			b3cas__fsck_check_staging(&ws[0]);
		}
		rc = run_phase(f, ws, n, order[i], t0, total);
		if (rc == 0)
			rc = b3cas__fsck_confirm_suspects(f, &ws[0]);
	}
	/* Met in either index walk: reported once. */
	b3cas__fsck_report_index_damage(f, &ws[0]);
	if (rc == 0 && !b3cas__fsck_halted(f)) {
		b3cas__fsck_check_logs(&ws[0], "index", false);
		b3cas__fsck_check_logs(&ws[0], B3CAS_RECOVER_DIR, true);
	}
	return rc;
}

int b3cas__fsck_start(fsck_run *f, fsck_worker **ws_out, b3cas_store *s,
		      const b3cas_fsck_options *o, bool copies, unsigned n)
{
	/* Before anything is judged lost for want of a good copy there. */
	int rc = b3cas__store_mirror_check(s, true);

	if (rc < 0)
		return rc;
	b3cas__fsck_run_init(f, s, o, copies);
	*ws_out = b3cas__fsck_workers_new(f, n);
	if (!*ws_out) {
		b3cas__fsck_run_destroy(f);
		return b3cas__error(B3CAS_ENOMEM, "out of memory for %u "
				    "buffer(s) of %s", n,
				    copies ? "fsck" : "scrub");
	}
	return 0;
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
	if (b3cas__check_version(opts->version, 1, B3CAS_FSCK_OPTIONS_VERSION,
				 "fsck") < 0)
		return B3CAS_EINVAL;
	if (opts->repair) {
		rc = b3cas__store_check_writable(s, "repair");
		if (rc < 0)
			return rc;
	}
	n = fsck_threads(opts->threads);
	rc = b3cas__fsck_start(&f, &ws, s, opts, true, n);
	if (rc < 0)
		return rc;
	rc = check_all(&f, ws, n, t0);
	for (unsigned i = 0; i < n; i++)
		report_add(report, &ws[i].r);
	if (rc == 0 && opts->repair && (report->removed || report->reindexed))
		b3cas__store_note_removed(s, report->removed +
						    report->reindexed);
	report->seconds = (double)(b3cas__now_ns() - t0) * 1e-9;
	/* A worker's message was set on its own thread: set it here. */
	if (rc == 0 && f.err)
		rc = b3cas__error(f.err, "%s", f.err_msg);
	if (rc == 0)
		rc = atomic_load(&f.stop);
	b3cas__fsck_workers_free(ws, n);
	b3cas__fsck_run_destroy(&f);
	return rc;
}
