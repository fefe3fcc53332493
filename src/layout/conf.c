/*
 * layout/conf.c - b3cas.conf: the text file that makes a folder a store
 * (format version, hash algorithm, inline threshold, objects folder, store
 * id), written, parsed and checked against what an open asks for.
 *
 * Invariants: b3cas.conf is published atomically (util/atomic.h, durable
 * before init reports success) and only after every other part of the
 * layout exists; a line that is not understood, a number out of range or
 * a missing key refuses the store (B3CAS_EFORMAT) rather than guessing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layout/layout_int.h"
#include "util/atomic.h"
#include "util/error.h"
#include "util/fsutil.h"

#define CONF_MAX 4096

/* Publish text as b3cas.conf through b3cas.conf.tmp (a name
 * layout/leftovers.c knows), durable before init reports success. */
static int publish_conf(b3cas_layout *lay, const char *text, size_t len)
{
	const b3cas_atomic_write w = {
		.stage_fd = lay->root_fd, .stage_name = B3CAS_CONF_NAME ".tmp",
		.dir_fd = lay->root_fd, .name = B3CAS_CONF_NAME,
		.where = lay->root, .durability = B3CAS_DURABILITY_FULL,
	};

	return b3cas__atomic_write(&w, text, len);
}

int b3cas__conf_write(b3cas_layout *lay)
{
	char text[CONF_MAX], policy[256] = "", pack[32] = "";
	char rados[3 * 1100] = "";
	int n;

	/* (a line older builds of format 2 skip: they pack at
	 * compression_level) */
	if (lay->zpacked && lay->zpack)
		snprintf(pack, sizeof(pack), "pack_level = %d\n", lay->zpack);
	if (lay->format == B3CAS_FORMAT_VERSION_CHUNKED)
		snprintf(policy, sizeof(policy),
			 "chunking = %s\n"
			 "chunk_min = %u\nchunk_avg = %u\nchunk_max = %u\n"
			 "compression = %s\ncompression_level = %d\n%s",
			 lay->chunk_avg ? "fastcdc-2020" : "off",
			 lay->chunk_min, lay->chunk_avg, lay->chunk_max,
			 lay->zpacked  ? "zstd-packed"
			 : lay->zlevel ? "zstd"
				       : "off",
			 lay->zlevel, pack);
	if (lay->format == B3CAS_FORMAT_VERSION_RADOS &&
	    (size_t)snprintf(rados, sizeof(rados),
			     "tier = rados\nrados_pool = %s\n"
			     "rados_namespace = %s\nrados_conf = %s\n",
			     lay->rados_pool, lay->rados_ns,
			     lay->rados_conf) >= sizeof(rados))
		return b3cas__error(B3CAS_EINVAL, "RADOS pool, namespace or "
				    "configuration path too long for %s",
				    B3CAS_CONF_NAME);
	n = snprintf(text, sizeof(text),
		     "# b3cas store configuration: fixed when the store was "
		     "made.\n"
		     "# Editing it does not convert the store.\n"
		     "format_version = %u\n"
		     "hash = %s\n"
		     "inline_threshold = %zu\n"
		     "store_id = %s\n"
		     "%s%s%s%s%s",
		     lay->format, b3cas_hash_algo_name(lay->hash),
		     lay->inline_threshold, lay->store_id, policy, rados,
		     lay->objects_conf ? "objects = " : "",
		     lay->objects_conf ? lay->objects_conf : "",
		     lay->objects_conf ? "\n" : "");
	if (n < 0 || (size_t)n >= sizeof(text))
		return b3cas__error(B3CAS_EINVAL, "objects folder name too "
				    "long for %s", B3CAS_CONF_NAME);
	return publish_conf(lay, text, (size_t)n);
}

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' ||
			   end[-1] == '\r' || end[-1] == '\n'))
		*--end = '\0';
	return s;
}

static int parse_number(uint64_t *out, const char *text)
{
	char *end;

	errno = 0;
	if (*text < '0' || *text > '9')
		return -1;
	*out = strtoull(text, &end, 10);
	return errno || *end ? -1 : 0;
}

static int conf_bad(const b3cas_layout *lay, const char *what,
		    const char *value)
{
	return b3cas__error(B3CAS_EFORMAT, "%s/%s: %s '%s'", lay->root,
			    B3CAS_CONF_NAME, what, value);
}

/* Format 2's policy lines (they follow format_version in every
 * b3cas.conf this version writes). Bits 8.. of *seen. */
static int conf_policy_line(b3cas_layout *lay, const char *key,
			    const char *value, unsigned *seen)
{
	static const char *const numbers[] = {"chunk_min", "chunk_avg",
					      "chunk_max",
					      "compression_level"};
	uint64_t n;

	if (strcmp(key, "chunking") == 0) {
		if (strcmp(value, "fastcdc-2020") != 0 &&
		    strcmp(value, "off") != 0)
			return conf_bad(lay, "unknown chunking", value);
		*seen |= 1u << 8;
		return 0;
	}
	if (strcmp(key, "compression") == 0) {
		if (strcmp(value, "zstd") != 0 && strcmp(value, "off") != 0 &&
		    strcmp(value, "zstd-packed") != 0)
			return conf_bad(lay, "unknown compression", value);
		lay->zpacked = strcmp(value, "zstd-packed") == 0;
		*seen |= 1u << 9;
		return 0;
	}
	for (unsigned i = 0; i < 4; i++) {
		if (strcmp(key, numbers[i]) != 0)
			continue;
		if (parse_number(&n, value) != 0 || n > 1u << 20)
			return conf_bad(lay, "bad number", value);
		if (i == 0)
			lay->chunk_min = (uint32_t)n;
		else if (i == 1)
			lay->chunk_avg = (uint32_t)n;
		else if (i == 2)
			lay->chunk_max = (uint32_t)n;
		else
			lay->zlevel = (int)n;
		*seen |= 1u << (10 + i);
		return 0;
	}
	if (strcmp(key, "pack_level") == 0) {
		if (parse_number(&n, value) != 0 || n < 1 || n > 19)
			return conf_bad(lay, "bad pack level", value);
		lay->zpack = (int)n;
		return 0;
	}
	return 0; /* kept for newer minor versions of format 2 */
}

/* Format 2's policy, whole and consistent. */
static int conf_policy_check(const b3cas_layout *lay, unsigned seen)
{
	const unsigned all = 0x3fu << 8;
	uint32_t avg = lay->chunk_avg;

	if ((seen & all) != all)
		return b3cas__error(B3CAS_EFORMAT, "%s/%s lacks a chunking or "
				    "compression setting", lay->root,
				    B3CAS_CONF_NAME);
	if (avg && (avg < B3CAS_CHUNK_AVG_MIN || avg > B3CAS_CHUNK_AVG_MAX ||
		    (avg & (avg - 1)) || lay->chunk_min != avg / 4 ||
		    lay->chunk_max != avg * 4))
		return b3cas__error(B3CAS_EFORMAT, "%s/%s: chunk sizes %u/%u/%u "
				    "are not ones this b3cas makes",
				    lay->root, B3CAS_CONF_NAME, lay->chunk_min,
				    avg, lay->chunk_max);
	if (!avg && (lay->chunk_min || lay->chunk_max))
		return b3cas__error(B3CAS_EFORMAT, "%s/%s: chunk sizes without "
				    "chunking", lay->root, B3CAS_CONF_NAME);
	if (lay->zlevel > 19)
		return b3cas__error(B3CAS_EFORMAT, "%s/%s: compression level %d "
				    "is above 19", lay->root, B3CAS_CONF_NAME,
				    lay->zlevel);
	if (lay->zpacked && lay->zlevel == 0)
		return b3cas__error(B3CAS_EFORMAT, "%s/%s: packed compression "
				    "at level 0", lay->root, B3CAS_CONF_NAME);
	return 0;
}

/* Format 3's lines: the tier and where it is. Bits 16.. of *seen. */
static int conf_rados_line(b3cas_layout *lay, const char *key,
			   const char *value, unsigned *seen)
{
	static const char *const keys[] = {"rados_pool", "rados_namespace",
					   "rados_conf"};
	char **fields[] = {&lay->rados_pool, &lay->rados_ns,
			   &lay->rados_conf};

	if (strcmp(key, "tier") == 0) {
		if (strcmp(value, "rados") != 0)
			return conf_bad(lay, "unknown tier", value);
		*seen |= 1u << 16;
		return 0;
	}
	for (unsigned i = 0; i < 3; i++) {
		if (strcmp(key, keys[i]) != 0)
			continue;
		free(*fields[i]);
		if (!(*fields[i] = strdup(value)))
			return b3cas__error(B3CAS_ENOMEM, "out of memory");
		*seen |= 1u << (17 + i);
		return 0;
	}
	return 0; /* kept for newer minor versions of format 3 */
}

/* Apply one "key = value" line. */
static int conf_line(b3cas_layout *lay, char *line, unsigned *seen)
{
	char *eq = strchr(line, '=');
	char *key, *value;
	uint64_t n;

	if (!eq)
		return conf_bad(lay, "line without '='", line);
	*eq = '\0';
	key = trim(line);
	value = trim(eq + 1);
	if (strcmp(key, "format_version") == 0) {
		/* Given once: the lines after it are read by its rules. */
		if (*seen & 1)
			return conf_bad(lay, "format_version given twice",
					value);
		if (parse_number(&n, value) != 0 || n > UINT32_MAX)
			return conf_bad(lay, "bad format_version", value);
		lay->format = (unsigned)n;
		*seen |= 1;
	} else if (strcmp(key, "hash") == 0) {
		if (strcmp(value, "blake3") == 0)
			lay->hash = B3CAS_HASH_BLAKE3;
		else if (strcmp(value, "sha256") == 0)
			lay->hash = B3CAS_HASH_SHA256;
		else
			return conf_bad(lay, "unknown hash algorithm", value);
		*seen |= 2;
	} else if (strcmp(key, "inline_threshold") == 0) {
		if (parse_number(&n, value) != 0 ||
		    n > B3CAS_INLINE_THRESHOLD_MAX)
			return conf_bad(lay, "bad inline_threshold", value);
		lay->inline_threshold = (size_t)n;
		*seen |= 4;
	} else if (strcmp(key, "store_id") == 0) {
		if (!b3cas__store_id_valid(value))
			return conf_bad(lay, "bad store_id (not 32 hex "
					"digits)", value);
		memcpy(lay->store_id, value, B3CAS_STORE_ID_LEN + 1);
	} else if (strcmp(key, "objects") == 0) {
		if (*value != '/')
			return conf_bad(lay, "objects folder is not an "
					"absolute path", value);
		free(lay->objects_conf);
		lay->objects_conf = strdup(value);
		if (!lay->objects_conf)
			return b3cas__error(B3CAS_ENOMEM, "out of memory");
	} else if (lay->format == B3CAS_FORMAT_VERSION_CHUNKED) {
		return conf_policy_line(lay, key, value, seen);
	} else if (lay->format == B3CAS_FORMAT_VERSION_RADOS) {
		return conf_rados_line(lay, key, value, seen);
	}
	/* Unknown keys are kept for newer minor versions of format 1. */
	return 0;
}

int b3cas__conf_parse(b3cas_layout *lay, char *text)
{
	unsigned seen = 0;
	char *line, *save = NULL;
	int rc = 0;

	for (line = strtok_r(text, "\n", &save); line && rc == 0;
	     line = strtok_r(NULL, "\n", &save)) {
		line = trim(line);
		if (*line && *line != '#')
			rc = conf_line(lay, line, &seen);
	}
	if (rc == 0 && !(seen & 1))
		rc = b3cas__error(B3CAS_EFORMAT, "%s/%s has no format_version",
				  lay->root, B3CAS_CONF_NAME);
	if (rc == 0 && lay->format != B3CAS_FORMAT_VERSION &&
	    lay->format != B3CAS_FORMAT_VERSION_CHUNKED &&
	    lay->format != B3CAS_FORMAT_VERSION_RADOS)
		rc = b3cas__error(B3CAS_EFORMAT,
				  "%s uses store format %u, which this b3cas "
				  "(%s) does not read: it reads formats %d, "
				  "%d and %d",
				  lay->root, lay->format, b3cas_version(),
				  B3CAS_FORMAT_VERSION,
				  B3CAS_FORMAT_VERSION_CHUNKED,
				  B3CAS_FORMAT_VERSION_RADOS);
	if (rc == 0 && lay->format == B3CAS_FORMAT_VERSION_RADOS &&
	    (seen & (0xfu << 16)) != 0xfu << 16)
		rc = b3cas__error(B3CAS_EFORMAT, "%s/%s lacks the tier, its "
				  "pool, namespace or configuration",
				  lay->root, B3CAS_CONF_NAME);
	if (rc == 0 && (seen & 6) != 6)
		rc = b3cas__error(B3CAS_EFORMAT,
				  "%s/%s lacks hash or inline_threshold",
				  lay->root, B3CAS_CONF_NAME);
	if (rc == 0 && lay->format == B3CAS_FORMAT_VERSION_CHUNKED)
		rc = conf_policy_check(lay, seen);
	if (rc < 0) {
		/* A failed parse leaves nothing allocated. */
		free(lay->objects_conf);
		lay->objects_conf = NULL;
		free(lay->rados_pool);
		free(lay->rados_ns);
		free(lay->rados_conf);
		lay->rados_pool = lay->rados_ns = lay->rados_conf = NULL;
	}
	return rc;
}

/* The text of b3cas.conf, NUL-terminated, into text[CONF_MAX + 1]. */
static int read_conf_text(const b3cas_layout *lay, char *text, size_t *len)
{
	ssize_t n;
	int fd;

	fd = openat(lay->root_fd, B3CAS_CONF_NAME,
		    O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ELOOP)
		return b3cas__error(B3CAS_EFORMAT, "%s/%s is a symbolic link: "
				    "b3cas does not follow links inside a "
				    "store", lay->root, B3CAS_CONF_NAME);
	if (fd < 0)
		return b3cas__error_errno(errno, "cannot open %s/%s", lay->root,
					  B3CAS_CONF_NAME);
	n = read(fd, text, CONF_MAX + 1);
	close(fd);
	if (n < 0)
		return b3cas__error_errno(errno, "cannot read %s/%s",
					  lay->root, B3CAS_CONF_NAME);
	if (n > CONF_MAX)
		return b3cas__error(B3CAS_EFORMAT, "%s/%s is too large",
				    lay->root, B3CAS_CONF_NAME);
	text[n] = '\0';
	if (memchr(text, '\0', (size_t)n))
		return b3cas__error(B3CAS_EFORMAT, "%s/%s is not text",
				    lay->root, B3CAS_CONF_NAME);
	*len = (size_t)n;
	return 0;
}

int b3cas__conf_read(b3cas_layout *lay)
{
	char text[CONF_MAX + 1];
	size_t len = 0;
	int rc = read_conf_text(lay, text, &len);

	return rc < 0 ? rc : b3cas__conf_parse(lay, text);
}

/* A store made before store ids gets one: b3cas.conf as it was (keys of
 * newer minor versions kept) plus a store_id line. */
int b3cas__conf_add_store_id(b3cas_layout *lay)
{
	char text[CONF_MAX + 64];
	size_t len = 0;
	int rc = read_conf_text(lay, text, &len);

	if (rc < 0)
		return rc;
	if (len > 0 && text[len - 1] != '\n')
		text[len++] = '\n';
	len += (size_t)snprintf(text + len, sizeof(text) - len,
				"store_id = %s\n", lay->store_id);
	return publish_conf(lay, text, len);
}

/* Compare what the caller asked for with what the store records. */
int b3cas__conf_check(const b3cas_layout *lay, const b3cas_store_options *o)
{
	if (o->hash != B3CAS_HASH_DEFAULT && o->hash != lay->hash)
		return b3cas__error(B3CAS_EFORMAT,
				    "%s names objects with %s, not %s",
				    lay->root, b3cas_hash_algo_name(lay->hash),
				    b3cas_hash_algo_name(o->hash));
	/* a RADOS store keeps every object in its pool, whatever threshold
	 * the options that made it asked for: the same options reopen it */
	if (o->inline_threshold && o->inline_threshold != lay->inline_threshold &&
	    lay->format != B3CAS_FORMAT_VERSION_RADOS)
		return b3cas__error(B3CAS_EFORMAT,
				    "%s was made with inline threshold %zu, "
				    "not %zu",
				    lay->root, lay->inline_threshold,
				    o->inline_threshold);
	if (o->rados_pool && (!lay->rados_pool ||
			      strcmp(o->rados_pool, lay->rados_pool) != 0))
		return b3cas__error(B3CAS_EFORMAT, "%s keeps its objects %s%s%s,"
				    " not in RADOS pool %s", lay->root,
				    lay->rados_pool ? "in RADOS pool " : "",
				    lay->rados_pool ? lay->rados_pool : "here",
				    "", o->rados_pool);
	if (o->rados_namespace && lay->rados_ns &&
	    strcmp(o->rados_namespace, lay->rados_ns) != 0)
		return b3cas__error(B3CAS_EFORMAT, "%s uses RADOS namespace "
				    "'%s', not '%s'", lay->root, lay->rados_ns,
				    o->rados_namespace);
	if ((o->chunking == B3CAS_CHUNKING_ON && !lay->chunk_avg) ||
	    (o->chunking == B3CAS_CHUNKING_OFF && lay->chunk_avg))
		return b3cas__error(B3CAS_EFORMAT, "%s was made with chunking "
				    "%s", lay->root,
				    lay->chunk_avg ? "on" : "off");
	return 0;
}
