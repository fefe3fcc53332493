/*
 * util/bigmem.h - zeroed memory for large tables touched at random.
 *
 * The known-id set (32 MiB) and the stripe locks (2.5 MiB) are touched
 * at random: a `b3cas put` of a few thousand files faults in a new 4 KiB
 * page for nearly every id, and on a virtual machine a page fault costs
 * microseconds (perf: a tenth of the CPU of such a put). These tables
 * are mapped aligned to 2 MiB and advised for transparent huge pages, so
 * they fault in a few 2 MiB pages instead; where the kernel gives no
 * huge pages the mapping still works, with small ones. Pages are mapped
 * only as they are first touched, so an untouched table costs nothing.
 */
#ifndef B3CAS_UTIL_BIGMEM_H
#define B3CAS_UTIL_BIGMEM_H

#include <stddef.h>

/* len zeroed bytes, or NULL (errno set). Free with b3cas__big_free and
 * the same len. */
void *b3cas__big_zalloc(size_t len);
void b3cas__big_free(void *p, size_t len);

#endif
