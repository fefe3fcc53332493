/*
 * layout/path.h - the store folder: its layout, b3cas.conf, the owner mark
 * of its objects folder, and the LOCK that admits one writing process at
 * a time.
 *
 * Layout (format version 1):
 *   b3cas.conf  LOCK  objects/{00..ff/,b3cas.owner}  index/  cache/l2/
 *   integrity/{quarantine,checksums,backup}/  tmp/  reserve
 * and for a tier elsewhere (--objects-dir D): D/{00..ff/,b3cas.owner,tmp/}.
 * The configuration is published last when a store is made, so a folder
 * with a b3cas.conf is a complete store. Inside the store nothing is
 * reached through a symbolic link: every name is opened relative to the
 * store's folder descriptors with O_NOFOLLOW.
 */
#ifndef B3CAS_CORE_PATH_H
#define B3CAS_CORE_PATH_H

#include <stdbool.h>
#include <stddef.h>

#include "b3cas/store.h"

#define B3CAS_FORMAT_VERSION 1
/* Format 2: version 1 plus chunked objects and compressed entries
 * (docs/chunked-objects.md); a store is made in it when it chunks or
 * compresses, and version 1 builds refuse it. */
#define B3CAS_FORMAT_VERSION_CHUNKED 2
/* Objects and their counts in a Ceph RADOS pool (docs/rados.md): a
 * b3cas that reads only formats 1 and 2 refuses it, rather than take the
 * folder for the whole store. */
#define B3CAS_FORMAT_VERSION_RADOS 3

/* A store's id: 16 random bytes in lowercase hex, recorded in b3cas.conf
 * (store_id = ...) and in the owner mark of its objects folder. */
#define B3CAS_STORE_ID_LEN 32

/* The owner mark at the top of an objects folder: which store it is. */
#define B3CAS_OWNER_NAME "b3cas.owner"

/* Space kept free for deletes and GC on a full disk (store/reserve.c). */
#define B3CAS_RESERVE_NAME "reserve"

/*
 * Fault injection for tests (tests/integrity/test_faults.c): when a
 * handle's layout points at a plan, the object-file operation numbered
 * fail_at (counting from 1, over the operations in ops) fails with err,
 * and with sticky every later one too, as a dying disk would. NULL in
 * every handle the library makes; never a global.
 */
enum {
	B3CAS_FAULT_CREATE = 1 << 0, /* a staging file */
	B3CAS_FAULT_WRITE = 1 << 1,  /* bytes into it */
	B3CAS_FAULT_FSYNC = 1 << 2,  /* the file or its folder */
	B3CAS_FAULT_RENAME = 1 << 3, /* publishing it */
	B3CAS_FAULT_OPEN = 1 << 4,   /* an object for reading */
	B3CAS_FAULT_UNLINK = 1 << 5  /* removing an object */
};

typedef struct b3cas_fault_plan {
	_Atomic unsigned long long seen; /* eligible operations so far */
	unsigned long long fail_at;      /* 0: none */
	unsigned ops;                    /* B3CAS_FAULT_... mask */
	int err;                         /* errno to fail with */
	bool sticky;
	_Atomic unsigned long long fired;/* operations failed */
} b3cas_fault_plan;

typedef struct b3cas_layout {
	char *root;        /* as given to open */
	int root_fd;       /* the store folder; flock'ed in write mode */
	int objects_fd;    /* objects/, or where the tier was put */
	/* Staging for publishes: tmp/, or <tier>/tmp when the tier is
	 * elsewhere (a rename cannot cross file systems). Write mode only,
	 * else -1. */
	int tmp_fd;
	char *tmp_path;     /* tmp_fd's folder, for messages, or NULL */
	char *objects_path; /* the tier's folder, for messages */
	char *objects_conf; /* "objects" recorded in b3cas.conf, or NULL */
	/* store_id of b3cas.conf; "" for a store made before store ids,
	 * opened read-only (a writable open assigns one). */
	char store_id[B3CAS_STORE_ID_LEN + 1];
	b3cas_fault_plan *faults; /* tests only; NULL */
	/* Writable handles: what b3cas_store_interrupt stops
	 * (layout/objects.h); NULL otherwise. */
	struct b3cas_staging *staging;
	int lock_fd;       /* LOCK, held with flock (write mode only) */
	unsigned format;
	b3cas_hash_algo hash;
	size_t inline_threshold;
	/* Format 2 policy (b3cas.conf): chunk sizes (all 0 when objects
	 * are stored whole) and the zstd level (0: no compression). */
	uint32_t chunk_min, chunk_avg, chunk_max;
	int zlevel;
	/* Compressed in packed blocks (the data column family, kind PACKED
	 * entries: store/pack.c); only with zlevel above 0. */
	bool zpacked;
	/* the data family's blocks' level, when not zlevel (0: zlevel) */
	int zpack;
	bool created;      /* this open made the store */
	/* Format 3: the RADOS pool, its namespace ("" none) and the
	 * cluster's configuration file ("" librados's search), as
	 * recorded; NULL in other formats. */
	char *rados_pool, *rados_ns, *rados_conf;
} b3cas_layout;

/* The zstd level of a packed store's data family, 0 when it packs
 * nothing (b3cas__index_open's packed_level). */
static inline int b3cas__layout_packed_level(const b3cas_layout *lay)
{
	return !lay->zpacked ? 0 : lay->zpack ? lay->zpack : lay->zlevel;
}

/*
 * Open (or with opts->create make) the store folder root: check
 * b3cas.conf against opts, take the writer lock unless read-only (waiting
 * up to opts->lock_timeout_ms; B3CAS_ELOCKED naming the holder), clear
 * tmp/.
 * A store being made (lay->created) has its folders but no b3cas.conf
 * yet: the caller makes the index and then calls b3cas__layout_publish.
 */
int b3cas__layout_open(b3cas_layout *lay, const char *root,
		       const b3cas_store_options *opts);

/*
 * Write b3cas.conf of a store this open made (nothing for one that
 * existed): the last step, so that a creation that fails or crashes
 * before it leaves a folder that the next create completes, never a
 * b3cas.conf without an index.
 */
int b3cas__layout_publish(b3cas_layout *lay);

/*
 * Parse the text of b3cas.conf (NUL-terminated; changed in place) into
 * lay->format, hash, inline_threshold, store_id and objects_conf (a new
 * string the
 * caller frees, or NULL). B3CAS_EFORMAT for anything this version does
 * not accept, and then nothing is allocated. lay->root names the store in
 * messages.
 */
int b3cas__conf_parse(b3cas_layout *lay, char *text);

/* Release the lock and close the folders. */
void b3cas__layout_close(b3cas_layout *lay);

/* "<root>/<name>" in a new string (NULL and an error message on ENOMEM). */
char *b3cas__layout_path(const b3cas_layout *lay, const char *name);

/*
 * Names the store itself makes, so that only they are ever deleted or
 * taken for the store's own:
 * - b3cas__staging_name: a staging file in tmp/ (or <tier>/tmp/):
 *   "<digits>.<digits>.tmp" (objects, the owner mark) and "bloom" (the
 *   saved bloom filter). Only these are removed when tmp/ is cleared.
 * - b3cas__tier_name: an entry at the top of an objects folder: "00".."ff",
 *   "tmp" and B3CAS_OWNER_NAME. Anything else there is a stray.
 */
bool b3cas__staging_name(const char *name);
bool b3cas__tier_name(const char *name);

/* "ab/<64 hex>": an object's path relative to objects/, and its copy's
 * relative to cache/l2 (cache/l2.c), which mirrors the objects folder. */
#define B3CAS_OBJECT_REL_LEN (3 + B3CAS_OID_HEX_LEN)
void b3cas__object_rel(char out[B3CAS_OBJECT_REL_LEN + 1],
		       const b3cas_oid *id);

#endif
