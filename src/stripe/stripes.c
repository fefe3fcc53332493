/*
 * stripe/stripes.c - making, draining and freeing the stripe locks (see
 * stripes.h for what they guard and why they follow id order).
 */
#include "stripe/stripes.h"

#include <stdlib.h>

#include "util/error.h"
#include "util/fsutil.h"

int b3cas__stripes_init(b3cas_stripes *st, unsigned n)
{
	st->n = 0;
	st->shift = 0;
	st->locks = b3cas__malloc(n * sizeof(*st->locks));
	if (!st->locks)
		return B3CAS_ENOMEM;
	for (unsigned i = 0; i < n; i++)
		pthread_mutex_init(&st->locks[i], NULL);
	st->n = n;
	while ((unsigned)B3CAS_STRIPES >> st->shift > n)
		st->shift++;
	return 0;
}

void b3cas__stripes_destroy(b3cas_stripes *st)
{
	for (unsigned i = 0; i < st->n; i++)
		pthread_mutex_destroy(&st->locks[i]);
	free(st->locks);
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
