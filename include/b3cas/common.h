/*
 * b3cas/common.h - what every b3cas module shares: the export macro, the
 * library version, error codes and the thread-local error message.
 *
 * Every b3cas function that can fail returns 0 on success or one of the
 * negative B3CAS_E... codes below. The detail (a path, errno's text, a
 * RocksDB message) is kept in a per-thread message that b3cas_error_last()
 * returns. The library never prints and never exits.
 */
#ifndef B3CAS_COMMON_H
#define B3CAS_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(B3CAS_BUILDING_LIBRARY) && defined(__GNUC__)
#define B3CAS_EXTERN __attribute__((visibility("default")))
#else
#define B3CAS_EXTERN
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define B3CAS_VERSION_MAJOR 0
#define B3CAS_VERSION_MINOR 1
#define B3CAS_VERSION_PATCH 0
#define B3CAS_VERSION_STRING "0.1.0"

/* Error codes. Values are stable: they are part of the ABI. */
enum {
	B3CAS_OK = 0,
	B3CAS_ERROR = -1,        /* unexpected internal failure */
	B3CAS_EINVAL = -2,       /* invalid argument or malformed input */
	B3CAS_ENOMEM = -3,       /* out of memory */
	B3CAS_EIO = -4,          /* I/O error from the operating system */
	B3CAS_ENOTFOUND = -5,    /* no such object or file */
	B3CAS_EEXISTS = -6,      /* already exists */
	B3CAS_ECORRUPT = -7,     /* stored data does not match its id */
	B3CAS_ELOCKED = -8,      /* another process holds the store lock */
	B3CAS_ENOSPC = -9,       /* no space left on the device */
	B3CAS_EPERM = -10,       /* permission denied */
	B3CAS_EFORMAT = -11,     /* unknown or incompatible on-disk format */
	B3CAS_EUNSUPPORTED = -12,/* not supported here (CPU, platform, mode) */
	B3CAS_EBUSY = -13,       /* resource busy, try again */
	B3CAS_ERANGE = -14,      /* value out of range (counter overflow, length) */
	B3CAS_ECLOSED = -15      /* handle already closed or aborted */
};

/*
 * The message describing the most recent failure on the calling thread, or
 * "" if there was none. The string is owned by the library and stays valid
 * until the next b3cas call on the same thread.
 */
B3CAS_EXTERN const char *b3cas_error_last(void);

/* Forget the calling thread's last error message. */
B3CAS_EXTERN void b3cas_error_clear(void);

/*
 * A short, static, English description of an error code ("invalid
 * argument"). Unknown codes give "unknown error". Never NULL.
 */
B3CAS_EXTERN const char *b3cas_strerror(int code);

/* The library's version string, e.g. "0.1.0". */
B3CAS_EXTERN const char *b3cas_version(void);

#ifdef __cplusplus
}
#endif

#endif
