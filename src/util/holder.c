/*
 * util/holder.c - who holds a lock, from the kernel's own list of file
 * locks (/proc/locks).
 *
 * Why the kernel's list: a pid that a lock holder writes into a file is a
 * record, and a record can be stale (a holder that died, one that has the
 * lock but has not yet written its pid). The kernel's list names the
 * process that took each lock that is held right now. It is read only to
 * word an error message, so any failure just means "not known".
 *
 * A line reads "1: FLOCK  ADVISORY  WRITE 14270 fe:00:10954616 0 EOF"
 * (id, kind, mode, access, pid, major:minor:inode in hex:hex:decimal, ...);
 * a process blocked waiting for a lock gets a line with "->" after the id,
 * which is not a holder.
 */
#include "util/holder.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

/* The holder named by one line of /proc/locks, or 0. */
static long line_holder(const char *line, unsigned major_want,
			unsigned minor_want, unsigned long ino_want)
{
	char kind[16], mode[16], access[16];
	unsigned maj, min;
	unsigned long ino;
	long pid;

	if (strstr(line, "->"))
		return 0; /* a waiter */
	if (sscanf(line, "%*d: %15s %15s %15s %ld %x:%x:%lu", kind, mode,
		   access, &pid, &maj, &min, &ino) != 7)
		return 0;
	if (strcmp(access, "WRITE") != 0 || pid <= 0)
		return 0;
	if (maj != major_want || min != minor_want || ino != ino_want)
		return 0;
	return pid;
}

long b3cas__lock_holder(dev_t dev, ino_t ino)
{
	FILE *f = fopen("/proc/locks", "re");
	char *line = NULL;
	size_t cap = 0;
	long pid = 0;

	if (!f)
		return 0;
	while (pid == 0 && getline(&line, &cap, f) > 0) {
		pid = line_holder(line, major(dev), minor(dev),
				  (unsigned long)ino);
		/* A holder that exited while a child it forked keeps the
		 * lock is listed under the dead pid: not a name to give. */
		if (pid && !b3cas__pid_alive(pid))
			pid = 0;
	}
	free(line);
	fclose(f);
	return pid;
}

bool b3cas__pid_alive(long pid)
{
	if (pid <= 0)
		return false;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}
