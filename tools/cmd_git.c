/*
 * cmd_git.c - `b3cas git import|map|cat-file` (docs/git.md): git
 * repositories' objects in the store, and git's ids mapped both ways.
 *
 * import reads a repository through git itself (`git cat-file
 * --batch-all-objects --batch`, which reads loose and packed objects of
 * either object format), so it needs the git program; every object is
 * checked against its id before it is stored.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <malloc.h>
#include <time.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "b3cas/b3cas.h"
#include "cli.h"
#include "cmd_git.h"

typedef struct git_args {
	const char *name;
	bool force;
	bool quiet, batch, batch_check, t, s, p, e;
} git_args;

static int lib_error(int err, bool lookup)
{
	cli_error("%s", b3cas_error_last());
	return cli_exit_code(err, lookup);
}

/* ---- running git ---------------------------------------------------------- */

/* s in single quotes for the shell (a new string), or NULL. */
static char *sh_quote(const char *s)
{
	char *q = malloc(strlen(s) * 4 + 3), *o = q;

	if (!q)
		return NULL;
	*o++ = '\'';
	for (; *s; s++) {
		if (*s == '\'') {
			memcpy(o, "'\\''", 4);
			o += 4;
		} else {
			*o++ = *s;
		}
	}
	*o++ = '\'';
	*o = '\0';
	return q;
}

/* popen of `git [-C repo] ARGS ['last']` (args already quoted for the
 * shell; repo and last, either may be NULL, quoted here). */
static FILE *git_run2(const char *repo, const char *args, const char *last)
{
	char *r = repo ? sh_quote(repo) : NULL, *l = last ? sh_quote(last) : NULL;
	size_t n = strlen(args) + (r ? strlen(r) : 0) + (l ? strlen(l) : 0) + 16;
	char *cmd = malloc(n);
	FILE *f = NULL;

	if (cmd && (r || !repo) && (l || !last)) {
		snprintf(cmd, n, "git %s%s %s %s", r ? "-C " : "", r ? r : "",
			 args, l ? l : "");
		f = popen(cmd, "r");
	}
	free(cmd);
	free(r);
	free(l);
	return f;
}

static FILE *git_run(const char *repo, const char *args)
{
	return git_run2(repo, args, NULL);
}

/* ---- import ------------------------------------------------------------------ */

/* A tree, commit or tag stored by the first pass: its links come in the
 * second. */
typedef struct linked {
	b3cas_git_object o;
} linked;

typedef struct import_run {
	b3cas_store *s;
	b3cas_lease *lease;
	b3cas_git_algo algo;
	linked *items;
	size_t n, cap;
	uint64_t objects, bytes, links;
	/* progress on a terminal (not with -q): git's count of its
	 * objects (loose and packed, a pack's duplicates counted twice),
	 * when the line was drawn last, the start */
	bool progress;
	uint64_t total;
	double last, t0;
} import_run;

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The import's progress line: what of total (0: unknown), every 0.1 s
 * at most, or final. */
static void import_progress(import_run *r, const char *what, uint64_t done,
			    uint64_t total, bool final)
{
	double t = now_s();
	b3cas_progress p = {done, total, r->bytes, t - r->t0};

	if (!r->progress || (!final && t - r->last < 0.1))
		return;
	r->last = t;
	cli_progress(what, &p, final);
}

/* Blobs of more than STREAM_MIN bytes are imported in pieces of
 * STREAM_PIECE through a b3cas_git_writer, in bounded memory. */
#define STREAM_MIN (8u << 20)
#define STREAM_PIECE (1u << 20)

/* The size bytes of a blob from f (then its "\n") into the store in
 * pieces; *o gets what was stored. */
static int import_streamed(import_run *r, FILE *f, const char *repo,
			   const char *hex, uint64_t size,
			   b3cas_git_object *o)
{
	b3cas_git_writer *w;
	uint8_t *piece = malloc(STREAM_PIECE);
	uint64_t left = size;
	int err;

	if (!piece) {
		cli_error("git import: out of memory");
		return CLI_STORE;
	}
	err = b3cas_git_writer_open(&w, r->lease, r->algo, B3CAS_GIT_BLOB,
				    size);
	if (err < 0) {
		free(piece);
		return lib_error(err, false);
	}
	while (left > 0) {
		size_t n = left < STREAM_PIECE ? (size_t)left : STREAM_PIECE;

		if (fread(piece, 1, n, f) != n)
			break;
		err = b3cas_git_writer_write(w, piece, n);
		if (err < 0) {
			b3cas_git_writer_abort(w);
			free(piece);
			return lib_error(err, false);
		}
		left -= n;
	}
	free(piece);
	if (left > 0 || fgetc(f) != '\n') {
		b3cas_git_writer_abort(w);
		cli_error("git import: %s: git cat-file's output of %s ended "
			  "early", repo, hex);
		return CLI_STORE;
	}
	err = b3cas_git_writer_commit(w, o);
	return err < 0 ? lib_error(err, false) : CLI_OK;
}

/* The size bytes of an object from f (then its "\n") into *buf (grown
 * as needed, *cap bytes), then into the store; *o gets what was
 * stored. */
static int import_whole(import_run *r, FILE *f, const char *repo,
			const char *hex, b3cas_git_type type, uint64_t size,
			uint8_t **buf, size_t *cap, b3cas_git_object *o)
{
	int err;

	if (size + 1 > *cap) {
		uint8_t *m = size < SIZE_MAX ? realloc(*buf, (size_t)size + 1)
					     : NULL;

		if (!m) {
			cli_error("git import: out of memory for an object of "
				  "%llu bytes", (unsigned long long)size);
			return CLI_STORE;
		}
		*buf = m;
		*cap = (size_t)size + 1;
	}
	if (fread(*buf, 1, (size_t)size + 1, f) != size + 1 ||
	    (*buf)[size] != '\n') {
		cli_error("git import: %s: git cat-file's output of %s ended "
			  "early", repo, hex);
		return CLI_STORE;
	}
	err = b3cas_git_put(r->lease, r->algo, type, *buf, (size_t)size, NULL,
			    0, o);
	return err < 0 ? lib_error(err, false) : CLI_OK;
}

/* Read "<hex> <type> <size>\n" + content + "\n" records from f; store
 * each (checked against its id); keep the trees, commits and tags. */
static int import_objects(import_run *r, FILE *f, const char *repo)
{
	char line[256];
	uint8_t *buf = NULL;
	size_t cap = 0;

	while (fgets(line, sizeof(line), f)) {
		char hex[B3CAS_GIT_HEX_MAX + 2], tname[16];
		unsigned long long size;
		b3cas_git_type type;
		b3cas_git_oid want;
		b3cas_git_object o;
		char got[B3CAS_GIT_HEX_MAX + 1];
		int err;

		if (sscanf(line, "%65s %15s", hex, tname) == 2 &&
		    strcmp(tname, "missing") == 0) {
			free(buf);
			cli_error("git import: %s: git cannot read object %s, "
				  "which it lists (a damaged repository: "
				  "`git fsck` tells more)", repo, hex);
			return CLI_STORE;
		}
		if (sscanf(line, "%65s %15s %llu", hex, tname, &size) != 3 ||
		    b3cas_git_oid_parse(&want, hex) != 0 ||
		    want.algo != r->algo ||
		    b3cas_git_type_parse(&type, tname) != 0) {
			free(buf);
			cli_error("git import: %s: unexpected output of git "
				  "cat-file: %.80s", repo, line);
			return CLI_STORE;
		}
		if (type == B3CAS_GIT_BLOB && size > STREAM_MIN)
			err = import_streamed(r, f, repo, hex, size, &o);
		else
			err = import_whole(r, f, repo, hex, type, size, &buf,
					   &cap, &o);
		if (err != CLI_OK) {
			free(buf);
			return err;
		}
		if (memcmp(o.git.bytes, want.bytes,
			   b3cas_git_oid_len(r->algo)) != 0) {
			free(buf);
			cli_error("git import: %s: object %s hashes to %s: the "
				  "repository is corrupt", repo, hex,
				  b3cas_git_oid_fmt(got, &o.git));
			return CLI_STORE;
		}
		r->objects++;
		r->bytes += size;
		import_progress(r, "git import: objects", r->objects,
				r->total > r->objects ? r->total : 0, false);
		if (type != B3CAS_GIT_BLOB) {
			if (r->n == r->cap) {
				linked *m = realloc(r->items,
						    (r->cap ? r->cap * 2 : 64) *
							    sizeof(*m));

				if (!m) {
					free(buf);
					cli_error("git import: out of memory");
					return CLI_STORE;
				}
				r->items = m;
				r->cap = r->cap ? r->cap * 2 : 64;
			}
			r->items[r->n++].o = o;
		}
	}
	free(buf);
	return CLI_OK;
}

/* The second pass: each tree, commit and tag gets the links to what it
 * names (all stored by the first pass), depth first (b3cas_git_link: one
 * linked already, by an earlier import or clone, is not gone into). Last
 * met first: a pack lists commits newest first, so their parents are
 * linked before them, and the walk does not go down the whole history
 * holding each commit on the way (a repository of loose objects lists
 * them in no such order: the walk then goes as deep as it must). */
static int import_links(import_run *r)
{
	import_progress(r, "git import: objects", r->objects, r->objects,
			true);
	for (size_t i = 0; i < r->n; i++) {
		int err;

		import_progress(r, "git import: links", i, r->n, false);
		err = b3cas_git_link(r->lease, &r->items[r->n - 1 - i].o.git,
				     &r->links);
		if (err < 0)
			return lib_error(err, false);
	}
	import_progress(r, "git import: links", r->n, r->n, true);
	return CLI_OK;
}

/* Each ref of the repository as a name git/NAME/REF (a GC root); HEAD as
 * git/NAME/HEAD, naming a small object "ref: REF\n" when symbolic. */
static int import_refs(import_run *r, const char *repo, const char *name,
		       uint64_t *nrefs)
{
	char line[4200], full[4400];
	FILE *f = git_run(repo, "for-each-ref --format='%(objectname) "
				"%(refname)'");
	int rc = CLI_OK;

	if (!f) {
		cli_error("git import: cannot run git: %s", strerror(errno));
		return CLI_STORE;
	}
	while (rc == CLI_OK && fgets(line, sizeof(line), f)) {
		char *sp = strchr(line, ' ');
		b3cas_git_oid g;
		b3cas_git_object o;
		int err;

		line[strcspn(line, "\n")] = '\0';
		if (!sp)
			continue;
		*sp = '\0';
		if (b3cas_git_oid_parse(&g, line) != 0 ||
		    b3cas_git_lookup(r->s, &g, &o) != 0) {
			cli_error("git import: ref %s names %s, which is not "
				  "in the repository", sp + 1, line);
			rc = CLI_STORE;
			break;
		}
		snprintf(full, sizeof(full), "git/%s/%s", name, sp + 1);
		err = b3cas_name_set(r->s, full, &o.id);
		if (err < 0)
			rc = lib_error(err, false);
		else
			(*nrefs)++;
	}
	if (pclose(f) != 0 && rc == CLI_OK) {
		cli_error("git import: git for-each-ref failed in %s", repo);
		rc = CLI_STORE;
	}
	if (rc != CLI_OK)
		return rc;
	/* HEAD: symbolic (a small object "ref: REF\n") or detached */
	f = git_run(repo, "symbolic-ref -q HEAD 2>/dev/null");
	line[0] = '\0';
	if (f && (!fgets(line, sizeof(line) - 8, f) || pclose(f) != 0))
		line[0] = '\0';
	else if (!f)
		line[0] = '\0';
	if (!line[0]) {
		f = git_run(repo, "rev-parse -q --verify HEAD 2>/dev/null");
		if (f && (!fgets(line, sizeof(line) - 8, f) || pclose(f) != 0))
			line[0] = '\0';
	}
	line[strcspn(line, "\n")] = '\0';
	if (line[0]) {
		b3cas_oid id;
		b3cas_git_oid g;
		b3cas_git_object o;
		char text[4300];
		int err;

		snprintf(full, sizeof(full), "git/%s/HEAD", name);
		if (b3cas_git_oid_parse(&g, line) == 0) {
			err = b3cas_git_lookup(r->s, &g, &o);
			id = o.id;
		} else {
			int n = snprintf(text, sizeof(text), "ref: %s\n", line);

			err = b3cas_lease_put(r->lease, &id, text, (size_t)n);
		}
		if (err >= 0)
			err = b3cas_name_set(r->s, full, &id);
		if (err < 0)
			rc = lib_error(err, false);
	}
	return rc;
}

/* The name a repository at path gets in the store: given (--name), or
 * the folder's last part less ".git" (a new string, NULL when out of
 * memory). */
char *cli_git_repo_name(const char *given, const char *path)
{
	const char *b = strrchr(path, '/');
	char *name;
	size_t l;

	if (given)
		return strdup(given);
	while (b && b[1] == '\0' && b > path) { /* trailing slashes */
		const char *c = b;

		while (c > path && c[-1] != '/')
			c--;
		b = c > path ? c - 1 : NULL;
		break;
	}
	name = strdup(b ? b + 1 : path);
	l = name ? strcspn(name, "/") : 0;
	if (name)
		name[l] = '\0';
	/* "project.git" is the repository "project" */
	if (name && l > 4 && strcmp(name + l - 4, ".git") == 0)
		name[l - 4] = '\0';
	return name;
}

static const cli_opt import_opts[] = {
	CLI_VALUE("name", 'n', "NAME", git_args, name, NULL,
		  "the repository's name in the store (default: the folder's "
		  "name)"),
	CLI_FLAG("quiet", 'q', git_args, quiet, "print nothing on success"),
	CLI_ARG("REPO", true, "expected a repository", "a git repository "
		"(bare or not), in any object format"),
	CLI_END,
};

static const cli_spec import_spec = {
	.name = "git import",
	.summary = "store every object and ref of a git repository",
	.about = "Store every object of repository REPO (loose and packed, "
		 "read through\n`git cat-file`, each checked against its id) "
		 "with git's ids mapped to\nb3cas's both ways, trees, commits "
		 "and tags holding what they name, and\neach ref as the name "
		 "git/NAME/REF (a GC root, so what the refs reach\nstays until "
		 "the names are removed). Objects no ref reaches are kept\n"
		 "only until the next gc, as git's own prune would. Running "
		 "it again stores\nwhat is new.\n",
	.exits = "Exit codes: 0 ok, 2 bad arguments or not a repository, 3 "
		 "store error or\na corrupt repository.\n",
	.opts = import_opts,
	.store = true,
};

static int import(cli_ctx *ctx, int argc, char **argv)
{
	git_args a;
	cli_args pos;
	import_run r;
	char fmt[32] = "", *name;
	const char *repo;
	uint64_t nrefs = 0;
	FILE *f;
	int rc, err;

	memset(&a, 0, sizeof(a));
	memset(&r, 0, sizeof(r));
	if (!cli_opt_parse(&rc, &pos, &import_spec, &a, argc, argv))
		return rc;
	repo = pos.v[0];
	f = git_run(repo, "rev-parse --show-object-format 2>/dev/null");
	if (!f || !fgets(fmt, sizeof(fmt), f) || pclose(f) != 0) {
		cli_error("git import: %s is not a git repository (or git is "
			  "not installed)", repo);
		return CLI_USAGE;
	}
	f = NULL;
	fmt[strcspn(fmt, "\n")] = '\0';
	r.algo = strcmp(fmt, "sha256") == 0 ? B3CAS_GIT_SHA256 : B3CAS_GIT_SHA1;
	if (strcmp(fmt, "sha1") != 0 && strcmp(fmt, "sha256") != 0) {
		cli_error("git import: %s: object format '%s' is not known",
			  repo, fmt);
		return CLI_USAGE;
	}
	name = cli_git_repo_name(a.name, repo);
	if (!name || !*name || strchr(name, '/')) {
		free(name);
		return cli_usage_error("git import", "give the repository a "
				       "name without '/' (--name)");
	}
	rc = cli_open_store_rw(&r.s, ctx);
	if (rc != CLI_OK) {
		free(name);
		return rc;
	}
	err = b3cas_lease_open(r.s, &r.lease);
	if (err < 0) {
		free(name);
		return cli_close_store(r.s, lib_error(err, false));
	}
	r.progress = !a.quiet;
	r.t0 = now_s();
	if (r.progress && (f = git_run(repo, "count-objects -v"))) {
		char line[128];
		unsigned long long v;

		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "count: %llu", &v) == 1 ||
			    sscanf(line, "in-pack: %llu", &v) == 1)
				r.total += v;
		pclose(f);
	}
	f = git_run(repo, "cat-file --batch-all-objects --batch --unordered");
	if (!f) {
		cli_error("git import: cannot run git: %s", strerror(errno));
		rc = CLI_STORE;
	} else {
		rc = import_objects(&r, f, repo);
		if (pclose(f) != 0 && rc == CLI_OK) {
			cli_error("git import: git cat-file failed in %s",
				  repo);
			rc = CLI_STORE;
		}
	}
	if (rc == CLI_OK)
		rc = import_links(&r);
	if (rc == CLI_OK)
		rc = import_refs(&r, repo, name, &nrefs);
	/* the refs and links hold what is reached now: the lease's go */
	err = b3cas_lease_close(r.lease);
	if (err < 0 && rc == CLI_OK)
		rc = lib_error(err, false);
	if (rc == CLI_OK && !a.quiet)
		printf("git import: %s: %llu objects (%llu bytes), %llu links, "
		       "%llu refs as git/%s/\n",
		       repo, (unsigned long long)r.objects,
		       (unsigned long long)r.bytes,
		       (unsigned long long)r.links, (unsigned long long)nrefs,
		       name);
	free(r.items);
	free(name);
	return cli_close_store(r.s, rc);
}

/* ---- map and cat-file ------------------------------------------------------- */

/* An id given on the command line: a git id (SHA-1, SHA-256, or at
 * least 4 hex digits of one) or a b3cas id (64 hex digits, as a git id
 * of either format). 0 and *o, or the lookup's error. */
static int resolve(b3cas_store *s, const char *text, b3cas_git_object *o,
		   bool reading)
{
	size_t n = strlen(text);
	b3cas_git_oid g;
	b3cas_oid id;
	int err;

	if ((n == 40 || n == 64) && b3cas_git_oid_parse(&g, text) == 0) {
		/* an object read next is checked by its read */
		err = reading ? b3cas_git_mapping(s, &g, o)
			      : b3cas_git_lookup(s, &g, o);
		if (err != B3CAS_ENOTFOUND || n != 64)
			return err;
	}
	if (n == 64 && b3cas_oid_parse(&id, text) == 0) {
		err = b3cas_git_reverse(s, &id, B3CAS_GIT_SHA1, 0, o);
		if (err == B3CAS_ENOTFOUND)
			err = b3cas_git_reverse(s, &id, B3CAS_GIT_SHA256, 0, o);
		return err;
	}
	err = b3cas_git_lookup_prefix(s, B3CAS_GIT_SHA1, text, o);
	if (err == B3CAS_ENOTFOUND && n >= 4 && n <= 64)
		err = b3cas_git_lookup_prefix(s, B3CAS_GIT_SHA256, text, o);
	return err;
}

static const cli_opt map_opts[] = {
	CLI_ARG("ID", true, "expected an id", "a git id (full, or 4 hex "
		"digits or more of one) or a b3cas id"),
	CLI_END,
};

static const cli_spec map_spec = {
	.name = "git map",
	.summary = "translate a git id to a b3cas id, or back",
	.about = "Print what ID maps to: for a git id, 'B3CAS_ID TYPE SIZE'; "
		 "for a b3cas id\n(64 hex digits that are not a mapped "
		 "SHA-256 git id), 'GIT_ID TYPE SIZE'.\nAn abbreviated git id "
		 "must name one object.\n",
	.exits = "Exit codes: 0 ok, 1 not mapped, 2 malformed or ambiguous "
		 "ID, 3 store error.\n",
	.opts = map_opts,
	.store = true,
};

static int id_error(int err)
{
	cli_error("%s", b3cas_error_last());
	return err == B3CAS_EEXISTS ? CLI_USAGE : cli_exit_code(err, true);
}

static int map(cli_ctx *ctx, int argc, char **argv)
{
	git_args a;
	cli_args pos;
	b3cas_store *s;
	b3cas_git_object o;
	char hex[B3CAS_GIT_HEX_MAX + 1], bhex[B3CAS_OID_HEX_LEN + 1];
	b3cas_oid id;
	int rc, err;

	memset(&a, 0, sizeof(a));
	if (!cli_opt_parse(&rc, &pos, &map_spec, &a, argc, argv))
		return rc;
	rc = cli_open_store_ro(&s, ctx);
	if (rc != CLI_OK)
		return rc;
	err = resolve(s, pos.v[0], &o, false);
	if (err < 0)
		return cli_close_store(s, id_error(err));
	/* which way: the input is o's b3cas id, or one of its git ids */
	if (strlen(pos.v[0]) == B3CAS_OID_HEX_LEN &&
	    b3cas_oid_parse(&id, pos.v[0]) == 0 && b3cas_oid_equal(&id, &o.id))
		printf("%s %s %llu\n", b3cas_git_oid_fmt(hex, &o.git),
		       b3cas_git_type_name(o.type),
		       (unsigned long long)o.size);
	else
		printf("%s %s %llu\n", b3cas_oid_fmt(bhex, &o.id),
		       b3cas_git_type_name(o.type),
		       (unsigned long long)o.size);
	return cli_finish_stdout(cli_close_store(s, CLI_OK));
}

static const cli_opt cat_opts[] = {
	CLI_FLAG("type", 't', git_args, t, "print the object's type"),
	CLI_FLAG("size", 's', git_args, s, "print the object's size"),
	CLI_FLAG("pretty", 'p', git_args, p,
		 "print the content (a tree as git ls-tree does)"),
	CLI_FLAG("exists", 'e', git_args, e,
		 "print nothing: exit 0 if the object is stored, 1 if not"),
	CLI_FLAG("batch", 0, git_args, batch,
		 "for each id on standard input: 'ID TYPE SIZE', the content "
		 "and a\nnewline ('ID missing' if not stored), as git "
		 "cat-file --batch"),
	CLI_FLAG("batch-check", 0, git_args, batch_check,
		 "as --batch without the content"),
	CLI_ARG("ID", false, NULL, "a git id (full or abbreviated) or a "
		"b3cas id"),
	CLI_END,
};

static const cli_spec cat_spec = {
	.name = "git cat-file",
	.summary = "show git objects from the store",
	.about = "Show the git object ID (-t, -s, -p or -e), or those whose "
		 "ids standard\ninput lists, one per line (--batch, "
		 "--batch-check), as git cat-file\ndoes. The content is the "
		 "object's exact git bytes, read from the store\nand checked "
		 "against its b3cas id.\n",
	.exits = "Exit codes: 0 ok, 1 not stored (-e, or ID), 2 bad "
		 "arguments or an\nambiguous ID, 3 store error.\n",
	.opts = cat_opts,
	.store = true,
};

/* A tree's entries as "MODE TYPE ID\tNAME" lines (git ls-tree). */
static int print_tree(b3cas_store *s, b3cas_git_algo algo, const uint8_t *p,
		      size_t len)
{
	const uint8_t *end = p + len;
	size_t idlen = b3cas_git_oid_len(algo);

	while (p < end) {
		const uint8_t *sp = memchr(p, ' ', (size_t)(end - p));
		const uint8_t *z = sp ? memchr(sp, 0, (size_t)(end - sp)) : NULL;
		b3cas_git_oid g = {algo, {0}};
		char hex[B3CAS_GIT_HEX_MAX + 1];
		const char *type;
		int mode;

		if (!sp || !z || (size_t)(end - z - 1) < idlen) {
			cli_error("git cat-file: a malformed tree");
			return CLI_STORE;
		}
		memcpy(g.bytes, z + 1, idlen);
		mode = (int)strtol((const char *)p, NULL, 8);
		type = mode == 040000 ? "tree"
		       : mode == 0160000 ? "commit"
					  : "blob";
		printf("%06o %s %s\t%.*s\n", mode, type,
		       b3cas_git_oid_fmt(hex, &g), (int)(z - sp - 1),
		       (const char *)sp + 1);
		p = z + 1 + idlen;
	}
	(void)s;
	return CLI_OK;
}

/*
 * --batch in a pipeline of blocks: a thread reads ids from standard
 * input, BLOCK_IDS lines to a block, into a ring of BATCH_BLOCKS blocks;
 * workers (one per CPU, at most 8) each take a whole block and look up
 * and read its objects in order, publishing how many are done; this
 * thread writes the blocks out in input order, each object as soon as it
 * is done. Threads meet once a block, not once an object: with a ring of
 * 64 single-id slots and one condition variable, the threads' wake-ups
 * were a quarter of the run's time (perf: finish_task_switch and
 * _raw_spin_unlock_irqrestore at 25%; 106,717 objects in 1.5 s against
 * git's 0.95). A block holds at most BLOCK_BYTES of content, read
 * straight into it (b3cas_store_read_at: no copy between, nothing put in
 * L1, where objects read once would only churn). A worker whose block
 * has no room left for its next object waits until this thread has
 * written out the objects before it, then fills the block from its start
 * again (batch_drain); only an object of BLOCK_BYTES or more is left to
 * this thread, which streams it when its turn comes. So memory stays
 * under BATCH_BLOCKS x BLOCK_BYTES whatever the objects, and the reading
 * stays on the workers: when this thread streamed every object that did
 * not fit, 21,614 blobs of 16 KiB to 16 MiB (libgit2's history) took
 * 7.4 s, mostly on this thread, against git's 3.6.
 */
#define BLOCK_IDS 256
#define BATCH_BLOCKS 8
#define BLOCK_BYTES (8u << 20)
#define BATCH_RUN 32
/*
 * The blocks a worker reads (RocksDB's block cache filling, the views'
 * buffers) grow its malloc arena a page at a time, an mprotect each:
 * 75,000 of them for 106,717 objects. A worker first takes and frees
 * WARM_PIECES x WARM_PIECE (below the mmap threshold, so from its
 * arena), and the trim threshold keeps the first heap grown (glibc
 * deletes the others once empty): untouched pages, no RSS. Measured:
 * 65,000 mprotect calls left, wall 0.99-1.13 s before, 0.84-0.98 after
 * (5 runs each, git 0.89-0.94).
 */
#define WARM_PIECE (96u << 10)
#define WARM_PIECES 2048

typedef struct bslot {
	char in[256];
	int err;   /* resolve's or the read's code; 0 */
	char *msg; /* its message (err < 0), or NULL */
	b3cas_git_object o;
	void *data; /* the content (in its block's buf), or NULL (none
		       asked, or streamed) */
	size_t len;
} bslot;

enum { BLOCK_FREE, BLOCK_QUEUED, BLOCK_TAKEN };

typedef struct bblock {
	bslot slot[BLOCK_IDS];
	/* the slots' contents, BLOCK_BYTES (allocated at first use, its
	 * pages touched as filled): read into by the worker, so that no
	 * buffer is freed by another thread than the one that allocated it
	 * (the writer freeing the workers' made malloc's arena locks a
	 * quarter of the system calls, and its heaps' mprotect most of the
	 * rest) */
	uint8_t *buf;
	unsigned n;        /* slots filled by the reader */
	int state;
	atomic_uint done;  /* leading slots done (the worker's) */
	atomic_uint written; /* leading slots written out (the writer's) */
	atomic_uint drain;   /* the worker waits for written to reach this
				(0: it does not wait) */
} bblock;

typedef struct batch {
	b3cas_store *s;
	bool content;
	pthread_mutex_t m;
	pthread_cond_t space, work, done, drained;
	bblock blk[BATCH_BLOCKS];
	uint64_t head, tail, next; /* blocks: to write, to fill, to work on */
	atomic_uint want; /* the writer waits for its block's done to reach
			     this (0: it does not wait) */
	bool eof, stop;
	int read_err; /* errno of reading standard input, or 0 */
} batch;

/* Standard input read a buffer at a time, split into lines. */
typedef struct line_in {
	char buf[1 << 16];
	size_t at, end;
	bool eof;
	int err; /* errno of a failed read, or 0 */
} line_in;

/* The next line (its "\n" dropped, cut to cap - 1 bytes) into out: 1, 0
 * at the end of input or after an error, -1 when none is buffered and
 * none is ready to be read (only when !wait). */
static int next_line(line_in *li, char *out, size_t cap, bool wait)
{
	for (;;) {
		char *nl = memchr(li->buf + li->at, '\n', li->end - li->at);
		size_t len;

		if (nl || (li->eof && li->at < li->end)) {
			size_t n = nl ? (size_t)(nl - (li->buf + li->at))
				      : li->end - li->at;

			len = n < cap - 1 ? n : cap - 1;
			memcpy(out, li->buf + li->at, len);
			out[len] = '\0';
			li->at += n + (nl != NULL);
			return 1;
		}
		if (li->eof)
			return 0;
		if (!wait) {
			struct pollfd p = {STDIN_FILENO, POLLIN, 0};

			if (poll(&p, 1, 0) == 0)
				return -1;
		}
		if (li->at > 0) { /* keep the partial line, make room */
			memmove(li->buf, li->buf + li->at, li->end - li->at);
			li->end -= li->at;
			li->at = 0;
		}
		if (li->end == sizeof(li->buf)) { /* a line longer than all */
			li->buf[sizeof(li->buf) - 1] = '\n';
			continue;
		}
		ssize_t got = read(STDIN_FILENO, li->buf + li->end,
				   sizeof(li->buf) - li->end);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			li->err = got < 0 ? errno : 0;
			li->eof = true;
			continue;
		}
		li->end += (size_t)got;
	}
}

/*
 * A block is queued when full, at the end of input, or as soon as the
 * input has nothing more ready: a program that writes an id and waits
 * for its answer (as git cat-file --batch's callers may) gets it, and
 * the writer flushes standard output whenever it has to wait.
 */
static void *batch_reader(void *arg)
{
	batch *b = arg;
	line_in *li = malloc(sizeof(*li));
	bool more = li != NULL;

	if (li) {
		li->at = li->end = 0;
		li->eof = false;
		li->err = 0;
	}
	while (more) {
		bblock *k;
		unsigned n = 0;
		int got = 1;

		pthread_mutex_lock(&b->m);
		while (!b->stop && b->tail - b->head == BATCH_BLOCKS)
			pthread_cond_wait(&b->space, &b->m);
		if (b->stop) {
			pthread_mutex_unlock(&b->m);
			free(li);
			return NULL;
		}
		k = &b->blk[b->tail % BATCH_BLOCKS];
		pthread_mutex_unlock(&b->m);
		/* the block is the reader's until it is queued */
		while (n < BLOCK_IDS &&
		       (got = next_line(li, k->slot[n].in,
					sizeof(k->slot[n].in), n == 0)) == 1) {
			bslot *sl = &k->slot[n++];

			sl->data = NULL;
			sl->msg = NULL;
			sl->err = 0;
		}
		more = got != 0;
		pthread_mutex_lock(&b->m);
		if (!more)
			b->read_err = li->err;
		if (n > 0) {
			k->n = n;
			atomic_store(&k->done, 0);
			atomic_store(&k->written, 0);
			atomic_store(&k->drain, 0);
			k->state = BLOCK_QUEUED;
			b->tail++;
			pthread_cond_signal(&b->work);
			pthread_cond_signal(&b->done); /* a writer caught up */
		}
		if (!more) {
			b->eof = true;
			pthread_cond_broadcast(&b->work);
			pthread_cond_broadcast(&b->done);
		}
		pthread_mutex_unlock(&b->m);
	}
	if (!li) {
		pthread_mutex_lock(&b->m);
		b->read_err = ENOMEM;
		b->eof = true;
		pthread_cond_broadcast(&b->work);
		pthread_cond_broadcast(&b->done);
		pthread_mutex_unlock(&b->m);
	}
	free(li);
	return NULL;
}

/*
 * Wait until the writer has written out slots [0, i) of block k, whose
 * content then takes no room in its buffer. false: the run stopped.
 */
static bool batch_drain(batch *b, bblock *k, unsigned i)
{
	bool ok;

	/* seq_cst: the writer sees drain, or this sees written (it sets
	 * written before it looks) */
	atomic_store(&k->drain, i);
	pthread_mutex_lock(&b->m);
	/* a writer waiting for a run of slots writes those done now */
	pthread_cond_signal(&b->done);
	while (!b->stop && atomic_load(&k->written) < i)
		pthread_cond_wait(&b->drained, &b->m);
	ok = !b->stop;
	pthread_mutex_unlock(&b->m);
	atomic_store(&k->drain, 0);
	return ok;
}

/* Look up and read slot sl (the i-th) of block k; *held counts k's
 * content held in its buffer. */
static void batch_one(batch *b, bblock *k, unsigned i, size_t *held)
{
	bslot *sl = &k->slot[i];
	int err = resolve(b->s, sl->in, &sl->o, b->content);

	/* no room left: the slots before it written out first */
	if (err == 0 && b->content && sl->o.size < BLOCK_BYTES &&
	    sl->o.size >= BLOCK_BYTES - *held) {
		if (batch_drain(b, k, i))
			*held = 0;
		else
			err = b3cas_error_set(B3CAS_ECANCELED,
					      "git cat-file: stopped");
	}

	if (err == 0 && b->content && sl->o.size < BLOCK_BYTES - *held) {
		size_t got = 0;

		if (!k->buf && !(k->buf = malloc(BLOCK_BYTES)))
			err = b3cas_error_set(B3CAS_ENOMEM, "git cat-file: "
					      "out of memory");
		/* straight into the block: one index read, no copy between;
		 * a byte more asked, to see one that is longer */
		if (err == 0)
			err = b3cas_store_read_at(b->s, &sl->o.id, 0,
						  k->buf + *held,
						  sl->o.size + 1, &got);
		if (err == 0 && got != sl->o.size)
			err = b3cas_error_set(B3CAS_ECORRUPT,
					      "git cat-file: an object's "
					      "content has another size than "
					      "its mapping says");
		if (err == 0) {
			sl->data = k->buf + *held;
			sl->len = got;
			*held += got;
		}
	}
	if (err < 0) {
		sl->msg = strdup(b3cas_error_last());
		b3cas_error_clear();
	}
	sl->err = err;
}

static void *batch_worker(void *arg)
{
	batch *b = arg;
	void *warm[WARM_PIECES];

	/* this thread's malloc heap grown at once (see BATCH_WARM) */
	for (unsigned i = 0; i < WARM_PIECES; i++)
		warm[i] = malloc(WARM_PIECE);
	for (unsigned i = 0; i < WARM_PIECES; i++)
		free(warm[i]);
	pthread_mutex_lock(&b->m);
	for (;;) {
		bblock *k;
		size_t held = 0;
		unsigned n;

		while (!b->stop && b->next == b->tail && !b->eof)
			pthread_cond_wait(&b->work, &b->m);
		if (b->stop || b->next == b->tail)
			break;
		k = &b->blk[b->next++ % BATCH_BLOCKS];
		k->state = BLOCK_TAKEN;
		/* read now: once the last slot is done the writer may free
		 * the block and the reader fill it again */
		n = k->n;
		pthread_mutex_unlock(&b->m);
		for (unsigned i = 0; i < n; i++) {
			batch_one(b, k, i, &held);
			atomic_store(&k->done, i + 1);
			/* seq_cst: the writer sees done, or this sees what
			 * it wants (it sets want before it looks) */
			unsigned w = atomic_load(&b->want);

			if (w && i + 1 >= w) {
				pthread_mutex_lock(&b->m);
				pthread_cond_signal(&b->done);
				pthread_mutex_unlock(&b->m);
			}
		}
		pthread_mutex_lock(&b->m);
	}
	pthread_mutex_unlock(&b->m);
	return NULL;
}

/* Write object o's content from a reader, in pieces. */
static int batch_stream(b3cas_store *s, const b3cas_git_object *o)
{
	b3cas_reader *r;
	uint8_t *buf = malloc(STREAM_PIECE);
	uint64_t done = 0;
	int err = buf ? b3cas_reader_open(&r, s, &o->id) : B3CAS_ENOMEM;

	if (err < 0) {
		free(buf);
		if (err == B3CAS_ENOMEM && !buf)
			b3cas_error_set(err, "git cat-file: out of memory");
		return err;
	}
	for (;;) {
		int64_t n = b3cas_reader_read(r, buf, STREAM_PIECE);

		if (n < 0) {
			err = (int)n;
			break;
		}
		if (n == 0)
			break;
		fwrite(buf, 1, (size_t)n, stdout);
		done += (uint64_t)n;
	}
	b3cas_reader_close(r);
	free(buf);
	if (err == 0 && done != o->size) {
		err = B3CAS_ECORRUPT;
		b3cas_error_set(err, "git cat-file: an object's content has "
				     "another size than its mapping says");
	}
	return err;
}

/* Write slot sl as --batch or --batch-check does; CLI_OK or a code. */
static int batch_write(batch *b, bslot *sl)
{
	char hex[B3CAS_GIT_HEX_MAX + 1];
	int err = sl->err;

	/* one to stream: its mapping was not checked (b3cas_git_mapping) */
	if (err == 0 && b->content && !sl->data &&
	    (err = b3cas_store_exists(b->s, &sl->o.id)) >= 0)
		err = err ? 0 : B3CAS_ENOTFOUND;
	if (err == B3CAS_ENOTFOUND || err == B3CAS_EINVAL ||
	    err == B3CAS_EEXISTS) {
		b3cas_error_clear();
		printf("%s %s\n", sl->in,
		       err == B3CAS_EEXISTS ? "ambiguous" : "missing");
		return CLI_OK;
	}
	if (err < 0) {
		b3cas_error_set(err, sl->msg ? sl->msg : "out of memory");
		return lib_error(err, false);
	}
	printf("%s %s %llu\n", b3cas_git_oid_fmt(hex, &sl->o.git),
	       b3cas_git_type_name(sl->o.type),
	       (unsigned long long)sl->o.size);
	if (!b->content)
		return CLI_OK;
	if (sl->data) {
		fwrite(sl->data, 1, sl->len, stdout);
	} else {
		err = batch_stream(b->s, &sl->o);
		if (err < 0)
			return lib_error(err, false);
	}
	putchar('\n');
	return CLI_OK;
}

static int batch_run(b3cas_store *s, bool content)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned nw = cpus > 1 ? (cpus > 8 ? 8u : (unsigned)cpus) : 1u;
	pthread_t reader, workers[8];
	unsigned started = 0;
	batch *b = calloc(1, sizeof(*b));
	int rc = CLI_OK;

	if (!b) {
		cli_error("git cat-file: out of memory");
		return CLI_STORE;
	}
	b->s = s;
	b->content = content;
	(void)mallopt(M_TRIM_THRESHOLD, 256 << 20);
	pthread_mutex_init(&b->m, NULL);
	pthread_cond_init(&b->space, NULL);
	pthread_cond_init(&b->work, NULL);
	pthread_cond_init(&b->done, NULL);
	pthread_cond_init(&b->drained, NULL);
	if (pthread_create(&reader, NULL, batch_reader, b) != 0) {
		cli_error("git cat-file: cannot start a thread");
		free(b);
		return CLI_STORE;
	}
	for (unsigned i = 0; i < nw; i++)
		if (pthread_create(&workers[started], NULL, batch_worker, b) ==
		    0)
			started++;
	if (started == 0) {
		cli_error("git cat-file: cannot start a thread");
		rc = CLI_STORE;
	}
	pthread_mutex_lock(&b->m);
	while (rc == CLI_OK) {
		bblock *k = &b->blk[b->head % BATCH_BLOCKS];

		if (b->head == b->tail && !b->eof) {
			/* caught up with the input: what is written goes out
			 * (a caller may wait for it before it asks more) */
			pthread_mutex_unlock(&b->m);
			fflush(stdout);
			pthread_mutex_lock(&b->m);
		}
		while (b->head == b->tail && !b->eof)
			pthread_cond_wait(&b->done, &b->m);
		if (b->head == b->tail)
			break; /* all written */
		pthread_mutex_unlock(&b->m);
		for (unsigned i = 0; i < k->n; i++) {
			bslot *sl = &k->slot[i];

			if (atomic_load(&k->done) <= i) {
				/* caught up: wait for a run of them, not
				 * each (a wake-up an object was most of
				 * the system time) */
				unsigned w = i + BATCH_RUN < k->n
						     ? i + BATCH_RUN
						     : k->n;

				fflush(stdout);
				pthread_mutex_lock(&b->m);
				atomic_store(&b->want, w);
				/* ... or until its worker waits for the slots
				 * done to be written out (batch_drain) */
				while (atomic_load(&k->done) < w &&
				       !(atomic_load(&k->drain) &&
					 atomic_load(&k->done) > i))
					pthread_cond_wait(&b->done, &b->m);
				atomic_store(&b->want, 0);
				pthread_mutex_unlock(&b->m);
			}
			if (rc == CLI_OK)
				rc = batch_write(b, sl);
			free(sl->msg);
			sl->data = NULL;
			sl->msg = NULL;
			atomic_store(&k->written, i + 1);
			if (atomic_load(&k->drain) == i + 1) {
				pthread_mutex_lock(&b->m);
				pthread_cond_broadcast(&b->drained);
				pthread_mutex_unlock(&b->m);
			}
		}
		pthread_mutex_lock(&b->m);
		k->state = BLOCK_FREE;
		b->head++;
		pthread_cond_signal(&b->space);
	}
	if (rc == CLI_OK && b->read_err) {
		cli_error("git cat-file: cannot read standard input: %s",
			  strerror(b->read_err));
		rc = CLI_USAGE;
	}
	b->stop = true;
	pthread_cond_broadcast(&b->work);
	pthread_cond_broadcast(&b->space);
	pthread_cond_broadcast(&b->drained);
	pthread_mutex_unlock(&b->m);
	for (unsigned i = 0; i < started; i++)
		pthread_join(workers[i], NULL);
	/* the reader may be blocked reading input: it stops at its next
	 * block, or at the end of input */
	if (rc == CLI_OK)
		pthread_join(reader, NULL);
	else
		pthread_detach(reader);
	for (uint64_t i = b->head; i < b->next; i++) {
		bblock *k = &b->blk[i % BATCH_BLOCKS];

		for (unsigned j = 0; j < k->n; j++)
			free(k->slot[j].msg);
	}
	if (rc == CLI_OK) {
		for (unsigned i = 0; i < BATCH_BLOCKS; i++)
			free(b->blk[i].buf);
		pthread_mutex_destroy(&b->m);
		pthread_cond_destroy(&b->space);
		pthread_cond_destroy(&b->work);
		pthread_cond_destroy(&b->done);
		pthread_cond_destroy(&b->drained);
		free(b);
	}
	return rc;
}

static int cat_file(cli_ctx *ctx, int argc, char **argv)
{
	git_args a;
	cli_args pos;
	b3cas_store *s;
	b3cas_git_object o;
	void *data;
	size_t len;
	int rc, err, modes;

	memset(&a, 0, sizeof(a));
	if (!cli_opt_parse(&rc, &pos, &cat_spec, &a, argc, argv))
		return rc;
	modes = a.t + a.s + a.p + a.e + a.batch + a.batch_check;
	if (modes != 1)
		return cli_usage_error("git cat-file", "give one of -t, -s, -p, "
				       "-e, --batch, --batch-check");
	if ((a.batch || a.batch_check) != (pos.n == 0))
		return cli_usage_error("git cat-file", a.batch || a.batch_check
				       ? "--batch reads ids from standard "
					 "input, not arguments"
				       : "expected an id");
	rc = cli_open_store_ro(&s, ctx);
	if (rc != CLI_OK)
		return rc;
	if (a.batch || a.batch_check)
		return cli_finish_stdout(
			cli_close_store(s, batch_run(s, a.batch)));
	err = resolve(s, pos.v[0], &o, false);
	if (err < 0) {
		if (a.e && err == B3CAS_ENOTFOUND)
			return cli_close_store(s, CLI_NEGATIVE);
		return cli_close_store(s, id_error(err));
	}
	if (a.t)
		printf("%s\n", b3cas_git_type_name(o.type));
	else if (a.s)
		printf("%llu\n", (unsigned long long)o.size);
	if (a.p) {
		err = b3cas_store_get(s, &o.id, &data, &len);
		if (err < 0)
			return cli_close_store(s, lib_error(err, false));
		if (o.type == B3CAS_GIT_TREE)
			rc = print_tree(s, o.git.algo, data, len);
		else
			fwrite(data, 1, len, stdout);
		b3cas_free(data);
	}
	return cli_finish_stdout(cli_close_store(s, rc));
}

/* ---- export ------------------------------------------------------------------ */

typedef struct export_run {
	b3cas_store *s;
	const char *dest;
	b3cas_git_algo algo;
	b3cas_git_oid *stack;
	size_t n, cap;
	uint64_t objects, bytes;
} export_run;

/* objects/XX/REST of id under dest, into path. */
static void loose_path(char *path, size_t n, const char *dest,
		       const b3cas_git_oid *g)
{
	char hex[B3CAS_GIT_HEX_MAX + 1];

	b3cas_git_oid_fmt(hex, g);
	snprintf(path, n, "%s/objects/%.2s/%s", dest, hex, hex + 2);
}

static int push(export_run *x, const b3cas_git_oid *g)
{
	if (x->n == x->cap) {
		b3cas_git_oid *m = realloc(x->stack, (x->cap ? x->cap * 2 : 256) *
							     sizeof(*m));

		if (!m) {
			cli_error("git export: out of memory");
			return CLI_STORE;
		}
		x->stack = m;
		x->cap = x->cap ? x->cap * 2 : 256;
	}
	x->stack[x->n++] = *g;
	return CLI_OK;
}

/* b3cas_git_each_named's fn for export: what is stored goes on the stack (a
 * parent a shallow clone lacks is not). */
static int push_named(const b3cas_git_oid *g, void *ctx)
{
	b3cas_git_object o;

	if (b3cas_git_lookup(((export_run *)ctx)->s, g, &o) != 0) {
		b3cas_error_clear();
		return CLI_OK;
	}
	return push(ctx, g);
}

/* Deflate n bytes at in into fd (flush: Z_NO_FLUSH, or Z_FINISH for the
 * last). false on an error. */
static bool deflate_out(z_stream *z, int fd, const void *in, size_t n,
			int flush)
{
	uint8_t out[1 << 16];
	int zr;

	z->next_in = (Bytef *)in;
	z->avail_in = (uInt)n;
	do {
		z->next_out = out;
		z->avail_out = sizeof(out);
		zr = deflate(z, flush);
		if (zr == Z_STREAM_ERROR ||
		    !cli_write_all(fd, out, sizeof(out) - z->avail_out))
			return false;
	} while (z->avail_out == 0 ||
		 (flush == Z_FINISH && zr != Z_STREAM_END));
	return true;
}

/* Write a loose object: zlib of "TYPE SIZE\0" and the content (len bytes
 * at data, or, with r, read from r in pieces), through a temporary file
 * renamed into place. */
static int write_loose(export_run *x, const b3cas_git_object *o,
		       const void *data, size_t len, b3cas_reader *r)
{
	char path[4200], tmp[4300], head[48];
	int hn = snprintf(head, sizeof(head), "%s %llu",
			  b3cas_git_type_name(o->type),
			  (unsigned long long)(r ? o->size : len));
	z_stream z;
	int fd, rc = CLI_OK;
	char *slash;

	loose_path(path, sizeof(path), x->dest, &o->git);
	slash = strrchr(path, '/');
	*slash = '\0';
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		cli_error("git export: cannot make %s: %s", path,
			  strerror(errno));
		return CLI_STORE;
	}
	*slash = '/';
	snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (fd < 0) {
		cli_error("git export: cannot write %s: %s", tmp,
			  strerror(errno));
		return CLI_STORE;
	}
	memset(&z, 0, sizeof(z));
	if (deflateInit(&z, Z_DEFAULT_COMPRESSION) != Z_OK) {
		close(fd);
		unlink(tmp);
		cli_error("git export: zlib failed");
		return CLI_STORE;
	}
	errno = 0;
	if (!deflate_out(&z, fd, head, (size_t)hn + 1, Z_NO_FLUSH))
		rc = CLI_STORE;
	if (rc == CLI_OK && !r) {
		/* pieces of at most 1 GiB: avail_in is an unsigned int */
		const uint8_t *p = data;

		while (rc == CLI_OK && len > (1u << 30)) {
			if (!deflate_out(&z, fd, p, 1u << 30, Z_NO_FLUSH))
				rc = CLI_STORE;
			p += 1u << 30;
			len -= 1u << 30;
		}
		if (rc == CLI_OK && !deflate_out(&z, fd, p, len, Z_FINISH))
			rc = CLI_STORE;
	} else if (rc == CLI_OK) {
		uint8_t *piece = malloc(STREAM_PIECE);
		uint64_t done = 0;

		while (rc == CLI_OK && piece) {
			int64_t n = b3cas_reader_read(r, piece, STREAM_PIECE);

			if (n < 0) {
				rc = lib_error((int)n, false);
				break;
			}
			done += (uint64_t)n;
			if (!deflate_out(&z, fd, piece, (size_t)n,
					 n == 0 ? Z_FINISH : Z_NO_FLUSH))
				rc = CLI_STORE;
			if (n == 0)
				break;
		}
		if (!piece) {
			cli_error("git export: out of memory");
			rc = CLI_STORE;
		} else if (rc == CLI_OK && done != o->size) {
			cli_error("git export: object %s in the store has %llu "
				  "bytes, its mapping says %llu", path,
				  (unsigned long long)done,
				  (unsigned long long)o->size);
			rc = CLI_STORE;
		}
		free(piece);
		if (rc != CLI_OK) {
			deflateEnd(&z);
			close(fd);
			unlink(tmp);
			return rc;
		}
	}
	deflateEnd(&z);
	if (close(fd) != 0)
		rc = CLI_STORE;
	if (rc == CLI_OK && rename(tmp, path) != 0)
		rc = CLI_STORE;
	if (rc != CLI_OK) {
		cli_error("git export: cannot write %s: %s", path,
			  strerror(errno ? errno : EIO));
		unlink(tmp);
	}
	return rc;
}

/* Export git id g and, through the stack, all it reaches that DEST lacks. */
static int export_from(export_run *x, const b3cas_git_oid *start)
{
	int rc = push(x, start);

	while (rc == CLI_OK && x->n > 0) {
		b3cas_git_oid g = x->stack[--x->n];
		b3cas_git_object o;
		char path[4200], hex[B3CAS_GIT_HEX_MAX + 1];
		struct stat st;
		void *data;
		size_t len;
		int err;

		loose_path(path, sizeof(path), x->dest, &g);
		if (lstat(path, &st) == 0)
			continue; /* written already */
		err = b3cas_git_lookup(x->s, &g, &o);
		if (err == B3CAS_ENOTFOUND) {
			cli_error("git export: object %s is not in the store",
				  b3cas_git_oid_fmt(hex, &g));
			return CLI_STORE;
		}
		if (err == 0 && o.type == B3CAS_GIT_BLOB &&
		    o.size > STREAM_MIN) {
			b3cas_reader *r;

			/* in pieces, in bounded memory */
			err = b3cas_reader_open(&r, x->s, &o.id);
			if (err < 0)
				return lib_error(err, false);
			rc = write_loose(x, &o, NULL, 0, r);
			b3cas_reader_close(r);
			x->objects++;
			x->bytes += o.size;
			continue;
		}
		if (err == 0)
			err = b3cas_store_get(x->s, &o.id, &data, &len);
		if (err < 0)
			return lib_error(err, false);
		rc = write_loose(x, &o, data, len, NULL);
		x->objects++;
		x->bytes += len;
		/* what it names, by git id */
		if (rc == CLI_OK && o.type != B3CAS_GIT_BLOB)
			rc = b3cas_git_each_named(x->algo, o.type, data, len,
						  push_named, x);
		b3cas_free(data);
	}
	return rc;
}

typedef struct ref_walk {
	export_run *x;
	size_t prefix;
	int rc;
	uint64_t refs;
} ref_walk;

/* Write a file under dest (its folders made), content text. */
static int write_text(const char *dest, const char *rel, const char *text)
{
	char path[4400];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dest, rel);
	for (char *p = path + strlen(dest) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			cli_error("git export: cannot make %s: %s", path,
				  strerror(errno));
			return CLI_STORE;
		}
		*p = '/';
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || !cli_write_all(fd, text, strlen(text)) ||
	    close(fd) != 0) {
		cli_error("git export: cannot write %s: %s", path,
			  strerror(errno));
		if (fd >= 0)
			close(fd);
		return CLI_STORE;
	}
	return CLI_OK;
}

static int export_ref(const char *name, const b3cas_oid *id, void *ctx)
{
	ref_walk *w = ctx;
	export_run *x = w->x;
	const char *rel = name + w->prefix;
	b3cas_git_object o;
	char line[B3CAS_GIT_HEX_MAX + 2];
	int err;

	if (strcmp(rel, "HEAD") == 0) {
		void *data;
		size_t len;
		char *text;

		/* a commit's id (detached), or symbolic ("ref: REF\n"):
		 * only a commit is taken for one, as the same bytes as a
		 * symbolic HEAD may be a blob of the repository too */
		if (b3cas_git_reverse(x->s, id, x->algo, B3CAS_GIT_COMMIT,
				      &o) == 0) {
			w->rc = export_from(x, &o.git);
			if (w->rc == CLI_OK) {
				b3cas_git_oid_fmt(line, &o.git);
				strcat(line, "\n");
				w->rc = write_text(x->dest, "HEAD", line);
			}
			return w->rc != CLI_OK;
		}
		b3cas_error_clear();
		err = b3cas_store_get(x->s, id, &data, &len);
		if (err < 0) {
			w->rc = lib_error(err, false);
			return 1;
		}
		text = strndup(data, len);
		b3cas_free(data);
		if (!text || strncmp(text, "ref: ", 5) != 0) {
			cli_error("git export: HEAD of the repository is "
				  "malformed");
			free(text);
			w->rc = CLI_STORE;
			return 1;
		}
		w->rc = write_text(x->dest, "HEAD", text);
		free(text);
		return w->rc != CLI_OK;
	}
	if (strncmp(rel, "refs/", 5) != 0)
		return 0;
	err = b3cas_git_reverse(x->s, id, x->algo, 0, &o);
	if (err < 0) {
		w->rc = lib_error(err, false);
		return 1;
	}
	w->rc = export_from(x, &o.git);
	if (w->rc == CLI_OK) {
		b3cas_git_oid_fmt(line, &o.git);
		strcat(line, "\n");
		w->rc = write_text(x->dest, rel, line);
		w->refs++;
	}
	return w->rc != CLI_OK;
}

/* The one repository imported, when NAME is not given. */
static int only_repo(const char *name, const b3cas_oid *id, void *ctx)
{
	char **found = ctx;
	const char *r = name + 4, *e = strchr(r, '/');

	(void)id;
	if (!e)
		return 0;
	if (!*found) {
		*found = strndup(r, (size_t)(e - r));
		return *found ? 0 : 1;
	}
	if (strncmp(*found, r, (size_t)(e - r)) != 0 ||
	    (*found)[e - r] != '\0') {
		free(*found);
		*found = NULL;
		return 2; /* more than one */
	}
	return 0;
}

static const cli_opt export_opts[] = {
	CLI_VALUE("name", 'n', "NAME", git_args, name, NULL,
		  "the repository (git/NAME/ in the store; default: the only "
		  "one)"),
	CLI_FLAG("quiet", 'q', git_args, quiet, "print nothing on success"),
	CLI_ARG("DEST", true, "expected a destination folder",
		"a new bare repository (missing or empty)"),
	CLI_END,
};

static const cli_spec export_spec = {
	.name = "git export",
	.summary = "write an imported repository back as a bare git "
		   "repository",
	.about = "Write repository NAME (its refs git/NAME/... and every "
		 "object they reach)\nto DEST as a bare git repository "
		 "(made with `git init --bare` in the\nrepository's object "
		 "format; loose objects, zlib-compressed as git writes\nthem). "
		 "Every object is read from the store checked against its "
		 "b3cas id,\nso `git fsck --full --strict` of DEST finds what "
		 "git would have.\n",
	.exits = "Exit codes: 0 ok, 1 no such repository, 2 bad arguments "
		 "or DEST not\nempty, 3 store error or an object missing.\n",
	.opts = export_opts,
	.store = true,
};

static int export_cmd(cli_ctx *ctx, int argc, char **argv)
{
	git_args a;
	cli_args pos;
	export_run x;
	ref_walk w;
	char prefix[1100], *name = NULL, cmd[64];
	b3cas_oid head;
	b3cas_git_object o;
	FILE *f;
	int rc, err;

	memset(&a, 0, sizeof(a));
	memset(&x, 0, sizeof(x));
	if (!cli_opt_parse(&rc, &pos, &export_spec, &a, argc, argv))
		return rc;
	x.dest = pos.v[0];
	{
		struct stat st;

		if (lstat(x.dest, &st) == 0 && rmdir(x.dest) != 0) {
			cli_error("git export: %s exists and is not an empty "
				  "folder", x.dest);
			return CLI_USAGE;
		}
	}
	rc = cli_open_store_ro(&x.s, ctx);
	if (rc != CLI_OK)
		return rc;
	if (a.name) {
		name = strdup(a.name);
	} else {
		err = b3cas_name_foreach(x.s, "git/", only_repo, &name);
		if (err == 2 || (!name && err == 0)) {
			free(name);
			cli_error("git export: %s", err == 2
				  ? "the store holds several repositories: "
				    "give --name"
				  : "the store holds no repository");
			return cli_close_store(x.s, err == 2 ? CLI_USAGE
							    : CLI_NEGATIVE);
		}
	}
	if (!name)
		return cli_close_store(x.s, CLI_STORE);
	snprintf(prefix, sizeof(prefix), "git/%s/", name);
	/* the object format: that of the object HEAD (or a ref) names */
	snprintf(cmd, sizeof(cmd), "git/%s/HEAD", name);
	err = b3cas_name_get(x.s, cmd, &head);
	if (err < 0) {
		free(name);
		cli_error("git export: no repository '%s' in the store",
			  a.name ? a.name : "");
		return cli_close_store(x.s, CLI_NEGATIVE);
	}
	x.algo = B3CAS_GIT_SHA1;
	{
		/* the object format: that of the commit HEAD names, or of
		 * its branch's when HEAD is symbolic ("ref: REF\n") */
		b3cas_oid id = head;
		char ref[1200];
		void *data;
		size_t len;

		if (b3cas_git_reverse(x.s, &id, B3CAS_GIT_SHA1,
				      B3CAS_GIT_COMMIT, &o) != 0 &&
		    b3cas_git_reverse(x.s, &id, B3CAS_GIT_SHA256,
				      B3CAS_GIT_COMMIT, &o) != 0 &&
		    b3cas_store_get(x.s, &head, &data, &len) == 0) {
			snprintf(ref, sizeof(ref), "git/%s/%.*s", name,
				 (int)(len > 6 ? len - 6 : 0),
				 (const char *)data + 5);
			b3cas_free(data);
			if (b3cas_name_get(x.s, ref, &id) != 0)
				id = head;
		}
		b3cas_error_clear();
		if (b3cas_git_reverse(x.s, &id, B3CAS_GIT_SHA1, 0, &o) == 0)
			x.algo = B3CAS_GIT_SHA1;
		else if (b3cas_git_reverse(x.s, &id, B3CAS_GIT_SHA256, 0, &o) ==
			 0)
			x.algo = B3CAS_GIT_SHA256;
		b3cas_error_clear();
	}
	f = git_run2(NULL, x.algo == B3CAS_GIT_SHA1
				 ? "init -q --bare --object-format=sha1"
				 : "init -q --bare --object-format=sha256",
		     x.dest);
	if (!f || pclose(f) != 0) {
		free(name);
		cli_error("git export: git init --bare %s failed", x.dest);
		return cli_close_store(x.s, CLI_STORE);
	}
	w = (ref_walk){&x, strlen(prefix), CLI_OK, 0};
	err = b3cas_name_foreach(x.s, prefix, export_ref, &w);
	rc = w.rc;
	if (err < 0 && rc == CLI_OK)
		rc = lib_error(err, false);
	if (rc == CLI_OK && !a.quiet)
		printf("git export: %s: %llu objects (%llu bytes), %llu refs "
		       "from git/%s/\n",
		       x.dest, (unsigned long long)x.objects,
		       (unsigned long long)x.bytes,
		       (unsigned long long)w.refs, name);
	free(x.stack);
	free(name);
	return cli_finish_stdout(cli_close_store(x.s, rc));
}

/* ---- rm ------------------------------------------------------------------------ */

typedef struct rm_walk {
	char **names;
	size_t n, cap;
} rm_walk;

static int collect_name(const char *name, const b3cas_oid *id, void *ctx)
{
	rm_walk *w = ctx;

	(void)id;
	if (w->n == w->cap) {
		char **m = realloc(w->names, (w->cap ? w->cap * 2 : 16) *
						     sizeof(*m));

		if (!m)
			return B3CAS_ENOMEM;
		w->names = m;
		w->cap = w->cap ? w->cap * 2 : 16;
	}
	w->names[w->n] = strdup(name);
	return w->names[w->n++] ? 0 : B3CAS_ENOMEM;
}

static const cli_opt rm_opts[] = {
	CLI_FLAG("quiet", 'q', git_args, quiet, "print nothing on success"),
	CLI_ARG("NAME", true, "expected a repository's name",
		"the repository (git/NAME/ in the store)"),
	CLI_END,
};

static const cli_spec rm_spec = {
	.name = "git rm",
	.summary = "remove an imported repository's refs",
	.about = "Remove every ref of repository NAME (the names git/NAME/...)"
		 ": its objects\nare then kept only by what else holds them "
		 "(another repository's refs,\ncheckpoints, callers), and the "
		 "next `b3cas gc` frees the rest with their\nmappings.\n",
	.exits = "Exit codes: 0 ok, 1 no such repository, 2 bad arguments, 3 "
		 "store error.\n",
	.opts = rm_opts,
	.store = true,
};

static int rm_cmd(cli_ctx *ctx, int argc, char **argv)
{
	git_args a;
	cli_args pos;
	b3cas_store *s;
	rm_walk w = {NULL, 0, 0};
	char prefix[1100];
	int rc, err;

	memset(&a, 0, sizeof(a));
	if (!cli_opt_parse(&rc, &pos, &rm_spec, &a, argc, argv))
		return rc;
	if (!*pos.v[0] || strchr(pos.v[0], '/'))
		return cli_usage_error("git rm", "a repository's name has no "
				       "'/' and is not empty");
	snprintf(prefix, sizeof(prefix), "git/%s/", pos.v[0]);
	rc = cli_open_store_rw(&s, ctx);
	if (rc != CLI_OK)
		return rc;
	err = b3cas_name_foreach(s, prefix, collect_name, &w);
	if (err < 0)
		rc = lib_error(err, false);
	else if (w.n == 0) {
		cli_error("git rm: no repository '%s' in the store", pos.v[0]);
		rc = CLI_NEGATIVE;
	}
	for (size_t i = 0; rc == CLI_OK && i < w.n; i++) {
		err = b3cas_name_delete(s, w.names[i]);
		if (err < 0 && err != B3CAS_ENOTFOUND)
			rc = lib_error(err, false);
	}
	if (rc == CLI_OK && !a.quiet)
		printf("git rm: %zu refs of %s removed (run 'b3cas gc' to free "
		       "what only they held)\n", w.n, pos.v[0]);
	for (size_t i = 0; i < w.n; i++)
		free(w.names[i]);
	free(w.names);
	return cli_finish_stdout(cli_close_store(s, rc));
}

/* ---- the command ---------------------------------------------------------- */

static const cli_opt git_opts[] = {
	CLI_ARGS("SUBCOMMAND", false, NULL, "import, export, clone, map, "
		 "cat-file or rm"),
	CLI_END,
};

const cli_spec cmd_git_spec = {
	.name = "git",
	.summary = "git objects in the store: import, map ids, cat-file",
	.about = "Git repositories' objects in the store (docs/git.md):\n"
		 "  import [--name NAME] REPO     every object and ref of REPO\n"
		 "  export [--name NAME] DEST     them back as a bare "
		 "repository\n"
		 "  clone [--name NAME] URL DEST  a repository whose objects "
		 "are in the store\n"
		 "  rm NAME                       remove its refs (then gc)\n"
		 "  map ID                        a git id to a b3cas id, or "
		 "back\n"
		 "  cat-file (-t|-s|-p|-e) ID     cat-file --batch | "
		 "--batch-check\n"
		 "`b3cas git SUBCOMMAND --help` tells more.\n",
	.exits = "Exit codes: those of the subcommand; 2 for an unknown one.\n",
	.opts = git_opts,
	.store = true,
};

int cmd_git(cli_ctx *ctx, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(cli_ctx *, int, char **);
	} subs[] = {{"import", import},
		    {"export", export_cmd},
		    {"map", map},
		    {"cat-file", cat_file},
		    {"clone", cli_git_clone},
		    {"rm", rm_cmd}};
	int rc;

	if (argc < 2 || argv[1][0] == '-') {
		cli_args pos;
		git_args a;

		if (!cli_opt_parse(&rc, &pos, &cmd_git_spec, &a, argc, argv))
			return rc;
		return cli_usage_error("git", "expected a subcommand");
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].run(ctx, argc - 1, argv + 1);
	return cli_usage_error("git", "unknown subcommand '%s'", argv[1]);
}
