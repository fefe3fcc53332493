/*
 * layout/quarantine.h - moving a damaged loose object out of the object
 * tier into integrity/quarantine/ (see quarantine.c for the invariants).
 * A mechanism: it takes the layout, the stripe locks and the digest, not
 * the store; the store decides whether its handle may move files
 * (read-only handles never do) and counts what was moved.
 */
#ifndef B3CAS_LAYOUT_QUARANTINE_H
#define B3CAS_LAYOUT_QUARANTINE_H

#include <stdint.h>

#include "digest/digest.h"
#include "layout/path.h"
#include "stripe/stripes.h"

/*
 * A read found loose object id (size bytes) corrupt: under its stripe
 * lock, hash the file again and, if it still does not match, move it.
 * 1 if moved, 0 if not (the file changed or went meanwhile, or cannot be
 * moved). Never sets the error message.
 */
int b3cas__quarantine_checked(b3cas_layout *lay, b3cas_stripes *st,
			      b3cas_digest *d, const b3cas_oid *id,
			      uint64_t size);

/*
 * The caller holds id's stripe lock and has just found the file damaged
 * under it: move it. 1 if moved, 0 if not (no file, or it cannot be
 * moved). Never sets the error message.
 */
int b3cas__quarantine_move(b3cas_layout *lay, const b3cas_oid *id);

#endif
