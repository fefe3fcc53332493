/*
 * layout/layout_int.h - what the store folder's files (path.c, conf.c,
 * lock.c, leftovers.c, owner.c) share with each other, and nothing else
 * uses.
 */
#ifndef B3CAS_CORE_LAYOUT_INT_H
#define B3CAS_CORE_LAYOUT_INT_H

#include <stdbool.h>

#include "layout/path.h"

/*
 * Check that folder fd (where, for messages) holds nothing but what an
 * interrupted init leaves: a store folder, or with tier an objects folder
 * given with --objects-dir. 0 and the id of an owner mark found in its
 * objects folder (or "") in mark_out; B3CAS_EFORMAT naming the first
 * foreign entry; or an error from listing.
 */
int b3cas__check_leftovers(int fd, const char *where, bool tier,
			   char mark_out[B3CAS_STORE_ID_LEN + 1]);

/* A new random store id (getrandom), in hex. */
int b3cas__store_id_new(char out[B3CAS_STORE_ID_LEN + 1]);

/* true when text is a well-formed store id. */
bool b3cas__store_id_valid(const char *text);

/*
 * Read the owner mark of the objects folder dir_fd (where, for messages):
 * 0 when there is none, 1 with its store id in out, B3CAS_EFORMAT for a
 * mark that is not one (a link, unreadable text).
 */
int b3cas__owner_read(int dir_fd, const char *where,
		      char out[B3CAS_STORE_ID_LEN + 1]);

/*
 * Make the objects folder dir_fd (where) belong to store lay->store_id:
 * a mark of that id is fine; a mark of another store is B3CAS_EFORMAT
 * naming both; a missing mark is written (staged in tmp_fd, fsynced,
 * linked into place so a concurrent claim cannot be overwritten, folder
 * fsynced) when write is set, else left missing.
 */
int b3cas__owner_claim(const b3cas_layout *lay, int tmp_fd, int dir_fd,
		       const char *where, bool write);

/* ---- b3cas.conf (layout/conf.c) ---- */

#define B3CAS_CONF_NAME "b3cas.conf"

/* Read and parse b3cas.conf into lay: 0, or an error (B3CAS_EFORMAT
 * for a file that is not one we understand). */
int b3cas__conf_read(b3cas_layout *lay);

/* A store made before store ids gets one: b3cas.conf as it was (keys of
 * newer minor versions kept) plus a store_id line. */
int b3cas__conf_add_store_id(b3cas_layout *lay);

/* Compare what the caller asked for with what the store records. */
int b3cas__conf_check(const b3cas_layout *lay, const b3cas_store_options *o);

/* Publish lay's settings as b3cas.conf, durable before it returns (the
 * last step of making a store). */
int b3cas__conf_write(b3cas_layout *lay);

/* ---- the writer lock (layout/lock.c) ---- */

/* Take the writer lock, waiting up to timeout_ms for it to be free. */
int b3cas__lock_take(b3cas_layout *lay, unsigned timeout_ms);

/* Close LOCK, letting go of its flock (the folder's goes when root_fd
 * closes); the file itself stays. */
void b3cas__lock_release(b3cas_layout *lay);

#endif
