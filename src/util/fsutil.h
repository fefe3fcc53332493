/*
 * util/fsutil.h - file helpers every layer above shares: whole reads and
 * writes that survive EINTR and short transfers, fsync of a folder, and
 * making folders. Failures are reported through util/error.h with the path
 * in the message.
 */
#ifndef B3CAS_UTIL_FSUTIL_H
#define B3CAS_UTIL_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Write all len bytes to fd. 0 or a B3CAS_E code naming path. */
int b3cas__write_all(int fd, const void *buf, size_t len, const char *path);

/* The same without a message: 0, or -1 with errno set, for a caller that
 * must leave the thread's message alone (a cache copy). */
int b3cas__write_quiet(int fd, const void *buf, size_t len);

/*
 * Read exactly len bytes at offset off. A file shorter than that gives
 * B3CAS_ECORRUPT ("truncated"); 0 or a B3CAS_E code naming path.
 */
int b3cas__pread_exact(int fd, void *buf, size_t len, uint64_t off,
		       const char *path);

/* fsync fd; 0 or a B3CAS_E code naming path. */
int b3cas__fsync(int fd, const char *path);

/* Open folder path and fsync it, making renames and creations in it
 * durable. */
int b3cas__fsync_dir(const char *path);

/* mkdir path (mode 0755) unless it already is a folder. */
int b3cas__mkdir(const char *path);

/*
 * Open folder name under folder at without following a symbolic link in
 * its last part: the descriptor, or a negative code. A link or a non-folder
 * gives B3CAS_EFORMAT ("<where>/<name> is a symbolic link ..."), so a store
 * never works inside a folder it did not make. where names at in messages.
 */
int b3cas__open_dir_at(int at, const char *name, const char *where);

/* mkdirat name (mode 0755) unless it already is a folder; an existing
 * symbolic link or file of that name is B3CAS_EFORMAT. */
int b3cas__mkdir_at(int at, const char *name, const char *where);

/*
 * Remove from folder dir_fd the entries that ours(name) accepts and that
 * are not folders: a store's staging files left by a crash. Everything
 * else (a folder, someone's notes) is left alone. where names dir_fd in
 * messages.
 */
int b3cas__clear_staging(int dir_fd, const char *where,
			 bool (*ours)(const char *name));

/* Allocate with an error message on failure. */
void *b3cas__malloc(size_t len);

#endif
