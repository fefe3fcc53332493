/*
 * cmd_checkpoint.c - `b3cas checkpoint create|list|show|restore|diff|rm|
 * fork|prune` (docs/cli.md, docs/trees.md "Checkpoints").
 *
 * A checkpoint is named on the command line by its record's id (64 hex
 * digits), by SANDBOX (its latest) or by SANDBOX@TIME (the last at or
 * before TIME: 2026-12-05T14:05[:SS[.frac]][Z], UTC, or seconds since
 * 1970).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "cli.h"

#define MAX_ITEMS 256

typedef struct kv_list {
	const char *v[MAX_ITEMS];
	int n;
} kv_list;

typedef struct ckpt_args {
	const char *tree;
	kv_list blobs, labels;
	const char *time;
	const char *blobs_dir;
	bool quiet, json, dry_run, no_cache, no_delta;
	bool sparse; /* restore: blobs' zero blocks left as holes */
	uint64_t last, hourly, daily, weekly;
	const char *within;
	uint64_t offset, length;
	uint64_t threads; /* restore: 0 = one per CPU */
} ckpt_args;

/* --blob and --label: repeated NAME=VALUE, gathered. */
static int add_kv(void *field, const char *value, const cli_opt *opt,
		  const char *cmd)
{
	kv_list *l = field;
	const char *eq = strchr(value, '=');

	if (!eq || eq == value)
		return cli_usage_error(cmd, "--%s wants NAME=VALUE, not '%s'",
				       opt->name, value);
	if (l->n == MAX_ITEMS)
		return cli_usage_error(cmd, "at most %d --%s options",
				       MAX_ITEMS, opt->name);
	l->v[l->n++] = value;
	return 0;
}

/* ---- times and references to checkpoints ------------------------------ */

/* Parse TIME into ns since 1970; false after a usage message. */
static bool parse_time(const char *cmd, const char *text, int64_t *ns)
{
	struct tm tm;
	const char *p;
	char *end;
	int64_t frac = 0, scale = 100000000;

	if (strcmp(text, "now") == 0) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		*ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
		return true;
	}
	errno = 0;
	{
		long long s = strtoll(text, &end, 10);

		if (*end == '\0' && end != text && errno == 0 && s >= 0 &&
		    s < INT64_MAX / 1000000000) {
			*ns = (int64_t)s * 1000000000;
			return true;
		}
	}
	memset(&tm, 0, sizeof(tm));
	p = strptime(text, "%Y-%m-%dT%H:%M", &tm);
	if (!p)
		p = strptime(text, "%Y-%m-%d", &tm);
	if (p && *p == ':') {
		p = strptime(p, ":%S", &tm);
		if (p && *p == '.')
			for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
				frac += scale ? (*p - '0') * scale : 0;
	}
	if (p && *p == 'Z')
		p++;
	if (!p || *p != '\0') {
		cli_usage_error(cmd, "'%s' is not a time: give "
				"YYYY-MM-DDTHH:MM[:SS[.frac]][Z] (UTC), "
				"YYYY-MM-DD, seconds since 1970, or now",
				text);
		return false;
	}
	*ns = (int64_t)timegm(&tm) * 1000000000 + frac;
	if (*ns < 0) {
		cli_usage_error(cmd, "'%s' is before 1970", text);
		return false;
	}
	return true;
}

static char *fmt_time(char out[40], int64_t ns)
{
	time_t sec = (time_t)(ns / 1000000000);
	struct tm tm;
	size_t n;

	gmtime_r(&sec, &tm);
	n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 40 - n, ".%09lldZ",
		 (long long)(ns % 1000000000));
	return out;
}

/* The checkpoint ref names: its record id. CLI_OK, or an exit code after
 * a message. */
static int resolve(b3cas_store *s, const char *cmd, const char *ref,
		   b3cas_oid *id)
{
	char sandbox[B3CAS_CHECKPOINT_SANDBOX_MAX + 1];
	const char *at = strchr(ref, '@');
	int64_t t = INT64_MAX;
	size_t n = at ? (size_t)(at - ref) : strlen(ref);
	int err;

	if (!at && strlen(ref) == B3CAS_OID_HEX_LEN &&
	    b3cas_oid_parse(id, ref) == 0)
		return CLI_OK;
	b3cas_error_clear();
	if (n == 0 || n > B3CAS_CHECKPOINT_SANDBOX_MAX)
		return cli_usage_error(cmd, "'%s' names no checkpoint: give "
				       "an id, SANDBOX or SANDBOX@TIME", ref);
	memcpy(sandbox, ref, n);
	sandbox[n] = '\0';
	if (at && !parse_time(cmd, at + 1, &t))
		return CLI_USAGE;
	err = b3cas_checkpoint_find(s, sandbox, t, id, NULL);
	if (err < 0) {
		cli_error("%s", b3cas_error_last());
		return cli_exit_code(err, true);
	}
	return CLI_OK;
}

/* resolve, then load. */
static int load(b3cas_store *s, const char *cmd, const char *ref,
		b3cas_oid *id, b3cas_checkpoint **c)
{
	int rc = resolve(s, cmd, ref, id), err;

	if (rc != CLI_OK)
		return rc;
	err = b3cas_checkpoint_load(s, id, c);
	if (err < 0) {
		cli_error("%s", b3cas_error_last());
		return err == B3CAS_EFORMAT ? CLI_USAGE
					    : cli_exit_code(err, true);
	}
	return CLI_OK;
}

static int lib_error(int err, bool lookup)
{
	cli_error("%s", b3cas_error_last());
	return cli_exit_code(err, lookup);
}

/* ---- create ------------------------------------------------------------ */

static const cli_opt create_opts[] = {
	CLI_VALUE("tree", 't', "DIR", ckpt_args, tree, NULL,
		  "the sandbox's files: folder DIR, stored as trees"),
	CLI_VALUE("blob", 'b', "NAME=FILE", ckpt_args, blobs, add_kv,
		  "a named blob, such as memory=mem.img (repeatable)"),
	CLI_VALUE("label", 'l', "KEY=VALUE", ckpt_args, labels, add_kv,
		  "a label (repeatable)"),
	CLI_VALUE("time", 0, "TIME", ckpt_args, time, NULL,
		  "the checkpoint's time (default: now)"),
	CLI_FLAG("no-cache", 0, ckpt_args, no_cache,
		 "read every file (default: the sandbox's stat cache\n"
		 "skips files unchanged since its last checkpoint)"),
	CLI_FLAG("no-delta", 0, ckpt_args, no_delta,
		 "leave the parent's blobs as they are (default: the\n"
		 "chunks of the parent's blob of the same name that a blob\n"
		 "replaces are rewritten as deltas against it)"),
	CLI_FLAG("quiet", 'q', ckpt_args, quiet, "print only the id"),
	CLI_ARG("SANDBOX", true, "expected a sandbox name", "the sandbox"),
	CLI_END,
};

static const cli_spec create_spec = {
	.name = "checkpoint create",
	.summary = "record a sandbox's state",
	.about = "Record a checkpoint of SANDBOX: its files (--tree DIR), "
		 "named blobs\n(--blob NAME=FILE: a memory image, a config), "
		 "labels, and the sandbox's\nlatest checkpoint as its parent. "
		 "The checkpoint is a GC root: everything\nit reaches is kept "
		 "until `b3cas checkpoint rm`. Prints its id and time.\n"
		 "A file whose path, inode, size, mtime and ctime are those "
		 "the sandbox's\nlast create saw is not read again (its stat "
		 "cache, in the store's\ncache/trees/), and a folder whose "
		 "tree is stored is not written again.\nThe chunks of the "
		 "parent's blob of the same name that a blob replaces\nare "
		 "rewritten as deltas against it where that saves space (a "
		 "store made\nwith --compress): the newest checkpoint stays "
		 "whole.\n"
		 "Killed at any point, "
		 "create leaves every earlier checkpoint as it was and\n"
		 "nothing that the next open and GC do not take back.\n",
	.exits = "Exit codes: 0 ok, 2 bad input (a folder or file that "
		 "cannot be read, a\nmalformed name, a checkpoint at that "
		 "time already), 3 store error.\n",
	.opts = create_opts,
	.store = true,
};

/* Store FILE as a blob (one reference, the lease's: dropped once the
 * checkpoint holds it). */
static int put_blob(b3cas_store *s, b3cas_lease *l, const char *path,
		    const b3cas_oid *base, b3cas_oid *id)
{
	b3cas_writer *w = NULL;
	char *buf = malloc(1u << 20);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc = CLI_OK, err = 0;

	if (!buf || fd < 0) {
		cli_error("cannot read %s: %s", path,
			  buf ? strerror(errno) : "out of memory");
		free(buf);
		if (fd >= 0)
			close(fd);
		return buf ? CLI_USAGE : CLI_STORE;
	}
	err = b3cas_writer_open(&w, s);
	if (err >= 0 && base)
		err = b3cas_writer_set_base(w, base);
	while (err >= 0) {
		long long n = cli_read_full(fd, buf, 1u << 20);

		if (n < 0) {
			cli_error("cannot read %s: %s", path,
				  strerror(errno));
			rc = CLI_USAGE;
			break;
		}
		if (n == 0)
			break;
		err = b3cas_writer_write(w, buf, (size_t)n);
	}
	if (rc == CLI_OK && err >= 0)
		err = b3cas_lease_commit(l, w, id);
	else
		b3cas_writer_abort(w);
	if (rc == CLI_OK && err < 0)
		rc = lib_error(err, false);
	close(fd);
	free(buf);
	return rc;
}

/* The stat cache of sandbox's trees: cache/trees/ in the store, named
 * by the sandbox's hash (any name is a file name then). NULL when the
 * folder cannot be made: no cache. */
static char *cache_path(cli_ctx *ctx, const char *sandbox)
{
	const char *dir = cli_store_dir(ctx, NULL);
	uint8_t h[B3CAS_OUT_LEN];
	char hex[33], *p;
	size_t n;

	if (!dir)
		return NULL;
	b3cas_hash(h, sandbox, strlen(sandbox));
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	n = strlen(dir) + 64;
	p = malloc(n);
	if (!p)
		return NULL;
	snprintf(p, n, "%s/cache/trees", dir);
	if (mkdir(p, 0700) != 0 && errno != EEXIST) {
		free(p);
		return NULL;
	}
	snprintf(p, n, "%s/cache/trees/%s", dir, hex);
	return p;
}

static int create(cli_ctx *ctx, int argc, char **argv)
{
	ckpt_args a;
	b3cas_checkpoint_blob blobs[MAX_ITEMS];
	b3cas_checkpoint_label labels[MAX_ITEMS];
	char names[MAX_ITEMS][B3CAS_CHECKPOINT_BLOB_NAME_MAX + 1];
	char keys[MAX_ITEMS][B3CAS_CHECKPOINT_LABEL_KEY_MAX + 1];
	b3cas_checkpoint c;
	b3cas_store *s;
	b3cas_oid id;
	cli_args pos;
	char hex[B3CAS_OID_HEX_LEN + 1], when[40];
	int64_t t = 0;
	b3cas_lease *lease = NULL;
	b3cas_tree_put_options po = B3CAS_TREE_PUT_OPTIONS_INIT;
	b3cas_checkpoint *parent = NULL;
	char *cache = NULL;
	int rc, err, owned = 0;

	memset(&a, 0, sizeof(a));
	memset(&c, 0, sizeof(c));
	if (!cli_opt_parse(&rc, &pos, &create_spec, &a, argc, argv))
		return rc;
	if (a.time && !parse_time("checkpoint create", a.time, &t))
		return CLI_USAGE;
	for (int i = 0; i < a.labels.n; i++) {
		const char *eq = strchr(a.labels.v[i], '=');

		snprintf(keys[i], sizeof(keys[i]), "%.*s",
			 (int)(eq - a.labels.v[i]), a.labels.v[i]);
		labels[i].key = keys[i];
		labels[i].value = eq + 1;
	}
	rc = cli_open_store_rw(&s, ctx);
	if (rc != CLI_OK)
		return rc;
	c.sandbox = pos.v[0];
	c.time_ns = t;
	c.labels = labels;
	c.label_count = (size_t)a.labels.n;
	c.blobs = blobs;
	/* a name that --time makes taken fails now, not after every file
	 * and blob was read and stored (the create checks it again) */
	if (t) {
		int64_t at = 0;

		err = b3cas_checkpoint_find(s, c.sandbox, t, &id, &at);
		if (err == 0 && at == t) {
			cli_error("sandbox %s has a checkpoint at %s already",
				  c.sandbox, fmt_time(when, t));
			return cli_close_store(s, CLI_USAGE);
		}
		if (err < 0 && err != B3CAS_ENOTFOUND)
			return cli_close_store(s, lib_error(err, false));
		b3cas_error_clear();
	}
	/* every reference create takes is the lease's until the
	 * checkpoint holds what it needs: a kill leaks nothing */
	err = b3cas_lease_open(s, &lease);
	if (err < 0)
		return cli_close_store(s, lib_error(err, false));
	if (a.tree) {
		cache = a.no_cache ? NULL : cache_path(ctx, c.sandbox);
		po.lease = lease;
		po.cache = cache;
		err = b3cas_tree_put(s, a.tree, &po, &c.root, NULL);
		free(cache);
		if (err < 0) {
			cli_error("%s", b3cas_error_last());
			rc = err == B3CAS_ENOTFOUND || err == B3CAS_EPERM ||
					     err == B3CAS_EINVAL ||
					     err == B3CAS_EBUSY
				     ? CLI_USAGE
				     : cli_exit_code(err, false);
			(void)b3cas_lease_close(lease);
			return cli_close_store(s, rc);
		}
		c.has_root = true;
	}
	if (rc == CLI_OK) {
		err = b3cas_checkpoint_find(s, c.sandbox, INT64_MAX, &c.parent,
					    NULL);
		c.has_parent = err == 0;
		if (err < 0 && err != B3CAS_ENOTFOUND)
			rc = lib_error(err, false);
		b3cas_error_clear();
	}
	/* the parent's blobs are the bases of deltas; a parent that cannot
	 * be read only means none */
	if (rc == CLI_OK && c.has_parent && !a.no_delta &&
	    b3cas_checkpoint_load(s, &c.parent, &parent) < 0)
		b3cas_error_clear();
	for (int i = 0; rc == CLI_OK && i < a.blobs.n; i++) {
		const char *eq = strchr(a.blobs.v[i], '=');
		const b3cas_oid *base = NULL;

		snprintf(names[i], sizeof(names[i]), "%.*s",
			 (int)(eq - a.blobs.v[i]), a.blobs.v[i]);
		blobs[i].name = names[i];
		for (size_t k = 0; parent && k < parent->blob_count; k++)
			if (strcmp(parent->blobs[k].name, names[i]) == 0)
				base = &parent->blobs[k].id;
		rc = put_blob(s, lease, eq + 1, base, &blobs[i].id);
		if (rc == CLI_OK)
			owned++;
	}
	b3cas_checkpoint_free(parent);
	c.blob_count = (size_t)owned;
	if (rc == CLI_OK) {
		err = b3cas_checkpoint_create(s, &c, &id, &t);
		if (err < 0) {
			cli_error("%s", b3cas_error_last());
			rc = err == B3CAS_EEXISTS || err == B3CAS_EINVAL
				     ? CLI_USAGE
				     : cli_exit_code(err, false);
		}
	}
	/* the checkpoint holds them now (or failed): the lease's go */
	err = b3cas_lease_close(lease);
	if (err < 0 && rc == CLI_OK)
		rc = lib_error(err, false);
	if (rc == CLI_OK) {
		if (a.quiet)
			printf("%s\n", b3cas_oid_fmt(hex, &id));
		else
			printf("%s %s %s\n", b3cas_oid_fmt(hex, &id), c.sandbox,
			       fmt_time(when, t));
	}
	return cli_close_store(s, rc);
}

/* ---- list and show ------------------------------------------------------ */

static const cli_opt list_opts[] = {
	CLI_FLAG("json", 0, ckpt_args, json, "one JSON object per line"),
	CLI_ARG("SANDBOX", false, NULL, "only this sandbox's (default: all)"),
	CLI_END,
};

static const cli_spec list_spec = {
	.name = "checkpoint list",
	.summary = "list checkpoints",
	.about = "List checkpoints, oldest first per sandbox: id, sandbox, "
		 "time (UTC).\n",
	.exits = "Exit codes: 0 ok, 2 malformed SANDBOX, 3 store error.\n",
	.opts = list_opts,
	.store = true,
};

static int print_one(const char *sandbox, int64_t t, const b3cas_oid *id,
		     void *ctx)
{
	char hex[B3CAS_OID_HEX_LEN + 1], when[40];

	if (*(bool *)ctx) {
		printf("{\"id\":\"%s\",\"sandbox\":", b3cas_oid_fmt(hex, id));
		cli_json_string(stdout, sandbox);
		printf(",\"time\":\"%s\",\"time_ns\":%lld}\n",
		       fmt_time(when, t), (long long)t);
	} else {
		printf("%s %s %s\n", b3cas_oid_fmt(hex, id), sandbox,
		       fmt_time(when, t));
	}
	return 0;
}

static int list(cli_ctx *ctx, int argc, char **argv)
{
	ckpt_args a;
	b3cas_store *s;
	cli_args pos;
	int rc, err;

	memset(&a, 0, sizeof(a));
	if (!cli_opt_parse(&rc, &pos, &list_spec, &a, argc, argv))
		return rc;
	rc = cli_open_store_ro(&s, ctx);
	if (rc != CLI_OK)
		return rc;
	err = b3cas_checkpoint_list(s, pos.n ? pos.v[0] : NULL, print_one,
				    &a.json);
	if (err < 0)
		rc = lib_error(err, false);
	return cli_close_store(s, rc);
}

/* ---- cat: a range of a blob ------------------------------------------- */

static const cli_opt cat_opts[] = {
	CLI_NUMBER("offset", 'o', "N", ckpt_args, offset, 0, INT64_MAX,
		   "start at byte N of the blob (default 0)"),
	CLI_NUMBER("length", 'n', "N", ckpt_args, length, 0, INT64_MAX,
		   "write at most N bytes (default: to the end)"),
	CLI_ARG("CHECKPOINT", true, "expected a checkpoint and a blob name",
		"an id, SANDBOX (its latest) or SANDBOX@TIME"),
	CLI_ARG("BLOB", true, "expected a checkpoint and a blob name",
		"the blob's name (memory, config, ...)"),
	CLI_END,
};

static const cli_spec cat_spec = {
	.name = "checkpoint cat",
	.summary = "write a blob of a checkpoint, or a range of it",
	.about = "Write blob BLOB of CHECKPOINT to standard output, or the "
		 "range --offset\nN --length N of it: of a chunked blob only "
		 "the chunks the range overlaps\nare read (each checked "
		 "against its id), so one page of a memory image\ncosts a "
		 "few KiB of reads, not the image.\n",
	.exits = "Exit codes: 0 ok, 1 no such checkpoint or blob, 2 malformed "
		 "input,\n3 store error (corrupt object, I/O).\n",
	.opts = cat_opts,
	.store = true,
};

static int cat(cli_ctx *ctx, int argc, char **argv)
{
	ckpt_args a;
	b3cas_checkpoint *c = NULL;
	const b3cas_checkpoint_blob *blob = NULL;
	b3cas_store *s;
	b3cas_oid id;
	cli_args pos;
	uint8_t *buf;
	uint64_t off, left;
	int rc, err = 0;

	memset(&a, 0, sizeof(a));
	a.length = UINT64_MAX;
	if (!cli_opt_parse(&rc, &pos, &cat_spec, &a, argc, argv))
		return rc;
	rc = cli_open_store_ro(&s, ctx);
	if (rc != CLI_OK)
		return rc;
	rc = load(s, "checkpoint cat", pos.v[0], &id, &c);
	for (size_t i = 0; rc == CLI_OK && i < c->blob_count; i++)
		if (strcmp(c->blobs[i].name, pos.v[1]) == 0)
			blob = &c->blobs[i];
	if (rc == CLI_OK && !blob) {
		cli_error("checkpoint cat: checkpoint has no blob '%s'",
			  pos.v[1]);
		rc = CLI_NEGATIVE;
	}
	buf = rc == CLI_OK ? malloc(1u << 20) : NULL;
	if (rc == CLI_OK && !buf) {
		cli_error("checkpoint cat: out of memory");
		rc = CLI_STORE;
	}
	off = a.offset;
	left = a.length;
	while (rc == CLI_OK && left > 0) {
		size_t want = left < (1u << 20) ? (size_t)left : (1u << 20);
		size_t got = 0;

		err = b3cas_store_read_at(s, &blob->id, off, buf, want, &got);
		if (err < 0) {
			rc = lib_error(err, true);
			break;
		}
		if (got == 0)
			break;
		if (fwrite(buf, 1, got, stdout) != got) {
			cli_error("checkpoint cat: cannot write: %s",
				  strerror(errno));
			rc = CLI_STORE;
		}
		off += got;
		left -= got;
	}
	if (rc == CLI_OK && fflush(stdout) != 0) {
		cli_error("checkpoint cat: cannot write: %s", strerror(errno));
		rc = CLI_STORE;
	}
	free(buf);
	b3cas_checkpoint_free(c);
	return cli_close_store(s, rc);
}

static const cli_opt show_opts[] = {
	CLI_ARG("CHECKPOINT", true, "expected a checkpoint",
		"an id, SANDBOX (its latest) or SANDBOX@TIME"),
	CLI_END,
};

static const cli_spec show_spec = {
	.name = "checkpoint show",
	.summary = "show a checkpoint",
	.about = "Show a checkpoint: id, sandbox, time, root tree, parent, "
		 "blobs (name, id,\nsize) and labels.\n",
	.exits = "Exit codes: 0 ok, 1 no such checkpoint, 2 malformed "
		 "CHECKPOINT, 3 store error.\n",
	.opts = show_opts,
	.store = true,
};

static int show(cli_ctx *ctx, int argc, char **argv)
{
	ckpt_args a;
	b3cas_checkpoint *c = NULL;
	b3cas_store *s;
	b3cas_oid id;
	cli_args pos;
	char hex[B3CAS_OID_HEX_LEN + 1], when[40];
	int rc;

	memset(&a, 0, sizeof(a));
	if (!cli_opt_parse(&rc, &pos, &show_spec, &a, argc, argv))
		return rc;
	rc = cli_open_store_ro(&s, ctx);
	if (rc != CLI_OK)
		return rc;
	rc = load(s, "checkpoint show", pos.v[0], &id, &c);
	if (rc == CLI_OK) {
		printf("id       %s\n", b3cas_oid_fmt(hex, &id));
		printf("sandbox  %s\n", c->sandbox);
		printf("time     %s\n", fmt_time(when, c->time_ns));
		printf("root     %s\n",
		       c->has_root ? b3cas_oid_fmt(hex, &c->root) : "-");
		printf("parent   %s\n",
		       c->has_parent ? b3cas_oid_fmt(hex, &c->parent) : "-");
		for (size_t i = 0; i < c->blob_count; i++) {
			b3cas_object_info info;

			if (b3cas_store_stat(s, &c->blobs[i].id, &info) != 0)
				info.size = 0;
			printf("blob     %s %s %llu\n", c->blobs[i].name,
			       b3cas_oid_fmt(hex, &c->blobs[i].id),
			       (unsigned long long)info.size);
		}
		for (size_t i = 0; i < c->label_count; i++)
			printf("label    %s=%s\n", c->labels[i].key,
			       c->labels[i].value);
	}
	b3cas_checkpoint_free(c);
	return cli_close_store(s, rc);
}

/* ---- restore, diff ------------------------------------------------------- */

static const cli_opt restore_opts[] = {
	CLI_VALUE("blobs", 0, "DIR", ckpt_args, blobs_dir, NULL,
		  "also write each blob to DIR/NAME (DIR is made)"),
	CLI_FLAG("quiet", 'q', ckpt_args, quiet,
		 "print no counts or progress"),
	CLI_FLAG("sparse", 0, ckpt_args, sparse,
		 "leave the blobs' zero blocks (4 KiB) as holes: the same "
		 "bytes, less\nroom on disk, fewer writes"),
	CLI_NUMBER("threads", 0, "N", ckpt_args, threads, 0,
		   B3CAS_TREE_GET_THREADS_MAX,
		   "write files, and blobs in parts, on N threads "
		   "(default 0: one per CPU; at most 64)"),
	CLI_ARG("CHECKPOINT", true, "expected a checkpoint and a folder",
		"an id, SANDBOX (its latest) or SANDBOX@TIME"),
	CLI_ARG("DEST", true, "expected a checkpoint and a folder",
		"a new or empty folder for its files"),
	CLI_END,
};

static const cli_spec restore_spec = {
	.name = "checkpoint restore",
	.summary = "restore a checkpoint",
	.about = "Recreate the files of a checkpoint in DEST (a new or empty "
		 "folder), as\n`b3cas tree get` does: every byte checked, "
		 "files written on several\nthreads, a progress line on a "
		 "terminal. SANDBOX@TIME restores the last\ncheckpoint at or "
		 "before TIME. With --blobs DIR, its blobs too.\n",
	.exits = "Exit codes: 0 ok, 1 no such checkpoint, 2 bad input (DEST "
		 "not empty),\n3 store error.\n",
	.opts = restore_opts,
	.store = true,
};

/*
 * A blob is written in parts, one thread each: range reads (each chunk
 * checked against its id, each manifest segment against the blob's id,
 * as any read of the store is) written at their offsets. An old
 * checkpoint's memory image decodes its chunks through the newer
 * versions' (delta chunks): on one thread, the oldest of a series of 50
 * checkpoints restored in 2.4 times the newest's time. The parts share
 * that out. Each thread takes the next BLOB_PIECE of the blob until none
 * is left, so that one that is done early (zero pages, chunks in cache)
 * does not wait idle for the others.
 */
#define BLOB_PART_MIN (32ull << 20)
#define BLOB_PARTS_MAX 8
#define BLOB_PIECE (16ull << 20)
#define BLOB_IO (1u << 20)

typedef struct blob_part {
	b3cas_store *s;
	const b3cas_oid *id;
	int fd;
	uint64_t off, end;    /* the piece being written */
	uint64_t size;
	_Atomic uint64_t *next; /* the next piece's offset, shared */
	_Atomic bool *stop;     /* a part failed: the others stop too */
	bool sparse;
	int err;  /* a library code, or 0 */
	int werr; /* a write's errno, or 0 */
	char msg[512];
	pthread_t t;
} blob_part;

static bool pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t off)
{
	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return true;
}

/* A hole is left for each HOLE_BLOCK of zeros when a blob is written
 * sparse (the file is new and has its length already: what is not
 * written reads as zeros). */
#define HOLE_BLOCK 4096u

static bool zero_block(const uint8_t *p)
{
	uint64_t acc = 0, v;

	for (size_t i = 0; i < HOLE_BLOCK; i += sizeof(v)) {
		memcpy(&v, p + i, sizeof(v));
		acc |= v;
	}
	return acc == 0;
}

/* n bytes at p into fd at off; with sparse, each whole HOLE_BLOCK of
 * zeros (counted from p) is skipped. */
static bool write_out(int fd, const uint8_t *p, size_t n, uint64_t off,
		      bool sparse)
{
	size_t at = 0, from = 0;

	if (!sparse)
		return pwrite_all(fd, p, n, off);
	/* [from, at) is data not yet written */
	while (n - at >= HOLE_BLOCK) {
		if (!zero_block(p + at)) {
			at += HOLE_BLOCK;
			continue;
		}
		if (at > from && !pwrite_all(fd, p + from, at - from, off + from))
			return false;
		at += HOLE_BLOCK;
		from = at;
	}
	return n == from || pwrite_all(fd, p + from, n - from, off + from);
}

/* The next piece into p: false when none is left or a part failed. */
static bool next_piece(blob_part *p)
{
	if (atomic_load(p->stop))
		return false;
	p->off = atomic_fetch_add(p->next, BLOB_PIECE);
	if (p->off >= p->size)
		return false;
	p->end = p->size - p->off < BLOB_PIECE ? p->size : p->off + BLOB_PIECE;
	return true;
}

static void *write_part(void *arg)
{
	blob_part *p = arg;
	uint8_t *buf = malloc(BLOB_IO);

	if (!buf) {
		p->err = B3CAS_ENOMEM;
		snprintf(p->msg, sizeof(p->msg), "out of memory");
	}
	while (buf && !p->err && !p->werr &&
	       (p->off < p->end || next_piece(p))) {
		size_t want = p->end - p->off < BLOB_IO
				      ? (size_t)(p->end - p->off)
				      : BLOB_IO,
		       got = 0;
		int rc = b3cas_store_read_at(p->s, p->id, p->off, buf, want,
					     &got);

		if (rc == 0 && got != want) { /* shorter than its size */
			rc = B3CAS_ECORRUPT;
			snprintf(p->msg, sizeof(p->msg), "the blob ends at "
				 "%llu, before its size",
				 (unsigned long long)(p->off + got));
		} else if (rc < 0) {
			snprintf(p->msg, sizeof(p->msg), "%s",
				 b3cas_error_last());
		}
		if (rc < 0)
			p->err = rc;
		else if (!write_out(p->fd, buf, got, p->off, p->sparse))
			p->werr = errno ? errno : EIO;
		p->off += got;
	}
	if (p->err || p->werr)
		atomic_store(p->stop, true);
	free(buf);
	return NULL;
}

/* How many parts for an object: one per thread asked (0: per CPU), each
 * at least BLOB_PART_MIN; one (a streaming read) for an object not in
 * the index, which a range read would read whole each time (chunked
 * objects are in the index: their manifests). */
static unsigned blob_parts(const b3cas_object_info *info, uint64_t threads)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t n = threads ? threads : cpus > 0 ? (uint64_t)cpus : 1;
	uint64_t size = info->size;

	if (!info->is_inline)
		return 1;

	if (n > size / BLOB_PART_MIN)
		n = size / BLOB_PART_MIN;
	if (n > BLOB_PARTS_MAX)
		n = BLOB_PARTS_MAX;
	return n ? (unsigned)n : 1;
}

/* Blob b into fd (path) through one streaming read. */
static int stream_blob(b3cas_store *s, const b3cas_checkpoint_blob *b,
		       int fd, const char *path, bool sparse)
{
	b3cas_reader *r;
	uint64_t off = 0;
	uint8_t *buf;
	int rc = CLI_OK, err = b3cas_reader_open(&r, s, &b->id);

	if (err < 0)
		return lib_error(err, false);
	buf = malloc(BLOB_IO);
	if (!buf) {
		cli_error("cannot write %s: out of memory", path);
		rc = CLI_STORE;
	}
	while (rc == CLI_OK) {
		int64_t n = b3cas_reader_read(r, buf, BLOB_IO);

		if (n < 0)
			rc = lib_error((int)n, false);
		if (n <= 0)
			break;
		if (!write_out(fd, buf, (size_t)n, off, sparse)) {
			cli_error("cannot write %s: %s", path,
				  strerror(errno ? errno : EIO));
			rc = CLI_USAGE;
		}
		off += (uint64_t)n;
	}
	free(buf);
	b3cas_reader_close(r);
	return rc;
}

static int write_blob(b3cas_store *s, const b3cas_checkpoint_blob *b,
		      const char *dir, uint64_t threads, bool sparse)
{
	blob_part parts[BLOB_PARTS_MAX];
	_Atomic uint64_t next = 0;
	_Atomic bool stop = false;
	b3cas_object_info info;
	char path[4096];
	unsigned n, started = 0;
	int fd, rc = CLI_OK, err;

	if (strchr(b->name, '/') || strcmp(b->name, ".") == 0 ||
	    strcmp(b->name, "..") == 0) {
		cli_error("blob '%s': not a file name; not written", b->name);
		return CLI_USAGE;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, b->name);
	err = b3cas_store_stat(s, &b->id, &info);
	if (err < 0)
		return lib_error(err, false);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		cli_error("cannot write %s: %s", path, strerror(errno));
		return CLI_USAGE;
	}
	/* sparse: the length first, so that a hole at the end is one */
	if (sparse && ftruncate(fd, (off_t)info.size) != 0) {
		cli_error("cannot write %s: %s", path, strerror(errno));
		(void)close(fd);
		(void)unlink(path);
		return CLI_USAGE;
	}
	n = blob_parts(&info, threads);
	if (n == 1) {
		rc = stream_blob(s, b, fd, path, sparse);
		n = 0;
	}
	for (unsigned i = 0; i < n; i++) {
		blob_part *p = &parts[i];

		memset(p, 0, sizeof(*p));
		p->s = s;
		p->id = &b->id;
		p->fd = fd;
		p->size = info.size;
		p->next = &next;
		p->stop = &stop;
		p->sparse = sparse;
		if (pthread_create(&p->t, NULL, write_part, p) != 0)
			write_part(p); /* on this thread */
		else
			started |= 1u << i;
	}
	for (unsigned i = 0; i < n; i++) {
		if (started & 1u << i)
			pthread_join(parts[i].t, NULL);
		if (rc != CLI_OK)
			continue;
		if (parts[i].err) {
			cli_error("blob %s: %s", b->name, parts[i].msg);
			rc = cli_exit_code(parts[i].err, false);
		} else if (parts[i].werr) {
			cli_error("cannot write %s: %s", path,
				  strerror(parts[i].werr));
			rc = CLI_USAGE;
		}
	}
	if (close(fd) != 0 && rc == CLI_OK) {
		cli_error("cannot write %s: %s", path, strerror(errno));
		rc = CLI_USAGE;
	}
	/* no blob is left with bytes that were not all read and checked */
	if (rc != CLI_OK)
		(void)unlink(path);
	return rc;
}

static int restore(cli_ctx *ctx, int argc, char **argv)
{
	b3cas_tree_get_options o = B3CAS_TREE_GET_OPTIONS_INIT;
	ckpt_args a;
	b3cas_checkpoint *c = NULL;
	b3cas_tree_counts n;
	b3cas_store *s;
	b3cas_oid id;
	cli_args pos;
	int rc, err;

	memset(&a, 0, sizeof(a));
	if (!cli_opt_parse(&rc, &pos, &restore_spec, &a, argc, argv))
		return rc;
	rc = cli_open_store_ro(&s, ctx);
	if (rc != CLI_OK)
		return rc;
	rc = load(s, "checkpoint restore", pos.v[0], &id, &c);
	o.threads = (unsigned)a.threads;
	if (!a.quiet) {
		o.progress = cli_report_tree_progress;
		o.progress_ctx = (void *)"checkpoint restore";
	}
	if (rc == CLI_OK && c->has_root) {
		err = b3cas_tree_get(s, &c->root, pos.v[1], &o, &n);
		if (err < 0) {
			cli_error("%s", b3cas_error_last());
			rc = err == B3CAS_EEXISTS || err == B3CAS_EPERM ||
					     err == B3CAS_ENOSPC
				     ? CLI_USAGE
				     : cli_exit_code(err, false);
		} else if (!a.quiet) {
			fprintf(stderr, "checkpoint restore: %llu files "
				"(%llu bytes), %llu folders\n",
				(unsigned long long)n.files,
				(unsigned long long)n.bytes,
				(unsigned long long)n.dirs);
		}
	}
	if (rc == CLI_OK && a.blobs_dir) {
		if (mkdir(a.blobs_dir, 0755) != 0 && errno != EEXIST) {
			cli_error("cannot make %s: %s", a.blobs_dir,
				  strerror(errno));
			rc = CLI_USAGE;
		}
		for (size_t i = 0; rc == CLI_OK && i < c->blob_count; i++)
			rc = write_blob(s, &c->blobs[i], a.blobs_dir,
					 a.threads, a.sparse);
	}
	b3cas_checkpoint_free(c);
	return cli_close_store(s, rc);
}

static const cli_opt diff_opts[] = {
	CLI_ARG("A", true, "expected two checkpoints", "the first checkpoint"),
	CLI_ARG("B", true, "expected two checkpoints", "the second checkpoint"),
	CLI_END,
};

static const cli_spec diff_spec = {
	.name = "checkpoint diff",
	.summary = "list what differs between two checkpoints",
	.about = "List what differs between checkpoints A and B: their files "
		 "as `b3cas tree\ndiff` lists them, then 'A|D|M blob:NAME' "
		 "for blobs and 'A|D|M label:KEY'\nfor labels.\n",
	.exits = "Exit codes: 0 equal, 1 they differ, 2 malformed input, 3 "
		 "store error.\n",
	.opts = diff_opts,
	.store = true,
};

static int diff_line(const char *path, int change, const b3cas_tree_entry *x,
		     const b3cas_tree_entry *y, void *ctx)
{
	const b3cas_tree_entry *e = y ? y : x;

	printf("%c %s%s\n", change, path,
	       e && e->type == B3CAS_TREE_DIR ? "/" : "");
	*(bool *)ctx = true;
	return 0;
}

static int diff(cli_ctx *ctx, int argc, char **argv)
{
	ckpt_args a;
	b3cas_checkpoint *x = NULL, *y = NULL;
	b3cas_store *s;
	b3cas_oid ix, iy;
	cli_args pos;
	bool differ = false;
	int rc, err = 0;

	memset(&a, 0, sizeof(a));
	if (!cli_opt_parse(&rc, &pos, &diff_spec, &a, argc, argv))
		return rc;
	rc = cli_open_store_ro(&s, ctx);
	if (rc != CLI_OK)
		return rc;
	rc = load(s, "checkpoint diff", pos.v[0], &ix, &x);
	if (rc == CLI_OK)
		rc = load(s, "checkpoint diff", pos.v[1], &iy, &y);
	if (rc == CLI_OK && x->has_root && y->has_root)
		err = b3cas_tree_diff(s, &x->root, &y->root, diff_line,
				      &differ);
	else if (rc == CLI_OK && x->has_root != y->has_root) {
		printf("%c .\n", x->has_root ? 'D' : 'A');
		differ = true;
	}
	if (err < 0)
		rc = lib_error(err, false);
	/* blobs, then labels: both sorted, merged */
	for (size_t i = 0, j = 0; rc == CLI_OK &&
	     (i < x->blob_count || j < y->blob_count);) {
		int c = i == x->blob_count   ? 1
			: j == y->blob_count ? -1
					     : strcmp(x->blobs[i].name,
						      y->blobs[j].name);

		if (c != 0 || !b3cas_oid_equal(&x->blobs[i].id,
					       &y->blobs[j].id)) {
			printf("%c blob:%s\n", c < 0 ? 'D' : c > 0 ? 'A' : 'M',
			       c > 0 ? y->blobs[j].name : x->blobs[i].name);
			differ = true;
		}
		i += c <= 0;
		j += c >= 0;
	}
	for (size_t i = 0, j = 0; rc == CLI_OK &&
	     (i < x->label_count || j < y->label_count);) {
		int c = i == x->label_count   ? 1
			: j == y->label_count ? -1
					      : strcmp(x->labels[i].key,
						       y->labels[j].key);

		if (c != 0 ||
		    strcmp(x->labels[i].value, y->labels[j].value) != 0) {
			printf("%c label:%s\n",
			       c < 0 ? 'D' : c > 0 ? 'A' : 'M',
			       c > 0 ? y->labels[j].key : x->labels[i].key);
			differ = true;
		}
		i += c <= 0;
		j += c >= 0;
	}
	if (rc == CLI_OK && differ)
		rc = CLI_NEGATIVE;
	b3cas_checkpoint_free(x);
	b3cas_checkpoint_free(y);
	return cli_close_store(s, rc);
}

/* ---- rm, fork, prune ------------------------------------------------------ */

static const cli_opt rm_opts[] = {
	CLI_ARGS("CHECKPOINT", true, "expected at least one checkpoint",
		 "an id, SANDBOX (its latest) or SANDBOX@TIME"),
	CLI_END,
};

static const cli_spec rm_spec = {
	.name = "checkpoint rm",
	.summary = "delete checkpoints",
	.about = "Delete each CHECKPOINT. What only it held is freed by the "
		 "next `b3cas gc`\n(after its grace period).\n",
	.exits = "Exit codes: 0 ok, 1 a checkpoint not found (the others are "
		 "deleted),\n2 malformed input, 3 store error.\n",
	.opts = rm_opts,
	.store = true,
};

static int rm(cli_ctx *ctx, int argc, char **argv)
{
	ckpt_args a;
	b3cas_store *s;
	cli_args pos;
	int rc, worst = CLI_OK;

	memset(&a, 0, sizeof(a));
	if (!cli_opt_parse(&rc, &pos, &rm_spec, &a, argc, argv))
		return rc;
	rc = cli_open_store_rw(&s, ctx);
	if (rc != CLI_OK)
		return rc;
	for (int i = 0; i < pos.n; i++) {
		b3cas_checkpoint *c = NULL;
		b3cas_oid id;
		char when[40];
		int err;

		rc = load(s, "checkpoint rm", pos.v[i], &id, &c);
		if (rc == CLI_OK) {
			err = b3cas_checkpoint_delete(s, c->sandbox,
						      c->time_ns);
			if (err < 0)
				rc = lib_error(err, true);
			else
				printf("%s %s: removed\n", c->sandbox,
				       fmt_time(when, c->time_ns));
		}
		b3cas_checkpoint_free(c);
		worst = cli_worse(worst, rc);
	}
	return cli_close_store(s, worst);
}

static const cli_opt fork_opts[] = {
	CLI_ARG("CHECKPOINT", true, "expected a checkpoint and a sandbox",
		"an id, SANDBOX (its latest) or SANDBOX@TIME"),
	CLI_ARG("NEW", true, "expected a checkpoint and a sandbox",
		"the new sandbox's name"),
	CLI_END,
};

static const cli_spec fork_spec = {
	.name = "checkpoint fork",
	.summary = "start a sandbox from a checkpoint",
	.about = "Start sandbox NEW from CHECKPOINT: its first checkpoint "
		 "shares the\nfiles, blobs and labels of CHECKPOINT (nothing "
		 "is copied) and names it\nas its parent. Prints the new "
		 "checkpoint's id and time.\n",
	.exits = "Exit codes: 0 ok, 1 no such checkpoint, 2 malformed "
		 "input, 3 store error.\n",
	.opts = fork_opts,
	.store = true,
};

static int fork_cmd(cli_ctx *ctx, int argc, char **argv)
{
	ckpt_args a;
	b3cas_checkpoint *c = NULL, n;
	b3cas_store *s;
	b3cas_oid id, nid;
	cli_args pos;
	char hex[B3CAS_OID_HEX_LEN + 1], when[40];
	int64_t t;
	int rc, err;

	memset(&a, 0, sizeof(a));
	if (!cli_opt_parse(&rc, &pos, &fork_spec, &a, argc, argv))
		return rc;
	rc = cli_open_store_rw(&s, ctx);
	if (rc != CLI_OK)
		return rc;
	rc = load(s, "checkpoint fork", pos.v[0], &id, &c);
	if (rc == CLI_OK) {
		n = *c;
		n.sandbox = pos.v[1];
		n.time_ns = 0;
		n.has_parent = true;
		n.parent = id;
		err = b3cas_checkpoint_create(s, &n, &nid, &t);
		if (err < 0)
			rc = err == B3CAS_EINVAL ? (cli_error("%s",
						b3cas_error_last()), CLI_USAGE)
						 : lib_error(err, false);
		else
			printf("%s %s %s\n", b3cas_oid_fmt(hex, &nid),
			       n.sandbox, fmt_time(when, t));
	}
	b3cas_checkpoint_free(c);
	return cli_close_store(s, rc);
}

static const cli_opt prune_opts[] = {
	CLI_NUMBER("keep-last", 0, "N", ckpt_args, last, 0, UINT32_MAX,
		   "keep the newest N"),
	CLI_NUMBER("keep-hourly", 0, "N", ckpt_args, hourly, 0, UINT32_MAX,
		   "keep the newest of each of the last N hours that have one"),
	CLI_NUMBER("keep-daily", 0, "N", ckpt_args, daily, 0, UINT32_MAX,
		   "the same for days (UTC)"),
	CLI_NUMBER("keep-weekly", 0, "N", ckpt_args, weekly, 0, UINT32_MAX,
		   "the same for ISO weeks"),
	CLI_VALUE("keep-within", 0, "DURATION", ckpt_args, within, NULL,
		  "keep all newer than the newest less DURATION (90m, 2d)"),
	CLI_FLAG("dry-run", 'n', ckpt_args, dry_run,
		 "delete nothing: list what would go"),
	CLI_ARG("SANDBOX", false, NULL,
		"only this sandbox (default: each sandbox on its own)"),
	CLI_END,
};

static const cli_spec prune_spec = {
	.name = "checkpoint prune",
	.summary = "delete checkpoints no rule keeps",
	.about = "Keep the checkpoints the --keep rules name (any rule is "
		 "enough, as with\nrestic forget) and delete the others, per "
		 "sandbox. Prints each checkpoint\nwith 'keep' or 'remove' "
		 "('would remove' with --dry-run). At least one\nrule is "
		 "needed. `b3cas gc` then frees what only deleted ones held.\n",
	.exits = "Exit codes: 0 ok, 2 no rule or malformed input, 3 store "
		 "error.\n",
	.opts = prune_opts,
	.store = true,
};

static int print_judged(const char *sandbox, int64_t t, const b3cas_oid *id,
			bool keep, void *ctx)
{
	char hex[B3CAS_OID_HEX_LEN + 1], when[40];

	printf("%s %s %s %s\n",
	       keep ? "keep" : *(bool *)ctx ? "would-remove" : "remove",
	       b3cas_oid_fmt(hex, id), sandbox, fmt_time(when, t));
	return 0;
}

static int prune(cli_ctx *ctx, int argc, char **argv)
{
	ckpt_args a;
	b3cas_retention r;
	b3cas_store *s;
	cli_args pos;
	uint64_t gone = 0;
	int rc, err;

	memset(&a, 0, sizeof(a));
	if (!cli_opt_parse(&rc, &pos, &prune_spec, &a, argc, argv))
		return rc;
	memset(&r, 0, sizeof(r));
	r.last = a.last;
	r.hourly = a.hourly;
	r.daily = a.daily;
	r.weekly = a.weekly;
	if (a.within && !cli_parse_duration(&r.within_ns, a.within))
		return cli_usage_error("checkpoint prune", "'%s' is not a "
				       "duration", a.within);
	if (!r.last && !r.hourly && !r.daily && !r.weekly && !r.within_ns)
		return cli_usage_error("checkpoint prune", "no --keep rule: "
				       "refusing to delete every checkpoint");
	rc = a.dry_run ? cli_open_store_ro(&s, ctx) : cli_open_store_rw(&s, ctx);
	if (rc != CLI_OK)
		return rc;
	err = b3cas_checkpoint_prune(s, pos.n ? pos.v[0] : NULL, &r, a.dry_run,
				     print_judged, &a.dry_run, &gone);
	if (err < 0)
		rc = err == B3CAS_EINVAL ? (cli_error("%s", b3cas_error_last()),
					    CLI_USAGE)
					 : lib_error(err, false);
	else
		fprintf(stderr, "checkpoint prune: %llu %s\n",
			(unsigned long long)gone,
			a.dry_run ? "would be removed" : "removed");
	return cli_close_store(s, rc);
}

/* ---- the command ----------------------------------------------------------- */

static const cli_opt ckpt_opts[] = {
	CLI_ARG("SUBCOMMAND", true, "expected a subcommand", "see above"),
	CLI_ARGS("ARGS", false, NULL, "the subcommand's"),
	CLI_END,
};

const cli_spec cmd_checkpoint_spec = {
	.name = "checkpoint",
	.summary = "record, list, restore, fork, prune sandbox checkpoints",
	.about = "Checkpoints of sandboxes (docs/trees.md):\n"
		 "  create SANDBOX [--tree DIR] [--blob NAME=FILE]... "
		 "[--label K=V]...\n"
		 "  list [SANDBOX] [--json]      show CHECKPOINT\n"
		 "  restore CHECKPOINT DEST      diff A B\n"
		 "  rm CHECKPOINT...             fork CHECKPOINT NEW\n"
		 "  cat CHECKPOINT BLOB [--offset N] [--length N]\n"
		 "  prune [SANDBOX] --keep-last N --keep-hourly N "
		 "--keep-daily N\n"
		 "        --keep-weekly N --keep-within DURATION [--dry-run]\n"
		 "CHECKPOINT: an id, SANDBOX (its latest) or SANDBOX@TIME "
		 "(the last at or\nbefore TIME: 2026-12-05T14:05[:SS][Z] UTC, "
		 "or seconds since 1970).\n"
		 "`b3cas checkpoint SUBCOMMAND --help` tells more.\n",
	.exits = "Exit codes: those of the subcommand; 2 for an unknown one.\n",
	.opts = ckpt_opts,
	.store = true,
};

int cmd_checkpoint(cli_ctx *ctx, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(cli_ctx *, int, char **);
	} subs[] = {{"create", create},   {"list", list}, {"show", show},
		    {"restore", restore}, {"diff", diff}, {"rm", rm},
		    {"fork", fork_cmd},   {"prune", prune}, {"cat", cat}};
	int rc;

	if (argc < 2 || argv[1][0] == '-') {
		cli_args pos;
		ckpt_args a;

		if (!cli_opt_parse(&rc, &pos, &cmd_checkpoint_spec, &a, argc,
				   argv))
			return rc;
		return cli_usage_error("checkpoint", "expected a subcommand");
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].run(ctx, argc - 1, argv + 1);
	return cli_usage_error("checkpoint", "unknown subcommand '%s'",
			       argv[1]);
}
