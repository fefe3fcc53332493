/*
 * index/wal.c - our own reader of RocksDB's write-ahead log format, to
 * tell damage from a torn last write (see wal.h).
 *
 * The reader follows RocksDB's log::Reader: fragments never cross a
 * 32 KiB block boundary, a block's last 6 bytes or fewer are padding, and
 * a fragment that fails its checksum makes the reader drop the rest of
 * its block and go on with the next. Unlike RocksDB's point-in-time
 * recovery it does not stop there: it keeps reading and counts the valid
 * batches after the first bad fragment. Those are what recovery drops;
 * if there are none, the bad part was only a torn tail.
 *
 * A log is at most the size of a memtable (64 MiB) and, as the store
 * flushes at close, usually a few KiB; it is read in one go.
 */
#include "index/wal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b3cas/common.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/histogram.h"

#define BLOCK 32768u
#define HEADER 7u
#define RECYCLABLE_HEADER 11u

enum {
	T_ZERO = 0, T_FULL = 1, T_FIRST = 2, T_MIDDLE = 3, T_LAST = 4,
	T_R_FULL = 5, T_R_FIRST = 6, T_R_MIDDLE = 7, T_R_LAST = 8,
	T_SET_COMPRESSION = 9
};

static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t crc32c(const uint8_t *p, size_t n)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	uint32_t c = 0xffffffffu;

	pthread_once(&once, crc_init);
	while (n--)
		c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

/* RocksDB stores CRCs masked (crc32c.h: Mask). */
static uint32_t unmask(uint32_t m)
{
	uint32_t r = m - 0xa282ead8u;

	return (r >> 17) | (r << 15);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* Read the whole file at path into *buf (malloc'd). */
static int read_all(const char *path, uint8_t **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	size_t got = 0;

	*buf = NULL;
	*len = 0;
	if (fd < 0)
		return b3cas__error_errno(errno, "cannot read %s", path);
	if (fstat(fd, &st) != 0) {
		int e = errno;

		close(fd);
		return b3cas__error_errno(e, "cannot read %s", path);
	}
	*buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!*buf) {
		close(fd);
		return b3cas__error(B3CAS_ENOMEM, "out of memory reading %s",
				    path);
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, *buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* shrank meanwhile: what was read */
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return 0;
}

/* The scan's state: a logical record being put together. */
typedef struct scan {
	b3cas__wal_report *r;
	b3cas__wal_batch_fn fn;
	void *ctx;
	uint8_t *rec;       /* fragments of the record so far */
	size_t rec_len, rec_cap;
	bool in_record;
	bool bad_seen;      /* a bad fragment was met */
	uint64_t bad_at;
} scan;

static void bad(scan *s, uint64_t at)
{
	if (!s->bad_seen) {
		s->bad_seen = true;
		s->bad_at = at;
	}
	s->in_record = false;
	s->rec_len = 0;
}

static int append(scan *s, const uint8_t *p, size_t n)
{
	/* A fragment may be empty (a record whose first block had no room
	 * left for bytes): nothing to copy, and rec may still be NULL
	 * (memcpy's arguments must not be, even for 0 bytes: UBSan). */
	if (n == 0)
		return 0;
	if (s->rec_len + n > s->rec_cap) {
		size_t cap = (s->rec_len + n) * 2;
		uint8_t *q = realloc(s->rec, cap);

		if (!q)
			return b3cas__error(B3CAS_ENOMEM, "out of memory");
		s->rec = q;
		s->rec_cap = cap;
	}
	memcpy(s->rec + s->rec_len, p, n);
	s->rec_len += n;
	return 0;
}

static int complete(scan *s, const uint8_t *p, size_t n)
{
	bool after = s->bad_seen;

	s->r->records++;
	if (after) {
		/* A valid batch after a bad fragment: damage, not a torn
		 * tail. */
		s->r->after++;
		s->r->damaged = true;
		s->r->damage_at = s->bad_at;
	}
	return s->fn ? s->fn(p, n, after, s->ctx) : 0;
}

/* One fragment of type t with payload p (n bytes) at offset at. */
static int fragment(scan *s, unsigned t, const uint8_t *p, size_t n,
		    uint64_t at)
{
	int rc;

	switch (t) {
	case T_FULL:
	case T_R_FULL:
		if (s->in_record)
			bad(s, at);
		return complete(s, p, n);
	case T_FIRST:
	case T_R_FIRST:
		if (s->in_record)
			bad(s, at);
		s->in_record = true;
		s->rec_len = 0;
		return append(s, p, n);
	case T_MIDDLE:
	case T_R_MIDDLE:
		if (!s->in_record) {
			bad(s, at);
			return 0;
		}
		return append(s, p, n);
	case T_LAST:
	case T_R_LAST:
		if (!s->in_record) {
			bad(s, at);
			return 0;
		}
		rc = append(s, p, n);
		s->in_record = false;
		return rc ? rc : complete(s, s->rec, s->rec_len);
	case T_SET_COMPRESSION:
		return 0;
	default:
		bad(s, at);
		return 0;
	}
}

/* Does the fragment with header h (hlen bytes) and n bytes of payload
 * pass its checksum? */
static bool frag_sound(const uint8_t *h, size_t hlen, size_t n)
{
	return unmask(get32(h)) == crc32c(h + 6, 1 + (hlen - HEADER) + n);
}

/* Is there a sound fragment at offset off of buf, inside its block? */
static bool next_sound(const uint8_t *buf, size_t len, size_t off)
{
	size_t block_left = BLOCK - off % BLOCK, n, hlen;
	const uint8_t *h = buf + off;

	if (off >= len || block_left < HEADER || len - off < HEADER)
		return false;
	n = (size_t)h[4] | (size_t)h[5] << 8;
	hlen = h[6] >= T_R_FULL && h[6] <= T_R_LAST ? RECYCLABLE_HEADER
						    : HEADER;
	return hlen + n <= block_left && off + hlen + n <= len &&
	       frag_sound(h, hlen, n);
}

/* Walk the fragments of buf (len bytes). */
static int walk(scan *s, const uint8_t *buf, size_t len)
{
	size_t off = 0;
	int rc = 0;

	while (rc == 0 && off < len) {
		size_t block_left = BLOCK - off % BLOCK, hlen, n;
		const uint8_t *h = buf + off;
		unsigned t;

		if (block_left < HEADER) {
			off += block_left; /* trailer padding */
			continue;
		}
		if (len - off < HEADER) {
			s->r->torn_tail = true; /* a cut header */
			break;
		}
		t = h[6];
		n = (size_t)h[4] | (size_t)h[5] << 8;
		hlen = t >= T_R_FULL && t <= T_R_LAST ? RECYCLABLE_HEADER
						       : HEADER;
		if (t == T_ZERO && n == 0) {
			/* Preallocated or never written space: RocksDB skips
			 * the rest of the block without calling it damage and
			 * goes on, so nothing after it is dropped. */
			off += block_left;
			continue;
		}
		if (hlen + n > block_left) {
			/* A damaged length: the fragment cannot be framed, and
			 * RocksDB drops the rest of the block, the writes in
			 * it unread: an unreadable piece, like a failed
			 * checksum below. */
			bad(s, off);
			s->r->unreadable++;
			off += block_left;
			continue;
		}
		if (off + hlen + n > len) {
			s->r->torn_tail = true; /* cut by the end of file */
			break;
		}
		if (!frag_sound(h, hlen, n)) {
			/* RocksDB drops the rest of the block. If the length
			 * survived and a sound fragment follows, we go on
			 * there, so the records after the damage that share
			 * its block are read too. */
			size_t next = off + hlen + n;

			bad(s, off);
			s->r->unreadable++;
			off = next_sound(buf, len, next) ? next
							  : off + block_left;
			continue;
		}
		rc = fragment(s, t, h + hlen, n, off);
		off += hlen + n;
	}
	/* A record whose last fragment never came: its write was cut
	 * between two fragments (the file ends at a block boundary). */
	if (rc == 0 && s->in_record)
		s->r->torn_tail = true;
	if (s->bad_seen && !s->r->damaged)
		s->r->torn_tail = true;
	return rc;
}

int b3cas__wal_scan(const char *path, b3cas__wal_batch_fn on_batch,
		    void *ctx, b3cas__wal_report *r)
{
	scan s;
	uint8_t *buf;
	size_t len;
	int rc;

	memset(r, 0, sizeof(*r));
	rc = read_all(path, &buf, &len);
	if (rc < 0)
		return rc;
	memset(&s, 0, sizeof(s));
	s.r = r;
	s.fn = on_batch;
	s.ctx = ctx;
	rc = walk(&s, buf, len);
	free(s.rec);
	free(buf);
	return rc;
}

/* ---- write batches ------------------------------------------------------- */

static bool varint32(const uint8_t **p, const uint8_t *end, uint32_t *out)
{
	uint32_t v = 0;

	for (int shift = 0; shift <= 28 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;

		v |= (uint32_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return true;
		}
	}
	return false;
}

static bool slice(const uint8_t **p, const uint8_t *end, const uint8_t **s,
		  size_t *n)
{
	uint32_t len;

	if (!varint32(p, end, &len) || (size_t)(end - *p) < len)
		return false;
	*s = *p;
	*n = len;
	*p += len;
	return true;
}

/* RocksDB's write batch tags (db/dbformat.h, ValueType) we may meet. */
enum {
	TAG_DELETION = 0x0, TAG_VALUE = 0x1, TAG_MERGE = 0x2,
	TAG_LOG_DATA = 0x3, TAG_CF_DELETION = 0x4, TAG_CF_VALUE = 0x5,
	TAG_CF_MERGE = 0x6, TAG_SINGLE_DELETION = 0x7,
	TAG_CF_SINGLE_DELETION = 0x8, TAG_NOOP = 0xd,
	TAG_CF_RANGE_DELETION = 0xe, TAG_RANGE_DELETION = 0xf
};

int b3cas__wal_batch_puts(const uint8_t *batch, size_t len,
			  b3cas__wal_put_fn on_put, void *ctx)
{
	const uint8_t *p = batch + 12, *end = batch + len;
	int rc = 0;

	if (len < 12)
		return B3CAS_ECORRUPT;
	while (rc == 0 && p < end) {
		uint8_t tag = *p++;
		uint32_t cf = 0;
		const uint8_t *k, *v;
		size_t kn, vn;

		switch (tag) {
		case TAG_CF_VALUE:
		case TAG_CF_MERGE:
		case TAG_CF_RANGE_DELETION:
			if (!varint32(&p, end, &cf))
				return B3CAS_ECORRUPT;
			/* fall through */
		case TAG_VALUE:
		case TAG_MERGE:
		case TAG_RANGE_DELETION:
			if (!slice(&p, end, &k, &kn) ||
			    !slice(&p, end, &v, &vn))
				return B3CAS_ECORRUPT;
			if (tag == TAG_CF_VALUE || tag == TAG_VALUE)
				rc = on_put(cf, k, kn, v, vn, ctx);
			break;
		case TAG_CF_DELETION:
		case TAG_CF_SINGLE_DELETION:
			if (!varint32(&p, end, &cf))
				return B3CAS_ECORRUPT;
			/* fall through */
		case TAG_DELETION:
		case TAG_SINGLE_DELETION:
		case TAG_LOG_DATA:
			if (!slice(&p, end, &k, &kn))
				return B3CAS_ECORRUPT;
			break;
		case TAG_NOOP:
			break;
		default:
			return B3CAS_ECORRUPT; /* not one the store writes */
		}
	}
	return rc;
}

/* ---- keeping a damaged log before RocksDB drops its tail ----------------- */

static bool is_log(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && strcmp(name + n - 4, ".log") == 0;
}

static int copy_log(const char *from, const char *to)
{
	uint8_t *buf;
	size_t len;
	int fd, rc = read_all(from, &buf, &len);

	if (rc < 0)
		return rc;
	fd = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (fd < 0) {
		free(buf);
		return b3cas__error_errno(errno, "cannot create %s", to);
	}
	rc = b3cas__write_all(fd, buf, len, to);
	if (rc == 0)
		rc = b3cas__fsync(fd, to);
	close(fd);
	free(buf);
	return rc;
}

int b3cas__wal_keep_damaged(const char *index_dir, const char *save_dir,
			    unsigned *saved)
{
	DIR *d = opendir(index_dir);
	struct dirent *e;
	int rc = 0;

	*saved = 0;
	if (!d)
		return 0; /* no index yet: nothing to keep */
	while (rc == 0 && (e = readdir(d)) != NULL) {
		char from[4200], to[4400];
		b3cas__wal_report r;

		if (!is_log(e->d_name))
			continue;
		snprintf(from, sizeof(from), "%s/%s", index_dir, e->d_name);
		if (b3cas__wal_scan(from, NULL, NULL, &r) != 0 || !r.damaged) {
			b3cas_error_clear();
			continue;
		}
		rc = b3cas__mkdir(save_dir);
		snprintf(to, sizeof(to), "%s/wal.%llu.%s", save_dir,
			 (unsigned long long)b3cas__wall_ns(), e->d_name);
		if (rc == 0)
			rc = copy_log(from, to);
		if (rc == 0)
			rc = b3cas__fsync_dir(save_dir);
		*saved += rc == 0;
	}
	closedir(d);
	return rc;
}
