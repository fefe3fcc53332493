/*
 * filter/bloom.c - the blocked bloom filter and its file.
 *
 * File: "B3BLOOM1" (8 bytes), nblocks, capacity, count, stamp (8 bytes
 * each, little endian), the words (nblocks * 64 bytes, little endian), then
 * the BLAKE3 hash of everything before it (32 bytes).
 */
#include "filter/bloom.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b3cas/hash.h"
#include "index/index.h"
#include "util/atomic.h"
#include "util/error.h"
#include "util/fsutil.h"

#define MAGIC "B3BLOOM1"
#define HEADER_LEN 40
#define WORDS_PER_BLOCK 8

b3cas_bloom *b3cas__bloom_new(uint64_t capacity)
{
	b3cas_bloom *b = calloc(1, sizeof(*b));
	uint64_t bits;

	if (!b)
		return NULL;
	if (capacity < 1024)
		capacity = 1024;
	bits = capacity * B3CAS_BLOOM_BITS_PER_ID;
	b->nblocks = (bits + 511) / 512;
	b->capacity = capacity;
	b->words = calloc(b->nblocks * WORDS_PER_BLOCK, sizeof(uint64_t));
	if (!b->words) {
		free(b);
		return NULL;
	}
	return b;
}

void b3cas__bloom_free(b3cas_bloom *b)
{
	if (b) {
		free((void *)b->words);
		free(b);
	}
}

/* The id's block (from its first 8 bytes) and its 7 bit positions in the
 * block (9 bits each from the next 8). */
static _Atomic uint64_t *block_of(const b3cas_bloom *b, const b3cas_oid *id,
				  uint64_t *pos_bits)
{
	uint64_t h1 = b3cas__get_u64(id->bytes);
	uint64_t block = (uint64_t)(((unsigned __int128)h1 * b->nblocks) >> 64);

	*pos_bits = b3cas__get_u64(id->bytes + 8);
	return b->words + block * WORDS_PER_BLOCK;
}

void b3cas__bloom_add(b3cas_bloom *b, const b3cas_oid *id)
{
	uint64_t pos;
	_Atomic uint64_t *w = block_of(b, id, &pos);

	for (int i = 0; i < B3CAS_BLOOM_K; i++, pos >>= 9) {
		unsigned bit = (unsigned)(pos & 511);
		uint64_t mask = (uint64_t)1 << (bit & 63);

		/* Skip the atomic write when the bit is set already. */
		if (!(atomic_load_explicit(&w[bit >> 6],
					   memory_order_relaxed) & mask))
			atomic_fetch_or_explicit(&w[bit >> 6], mask,
						 memory_order_relaxed);
	}
}

bool b3cas__bloom_may_contain(const b3cas_bloom *b, const b3cas_oid *id)
{
	uint64_t pos;
	_Atomic uint64_t *w = block_of(b, id, &pos);

	for (int i = 0; i < B3CAS_BLOOM_K; i++, pos >>= 9) {
		unsigned bit = (unsigned)(pos & 511);

		if (!(atomic_load_explicit(&w[bit >> 6],
					   memory_order_relaxed) &
		      ((uint64_t)1 << (bit & 63))))
			return false;
	}
	return true;
}

int b3cas__bloom_save(const b3cas_bloom *b, uint64_t count, uint64_t stamp,
		      const char *path, const char *tmp_path)
{
	size_t nwords = (size_t)b->nblocks * WORDS_PER_BLOCK;
	size_t len = HEADER_LEN + nwords * 8;
	uint8_t *buf = malloc(len + B3CAS_OUT_LEN);
	/* Fsynced, the folder not: a filter lost with its rename is rebuilt,
	 * and a stale one is told by its stamp. */
	const b3cas_atomic_write w = {
		.stage_fd = AT_FDCWD, .stage_name = tmp_path,
		.dir_fd = AT_FDCWD, .name = path,
		.durability = B3CAS_DURABILITY_BATCH,
	};
	int rc;

	if (!buf)
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	memcpy(buf, MAGIC, 8);
	b3cas__put_u64(buf + 8, b->nblocks);
	b3cas__put_u64(buf + 16, b->capacity);
	b3cas__put_u64(buf + 24, count);
	b3cas__put_u64(buf + 32, stamp);
	for (size_t i = 0; i < nwords; i++)
		b3cas__put_u64(buf + HEADER_LEN + i * 8,
			       atomic_load_explicit(&b->words[i],
						    memory_order_relaxed));
	b3cas_hash(buf + len, buf, len);
	rc = b3cas__atomic_write(&w, buf, len + B3CAS_OUT_LEN);
	free(buf);
	return rc;
}

int b3cas__bloom_load(b3cas_bloom **out, uint64_t *count, uint64_t *stamp,
		      const char *path)
{
	uint8_t header[HEADER_LEN], want[B3CAS_OUT_LEN], got[B3CAS_OUT_LEN];
	b3cas_hasher h;
	struct stat st;
	b3cas_bloom *b;
	uint64_t nblocks;
	int rc, fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT
			       ? b3cas__error(B3CAS_ENOTFOUND, "no %s", path)
			       : b3cas__error_errno(errno, "cannot open %s",
						    path);
	rc = fstat(fd, &st) != 0
		     ? b3cas__error_errno(errno, "cannot stat %s", path)
		     : b3cas__pread_exact(fd, header, HEADER_LEN, 0, path);
	if (rc < 0)
		goto out;
	nblocks = b3cas__get_u64(header + 8);
	if (memcmp(header, MAGIC, 8) != 0 || nblocks == 0 ||
	    nblocks > ((uint64_t)1 << 40) ||
	    (uint64_t)st.st_size !=
		    HEADER_LEN + nblocks * 64 + B3CAS_OUT_LEN) {
		rc = b3cas__error(B3CAS_ECORRUPT, "%s is not a bloom filter "
				  "file of this version", path);
		goto out;
	}
	b = calloc(1, sizeof(*b));
	if (b)
		b->words = calloc(nblocks * WORDS_PER_BLOCK, sizeof(uint64_t));
	if (!b || !b->words) {
		free(b);
		rc = b3cas__error(B3CAS_ENOMEM, "out of memory");
		goto out;
	}
	b->nblocks = nblocks;
	b->capacity = b3cas__get_u64(header + 16);
	b3cas_hasher_init(&h);
	b3cas_hasher_update(&h, header, HEADER_LEN);
	{
		size_t nwords = (size_t)nblocks * WORDS_PER_BLOCK;
		uint8_t chunk[4096];

		for (size_t i = 0; rc == 0 && i < nwords; i += 512) {
			size_t n = nwords - i < 512 ? nwords - i : 512;

			rc = b3cas__pread_exact(fd, chunk, n * 8,
						HEADER_LEN + i * 8, path);
			if (rc < 0)
				break;
			b3cas_hasher_update(&h, chunk, n * 8);
			for (size_t j = 0; j < n; j++)
				atomic_init(&b->words[i + j],
					    b3cas__get_u64(chunk + j * 8));
		}
	}
	if (rc == 0)
		rc = b3cas__pread_exact(fd, want, B3CAS_OUT_LEN,
					HEADER_LEN + nblocks * 64, path);
	b3cas_hasher_finalize(got, B3CAS_OUT_LEN, &h);
	if (rc == 0 && memcmp(want, got, B3CAS_OUT_LEN) != 0)
		rc = b3cas__error(B3CAS_ECORRUPT, "%s is damaged", path);
	if (rc < 0) {
		b3cas__bloom_free(b);
		goto out;
	}
	*count = b3cas__get_u64(header + 24);
	*stamp = b3cas__get_u64(header + 32);
	*out = b;
out:
	close(fd);
	return rc;
}
