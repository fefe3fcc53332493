/*
 * store/store.c - the public store API: open and close, put, get, exists,
 * delete, stat, walks and batches, composed from the layout, the loose
 * objects and the index.
 *
 * Invariants kept here:
 *  - an object's content and refs entries are written and removed in one
 *    index batch, and only while the id's stripe lock is held, so reference
 *    counts never lose an update;
 *  - a loose file is published before the index entry that names it and
 *    removed after the entry is gone, so the index never names a file that
 *    b3cas has not finished writing (a crash can leave an unnamed file,
 *    which is harmless);
 *  - nothing is returned to a caller without being hashed against its id
 *    when verify_on_read is on;
 *  - reads take no lock of the store's own.
 */
#include "store/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/error.h"
#include "util/within.h"
#include "index/wal.h"
#include "util/fsutil.h"

#define SYNC_INTERVAL_DEFAULT_MS 1000

/* ---- hashing ------------------------------------------------------------- */

static b3cas_pool *store_pool(b3cas_store *s)
{
	b3cas_pool *pool = atomic_load(&s->pool);

	if (pool)
		return pool;
	pthread_mutex_lock(&s->pool_lock);
	pool = atomic_load(&s->pool);
	if (!pool && b3cas_pool_new(&pool, 0) == 0)
		atomic_store(&s->pool, pool);
	pthread_mutex_unlock(&s->pool_lock);
	return pool; /* NULL (one thread) if the pool could not start */
}

int b3cas__store_hasher_init(b3cas_store_hasher *h, b3cas_store *s)
{
	h->algo = s->lay.hash;
	h->store = s;
	h->pool = NULL;
	h->sha = NULL;
	if (h->algo == B3CAS_HASH_BLAKE3) {
		/* The pool's threads start at the first update that can use
		 * them: a small object is hashed without them. */
		b3cas_hasher_init(&h->b3);
		return 0;
	}
	h->sha = EVP_MD_CTX_new();
	if (!h->sha || EVP_DigestInit_ex(h->sha, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(h->sha);
		h->sha = NULL;
		return b3cas__error(B3CAS_ENOMEM,
				    "cannot start a SHA-256 context");
	}
	return 0;
}

void b3cas__store_hasher_update(b3cas_store_hasher *h, const void *data,
				size_t len)
{
	if (h->algo != B3CAS_HASH_BLAKE3) {
		EVP_DigestUpdate(h->sha, data, len);
		return;
	}
	if (!h->pool && len >= B3CAS_PARALLEL_HASH_MIN)
		h->pool = store_pool(h->store);
	b3cas_hasher_update_parallel(&h->b3, data, len, h->pool);
}

void b3cas__store_hasher_final(b3cas_store_hasher *h, b3cas_oid *out)
{
	unsigned n = 0;

	if (h->algo == B3CAS_HASH_BLAKE3)
		b3cas_hasher_finalize(out->bytes, B3CAS_OID_LEN, &h->b3);
	else
		EVP_DigestFinal_ex(h->sha, out->bytes, &n);
}

void b3cas__store_hasher_free(b3cas_store_hasher *h)
{
	EVP_MD_CTX_free(h->sha);
	h->sha = NULL;
}

int b3cas__store_hash(b3cas_store *s, b3cas_oid *out, const void *data,
		      size_t len)
{
	if (s->lay.hash == B3CAS_HASH_BLAKE3) {
		if (len >= B3CAS_PARALLEL_HASH_MIN)
			b3cas_hash_parallel(out->bytes, data, len,
					    store_pool(s));
		else
			b3cas_hash(out->bytes, data, len);
		return 0;
	}
	if (EVP_Digest(data, len, out->bytes, NULL, EVP_sha256(), NULL) != 1)
		return b3cas__error(B3CAS_ERROR, "SHA-256 failed");
	return 0;
}

int b3cas__store_corrupt(const b3cas_oid *id, const b3cas_oid *got)
{
	char want_hex[B3CAS_OID_HEX_LEN + 1], got_hex[B3CAS_OID_HEX_LEN + 1];

	return b3cas__error(B3CAS_ECORRUPT,
			    "object %s is corrupt: its stored bytes hash to %s",
			    b3cas_oid_fmt(want_hex, id),
			    b3cas_oid_fmt(got_hex, got));
}

/* Check that buf hashes to id (when the store verifies reads). */
static int verify(b3cas_store *s, const b3cas_oid *id, const void *buf,
		  size_t len)
{
	b3cas_oid got;
	int rc;

	if (!s->verify)
		return 0;
	rc = b3cas__store_hash(s, &got, buf, len);
	if (rc == 0 && !b3cas_oid_equal(&got, id))
		rc = b3cas__store_corrupt(id, &got);
	return rc;
}

/* ---- locks and durability ------------------------------------------------ */

pthread_mutex_t *b3cas__store_stripe(b3cas_store *s, const b3cas_oid *id)
{
	return &s->stripes[b3cas__stripe_index(id->bytes) >> s->stripe_shift];
}

int b3cas__store_check_writable(const b3cas_store *s, const char *what)
{
	if (!s->read_only)
		return 0;
	return b3cas__error(B3CAS_EPERM, "cannot %s: store %s is open "
			    "read-only", what, s->lay.root);
}

/* Flush what batch mode has left for later; serialized by sync_lock. */
static int flush_locked(b3cas_store *s, bool force)
{
	bool objects = atomic_exchange(&s->dirty_objects, false);
	bool index = atomic_exchange(&s->dirty_index, false);
	int rc = 0;

	/* Files first: an index entry made durable here must name a file
	 * that already is. */
	if ((objects || force) && syncfs(s->lay.objects_fd) != 0)
		rc = b3cas__error_errno(errno, "cannot sync %s", s->lay.root);
	if (rc == 0 && (index || force))
		rc = b3cas__index_sync(s->ix);
	if (rc < 0) {
		/* Try again next time rather than forget the data. */
		atomic_store(&s->dirty_objects, true);
		atomic_store(&s->dirty_index, true);
	}
	return rc;
}

static void *flusher_main(void *arg)
{
	b3cas_store *s = arg;
	struct timespec until;

	pthread_mutex_lock(&s->sync_lock);
	while (!s->stopping) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += s->sync_interval_ms / 1000;
		until.tv_nsec += (long)(s->sync_interval_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->wake, &s->sync_lock, &until);
		if (s->stopping)
			break;
		if (flush_locked(s, false) < 0) {
			int none = 0;

			atomic_compare_exchange_strong(&s->flush_error, &none,
						       B3CAS_EIO);
		}
	}
	pthread_mutex_unlock(&s->sync_lock);
	return NULL;
}

int b3cas_store_sync(b3cas_store *s)
{
	int rc;

	B3CAS__NONNULL(s, "store");
	if (s->read_only)
		return 0;
	pthread_mutex_lock(&s->sync_lock);
	rc = flush_locked(s, true);
	pthread_mutex_unlock(&s->sync_lock);
	if (rc == 0)
		atomic_store(&s->flush_error, 0);
	return rc;
}

/* After a write: what batch mode must flush later. */
static void note_written(b3cas_store *s, bool loose)
{
	if (s->durability == B3CAS_DURABILITY_FULL)
		return;
	if (loose && !atomic_load_explicit(&s->dirty_objects,
					   memory_order_relaxed))
		atomic_store(&s->dirty_objects, true);
	if (!atomic_load_explicit(&s->dirty_index, memory_order_relaxed))
		atomic_store(&s->dirty_index, true);
}

/* ---- open and close -------------------------------------------------------- */

static int check_options(const b3cas_store_options *o)
{
	if (o->version < 1 || o->version > B3CAS_STORE_OPTIONS_VERSION)
		return b3cas__error(B3CAS_EINVAL,
				    "store options version %u is not %d: "
				    "initialise them with "
				    "B3CAS_STORE_OPTIONS_INIT",
				    o->version, B3CAS_STORE_OPTIONS_VERSION);
	if ((unsigned)o->durability > B3CAS_DURABILITY_FULL)
		return b3cas__error(B3CAS_EINVAL, "unknown durability mode %d",
				    (int)o->durability);
	if ((unsigned)o->hash > B3CAS_HASH_SHA256)
		return b3cas__error(B3CAS_EINVAL, "unknown hash algorithm %d",
				    (int)o->hash);
	if (o->inline_threshold > B3CAS_INLINE_THRESHOLD_MAX)
		return b3cas__error(B3CAS_EINVAL,
				    "inline threshold %zu is above the "
				    "maximum %u",
				    o->inline_threshold,
				    B3CAS_INLINE_THRESHOLD_MAX);
	return 0;
}

static int keep_damaged_log(b3cas_store *s, const char *index)
{
	char *dir = b3cas__layout_path(&s->lay, B3CAS_RECOVER_DIR);
	unsigned saved;
	int rc = dir ? b3cas__wal_keep_damaged(index, dir, &saved)
		     : B3CAS_ENOMEM;

	free(dir);
	return rc;
}

static int open_index(b3cas_store *s)
{
	char *path = b3cas__layout_path(&s->lay, "index");
	int rc;

	if (!path)
		return B3CAS_ENOMEM;
	/* A writing open replays the log and deletes it: a damaged one is
	 * copied first, so that what RocksDB drops is reported (fsck) and
	 * brought back (recover) instead of vanishing. */
	rc = s->read_only ? 0 : keep_damaged_log(s, path);
	if (rc == 0)
		rc = b3cas__index_open(&s->ix, path, s->lay.created,
				       s->read_only);
	if (rc == B3CAS_ENOTFOUND)
		rc = b3cas__error(B3CAS_ECORRUPT,
				  "store %s has no index (%s is missing or "
				  "empty)",
				  s->lay.root, path);
	free(path);
	return rc;
}

/*
 * The index records the hash it was made with, so a b3cas.conf that was
 * edited or copied from another store cannot make us misname objects.
 */
static int check_meta(b3cas_store *s)
{
	const char *want = b3cas_hash_algo_name(s->lay.hash);
	rocksdb_pinnableslice_t *v;
	const char *p;
	size_t len;
	int rc = b3cas__index_get(s->ix, B3CAS_CF_META, "hash", 4, &v);

	if (rc < 0)
		return rc;
	if (rc == 0) {
		rocksdb_writebatch_t *b;

		if (s->read_only)
			return 0;
		b = rocksdb_writebatch_create();
		rocksdb_writebatch_put_cf(b, s->ix->cf[B3CAS_CF_META], "hash",
					  4, want, strlen(want));
		rc = b3cas__index_write(s->ix, b, true);
		rocksdb_writebatch_destroy(b);
		return rc;
	}
	p = rocksdb_pinnableslice_value(v, &len);
	if (len != strlen(want) || memcmp(p, want, len) != 0)
		rc = b3cas__error(B3CAS_EFORMAT,
				  "store %s: b3cas.conf says hash = %s but its "
				  "index was made with %.*s",
				  s->lay.root, want, (int)(len < 32 ? len : 32),
				  p);
	else
		rc = 0;
	rocksdb_pinnableslice_destroy(v);
	return rc;
}

/*
 * A rebuild of the index by b3cas_recover that has not finished leaves an
 * index that opens but lacks entries: refuse it, rather than serve a
 * store that looks as if objects had gone.
 */
static int check_not_rebuilding(b3cas_store *s)
{
	if (faccessat(s->lay.root_fd, B3CAS_RECOVER_MARKER, F_OK, 0) != 0)
		return 0;
	return b3cas__error(B3CAS_ECORRUPT,
			    "the index of store %s is being rebuilt, or a "
			    "rebuild was interrupted (%s/%s exists): run "
			    "'b3cas recover' to finish it",
			    s->lay.root, s->lay.root, B3CAS_RECOVER_MARKER);
}

/*
 * Open the index, check (or record) its hash, and publish a new store: it
 * exists from then on, having its index. When the disk is too full for
 * that (RocksDB writes new files at every open), the reserve is given up
 * and it is tried once more: so that deletes and GC can free space.
 */
static int open_index_room(b3cas_store *s)
{
	for (int attempt = 0;; attempt++) {
		int rc = open_index(s);

		if (rc == 0)
			rc = check_meta(s);
		if (rc == 0)
			rc = b3cas__layout_publish(&s->lay);
		if (rc != B3CAS_ENOSPC || attempt > 0 || s->read_only)
			return rc;
		b3cas__index_close(s->ix);
		s->ix = NULL;
		b3cas__reserve_release(s);
	}
}

/* The stripe locks: see store_int.h for why a read-only handle has fewer. */
static int make_stripes(b3cas_store *s)
{
	unsigned n = s->read_only ? B3CAS_STRIPES_READ_ONLY : B3CAS_STRIPES;

	s->stripes = b3cas__malloc(n * sizeof(*s->stripes));
	if (!s->stripes)
		return B3CAS_ENOMEM;
	for (unsigned i = 0; i < n; i++)
		pthread_mutex_init(&s->stripes[i], NULL);
	s->nstripes = n;
	while ((unsigned)B3CAS_STRIPES >> s->stripe_shift > n)
		s->stripe_shift++;
	return 0;
}

int b3cas_store_open(b3cas_store **out, const char *root,
		     const b3cas_store_options *opts)
{
	B3CAS__NONNULL(out, "out");
	B3CAS__NONNULL(root, "root");
	return b3cas__store_open(out, root, opts, false);
}

int b3cas__store_open(b3cas_store **out, const char *root,
		      const b3cas_store_options *opts, bool rebuilding)
{
	b3cas_store_options defaults = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *s;
	int rc;

	if (!out || !root || !*root)
		return b3cas__error(B3CAS_EINVAL, "no store folder given");
	if (opts) {
		rc = check_options(opts);
		if (rc < 0)
			return rc;
		/* A version 1 caller's struct ends before the caches, a
		 * version 2 caller's before lock_timeout_ms. */
		memcpy(&defaults, opts,
		       opts->version == 1
			       ? offsetof(b3cas_store_options, l1_bytes)
		       : opts->version == 2
			       ? offsetof(b3cas_store_options, lock_timeout_ms)
			       : sizeof(defaults));
		defaults.version = B3CAS_STORE_OPTIONS_VERSION;
	}
	opts = &defaults;
	s = calloc(1, sizeof(*s));
	if (!s)
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	/* calloc's 0 is a real descriptor (standard input): a failure
	 * before the layout is open must not make close() close it. */
	s->lay.root_fd = s->lay.objects_fd = s->lay.tmp_fd = -1;
	s->lay.lock_fd = -1;
	pthread_mutex_init(&s->pool_lock, NULL);
	pthread_mutex_init(&s->sync_lock, NULL);
	pthread_mutex_init(&s->l2_lock, NULL);
	pthread_mutex_init(&s->mirror_lock, NULL);
	pthread_mutex_init(&s->reserve_lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&s->wake, &ca);
		pthread_condattr_destroy(&ca);
	}
	s->durability = opts->durability;
	s->verify = opts->verify_on_read;
	s->read_only = opts->read_only;
	if (make_stripes(s) < 0) {
		b3cas_store_close(s);
		return B3CAS_ENOMEM;
	}
	s->sync_interval_ms = opts->sync_interval_ms ? opts->sync_interval_ms
						     : SYNC_INTERVAL_DEFAULT_MS;
	if (opts->mirror_dir && !(s->mirror_dir = strdup(opts->mirror_dir))) {
		b3cas_store_close(s);
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	}
	rc = b3cas__layout_open(&s->lay, root, opts);
	if (rc == 0 && !s->read_only &&
	    !(s->lay.staging = b3cas__staging_new()))
		rc = B3CAS_ENOMEM;
	if (rc == 0 && !rebuilding)
		rc = check_not_rebuilding(s);
	if (rc == 0)
		b3cas__reserve_ensure(s);
	if (rc == 0)
		rc = open_index_room(s);
	if (rc == 0)
		rc = b3cas__caches_open(s, opts->l1_bytes, opts->l2_bytes);
	/* A mirror is checked before a read trusts it (one not there yet
	 * is opened, and checked, by the first read that needs it). */
	if (rc == 0)
		rc = b3cas__store_mirror_check(s, false);
	if (rc == 0)
		b3cas__filter_open(s);
	s->filter_opened = rc == 0;
	if (rc == 0 && !s->read_only)
		s->known = b3cas__known_new(); /* NULL: go without */
	if (rc == 0 && !s->read_only &&
	    s->durability == B3CAS_DURABILITY_BATCH) {
		if (pthread_create(&s->flusher, NULL, flusher_main, s) != 0)
			rc = b3cas__error(B3CAS_ERROR,
					  "cannot start the flusher thread");
		else
			s->flusher_started = true;
	}
	if (rc < 0) {
		b3cas_store_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

/*
 * A writer or reader still open holds a pointer to the handle: closing
 * under it would leave the caller a handle into freed memory. Refuse, as
 * sqlite3_close does with statements not finalized, and keep the store
 * open and usable, so the caller can finish them and close again.
 */
static int check_no_streams(const b3cas_store *s)
{
	unsigned w = atomic_load(&s->open_writers);
	unsigned r = atomic_load(&s->open_readers);

	if (w == 0 && r == 0)
		return 0;
	return b3cas__error(B3CAS_EBUSY,
			    "b3cas_store_close: store %s still has %u "
			    "writer%s and %u reader%s open: commit or abort "
			    "the writers and close the readers first (the "
			    "store stays open)",
			    s->lay.root, w, w == 1 ? "" : "s", r,
			    r == 1 ? "" : "s");
}

int b3cas_store_close(b3cas_store *s)
{
	/* The message close leaves: the caller's (a close that succeeds
	 * may follow another call's failure, which the caller still has
	 * to report), or the final flush's. The steps after the flush set
	 * and clear it (a filter that cannot be saved is no error). */
	char msg[1024];
	int rc = 0;

	if (!s)
		return 0;
	rc = check_no_streams(s);
	if (rc < 0)
		return rc;
	snprintf(msg, sizeof(msg), "%s", b3cas_error_last());
	if (s->flusher_started) {
		pthread_mutex_lock(&s->sync_lock);
		s->stopping = true;
		pthread_cond_signal(&s->wake);
		pthread_mutex_unlock(&s->sync_lock);
		pthread_join(s->flusher, NULL);
	}
	if (s->ix && !s->read_only) {
		rc = atomic_load(&s->flush_error);
		if (b3cas_store_sync(s) == 0)
			rc = 0;
		else
			rc = rc ? rc : B3CAS_EIO;
		if (rc < 0)
			snprintf(msg, sizeof(msg), "%s", b3cas_error_last());
	}
	if (s->filter_opened)
		b3cas__filter_close(s);
	b3cas__known_free(s->known);
	b3cas__caches_close(s);
	b3cas_store_close(atomic_load(&s->mirror));
	b3cas__index_close(s->ix);
	b3cas__staging_free(s->lay.staging);
	b3cas__layout_close(&s->lay);
	b3cas_pool_free(atomic_load(&s->pool));
	for (unsigned i = 0; i < s->nstripes; i++)
		pthread_mutex_destroy(&s->stripes[i]);
	free(s->stripes);
	pthread_mutex_destroy(&s->pool_lock);
	pthread_mutex_destroy(&s->sync_lock);
	pthread_mutex_destroy(&s->l2_lock);
	pthread_mutex_destroy(&s->mirror_lock);
	pthread_mutex_destroy(&s->reserve_lock);
	free(s->mirror_dir);
	pthread_cond_destroy(&s->wake);
	free(s);
	b3cas__error(rc, "%s", msg);
	return rc;
}

int b3cas_store_interrupt(b3cas_store *s)
{
	B3CAS__NONNULL(s, "store");
	if (s->read_only)
		return 0;
	b3cas__staging_refuse(&s->lay);
	/* Every publish that began before holds its stripe until its index
	 * write is done: when each stripe has been free once, none is
	 * left half done, and every later one fails. Only then do the
	 * staging files go, so that none is taken from a publish. */
	for (unsigned i = 0; i < s->nstripes; i++) {
		pthread_mutex_lock(&s->stripes[i]);
		pthread_mutex_unlock(&s->stripes[i]);
	}
	b3cas__staging_remove(&s->lay);
	return b3cas_store_sync(s);
}

void b3cas_store_info_get(b3cas_store_info *out, const b3cas_store *s)
{
	B3CAS__NONNULL_VOID(out, "out");
	B3CAS__NONNULL_VOID(s, "store");
	out->root = s->lay.root;
	out->hash = s->lay.hash;
	out->inline_threshold = s->lay.inline_threshold;
	out->durability = s->durability;
	out->read_only = s->read_only;
	out->format_version = s->lay.format;
	out->objects_dir = s->lay.objects_path;
}

const char *b3cas_hash_algo_name(b3cas_hash_algo algo)
{
	switch (algo) {
	case B3CAS_HASH_BLAKE3: return "blake3";
	case B3CAS_HASH_SHA256: return "sha256";
	default: return "default";
	}
}

void b3cas_free(void *ptr)
{
	free(ptr);
}

/* ---- index entries ------------------------------------------------------- */

static int not_stored(const b3cas_oid *id)
{
	char hex[B3CAS_OID_HEX_LEN + 1];

	return b3cas__error(B3CAS_ENOTFOUND, "object %s is not stored",
			    b3cas_oid_fmt(hex, id));
}

static int entry_malformed(const b3cas_oid *id, size_t len)
{
	char hex[B3CAS_OID_HEX_LEN + 1];

	return b3cas__error(B3CAS_ECORRUPT,
			    "index entry of %s is malformed (%zu bytes)",
			    b3cas_oid_fmt(hex, id), len);
}

/*
 * Read id's content entry: size, inline or not, whether it is a GC
 * candidate, and (value_out, inline objects) the pinned value.
 */
static int entry_read(b3cas_store *s, const b3cas_oid *id, uint64_t *size_out,
		      bool *is_inline_out, bool *unref_out,
		      rocksdb_pinnableslice_t **value_out)
{
	rocksdb_pinnableslice_t *v;
	const uint8_t *p;
	size_t len;
	uint64_t size;
	int kind, rc = b3cas__index_get(s->ix, B3CAS_CF_CONTENT, id->bytes,
					B3CAS_OID_LEN, &v);

	if (rc < 0)
		return rc;
	if (rc == 0)
		return not_stored(id);
	p = (const uint8_t *)rocksdb_pinnableslice_value(v, &len);
	if (len < B3CAS_ENTRY_HEADER_LEN)
		goto malformed;
	size = b3cas__get_u64(p + 1);
	kind = p[0] & ~B3CAS_ENTRY_UNREF;
	if (kind == B3CAS_ENTRY_INLINE) {
		if (len - B3CAS_ENTRY_HEADER_LEN != size)
			goto malformed;
	} else if (kind != B3CAS_ENTRY_LOOSE ||
		   len != B3CAS_ENTRY_HEADER_LEN) {
		goto malformed;
	}
	*size_out = size;
	*is_inline_out = kind == B3CAS_ENTRY_INLINE;
	*unref_out = (p[0] & B3CAS_ENTRY_UNREF) != 0;
	if (value_out && *is_inline_out)
		*value_out = v;
	else
		rocksdb_pinnableslice_destroy(v);
	return 0;
malformed:
	rocksdb_pinnableslice_destroy(v);
	return entry_malformed(id, len);
}

int b3cas__store_entry(b3cas_store *s, const b3cas_oid *id,
		       uint64_t *size_out, bool *is_inline_out,
		       rocksdb_pinnableslice_t **value_out)
{
	rocksdb_pinnableslice_t *v = NULL;
	bool unref = false;
	int rc = entry_read(s, id, size_out, is_inline_out, &unref,
			    value_out ? &v : NULL);

	if (rc < 0)
		return rc;
	/* An object without references is gone, as far as callers see. */
	if (unref) {
		rocksdb_pinnableslice_destroy(v);
		return not_stored(id);
	}
	if (value_out)
		*value_out = v;
	return 0;
}

static int refs_malformed(const b3cas_oid *id, const char *why)
{
	char hex[B3CAS_OID_HEX_LEN + 1];

	return b3cas__error(B3CAS_ECORRUPT,
			    "reference count of %s %s: the index is damaged",
			    b3cas_oid_fmt(hex, id), why);
}

/*
 * The count kept in the refs column family, or 1 when it keeps none;
 * *kept (may be NULL) says whether it keeps one.
 */
static int refs_read(b3cas_store *s, const b3cas_oid *id, uint64_t *count,
		     bool *kept)
{
	rocksdb_pinnableslice_t *v;
	const char *p;
	size_t len;
	int rc = b3cas__index_get(s->ix, B3CAS_CF_REFS, id->bytes,
				  B3CAS_OID_LEN, &v);

	if (rc < 0)
		return rc;
	if (kept)
		*kept = rc == 1;
	if (rc == 0) {
		*count = 1;
		return 0;
	}
	p = rocksdb_pinnableslice_value(v, &len);
	if (len < 8) {
		rocksdb_pinnableslice_destroy(v);
		return refs_malformed(id, "is too short");
	}
	*count = b3cas__get_u64((const uint8_t *)p);
	rocksdb_pinnableslice_destroy(v);
	return 0;
}

/*
 * Is object id stored? 1 with its reference count, size and kind; 2 when
 * it is a GC candidate (no references, bytes still there); 0 when it is
 * not; or an error (B3CAS_ECORRUPT for a malformed entry).
 */
static int lookup(b3cas_store *s, const b3cas_oid *id, uint64_t *refs,
		  uint64_t *size, bool *is_inline)
{
	bool unref = false;
	int rc = entry_read(s, id, size, is_inline, &unref, NULL);

	if (rc == B3CAS_ENOTFOUND)
		return 0;
	if (rc == 0 && unref) {
		*refs = 0;
		return 2;
	}
	if (rc == 0)
		rc = refs_read(s, id, refs, NULL);
	return rc < 0 ? rc : 1;
}

/*
 * lookup() for a put, which needs only the count: a kept count of one or
 * more proves the object stored and referenced (its refs and content
 * entries change together, in one batch), so an object put many times
 * costs one read of the small refs column family, not of its bytes; and
 * an object with one reference that this handle put or found live since
 * open is in s->known, which spares the read of its content entry.
 * Returns as lookup() does; *refs is valid when it returns 1.
 */
static int lookup_count(b3cas_store *s, const b3cas_oid *id, uint64_t *refs)
{
	uint64_t size;
	bool kept, is_inline, unref = false;
	int rc = refs_read(s, id, refs, &kept);

	if (rc < 0 || (kept && *refs > 0))
		return rc < 0 ? rc : 1;
	/* No count kept: one reference, if the object is live. */
	if (!kept && b3cas__known_has(s->known, id))
		return 1;
	rc = entry_read(s, id, &size, &is_inline, &unref, NULL);
	if (rc == B3CAS_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	if (unref) {
		*refs = 0;
		return 2;
	}
	/* Live, with a kept count of 0: only a candidate keeps that. */
	if (kept)
		return refs_malformed(id, "is 0 for a referenced object");
	b3cas__known_add(s->known, id);
	return 1;
}

int b3cas__store_open_loose(b3cas_store *s, const b3cas_oid *id,
			    uint64_t size, int *fd_out)
{
	for (int attempt = 0;; attempt++) {
		uint64_t now_size;
		bool is_inline;
		int rc = b3cas__object_open(&s->lay, id, size, fd_out);

		if (rc != B3CAS_ENOTFOUND)
			return rc;
		if (s->read_only) {
			/* Our view of the index is from when we opened; the
			 * writing process may have deleted it since. */
			char hex[B3CAS_OID_HEX_LEN + 1];

			return b3cas__error(B3CAS_ENOTFOUND,
					    "object %s has no file: it was "
					    "deleted after this read-only "
					    "handle opened, or it was lost",
					    b3cas_oid_fmt(hex, id));
		}
		/* Deleted since we read its entry, or really missing? */
		rc = b3cas__store_entry(s, id, &now_size, &is_inline, NULL);
		if (rc < 0)
			return rc;
		if (attempt > 0 || is_inline || now_size != size) {
			char hex[B3CAS_OID_HEX_LEN + 1];

			return b3cas__error(B3CAS_ECORRUPT,
					    "the index lists object %s but "
					    "its file %s/%.2s/%s is missing",
					    b3cas_oid_fmt(hex, id),
					    s->lay.objects_path, hex, hex);
		}
	}
}

/* ---- put ------------------------------------------------------------------ */

/* Set id's count to count. The refs column family keeps only counts
 * other than 1, so a new object costs one index entry; had_entry says
 * whether it holds one for id now (a count other than 1, or a GC
 * candidate's mark). */
static void batch_set_refs(rocksdb_writebatch_t *b, b3cas_store *s,
			   const b3cas_oid *id, bool had_entry, uint64_t count)
{
	uint8_t v[8];

	if (count == 1) {
		if (had_entry)
			rocksdb_writebatch_delete_cf(
				b, s->ix->cf[B3CAS_CF_REFS],
				(const char *)id->bytes, B3CAS_OID_LEN);
		return;
	}
	b3cas__put_u64(v, count);
	rocksdb_writebatch_put_cf(b, s->ix->cf[B3CAS_CF_REFS],
				  (const char *)id->bytes, B3CAS_OID_LEN,
				  (const char *)v, sizeof(v));
}

/* Add the content entry of a new object (its bytes too when inline). */
static void batch_put_entry(rocksdb_writebatch_t *b, b3cas_store *s,
			    const b3cas_oid *id, const void *data, size_t len,
			    bool is_inline, bool unref)
{
	uint8_t head[B3CAS_ENTRY_HEADER_LEN];
	const char *key = (const char *)id->bytes;
	size_t key_len = B3CAS_OID_LEN;
	const char *parts[2] = {(const char *)head, data};
	size_t part_lens[2] = {sizeof(head), len};

	head[0] = (uint8_t)((is_inline ? B3CAS_ENTRY_INLINE : B3CAS_ENTRY_LOOSE) |
			    (unref ? B3CAS_ENTRY_UNREF : 0));
	b3cas__put_u64(head + 1, len);
	rocksdb_writebatch_putv_cf(b, s->ix->cf[B3CAS_CF_CONTENT], 1, &key,
				   &key_len, is_inline && len ? 2 : 1, parts,
				   part_lens);
}

void b3cas__store_batch_put_entry(b3cas_store *s, rocksdb_writebatch_t *b,
				  const b3cas_oid *id, const void *data,
				  size_t len, bool is_inline)
{
	batch_put_entry(b, s, id, data, len, is_inline, false);
}

static int refs_overflow(const b3cas_oid *id)
{
	char hex[B3CAS_OID_HEX_LEN + 1];

	return b3cas__error(B3CAS_ERANGE,
			    "object %s already has the most references a "
			    "count can hold",
			    b3cas_oid_fmt(hex, id));
}

/*
 * Under id's stripe lock: add the object (or references to it) to batch b.
 * count is how many references to add. A new loose object's file is
 * written (or tmp published) here, before the batch that names it.
 */
static int stage_locked(b3cas_store *s, rocksdb_writebatch_t *b,
			const b3cas_oid *id, const void *data, size_t len,
			b3cas_tmpfile *tmp, uint64_t count, bool *loose_out)
{
	uint64_t refs = 0;
	bool revive;
	int rc = 0;

	/* The filter can prove the id new and spare the lookup. */
	if (b3cas__filter_may_contain(s, id)) {
		rc = lookup_count(s, id, &refs);
		if (rc >= 0)
			b3cas__filter_outcome(s, rc != 0);
	}
	*loose_out = false;
	if (rc < 0)
		goto discard;
	if (rc == 1) {
		if (refs > UINT64_MAX - count) {
			rc = refs_overflow(id);
			goto discard;
		}
		batch_set_refs(b, s, id, refs != 1, refs + count);
		rc = 1;
		goto discard; /* the bytes are already stored */
	}
	revive = rc == 2;
	/* New bytes: not into the space kept for deletes (reserve.c). */
	rc = b3cas__reserve_check_room(s);
	if (rc < 0)
		goto discard;
	if (!revive)
		b3cas__filter_add(s, id);
	/*
	 * New, or a GC candidate (rc 2) that this put revives: its bytes are
	 * written again rather than trusted, so a revived object is as sound
	 * as a new one (and the rename replaces a candidate's old file).
	 */
	if (len <= s->lay.inline_threshold && !tmp) {
		batch_put_entry(b, s, id, data, len, true, false);
	} else {
		bool durable = s->durability == B3CAS_DURABILITY_FULL;

		rc = tmp ? b3cas__object_publish(&s->lay, tmp, id, durable)
			 : b3cas__object_write(&s->lay, id, data, len,
					       durable);
		if (rc == B3CAS_ENOSPC)
			b3cas__reserve_note_full(s);
		if (rc < 0)
			return rc;
		batch_put_entry(b, s, id, NULL, len, false, false);
		*loose_out = true;
	}
	batch_set_refs(b, s, id, revive, count);
	return 0;
discard:
	if (tmp)
		b3cas__tmpfile_discard(&s->lay, tmp);
	return rc;
}

static int write_batch(b3cas_store *s, rocksdb_writebatch_t *b, bool loose)
{
	int rc;

	/* Low on space: this is a delete, GC or a duplicate (new objects
	 * are refused), what the reserve is kept for (reserve.c). */
	b3cas__reserve_before_write(s);
	rc = b3cas__index_write(s->ix, b,
				s->durability == B3CAS_DURABILITY_FULL);
	if (rc == 0)
		note_written(s, loose);
	if (rc == B3CAS_ENOSPC)
		b3cas__reserve_note_full(s);
	return rc;
}

int b3cas__store_publish(b3cas_store *s, const b3cas_oid *id,
			 const void *data, size_t len, b3cas_tmpfile *tmp)
{
	pthread_mutex_t *lock = b3cas__store_stripe(s, id);
	rocksdb_writebatch_t *b = rocksdb_writebatch_create();
	bool loose;
	int rc, wrc;

	pthread_mutex_lock(lock);
	rc = stage_locked(s, b, id, data, len, tmp, 1, &loose);
	if (rc >= 0) {
		wrc = write_batch(s, b, loose);
		if (wrc < 0)
			rc = wrc;
		else
			b3cas__known_add(s->known, id); /* live once written */
	}
	pthread_mutex_unlock(lock);
	rocksdb_writebatch_destroy(b);
	return rc;
}

int b3cas_store_put(b3cas_store *s, b3cas_oid *id_out, const void *data,
		    size_t len)
{
	b3cas_oid id;
	int rc;

	uint64_t t0 = b3cas__now_ns();

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL_LEN(data, "data", len, "len");
	rc = b3cas__store_check_writable(s, "store an object");
	if (rc == 0)
		rc = b3cas__store_hash(s, &id, data, len);
	if (rc == 0)
		rc = b3cas__store_publish(s, &id, data, len, NULL);
	if (rc >= 0 && id_out)
		*id_out = id;
	b3cas__note_put(s, t0, len, rc, 1);
	return rc;
}

/* ---- adopting and replacing (restore, recover) ------------------------- */

/*
 * Under id's stripe lock, id having no content entry: write the object
 * (unless in_place: its file is already there) and its entries with *refs
 * references - or with the count its refs entry still holds, which is
 * this store's own (a damaged index can lose a content entry and keep the
 * count). A candidate's mark there is replaced: the object lives again.
 */
static int adopt_locked(b3cas_store *s, const b3cas_oid *id, const void *data,
			size_t len, b3cas_tmpfile *tmp, bool in_place,
			uint64_t *refs)
{
	rocksdb_writebatch_t *b;
	bool loose = in_place || tmp || len > s->lay.inline_threshold;
	bool kept = false;
	uint64_t count = 0;
	int rc = refs_read(s, id, &count, &kept);

	if (rc < 0)
		b3cas_error_clear(); /* unreadable: replaced below */
	if (rc == 0 && kept && count > 0)
		*refs = count;
	else
		kept = false;
	if (*refs == 0)
		*refs = 1;
	rc = 0;

	if (tmp)
		rc = b3cas__object_publish(&s->lay, tmp, id,
					   s->durability ==
						   B3CAS_DURABILITY_FULL);
	else if (loose && !in_place)
		rc = b3cas__object_write(&s->lay, id, data, len,
					 s->durability ==
						 B3CAS_DURABILITY_FULL);
	if (rc < 0)
		return rc;
	b3cas__filter_add(s, id);
	b = rocksdb_writebatch_create();
	batch_put_entry(b, s, id, loose ? NULL : data, len, !loose, false);
	if (!kept)
		batch_set_refs(b, s, id, true, *refs);
	rc = write_batch(s, b, loose);
	rocksdb_writebatch_destroy(b);
	if (rc == 0)
		b3cas__known_add(s->known, id);
	return rc == 0 && kept ? 2 : rc;
}

static int adopt(b3cas_store *s, const b3cas_oid *id, const void *data,
		 size_t len, b3cas_tmpfile *tmp, bool in_place, uint64_t *refs)
{
	pthread_mutex_t *lock = b3cas__store_stripe(s, id);
	int rc = b3cas__store_check_writable(s, "restore an object");

	if (rc == 0 && !in_place)
		rc = b3cas__reserve_check_room(s);
	if (rc == 0) {
		pthread_mutex_lock(lock);
		rc = b3cas__index_has(s->ix, B3CAS_CF_CONTENT, id->bytes,
				      B3CAS_OID_LEN);
		if (rc == 0) {
			rc = adopt_locked(s, id, data, len, tmp, in_place,
					  refs);
			tmp = NULL; /* consumed */
		}
		pthread_mutex_unlock(lock);
	}
	if (tmp)
		b3cas__tmpfile_discard(&s->lay, tmp);
	return rc;
}

int b3cas__store_adopt(b3cas_store *s, const b3cas_oid *id, const void *data,
		       size_t len, b3cas_tmpfile *tmp, uint64_t *refs)
{
	return adopt(s, id, data, len, tmp, false, refs);
}

int b3cas__store_adopt_file(b3cas_store *s, const b3cas_oid *id,
			    uint64_t len, uint64_t *refs)
{
	if (len > SIZE_MAX)
		return b3cas__error(B3CAS_ERANGE, "object too large");
	return adopt(s, id, NULL, (size_t)len, NULL, true, refs);
}

int b3cas__store_set_refs(b3cas_store *s, const b3cas_oid *id, uint64_t count)
{
	pthread_mutex_t *lock = b3cas__store_stripe(s, id);
	uint64_t refs = 0, size = 0;
	bool is_inline = false;
	int rc = b3cas__store_check_writable(s, "set a reference count");

	if (rc < 0)
		return rc;
	if (count == 0)
		return 1;
	pthread_mutex_lock(lock);
	rc = lookup(s, id, &refs, &size, &is_inline);
	if (rc == 1 && refs != count) {
		rocksdb_writebatch_t *b = rocksdb_writebatch_create();

		/* The refs family holds an entry exactly when the count
		 * is not 1 (see batch_set_refs). */
		batch_set_refs(b, s, id, refs != 1, count);
		rc = write_batch(s, b, false);
		rocksdb_writebatch_destroy(b);
	} else if (rc >= 0) {
		rc = 1; /* not stored (or a candidate), or already count */
	}
	pthread_mutex_unlock(lock);
	return rc;
}

/* Under id's stripe lock: is loose object id (size bytes) damaged here? */
static bool loose_damaged(b3cas_store *s, const b3cas_oid *id, uint64_t size)
{
	uint8_t buf[64 * 1024];
	int fd, rc = b3cas__object_open(&s->lay, id, size, &fd);

	if (rc == B3CAS_ENOTFOUND || rc == B3CAS_ECORRUPT)
		return true; /* missing, or of the wrong size */
	if (rc < 0)
		return false; /* cannot tell: leave it */
	rc = b3cas__file_check(s, fd, id, size, buf, sizeof(buf), NULL);
	close(fd);
	return rc == 0;
}

/* Under id's stripe lock: does inline entry v fail to hash to id? */
static bool inline_damaged(b3cas_store *s, const b3cas_oid *id,
			   rocksdb_pinnableslice_t *v, uint64_t size)
{
	size_t vlen;
	const char *p = rocksdb_pinnableslice_value(v, &vlen);
	b3cas_oid got;

	if (b3cas__store_hash(s, &got, p + B3CAS_ENTRY_HEADER_LEN,
			      (size_t)size) != 0)
		return false;
	return !b3cas_oid_equal(&got, id);
}

static int replace_locked(b3cas_store *s, const b3cas_oid *id,
			  const void *data, size_t len, b3cas_tmpfile **tmp)
{
	rocksdb_pinnableslice_t *v = NULL;
	bool durable = s->durability == B3CAS_DURABILITY_FULL;
	bool is_inline, damaged;
	uint64_t size;
	int rc = b3cas__store_entry(s, id, &size, &is_inline, &v);

	if (rc == B3CAS_ENOTFOUND) {
		b3cas_error_clear();
		return 1; /* deleted meanwhile: nothing to mend */
	}
	if (rc < 0)
		return rc;
	if (size != len) {
		char hex[B3CAS_OID_HEX_LEN + 1];

		rocksdb_pinnableslice_destroy(v);
		return b3cas__error(B3CAS_ECORRUPT,
				    "the index records %llu bytes for object "
				    "%s, whose good copy has %zu: the index "
				    "is damaged",
				    (unsigned long long)size,
				    b3cas_oid_fmt(hex, id), len);
	}
	damaged = is_inline ? inline_damaged(s, id, v, size)
			    : loose_damaged(s, id, size);
	rocksdb_pinnableslice_destroy(v);
	if (!damaged)
		return 1;
	if (is_inline) {
		rocksdb_writebatch_t *b;

		if (*tmp) /* cannot happen: it fits the buffer */
			return b3cas__error(B3CAS_ERROR, "inline object "
					    "arrived in a temp file");
		b = rocksdb_writebatch_create();
		batch_put_entry(b, s, id, data, len, true, false);
		rc = write_batch(s, b, false);
		rocksdb_writebatch_destroy(b);
		return rc;
	}
	/* The damaged bytes are kept for inspection, as a read keeps them. */
	b3cas__quarantine_move_locked(s, id);
	if (*tmp) {
		rc = b3cas__object_publish(&s->lay, *tmp, id, durable);
		*tmp = NULL;
	} else {
		rc = b3cas__object_write(&s->lay, id, data, len, durable);
	}
	if (rc == 0)
		note_written(s, true);
	return rc;
}

int b3cas__store_replace(b3cas_store *s, const b3cas_oid *id,
			 const void *data, size_t len, b3cas_tmpfile *tmp)
{
	pthread_mutex_t *lock = b3cas__store_stripe(s, id);
	int rc = b3cas__store_check_writable(s, "restore an object");

	if (rc == 0) {
		pthread_mutex_lock(lock);
		rc = replace_locked(s, id, data, len, &tmp);
		pthread_mutex_unlock(lock);
	}
	if (tmp)
		b3cas__tmpfile_discard(&s->lay, tmp);
	return rc;
}

/* ---- get, exists, stat ----------------------------------------------------- */

/* Where a read found an object's bytes. */
typedef enum read_source { FROM_INDEX, FROM_TIER, FROM_L2 } read_source;

/* A ticket for an L2 copy of id, taken before its index entry is read
 * (b3cas__l2_ticket); one that never matches without L2. */
static uint64_t l2_ticket(b3cas_store *s, const b3cas_oid *id)
{
	b3cas_l2 *l2 = atomic_load_explicit(&s->l2, memory_order_acquire);

	return l2 ? b3cas__l2_ticket(l2, id) : UINT64_MAX;
}

/*
 * Read object id into a new buffer: a blob when blob_out is not NULL,
 * else a malloc'd *data_out. The bytes are not verified unless they came
 * from L2 (which verifies every copy it returns). *ticket_out gets the L2
 * ticket for offering a copy of what was read (l2_ticket).
 */
static int read_object(b3cas_store *s, const b3cas_oid *id,
		       b3cas_blob **blob_out, void **data_out,
		       size_t *len_out, read_source *from,
		       uint64_t *ticket_out)
{
	rocksdb_pinnableslice_t *v = NULL;
	b3cas_blob *blob = NULL;
	b3cas_l2 *l2;
	uint64_t size;
	bool is_inline;
	uint8_t *buf;
	int fd = -1, rc;

	*ticket_out = l2_ticket(s, id);
	rc = b3cas__store_entry(s, id, &size, &is_inline, &v);
	if (rc < 0)
		return rc;
	if (size > SIZE_MAX - 4096) {
		rocksdb_pinnableslice_destroy(v);
		return b3cas__error(B3CAS_ENOMEM, "object too large");
	}
	if (blob_out) {
		blob = b3cas__blob_new((size_t)size);
		buf = blob ? b3cas__blob_bytes(blob) : NULL;
		if (!buf)
			b3cas__error(B3CAS_ENOMEM, "out of memory");
	} else {
		buf = b3cas__malloc((size_t)size);
	}
	if (!buf) {
		rocksdb_pinnableslice_destroy(v);
		return B3CAS_ENOMEM;
	}
	if (is_inline) {
		size_t vlen;
		const char *p = rocksdb_pinnableslice_value(v, &vlen);

		memcpy(buf, p + B3CAS_ENTRY_HEADER_LEN, (size_t)size);
		rocksdb_pinnableslice_destroy(v);
		*from = FROM_INDEX;
	} else if ((l2 = atomic_load_explicit(&s->l2, memory_order_acquire)) &&
		   b3cas__l2_read(l2, id, size, buf) == 1) {
		*from = FROM_L2;
	} else {
		rc = b3cas__store_open_loose(s, id, size, &fd);
		if (rc == 0) {
			rc = b3cas__object_pread(&s->lay, id, fd, buf,
						 (size_t)size, 0);
			close(fd);
		}
		/* A file of the wrong size, or missing, is a corrupt object
		 * too (a missing one has nothing to move). */
		if (rc == B3CAS_ECORRUPT)
			rc = b3cas__store_on_corrupt(s, id, size, true, rc);
		if (rc < 0) {
			if (blob)
				b3cas_blob_release(blob);
			else
				free(buf);
			return rc;
		}
		*from = FROM_TIER;
	}
	if (blob_out)
		*blob_out = blob;
	else
		*data_out = buf;
	*len_out = (size_t)size;
	return 0;
}

int b3cas__store_on_corrupt(b3cas_store *s, const b3cas_oid *id,
			    uint64_t len, bool loose, int rc)
{
	char msg[B3CAS__MESSAGE_MAX];

	atomic_fetch_add_explicit(&s->n_corrupt_reads, 1,
				  memory_order_relaxed);
	if (!loose)
		return rc;
	snprintf(msg, sizeof(msg), "%s", b3cas_error_last());
	if (b3cas__quarantine_loose(s, id, len) == 1)
		return b3cas__error(rc, "%s; its file was moved to "
				    "%s/integrity/quarantine/", msg,
				    s->lay.root);
	return b3cas__error(rc, "%s", msg);
}

/* The mirror store in *out, opened read-only on first use (s has a
 * mirror_dir); the error of that open when it fails. */
static int mirror_of(b3cas_store *s, b3cas_store **out)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *m = atomic_load_explicit(&s->mirror, memory_order_acquire);
	int rc = 0;

	if (m) {
		*out = m;
		return 0;
	}
	pthread_mutex_lock(&s->mirror_lock);
	m = atomic_load(&s->mirror);
	if (!m) {
		o.read_only = true;
		o.hash = s->lay.hash;
		o.l1_bytes = 0;
		o.verify_on_read = true; /* its bytes are checked too */
		rc = b3cas_store_open(&m, s->mirror_dir, &o);
		if (rc == 0)
			atomic_store_explicit(&s->mirror, m,
					      memory_order_release);
	}
	pthread_mutex_unlock(&s->mirror_lock);
	*out = m;
	return rc;
}

/* Is folder a the store's folder or its object tier, or inside one of
 * them, or is the store inside a? (*out; 0 or an error) */
int b3cas__store_overlaps(b3cas_store *s, const char *a, bool *out)
{
	struct stat st;
	int rc = 0;

	*out = false;
	if (fstat(s->lay.root_fd, &st) == 0)
		rc = b3cas__path_within(a, &st, out);
	if (rc == 0 && !*out && fstat(s->lay.objects_fd, &st) == 0)
		rc = b3cas__path_within(a, &st, out);
	if (rc == 0 && !*out)
		rc = b3cas__path_within_path(s->lay.root, a, out);
	return rc;
}

int b3cas__store_mirror_check(b3cas_store *s, bool must_exist)
{
	b3cas_store *m;
	bool overlaps;
	int rc;

	if (!s->mirror_dir)
		return 0;
	rc = b3cas__store_overlaps(s, s->mirror_dir, &overlaps);
	if (rc < 0)
		return rc;
	if (overlaps)
		return b3cas__error(B3CAS_EINVAL, "the mirror %s is the store "
				    "%s itself, or a folder inside it (or "
				    "holds it): a mirror must be another "
				    "store", s->mirror_dir, s->lay.root);
	if (!must_exist && access(s->mirror_dir, F_OK) != 0)
		return 0; /* checked when a read first needs it */
	rc = mirror_of(s, &m);
	if (rc < 0) {
		char why[512];

		snprintf(why, sizeof(why), "%s", b3cas_error_last());
		/* Not found, not a store, another hash: each an error of the
		 * mirror given, never a reason to call an object lost. */
		return b3cas__error(rc == B3CAS_EINVAL ? B3CAS_EFORMAT : rc,
				    "cannot use the mirror %s: %s",
				    s->mirror_dir, why);
	}
	return 0;
}

/*
 * Write good bytes of id back over a corrupt copy, under its stripe lock,
 * if the object is still stored with that size: a loose file is written
 * anew (temp file, rename), an inline entry is rewritten.
 */
static int write_back(b3cas_store *s, const b3cas_oid *id, const void *buf,
		      size_t len)
{
	pthread_mutex_t *lock = b3cas__store_stripe(s, id);
	uint64_t size;
	bool is_inline;
	int rc;

	pthread_mutex_lock(lock);
	rc = b3cas__store_entry(s, id, &size, &is_inline, NULL);
	if (rc == 0 && size != len)
		rc = b3cas__error(B3CAS_ECORRUPT, "size differs");
	if (rc == 0 && is_inline) {
		rocksdb_writebatch_t *b = rocksdb_writebatch_create();

		batch_put_entry(b, s, id, buf, len, true, false);
		rc = write_batch(s, b, false);
		rocksdb_writebatch_destroy(b);
	} else if (rc == 0) {
		rc = b3cas__object_write(&s->lay, id, buf, len,
					 s->durability == B3CAS_DURABILITY_FULL);
		if (rc == 0)
			note_written(s, true);
	}
	pthread_mutex_unlock(lock);
	return rc;
}

int b3cas__store_heal(b3cas_store *s, const b3cas_oid *id, void **buf_out,
		      size_t *len_out)
{
	b3cas_store *m;
	void *buf;
	size_t len;
	int rc;

	if (!s->mirror_dir)
		return b3cas__error(B3CAS_ENOTFOUND, "no mirror configured");
	rc = mirror_of(s, &m);
	if (rc < 0) {
		char why[B3CAS__MESSAGE_MAX];

		/* Only a lack of memory is worth trying again. */
		snprintf(why, sizeof(why), "%s", b3cas_error_last());
		return b3cas__error(rc == B3CAS_ENOMEM ? rc : B3CAS_ENOTFOUND,
				    "cannot open the mirror %s: %s",
				    s->mirror_dir, why);
	}
	rc = b3cas_store_get(m, id, &buf, &len);
	if (rc < 0)
		return rc;
	rc = s->read_only ? 0 : write_back(s, id, buf, len);
	if (rc < 0 && !buf_out) {
		free(buf);
		return rc;
	}
	atomic_fetch_add_explicit(&s->n_healed, 1, memory_order_relaxed);
	if (buf_out) {
		*buf_out = buf; /* a failed write-back still serves the read */
		*len_out = len;
	} else {
		free(buf);
	}
	return 0;
}

int b3cas__store_heal_failed(b3cas_store *s, int rc, const char *msg,
			     int heal_rc)
{
	char why[B3CAS__MESSAGE_MAX];

	/* b3cas_error_last() is the buffer b3cas__error writes: copied
	 * first, never passed to it. */
	snprintf(why, sizeof(why), "%s", b3cas_error_last());
	if (heal_rc == B3CAS_ENOMEM)
		return b3cas__error(B3CAS_ENOMEM, "%s; it could not be fetched "
				    "from the mirror %s (%s)", msg,
				    s->mirror_dir, why);
	return b3cas__error(rc, "%s; the mirror %s has no good copy (%s)",
			    msg, s->mirror_dir, why);
}

/*
 * rc is a read's error for id. When it says corrupt and there is a
 * mirror: fetch the object from it into a new *buf_out (malloc'd), write
 * it back (writable handles) and return 0. Otherwise the error of
 * b3cas__store_heal_failed.
 */
static int heal(b3cas_store *s, const b3cas_oid *id, int rc, void **buf_out,
		size_t *len_out)
{
	char msg[B3CAS__MESSAGE_MAX];
	int hrc;

	if (rc != B3CAS_ECORRUPT || !s->mirror_dir)
		return rc;
	snprintf(msg, sizeof(msg), "%s", b3cas_error_last());
	hrc = b3cas__store_heal(s, id, buf_out, len_out);
	if (hrc < 0)
		return b3cas__store_heal_failed(s, rc, msg, hrc);
	b3cas_error_clear();
	return 0;
}

/* After a read: verify (unless L2 did), then copy a loose object read
 * from the tier into L2 (with the ticket read_object took). */
static int finish_read(b3cas_store *s, const b3cas_oid *id, const void *buf,
		       size_t len, read_source from, uint64_t ticket)
{
	b3cas_l2 *l2;
	int rc = from == FROM_L2 ? 0 : verify(s, id, buf, len);

	if (rc == B3CAS_ECORRUPT)
		return b3cas__store_on_corrupt(s, id, len, from == FROM_TIER,
					       rc);

	if (rc == 0 && from == FROM_TIER &&
	    (l2 = atomic_load_explicit(&s->l2, memory_order_acquire)))
		b3cas__l2_add(l2, id, buf, len, ticket);
	return rc;
}

/* What an L1 entry of len bytes costs: its bytes and its bookkeeping. */
#define L1_OVERHEAD 192

static bool l1_admits(b3cas_store *s, size_t len)
{
	/* As the engine decides: at most a quarter of one of 64 shards. */
	return (uint64_t)len + L1_OVERHEAD <=
	       atomic_load_explicit(&s->l1_capacity, memory_order_relaxed) /
		       256;
}

/* Offer a verified blob to L1; the caller keeps its own reference. */
static void l1_offer(b3cas_store *s, const b3cas_oid *id, b3cas_blob *blob,
		     uint64_t ticket)
{
	size_t len = b3cas_blob_size(blob);

	if (!l1_admits(s, len))
		return;
	b3cas_blob_retain(blob);
	if (!b3cas__cache_insert(s->l1, id, blob, len + L1_OVERHEAD, ticket))
		b3cas_blob_release(blob);
}

/* Offer verified bytes in a caller's buffer to L1 (copied). */
static void l1_offer_copy(b3cas_store *s, const b3cas_oid *id,
			  const void *buf, size_t len, uint64_t ticket)
{
	b3cas_blob *blob;

	if (!l1_admits(s, len) || !(blob = b3cas__blob_new(len)))
		return;
	memcpy(b3cas__blob_bytes(blob), buf, len);
	l1_offer(s, id, blob, ticket);
	b3cas_blob_release(blob);
}

/* A copy of an L1 hit in a new malloc'd buffer. */
static int copy_blob(b3cas_blob *blob, void **data_out, size_t *len_out)
{
	size_t len = b3cas_blob_size(blob);
	void *buf = b3cas__malloc(len);

	if (buf)
		memcpy(buf, b3cas_blob_data(blob), len);
	b3cas_blob_release(blob);
	if (!buf)
		return B3CAS_ENOMEM;
	*data_out = buf;
	*len_out = len;
	return 0;
}

int b3cas__store_load(b3cas_store *s, const b3cas_oid *id,
		      b3cas_blob **out)
{
	uint64_t ticket = b3cas__cache_ticket(s->l1, id), l2t;
	read_source from;
	b3cas_blob *blob;
	void *good;
	size_t len;
	int rc = read_object(s, id, &blob, NULL, &len, &from, &l2t);

	if (rc == 0) {
		rc = finish_read(s, id, b3cas__blob_bytes(blob), len, from,
				 l2t);
		if (rc < 0)
			b3cas_blob_release(blob);
	}
	if (rc == B3CAS_ECORRUPT) {
		rc = heal(s, id, rc, &good, &len);
		if (rc == 0) {
			blob = b3cas__blob_new(len);
			if (blob)
				memcpy(b3cas__blob_bytes(blob), good, len);
			else
				rc = b3cas__error(B3CAS_ENOMEM,
						  "out of memory");
			free(good);
		}
	}
	if (rc < 0)
		return rc;
	l1_offer(s, id, blob, ticket);
	*out = blob;
	return 0;
}

int b3cas_store_get_view(b3cas_store *s, const b3cas_oid *id,
			 b3cas_blob **out)
{
	uint64_t t0 = b3cas__now_ns();
	void *hit;
	int rc = 0;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(id, "id");
	B3CAS__NONNULL(out, "out");
	if (b3cas__cache_get(s->l1, id, &hit))
		*out = hit;
	else
		rc = b3cas__store_load(s, id, out);
	b3cas__note_get(s, t0, 1);
	return rc;
}

int b3cas_store_get(b3cas_store *s, const b3cas_oid *id, void **data_out,
		    size_t *len_out)
{
	uint64_t t0 = b3cas__now_ns(), ticket, l2t;
	read_source from;
	void *buf, *hit;
	size_t len;
	int rc;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(id, "id");
	B3CAS__NONNULL(data_out, "data_out");
	B3CAS__NONNULL(len_out, "len_out");
	if (b3cas__cache_get(s->l1, id, &hit)) {
		rc = copy_blob(hit, data_out, len_out);
		goto out;
	}
	ticket = b3cas__cache_ticket(s->l1, id);
	rc = read_object(s, id, NULL, &buf, &len, &from, &l2t);
	if (rc == 0) {
		rc = finish_read(s, id, buf, len, from, l2t);
		if (rc < 0)
			free(buf);
	}
	rc = heal(s, id, rc, &buf, &len);
	if (rc == 0) {
		l1_offer_copy(s, id, buf, len, ticket);
		*data_out = buf;
		*len_out = len;
	}
out:
	b3cas__note_get(s, t0, 1);
	return rc;
}

/* ---- counters ---------------------------------------------------------------- */

void b3cas__note_put(b3cas_store *s, uint64_t t0, uint64_t bytes, int rc,
		     uint64_t n)
{
	if (rc < 0)
		return;
	b3cas__hist_record(&s->lat_put, b3cas__now_ns() - t0);
	atomic_fetch_add_explicit(&s->n_puts, n, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->n_put_bytes, bytes,
				  memory_order_relaxed);
	if (rc == 1)
		atomic_fetch_add_explicit(&s->n_dup_puts, 1,
					  memory_order_relaxed);
}

void b3cas__note_get(b3cas_store *s, uint64_t t0, uint64_t n)
{
	b3cas__hist_record(&s->lat_get, b3cas__now_ns() - t0);
	atomic_fetch_add_explicit(&s->n_gets, n, memory_order_relaxed);
}

int b3cas_store_exists(b3cas_store *s, const b3cas_oid *id)
{
	uint64_t size;
	bool is_inline;
	int rc;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(id, "id");
	/* L1 holds only stored objects. */
	if (b3cas__cache_contains(s->l1, id))
		return 1;
	rc = b3cas__store_entry(s, id, &size, &is_inline, NULL);

	if (rc == B3CAS_ENOTFOUND)
		return 0;
	return rc < 0 ? rc : 1;
}

int b3cas_store_stat(b3cas_store *s, const b3cas_oid *id,
		     b3cas_object_info *out)
{
	uint64_t size = 0, refs = 0;
	bool is_inline = false;
	int rc;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(id, "id");
	B3CAS__NONNULL(out, "out");
	rc = lookup(s, id, &refs, &size, &is_inline);
	if (rc < 0)
		return rc;
	if (rc != 1)
		return not_stored(id);
	out->id = *id;
	out->size = size;
	out->refs = refs;
	out->is_inline = is_inline;
	return 0;
}

/* ---- delete ---------------------------------------------------------------- */

/*
 * Add a candidate's entries to b: its content entry gets the UNREF mark
 * (so reads no longer see it; bytes: an inline object's) and its refs
 * entry count 0, the time, its size and kind (so GC decides from that
 * entry alone). The bytes stay until b3cas_gc removes them.
 */
static void batch_candidate(rocksdb_writebatch_t *b, b3cas_store *s,
			    const b3cas_oid *id, const void *bytes,
			    size_t size, bool is_inline)
{
	uint8_t mark[B3CAS_REFS_CANDIDATE_LEN];

	batch_put_entry(b, s, id, bytes, size, is_inline, true);
	b3cas__put_u64(mark, 0);
	b3cas__put_u64(mark + 8, b3cas__wall_ns());
	b3cas__put_u64(mark + 16, size);
	mark[24] = is_inline ? B3CAS_ENTRY_INLINE : B3CAS_ENTRY_LOOSE;
	rocksdb_writebatch_put_cf(b, s->ix->cf[B3CAS_CF_REFS],
				  (const char *)id->bytes, B3CAS_OID_LEN,
				  (const char *)mark, sizeof(mark));
}

/* Make id, whose last reference is going, a GC candidate. */
static int mark_candidate(b3cas_store *s, rocksdb_writebatch_t *b,
			  const b3cas_oid *id)
{
	rocksdb_pinnableslice_t *v = NULL;
	const char *bytes = NULL;
	uint64_t size;
	bool is_inline, unref;
	size_t vlen;
	int rc = entry_read(s, id, &size, &is_inline, &unref, &v);

	if (rc < 0)
		return rc;
	if (is_inline)
		bytes = rocksdb_pinnableslice_value(v, &vlen) +
			B3CAS_ENTRY_HEADER_LEN;
	/* putv copies the bytes into the batch: v can go after. */
	batch_candidate(b, s, id, bytes, (size_t)size, is_inline);
	rocksdb_pinnableslice_destroy(v);
	return 0;
}

void b3cas__store_batch_put_candidate(b3cas_store *s, rocksdb_writebatch_t *b,
				      const b3cas_oid *id, uint64_t size)
{
	b3cas__known_drop(s->known, id);
	batch_candidate(b, s, id, NULL, (size_t)size, false);
}

void b3cas__store_batch_remove(b3cas_store *s, rocksdb_writebatch_t *b,
			       const b3cas_oid *id)
{
	b3cas__known_drop(s->known, id);
	rocksdb_writebatch_delete_cf(b, s->ix->cf[B3CAS_CF_CONTENT],
				     (const char *)id->bytes, B3CAS_OID_LEN);
	rocksdb_writebatch_delete_cf(b, s->ix->cf[B3CAS_CF_REFS],
				     (const char *)id->bytes, B3CAS_OID_LEN);
}

int b3cas__store_write_batch(b3cas_store *s, rocksdb_writebatch_t *b)
{
	return write_batch(s, b, false);
}

/*
 * Remove (loose) id's file and then its entries: under its stripe lock, so
 * no put can slip a new copy in between. The file goes first, as in GC:
 * an entry whose file is gone is removed by the next try, while a file
 * whose entry went first would be an orphan that fsck cannot tell from a
 * lost object (docs/store.md, "Orphans").
 */
static int remove_locked(b3cas_store *s, const b3cas_oid *id, bool is_inline)
{
	rocksdb_writebatch_t *b;
	int rc = is_inline ? 0 : b3cas__object_remove(&s->lay, id);

	if (rc < 0)
		return rc;
	b = rocksdb_writebatch_create();
	b3cas__store_batch_remove(s, b, id);
	rc = write_batch(s, b, false);
	rocksdb_writebatch_destroy(b);
	if (rc == 0)
		b3cas__caches_forget(s, id, true);
	return rc;
}

static int64_t delete_locked(b3cas_store *s, const b3cas_oid *id)
{
	rocksdb_writebatch_t *b;
	uint64_t refs = 0, size = 0;
	bool is_inline = false;
	int rc = lookup(s, id, &refs, &size, &is_inline);

	if (rc == 0 || rc == 2)
		return not_stored(id);
	/* A malformed entry is removed at once, like a GC would. */
	if (rc == B3CAS_ECORRUPT)
		return remove_locked(s, id, false);
	if (rc < 0)
		return rc;
	b = rocksdb_writebatch_create();
	if (refs > 1) {
		batch_set_refs(b, s, id, true, refs - 1);
	} else {
		/* Not known live from before the write that ends it on. */
		b3cas__known_drop(s->known, id);
		rc = mark_candidate(s, b, id);
	}
	if (rc >= 0)
		rc = write_batch(s, b, false);
	rocksdb_writebatch_destroy(b);
	if (rc < 0)
		return rc;
	if (refs == 1)
		b3cas__caches_forget(s, id, false);
	return refs - 1 > INT64_MAX ? INT64_MAX : (int64_t)(refs - 1);
}

int64_t b3cas_store_delete(b3cas_store *s, const b3cas_oid *id)
{
	pthread_mutex_t *lock;
	int64_t rc;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(id, "id");
	lock = b3cas__store_stripe(s, id);
	rc = b3cas__store_check_writable(s, "delete an object");

	uint64_t t0 = b3cas__now_ns();

	if (rc < 0)
		return rc;
	pthread_mutex_lock(lock);
	rc = delete_locked(s, id);
	pthread_mutex_unlock(lock);
	if (rc >= 0) {
		b3cas__hist_record(&s->lat_delete, b3cas__now_ns() - t0);
		atomic_fetch_add_explicit(&s->n_deletes, 1,
					  memory_order_relaxed);
	}
	return rc;
}

/* ---- references ------------------------------------------------------------ */

int64_t b3cas_ref_add(b3cas_store *s, const b3cas_oid *id)
{
	pthread_mutex_t *lock;
	uint64_t refs = 0, size;
	bool is_inline;
	int64_t rc;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(id, "id");
	lock = b3cas__store_stripe(s, id);
	rc = b3cas__store_check_writable(s, "add a reference");

	if (rc < 0)
		return rc;
	pthread_mutex_lock(lock);
	rc = lookup(s, id, &refs, &size, &is_inline);
	if (rc == 0 || rc == 2) {
		/* Only a put, which brings the bytes, revives a candidate. */
		rc = not_stored(id);
	} else if (rc == 1 && refs == UINT64_MAX) {
		rc = refs_overflow(id);
	} else if (rc == 1) {
		rocksdb_writebatch_t *b = rocksdb_writebatch_create();

		batch_set_refs(b, s, id, refs != 1, refs + 1);
		rc = write_batch(s, b, false);
		rocksdb_writebatch_destroy(b);
		if (rc == 0)
			rc = refs + 1 > INT64_MAX ? INT64_MAX
						  : (int64_t)(refs + 1);
	}
	pthread_mutex_unlock(lock);
	return rc;
}

int64_t b3cas_ref_remove(b3cas_store *s, const b3cas_oid *id)
{
	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(id, "id");
	return b3cas_store_delete(s, id);
}

int b3cas_refcount(b3cas_store *s, const b3cas_oid *id, uint64_t *count)
{
	uint64_t refs = 0, size;
	bool is_inline;
	int rc;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(id, "id");
	B3CAS__NONNULL(count, "count");
	rc = lookup(s, id, &refs, &size, &is_inline);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return not_stored(id);
	*count = refs; /* 0: a GC candidate */
	return 0;
}

/* A candidate's refs entry as mark_candidate writes it. */
static bool candidate_mark(const uint8_t *p, size_t len)
{
	return len == B3CAS_REFS_CANDIDATE_LEN && b3cas__get_u64(p) == 0 &&
	       (p[24] == B3CAS_ENTRY_INLINE || p[24] == B3CAS_ENTRY_LOOSE);
}

int b3cas__store_candidate(b3cas_store *s, const b3cas_oid *id,
			   uint64_t *since_ns, uint64_t *size,
			   bool *is_inline)
{
	rocksdb_pinnableslice_t *v;
	uint64_t refs;
	const uint8_t *p;
	size_t len;
	int rc = b3cas__index_get(s->ix, B3CAS_CF_REFS, id->bytes,
				  B3CAS_OID_LEN, &v);

	if (rc <= 0)
		return rc; /* no refs entry: one reference, not a candidate */
	p = (const uint8_t *)rocksdb_pinnableslice_value(v, &len);
	/*
	 * The mark holds all a collection needs, and it changes in the
	 * same batch as the content entry's UNREF bit: the object's bytes
	 * are not read.
	 */
	if (candidate_mark(p, len)) {
		if (since_ns)
			*since_ns = b3cas__get_u64(p + 8);
		*size = b3cas__get_u64(p + 16);
		*is_inline = p[24] == B3CAS_ENTRY_INLINE;
		rocksdb_pinnableslice_destroy(v);
		return 1;
	}
	rocksdb_pinnableslice_destroy(v);
	/* A count, or a mark not as written: ask the content entry. */
	rc = lookup(s, id, &refs, size, is_inline);
	if (rc != 2)
		return rc < 0 ? rc : 0;
	/* A candidate without a readable mark counts as marked now: the
	 * grace period then protects it as long as possible. */
	if (since_ns)
		*since_ns = b3cas__wall_ns();
	return 1;
}

int b3cas_dedup_check(b3cas_store *s, const void *data, size_t len,
		      b3cas_oid *id_out, bool *is_dup)
{
	b3cas_oid id;
	int rc;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL_LEN(data, "data", len, "len");
	B3CAS__NONNULL(is_dup, "is_dup");
	rc = b3cas__store_hash(s, &id, data, len);
	if (rc < 0)
		return rc;
	*is_dup = false;
	if (b3cas__filter_may_contain(s, &id)) {
		rc = b3cas_store_exists(s, &id);
		if (rc < 0)
			return rc;
		b3cas__filter_outcome(s, rc == 1);
		*is_dup = rc == 1;
	}
	if (id_out)
		*id_out = id;
	return 0;
}

/* ---- walking ---------------------------------------------------------------- */

int b3cas_store_foreach(b3cas_store *s,
			int (*fn)(const b3cas_object_info *info, void *ctx),
			void *ctx)
{
	const rocksdb_snapshot_t *snap;
	rocksdb_readoptions_t *ro;
	rocksdb_iterator_t *refs_it, *it;
	char *err = NULL;
	int rc = 0;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(fn, "fn");
	snap = rocksdb_create_snapshot(s->ix->db);
	ro = rocksdb_readoptions_create();
	/* Both column families from one snapshot: they hold the same ids,
	 * so the two iterators move in step. */
	rocksdb_readoptions_set_snapshot(ro, snap);
	it = rocksdb_create_iterator_cf(s->ix->db, ro,
					s->ix->cf[B3CAS_CF_CONTENT]);
	refs_it = rocksdb_create_iterator_cf(s->ix->db, ro,
					     s->ix->cf[B3CAS_CF_REFS]);
	rocksdb_iter_seek_to_first(it);
	rocksdb_iter_seek_to_first(refs_it);
	for (; rc == 0 && rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		b3cas_object_info info;
		size_t klen, vlen, rklen, rvlen;
		const char *key = rocksdb_iter_key(it, &klen);
		const uint8_t *v =
			(const uint8_t *)rocksdb_iter_value(it, &vlen);
		const char *rkey, *rv;

		if (klen != B3CAS_OID_LEN || vlen < B3CAS_ENTRY_HEADER_LEN) {
			rc = b3cas__error(B3CAS_ECORRUPT,
					  "malformed index entry (key %zu "
					  "bytes, value %zu bytes)",
					  klen, vlen);
			break;
		}
		if (v[0] & B3CAS_ENTRY_UNREF)
			continue; /* a GC candidate: not stored any more */
		memcpy(info.id.bytes, key, B3CAS_OID_LEN);
		info.size = b3cas__get_u64(v + 1);
		info.is_inline = (v[0] & ~B3CAS_ENTRY_UNREF) ==
				 B3CAS_ENTRY_INLINE;
		info.refs = 1; /* no refs entry: one reference */
		while (rocksdb_iter_valid(refs_it)) {
			rkey = rocksdb_iter_key(refs_it, &rklen);
			if (rklen == klen && memcmp(rkey, key, klen) >= 0)
				break;
			rocksdb_iter_next(refs_it);
		}
		if (rocksdb_iter_valid(refs_it)) {
			rkey = rocksdb_iter_key(refs_it, &rklen);
			rv = rocksdb_iter_value(refs_it, &rvlen);
			if (rklen == klen && memcmp(rkey, key, klen) == 0 &&
			    rvlen == 8)
				info.refs = b3cas__get_u64((const uint8_t *)rv);
		}
		rc = fn(&info, ctx);
	}
	if (rc == 0) {
		rocksdb_iter_get_error(it, &err);
		if (err)
			rc = b3cas__index_error(err, "cannot walk the index");
	}
	rocksdb_iter_destroy(refs_it);
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	rocksdb_release_snapshot(s->ix->db, snap);
	return rc;
}

/* ---- batches --------------------------------------------------------------- */

typedef struct batch_item {
	b3cas_oid id;
	size_t index; /* position in the caller's arrays */
} batch_item;

static int item_cmp(const void *a, const void *b)
{
	const batch_item *x = a, *y = b;
	int c = memcmp(x->id.bytes, y->id.bytes, B3CAS_OID_LEN);

	if (c)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int hash_many(b3cas_store *s, batch_item *items,
		     const void *const *data, const size_t *lens, size_t n)
{
	if (s->lay.hash == B3CAS_HASH_BLAKE3) {
		/* b3cas_hash_batch writes 32-byte outputs side by side. */
		uint8_t *out = malloc(n * B3CAS_OID_LEN);

		if (!out)
			return b3cas__error(B3CAS_ENOMEM, "out of memory");
		b3cas_hash_batch(out, data, lens, n);
		for (size_t i = 0; i < n; i++)
			memcpy(items[i].id.bytes, out + i * B3CAS_OID_LEN,
			       B3CAS_OID_LEN);
		free(out);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		int rc = b3cas__store_hash(s, &items[i].id, data[i], lens[i]);

		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Lock the stripes of sorted items, each once, in increasing order. */
static void lock_stripes(b3cas_store *s, const batch_item *items, size_t n,
			 bool lock)
{
	pthread_mutex_t *prev = NULL;

	/* Sorting by id sorts by stripe index, which is the id's prefix. */
	for (size_t i = 0; i < n; i++) {
		pthread_mutex_t *m = b3cas__store_stripe(s, &items[i].id);

		if (m == prev)
			continue;
		if (lock)
			pthread_mutex_lock(m);
		else
			pthread_mutex_unlock(m);
		prev = m;
	}
}

static int stage_all(b3cas_store *s, rocksdb_writebatch_t *b,
		     const batch_item *items, size_t n,
		     const void *const *data, const size_t *lens,
		     bool *dup_out, bool *loose_out)
{
	*loose_out = false;
	for (size_t i = 0; i < n;) {
		size_t j = i + 1, k = items[i].index;
		bool loose;
		int rc;

		while (j < n && b3cas_oid_equal(&items[j].id, &items[i].id))
			j++;
		rc = stage_locked(s, b, &items[i].id, data[k], lens[k], NULL,
				  j - i, &loose);
		if (rc < 0)
			return rc;
		*loose_out |= loose;
		atomic_fetch_add_explicit(&s->n_dup_puts,
					  (j - i) - (rc == 1 ? 0 : 1),
					  memory_order_relaxed);
		if (dup_out)
			for (size_t m = i; m < j; m++)
				dup_out[items[m].index] = rc == 1 || m > i;
		i = j;
	}
	return 0;
}

int b3cas_store_put_batch(b3cas_store *s, b3cas_oid *ids_out, bool *dup_out,
			  const void *const *data, const size_t *lens,
			  size_t n)
{
	rocksdb_writebatch_t *b;
	batch_item *items;
	bool loose = false;
	int rc;

	uint64_t t0 = b3cas__now_ns(), bytes = 0;

	B3CAS__NONNULL(s, "store");
	if (n > 0) {
		B3CAS__NONNULL(data, "data");
		B3CAS__NONNULL(lens, "lens");
	}
	rc = b3cas__store_check_writable(s, "store objects");
	if (rc < 0 || n == 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		bytes += lens[i];
	for (size_t i = 0; i < n; i++)
		if (!data[i] && lens[i])
			return b3cas__error(B3CAS_EINVAL,
					    "%s: data[%zu] is NULL but "
					    "lens[%zu] is %zu",
					    __func__, i, i, lens[i]);
	items = malloc(n * sizeof(*items));
	if (!items)
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		items[i].index = i;
	rc = hash_many(s, items, data, lens, n);
	if (rc < 0)
		goto out;
	qsort(items, n, sizeof(*items), item_cmp);
	b = rocksdb_writebatch_create();
	lock_stripes(s, items, n, true);
	rc = stage_all(s, b, items, n, data, lens, dup_out, &loose);
	if (rc == 0)
		rc = write_batch(s, b, loose);
	for (size_t i = 0; rc == 0 && i < n; i++)
		b3cas__known_add(s->known, &items[i].id);
	lock_stripes(s, items, n, false);
	rocksdb_writebatch_destroy(b);
	if (rc == 0 && ids_out)
		for (size_t i = 0; i < n; i++)
			ids_out[items[i].index] = items[i].id;
	/* one latency sample for the whole batch */
	b3cas__note_put(s, t0, bytes, rc, n);
out:
	free(items);
	return rc;
}

/* Where get_batch found an item: an L1 hit, read and to be verified, or
 * read from L2, which verified it. */
enum { ITEM_HIT, ITEM_CHECK, ITEM_VERIFIED };

/* Verify side by side the items that need it: the batch kernel fills its
 * lanes with different objects. Marks a failed item's rcs. */
static void verify_items(b3cas_store *s, const b3cas_oid *ids, size_t n,
			 void **data, const size_t *lens, int *rcs,
			 const uint8_t *todo)
{
	static const uint8_t nothing[1];
	const void **inputs = NULL;
	size_t *ilens = NULL, *which = NULL, m = 0;
	uint8_t *hashes = NULL;

	if (s->verify && s->lay.hash == B3CAS_HASH_BLAKE3 && n > 1) {
		inputs = malloc(n * sizeof(*inputs));
		ilens = malloc(n * sizeof(*ilens));
		which = malloc(n * sizeof(*which));
		hashes = malloc(n * B3CAS_OID_LEN);
	}
	if (inputs && ilens && which && hashes) {
		for (size_t i = 0; i < n; i++) {
			if (rcs[i] != 0 || todo[i] != ITEM_CHECK)
				continue;
			inputs[m] = data[i] ? data[i] : nothing;
			ilens[m] = lens[i];
			which[m++] = i;
		}
		b3cas_hash_batch(hashes, inputs, ilens, m);
		for (size_t k = 0; k < m; k++) {
			b3cas_oid got;
			size_t i = which[k];

			memcpy(got.bytes, hashes + k * B3CAS_OID_LEN,
			       B3CAS_OID_LEN);
			if (!b3cas_oid_equal(&got, &ids[i]))
				rcs[i] = b3cas__store_corrupt(&ids[i], &got);
		}
	} else {
		for (size_t i = 0; i < n; i++)
			if (rcs[i] == 0 && todo[i] == ITEM_CHECK)
				rcs[i] = verify(s, &ids[i], data[i], lens[i]);
	}
	free(inputs);
	free(ilens);
	free(which);
	free(hashes);
}

int b3cas_store_get_batch(b3cas_store *s, const b3cas_oid *ids, size_t n,
			  void **data_out, size_t *lens_out, int *results)
{
	int *rcs;
	uint64_t *tickets;
	uint8_t *todo, *from;
	uint64_t t0 = b3cas__now_ns();
	int first = 0;

	B3CAS__NONNULL(s, "store");
	if (n > 0) {
		B3CAS__NONNULL(ids, "ids");
		B3CAS__NONNULL(data_out, "data_out");
		B3CAS__NONNULL(lens_out, "lens_out");
	}
	rcs = results ? results : malloc(n * sizeof(*rcs) + 1);
	/* Per item: its L1 ticket, then (at n + i) its L2 ticket. */
	tickets = malloc(2 * n * sizeof(*tickets) + 1);
	todo = malloc(n + 1);
	from = malloc(n + 1);
	if (!rcs || !tickets || !todo || !from) {
		if (rcs != results)
			free(rcs);
		free(tickets);
		free(todo);
		free(from);
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		read_source src = FROM_INDEX;
		void *hit;

		todo[i] = ITEM_HIT;
		if (b3cas__cache_get(s->l1, &ids[i], &hit)) {
			rcs[i] = copy_blob(hit, &data_out[i], &lens_out[i]);
		} else {
			tickets[i] = b3cas__cache_ticket(s->l1, &ids[i]);
			rcs[i] = read_object(s, &ids[i], NULL, &data_out[i],
					     &lens_out[i], &src,
					     &tickets[n + i]);
			/* L2 verified its copies already. */
			todo[i] = src == FROM_L2 ? ITEM_VERIFIED : ITEM_CHECK;
		}
		from[i] = (uint8_t)src;
		if (rcs[i] < 0) {
			data_out[i] = NULL;
			lens_out[i] = 0;
		}
	}
	verify_items(s, ids, n, data_out, lens_out, rcs, todo);
	for (size_t i = 0; i < n; i++) {
		if (rcs[i] == B3CAS_ECORRUPT && todo[i] == ITEM_CHECK &&
		    data_out[i])
			rcs[i] = b3cas__store_on_corrupt(
				s, &ids[i], lens_out[i], from[i] == FROM_TIER,
				rcs[i]);
		if (rcs[i] < 0 && data_out[i]) {
			free(data_out[i]);
			data_out[i] = NULL;
			lens_out[i] = 0;
		}
		if (rcs[i] == B3CAS_ECORRUPT)
			rcs[i] = heal(s, &ids[i], rcs[i], &data_out[i],
				      &lens_out[i]);
		if (rcs[i] < 0 && first == 0)
			first = rcs[i];
		if (rcs[i] == 0 && todo[i] != ITEM_HIT) {
			b3cas_l2 *l2 = atomic_load(&s->l2);

			if (from[i] == FROM_TIER && l2)
				b3cas__l2_add(l2, &ids[i], data_out[i],
					      lens_out[i], tickets[n + i]);
			l1_offer_copy(s, &ids[i], data_out[i], lens_out[i],
				      tickets[i]);
		}
	}
	if (rcs != results)
		free(rcs);
	free(tickets);
	free(todo);
	free(from);
	b3cas__note_get(s, t0, n);
	return first;
}
