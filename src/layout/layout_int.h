/*
 * layout/layout_int.h - the parts of the store folder's code that
 * layout/path.c shares with layout/leftovers.c and layout/owner.c, and nothing
 * else uses.
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

#endif
