/*
 * model/restore_run.c - the threads of a restore (model/restore_int.h):
 * a bounded queue of files from the walk to the workers, each folder's
 * count of pending work and its finish, hard links' first names and the
 * later names waiting for them, the first failure, and the progress
 * callback, called on the walk's thread only.
 *
 * The walk never waits on the workers but for room: in the queue (a
 * full queue is the workers' backlog) or for folder descriptors (a
 * folder stays open while a job of it is queued; the walk waits while
 * OPEN_DIRS_MAX are open and some job will close one). A worker never
 * waits on the walk but for work. A failure anywhere stops the run: the
 * walk stops, queued jobs are dropped (their folders released, nothing
 * set), and the workers end once the queue is empty.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model/restore_int.h"
#include "util/histogram.h"

/* A full queue is far enough ahead: each job is a small file at most a
 * few milliseconds of work. */
#define QUEUE_CAP 1024
/* Descriptors of folders open at once, beyond the walk's own path: well
 * below the usual limit of 1024 open files. */
#define OPEN_DIRS_MAX 256
#define TICK_NS 100000000ull
/* A file cut into parts (ops->parts): at most PARTS_MAX of them, each a
 * multiple of PART_ALIGN long but the last (so that a sparse file's
 * zero blocks are found at the same places by every part). */
#define PARTS_MAX 256
#define PART_ALIGN (64u << 10)

/* ---- failure and progress ---------------------------------------------- */

int b3cas__run_fail(restore_run *r, int rc)
{
	pthread_mutex_lock(&r->lock);
	if (r->rc == 0) {
		r->rc = rc;
		snprintf(r->msg, sizeof(r->msg), "%s", b3cas_error_last());
	}
	atomic_store(&r->stop, true);
	pthread_cond_broadcast(&r->work);
	pthread_cond_broadcast(&r->room);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

static void report(restore_run *r, uint64_t now, bool final)
{
	b3cas_tree_progress p;
	int rc;

	p.files = atomic_load_explicit(&r->files, memory_order_relaxed);
	p.bytes = atomic_load_explicit(&r->bytes, memory_order_relaxed);
	p.files_total = r->files_total;
	p.bytes_total = r->bytes_total;
	p.walked = r->walked;
	p.done = final;
	p.seconds = (double)(now - r->t0) * 1e-9;
	r->last = now;
	rc = r->progress(&p, r->progress_ctx);
	/* the last call, after the end, has nothing left to stop */
	if (rc != 0 && !final)
		b3cas__run_fail(r, b3cas__error(B3CAS_ECANCELED, "tree get: "
						"canceled (the progress "
						"callback asked to stop)"));
}

void b3cas__run_tick(restore_run *r, bool final)
{
	uint64_t now;

	if (!r->progress || b3cas__run_stopping(r))
		return;
	now = b3cas__now_ns();
	if (final || now - r->last >= TICK_NS)
		report(r, now, final);
}

/*
 * Wait on cond (with the lock held) until signalled; with a progress
 * callback, at most until the next tick is due, calling it (without the
 * lock) when it is. The caller checks its condition again.
 */
static void wait_ticking(restore_run *r, pthread_cond_t *cond)
{
	struct timespec ts;
	uint64_t now = b3cas__now_ns(), due = r->last + TICK_NS;

	if (!r->progress || b3cas__run_stopping(r)) {
		pthread_cond_wait(cond, &r->lock);
	} else if (now >= due) {
		pthread_mutex_unlock(&r->lock);
		b3cas__run_tick(r, false);
		pthread_mutex_lock(&r->lock);
	} else {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (long)(due - now);
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(cond, &r->lock, &ts);
	}
}

/* ---- waking the walk ------------------------------------------------------- */

/* Under the lock: wake the walk if what it waits for has come. It waits
 * for a queue half empty, not for one free place, so that it does not
 * wake once per file. */
static void wake_walk(restore_run *r)
{
	bool go;

	switch (r->waiting) {
	case WAIT_ROOM:
		go = r->qlen <= r->qcap / 2;
		break;
	case WAIT_DIRS:
		go = r->open_dirs < OPEN_DIRS_MAX || r->qlen + r->busy == 0;
		break;
	case WAIT_END:
		go = r->qlen + r->busy == 0;
		break;
	default:
		return;
	}
	if (go)
		pthread_cond_signal(&r->room);
}

/* ---- folders -------------------------------------------------------------- */

void b3cas__dir_opened(restore_run *r, rdir *d)
{
	pthread_mutex_lock(&r->lock);
	d->pending = 1;
	if (d->parent)
		d->parent->pending++;
	r->open_dirs++;
	pthread_mutex_unlock(&r->lock);
}

/* d's count has reached 0: finish it, then drop its parent's hold (and
 * so on up). Called without the lock. */
static void dir_finish(restore_run *r, rdir *d)
{
	while (d) {
		rdir *parent = d->parent;
		bool last;

		b3cas__restore_dir_done(r, d);
		pthread_mutex_lock(&r->lock);
		r->open_dirs--;
		last = parent && --parent->pending == 0;
		wake_walk(r);
		pthread_mutex_unlock(&r->lock);
		d = last ? parent : NULL;
	}
}

void b3cas__dir_release(restore_run *r, rdir *d)
{
	bool last;

	pthread_mutex_lock(&r->lock);
	last = --d->pending == 0;
	pthread_mutex_unlock(&r->lock);
	if (last)
		dir_finish(r, d);
}

void b3cas__run_wait_dirs(restore_run *r)
{
	pthread_mutex_lock(&r->lock);
	r->waiting = WAIT_DIRS;
	while (r->open_dirs >= OPEN_DIRS_MAX && r->qlen + r->busy > 0 &&
	       !b3cas__run_stopping(r))
		wait_ticking(r, &r->room);
	r->waiting = WAIT_NONE;
	pthread_mutex_unlock(&r->lock);
}

/* ---- hard links ------------------------------------------------------------ */

static size_t slot_of(uint64_t link, size_t cap)
{
	return (size_t)(link * 0x9e3779b97f4a7c15ull >> 17) & (cap - 1);
}

rlink *b3cas__link_find(restore_run *r, uint64_t link)
{
	if (!r->lcap)
		return NULL;
	for (size_t i = slot_of(link, r->lcap); r->links[i];
	     i = (i + 1) & (r->lcap - 1))
		if (r->links[i]->link == link)
			return r->links[i];
	return NULL;
}

/* Keep the table at most half full. */
static int links_grow(restore_run *r)
{
	size_t cap = r->lcap ? 2 * r->lcap : 64;
	rlink **v;

	if (2 * (r->nlinks + 1) <= r->lcap)
		return 0;
	v = calloc(cap, sizeof(*v));
	if (!v)
		return b3cas__error(B3CAS_ENOMEM, "tree get: out of memory");
	for (size_t k = 0; k < r->lcap; k++) {
		size_t i;

		if (!r->links[k])
			continue;
		for (i = slot_of(r->links[k]->link, cap); v[i];
		     i = (i + 1) & (cap - 1))
			;
		v[i] = r->links[k];
	}
	free(r->links);
	r->links = v;
	r->lcap = cap;
	return 0;
}

rlink *b3cas__link_add(restore_run *r, uint64_t link, const char *rel)
{
	rlink *l;
	size_t i;

	if (links_grow(r) < 0)
		return NULL;
	l = calloc(1, sizeof(*l));
	if (l)
		l->rel = strdup(rel);
	if (!l || !l->rel) {
		free(l);
		b3cas__error(B3CAS_ENOMEM, "tree get: out of memory");
		return NULL;
	}
	l->link = link;
	l->state = LINK_PENDING;
	for (i = slot_of(link, r->lcap); r->links[i];
	     i = (i + 1) & (r->lcap - 1))
		;
	r->links[i] = l;
	r->nlinks++;
	return l;
}

int b3cas__link_later(restore_run *r, rlink *first, rdir *d,
		      const b3cas_tree_entry *e)
{
	rwait *w = malloc(sizeof(*w));
	rlink_state state;

	if (!w)
		return b3cas__error(B3CAS_ENOMEM, "tree get: out of memory");
	w->dir = d;
	w->e = e;
	pthread_mutex_lock(&r->lock);
	state = first->state;
	if (state == LINK_PENDING) {
		w->next = first->waiters;
		first->waiters = w;
		d->pending++;
	}
	pthread_mutex_unlock(&r->lock);
	if (state == LINK_PENDING)
		return 0;
	free(w);
	/* a first name that failed has stopped the run already */
	return state == LINK_DONE ? b3cas__restore_link(r, first->rel, d, e)
				  : 0;
}

/* The first name of link l is complete (ok) or given up: make the
 * names that waited for it, in the order the walk met them. */
static void link_complete(restore_run *r, rlink *l, bool ok)
{
	rwait *w, *order = NULL;

	pthread_mutex_lock(&r->lock);
	l->state = ok ? LINK_DONE : LINK_FAILED;
	w = l->waiters;
	l->waiters = NULL;
	pthread_mutex_unlock(&r->lock);
	while (w) { /* the list is newest first */
		rwait *next = w->next;

		w->next = order;
		order = w;
		w = next;
	}
	while (order) {
		rwait *next = order->next;
		int rc;

		if (ok && !b3cas__run_stopping(r)) {
			rc = b3cas__restore_link(r, l->rel, order->dir,
						 order->e);
			if (rc < 0)
				b3cas__run_fail(r, rc);
		}
		b3cas__dir_release(r, order->dir);
		free(order);
		order = next;
	}
}

/* ---- the queue and the workers -------------------------------------------- */

/* Write j's file (unless the run is stopping) and complete the link it
 * is the first name of. Its folder's hold is the caller's to drop. */
static void run_part(restore_run *r, const rjob *j, unsigned worker)
{
	rsplit *sp = j->split;
	bool last, ok;
	int rc = B3CAS_ECANCELED;

	if (!b3cas__run_stopping(r) &&
	    (rc = b3cas__restore_write_part(r, j, worker)) < 0)
		b3cas__run_fail(r, rc);
	pthread_mutex_lock(&r->lock);
	if (rc < 0)
		sp->failed = true;
	last = --sp->left == 0;
	ok = !sp->failed;
	pthread_mutex_unlock(&r->lock);
	if (!last)
		return;
	free(sp);
	if (!ok || b3cas__run_stopping(r)) {
		ok = false;
		b3cas__restore_drop(j);
	} else if ((rc = b3cas__restore_finish(r, j)) < 0) {
		ok = false;
		b3cas__run_fail(r, rc);
	}
	if (j->first)
		link_complete(r, j->first, ok);
}

static void run_job(restore_run *r, const rjob *j, unsigned worker)
{
	int rc = 0;

	if (j->split) {
		run_part(r, j, worker);
		return;
	}
	if (b3cas__run_stopping(r)) {
		rc = B3CAS_ECANCELED;
		b3cas__restore_drop(j); /* its empty file */
	} else if ((rc = b3cas__restore_write(r, j, worker)) < 0)
		b3cas__run_fail(r, rc);
	if (j->first)
		link_complete(r, j->first, rc == 0);
}

typedef struct worker_arg {
	restore_run *r;
	unsigned n;
} worker_arg;

/* Take jobs until the queue is closed and empty. One lock round per
 * job: the next is taken where the last one's folder is let go. */
static void *worker_main(void *p)
{
	worker_arg *a = p;
	restore_run *r = a->r;
	unsigned n = a->n;

	free(a);
	pthread_mutex_lock(&r->lock);
	for (;;) {
		rjob j;
		bool last;

		while (r->qlen == 0 && !r->closing)
			pthread_cond_wait(&r->work, &r->lock);
		if (r->qlen == 0)
			break;
		j = r->queue[r->qhead];
		r->qhead = (r->qhead + 1) % r->qcap;
		r->qlen--;
		r->busy++;
		wake_walk(r);
		pthread_mutex_unlock(&r->lock);
		run_job(r, &j, n);
		pthread_mutex_lock(&r->lock);
		r->busy--;
		last = --j.dir->pending == 0;
		if (last) {
			pthread_mutex_unlock(&r->lock);
			dir_finish(r, j.dir);
			pthread_mutex_lock(&r->lock);
		}
		wake_walk(r);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* Into how many parts e's file is cut (1: whole), and their shared
 * state in *sp. */
static unsigned parts_of(restore_run *r, const b3cas_tree_entry *e,
			 rsplit **sp)
{
	unsigned n = 1;

	*sp = NULL;
	if (r->ops->parts && r->nthreads > 1)
		n = r->ops->parts(r->ctx, &e->id, e->size, r->nthreads);
	if (n > PARTS_MAX)
		n = PARTS_MAX;
	/* each part at least PART_ALIGN long, and starting at a multiple */
	if (n > e->size / PART_ALIGN)
		n = (unsigned)(e->size / PART_ALIGN);
	if (n < 2)
		return 1;
	*sp = malloc(sizeof(**sp));
	if (!*sp)
		return 1; /* written whole */
	**sp = (rsplit){n, false};
	return n;
}

static uint64_t part_start(uint64_t size, unsigned n, unsigned i)
{
	return size / n * i / PART_ALIGN * PART_ALIGN;
}

int b3cas__run_queue(restore_run *r, rdir *d, const b3cas_tree_entry *e,
		     rlink *first)
{
	rsplit *sp;
	unsigned n = parts_of(r, e, &sp);
	int rc;

	pthread_mutex_lock(&r->lock);
	if (r->qlen + n > r->qcap) {
		r->waiting = WAIT_ROOM;
		while (r->qlen > r->qcap / 2 && !b3cas__run_stopping(r))
			wait_ticking(r, &r->room);
		r->waiting = WAIT_NONE;
	}
	if (b3cas__run_stopping(r)) {
		rc = r->rc ? r->rc : B3CAS_ECANCELED;
		pthread_mutex_unlock(&r->lock);
		free(sp);
		if (first)
			link_complete(r, first, false);
		return rc;
	}
	for (unsigned i = 0; i < n; i++) {
		rjob j = {d, e, first, sp, 0, e->size};

		if (sp) {
			j.off = part_start(e->size, n, i);
			j.len = (i + 1 == n ? e->size
					    : part_start(e->size, n, i + 1)) -
				j.off;
		}
		d->pending++;
		r->queue[(r->qhead + r->qlen) % r->qcap] = j;
		r->qlen++;
	}
	r->files_total++;
	r->bytes_total += e->size;
	if (n > 1)
		pthread_cond_broadcast(&r->work);
	else
		pthread_cond_signal(&r->work);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static int init_sync(restore_run *r)
{
	pthread_condattr_t ca;
	int rc = pthread_condattr_init(&ca);

	if (rc == 0)
		rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(&r->work, &ca);
	if (rc == 0 && (rc = pthread_cond_init(&r->room, &ca)) != 0)
		pthread_cond_destroy(&r->work);
	if (rc == 0 && (rc = pthread_mutex_init(&r->lock, NULL)) != 0) {
		pthread_cond_destroy(&r->work);
		pthread_cond_destroy(&r->room);
	}
	pthread_condattr_destroy(&ca);
	return rc == 0 ? 0
		       : b3cas__error(B3CAS_ENOMEM, "tree get: cannot make "
				      "a lock: %s", strerror(rc));
}

int b3cas__run_start(restore_run *r, const b3cas__restore_params *params)
{
	int rc = init_sync(r);

	if (rc < 0)
		return rc;
	r->progress = params->progress;
	r->progress_ctx = params->progress_ctx;
	r->t0 = b3cas__now_ns();
	r->last = r->t0 - TICK_NS; /* a first call at once: nothing done */
	r->qcap = QUEUE_CAP;
	r->queue = malloc(r->qcap * sizeof(*r->queue));
	r->tids = calloc(params->threads, sizeof(*r->tids));
	for (unsigned i = 0; r->queue && r->tids && i < params->threads; i++) {
		worker_arg *a = malloc(sizeof(*a));

		if (!a)
			break;
		*a = (worker_arg){r, i};
		if (pthread_create(&r->tids[i], NULL, worker_main, a) != 0) {
			free(a);
			break;
		}
		r->nthreads++;
	}
	if (r->nthreads > 0)
		return 0;
	/* fewer threads than asked is still a restore; none is not */
	b3cas__run_destroy(r);
	return b3cas__error(B3CAS_ENOMEM, "tree get: cannot start a thread");
}

void b3cas__run_end(restore_run *r)
{
	pthread_mutex_lock(&r->lock);
	r->closing = true;
	pthread_cond_broadcast(&r->work);
	r->waiting = WAIT_END;
	while (r->qlen + r->busy > 0)
		wait_ticking(r, &r->room);
	r->waiting = WAIT_NONE;
	pthread_mutex_unlock(&r->lock);
	for (unsigned i = 0; i < r->nthreads; i++)
		pthread_join(r->tids[i], NULL);
}

void b3cas__run_destroy(restore_run *r)
{
	for (size_t i = 0; i < r->lcap; i++) {
		if (!r->links[i])
			continue;
		free(r->links[i]->rel);
		free(r->links[i]);
	}
	free(r->links);
	free(r->queue);
	free(r->tids);
	pthread_cond_destroy(&r->work);
	pthread_cond_destroy(&r->room);
	pthread_mutex_destroy(&r->lock);
}
