/*
 * layout/owner.c - store ids and the owner mark of an objects folder.
 *
 * An objects folder belongs to one store: two stores sharing one would
 * each collect the other's objects as garbage. So every store has a random
 * id (store_id in b3cas.conf) and its objects folder holds a mark,
 * B3CAS_OWNER_NAME, naming that id. Invariants: a mark is never replaced
 * (it is linked into place, which fails if one exists, so of two stores
 * claiming one folder at once exactly one wins); a store whose folder is
 * marked by another id is refused before anything is read or written; a
 * mark is written before the b3cas.conf that names its id is published,
 * or, for a store made before store ids, after b3cas.conf records the id
 * (so a crash in between leaves a store that claims its folder again).
 */
#include "layout/layout_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "util/error.h"
#include "util/fsutil.h"

#define MARK_MAX 512
#define ID_KEY "store_id"

int b3cas__store_id_new(char out[B3CAS_STORE_ID_LEN + 1])
{
	unsigned char raw[B3CAS_STORE_ID_LEN / 2];
	size_t got = 0;

	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return b3cas__error_errno(errno, "cannot make a store "
						  "id (getrandom)");
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

bool b3cas__store_id_valid(const char *text)
{
	size_t i;

	for (i = 0; text[i]; i++)
		if (!((text[i] >= '0' && text[i] <= '9') ||
		      (text[i] >= 'a' && text[i] <= 'f')))
			return false;
	return i == B3CAS_STORE_ID_LEN;
}

/* The id on the mark's "store_id = <hex>" line, or NULL. */
static const char *mark_id(char *text)
{
	char *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *v = line;

		if (strncmp(v, ID_KEY, strlen(ID_KEY)) != 0)
			continue;
		v += strlen(ID_KEY);
		while (*v == ' ' || *v == '\t')
			v++;
		if (*v++ != '=')
			return NULL;
		while (*v == ' ' || *v == '\t')
			v++;
		return b3cas__store_id_valid(v) ? v : NULL;
	}
	return NULL;
}

int b3cas__owner_read(int dir_fd, const char *where,
		      char out[B3CAS_STORE_ID_LEN + 1])
{
	char text[MARK_MAX + 1];
	const char *id;
	ssize_t n;
	int fd = openat(dir_fd, B3CAS_OWNER_NAME,
			O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 && errno == ELOOP)
		return b3cas__error(B3CAS_EFORMAT, "%s/%s is a symbolic link, "
				    "not a b3cas owner mark", where,
				    B3CAS_OWNER_NAME);
	if (fd < 0)
		return b3cas__error_errno(errno, "cannot open %s/%s", where,
					  B3CAS_OWNER_NAME);
	n = read(fd, text, MARK_MAX + 1);
	close(fd);
	if (n < 0)
		return b3cas__error_errno(errno, "cannot read %s/%s", where,
					  B3CAS_OWNER_NAME);
	text[n > MARK_MAX ? MARK_MAX : n] = '\0';
	id = n > MARK_MAX || memchr(text, '\0', (size_t)n) ? NULL
							    : mark_id(text);
	if (!id)
		return b3cas__error(B3CAS_EFORMAT, "%s/%s is not a b3cas owner "
				    "mark (no 'store_id = <32 hex>' line)",
				    where, B3CAS_OWNER_NAME);
	memcpy(out, id, B3CAS_STORE_ID_LEN + 1);
	return 1;
}

static int refuse(const b3cas_layout *lay, const char *where,
		  const char *other)
{
	return b3cas__error(B3CAS_EFORMAT,
			    "objects folder %s belongs to another store (id "
			    "%s, in %s/%s), not to store %s (id %s): two "
			    "stores must not share an objects folder",
			    where, other, where, B3CAS_OWNER_NAME, lay->root,
			    lay->store_id);
}

/* Stage the mark in tmp_fd under a staging name; the name in name. */
static int stage_mark(const b3cas_layout *lay, int tmp_fd, char name[64])
{
	char text[160];
	uint32_t r;
	int fd, rc, len;

	len = snprintf(text, sizeof(text),
		       "# b3cas: this objects folder belongs to the store with "
		       "this id.\n# Another store refuses to use it.\n"
		       ID_KEY " = %s\n", lay->store_id);
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)getpid() ^ 0x9e3779b9u;
	/* The staging pattern, so a crash here leaves nothing that the
	 * next open does not clear. */
	snprintf(name, 64, "%ld.%u.tmp", (long)getpid(),
		 (unsigned)r | 1u << 31);
	fd = openat(tmp_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0444);
	if (fd < 0)
		return b3cas__error_errno(errno, "cannot create a staging file "
					  "for the owner mark of store %s",
					  lay->root);
	rc = b3cas__write_all(fd, text, (size_t)len, B3CAS_OWNER_NAME);
	if (rc == 0)
		rc = b3cas__fsync(fd, B3CAS_OWNER_NAME);
	close(fd);
	if (rc < 0)
		unlinkat(tmp_fd, name, 0);
	return rc;
}

static int write_mark(const b3cas_layout *lay, int tmp_fd, int dir_fd,
		      const char *where)
{
	char name[64], other[B3CAS_STORE_ID_LEN + 1];
	int rc = stage_mark(lay, tmp_fd, name), err = 0;

	if (rc < 0)
		return rc;
	if (linkat(tmp_fd, name, dir_fd, B3CAS_OWNER_NAME, 0) != 0)
		err = errno;
	/* A file system without hard links: rename (a race between two
	 * claimers is then left to the check at every open). */
	if (err && err != EEXIST &&
	    renameat(tmp_fd, name, dir_fd, B3CAS_OWNER_NAME) == 0)
		err = 0;
	unlinkat(tmp_fd, name, 0);
	if (err == EEXIST) {
		/* Someone claimed it between our look and our link. */
		rc = b3cas__owner_read(dir_fd, where, other);
		if (rc < 0)
			return rc;
		return rc == 1 && strcmp(other, lay->store_id) == 0
			       ? 0
			       : refuse(lay, where, other);
	}
	if (err)
		return b3cas__error_errno(err, "cannot write %s/%s", where,
					  B3CAS_OWNER_NAME);
	return b3cas__fsync(dir_fd, where);
}

int b3cas__owner_claim(const b3cas_layout *lay, int tmp_fd, int dir_fd,
		       const char *where, bool write)
{
	char mark[B3CAS_STORE_ID_LEN + 1];
	int rc = b3cas__owner_read(dir_fd, where, mark);

	if (rc < 0)
		return rc;
	if (rc == 1)
		return strcmp(mark, lay->store_id) == 0
			       ? 0
			       : refuse(lay, where, mark);
	return write ? write_mark(lay, tmp_fd, dir_fd, where) : 0;
}
