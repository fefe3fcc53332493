/*
 * test_nomem_alloc.c - test_nomem's failing allocator: the --wrap
 * wrappers of the allocation functions (the link options in
 * tests/integrity/CMakeLists.txt send the library's calls and the test's
 * own here) and the plan that says which call fails. Disarmed, every call
 * passes through; armed, one fails with ENOMEM, by site or by number.
 */
#include <dirent.h>
#include <errno.h>
#include <execinfo.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "store/store_int.h"
#include "filter/filter.h"
#include "test_nomem_int.h"
#include "test_util.h"

#define FRAMES_MAX 64

struct alloc_plan plan = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* The calling thread is inside the plan (backtrace must not recurse). */
static _Thread_local bool in_plan;

/* A hash of the call stack: the allocation's site. */
uint64_t call_site(void)
{
	void *frames[FRAMES_MAX];
	int n = backtrace(frames, FRAMES_MAX);
	uint64_t h = 0xcbf29ce484222325ull;

	for (int i = 0; i < n; i++)
		h = (h ^ (uint64_t)(uintptr_t)frames[i]) * 0x100000001b3ull;
	return h;
}

/* By site: is this the first allocation of a site not failed yet? */
static bool new_site(void)
{
	uint64_t site = call_site();
	bool fresh = true;

	pthread_mutex_lock(&plan.lock);
	for (size_t i = 0; fresh && i < plan.nsites; i++)
		fresh = plan.sites[i] != site;
	if (fresh && plan.nsites < SITES_MAX)
		plan.sites[plan.nsites++] = site;
	pthread_mutex_unlock(&plan.lock);
	return fresh;
}

/* Should this allocation fail? Sets errno as the real one would. */
static bool fail_now(void)
{
	unsigned long long n;
	bool fail;

	if (!atomic_load_explicit(&plan.armed, memory_order_acquire) ||
	    in_plan)
		return false;
	in_plan = true;
	n = atomic_fetch_add(&plan.seen, 1) + 1;
	if (plan.sticky && atomic_load(&plan.fired))
		fail = true;
	else if (plan.by_site)
		fail = !atomic_load(&plan.fired) && new_site();
	else
		fail = n == plan.fail_at;
	if (fail && plan.trace && atomic_load(&plan.fired) == 0) {
		void *frames[FRAMES_MAX];

		/* backtrace_symbols_fd does not allocate */
		backtrace_symbols_fd(frames, backtrace(frames, FRAMES_MAX), 2);
		write(2, "\n", 1);
	}
	in_plan = false;
	if (!fail)
		return false;
	atomic_fetch_add(&plan.fired, 1);
	errno = ENOMEM;
	return true;
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
int __real_posix_memalign(void **p, size_t a, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
DIR *__real_opendir(const char *name);
DIR *__real_fdopendir(int fd);
char *__real_realpath(const char *path, char *resolved);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_posix_memalign(void **p, size_t a, size_t n);
void *__wrap_aligned_alloc(size_t a, size_t n);
DIR *__wrap_opendir(const char *name);
DIR *__wrap_fdopendir(int fd);
char *__wrap_realpath(const char *path, char *resolved);

void *__wrap_malloc(size_t n)
{
	return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
	return fail_now() ? NULL : __real_calloc(n, m);
}

/* A failed realloc leaves the old block as it was. */
void *__wrap_realloc(void *p, size_t n)
{
	return fail_now() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
	return fail_now() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	return fail_now() ? NULL : __real_strndup(s, n);
}

int __wrap_posix_memalign(void **p, size_t a, size_t n)
{
	return fail_now() ? ENOMEM : __real_posix_memalign(p, a, n);
}

void *__wrap_aligned_alloc(size_t a, size_t n)
{
	return fail_now() ? NULL : __real_aligned_alloc(a, n);
}

/*
 * libc calls that allocate inside libc, where --wrap cannot reach: they
 * fail as a whole, as they do when their malloc does. (fdopendir leaves
 * fd open then.)
 */
DIR *__wrap_opendir(const char *name)
{
	return fail_now() ? NULL : __real_opendir(name);
}

DIR *__wrap_fdopendir(int fd)
{
	return fail_now() ? NULL : __real_fdopendir(fd);
}

/* Only realpath(path, NULL) allocates the result. */
char *__wrap_realpath(const char *path, char *resolved)
{
	return !resolved && fail_now() ? NULL
					: __real_realpath(path, resolved);
}

/* A new sweep: no site failed yet. */
void plan_start(bool by_site, bool sticky)
{
	plan.by_site = by_site;
	plan.sticky = sticky;
	plan.nsites = 0;
}

/* Arm for the next run; fail_at is used by number. */
void arm(unsigned long long fail_at)
{
	atomic_store(&plan.seen, 0);
	atomic_store(&plan.fired, 0);
	plan.fail_at = fail_at;
	atomic_store_explicit(&plan.armed, true, memory_order_release);
}

/* Stop failing; how many allocations failed since arm(). */
unsigned long long disarm(void)
{
	atomic_store(&plan.armed, false);
	return atomic_load(&plan.fired);
}
