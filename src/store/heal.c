/*
 * store/heal.c - self-healing reads: the mirror store (opened read-only
 * when first needed and checked before it is trusted), fetching an
 * object's good bytes from it and writing them back here.
 *
 * Invariants: a mirror that overlaps this store, or holds another hash,
 * is never used; bytes from the mirror are verified before they are
 * written back, under the id's stripe lock, only if the id is still stored
 * with that size.
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
#include "store/delta.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/within.h"

#include <sys/stat.h>

/* The mirror store in *out, opened read-only on first use (s has a
 * mirror_dir); the error of that open when it fails. */
static int mirror_of(b3cas_store *s, b3cas_store **out)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *m =
		atomic_load_explicit(&s->mirror.store, memory_order_acquire);
	int rc = 0;

	if (m) {
		*out = m;
		return 0;
	}
	pthread_mutex_lock(&s->mirror.lock);
	m = atomic_load(&s->mirror.store);
	if (!m) {
		o.read_only = true;
		o.hash = s->lay.hash;
		o.l1_bytes = 0;
		o.verify_on_read = true; /* its bytes are checked too */
		rc = b3cas_store_open(&m, s->mirror.dir, &o);
		if (rc == 0)
			atomic_store_explicit(&s->mirror.store, m,
					      memory_order_release);
	}
	pthread_mutex_unlock(&s->mirror.lock);
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

	if (!s->mirror.dir)
		return 0;
	rc = b3cas__store_overlaps(s, s->mirror.dir, &overlaps);
	if (rc < 0)
		return rc;
	if (overlaps)
		return b3cas__error(B3CAS_EINVAL, "the mirror %s is the store "
				    "%s itself, or a folder inside it (or "
				    "holds it): a mirror must be another "
				    "store", s->mirror.dir, s->lay.root);
	if (!must_exist && access(s->mirror.dir, F_OK) != 0)
		return 0; /* checked when a read first needs it */
	rc = mirror_of(s, &m);
	if (rc < 0) {
		char why[512];

		snprintf(why, sizeof(why), "%s", b3cas_error_last());
		/* Not found, not a store, another hash: each an error of the
		 * mirror given, never a reason to call an object lost. */
		return b3cas__error(rc == B3CAS_EINVAL ? B3CAS_EFORMAT : rc,
				    "cannot use the mirror %s: %s",
				    s->mirror.dir, why);
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
	b3cas__entry e;
	int kind = 0, rc;

	pthread_mutex_lock(lock);
	rc = b3cas__entry_get(s, id, &e);
	if (rc == 0) {
		kind = e.kind;
		if (e.unref)
			rc = b3cas__not_stored(id);
		else if (e.size != len)
			rc = b3cas__error(B3CAS_ECORRUPT, "size differs");
		b3cas__entry_done(&e);
	}
	if (rc == 0 && kind == B3CAS_ENTRY_CHUNKED) {
		/* Its chunks are mended under their own locks. */
		uint64_t mended;

		pthread_mutex_unlock(lock);
		return b3cas__chunked_mend(s, id, buf, len, &mended);
	}
	if (rc == 0 && kind != B3CAS_ENTRY_LOOSE) {
		rocksdb_writebatch_t *b = rocksdb_writebatch_create();

		/* a delta rewritten whole: its base node goes */
		if (kind == B3CAS_ENTRY_DELTA)
			b3cas__delta_batch_removed(s, b, id);

		b3cas__batch_put_entry(b, s, id, buf, len, true, false);
		rc = b3cas__write_batch(s, b, false);
		rocksdb_writebatch_destroy(b);
	} else if (rc == 0) {
		rc = b3cas__loose_write(s, id, buf, len, true);
		if (rc == 0)
			b3cas__note_written(s, true);
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

	if (!s->mirror.dir)
		return b3cas__error(B3CAS_ENOTFOUND, "no mirror configured");
	rc = mirror_of(s, &m);
	if (rc < 0) {
		char why[B3CAS__MESSAGE_MAX];

		/* Only a lack of memory is worth trying again. */
		snprintf(why, sizeof(why), "%s", b3cas_error_last());
		return b3cas__error(rc == B3CAS_ENOMEM ? rc : B3CAS_ENOTFOUND,
				    "cannot open the mirror %s: %s",
				    s->mirror.dir, why);
	}
	rc = b3cas_store_get(m, id, &buf, &len);
	if (rc < 0)
		return rc;
	rc = s->read_only ? 0 : write_back(s, id, buf, len);
	if (rc < 0 && !buf_out) {
		free(buf);
		return rc;
	}
	atomic_fetch_add_explicit(&s->count.healed, 1, memory_order_relaxed);
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
				    s->mirror.dir, why);
	return b3cas__error(rc, "%s; the mirror %s has no good copy (%s)",
			    msg, s->mirror.dir, why);
}

/*
 * rc is a read's error for id. When it says corrupt and there is a
 * mirror: fetch the object from it into a new *buf_out (malloc'd), write
 * it back (writable handles) and return 0. Otherwise the error of
 * b3cas__store_heal_failed.
 */
int b3cas__heal(b3cas_store *s, const b3cas_oid *id, int rc, void **buf_out,
		size_t *len_out)
{
	char msg[B3CAS__MESSAGE_MAX];
	int hrc;

	if (rc != B3CAS_ECORRUPT || !s->mirror.dir)
		return rc;
	snprintf(msg, sizeof(msg), "%s", b3cas_error_last());
	hrc = b3cas__store_heal(s, id, buf_out, len_out);
	if (hrc < 0)
		return b3cas__store_heal_failed(s, rc, msg, hrc);
	b3cas_error_clear();
	return 0;
}
