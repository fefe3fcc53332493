/*
 * maint/fsck_index.c - fsck's two walks of the index: each content entry
 * against its bytes (inline, or its loose file), and each reference count
 * against its object; the index's own damage (a block a walk cannot read,
 * a damaged log) as the one "index" finding.
 *
 * Invariants: an entry is examined and repaired under its id's stripe
 * lock (maint/fsck.c has the locking rules of the whole check); the key
 * space is cut into RANGES ranges that together hold every key exactly
 * once, an id or not, so a walk by many workers sees each key once.
 */
#include "maint/fsck_int.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index/wal.h"
#include "util/error.h"

/* ---- index entries ------------------------------------------------------ */

/* What examining one entry found (under the stripe lock). */
typedef struct finding {
	b3cas_fsck_kind kind; /* 0: sound */
	bool loose;
	bool candidate;       /* a GC candidate (no references) */
	uint64_t size;
	char detail[160];
} finding;

/* Examine id's entry and bytes; with count, add it to the report (a
 * re-check under a repair's lock does not count twice). */
static void examine_locked(fsck_worker *w, const b3cas_oid *id,
			   finding *out, bool count)
{
	b3cas_store *s = w->f->s;
	rocksdb_pinnableslice_t *v;
	const uint8_t *p;
	uint64_t again = 0;
	size_t len;
	int kind, fd, rc;

	memset(out, 0, sizeof(*out));
	rc = b3cas__index_get(b3cas__store_index(s), B3CAS_CF_CONTENT,
			      id->bytes, B3CAS_OID_LEN, &v);
	/* Gone meanwhile, or unreadable (reported by RocksDB). */
	if (rc <= 0)
		return;
	p = (const uint8_t *)rocksdb_pinnableslice_value(v, &len);
	kind = len ? p[0] & ~B3CAS_ENTRY_UNREF : 0;
	if (!b3cas__store_entry_shape_ok(p, len)) {
		out->kind = B3CAS_FSCK_MALFORMED;
		snprintf(out->detail, sizeof(out->detail),
			 "its index entry (%zu bytes) cannot be read", len);
		rocksdb_pinnableslice_destroy(v);
		return;
	}
	w->r.objects += count;
	out->size = b3cas__get_u64(p + 1);
	out->loose = kind == B3CAS_ENTRY_LOOSE;
	out->candidate = (p[0] & B3CAS_ENTRY_UNREF) != 0;
	if (!out->loose) {
		/* Inline, compressed or chunked: checked through the store
		 * (a chunked object's chunks hashed whole, against its id). */
		uint64_t n = 0;

		rc = b3cas__store_entry_sound(s, NULL, id, p, len, &n);
		w->r.bytes += count ? n : 0;
		if (rc == 0) {
			out->kind = B3CAS_FSCK_CORRUPT;
			snprintf(out->detail, sizeof(out->detail),
				 kind == B3CAS_ENTRY_CHUNKED
					 ? "its chunks do not make its bytes: "
					   "%s"
					 : "its bytes inside the index do not "
					   "hash to its id: %s",
				 b3cas_error_last());
		}
		rocksdb_pinnableslice_destroy(v);
		b3cas_error_clear();
		return;
	}
	rocksdb_pinnableslice_destroy(v);
	rc = b3cas__loose_open(s, id, out->size, &fd);
	if (rc == B3CAS_ENOTFOUND && out->candidate) {
		/* GC unlinks a candidate's file before it removes the entry
		 * (maint/gc.c): a collection that stopped in between. */
	} else if (rc == B3CAS_ENOTFOUND) {
		out->kind = B3CAS_FSCK_MISSING;
		snprintf(out->detail, sizeof(out->detail),
			 "the index lists it (%llu bytes) but its file is "
			 "missing", (unsigned long long)out->size);
	} else if (rc == B3CAS_ECORRUPT) {
		out->kind = B3CAS_FSCK_WRONG_SIZE;
		snprintf(out->detail, sizeof(out->detail),
			 "its file is not the %llu bytes the index records",
			 (unsigned long long)out->size);
	} else if (rc == 0) {
		if (!b3cas__fsck_file_sound(w, fd, id, out->size,
					    count ? &w->r.bytes : &again)) {
			out->kind = B3CAS_FSCK_CORRUPT;
			snprintf(out->detail, sizeof(out->detail),
				 "its file's bytes do not hash to its id");
		}
		close(fd);
	}
	b3cas_error_clear();
}

/* Remove id's entries if its bytes are still not to be had: the object
 * is lost. */
static bool remove_lost(fsck_worker *w, const b3cas_oid *id)
{
	b3cas_store *s = w->f->s;
	pthread_mutex_t *lock = b3cas__store_stripe(s, id);
	rocksdb_writebatch_t *b = rocksdb_writebatch_create();
	finding again;
	bool removed = false;

	pthread_mutex_lock(lock);
	examine_locked(w, id, &again, false);
	if (again.kind) {
		b3cas__store_batch_remove(s, b, id);
		removed = b3cas__store_write_batch(s, b) == 0;
	}
	pthread_mutex_unlock(lock);
	rocksdb_writebatch_destroy(b);
	if (removed)
		b3cas__caches_forget(s, id, true);
	return removed;
}

/* Repair what examine found wrong with id; set p->action and p->lost. */
static void repair_entry(fsck_worker *w, const b3cas_oid *id,
			 const finding *x, b3cas_fsck_problem *p)
{
	b3cas_store *s = w->f->s;
	int rc;

	if (x->kind == B3CAS_FSCK_MALFORMED) {
		p->action = remove_lost(w, id) ? "entry removed" : "changed "
							      "meanwhile";
		w->r.removed += p->action[0] == 'e';
		return;
	}
	if (x->candidate) {
		/* Nobody holds a reference: nothing to heal or lose. A
		 * damaged file goes to quarantine, leaving a candidate
		 * without its file, which the next gc removes; a damaged
		 * inline entry is removed now. */
		if (x->loose && x->kind != B3CAS_FSCK_MISSING &&
		    b3cas__quarantine_loose(s, id, x->size) == 1) {
			w->r.quarantined++;
			p->action = "a GC candidate (no references): its file "
				    "was moved to integrity/quarantine/";
		} else if (!x->loose && remove_lost(w, id)) {
			w->r.removed++;
			p->action = "a GC candidate (no references): its "
				    "entry was removed";
		} else {
			p->action = "changed meanwhile";
		}
		return;
	}
	if (x->loose && x->kind != B3CAS_FSCK_MISSING &&
	    b3cas__quarantine_loose(s, id, x->size) == 1) {
		w->r.quarantined++;
		p->action = "moved to integrity/quarantine/";
	}
	rc = b3cas__store_heal(s, id, NULL, NULL);
	if (rc == 0) {
		w->r.healed++;
		p->action = "healed from the mirror";
		return;
	}
	if (rc == B3CAS_ENOMEM) {
		/* The mirror was not consulted: nothing is known lost. Stop
		 * rather than remove an entry a mirror could heal. */
		b3cas__fsck_fail(w->f, rc);
		p->action = "not repaired: out of memory";
		return;
	}
	b3cas_error_clear();
	p->lost = true;
	if (remove_lost(w, id)) {
		w->r.removed++;
		p->action = "lost: no good copy here or in a mirror; its "
			    "entry was removed";
	} else {
		p->lost = false;
		p->action = "changed meanwhile";
	}
}

void b3cas__fsck_check_entry(fsck_worker *w, const char *key, size_t klen)
{
	fsck_run *f = w->f;
	uint64_t bytes_before = w->r.bytes;
	b3cas_fsck_problem p = {0};
	pthread_mutex_t *lock;
	char *path = NULL;
	b3cas_oid id;
	finding x;

	if (klen != B3CAS_OID_LEN) {
		/* Not an id: nothing to lock; report it. */
		p.kind = B3CAS_FSCK_MALFORMED;
		p.detail = "an index key that is not an id";
		b3cas__fsck_found(w, &p);
		goto out;
	}
	memcpy(id.bytes, key, B3CAS_OID_LEN);
	lock = b3cas__store_stripe(f->s, &id);
	pthread_mutex_lock(lock);
	examine_locked(w, &id, &x, true);
	pthread_mutex_unlock(lock);
	if (x.kind) {
		p.kind = x.kind;
		p.has_id = true;
		p.id = id;
		p.detail = x.detail;
		if (x.loose)
			p.path = path = b3cas__fsck_object_path(f->s, &id);
		if (f->o->repair)
			repair_entry(w, &id, &x, &p);
		/* A read-only handle's entry may be one the writer has
		 * collected since (its file gone first). */
		if (b3cas__store_read_only(f->s) &&
		    x.kind == B3CAS_FSCK_MISSING)
			b3cas__fsck_note_suspect(w, &p, x.size, NULL);
		else
			b3cas__fsck_found(w, &p);
		free(path);
	}
out:
	atomic_fetch_add_explicit(&f->done, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&f->bytes, w->r.bytes - bytes_before,
				  memory_order_relaxed);
}

/* ---- the index's logs ---------------------------------------------------- */

/* One "index" finding for the log at path: live (in index/, RocksDB drops
 * its tail at the next open) or kept (a copy a writing open made). */
static void report_log(fsck_worker *w, const char *path, bool kept)
{
	b3cas_fsck_problem p = {0};
	b3cas__wal_report r;
	char detail[512];

	if (b3cas__wal_scan(path, NULL, NULL, &r) != 0 || !r.damaged) {
		b3cas_error_clear();
		return;
	}
	snprintf(detail, sizeof(detail), kept
		 ? "a damaged log of the index, kept when the store was "
		   "opened: RocksDB dropped the %llu writes after byte %llu; "
		   "run 'b3cas recover' (with --from BACKUP if you have one) "
		   "to bring back what they stored and name what is lost"
		 : "the index's log is damaged: RocksDB drops the %llu writes "
		   "after byte %llu when it opens the index; run 'b3cas "
		   "recover' (with --from BACKUP if you have one) to bring "
		   "back what they stored and name what is lost",
		 (unsigned long long)r.after,
		 (unsigned long long)r.damage_at);
	p.kind = B3CAS_FSCK_INDEX;
	p.path = path;
	p.detail = detail;
	b3cas__fsck_found(w, &p);
}

void b3cas__fsck_check_logs(fsck_worker *w, const char *rel, bool kept)
{
	char *dir = b3cas__layout_path(b3cas__store_layout(w->f->s), rel);
	DIR *d = dir ? opendir(dir) : NULL;
	struct dirent *e;

	while (d && (e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		char *path;

		if (n < 5 || strcmp(e->d_name + n - 4, ".log") != 0 ||
		    (kept && strncmp(e->d_name, "wal.", 4) != 0))
			continue;
		path = b3cas__fsck_full_path(dir, e->d_name);
		if (path)
			report_log(w, path, kept);
		free(path);
	}
	if (d)
		closedir(d);
	free(dir);
}

/* ---- one piece at a time ------------------------------------------------ */

/* Is key before the two-byte bound hi in RocksDB's bytewise order? */
static bool key_below(const char *key, size_t klen, const uint8_t hi[2])
{
	int c = memcmp(key, hi, klen < 2 ? klen : 2);

	return c < 0 || (c == 0 && klen < 2);
}

bool b3cas__fsck_index_damage(fsck_run *f, const char *err)
{
	if (strncmp(err, "Corruption", 10) != 0)
		return false;
	pthread_mutex_lock(&f->err_lock);
	if (!atomic_load(&f->index_damaged))
		snprintf(f->index_msg, sizeof(f->index_msg), "%s", err);
	atomic_store(&f->index_damaged, true);
	pthread_mutex_unlock(&f->err_lock);
	return true;
}

void b3cas__fsck_report_index_damage(fsck_run *f, fsck_worker *w)
{
	b3cas_fsck_problem p = {0};
	char detail[768];
	char *path;

	if (!atomic_exchange(&f->index_damaged, false))
		return;
	path = b3cas__layout_path(b3cas__store_layout(f->s), "index");
	snprintf(detail, sizeof(detail), "the index is damaged: part of it "
		 "cannot be read, so the entries there were not checked "
		 "(RocksDB: %s); run 'b3cas recover' (with --from BACKUP if "
		 "you have one) to keep what still reads and rebuild the "
		 "rest", f->index_msg);
	p.kind = B3CAS_FSCK_INDEX;
	p.path = path;
	p.detail = detail;
	b3cas__fsck_found(w, &p);
	free(path);
}

void b3cas__fsck_walk_ranges(fsck_worker *w, int cf, key_fn visit)
{
	fsck_run *f = w->f;
	b3cas_index *ix = b3cas__store_index(f->s);
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it;
	char *err = NULL;
	unsigned r;

	/* One pass over everything: keep the block cache for the users. */
	rocksdb_readoptions_set_fill_cache(ro, 0);
	it = rocksdb_create_iterator_cf(ix->db, ro, ix->cf[cf]);
	while (!b3cas__fsck_halted(f) && (r = atomic_fetch_add(&f->next,
							       1)) < RANGES) {
		unsigned start = r * RANGE_SPAN, end = start + RANGE_SPAN;
		uint8_t lo[2] = {(uint8_t)(start >> 8), (uint8_t)start};
		uint8_t hi[2] = {(uint8_t)(end >> 8), (uint8_t)end};
		bool last = r == RANGES - 1;

		if (r == 0)
			rocksdb_iter_seek_to_first(it);
		else
			rocksdb_iter_seek(it, (const char *)lo, sizeof(lo));
		for (; rocksdb_iter_valid(it) && !b3cas__fsck_halted(f);
		     rocksdb_iter_next(it)) {
			size_t klen;
			const char *key = rocksdb_iter_key(it, &klen);

			if (!last && !key_below(key, klen, hi))
				break;
			visit(w, key, klen);
		}
		rocksdb_iter_get_error(it, &err);
		if (err && !b3cas__fsck_index_damage(f, err)) {
			b3cas__fsck_fail(f, b3cas__index_error(
				err, "cannot walk the index"));
			break;
		}
		if (err) {
			/* The rest of this range is not readable; the next
			 * range starts afresh. */
			free(err);
			err = NULL;
			rocksdb_iter_destroy(it);
			it = rocksdb_create_iterator_cf(ix->db, ro,
							ix->cf[cf]);
		}
	}
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
}

/* ---- reference counts ---------------------------------------------------- */

void b3cas__fsck_check_ref(fsck_worker *w, const char *key, size_t klen)
{
	fsck_run *f = w->f;
	b3cas_store *s = f->s;
	b3cas_index *ix = b3cas__store_index(s);
	b3cas_fsck_problem p = {0};
	pthread_mutex_t *lock;
	bool dangling = false, removed = false;
	int rc;

	if (klen != B3CAS_OID_LEN)
		return;
	memcpy(p.id.bytes, key, B3CAS_OID_LEN);
	lock = b3cas__store_stripe(s, &p.id);
	pthread_mutex_lock(lock);
	rc = b3cas__index_has(ix, B3CAS_CF_CONTENT, p.id.bytes, B3CAS_OID_LEN);
	if (rc == 0)
		rc = b3cas__index_has(ix, B3CAS_CF_REFS, p.id.bytes,
				      B3CAS_OID_LEN);
	else
		rc = 0;
	if (rc == 1) {
		dangling = true;
		if (f->o->repair) {
			rocksdb_writebatch_t *b = rocksdb_writebatch_create();

			b3cas__store_batch_remove(s, b, &p.id);
			removed = b3cas__store_write_batch(s, b) == 0;
			rocksdb_writebatch_destroy(b);
		}
	}
	pthread_mutex_unlock(lock);
	b3cas_error_clear();
	if (!dangling)
		return;
	p.kind = B3CAS_FSCK_DANGLING_REFS;
	p.has_id = true;
	p.detail = "a reference count kept for an object that is not stored";
	if (removed) {
		w->r.removed++;
		p.action = "count removed";
	}
	b3cas__fsck_found(w, &p);
}
