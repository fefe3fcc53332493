/*
 * maint/fsck_int.h - what the files of fsck and scrub share: the run (its
 * workers, counters, first error, suspects) and the steps each file
 * offers the driver (maint/fsck.c, which states the invariants of the
 * whole check and its threads).
 *
 * Private to src/maint/fsck*.c and scrub.c. A run lives on the calling
 * thread's stack from b3cas__fsck_run_init to b3cas__fsck_run_destroy;
 * each worker touches only its own report and buffer, and the run
 * through its atomics and locks.
 */
#ifndef B3CAS_MAINT_FSCK_INT_H
#define B3CAS_MAINT_FSCK_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "b3cas/integrity.h"
#include "maint/integrity_int.h"
#include "store/store_int.h"
#include "util/error.h"


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
	char detail[256];
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


typedef void (*key_fn)(fsck_worker *w, const char *key, size_t klen);
typedef void (*file_fn)(fsck_worker *w, int sub_fd, unsigned sub,
			const char *name);

/* ---- the run and its workers (fsck.c) ---- */

bool b3cas__fsck_halted(fsck_run *f);

/* Keep the first error (rc, with this thread's message) and halt all. */
void b3cas__fsck_fail(fsck_run *f, int rc);

/* Count a finding and hand it to the caller. */
void b3cas__fsck_found(fsck_worker *w, b3cas_fsck_problem *p);

/* Does the open file fd hold exactly size bytes that hash to id? When
 * it cannot tell, it does not accuse the file. */
bool b3cas__fsck_file_sound(fsck_worker *w, int fd, const b3cas_oid *id,
			    uint64_t size, uint64_t *hashed);

/* dir/rel in a new string (NULL without memory: the finding is still
 * reported, without its path). */
char *b3cas__fsck_full_path(const char *dir, const char *rel);

/* The full path of id's loose file. */
char *b3cas__fsck_object_path(b3cas_store *s, const b3cas_oid *id);

/* Call progress with the shared counters (final: done is the total). */
void b3cas__fsck_report_progress(fsck_run *f, uint64_t t0, uint64_t total,
				 bool final);

/* Set f up; with copies, find the L2 folder to check. */
void b3cas__fsck_run_init(fsck_run *f, b3cas_store *s,
			  const b3cas_fsck_options *o,
			  bool copies);

void b3cas__fsck_run_destroy(fsck_run *f);

/* n workers with their buffers, or NULL without memory. */
fsck_worker *b3cas__fsck_workers_new(fsck_run *f, unsigned n);

void b3cas__fsck_workers_free(fsck_worker *ws, unsigned n);

/*
 * Check the store's mirror (so that a mirror that cannot be used is an
 * error, not a reason to call objects lost), then set f up with n workers
 * in *ws_out; with copies the run checks L2 copies too (fsck; scrub does
 * not). 0, or an error with nothing left to free.
 */
int b3cas__fsck_start(fsck_run *f, fsck_worker **ws_out, b3cas_store *s,
		      const b3cas_fsck_options *o, bool copies, unsigned n);

/* ---- the index walks (fsck_index.c) ---- */

/* One key of the content column family. */
void b3cas__fsck_check_entry(fsck_worker *w, const char *key, size_t klen);

/* The logs in folder rel of the store whose names end in .log (and, for
 * kept copies, start with "wal."). */
void b3cas__fsck_check_logs(fsck_worker *w, const char *rel, bool kept);

/* If err (RocksDB's) says part of the index cannot be read (a checksum
 * or format failure, not an I/O error of the moment), note it for the
 * one "index" finding and say true; the walk goes on past it. */
bool b3cas__fsck_index_damage(fsck_run *f, const char *err);

/* After a phase: the one finding for the index damage it met, if any. */
void b3cas__fsck_report_index_damage(fsck_run *f, fsck_worker *w);

/*
 * Take ranges of column family cf until none is left, calling visit for
 * each key. Range r holds the keys from r * RANGE_SPAN (as two bytes)
 * up to the next range's start; the first also holds the keys that sort
 * before "\0\0" ("", "\0") and the last everything to the end, so every
 * key, an id or not, is in exactly one range.
 */
void b3cas__fsck_walk_ranges(fsck_worker *w, int cf, key_fn visit);

/* One key of the refs column family: a count with no object? */
void b3cas__fsck_check_ref(fsck_worker *w, const char *key, size_t klen);

/* ---- the tier's files (fsck_files.c) ---- */

/* Take sub-folders 00..ff of dir_fd (the folder base, for messages)
 * until none is left, calling visit for each name in them but "."
 * names. */
void b3cas__fsck_walk_folders(fsck_worker *w, int dir_fd, const char *base,
			      file_fn visit);

void b3cas__fsck_check_file(fsck_worker *w, int sub_fd, unsigned sub,
			    const char *name);

/* Everything in the tier's top folder but its sub-folders (and its
 * staging folder when the tier is elsewhere) is a stray: a file or a
 * folder the store never made there. */
void b3cas__fsck_check_top(fsck_worker *w);

/* Staging files left over in tmp/ (or the tier's tmp/): reported; with
 * repair removed (they were never objects). Other names there are not
 * the store's and are left alone. */
void b3cas__fsck_check_staging(fsck_worker *w);

/* ---- chunks' held counts (fsck_held.c) ---- */

/* In a chunking store: every chunk's held count against the manifests'
 * segments (b3cas__store_check_held), each finding reported through w
 * and, with repair, mended. On the calling thread, after both walks of
 * the index. 0 (also when stopped, or when part of the index cannot be
 * read: noted for the one "index" finding), or an error. */
int b3cas__fsck_check_held(fsck_worker *w);

/* In a packed store: keys of the data family that no entry names, each
 * an orphan finding (with repair, deleted). As b3cas__fsck_check_held. */
int b3cas__fsck_check_packed(fsck_worker *w);

/* ---- names, leases and links (fsck_roots.c) ---- */

/* Every name, lease reference and links top names an object that is
 * there; each one that does not is a B3CAS_FSCK_ROOT finding (never
 * repaired). On the calling thread. 0 (also when stopped) or an
 * error. */
int b3cas__fsck_check_roots(fsck_worker *w);

/* ---- the git mapping (fsck_gitmap.c) ---- */

/* Every git mapping sound, each mapped object re-hashed with git's hash
 * (B3CAS_FSCK_GIT_MAP findings; with repair, mended as integrity.h
 * says). On the calling thread. 0 (also when stopped) or an error. */
int b3cas__fsck_check_gitmap(fsck_worker *w);

/* fsck_pool.c: a RADOS store's pool, every object of its namespace, this
 * host's count of each against its index (B3CAS_FSCK_TIER_COUNT); on
 * the calling thread after the reference counts' phase, writable handles
 * only. 0, or a code (a stop by a callback is left in the run). */
int b3cas__fsck_check_pool(fsck_worker *w);

/* ---- L2 copies (fsck_l2.c) ---- */

void b3cas__fsck_check_copy(fsck_worker *w, int sub_fd, unsigned sub,
			    const char *name);

/* ---- a read-only handle's suspects (fsck_suspects.c) ---- */

void b3cas__fsck_drop_suspects(fsck_run *f);

/* Keep p to be judged again; rel (orphans and copies) names its file
 * under the tier's or the L2 cache's folder. */
void b3cas__fsck_note_suspect(fsck_worker *w, const b3cas_fsck_problem *p,
			      uint64_t size, const char *rel);

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
int b3cas__fsck_confirm_suspects(fsck_run *f, fsck_worker *w);

#endif
