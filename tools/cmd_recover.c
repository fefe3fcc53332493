/*
 * cmd_recover.c - `b3cas recover [--from BACKUP]`: bring back a lost or
 * damaged index, saying exactly what was rebuilt, from where, and what is
 * lost. It works on a store that does not open, so it takes the folder.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "b3cas/b3cas.h"
#include "cli.h"

typedef struct recover_args {
	const char *from;
	bool json;
} recover_args;

static const cli_opt recover_opts[] = {
	CLI_VALUE("from", 0, "BACKUP", recover_args, from, cli_opt_folder,
		  "a b3cas store (e.g. made by 'b3cas backup') to take missing "
		  "objects and reference counts from"),
	CLI_FLAG("json", 0, recover_args, json,
		 "JSON lines: each lost object, then the summary"),
	CLI_END,
};

const cli_spec cmd_recover_spec = {
	.name = "recover",
	.summary = "rebuild a lost or damaged index",
	.about = "Bring back the index of a store that lost it or whose index "
		 "RocksDB cannot\nopen or read. Every entry is read back with "
		 "its checksums verified; if all\nread, nothing is changed "
		 "(run 'b3cas fsck' to check the objects). If the index\n"
		 "opens but part of it cannot be read, it is copied aside, what "
		 "still reads is\nkept in a new index and the unreadable key "
		 "ranges are named. Otherwise the "
		 "index folder is first copied to\n"
		 "integrity/recover/index.<ns> (nothing is ever deleted), then "
		 "repaired by\nRocksDB; if it still does not open, or there is "
		 "none, a new one is built.\nEither way every object file the "
		 "index lacks is hashed and indexed (with the\ncount a repaired "
		 "index kept, the backup's count, or one reference), and a\n"
		 "file whose bytes do not match its name goes to "
		 "integrity/quarantine/. With\n--from, every object of BACKUP "
		 "that the store has no trace of is copied in\n(objects kept "
		 "inside the index come back only this way). Objects known "
		 "lost\nare named. An interrupted recovery is finished by "
		 "running it again; until\nthen the store refuses to open. A "
		 "store that another process has open for\nwriting is refused "
		 "(exit 3, naming that process) before anything is\nchanged: "
		 "an index in use is not damaged. With --wait, recover waits "
		 "for it.\n",
	.exits = "Exit codes: 0 recovered, nothing lost (or nothing to do), 1 "
		 "recovered but\nobjects lost (named, or inline objects gone "
		 "without a backup), 2 usage\nerror, 3 could not recover (not "
		 "a store, locked, disk full, ...).\n",
	.opts = recover_opts,
	.store = true,
};

static int print_lost(const b3cas_oid *id, const char *why, void *ctx)
{
	const cli_report *p = ctx;
	char hex[B3CAS_OID_HEX_LEN + 1];

	cli_progress_clear();
	b3cas_oid_fmt(hex, id);
	if (p->json) {
		printf("{\"lost\":\"%s\",\"why\":", hex);
		cli_json_string(stdout, why);
		puts("}");
	} else {
		printf("lost %s  %s\n", hex, why);
	}
	return 0;
}

static void json_text_or_null(const char *s)
{
	if (s && *s)
		cli_json_string(stdout, s);
	else
		fputs("null", stdout);
}

static void print_json(const b3cas_recover_report *r, const char *dir,
		       const char *backup)
{
	printf("{\"store\":");
	cli_json_string(stdout, dir);
	printf(",\"action\":\"%s\",\"resumed\":%s,\"index_missing\":%s"
	       ",\"index_error\":",
	       b3cas_recover_action_name(r->action),
	       r->resumed ? "true" : "false",
	       r->index_missing ? "true" : "false");
	json_text_or_null(r->index_error);
	fputs(",\"saved_index\":", stdout);
	json_text_or_null(r->saved_index);
	printf(",\"tables_lost\":%" PRIu64 ",\"entries_kept\":%" PRIu64
	       ",\"files\":%" PRIu64 ",\"bytes\":%" PRIu64
	       ",\"reindexed\":%" PRIu64 ",\"counts_kept\":%" PRIu64
	       ",\"counts_from_backup\":%" PRIu64
	       ",\"quarantined\":%" PRIu64 ",\"skipped\":%" PRIu64
	       ",\"restored\":%" PRIu64 ",\"restored_bytes\":%" PRIu64
	       ",\"lost\":%" PRIu64 ",\"index_entries_lost\":%s,\"backup\":",
	       r->tables_lost, r->entries_kept, r->files, r->bytes,
	       r->reindexed, r->counts_kept, r->counts_from_backup,
	       r->quarantined, r->skipped, r->restored, r->restored_bytes,
	       r->lost,
	       r->index_entries_lost ? "true" : "false");
	json_text_or_null(backup);
	printf(",\"index_damaged\":%s,\"ranges_unreadable\":%" PRIu64
	       ",\"unreadable\":", r->index_damaged ? "true" : "false",
	       r->ranges_unreadable);
	json_text_or_null(r->unreadable);
	printf(",\"wal_damaged\":%" PRIu64 ",\"wal_after\":%" PRIu64
	       ",\"wal_dropped\":%" PRIu64 ",\"wal_restored\":%" PRIu64
	       ",\"wal_unreadable\":%" PRIu64,
	       r->wal_damaged, r->wal_after, r->wal_dropped, r->wal_restored,
	       r->wal_unreadable);
	printf(",\"seconds\":%.6f}\n", r->seconds);
}

/* What happened to the index, in words. */
static void print_index(const b3cas_recover_report *r, const char *dir)
{
	if (r->resumed)
		printf("recover: finishing an interrupted recovery\n");
	if (r->index_missing)
		printf("recover: %s had no index\n", dir);
	else if (r->index_damaged)
		printf("recover: the index opens but part of it cannot be "
		       "read: %s\n", r->index_error);
	else if (r->index_error[0])
		printf("recover: RocksDB could not open the index: %s\n",
		       r->index_error);
	if (r->saved_index[0])
		printf("recover: the old index is kept in %s/%s\n", dir,
		       r->saved_index);
	if (r->action == B3CAS_RECOVER_SALVAGED) {
		printf("recover: %" PRIu64 " entries that still read were kept "
		       "in a new index (the damaged one\nis kept in %s/%s."
		       "damaged)\n", r->entries_kept, dir, r->saved_index);
		if (r->ranges_unreadable)
			printf("recover: %" PRIu64 " key range%s could not be "
			       "read (hex key prefixes): %s\nrecover: an "
			       "object whose id starts so is lost unless its "
			       "file or the backup\nbrought it back (checked "
			       "below)\n", r->ranges_unreadable,
			       r->ranges_unreadable == 1 ? "" : "s",
			       r->unreadable);
	} else if (r->action == B3CAS_RECOVER_REPAIRED) {
		printf("recover: RocksDB's repair made the index open again; "
		       "it kept %" PRIu64 " entries\n",
		       r->entries_kept);
		if (r->tables_lost)
			printf("recover: the repair set aside %" PRIu64
			       " damaged table file%s (index/lost/): the "
			       "entries in %s are gone\n",
			       r->tables_lost, r->tables_lost == 1 ? "" : "s",
			       r->tables_lost == 1 ? "it" : "them");
	} else if (r->index_error[0]) {
		printf("recover: RocksDB's repair did not make it open "
		       "(what it left is kept in %s/%s.after-repair); a new "
		       "index was built\n",
		       dir, r->saved_index);
	} else {
		printf("recover: a new index was built\n");
	}
}

static void print_text(const b3cas_recover_report *r, const char *dir,
		       const char *backup)
{
	if (r->wal_damaged)
		printf("recover: %" PRIu64 " damaged log%s of the index: "
		       "RocksDB dropped %" PRIu64 " write%s after the damage, "
		       "with %" PRIu64 " object entr%s; %" PRIu64 " brought "
		       "back from the log (the others are back from their "
		       "files or the backup, or named lost)\n",
		       r->wal_damaged, r->wal_damaged == 1 ? "" : "s",
		       r->wal_after, r->wal_after == 1 ? "" : "s",
		       r->wal_dropped, r->wal_dropped == 1 ? "y" : "ies",
		       r->wal_restored);
	if (r->wal_unreadable)
		printf("recover: %" PRIu64 " piece%s of the log%s failed "
		       "%s checksum: the writes in %s cannot be read back nor "
		       "named (objects with files come back from them; with "
		       "a backup: b3cas restore BACKUP)\n",
		       r->wal_unreadable, r->wal_unreadable == 1 ? "" : "s",
		       r->wal_damaged == 1 ? "" : "s",
		       r->wal_unreadable == 1 ? "its" : "their",
		       r->wal_unreadable == 1 ? "it" : "them");
	if (r->action == B3CAS_RECOVER_NOTHING && r->wal_damaged) {
		printf("recover: %" PRIu64 " object%s known lost; done in "
		       "%.3f s. Run 'b3cas fsck' to check the store.\n",
		       r->lost, r->lost == 1 ? "" : "s", r->seconds);
		return;
	}
	if (r->action == B3CAS_RECOVER_NOTHING) {
		printf("recover: the index of %s opens: nothing to rebuild. "
		       "Run 'b3cas fsck' to check\nthe objects ('b3cas "
		       "fsck --repair' mends; 'b3cas restore BACKUP' brings "
		       "back\ndamaged ones).\n", dir);
		return;
	}
	print_index(r, dir);
	printf("recover: %" PRIu64 " files in the object folder: %" PRIu64
	       " indexed again (%" PRIu64 " with the count the index "
	       "kept, %" PRIu64 " with the backup's, %" PRIu64 " with one "
	       "reference), %" PRIu64 " quarantined (bytes do not match "
	       "the name), %" PRIu64 " left in place (not objects)\n",
	       r->files, r->reindexed, r->counts_kept, r->counts_from_backup,
	       r->reindexed - r->counts_kept - r->counts_from_backup,
	       r->quarantined, r->skipped);
	if (backup)
		printf("recover: %" PRIu64 " objects (%" PRIu64 " bytes) "
		       "copied in from %s\n",
		       r->restored, r->restored_bytes, backup);
	if (r->index_entries_lost && !backup)
		printf("recover: LOST: objects kept inside the index (the "
		       "small, inline ones) cannot\ncome back without a "
		       "backup and cannot be named; the objects indexed "
		       "again with one reference\nmay have had more. With a "
		       "backup: b3cas restore BACKUP\n");
	else if (r->index_entries_lost)
		printf("recover: objects kept inside the index come back "
		       "only from the backup: any\nstored after the backup "
		       "was made are lost and cannot be named\n");
	printf("recover: %" PRIu64 " object%s known lost; done in %.3f s. "
	       "Run 'b3cas fsck' to check the store.\n",
	       r->lost, r->lost == 1 ? "" : "s", r->seconds);
}

typedef struct recover_call {
	const char *dir;
	const b3cas_recover_options *o;
	b3cas_recover_report *r;
} recover_call;

static int run_recover(void *arg)
{
	recover_call *c = arg;

	return b3cas_recover(c->dir, c->o, c->r);
}

int cmd_recover(cli_ctx *ctx, int argc, char **argv)
{
	b3cas_recover_options o = B3CAS_RECOVER_OPTIONS_INIT;
	b3cas_recover_report r;
	cli_report p = {"recover", false, false};
	const char *dir;
	recover_args a = {NULL, false};
	cli_args pos;
	int rc = CLI_OK, err;

	if (!cli_opt_parse(&rc, &pos, &cmd_recover_spec, &a, argc, argv))
		return rc;
	o.backup_dir = a.from;
	p.json = a.json;
	dir = cli_store_dir(ctx, NULL);
	if (!dir)
		return cli_no_store_dir(ctx);
	o.on_lost = print_lost;
	o.ctx = &p;
	o.progress = cli_report_progress;
	memset(&r, 0, sizeof(r));
	/* It refuses a store in use before changing anything (and a
	 * recovery cut short is finished by the next): --wait retries. */
	err = cli_retry_locked(ctx, run_recover,
			       &(recover_call){dir, &o, &r});
	cli_progress_clear();
	if (err < 0) {
		cli_error("cannot recover %s: %s", dir, b3cas_error_last());
		if (r.action != B3CAS_RECOVER_NOTHING)
			cli_error("the recovery was interrupted; run 'b3cas "
				  "recover' again to finish it");
		return cli_exit_code(err, false);
	}
	if (p.json)
		print_json(&r, dir, o.backup_dir);
	else
		print_text(&r, dir, o.backup_dir);
	if (r.lost || (r.index_entries_lost && !o.backup_dir) ||
	    (r.wal_unreadable && !o.backup_dir))
		rc = CLI_NEGATIVE;
	return cli_finish_stdout(rc);
}
