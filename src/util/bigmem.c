/*
 * util/bigmem.c - zeroed memory for large tables (see bigmem.h).
 */
#include "util/bigmem.h"

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

static size_t rounded(size_t len)
{
	return (len + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
}

void *b3cas__big_zalloc(size_t len)
{
	size_t n = rounded(len ? len : 1), head, tail;
	uint8_t *map, *p;

	if (n < len || n + HUGE_PAGE < n) {
		errno = ENOMEM;
		return NULL;
	}
	/* One huge page more than asked, to cut an aligned run out of it. */
	map = mmap(NULL, n + HUGE_PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return NULL;
	p = (uint8_t *)(((uintptr_t)map + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1));
	head = (size_t)(p - map);
	tail = HUGE_PAGE - head;
	if (head)
		munmap(map, head);
	if (tail)
		munmap(p + n, tail);
#ifdef MADV_HUGEPAGE
	(void)madvise(p, n, MADV_HUGEPAGE); /* advice only */
#endif
	return p;
}

void b3cas__big_free(void *p, size_t len)
{
	if (p)
		munmap(p, rounded(len ? len : 1));
}
