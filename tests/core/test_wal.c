/*
 * test_wal.c - index/wal.c, our reader of RocksDB's write-ahead logs,
 * against logs written two ways:
 *
 *  - by a writer of the log format here in the test (32 KiB blocks,
 *    7-byte headers or 11-byte recyclable ones, a masked CRC32C computed
 *    bit by bit, not from wal.c's table), which can put a record exactly
 *    where the reader is weakest: a first fragment with no payload (a
 *    block with exactly a header's room left, which RocksDB's writer
 *    emits), padding of 1 to 6 bytes, records of many blocks, zeroed
 *    preallocated space, a tail cut anywhere, a byte flipped in any
 *    record (then exactly the records after it count as "after the
 *    damage");
 *  - by RocksDB itself: write batches of random puts and deletes through
 *    the C API, and every put read back from its live log, in order,
 *    byte-exact, through b3cas__wal_batch_puts.
 */
#include <dirent.h>
#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/wal.h"
#include "test_util.h"

#define BLOCK 32768u
#define HEADER 7u
#define RHEADER 11u
#define MAX_RECS 4096

/* ---- a log writer of the test's own ------------------------------------ */

static uint32_t crc32c_bitwise(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1u)));
	}
	return ~c;
}

static uint32_t mask(uint32_t c)
{
	return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

typedef struct logw {
	uint8_t *buf;
	size_t len, cap;
	/* each record's first fragment's offset, where its last ends, its
	 * bytes and length */
	size_t at[MAX_RECS], end[MAX_RECS];
	const uint8_t *rec[MAX_RECS];
	size_t rec_len[MAX_RECS];
	int n;
} logw;

static void put_bytes(logw *w, const void *p, size_t n)
{
	if (w->len + n > w->cap) {
		w->cap = (w->len + n) * 2;
		w->buf = realloc(w->buf, w->cap);
		assert_non_null(w->buf);
	}
	if (n)
		memcpy(w->buf + w->len, p, n);
	w->len += n;
}

/* One fragment: header (recyclable with log number 7 when r), payload. */
static void put_fragment(logw *w, int type, const uint8_t *p, size_t n,
			 bool r)
{
	uint8_t h[RHEADER], crcbuf[1 + 4 + BLOCK];
	size_t hlen = r ? RHEADER : HEADER, k = 0;
	uint32_t c;

	crcbuf[k++] = (uint8_t)type;
	if (r) {
		uint8_t lognum[4] = {7, 0, 0, 0};

		memcpy(crcbuf + k, lognum, 4);
		memcpy(h + 7, lognum, 4);
		k += 4;
	}
	if (n)
		memcpy(crcbuf + k, p, n);
	k += n;
	c = mask(crc32c_bitwise(crcbuf, k));

	for (int i = 0; i < 4; i++)
		h[i] = (uint8_t)(c >> (8 * i));
	h[4] = (uint8_t)n;
	h[5] = (uint8_t)(n >> 8);
	h[6] = (uint8_t)type;
	put_bytes(w, h, hlen);
	put_bytes(w, p, n);
}

/* A record as RocksDB's log::Writer frames it: a block with less than a
 * header's room left is padded with zeros; a block with exactly a
 * header's room gets a first fragment of no bytes. */
static void add_record(logw *w, const uint8_t *p, size_t n, bool r)
{
	size_t hlen = r ? RHEADER : HEADER;
	bool begin = true;

	assert_true(w->n < MAX_RECS);
	for (;;) {
		size_t left_in_block = BLOCK - w->len % BLOCK, avail, frag;
		bool end;
		int type;

		if (left_in_block < hlen) {
			static const uint8_t zeros[RHEADER];

			put_bytes(w, zeros, left_in_block);
			continue;
		}
		if (begin) {
			w->at[w->n] = w->len;
			w->rec[w->n] = p;
			w->rec_len[w->n] = n;
		}
		avail = left_in_block - hlen;
		frag = n < avail ? n : avail;
		end = frag == n;
		type = begin && end ? 1 : begin ? 2 : end ? 4 : 3;

		put_fragment(w, r ? type + 4 : type, p, frag, r);
		p += frag;
		n -= frag;
		begin = false;
		if (end)
			break;
	}
	w->end[w->n++] = w->len;
}

/* Pad with zeros up to where the next record should start. */
static void pad_to(logw *w, size_t off)
{
	static const uint8_t zeros[BLOCK];

	assert_true(off >= w->len);
	while (w->len < off) {
		size_t k = off - w->len < BLOCK ? off - w->len : BLOCK;

		put_bytes(w, zeros, k);
	}
}

/* ---- scanning ----------------------------------------------------------- */

typedef struct got {
	const logw *w;
	int n;
	int skip;       /* this record was damaged: expect the next */
	int after;      /* batches reported after the damage */
	int mismatches;
} got;

static int on_batch(const uint8_t *batch, size_t len, bool after, void *ctx)
{
	got *g = ctx;

	if (g->n == g->skip)
		g->n++;
	if (g->n >= g->w->n || len != g->w->rec_len[g->n] ||
	    memcmp(batch, g->w->rec[g->n], len) != 0) {
		fprintf(stderr, "batch %d: %zu bytes, not the record written\n",
			g->n, len);
		g->mismatches++;
	}
	g->after += after;
	g->n++;
	return 0;
}

static void write_file(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* Scan the first len bytes of w's log; expect records [0, upto) read
 * back, less record skip (-1: none). */
static b3cas__wal_report scan_prefix(const logw *w, size_t len, int upto,
				     int skip)
{
	char root[64], path[128];
	b3cas__wal_report r;
	got g = {w, 0, skip, 0, 0};

	tu_make_root(root, sizeof(root), "wal");
	snprintf(path, sizeof(path), "%s/000004.log", root);
	write_file(path, w->buf, len);
	assert_int_equal(b3cas__wal_scan(path, on_batch, &g, &r), 0);
	tu_remove_root(root);
	assert_int_equal(g.mismatches, 0);
	if (g.n == skip)
		g.n++; /* the damaged one was the last */
	assert_int_equal(g.n, upto);
	assert_int_equal((int)r.after, g.after);
	assert_int_equal(r.records,
			 (uint64_t)(upto - (skip >= 0 && skip < upto)));
	return r;
}

static uint8_t *random_bytes(size_t n, uint64_t *rng)
{
	uint8_t *p = malloc(n ? n : 1);

	assert_non_null(p);
	tu_fill_random(p, n, rng);
	return p;
}

/* ---- cases -------------------------------------------------------------- */

/*
 * Records placed so that a block has exactly a header's room left: the
 * next record's first fragment has no bytes (and, for a recyclable
 * header, 11 bytes left). Then 1 to 6 bytes of room: padding. Every
 * record comes back whole, and the log is neither damaged nor torn.
 */
static void test_block_edges(void **state)
{
	uint64_t rng = tu_seed("wal_block_edges");
	uint8_t *data = random_bytes(3 * BLOCK, &rng);

	(void)state;
	for (int r = 0; r < 2; r++) {
		size_t hlen = r ? RHEADER : HEADER;

		for (size_t room = 0; room <= hlen; room++) {
			logw w = {0};
			b3cas__wal_report rep;

			/* fill block 0 to BLOCK - room with one record */
			add_record(&w, data, BLOCK - room - hlen, r);
			assert_int_equal(w.len, BLOCK - room);
			add_record(&w, data + 5, 100, r);    /* the edge */
			add_record(&w, data + 9, 2 * BLOCK, r); /* 3 blocks */
			add_record(&w, data + 1, 0, r);      /* empty */
			add_record(&w, data + 2, 1, r);
			if (room == hlen) { /* a first fragment of 0 bytes */
				const uint8_t *h = w.buf + BLOCK - room;

				assert_int_equal(h[4] | h[5], 0);
				assert_int_equal(h[6], r ? 6 : 2);
			}
			rep = scan_prefix(&w, w.len, w.n, -1);
			assert_false(rep.damaged);
			assert_false(rep.torn_tail);
			assert_int_equal(rep.unreadable, 0);
			free(w.buf);
		}
	}
	free(data);
}

/* A log of many records of every size, some in recyclable form: read
 * back whole; then cut at random places, and followed by zeroed space. */
static void test_random_logs(void **state)
{
	uint64_t rng = tu_seed("wal_random_logs");
	uint8_t *data = random_bytes(4 * BLOCK, &rng);

	(void)state;
	for (int round = 0; round < 6; round++) {
		logw w = {0};
		bool r = round % 2;
		b3cas__wal_report rep;

		for (int i = 0; i < 400; i++) {
			size_t n = tu_rand(&rng) % 4 == 0
					   ? tu_rand(&rng) % (3 * BLOCK)
					   : tu_rand(&rng) % 600;

			add_record(&w, data + tu_rand(&rng) % BLOCK, n, r);
		}
		rep = scan_prefix(&w, w.len, w.n, -1);
		assert_false(rep.damaged || rep.torn_tail);

		/* a cut inside record k (in a header, a payload, between
		 * two fragments): records before it, a torn tail */
		for (int c = 0; c < 40; c++) {
			int k = 1 + (int)(tu_rand(&rng) % (uint64_t)(w.n - 1));
			size_t cut = w.at[k] + 1 +
				     tu_rand(&rng) % (w.end[k] - w.at[k] - 1);
			size_t edge = (w.at[k] / BLOCK + 1) * BLOCK;

			if (c % 2 && edge < w.end[k])
				cut = edge; /* right after a whole fragment */

			rep = scan_prefix(&w, cut, k, -1);
			assert_false(rep.damaged);
			assert_true(rep.torn_tail);
		}

		/* preallocated space after the last record: skipped */
		pad_to(&w, (w.len / BLOCK + 3) * BLOCK);
		rep = scan_prefix(&w, w.len, w.n, -1);
		assert_false(rep.damaged || rep.torn_tail);
		free(w.buf);
	}
	free(data);
}

/* A byte flipped in record k (header or payload): every other record is
 * read, those after k count as after the damage, and the log is damaged;
 * k the last: only a torn tail. */
static void test_flipped_byte(void **state)
{
	uint64_t rng = tu_seed("wal_flipped_byte");
	uint8_t *data = random_bytes(4 * BLOCK, &rng);
	logw w = {0};

	(void)state;
	for (int i = 0; i < 120; i++)
		add_record(&w, data + tu_rand(&rng) % BLOCK,
			   tu_rand(&rng) % 3 == 0 ? tu_rand(&rng) % (2 * BLOCK)
						  : 1 + tu_rand(&rng) % 300,
			   false);
	for (int c = 0; c < 40; c++) {
		int k = c == 0 ? w.n - 1 : (int)(tu_rand(&rng) % (uint64_t)w.n);
		size_t at = w.at[k];
		/* the CRC, or the payload of its first fragment */
		size_t frag_len = w.buf[at + 4] | (size_t)w.buf[at + 5] << 8;
		size_t off = frag_len && tu_rand(&rng) % 2
				     ? at + HEADER + tu_rand(&rng) % frag_len
				     : at + tu_rand(&rng) % 4;
		b3cas__wal_report rep;

		w.buf[off] ^= 0x20;
		rep = scan_prefix(&w, w.len, w.n, k);
		w.buf[off] ^= 0x20;
		assert_true(rep.unreadable >= 1);
		if (k == w.n - 1) {
			assert_false(rep.damaged);
			assert_true(rep.torn_tail);
		} else {
			assert_true(rep.damaged);
			assert_int_equal(rep.damage_at, at);
			assert_int_equal(rep.after, (uint64_t)(w.n - 1 - k));
		}
	}
	free(w.buf);
	free(data);
}

/* ---- against RocksDB's own writer ---------------------------------------- */

typedef struct op {
	uint8_t key[40], *val;
	size_t klen, vlen;
} op;

typedef struct rocks_got {
	const op *ops;
	int nops, n, mismatches;
} rocks_got;

static int on_put(uint32_t cf, const uint8_t *key, size_t klen,
		  const uint8_t *val, size_t vlen, void *ctx)
{
	rocks_got *g = ctx;
	const op *o = g->n < g->nops ? &g->ops[g->n] : NULL;

	if (cf != 0 || !o || klen != o->klen || vlen != o->vlen ||
	    memcmp(key, o->key, klen) != 0 ||
	    (vlen && memcmp(val, o->val, vlen) != 0))
		g->mismatches++;
	g->n++;
	return 0;
}

static int on_rocks_batch(const uint8_t *batch, size_t len, bool after,
			  void *ctx)
{
	assert_false(after);
	return b3cas__wal_batch_puts(batch, len, on_put, ctx);
}

/* The newest *.log in dir, into path. */
static void newest_log(const char *dir, char *path, size_t n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char best[256] = "";

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);

		if (l > 4 && strcmp(e->d_name + l - 4, ".log") == 0 &&
		    strcmp(e->d_name, best) > 0)
			snprintf(best, sizeof(best), "%s", e->d_name);
	}
	closedir(d);
	assert_true(best[0] != '\0');
	snprintf(path, n, "%s/%s", dir, best);
}

static void test_rocksdb_log(void **state)
{
	uint64_t rng = tu_seed("wal_rocksdb_log");
	enum { NBATCH = 300, MAXOPS = 8 * NBATCH };
	op *ops = calloc(MAXOPS, sizeof(*ops));
	rocksdb_options_t *o = rocksdb_options_create();
	rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
	char root[64], path[320], *err = NULL;
	rocks_got g = {ops, 0, 0, 0};
	b3cas__wal_report rep;
	rocksdb_t *db;
	int nops = 0;

	(void)state;
	assert_non_null(ops);
	tu_make_root(root, sizeof(root), "walrocks");
	rocksdb_options_set_create_if_missing(o, 1);
	rocksdb_options_set_write_buffer_size(o, 256u << 20); /* no flush */
	db = rocksdb_open(o, root, &err);
	assert_null(err);
	for (int b = 0; b < NBATCH; b++) {
		rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
		int k = 1 + (int)(tu_rand(&rng) % 6);

		for (int i = 0; i < k; i++) {
			op *p = &ops[nops];

			p->klen = 1 + tu_rand(&rng) % sizeof(p->key);
			tu_fill_random(p->key, p->klen, &rng);
			if (tu_rand(&rng) % 5 == 0) { /* a delete: skipped */
				rocksdb_writebatch_delete(wb,
							  (const char *)p->key,
							  p->klen);
				continue;
			}
			p->vlen = tu_rand(&rng) % 4 == 0
					  ? tu_rand(&rng) % (3 * BLOCK)
					  : tu_rand(&rng) % 200;
			p->val = random_bytes(p->vlen, &rng);
			rocksdb_writebatch_put(wb, (const char *)p->key,
					       p->klen, (const char *)p->val,
					       p->vlen);
			nops++;
		}
		rocksdb_write(db, wo, wb, &err);
		assert_null(err);
		rocksdb_writebatch_destroy(wb);
	}
	rocksdb_flush_wal(db, 1, &err);
	assert_null(err);
	g.nops = nops;
	newest_log(root, path, sizeof(path));
	assert_int_equal(b3cas__wal_scan(path, on_rocks_batch, &g, &rep), 0);
	assert_int_equal(g.mismatches, 0);
	assert_int_equal(g.n, nops);
	assert_int_equal(rep.records, NBATCH);
	assert_false(rep.damaged);
	assert_int_equal(rep.unreadable, 0);
	rocksdb_close(db);
	rocksdb_writeoptions_destroy(wo);
	rocksdb_options_destroy(o);
	for (int i = 0; i < nops; i++)
		free(ops[i].val);
	free(ops);
	tu_remove_root(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_block_edges),
		cmocka_unit_test(test_random_logs),
		cmocka_unit_test(test_flipped_byte),
		cmocka_unit_test(test_rocksdb_log),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
