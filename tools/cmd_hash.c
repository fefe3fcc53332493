/*
 * cmd_hash.c - `b3cas hash`: print or check BLAKE3 hashes of files, a
 * drop-in for b3sum 1.2.0. Standard output is byte-for-byte what b3sum
 * prints for the same arguments; the exit codes follow b3cas (usage errors
 * exit 2 where b3sum exits 1, see docs/cli.md).
 *
 * Large regular files are mapped into memory and hashed in one call
 * through a thread pool (all cores unless --num-threads says otherwise);
 * everything else is read in large blocks. The pool is created once, on
 * the first input large enough to use it.
 *
 * A mapped file that another process truncates under us would end the
 * program with SIGBUS (as it ends b3sum). A handler turns that into an
 * error for that file instead: see "Files that shrink" below.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "cli.h"

#define READ_BLOCK (1u << 20)        /* read() size: whole subtrees */
#define MMAP_MIN (128u * 1024)       /* smaller files are simply read */
#define OUT_PIECE 4096               /* XOF output is produced in pieces */
#define PREFAULT_MIN (32u << 20)     /* mapped files worth a prefault thread */
#define PREFAULT_STEP (4u << 20)     /* pages mapped per madvise call */

typedef struct hash_opts {
	const char *length_text; /* --length as given, or NULL */
	uint64_t length;
	bool keyed;
	uint8_t key[B3CAS_KEY_LEN];
	const char *context; /* --derive-key */
	bool no_names;
	bool raw;
	bool check;
	bool quiet;
	bool no_mmap;
	uint64_t threads; /* 0: all CPUs */
} hash_opts;

typedef struct hash_run {
	hash_opts o;
	b3cas_pool *pool; /* created lazily */
	bool pool_failed;
	uint8_t *buf;     /* READ_BLOCK bytes, for read() */
} hash_run;

static const cli_opt hash_table[] = {
	CLI_FLAG("check", 'c', hash_opts, check,
		 "read BLAKE3 sums from the FILEs and check them"),
	CLI_FLAG("quiet", 0, hash_opts, quiet,
		 "with --check: do not print OK for matching files"),
	CLI_VALUE("length", 'l', "LEN", hash_opts, length_text, NULL,
		  "output bytes before hex encoding (default 32)"),
	CLI_FLAG("keyed", 0, hash_opts, keyed,
		 "keyed mode; the 32-byte key is read from stdin"),
	CLI_VALUE("derive-key", 0, "CTX", hash_opts, context, NULL,
		  "key derivation mode with context string CTX"),
	CLI_FLAG("no-names", 0, hash_opts, no_names,
		 "omit file names in the output"),
	CLI_FLAG("raw", 0, hash_opts, raw,
		 "write raw output bytes (one input only)"),
	CLI_NUMBER("num-threads", 0, "N", hash_opts, threads, 0, 256,
		  "use at most N threads (0: all CPUs)"),
	CLI_FLAG("no-mmap", 0, hash_opts, no_mmap,
		 "read files instead of mapping them"),
	CLI_ARGS("FILE", false, NULL, "a file to hash; '-' is standard input"),
	CLI_END,
};

const cli_spec cmd_hash_spec = {
	.name = "hash",
	.summary = "print or check BLAKE3 hashes of files (like b3sum)",
	.about = "Print or check BLAKE3 hashes, like b3sum. With no FILE, or "
		 "when FILE is -,\nread standard input.\n",
	.exits = "Exit codes: 0 all good, 1 a file could not be read or a "
		 "check failed,\n2 usage error.\n",
	.opts = hash_table,
};

/* ---- hashing one input ---- */

static void hasher_start(b3cas_hasher *h, const hash_opts *o)
{
	if (o->keyed)
		b3cas_hasher_init_keyed(h, o->key);
	else if (o->context)
		b3cas_hasher_init_derive_key(h, o->context);
	else
		b3cas_hasher_init(h);
}

static b3cas_pool *get_pool(hash_run *r)
{
	if (r->o.threads == 1 || r->pool_failed)
		return NULL;
	if (!r->pool &&
	    b3cas_pool_new(&r->pool, (unsigned)r->o.threads) != 0) {
		/* Not fatal: hash on one thread. */
		cli_error("warning: no thread pool (%s); using one thread",
			  b3cas_error_last());
		r->pool_failed = true;
	}
	return r->pool;
}

static int hash_fd_read(hash_run *r, b3cas_hasher *h, int fd)
{
	for (;;) {
		long long n = cli_read_full(fd, r->buf, READ_BLOCK);

		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		b3cas_hasher_update_parallel(h, r->buf, (size_t)n,
					     n >= 2 * MMAP_MIN ? get_pool(r)
							      : NULL);
		if ((size_t)n < READ_BLOCK)
			return 0;
	}
}

/*
 * Mapping a file's pages (even from the page cache) costs about as much
 * system time as hashing them costs user time. With one hashing thread the
 * mapping is populated up front; with a pool, a prefault thread maps the
 * pages front to back while the pool hashes behind it, so the two overlap
 * (a page the hashers reach first is simply faulted in by them).
 */
typedef struct prefault {
	uint8_t *map;
	size_t size;
	atomic_bool stop;
} prefault;

static void *prefault_run(void *arg)
{
	prefault *p = arg;

	for (size_t off = 0; off < p->size && !atomic_load(&p->stop);
	     off += PREFAULT_STEP) {
		size_t n = p->size - off < PREFAULT_STEP ? p->size - off
							 : PREFAULT_STEP;

		if (madvise(p->map + off, n, MADV_POPULATE_READ) != 0)
			break; /* old kernel: the hashers fault pages in */
	}
	return NULL;
}

/*
 * Files that shrink. Reading a mapped page past the end of a file that
 * was truncated after it was mapped raises SIGBUS, in whichever thread of
 * the pool touched it. Only one file is mapped at a time; while it is,
 * the handler replaces a faulting page inside its mapping with a page of
 * zeros (the read then goes on) and notes that the file shrank, and the
 * file is reported as changed instead of given a hash. A SIGBUS anywhere
 * else is a real fault: the handler restores the default action and
 * returns, so the access faults again and ends the program as before.
 */
#define HASH_SHRANK (-1000000) /* hash_input: not an errno */

#define SHRANK_TEXT "the file shrank while it was read"

static _Atomic(uintptr_t) guard_start;
static atomic_size_t guard_size;
static atomic_bool guard_hit;
static size_t guard_page; /* set before the handler is installed */

static void guard_sigbus(int sig, siginfo_t *info, void *ctx)
{
	uintptr_t start = atomic_load(&guard_start);
	uintptr_t addr = (uintptr_t)info->si_addr;
	size_t page = guard_page;

	(void)ctx;
	if (start != 0 && addr >= start &&
	    addr - start < atomic_load(&guard_size) &&
	    mmap((void *)(addr & ~(uintptr_t)(page - 1)), page, PROT_READ,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) !=
		    MAP_FAILED) {
		atomic_store(&guard_hit, true);
		return;
	}
	signal(sig, SIG_DFL);
}

static void guard_install(void)
{
	static atomic_bool installed;
	struct sigaction sa;

	if (atomic_exchange(&installed, true))
		return;
	guard_page = (size_t)sysconf(_SC_PAGESIZE);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = guard_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
}

/* Map and hash a regular file; 1 if it could not be mapped, HASH_SHRANK
 * if it was truncated under the mapping. */
static int hash_fd_mmap(hash_run *r, b3cas_hasher *h, int fd, size_t size)
{
	b3cas_pool *pool = size >= PREFAULT_MIN ? get_pool(r) : NULL;
	prefault p = {.size = size};
	pthread_t thread;
	bool started = false;
	void *map = mmap(NULL, size, PROT_READ,
			 MAP_PRIVATE | (pool ? 0 : MAP_POPULATE), fd, 0);

	if (map == MAP_FAILED)
		return 1;
	guard_install();
	atomic_store(&guard_hit, false);
	atomic_store(&guard_size, size);
	atomic_store(&guard_start, (uintptr_t)map);
	madvise(map, size, MADV_SEQUENTIAL);
	if (pool) {
		p.map = map;
		started = pthread_create(&thread, NULL, prefault_run, &p) == 0;
	}
	b3cas_hasher_update_parallel(h, map, size,
				     pool ? pool : get_pool(r));
	if (started) {
		atomic_store(&p.stop, true);
		pthread_join(thread, NULL);
	}
	atomic_store(&guard_start, 0);
	munmap(map, size);
	return atomic_load(&guard_hit) ? HASH_SHRANK : 0;
}

/* Hash the named input ("-" is stdin). 0, or a negative errno. */
static int hash_input(hash_run *r, b3cas_hasher *h, const char *name)
{
	struct stat st;
	int fd, err;

	hasher_start(h, &r->o);
	if (strcmp(name, "-") == 0)
		return hash_fd_read(r, h, STDIN_FILENO);
	fd = open(name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0) {
		err = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		err = -EISDIR;
		goto out;
	}
	err = 1;
	if (!r->o.no_mmap && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size >= MMAP_MIN && (uint64_t)st.st_size <= SIZE_MAX)
		err = hash_fd_mmap(r, h, fd, (size_t)st.st_size);
	if (err == 1)
		err = hash_fd_read(r, h, fd);
out:
	close(fd);
	return err;
}

/* ---- output ---- */

/* Write the output bytes, hex or raw, in pieces (--length may be huge). */
static bool print_output(const b3cas_hasher *h, uint64_t length, bool raw)
{
	static const char digits[] = "0123456789abcdef";
	uint8_t piece[OUT_PIECE];
	char hex[2 * OUT_PIECE];

	for (uint64_t done = 0; done < length;) {
		size_t n = length - done < OUT_PIECE ? (size_t)(length - done)
						     : OUT_PIECE;

		b3cas_hasher_finalize_seek(piece, n, h, done);
		if (raw) {
			if (fwrite(piece, 1, n, stdout) != n)
				return false;
		} else {
			for (size_t i = 0; i < n; i++) {
				hex[2 * i] = digits[piece[i] >> 4];
				hex[2 * i + 1] = digits[piece[i] & 15];
			}
			if (fwrite(hex, 1, 2 * n, stdout) != 2 * n)
				return false;
		}
		done += n;
	}
	return true;
}

static int print_one(hash_run *r, const char *name)
{
	b3cas_hasher h;
	int err = hash_input(r, &h, name);

	if (err == HASH_SHRANK) {
		cli_error("%s: " SHRANK_TEXT, name);
		return CLI_NEGATIVE;
	}
	if (err < 0) {
		cli_error("%s: %s (os error %d)", name, strerror(-err), -err);
		return CLI_NEGATIVE;
	}
	if (r->o.raw)
		return print_output(&h, r->o.length, true) ? CLI_OK
							   : CLI_NEGATIVE;
	bool escape = !r->o.no_names && cli_name_needs_escape(name);

	if (escape)
		putchar('\\');
	print_output(&h, r->o.length, false);
	if (!r->o.no_names) {
		fputs("  ", stdout);
		cli_print_name(stdout, name, escape);
	}
	putchar('\n');
	return CLI_OK;
}

/* ---- --check ----
 * Failures are described as b3sum (Rust) words them: "<strerror> (os error
 * <errno>)", because in --check mode they are part of standard output. */

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* b3sum accepts lowercase only */
}

/* Undo the escaping of a name in place; false on a bad escape. */
static bool unescape(char *name)
{
	char *out = name;

	for (char *p = name; *p; p++) {
		if (*p != '\\') {
			*out++ = *p;
			continue;
		}
		p++;
		if (*p == '\\')
			*out++ = '\\';
		else if (*p == 'n')
			*out++ = '\n';
		else
			return false;
	}
	*out = '\0';
	return true;
}

typedef struct check_line {
	bool escaped;
	uint8_t expected[B3CAS_OUT_LEN];
	const char *shown; /* the name as written in the line */
	char *name;        /* unescaped */
} check_line;

/* Parse one line of a checkfile; returns NULL or b3sum's error text. */
static const char *parse_check_line(check_line *cl, char *line)
{
	size_t len;

	if (*line == '\0')
		return "Empty line";
	cl->escaped = *line == '\\';
	if (cl->escaped)
		line++;
	len = strlen(line);
	if (len < 2 * B3CAS_OUT_LEN + 3)
		return "Short line";
	for (size_t i = 0; i < B3CAS_OUT_LEN; i++) {
		int hi = hex_value(line[2 * i]), lo = hex_value(line[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return "Invalid hex";
		cl->expected[i] = (uint8_t)(hi << 4 | lo);
	}
	line += 2 * B3CAS_OUT_LEN;
	if (line[0] != ' ' || line[1] != ' ')
		return "Invalid space";
	cl->shown = line + 2;
	cl->name = strdup(cl->shown);
	if (!cl->name)
		return "Out of memory";
	if (cl->escaped && !unescape(cl->name)) {
		free(cl->name);
		cl->name = NULL;
		return "Invalid backslash escape";
	}
	return NULL;
}

static void print_check_name(const check_line *cl)
{
	if (cl->escaped)
		putchar('\\');
	fputs(cl->shown, stdout);
}

static int check_one_line(hash_run *r, char *line)
{
	check_line cl = {0};
	const char *perr = parse_check_line(&cl, line);
	b3cas_hasher h;
	uint8_t got[B3CAS_OUT_LEN];
	int err, rc = CLI_OK;

	if (perr) {
		cli_error("%s", perr);
		return CLI_NEGATIVE;
	}
	err = hash_input(r, &h, cl.name);
	if (err == HASH_SHRANK) {
		print_check_name(&cl);
		puts(": FAILED (" SHRANK_TEXT ")");
		rc = CLI_NEGATIVE;
		goto out;
	}
	if (err < 0) {
		print_check_name(&cl);
		printf(": FAILED (%s (os error %d))\n", strerror(-err), -err);
		rc = CLI_NEGATIVE;
		goto out;
	}
	b3cas_hasher_finalize(got, sizeof(got), &h);
	if (memcmp(got, cl.expected, sizeof(got)) != 0) {
		print_check_name(&cl);
		puts(": FAILED");
		rc = CLI_NEGATIVE;
	} else if (!r->o.quiet) {
		print_check_name(&cl);
		puts(": OK");
	}
out:
	free(cl.name);
	return rc;
}

/* Read a whole checkfile ("-": stdin) into a NUL-terminated buffer. */
static char *slurp(const char *name, size_t *len_out)
{
	int fd = strcmp(name, "-") == 0 ? STDIN_FILENO
					: open(name, O_RDONLY | O_CLOEXEC);
	size_t cap = 1 << 16, len = 0;
	char *buf = NULL;

	if (fd < 0)
		return NULL;
	for (;;) {
		char *bigger = realloc(buf, cap + 1);
		long long n;

		if (!bigger) {
			errno = ENOMEM;
			goto fail;
		}
		buf = bigger;
		n = cli_read_full(fd, buf + len, cap - len);
		if (n < 0)
			goto fail;
		len += (size_t)n;
		if (len < cap)
			break;
		cap *= 2;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	buf[len] = '\0';
	*len_out = len;
	return buf;
fail:
	if (fd != STDIN_FILENO)
		close(fd);
	free(buf);
	return NULL;
}

/*
 * Check every line of one checkfile. A line that cannot be parsed is
 * reported and skipped; a checkfile that cannot be read stops everything,
 * as in b3sum.
 */
static int check_file(hash_run *r, const char *name, bool *fatal)
{
	size_t len;
	char *text = slurp(name, &len);
	int rc = CLI_OK;

	if (!text) {
		cli_error("%s: %s", name, strerror(errno));
		*fatal = true;
		return CLI_NEGATIVE;
	}
	for (char *line = text; line < text + len;) {
		char *nl = memchr(line, '\n', (size_t)(text + len - line));
		char *next = nl ? nl + 1 : text + len;

		if (nl)
			*nl = '\0';
		if (strlen(line) != (size_t)(next - line) - (nl ? 1 : 0)) {
			cli_error("Null character in line");
			rc = CLI_NEGATIVE;
		} else if (check_one_line(r, line) != CLI_OK) {
			rc = CLI_NEGATIVE;
		}
		line = next;
	}
	free(text);
	return rc;
}

/* ---- options ---- */

/* The checks between options, after parsing: true to go on, else false
 * with *rc_out a usage error. */
static bool check_options(int *rc_out, hash_opts *o, int ninputs)
{
	const char *bad = NULL;

	if (o->length_text && !cli_parse_u64(&o->length, o->length_text)) {
		*rc_out = cli_usage_error("hash", "invalid --length '%s'",
					  o->length_text);
		return false;
	}
	if (o->keyed && o->context)
		bad = "--keyed and --derive-key cannot be used together";
	else if (o->check && (o->length_text || o->raw || o->no_names ||
			      o->keyed || o->context))
		bad = "--check cannot be used with --length, --raw, "
		      "--no-names, --keyed or --derive-key";
	else if (o->quiet && !o->check)
		bad = "--quiet needs --check";
	else if (o->raw && ninputs > 1)
		bad = "--raw takes only one input";
	else if (o->keyed && ninputs == 0)
		bad = "--keyed reads the key from stdin, so it needs FILE "
		      "arguments";
	*rc_out = bad ? cli_usage_error("hash", "%s", bad) : CLI_OK;
	return !bad;
}

/* The 32-byte key of --keyed, exactly, from stdin. */
static int read_key(hash_opts *o)
{
	uint8_t extra;
	long long n = cli_read_full(STDIN_FILENO, o->key, sizeof(o->key));

	if (n < 0) {
		cli_error("cannot read the key from stdin: %s",
			  strerror(errno));
		return CLI_USAGE;
	}
	if (n < (long long)sizeof(o->key)) {
		cli_error("expected 32 key bytes from stdin, found %lld", n);
		return CLI_USAGE;
	}
	if (cli_read_full(STDIN_FILENO, &extra, 1) != 0) {
		cli_error("read more than 32 key bytes from stdin");
		return CLI_USAGE;
	}
	return 0;
}

int cmd_hash(cli_ctx *ctx, int argc, char **argv)
{
	static char *const stdin_only[] = {"-", NULL};
	hash_run r = {0};
	char *const *inputs;
	cli_args pos;
	int ninputs, rc = CLI_OK;
	bool fatal = false;

	(void)ctx;
	r.o.length = B3CAS_OUT_LEN;
	if (!cli_opt_parse(&rc, &pos, &cmd_hash_spec, &r.o, argc, argv) ||
	    !check_options(&rc, &r.o, pos.n))
		return rc;
	if (r.o.keyed && (rc = read_key(&r.o)) != 0)
		return rc;
	inputs = pos.v;
	ninputs = pos.n;
	if (ninputs == 0) {
		inputs = stdin_only;
		ninputs = 1;
	}
	r.buf = malloc(READ_BLOCK);
	if (!r.buf) {
		cli_error("out of memory");
		return CLI_NEGATIVE;
	}
	for (int i = 0; i < ninputs && !fatal; i++) {
		int one = r.o.check ? check_file(&r, inputs[i], &fatal)
				    : print_one(&r, inputs[i]);

		if (one != CLI_OK)
			rc = one;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cli_error("cannot write to standard output: %s",
			  strerror(errno));
		rc = CLI_NEGATIVE;
	}
	b3cas_pool_free(r.pool);
	free(r.buf);
	return rc;
}
