/*
 * maint/recover_int.h - what the files of b3cas_recover share: the run
 * (options, report, the backup opened read-only) and the steps of each
 * phase (maint/recover.c describes the whole and its invariants).
 *
 * Private to src/maint/recover*.c. A run lives on b3cas_recover's stack
 * for one call; everything here runs on the calling thread.
 */
#ifndef B3CAS_MAINT_RECOVER_INT_H
#define B3CAS_MAINT_RECOVER_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "maint/integrity_int.h"

typedef struct recover_run {
	const char *root;
	const b3cas_recover_options *o;
	b3cas_recover_report *r;
	b3cas_store *backup; /* opened read-only, or NULL */
	b3cas__ticker ticker;
	int stop;            /* on_lost's non-zero value */
} recover_run;


/* ---- the run (recover.c) ---- */

/* Name an object known lost. */
int b3cas__recover_lost(recover_run *v, const b3cas_oid *id, const char *why);

/* ---- phase 1: the index folder (recover_index.c) ---- */

/*
 * The first change of a mend: copy the index folder aside (see
 * save_copy), then write the marker with action. An error before the
 * marker leaves the store unchanged.
 */
int b3cas__recover_begin(b3cas_layout *lay, const char *index,
			 b3cas_recover_report *r, b3cas_recover_action action);

/* Write the marker: what this recovery is doing, for a resumed run. */
int b3cas__recover_write_marker(b3cas_layout *lay,
				const b3cas_recover_report *r);

/* Move the index folder to integrity/recover/<name> (kept, not removed). */
int b3cas__recover_move_aside(b3cas_layout *lay, const char *name);

/*
 * Phase 1, under the store's LOCK. *rebuild tells whether phase 2 is
 * needed (the index was changed, or an earlier recovery was not
 * finished).
 */
int b3cas__recover_prepare_index(recover_run *v, b3cas_layout *lay,
				 bool *rebuild);

/* ---- an index that does not read back (recover_salvage.c) ---- */

/* Does every entry of the index folder read back? *damaged, with the
 * first error and the unreadable ranges in r. */
int b3cas__recover_check_reads(const char *index, bool *damaged,
			       b3cas_recover_report *r);

/*
 * The index opens but part of it does not read back: keep a copy, copy
 * what reads into a new index, move the damaged one aside and the new
 * one into its place. Until the marker goes, a resumed run finishes.
 */
int b3cas__recover_mend_damaged(recover_run *v, b3cas_layout *lay,
				const char *index);

/* A salvage cut short between moving the damaged index aside and moving
 * the new one in: move it in now (else a new index would be built and
 * the entries that still read would be left in the copy). */
void b3cas__recover_finish_salvage_move(b3cas_layout *lay, const char *index,
					const b3cas_recover_report *r);

/* ---- phase 2: filling the index in (recover_fill.c) ---- */

int b3cas__recover_from_backup(recover_run *v, b3cas_store *s);

/* Phase 2: open the store on its new or repaired index and fill it in;
 * the marker goes once all of it is durable. */
int b3cas__recover_fill_index(recover_run *v);

/* ---- writes a damaged log dropped (recover_wal.c) ---- */

/*
 * Each damaged log kept in integrity/recover/ (wal.<ns>.<n>.log, by the
 * store's open or by this recovery): bring back what its dropped writes
 * stored, then rename it *.done so it is reported and replayed once.
 */
int b3cas__recover_replay_logs(recover_run *v);

#endif
