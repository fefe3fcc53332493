/*
 * cache/l2.c - the L2 folder of verified copies of loose objects (see
 * l2.h for the layout and invariants).
 *
 * An entry enters the index before its file is written (a reservation
 * whose payload is a token unique to the writer), so two threads do not
 * write the same copy and the capacity counts the file before it exists.
 * Evicted and erased entries have their file deleted by the engine's drop
 * hook, outside the shard lock; so a writer whose reservation was erased
 * before its rename would leave a file no entry names: after the rename
 * it checks that its token is still there and deletes its file if not. A
 * read that finds no file erases the entry (a copy lost, or one being
 * written, whose writer then deletes it): so every file in the folder is
 * named by an entry once its writer returns (b3cas__l2_settle waits for
 * that). An add carries a ticket taken before its reader read the index,
 * so a copy read before GC collected the object is refused once GC
 * erased it. Reads and writes here never set the thread's error message:
 * a cache miss is not an error.
 */
#include "cache/l2.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/cache.h"
#include "layout/path.h"
#include "util/atomic.h"
#include "util/error.h"

#define L2_SHARDS 16

struct b3cas_l2 {
	int dir_fd;  /* cache/l2 */
	int tmp_fd;  /* cache/l2/tmp */
	b3cas_cache *index;
	b3cas_l2_hash_fn hash;
	void *hash_ctx;
	atomic_ullong corrupt;
	atomic_ullong tmp_seq;
	/* Held shared by each add, taken alone by b3cas__l2_settle. */
	pthread_rwlock_t adding;
};

/* A copy's path under cache/l2 is its object's path under objects/
 * ("ab/<64 hex>"): the folder mirrors the tier it caches. */
#define REL_LEN B3CAS_OBJECT_REL_LEN

static void drop_copy(const b3cas_oid *id, void *payload, void *ctx)
{
	b3cas_l2 *l2 = ctx;
	char rel[REL_LEN + 1];

	(void)payload;
	b3cas__object_rel(rel, id);
	unlinkat(l2->dir_fd, rel, 0);
}

static int open_sub(int at, const char *name, const char *root)
{
	int fd;

	if (mkdirat(at, name, 0755) != 0 && errno != EEXIST)
		return b3cas__error_errno(errno, "cannot create %s/cache/l2/%s",
					  root, name);
	/* Never through a link: the copies would go (and be cleared)
	 * outside the store. */
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return b3cas__error_errno(errno, "cannot open %s/cache/l2/%s",
					  root, name);
	return fd;
}

/* A staging name of b3cas__l2_add: "<hex>". */
static bool staging_name(const char *name)
{
	size_t n = strspn(name, "0123456789abcdef");

	return n > 0 && name[n] == '\0';
}

/* Remove the staging files in folder fd (a crashed writer's leftovers);
 * anything else someone put there is not ours to delete. */
static void clear_fd(int fd)
{
	int dup_fd = dup(fd);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	struct dirent *e;

	if (!d) {
		if (dup_fd >= 0)
			close(dup_fd);
		return;
	}
	while ((e = readdir(d)) != NULL)
		if (staging_name(e->d_name))
			unlinkat(fd, e->d_name, 0);
	closedir(d);
}

/* List the copies in sub-folder ab/ into the index. */
static void list_sub(b3cas_l2 *l2, int sub)
{
	int fd = openat(l2->dir_fd, (char[3]){"0123456789abcdef"[sub >> 4],
					      "0123456789abcdef"[sub & 15], 0},
			O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		b3cas_oid id;
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		/* A name that is not an id, or in the wrong folder, or not
		 * a file: not ours to keep. */
		if (b3cas_oid_parse(&id, e->d_name) != 0 ||
		    id.bytes[0] != sub ||
		    fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode) ||
		    !b3cas__cache_insert(l2->index, &id, NULL,
					 (uint64_t)st.st_size,
					 b3cas__cache_ticket(l2->index, &id)))
			unlinkat(fd, e->d_name, 0);
	}
	b3cas_error_clear(); /* a bad name is not the caller's error */
	closedir(d);
}

int b3cas__l2_open(b3cas_l2 **out, int root_fd, const char *root,
		   uint64_t capacity, b3cas_l2_hash_fn hash, void *ctx)
{
	b3cas_cache_hooks hooks = {NULL, drop_copy, NULL};
	b3cas_l2 *l2 = calloc(1, sizeof(*l2));
	int cache_fd, rc;

	if (!l2)
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	l2->dir_fd = l2->tmp_fd = -1;
	{
		pthread_rwlockattr_t ra;

		/* A settle must not wait behind a stream of adds. */
		pthread_rwlockattr_init(&ra);
		pthread_rwlockattr_setkind_np(
			&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&l2->adding, &ra);
		pthread_rwlockattr_destroy(&ra);
	}
	l2->hash = hash;
	l2->hash_ctx = ctx;
	/* open_sub gives a descriptor or the error's (negative) code. */
	rc = cache_fd = open_sub(root_fd, "cache", root);
	if (rc < 0)
		goto fail;
	rc = l2->dir_fd = open_sub(cache_fd, "l2", root);
	close(cache_fd);
	if (rc < 0)
		goto fail;
	rc = l2->tmp_fd = open_sub(l2->dir_fd, "tmp", root);
	if (rc < 0)
		goto fail;
	clear_fd(l2->tmp_fd);
	/* The 256 sub-folders exist from here on: a copy is one rename. */
	for (int sub = 0; sub < 256; sub++) {
		char name[3] = {"0123456789abcdef"[sub >> 4],
				"0123456789abcdef"[sub & 15], 0};

		if (mkdirat(l2->dir_fd, name, 0755) != 0 && errno != EEXIST) {
			rc = b3cas__error_errno(errno, "cannot create "
						"%s/cache/l2/%s", root, name);
			goto fail;
		}
	}
	hooks.ctx = l2;
	/* Listed first with no drops, so nothing listed is deleted while
	 * the capacity is still unknown... then trimmed to it. */
	l2->index = b3cas__cache_new(UINT64_MAX / 2, L2_SHARDS,
				     B3CAS_POLICY_S3FIFO, &hooks);
	if (!l2->index) {
		rc = b3cas__error(B3CAS_ENOMEM, "out of memory for the L2 "
				  "cache");
		goto fail;
	}
	for (int sub = 0; sub < 256; sub++)
		list_sub(l2, sub);
	b3cas__cache_resize(l2->index, capacity);
	*out = l2;
	return 0;
fail:
	b3cas__l2_close(l2); /* skips descriptors below 0 */
	return rc;
}

void b3cas__l2_close(b3cas_l2 *l2)
{
	if (!l2)
		return;
	/* The copies stay on disk for the next open. */
	b3cas__cache_free_keep(l2->index);
	if (l2->tmp_fd >= 0)
		close(l2->tmp_fd);
	if (l2->dir_fd >= 0)
		close(l2->dir_fd);
	pthread_rwlock_destroy(&l2->adding);
	free(l2);
}

/* Delete a copy that must not be served, and count it. */
static void drop_corrupt(b3cas_l2 *l2, const b3cas_oid *id)
{
	atomic_fetch_add_explicit(&l2->corrupt, 1, memory_order_relaxed);
	b3cas__cache_erase(l2->index, id); /* the hook deletes the file */
}

int b3cas__l2_read(b3cas_l2 *l2, const b3cas_oid *id, uint64_t size,
		   void *buf)
{
	char rel[REL_LEN + 1];
	struct stat st;
	b3cas_oid got;
	ssize_t n;
	size_t done = 0;
	int fd;

	if (!b3cas__cache_get(l2->index, id, NULL))
		return 0;
	b3cas__object_rel(rel, id);
	fd = openat(l2->dir_fd, rel, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		/* Lost, or being written: either way not worth keeping. */
		b3cas__cache_erase(l2->index, id);
		return 0;
	}
	if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != size) {
		close(fd);
		drop_corrupt(l2, id);
		return 0;
	}
	while (done < size) {
		n = pread(fd, (char *)buf + done, (size_t)size - done,
			  (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	close(fd);
	if (done != size || l2->hash(l2->hash_ctx, &got, buf, done) != 0 ||
	    !b3cas_oid_equal(&got, id)) {
		drop_corrupt(l2, id);
		return 0;
	}
	return 1;
}

uint64_t b3cas__l2_ticket(b3cas_l2 *l2, const b3cas_oid *id)
{
	return b3cas__cache_ticket(l2->index, id);
}

void b3cas__l2_settle(b3cas_l2 *l2)
{
	pthread_rwlock_wrlock(&l2->adding);
	pthread_rwlock_unlock(&l2->adding);
}

static void add_copy(b3cas_l2 *l2, const b3cas_oid *id, const void *buf,
		     size_t len, uint64_t ticket)
{
	char rel[REL_LEN + 1], tmp[32];
	uint64_t seq = atomic_fetch_add(&l2->tmp_seq, 1) + 1;
	void *token = (void *)(uintptr_t)seq;
	/* No fsync: a copy is verified when read, and cache/l2/tmp is
	 * cleared at open; the name is unique, so nothing to remove first. */
	const b3cas_atomic_write w = {
		.stage_fd = l2->tmp_fd, .stage_name = tmp,
		.dir_fd = l2->dir_fd, .name = rel,
		.durability = B3CAS_DURABILITY_NONE, .fresh = true,
		.quiet = true,
	};

	/* Reserve first: a refusal (too large, already there, erased since
	 * the reader took its ticket) costs no write. */
	if (!b3cas__cache_insert(l2->index, id, token, len, ticket))
		return;
	snprintf(tmp, sizeof(tmp), "%llx", (unsigned long long)seq);
	b3cas__object_rel(rel, id);
	if (b3cas__atomic_write(&w, buf, len) != 0)
		goto fail;
	/* Erased (or evicted) while we wrote: its drop may have come before
	 * the rename, so the file is ours to delete. */
	if (!b3cas__cache_holds(l2->index, id, token))
		unlinkat(l2->dir_fd, rel, 0);
	return;
fail:
	if (b3cas__cache_holds(l2->index, id, token))
		b3cas__cache_erase(l2->index, id);
}

void b3cas__l2_add(b3cas_l2 *l2, const b3cas_oid *id, const void *buf,
		   size_t len, uint64_t ticket)
{
	pthread_rwlock_rdlock(&l2->adding);
	add_copy(l2, id, buf, len, ticket);
	pthread_rwlock_unlock(&l2->adding);
}

bool b3cas__l2_erase(b3cas_l2 *l2, const b3cas_oid *id)
{
	return b3cas__cache_erase(l2->index, id);
}

bool b3cas__l2_contains(b3cas_l2 *l2, const b3cas_oid *id)
{
	return b3cas__cache_contains(l2->index, id);
}

int b3cas__l2_dir_fd(b3cas_l2 *l2)
{
	return l2->dir_fd;
}

bool b3cas__l2_discard(b3cas_l2 *l2, int sub_fd, const char *name,
		       const b3cas_oid *id)
{
	if (id && b3cas__cache_erase(l2->index, id))
		return true;
	/* No entry: a file listed by no one (placed after the open, or one
	 * a writer or a drop is about to delete). Deleting it may race with
	 * a new copy renamed into place just now; that leaves an entry
	 * without its file, which the next read erases (see the top). */
	return unlinkat(sub_fd, name, 0) == 0 || errno == ENOENT;
}

void b3cas__l2_resize(b3cas_l2 *l2, uint64_t capacity)
{
	b3cas__cache_resize(l2->index, capacity);
}

void b3cas__l2_stats(b3cas_l2 *l2, b3cas_cache_level_stats *out)
{
	b3cas__cache_stats(l2->index, out);
	out->corrupt = atomic_load(&l2->corrupt);
}
