/*
 * util/holder.h - naming the process that holds a lock on a file, so that
 * "in use" messages name a live process rather than a stale record.
 */
#ifndef B3CAS_UTIL_HOLDER_H
#define B3CAS_UTIL_HOLDER_H

#include <stdbool.h>
#include <sys/types.h>

/*
 * The pid of a live process holding a write lock (flock, POSIX or OFD
 * record lock) on the file or folder with this device and inode, as the
 * kernel lists it in /proc/locks; 0 when none is listed, the list cannot
 * be read (no /proc), or the lock's owner is not visible from here (another
 * pid namespace, or an OFD lock, which has no owning process). Sets no
 * error message.
 */
long b3cas__lock_holder(dev_t dev, ino_t ino);

/* true when process pid exists (it may belong to another user). */
bool b3cas__pid_alive(long pid);

#endif
