/*
 * util/bigmem.h - zeroed memory for large tables touched at random.
 *
 * The stripe locks (2.5 MiB) are touched at random: a `b3cas put` of a
 * few thousand files faults in nearly every one of their 4 KiB pages,
 * and on a virtual machine a page fault costs microseconds. Such a table
 * is mapped aligned to 2 MiB and advised for transparent huge pages, so
 * it faults in two 2 MiB pages instead; where the kernel gives no huge
 * pages the mapping still works, with small ones. Pages are mapped only
 * as they are first touched, so an untouched table costs nothing. (A
 * table much larger than what a run touches is better made to grow, as
 * the known set is: zeroing a huge page costs as much as faulting in
 * 512 small ones would.)
 */
#ifndef B3CAS_UTIL_BIGMEM_H
#define B3CAS_UTIL_BIGMEM_H

#include <stddef.h>

/* len zeroed bytes, or NULL (errno set). Free with b3cas__big_free and
 * the same len. */
void *b3cas__big_zalloc(size_t len);
void b3cas__big_free(void *p, size_t len);

#endif
