/*
 * filter/bloom.c - the blocked bloom filter and its file.
 *
 * File: "B3BLOOM2" (8 bytes), nblocks, capacity, count, stamp (8 bytes
 * each, little endian), 24 zero bytes (so that the words start at 64 and
 * each block is one cache line of a mapping), the words (nblocks * 64
 * bytes, little endian), then the BLAKE3 hash of everything before it
 * (32 bytes). A file of the earlier version ("B3BLOOM1", the same
 * without the 24 zero bytes) is still read.
 */
#include "filter/bloom.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b3cas/hash.h"
#include "index/index.h"
#include "util/atomic.h"
#include "util/error.h"
#include "util/fsutil.h"

#define MAGIC "B3BLOOM2"
#define HEADER_LEN 64
#define MAGIC_V1 "B3BLOOM1"
#define HEADER_LEN_V1 40
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
	if (!b)
		return;
	if (b->map)
		munmap(b->map, b->map_len);
	else
		free((void *)b->words);
	free(b);
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

/* Words are kept little endian in memory as on disk where the host is
 * little endian: the file's words are then used where they lie. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define WORDS_AS_STORED 1
#else
#define WORDS_AS_STORED 0
#endif

static void put_header(uint8_t h[HEADER_LEN], const b3cas_bloom *b,
		       uint64_t count, uint64_t stamp)
{
	memset(h, 0, HEADER_LEN);
	memcpy(h, MAGIC, 8);
	b3cas__put_u64(h + 8, b->nblocks);
	b3cas__put_u64(h + 16, b->capacity);
	b3cas__put_u64(h + 24, count);
	b3cas__put_u64(h + 32, stamp);
}

int b3cas__bloom_save(const b3cas_bloom *b, uint64_t count, uint64_t stamp,
		      const char *path, const char *tmp_path)
{
	size_t nbytes = (size_t)b->nblocks * WORDS_PER_BLOCK * 8;
	uint8_t header[HEADER_LEN], hash[B3CAS_OUT_LEN];
	uint8_t *copy = NULL;
	const void *words = (const void *)b->words;
	b3cas_hasher h;
	/* No fsync: the file is hashed whole, so whatever a power loss
	 * leaves of it fails the check at load and the filter is rebuilt;
	 * a whole old one is told by its stamp. */
	const b3cas_atomic_write w = {
		.stage_fd = AT_FDCWD, .stage_name = tmp_path,
		.dir_fd = AT_FDCWD, .name = path,
		.durability = B3CAS_DURABILITY_NONE,
	};
	struct iovec iov[3];
	int rc;

	if (!WORDS_AS_STORED) {
		if (!(copy = malloc(nbytes)))
			return b3cas__error(B3CAS_ENOMEM, "out of memory");
		for (size_t i = 0; i < nbytes / 8; i++)
			b3cas__put_u64(copy + i * 8,
				       atomic_load_explicit(
					       &b->words[i],
					       memory_order_relaxed));
		words = copy;
	}
	put_header(header, b, count, stamp);
	b3cas_hasher_init(&h);
	b3cas_hasher_update(&h, header, HEADER_LEN);
	b3cas_hasher_update(&h, words, nbytes);
	b3cas_hasher_finalize(hash, B3CAS_OUT_LEN, &h);
	iov[0] = (struct iovec){header, HEADER_LEN};
	iov[1] = (struct iovec){(void *)words, nbytes};
	iov[2] = (struct iovec){hash, B3CAS_OUT_LEN};
	rc = b3cas__atomic_writev(&w, iov, 3);
	free(copy);
	return rc;
}

/*
 * The file is mapped privately, checked against its hash, and its words
 * used in place: pages come from the page cache (a few faults for the
 * whole file) and only those that adds change are copied, where reading
 * it into fresh memory zero-filled and copied every page (11.6 ms for a
 * 1.5 MB filter on a virtual machine, a tenth of a short `b3cas put`).
 * The mapping outlives the file, which the caller removes.
 */
int b3cas__bloom_load(b3cas_bloom **out, uint64_t *count, uint64_t *stamp,
		      const char *path)
{
	uint8_t got[B3CAS_OUT_LEN];
	struct stat st;
	b3cas_bloom *b = NULL;
	uint8_t *map = MAP_FAILED;
	uint64_t nblocks;
	size_t len, head;
	int rc = 0, fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT
			       ? b3cas__error(B3CAS_ENOTFOUND, "no %s", path)
			       : b3cas__error_errno(errno, "cannot open %s",
						    path);
	if (fstat(fd, &st) != 0) {
		rc = b3cas__error_errno(errno, "cannot stat %s", path);
		goto out;
	}
	len = (size_t)st.st_size;
	if (st.st_size < HEADER_LEN_V1 + 64 + B3CAS_OUT_LEN ||
	    (uint64_t)st.st_size > ((uint64_t)1 << 46)) {
		rc = b3cas__error(B3CAS_ECORRUPT, "%s is not a bloom filter "
				  "file of this version", path);
		goto out;
	}
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		rc = b3cas__error_errno(errno, "cannot map %s", path);
		goto out;
	}
	/* A version 1 file (a 40-byte header) is read too, into memory of
	 * its own (its blocks do not lie on cache lines): a store opened
	 * first by this version keeps its filter instead of rebuilding it. */
	head = memcmp(map, MAGIC_V1, 8) == 0 ? HEADER_LEN_V1 : HEADER_LEN;
	nblocks = b3cas__get_u64(map + 8);
	if ((head == HEADER_LEN && memcmp(map, MAGIC, 8) != 0) ||
	    nblocks == 0 || nblocks > len / 64 ||
	    len != head + nblocks * 64 + B3CAS_OUT_LEN) {
		rc = b3cas__error(B3CAS_ECORRUPT, "%s is not a bloom filter "
				  "file of this version", path);
		goto out;
	}
	b3cas_hash(got, map, len - B3CAS_OUT_LEN);
	if (memcmp(got, map + len - B3CAS_OUT_LEN, B3CAS_OUT_LEN) != 0) {
		rc = b3cas__error(B3CAS_ECORRUPT, "%s is damaged", path);
		goto out;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		rc = b3cas__error(B3CAS_ENOMEM, "out of memory");
		goto out;
	}
	b->nblocks = nblocks;
	b->capacity = b3cas__get_u64(map + 16);
	*count = b3cas__get_u64(map + 24);
	*stamp = b3cas__get_u64(map + 32);
	if (WORDS_AS_STORED && head == HEADER_LEN) {
		b->words = (_Atomic uint64_t *)(void *)(map + HEADER_LEN);
		b->map = map;
		b->map_len = len;
		map = MAP_FAILED; /* the filter's now */
	} else {
		size_t nwords = (size_t)nblocks * WORDS_PER_BLOCK;

		b->words = calloc(nwords, sizeof(uint64_t));
		if (!b->words) {
			free(b);
			b = NULL;
			rc = b3cas__error(B3CAS_ENOMEM, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < nwords; i++)
			atomic_init(&b->words[i],
				    b3cas__get_u64(map + head + i * 8));
	}
	*out = b;
out:
	if (map != MAP_FAILED)
		munmap(map, len);
	close(fd);
	return rc;
}
