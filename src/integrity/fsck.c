/*
 * integrity/fsck.c - b3cas_fsck: every index entry checked against its
 * bytes, every file of the object tier against the index, and reference
 * counts against objects; with repair, each finding mended or reported
 * lost.
 *
 * Invariants: an id is examined while its stripe lock is held, so a put,
 * delete or GC of the same id is either wholly before or wholly after
 * the examination and is never reported as a problem; repairs re-check
 * under the lock what they change (b3cas__quarantine_loose,
 * b3cas__store_heal, remove_lost); a file is never deleted unless its
 * bytes are kept elsewhere (the index, or integrity/quarantine/), and an
 * object is declared lost only when no good copy exists here or in the
 * mirror.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "b3cas/integrity.h"
#include "core/store_int.h"
#include "util/error.h"
#include "util/fsutil.h"

typedef struct fsck_run {
	b3cas_store *s;
	const b3cas_fsck_options *o;
	b3cas_fsck_report *r;
	int stop;            /* the callback's non-zero return */
	uint8_t *buf;        /* FILE_CHUNK bytes for reading files */
} fsck_run;

#define FILE_CHUNK (1u << 20)

const char *b3cas_fsck_kind_name(b3cas_fsck_kind kind)
{
	switch (kind) {
	case B3CAS_FSCK_CORRUPT: return "corrupt";
	case B3CAS_FSCK_MISSING: return "missing";
	case B3CAS_FSCK_WRONG_SIZE: return "wrong-size";
	case B3CAS_FSCK_ORPHAN: return "orphan";
	case B3CAS_FSCK_STRAY: return "stray";
	case B3CAS_FSCK_MALFORMED: return "malformed";
	case B3CAS_FSCK_DANGLING_REFS: return "dangling-refs";
	default: return "unknown";
	}
}

/* Count a finding and hand it to the caller. */
static void found(fsck_run *f, b3cas_fsck_problem *p)
{
	b3cas_fsck_report *r = f->r;

	r->problems++;
	switch (p->kind) {
	case B3CAS_FSCK_CORRUPT: r->corrupt++; break;
	case B3CAS_FSCK_MISSING: r->missing++; break;
	case B3CAS_FSCK_WRONG_SIZE: r->wrong_size++; break;
	case B3CAS_FSCK_ORPHAN: r->orphans++; break;
	case B3CAS_FSCK_STRAY: r->strays++; break;
	case B3CAS_FSCK_MALFORMED: r->malformed++; break;
	case B3CAS_FSCK_DANGLING_REFS: r->dangling_refs++; break;
	}
	r->lost += p->lost;
	if (f->o->on_problem && !f->stop)
		f->stop = f->o->on_problem(p, f->o->ctx);
}

/* Does the open file fd hold exactly size bytes that hash to id? When
 * it cannot tell, it does not accuse the file. */
static bool file_sound(fsck_run *f, int fd, const b3cas_oid *id,
		       uint64_t size, uint64_t *hashed)
{
	return b3cas__file_check(f->s, fd, id, size, f->buf, FILE_CHUNK,
				 hashed) != 0;
}

/* ---- index entries ------------------------------------------------------ */

/* What examining one entry found (under the stripe lock). */
typedef struct finding {
	b3cas_fsck_kind kind; /* 0: sound */
	bool loose;
	uint64_t size;
	char detail[160];
} finding;

static void examine_locked(fsck_run *f, const b3cas_oid *id, finding *out,
			   bool count)
{
	b3cas_store *s = f->s;
	rocksdb_pinnableslice_t *v;
	const uint8_t *p;
	size_t len;
	int kind, fd, rc;

	memset(out, 0, sizeof(*out));
	rc = b3cas__index_get(s->ix, B3CAS_CF_CONTENT, id->bytes,
			      B3CAS_OID_LEN, &v);
	if (rc <= 0)
		return; /* gone meanwhile, or unreadable (reported by RocksDB) */
	p = (const uint8_t *)rocksdb_pinnableslice_value(v, &len);
	kind = len ? p[0] & ~B3CAS_ENTRY_UNREF : 0;
	if (len < B3CAS_ENTRY_HEADER_LEN ||
	    (kind == B3CAS_ENTRY_INLINE &&
	     len - B3CAS_ENTRY_HEADER_LEN != b3cas__get_u64(p + 1)) ||
	    (kind == B3CAS_ENTRY_LOOSE && len != B3CAS_ENTRY_HEADER_LEN) ||
	    (kind != B3CAS_ENTRY_INLINE && kind != B3CAS_ENTRY_LOOSE)) {
		out->kind = B3CAS_FSCK_MALFORMED;
		snprintf(out->detail, sizeof(out->detail),
			 "its index entry (%zu bytes) cannot be read", len);
		rocksdb_pinnableslice_destroy(v);
		return;
	}
	f->r->objects += count;
	out->size = b3cas__get_u64(p + 1);
	out->loose = kind == B3CAS_ENTRY_LOOSE;
	if (!out->loose) {
		b3cas_oid got;

		b3cas__store_hash(s, &got, p + B3CAS_ENTRY_HEADER_LEN,
				  (size_t)out->size);
		f->r->bytes += count ? out->size : 0;
		if (!b3cas_oid_equal(&got, id)) {
			out->kind = B3CAS_FSCK_CORRUPT;
			snprintf(out->detail, sizeof(out->detail),
				 "its %llu bytes inside the index do not hash "
				 "to its id",
				 (unsigned long long)out->size);
		}
		rocksdb_pinnableslice_destroy(v);
		return;
	}
	rocksdb_pinnableslice_destroy(v);
	rc = b3cas__object_open(&s->lay, id, out->size, &fd);
	if (rc == B3CAS_ENOTFOUND) {
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
		uint64_t again = 0;

		if (!file_sound(f, fd, id, out->size,
				count ? &f->r->bytes : &again)) {
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
static bool remove_lost(fsck_run *f, const b3cas_oid *id)
{
	pthread_mutex_t *lock = b3cas__store_stripe(f->s, id);
	rocksdb_writebatch_t *b = rocksdb_writebatch_create();
	finding again;
	bool removed = false;

	pthread_mutex_lock(lock);
	examine_locked(f, id, &again, false);
	if (again.kind) {
		b3cas__store_batch_remove(f->s, b, id);
		removed = b3cas__store_write_batch(f->s, b) == 0;
	}
	pthread_mutex_unlock(lock);
	rocksdb_writebatch_destroy(b);
	if (removed)
		b3cas__caches_forget(f->s, id, true);
	return removed;
}

/* Repair what examine found wrong with id; set p->action and p->lost. */
static void repair_entry(fsck_run *f, const b3cas_oid *id, const finding *x,
			 b3cas_fsck_problem *p)
{
	if (x->kind == B3CAS_FSCK_MALFORMED) {
		p->action = remove_lost(f, id) ? "entry removed" : "changed "
							      "meanwhile";
		f->r->removed += p->action[0] == 'e';
		return;
	}
	if (x->loose && x->kind != B3CAS_FSCK_MISSING &&
	    b3cas__quarantine_loose(f->s, id, x->size) == 1) {
		f->r->quarantined++;
		p->action = "moved to integrity/quarantine/";
	}
	if (b3cas__store_heal(f->s, id, NULL, NULL) == 0) {
		f->r->healed++;
		p->action = "healed from the mirror";
		return;
	}
	b3cas_error_clear();
	p->lost = true;
	if (remove_lost(f, id)) {
		f->r->removed++;
		p->action = "lost: no good copy here or in a mirror; its "
			    "entry was removed";
	} else {
		p->lost = false;
		p->action = "changed meanwhile";
	}
}

/* Where a walk of the index is, for a scrub (NULL for fsck). */
typedef struct walk_pos {
	bool has_start;
	b3cas_oid start;      /* resume after this id */
	uint64_t max_objects; /* 0: no limit */
	uint64_t rate_bytes;  /* 0: no limit */
	int (*save)(struct walk_pos *w, const b3cas_oid *last, bool done);
	void *ctx;
	bool completed;
} walk_pos;

/* Sleep as long as it takes for bytes hashed since t0 to fit the rate. */
static void pace(uint64_t bytes, uint64_t t0, uint64_t rate)
{
	uint64_t due = rate ? bytes * 1000000000ull / rate : 0;
	uint64_t spent = b3cas__now_ns() - t0;

	if (due > spent) {
		struct timespec ts = {(time_t)((due - spent) / 1000000000ull),
				      (long)((due - spent) % 1000000000ull)};

		nanosleep(&ts, NULL);
	}
}

/* RocksDB's estimate of the number of index entries (0: none). */
static uint64_t estimate_objects(b3cas_store *s)
{
	char *v = rocksdb_property_value_cf(s->ix->db,
					    s->ix->cf[B3CAS_CF_CONTENT],
					    "rocksdb.estimate-num-keys");
	uint64_t n = v ? strtoull(v, NULL, 10) : 0;

	free(v);
	return n;
}

static void report_progress(fsck_run *f, uint64_t t0, uint64_t done,
			    uint64_t total)
{
	b3cas_progress p = {done, total < done ? done : total, f->r->bytes,
			    (double)(b3cas__now_ns() - t0) * 1e-9};

	f->o->progress(&p, f->o->ctx);
}

static int check_index(fsck_run *f, walk_pos *w)
{
	b3cas_store *s = f->s;
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it;
	uint64_t t0 = b3cas__now_ns(), saved_at = t0, shown_at = t0, done = 0;
	uint64_t total = f->o->progress ? estimate_objects(s) : 0;
	b3cas_oid last;
	bool any = false;
	char *err = NULL;
	int rc = 0;

	rocksdb_readoptions_set_fill_cache(ro, 0);
	it = rocksdb_create_iterator_cf(s->ix->db, ro,
					s->ix->cf[B3CAS_CF_CONTENT]);
	if (w && w->has_start) {
		rocksdb_iter_seek(it, (const char *)w->start.bytes,
				  B3CAS_OID_LEN);
		/* after it, not it again */
		if (rocksdb_iter_valid(it)) {
			size_t kl;
			const char *k = rocksdb_iter_key(it, &kl);

			if (kl == B3CAS_OID_LEN &&
			    memcmp(k, w->start.bytes, B3CAS_OID_LEN) == 0)
				rocksdb_iter_next(it);
		}
	} else {
		rocksdb_iter_seek_to_first(it);
	}
	for (; rocksdb_iter_valid(it) && !f->stop; rocksdb_iter_next(it)) {
		if (w && w->max_objects && done == w->max_objects)
			break;
		if (w && any && b3cas__now_ns() - saved_at >= 1000000000ull) {
			w->save(w, &last, false);
			saved_at = b3cas__now_ns();
		}
		if (w)
			pace(f->r->bytes, t0, w->rate_bytes);
		if (f->o->progress &&
		    b3cas__now_ns() - shown_at >= 100000000ull) {
			report_progress(f, t0, done, total);
			shown_at = b3cas__now_ns();
		}
		done++;
		pthread_mutex_t *lock;
		b3cas_fsck_problem p = {0};
		b3cas_oid id;
		finding x;
		size_t klen;
		const char *key = rocksdb_iter_key(it, &klen);

		if (klen != B3CAS_OID_LEN) {
			/* Not an id: nothing to lock; report it. */
			p.kind = B3CAS_FSCK_MALFORMED;
			p.detail = "an index key that is not an id";
			found(f, &p);
			continue;
		}
		memcpy(id.bytes, key, B3CAS_OID_LEN);
		last = id;
		any = true;
		lock = b3cas__store_stripe(s, &id);
		pthread_mutex_lock(lock);
		examine_locked(f, &id, &x, true);
		pthread_mutex_unlock(lock);
		if (!x.kind)
			continue;
		p.kind = x.kind;
		p.has_id = true;
		p.id = id;
		p.detail = x.detail;
		if (f->o->repair)
			repair_entry(f, &id, &x, &p);
		found(f, &p);
	}
	rocksdb_iter_get_error(it, &err);
	if (err)
		rc = b3cas__index_error(err, "cannot walk the index");
	if (f->o->progress)
		report_progress(f, t0, done, done);
	if (w && rc == 0 && !f->stop) {
		w->completed = !rocksdb_iter_valid(it);
		rc = w->save(w, any ? &last : NULL, w->completed);
	}
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	return rc;
}

/* ---- files of the tier -------------------------------------------------- */

/* Move a file that is not an object to quarantine (its bytes kept). */
static bool quarantine_file(fsck_run *f, int dir_fd, const char *name)
{
	char dest[B3CAS_OID_HEX_LEN + 64];
	int qfd = openat(f->s->lay.root_fd, "integrity/quarantine",
			 O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool ok;

	if (qfd < 0)
		return false;
	snprintf(dest, sizeof(dest), "stray-%.64s.%llu", name,
		 (unsigned long long)b3cas__wall_ns());
	ok = renameat(dir_fd, name, qfd, dest) == 0;
	close(qfd);
	if (ok)
		f->r->quarantined++;
	return ok;
}

/* A sound file that no entry names: index it (one reference). */
static bool reindex(fsck_run *f, const b3cas_oid *id, uint64_t size)
{
	pthread_mutex_t *lock = b3cas__store_stripe(f->s, id);
	rocksdb_writebatch_t *b = rocksdb_writebatch_create();
	rocksdb_pinnableslice_t *v;
	bool done = false;

	pthread_mutex_lock(lock);
	if (b3cas__index_get(f->s->ix, B3CAS_CF_CONTENT, id->bytes,
			     B3CAS_OID_LEN, &v) == 0) {
		b3cas__filter_add(f->s, id);
		b3cas__store_batch_put_entry(f->s, b, id, NULL, (size_t)size,
					     false);
		done = b3cas__store_write_batch(f->s, b) == 0;
	} else {
		rocksdb_pinnableslice_destroy(v);
	}
	pthread_mutex_unlock(lock);
	rocksdb_writebatch_destroy(b);
	return done;
}

static void check_file(fsck_run *f, int sub_fd, unsigned sub,
		       const char *name)
{
	b3cas_fsck_problem p = {0};
	char path[B3CAS_OBJECT_REL_LEN + 1];
	rocksdb_pinnableslice_t *v;
	struct stat st;
	b3cas_oid id;
	int fd, rc;

	f->r->files++;
	snprintf(path, sizeof(path), "%02x/%.64s", sub, name);
	p.path = path;
	if (b3cas_oid_parse(&id, name) != 0 || id.bytes[0] != sub ||
	    fstatat(sub_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !S_ISREG(st.st_mode)) {
		b3cas_error_clear();
		p.kind = B3CAS_FSCK_STRAY;
		p.detail = "not an object: a name that is not its folder's "
			   "id, or not a file";
		goto report;
	}
	p.has_id = true;
	p.id = id;
	rc = b3cas__index_get(f->s->ix, B3CAS_CF_CONTENT, id.bytes,
			      B3CAS_OID_LEN, &v);
	if (rc != 0) {
		/* Named by an entry (checked above), or unreadable. */
		if (rc > 0)
			rocksdb_pinnableslice_destroy(v);
		return;
	}
	fd = openat(sub_fd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return; /* gone meanwhile */
	if (file_sound(f, fd, &id, (uint64_t)st.st_size, &f->r->bytes)) {
		p.kind = B3CAS_FSCK_ORPHAN;
		p.detail = "a sound object file that the index does not list";
		if (f->o->repair && reindex(f, &id, (uint64_t)st.st_size)) {
			f->r->reindexed++;
			p.action = "re-indexed with one reference";
		}
	} else {
		p.kind = B3CAS_FSCK_STRAY;
		p.detail = "a file named by an id that its bytes do not hash "
			   "to, listed by no index entry";
	}
	close(fd);
report:
	if (f->o->repair && p.kind == B3CAS_FSCK_STRAY &&
	    quarantine_file(f, sub_fd, name))
		p.action = "moved to integrity/quarantine/";
	found(f, &p);
}

static int check_tier(fsck_run *f)
{
	for (unsigned sub = 0; sub < 256 && !f->stop; sub++) {
		char name[3];
		struct dirent *e;
		int fd;
		DIR *d;

		snprintf(name, sizeof(name), "%02x", sub);
		fd = openat(f->s->lay.objects_fd, name,
			    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		d = fdopendir(fd);
		if (!d) {
			close(fd);
			continue;
		}
		while ((e = readdir(d)) != NULL && !f->stop)
			if (e->d_name[0] != '.')
				check_file(f, fd, sub, e->d_name);
		closedir(d);
	}
	return 0;
}

/* ---- reference counts ---------------------------------------------------- */

static int check_refs(fsck_run *f)
{
	b3cas_store *s = f->s;
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it = rocksdb_create_iterator_cf(
		s->ix->db, ro, s->ix->cf[B3CAS_CF_REFS]);

	for (rocksdb_iter_seek_to_first(it);
	     rocksdb_iter_valid(it) && !f->stop; rocksdb_iter_next(it)) {
		b3cas_fsck_problem p = {0};
		rocksdb_pinnableslice_t *v;
		pthread_mutex_t *lock;
		size_t klen;
		const char *key = rocksdb_iter_key(it, &klen);
		bool dangling = false, removed = false;
		int rc;

		if (klen != B3CAS_OID_LEN)
			continue;
		memcpy(p.id.bytes, key, B3CAS_OID_LEN);
		lock = b3cas__store_stripe(s, &p.id);
		pthread_mutex_lock(lock);
		rc = b3cas__index_get(s->ix, B3CAS_CF_CONTENT, p.id.bytes,
				      B3CAS_OID_LEN, &v);
		if (rc == 1)
			rocksdb_pinnableslice_destroy(v);
		if (rc == 0)
			rc = b3cas__index_get(s->ix, B3CAS_CF_REFS, p.id.bytes,
					      B3CAS_OID_LEN, &v);
		else
			rc = 0;
		if (rc == 1) {
			rocksdb_pinnableslice_destroy(v);
			dangling = true;
			if (f->o->repair) {
				rocksdb_writebatch_t *b =
					rocksdb_writebatch_create();

				b3cas__store_batch_remove(s, b, &p.id);
				removed = b3cas__store_write_batch(s, b) == 0;
				rocksdb_writebatch_destroy(b);
			}
		}
		pthread_mutex_unlock(lock);
		if (!dangling)
			continue;
		p.kind = B3CAS_FSCK_DANGLING_REFS;
		p.has_id = true;
		p.detail = "a reference count kept for an object that is not "
			   "stored";
		if (removed) {
			f->r->removed++;
			p.action = "count removed";
		}
		found(f, &p);
	}
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	return 0;
}

int b3cas_fsck(b3cas_store *s, const b3cas_fsck_options *opts,
	       b3cas_fsck_report *report)
{
	b3cas_fsck_options defaults = B3CAS_FSCK_OPTIONS_INIT;
	b3cas_fsck_report local;
	uint64_t t0 = b3cas__now_ns();
	fsck_run f;
	int rc;

	if (!opts)
		opts = &defaults;
	if (opts->repair) {
		rc = b3cas__store_check_writable(s, "repair");
		if (rc < 0)
			return rc;
	}
	memset(&local, 0, sizeof(local));
	f.s = s;
	f.o = opts;
	f.r = report ? report : &local;
	f.stop = 0;
	memset(f.r, 0, sizeof(*f.r));
	f.buf = b3cas__malloc(FILE_CHUNK);
	if (!f.buf)
		return B3CAS_ENOMEM;
	rc = check_index(&f, NULL);
	if (rc == 0 && !f.stop)
		rc = check_tier(&f);
	if (rc == 0 && !f.stop)
		rc = check_refs(&f);
	if (rc == 0 && opts->repair && (f.r->removed || f.r->reindexed))
		b3cas__filter_note_freed(s, f.r->removed + f.r->reindexed);
	f.r->seconds = (double)(b3cas__now_ns() - t0) * 1e-9;
	free(f.buf);
	if (rc == 0 && f.stop)
		rc = f.stop;
	return rc;
}

/* ---- scrub ------------------------------------------------------------------- */

#define SCRUB_FILE "integrity/checksums/scrub"

/* The position file: "next-after <64 hex>\n", or absent: from the start. */
static bool scrub_load(b3cas_store *s, b3cas_oid *after)
{
	char text[128] = {0};
	int fd = openat(s->lay.root_fd, SCRUB_FILE, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	bool ok;

	if (fd < 0)
		return false;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 11 + B3CAS_OID_HEX_LEN || strncmp(text, "next-after ", 11))
		return false; /* damaged: start over, losing nothing */
	text[11 + B3CAS_OID_HEX_LEN] = '\0';
	ok = b3cas_oid_parse(after, text + 11) == 0;
	b3cas_error_clear();
	return ok;
}

static int scrub_save(walk_pos *w, const b3cas_oid *last, bool done)
{
	b3cas_store *s = w->ctx;
	char text[128], hex[B3CAS_OID_HEX_LEN + 1];
	int fd, n, rc = 0;

	if (done || !last) {
		/* A whole pass: the next scrub starts over. */
		if (unlinkat(s->lay.root_fd, SCRUB_FILE, 0) != 0 &&
		    errno != ENOENT)
			return b3cas__error_errno(errno, "cannot reset %s/%s",
						  s->lay.root, SCRUB_FILE);
		return 0;
	}
	n = snprintf(text, sizeof(text), "next-after %s\n",
		     b3cas_oid_fmt(hex, last));
	fd = openat(s->lay.root_fd, SCRUB_FILE ".tmp",
		    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return b3cas__error_errno(errno, "cannot write %s/%s",
					  s->lay.root, SCRUB_FILE);
	rc = b3cas__write_all(fd, text, (size_t)n, SCRUB_FILE);
	close(fd);
	/* Renamed into place: a crash leaves the old position or the new. */
	if (rc == 0 && renameat(s->lay.root_fd, SCRUB_FILE ".tmp",
				s->lay.root_fd, SCRUB_FILE) != 0)
		rc = b3cas__error_errno(errno, "cannot write %s/%s",
					s->lay.root, SCRUB_FILE);
	return rc;
}

int b3cas_scrub(b3cas_store *s, const b3cas_scrub_options *opts,
		b3cas_scrub_report *report)
{
	b3cas_scrub_options defaults = B3CAS_SCRUB_OPTIONS_INIT;
	b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;
	b3cas_scrub_report local;
	uint64_t t0 = b3cas__now_ns();
	walk_pos w;
	fsck_run f;
	int rc;

	if (!opts)
		opts = &defaults;
	if (opts->repair) {
		rc = b3cas__store_check_writable(s, "repair");
		if (rc < 0)
			return rc;
	}
	if (!report)
		report = &local;
	memset(report, 0, sizeof(*report));
	memset(&w, 0, sizeof(w));
	fo.repair = opts->repair;
	fo.on_problem = opts->on_problem;
	fo.ctx = opts->ctx;
	fo.progress = opts->progress;
	f.s = s;
	f.o = &fo;
	f.r = &report->found;
	f.stop = 0;
	f.buf = b3cas__malloc(FILE_CHUNK);
	if (!f.buf)
		return B3CAS_ENOMEM;
	w.has_start = scrub_load(s, &w.start);
	w.max_objects = opts->max_objects;
	w.rate_bytes = opts->rate_bytes;
	w.save = scrub_save;
	w.ctx = s;
	report->resumed = w.has_start;
	rc = check_index(&f, &w);
	report->completed = rc == 0 && w.completed;
	report->found.seconds = (double)(b3cas__now_ns() - t0) * 1e-9;
	free(f.buf);
	if (rc == 0 && f.stop)
		rc = f.stop;
	return rc;
}
