/*
 * layout/leftovers.c - telling the store's own names from everyone else's.
 *
 * Two uses. While a store is open, only names that b3cas itself makes are
 * ever deleted (the staging files in tmp/) or taken for the store's own
 * (the top of an objects folder). And before a store is made in a folder
 * that has no b3cas.conf, the folder may hold only what an interrupted
 * 'init' leaves behind - the layout's folders, empty object folders,
 * RocksDB's own files in index/, staging files, b3cas.conf.tmp, the
 * reserve, a LOCK
 * that is empty or holds a pid, an owner mark - so that a rerun completes
 * it; one file of anyone else's anywhere in the layout (or a symbolic
 * link, which b3cas never makes) makes the folder "not a store" and
 * nothing in it is touched.
 */
#include "layout/layout_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"
#include "util/fsutil.h"

/* ---- names -------------------------------------------------------------- */

static bool digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static bool hex_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* "<digits><suffix>" */
static bool numbered(const char *name, const char *suffix)
{
	size_t n = strlen(name), k = strlen(suffix);

	return n > k && strcmp(name + n - k, suffix) == 0 &&
	       digits(name, n - k);
}

bool b3cas__staging_name(const char *name)
{
	const char *dot = strchr(name, '.');

	/* filter/filter.c saves the bloom filter through tmp/bloom. */
	if (strcmp(name, "bloom") == 0)
		return true;
	/* "<pid>.<n>.tmp": layout/objects.c and the owner mark. */
	return dot && digits(name, (size_t)(dot - name)) &&
	       numbered(dot + 1, ".tmp");
}

static bool sub_name(const char *name)
{
	return strlen(name) == 2 && hex_digits(name, 2);
}

bool b3cas__tier_name(const char *name)
{
	return sub_name(name) || strcmp(name, "tmp") == 0 ||
	       strcmp(name, B3CAS_OWNER_NAME) == 0;
}

/* The files RocksDB keeps in its folder (index/). */
static bool rocksdb_name(const char *name)
{
	static const char *const exact[] = {"CURRENT", "IDENTITY", "LOCK",
					    "LOG"};
	static const char *const prefixes[] = {"LOG.old.", "MANIFEST-",
					       "OPTIONS-"};
	static const char *const suffixes[] = {".log", ".sst", ".blob",
					       ".dbtmp"};

	for (size_t i = 0; i < sizeof(exact) / sizeof(*exact); i++)
		if (strcmp(name, exact[i]) == 0)
			return true;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(*prefixes); i++)
		if (has_prefix(name, prefixes[i]))
			return true;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(*suffixes); i++)
		if (numbered(name, suffixes[i]))
			return true;
	return false;
}

/* ---- what an interrupted init leaves ------------------------------------ */

/* The kinds of folder in the layout, each with its own rule. */
typedef enum {
	K_ROOT, K_TIER, K_EMPTY, K_INDEX, K_CACHE, K_L2, K_L2_TMP,
	K_INTEGRITY, K_STAGING
} folder_kind;

typedef struct scan {
	const char *where;   /* the folder scanned, for messages */
	char foreign[512];   /* the first foreign entry, relative */
	char mark[B3CAS_STORE_ID_LEN + 1]; /* owner mark found, or "" */
} scan;

static int scan_folder(scan *sc, int fd, const char *rel, folder_kind kind);

/* A LOCK that b3cas wrote: empty (created, not yet written) or a pid. */
static bool lock_is_ours(int at, const char *name)
{
	char text[32];
	int fd = openat(at, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, text, sizeof(text));
	close(fd);
	if (n < 0 || n == (ssize_t)sizeof(text))
		return false;
	if (n > 0 && text[n - 1] == '\n')
		n--;
	return n == 0 || digits(text, (size_t)n);
}

/* 0 ours, 1 foreign, or an error. Folders of the layout are scanned. */
static int judge(scan *sc, int fd, const char *rel, folder_kind kind,
		 const char *name, const struct stat *st)
{
	bool dir = S_ISDIR(st->st_mode), reg = S_ISREG(st->st_mode);
	folder_kind sub = K_EMPTY;
	int rc;

	switch (kind) {
	case K_ROOT:
		if (reg && strcmp(name, "b3cas.conf.tmp") == 0)
			return 0;
		if (reg && strcmp(name, B3CAS_RESERVE_NAME) == 0)
			return 0; /* store/reserve.c, made before the index */
		if (reg && strcmp(name, "LOCK") == 0)
			return lock_is_ours(fd, name) ? 0 : 1;
		if (!dir)
			return 1;
		if (strcmp(name, "objects") == 0)
			sub = K_TIER;
		else if (strcmp(name, "index") == 0)
			sub = K_INDEX;
		else if (strcmp(name, "cache") == 0)
			sub = K_CACHE;
		else if (strcmp(name, "integrity") == 0)
			sub = K_INTEGRITY;
		else if (strcmp(name, "tmp") == 0)
			sub = K_STAGING;
		else
			return 1;
		break;
	case K_TIER:
		if (reg && strcmp(name, B3CAS_OWNER_NAME) == 0) {
			rc = b3cas__owner_read(fd, sc->where, sc->mark);
			return rc < 0 ? rc : 0;
		}
		if (dir && strcmp(name, "tmp") == 0)
			sub = K_STAGING;
		else if (!dir || !sub_name(name))
			return 1;
		break;
	case K_INDEX:
		return reg && rocksdb_name(name) ? 0 : 1;
	case K_CACHE:
		if (reg && strcmp(name, "bloom") == 0)
			return 0;
		if (!dir || strcmp(name, "l2") != 0)
			return 1;
		sub = K_L2;
		break;
	case K_L2:
		if (dir && strcmp(name, "tmp") == 0)
			sub = K_L2_TMP;
		else if (!dir || !sub_name(name))
			return 1;
		break;
	case K_L2_TMP: /* cache/l2.c stages copies as "<hex>" */
		return reg && hex_digits(name, strlen(name)) ? 0 : 1;
	case K_INTEGRITY:
		if (!dir || (strcmp(name, "quarantine") != 0 &&
			     strcmp(name, "checksums") != 0 &&
			     strcmp(name, "backup") != 0))
			return 1;
		break;
	case K_STAGING:
		return reg && b3cas__staging_name(name) ? 0 : 1;
	case K_EMPTY:
		return 1;
	}
	{
		char path[512];
		int sub_fd = b3cas__open_dir_at(fd, name, sc->where);

		if (sub_fd < 0)
			return sub_fd;
		snprintf(path, sizeof(path), "%s%s/", rel, name);
		rc = scan_folder(sc, sub_fd, path, sub);
		close(sub_fd);
		return rc;
	}
}

/* 0 when everything in fd is ours, 1 at the first foreign entry. */
static int scan_folder(scan *sc, int fd, const char *rel, folder_kind kind)
{
	int dup_fd = dup(fd);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	struct dirent *e;
	int rc = 0;

	if (!d) {
		rc = b3cas__error_errno(errno, "cannot list %s/%s", sc->where,
					rel);
		if (dup_fd >= 0)
			close(dup_fd);
		return rc;
	}
	while (rc == 0 && (e = readdir(d)) != NULL) {
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			rc = b3cas__error_errno(errno, "cannot examine %s/%s%s",
						sc->where, rel, e->d_name);
			break;
		}
		rc = judge(sc, fd, rel, kind, e->d_name, &st);
		if (rc == 1 && !sc->foreign[0])
			snprintf(sc->foreign, sizeof(sc->foreign), "%s%s",
				 rel, e->d_name);
	}
	closedir(d);
	return rc;
}

int b3cas__check_leftovers(int fd, const char *where, bool tier,
			   char mark_out[B3CAS_STORE_ID_LEN + 1])
{
	scan sc = {.where = where};
	int rc = scan_folder(&sc, fd, "", tier ? K_TIER : K_ROOT);

	if (rc == 1)
		return b3cas__error(B3CAS_EFORMAT,
				    tier ? "objects folder %s holds other "
					   "files (%s/%s): it is not an empty "
					   "folder or one b3cas left"
					 : "%s is not a b3cas store: it has no "
					   "b3cas.conf and holds other files "
					   "(%s/%s)",
				    where, where, sc.foreign);
	if (rc == 0)
		memcpy(mark_out, sc.mark, sizeof(sc.mark));
	return rc;
}
