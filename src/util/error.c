/*
 * util/error.c - the thread-local error message and the code table.
 *
 * Each thread has one fixed buffer; setting a message never allocates, so
 * reporting an out-of-memory failure cannot itself fail. A message longer
 * than the buffer (paths can be 4096 bytes, and a message may name two)
 * keeps its start, which says what failed, and its end, which names the
 * file and says why (the errno text), and loses the middle to "...".
 */
#include "util/error.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MESSAGE_MAX B3CAS__MESSAGE_MAX
/* Formatting room: two paths of PATH_MAX and words around them. */
#define FORMAT_MAX (2 * 4096 + 512)
#define ELLIPSIS "..."

static _Thread_local char last_message[MESSAGE_MAX];

/* Keep text (len bytes) as the message, cutting its middle if needed. */
static void set_message(const char *text, size_t len)
{
	size_t head, tail, room = MESSAGE_MAX - sizeof(ELLIPSIS);

	if (len < MESSAGE_MAX) {
		memcpy(last_message, text, len + 1);
		return;
	}
	/* A third for the start, the rest for the end; never split a
	 * UTF-8 sequence (a continuation byte is 10xxxxxx). */
	head = room / 3;
	while (head > 0 && ((unsigned char)text[head] & 0xc0) == 0x80)
		head--;
	tail = room - head;
	while (tail > 0 && ((unsigned char)text[len - tail] & 0xc0) == 0x80)
		tail--;
	memcpy(last_message, text, head);
	memcpy(last_message + head, ELLIPSIS, sizeof(ELLIPSIS) - 1);
	memcpy(last_message + head + sizeof(ELLIPSIS) - 1, text + len - tail,
	       tail);
	last_message[head + sizeof(ELLIPSIS) - 1 + tail] = '\0';
}

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

/* The length vsnprintf wrote into a buffer of cap bytes (n it returned). */
static size_t written(int n, size_t cap)
{
	if (n < 0)
		return 0;
	return (size_t)n < cap ? (size_t)n : cap - 1;
}

int b3cas__error(int code, const char *fmt, ...)
{
	char text[FORMAT_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	set_message(text, written(n, sizeof(text)));
	return code;
}

int b3cas__error_errno(int errnum, const char *fmt, ...)
{
	char text[FORMAT_MAX + 256];
	size_t len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, FORMAT_MAX, fmt, ap);
	va_end(ap);
	len = written(n, FORMAT_MAX);
	/* strerror_r (XSI or GNU) is avoided: strerror is safe for reading
	 * with glibc's static table of known errnos. The errno text always
	 * fits: the end of a message is what is kept. "disk full" is what a
	 * user looks for, whatever the layer that met it. */
	n = snprintf(text + len, sizeof(text) - len, ": %s%s",
		     strerror(errnum),
		     errnum == ENOSPC || errnum == EDQUOT ? " (disk full)" : "");
	len += written(n, sizeof(text) - len);
	set_message(text, len);
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

int b3cas__check_version(unsigned got, unsigned min, unsigned max,
			 const char *what)
{
	char upper[32], range[48];
	size_t i;

	if (got >= min && got <= max)
		return 0;
	for (i = 0; what[i] && i < sizeof(upper) - 1; i++)
		upper[i] = (char)toupper((unsigned char)what[i]);
	upper[i] = '\0';
	if (min == max)
		snprintf(range, sizeof(range), "%u", max);
	else
		snprintf(range, sizeof(range), "from %u to %u", min, max);
	return b3cas__error(B3CAS_EINVAL,
			    "%s options version %u is not %s: initialise them "
			    "with B3CAS_%s_OPTIONS_INIT",
			    what, got, range, upper);
}

const char *b3cas_error_last(void)
{
	return last_message;
}

void b3cas_error_clear(void)
{
	last_message[0] = '\0';
}

int b3cas_error_set(int code, const char *message)
{
	if (!message)
		message = "";
	set_message(message, strlen(message));
	return code;
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
	case B3CAS_ECANCELED: return "canceled";
	default: return "unknown error";
	}
}

const char *b3cas_version(void)
{
	return B3CAS_VERSION_STRING;
}
