/*
 * store/adopt.c - writing objects that come from elsewhere (restore,
 * recover, fsck repairs): adopting an object only if the index has no
 * entry for it, setting a count to a backup's, and replacing a damaged
 * copy with good bytes.
 *
 * Invariants: all under the id's stripe lock; a count the index already
 * holds is this store's own and is kept; a damaged file goes to
 * quarantine, never deleted.
 */
#include "store/handle.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>

#include "store/chunked.h"
#include "util/error.h"
#include "util/fsutil.h"

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
	int rc = b3cas__refs_read(s, id, &count, &kept);

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
		rc = b3cas__loose_publish(s, tmp, id, true);
	else if (loose && !in_place)
		rc = b3cas__loose_write(s, id, data, len, true);
	if (rc < 0)
		return rc;
	b3cas__filter_add(s->filter, id);
	b = rocksdb_writebatch_create();
	b3cas__batch_put_entry(b, s, id, loose ? NULL : data, len, !loose,
			       false);
	if (!kept)
		b3cas__batch_set_refs(b, s, id, true, *refs);
	rc = b3cas__write_batch(s, b, loose);
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
	return b3cas__store_set_refs_at_least(s, id, count, false);
}

int b3cas__store_set_refs_at_least(b3cas_store *s, const b3cas_oid *id,
				   uint64_t count, bool only_raise)
{
	pthread_mutex_t *lock = b3cas__store_stripe(s, id);
	uint64_t refs = 0, size = 0, held = 0;
	bool is_inline = false;
	int rc = b3cas__store_check_writable(s, "set a reference count");

	if (rc < 0)
		return rc;
	if (count == 0)
		return 1;
	pthread_mutex_lock(lock);
	rc = b3cas__lookup(s, id, &refs, &size, &is_inline);
	/* count is the callers' part; the chunked objects here keep theirs */
	if (rc == 1) {
		int hrc = b3cas__chunked_held(s, id, &held);

		if (hrc < 0)
			rc = hrc;
		else if (count > UINT64_MAX - held)
			rc = b3cas__refs_overflow(id);
		else
			count += held;
	}
	if (rc == 1 && refs != count && (!only_raise || count > refs)) {
		rocksdb_writebatch_t *b = rocksdb_writebatch_create();

		/* The refs family holds an entry exactly when the count
		 * is not 1 (see batch_set_refs). */
		b3cas__batch_set_refs(b, s, id, refs != 1, count);
		rc = b3cas__write_batch(s, b, false);
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
	int fd, rc = b3cas__loose_open(s, id, size, &fd);

	if (rc == B3CAS_ENOTFOUND || rc == B3CAS_ECORRUPT)
		return true; /* missing, or of the wrong size */
	if (rc < 0)
		return false; /* cannot tell: leave it */
	rc = b3cas__file_check(s, fd, id, size, buf, sizeof(buf), NULL);
	close(fd);
	return rc == 0;
}

/* Under id's stripe lock: does what entry v keeps in the index (inline,
 * compressed, or a chunked object's chunks) fail to make id? */
static bool inline_damaged(b3cas_store *s, const b3cas_oid *id,
			   rocksdb_pinnableslice_t *v)
{
	size_t vlen;
	const uint8_t *p =
		(const uint8_t *)rocksdb_pinnableslice_value(v, &vlen);
	int rc = b3cas__store_entry_sound(s, NULL, id, p, vlen, NULL);

	b3cas_error_clear();
	return rc == 0; /* an error: cannot tell, leave it */
}

static int replace_locked(b3cas_store *s, const b3cas_oid *id,
			  const void *data, size_t len, b3cas_tmpfile **tmp)
{
	rocksdb_pinnableslice_t *v = NULL;
	bool is_inline, damaged, chunked;
	uint64_t size;
	size_t vlen;
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
	chunked = is_inline &&
		  (uint8_t)rocksdb_pinnableslice_value(v, &vlen)[0] ==
			  B3CAS_ENTRY_CHUNKED;
	damaged = is_inline ? inline_damaged(s, id, v)
			    : loose_damaged(s, id, size);
	rocksdb_pinnableslice_destroy(v);
	if (!damaged)
		return 1;
	if (chunked)
		return 2; /* mended by the caller, without this lock */
	if (is_inline) {
		rocksdb_writebatch_t *b;

		if (*tmp) /* cannot happen: it fits the buffer */
			return b3cas__error(B3CAS_ERROR, "inline object "
					    "arrived in a temp file");
		b = rocksdb_writebatch_create();
		b3cas__batch_put_entry(b, s, id, data, len, true, false);
		rc = b3cas__write_batch(s, b, false);
		rocksdb_writebatch_destroy(b);
		return rc;
	}
	/* The damaged bytes are kept for inspection, as a read keeps them. */
	b3cas__quarantine_move_locked(s, id);
	if (*tmp) {
		rc = b3cas__loose_publish(s, *tmp, id, true);
		*tmp = NULL;
	} else {
		rc = b3cas__loose_write(s, id, data, len, true);
	}
	if (rc == 0)
		b3cas__note_written(s, true);
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
	if (rc == 2) {
		/* A chunked object: mend its damaged chunks (those of
		 * another object's manifest too, the same bytes). */
		uint64_t mended;

		void *map = NULL;

		if (!data && tmp) {
			map = mmap(NULL, len ? len : 1, PROT_READ, MAP_PRIVATE,
				   tmp->fd, 0);
			if (map == MAP_FAILED)
				map = NULL;
			data = map;
		}
		rc = data ? b3cas__chunked_mend(s, id, data, len, &mended)
			  : b3cas__error(B3CAS_EIO, "cannot map the good copy "
					 "of a chunked object");
		if (map)
			munmap(map, len ? len : 1);
	}
	if (tmp)
		b3cas__tmpfile_discard(&s->lay, tmp);
	return rc;
}
