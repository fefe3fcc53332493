/*
 * maint/fsck_pool.c - fsck's check of a RADOS store's pool (docs/rados.md):
 * every object of the store's namespace, every host's, is listed, and
 * this host's count of it (h.<host>) is judged against its index under
 * the object's stripe lock (store/tier.c, b3cas__tier_check_count): one
 * for an object it holds, none or one for a GC candidate, none for an
 * object it does not list. A count that is not is a
 * B3CAS_FSCK_TIER_COUNT finding; with repair it is set right, and an
 * object no host counts any more is collected.
 *
 * The bytes of what this host holds are re-hashed by the entries' phase
 * (an entry's bytes are read from the pool); objects only other hosts
 * hold are theirs to check. On a read-only handle, whose stripe locks do
 * not hold back the writing process (its put adds its count in the pool
 * just before the index entry that explains it), a finding is a suspect,
 * judged twice more against the index opened afresh and the pool read
 * again, a moment apart (fsck_suspects.c), and reported only if it holds
 * both times.
 *
 * First, the parts of big objects that no head names and that are a day
 * old or more (a put in progress writes its parts before its head): each
 * a B3CAS_FSCK_STRAY finding, which repair removes, judged again just
 * before. Any host may: a head's record alone says which parts it names.
 */
#include "maint/fsck_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int visit(void *ctx, const b3cas_oid *id)
{
	fsck_worker *w = ctx;
	b3cas_store *s = w->f->s;
	b3cas__pool_count c;
	b3cas_fsck_problem p = {0};
	char hex[B3CAS_OID_HEX_LEN + 1], detail[320], action[96];
	int rc;

	if (b3cas__fsck_halted(w->f))
		return 1;
	w->r.tier_objects++;
	rc = b3cas__tier_check_count(s, id, w->f->o->repair, &c);
	if (rc <= 0)
		return rc;
	b3cas_oid_fmt(hex, id);
	if (c.want_min == c.want_max)
		snprintf(detail, sizeof(detail), "the RADOS pool counts %" PRId64
			 " references of this host to object %s, which its "
			 "index %s: want %d", c.mine, hex, c.listed,
			 c.want_min);
	else
		snprintf(detail, sizeof(detail), "the RADOS pool counts %" PRId64
			 " references of this host to object %s, which its "
			 "index %s: want %d or %d", c.mine, hex, c.listed,
			 c.want_min, c.want_max);
	p.kind = B3CAS_FSCK_TIER_COUNT;
	p.has_id = true;
	p.id = *id;
	p.detail = detail;
	if (b3cas__store_read_only(s)) {
		b3cas__fsck_note_suspect(w, &p, 0, NULL);
		return 0;
	}
	if (c.mended) {
		snprintf(action, sizeof(action),
			 "this host's count set to %" PRId64 " in the pool",
			 c.set_to);
		p.action = action;
		w->r.tier_mended++;
	}
	b3cas__fsck_found(w, &p);
	return 0;
}

/* A part of a big object that no head names, a day old or more: a
 * stray (repair removes it). */
static int visit_part(void *ctx, const b3cas_rados_part *part)
{
	fsck_worker *w = ctx;
	b3cas_store *s = w->f->s;
	b3cas_fsck_problem p = {0};
	char hex[B3CAS_OID_HEX_LEN + 1], detail[256];
	uint64_t age;
	int rc;

	if (b3cas__fsck_halted(w->f))
		return 1;
	rc = b3cas__tier_part_orphaned(s, part, &age);
	if (rc <= 0)
		return rc;
	p.kind = B3CAS_FSCK_STRAY;
	p.has_id = true;
	memcpy(p.id.bytes, part->id, B3CAS_OID_LEN);
	b3cas_oid_fmt(hex, &p.id);
	snprintf(detail, sizeof(detail), "part %u of generation %s of big "
		 "object %s in the RADOS pool, which no head names (%" PRIu64
		 " hours old): left by a put or a collection cut short",
		 part->k, part->gen, hex, age / 3600);
	p.detail = detail;
	if (w->f->o->repair && !b3cas__store_read_only(s)) {
		rc = b3cas__tier_part_remove(s, part);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return 0; /* named again, or gone: nothing to say */
		p.action = "removed from the pool";
	}
	b3cas__fsck_found(w, &p);
	return 0;
}

int b3cas__fsck_check_pool(fsck_worker *w)
{
	b3cas_store *s = w->f->s;
	int rc;

	if (!b3cas__store_tiered(s))
		return 0;
	rc = b3cas__tier_list_parts(s, visit_part, w);
	if (rc == 1)
		rc = 0;
	if (rc < 0)
		return rc;
	rc = b3cas__tier_list(s, visit, w, NULL);
	/* 1: halted (a callback's stop, or a failure already kept) */
	if (rc == 1)
		rc = 0;
	return rc == 0 ? b3cas__fsck_confirm_suspects(w->f, w) : rc;
}
