/*
 * test_powerloss.c - simulated power losses, and I/O failures inside
 * RocksDB's own files, under a store doing real work.
 *
 * The simulated disk. This program defines open, openat, mkdir, fsync,
 * fdatasync, syncfs, sync, write, pwrite and rename itself; the dynamic
 * linker binds librocksdb's calls and the static b3cas library's to these
 * before libc's. Outside a round's child process they pass straight to
 * the kernel. Inside it they keep, for the store's folder only, the image
 * a power loss would leave behind:
 *   - a file's bytes become durable when the file is fsynced (fsync or
 *     fdatasync): its content as it was when the call began is recorded;
 *   - a folder's entries become durable when the folder is fsynced: the
 *     names it holds then, each pointing at the file or folder (by inode,
 *     re-created inodes told apart) whose durable bytes it gets;
 *   - syncfs and sync make everything under the folder durable;
 *   - a file or folder made after the last sync of its parent folder is
 *     not in the image; a file never fsynced is empty in it.
 * Nothing else is ever durable, so the image is the worst a POSIX file
 * system may keep. No real fsync is made in the child (the image is what
 * counts), which keeps a round fast on any disk.
 *
 * A round. The parent forks; the child opens the store (durability none,
 * batch or full) and runs a random workload: puts (plain, streamed,
 * batched) of new and stored content, inline and loose, deletes, GC with
 * no grace period, b3cas_store_sync, close and reopen, gets (which must
 * return exact bytes). Every change is logged in memory shared with the
 * parent before it starts and when it returns, with the point up to which
 * the store has promised durability (each returned put in full mode; a
 * returned b3cas_store_sync or close in the others). At the K-th sync
 * event (K random; it may fall inside the open, a RocksDB flush, the batch
 * flusher thread) or at the end of the workload the power fails: the
 * child writes the image to a new folder and exits on the spot. One of
 * three images is written:
 *   strict   - exactly the durable state above;
 *   tails    - plus, per file, a random part of what was appended since its
 *              last fsync (sometimes zeros: a size that reached the disk
 *              before the data), as write-back may have flushed;
 *   metadata - every name as it is now (the journal committed every
 *              rename, create and unlink) but file bytes only as durable
 *              (plus tails): the ext4 data=writeback case.
 * In a third of the rounds an I/O failure is injected first: the N-th
 * write, pwrite, fsync, fdatasync, create or rename of a file in the
 * index folder fails with EIO or ENOSPC (sometimes for good), so RocksDB
 * meets the failure itself; the power loss still follows.
 *
 * The check. The parent puts the image where the store was, opens it,
 * runs fsck --repair and then fsck (which must find nothing), and checks
 * each content: its reference count lies between the counts the log
 * allows (changes done before the durability point are certain; later,
 * failed and in-flight ones may or may not have happened), an object
 * whose certain count is positive is present with exact bytes (the
 * acceptance: nothing acknowledged durable is lost), fsck reported no
 * such object lost, and nothing unknown is stored. The next round starts
 * from the counts found. 1,000 rounds by default (B3CAS_TEST_ITERATIONS).
 */
#include <dirent.h>
#include <execinfo.h>
#include <signal.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "test_util.h"

#define THRESHOLD 2048 /* inline threshold of the test store */
#define POOL 96        /* contents */
#define MAXREC 1024    /* log records per round */
#define MAXOPS 48      /* workload operations per round at most */
#define FRESH_EVERY 25 /* rounds before the store is made anew */

/* ---- raw system calls: what libc would have done -------------------------- */

static int raw_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	return (int)syscall(SYS_openat, dirfd, path, flags, mode);
}

static int raw_mkdirat(int dirfd, const char *path, mode_t mode)
{
	return (int)syscall(SYS_mkdirat, dirfd, path, mode);
}

static ssize_t raw_write(int fd, const void *buf, size_t n)
{
	return syscall(SYS_write, fd, buf, n);
}

/* ---- the simulated disk ------------------------------------------------------ */

typedef struct pnode pnode;

typedef struct pentry {
	char *name;
	pnode *node;
} pentry;

/* One file or folder as a power loss would leave it. */
struct pnode {
	ino_t ino;
	bool dir;
	uint8_t *data; /* file: the bytes made durable (mmap'd, cap bytes) */
	size_t len, cap;
	pentry *ents;  /* folder: the names made durable */
	size_t nents;
};

typedef struct fault_plan {
	uint64_t at;      /* fail the at-th eligible call (1-based; 0 off) */
	int err;          /* EIO or ENOSPC */
	bool sticky;      /* and every later one */
	uint64_t seen;    /* eligible calls so far */
	uint64_t fired;   /* failures returned */
} fault_plan;

static struct {
	bool active;               /* in a round's child */
	char root[300];            /* the store folder (real path) */
	size_t rootlen;
	char index[320];           /* root/index: where faults go */
	size_t indexlen;
	char image[300];           /* where the crash image is written */
	int mode;                  /* IMAGE_* */
	uint64_t rng;
	pthread_mutex_t lock;
	pnode *rootnode;
	struct { ino_t ino; pnode *node; } *tab;  /* inode -> current node */
	size_t ntab, captab;
	uint64_t syncs;            /* sync events seen */
	uint64_t crash_at;         /* power fails at this sync event (0: end) */
	fault_plan fault;
} pl = {.lock = PTHREAD_MUTEX_INITIALIZER};

enum { IMAGE_STRICT, IMAGE_TAILS, IMAGE_METADATA, IMAGE_KINDS };

/* Shared with the parent: the child's log. */
typedef struct oprec {
	int32_t content; /* index into the pool */
	int32_t delta;   /* +1 a put, -1 a delete */
	uint32_t state;  /* REC_* */
} oprec;

enum { REC_FLIGHT, REC_DONE, REC_FAILED };

typedef struct shared {
	uint32_t nrec;
	uint32_t durable;   /* records before this, if done, are durable */
	uint32_t crashed;   /* 1: mid-workload, 2: at its end */
	uint32_t reopened;
	uint64_t syncs;
	uint64_t faults;    /* injected failures that fired */
	char msg[512];      /* why the child failed */
	oprec rec[MAXREC];
} shared;

static shared *sh;

/* Also shared, kept across rounds: the store's counts as the last check
 * found them, and totals of the checks. */
typedef struct shared_state {
	uint64_t counts[POOL];
	unsigned long long checked, certain, repaired;
} shared_state;

static shared_state *ss;

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		_exit(90);
	return p;
}

static pnode *node_new(ino_t ino, bool dir)
{
	pnode *n = xmalloc(sizeof(*n));

	memset(n, 0, sizeof(*n));
	n->ino = ino;
	n->dir = dir;
	if (pl.ntab == pl.captab) {
		pl.captab = pl.captab ? 2 * pl.captab : 1024;
		pl.tab = realloc(pl.tab, pl.captab * sizeof(*pl.tab));
		if (!pl.tab)
			_exit(90);
	}
	pl.tab[pl.ntab].ino = ino;
	pl.tab[pl.ntab].node = n;
	pl.ntab++;
	return n;
}

/* The current node of inode ino (the newest one made for it). */
static pnode *node_find(ino_t ino)
{
	for (size_t i = pl.ntab; i-- > 0;)
		if (pl.tab[i].ino == ino)
			return pl.tab[i].node;
	return NULL;
}

static pnode *node_get(ino_t ino, bool dir)
{
	pnode *n = node_find(ino);

	return n ? n : node_new(ino, dir);
}

static bool under(const char *path, const char *dir, size_t len)
{
	return strncmp(path, dir, len) == 0 &&
	       (path[len] == '/' || path[len] == '\0');
}

static bool fd_path(int fd, char *out, size_t n)
{
	char link[64];
	ssize_t k;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	k = readlink(link, out, n - 1);
	if (k < 0)
		return false;
	out[k] = '\0';
	return true;
}

/* The absolute path of (dirfd, path), as openat would resolve it. */
static bool at_path(int dirfd, const char *path, char *out, size_t n)
{
	char dir[1024];

	if (path[0] == '/') {
		snprintf(out, n, "%s", path);
		return true;
	}
	if (dirfd == AT_FDCWD ? !getcwd(dir, sizeof(dir))
			      : !fd_path(dirfd, dir, sizeof(dir)))
		return false;
	return snprintf(out, n, "%s/%s", dir, path) < (int)n;
}

/*
 * File bytes live in mmap'd buffers, never in malloc's: the image is
 * written while the other threads are frozen, perhaps inside malloc
 * holding its lock. *cap is what to munmap.
 */
static uint8_t *read_all(const char *path, size_t *len, size_t *cap_out)
{
	int fd = raw_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
	size_t cap = 1u << 16, n = 0;
	struct stat st;
	uint8_t *buf;

	*len = *cap_out = 0;
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && (size_t)st.st_size >= cap)
		cap = ((size_t)st.st_size | 0xffff) + 1;
	buf = mmap(NULL, cap, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		_exit(90);
	for (;;) {
		ssize_t k;

		if (n == cap) {
			buf = mremap(buf, cap, 2 * cap, MREMAP_MAYMOVE);
			if (buf == MAP_FAILED)
				_exit(90);
			cap *= 2;
		}
		k = syscall(SYS_read, fd, buf + n, cap - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	close(fd);
	*len = n;
	*cap_out = cap;
	return buf;
}

/* Call fn for each name in folder path but . and ..; no allocation. */
static void for_each_name(const char *path,
			  void (*fn)(const char *name, void *ctx), void *ctx)
{
	int fd = raw_openat(AT_FDCWD, path,
			    O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	char buf[16384];
	long n;

	if (fd < 0)
		return;
	while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n;) {
			struct dirent64 *e = (struct dirent64 *)(buf + off);

			off += e->d_reclen;
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				fn(e->d_name, ctx);
		}
	}
	close(fd);
}

/* Record the bytes of the file at path as durable. */
static void snap_file(pnode *n, const char *path)
{
	size_t len, cap;
	uint8_t *data = read_all(path, &len, &cap);

	if (!data)
		return; /* gone meanwhile: keeps what it had */
	if (n->data)
		munmap(n->data, n->cap);
	n->data = data;
	n->len = len;
	n->cap = cap;
}

/* Record the names in the folder at path as durable; with deep, also
 * every file and folder below it (syncfs). */
static void snap_dir(pnode *n, const char *path, bool deep)
{
	DIR *d = opendir(path);
	struct dirent *e;
	pentry *ents = NULL;
	size_t count = 0, cap = 0;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char sub[1024];
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (lstat(sub, &st) != 0)
			continue;
		if (count == cap) {
			cap = cap ? 2 * cap : 16;
			ents = realloc(ents, cap * sizeof(*ents));
			if (!ents)
				_exit(90);
		}
		ents[count].name = strdup(e->d_name);
		ents[count].node = node_get(st.st_ino, S_ISDIR(st.st_mode));
		if (deep && S_ISDIR(st.st_mode))
			snap_dir(ents[count].node, sub, true);
		else if (deep && S_ISREG(st.st_mode))
			snap_file(ents[count].node, sub);
		count++;
	}
	closedir(d);
	/* The old entries stay allocated: nodes may still point at names in
	 * other folders' lists, and the child exits soon anyway. */
	n->ents = ents;
	n->nents = count;
}

static void snap_everything(void)
{
	snap_dir(pl.rootnode, pl.root, true);
}

/* ---- the crash: write the image and die ---------------------------------- */

/* What the file holds now, if it still is this node. */
static uint8_t *current_bytes(const pnode *n, const char *now_path,
			      size_t *len, size_t *cap)
{
	struct stat st;

	*len = *cap = 0;
	if (!now_path || lstat(now_path, &st) != 0 || node_find(st.st_ino) != n)
		return NULL;
	return read_all(now_path, len, cap);
}

static void write_file(const char *path, const pnode *n, const char *now)
{
	size_t len = n->len, curlen = 0, curcap = 0;
	uint8_t *cur = NULL, *out = n->data;
	int fd;

	if (pl.mode != IMAGE_STRICT && tu_rand(&pl.rng) % 2) {
		cur = current_bytes(n, now, &curlen, &curcap);
		if (cur && curlen > n->len &&
		    (n->len == 0 || memcmp(cur, n->data, n->len) == 0)) {
			size_t extra = tu_rand(&pl.rng) % (curlen - n->len + 1);

			if (tu_rand(&pl.rng) % 4 == 0)
				memset(cur + n->len, 0, extra);
			out = cur;
			len = n->len + extra;
		}
	}
	fd = raw_openat(AT_FDCWD, path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0)
		_exit(91);
	for (size_t off = 0; off < len;) {
		ssize_t k = raw_write(fd, out + off, len - off);

		if (k <= 0)
			_exit(92);
		off += (size_t)k;
	}
	close(fd);
	if (cur)
		munmap(cur, curcap);
}

/* Write folder n (durable names) at path; now is where it is at present
 * (for the tails), or NULL. */
static void write_dir_strict(const char *path, const pnode *n, const char *now)
{
	if (raw_mkdirat(AT_FDCWD, path, 0755) != 0 && errno != EEXIST)
		_exit(93);
	for (size_t i = 0; i < n->nents; i++) {
		char out[1024], cur[1024];

		snprintf(out, sizeof(out), "%s/%s", path, n->ents[i].name);
		snprintf(cur, sizeof(cur), "%s/%s", now ? now : "",
			 n->ents[i].name);
		if (n->ents[i].node->dir)
			write_dir_strict(out, n->ents[i].node,
					 now ? cur : NULL);
		else
			write_file(out, n->ents[i].node, now ? cur : NULL);
	}
}

/* The metadata image: the names as they are now, durable bytes. */
typedef struct now_dir {
	const char *path, *now;
} now_dir;

static void write_dir_now(const char *path, const char *now);

static void write_name_now(const char *name, void *ctx)
{
	static const pnode never_synced = {.dir = false};
	const now_dir *nd = ctx;
	char out[1024], cur[1024];
	struct stat st;
	const pnode *n;

	snprintf(out, sizeof(out), "%s/%s", nd->path, name);
	snprintf(cur, sizeof(cur), "%s/%s", nd->now, name);
	if (lstat(cur, &st) != 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		write_dir_now(out, cur);
	} else if (S_ISREG(st.st_mode)) {
		n = node_find(st.st_ino);
		write_file(out, n ? n : &never_synced, cur);
	}
}

static void write_dir_now(const char *path, const char *now)
{
	now_dir nd = {path, now};

	if (raw_mkdirat(AT_FDCWD, path, 0755) != 0 && errno != EEXIST)
		_exit(93);
	for_each_name(now, write_name_now, &nd);
}

/*
 * Stop every other thread where it is, before the image is written: a
 * power loss freezes the whole machine at once, and a thread left running
 * (a RocksDB compaction deleting a file, say) would otherwise change the
 * names the metadata image copies while it is being written.
 */
static atomic_int frozen;

static void on_freeze(int sig)
{
	(void)sig;
	atomic_fetch_add(&frozen, 1);
	for (;;)
		pause();
}

typedef struct freezer {
	pid_t self, done[256];
	int ndone;
	bool more;
} freezer;

static void freeze_one(const char *name, void *ctx)
{
	freezer *f = ctx;
	pid_t tid = (pid_t)atoi(name);
	bool seen = tid <= 0 || tid == f->self;

	for (int k = 0; k < f->ndone && !seen; k++)
		seen = f->done[k] == tid;
	if (seen || f->ndone == 256)
		return;
	if (syscall(SYS_tgkill, getpid(), tid, SIGRTMIN + 2) == 0) {
		f->done[f->ndone++] = tid;
		f->more = true; /* list again: it may have made a thread */
	}
}

static void freeze_others(void)
{
	freezer f = {.self = (pid_t)syscall(SYS_gettid), .more = true};

	for (int pass = 0; f.more && pass < 50; pass++) {
		f.more = false;
		for_each_name("/proc/self/task", freeze_one, &f);
		/* Wait (at most about 2 s) until each has stopped. */
		for (int w = 0; atomic_load(&frozen) < f.ndone && w < 20000;
		     w++)
			usleep(100);
	}
}

/* The power fails: called with pl.lock held, from any thread. */
static void power_loss(uint32_t how)
{
	freeze_others();
	pl.active = false;
	if (pl.mode == IMAGE_METADATA)
		write_dir_now(pl.image, pl.root);
	else
		write_dir_strict(pl.image, pl.rootnode, pl.root);
	sh->syncs = pl.syncs;
	sh->faults = pl.fault.fired;
	atomic_thread_fence(memory_order_seq_cst);
	sh->crashed = how;
	_exit(0);
}

/* ---- the calls this program takes over ------------------------------------ */

/* A call on a file of the index folder: fail it if the plan says so. */
static int maybe_fault(const char *path)
{
	fault_plan *f = &pl.fault;
	int err = 0;

	const char *name = path ? strrchr(path, '/') : NULL;

	/* Not RocksDB's info log (LOG, LOG.old.*): Debian builds librocksdb
	 * with assertions on, and the write after a failed one to that log
	 * aborts (WritableFileWriter asserts no earlier error). It holds no
	 * data; docs/store.md lists the hazard. */
	if (!f->at || !path || !under(path, pl.index, pl.indexlen) ||
	    (name && strncmp(name, "/LOG", 4) == 0))
		return 0;
	pthread_mutex_lock(&pl.lock);
	f->seen++;
	if (f->seen == f->at || (f->sticky && f->seen > f->at))
		err = f->err;
	f->fired += err != 0;
	pthread_mutex_unlock(&pl.lock);
	return err;
}

static int fd_fault(int fd)
{
	char path[1024];

	if (!pl.active || !pl.fault.at || !fd_path(fd, path, sizeof(path)))
		return 0;
	return maybe_fault(path);
}

/* A sync event on fd (file or folder) or, with fd < 0, everything. */
static int sync_event(int fd)
{
	char path[1024];
	struct stat st;
	int err;

	if (!pl.active)
		return -1;
	if (fd >= 0 && (!fd_path(fd, path, sizeof(path)) ||
			!under(path, pl.root, pl.rootlen)))
		return -1; /* not ours: a real sync */
	if (fd >= 0 && fstat(fd, &st) != 0)
		return -1;
	if ((err = fd >= 0 && !S_ISDIR(st.st_mode) ? maybe_fault(path) : 0)) {
		errno = err;
		return 1;
	}
	pthread_mutex_lock(&pl.lock);
	if (!pl.active) { /* the power failed while we waited */
		pthread_mutex_unlock(&pl.lock);
		return 0;
	}
	pl.syncs++;
	if (pl.syncs == pl.crash_at)
		power_loss(1);
	if (fd < 0)
		snap_everything();
	else if (S_ISDIR(st.st_mode))
		snap_dir(node_get(st.st_ino, true), path, false);
	else
		snap_file(node_get(st.st_ino, false), path);
	pthread_mutex_unlock(&pl.lock);
	return 0;
}

/* The checker's children skip real syncs too: what reaches the disk of
 * this machine does not matter to the simulation, and a real fsync per
 * RocksDB flush made the check the slowest part of a round. */
static bool no_sync;

int fsync(int fd)
{
	int r = no_sync ? 0 : sync_event(fd);

	return r < 0 ? (int)syscall(SYS_fsync, fd) : r ? -1 : 0;
}

int fdatasync(int fd)
{
	int r = no_sync ? 0 : sync_event(fd);

	return r < 0 ? (int)syscall(SYS_fdatasync, fd) : r ? -1 : 0;
}

int syncfs(int fd)
{
	int r = no_sync ? 0 : pl.active ? sync_event(-1) : -1;

	return r < 0 ? (int)syscall(SYS_syncfs, fd) : r ? -1 : 0;
}

void sync(void)
{
	if (!no_sync && (!pl.active || sync_event(-1) < 0))
		syscall(SYS_sync);
}

/* A create under the store: a new inode gets a new node (an old one with
 * the same number may still be named by a durable folder). */
static int open_common(int dirfd, const char *path, int flags, mode_t mode)
{
	char abs[1024];
	struct stat st;
	bool ours, existed;
	int fd, err;

	if (!pl.active || !(flags & (O_CREAT | __O_TMPFILE)))
		return raw_openat(dirfd, path, flags, mode);
	ours = at_path(dirfd, path, abs, sizeof(abs)) &&
	       under(abs, pl.root, pl.rootlen);
	if (!ours)
		return raw_openat(dirfd, path, flags, mode);
	if ((err = maybe_fault(abs))) {
		errno = err;
		return -1;
	}
	pthread_mutex_lock(&pl.lock);
	existed = (flags & __O_TMPFILE) != __O_TMPFILE &&
		  lstat(abs, &st) == 0;
	fd = raw_openat(dirfd, path, flags, mode);
	if (fd >= 0 && !existed && pl.active && fstat(fd, &st) == 0)
		node_new(st.st_ino, false);
	pthread_mutex_unlock(&pl.lock);
	return fd;
}

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & (O_CREAT | __O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return open_common(AT_FDCWD, path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return open_common(dirfd, path, flags, mode);
}

/* The 64-bit names are the same calls on x86-64. */
int open64(const char *path, int flags, ...) __attribute__((alias("open")));
int openat64(int dirfd, const char *path, int flags, ...)
	__attribute__((alias("openat")));

static int mkdir_common(int dirfd, const char *path, mode_t mode)
{
	char abs[1024];
	struct stat st;
	int r;

	if (!pl.active)
		return raw_mkdirat(dirfd, path, mode);
	pthread_mutex_lock(&pl.lock);
	r = raw_mkdirat(dirfd, path, mode);
	if (r == 0 && pl.active && at_path(dirfd, path, abs, sizeof(abs)) &&
	    under(abs, pl.root, pl.rootlen) && lstat(abs, &st) == 0)
		node_new(st.st_ino, true);
	pthread_mutex_unlock(&pl.lock);
	return r;
}

int mkdir(const char *path, mode_t mode)
{
	return mkdir_common(AT_FDCWD, path, mode);
}

int mkdirat(int dirfd, const char *path, mode_t mode)
{
	return mkdir_common(dirfd, path, mode);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	int err = fd_fault(fd);

	if (err) {
		errno = err;
		return -1;
	}
	return raw_write(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	int err = fd_fault(fd);

	if (err) {
		errno = err;
		return -1;
	}
	return syscall(SYS_pwrite64, fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	return pwrite(fd, buf, n, off);
}

int rename(const char *from, const char *to)
{
	char abs[1024];
	int err = 0;

	if (pl.active && pl.fault.at && at_path(AT_FDCWD, from, abs,
						sizeof(abs)))
		err = maybe_fault(abs);
	if (err) {
		errno = err;
		return -1;
	}
	return (int)syscall(SYS_renameat, AT_FDCWD, from, AT_FDCWD, to);
}

/* ---- the contents and the workload (child) ------------------------------ */

static char base[256], store_dir[300], image_dir[300];
static uint8_t *data[POOL];
static size_t lens[POOL];
static b3cas_oid ids[POOL];

static void child_fail(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

static void child_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sh->msg, sizeof(sh->msg), fmt, ap);
	va_end(ap);
	_exit(3);
}

static uint32_t log_start(int content, int delta)
{
	uint32_t r = sh->nrec;

	if (r == MAXREC)
		child_fail("log full");
	sh->rec[r].content = content;
	sh->rec[r].delta = delta;
	sh->rec[r].state = REC_FLIGHT;
	atomic_thread_fence(memory_order_seq_cst);
	sh->nrec = r + 1;
	return r;
}

static void log_end(uint32_t from, uint32_t to, bool ok, b3cas_durability d,
		    uint64_t *cur)
{
	for (uint32_t r = from; r < to; r++) {
		sh->rec[r].state = ok ? REC_DONE : REC_FAILED;
		if (ok)
			cur[sh->rec[r].content] += (uint64_t)sh->rec[r].delta;
	}
	atomic_thread_fence(memory_order_seq_cst);
	if (ok && d == B3CAS_DURABILITY_FULL)
		sh->durable = sh->nrec;
}

static b3cas_store *child_open(b3cas_durability d)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *s = NULL;
	int rc;

	o.durability = d;
	o.sync_interval_ms = 3; /* the flusher runs often: it may crash */
	o.l1_bytes = 0;
	rc = b3cas_store_open(&s, store_dir, &o);
	if (rc != 0) {
		/* Only an injected failure may stop the open. */
		if (pl.fault.fired)
			return NULL;
		child_fail("open: %s", b3cas_error_last());
	}
	return s;
}

static void child_put(b3cas_store *s, int i, int how, b3cas_durability d,
		      uint64_t *cur)
{
	uint32_t r = log_start(i, 1);
	b3cas_oid id;
	int rc;

	if (how == 0) {
		rc = b3cas_store_put(s, &id, data[i], lens[i]);
	} else {
		b3cas_writer *w = NULL;

		rc = b3cas_writer_open(&w, s);
		for (size_t off = 0; rc == 0 && off < lens[i]; off += 4000) {
			size_t n = lens[i] - off < 4000 ? lens[i] - off : 4000;

			rc = b3cas_writer_write(w, data[i] + off, n);
		}
		if (rc == 0)
			rc = b3cas_writer_commit(w, &id);
		else if (w)
			b3cas_writer_abort(w);
	}
	if (rc >= 0 && !b3cas_oid_equal(&id, &ids[i]))
		child_fail("put of content %d returned another id", i);
	log_end(r, r + 1, rc >= 0, d, cur);
}

static void child_batch(b3cas_store *s, uint64_t *rng, b3cas_durability d,
			uint64_t *cur)
{
	const void *ptrs[4];
	size_t ls[4];
	b3cas_oid out[4];
	bool dup[4];
	int idx[4], n = 2 + (int)(tu_rand(rng) % 3);
	uint32_t first = sh->nrec;
	int rc;

	for (int k = 0; k < n; k++) {
		idx[k] = (int)(tu_rand(rng) % POOL);
		for (int j = 0; j < k; j++)
			if (idx[j] == idx[k])
				idx[k] = (idx[k] + 1 + j) % POOL;
		ptrs[k] = data[idx[k]];
		ls[k] = lens[idx[k]];
		log_start(idx[k], 1);
	}
	rc = b3cas_store_put_batch(s, out, dup, ptrs, ls, (size_t)n);
	if (rc >= 0)
		for (int k = 0; k < n; k++)
			if (!b3cas_oid_equal(&out[k], &ids[idx[k]]))
				child_fail("batch put returned another id");
	log_end(first, sh->nrec, rc >= 0, d, cur);
}

static void child_get(b3cas_store *s, int i)
{
	void *got;
	size_t len;

	if (b3cas_store_get(s, &ids[i], &got, &len) != 0)
		return; /* an injected failure may explain it; checked later */
	if (len != lens[i] || memcmp(got, data[i], len) != 0)
		child_fail("get of content %d returned wrong bytes", i);
	b3cas_free(got);
}

/* A failed assertion inside librocksdb (Debian builds it with them on):
 * say where, for the failure message. */
static void on_abort(int sig)
{
	void *frames[40];
	int n = backtrace(frames, 40);

	(void)sig;
	backtrace_symbols_fd(frames, n, 2);
	_exit(5);
}

static void child_run(uint64_t seed, b3cas_durability d)
{
	uint64_t rng = seed, cur[POOL];
	int nops = 1 + (int)(tu_rand(&rng) % MAXOPS);
	b3cas_store *s;
	struct stat st;

	signal(SIGABRT, on_abort);
	signal(SIGRTMIN + 2, on_freeze);
	memcpy(cur, ss->counts, sizeof(cur));
	if (lstat(pl.root, &st) != 0)
		child_fail("no store folder");
	pl.rootnode = node_new(st.st_ino, true);
	snap_everything(); /* the store as the parent closed it: durable */
	pl.active = true;
	s = child_open(d);
	for (int op = 0; s && op < nops; op++) {
		unsigned what = (unsigned)(tu_rand(&rng) % 100);
		int i = (int)(tu_rand(&rng) % POOL);

		if (what < 35) {
			child_put(s, i, 0, d, cur);
		} else if (what < 45) {
			child_put(s, i, 1, d, cur);
		} else if (what < 52) {
			child_batch(s, &rng, d, cur);
		} else if (what < 72) {
			/* delete one reference this log knows is there */
			for (int k = 0; k < POOL && !cur[i]; k++)
				i = (i + 1) % POOL;
			if (cur[i]) {
				uint32_t r = log_start(i, -1);

				log_end(r, r + 1, b3cas_store_delete(s, &ids[i])
						       >= 0, d, cur);
			}
		} else if (what < 77) {
			b3cas_gc_options go = B3CAS_GC_OPTIONS_INIT;

			go.normal_priority = true;
			b3cas_gc(s, &go, NULL);
		} else if (what < 87) {
			uint32_t upto = sh->nrec;

			if (b3cas_store_sync(s) == 0)
				sh->durable = upto;
		} else if (what < 91) {
			uint32_t upto = sh->nrec;

			if (b3cas_store_close(s) == 0)
				sh->durable = upto;
			sh->reopened++;
			s = child_open(d);
		} else {
			child_get(s, i);
		}
	}
	/* The end of the workload: the power fails now, store still open. */
	pthread_mutex_lock(&pl.lock);
	if (!pl.active) { /* a thread is writing the image: let it finish */
		pthread_mutex_unlock(&pl.lock);
		for (;;)
			pause();
	}
	power_loss(2);
}

/* ---- the checker: a child too ---------------------------------------------- */

/*
 * Every use of RocksDB happens in a child process: RocksDB's default Env
 * keeps a thread pool for the whole process once a database was opened,
 * and a fork copies none of those threads, so a child of a parent that
 * had opened one would wait for flushes that never run.
 */

static b3cas_store *checker_open(void)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *s = NULL;

	no_sync = true; /* in a child of its own (see in_child) */
	o.create = true;
	o.inline_threshold = THRESHOLD;
	o.l1_bytes = 0;
	if (b3cas_store_open(&s, store_dir, &o) != 0)
		child_fail("open after the power loss: %s",
			   b3cas_error_last());
	return s;
}

typedef struct lost_ids {
	b3cas_oid ids[POOL * 4];
	size_t n;
} lost_ids;

static int note_lost(const b3cas_fsck_problem *p, void *ctx)
{
	lost_ids *l = ctx;

	if (p->lost && p->has_id && l->n < POOL * 4)
		l->ids[l->n++] = p->id;
	return 0;
}

static int find_content(const b3cas_oid *id)
{
	for (int i = 0; i < POOL; i++)
		if (b3cas_oid_equal(id, &ids[i]))
			return i;
	return -1;
}

static int check_known(const b3cas_object_info *info, void *ctx)
{
	(void)ctx;
	if (find_content(&info->id) < 0) {
		char hex[B3CAS_OID_HEX_LEN + 1];

		child_fail("the store holds %s, which was never put",
			   b3cas_oid_fmt(hex, &info->id));
	}
	return 0;
}

/* The check after a power loss (see the header), in a child; the counts
 * found go back through shared memory. */
static void check_image(void)
{
	int64_t lo[POOL], hi[POOL];
	b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;
	b3cas_fsck_report rep;
	lost_ids lost = {.n = 0};
	b3cas_store *s;

	for (int i = 0; i < POOL; i++)
		lo[i] = hi[i] = (int64_t)ss->counts[i];
	for (uint32_t r = 0; r < sh->nrec; r++) {
		const oprec *o = &sh->rec[r];
		bool certain = o->state == REC_DONE && r < sh->durable;

		if (certain || o->delta > 0)
			hi[o->content] += o->delta;
		if (certain || o->delta < 0)
			lo[o->content] += o->delta;
	}
	s = checker_open();
	fo.repair = true;
	fo.on_problem = note_lost;
	fo.ctx = &lost;
	if (b3cas_fsck(s, &fo, &rep) != 0)
		child_fail("fsck --repair: %s", b3cas_error_last());
	ss->repaired += rep.problems;
	fo.repair = false;
	fo.on_problem = NULL;
	if (b3cas_fsck(s, &fo, &rep) != 0)
		child_fail("fsck: %s", b3cas_error_last());
	if (rep.problems)
		child_fail("%llu problems left after fsck --repair",
			   (unsigned long long)rep.problems);
	for (size_t k = 0; k < lost.n; k++) {
		int i = find_content(&lost.ids[k]);

		if (i >= 0 && lo[i] > 0)
			child_fail("fsck lost content %d, which had %lld "
				   "durable references", i, (long long)lo[i]);
	}
	if (b3cas_store_foreach(s, check_known, NULL) != 0)
		child_fail("foreach: %s", b3cas_error_last());
	for (int i = 0; i < POOL; i++) {
		uint64_t c = 0;
		int rc = b3cas_refcount(s, &ids[i], &c);
		void *got;
		size_t len;

		if (rc != 0 && rc != B3CAS_ENOTFOUND)
			child_fail("refcount: %s", b3cas_error_last());
		if (rc != 0)
			c = 0;
		/* fsck re-indexes a sound file whose entry the power loss
		 * took as a GC candidate (count 0), never with a reference:
		 * a delete or GC the log says happened must stay done. */
		if ((int64_t)c < lo[i] || (int64_t)c > hi[i])
			child_fail("content %d has %llu references; the log "
				   "allows %lld..%lld (durable point %u of %u "
				   "records)", i, (unsigned long long)c,
				   (long long)lo[i], (long long)hi[i],
				   sh->durable, sh->nrec);
		if (lo[i] > 0)
			ss->certain++;
		if (c > 0) {
			rc = b3cas_store_get(s, &ids[i], &got, &len);
			if (rc != 0)
				child_fail("content %d (%llu references, %lld "
					   "durable) unreadable: %s", i,
					   (unsigned long long)c,
					   (long long)lo[i],
					   b3cas_error_last());
			if (len != lens[i] || memcmp(got, data[i], len) != 0)
				child_fail("content %d read back wrong", i);
			b3cas_free(got);
			ss->checked++;
		}
		ss->counts[i] = c;
	}
	if (b3cas_store_close(s) != 0)
		child_fail("close: %s", b3cas_error_last());
}

static void make_fresh_store(void)
{
	b3cas_store *s = checker_open();

	if (b3cas_store_close(s) != 0)
		child_fail("close: %s", b3cas_error_last());
	memset(ss->counts, 0, sizeof(ss->counts));
}

/* ---- the parent: rounds -------------------------------------------------------- */

typedef struct totals {
	unsigned long long rounds, midway, faults, syncs, reopened,
		kinds[IMAGE_KINDS], modes[3];
} totals;

/* Run fn in a child; fail the test with the child's message. */
static void in_child(void (*fn)(void), long round, const char *what)
{
	int status;
	pid_t pid;

	sh->msg[0] = '\0';
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fn();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		/* What the round did, to read the failure without a rerun. */
		fprintf(stderr, "round %ld: image %d, power loss %s at sync %llu "
			"of %llu, fault at %llu (errno %d%s, %llu fired); log "
			"(content delta state), durable before %u:\n", round,
			pl.mode, sh->crashed == 1 ? "midway" : "at the end",
			(unsigned long long)pl.crash_at,
			(unsigned long long)sh->syncs,
			(unsigned long long)pl.fault.at, pl.fault.err,
			pl.fault.sticky ? ", sticky" : "",
			(unsigned long long)sh->faults, sh->durable);
		for (uint32_t r = 0; r < sh->nrec; r++)
			fprintf(stderr, "  %u: %d %+d %u\n", r,
				sh->rec[r].content, sh->rec[r].delta,
				sh->rec[r].state);
		fail_msg("round %ld, %s: status %d: %s", round, what, status,
			 sh->msg[0] ? sh->msg : "no message");
	}
}

static uint64_t round_seed;
static b3cas_durability round_mode;

static void workload(void)
{
	child_run(round_seed, round_mode);
}

static void one_round(long round, uint64_t *rng, totals *t)
{
	static const b3cas_durability modes[3] = {
		B3CAS_DURABILITY_NONE, B3CAS_DURABILITY_BATCH,
		B3CAS_DURABILITY_FULL};
	b3cas_durability d = modes[tu_rand(rng) % 3];
	char cmd[1024];

	if (round % FRESH_EVERY == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", store_dir);
		assert_int_equal(system(cmd), 0);
		in_child(make_fresh_store, round, "making the store");
	}
	memset(sh, 0, sizeof(*sh));
	round_seed = tu_rand(rng);
	round_mode = d;
	pl.mode = (int)(tu_rand(rng) % IMAGE_KINDS);
	pl.rng = tu_rand(rng);
	pl.syncs = 0;
	/* Full mode syncs a few times per operation, the others seldom. */
	pl.crash_at = 1 + tu_rand(rng) % (d == B3CAS_DURABILITY_FULL
					      ? 3 * MAXOPS : MAXOPS / 2);
	memset(&pl.fault, 0, sizeof(pl.fault));
	if (tu_rand(rng) % 3 == 0) {
		pl.fault.at = 1 + tu_rand(rng) % 40;
		pl.fault.err = tu_rand(rng) % 2 ? EIO : ENOSPC;
		pl.fault.sticky = tu_rand(rng) % 4 == 0;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", image_dir);
	assert_int_equal(system(cmd), 0);
	in_child(workload, round, "workload");
	if (!sh->crashed)
		fail_msg("round %ld: the workload ended without a power loss",
			 round);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mv '%s' '%s'", store_dir,
		 image_dir, store_dir);
	assert_int_equal(system(cmd), 0);
	in_child(check_image, round, "check after the power loss");
	t->rounds++;
	t->midway += sh->crashed == 1;
	t->faults += sh->faults;
	t->syncs += sh->syncs;
	t->reopened += sh->reopened;
	t->kinds[pl.mode]++;
	t->modes[d]++;
}

static int setup(void **state)
{
	char real[PATH_MAX];

	(void)state;
	tu_make_root(base, sizeof(base), "powerloss");
	assert_non_null(realpath(base, real));
	assert_true(strlen(real) < sizeof(base));
	memcpy(base, real, strlen(real) + 1);
	snprintf(store_dir, sizeof(store_dir), "%s/store", base);
	snprintf(image_dir, sizeof(image_dir), "%s/image", base);
	snprintf(pl.root, sizeof(pl.root), "%s", store_dir);
	pl.rootlen = strlen(pl.root);
	snprintf(pl.index, sizeof(pl.index), "%s/index", store_dir);
	pl.indexlen = strlen(pl.index);
	snprintf(pl.image, sizeof(pl.image), "%s", image_dir);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(sh != MAP_FAILED);
	ss = mmap(NULL, sizeof(*ss), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(ss != MAP_FAILED);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	munmap(sh, sizeof(*sh));
	munmap(ss, sizeof(*ss));
	tu_remove_root(base);
	for (int i = 0; i < POOL; i++)
		free(data[i]);
	return 0;
}

static void test_power_losses(void **state)
{
	uint64_t rng = tu_seed("powerloss");
	const char *env = getenv("B3CAS_TEST_ITERATIONS");
	long rounds = env ? atol(env) : 1000;
	totals t;

	(void)state;
	memset(&t, 0, sizeof(t));
	for (int i = 0; i < POOL; i++) {
		/* a third inline, most loose, a few of about 1 MiB (streamed
		 * and hashed by the pool) */
		lens[i] = i % 3 == 0    ? 1 + tu_rand(&rng) % THRESHOLD
			  : i % 16 == 1 ? (1u << 20) + tu_rand(&rng) % 65536
					: THRESHOLD + 1 + tu_rand(&rng) % 60000;
		data[i] = tu_random_block(lens[i], &rng);
		b3cas_hash(ids[i].bytes, data[i], lens[i]);
	}
	for (long round = 0; round < rounds; round++) {
		/* Each round's node table starts empty in the child; the
		 * parent never fills it. */
		one_round(round, &rng, &t);
	}
	printf("[powerloss] %llu power losses (%llu inside the workload, %llu "
	       "at its end; none/batch/full %llu/%llu/%llu; images strict/"
	       "tails/metadata %llu/%llu/%llu), %llu sync events, %llu "
	       "reopens, %llu I/O failures injected in RocksDB's files; "
	       "fsck --repair mended %llu problems; %llu objects read back "
	       "exact; %llu object checks had durable references, all "
	       "there\n",
	       t.rounds, t.midway, t.rounds - t.midway, t.modes[0], t.modes[1],
	       t.modes[2], t.kinds[0], t.kinds[1], t.kinds[2], t.syncs,
	       t.reopened, t.faults, ss->repaired, ss->checked, ss->certain);
	assert_true(t.rounds == (unsigned long long)rounds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_power_losses, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
