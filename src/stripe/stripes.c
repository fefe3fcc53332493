/*
 * stripe/stripes.c - making, draining and freeing the stripe locks (see
 * stripes.h for what they guard and why they follow id order).
 */
#include "stripe/stripes.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/bigmem.h"
#include "util/error.h"
#include "util/fsutil.h"

/* Whether a default mutex is all zero bytes (glibc's is). */
static bool zero_is_a_mutex(void)
{
	static const pthread_mutex_t init = PTHREAD_MUTEX_INITIALIZER;
	static const unsigned char zero[sizeof(init)];

	return memcmp(&init, zero, sizeof(init)) == 0;
}

/*
 * 65,536 stripes are 2.5 MiB of mutexes. Where a zeroed mutex is one
 * initialized statically, they come zeroed from b3cas__big_zalloc, whose
 * pages the kernel maps on first use (2 MiB at a time where it can),
 * instead of 65,536 calls to
 * pthread_mutex_init writing every page at each open (5% of the CPU of a
 * short `b3cas put`, perf); and, like any statically initialized mutex,
 * they are not destroyed one by one at close (which would touch every
 * page again), only freed: none is held then.
 */
int b3cas__stripes_init(b3cas_stripes *st, unsigned n)
{
	bool zeroed = zero_is_a_mutex();

	st->n = 0;
	st->shift = 0;
	st->locks = b3cas__big_zalloc((size_t)n * sizeof(*st->locks));
	if (!st->locks)
		return b3cas__error(B3CAS_ENOMEM, "out of memory (%u locks)",
				    n);
	for (unsigned i = 0; !zeroed && i < n; i++)
		pthread_mutex_init(&st->locks[i], NULL);
	st->zeroed = zeroed;
	st->n = n;
	while ((unsigned)B3CAS_STRIPES >> st->shift > n)
		st->shift++;
	return 0;
}

void b3cas__stripes_destroy(b3cas_stripes *st)
{
	for (unsigned i = 0; !st->zeroed && i < st->n; i++)
		pthread_mutex_destroy(&st->locks[i]);
	b3cas__big_free(st->locks, (size_t)st->n * sizeof(*st->locks));
	st->locks = NULL;
	st->n = 0;
}

void b3cas__stripes_drain(b3cas_stripes *st)
{
	for (unsigned i = 0; i < st->n; i++) {
		pthread_mutex_lock(&st->locks[i]);
		pthread_mutex_unlock(&st->locks[i]);
	}
}
