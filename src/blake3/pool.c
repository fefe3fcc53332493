/*
 * pool.c - a small, reusable thread pool for splitting one hash over cores.
 *
 * A job is a function applied to parts 0..nparts-1. The caller and the
 * workers claim parts through one 64-bit word (job sequence, part count,
 * next part) with compare-and-swap; a claim made against an old sequence fails,
 * so a worker that wakes late cannot touch a finished job. The caller does
 * parts itself and then waits only for parts that were claimed and are not
 * finished yet, never for a worker that is still asleep: a slow wake-up
 * costs nothing but the help it would have given.
 *
 * Workers spin for a short while after a job (back-to-back hashes find them
 * awake), then sleep on a futex. One caller at a time owns the pool; a
 * second concurrent caller runs its job on its own thread.
 */
#include "pool.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "util/error.h"

#define SPIN_NS 200000 /* how long an idle worker stays awake */
#define MAX_THREADS 256

struct b3cas_pool {
	unsigned nthreads; /* caller included */
	pthread_t *workers;
	pthread_mutex_t owner; /* held by the caller running a job */

	_Atomic uint64_t claim;   /* seq << 32 | nparts << 16 | next part */
	_Atomic uint32_t wake;    /* futex word: bumped per job and at stop */
	_Atomic uint32_t sleepers;
	_Atomic uint32_t finished; /* parts done in the current job */
	_Atomic uint32_t done_wait; /* futex word: 0 running, 1 done, 2 the
				       caller sleeps until done */
	_Atomic int stop;

	/* Read only by a thread holding a claimed part of the current job;
	 * the caller rewrites them only after every part has finished. */
	b3_part_fn fn;
	void *arg;
};

#define CLAIM(seq, nparts, next)                                             \
	((uint64_t)(seq) << 32 | (uint64_t)(nparts) << 16 | (uint64_t)(next))
#define CLAIM_SEQ(c) ((uint32_t)((c) >> 32))
#define CLAIM_NPARTS(c) ((uint32_t)((c) >> 16) & 0xFFFF)
#define CLAIM_NEXT(c) ((uint32_t)(c)&0xFFFF)

static long futex(_Atomic uint32_t *addr, int op, uint32_t val)
{
	return syscall(SYS_futex, (uint32_t *)addr, op | FUTEX_PRIVATE_FLAG,
		       val, NULL, NULL, 0);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__)
	__builtin_ia32_pause();
#endif
}

/* Claim and run parts of job `seq` until none is left. */
static void run_parts(b3cas_pool *p, uint32_t seq)
{
	uint64_t c = atomic_load_explicit(&p->claim, memory_order_acquire);

	for (;;) {
		uint32_t nparts = CLAIM_NPARTS(c);

		if (CLAIM_SEQ(c) != seq || CLAIM_NEXT(c) >= nparts)
			return;
		if (!atomic_compare_exchange_weak_explicit(
			    &p->claim, &c, c + 1, memory_order_acq_rel,
			    memory_order_acquire))
			continue;
		p->fn(p->arg, CLAIM_NEXT(c));
		uint32_t f = atomic_fetch_add_explicit(&p->finished, 1,
						       memory_order_acq_rel);
		if (f + 1 == nparts &&
		    atomic_exchange(&p->done_wait, 1) == 2)
			futex(&p->done_wait, FUTEX_WAKE, 1);
		c = atomic_load_explicit(&p->claim, memory_order_acquire);
	}
}

static void *worker_main(void *arg)
{
	b3cas_pool *p = arg;
	/* Not the current value: a job or the stop may have been published
	 * before this thread got to run, and it must see them. */
	uint32_t seen = 0;

	for (;;) {
		uint64_t deadline = now_ns() + SPIN_NS;
		uint32_t w;
		unsigned spins = 0;

		while ((w = atomic_load_explicit(&p->wake,
						 memory_order_acquire)) ==
		       seen) {
			cpu_relax();
			if ((++spins & 255) == 0 && now_ns() > deadline) {
				atomic_fetch_add(&p->sleepers, 1);
				futex(&p->wake, FUTEX_WAIT, seen);
				atomic_fetch_sub(&p->sleepers, 1);
				deadline = now_ns() + SPIN_NS;
			}
		}
		if (atomic_load_explicit(&p->stop, memory_order_acquire))
			return NULL;
		seen = w;
		run_parts(p, w);
	}
}

int b3cas_pool_new(b3cas_pool **out, unsigned nthreads)
{
	b3cas_pool *p;
	int err = 0;

	B3CAS__NONNULL(out, "out");
	*out = NULL;
	if (nthreads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		nthreads = n > 0 ? (unsigned)n : 1;
	}
	if (nthreads > MAX_THREADS)
		return b3cas__error(B3CAS_EINVAL,
				    "thread pool of %u threads: at most %d",
				    nthreads, MAX_THREADS);
	p = calloc(1, sizeof(*p));
	if (!p)
		return b3cas__error(B3CAS_ENOMEM, "out of memory for pool");
	p->nthreads = nthreads;
	pthread_mutex_init(&p->owner, NULL);
	if (nthreads > 1) {
		p->workers = calloc(nthreads - 1, sizeof(pthread_t));
		if (!p->workers) {
			free(p);
			return b3cas__error(B3CAS_ENOMEM,
					    "out of memory for pool");
		}
	}
	for (unsigned i = 0; i + 1 < nthreads; i++) {
		err = pthread_create(&p->workers[i], NULL, worker_main, p);
		if (err) {
			p->nthreads = i + 1; /* stop the ones started */
			b3cas_pool_free(p);
			return b3cas__error(B3CAS_ERROR,
					    "cannot start pool thread %u: %s",
					    i + 1, strerror(err));
		}
	}
	*out = p;
	return 0;
}

void b3cas_pool_free(b3cas_pool *p)
{
	if (!p)
		return;
	atomic_store(&p->stop, 1);
	atomic_fetch_add(&p->wake, 1);
	futex(&p->wake, FUTEX_WAKE, MAX_THREADS);
	for (unsigned i = 0; i + 1 < p->nthreads; i++)
		pthread_join(p->workers[i], NULL);
	pthread_mutex_destroy(&p->owner);
	free(p->workers);
	free(p);
}

unsigned b3cas_pool_threads(const b3cas_pool *p)
{
	return p ? p->nthreads : 1;
}

void b3_pool_run(b3cas_pool *p, b3_part_fn fn, void *arg, uint32_t nparts)
{
	if (!p || p->nthreads < 2 || nparts < 2 || nparts > 0xFFFF ||
	    pthread_mutex_trylock(&p->owner) != 0) {
		for (uint32_t i = 0; i < nparts; i++)
			fn(arg, i);
		return;
	}
	uint32_t seq = atomic_load_explicit(&p->wake, memory_order_relaxed) + 1;

	p->fn = fn;
	p->arg = arg;
	atomic_store_explicit(&p->finished, 0, memory_order_relaxed);
	atomic_store_explicit(&p->done_wait, 0, memory_order_relaxed);
	atomic_store_explicit(&p->claim, CLAIM(seq, nparts, 0),
			      memory_order_release);
	/* seq_cst store, then load: a worker going to sleep either sees the
	 * new job or is counted in sleepers and gets woken. */
	atomic_store(&p->wake, seq);
	if (atomic_load(&p->sleepers) > 0)
		futex(&p->wake, FUTEX_WAKE, MAX_THREADS);

	run_parts(p, seq);

	/* Wait for parts other threads claimed; spin first, they are short. */
	uint64_t deadline = now_ns() + SPIN_NS;
	unsigned spins = 0;

	while (atomic_load_explicit(&p->finished, memory_order_acquire) !=
	       nparts) {
		uint32_t running = 0;

		cpu_relax();
		if ((++spins & 255) == 0 && now_ns() > deadline &&
		    atomic_compare_exchange_strong(&p->done_wait, &running, 2))
			futex(&p->done_wait, FUTEX_WAIT, 2);
	}
	pthread_mutex_unlock(&p->owner);
}
