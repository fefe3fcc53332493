/*
 * layout/objects.h - loose object files under objects/ab/<64 hex>.
 *
 * A loose object is written to a temp file in tmp/, made durable when the
 * caller asks, and renamed into place, so objects/ never holds a partial
 * file written by b3cas. Its bytes are never changed afterwards.
 */
#ifndef B3CAS_CORE_OBJECTS_H
#define B3CAS_CORE_OBJECTS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout/path.h"

/*
 * The staging area of a writable handle, as b3cas_store_interrupt needs
 * it: once interrupted, no staging file is created and no loose object
 * is published, so a program that exits next leaves tmp/ empty of its
 * files and objects/ as its last finished write left it.
 */
typedef struct b3cas_staging {
	pthread_mutex_t lock;     /* orders creates against an interrupt */
	atomic_bool interrupted;
} b3cas_staging;

/* Make (NULL and B3CAS_ENOMEM when out of memory) and free one. */
b3cas_staging *b3cas__staging_new(void);
void b3cas__staging_free(b3cas_staging *st);

/*
 * Interrupt lay's staging area in two steps. refuse: from now on
 * b3cas__tmpfile_create and b3cas__object_publish fail with
 * B3CAS_ECLOSED; a publish that checked before goes on, and the caller
 * waits for it under the stripe locks, which every publish holds until
 * its index write is done. remove, after that wait: every staging file
 * this process has in tmp/ is removed (none is being published).
 */
void b3cas__staging_refuse(const b3cas_layout *lay);
void b3cas__staging_remove(const b3cas_layout *lay);

/* 0, or B3CAS_ECLOSED with a message once lay's staging area was
 * interrupted: for other writes that leave files and index entries to
 * agree (gc), checked under their stripe lock like a publish. */
int b3cas__staging_check(const b3cas_layout *lay);

/* A temp file being filled before it is published. */
typedef struct b3cas_tmpfile {
	int fd;
	char name[48]; /* relative to tmp/ */
} b3cas_tmpfile;

/* Create a new empty temp file in tmp/. */
int b3cas__tmpfile_create(const b3cas_layout *lay, b3cas_tmpfile *out);

/* Append len bytes to temp file t (errors name its full path). */
int b3cas__tmpfile_write(const b3cas_layout *lay, b3cas_tmpfile *t,
			 const void *data, size_t len);

/* Close and remove a temp file that will not be published. */
void b3cas__tmpfile_discard(const b3cas_layout *lay, b3cas_tmpfile *t);

/*
 * Publish temp file t as object id: with durable, fsync it before the
 * rename and fsync the object's folder after. The temp file is closed and
 * gone afterwards, whether this succeeds or not.
 */
int b3cas__object_publish(const b3cas_layout *lay, b3cas_tmpfile *t,
			  const b3cas_oid *id, bool durable);

/* Write len bytes as object id through a temp file (see publish). */
int b3cas__object_write(const b3cas_layout *lay, const b3cas_oid *id,
			const void *data, size_t len, bool durable);

/*
 * Open object id for reading and check that its size is size. A missing
 * file gives B3CAS_ENOTFOUND (the caller decides whether the index still
 * claims it); a size mismatch B3CAS_ECORRUPT.
 */
int b3cas__object_open(const b3cas_layout *lay, const b3cas_oid *id,
		       uint64_t size, int *fd_out);

/* Read len bytes at off of object id, open as fd (b3cas__pread_exact;
 * messages name the object's file). */
int b3cas__object_pread(const b3cas_layout *lay, const b3cas_oid *id,
			int fd, void *buf, size_t len, uint64_t off);

/* Read the whole of object id (size bytes) into buf. */
int b3cas__object_read(const b3cas_layout *lay, const b3cas_oid *id,
		       uint64_t size, void *buf);

/* Remove object id's file; a missing file is not an error. */
int b3cas__object_remove(const b3cas_layout *lay, const b3cas_oid *id);

/* 0, or the errno lay's fault plan (tests) injects into op. */
int b3cas__object_fault(const b3cas_layout *lay, unsigned op);

#endif
