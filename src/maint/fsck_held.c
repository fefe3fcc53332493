/*
 * maint/fsck_held.c - fsck's step for chunking stores: each chunk's held
 * count (the part of its reference count that manifests hold) against
 * its occurrences in the manifests' segments, as one snapshot shows them.
 * The store judges and, with repair, mends (store/held.c, which keeps the
 * rules); this file puts each finding in words and counts it.
 *
 * Runs on the calling thread once both walks of the index are done (a
 * repair of the reference counts' walk removes a held count with its
 * object). Memory is one map entry per distinct chunk, whatever the
 * number of objects and manifests.
 */
#include "maint/fsck_int.h"

#include <stdio.h>
#include <string.h>

static const char *times(uint64_t n)
{
	return n == 1 ? "time" : "times";
}

/* What is wrong with f, in words, into out (n bytes). */
static void describe(char *out, size_t n, const b3cas__held_finding *f)
{
	unsigned long long in = f->in_segments, held = f->held;
	size_t k;

	if (in)
		snprintf(out, n, "manifests hold this chunk %llu %s", in,
			 times(in));
	else
		snprintf(out, n, "no manifest holds this chunk");
	k = strlen(out);
	if (f->malformed)
		snprintf(out + k, n - k, ", its held count cannot be read");
	else if (!f->has_key && in)
		snprintf(out + k, n - k, ", it has no held count");
	else if (held != in)
		snprintf(out + k, n - k, ", its held count says %llu", held);
	k = strlen(out);
	if (in && !f->stored)
		snprintf(out + k, n - k, ", but it is not stored");
	else if (in && f->candidate)
		snprintf(out + k, n - k, ", but it is a GC candidate: GC "
			 "would free it while they name it");
	else if (in && !f->unreadable && f->refs < in)
		snprintf(out + k, n - k, "; its reference count %llu is below "
			 "that: deleting objects would make it a GC candidate "
			 "while they name it", (unsigned long long)f->refs);
}

/* What repair did about f, in words (out: n bytes, if needed). */
static const char *action(char *out, size_t n, const b3cas__held_finding *f)
{
	unsigned long long held = f->new_held;
	size_t k = 0;

	if (f->stale)
		return "not mended: held counts changed meanwhile in ways "
		       "this check cannot account for (another fsck's "
		       "mends, or releases of counts already too low); run "
		       "fsck again";
	if (!f->mended)
		return f->stored ? "nothing to mend: changed meanwhile"
				 : "not mended: the chunk's bytes are gone";
	if (f->revived) {
		snprintf(out, n, "revived (no longer a GC candidate): held "
			 "count and reference count %llu", held);
		return out;
	}
	out[0] = '\0';
	if (f->moved && held == 0)
		k = (size_t)snprintf(out, n, "held count removed");
	else if (f->moved)
		k = (size_t)snprintf(out, n, "held count set to %llu", held);
	if (f->raised && k < n)
		snprintf(out + k, n - k, "%sreference count raised to %llu",
			 k ? ", " : "", held);
	k = strlen(out);
	if (!f->stored && k < n)
		snprintf(out + k, n - k, " (the chunk is not stored)");
	return out;
}

/* A node's finding in words (out: n bytes). */
static void describe_node(char *out, size_t n, const b3cas__held_finding *f)
{
	unsigned long long in = f->in_segments, count = f->held;
	size_t k;

	if (in)
		snprintf(out, n, "manifests and pending puts or removals name "
			 "this manifest node %llu %s", in, times(in));
	else
		snprintf(out, n, "nothing names this manifest node");
	k = strlen(out);
	if (f->malformed)
		snprintf(out + k, n - k, ", its count cannot be read");
	else if (!f->has_key && (in || f->stored))
		snprintf(out + k, n - k, ", it has no count");
	else if (count != in)
		snprintf(out + k, n - k, ", its count says %llu%s", count,
			 count < in ? " (its last release would take it "
				      "while they name it)" : "");
	k = strlen(out);
	if (in && !f->stored)
		snprintf(out + k, n - k, ", but its list of chunks is missing");
	else if (!in && f->stored && f->has_key && count == 0)
		snprintf(out + k, n - k, " (a leak)");
}

static const char *node_action(char *out, size_t n,
			       const b3cas__held_finding *f)
{
	if (f->stale)
		return "not mended: counts changed meanwhile in ways this "
		       "check cannot account for; run fsck again";
	if (!f->mended)
		return f->stored ? "nothing to mend: changed meanwhile"
				 : "not mended: the node's list is gone";
	if (!f->stored)
		return "its count removed";
	if (f->new_held == 0)
		return "removed, with its references to its chunks";
	snprintf(out, n, "count set to %llu", (unsigned long long)f->new_held);
	return out;
}

/* One finding: counted and handed to the caller; non-zero stops. */
static int report_held(b3cas__held_finding *f, void *ctx)
{
	fsck_worker *w = ctx;
	b3cas_fsck_problem p = {0};
	char detail[320], done[160];
	bool repair = w->f->o->repair;

	if (f->node) {
		describe_node(detail, sizeof(detail), f);
		p.kind = B3CAS_FSCK_NODE_COUNT;
		p.action = repair ? node_action(done, sizeof(done), f) : NULL;
		w->r.node_mended += f->mended;
	} else {
		describe(detail, sizeof(detail), f);
		p.kind = B3CAS_FSCK_HELD_COUNT;
		p.action = repair ? action(done, sizeof(done), f) : NULL;
		w->r.held_mended += f->mended;
	}
	p.has_id = true;
	p.id = f->id;
	p.detail = detail;
	b3cas__fsck_found(w, &p);
	return b3cas__fsck_halted(w->f) ? 1 : 0;
}

int b3cas__fsck_check_held(fsck_worker *w)
{
	fsck_run *f = w->f;
	const char *why;
	int rc = b3cas__store_check_held(f->s, f->o->repair, report_held, w);

	if (rc > 0)
		return 0; /* stopped: f says why */
	/* Part of the index cannot be read: the one "index" finding says
	 * so; the counts cannot be judged without it. */
	if (rc == B3CAS_ECORRUPT &&
	    (why = strstr(b3cas_error_last(), "Corruption")) != NULL &&
	    b3cas__fsck_index_damage(f, why)) {
		b3cas_error_clear();
		return 0;
	}
	return rc;
}

/* ---- a packed store's data keys that no entry names ---- */

static int report_packed(const b3cas__pack_orphan *o, void *ctx)
{
	fsck_worker *w = ctx;
	b3cas_fsck_problem p = {0};
	char detail[320];

	if (o->malformed)
		snprintf(detail, sizeof(detail),
			 "a key of the index's data family that is not a "
			 "data key (%zu bytes of value)", o->len);
	else
		snprintf(detail, sizeof(detail),
			 "packed bytes (%zu, data key %llu) that no index "
			 "entry names%s",
			 o->len, (unsigned long long)o->seq,
			 o->sound ? ""
				  : "; they do not hash to the id their key "
				    "names");
	p.kind = B3CAS_FSCK_ORPHAN;
	p.has_id = o->sound;
	p.id = o->id;
	p.detail = detail;
	if (o->removed) {
		p.action = "removed from the index's data family";
		w->r.removed++;
	}
	b3cas__fsck_found(w, &p);
	return b3cas__fsck_halted(w->f) ? 1 : 0;
}

int b3cas__fsck_check_packed(fsck_worker *w)
{
	fsck_run *f = w->f;
	int rc = b3cas__store_pack_orphans(f->s, f->o->repair, report_packed,
					   w);

	if (rc > 0)
		return 0; /* stopped: f says why */
	if (rc == B3CAS_ECORRUPT &&
	    strstr(b3cas_error_last(), "Corruption") != NULL &&
	    b3cas__fsck_index_damage(f, strstr(b3cas_error_last(),
					       "Corruption"))) {
		b3cas_error_clear();
		return 0;
	}
	return rc;
}
