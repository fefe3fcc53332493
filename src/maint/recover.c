/*
 * maint/recover.c - b3cas_recover: bring back a lost or damaged index
 * from what is left: RocksDB's own repair, the object files, a backup.
 *
 * Two phases. The first holds the store's LOCK through the layout alone
 * (the store cannot be opened yet): it decides whether the index opens,
 * and if not copies it aside, lets RocksDB repair it and, failing that,
 * moves it aside and makes a new one with the store's own index open (so
 * the column families and options are the store's). The second opens the
 * store, now with an index, and fills it in: object files the index lacks
 * are hashed and indexed (or quarantined), then the backup's objects the
 * store has no trace of are copied in through the restore walk.
 *
 * An index that opens is read back in full with its checksums verified
 * (index/salvage.c); if part of it cannot be read, what reads is copied
 * into a new index (action SALVAGED) and phase 2 fills in the rest. A
 * damaged log of the index is copied aside before RocksDB's replay drops
 * its tail (by this recovery or by any writing open); the last step reads
 * each such copy and brings back the objects its dropped writes stored.
 *
 * Invariants: nothing of the user's is deleted - a damaged index is
 * copied (before RocksDB's repair touches it) or moved, never removed,
 * and a file whose bytes do not match its name goes to quarantine; no
 * entry is changed that already exists (adopt only adds); and from the
 * first change to the index until the filled-in index is durable,
 * B3CAS_RECOVER_MARKER exists, so an interrupted recovery is never taken
 * for a complete store (b3cas_store_open refuses it) and running the
 * recovery again finishes it.
 */
#include "maint/recover_int.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/error.h"
#include "util/histogram.h"

const char *b3cas_recover_action_name(b3cas_recover_action a)
{
	switch (a) {
	case B3CAS_RECOVER_NOTHING: return "nothing";
	case B3CAS_RECOVER_REPAIRED: return "repaired";
	case B3CAS_RECOVER_REBUILT: return "rebuilt";
	case B3CAS_RECOVER_SALVAGED: return "salvaged";
	default: return "unknown";
	}
}

int b3cas__recover_lost(recover_run *v, const b3cas_oid *id, const char *why)
{
	v->r->lost++;
	if (v->o->on_lost && !v->stop)
		v->stop = v->o->on_lost(id, why, v->o->ctx);
	return v->stop;
}

/* ---- the whole ---------------------------------------------------------- */

static int open_backup(recover_run *v, b3cas_hash_algo hash)
{
	b3cas_store_options so = B3CAS_STORE_OPTIONS_INIT;
	int rc;

	so.read_only = true;
	so.hash = hash;
	so.l1_bytes = 0;
	so.verify_on_read = true;
	rc = b3cas_store_open(&v->backup, v->o->backup_dir, &so);
	if (rc < 0)
		return b3cas__error_because(rc, "cannot open the backup %s",
					    v->o->backup_dir);
	return 0;
}

static void log_run(recover_run *v, int rc)
{
	const b3cas_recover_report *r = v->r;
	int fd = open(v->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return;
	b3cas__integrity_log(fd, B3CAS_RECOVER_DIR "/log",
			     "action=%s resumed=%d saved=%s tables_lost=%"
			     PRIu64 " files=%" PRIu64 " reindexed=%" PRIu64
			     " quarantined=%" PRIu64 " restored=%" PRIu64
			     " lost=%" PRIu64 " backup=%s seconds=%.3f "
			     "result=%d",
			     b3cas_recover_action_name(r->action), r->resumed,
			     r->saved_index[0] ? r->saved_index : "-",
			     r->tables_lost, r->files, r->reindexed,
			     r->quarantined, r->restored, r->lost,
			     v->o->backup_dir ? v->o->backup_dir : "-",
			     r->seconds, rc);
	close(fd);
}

int b3cas_recover(const char *root_dir, const b3cas_recover_options *opts,
		  b3cas_recover_report *report)
{
	b3cas_recover_options defaults = B3CAS_RECOVER_OPTIONS_INIT;
	b3cas_store_options so = B3CAS_STORE_OPTIONS_INIT;
	b3cas_recover_report local;
	uint64_t t0 = b3cas__now_ns();
	b3cas_layout lay;
	recover_run v;
	bool rebuild = false;
	int rc;

	B3CAS__NONNULL(root_dir, "root_dir");
	memset(&v, 0, sizeof(v));
	v.r = report ? report : &local;
	memset(v.r, 0, sizeof(*v.r));
	if (!opts)
		opts = &defaults;
	if (b3cas__check_version(opts->version, 1,
				 B3CAS_RECOVER_OPTIONS_VERSION, "recover") < 0)
		return B3CAS_EINVAL;
	if (!root_dir || !*root_dir)
		return b3cas__error(B3CAS_EINVAL, "no store folder given");
	v.root = root_dir;
	v.o = opts;
	/* The layout alone: b3cas.conf read and checked, the LOCK held, the
	 * index not opened. */
	rc = b3cas__layout_open(&lay, root_dir, &so);
	if (rc < 0)
		return rc;
	if (opts->backup_dir) {
		rc = open_backup(&v, lay.hash);
		v.r->from_backup = rc == 0;
	}
	if (rc == 0)
		rc = b3cas__recover_prepare_index(&v, &lay, &rebuild);
	/* The LOCK goes here and is taken again by the store's open. */
	b3cas__layout_close(&lay);
	if (rc == 0 && rebuild)
		rc = b3cas__recover_fill_index(&v);
	/* Writes a damaged log dropped, found now or by an earlier open. */
	if (rc == 0)
		rc = b3cas__recover_replay_logs(&v);
	v.r->index_entries_lost =
		v.r->action == B3CAS_RECOVER_REBUILT ||
		(v.r->action == B3CAS_RECOVER_REPAIRED && v.r->tables_lost) ||
		(v.r->action == B3CAS_RECOVER_SALVAGED &&
		 v.r->ranges_unreadable);
	if (v.backup) {
		char msg[1024];

		/* Closing must not lose the message of a failure. */
		snprintf(msg, sizeof(msg), "%s", b3cas_error_last());
		b3cas_store_close(v.backup);
		if (rc < 0)
			b3cas__error(rc, "%s", msg);
	}
	v.r->seconds = (double)(b3cas__now_ns() - t0) * 1e-9;
	if (rebuild || rc < 0 || v.r->wal_damaged)
		log_run(&v, rc);
	return rc;
}
