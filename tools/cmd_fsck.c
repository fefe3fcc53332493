/*
 * cmd_fsck.c - `b3cas fsck`: check every object of the store against its
 * id, the index against the object files and the L2 cache copies against
 * their ids; with --repair, mend what can be mended and name exactly what
 * is lost. Its problem lines are scrub's too (cli_report_problem).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "cli.h"

typedef struct fsck_args {
	bool repair;
	const char *mirror;
	uint64_t threads;
	cli_report report; /* --json */
} fsck_args;

static const cli_opt fsck_opts[] = {
	CLI_FLAG("repair", 0, fsck_args, repair,
		 "move corrupt files to integrity/quarantine/ (never deleted), "
		 "heal objects from the mirror, index sound object files the "
		 "index lost, and report each object that is lost (no good "
		 "copy anywhere: its entry is removed); set chunks' held "
		 "counts to the manifests' number; delete bad L2 copies"),
	CLI_VALUE("mirror", 0, "DIR", fsck_args, mirror, NULL,
		  "another b3cas store (a backup or mirror) to heal from"),
	CLI_NUMBER("threads", 0, "N", fsck_args, threads, 0, 256,
		  "check on N threads (default 0: one per CPU; at most 256)"),
	CLI_FLAG("json", 0, fsck_args, report.json,
		 "JSON lines: each problem, then the summary"),
	CLI_END,
};

const cli_spec cmd_fsck_spec = {
	.name = "fsck",
	.summary = "check every object and the index; --repair mends",
	.about = "Re-hash every object (inline and loose), compare the index "
		 "with the files\nof the object folder, look for leftover "
		 "files and reference counts\nwithout an object, check the "
		 "chunks' held counts against the manifests\n(chunking "
		 "stores), and re-hash the copies in the L2 cache "
		 "(cache/l2/).\nWithout --repair nothing is changed.\n",
	.exits = "Exit codes: 0 the store is sound (or, with --repair, was "
		 "fully repaired),\n1 problems found (with --repair: objects "
		 "were lost, or the index is\ndamaged: run 'b3cas recover'), 2 "
		 "usage error (also: a --mirror inside the\nstore), 3 store "
		 "error (could not run; also: a --mirror that is missing, not\n"
		 "a store, or of another hash - checked before anything is "
		 "changed).\n",
	.opts = fsck_opts,
	.store = true,
};

static void print_summary(const b3cas_fsck_report *r, bool repair,
			  bool json)
{
	if (json) {
		printf("{\"objects\":%" PRIu64 ",\"files\":%" PRIu64
		       ",\"bytes\":%" PRIu64 ",\"problems\":%" PRIu64
		       ",\"corrupt\":%" PRIu64 ",\"missing\":%" PRIu64
		       ",\"wrong_size\":%" PRIu64 ",\"orphans\":%" PRIu64
		       ",\"strays\":%" PRIu64 ",\"malformed\":%" PRIu64
		       ",\"dangling_refs\":%" PRIu64 ",\"repair\":%s"
		       ",\"quarantined\":%" PRIu64 ",\"healed\":%" PRIu64
		       ",\"reindexed\":%" PRIu64 ",\"removed\":%" PRIu64
		       ",\"lost\":%" PRIu64 ",\"cache_files\":%" PRIu64
		       ",\"cache_copies\":%" PRIu64 ",\"index_damage\":%" PRIu64
		       ",\"staging\":%" PRIu64 ",\"held_counts\":%" PRIu64
		       ",\"held_mended\":%" PRIu64 ",\"node_counts\":%" PRIu64
		       ",\"node_mended\":%" PRIu64 ",\"roots\":%" PRIu64
		       ",\"git_maps\":%" PRIu64 ",\"git_mended\":%" PRIu64
		       ",\"tier_objects\":%" PRIu64 ",\"tier_counts\":%" PRIu64
		       ",\"tier_mended\":%" PRIu64 ",\"seconds\":%.6f}\n",
		       r->objects, r->files, r->bytes, r->problems,
		       r->corrupt, r->missing, r->wrong_size, r->orphans,
		       r->strays, r->malformed, r->dangling_refs,
		       repair ? "true" : "false", r->quarantined, r->healed,
		       r->reindexed, r->removed, r->lost, r->cache_files,
		       r->cache_copies, r->index_damage, r->staging,
		       r->held_counts, r->held_mended, r->node_counts,
		       r->node_mended, r->roots, r->git_maps, r->git_mended,
		       r->tier_objects, r->tier_counts, r->tier_mended,
		       r->seconds);
		return;
	}
	printf("fsck: %" PRIu64 " objects%s%" PRIu64 " files", r->objects,
	       r->cache_files ? ", " : " and ", r->files);
	if (r->cache_files)
		printf(" and %" PRIu64 " L2 cache copies", r->cache_files);
	printf(" checked, %" PRIu64 " bytes hashed in %.3f s (%.0f MB/s): %"
	       PRIu64 " problem%s\n",
	       r->bytes, r->seconds,
	       r->seconds > 0 ? (double)r->bytes / r->seconds / 1e6 : 0.0,
	       r->problems, r->problems == 1 ? "" : "s");
	if (r->index_damage)
		printf("fsck: the index is damaged (fsck cannot mend that): run "
		       "'b3cas recover --from BACKUP'\n(or 'b3cas recover' "
		       "without a backup), which keeps every entry that still "
		       "reads\nand names what is lost\n");
	if (r->problems > r->index_damage && !repair)
		printf("fsck: nothing was changed; run 'b3cas fsck --repair' "
		       "(with --mirror DIR if you have a backup) to mend "
		       "them\n");
	if (repair && r->problems)
		printf("fsck: repaired: %" PRIu64 " quarantined, %" PRIu64
		       " healed from the mirror, %" PRIu64 " re-indexed, %"
		       PRIu64 " entries removed; %" PRIu64 " object%s "
		       "lost\n",
		       r->quarantined, r->healed, r->reindexed, r->removed,
		       r->lost, r->lost == 1 ? "" : "s");
	if (repair && r->held_counts)
		printf("fsck: %" PRIu64 " of %" PRIu64 " chunks' held counts "
		       "mended (set to the manifests' number; no count "
		       "lowered, nothing freed)\n",
		       r->held_mended, r->held_counts);
	if (repair && r->node_counts)
		printf("fsck: %" PRIu64 " of %" PRIu64 " manifest nodes' "
		       "counts mended (set to the references that name them)\n",
		       r->node_mended, r->node_counts);
	if (repair && r->git_maps)
		printf("fsck: %" PRIu64 " of %" PRIu64 " git mappings mended "
		       "(wrong ones removed, their objects kept; missing "
		       "reverse keys written)\n",
		       r->git_mended, r->git_maps);
	if (r->tier_objects)
		printf("fsck: %" PRIu64 " objects in the RADOS pool looked "
		       "at (every host's), %" PRIu64 " with this host's count "
		       "wrong\n", r->tier_objects, r->tier_counts);
	if (repair && r->tier_counts)
		printf("fsck: %" PRIu64 " of %" PRIu64 " of this host's counts "
		       "in the RADOS pool set to what its index holds\n",
		       r->tier_mended, r->tier_counts);
	if (repair && r->cache_copies)
		printf("fsck: %" PRIu64 " bad L2 cache cop%s deleted (only a "
		       "cache: nothing lost)\n",
		       r->cache_copies, r->cache_copies == 1 ? "y" : "ies");
}

/*
 * For --repair: open the L2 cache when the store has one, so that bad
 * copies are deleted through it (its index and folder keep agreeing).
 * Its capacity is not recorded anywhere; opening L2 with a smaller one
 * than its copies fill would evict some, so take one that trims nothing.
 */
static void use_l2_if_any(cli_ctx *ctx, b3cas_store_options *so)
{
	const char *dir = cli_store_dir(ctx, NULL);
	int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;

	if (fd >= 0 && faccessat(fd, "cache/l2", F_OK, 0) == 0)
		so->l2_bytes = UINT64_MAX / 4;
	if (fd >= 0)
		close(fd);
}

int cmd_fsck(cli_ctx *ctx, int argc, char **argv)
{
	b3cas_store_options so = B3CAS_STORE_OPTIONS_INIT;
	b3cas_fsck_options o = B3CAS_FSCK_OPTIONS_INIT;
	b3cas_fsck_report r;
	fsck_args a = {false, NULL, 0, {"fsck", false, false}};
	b3cas_store *store;
	cli_args pos;
	int rc, err;

	if (!cli_opt_parse(&rc, &pos, &cmd_fsck_spec, &a, argc, argv))
		return rc;
	o.repair = a.repair;
	o.threads = (unsigned)a.threads;
	so.mirror_dir = a.mirror;
	o.on_problem = cli_report_problem;
	o.ctx = &a.report;
	o.progress = cli_report_progress;
	so.read_only = !o.repair; /* a check works beside a writer */
	so.l1_bytes = 0;
	if (o.repair)
		use_l2_if_any(ctx, &so);
	rc = cli_open_store(&store, ctx, &so);
	if (rc != CLI_OK)
		return rc;
	memset(&r, 0, sizeof(r));
	err = b3cas_fsck(store, &o, &r);
	if (err < 0) {
		cli_error("fsck could not run: %s", b3cas_error_last());
		rc = cli_exit_code(err, false);
	} else {
		print_summary(&r, o.repair, a.report.json);
		rc = cli_fsck_exit(&r, o.repair);
	}
	rc = cli_close_store(store, rc);
	return cli_finish_stdout(rc);
}
