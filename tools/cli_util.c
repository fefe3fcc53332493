/*
 * cli_util.c - messages, number parsing and I/O loops shared by the b3cas
 * subcommands.
 */
#include "cli.h"

#include "b3cas/integrity.h"
#include "b3cas/store.h"
#include "b3cas/tree.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* "b3cas: <message>" on stderr, after whatever stdout still holds, and on
 * a line of its own rather than after a progress line. The line is one
 * write under stderr's lock: put's workers fail on many files at once,
 * and unbuffered pieces of their lines came out interleaved. */
static void vmessage(const char *fmt, va_list ap)
	__attribute__((format(printf, 1, 0)));

static void vmessage(const char *fmt, va_list ap)
{
	char small[1024], *line = small;
	va_list again;
	int n;

	/* Interrupted: the failures that follow are the signal's doing. */
	if (cli_interrupted())
		return;
	va_copy(again, ap);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	if (n >= (int)sizeof(small)) {
		line = malloc((size_t)n + 1);
		if (line)
			vsnprintf(line, (size_t)n + 1, fmt, again);
		else
			line = small; /* cut short rather than lost */
	}
	va_end(again);
	flockfile(stderr);
	fflush(stdout);
	cli_progress_clear();
	fprintf(stderr, "b3cas: %s\n", n < 0 ? fmt : line);
	funlockfile(stderr);
	if (line != small)
		free(line);
}

void cli_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try 'b3cas %s%s--help' for more information.\n",
		cmd ? cmd : "", cmd ? " " : "");
	return CLI_USAGE;
}

bool cli_parse_duration(uint64_t *ns_out, const char *text)
{
	static const struct {
		const char *suffix;
		uint64_t ns;
	} units[] = {
		{"ms", 1000000ull}, {"s", 1000000000ull},
		{"m", 60000000000ull}, {"h", 3600000000000ull},
		{"d", 86400000000000ull}, {"", 1000000000ull},
	};
	char *end;
	unsigned long long n;

	if (text[0] < '0' || text[0] > '9')
		return false;
	errno = 0;
	n = strtoull(text, &end, 10);
	if (errno)
		return false;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix) != 0)
			continue;
		if (n > UINT64_MAX / units[i].ns)
			return false;
		*ns_out = n * units[i].ns;
		return true;
	}
	return false;
}

bool cli_parse_wait(unsigned *ms_out, const char *text)
{
	uint64_t ns;

	if (!text) {
		*ms_out = B3CAS_LOCK_WAIT_FOREVER;
		return true;
	}
	if (!cli_parse_duration(&ns, text)) {
		cli_usage_error(NULL, "invalid --wait '%s': give a duration "
				"such as 500ms, 10s or 2m, or plain --wait to "
				"wait as long as it takes", text);
		return false;
	}
	/* Rounded up: --wait=1ms must wait, not fail at once. */
	if ((ns + 999999) / 1000000 >= B3CAS_LOCK_WAIT_FOREVER) {
		cli_usage_error(NULL, "--wait '%s' is too long (at most 49 "
				"days; plain --wait waits as long as it "
				"takes)", text);
		return false;
	}
	*ms_out = (unsigned)((ns + 999999) / 1000000);
	return true;
}

bool cli_parse_u64(uint64_t *out, const char *text)
{
	uint64_t v = 0;
	const char *p = text;

	if (*p == '+')
		p++;
	if (*p == '\0')
		return false;
	for (; *p; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

bool cli_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		p += n;
		len -= (size_t)n;
	}
	return true;
}

long long cli_read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (long long)got;
}

/* ---- progress on a terminal ---- */

static int progress_tty = -1; /* unknown yet */
static bool progress_shown;

static bool progress_wanted(void)
{
	if (progress_tty < 0)
		progress_tty = isatty(STDERR_FILENO);
	return progress_tty == 1;
}

/* End a progress line: the time left (from frac, the share done, when it
 * says enough), then a newline if final. */
static void progress_end(double frac, double seconds, bool final)
{
	if (!final && frac > 0.01 && frac < 1)
		fprintf(stderr, ", about %.0f s left",
			seconds * (1 - frac) / frac);
	if (final) {
		fputc('\n', stderr);
		progress_shown = false;
	} else {
		progress_shown = true;
	}
	fflush(stderr);
}

void cli_progress(const char *what, const b3cas_progress *p, bool final)
{
	double rate = p->seconds > 0 ? (double)p->bytes / p->seconds : 0;
	double frac = p->total ? (double)p->done / (double)p->total : 0;

	if (!progress_wanted())
		return;
	fprintf(stderr, "\r\033[K%s: ", what);
	if (p->total)
		fprintf(stderr, "%3.0f%% ", 100.0 * frac);
	fprintf(stderr, "%llu", (unsigned long long)p->done);
	if (p->total)
		fprintf(stderr, " of ~%llu", (unsigned long long)p->total);
	fprintf(stderr, " objects, %.2f GB, %.0f MB/s",
		(double)p->bytes / 1e9, rate / 1e6);
	progress_end(frac, p->seconds, final);
}

void cli_progress_bytes(const char *what, uint64_t bytes, uint64_t total,
			double seconds, bool final)
{
	double rate = seconds > 0 ? (double)bytes / seconds : 0;
	double frac = total ? (double)bytes / (double)total : 0;

	if (!progress_wanted())
		return;
	fprintf(stderr, "\r\033[K%s: ", what);
	if (total)
		fprintf(stderr, "%3.0f%% %.2f of %.2f GB", 100.0 * frac,
			(double)bytes / 1e9, (double)total / 1e9);
	else
		fprintf(stderr, "%.2f GB", (double)bytes / 1e9);
	fprintf(stderr, ", %.0f MB/s", rate / 1e6);
	progress_end(frac, seconds, final);
}

void cli_progress_files(const char *what, const b3cas_tree_progress *p,
			bool final)
{
	double rate = p->seconds > 0 ? (double)p->bytes / p->seconds : 0;
	double frac = p->walked && p->bytes_total
			      ? (double)p->bytes / (double)p->bytes_total
			      : 0;

	if (!progress_wanted())
		return;
	fprintf(stderr, "\r\033[K%s: ", what);
	if (p->walked)
		fprintf(stderr, "%3.0f%% %llu of %llu files, %.2f of %.2f GB",
			100.0 * frac, (unsigned long long)p->files,
			(unsigned long long)p->files_total,
			(double)p->bytes / 1e9, (double)p->bytes_total / 1e9);
	else
		fprintf(stderr, "%llu files, %.2f GB", (unsigned long long)p->files,
			(double)p->bytes / 1e9);
	fprintf(stderr, ", %.0f MB/s", rate / 1e6);
	progress_end(frac, p->seconds, final);
}

void cli_progress_clear(void)
{
	if (progress_shown && progress_wanted()) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		progress_shown = false;
	}
}
