/*
 * core/reserve.c - the store's reserve: a file of allocated space kept so
 * that a store on a full disk can still be opened, and its objects deleted
 * and collected to free space.
 *
 * Opening RocksDB writes new files (OPTIONS, a MANIFEST, a log), and a
 * delete or a collection writes the index before any file goes. On a disk
 * with no free block none of that can run: the space a store needs to free
 * space must be set aside before the disk fills. So:
 *  - a writing open makes <root>/reserve whole (RESERVE_MAX, or 1/16 of a
 *    small file system) before it opens the index; if the disk has no room
 *    for it, the file is emptied and the handle is low on space;
 *  - when the index cannot be opened for want of space, the reserve is
 *    emptied and the open tried again, low on space;
 *  - a handle low on space refuses to write new objects (B3CAS_ENOSPC,
 *    "disk full"), so the freed reserve goes to deletes, reference changes
 *    and GC, never to new content; duplicates, which only add a reference,
 *    still work. Once there is room again (tried at most once a second,
 *    on the next put of new content, and at every writing open), the
 *    reserve is made whole and puts go on.
 * Only the one writing process (it holds LOCK) touches the file; within it,
 * reserve_lock serializes the changes.
 */
#include "core/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "util/error.h"

#define RESERVE_MAX (8ull << 20)
#define RESERVE_MIN (256ull << 10)
/* While low on space, how often a put of new content tries to remake it. */
#define RETRY_NS 1000000000ull

/* The reserve this store's file system should hold, in bytes. */
static uint64_t reserve_want(const b3cas_store *s)
{
	struct statvfs v;
	uint64_t want = RESERVE_MAX;

	if (fstatvfs(s->lay.root_fd, &v) == 0) {
		uint64_t fs = (uint64_t)v.f_blocks * v.f_frsize;

		if (fs / 16 < want)
			want = fs / 16;
	}
	if (want < RESERVE_MIN)
		want = RESERVE_MIN;
	return want & ~4095ull;
}

/* Make the reserve whole, or empty it when there is no room. Under
 * reserve_lock. Sets low_space; never fails the caller: a file system on
 * which the reserve cannot be made at all (not for want of room) goes
 * without one. */
static void ensure_locked(b3cas_store *s)
{
	uint64_t want = reserve_want(s);
	struct stat st;
	int fd, err;

	fd = openat(s->lay.root_fd, B3CAS_RESERVE_NAME,
		    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size >= want &&
	    (uint64_t)st.st_blocks * 512 >= want) {
		atomic_store(&s->low_space, false);
		close(fd);
		return;
	}
	err = posix_fallocate(fd, 0, (off_t)want);
	if (err == ENOSPC || err == EDQUOT) {
		/* Part of it may have been allocated: give all of it back,
		 * so the index can be opened. */
		if (ftruncate(fd, 0) == 0)
			fsync(fd);
		atomic_store(&s->low_space, true);
	} else {
		atomic_store(&s->low_space, false);
	}
	close(fd);
}

void b3cas__reserve_ensure(b3cas_store *s)
{
	if (s->read_only)
		return;
	pthread_mutex_lock(&s->reserve_lock);
	ensure_locked(s);
	atomic_store(&s->reserve_tried_ns, b3cas__now_ns());
	pthread_mutex_unlock(&s->reserve_lock);
}

void b3cas__reserve_release(b3cas_store *s)
{
	int fd;

	if (s->read_only)
		return;
	pthread_mutex_lock(&s->reserve_lock);
	fd = openat(s->lay.root_fd, B3CAS_RESERVE_NAME,
		    O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		/* The fsync commits the freeing, so that the blocks are
		 * free for the very next allocation. */
		if (ftruncate(fd, 0) == 0)
			fsync(fd);
		close(fd);
	}
	atomic_store(&s->low_space, true);
	atomic_store(&s->reserve_tried_ns, b3cas__now_ns());
	pthread_mutex_unlock(&s->reserve_lock);
}

int b3cas__reserve_check_room(b3cas_store *s)
{
	uint64_t now;

	if (!atomic_load_explicit(&s->low_space, memory_order_relaxed))
		return 0;
	now = b3cas__now_ns();
	if (now - atomic_load(&s->reserve_tried_ns) >= RETRY_NS &&
	    pthread_mutex_trylock(&s->reserve_lock) == 0) {
		ensure_locked(s);
		atomic_store(&s->reserve_tried_ns, now);
		pthread_mutex_unlock(&s->reserve_lock);
	}
	if (!atomic_load(&s->low_space))
		return 0;
	return b3cas__error(B3CAS_ENOSPC,
			    "disk full: the file system of store %s has no "
			    "room for new objects beyond the space the "
			    "store keeps for deletes and GC; free space "
			    "(b3cas rm, then b3cas gc) and try again",
			    s->lay.root);
}
