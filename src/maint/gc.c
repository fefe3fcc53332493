/*
 * maint/gc.c - garbage collection of objects without references.
 *
 * A delete that drops an object's last reference only marks it (the UNREF
 * bit in its content entry, count 0 and the time in its refs entry); this
 * walk frees the bytes later. It never takes a store-wide lock: candidates
 * are found by iterating the refs column family (which holds only counts
 * other than 1, so it is small next to the content), and each one is
 * re-checked and removed under its own stripe lock, the lock every put of
 * the same id takes. A put that revives the object before that moment
 * wins; one after it stores the object anew. Two collections at once are
 * safe: the second finds the object gone when it re-checks.
 *
 * A loose candidate's file is unlinked before its entries are removed:
 * the candidate entry is the record that the object was dropped, and it
 * stays until the file is gone. A file that cannot be unlinked (EIO, an
 * immutable file) leaves the object a candidate, for the next collection
 * to try again, instead of a file without an entry, which fsck could not
 * tell from an object whose entry the index lost (docs/store.md,
 * "Orphans"). A crash between the two leaves a candidate without its
 * file, which is no damage: the next collection removes its entries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "store/store_int.h"
#include "util/error.h"
#include "util/histogram.h"

/* The first file a collection could not unlink, and how many. */
typedef struct unlink_failures {
	uint64_t n;
	int rc;
	char msg[512];
} unlink_failures;

/* Is a candidate marked at since old enough at now? A mark from the
 * future (a clock set back) is treated as made now. */
static bool old_enough(uint64_t since, uint64_t now, uint64_t grace)
{
	return since <= now && now - since >= grace;
}

/*
 * Candidates gathered from one stripe, removed under one hold of its lock
 * with one index write. Small on purpose: a put whose write joins RocksDB's
 * write group behind a GC batch waits for that batch's memtable inserts.
 * Measured (300,000 candidates, 1 KiB puts going on): groups of 256 made
 * the puts' p99 19x what it is without GC, 32 gave 8x, 8 gave 2-3x, 4
 * gives 1.2x, and a GC alone still removes 300,000 per second.
 */
#define GROUP_MAX 4

typedef struct group {
	b3cas_oid ids[GROUP_MAX];
	uint64_t sizes[GROUP_MAX];
	bool loose[GROUP_MAX];
	bool gone[GROUP_MAX]; /* removed (or, dry run, would be) */
	int n;
} group;

/*
 * Unlink the files of g's loose candidates that are going (gone); one that
 * cannot be unlinked stays a candidate (gone cleared, counted in uf).
 * Returns how many are still going. Under the group's stripe lock.
 */
static int unlink_group(b3cas_store *s, group *g, unlink_failures *uf)
{
	int going = 0;

	for (int i = 0; i < g->n; i++) {
		int rc = 0;

		if (!g->gone[i])
			continue;
		if (g->loose[i])
			rc = b3cas__loose_remove(s, &g->ids[i]);
		if (rc < 0) {
			g->gone[i] = false;
			if (uf->n++ == 0) {
				uf->rc = rc;
				snprintf(uf->msg, sizeof(uf->msg), "%s",
					 b3cas_error_last());
			}
			b3cas_error_clear();
			continue;
		}
		going++;
	}
	return going;
}

/*
 * Re-check every id of g under their stripe lock and remove those still
 * candidates old enough: the files first (unlink_group), then the index
 * entries of those whose file went in one batch, all before the lock is
 * let go, so a put of the same id waits and then stores it anew.
 */
static int collect_group(b3cas_store *s, group *g, const b3cas_gc_options *o,
			 b3cas_gc_report *r, unlink_failures *uf)
{
	pthread_mutex_t *lock = b3cas__store_stripe(s, &g->ids[0]);
	rocksdb_writebatch_t *b = rocksdb_writebatch_create();
	uint64_t now = b3cas__wall_ns();
	int rc = 0, removing = 0;

	pthread_mutex_lock(lock);
	/* An interrupted store collects no more (b3cas_store_interrupt):
	 * a group is removed whole, entries and files, or not at all. */
	rc = b3cas__staging_check(b3cas__store_layout(s));
	for (int i = 0; i < g->n && rc >= 0; i++) {
		uint64_t since = 0;
		bool is_inline = true;

		g->gone[i] = false;
		g->sizes[i] = 0;
		/* With no grace period the age needs no second look. */
		rc = b3cas__store_candidate(s, &g->ids[i],
					    o->grace_ns ? &since : NULL,
					    &g->sizes[i], &is_inline);
		g->loose[i] = !is_inline;
		if (rc == 0) {
			r->revived++;
		} else if (rc == 1 && o->grace_ns &&
			   !old_enough(since, now, o->grace_ns)) {
			r->young++;
		} else if (rc == 1) {
			g->gone[i] = true;
			removing++;
		}
	}
	if (rc >= 0 && removing && !o->dry_run)
		removing = unlink_group(s, g, uf);
	if (rc >= 0 && removing && !o->dry_run) {
		for (int i = 0; i < g->n; i++)
			if (g->gone[i])
				b3cas__store_batch_remove(s, b, &g->ids[i]);
		rc = b3cas__store_write_batch(s, b);
		for (int i = 0; rc >= 0 && i < g->n; i++)
			if (g->gone[i])
				b3cas__caches_forget(s, &g->ids[i], true);
	}
	pthread_mutex_unlock(lock);
	rocksdb_writebatch_destroy(b);
	return rc < 0 ? rc : 0;
}

/* Count what g removed and report it to the caller's callback. */
static int report_group(const group *g, const b3cas_gc_options *o,
			b3cas_gc_report *r)
{
	for (int i = 0; i < g->n; i++) {
		if (!g->gone[i])
			continue;
		r->objects++;
		r->bytes += g->sizes[i];
		if (o->on_object) {
			int rc = o->on_object(&g->ids[i], g->sizes[i], o->ctx);

			if (rc)
				return rc;
		}
	}
	return 0;
}

static int flush_group(b3cas_store *s, group *g, const b3cas_gc_options *o,
		       b3cas_gc_report *r, unlink_failures *uf)
{
	int rc = 0;

	if (g->n) {
		rc = collect_group(s, g, o, r, uf);
		if (rc == 0)
			rc = report_group(g, o, r);
	}
	g->n = 0;
	return rc;
}

/* The collection itself: one walk of the refs column family. */
static int sweep(b3cas_store *s, const b3cas_gc_options *o,
		 b3cas_gc_report *report)
{
	b3cas_index *ix = b3cas__store_index(s);
	b3cas_gc_report r;
	unlink_failures uf = {0, 0, {0}};
	rocksdb_readoptions_t *ro;
	rocksdb_iterator_t *it;
	group *g;
	uint64_t t0 = b3cas__now_ns();
	char *err = NULL;
	int rc = 0;

	memset(&r, 0, sizeof(r));
	/* What made the candidates candidates is on disk before any of
	 * their files goes (b3cas__store_sync_before_unlinks). */
	if (!o->dry_run) {
		rc = b3cas__store_sync_before_unlinks(s);
		if (rc < 0) {
			*report = r;
			return rc;
		}
	}
	g = malloc(sizeof(*g));
	if (!g)
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	g->n = 0;
	ro = rocksdb_readoptions_create();
	/* A walk over every candidate need not fill the block cache. */
	rocksdb_readoptions_set_fill_cache(ro, 0);
	it = rocksdb_create_iterator_cf(ix->db, ro, ix->cf[B3CAS_CF_REFS]);
	for (rocksdb_iter_seek_to_first(it); rc == 0 && rocksdb_iter_valid(it);
	     rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const uint8_t *key =
			(const uint8_t *)rocksdb_iter_key(it, &klen);
		const uint8_t *v =
			(const uint8_t *)rocksdb_iter_value(it, &vlen);

		/* Counts are 8 bytes; only a candidate's value is longer
		 * (collect_group re-checks it under the lock). */
		if (klen != B3CAS_OID_LEN || vlen < 16 ||
		    b3cas__get_u64(v) != 0)
			continue;
		r.candidates++;
		/* Young ones are skipped without taking the lock. */
		if (!old_enough(b3cas__get_u64(v + 8), b3cas__wall_ns(),
				o->grace_ns)) {
			r.young++;
			continue;
		}
		if (g->n == GROUP_MAX ||
		    (g->n && b3cas__stripe_index((const uint8_t *)key) !=
			     b3cas__stripe_index(g->ids[0].bytes)))
			rc = flush_group(s, g, o, &r, &uf);
		memcpy(g->ids[g->n++].bytes, key, B3CAS_OID_LEN);
	}
	if (rc == 0)
		rc = flush_group(s, g, o, &r, &uf);
	if (rc == 0) {
		rocksdb_iter_get_error(it, &err);
		if (err)
			rc = b3cas__index_error(err, "cannot walk the index");
	}
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	free(g);
	r.seconds = (double)(b3cas__now_ns() - t0) * 1e-9;
	if (!o->dry_run)
		b3cas__store_note_gc(s, r.objects, r.bytes,
				     (uint64_t)(r.seconds * 1e9));
	*report = r;
	/* Every other candidate was collected: now say what was not. */
	if (rc == 0 && uf.n)
		rc = b3cas__error(uf.rc < 0 ? uf.rc : B3CAS_EIO,
				  "%llu object file%s could not be removed and "
				  "stay%s GC candidate%s (the next gc tries "
				  "again); the first: %s",
				  (unsigned long long)uf.n,
				  uf.n == 1 ? "" : "s", uf.n == 1 ? "s a" : "",
				  uf.n == 1 ? "" : "s", uf.msg);
	return rc;
}

/*
 * Sweeps until no removal of a chunked object is left to release: each
 * release drops the references its manifest held, and the chunks whose
 * last one went are candidates the next sweep collects (when the grace
 * period allows; otherwise a later collection does). Objects that hold
 * links (trees, checkpoints) nest: a round per level, each releasing at
 * least one removal, so it ends.
 */
static int sweep_all(b3cas_store *s, const b3cas_gc_options *o,
		     b3cas_gc_report *report)
{
	int rc = sweep(s, o, report);

	while (rc == 0 && !o->dry_run) {
		b3cas_gc_report more;
		uint64_t released = 0;

		rc = b3cas__store_release_chunks(s, &released);
		if (rc < 0 || released == 0)
			break;
		rc = sweep(s, o, &more);
		/* the candidates of the first sweep are counted once */
		report->objects += more.objects;
		report->bytes += more.bytes;
		report->revived += more.revived;
		report->seconds += more.seconds;
	}
	return rc;
}

typedef struct sweep_job {
	b3cas_store *s;
	const b3cas_gc_options *o;
	b3cas_gc_report r;
	int rc;
	/* the error message, from the thread that had it */
	char msg[B3CAS__MESSAGE_MAX];
} sweep_job;

static void *sweep_main(void *arg)
{
	sweep_job *j = arg;

	/* Lowest priority for this thread only (Linux: nice is per
	 * thread). Failing to lower it is harmless. */
	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), 19);
	j->rc = sweep_all(j->s, j->o, &j->r);
	if (j->rc < 0)
		snprintf(j->msg, sizeof(j->msg), "%s", b3cas_error_last());
	return NULL;
}

/*
 * A collection competes with the store's users for the CPU: on two cores,
 * a GC of 300,000 candidates at normal priority raised the p999 latency
 * of concurrent 1 KiB puts from 50 us to 0.35-1 ms; at nice 19, 60 us.
 * So by default it runs at nice 19 in a thread of its own (the caller's
 * thread could not get its priority back: raising it needs privilege).
 */
int b3cas_store_compact(b3cas_store *s)
{
	int rc;

	B3CAS__NONNULL(s, "store");
	rc = b3cas__store_check_writable(s, "compact the index");
	if (rc < 0)
		return rc;
	b3cas__index_compact(b3cas__store_index(s));
	return 0;
}

int b3cas_gc(b3cas_store *s, const b3cas_gc_options *opts,
	     b3cas_gc_report *report)
{
	b3cas_gc_options defaults = B3CAS_GC_OPTIONS_INIT;
	const b3cas_gc_options *o = opts ? opts : &defaults;
	sweep_job j;
	pthread_t thread;
	int rc;

	B3CAS__NONNULL(s, "store");
	if (b3cas__check_version(o->version, 1, B3CAS_GC_OPTIONS_VERSION,
				 "gc") < 0)
		return B3CAS_EINVAL;
	rc = b3cas__store_check_writable(s, "collect garbage");
	if (rc < 0)
		return rc;
	memset(&j, 0, sizeof(j));
	j.s = s;
	j.o = o;
	if (o->normal_priority ||
	    pthread_create(&thread, NULL, sweep_main, &j) != 0) {
		j.rc = sweep_all(s, o, &j.r);
	} else {
		pthread_join(thread, NULL);
		if (j.rc < 0)
			b3cas__error(j.rc, "%s", j.msg);
	}
	if (report)
		*report = j.r;
	return j.rc;
}
