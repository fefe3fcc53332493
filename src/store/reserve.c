/*
 * store/reserve.c - the store's reserve: a file of allocated space kept so
 * that a store on a full disk can still be opened, and its objects deleted
 * and collected to free space.
 *
 * Opening RocksDB writes new files (OPTIONS, a MANIFEST, a log), and a
 * delete or a collection writes the index before any file goes. On a disk
 * with no free block none of that can run: the space a store needs to free
 * space must be set aside before the disk fills. So:
 *  - a writing open makes <root>/reserve whole (RESERVE_MAX, or 1/16 of a
 *    small file system) before it opens the index, when the disk has room
 *    for it and as much again;
 *  - a handle is "low on space" while the reserve is not whole or less
 *    than a reserve's worth is free beside it, and from the moment a put
 *    meets a full disk until a check finds room again. Low on space, it
 *    refuses new objects (B3CAS_ENOSPC, "disk full") before writing
 *    anything; deletes, reference changes, GC and duplicates (which only
 *    add a reference) go on;
 *  - the reserve is given up only when it is needed: when the index cannot
 *    be opened for want of space (the open is then tried again), and at
 *    the first index write of a handle low on space (a delete, GC, a
 *    duplicate). Kept until then, it is not taken by whatever else fills
 *    the disk after a put failed;
 *  - every put of new content while low on space (a few system calls)
 *    and every writing open check for room, and remake the reserve.
 * Only the one writing process (it holds LOCK) touches the file; within it,
 * reserve_lock serializes the changes.
 */
#include "store/handle.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "util/error.h"
#include "util/histogram.h"

#define RESERVE_MAX (8ull << 20)
#define RESERVE_MIN (256ull << 10)

/* The reserve a file system of what v says (NULL: not known) should
 * hold, in bytes. */
static uint64_t want_of(const struct statvfs *v)
{
	uint64_t want = RESERVE_MAX;

	if (v) {
		uint64_t fs = (uint64_t)v->f_blocks * v->f_frsize;

		if (fs / 16 < want)
			want = fs / 16;
	}
	if (want < RESERVE_MIN)
		want = RESERVE_MIN;
	return want & ~4095ull;
}

/* The reserve this store's file system should hold, in bytes. */
static uint64_t reserve_want(const b3cas_store *s)
{
	struct statvfs v;

	return want_of(fstatvfs(s->lay.root_fd, &v) == 0 ? &v : NULL);
}

/* Free bytes on the store's file system (for anyone), or 0. */
static uint64_t free_bytes(const b3cas_store *s)
{
	struct statvfs v;

	if (fstatvfs(s->lay.root_fd, &v) != 0)
		return 0;
	return (uint64_t)v.f_bavail * v.f_frsize;
}

/* Give the reserve's blocks back; the fsync commits the freeing, so the
 * blocks are free for the very next allocation. */
static void empty_reserve(b3cas_store *s, int fd)
{
	struct stat st;

	if (fstat(fd, &st) != 0 || st.st_size != 0 || st.st_blocks != 0)
		if (ftruncate(fd, 0) == 0)
			fsync(fd);
	atomic_store(&s->reserve.held, false);
	atomic_store(&s->reserve.low, true);
}

/*
 * Make the reserve whole if there is room, and decide whether the handle
 * is low on space. Under reserve_lock. It is made only when that leaves
 * another reserve's worth free: a disk just freed by a delete and GC does
 * not take its few blocks back at the next open at once (they are what
 * RocksDB needs to open), and puts resume with room to spare. Never fails
 * the caller: a file system on which the reserve cannot be made at all
 * (not for want of room) goes without one.
 */
static void ensure_locked(b3cas_store *s)
{
	uint64_t want = reserve_want(s), have = 0, avail = free_bytes(s);
	struct stat st;
	int fd, err;

	fd = openat(s->lay.root_fd, B3CAS_RESERVE_NAME,
		    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		atomic_store(&s->reserve.low, false);
		return;
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		have = (uint64_t)st.st_blocks * 512;
		if ((uint64_t)st.st_size < have)
			have = (uint64_t)st.st_size;
	}
	if (have < want && avail >= want - have + want) {
		err = posix_fallocate(fd, 0, (off_t)want);
		if (err == 0) {
			avail -= want - have;
			have = want;
		} else if (err == ENOSPC || err == EDQUOT) {
			/* Someone took the room meanwhile; what part of it
			 * was allocated goes back. */
			empty_reserve(s, fd);
			have = 0;
		} else {
			avail = have = want; /* cannot: go without one */
		}
	}
	atomic_store(&s->reserve.held, have > 0);
	atomic_store(&s->reserve.low, have < want || avail < want);
	close(fd);
}

void b3cas__reserve_ensure(b3cas_store *s)
{
	if (s->read_only)
		return;
	pthread_mutex_lock(&s->reserve.lock);
	ensure_locked(s);
	pthread_mutex_unlock(&s->reserve.lock);
}

void b3cas__reserve_release(b3cas_store *s)
{
	int fd;

	if (s->read_only)
		return;
	pthread_mutex_lock(&s->reserve.lock);
	fd = openat(s->lay.root_fd, B3CAS_RESERVE_NAME,
		    O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		empty_reserve(s, fd);
		close(fd);
	}
	atomic_store(&s->reserve.held, false);
	atomic_store(&s->reserve.low, true);
	pthread_mutex_unlock(&s->reserve.lock);
}

void b3cas__reserve_note_full(b3cas_store *s)
{
	atomic_store(&s->reserve.low, true);
}

void b3cas__reserve_before_write(b3cas_store *s)
{
	if (atomic_load_explicit(&s->reserve.low, memory_order_relaxed) &&
	    atomic_load(&s->reserve.held))
		b3cas__reserve_release(s);
}

/* The message of a refused put. */
static int disk_full(const b3cas_store *s)
{
	return b3cas__error(B3CAS_ENOSPC,
			    "disk full: the file system of store %s has no "
			    "room for new objects beyond the space the "
			    "store keeps for deletes and GC; free space "
			    "(b3cas rm, then b3cas gc) and try again",
			    s->lay.root);
}

/*
 * The room check of new content asked the file system (fstatvfs, twice)
 * for every inline object and every manifest node's new chunks: 18,000
 * of the 80,000 system calls of a put of one sandbox snapshot (4,928
 * files, 9,000 new chunks; strace). Now one look serves many: it grants
 * half of what is free beyond a reserve's worth and the bytes the index's
 * memtables hold (their flushes write them out as tables; a flush that
 * meets a full disk stops RocksDB's writes until the next open), at most
 * ROOM_BUDGET_MAX; checks take from that, and the file system is asked
 * again when it runs out or the look is ROOM_RECHECK_NS old. The margin stays: no write is
 * let through that the last look did not leave room for with half its
 * slack to spare, which also covers what others (RocksDB's flushes,
 * other programs) wrote meanwhile, up to that half.
 */
#define ROOM_BUDGET_MAX (64ll << 20)
#define ROOM_RECHECK_NS (100ull * 1000 * 1000)

int b3cas__reserve_check_index_room(b3cas_store *s, uint64_t bytes)
{
	int rc = b3cas__reserve_check_room(s);
	uint64_t now = b3cas__now_ns(), seen, avail, want;
	struct statvfs v;
	int64_t grant;

	if (rc < 0)
		return rc;
	seen = atomic_load(&s->reserve.room_seen_ns);
	if (seen && now - seen < ROOM_RECHECK_NS && bytes < ROOM_BUDGET_MAX &&
	    atomic_fetch_sub(&s->reserve.room_budget, (int64_t)bytes) >=
		    (int64_t)bytes)
		return 0;
	/* A file system that cannot say goes on: the write will tell. */
	if (fstatvfs(s->lay.root_fd, &v) != 0)
		return 0;
	avail = (uint64_t)v.f_bavail * v.f_frsize;
	/* room for the tables the memtables' flushes will write as well */
	want = want_of(&v) + b3cas__index_unflushed(s->ix);
	if (avail < bytes + want) {
		atomic_store(&s->reserve.room_seen_ns, 0);
		b3cas__reserve_note_full(s);
		return disk_full(s);
	}
	grant = (int64_t)((avail - want - bytes) / 2);
	atomic_store(&s->reserve.room_budget,
		     grant < ROOM_BUDGET_MAX ? grant : ROOM_BUDGET_MAX);
	atomic_store(&s->reserve.room_seen_ns, now);
	return 0;
}

int b3cas__reserve_check_room(b3cas_store *s)
{
	if (!atomic_load_explicit(&s->reserve.low, memory_order_relaxed))
		return 0;
	/* A few system calls (open, fstat, fstatvfs) while the disk is
	 * full, against a put that is refused anyway: each tries, so that
	 * the first put after a GC that made room goes through. */
	if (pthread_mutex_trylock(&s->reserve.lock) == 0) {
		ensure_locked(s);
		pthread_mutex_unlock(&s->reserve.lock);
	}
	if (!atomic_load(&s->reserve.low))
		return 0;
	return disk_full(s);
}
