/*
 * cli_signal.c - SIGINT, SIGTERM and SIGHUP: clean up, then die of the
 * signal, so that an interrupted command leaves no staging file and no
 * half-written output file, and the shell sees 128 + the signal's number
 * (130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP).
 *
 * A signal handler may only call async-signal-safe functions, and
 * stopping a store's writes is not one; so no handler runs. The signals
 * are blocked before any thread starts (threads inherit the mask), and
 * one thread waits for them with sigwait. On a signal it takes the
 * registry lock and never gives it back, so the main thread can register,
 * forget or close nothing more and cannot exit on its own; it interrupts
 * each registered store (b3cas_store_interrupt: writes in flight end,
 * later ones fail, staging files go, what was written is made durable),
 * removes the registered temporary files (get -o), writes out what
 * standard output holds unless a line is being written, and dies of the
 * signal. Messages the main thread would print from then on (the writes
 * that now fail) are dropped.
 *
 * A signal that was ignored when b3cas started (nohup, a background job
 * of a script) stays ignored.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "cli.h"

#define MAX_STORES 4
#define MAX_FILES 4

static const int handled[] = {SIGINT, SIGTERM, SIGHUP};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static b3cas_store *stores[MAX_STORES];
static char *files[MAX_FILES];
static sigset_t waited;
static atomic_bool interrupted;

bool cli_interrupted(void)
{
	return atomic_load(&interrupted);
}

/* Print standard output's last whole lines, unless a line is being
 * written (the main thread holds the stream): never block on it. */
static void flush_stdout(void)
{
	if (ftrylockfile(stdout) != 0)
		return;
	fflush(stdout);
	funlockfile(stdout);
}

static _Noreturn void die_of(int sig)
{
	sigset_t one;

	signal(sig, SIG_DFL);
	sigemptyset(&one);
	sigaddset(&one, sig);
	pthread_sigmask(SIG_UNBLOCK, &one, NULL);
	raise(sig);
	_exit(128 + sig); /* not reached: the signal ends the process */
}

static void *signal_main(void *arg)
{
	int sig;

	(void)arg;
	while (sigwait(&waited, &sig) != 0)
		;
	atomic_store(&interrupted, true);
	pthread_mutex_lock(&reg_lock); /* for good */
	for (int i = 0; i < MAX_STORES; i++)
		if (stores[i])
			b3cas_store_interrupt(stores[i]);
	for (int i = 0; i < MAX_FILES; i++)
		if (files[i])
			unlink(files[i]);
	flush_stdout();
	die_of(sig);
}

void cli_signals_start(void)
{
	pthread_t thread;
	sigset_t old;

	sigemptyset(&waited);
	for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++) {
		struct sigaction sa;

		if (sigaction(handled[i], NULL, &sa) == 0 &&
		    sa.sa_handler != SIG_IGN)
			sigaddset(&waited, handled[i]);
	}
	pthread_sigmask(SIG_BLOCK, &waited, &old);
	if (pthread_create(&thread, NULL, signal_main, NULL) != 0) {
		/* Without the thread, the signals keep their usual effect. */
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return;
	}
	pthread_detach(thread);
}

void cli_signals_end(void)
{
	/* Once interrupted, the signal thread holds the lock: wait here for
	 * it to end the process. Otherwise a late signal waits for exit. */
	pthread_mutex_lock(&reg_lock);
}

void cli_cleanup_lock(void)
{
	pthread_mutex_lock(&reg_lock);
}

void cli_cleanup_unlock(void)
{
	pthread_mutex_unlock(&reg_lock);
}

void cli_cleanup_add_store(b3cas_store *store)
{
	cli_cleanup_lock();
	for (int i = 0; i < MAX_STORES; i++)
		if (!stores[i]) {
			stores[i] = store;
			break;
		}
	cli_cleanup_unlock();
}

void cli_cleanup_forget_store_locked(b3cas_store *store)
{
	for (int i = 0; i < MAX_STORES; i++)
		if (stores[i] == store)
			stores[i] = NULL;
}

bool cli_cleanup_add_file_locked(const char *path)
{
	for (int i = 0; i < MAX_FILES; i++)
		if (!files[i])
			return (files[i] = strdup(path)) != NULL;
	return false;
}

void cli_cleanup_forget_file_locked(const char *path)
{
	for (int i = 0; i < MAX_FILES; i++)
		if (files[i] && strcmp(files[i], path) == 0) {
			free(files[i]);
			files[i] = NULL;
		}
}
