/*
 * test_git_odb.c - the libgit2 backend (b3cas/git2.h) through libgit2's
 * own API, checked against independent references: libgit2's ids against
 * b3cas_git_hash and git's; what a fetch stored against the source
 * repository read by libgit2's own file backend, object by object; a
 * commit made through the backend exported by the CLI and checked by
 * `git fsck --full --strict` and `git log`.
 *
 * - writes and reads (blob, tree, commit), headers, exists, freshen: one
 *   store reference per object written, none more when written again; a
 *   blob put by b3cas_store_put before is the same b3cas object;
 * - abbreviated ids: unique ones found, an ambiguous 4-digit prefix
 *   (made by writing blobs until two share it) GIT_EAMBIGUOUS, an absent
 *   one GIT_ENOTFOUND;
 * - foreach over every object, and stopped by its callback;
 * - a read stream of a 5 MiB blob in pieces; a write stream of a 6 MiB
 *   one in pieces (libgit2's id, git_blob_create_from_stream's, and
 *   b3cas_git_hash's agree; one reference; a short or long stream, or
 *   one freed unfinished, stores nothing);
 * - a fetch (writepack) from a repository that git made, then a second
 *   fetch of new commits: every object byte-identical, the refs as the
 *   source's, the pack's temporary folder removed;
 * - a commit through libgit2, exported and read back by git;
 * - a leased backend (b3cas_git_odb_backend_leased): a fetch and a commit
 *   held by the lease alone, then by names of the refs through the links
 *   of trees, commits and tags (GC keeps all, a second fetch finds all);
 *   the names removed, GC frees everything.
 * (Its misuse: test_api_misuse.)
 */
#include <dirent.h>
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <git2.h>
#include <git2/sys/odb_backend.h>
#include <git2/sys/repository.h>

#include "b3cas/git2.h"
#include "test_util.h"

static uint64_t rng;

/* The first line a shell command prints (trailing newline cut). */
static void sh_line(char *out, size_t n, const char *cmd)
{
	FILE *f = popen(cmd, "r");

	assert_non_null(f);
	if (!fgets(out, (int)n, f))
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	assert_int_equal(pclose(f), 0);
}

typedef struct fixture {
	char root[64], store_dir[128];
	b3cas_store *s;
	git_odb *odb;
} fixture;

static void git_ok(int rc)
{
	if (rc < 0) {
		const git_error *e = git_error_last();

		fail_msg("libgit2: %d: %s", rc, e ? e->message : "?");
	}
}

/* A store and an odb holding only the backend over it. */
static void setup(fixture *f, const char *tag)
{
	b3cas_store_options o = tu_store_options(true, 4096);
	git_odb_backend *be;

	tu_make_root(f->root, sizeof(f->root), tag);
	snprintf(f->store_dir, sizeof(f->store_dir), "%s/store", f->root);
	o.chunking = B3CAS_CHUNKING_ON;
	f->s = tu_open_store(f->store_dir, &o);
	assert_int_equal(b3cas_git_odb_backend_new(&be, f->s), 0);
	git_ok(git_odb_new(&f->odb));
	git_ok(git_odb_add_backend(f->odb, be, 1));
}

static void teardown(fixture *f)
{
	git_odb_free(f->odb);
	assert_int_equal(b3cas_store_close(f->s), 0);
	tu_remove_root(f->root);
}

static uint64_t refs_of(b3cas_store *s, const git_oid *oid)
{
	b3cas_git_oid g = {B3CAS_GIT_SHA1, {0}};
	b3cas_git_object o;
	uint64_t refs = 0;

	memcpy(g.bytes, oid->id, GIT_OID_RAWSZ);
	assert_int_equal(b3cas_git_lookup(s, &g, &o), 0);
	assert_int_equal(b3cas_refcount(s, &o.id, &refs), 0);
	return refs;
}

/* ---- writes and reads ---------------------------------------------------- */

static void test_write_read(void **state)
{
	static const char text[] = "a blob of text\n";
	uint8_t *big = tu_random_block(300000, &rng);
	fixture f;
	git_oid oid, again, tree_oid;
	git_odb_object *obj;
	b3cas_git_oid want;
	b3cas_git_object o;
	b3cas_oid put_id;
	size_t len;
	git_object_t type;

	(void)state;
	setup(&f, "git2-rw");
	/* the big blob's bytes stored before by b3cas_store_put */
	assert_int_equal(b3cas_store_put(f.s, &put_id, big, 300000), 0);
	git_ok(git_odb_write(&oid, f.odb, big, 300000, GIT_OBJECT_BLOB));
	assert_int_equal(b3cas_git_hash(&want, B3CAS_GIT_SHA1, B3CAS_GIT_BLOB,
					big, 300000),
			 0);
	assert_memory_equal(oid.id, want.bytes, GIT_OID_RAWSZ);
	assert_int_equal(b3cas_git_lookup(f.s, &want, &o), 0);
	assert_memory_equal(o.id.bytes, put_id.bytes, B3CAS_OID_LEN);
	assert_int_equal(refs_of(f.s, &oid), 2); /* the put's, the backend's */
	git_ok(git_odb_read(&obj, f.odb, &oid));
	assert_int_equal(git_odb_object_type(obj), GIT_OBJECT_BLOB);
	assert_int_equal(git_odb_object_size(obj), 300000);
	assert_memory_equal(git_odb_object_data(obj), big, 300000);
	git_odb_object_free(obj);

	/* a small blob and the empty blob, the ids git gives them */
	git_ok(git_odb_write(&oid, f.odb, text, strlen(text), GIT_OBJECT_BLOB));
	{
		char hex[GIT_OID_HEXSZ + 1], gits[128];
		char cmd[256];

		git_oid_tostr(hex, sizeof(hex), &oid);
		snprintf(cmd, sizeof(cmd), "printf 'a blob of text\\n' | git "
			 "hash-object --stdin");
		sh_line(gits, sizeof(gits), cmd);
		assert_string_equal(hex, gits);
	}
	assert_int_equal(refs_of(f.s, &oid), 1);
	/* written again: freshened, no second reference */
	git_ok(git_odb_write(&again, f.odb, text, strlen(text),
			     GIT_OBJECT_BLOB));
	assert_true(git_oid_equal(&oid, &again));
	assert_int_equal(refs_of(f.s, &oid), 1);
	git_ok(git_odb_write(&again, f.odb, "", 0, GIT_OBJECT_BLOB));
	git_ok(git_odb_read(&obj, f.odb, &again));
	assert_int_equal(git_odb_object_size(obj), 0);
	git_odb_object_free(obj);
	git_ok(git_odb_read_header(&len, &type, f.odb, &oid));
	assert_int_equal(len, strlen(text));
	assert_int_equal(type, GIT_OBJECT_BLOB);
	assert_true(git_odb_exists(f.odb, &oid));

	/* a tree naming the blob, read back whole */
	{
		uint8_t t[64];
		size_t n = 0;

		memcpy(t, "100644 f\0", 9);
		n = 9;
		memcpy(t + n, oid.id, GIT_OID_RAWSZ);
		n += GIT_OID_RAWSZ;
		git_ok(git_odb_write(&tree_oid, f.odb, t, n, GIT_OBJECT_TREE));
		git_ok(git_odb_read(&obj, f.odb, &tree_oid));
		assert_int_equal(git_odb_object_type(obj), GIT_OBJECT_TREE);
		assert_memory_equal(git_odb_object_data(obj), t, n);
		git_odb_object_free(obj);
	}

	/* absent: GIT_ENOTFOUND everywhere, with the store's message */
	memset(&again, 0x5a, sizeof(again));
	assert_false(git_odb_exists(f.odb, &again));
	assert_int_equal(git_odb_read(&obj, f.odb, &again), GIT_ENOTFOUND);
	assert_int_equal(git_odb_read_header(&len, &type, f.odb, &again),
			 GIT_ENOTFOUND);
	/* not an object type git stores */
	assert_true(git_odb_write(&again, f.odb, "x", 1, GIT_OBJECT_OFS_DELTA) <
		    0);
	free(big);
	teardown(&f);
}

/* ---- abbreviated ids ----------------------------------------------------- */

static void test_prefix(void **state)
{
	fixture f;
	git_oid ids[4096], full, shortid;
	git_odb_object *obj;
	int a = -1, b = -1;

	(void)state;
	setup(&f, "git2-prefix");
	/* blobs until two ids share their first 4 hex digits (16 bits):
	 * expected after about 320 */
	for (int i = 0; i < 4096 && a < 0; i++) {
		char text[32];

		snprintf(text, sizeof(text), "blob %d\n", i);
		git_ok(git_odb_write(&ids[i], f.odb, text, strlen(text),
				     GIT_OBJECT_BLOB));
		for (int j = 0; j < i && a < 0; j++)
			if (ids[j].id[0] == ids[i].id[0] &&
			    ids[j].id[1] == ids[i].id[1]) {
				a = j;
				b = i;
			}
	}
	assert_true(a >= 0);
	assert_int_equal(git_odb_exists_prefix(&full, f.odb, &ids[a], 4),
			 GIT_EAMBIGUOUS);
	assert_int_equal(git_odb_read_prefix(&obj, f.odb, &ids[b], 4),
			 GIT_EAMBIGUOUS);
	/* the whole id, and 12 digits: each one found */
	git_ok(git_odb_exists_prefix(&full, f.odb, &ids[a], GIT_OID_HEXSZ));
	assert_true(git_oid_equal(&full, &ids[a]));
	memset(&shortid, 0, sizeof(shortid));
	memcpy(shortid.id, ids[b].id, 6);
	git_ok(git_odb_exists_prefix(&full, f.odb, &shortid, 12));
	assert_true(git_oid_equal(&full, &ids[b]));
	git_ok(git_odb_read_prefix(&obj, f.odb, &shortid, 12));
	assert_true(git_oid_equal(git_odb_object_id(obj), &ids[b]));
	git_odb_object_free(obj);
	/* a prefix no id has: ids[0]'s first 3 bytes, the first flipped */
	memset(&shortid, 0, sizeof(shortid));
	memcpy(shortid.id, ids[0].id, 3);
	shortid.id[0] ^= 0xff;
	{
		bool taken = false;

		for (int i = 0; i <= b; i++)
			taken = taken || !memcmp(ids[i].id, shortid.id, 3);
		if (!taken)
			assert_int_equal(git_odb_exists_prefix(&full, f.odb,
							       &shortid, 6),
					 GIT_ENOTFOUND);
	}
	teardown(&f);
}

/* ---- foreach ------------------------------------------------------------- */

typedef struct counter {
	unsigned n, stop_at;
} counter;

static int count_cb(const git_oid *id, void *payload)
{
	counter *c = payload;

	(void)id;
	return ++c->n == c->stop_at ? -4242 : 0;
}

static void test_foreach(void **state)
{
	fixture f;
	counter c = {0, 0};
	git_oid oid;

	(void)state;
	setup(&f, "git2-each");
	for (int i = 0; i < 50; i++) {
		char text[32];

		snprintf(text, sizeof(text), "object %d", i);
		git_ok(git_odb_write(&oid, f.odb, text, strlen(text),
				     GIT_OBJECT_BLOB));
	}
	git_ok(git_odb_foreach(f.odb, count_cb, &c));
	assert_int_equal(c.n, 50);
	c = (counter){0, 7};
	assert_int_equal(git_odb_foreach(f.odb, count_cb, &c), -4242);
	assert_int_equal(c.n, 7);
	teardown(&f);
}

/* ---- read streams -------------------------------------------------------- */

static void test_readstream(void **state)
{
	size_t size = 5u << 20, at = 0, len;
	uint8_t *big = tu_random_block(size, &rng), *back = malloc(size);
	git_odb_stream *st;
	git_object_t type;
	fixture f;
	git_oid oid;

	(void)state;
	assert_non_null(back);
	setup(&f, "git2-stream");
	git_ok(git_odb_write(&oid, f.odb, big, size, GIT_OBJECT_BLOB));
	git_ok(git_odb_open_rstream(&st, &len, &type, f.odb, &oid));
	assert_int_equal(len, size);
	assert_int_equal(type, GIT_OBJECT_BLOB);
	for (;;) {
		size_t want = size - at < 65536 ? size - at : 65536;
		int n = want ? git_odb_stream_read(st, (char *)back + at, want)
			     : 0;

		assert_true(n >= 0);
		if (n == 0)
			break;
		at += (size_t)n;
	}
	git_odb_stream_free(st);
	assert_int_equal(at, size);
	assert_memory_equal(back, big, size);
	free(big);
	free(back);
	teardown(&f);
}

static git_repository *b3_repo(const char *path, b3cas_store *s);

/* Write blob (size bytes) through a write stream in pieces of varying
 * size; the id libgit2 gives it. */
static void stream_in(git_odb *odb, const uint8_t *blob, size_t size,
		      git_oid *oid)
{
	git_odb_stream *st;
	size_t at = 0, piece = 1;

	git_ok(git_odb_open_wstream(&st, odb, size, GIT_OBJECT_BLOB));
	while (at < size) {
		size_t n = size - at < piece ? size - at : piece;

		git_ok(git_odb_stream_write(st, (const char *)blob + at, n));
		at += n;
		piece = piece < (1u << 20) ? piece * 5 + 1 : 70001;
	}
	git_ok(git_odb_stream_finalize_write(oid, st));
	git_odb_stream_free(st);
}

static void test_writestream(void **state)
{
	size_t size = (6u << 20) + 13;
	uint8_t *big = tu_random_block(size, &rng);
	git_odb_stream *st;
	git_odb_object *obj;
	git_oid oid, want, again;
	b3cas_git_oid g;
	fixture f;

	(void)state;
	setup(&f, "git2-wstream");
	/* repeated MiBs: the chunks are shared */
	memcpy(big + (3u << 20), big, 1u << 20);
	git_ok(git_odb_hash(&want, big, size, GIT_OBJECT_BLOB));
	stream_in(f.odb, big, size, &oid);
	assert_true(git_oid_equal(&oid, &want));
	assert_int_equal(b3cas_git_hash(&g, B3CAS_GIT_SHA1, B3CAS_GIT_BLOB,
					big, size),
			 0);
	assert_memory_equal(g.bytes, oid.id, GIT_OID_RAWSZ);
	assert_int_equal(refs_of(f.s, &oid), 1);
	git_ok(git_odb_read(&obj, f.odb, &oid));
	assert_int_equal(git_odb_object_size(obj), size);
	assert_memory_equal(git_odb_object_data(obj), big, size);
	git_odb_object_free(obj);
	/* written again: no reference more */
	stream_in(f.odb, big, size, &again);
	assert_true(git_oid_equal(&again, &oid));
	assert_int_equal(refs_of(f.s, &oid), 1);
	/* fewer bytes than declared: libgit2 refuses the finalize, and
	 * nothing is stored; more: refused at the write */
	git_ok(git_odb_open_wstream(&st, f.odb, 10, GIT_OBJECT_BLOB));
	git_ok(git_odb_stream_write(st, "12345", 5));
	assert_true(git_odb_stream_finalize_write(&again, st) < 0);
	git_odb_stream_free(st);
	git_ok(git_odb_open_wstream(&st, f.odb, 4, GIT_OBJECT_BLOB));
	assert_true(git_odb_stream_write(st, "12345", 5) < 0);
	git_odb_stream_free(st);
	git_ok(git_odb_hash(&want, "12345", 5, GIT_OBJECT_BLOB));
	assert_int_equal(git_odb_exists(f.odb, &want), 0);
	/* a stream freed unfinished stores nothing either */
	git_ok(git_odb_open_wstream(&st, f.odb, 5, GIT_OBJECT_BLOB));
	git_ok(git_odb_stream_write(st, "12345", 5));
	git_odb_stream_free(st);
	assert_int_equal(git_odb_exists(f.odb, &want), 0);
	/* git_blob_create_from_stream, as a libgit2 program writes a file */
	{
		git_repository *repo;
		git_writestream *ws;
		git_oid bid;

		char path[160];

		snprintf(path, sizeof(path), "%s/repo.git", f.root);
		repo = b3_repo(path, f.s);
		git_ok(git_blob_create_from_stream(&ws, repo, NULL));
		git_ok(ws->write(ws, (const char *)big, 1u << 20));
		git_ok(ws->write(ws, (const char *)big + (1u << 20),
				 size - (1u << 20)));
		git_ok(git_blob_create_from_stream_commit(&bid, ws));
		assert_true(git_oid_equal(&bid, &oid));
		git_repository_free(repo);
	}
	free(big);
	teardown(&f);
}

/* ---- a repository: fetch, commit, export --------------------------------- */

/* A bare repository at path whose odb is only the backend over s. */
/* A new bare repository at path whose objects live behind backend be. */
static git_repository *be_repo(const char *path, git_odb_backend *be)
{
	git_repository *repo;
	git_odb *odb;

	git_ok(git_repository_init(&repo, path, 1));
	git_ok(git_odb_new(&odb));
	git_ok(git_odb_add_backend(odb, be, 1));
	git_ok(git_repository_set_odb(repo, odb));
	git_odb_free(odb);
	return repo;
}

static git_repository *b3_repo(const char *path, b3cas_store *s)
{
	git_odb_backend *be;

	assert_int_equal(b3cas_git_odb_backend_new(&be, s), 0);
	return be_repo(path, be);
}

typedef struct cmp_ctx {
	git_odb *src, *dst;
	unsigned n;
} cmp_ctx;

/* Object id of the source is in the b3cas-backed odb, byte for byte. */
static int same_object(const git_oid *id, void *payload)
{
	cmp_ctx *c = payload;
	git_odb_object *a, *b;

	git_ok(git_odb_read(&a, c->src, id));
	git_ok(git_odb_read(&b, c->dst, id));
	assert_int_equal(git_odb_object_type(a), git_odb_object_type(b));
	assert_int_equal(git_odb_object_size(a), git_odb_object_size(b));
	assert_memory_equal(git_odb_object_data(a), git_odb_object_data(b),
			    git_odb_object_size(a));
	git_odb_object_free(a);
	git_odb_object_free(b);
	c->n++;
	return 0;
}

static int count_each(const git_oid *id, void *payload)
{
	(void)id;
	(*(unsigned *)payload)++;
	return 0;
}

static unsigned entries_in(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

/* Fetch every branch and tag of src into repo; the source's odb and the
 * backend's agree on every object of the source, and the store maps
 * extra objects more. */
static void fetch_and_compare(git_repository *repo, const char *src,
			      unsigned extra)
{
	char *specs[] = {"+refs/heads/*:refs/heads/*",
			 "+refs/tags/*:refs/tags/*"};
	git_strarray refspecs = {specs, 2};
	git_repository *source;
	git_remote *remote;
	git_odb *src_odb, *dst_odb;
	cmp_ctx c;
	unsigned mapped = 0, total = 0;

	git_ok(git_remote_create_anonymous(&remote, repo, src));
	git_ok(git_remote_fetch(remote, &refspecs, NULL, "fetch"));
	git_remote_free(remote);
	git_ok(git_repository_open(&source, src));
	git_ok(git_repository_odb(&src_odb, source));
	git_ok(git_repository_odb(&dst_odb, repo));
	c = (cmp_ctx){src_odb, dst_odb, 0};
	git_ok(git_odb_foreach(src_odb, same_object, &c));
	git_ok(git_odb_foreach(src_odb, count_each, &total));
	assert_int_equal(c.n, total);
	/* the store maps exactly the source's objects */
	git_ok(git_odb_foreach(dst_odb, count_each, &mapped));
	assert_int_equal(mapped, total + extra);
	git_odb_free(src_odb);
	git_odb_free(dst_odb);
	git_repository_free(source);
}

static void same_ref(git_repository *repo, const char *src, const char *ref)
{
	char cmd[512], hex[128], mine[GIT_OID_HEXSZ + 1];
	git_oid id;

	snprintf(cmd, sizeof(cmd), "git -C '%s' rev-parse '%s'", src, ref);
	sh_line(hex, sizeof(hex), cmd);
	git_ok(git_reference_name_to_id(&id, repo, ref));
	git_oid_tostr(mine, sizeof(mine), &id);
	assert_string_equal(mine, hex);
}

static void test_fetch(void **state)
{
	char src[160], dst[160], tmp[160];
	fixture f;
	git_repository *repo;

	(void)state;
	setup(&f, "git2-fetch");
	snprintf(src, sizeof(src), "%s/src", f.root);
	snprintf(dst, sizeof(dst), "%s/dst.git", f.root);
	snprintf(tmp, sizeof(tmp), "%s/tmp", f.root);
	assert_int_equal(mkdir(tmp, 0700), 0);
	setenv("TMPDIR", tmp, 1);
	/* a repository of a few commits, a folder, a large file, a tag */
	tu_run("git init -q -b main '%s' && cd '%s' && "
	   "git config user.email t@example.com && git config user.name t && "
	   "mkdir -p d/e && echo one > a && echo two > d/b && "
	   "head -c 3000000 /dev/urandom > d/e/big && "
	   "git add -A && git commit -q -m first && "
	   "echo three >> a && git commit -q -am second && "
	   "git tag -a v1 -m 'tag one' && "
	   "cp d/e/big d/e/big2 && echo x >> d/e/big2 && git add -A && "
	   "git commit -q -m third", src, src);
	repo = b3_repo(dst, f.s);
	fetch_and_compare(repo, src, 0);
	same_ref(repo, src, "refs/heads/main");
	same_ref(repo, src, "refs/tags/v1");
	assert_int_equal(entries_in(tmp), 0); /* the pack's folder went */
	/* new commits, fetched again (the pack may be thin: its bases are
	 * read through the backend) */
	tu_run("cd '%s' && echo four >> a && echo more >> d/e/big2 && "
	   "git commit -q -am fourth && git checkout -q -b side && "
	   "echo side > s && git add s && git commit -q -m side", src);
	fetch_and_compare(repo, src, 0);
	same_ref(repo, src, "refs/heads/main");
	same_ref(repo, src, "refs/heads/side");
	assert_int_equal(entries_in(tmp), 0);
	git_repository_free(repo);
	unsetenv("TMPDIR");
	teardown(&f);
}

/* A commit through libgit2 on ref, message msg: one file name holding
 * text, no parent; its blob in *blob. */
static git_oid commit_file(git_repository *repo, const char *ref,
			   const char *msg, const char *name, const char *text,
			   git_oid *blob)
{
	git_signature *sig;
	git_treebuilder *tb;
	git_oid tree, commit;
	git_tree *t;

	git_ok(git_blob_create_from_buffer(blob, repo, text, strlen(text)));
	git_ok(git_treebuilder_new(&tb, repo, NULL));
	git_ok(git_treebuilder_insert(NULL, tb, name, blob,
				      GIT_FILEMODE_BLOB));
	git_ok(git_treebuilder_write(&tree, tb));
	git_treebuilder_free(tb);
	git_ok(git_tree_lookup(&t, repo, &tree));
	git_ok(git_signature_new(&sig, "T", "t@example.com", 1700000000, 0));
	git_ok(git_commit_create(&commit, repo, ref, sig, sig, NULL, msg, t, 0,
				 NULL));
	git_signature_free(sig);
	git_tree_free(t);
	return commit;
}

/* A commit made through libgit2 on the backend, exported by the CLI
 * (its objects named as an import names them) and read by git. */
static void test_commit_exported(void **state)
{
	char dst[160], out[160], line[256], hex[GIT_OID_HEXSZ + 1];
	git_repository *repo;
	git_oid blob, commit;
	fixture f;
	b3cas_oid head_id;

	(void)state;
	setup(&f, "git2-commit");
	snprintf(dst, sizeof(dst), "%s/dst.git", f.root);
	snprintf(out, sizeof(out), "%s/out.git", f.root);
	repo = b3_repo(dst, f.s);
	commit = commit_file(repo, "refs/heads/main", "through b3cas\n",
			     "file.txt", "made by libgit2\n", &blob);
	git_repository_free(repo);

	/* name it as `git import --name t` would, then export */
	{
		b3cas_git_oid g = {B3CAS_GIT_SHA1, {0}};
		b3cas_git_object o;

		memcpy(g.bytes, commit.id, GIT_OID_RAWSZ);
		assert_int_equal(b3cas_git_lookup(f.s, &g, &o), 0);
		assert_int_equal(b3cas_name_set(f.s, "git/t/refs/heads/main",
						&o.id),
				 0);
		assert_int_equal(b3cas_store_put(f.s, &head_id,
						 "ref: refs/heads/main\n", 21),
				 0);
		assert_int_equal(b3cas_name_set(f.s, "git/t/HEAD", &head_id),
				 0);
	}
	assert_int_equal(b3cas_store_close(f.s), 0);
	tu_run("'%s' --store '%s' git export --name t '%s' >/dev/null",
	   B3CAS_CLI, f.store_dir, out);
	tu_run("git -C '%s' fsck --full --strict 2>&1", out);
	git_oid_tostr(hex, sizeof(hex), &commit);
	{
		char cmd[512];

		snprintf(cmd, sizeof(cmd), "git -C '%s' log --format=%%H%%s "
			 "main", out);
		sh_line(line, sizeof(line), cmd);
	}
	assert_true(strncmp(line, hex, GIT_OID_HEXSZ) == 0);
	assert_string_equal(line + GIT_OID_HEXSZ, "through b3cas");
	tu_run("test \"$(git -C '%s' show main:file.txt)\" = 'made by libgit2'",
	   out);
	{
		b3cas_store_options o = tu_store_options(false, 4096);

		f.s = tu_open_store(f.store_dir, &o);
	}
	teardown(&f);
}

/* ---- a leased backend: what the names reach stays -------------------- */

/* A new bare repository at dst whose objects live in the store, held by
 * lease l. */
static git_repository *leased_repo(const char *dst, b3cas_lease *l)
{
	git_odb_backend *be;

	assert_int_equal(b3cas_git_odb_backend_leased(&be, l), 0);
	return be_repo(dst, be);
}

static void name_ref(b3cas_store *s, git_repository *repo, const char *ref,
		     const char *name)
{
	b3cas_git_oid g = {B3CAS_GIT_SHA1, {0}};
	b3cas_git_object o;
	git_oid id;

	git_ok(git_reference_name_to_id(&id, repo, ref));
	memcpy(g.bytes, id.id, GIT_OID_RAWSZ);
	assert_int_equal(b3cas_git_lookup(s, &g, &o), 0);
	assert_int_equal(b3cas_name_set(s, name, &o.id), 0);
}

static uint64_t stored_objects(b3cas_store *s)
{
	b3cas_stats st;
	b3cas_gc_options g = B3CAS_GC_OPTIONS_INIT;

	g.grace_ns = 0;
	g.normal_priority = true;
	assert_int_equal(b3cas_gc(s, &g, NULL), 0);
	assert_int_equal(b3cas_store_stats(s, &st), 0);
	return st.objects;
}

/* A fetch and a commit through a leased backend: the lease holds every
 * object, and no lasting reference is taken; once the refs are named and
 * the lease closed, GC keeps everything they reach (the links of the
 * pack's trees, commits and tags, made once all of it is stored, and of
 * a commit written through libgit2), and frees everything once the names
 * go. */
static void test_leased(void **state)
{
	char src[160], dst[160];
	git_repository *repo;
	git_oid blob, commit;
	b3cas_lease *l;
	fixture f;
	uint64_t before;

	(void)state;
	setup(&f, "git2-leased");
	snprintf(src, sizeof(src), "%s/src", f.root);
	snprintf(dst, sizeof(dst), "%s/dst.git", f.root);
	tu_run("git init -q -b main '%s' && cd '%s' && "
	   "git config user.email t@example.com && git config user.name t && "
	   "mkdir -p d/e d/f && echo one > a && echo two > d/b && "
	   "head -c 300000 /dev/urandom > d/e/big && cp d/e/big d/f/same && "
	   "git add -A && git commit -q -m first && "
	   "echo three >> a && git commit -q -am second && "
	   "git tag -a v1 -m 'tag one' && git checkout -q -b side && "
	   "echo side > s && git add s && git commit -q -m side && "
	   "git checkout -q main", src, src);
	assert_int_equal(b3cas_lease_open(f.s, &l), 0);
	repo = leased_repo(dst, l);
	fetch_and_compare(repo, src, 0);
	/* a commit of its own */
	commit = commit_file(repo, "refs/heads/own", "own\n", "f", "leased\n",
			     &blob);
	/* no lasting reference: the lease holds them */
	assert_int_equal(refs_of(f.s, &blob), 1);
	assert_int_equal(refs_of(f.s, &commit), 1);
	assert_true(b3cas_lease_count(l) > 10);
	name_ref(f.s, repo, "refs/heads/main", "git/t/refs/heads/main");
	name_ref(f.s, repo, "refs/heads/side", "git/t/refs/heads/side");
	name_ref(f.s, repo, "refs/tags/v1", "git/t/refs/tags/v1");
	name_ref(f.s, repo, "refs/heads/own", "git/t/refs/heads/own");
	git_repository_free(repo);
	before = stored_objects(f.s);
	assert_int_equal(b3cas_lease_close(l), 0);
	/* the names hold everything: the fetch again finds it all */
	assert_int_equal(stored_objects(f.s), before);
	assert_int_equal(refs_of(f.s, &blob), 0); /* the tree's link holds it */
	repo = b3_repo(dst, f.s);
	fetch_and_compare(repo, src, 3); /* and own's three */
	git_repository_free(repo);
	assert_int_equal(stored_objects(f.s), before);
	/* the names go: everything goes */
	assert_int_equal(b3cas_name_delete(f.s, "git/t/refs/heads/main"), 0);
	assert_int_equal(b3cas_name_delete(f.s, "git/t/refs/heads/side"), 0);
	assert_int_equal(b3cas_name_delete(f.s, "git/t/refs/tags/v1"), 0);
	assert_int_equal(stored_objects(f.s), 3); /* own's commit, tree and
						     blob */
	assert_int_equal(b3cas_name_delete(f.s, "git/t/refs/heads/own"), 0);
	assert_int_equal(stored_objects(f.s), 0);
	teardown(&f);
}

/* ---- a clone stopped between its pack's passes ------------------------ */

typedef struct unlinked_ctx {
	git_odb *odb;
	b3cas_lease *lease;
	unsigned n;
} unlinked_ctx;

/* Each object of the source stored as a pack's first pass stores it: no
 * links. */
static int put_unlinked(const git_oid *oid, void *ctx)
{
	unlinked_ctx *c = ctx;
	git_odb_object *obj;
	b3cas_git_object o;
	b3cas_git_type t;

	git_ok(git_odb_read(&obj, c->odb, oid));
	switch (git_odb_object_type(obj)) {
	case GIT_OBJECT_COMMIT: t = B3CAS_GIT_COMMIT; break;
	case GIT_OBJECT_TREE: t = B3CAS_GIT_TREE; break;
	case GIT_OBJECT_TAG: t = B3CAS_GIT_TAG; break;
	default: t = B3CAS_GIT_BLOB; break;
	}
	assert_true(b3cas_git_put(c->lease, B3CAS_GIT_SHA1, t,
				  git_odb_object_data(obj),
				  git_odb_object_size(obj), NULL, 0, &o) >= 0);
	assert_memory_equal(o.git.bytes, oid->id, GIT_OID_RAWSZ);
	git_odb_object_free(obj);
	c->n++;
	return 0;
}

/* Each object of the source is stored with its links (a blob: stored). */
static int all_linked(const git_oid *oid, void *ctx)
{
	b3cas_git_oid g = {B3CAS_GIT_SHA1, {0}};

	memcpy(g.bytes, oid->id, GIT_OID_RAWSZ);
	assert_int_equal(b3cas_git_linked(ctx, &g), 1);
	return 0;
}

static b3cas_git_oid git_of(const char *src, const char *rev)
{
	char cmd[512], hex[128];
	b3cas_git_oid g;

	snprintf(cmd, sizeof(cmd), "git -C '%s' rev-parse '%s'", src, rev);
	sh_line(hex, sizeof(hex), cmd);
	assert_int_equal(b3cas_git_oid_parse(&g, hex), 0);
	return g;
}

/*
 * A clone stopped after its pack's first pass (every object stored, none
 * linked) and part of the second (the oldest commit linked, depth first),
 * its lease still held (the clone still running, or killed and its lease
 * not dropped yet), and a clone of the same repository into the same
 * store meanwhile: the backend does not count an object stored without
 * its links as there, so libgit2 fetches the pack and its second pass
 * links what was left. Once that clone's refs are named and both leases
 * are gone, GC keeps every object of the source. (With exists answering
 * for any object stored, libgit2 finds the tips, fetches nothing, the
 * names hold the tips alone, and GC frees what they reach.)
 */
static void test_stopped_clone(void **state)
{
	char src[160], dst[160];
	git_repository *repo, *source;
	b3cas_lease *l;
	b3cas_git_oid first, tip;
	unlinked_ctx c = {0};
	uint64_t links = 0, before;
	fixture f;

	(void)state;
	setup(&f, "git2-stopped");
	snprintf(src, sizeof(src), "%s/src", f.root);
	snprintf(dst, sizeof(dst), "%s/dst.git", f.root);
	tu_run("git init -q -b main '%s' && cd '%s' && "
	   "git config user.email t@example.com && git config user.name t && "
	   "mkdir -p d/e && echo one > a && echo two > d/b && "
	   "head -c 200000 /dev/urandom > d/e/big && "
	   "git add -A && git commit -q -m first && "
	   "echo three >> a && echo four > d/e/c && git add -A && "
	   "git commit -q -m second && git tag -a v1 -m 'tag one' && "
	   "echo five > d/b && git commit -q -am third", src, src);
	first = git_of(src, "HEAD~2");
	tip = git_of(src, "HEAD");
	/* the stopped clone */
	git_ok(git_repository_open(&source, src));
	git_ok(git_repository_odb(&c.odb, source));
	assert_int_equal(b3cas_lease_open(f.s, &c.lease), 0);
	git_ok(git_odb_foreach(c.odb, put_unlinked, &c));
	assert_true(c.n >= 12);
	assert_int_equal(b3cas_git_linked(f.s, &tip), 0);
	assert_int_equal(b3cas_git_link(c.lease, &first, &links), 0);
	assert_true(links >= 4); /* its tree, d, d/e and their entries */
	assert_int_equal(b3cas_git_linked(f.s, &first), 1);
	assert_int_equal(b3cas_git_linked(f.s, &tip), 0);
	/* linked depth first: done again, nothing more */
	links = 0;
	assert_int_equal(b3cas_git_link(c.lease, &first, &links), 0);
	assert_int_equal(links, 0);
	git_odb_free(c.odb);
	git_repository_free(source);
	/* the clone again, the stopped one's lease still held */
	assert_int_equal(b3cas_lease_open(f.s, &l), 0);
	repo = leased_repo(dst, l);
	fetch_and_compare(repo, src, 0);
	assert_int_equal(b3cas_git_linked(f.s, &tip), 1);
	git_ok(git_repository_open(&source, src));
	git_ok(git_repository_odb(&c.odb, source));
	git_ok(git_odb_foreach(c.odb, all_linked, f.s));
	git_odb_free(c.odb);
	git_repository_free(source);
	name_ref(f.s, repo, "refs/heads/main", "git/t/refs/heads/main");
	name_ref(f.s, repo, "refs/tags/v1", "git/t/refs/tags/v1");
	git_repository_free(repo);
	before = stored_objects(f.s);
	assert_int_equal(b3cas_lease_close(l), 0);
	assert_int_equal(b3cas_lease_close(c.lease), 0);
	/* the names hold every object of the source (and their chunks) */
	assert_int_equal(stored_objects(f.s), before);
	repo = b3_repo(dst, f.s);
	fetch_and_compare(repo, src, 0);
	git_repository_free(repo);
	assert_int_equal(b3cas_name_delete(f.s, "git/t/refs/heads/main"), 0);
	assert_int_equal(b3cas_name_delete(f.s, "git/t/refs/tags/v1"), 0);
	assert_int_equal(stored_objects(f.s), 0);
	teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_read),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_foreach),
		cmocka_unit_test(test_readstream),
		cmocka_unit_test(test_writestream),
		cmocka_unit_test(test_fetch),
		cmocka_unit_test(test_commit_exported),
		cmocka_unit_test(test_leased),
		cmocka_unit_test(test_stopped_clone),
	};
	int rc;

	rng = tu_seed("test_git_odb");
	git_libgit2_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	git_libgit2_shutdown();
	return rc;
}
