/*
 * maint/recover_wal.c - the last step of a recovery: the writes that a
 * damaged log of the index dropped. Each kept copy of such a log
 * (integrity/recover/wal.*.log) is read; an inline object its dropped
 * writes stored comes back from the log's own bytes, a loose one was
 * already indexed from its file (phase 2), and any other is named lost.
 *
 * Invariants: a copy is renamed *.done once replayed, so it is reported
 * and replayed once; an object comes back only when its bytes hash to
 * its id, and an entry the index holds is never changed.
 */
#include "maint/recover_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "index/wal.h"
#include "util/error.h"

/* ---- writes a damaged log dropped ---------------------------------------- */

typedef struct wal_replay {
	recover_run *v;
	b3cas_store *s;
	uint32_t content_cf;
	uint32_t data_cf;    /* a packed store's data family, or UINT32_MAX */
	const uint8_t *batch; /* the batch being replayed */
	size_t batch_len;
	int err;             /* a store error: stops */
} wal_replay;

/* A packed entry's bytes: the put of its data key in the same batch
 * (store/pack.c writes both in one). */
typedef struct data_find {
	uint32_t cf;
	uint8_t key[16];
	const uint8_t *val;
	size_t vlen;
} data_find;

static int find_data(uint32_t cf, const uint8_t *key, size_t klen,
		     const uint8_t *val, size_t vlen, void *ctx)
{
	data_find *f = ctx;

	if (cf != f->cf || klen != sizeof(f->key) ||
	    memcmp(key, f->key, klen) != 0)
		return 0;
	f->val = val;
	f->vlen = vlen;
	return 1;
}

/* The bytes packed entry val of id names, from the batch: 1 with *out
 * and *len, or 0 when the batch has none. */
static int packed_bytes(const wal_replay *w, const b3cas_oid *id,
			const uint8_t *val, size_t vlen, const uint8_t **out,
			size_t *len)
{
	data_find f;

	if (w->data_cf == UINT32_MAX ||
	    vlen != B3CAS_ENTRY_HEADER_LEN + 8)
		return 0;
	memset(&f, 0, sizeof(f));
	f.cf = w->data_cf;
	memcpy(f.key, val + B3CAS_ENTRY_HEADER_LEN, 8);
	memcpy(f.key + 8, id->bytes, 8);
	if (b3cas__wal_batch_puts(w->batch, w->batch_len, find_data, &f) != 1)
		return 0;
	*out = f.val;
	*len = f.vlen;
	return 1;
}

/* One put of a dropped batch: an object entry of the content family is
 * brought back if its bytes are in it (inline) and the store lacks it;
 * a loose one is back if its file was indexed; else it is lost. */
static int replay_put(uint32_t cf, const uint8_t *key, size_t klen,
		      const uint8_t *val, size_t vlen, void *ctx)
{
	wal_replay *w = ctx;
	b3cas_recover_report *r = w->v->r;
	uint64_t refs = 1, size;
	const uint8_t *bytes;
	size_t blen;
	b3cas_oid id, got;
	int kind, rc;

	if (cf != w->content_cf || klen != B3CAS_OID_LEN ||
	    vlen < B3CAS_ENTRY_HEADER_LEN)
		return 0;
	memcpy(id.bytes, key, B3CAS_OID_LEN);
	r->wal_dropped++;
	rc = b3cas__index_has(b3cas__store_index(w->s), B3CAS_CF_CONTENT,
			      id.bytes, B3CAS_OID_LEN);
	if (rc != 0) {
		w->err = rc < 0 ? rc : 0;
		/* There: from its file, the backup, or a later put. */
		return rc < 0 ? rc : 0;
	}
	kind = val[0] & ~B3CAS_ENTRY_UNREF;
	size = b3cas__get_u64(val + 1);
	bytes = val + B3CAS_ENTRY_HEADER_LEN;
	blen = vlen - B3CAS_ENTRY_HEADER_LEN;
	if (kind == B3CAS_ENTRY_PACKED &&
	    !packed_bytes(w, &id, val, vlen, &bytes, &blen))
		blen = SIZE_MAX; /* its bytes are not in the log */
	if ((kind == B3CAS_ENTRY_INLINE || kind == B3CAS_ENTRY_PACKED) &&
	    size == blen &&
	    b3cas__store_hash(w->s, &got, bytes, (size_t)size) == 0 &&
	    b3cas_oid_equal(&got, &id)) {
		rc = b3cas__store_adopt(w->s, &id, bytes, (size_t)size, NULL,
					&refs);
		if (rc < 0) {
			w->err = rc;
			return rc;
		}
		r->wal_restored++;
		return 0;
	}
	b3cas_error_clear();
	return b3cas__recover_lost(w->v, &id,
		kind == B3CAS_ENTRY_INLINE || kind == B3CAS_ENTRY_PACKED
		? "its write was after the damage in the index's log and "
		  "its bytes there do not hash to its id"
		: "its write was after the damage in the index's log and "
		  "its file is not in the object folder");
}

static int replay_batch(const uint8_t *batch, size_t len, bool after,
			void *ctx)
{
	wal_replay *w = ctx;
	int rc;

	if (!after)
		return 0; /* replayed by RocksDB */
	w->batch = batch;
	w->batch_len = len;
	rc = b3cas__wal_batch_puts(batch, len, replay_put, w);
	if (rc == B3CAS_ECORRUPT)
		rc = 0; /* a batch we cannot parse: counted in wal_dropped
			   as far as it was read */
	return rc;
}

int b3cas__recover_replay_logs(recover_run *v)
{
	b3cas_store_options so = B3CAS_STORE_OPTIONS_INIT;
	char dir[4200];
	b3cas_store *s = NULL;
	struct dirent *e;
	DIR *d;
	int rc = 0, crc;

	snprintf(dir, sizeof(dir), "%s/%s", v->root, B3CAS_RECOVER_DIR);
	d = opendir(dir);
	if (!d)
		return 0;
	while (rc == 0 && !v->stop && (e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		char path[4500], done[4600];
		b3cas__wal_report wr;
		wal_replay w;

		if (strncmp(e->d_name, "wal.", 4) != 0 || n < 8 ||
		    strcmp(e->d_name + n - 4, ".log") != 0)
			continue;
		if (!s) {
			so.l1_bytes = 0;
			rc = b3cas__store_open(&s, v->root, &so, false);
			if (rc < 0)
				break;
		}
		memset(&w, 0, sizeof(w));
		w.v = v;
		w.s = s;
		w.content_cf = rocksdb_column_family_handle_get_id(
			b3cas__store_index(s)->cf[B3CAS_CF_CONTENT]);
		w.data_cf = b3cas__store_index(s)->cf[B3CAS_CF_DATA]
				    ? rocksdb_column_family_handle_get_id(
					      b3cas__store_index(s)
						      ->cf[B3CAS_CF_DATA])
				    : UINT32_MAX;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		rc = b3cas__wal_scan(path, replay_batch, &w, &wr);
		if (rc == 0 && w.err)
			rc = w.err;
		if (rc != 0)
			break;
		v->r->wal_damaged++;
		v->r->wal_after += wr.after;
		v->r->wal_unreadable += wr.unreadable;
		snprintf(done, sizeof(done), "%s.done", path);
		if (rename(path, done) != 0)
			rc = b3cas__error_errno(errno, "cannot rename %s",
						path);
	}
	closedir(d);
	if (rc == 0 && v->stop)
		rc = v->stop;
	if (s && rc == 0)
		rc = b3cas_store_sync(s);
	crc = b3cas_store_close(s);
	return rc != 0 ? rc : crc;
}
