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
 * Map an errno value to a B3CAS_E... code, record "<what>: <strerror>" and
 * return the code. ENOENT -> ENOTFOUND, ENOSPC/EDQUOT -> ENOSPC,
 * EACCES/EPERM/EROFS -> EPERM, ENOMEM -> ENOMEM, EEXIST -> EEXISTS,
 * anything else -> EIO.
 */
int b3cas__error_errno(int errnum, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
