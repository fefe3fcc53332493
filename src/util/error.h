/*
 * util/error.h - setting the thread-local error message that
 * b3cas_error_last() returns. Every layer reports failures through here:
 * record the detail, return the negative code unchanged.
 */
#ifndef B3CAS_UTIL_ERROR_H
#define B3CAS_UTIL_ERROR_H

#include "b3cas/common.h"

/*
 * The size of the message buffer (with its NUL): a copy of a message
 * (b3cas_error_last) kept while another is made should be this large, or
 * it loses the message's end, which names the file and the reason.
 */
#define B3CAS__MESSAGE_MAX 1024

/* Record a formatted message for this thread and return code. A message
 * too long for the buffer loses its middle (util/error.c). */
int b3cas__error(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Map an errno value to a B3CAS_E... code, record "<what>: <strerror>"
 * (with " (disk full)" after ENOSPC and EDQUOT) and return the code:
 *   ENOENT, ENOTDIR        -> B3CAS_ENOTFOUND
 *   ENOSPC, EDQUOT, EFBIG  -> B3CAS_ENOSPC
 *   EACCES, EPERM, EROFS   -> B3CAS_EPERM
 *   ENOMEM                 -> B3CAS_ENOMEM
 *   EEXIST                 -> B3CAS_EEXISTS
 *   EINVAL                 -> B3CAS_EINVAL
 *   EBUSY, EAGAIN          -> B3CAS_EBUSY
 *   anything else          -> B3CAS_EIO
 * (tests/util/test_error.c holds this table too.)
 */
int b3cas__error_errno(int errnum, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * The check every public function taking an options struct makes first
 * (the rule is stated in include/b3cas/common.h): got is the struct's
 * version field, min..max the versions this library reads. Returns 0, or
 * B3CAS_EINVAL with the message "<what> options version <got> is not
 * <max>: initialise them with B3CAS_<WHAT>_OPTIONS_INIT" (the range when
 * min < max). what is the struct's word in lower case: "store", "gc".
 */
int b3cas__check_version(unsigned got, unsigned min, unsigned max,
			 const char *what);

/*
 * Argument checks at the top of public functions (the rule is stated in
 * include/b3cas/common.h): a required pointer that is NULL makes the call
 * fail before anything is touched, with B3CAS_EINVAL and the message
 * "<function>: <argument> is NULL". name is the argument's name in the
 * public header, which need not be the parameter's name in the body.
 */
int b3cas__error_null(const char *func, const char *name);
/* The same for a buffer given with a non-zero length. */
int b3cas__error_null_len(const char *func, const char *name,
			  const char *len_name, size_t len);

#define B3CAS__NONNULL(ptr, name)                                    \
	do {                                                         \
		if (!(ptr))                                          \
			return b3cas__error_null(__func__, name);    \
	} while (0)

/* data may be NULL only when len is 0. */
#define B3CAS__NONNULL_LEN(data, name, len, len_name)                \
	do {                                                         \
		if (!(data) && (len) != 0)                           \
			return b3cas__error_null_len(__func__, name, \
						     len_name, (len)); \
	} while (0)

/*
 * For functions that return something else than an error code: record
 * the same message and return failed (the function's documented value
 * for misuse), or, in a void function, just return.
 */
#define B3CAS__NONNULL_OR(ptr, name, failed)                         \
	do {                                                         \
		if (!(ptr)) {                                        \
			b3cas__error_null(__func__, name);           \
			return failed;                               \
		}                                                    \
	} while (0)

#define B3CAS__NONNULL_VOID(ptr, name)                               \
	do {                                                         \
		if (!(ptr)) {                                        \
			b3cas__error_null(__func__, name);           \
			return;                                      \
		}                                                    \
	} while (0)

#define B3CAS__NONNULL_LEN_VOID(data, name, len, len_name)           \
	do {                                                         \
		if (!(data) && (len) != 0) {                         \
			b3cas__error_null_len(__func__, name,        \
					      len_name, (len));      \
			return;                                      \
		}                                                    \
	} while (0)

#endif
