/*
 * tier/rados.h - a Ceph RADOS pool as an object tier: objects' bytes and
 * their reference counts kept in the cluster and changed atomically by
 * the OSDs, so that many b3cas hosts share one pool with no lock of their
 * own (docs/rados.md).
 *
 * What one b3cas object is in the pool (in the tier's namespace): a RADOS
 * object named by the 64 hex digits of its id, whose data is the object's
 * exact bytes and whose omap holds its counts as decimal text:
 *   "t"          every host's references together
 *   "h.<hex>"    the references of one host (its 16-byte host id in hex)
 * The object is created whole, bytes and counts in one compound operation
 * that fails if it exists, so no other host ever sees it partial. Counts
 * change in compound operations the OSD applies atomically to one object
 * (the cls_numops object class adds to an omap value), so no update is
 * lost however many hosts change them at once, and a librados resend
 * after an OSD restart is not applied twice (the OSD's log of requests).
 * An object is removed only by an operation that first compares "t" with
 * "0" in the OSD: a host that adds a reference either comes before it (and
 * the removal is refused) or finds the object gone and writes it anew.
 *
 * What the tier does not do: it hashes nothing. Bytes read back are
 * untrusted until the caller has checked them against the id (the store
 * does, with its digest), and a put trusts that the bytes are the id's.
 *
 * librados is loaded when the first tier opens (dlopen of librados.so.2),
 * not linked: a program linked with it pays about 45 ms at every start
 * for its relocations (measured: 200 starts of an empty program 1.4-2.0 s,
 * 10.9-11.5 s linked with -lrados), which every b3cas command would pay
 * whether it uses a cluster or not.
 *
 * Errors: every function returns 0 (or what it says) or a negative
 * B3CAS_E... code with the thread's message naming the pool and the cause:
 *   B3CAS_ENOTFOUND  no such object (or no such pool at open)
 *   B3CAS_EIO        the cluster did not answer within the timeout ("timed
 *                    out after N s: the cluster is down, slow or full"),
 *                    or another failure, named
 *   B3CAS_ENOSPC     the pool or the cluster is full
 *   B3CAS_EPERM      the cluster refused the client
 *   B3CAS_EUNSUPPORTED librados is not installed, or the OSDs cannot run
 *                    the numops object class
 *   B3CAS_EBUSY      a put lost the race with collections so many times
 *                    in a row that it gave up (not seen in practice)
 *
 * Thread safety: a tier may be used by any number of threads at once
 * (librados's handles are thread safe); open and close are not.
 */
#ifndef B3CAS_TIER_RADOS_H
#define B3CAS_TIER_RADOS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "b3cas/common.h"

typedef struct b3cas_rados b3cas_rados;

/* Where the tier is and who this host is. */
typedef struct b3cas_rados_conf {
	const char *conf;      /* ceph.conf; NULL: librados's own search */
	const char *pool;      /* the pool's name (required) */
	const char *ns;        /* the namespace; NULL or "": the default */
	const char *user;      /* the client's id; NULL: "admin" */
	unsigned timeout_ms;   /* every operation's limit; 0: 30 s */
	uint8_t host[16];      /* this host's id: its counts' key */
} b3cas_rados_conf;

/* The longest bytes one object may hold here: RADOS's own limit on an
 * object is 128 MiB and on one write 90 MiB by default. */
#define B3CAS_RADOS_OBJECT_MAX (64u << 20)
/* The longest bytes one b3cas object may hold here: above
 * B3CAS_RADOS_OBJECT_MAX, its bytes are in parts of 16 MiB (rados.c). */
#define B3CAS_RADOS_BIG_MAX (64ull << 30)

/* How many operations a batch keeps in flight at once. */
#define B3CAS_RADOS_WINDOW 256

/* Connect to the cluster and open the pool (which must exist). */
int b3cas__rados_open(b3cas_rados **out, const b3cas_rados_conf *c);
/* Disconnect; waits for nothing in flight (every call has returned). */
void b3cas__rados_close(b3cas_rados *t);
/* The pool's name, as given (for messages). */
const char *b3cas__rados_pool(const b3cas_rados *t);

/*
 * Store len bytes at data as object id with one reference of this host:
 * a new object is written whole with counts 1; an existing one gains the
 * reference and its bytes are not sent again when they are larger than
 * 256 KiB. *created (may be NULL) says which.
 */
int b3cas__rados_put(b3cas_rados *t, const uint8_t id[32], const void *data,
		     size_t len, bool *created);

/* Add n (>= 1) references of this host to an existing object:
 * B3CAS_ENOTFOUND when it does not exist (it may have been collected). */
int b3cas__rados_ref(b3cas_rados *t, const uint8_t id[32], uint32_t n);

/*
 * Drop one reference of this host. Refused with B3CAS_ERANGE when this
 * host holds none (its count is not above zero), B3CAS_ENOTFOUND when
 * the object does not exist. *last (may be NULL) is set when the total
 * read back after the release was zero: the object is a candidate for
 * b3cas__rados_collect (someone may have referenced it again since).
 */
int b3cas__rados_release(b3cas_rados *t, const uint8_t id[32], bool *last);

/* Remove the object if its total count is zero, in one operation the
 * OSD applies only if it is: 1 removed, 0 kept (referenced), or a code
 * (B3CAS_ENOTFOUND: already gone). */
int b3cas__rados_collect(b3cas_rados *t, const uint8_t id[32]);

/* The object's counts (either pointer may be NULL): total and this
 * host's. A count the object does not hold reads as 0. */
int b3cas__rados_counts(b3cas_rados *t, const uint8_t id[32], int64_t *total,
			int64_t *mine);

/* The object's size. */
int b3cas__rados_stat(b3cas_rados *t, const uint8_t id[32], uint64_t *size);

/*
 * The object's bytes into a malloc'ed buffer (*data, *len; the caller
 * frees it; a 0-byte object gives a 1-byte buffer). size_hint (0 when not
 * known) lets one round trip read the whole object: the read asks for
 * that many bytes, or 64 KiB, and reads the rest if there is more.
 */
int b3cas__rados_read(b3cas_rados *t, const uint8_t id[32],
		      uint64_t size_hint, void **data, size_t *len);

/*
 * A read of an object this host does not hold (a store's read-through):
 * its counts and its first bytes in one round trip, then, if other hosts
 * reference it (*others = the total count less this host's, > 0), the
 * rest, as b3cas__rados_read. With *others <= 0 nothing is returned
 * (*data NULL): an object only this host's stale count, or none, keeps
 * is not stored for anyone.
 */
int b3cas__rados_read_held(b3cas_rados *t, const uint8_t id[32],
			   void **data, size_t *len, int64_t *others);

/* Up to len bytes from off of a big object (one over
 * B3CAS_RADOS_OBJECT_MAX: its parts) into buf; *got says how many, *size
 * (may be NULL) its size. B3CAS_ECORRUPT when its record of parts is
 * damaged or a part is missing or short. */
int b3cas__rados_read_big(b3cas_rados *t, const uint8_t id[32], uint64_t off,
			  void *buf, size_t len, size_t *got, uint64_t *size);

/* Up to len bytes from off into buf; *got says how many (fewer only at
 * the object's end). */
int b3cas__rados_read_at(b3cas_rados *t, const uint8_t id[32], uint64_t off,
			 void *buf, size_t len, size_t *got);

/*
 * found[i] = whether ids[i] exists, for n ids, B3CAS_RADOS_WINDOW stat
 * operations in flight at a time. Returns the number found, or a code
 * (then found[] is not complete).
 */
int64_t b3cas__rados_exists_batch(b3cas_rados *t, const uint8_t (*ids)[32],
				  size_t n, bool *found);

/* others[i] = the references to ids[i] of hosts other than this one (its
 * total count less this host's), or -1 when the pool lacks it, for n
 * ids, B3CAS_RADOS_WINDOW omap reads in flight. 0 or the first failure
 * (then others[] is not complete). */
int b3cas__rados_others_batch(b3cas_rados *t, const uint8_t (*ids)[32],
			      size_t n, int64_t *others);

/* b3cas__rados_put of n objects with B3CAS_RADOS_WINDOW in flight at a
 * time; created may be NULL. The first failure is returned (then some of
 * the objects may have been stored, each whole). */
int b3cas__rados_put_batch(b3cas_rados *t, const uint8_t (*ids)[32],
			   const void *const *data, const size_t *lens,
			   size_t n, bool *created);

/* n objects' bytes into the caller's buffers (bufs[i], caps[i] bytes each),
 * lens[i] set to each one's size, B3CAS_RADOS_WINDOW in flight. An object
 * larger than its buffer fails the batch with B3CAS_ERANGE; a missing one
 * with B3CAS_ENOTFOUND (the first failure is returned). */
int b3cas__rados_read_batch(b3cas_rados *t, const uint8_t (*ids)[32],
			    void *const *bufs, const size_t *caps, size_t n,
			    size_t *lens);

/* Every object of the tier's namespace whose name is an id, to visit (in
 * no order); a non-zero return from visit stops the walk and is returned.
 * Names that are not ids are counted in *others (may be NULL). */
int b3cas__rados_list(b3cas_rados *t,
		      int (*visit)(void *ctx, const uint8_t id[32]),
		      void *ctx, uint64_t *others);

/*
 * Parts of big objects that no head names: a put killed after writing
 * them, or a collection killed before removing them. A put in progress
 * has parts its head does not name yet, so only parts older than
 * min_age_s seconds are called orphans.
 */
typedef struct b3cas_rados_part {
	uint8_t id[32]; /* the object's */
	char gen[17];
	uint32_t k;
} b3cas_rados_part;

/* Every part name in the namespace, to visit (a non-zero return stops
 * the walk and is returned). */
int b3cas__rados_list_parts(b3cas_rados *t,
			    int (*visit)(void *ctx, const b3cas_rados_part *p),
			    void *ctx);
/* 1 if no head names part p and it is at least min_age_s old (*age_s its
 * age), 0 if not (or it is gone), or a code. */
int b3cas__rados_part_orphaned(b3cas_rados *t, const b3cas_rados_part *p,
			       uint64_t min_age_s, uint64_t *age_s);
/* Remove part p if it is still an orphan (as above): 1 removed, 0 kept,
 * or a code. */
int b3cas__rados_part_remove(b3cas_rados *t, const b3cas_rados_part *p,
			     uint64_t min_age_s);

#endif
