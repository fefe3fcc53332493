/*
 * cmd_git_clone.c - `b3cas git clone URL DEST` (docs/git.md): a clone
 * through libgit2 into a repository whose objects live in the store.
 *
 * Built twice. In the b3cas program (no B3CAS_WITH_LIBGIT2) it checks
 * its arguments and runs b3cas-git, the same program linked with libgit2
 * (found beside /proc/self/exe, else on PATH), with them: loading
 * libgit2 and the 15 libraries it needs took b3cas's start-up from 2.5
 * to 5.4-8.3 ms (perf stat -r 40 of `b3cas --version`, with and without
 * LD_PRELOAD of libgit2), which every command would pay.
 *
 * In b3cas-git it clones: a new repository at DEST whose object database
 * is only the store's leased backend (b3cas_git_odb_backend_leased), so
 * what the fetch receives (a pack, even from a local path: the clone is
 * never a copy of the source's files) goes into the store under the
 * lease; then each ref and HEAD become the names git/NAME/... (GC roots,
 * holding what the refs reach through the links of trees, commits and
 * tags), DEST's config records the store, and only then does the lease
 * close. A failure or a crash before leaves no names, and the lease's
 * objects are GC's.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "cmd_git.h"

typedef struct clone_args {
	const char *name, *branch;
	bool bare, quiet;
} clone_args;

static const cli_opt clone_opts[] = {
	CLI_VALUE("name", 'n', "NAME", clone_args, name, NULL,
		  "the repository's name in the store (default: DEST's "
		  "folder name)"),
	CLI_VALUE("branch", 'b', "BRANCH", clone_args, branch, NULL,
		  "check out BRANCH, not the source's HEAD"),
	CLI_FLAG("bare", 0, clone_args, bare, "make a bare repository (no "
		 "working tree)"),
	CLI_FLAG("quiet", 'q', clone_args, quiet, "print nothing on success, "
		 "and no progress"),
	CLI_ARG("URL", true, "expected a repository to clone",
		"a git repository: a local path or a file:// URL"),
	CLI_ARG("DEST", true, "expected the new repository's folder",
		"the new repository (a folder that does not exist, or is "
		"empty)"),
	CLI_END,
};

static const cli_spec clone_spec = {
	.name = "git clone",
	.summary = "clone a git repository into one backed by the store",
	.about = "Clone URL into a new repository at DEST whose objects live "
		 "in the store,\nthrough libgit2 and the store's backend "
		 "(b3cas/git2.h): every object\nreceived is stored, checked "
		 "against its git id, a blob and the same file\nstored any "
		 "other way being one object. Each ref and HEAD become the "
		 "names\ngit/NAME/... (GC roots, as `git import` makes them), "
		 "and DEST's config\nrecords the store (b3cas.store, "
		 "b3cas.name). DEST has git's refs, index\nand working tree "
		 "but no object files: libgit2 programs read it through\nthe "
		 "backend; `b3cas git export --name NAME` makes a repository "
		 "of git's\nown files. Runs the program b3cas-git.\n",
	.exits = "Exit codes: 0 ok, 2 bad arguments, not a repository, DEST "
		 "not empty or\nNAME taken, 3 store, clone or I/O error.\n",
	.opts = clone_opts,
	.store = true,
};

#ifndef B3CAS_WITH_LIBGIT2

/* ---- in b3cas: run b3cas-git ------------------------------------------------- */

int cli_git_clone(cli_ctx *ctx, int argc, char **argv)
{
	clone_args a;
	cli_args pos;
	const char *store = NULL;
	char self[PATH_MAX], helper[PATH_MAX + 16], wait[32];
	char **args;
	ssize_t n;
	int rc, k = 0;

	memset(&a, 0, sizeof(a));
	/* the arguments as given (the parse below reorders argv) */
	args = calloc((size_t)argc + 8, sizeof(*args));
	if (!args) {
		cli_error("git clone: out of memory");
		return CLI_STORE;
	}
	for (int i = 0; i < argc; i++)
		args[i + 6] = argv[i];
	if (!cli_opt_parse(&rc, &pos, &clone_spec, &a, argc, argv)) {
		free(args);
		return rc;
	}
	store = cli_store_dir(ctx, NULL);
	if (!store) {
		free(args);
		return cli_no_store_dir(ctx);
	}
	args[k++] = "b3cas-git";
	args[k++] = "--store";
	args[k++] = (char *)store;
	if (ctx->lock_timeout_ms == B3CAS_LOCK_WAIT_FOREVER) {
		args[k++] = "--wait";
	} else if (ctx->lock_timeout_ms) {
		snprintf(wait, sizeof(wait), "--wait=%ums",
			 ctx->lock_timeout_ms);
		args[k++] = wait;
	}
	args[k++] = "git";
	for (int i = 0; i < argc; i++)
		args[k++] = args[i + 6];
	args[k] = NULL;
	fflush(NULL);
	/* beside this program first (a build folder, an install's bin) */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		char *slash;

		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			snprintf(helper, sizeof(helper), "%s/b3cas-git", self);
			execv(helper, args);
		}
	}
	execvp("b3cas-git", args);
	cli_error("git clone: cannot run b3cas-git (the b3cas program with "
		  "libgit2, built and installed beside b3cas): %s",
		  strerror(errno));
	free(args);
	return CLI_STORE;
}

#else /* B3CAS_WITH_LIBGIT2 */

/* ---- in b3cas-git: the clone ------------------------------------------------- */

#include <git2.h>
#include <git2/sys/repository.h>

#include "b3cas/git2.h"

/* DEST may be cloned into: absent (*absent), or an empty folder. */
static bool dest_free(const char *dest, bool *absent)
{
	DIR *d = opendir(dest);
	struct dirent *e;
	bool empty = true;

	*absent = !d && errno == ENOENT;
	if (!d)
		return *absent;
	while (empty && (e = readdir(d)) != NULL)
		empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
	closedir(d);
	return empty;
}

typedef struct clone_run {
	b3cas_store *s;
	b3cas_lease *lease;
	const char *name;
	bool progress;
	git_indexer_progress got; /* the fetch's last figures */
	struct timespec t0;
	uint64_t refs;
} clone_run;

static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	       (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static int git_failed(const char *what)
{
	const git_error *e = git_error_last();

	cli_error("git clone: %s: %s", what,
		  e && e->message ? e->message : "libgit2 failed");
	return CLI_STORE;
}

/* The new repository: git's layout at path, objects only in the store. */
static int make_repo(git_repository **out, const char *path, int bare,
		     void *payload)
{
	clone_run *r = payload;
	git_odb_backend *be;
	git_odb *odb;
	int rc = git_repository_init(out, path, (unsigned)bare);

	if (rc < 0)
		return rc;
	if (b3cas_git_odb_backend_leased(&be, r->lease) < 0) {
		git_error_set_str(GIT_ERROR_ODB, b3cas_error_last());
		rc = -1;
	} else if ((rc = git_odb_new(&odb)) < 0) {
		be->free(be);
	} else {
		if ((rc = git_odb_add_backend(odb, be, 1)) < 0)
			be->free(be);
		else
			git_repository_set_odb(*out, odb);
		git_odb_free(odb);
	}
	if (rc < 0) {
		git_repository_free(*out);
		*out = NULL;
	}
	return rc;
}

/* A bare clone's remote: branches as branches, as git's --bare has them
 * (libgit2 would map them to refs/remotes/origin/). */
static int bare_remote(git_remote **out, git_repository *repo,
		       const char *name, const char *url, void *payload)
{
	(void)payload;
	return git_remote_create_with_fetchspec(out, repo, name, url,
						"+refs/heads/*:refs/heads/*");
}

static int on_transfer(const git_indexer_progress *p, void *payload)
{
	clone_run *r = payload;
	b3cas_progress bp = {p->indexed_objects, p->total_objects,
			     p->received_bytes, since(&r->t0)};

	r->got = *p;
	if (r->progress)
		cli_progress("git clone: receiving", &bp, false);
	return 0;
}

static void on_checkout(const char *path, size_t done, size_t total,
			void *payload)
{
	clone_run *r = payload;
	b3cas_progress bp = {done, total, 0, since(&r->t0)};

	(void)path;
	if (r->progress)
		cli_progress("git clone: checking out", &bp, false);
}

/* Name what ref (direct) points at: git/NAME/REF. */
static int name_ref(clone_run *r, const char *ref, const git_oid *id)
{
	b3cas_git_oid g = {B3CAS_GIT_SHA1, {0}};
	b3cas_git_object o;
	char full[4400];
	int err;

	memcpy(g.bytes, id->id, GIT_OID_RAWSZ);
	err = b3cas_git_lookup(r->s, &g, &o);
	if (err == 0) {
		snprintf(full, sizeof(full), "git/%s/%s", r->name, ref);
		err = b3cas_name_set(r->s, full, &o.id);
	}
	if (err < 0) {
		cli_error("git clone: ref %s: %s", ref, b3cas_error_last());
		return cli_exit_code(err, false);
	}
	r->refs++;
	return CLI_OK;
}

/* Each direct ref of repo, and HEAD (a small object "ref: REF\n" when
 * symbolic, as `git import` names it). */
static int name_refs(clone_run *r, git_repository *repo)
{
	git_reference_iterator *it;
	git_reference *ref, *head;
	int rc = CLI_OK, err;

	if (git_reference_iterator_new(&it, repo) < 0)
		return git_failed("listing the refs");
	while (rc == CLI_OK && (err = git_reference_next(&ref, it)) == 0) {
		if (git_reference_type(ref) == GIT_REFERENCE_DIRECT)
			rc = name_ref(r, git_reference_name(ref),
				      git_reference_target(ref));
		git_reference_free(ref);
	}
	git_reference_iterator_free(it);
	if (rc == CLI_OK && err != GIT_ITEROVER)
		rc = git_failed("listing the refs");
	if (rc != CLI_OK)
		return rc;
	if (git_reference_lookup(&head, repo, "HEAD") < 0)
		return git_failed("reading HEAD");
	if (git_reference_type(head) == GIT_REFERENCE_SYMBOLIC) {
		char text[1100], full[1200];
		b3cas_oid id;
		int n = snprintf(text, sizeof(text), "ref: %s\n",
				 git_reference_symbolic_target(head));

		snprintf(full, sizeof(full), "git/%s/HEAD", r->name);
		err = b3cas_lease_put(r->lease, &id, text, (size_t)n);
		if (err >= 0)
			err = b3cas_name_set(r->s, full, &id);
		if (err < 0) {
			cli_error("git clone: HEAD: %s", b3cas_error_last());
			rc = cli_exit_code(err, false);
		}
	} else {
		rc = name_ref(r, "HEAD", git_reference_target(head));
		r->refs -= rc == CLI_OK;
	}
	git_reference_free(head);
	return rc;
}

static int collect_name(const char *name, const b3cas_oid *id, void *ctx)
{
	(void)id;
	return b3cas_name_delete(ctx, name) < 0 ? -1 : 0;
}

/* After a failure: the names made so far go (nothing then holds what the
 * lease held, and GC frees it). */
static void unname(clone_run *r)
{
	char prefix[1100];

	snprintf(prefix, sizeof(prefix), "git/%s/", r->name);
	(void)b3cas_name_foreach(r->s, prefix, collect_name, r->s);
	b3cas_error_clear();
}

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *f)
{
	(void)st, (void)f;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 ? -1 : 0;
}

static int any_name(const char *name, const b3cas_oid *id, void *ctx)
{
	(void)name, (void)id, (void)ctx;
	return 1;
}

/* A local path or file:// URL's path, or NULL for another URL. */
static const char *local_path(const char *url)
{
	if (strncmp(url, "file://", 7) == 0)
		return url + 7;
	return strstr(url, "://") ? NULL : url;
}

/* A bare clone's HEAD: BRANCH's, else the source's (libgit2 leaves the
 * new repository's default when branches are fetched as branches). */
static int bare_head(git_repository *repo, const char *url,
		     const char *branch)
{
	char target[1100];
	const char *path = local_path(url);
	git_repository *src;
	git_reference *head;

	if (branch) {
		snprintf(target, sizeof(target), "refs/heads/%s", branch);
	} else if (!path) {
		return CLI_OK;
	} else {
		if (git_repository_open_ext(&src, path,
					    GIT_REPOSITORY_OPEN_NO_SEARCH,
					    NULL) < 0)
			return git_failed(url);
		if (git_reference_lookup(&head, src, "HEAD") < 0) {
			git_repository_free(src);
			return git_failed("reading the source's HEAD");
		}
		snprintf(target, sizeof(target), "%s",
			 git_reference_type(head) == GIT_REFERENCE_SYMBOLIC
				 ? git_reference_symbolic_target(head)
				 : "");
		git_reference_free(head);
		git_repository_free(src);
		if (!target[0])
			return CLI_OK; /* detached: left as it is */
	}
	if (git_repository_set_head(repo, target) < 0)
		return git_failed("setting HEAD");
	return CLI_OK;
}

/* The clone proper, with the store open and the lease taken. */
static int clone_into(clone_run *r, const clone_args *a, const char *url,
		      const char *dest, const char *store_dir)
{
	git_clone_options o;
	git_repository *repo = NULL;
	git_config *cfg;
	char abs[PATH_MAX];
	int rc = CLI_OK;

	git_clone_options_init(&o, GIT_CLONE_OPTIONS_VERSION);
	o.bare = a->bare;
	o.checkout_branch = a->branch;
	/* never a copy of the source's object files: always a fetch */
	o.local = GIT_CLONE_NO_LOCAL;
	o.repository_cb = make_repo;
	if (a->bare)
		o.remote_cb = bare_remote;
	o.repository_cb_payload = r;
	o.fetch_opts.callbacks.transfer_progress = on_transfer;
	o.fetch_opts.callbacks.payload = r;
	o.checkout_opts.progress_cb = on_checkout;
	o.checkout_opts.progress_payload = r;
	if (git_clone(&repo, url, dest, &o) < 0) {
		cli_progress_clear();
		return git_failed(url);
	}
	if (r->progress) {
		b3cas_progress bp = {r->got.indexed_objects,
				     r->got.total_objects,
				     r->got.received_bytes, since(&r->t0)};

		cli_progress("git clone: received", &bp, true);
	}
	if (a->bare)
		rc = bare_head(repo, url, a->branch);
	if (rc == CLI_OK)
		rc = name_refs(r, repo);
	if (rc == CLI_OK && !realpath(store_dir, abs)) {
		cli_error("git clone: %s: %s", store_dir, strerror(errno));
		rc = CLI_STORE;
	}
	if (rc == CLI_OK && git_repository_config(&cfg, repo) < 0)
		rc = git_failed("opening the repository's config");
	if (rc == CLI_OK) {
		if (git_config_set_string(cfg, "b3cas.store", abs) < 0 ||
		    git_config_set_string(cfg, "b3cas.name", r->name) < 0)
			rc = git_failed("writing the repository's config");
		git_config_free(cfg);
	}
	git_repository_free(repo);
	return rc;
}

int cli_git_clone(cli_ctx *ctx, int argc, char **argv)
{
	clone_args a;
	cli_args pos;
	clone_run r;
	const char *url, *dest, *store_dir;
	char *name, prefix[1100];
	bool absent;
	int rc, err;

	memset(&a, 0, sizeof(a));
	memset(&r, 0, sizeof(r));
	if (!cli_opt_parse(&rc, &pos, &clone_spec, &a, argc, argv))
		return rc;
	url = pos.v[0];
	dest = pos.v[1];
	name = cli_git_repo_name(a.name, dest);
	if (!name || !*name || strchr(name, '/')) {
		free(name);
		return cli_usage_error("git clone", "give the repository a "
				       "name without '/' (--name)");
	}
	if (!dest_free(dest, &absent)) {
		free(name);
		cli_error("git clone: %s exists and is not an empty folder",
			  dest);
		return CLI_USAGE;
	}
	store_dir = cli_store_dir(ctx, NULL);
	if (!store_dir) {
		free(name);
		return cli_no_store_dir(ctx);
	}
	git_libgit2_init();
	{
		/* a path or file:// that is no repository: an input error */
		const char *path = local_path(url);
		git_repository *src;

		if (path) {
			if (git_repository_open_ext(
				    &src, path, GIT_REPOSITORY_OPEN_NO_SEARCH,
				    NULL) < 0) {
				const git_error *e = git_error_last();

				cli_error("git clone: %s is not a repository "
					  "libgit2 can read: %s", url,
					  e && e->message ? e->message : "?");
				free(name);
				git_libgit2_shutdown();
				return CLI_USAGE;
			}
			git_repository_free(src);
		}
	}
	rc = cli_open_store_rw(&r.s, ctx);
	if (rc != CLI_OK) {
		free(name);
		git_libgit2_shutdown();
		return rc;
	}
	r.name = name;
	r.progress = !a.quiet;
	clock_gettime(CLOCK_MONOTONIC, &r.t0);
	snprintf(prefix, sizeof(prefix), "git/%s/", name);
	err = b3cas_name_foreach(r.s, prefix, any_name, NULL);
	if (err < 0) {
		rc = cli_exit_code(err, false);
		cli_error("git clone: %s", b3cas_error_last());
	} else if (err > 0) {
		cli_error("git clone: the store has a repository '%s' already "
			  "(another --name, or `b3cas git rm %s`)", name, name);
		rc = CLI_USAGE;
	}
	if (rc == CLI_OK && (err = b3cas_lease_open(r.s, &r.lease)) < 0) {
		cli_error("git clone: %s", b3cas_error_last());
		rc = cli_exit_code(err, false);
	}
	if (rc == CLI_OK) {
		rc = clone_into(&r, &a, url, dest, store_dir);
		if (rc != CLI_OK) {
			/* nothing half made stays: no names, no DEST */
			unname(&r);
			if (absent)
				(void)nftw(dest, remove_one, 16,
					   FTW_DEPTH | FTW_PHYS);
		}
	}
	/* the names hold what the refs reach now: the lease's go */
	err = b3cas_lease_close(r.lease);
	if (err < 0 && rc == CLI_OK) {
		cli_error("git clone: %s", b3cas_error_last());
		rc = cli_exit_code(err, false);
	}
	if (rc == CLI_OK && !a.quiet)
		printf("git clone: %s into %s: %u objects, %llu refs as "
		       "git/%s/ in the store\n",
		       url, dest, r.got.total_objects,
		       (unsigned long long)r.refs, name);
	free(name);
	git_libgit2_shutdown();
	return cli_finish_stdout(cli_close_store(r.s, rc));
}

#endif /* B3CAS_WITH_LIBGIT2 */
