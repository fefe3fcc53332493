/*
 * test_powerloss_disk.c - test_powerloss's simulated disk: the raw
 * system calls the take-overs fall back to, the durable image of each
 * file and folder under the store (snapshotted at each sync), and the
 * power loss itself: write the image (strict, tails or metadata), stop
 * the other threads, exit. The state it keeps is pl (test_powerloss_int.h).
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
#include "test_powerloss_int.h"
#include "test_util.h"

struct sim_disk pl = {.lock = PTHREAD_MUTEX_INITIALIZER};
shared *sh;
shared_state *ss;

/* ---- raw system calls: what libc would have done -------------------------- */

int raw_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	return (int)syscall(SYS_openat, dirfd, path, flags, mode);
}

int raw_mkdirat(int dirfd, const char *path, mode_t mode)
{
	return (int)syscall(SYS_mkdirat, dirfd, path, mode);
}

ssize_t raw_write(int fd, const void *buf, size_t n)
{
	return syscall(SYS_write, fd, buf, n);
}

/* ---- the simulated disk ------------------------------------------------------ */

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		_exit(90);
	return p;
}

pnode *node_new(ino_t ino, bool dir)
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

pnode *node_get(ino_t ino, bool dir)
{
	pnode *n = node_find(ino);

	return n ? n : node_new(ino, dir);
}

bool under(const char *path, const char *dir, size_t len)
{
	return strncmp(path, dir, len) == 0 &&
	       (path[len] == '/' || path[len] == '\0');
}

bool fd_path(int fd, char *out, size_t n)
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
bool at_path(int dirfd, const char *path, char *out, size_t n)
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
void snap_file(pnode *n, const char *path)
{
	size_t len, cap;
	uint8_t *bytes = read_all(path, &len, &cap);

	if (!bytes)
		return; /* gone meanwhile: keeps what it had */
	if (n->data)
		munmap(n->data, n->cap);
	n->data = bytes;
	n->len = len;
	n->cap = cap;
}

/* Record the names in the folder at path as durable; with deep, also
 * every file and folder below it (syncfs). */
void snap_dir(pnode *n, const char *path, bool deep)
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

void snap_everything(void)
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

void on_freeze(int sig)
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
void power_loss(uint32_t how)
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
