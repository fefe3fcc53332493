/*
 * store/gitmap.c - git objects and the mapping between git's ids and
 * b3cas's (b3cas/git.h, docs/git.md).
 *
 * Two keys in the meta family per stored git object, written by the
 * batch that stores the object (a tag chain, put.c) and deleted by the
 * batch that removes it (b3cas__gitmap_batch_removed, from
 * refs.c's removal):
 *   'g' algo gitid          -> version type size(8, big-endian) id(32)
 *   'G' id(32) algo type    -> gitid
 * so a git id finds its object with one read, and an object its git ids
 * with one seek. A mapping whose object is no longer stored (which a
 * removal's batch never leaves, but an index mended by hand may) reads as
 * absent.
 *
 * Invariants: a mapping is written only beside a reference to the object
 * it names, in one batch, under the object's stripe lock; the git id is
 * computed here from the bytes, never taken from a caller.
 */
#include "store/handle.h"

#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "b3cas/git.h"
#include "util/error.h"

#define MAP_VERSION 1
#define FWD_VAL_LEN (2 + 8 + B3CAS_OID_LEN)
#define FWD_KEY_MAX (2 + B3CAS_GIT_OID_MAX)
#define REV_KEY_LEN (1 + B3CAS_OID_LEN + 2)

static const char *const type_names[] = {NULL, "commit", "tree", "blob",
					 "tag"};

size_t b3cas_git_oid_len(b3cas_git_algo algo)
{
	return algo == B3CAS_GIT_SHA1 ? 20 : algo == B3CAS_GIT_SHA256 ? 32 : 0;
}

static bool type_ok(b3cas_git_type t)
{
	return t >= B3CAS_GIT_COMMIT && t <= B3CAS_GIT_TAG;
}

const char *b3cas_git_type_name(b3cas_git_type type)
{
	return type_ok(type) ? type_names[type] : NULL;
}

int b3cas_git_type_parse(b3cas_git_type *out, const char *name)
{
	B3CAS__NONNULL(out, "out");
	B3CAS__NONNULL(name, "name");
	for (int t = B3CAS_GIT_COMMIT; t <= B3CAS_GIT_TAG; t++)
		if (strcmp(name, type_names[t]) == 0) {
			*out = (b3cas_git_type)t;
			return 0;
		}
	return b3cas__error(B3CAS_EINVAL, "'%.20s' is not a git object type",
			    name);
}

/* n hex digits of hex into bytes (a last odd digit as a high nibble):
 * false when one is not hex. */
static bool hex_bytes(uint8_t *bytes, const char *hex, size_t n)
{
	memset(bytes, 0, (n + 1) / 2);
	for (size_t i = 0; i < n; i++) {
		int v = b3cas__hex_value(hex[i]);

		if (v < 0)
			return false;
		bytes[i / 2] |= (uint8_t)(i % 2 ? v : v << 4);
	}
	return true;
}

int b3cas_git_oid_parse(b3cas_git_oid *out, const char *hex)
{
	uint8_t bytes[B3CAS_GIT_OID_MAX] = {0};
	size_t n;

	B3CAS__NONNULL(out, "out");
	B3CAS__NONNULL(hex, "hex");
	n = strlen(hex);
	if ((n != 40 && n != 64) || !hex_bytes(bytes, hex, n))
		return b3cas__error(B3CAS_EINVAL, "'%.70s' is not a git id "
				    "(40 or 64 hex digits)", hex);
	out->algo = n == 40 ? B3CAS_GIT_SHA1 : B3CAS_GIT_SHA256;
	memcpy(out->bytes, bytes, sizeof(bytes));
	return 0;
}

char *b3cas_git_oid_fmt(char *buf, const b3cas_git_oid *id)
{
	static const char digits[] = "0123456789abcdef";
	size_t n;

	B3CAS__NONNULL_OR(buf, "buf", NULL);
	B3CAS__NONNULL_OR(id, "id", NULL);
	n = b3cas_git_oid_len(id->algo);

	for (size_t i = 0; i < n; i++) {
		buf[2 * i] = digits[id->bytes[i] >> 4];
		buf[2 * i + 1] = digits[id->bytes[i] & 15];
	}
	buf[2 * n] = '\0';
	return buf;
}

int b3cas_git_hash(b3cas_git_oid *out, b3cas_git_algo algo,
		   b3cas_git_type type, const void *data, size_t len)
{
	char head[48];
	int hn;
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	int ok;

	B3CAS__NONNULL(out, "out");
	B3CAS__NONNULL_LEN(data, "data", len, "len");
	if (!b3cas_git_oid_len(algo) || !type_ok(type))
		return b3cas__error(B3CAS_EINVAL, "b3cas_git_hash: unknown "
				    "algo %d or type %d", (int)algo,
				    (int)type);
	hn = snprintf(head, sizeof(head), "%s %zu", type_names[type], len);
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	ok = EVP_DigestInit_ex(ctx,
			       algo == B3CAS_GIT_SHA1 ? EVP_sha1()
						      : EVP_sha256(),
			       NULL) == 1 &&
	     EVP_DigestUpdate(ctx, head, (size_t)hn + 1) == 1 &&
	     (len == 0 || EVP_DigestUpdate(ctx, data, len) == 1) &&
	     EVP_DigestFinal_ex(ctx, out->bytes, &mdlen) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok || mdlen != b3cas_git_oid_len(algo))
		return b3cas__error(B3CAS_ENOMEM, "git hash: OpenSSL failed");
	out->algo = algo;
	memset(out->bytes + mdlen, 0, B3CAS_GIT_OID_MAX - mdlen);
	return 0;
}

/* ---- keys ---------------------------------------------------------------- */

static size_t fwd_key(uint8_t k[FWD_KEY_MAX], const b3cas_git_oid *g)
{
	size_t n = b3cas_git_oid_len(g->algo);

	k[0] = 'g';
	k[1] = (uint8_t)g->algo;
	memcpy(k + 2, g->bytes, n);
	return 2 + n;
}

static void rev_key(uint8_t k[REV_KEY_LEN], const b3cas_oid *id,
		    b3cas_git_algo algo, b3cas_git_type type)
{
	k[0] = 'G';
	memcpy(k + 1, id->bytes, B3CAS_OID_LEN);
	k[1 + B3CAS_OID_LEN] = (uint8_t)algo;
	k[2 + B3CAS_OID_LEN] = (uint8_t)type;
}

static void fwd_val(uint8_t v[FWD_VAL_LEN], b3cas_git_type type,
		    uint64_t size, const b3cas_oid *id)
{
	v[0] = MAP_VERSION;
	v[1] = (uint8_t)type;
	for (int i = 0; i < 8; i++)
		v[2 + i] = (uint8_t)(size >> (56 - 8 * i));
	memcpy(v + 10, id->bytes, B3CAS_OID_LEN);
}

/* Decode a forward value into o (its git id set by the caller). */
static int fwd_parse(const uint8_t *v, size_t vlen, b3cas_git_object *o)
{
	char hex[B3CAS_GIT_HEX_MAX + 1];

	if (vlen != FWD_VAL_LEN || v[0] != MAP_VERSION ||
	    !type_ok((b3cas_git_type)v[1]))
		return b3cas__error(B3CAS_ECORRUPT, "the mapping of git id %s "
				    "is malformed",
				    b3cas_git_oid_fmt(hex, &o->git));
	o->type = (b3cas_git_type)v[1];
	o->size = 0;
	for (int i = 0; i < 8; i++)
		o->size = o->size << 8 | v[2 + i];
	memcpy(o->id.bytes, v + 10, B3CAS_OID_LEN);
	return 0;
}

/* ---- for fsck ------------------------------------------------------------ */

_Static_assert(FWD_KEY_MAX == B3CAS__GITMAP_FWD_MAX, "fsck's key size");
_Static_assert(REV_KEY_LEN == B3CAS__GITMAP_REV_LEN, "fsck's key size");
_Static_assert(FWD_VAL_LEN == B3CAS__GITMAP_FWD_VAL, "fsck's value size");

int b3cas__gitmap_decode(const uint8_t *k, size_t klen, const uint8_t *v,
			 size_t vlen, b3cas_git_object *o)
{
	size_t n = klen >= 2 ? b3cas_git_oid_len((b3cas_git_algo)k[1]) : 0;

	memset(o, 0, sizeof(*o));
	if (klen < 2 || k[0] != 'g' || n == 0 || klen != 2 + n)
		return b3cas__error(B3CAS_ECORRUPT, "a git mapping key of %zu "
				    "bytes is malformed", klen);
	o->git.algo = (b3cas_git_algo)k[1];
	memcpy(o->git.bytes, k + 2, n);
	return fwd_parse(v, vlen, o);
}

size_t b3cas__gitmap_keys(const b3cas_git_object *o, uint8_t *fk, uint8_t *rk,
			  uint8_t *fv)
{
	rev_key(rk, &o->id, o->git.algo, o->type);
	fwd_val(fv, o->type, o->size, &o->id);
	return fwd_key(fk, &o->git);
}

int b3cas__gitmap_rehash(b3cas_store *s, const b3cas_git_object *o,
			 b3cas_git_oid *got, uint64_t *size)
{
	b3cas_reader *r;
	EVP_MD_CTX *md;
	char head[48];
	uint8_t *buf;
	unsigned int mdlen = 0;
	size_t n = b3cas_git_oid_len(o->git.algo);
	int rc = b3cas_reader_open(&r, s, &o->id), hn;

	if (rc < 0)
		return rc;
	*size = b3cas_reader_size(r);
	hn = snprintf(head, sizeof(head), "%s %llu", type_names[o->type],
		      (unsigned long long)*size);
	buf = malloc(1u << 20);
	md = EVP_MD_CTX_new();
	if (!buf || !md ||
	    EVP_DigestInit_ex(md, o->git.algo == B3CAS_GIT_SHA1 ? EVP_sha1()
							       : EVP_sha256(),
			      NULL) != 1 ||
	    EVP_DigestUpdate(md, head, (size_t)hn + 1) != 1)
		rc = b3cas__error(B3CAS_ENOMEM, "out of memory");
	while (rc == 0) {
		int64_t got_n = b3cas_reader_read(r, buf, 1u << 20);

		if (got_n < 0)
			rc = (int)got_n;
		else if (got_n == 0)
			break;
		else if (EVP_DigestUpdate(md, buf, (size_t)got_n) != 1)
			rc = b3cas__error(B3CAS_ENOMEM, "git hash: OpenSSL "
					  "failed");
	}
	if (rc == 0 && (EVP_DigestFinal_ex(md, got->bytes, &mdlen) != 1 ||
			mdlen != n))
		rc = b3cas__error(B3CAS_ENOMEM, "git hash: OpenSSL failed");
	if (rc == 0) {
		got->algo = o->git.algo;
		memset(got->bytes + n, 0, B3CAS_GIT_OID_MAX - n);
	}
	EVP_MD_CTX_free(md);
	free(buf);
	b3cas_reader_close(r);
	return rc;
}

/* ---- storing ------------------------------------------------------------- */

int b3cas_git_put(b3cas_lease *lease, b3cas_git_algo algo,
		  b3cas_git_type type, const void *data, size_t len,
		  const b3cas_oid *links, size_t nlinks,
		  b3cas_git_object *out)
{
	b3cas_store *s;
	b3cas_git_object o;
	uint8_t fk[FWD_KEY_MAX], rk[REV_KEY_LEN], fv[FWD_VAL_LEN];
	b3cas__tag rev, fwd;
	int rc;

	B3CAS__NONNULL(lease, "lease");
	B3CAS__NONNULL_LEN(data, "data", len, "len");
	B3CAS__NONNULL_LEN(links, "links", nlinks, "nlinks");
	s = b3cas__lease_store(lease);
	rc = b3cas_git_hash(&o.git, algo, type, data, len);
	if (rc == 0)
		rc = b3cas__store_hash(s, &o.id, data, len);
	if (rc < 0)
		return rc;
	o.type = type;
	o.size = len;
	rev_key(rk, &o.id, algo, type);
	fwd_val(fv, type, len, &o.id);
	rev = (b3cas__tag){rk, sizeof(rk), NULL, o.git.bytes,
			   b3cas_git_oid_len(algo)};
	fwd = (b3cas__tag){fk, fwd_key(fk, &o.git), &rev, fv, sizeof(fv)};
	/* before the write: every removal from now on looks for mappings */
	atomic_store(&s->gitmap, true);
	rc = b3cas__lease_put_tags(lease, NULL, data, len, links != NULL,
				   links, nlinks, &fwd, &o.id);
	if (rc >= 0 && out)
		*out = o;
	return rc;
}

/* ---- streaming ----------------------------------------------------------- */

struct b3cas_git_writer {
	b3cas_lease *lease;
	b3cas_writer *w;
	EVP_MD_CTX *md;
	b3cas_git_object o;
	uint64_t written;
	int error; /* the first failure: the writer can only be aborted */
	/* the mapping's keys, filled in once the b3cas id is known */
	uint8_t fk[FWD_KEY_MAX], rk[REV_KEY_LEN], fv[FWD_VAL_LEN];
	b3cas__tag rev, fwd;
};

int b3cas_git_writer_open(b3cas_git_writer **out, b3cas_lease *lease,
			  b3cas_git_algo algo, b3cas_git_type type,
			  uint64_t size)
{
	b3cas_git_writer *g;
	char head[48];
	int hn, rc;

	B3CAS__NONNULL(out, "out");
	*out = NULL;
	B3CAS__NONNULL(lease, "lease");
	if (!b3cas_git_oid_len(algo) || !type_ok(type))
		return b3cas__error(B3CAS_EINVAL, "b3cas_git_writer_open: "
				    "unknown algo %d or type %d", (int)algo,
				    (int)type);
	g = calloc(1, sizeof(*g));
	if (!g)
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	g->lease = lease;
	g->o.git.algo = algo;
	g->o.type = type;
	g->o.size = size;
	hn = snprintf(head, sizeof(head), "%s %llu", type_names[type],
		      (unsigned long long)size);
	g->md = EVP_MD_CTX_new();
	if (!g->md || EVP_DigestInit_ex(g->md,
					algo == B3CAS_GIT_SHA1 ? EVP_sha1()
							       : EVP_sha256(),
					NULL) != 1 ||
	    EVP_DigestUpdate(g->md, head, (size_t)hn + 1) != 1) {
		EVP_MD_CTX_free(g->md);
		free(g);
		return b3cas__error(B3CAS_ENOMEM, "git hash: OpenSSL failed");
	}
	rc = b3cas_writer_open(&g->w, b3cas__lease_store(lease));
	if (rc < 0) {
		EVP_MD_CTX_free(g->md);
		free(g);
		return rc;
	}
	*out = g;
	return 0;
}

int b3cas_git_writer_write(b3cas_git_writer *g, const void *data, size_t len)
{
	int rc;

	B3CAS__NONNULL(g, "w");
	B3CAS__NONNULL_LEN(data, "data", len, "len");
	if (g->error < 0)
		return b3cas__error(g->error, "b3cas_git_writer_write: the "
				    "writer failed before");
	if (len > g->o.size - g->written) {
		g->error = B3CAS_EINVAL;
		return b3cas__error(B3CAS_EINVAL, "b3cas_git_writer_write: "
				    "more than the %llu bytes declared",
				    (unsigned long long)g->o.size);
	}
	if (len == 0)
		return 0;
	rc = b3cas_writer_write(g->w, data, len);
	if (rc == 0 && EVP_DigestUpdate(g->md, data, len) != 1)
		rc = b3cas__error(B3CAS_ENOMEM, "git hash: OpenSSL failed");
	if (rc < 0) {
		g->error = rc;
		return rc;
	}
	g->written += len;
	return 0;
}

void b3cas_git_writer_abort(b3cas_git_writer *g)
{
	if (!g)
		return;
	if (g->w)
		b3cas_writer_abort(g->w);
	EVP_MD_CTX_free(g->md);
	free(g);
}

/* Once the bytes' b3cas id is known: the mapping's keys that hold it. */
static void name_keys(void *ctx, const b3cas_oid *id)
{
	b3cas_git_writer *g = ctx;

	g->o.id = *id;
	rev_key(g->rk, id, g->o.git.algo, g->o.type);
	fwd_val(g->fv, g->o.type, g->o.size, id);
}

int b3cas_git_writer_commit(b3cas_git_writer *g, b3cas_git_object *out)
{
	b3cas_store *s;
	unsigned int mdlen = 0;
	size_t n;
	int rc;

	B3CAS__NONNULL(g, "w");
	if (g->error < 0) {
		rc = g->error;
		b3cas_git_writer_abort(g);
		return b3cas__error(rc, "b3cas_git_writer_commit: the writer "
				    "failed before (aborted)");
	}
	if (g->written != g->o.size) {
		unsigned long long got = g->written, want = g->o.size;

		b3cas_git_writer_abort(g);
		return b3cas__error(B3CAS_EINVAL, "b3cas_git_writer_commit: "
				    "%llu bytes written of the %llu declared "
				    "(aborted)", got, want);
	}
	s = b3cas__lease_store(g->lease);
	n = b3cas_git_oid_len(g->o.git.algo);
	if (EVP_DigestFinal_ex(g->md, g->o.git.bytes, &mdlen) != 1 ||
	    mdlen != n) {
		b3cas_git_writer_abort(g);
		return b3cas__error(B3CAS_ENOMEM, "git hash: OpenSSL failed");
	}
	memset(g->o.git.bytes + n, 0, B3CAS_GIT_OID_MAX - n);
	g->rev = (b3cas__tag){g->rk, sizeof(g->rk), NULL, g->o.git.bytes, n};
	g->fwd = (b3cas__tag){g->fk, fwd_key(g->fk, &g->o.git), &g->rev,
			      g->fv, sizeof(g->fv)};
	/* before the write: every removal from now on looks for mappings */
	atomic_store(&s->gitmap, true);
	rc = b3cas__lease_commit_tags(g->lease, g->w, NULL, &g->fwd,
				      name_keys, g);
	g->w = NULL; /* freed by the commit either way */
	if (rc >= 0 && out)
		*out = g->o;
	b3cas_git_writer_abort(g);
	return rc;
}

void b3cas__gitmap_batch_removed(b3cas_store *s, rocksdb_writebatch_t *b,
				 const b3cas_oid *id)
{
	rocksdb_readoptions_t *ro;
	rocksdb_iterator_t *it;
	uint8_t k[1 + B3CAS_OID_LEN];

	if (!atomic_load(&s->gitmap))
		return;
	k[0] = 'G';
	memcpy(k + 1, id->bytes, B3CAS_OID_LEN);
	ro = rocksdb_readoptions_create();
	it = rocksdb_create_iterator_cf(s->ix->db, ro,
					s->ix->cf[B3CAS_CF_META]);
	/* A mapping that cannot be read stays: it reads as absent (its
	 * object is gone) and fsck reports it. */
	for (rocksdb_iter_seek(it, (const char *)k, sizeof(k));
	     rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const uint8_t *key =
			(const uint8_t *)rocksdb_iter_key(it, &klen);
		const uint8_t *val =
			(const uint8_t *)rocksdb_iter_value(it, &vlen);
		b3cas_git_oid g;
		uint8_t fk[FWD_KEY_MAX];

		if (klen != REV_KEY_LEN || memcmp(key, k, sizeof(k)) != 0)
			break;
		g.algo = (b3cas_git_algo)key[1 + B3CAS_OID_LEN];
		if (vlen == b3cas_git_oid_len(g.algo) && vlen > 0) {
			memcpy(g.bytes, val, vlen);
			rocksdb_writebatch_delete_cf(
				b, s->ix->cf[B3CAS_CF_META], (const char *)fk,
				fwd_key(fk, &g));
		}
		rocksdb_writebatch_delete_cf(b, s->ix->cf[B3CAS_CF_META],
					     (const char *)key, klen);
	}
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
}

int b3cas__gitmap_any(b3cas_store *s)
{
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it = rocksdb_create_iterator_cf(
		s->ix->db, ro, s->ix->cf[B3CAS_CF_META]);
	char *err = NULL;
	int found = 0;

	rocksdb_iter_seek(it, "G", 1);
	if (rocksdb_iter_valid(it)) {
		size_t klen;

		found = rocksdb_iter_key(it, &klen)[0] == 'G';
	}
	rocksdb_iter_get_error(it, &err);
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	if (err)
		return b3cas__index_error(err, "cannot read the git mapping");
	return found;
}

/* ---- reading ------------------------------------------------------------- */

/* o's mapping is current: its object is stored. 1, 0, or an error. */
static int live(b3cas_store *s, const b3cas_git_object *o)
{
	return b3cas_store_exists(s, &o->id);
}

/* What git maps to, in *out; with check, only if the object is stored. */
static int lookup(b3cas_store *s, const b3cas_git_oid *git,
		  b3cas_git_object *out, bool check, const char *fn)
{
	rocksdb_pinnableslice_t *v;
	uint8_t k[FWD_KEY_MAX];
	char hex[B3CAS_GIT_HEX_MAX + 1];
	b3cas_git_object o;
	const char *p;
	size_t vlen;
	int rc;

	if (!b3cas_git_oid_len(git->algo))
		return b3cas__error(B3CAS_EINVAL, "%s: unknown algo %d", fn,
				    (int)git->algo);
	o.git = *git;
	rc = b3cas__index_get(s->ix, B3CAS_CF_META, k, fwd_key(k, git), &v);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return b3cas__error(B3CAS_ENOTFOUND, "git id %s is not mapped",
				    b3cas_git_oid_fmt(hex, git));
	p = rocksdb_pinnableslice_value(v, &vlen);
	rc = fwd_parse((const uint8_t *)p, vlen, &o);
	rocksdb_pinnableslice_destroy(v);
	if (rc == 0 && check) {
		rc = live(s, &o);
		if (rc == 0)
			rc = b3cas__error(B3CAS_ENOTFOUND, "git id %s is not "
					  "stored", b3cas_git_oid_fmt(hex, git));
		else if (rc == 1)
			rc = 0;
	}
	if (rc == 0)
		*out = o;
	return rc;
}

int b3cas_git_lookup(b3cas_store *s, const b3cas_git_oid *git,
		     b3cas_git_object *out)
{
	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(git, "git");
	B3CAS__NONNULL(out, "out");
	return lookup(s, git, out, true, "b3cas_git_lookup");
}

int b3cas_git_mapping(b3cas_store *s, const b3cas_git_oid *git,
		      b3cas_git_object *out)
{
	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(git, "git");
	B3CAS__NONNULL(out, "out");
	return lookup(s, git, out, false, "b3cas_git_mapping");
}

/* Walk the forward keys from key start (slen bytes) while they begin with
 * its first plen bytes and, with a nibble, the high half of the next;
 * fn(o, ctx) for each live one, non-zero stops. */
static int fwd_walk(b3cas_store *s, b3cas_git_algo algo, const uint8_t *start,
		    size_t plen, int nib,
		    int (*fn)(const b3cas_git_object *o, void *ctx), void *ctx)
{
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it = rocksdb_create_iterator_cf(
		s->ix->db, ro, s->ix->cf[B3CAS_CF_META]);
	char *err = NULL;
	int rc = 0;

	for (rocksdb_iter_seek(it, (const char *)start, plen + (nib >= 0));
	     rc == 0 && rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const uint8_t *key =
			(const uint8_t *)rocksdb_iter_key(it, &klen);
		const uint8_t *val =
			(const uint8_t *)rocksdb_iter_value(it, &vlen);
		b3cas_git_object o;
		size_t n;

		if (klen < plen || memcmp(key, start, plen) != 0)
			break;
		if (nib >= 0 && (klen <= plen || (key[plen] >> 4) != nib))
			break;
		if (klen < 2)
			continue;
		o.git.algo = (b3cas_git_algo)key[1];
		n = b3cas_git_oid_len(o.git.algo);
		if (n == 0 || klen != 2 + n ||
		    (algo && o.git.algo != algo))
			continue;
		memcpy(o.git.bytes, key + 2, n);
		memset(o.git.bytes + n, 0, B3CAS_GIT_OID_MAX - n);
		rc = fwd_parse(val, vlen, &o);
		if (rc == 0)
			rc = live(s, &o);
		if (rc == 1)
			rc = fn(&o, ctx);
	}
	if (rc == 0) {
		rocksdb_iter_get_error(it, &err);
		if (err)
			rc = b3cas__index_error(err, "cannot read the git "
						"mapping");
	}
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	return rc;
}

typedef struct prefix_find {
	b3cas_git_object *out;
	int found;
} prefix_find;

static int one_more(const b3cas_git_object *o, void *ctx)
{
	prefix_find *f = ctx;

	if (f->found++ == 0)
		*f->out = *o;
	return f->found > 1; /* a second: ambiguous, stop */
}

int b3cas_git_lookup_prefix(b3cas_store *s, b3cas_git_algo algo,
			    const char *hex, b3cas_git_object *out)
{
	uint8_t k[FWD_KEY_MAX + 1];
	prefix_find f = {out, 0};
	size_t n, max;
	int rc;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(hex, "hex");
	B3CAS__NONNULL(out, "out");
	max = 2 * b3cas_git_oid_len(algo);
	n = strlen(hex);
	if (!max || n < 4 || n > max || !hex_bytes(k + 2, hex, n))
		return b3cas__error(B3CAS_EINVAL, "'%.70s' is not an "
				    "abbreviated git id (4 to %zu hex "
				    "digits)", hex, max ? max : 64);
	k[0] = 'g';
	k[1] = (uint8_t)algo;
	rc = fwd_walk(s, algo, k, 2 + n / 2, n % 2 ? k[2 + n / 2] >> 4 : -1,
		      one_more, &f);
	if (rc < 0)
		return rc;
	if (f.found == 0)
		return b3cas__error(B3CAS_ENOTFOUND, "no git object's id "
				    "begins with %s", hex);
	if (f.found > 1)
		return b3cas__error(B3CAS_EEXISTS, "git id %s is ambiguous: "
				    "more than one object's id begins with "
				    "it", hex);
	return 0;
}

int b3cas_git_reverse(b3cas_store *s, const b3cas_oid *id,
		      b3cas_git_algo algo, b3cas_git_type type,
		      b3cas_git_object *out)
{
	rocksdb_readoptions_t *ro;
	rocksdb_iterator_t *it;
	uint8_t k[REV_KEY_LEN];
	char hex[B3CAS_OID_HEX_LEN + 1], *err = NULL;
	int rc = B3CAS_ENOTFOUND;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(id, "id");
	B3CAS__NONNULL(out, "out");
	if (!b3cas_git_oid_len(algo) || (type && !type_ok(type)))
		return b3cas__error(B3CAS_EINVAL, "b3cas_git_reverse: unknown "
				    "algo %d or type %d", (int)algo,
				    (int)type);
	rev_key(k, id, algo, type ? type : B3CAS_GIT_COMMIT);
	ro = rocksdb_readoptions_create();
	it = rocksdb_create_iterator_cf(s->ix->db, ro,
					s->ix->cf[B3CAS_CF_META]);
	for (rocksdb_iter_seek(it, (const char *)k, sizeof(k));
	     rc == B3CAS_ENOTFOUND && rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const uint8_t *key =
			(const uint8_t *)rocksdb_iter_key(it, &klen);
		const uint8_t *val =
			(const uint8_t *)rocksdb_iter_value(it, &vlen);

		if (klen != REV_KEY_LEN || memcmp(key, k, sizeof(k) - 1) != 0)
			break;
		if (type && key[REV_KEY_LEN - 1] != (uint8_t)type)
			break;
		if (vlen != b3cas_git_oid_len(algo)) {
			rc = b3cas__error(B3CAS_ECORRUPT, "the git mapping of "
					  "object %s is malformed",
					  b3cas_oid_fmt(hex, id));
			break;
		}
		out->git.algo = algo;
		memcpy(out->git.bytes, val, vlen);
		memset(out->git.bytes + vlen, 0, B3CAS_GIT_OID_MAX - vlen);
		rc = 0;
	}
	rocksdb_iter_get_error(it, &err);
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	if (err)
		return b3cas__index_error(err, "cannot read the git mapping");
	if (rc == B3CAS_ENOTFOUND)
		return b3cas__error(B3CAS_ENOTFOUND, "object %s is not stored "
				    "as a git object", b3cas_oid_fmt(hex, id));
	if (rc < 0)
		return rc;
	/* the type and size from the forward mapping, which also tells
	 * whether the object is still stored */
	return b3cas_git_lookup(s, &out->git, out);
}

typedef struct each_ctx {
	int (*fn)(const b3cas_git_object *obj, void *ctx);
	void *ctx;
} each_ctx;

static int each_one(const b3cas_git_object *o, void *ctx)
{
	each_ctx *e = ctx;

	return e->fn(o, e->ctx);
}

int b3cas_git_foreach(b3cas_store *s, b3cas_git_algo algo,
		      int (*fn)(const b3cas_git_object *obj, void *ctx),
		      void *ctx)
{
	uint8_t k[2] = {'g', (uint8_t)algo};
	each_ctx e = {fn, ctx};

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(fn, "fn");
	if (algo && !b3cas_git_oid_len(algo))
		return b3cas__error(B3CAS_EINVAL, "b3cas_git_foreach: unknown "
				    "algo %d", (int)algo);
	return fwd_walk(s, algo, k, algo ? 2 : 1, -1, each_one, &e);
}

/* ---- what an object names ------------------------------------------------- */

/* The id after a header line's key (kl bytes) when the line (ll bytes at
 * p) is "KEY HEX": true and *g. */
static bool header_id(b3cas_git_oid *g, const uint8_t *p, size_t ll,
		      size_t kl, size_t idlen)
{
	return ll - kl == 2 * idlen &&
	       hex_bytes(g->bytes, (const char *)p + kl, 2 * idlen);
}

int b3cas_git_each_named(b3cas_git_algo algo, b3cas_git_type type,
			 const void *data, size_t len,
			 int (*fn)(const b3cas_git_oid *git, void *ctx),
			 void *ctx)
{
	size_t idlen = b3cas_git_oid_len(algo);
	const uint8_t *p = data, *end;
	b3cas_git_oid g = {algo, {0}};
	int rc = 0;

	B3CAS__NONNULL(fn, "fn");
	B3CAS__NONNULL_LEN(data, "data", len, "len");
	if (!idlen || !type_ok(type))
		return b3cas__error(B3CAS_EINVAL, "b3cas_git_each_named: "
				    "unknown algo %d or type %d", (int)algo,
				    (int)type);
	end = p ? p + len : p;
	while (rc == 0 && p < end && type == B3CAS_GIT_TREE) {
		/* "MODE NAME\0" then the raw id */
		const uint8_t *z = memchr(p, 0, (size_t)(end - p));
		bool gitlink = end - p > 1 && p[0] == '1' && p[1] == '6';

		if (!z || (size_t)(end - z - 1) < idlen)
			break;
		memcpy(g.bytes, z + 1, idlen);
		p = z + 1 + idlen;
		if (!gitlink)
			rc = fn(&g, ctx);
	}
	/* a commit's or tag's header lines, until the blank one */
	while (rc == 0 && p < end &&
	       (type == B3CAS_GIT_COMMIT || type == B3CAS_GIT_TAG)) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = nl ? (size_t)(nl - p) : 0, kl = 0;

		if (ll == 0)
			break;
		if (type == B3CAS_GIT_TAG && ll > 7 && !memcmp(p, "object ", 7))
			kl = 7;
		else if (type == B3CAS_GIT_COMMIT && ll > 5 &&
			 !memcmp(p, "tree ", 5))
			kl = 5;
		else if (type == B3CAS_GIT_COMMIT && ll > 7 &&
			 !memcmp(p, "parent ", 7))
			kl = 7;
		if (kl && header_id(&g, p, ll, kl, idlen))
			rc = fn(&g, ctx);
		p = nl + 1;
	}
	return rc;
}

typedef struct gather {
	b3cas_store *s;
	b3cas_oid *links;
	size_t n, cap;
	int error;
} gather;

static int gather_one(const b3cas_git_oid *g, void *ctx)
{
	gather *c = ctx;
	b3cas_git_object o;
	int rc = b3cas_git_lookup(c->s, g, &o);

	if (rc == B3CAS_ENOTFOUND)
		return 0; /* not stored: not linked */
	if (rc < 0)
		return c->error = rc;
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 16;
		b3cas_oid *m = realloc(c->links, cap * sizeof(*m));

		if (!m)
			return c->error = b3cas__error(B3CAS_ENOMEM, "out of "
						       "memory");
		c->links = m;
		c->cap = cap;
	}
	c->links[c->n++] = o.id;
	return 0;
}

int b3cas_git_links(b3cas_store *store, b3cas_git_algo algo,
		    b3cas_git_type type, const void *data, size_t len,
		    b3cas_oid **out, size_t *n)
{
	gather c = {store, NULL, 0, 0, 0};
	int rc;

	B3CAS__NONNULL(store, "store");
	B3CAS__NONNULL(out, "out");
	B3CAS__NONNULL(n, "n");
	*out = NULL;
	*n = 0;
	rc = b3cas_git_each_named(algo, type, data, len, gather_one, &c);
	if (rc == 0 && c.error)
		rc = c.error;
	if (rc < 0) {
		free(c.links);
		return rc;
	}
	b3cas_error_clear();
	*out = c.links;
	*n = c.n;
	return 0;
}

/* ---- linking whole ------------------------------------------------------- */

int b3cas_git_linked(b3cas_store *s, const b3cas_git_oid *git)
{
	b3cas_git_object o;
	int rc;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(git, "git");
	rc = lookup(s, git, &o, true, "b3cas_git_linked");
	if (rc == B3CAS_ENOTFOUND) {
		b3cas_error_clear();
		return 0;
	}
	if (rc < 0)
		return rc;
	return o.type == B3CAS_GIT_BLOB ? 1 : b3cas__links_held(s, &o.id);
}

/* One object b3cas_git_link puts with its links once all it names is
 * linked: its content, what it names (git ids), the next to look at, and
 * the links so far (the b3cas ids of those looked at that are mapped). */
typedef struct link_frame {
	b3cas_git_object o;
	void *data;
	size_t len;
	b3cas_git_oid *named;
	b3cas_oid *links;
	size_t n, cap, at, nlinks;
	int error;
} link_frame;

static int note_named(const b3cas_git_oid *g, void *ctx)
{
	link_frame *f = ctx;

	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 8;
		b3cas_git_oid *m = realloc(f->named, cap * sizeof(*m));
		b3cas_oid *l = m ? realloc(f->links, cap * sizeof(*l)) : NULL;

		if (m)
			f->named = m;
		if (!l)
			return f->error = b3cas__error(B3CAS_ENOMEM, "out of "
						       "memory");
		f->links = l;
		f->cap = cap;
	}
	f->named[f->n++] = *g;
	return 0;
}

static void frame_done(link_frame *f)
{
	b3cas_free(f->data);
	free(f->named);
	free(f->links);
}

/*
 * git, mapped (*o), when it is a tree, commit or tag stored without its
 * links: its frame in *f and 1; 0 when there is nothing to do (a blob,
 * linked, or not stored); or an error.
 */
static int frame_open(b3cas_store *s, const b3cas_git_object *o,
		      link_frame *f)
{
	int rc;

	if (o->type == B3CAS_GIT_BLOB)
		return 0;
	rc = b3cas__links_held(s, &o->id);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	f->o = *o;
	f->named = NULL;
	f->links = NULL;
	f->n = f->cap = f->at = f->nlinks = 0;
	f->error = 0;
	rc = b3cas_store_get(s, &o->id, &f->data, &f->len);
	if (rc == B3CAS_ENOTFOUND) {
		b3cas_error_clear();
		return 0; /* mapped, not stored (a GC candidate) */
	}
	if (rc < 0)
		return rc;
	rc = b3cas_git_each_named(o->git.algo, o->type, f->data, f->len,
				  note_named, f);
	if (rc == 0)
		rc = f->error;
	if (rc < 0) {
		frame_done(f);
		return rc;
	}
	return 1;
}

/* Frame f's object put with its links (what it names is linked now). */
static int frame_link(b3cas_lease *lease, link_frame *f, uint64_t *links)
{
	b3cas_store *s = b3cas__lease_store(lease);
	b3cas_oid *ids = NULL;
	size_t n = f->nlinks;
	/* links non-NULL even for none: the put records that it has them */
	int rc = b3cas_git_put(lease, f->o.git.algo, f->o.type, f->data,
			       f->len, n ? f->links : &f->o.id, n, NULL);

	if (rc == B3CAS_ENOTFOUND) {
		/* a link mapped but not stored (a GC candidate): the links
		 * of what is stored, as b3cas_git_links gives them */
		rc = b3cas_git_links(s, f->o.git.algo, f->o.type, f->data,
				     f->len, &ids, &n);
		if (rc == 0)
			rc = b3cas_git_put(lease, f->o.git.algo, f->o.type,
					   f->data, f->len,
					   ids ? ids : &f->o.id, n, NULL);
		b3cas_free(ids);
	}
	if (rc >= 0 && links)
		*links += n;
	return rc < 0 ? rc : 0;
}

/* Named object g of frame top: its b3cas id one more link, when it is
 * mapped; *o its mapping. 1 mapped, 0 not, or an error. */
static int frame_named(b3cas_store *s, link_frame *top,
		       const b3cas_git_oid *g, b3cas_git_object *o)
{
	int rc = lookup(s, g, o, false, "b3cas_git_link");

	if (rc == B3CAS_ENOTFOUND) {
		b3cas_error_clear();
		return 0;
	}
	if (rc < 0)
		return rc;
	top->links[top->nlinks++] = o->id;
	return 1;
}

int b3cas_git_link(b3cas_lease *lease, const b3cas_git_oid *git,
		   uint64_t *links)
{
	b3cas_store *s;
	b3cas_git_object o;
	link_frame *st = NULL;
	size_t depth = 0, cap = 0;
	int rc;

	B3CAS__NONNULL(lease, "lease");
	B3CAS__NONNULL(git, "git");
	s = b3cas__lease_store(lease);
	rc = lookup(s, git, &o, false, "b3cas_git_link");
	if (rc == B3CAS_ENOTFOUND) {
		b3cas_error_clear();
		return 0; /* nothing to link */
	}
	/* depth first: an object is put with its links only after all it
	 * names is, so that what is linked reaches only linked objects */
	while (rc >= 0) {
		link_frame f;

		if (depth == cap) {
			size_t ncap = cap ? 2 * cap : 16;
			link_frame *m = realloc(st, ncap * sizeof(*m));

			if (!m) {
				rc = b3cas__error(B3CAS_ENOMEM, "out of "
						  "memory");
				break;
			}
			st = m;
			cap = ncap;
		}
		rc = frame_open(s, &o, &f);
		if (rc == 1)
			st[depth++] = f;
		/* the deepest frame's next named object that is mapped, or
		 * the frames done put with their links */
		while (rc >= 0 && depth > 0) {
			link_frame *top = &st[depth - 1];

			if (top->at < top->n) {
				rc = frame_named(s, top,
						 &top->named[top->at++], &o);
				if (rc == 1)
					break;
				continue;
			}
			rc = frame_link(lease, top, links);
			frame_done(top);
			depth--;
		}
		if (depth == 0)
			break;
	}
	while (depth > 0)
		frame_done(&st[--depth]);
	free(st);
	return rc < 0 ? rc : 0;
}
