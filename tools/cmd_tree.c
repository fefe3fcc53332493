/*
 * cmd_tree.c - `b3cas tree put|get|ls|diff`: directories as trees
 * (docs/trees.md, docs/cli.md).
 *
 * put stores a directory and prints its root tree's id, which holds one
 * reference (drop it with `b3cas rm ID`); get recreates a tree in a new
 * or empty folder; ls lists a tree's entries (under a path in it, or
 * all of them); diff lists what differs between two trees.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "b3cas/tree.h"
#include "cli.h"

typedef struct tree_args {
	bool quiet;
	bool recursive;
	const char *cache;
	uint64_t threads; /* get: 0 = one per CPU */
} tree_args;

static const cli_opt put_opts[] = {
	CLI_FLAG("quiet", 'q', tree_args, quiet,
		 "print only the id (no counts on standard error)"),
	CLI_VALUE("cache", 'c', "FILE", tree_args, cache, NULL,
		  "a stat cache: files unchanged since the put that\n"
		  "wrote FILE are not read again (made when missing)"),
	CLI_ARG("DIR", true, "expected one folder", "the folder to store"),
	CLI_END,
};

static const cli_spec put_spec = {
	.name = "tree put",
	.summary = "store a folder as trees",
	.about = "Store folder DIR: each file's content as an object, each "
		 "folder as a tree\nthat holds its entries (names, types, "
		 "modes, owners, times, xattrs, hard\nlinks, holes), so that "
		 "GC keeps everything a kept tree reaches. Symbolic\nlinks "
		 "are stored, never followed; other file systems mounted "
		 "below DIR are\nstored as empty folders. Prints the root "
		 "tree's id, which holds one\nreference: `b3cas rm ID` "
		 "drops it, and GC then frees what only it held.\n",
	.exits = "Exit codes: 0 ok, 2 DIR cannot be read or is not a folder, "
		 "or holds a\nname the format cannot hold, 3 store error.\n",
	.opts = put_opts,
	.store = true,
};

static const cli_opt get_opts[] = {
	CLI_FLAG("quiet", 'q', tree_args, quiet,
		 "print no counts or progress on standard error"),
	CLI_NUMBER("threads", 0, "N", tree_args, threads, 0,
		   B3CAS_TREE_GET_THREADS_MAX,
		   "write files on N threads (default 0: one per CPU; at "
		   "most 64)"),
	CLI_ARG("ID", true, "expected a tree id and a folder",
		"the root tree's id"),
	CLI_ARG("DEST", true, "expected a tree id and a folder",
		"a new or empty folder"),
	CLI_END,
};

static const cli_spec get_spec = {
	.name = "tree get",
	.summary = "recreate a tree in a folder",
	.about = "Recreate tree ID in DEST, which must not exist or be an "
		 "empty folder:\nentries, contents (each checked against its "
		 "id), modes, owners (as root;\notherwise yours), times, "
		 "xattrs, hard links and holes. Files are written\non several "
		 "threads. On a terminal a progress line (files, bytes, rate) "
		 "is\ndrawn on standard error.\n",
	.exits = "Exit codes: 0 ok, 1 no such tree, 2 malformed ID, DEST "
		 "not empty or not\nwritable, 3 store error (corrupt object, "
		 "I/O).\n",
	.opts = get_opts,
	.store = true,
};

static const cli_opt ls_opts[] = {
	CLI_FLAG("recursive", 'r', tree_args, recursive,
		 "list the folders' entries too, at every depth"),
	CLI_ARG("ID", true, "expected a tree id", "the root tree's id"),
	CLI_ARG("PATH", false, NULL, "a folder in the tree (default: its top)"),
	CLI_END,
};

static const cli_spec ls_spec = {
	.name = "tree ls",
	.summary = "list a tree",
	.about = "List the entries of tree ID, or of folder PATH in it: per "
		 "entry its type\n(d folder, - file, l link, c b p s special), "
		 "mode, owner, size, the id of\nits content or tree ('-' for "
		 "others) and its path ('-> TARGET' for a link).\n",
	.exits = "Exit codes: 0 ok, 1 no such tree or PATH, 2 malformed ID, "
		 "3 store error.\n",
	.opts = ls_opts,
	.store = true,
};

static const cli_opt diff_opts[] = {
	CLI_ARG("A", true, "expected two tree ids", "the first tree's id"),
	CLI_ARG("B", true, "expected two tree ids", "the second tree's id"),
	CLI_END,
};

static const cli_spec diff_spec = {
	.name = "tree diff",
	.summary = "list what differs between two trees",
	.about = "List the paths that differ between trees A and B, one per "
		 "line: 'A PATH'\nadded in B, 'D PATH' gone from B, 'M PATH' "
		 "changed (content, size, type,\nmode, owner, time, xattrs; "
		 "'.' is the top folder's own attributes). An\nadded or "
		 "removed folder is one line. Folders whose trees are equal "
		 "are\nnot read: the cost is that of what changed.\n",
	.exits = "Exit codes: 0 the trees are equal, 1 they differ (or one "
		 "is not stored),\n2 malformed id, 3 store error.\n",
	.opts = diff_opts,
	.store = true,
};

static const cli_opt tree_opts[] = {
	CLI_ARG("SUBCOMMAND", true, "expected put, get, ls or diff",
		"put, get, ls or diff"),
	CLI_ARGS("ARGS", false, NULL, "the subcommand's"),
	CLI_END,
};

const cli_spec cmd_tree_spec = {
	.name = "tree",
	.summary = "store, restore, list, compare folders",
	.about = "Folders as trees (docs/trees.md):\n"
		 "  b3cas tree put DIR        store DIR, print its tree's id\n"
		 "  b3cas tree get ID DEST    recreate tree ID in DEST "
		 "(--threads N)\n"
		 "  b3cas tree ls ID [PATH]   list a tree (-r: all of it)\n"
		 "  b3cas tree diff A B       list what differs\n"
		 "`b3cas tree SUBCOMMAND --help` tells more.\n",
	.exits = "Exit codes: those of the subcommand; 2 for an unknown one.\n",
	.opts = tree_opts,
	.store = true,
};

static void print_counts(const char *what, const b3cas_tree_counts *c)
{
	fprintf(stderr, "tree %s: %llu files (%llu bytes), %llu folders, "
		"%llu links and special files\n", what,
		(unsigned long long)c->files, (unsigned long long)c->bytes,
		(unsigned long long)c->dirs, (unsigned long long)c->others);
	if (c->cached || c->found)
		fprintf(stderr, "tree %s: %llu files known from the cache, "
			"%llu folders' trees stored already\n", what,
			(unsigned long long)c->cached,
			(unsigned long long)c->found);
}

/* The exit code of a failed tree call (is_lookup: not found is 1). */
static int failed(int err, bool is_lookup)
{
	cli_error("%s", b3cas_error_last());
	/* what the file system refused is the caller's input */
	if (err == B3CAS_EEXISTS)
		return CLI_USAGE;
	return cli_exit_code(err, is_lookup);
}

/*
 * What each subcommand starts with: parse argv by spec into a and *pos,
 * the first nids arguments as ids into ids, and open the store (for
 * writing with rw). CLI_OK with *s open; CLI_OK with *s NULL after --help
 * (nothing more to do); or an exit code after a message.
 */
static int begin(cli_ctx *ctx, const cli_spec *spec, tree_args *a, int argc,
		 char **argv, cli_args *pos, b3cas_oid *ids, int nids,
		 bool rw, b3cas_store **s)
{
	int rc;

	*s = NULL;
	if (!cli_opt_parse(&rc, pos, spec, a, argc, argv))
		return rc;
	for (int i = 0; i < nids; i++)
		if (!cli_parse_oid(&ids[i], pos->v[i]))
			return CLI_USAGE;
	return rw ? cli_open_store_rw(s, ctx) : cli_open_store_ro(s, ctx);
}

static int tree_put(cli_ctx *ctx, int argc, char **argv)
{
	tree_args a = {false, false, NULL, 0};
	b3cas_tree_put_options o = B3CAS_TREE_PUT_OPTIONS_INIT;
	b3cas_tree_counts c;
	b3cas_store *s;
	b3cas_oid root;
	cli_args pos;
	char hex[B3CAS_OID_HEX_LEN + 1];
	int rc, err;

	rc = begin(ctx, &put_spec, &a, argc, argv, &pos, NULL, 0, true, &s);
	if (rc != CLI_OK || !s)
		return rc;
	o.cache = a.cache;
	err = b3cas_tree_put(s, pos.v[0], &o, &root, &c);
	if (err < 0) {
		/* a folder that cannot be read is the caller's input */
		rc = err == B3CAS_ENOTFOUND || err == B3CAS_EPERM ||
				     err == B3CAS_EBUSY
			     ? (cli_error("%s", b3cas_error_last()), CLI_USAGE)
			     : failed(err, false);
		return cli_close_store(s, rc);
	}
	printf("%s\n", b3cas_oid_fmt(hex, &root));
	if (!a.quiet)
		print_counts("put", &c);
	return cli_close_store(s, CLI_OK);
}

static int tree_get(cli_ctx *ctx, int argc, char **argv)
{
	tree_args a = {false, false, NULL, 0};
	b3cas_tree_get_options o = B3CAS_TREE_GET_OPTIONS_INIT;
	b3cas_tree_counts c;
	b3cas_store *s;
	b3cas_oid root;
	cli_args pos;
	int rc, err;

	rc = begin(ctx, &get_spec, &a, argc, argv, &pos, &root, 1, false, &s);
	if (rc != CLI_OK || !s)
		return rc;
	o.threads = (unsigned)a.threads;
	if (!a.quiet) {
		o.progress = cli_report_tree_progress;
		o.progress_ctx = (void *)"tree get";
	}
	err = b3cas_tree_get(s, &root, pos.v[1], &o, &c);
	if (err < 0)
		rc = err == B3CAS_EPERM || err == B3CAS_ENOSPC
			     ? (cli_error("%s", b3cas_error_last()), CLI_USAGE)
			     : failed(err, true);
	else if (!a.quiet)
		print_counts("get", &c);
	return cli_close_store(s, rc);
}

static char type_char(b3cas_tree_type t)
{
	static const char c[] = "?-dlcbps";

	return (unsigned)t < sizeof(c) - 1 ? c[t] : '?';
}

typedef struct ls_run {
	b3cas_store *s;
	bool recursive;
	char *path;
	size_t cap;
} ls_run;

static int ls_tree(ls_run *r, const b3cas_tree *t, size_t plen);

static int ls_entry(ls_run *r, const b3cas_tree_entry *e, size_t plen)
{
	char hex[B3CAS_OID_HEX_LEN + 1];
	size_t need = plen + e->name_len + 2;
	b3cas_tree *sub;
	int err, rc = CLI_OK;

	if (need > r->cap) {
		char *p = realloc(r->path, need * 2);

		if (!p) {
			cli_error("out of memory");
			return CLI_STORE;
		}
		r->path = p;
		r->cap = need * 2;
	}
	memcpy(r->path + plen, e->name, e->name_len);
	r->path[plen + e->name_len] = '\0';
	if (e->type == B3CAS_TREE_DIR) {
		err = b3cas_tree_load(r->s, &e->id, &sub);
		if (err < 0)
			return failed(err, false);
		printf("d %04o %llu:%llu %12s %s %s/\n", sub->self.mode,
		       (unsigned long long)sub->self.uid,
		       (unsigned long long)sub->self.gid, "-",
		       b3cas_oid_fmt(hex, &e->id), r->path);
		if (r->recursive) {
			r->path[plen + e->name_len] = '/';
			rc = ls_tree(r, sub, plen + e->name_len + 1);
		}
		b3cas_tree_free(sub);
		return rc;
	}
	printf("%c %04o %llu:%llu %12llu %s %s", type_char(e->type),
	       e->attr.mode, (unsigned long long)e->attr.uid,
	       (unsigned long long)e->attr.gid,
	       (unsigned long long)e->size,
	       e->type == B3CAS_TREE_FILE ? b3cas_oid_fmt(hex, &e->id) : "-",
	       r->path);
	if (e->type == B3CAS_TREE_SYMLINK)
		printf(" -> %.*s", (int)e->target_len, e->target);
	putchar('\n');
	return CLI_OK;
}

static int ls_tree(ls_run *r, const b3cas_tree *t, size_t plen)
{
	int rc = CLI_OK;

	for (size_t i = 0; rc == CLI_OK && i < t->count; i++)
		rc = ls_entry(r, &t->entries[i], plen);
	return rc;
}

/* Walk path (its '/'-separated names) down from tree *t, which it
 * replaces. CLI_OK, or an exit code after a message. */
static int descend(b3cas_store *s, b3cas_tree **t, const char *path)
{
	const char *p = path;

	while (*p) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		ptrdiff_t i;
		b3cas_tree *sub;
		int err;

		if (n == 0 || (n == 1 && p[0] == '.')) {
			p += n + (end != NULL);
			continue;
		}
		i = b3cas_tree_find(*t, p, n);
		if (i < 0 || (*t)->entries[i].type != B3CAS_TREE_DIR) {
			cli_error("%s: %s in the tree", path,
				  i < 0 ? "no such entry" : "not a folder");
			return CLI_NEGATIVE;
		}
		err = b3cas_tree_load(s, &(*t)->entries[i].id, &sub);
		if (err < 0)
			return failed(err, false);
		b3cas_tree_free(*t);
		*t = sub;
		p += n + (end != NULL);
	}
	return CLI_OK;
}

static int tree_ls(cli_ctx *ctx, int argc, char **argv)
{
	tree_args a = {false, false, NULL, 0};
	ls_run r = {NULL, false, NULL, 0};
	b3cas_tree *t = NULL;
	b3cas_store *s;
	b3cas_oid root;
	cli_args pos;
	int rc, err;

	rc = begin(ctx, &ls_spec, &a, argc, argv, &pos, &root, 1, false, &s);
	if (rc != CLI_OK || !s)
		return rc;
	err = b3cas_tree_load(s, &root, &t);
	if (err < 0)
		rc = failed(err, true);
	if (rc == CLI_OK && pos.n > 1)
		rc = descend(s, &t, pos.v[1]);
	if (rc == CLI_OK) {
		r.s = s;
		r.recursive = a.recursive;
		rc = ls_tree(&r, t, 0);
	}
	free(r.path);
	b3cas_tree_free(t);
	if (fflush(stdout) != 0 && rc == CLI_OK) {
		cli_error("cannot write the list: %s", strerror(errno));
		rc = CLI_USAGE;
	}
	return cli_close_store(s, rc);
}

static int print_diff(const char *path, int change, const b3cas_tree_entry *x,
		      const b3cas_tree_entry *y, void *ctx)
{
	const b3cas_tree_entry *e = y ? y : x;

	(void)ctx;
	printf("%c %s%s\n", change, path,
	       e && e->type == B3CAS_TREE_DIR ? "/" : "");
	*(bool *)ctx = true;
	return 0;
}

static int tree_diff(cli_ctx *ctx, int argc, char **argv)
{
	tree_args a = {false, false, NULL, 0};
	b3cas_store *s;
	b3cas_oid ids[2];
	cli_args pos;
	bool differ = false;
	int rc, err;

	rc = begin(ctx, &diff_spec, &a, argc, argv, &pos, ids, 2, false, &s);
	if (rc != CLI_OK || !s)
		return rc;
	err = b3cas_tree_diff(s, &ids[0], &ids[1], print_diff, &differ);
	if (err < 0)
		rc = failed(err, true);
	else if (differ)
		rc = CLI_NEGATIVE;
	return cli_close_store(s, rc);
}

int cmd_tree(cli_ctx *ctx, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(cli_ctx *, int, char **);
	} subs[] = {{"put", tree_put},
		    {"get", tree_get},
		    {"ls", tree_ls},
		    {"diff", tree_diff}};
	int rc;

	if (argc < 2 || argv[1][0] == '-') {
		cli_args pos;
		tree_args a;

		/* --help, or nothing: the parser says which */
		if (!cli_opt_parse(&rc, &pos, &cmd_tree_spec, &a, argc, argv))
			return rc;
		return cli_usage_error("tree", "expected put, get, ls or diff");
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].run(ctx, argc - 1, argv + 1);
	return cli_usage_error("tree", "unknown subcommand '%s' (put, get, "
			       "ls or diff)", argv[1]);
}
