/*
 * util/error.c - the thread-local error message and the code table.
 *
 * Each thread has one fixed buffer; setting a message never allocates, so
 * reporting an out-of-memory failure cannot itself fail.
 */
#include "util/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MESSAGE_MAX 1024

static _Thread_local char last_message[MESSAGE_MAX];

static int errno_to_code(int errnum)
{
	switch (errnum) {
	case ENOENT:
	case ENOTDIR:
		return B3CAS_ENOTFOUND;
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		return B3CAS_ENOSPC;
	case EACCES:
	case EPERM:
	case EROFS:
		return B3CAS_EPERM;
	case ENOMEM:
		return B3CAS_ENOMEM;
	case EEXIST:
		return B3CAS_EEXISTS;
	case EINVAL:
		return B3CAS_EINVAL;
	case EBUSY:
	case EAGAIN:
		return B3CAS_EBUSY;
	default:
		return B3CAS_EIO;
	}
}

int b3cas__error(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_message, sizeof(last_message), fmt, ap);
	va_end(ap);
	return code;
}

int b3cas__error_errno(int errnum, const char *fmt, ...)
{
	char errbuf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(last_message, sizeof(last_message), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n < sizeof(last_message)) {
		/* strerror_r (XSI or GNU) is avoided: strerror is safe for
		 * reading with glibc's static table of known errnos. */
		snprintf(errbuf, sizeof(errbuf), "%s", strerror(errnum));
		snprintf(last_message + n, sizeof(last_message) - (size_t)n,
			 ": %s", errbuf);
	}
	return errno_to_code(errnum);
}

int b3cas__error_null(const char *func, const char *name)
{
	return b3cas__error(B3CAS_EINVAL, "%s: %s is NULL", func, name);
}

int b3cas__error_null_len(const char *func, const char *name,
			  const char *len_name, size_t len)
{
	return b3cas__error(B3CAS_EINVAL, "%s: %s is NULL but %s is %zu",
			    func, name, len_name, len);
}

const char *b3cas_error_last(void)
{
	return last_message;
}

void b3cas_error_clear(void)
{
	last_message[0] = '\0';
}

const char *b3cas_strerror(int code)
{
	switch (code) {
	case B3CAS_OK: return "success";
	case B3CAS_ERROR: return "internal error";
	case B3CAS_EINVAL: return "invalid argument";
	case B3CAS_ENOMEM: return "out of memory";
	case B3CAS_EIO: return "input/output error";
	case B3CAS_ENOTFOUND: return "not found";
	case B3CAS_EEXISTS: return "already exists";
	case B3CAS_ECORRUPT: return "corrupt data";
	case B3CAS_ELOCKED: return "store is locked by another process";
	case B3CAS_ENOSPC: return "no space left on device";
	case B3CAS_EPERM: return "permission denied";
	case B3CAS_EFORMAT: return "unsupported format";
	case B3CAS_EUNSUPPORTED: return "not supported";
	case B3CAS_EBUSY: return "resource busy";
	case B3CAS_ERANGE: return "value out of range";
	case B3CAS_ECLOSED: return "handle closed";
	default: return "unknown error";
	}
}

const char *b3cas_version(void)
{
	return B3CAS_VERSION_STRING;
}
