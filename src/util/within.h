/*
 * util/within.h - is one folder the same as, or inside, another? Decided
 * by device and inode number walking up "..", never by comparing path
 * strings, so symlinks, "..", bind-equal spellings and trailing slashes
 * cannot hide that a backup's destination or a mirror is the store
 * itself or a folder inside it.
 */
#ifndef B3CAS_UTIL_WITHIN_H
#define B3CAS_UTIL_WITHIN_H

#include <stdbool.h>
#include <sys/stat.h>

/*
 * Set *out to whether path is the folder dir (its stat) or lies below it.
 * A path that does not exist yet is judged by its nearest existing
 * ancestor (where it would be made); a path to a file, by its folder.
 * Returns 0, or B3CAS_EIO/B3CAS_EPERM/B3CAS_ENOMEM with a message when an
 * ancestor cannot be looked at.
 */
int b3cas__path_within(const char *path, const struct stat *dir, bool *out);

/* b3cas__path_within with dir given as a path that exists (its stat is
 * taken following links); *out false when dir does not exist. */
int b3cas__path_within_path(const char *path, const char *dir, bool *out);

#endif
