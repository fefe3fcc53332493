/*
 * model/statcache.c - the stat cache of tree puts (model/statcache.h).
 *
 * File: MAGIC, then records, then the BLAKE3 of all before it. A record:
 * the path's length (u16 BE) and bytes, the inode, size, mtime and ctime
 * (ns; each u64 BE), a flags byte (bit 0: xattrs) and the content id. A
 * loaded cache finds a path through a table of record offsets (open
 * addressing over the path's hash).
 */
#include "model/statcache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "b3cas/hash.h"
#include "util/error.h"
#include "util/fsutil.h"

#define MAGIC "b3cstat\001"
#define MAGIC_LEN 8
#define REC_FIXED (2 + 4 * 8 + 1 + B3CAS_OID_LEN)
#define PATH_MAX_LEN 0xffffu
#define NO_SLOT SIZE_MAX

struct b3cas__statcache {
	uint8_t *buf; /* MAGIC and the records */
	size_t len, cap;
	size_t count;
	size_t *slots; /* loaded caches: record offsets, NO_SLOT free */
	size_t nslots;
	/* where the next find looks first: a put scans in the order the
	 * cache was written, so most finds are the next record */
	size_t cursor;
	int64_t racy_ns;
};

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static int64_t ns_of(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

static uint64_t path_hash(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 0x100000001b3ull;
	return h;
}

static size_t rec_len(const uint8_t *r)
{
	return REC_FIXED + ((size_t)r[0] << 8 | r[1]);
}

static b3cas__statcache *alloc_cache(void)
{
	b3cas__statcache *c = calloc(1, sizeof(*c));

	if (!c) {
		(void)b3cas__error(B3CAS_ENOMEM, "stat cache: out of memory");
		return NULL;
	}
	c->cap = 4096;
	c->buf = malloc(c->cap);
	if (!c->buf) {
		free(c);
		(void)b3cas__error(B3CAS_ENOMEM, "stat cache: out of memory");
		return NULL;
	}
	memcpy(c->buf, MAGIC, MAGIC_LEN);
	c->len = MAGIC_LEN;
	return c;
}

b3cas__statcache *b3cas__statcache_new(int64_t racy_ns, size_t hint)
{
	b3cas__statcache *c = alloc_cache();
	uint8_t *b;

	if (!c)
		return NULL;
	c->racy_ns = racy_ns;
	if (hint > c->cap && (b = realloc(c->buf, hint)) != NULL) {
		c->buf = b;
		c->cap = hint;
	}
	return c;
}

size_t b3cas__statcache_bytes(const b3cas__statcache *c)
{
	return c ? c->len : 0;
}

/* The records of buf[MAGIC_LEN, end) are whole: their count, or -1. */
static ssize_t count_records(const uint8_t *buf, size_t end)
{
	size_t off = MAGIC_LEN;
	ssize_t n = 0;

	while (off < end) {
		if (end - off < REC_FIXED || end - off < rec_len(buf + off))
			return -1;
		off += rec_len(buf + off);
		n++;
	}
	return n;
}

static int index_records(b3cas__statcache *c)
{
	size_t n = 16;

	while (n < 2 * c->count + 2)
		n *= 2;
	c->slots = malloc(n * sizeof(*c->slots));
	if (!c->slots)
		return b3cas__error(B3CAS_ENOMEM, "stat cache: out of memory");
	memset(c->slots, 0xff, n * sizeof(*c->slots));
	c->nslots = n;
	c->cursor = MAGIC_LEN;
	for (size_t off = MAGIC_LEN; off < c->len; off += rec_len(c->buf + off)) {
		size_t plen = rec_len(c->buf + off) - REC_FIXED;
		size_t i = path_hash((const char *)c->buf + off + 2, plen) &
			   (n - 1);

		while (c->slots[i] != NO_SLOT)
			i = (i + 1) & (n - 1);
		c->slots[i] = off;
	}
	return 0;
}

b3cas__statcache *b3cas__statcache_load(const char *path)
{
	b3cas__statcache *c = alloc_cache();
	struct stat st;
	uint8_t sum[B3CAS_OUT_LEN], *data = NULL;
	ssize_t n = -1;
	size_t len;
	int fd;

	if (!c)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size >= MAGIC_LEN + B3CAS_OUT_LEN &&
	    (uint64_t)st.st_size < ((uint64_t)1 << 34)) {
		len = (size_t)st.st_size;
		data = malloc(len);
		if (data && b3cas__pread_exact(fd, data, len, 0, path) == 0 &&
		    memcmp(data, MAGIC, MAGIC_LEN) == 0) {
			b3cas_hash(sum, data, len - B3CAS_OUT_LEN);
			if (memcmp(sum, data + len - B3CAS_OUT_LEN,
				   B3CAS_OUT_LEN) == 0)
				n = count_records(data, len - B3CAS_OUT_LEN);
		}
	}
	if (fd >= 0)
		close(fd);
	b3cas_error_clear(); /* an unreadable cache is an empty one */
	if (n > 0) {
		free(c->buf);
		c->buf = data;
		c->len = len - B3CAS_OUT_LEN;
		c->cap = len;
		c->count = (size_t)n;
		data = NULL;
	}
	free(data);
	if (index_records(c) < 0) {
		b3cas__statcache_free(c);
		return NULL;
	}
	return c;
}

/* The record of path rel (plen bytes): its offset, or NO_SLOT. */
static size_t find_rec(b3cas__statcache *c, const char *rel, size_t plen)
{
	size_t off = c->cursor;

	if (off >= MAGIC_LEN && off < c->len &&
	    rec_len(c->buf + off) - REC_FIXED == plen &&
	    memcmp(c->buf + off + 2, rel, plen) == 0)
		return off;
	for (size_t i = path_hash(rel, plen) & (c->nslots - 1);
	     c->slots[i] != NO_SLOT; i = (i + 1) & (c->nslots - 1)) {
		const uint8_t *r = c->buf + c->slots[i];

		if (rec_len(r) - REC_FIXED == plen &&
		    memcmp(r + 2, rel, plen) == 0)
			return c->slots[i];
	}
	return NO_SLOT;
}

bool b3cas__statcache_find(b3cas__statcache *c, const char *rel,
			   const struct stat *st, b3cas_oid *id, bool *xattrs)
{
	size_t plen = strlen(rel), off;
	const uint8_t *f;

	if (!c || !c->nslots)
		return false;
	off = find_rec(c, rel, plen);
	if (off == NO_SLOT)
		return false;
	c->cursor = off + rec_len(c->buf + off);
	{
		f = c->buf + off + 2 + plen;
		if (get_u64(f) != (uint64_t)st->st_ino ||
		    get_u64(f + 8) != (uint64_t)st->st_size ||
		    (int64_t)get_u64(f + 16) != ns_of(&st->st_mtim) ||
		    (int64_t)get_u64(f + 24) != ns_of(&st->st_ctim))
			return false;
		*xattrs = f[32] & 1;
		memcpy(id->bytes, f + 33, B3CAS_OID_LEN);
		return true;
	}
}

int b3cas__statcache_add(b3cas__statcache *c, const char *rel,
			 const struct stat *st, const b3cas_oid *id,
			 bool xattrs)
{
	size_t plen = strlen(rel);
	uint8_t *r;

	if (plen > PATH_MAX_LEN || ns_of(&st->st_mtim) >= c->racy_ns ||
	    ns_of(&st->st_ctim) >= c->racy_ns)
		return 0; /* not worth keeping, or not safe to */
	if (c->len + REC_FIXED + plen > c->cap) {
		size_t cap = 2 * c->cap + REC_FIXED + plen;
		uint8_t *b = realloc(c->buf, cap);

		if (!b)
			return b3cas__error(B3CAS_ENOMEM, "stat cache: out of "
					    "memory");
		c->buf = b;
		c->cap = cap;
	}
	r = c->buf + c->len;
	r[0] = (uint8_t)(plen >> 8);
	r[1] = (uint8_t)plen;
	memcpy(r + 2, rel, plen);
	r += 2 + plen;
	put_u64(r, (uint64_t)st->st_ino);
	put_u64(r + 8, (uint64_t)st->st_size);
	put_u64(r + 16, (uint64_t)ns_of(&st->st_mtim));
	put_u64(r + 24, (uint64_t)ns_of(&st->st_ctim));
	r[32] = xattrs ? 1 : 0;
	memcpy(r + 33, id->bytes, B3CAS_OID_LEN);
	c->len += REC_FIXED + plen;
	c->count++;
	return 0;
}

size_t b3cas__statcache_count(const b3cas__statcache *c)
{
	return c ? c->count : 0;
}

int b3cas__statcache_save(const b3cas__statcache *c, const char *path)
{
	uint8_t sum[B3CAS_OUT_LEN];
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 16);
	int fd, rc;

	if (!tmp)
		return b3cas__error(B3CAS_ENOMEM, "stat cache: out of memory");
	snprintf(tmp, plen + 16, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = b3cas__error_errno(errno, "stat cache: cannot create %s",
					tmp);
		free(tmp);
		return rc;
	}
	b3cas_hash(sum, c->buf, c->len);
	rc = b3cas__write_all(fd, c->buf, c->len, tmp);
	if (rc == 0)
		rc = b3cas__write_all(fd, sum, sizeof(sum), tmp);
	if (close(fd) != 0 && rc == 0)
		rc = b3cas__error_errno(errno, "stat cache: cannot write %s",
					tmp);
	if (rc == 0 && rename(tmp, path) != 0)
		rc = b3cas__error_errno(errno, "stat cache: cannot rename %s",
					tmp);
	if (rc < 0)
		(void)unlink(tmp);
	free(tmp);
	return rc;
}

void b3cas__statcache_free(b3cas__statcache *c)
{
	if (!c)
		return;
	free(c->buf);
	free(c->slots);
	free(c);
}
