/*
 * store/open.c - opening and closing a store handle: options, the layout,
 * the index (with room made by the reserve), the caches, the filter and
 * the flusher, in that order, and their release in reverse.
 *
 * Invariants: a handle that fails to open is closed through the same path
 * as an open one (every member starts in a state close accepts); close
 * refuses while writers or readers hold the handle, flushes before it
 * frees, and leaves the caller's error message in place when it succeeds.
 */
#include "store/handle.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/chunked.h"
#include "store/pack.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "index/wal.h"

#define SYNC_INTERVAL_DEFAULT_MS 1000

static int check_options(const b3cas_store_options *o)
{
	if (b3cas__check_version(o->version, 1, B3CAS_STORE_OPTIONS_VERSION,
				 "store") < 0)
		return B3CAS_EINVAL;
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
	if (o->version < 4)
		return 0;
	if ((unsigned)o->chunking > B3CAS_CHUNKING_ON)
		return b3cas__error(B3CAS_EINVAL, "unknown chunking mode %d",
				    (int)o->chunking);
	if (o->chunk_avg &&
	    (o->chunk_avg < B3CAS_CHUNK_AVG_MIN ||
	     o->chunk_avg > B3CAS_CHUNK_AVG_MAX ||
	     (o->chunk_avg & (o->chunk_avg - 1))))
		return b3cas__error(B3CAS_EINVAL,
				    "chunk average %u is not a power of two "
				    "from %u to %u", o->chunk_avg,
				    B3CAS_CHUNK_AVG_MIN, B3CAS_CHUNK_AVG_MAX);
	if (o->chunking == B3CAS_CHUNKING_ON && o->hash == B3CAS_HASH_SHA256)
		return b3cas__error(B3CAS_EINVAL,
				    "chunking needs a BLAKE3 store: chunks "
				    "are named by BLAKE3 (sha256 stores keep "
				    "objects whole)");
	if (o->compression_level < 0 || o->compression_level > 19)
		return b3cas__error(B3CAS_EINVAL,
				    "compression level %d is not from 0 (off) "
				    "to 19", o->compression_level);
	if (o->version >= 5 && (unsigned)o->packing > B3CAS_PACKING_ON)
		return b3cas__error(B3CAS_EINVAL, "unknown packing mode %d",
				    (int)o->packing);
	if (o->version >= 6 && (o->pack_level < 0 || o->pack_level > 19))
		return b3cas__error(B3CAS_EINVAL,
				    "pack level %d is not from 0 (the "
				    "compression level) to 19",
				    o->pack_level);
	if (o->version >= 8 && o->rados_pool &&
	    (!*o->rados_pool || strchr(o->rados_pool, '\n')))
		return b3cas__error(B3CAS_EINVAL, "RADOS pool name '%s': "
				    "empty, or holding a line break",
				    o->rados_pool);
	if (o->version >= 8 && o->rados_pool &&
	    (o->chunking == B3CAS_CHUNKING_ON || o->compression_level > 0))
		return b3cas__error(B3CAS_EINVAL, "a RADOS store keeps "
				    "objects whole and uncompressed: chunking "
				    "and compression are not built for it yet");
	if (o->version >= 8 &&
	    ((o->rados_conf && strchr(o->rados_conf, '\n')) ||
	     (o->rados_namespace && strchr(o->rados_namespace, '\n'))))
		return b3cas__error(B3CAS_EINVAL, "RADOS configuration path "
				    "or namespace holding a line break");
	if (o->version >= 7 && o->index_memory &&
	    o->index_memory < B3CAS_INDEX_MEMORY_MIN)
		return b3cas__error(B3CAS_EINVAL,
				    "index memory of %llu bytes: 0 (the "
				    "default) or at least %u",
				    (unsigned long long)o->index_memory,
				    B3CAS_INDEX_MEMORY_MIN);
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
		rc = b3cas__index_open_sized(
			&s->ix, path, s->lay.created, s->read_only,
			b3cas__layout_packed_level(&s->lay), s->index_memory);
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
		       : opts->version == 3
			       ? offsetof(b3cas_store_options, chunking)
		       : opts->version == 4
			       ? offsetof(b3cas_store_options, packing)
		       : opts->version == 5
			       ? offsetof(b3cas_store_options, pack_level)
		       : opts->version == 6
			       ? offsetof(b3cas_store_options, index_memory)
		       : opts->version == 7
			       ? offsetof(b3cas_store_options, rados_pool)
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
	/* The algorithm is set once b3cas.conf has been read. */
	b3cas__digest_init(&s->digest, B3CAS_HASH_BLAKE3);
	pthread_mutex_init(&s->flush.lock, NULL);
	pthread_mutex_init(&s->cache.l2_lock, NULL);
	pthread_mutex_init(&s->mirror.lock, NULL);
	pthread_mutex_init(&s->reserve.lock, NULL);
	pthread_mutex_init(&s->held_lock, NULL);
	pthread_mutex_init(&s->names_lock, NULL);
	pthread_mutex_init(&s->rebase_lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&s->flush.wake, &ca);
		pthread_condattr_destroy(&ca);
	}
	s->durability = opts->durability;
	s->index_memory = opts->index_memory;
	s->verify = opts->verify_on_read;
	s->read_only = opts->read_only;
	/* See stripe/stripes.h for why a read-only handle has fewer. */
	if (b3cas__stripes_init(&s->stripes, s->read_only
					      ? B3CAS_STRIPES_READ_ONLY
					      : B3CAS_STRIPES) < 0) {
		b3cas_store_close(s);
		return B3CAS_ENOMEM;
	}
	s->flush.interval_ms = opts->sync_interval_ms ? opts->sync_interval_ms
						     : SYNC_INTERVAL_DEFAULT_MS;
	if (opts->mirror_dir && !(s->mirror.dir = strdup(opts->mirror_dir))) {
		b3cas_store_close(s);
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	}
	rc = b3cas__layout_open(&s->lay, root, opts);
	s->digest.algo = s->lay.hash;
	if (rc == 0)
		rc = b3cas__tier_open(s, opts);
	if (rc == 0 && !s->read_only &&
	    !(s->lay.staging = b3cas__staging_new()))
		rc = B3CAS_ENOMEM;
	if (rc == 0 && !rebuilding)
		rc = check_not_rebuilding(s);
	if (rc == 0)
		b3cas__reserve_ensure(s);
	if (rc == 0)
		rc = open_index_room(s);
	if (rc == 0 && s->lay.zpacked)
		rc = b3cas__pack_open(s);
	if (rc == 0)
		rc = b3cas__caches_open(s, opts->l1_bytes, opts->l2_bytes);
	/* A mirror is checked before a read trusts it (one not there yet
	 * is opened, and checked, by the first read that needs it). */
	if (rc == 0)
		rc = b3cas__store_mirror_check(s, false);
	if (rc == 0)
		s->filter = b3cas__filter_open(s->ix, &s->stripes, s->lay.root,
					       s->read_only);
	if (rc == 0 && !s->read_only)
		/* NULL: go without */
		s->known = b3cas__known_new_sized(s->index_memory / 8);
	/* What a crash left of chunked puts and removals (chunked.c). */
	if (rc == 0 && !s->lay.chunk_max) {
		int any = b3cas__links_any(s);

		if (any > 0)
			atomic_store(&s->links, true);
		rc = any < 0 ? any : 0;
	}
	if (rc == 0) {
		int any = b3cas__gitmap_any(s);

		if (any > 0)
			atomic_store(&s->gitmap, true);
		rc = any < 0 ? any : 0;
	}
	/* What a process that ended left of its leases (lease.c). */
	if (rc == 0 && !s->read_only)
		rc = b3cas__leases_release_all(s);
	if (rc == 0 && !s->read_only && b3cas__store_holds(s))
		rc = b3cas__chunked_release_all(s, NULL);
	if (rc == 0)
		rc = b3cas__flusher_start(s);
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
	unsigned l = atomic_load(&s->open_leases);

	if (w == 0 && r == 0 && l > 0)
		return b3cas__error(B3CAS_EBUSY,
				    "b3cas_store_close: store %s still has "
				    "%u lease%s open: close them first (the "
				    "store stays open)", s->lay.root, l,
				    l == 1 ? "" : "s");
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
	b3cas__flusher_stop(s);
	if (s->ix && !s->read_only) {
		rc = atomic_load(&s->flush.error);
		if (b3cas__store_sync_for_close(s) == 0)
			rc = 0;
		else
			rc = rc ? rc : B3CAS_EIO;
		if (rc < 0)
			snprintf(msg, sizeof(msg), "%s", b3cas_error_last());
	}
	b3cas__filter_close(s->filter, !s->lay.staging ||
				       !atomic_load(&s->lay.staging->interrupted));
	b3cas__known_free(s->known);
	b3cas__caches_close(s);
	b3cas_store_close(atomic_load(&s->mirror.store));
	b3cas__index_close(s->ix);
	b3cas__tier_close(s);
	b3cas__staging_free(s->lay.staging);
	b3cas__layout_close(&s->lay);
	b3cas__digest_destroy(&s->digest);
	b3cas__stripes_destroy(&s->stripes);
	pthread_mutex_destroy(&s->flush.lock);
	pthread_mutex_destroy(&s->cache.l2_lock);
	pthread_mutex_destroy(&s->mirror.lock);
	pthread_mutex_destroy(&s->reserve.lock);
	pthread_mutex_destroy(&s->held_lock);
	pthread_mutex_destroy(&s->names_lock);
	pthread_mutex_destroy(&s->rebase_lock);
	free(s->mirror.dir);
	pthread_cond_destroy(&s->flush.wake);
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
	b3cas__stripes_drain(&s->stripes);
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
	out->chunk_min = s->lay.chunk_min;
	out->chunk_avg = s->lay.chunk_avg;
	out->chunk_max = s->lay.chunk_max;
	out->compression_level = s->lay.zlevel;
	out->packed = s->lay.zpacked;
	out->pack_level = b3cas__layout_packed_level(&s->lay);
	out->durability = s->durability;
	out->read_only = s->read_only;
	out->format_version = s->lay.format;
	out->objects_dir = s->lay.objects_path;
}

void b3cas_free(void *ptr)
{
	free(ptr);
}
