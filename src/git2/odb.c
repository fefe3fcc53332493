/*
 * git2/odb.c - a libgit2 object database backend over a b3cas store
 * (b3cas/git2.h), built on the public API only: b3cas/git.h's mapping
 * and puts, the store's reads, references and readers.
 *
 * Each callback maps a b3cas code to libgit2's (B3CAS_ENOTFOUND ->
 * GIT_ENOTFOUND, an ambiguous prefix -> GIT_EAMBIGUOUS, anything else ->
 * GIT_ERROR) with the store's message set as libgit2's error.
 *
 * writestream hands its pieces to a b3cas_git_writer: a blob of any size
 * is stored in bounded memory.
 *
 * writepack feeds the pack libgit2 receives to libgit2's own indexer,
 * which writes it and its index to a temporary folder (resolving a thin
 * pack's bases through the repository's odb: this backend among them),
 * then opens that pack as an odb of its own and stores each object it
 * holds that the store has not mapped yet, under one lease, each then
 * given its lasting reference; the folder is removed at the end.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>
#include <git2/sys/odb_backend.h>

#include "b3cas/b3cas.h"
#include "b3cas/git2.h"

typedef struct backend {
	git_odb_backend parent;
	b3cas_store *store;
	b3cas_lease *lease; /* the caller's, or NULL: lasting references */
} backend;

/* ---- codes and messages ---------------------------------------------- */

/* libgit2's code for b3cas code rc, with the store's message set. */
static int git_code(int rc)
{
	if (rc >= 0)
		return 0;
	git_error_set_str(GIT_ERROR_ODB, b3cas_error_last());
	if (rc == B3CAS_ENOTFOUND)
		return GIT_ENOTFOUND;
	if (rc == B3CAS_EEXISTS)
		return GIT_EAMBIGUOUS; /* only a prefix lookup says it */
	return GIT_ERROR;
}

static int git_fail(int klass, const char *what)
{
	git_error_set_str(klass, what);
	return GIT_ERROR;
}

static git_object_t to_git_type(b3cas_git_type t)
{
	switch (t) {
	case B3CAS_GIT_COMMIT: return GIT_OBJECT_COMMIT;
	case B3CAS_GIT_TREE: return GIT_OBJECT_TREE;
	case B3CAS_GIT_BLOB: return GIT_OBJECT_BLOB;
	case B3CAS_GIT_TAG: return GIT_OBJECT_TAG;
	}
	return GIT_OBJECT_INVALID;
}

/* 0 for a type b3cas does not store (deltas, invalid). */
static b3cas_git_type from_git_type(git_object_t t)
{
	switch (t) {
	case GIT_OBJECT_COMMIT: return B3CAS_GIT_COMMIT;
	case GIT_OBJECT_TREE: return B3CAS_GIT_TREE;
	case GIT_OBJECT_BLOB: return B3CAS_GIT_BLOB;
	case GIT_OBJECT_TAG: return B3CAS_GIT_TAG;
	default: return (b3cas_git_type)0;
	}
}

static void to_b3(b3cas_git_oid *g, const git_oid *oid)
{
	g->algo = B3CAS_GIT_SHA1;
	memset(g->bytes, 0, sizeof(g->bytes));
	memcpy(g->bytes, oid->id, GIT_OID_RAWSZ);
}

static void to_git(git_oid *oid, const b3cas_git_oid *g)
{
	memcpy(oid->id, g->bytes, GIT_OID_RAWSZ);
}

/* ---- reads ------------------------------------------------------------- */

/* The mapping of oid, in *o: 0, or a libgit2 code. */
static int lookup(backend *b, const git_oid *oid, b3cas_git_object *o)
{
	b3cas_git_oid g;

	to_b3(&g, oid);
	return git_code(b3cas_git_lookup(b->store, &g, o));
}

/* The content of o into a buffer libgit2 frees: 0, or a code. */
static int read_content(backend *b, const b3cas_git_object *o, void **out,
			size_t *len)
{
	void *data = NULL;
	size_t n = 0;
	uint8_t *copy;
	int rc = b3cas_store_get(b->store, &o->id, &data, &n);

	if (rc < 0)
		return git_code(rc);
	if (n != o->size) {
		b3cas_free(data);
		return git_fail(GIT_ERROR_ODB, "b3cas: an object's content has "
				"another size than its mapping says");
	}
	copy = git_odb_backend_data_alloc(&b->parent, n ? n : 1);
	if (!copy) {
		b3cas_free(data);
		return git_fail(GIT_ERROR_NOMEMORY, "b3cas: out of memory");
	}
	if (n)
		memcpy(copy, data, n);
	b3cas_free(data);
	*out = copy;
	*len = n;
	return 0;
}

static int be_read(void **out, size_t *len, git_object_t *type,
		   git_odb_backend *parent, const git_oid *oid)
{
	backend *b = (backend *)parent;
	b3cas_git_object o;
	int rc = lookup(b, oid, &o);

	if (rc == 0)
		rc = read_content(b, &o, out, len);
	if (rc == 0)
		*type = to_git_type(o.type);
	return rc;
}

/* The one mapped id that starts with oid's first len hex digits. */
static int lookup_prefix(backend *b, const git_oid *oid, size_t len,
			 b3cas_git_object *o)
{
	char hex[GIT_OID_HEXSZ + 1];

	if (len >= GIT_OID_HEXSZ)
		return lookup(b, oid, o);
	git_oid_nfmt(hex, len, oid);
	hex[len] = '\0';
	return git_code(b3cas_git_lookup_prefix(b->store, B3CAS_GIT_SHA1, hex,
						o));
}

static int be_read_prefix(git_oid *full, void **out, size_t *len,
			  git_object_t *type, git_odb_backend *parent,
			  const git_oid *oid, size_t hexlen)
{
	backend *b = (backend *)parent;
	b3cas_git_object o;
	int rc = lookup_prefix(b, oid, hexlen, &o);

	if (rc == 0)
		rc = read_content(b, &o, out, len);
	if (rc == 0) {
		to_git(full, &o.git);
		*type = to_git_type(o.type);
	}
	return rc;
}

static int be_read_header(size_t *len, git_object_t *type,
			  git_odb_backend *parent, const git_oid *oid)
{
	b3cas_git_object o;
	int rc = lookup((backend *)parent, oid, &o);

	if (rc == 0) {
		*len = (size_t)o.size;
		*type = to_git_type(o.type);
	}
	return rc;
}

/* A tree, commit or tag stored without its links (a clone stopped
 * between its pack's passes) is not there for libgit2: a clone or fetch
 * then gets it again, and its pack's second pass links it. */
static int be_exists(git_odb_backend *parent, const git_oid *oid)
{
	b3cas_git_oid g;
	int rc;

	to_b3(&g, oid);
	rc = b3cas_git_linked(((backend *)parent)->store, &g);
	if (rc < 0)
		b3cas_error_clear();
	return rc == 1;
}

static int be_exists_prefix(git_oid *full, git_odb_backend *parent,
			    const git_oid *oid, size_t hexlen)
{
	b3cas_git_object o;
	int rc = lookup_prefix((backend *)parent, oid, hexlen, &o);

	if (rc == 0)
		to_git(full, &o.git);
	return rc;
}

static int be_freshen(git_odb_backend *parent, const git_oid *oid)
{
	backend *b = (backend *)parent;
	b3cas_git_object o;
	b3cas_git_oid g;

	/* nothing ages in the store: 0 when it is there (libgit2 then
	 * writes it not), and the lease's reference for a leased backend;
	 * one stored without its links is written again, with them */
	to_b3(&g, oid);
	if (b3cas_git_linked(b->store, &g) != 1 ||
	    b3cas_git_lookup(b->store, &g, &o) != 0) {
		b3cas_error_clear();
		return 1;
	}
	return b->lease ? git_code(b3cas_lease_ref(b->lease, &o.id)) : 0;
}

static int be_refresh(git_odb_backend *parent)
{
	(void)parent; /* every read sees the store as it is */
	return 0;
}

typedef struct each_ctx {
	git_odb_foreach_cb cb;
	void *payload;
	int answer; /* the callback's non-zero answer, which stopped it */
} each_ctx;

static int each_one(const b3cas_git_object *o, void *ctx)
{
	each_ctx *e = ctx;
	git_oid oid;

	to_git(&oid, &o->git);
	e->answer = e->cb(&oid, e->payload);
	return e->answer != 0;
}

static int be_foreach(git_odb_backend *parent, git_odb_foreach_cb cb,
		      void *payload)
{
	each_ctx e = {cb, payload, 0};
	int rc = b3cas_git_foreach(((backend *)parent)->store, B3CAS_GIT_SHA1,
				   each_one, &e);

	/* the callback's own answer stops the walk and is returned */
	return e.answer ? e.answer : git_code(rc);
}

/* ---- read streams ------------------------------------------------------ */

/* More than libgit2 1.5's git_hash_ctx takes (SHA-1 with collision
 * detection is the largest, about 2.3 KiB). */
#define HASH_CTX_ROOM 8192

typedef struct rstream {
	git_odb_stream parent;
	b3cas_reader *r;
} rstream;

static int rs_read(git_odb_stream *s, char *buf, size_t len)
{
	int64_t n = b3cas_reader_read(((rstream *)s)->r, buf, len);

	if (n < 0)
		return git_code((int)n);
	s->received_bytes += (git_object_size_t)n;
	return n > INT_MAX ? INT_MAX : (int)n;
}

/* The stream, less its hash_ctx: git_odb_stream_free frees that. */
static void rs_free(git_odb_stream *s)
{
	b3cas_reader_close(((rstream *)s)->r);
	free(s);
}

static int be_readstream(git_odb_stream **out, size_t *len,
			 git_object_t *type, git_odb_backend *parent,
			 const git_oid *oid)
{
	backend *b = (backend *)parent;
	b3cas_git_object o;
	rstream *s;
	int rc = lookup(b, oid, &o);

	if (rc < 0)
		return rc;
	s = calloc(1, sizeof(*s));
	if (!s)
		return git_fail(GIT_ERROR_NOMEMORY, "b3cas: out of memory");
	rc = b3cas_reader_open(&s->r, b->store, &o.id);
	if (rc < 0) {
		free(s);
		return git_code(rc);
	}
	if (b3cas_reader_size(s->r) != o.size) {
		rs_free(&s->parent);
		return git_fail(GIT_ERROR_ODB, "b3cas: an object's content has "
				"another size than its mapping says");
	}
	/* libgit2 1.5's git_odb_stream_free cleans up hash_ctx without
	 * looking for NULL (later versions look), then frees it with its own
	 * allocator: a zeroed context (its algorithm "none", whose cleanup
	 * does nothing), larger than any of 1.5's, from that allocator. */
	s->parent.hash_ctx = git_odb_backend_data_alloc(parent, HASH_CTX_ROOM);
	if (!s->parent.hash_ctx) {
		rs_free(&s->parent);
		return git_fail(GIT_ERROR_NOMEMORY, "b3cas: out of memory");
	}
	memset(s->parent.hash_ctx, 0, HASH_CTX_ROOM);
	s->parent.backend = parent;
	s->parent.mode = GIT_STREAM_RDONLY;
	s->parent.declared_size = o.size;
	s->parent.read = rs_read;
	s->parent.free = rs_free;
	*out = &s->parent;
	*len = (size_t)o.size;
	*type = to_git_type(o.type);
	return 0;
}

/* ---- writes ------------------------------------------------------------ */

/* What a tree, commit or tag names, linked first (b3cas_git_link). */
static int link_named(const b3cas_git_oid *g, void *ctx)
{
	return b3cas_git_link(ctx, g, NULL);
}

/*
 * Store an object of git id oid under lease l, unless the store maps it
 * already, linked (if link) to what it names that is stored (a tree,
 * commit or tag; what it names is linked first, and one mapped already
 * without its links gets them; without link, a later put may give the
 * links); then its reference: a lasting one, or the backend's lease's.
 * The id the put computes must be oid. 0, or a libgit2 code.
 */
static int put_one(backend *b, b3cas_lease *l, const git_oid *oid,
		   const void *data, size_t len, git_object_t type, bool link)
{
	b3cas_git_type t = from_git_type(type);
	b3cas_git_object o;
	b3cas_git_oid g;
	b3cas_oid *links = NULL;
	size_t n = 0;
	int rc;

	if (!t)
		return git_fail(GIT_ERROR_INVALID, "b3cas: not a type of object "
				"the store keeps");
	to_b3(&g, oid);
	link = link && t != B3CAS_GIT_BLOB;
	if (b3cas_git_lookup(b->store, &g, &o) == 0) {
		/* held already by what holds it; the lease's too; one
		 * stored without its links gets them */
		rc = link ? b3cas_git_link(l, &g, NULL) : 0;
		if (rc == 0 && b->lease)
			rc = b3cas_lease_ref(b->lease, &o.id);
		return git_code(rc);
	}
	/* with its links once all it names is linked (what is linked
	 * reaches only what is linked: b3cas_git_link) */
	rc = link ? b3cas_git_each_named(B3CAS_GIT_SHA1, t, data, len,
					 link_named, l)
		  : 0;
	if (rc == 0 && link)
		rc = b3cas_git_links(b->store, B3CAS_GIT_SHA1, t, data, len,
				     &links, &n);
	if (rc == 0)
		rc = b3cas_git_put(l, B3CAS_GIT_SHA1, t, data, len,
				   links ? links : (link ? &o.id : NULL), n,
				   &o);
	b3cas_free(links);
	if (rc < 0)
		return git_code(rc);
	if (memcmp(o.git.bytes, oid->id, GIT_OID_RAWSZ) != 0)
		return git_fail(GIT_ERROR_ODB, "b3cas: the object hashes to "
				"another id than the one given");
	if (b->lease)
		return 0;
	rc = (int)b3cas_ref_add(b->store, &o.id);
	return rc < 0 ? git_code(rc) : 0;
}

static int be_write(git_odb_backend *parent, const git_oid *oid,
		    const void *data, size_t len, git_object_t type)
{
	backend *b = (backend *)parent;
	b3cas_lease *l;
	int rc;

	if (b->lease)
		return put_one(b, b->lease, oid, data, len, type, true);
	rc = b3cas_lease_open(b->store, &l);
	if (rc < 0)
		return git_code(rc);
	rc = put_one(b, l, oid, data, len, type, true);
	/* the lasting reference is taken: the lease's goes */
	if (b3cas_lease_close(l) < 0 && rc == 0)
		rc = git_code(B3CAS_EIO);
	return rc;
}

/* ---- write streams ------------------------------------------------------ */

/*
 * An object written in pieces (git_odb_open_wstream; libgit2 writes a
 * file larger than its buffer so, git_blob_create_from_stream): the
 * pieces go straight to a b3cas_git_writer, so a blob of any size is
 * stored in bounded memory. libgit2 hashes what it is given too (the
 * stream's hash_ctx, its own) and finalize_write passes that id: the
 * store's must be the same.
 */
typedef struct wstream {
	git_odb_stream parent;
	backend *b;
	b3cas_lease *l;
	b3cas_git_writer *w; /* NULL once committed or failed */
} wstream;

static int ws_write(git_odb_stream *s, const char *buf, size_t len)
{
	wstream *w = (wstream *)s;
	int rc;

	if (!w->w)
		return git_fail(GIT_ERROR_ODB, "b3cas: the stream is finished");
	rc = b3cas_git_writer_write(w->w, buf, len);
	if (rc < 0) {
		b3cas_git_writer_abort(w->w);
		w->w = NULL;
		return git_code(rc);
	}
	return 0;
}

static int ws_finalize(git_odb_stream *s, const git_oid *oid)
{
	wstream *w = (wstream *)s;
	b3cas_git_object o;
	b3cas_git_oid g;
	int rc;

	if (!w->w)
		return git_fail(GIT_ERROR_ODB, "b3cas: the stream is finished");
	to_b3(&g, oid);
	if (b3cas_git_lookup(w->b->store, &g, &o) == 0) {
		b3cas_git_writer_abort(w->w); /* held already */
		w->w = NULL;
		return w->b->lease
			       ? git_code(b3cas_lease_ref(w->b->lease, &o.id))
			       : 0;
	}
	rc = b3cas_git_writer_commit(w->w, &o);
	w->w = NULL;
	if (rc < 0)
		return git_code(rc);
	if (memcmp(o.git.bytes, oid->id, GIT_OID_RAWSZ) != 0)
		return git_fail(GIT_ERROR_ODB, "b3cas: the object hashes to "
				"another id than the one given");
	if (w->b->lease)
		return 0; /* the backend's lease holds it */
	/* the lasting reference; the lease's goes with the stream */
	rc = (int)b3cas_ref_add(w->b->store, &o.id);
	return rc < 0 ? git_code(rc) : 0;
}

/* The stream, less its hash_ctx (libgit2's own, freed by it). */
static void ws_free(git_odb_stream *s)
{
	wstream *w = (wstream *)s;

	b3cas_git_writer_abort(w->w);
	(void)b3cas_lease_close(w->l);
	free(w);
}

static int be_writestream(git_odb_stream **out, git_odb_backend *parent,
			  git_object_size_t size, git_object_t type)
{
	backend *b = (backend *)parent;
	b3cas_git_type t = from_git_type(type);
	wstream *w;
	int rc;

	if (!t)
		return git_fail(GIT_ERROR_INVALID, "b3cas: not a type of object "
				"the store keeps");
	w = calloc(1, sizeof(*w));
	if (!w)
		return git_fail(GIT_ERROR_NOMEMORY, "b3cas: out of memory");
	w->b = b;
	rc = b->lease ? 0 : b3cas_lease_open(b->store, &w->l);
	if (rc == 0)
		rc = b3cas_git_writer_open(&w->w, b->lease ? b->lease : w->l,
					   B3CAS_GIT_SHA1, t, (uint64_t)size);
	if (rc < 0) {
		(void)b3cas_lease_close(w->l);
		free(w);
		return git_code(rc);
	}
	w->parent.backend = parent;
	w->parent.mode = GIT_STREAM_WRONLY;
	w->parent.declared_size = size;
	w->parent.write = ws_write;
	w->parent.finalize_write = ws_finalize;
	w->parent.free = ws_free;
	*out = &w->parent;
	return 0;
}

/* ---- writepack ----------------------------------------------------------- */

typedef struct writepack {
	git_odb_writepack parent;
	git_indexer *idx;
	char dir[PATH_MAX];
	bool committed;
} writepack;

static int wp_append(git_odb_writepack *w, const void *data, size_t size,
		     git_indexer_progress *stats)
{
	return git_indexer_append(((writepack *)w)->idx, data, size, stats);
}

typedef struct import_ctx {
	backend *b;
	git_odb *pack;
	b3cas_lease *lease;
	git_oid *named; /* the pack's trees, commits and tags */
	size_t n, cap;
	int rc;
} import_ctx;

static int import_one(const git_oid *oid, void *ctx)
{
	import_ctx *c = ctx;
	git_odb_object *obj;
	bool named = false;
	int rc = git_odb_read(&obj, c->pack, oid);

	if (rc == 0) {
		rc = put_one(c->b, c->lease, oid, git_odb_object_data(obj),
			     git_odb_object_size(obj),
			     git_odb_object_type(obj), false);
		named = git_odb_object_type(obj) != GIT_OBJECT_BLOB;
		git_odb_object_free(obj);
	}
	/* every tree, commit and tag, also one stored before: one that a
	 * pack stopped between its passes left unlinked gets its links */
	if (rc == 0 && named && c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 256;
		git_oid *m = realloc(c->named, cap * sizeof(*m));

		if (m) {
			c->named = m;
			c->cap = cap;
		} else {
			rc = git_fail(GIT_ERROR_NOMEMORY, "b3cas: out of "
				      "memory");
		}
	}
	if (rc == 0 && named)
		git_oid_cpy(&c->named[c->n++], oid);
	if (rc < 0)
		c->rc = rc;
	return rc < 0 ? 1 : 0;
}

/* The second pass: each tree, commit and tag of the pack, which the
 * first met in no useful order, gets its links now that all is stored,
 * depth first (b3cas_git_link: one linked before keeps its own and is
 * not gone into; one a pack stopped between its passes left unlinked
 * gets them). */
static int link_one(import_ctx *c, const git_oid *oid)
{
	b3cas_git_oid g;

	to_b3(&g, oid);
	return git_code(b3cas_git_link(c->lease, &g, NULL));
}

/* Store every object of the pack whose index is idx_path. */
static int import_pack(backend *b, const char *idx_path)
{
	git_odb_backend *one = NULL;
	import_ctx c = {b, NULL, NULL, NULL, 0, 0, 0};
	int rc = git_odb_new(&c.pack);

	if (rc == 0)
		rc = git_odb_backend_one_pack(&one, idx_path);
	if (rc == 0 && (rc = git_odb_add_backend(c.pack, one, 1)) < 0)
		one->free(one);
	if (rc == 0 && b->lease)
		c.lease = b->lease;
	else if (rc == 0)
		rc = git_code(b3cas_lease_open(b->store, &c.lease));
	if (rc == 0) {
		rc = git_odb_foreach(c.pack, import_one, &c);
		if (c.rc < 0)
			rc = c.rc;
		/* last met first: libgit2 goes through a pack in its order,
		 * which lists commits newest first, so their parents are
		 * linked before them and the walk stays shallow */
		for (size_t i = 0; rc == 0 && i < c.n; i++)
			rc = link_one(&c, &c.named[c.n - 1 - i]);
		if (c.lease != b->lease && b3cas_lease_close(c.lease) < 0 &&
		    rc == 0)
			rc = git_code(B3CAS_EIO);
	}
	free(c.named);
	git_odb_free(c.pack);
	return rc;
}

/* Remove the temporary folder and what the indexer left in it. */
static void remove_dir(writepack *w)
{
	DIR *d;
	struct dirent *e;

	if (!w->dir[0])
		return;
	d = opendir(w->dir);
	while (d && (e = readdir(d)) != NULL) {
		char p[PATH_MAX + 256];

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", w->dir, e->d_name);
		(void)unlink(p);
	}
	if (d)
		closedir(d);
	(void)rmdir(w->dir);
	w->dir[0] = '\0';
}

static int wp_commit(git_odb_writepack *gw, git_indexer_progress *stats)
{
	writepack *w = (writepack *)gw;
	char idx_path[PATH_MAX + 128];
	int rc;

	if (w->committed)
		return git_fail(GIT_ERROR_INVALID, "b3cas: the pack was "
				"committed already");
	w->committed = true;
	rc = git_indexer_commit(w->idx, stats);
	if (rc < 0)
		return rc;
	snprintf(idx_path, sizeof(idx_path), "%s/pack-%s.idx", w->dir,
		 git_indexer_name(w->idx));
	rc = import_pack((backend *)gw->backend, idx_path);
	remove_dir(w);
	return rc;
}

static void wp_free(git_odb_writepack *gw)
{
	writepack *w = (writepack *)gw;

	git_indexer_free(w->idx);
	remove_dir(w);
	free(w);
}

static int be_writepack(git_odb_writepack **out, git_odb_backend *parent,
			git_odb *odb, git_indexer_progress_cb progress,
			void *payload)
{
	git_indexer_options opts;
	const char *tmp = getenv("TMPDIR");
	writepack *w = calloc(1, sizeof(*w));
	int rc;

	if (!w)
		return git_fail(GIT_ERROR_NOMEMORY, "b3cas: out of memory");
	snprintf(w->dir, sizeof(w->dir), "%s/b3cas-pack-XXXXXX",
		 tmp && tmp[0] ? tmp : "/tmp");
	if (!mkdtemp(w->dir)) {
		char msg[PATH_MAX + 128];

		snprintf(msg, sizeof(msg), "b3cas: cannot make a folder for "
			 "the pack in %s: %s", tmp && tmp[0] ? tmp : "/tmp",
			 strerror(errno));
		free(w);
		return git_fail(GIT_ERROR_OS, msg);
	}
	git_indexer_options_init(&opts, GIT_INDEXER_OPTIONS_VERSION);
	opts.progress_cb = progress;
	opts.progress_cb_payload = payload;
	rc = git_indexer_new(&w->idx, w->dir, 0, odb, &opts);
	if (rc < 0) {
		remove_dir(w);
		free(w);
		return rc;
	}
	w->parent.backend = parent;
	w->parent.append = wp_append;
	w->parent.commit = wp_commit;
	w->parent.free = wp_free;
	*out = &w->parent;
	return 0;
}

/* ---- the backend ------------------------------------------------------- */

static void be_free(git_odb_backend *parent)
{
	free(parent);
}

/* A backend over store; lease (may be NULL) holds what it writes. */
static int backend_new(git_odb_backend **out, b3cas_store *store,
		       b3cas_lease *lease, const char *fn)
{
	backend *b = calloc(1, sizeof(*b));
	char msg[128];

	if (!b) {
		snprintf(msg, sizeof(msg), "%s: out of memory", fn);
		return b3cas_error_set(B3CAS_ENOMEM, msg);
	}
	if (git_odb_init_backend(&b->parent, GIT_ODB_BACKEND_VERSION) < 0) {
		free(b);
		snprintf(msg, sizeof(msg), "%s: libgit2 refused the backend's "
			 "version", fn);
		return b3cas_error_set(B3CAS_ERROR, msg);
	}
	b->store = store;
	b->lease = lease;
	b->parent.read = be_read;
	b->parent.read_prefix = be_read_prefix;
	b->parent.read_header = be_read_header;
	b->parent.write = be_write;
	b->parent.readstream = be_readstream;
	b->parent.writestream = be_writestream;
	b->parent.exists = be_exists;
	b->parent.exists_prefix = be_exists_prefix;
	b->parent.refresh = be_refresh;
	b->parent.foreach = be_foreach;
	b->parent.writepack = be_writepack;
	b->parent.freshen = be_freshen;
	b->parent.free = be_free;
	*out = &b->parent;
	return 0;
}

int b3cas_git_odb_backend_new(git_odb_backend **out, b3cas_store *store)
{
	if (!out)
		return b3cas_error_set(B3CAS_EINVAL, "b3cas_git_odb_backend_new: "
				       "out is NULL");
	if (!store)
		return b3cas_error_set(B3CAS_EINVAL, "b3cas_git_odb_backend_new: "
				       "store is NULL");
	return backend_new(out, store, NULL, "b3cas_git_odb_backend_new");
}

int b3cas_git_odb_backend_leased(git_odb_backend **out, b3cas_lease *lease)
{
	if (!out)
		return b3cas_error_set(B3CAS_EINVAL, "b3cas_git_odb_backend_"
				       "leased: out is NULL");
	if (!lease)
		return b3cas_error_set(B3CAS_EINVAL, "b3cas_git_odb_backend_"
				       "leased: lease is NULL");
	return backend_new(out, b3cas_lease_store(lease), lease,
			   "b3cas_git_odb_backend_leased");
}
