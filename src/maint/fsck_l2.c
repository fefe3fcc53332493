/*
 * maint/fsck_l2.c - fsck's walk of the L2 cache's copies: each copy
 * against its name (its bytes must hash to it) and against the index
 * (the object must still be held).
 *
 * Invariants: L2 copies are only a cache, so a bad one is deleted, never
 * quarantined, and through L2's own index when the handle has one, so
 * that the cache's accounting stays true.
 */
#include "maint/fsck_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"

/* ---- L2 cache copies ----------------------------------------------------- */

/*
 * Why the copy name (of id) in sub_fd must not be kept, in detail; false
 * when it may (sound, gone meanwhile, or it cannot tell: an unreadable
 * entry is the entry phase's finding). Bytes read are added to *hashed.
 */
static bool copy_bad(fsck_worker *w, int sub_fd, const char *name,
		     const b3cas_oid *id, char *detail, size_t n,
		     uint64_t *hashed, bool *not_held)
{
	b3cas_store *s = w->f->s;
	rocksdb_pinnableslice_t *v;
	const uint8_t *p;
	struct stat st;
	uint64_t size;
	size_t len;
	bool bad = false;
	int rc, fd;

	rc = b3cas__index_get(b3cas__store_index(s), B3CAS_CF_CONTENT,
			      id->bytes, B3CAS_OID_LEN, &v);
	if (rc < 0) {
		b3cas_error_clear();
		return false;
	}
	*not_held = rc == 0;
	if (rc == 0) {
		/* Gone since the folder was listed: GC's erase deleted it. */
		if (fstatat(sub_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			return false;
		snprintf(detail, n, "a cached copy of an object the store "
			 "does not hold");
		return true;
	}
	p = (const uint8_t *)rocksdb_pinnableslice_value(v, &len);
	size = len >= B3CAS_ENTRY_HEADER_LEN ? b3cas__get_u64(p + 1) : 0;
	rocksdb_pinnableslice_destroy(v);
	if (len < B3CAS_ENTRY_HEADER_LEN)
		return false;
	fd = openat(sub_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false; /* evicted meanwhile */
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return false;
	}
	if ((uint64_t)st.st_size != size) {
		snprintf(detail, n, "a cached copy of %llu bytes; the object "
			 "has %llu", (unsigned long long)st.st_size,
			 (unsigned long long)size);
		bad = true;
	} else if (!b3cas__fsck_file_sound(w, fd, id, size, hashed)) {
		snprintf(detail, n, "a cached copy whose bytes do not hash "
			 "to its id");
		bad = true;
	}
	close(fd);
	return bad;
}

void b3cas__fsck_check_copy(fsck_worker *w, int sub_fd, unsigned sub,
			    const char *name)
{
	fsck_run *f = w->f;
	b3cas_layout *lay = b3cas__store_layout(f->s);
	b3cas_fsck_problem p = {0};
	char rel[B3CAS_OBJECT_REL_LEN + 32], first[160], detail[160];
	bool repair = f->o->repair && f->l2, bad, gone = false;
	bool not_held = false;
	pthread_mutex_t *lock;
	uint64_t again = 0;
	char *path;

	w->r.cache_files++;
	snprintf(rel, sizeof(rel), B3CAS_L2_DIR "/%02x/%.64s", sub, name);
	p.kind = B3CAS_FSCK_CACHE_COPY;
	p.path = path = b3cas__fsck_full_path(lay->root, rel);
	if (b3cas_oid_parse(&p.id, name) != 0 || p.id.bytes[0] != sub) {
		b3cas_error_clear();
		p.detail = "not a cached copy: a name that is not its "
			   "folder's id";
		if (repair && b3cas__l2_discard(f->l2, sub_fd, name, NULL))
			p.action = "deleted";
		b3cas__fsck_found(w, &p);
		free(path);
		return;
	}
	p.has_id = true;
	/* Judged once unlocked (most copies are sound and need no lock),
	 * then again under the stripe lock, which keeps a put of the id
	 * from making it stored between the judgement and the delete. */
	if (!copy_bad(w, sub_fd, name, &p.id, first, sizeof(first),
		      &w->r.bytes, &not_held))
		goto out;
	lock = b3cas__store_stripe(f->s, &p.id);
	pthread_mutex_lock(lock);
	bad = copy_bad(w, sub_fd, name, &p.id, detail, sizeof(detail),
		       &again, &not_held);
	/* A copy that no L2 entry names may be an add that GC's erase
	 * overtook, about to be deleted by its writer: let adds finish. */
	if (bad && not_held && f->l2 && !b3cas__l2_contains(f->l2, &p.id)) {
		b3cas__l2_settle(f->l2);
		bad = copy_bad(w, sub_fd, name, &p.id, detail, sizeof(detail),
			       &again, &not_held);
	}
	if (bad && repair)
		gone = b3cas__l2_discard(f->l2, sub_fd, name, &p.id);
	pthread_mutex_unlock(lock);
	if (!bad)
		goto out; /* replaced or evicted meanwhile */
	p.detail = detail;
	if (gone)
		p.action = "deleted from the L2 cache";
	/* A read-only handle's index predates the writer's latest puts. */
	if (b3cas__store_read_only(f->s) && not_held)
		b3cas__fsck_note_suspect(w, &p, 0,
					 rel + strlen(B3CAS_L2_DIR "/"));
	else
		b3cas__fsck_found(w, &p);
out:
	free(path);
}
