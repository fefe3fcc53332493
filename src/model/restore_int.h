/*
 * model/restore_int.h - what the two halves of a restore (model/fstree.h)
 * share. restore.c walks the trees and makes the entries on the file
 * system; restore_run.c runs the workers and keeps what several threads
 * touch: the queue of files to write, each folder's count of work not
 * done, hard links' first names, the first failure and the progress.
 * Private to src/model/restore*.c.
 *
 * Invariants:
 *  - a folder's descriptor stays open, and its tree in memory, while its
 *    count of pending work is not 0: the walk's own hold, each file of it
 *    queued or being written, each later name of a hard link waiting in
 *    it for its first name, each subfolder not finished. The thread that
 *    takes the count to 0 finishes the folder (sets its own attributes,
 *    unless the restore is stopping; closes it), then releases its
 *    parent. So a folder's attributes come after all of its entries',
 *    as in a single-threaded restore.
 *  - a hard link's later names are made after its first name is
 *    complete (written, attributes set, closed), by the thread that
 *    completed it or, if the walk meets them later, by the walk.
 *  - counts, the queue and link records' states change only under the
 *    run's lock; the walk alone reads and grows the table of links.
 */
#ifndef B3CAS_MODEL_RESTORE_INT_H
#define B3CAS_MODEL_RESTORE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "model/fstree.h"
#include "util/error.h"

typedef struct rdir rdir;

/* A folder being restored. */
struct rdir {
	rdir *parent;
	int fd;
	uint8_t *bytes;  /* its tree's bytes, which tree points into */
	b3cas_tree *tree;
	char *rel;       /* the path from dest, '/'-joined; "" for dest */
	char *shown;     /* the path messages name: dest, then rel */
	size_t pending;  /* under the run's lock (see above) */
};

/* A later name of a hard link, waiting for its first name. */
typedef struct rwait {
	struct rwait *next;
	rdir *dir;
	const b3cas_tree_entry *e;
} rwait;

typedef enum rlink_state {
	LINK_PENDING, /* the first name is queued or being written */
	LINK_DONE,    /* complete: later names link to it */
	LINK_FAILED   /* not made: the restore is stopping */
} rlink_state;

/* A hard link's first name. */
typedef struct rlink {
	uint64_t link;
	char *rel;         /* its path from dest */
	rlink_state state; /* under the run's lock */
	rwait *waiters;    /* under the run's lock */
} rlink;

/* What the walk waits for (restore_run.c). */
typedef enum walk_wait {
	WAIT_NONE,
	WAIT_ROOM, /* the queue half empty */
	WAIT_DIRS, /* fewer folders open, or no job left to close one */
	WAIT_END   /* every job done */
} walk_wait;

/* A file written in parts, by several workers at once: the worker that
 * ends its last part finishes it (attributes, the length of a sparse
 * one, its hard link's later names), or removes it if a part failed. */
typedef struct rsplit {
	unsigned left; /* parts not done, under the run's lock */
	bool failed;   /* a part failed or was dropped, under the lock */
} rsplit;

/* A regular file to create and write, or a part of one. */
typedef struct rjob {
	rdir *dir;
	const b3cas_tree_entry *e; /* in dir->tree */
	rlink *first;              /* NULL, or the link it is the first of */
	rsplit *split;             /* NULL: the whole file */
	uint64_t off, len;         /* the bytes to write */
} rjob;

typedef struct restore_run {
	const b3cas__restore_ops *ops;
	void *ctx;
	int rootfd;
	bool root_user;
	uid_t new_uid; /* the owner of what the restore makes */
	gid_t new_gid;
	/* the workers, and what they share under lock */
	pthread_mutex_t lock;
	pthread_cond_t work; /* a job queued, or the queue closed */
	pthread_cond_t room; /* what the walk waits for has come */
	pthread_t *tids;
	unsigned nthreads;
	rjob *queue;
	size_t qcap, qhead, qlen;
	unsigned busy;       /* jobs being run */
	bool closing;        /* no job will be queued any more */
	walk_wait waiting;   /* what the walk waits for on room */
	size_t open_dirs;
	/* hard links' first names by number, open addressing (walk only) */
	rlink **links;
	size_t nlinks, lcap;
	/* the first failure: set under the lock, then stop */
	_Atomic bool stop;
	int rc;
	char msg[B3CAS__MESSAGE_MAX];
	/* progress: done by the workers (bytes as they are written, of the
	 * files written whole), found by the walk */
	_Atomic uint64_t files, bytes, whole_bytes;
	uint64_t files_total, bytes_total, dirs, others;
	bool walked;
	b3cas_tree_progress_fn progress;
	void *progress_ctx;
	uint64_t t0, last;
} restore_run;

/* restore_run.c */

/* Start params->threads workers (at least one must start). 0, or
 * B3CAS_ENOMEM. */
int b3cas__run_start(restore_run *r, const b3cas__restore_params *params);
/* Close the queue, wait for every job (calling progress meanwhile) and
 * join the workers. */
void b3cas__run_end(restore_run *r);
/* Free what the run holds (after b3cas__run_end, or a failed start). */
void b3cas__run_destroy(restore_run *r);
/* Record a failure (rc, and this thread's message) unless one is
 * already recorded; stop the run. Returns rc. */
int b3cas__run_fail(restore_run *r, int rc);
static inline bool b3cas__run_stopping(restore_run *r)
{
	return atomic_load_explicit(&r->stop, memory_order_relaxed);
}
/* Call progress if ~100 ms passed since the last call, or final (the
 * end of a restore that succeeded); the walk's thread only. A non-zero
 * answer stops the run (B3CAS_ECANCELED), unless final. */
void b3cas__run_tick(restore_run *r, bool final);
/* Queue file e of folder d (d holds it until it is done); waits while
 * the queue is full. 0, or the run's failure once it is stopping. */
int b3cas__run_queue(restore_run *r, rdir *d, const b3cas_tree_entry *e,
		     rlink *first);
/* Wait, before a folder is opened, while too many are open and jobs
 * are queued that will close some. */
void b3cas__run_wait_dirs(restore_run *r);
/* Count d as open, with one hold (the walk's), holding its parent. */
void b3cas__dir_opened(restore_run *r, rdir *d);
/* Drop one hold of d: the last finishes it, then drops its parent's. */
void b3cas__dir_release(restore_run *r, rdir *d);
/* Hard links: the first name numbered link (NULL: none yet); record a
 * first name (NULL after ENOMEM, with the message set); a later name e
 * of folder d: made now if the first is done, else when it is. */
rlink *b3cas__link_find(restore_run *r, uint64_t link);
rlink *b3cas__link_add(restore_run *r, uint64_t link, const char *rel);
int b3cas__link_later(restore_run *r, rlink *first, rdir *d,
		      const b3cas_tree_entry *e);

/* restore.c */

/* Write and close the file of job j (made empty by the walk),
 * attributes and all; count it. Run by worker number worker. 0 or a negative code (the file is
 * then removed). */
int b3cas__restore_write(restore_run *r, const rjob *j, unsigned worker);
/* Write part j of a file (made empty by the walk); the file stays open
 * to the other parts. 0 or a negative code. */
int b3cas__restore_write_part(restore_run *r, const rjob *j,
			      unsigned worker);
/* Every part of j's file is written: set its length (sparse files) and
 * attributes, and count it. 0 or a negative code (the file is then
 * removed). */
int b3cas__restore_finish(restore_run *r, const rjob *j);
/* Remove j's file, made empty by the walk, that no worker will write. */
void b3cas__restore_drop(const rjob *j);
/* Set d's own attributes (unless the run is stopping), close and free
 * it. */
void b3cas__restore_dir_done(restore_run *r, rdir *d);
/* Make e, in d, another name of the file at first_rel. */
int b3cas__restore_link(restore_run *r, const char *first_rel, rdir *d,
			const b3cas_tree_entry *e);

#endif
