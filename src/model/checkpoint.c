/*
 * model/checkpoint.c - checkpoints (b3cas/checkpoint.h, docs/trees.md
 * "Checkpoints"): the record's canonical encoding, its name as the GC
 * root, listing, point-in-time lookup and retention.
 *
 * Record: "b3ckpt\0" and version 1; the sandbox (varint length, bytes);
 * the time (u64 BE); the root (a byte 0, or 1 and the id); the parent
 * (the same); the blobs (varint count; each a varint length, the name,
 * the id), sorted by name, unique; the labels (varint count; each the
 * key and the value, each a varint length and the bytes), sorted by key,
 * unique. Varints are canonical (shortest). Parse accepts only what
 * create would write, so a record re-encodes to the same bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "b3cas/checkpoint.h"
#include "util/error.h"
#include "util/varint.h"

static const uint8_t magic[8] = {'b', '3', 'c', 'k', 'p', 't', 0, 1};

#define PREFIX "ckpt/"
/* "ckpt/" sandbox "/" 16 hex digits */
#define CKPT_NAME_MAX (5 + B3CAS_CHECKPOINT_SANDBOX_MAX + 1 + 16 + 1)

static int check_sandbox(const char *fn, const char *sandbox)
{
	size_t n = strlen(sandbox);

	if (n == 0 || n > B3CAS_CHECKPOINT_SANDBOX_MAX ||
	    strchr(sandbox, '/'))
		return b3cas__error(B3CAS_EINVAL, "%s: a sandbox name has 1 to "
				    "%d bytes and no '/': '%.40s'", fn,
				    B3CAS_CHECKPOINT_SANDBOX_MAX, sandbox);
	return 0;
}

static void ckpt_name(char out[CKPT_NAME_MAX], const char *sandbox,
		      int64_t t)
{
	snprintf(out, CKPT_NAME_MAX, PREFIX "%s/%016llx", sandbox,
		 (unsigned long long)t);
}

/* ---- encoding --------------------------------------------------------- */

typedef struct outbuf {
	uint8_t *p;
	size_t len, cap;
	bool nomem;
} outbuf;

static void put(outbuf *o, const void *d, size_t n)
{
	if (o->nomem)
		return;
	if (o->len + n > o->cap) {
		size_t cap = (o->len + n) * 2 + 64;
		uint8_t *p = realloc(o->p, cap);

		if (!p) {
			o->nomem = true;
			return;
		}
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->len, d, n);
	o->len += n;
}

static void put_varint(outbuf *o, uint64_t v)
{
	uint8_t b[10];

	put(o, b, b3cas__varint_put(b, v));
}

static void put_bytes(outbuf *o, const char *s)
{
	size_t n = strlen(s);

	put_varint(o, n);
	put(o, s, n);
}

static void put_opt_id(outbuf *o, bool has, const b3cas_oid *id)
{
	uint8_t f = has;

	put(o, &f, 1);
	if (has)
		put(o, id->bytes, B3CAS_OID_LEN);
}

static int blob_cmp(const void *a, const void *b)
{
	return strcmp(((const b3cas_checkpoint_blob *)a)->name,
		      ((const b3cas_checkpoint_blob *)b)->name);
}

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const b3cas_checkpoint_label *)a)->key,
		      ((const b3cas_checkpoint_label *)b)->key);
}

/* Check c and encode it (blobs and labels sorted into the copies the
 * caller frees) into o; its links into links (root, then blobs). */
static int encode(const b3cas_checkpoint *c, int64_t t, outbuf *o,
		  b3cas_checkpoint_blob *blobs, b3cas_checkpoint_label *labels,
		  b3cas_oid *links, size_t *nlinks)
{
	uint8_t tb[8];
	int rc = check_sandbox("b3cas_checkpoint_create", c->sandbox);

	if (rc < 0)
		return rc;
	if (c->blob_count > B3CAS_CHECKPOINT_ITEMS_MAX ||
	    c->label_count > B3CAS_CHECKPOINT_ITEMS_MAX)
		return b3cas__error(B3CAS_EINVAL, "b3cas_checkpoint_create: "
				    "at most %d blobs and %d labels",
				    B3CAS_CHECKPOINT_ITEMS_MAX,
				    B3CAS_CHECKPOINT_ITEMS_MAX);
	for (size_t i = 0; i < c->blob_count; i++) {
		size_t n = c->blobs[i].name ? strlen(c->blobs[i].name) : 0;

		if (n == 0 || n > B3CAS_CHECKPOINT_BLOB_NAME_MAX)
			return b3cas__error(B3CAS_EINVAL, "b3cas_checkpoint_"
					    "create: blob %zu: a name has 1 to "
					    "%d bytes", i,
					    B3CAS_CHECKPOINT_BLOB_NAME_MAX);
		blobs[i] = c->blobs[i];
	}
	for (size_t i = 0; i < c->label_count; i++) {
		size_t k = c->labels[i].key ? strlen(c->labels[i].key) : 0;
		size_t v = c->labels[i].value ? strlen(c->labels[i].value)
					      : SIZE_MAX;

		if (k == 0 || k > B3CAS_CHECKPOINT_LABEL_KEY_MAX ||
		    v > B3CAS_CHECKPOINT_LABEL_VALUE_MAX)
			return b3cas__error(B3CAS_EINVAL, "b3cas_checkpoint_"
					    "create: label %zu: a key has 1 to "
					    "%d bytes, a value up to %d", i,
					    B3CAS_CHECKPOINT_LABEL_KEY_MAX,
					    B3CAS_CHECKPOINT_LABEL_VALUE_MAX);
		labels[i] = c->labels[i];
	}
	if (c->blob_count)
		qsort(blobs, c->blob_count, sizeof(*blobs), blob_cmp);
	if (c->label_count)
		qsort(labels, c->label_count, sizeof(*labels), label_cmp);
	for (size_t i = 1; i < c->blob_count; i++)
		if (strcmp(blobs[i - 1].name, blobs[i].name) == 0)
			return b3cas__error(B3CAS_EINVAL, "b3cas_checkpoint_"
					    "create: two blobs named '%.40s'",
					    blobs[i].name);
	for (size_t i = 1; i < c->label_count; i++)
		if (strcmp(labels[i - 1].key, labels[i].key) == 0)
			return b3cas__error(B3CAS_EINVAL, "b3cas_checkpoint_"
					    "create: two labels '%.40s'",
					    labels[i].key);
	put(o, magic, sizeof(magic));
	put_bytes(o, c->sandbox);
	for (int k = 0; k < 8; k++)
		tb[k] = (uint8_t)((uint64_t)t >> (56 - 8 * k));
	put(o, tb, 8);
	put_opt_id(o, c->has_root, &c->root);
	put_opt_id(o, c->has_parent, &c->parent);
	put_varint(o, c->blob_count);
	*nlinks = 0;
	if (c->has_root)
		links[(*nlinks)++] = c->root;
	for (size_t i = 0; i < c->blob_count; i++) {
		put_bytes(o, blobs[i].name);
		put(o, blobs[i].id.bytes, B3CAS_OID_LEN);
		links[(*nlinks)++] = blobs[i].id;
	}
	put_varint(o, c->label_count);
	for (size_t i = 0; i < c->label_count; i++) {
		put_bytes(o, labels[i].key);
		put_bytes(o, labels[i].value);
	}
	return o->nomem ? b3cas__error(B3CAS_ENOMEM, "out of memory") : 0;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int b3cas_checkpoint_create(b3cas_store *s, const b3cas_checkpoint *c,
			    b3cas_oid *id_out, int64_t *time_out)
{
	b3cas_checkpoint_blob *blobs = NULL;
	b3cas_checkpoint_label *labels = NULL;
	b3cas_oid *links = NULL, id;
	int64_t t;
	int rc = 0;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(c, "c");
	B3CAS__NONNULL(c->sandbox, "c->sandbox");
	B3CAS__NONNULL_LEN(c->blobs, "c->blobs", c->blob_count,
			   "c->blob_count");
	B3CAS__NONNULL_LEN(c->labels, "c->labels", c->label_count,
			   "c->label_count");
	if (c->time_ns < 0)
		return b3cas__error(B3CAS_EINVAL, "b3cas_checkpoint_create: "
				    "a time before 1970");
	t = c->time_ns ? c->time_ns : now_ns();
	if (c->blob_count <= B3CAS_CHECKPOINT_ITEMS_MAX) {
		blobs = malloc((c->blob_count + 1) * sizeof(*blobs));
		labels = malloc((c->label_count + 1) * sizeof(*labels));
		links = malloc((c->blob_count + 1) * sizeof(*links));
		if (!blobs || !labels || !links)
			rc = b3cas__error(B3CAS_ENOMEM, "out of memory");
	}
	/* an automatic time steps past a checkpoint of the same ns */
	for (int tries = 0; rc == 0 && tries < 1000; tries++, t++) {
		char name[CKPT_NAME_MAX];
		outbuf o = {NULL, 0, 0, false};
		size_t nlinks = 0;

		rc = encode(c, t, &o, blobs, labels, links, &nlinks);
		ckpt_name(name, c->sandbox, t);
		if (rc == 0)
			rc = b3cas_name_put_linked(s, name, o.p, o.len, links,
						   nlinks, &id);
		free(o.p);
		if (rc == B3CAS_EEXISTS && !c->time_ns) {
			b3cas_error_clear();
			rc = 0;
			continue;
		}
		if (rc >= 0) {
			if (id_out)
				*id_out = id;
			if (time_out)
				*time_out = t;
			rc = 0;
		}
		break;
	}
	free(blobs);
	free(labels);
	free(links);
	return rc;
}

/* ---- parsing ---------------------------------------------------------- */

typedef struct loaded {
	b3cas_checkpoint c;
	b3cas_checkpoint_blob *blobs;
	b3cas_checkpoint_label *labels;
	char *strings; /* every string, NUL-terminated, one after another */
} loaded;

typedef struct in {
	const uint8_t *p, *end;
	char *sp; /* where the next string goes */
} in;

static bool get_varint(in *r, uint64_t *v)
{
	uint8_t b[10];
	size_t n = b3cas__varint_get(r->p, r->end, 10, v);

	if (n == 0 || n != b3cas__varint_put(b, *v))
		return false; /* none, or not the shortest */
	r->p += n;
	return true;
}

/* A string of 1 (0 with empty_ok) to max bytes, no NUL, copied out. */
static bool get_string(in *r, size_t max, bool empty_ok, const char **out)
{
	uint64_t n;

	if (!get_varint(r, &n) || n > max || (n == 0 && !empty_ok) ||
	    (uint64_t)(r->end - r->p) < n || memchr(r->p, 0, (size_t)n))
		return false;
	memcpy(r->sp, r->p, (size_t)n);
	r->sp[n] = '\0';
	*out = r->sp;
	r->sp += n + 1;
	r->p += n;
	return true;
}

static bool get_opt_id(in *r, bool *has, b3cas_oid *id)
{
	if (r->p == r->end || *r->p > 1)
		return false;
	*has = *r->p++;
	if (!*has)
		return true;
	if (r->end - r->p < B3CAS_OID_LEN)
		return false;
	memcpy(id->bytes, r->p, B3CAS_OID_LEN);
	r->p += B3CAS_OID_LEN;
	return true;
}

static bool parse(in *r, loaded *l)
{
	b3cas_checkpoint *c = &l->c;
	uint64_t n, t = 0;

	if (!get_string(r, B3CAS_CHECKPOINT_SANDBOX_MAX, false, &c->sandbox) ||
	    strchr(c->sandbox, '/') || r->end - r->p < 8)
		return false;
	for (int k = 0; k < 8; k++)
		t = t << 8 | *r->p++;
	if (t > INT64_MAX)
		return false;
	c->time_ns = (int64_t)t;
	if (!get_opt_id(r, &c->has_root, &c->root) ||
	    !get_opt_id(r, &c->has_parent, &c->parent) || !get_varint(r, &n) ||
	    n > B3CAS_CHECKPOINT_ITEMS_MAX ||
	    n > (uint64_t)(r->end - r->p) / (2 + B3CAS_OID_LEN))
		return false;
	l->blobs = calloc(n + 1, sizeof(*l->blobs));
	if (!l->blobs)
		return false;
	c->blobs = l->blobs;
	for (c->blob_count = 0; c->blob_count < n; c->blob_count++) {
		b3cas_checkpoint_blob *b = &l->blobs[c->blob_count];

		if (!get_string(r, B3CAS_CHECKPOINT_BLOB_NAME_MAX, false,
				&b->name) ||
		    r->end - r->p < B3CAS_OID_LEN ||
		    (c->blob_count &&
		     strcmp(b[-1].name, b->name) >= 0))
			return false;
		memcpy(b->id.bytes, r->p, B3CAS_OID_LEN);
		r->p += B3CAS_OID_LEN;
	}
	if (!get_varint(r, &n) || n > B3CAS_CHECKPOINT_ITEMS_MAX ||
	    n > (uint64_t)(r->end - r->p) / 3)
		return false;
	l->labels = calloc(n + 1, sizeof(*l->labels));
	if (!l->labels)
		return false;
	c->labels = l->labels;
	for (c->label_count = 0; c->label_count < n; c->label_count++) {
		b3cas_checkpoint_label *b = &l->labels[c->label_count];

		if (!get_string(r, B3CAS_CHECKPOINT_LABEL_KEY_MAX, false,
				&b->key) ||
		    !get_string(r, B3CAS_CHECKPOINT_LABEL_VALUE_MAX, true,
				&b->value) ||
		    (c->label_count && strcmp(b[-1].key, b->key) >= 0))
			return false;
	}
	return r->p == r->end;
}

int b3cas_checkpoint_load(b3cas_store *s, const b3cas_oid *id,
			  b3cas_checkpoint **out)
{
	char hex[B3CAS_OID_HEX_LEN + 1];
	loaded *l;
	void *data;
	size_t len;
	in r;
	int rc;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(id, "id");
	B3CAS__NONNULL(out, "out");
	*out = NULL;
	rc = b3cas_store_get(s, id, &data, &len);
	if (rc < 0)
		return rc;
	if (len < sizeof(magic) || memcmp(data, magic, sizeof(magic)) != 0) {
		b3cas_free(data);
		return b3cas__error(B3CAS_EFORMAT, "object %s is not a "
				    "checkpoint", b3cas_oid_fmt(hex, id));
	}
	l = calloc(1, sizeof(*l));
	/* strings take at most the record's bytes, plus their NULs */
	if (l)
		l->strings = malloc(2 * len);
	if (!l || !l->strings) {
		if (l)
			free(l);
		b3cas_free(data);
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	}
	r.p = (const uint8_t *)data + sizeof(magic);
	r.end = (const uint8_t *)data + len;
	r.sp = l->strings;
	if (!parse(&r, l)) {
		b3cas_checkpoint_free(&l->c);
		b3cas_free(data);
		return b3cas__error(B3CAS_ECORRUPT, "checkpoint %s is "
				    "malformed", b3cas_oid_fmt(hex, id));
	}
	b3cas_free(data);
	*out = &l->c;
	return 0;
}

void b3cas_checkpoint_free(b3cas_checkpoint *c)
{
	loaded *l = (loaded *)c; /* c is the first member */

	if (!l)
		return;
	free(l->blobs);
	free(l->labels);
	free(l->strings);
	free(l);
}

/* ---- listing, lookup, deletion ---------------------------------------- */

typedef struct list_run {
	b3cas_checkpoint_fn fn;
	void *ctx;
} list_run;

/* "ckpt/SANDBOX/TIME" into its parts: false for any other name. */
static bool split_name(const char *name, char *sandbox, int64_t *t)
{
	const char *sb = name + strlen(PREFIX);
	const char *slash = strrchr(sb, '/');
	unsigned long long v = 0;

	if (!slash || slash == sb || strlen(slash + 1) != 16 ||
	    (size_t)(slash - sb) > B3CAS_CHECKPOINT_SANDBOX_MAX ||
	    memchr(sb, '/', (size_t)(slash - sb)))
		return false;
	for (const char *p = slash + 1; *p; p++) {
		int d = *p >= '0' && *p <= '9'   ? *p - '0'
			: *p >= 'a' && *p <= 'f' ? *p - 'a' + 10
						 : -1;

		if (d < 0)
			return false;
		v = v << 4 | (unsigned)d;
	}
	if (v > INT64_MAX)
		return false;
	memcpy(sandbox, sb, (size_t)(slash - sb));
	sandbox[slash - sb] = '\0';
	*t = (int64_t)v;
	return true;
}

static int list_one(const char *name, const b3cas_oid *id, void *ctx)
{
	list_run *r = ctx;
	char sandbox[B3CAS_CHECKPOINT_SANDBOX_MAX + 1];
	int64_t t;

	if (!split_name(name, sandbox, &t))
		return b3cas__error(B3CAS_ECORRUPT, "name '%.80s' is not a "
				    "checkpoint's", name);
	return r->fn(sandbox, t, id, r->ctx);
}

int b3cas_checkpoint_list(b3cas_store *s, const char *sandbox,
			  b3cas_checkpoint_fn fn, void *ctx)
{
	char prefix[CKPT_NAME_MAX];
	list_run r = {fn, ctx};

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(fn, "fn");
	if (sandbox) {
		int rc = check_sandbox("b3cas_checkpoint_list", sandbox);

		if (rc < 0)
			return rc;
		snprintf(prefix, sizeof(prefix), PREFIX "%s/", sandbox);
	} else {
		snprintf(prefix, sizeof(prefix), PREFIX);
	}
	return b3cas_name_foreach(s, prefix, list_one, &r);
}

typedef struct find_run {
	int64_t at;
	bool found;
	b3cas_oid id;
	int64_t t;
} find_run;

static int find_one(const char *sandbox, int64_t t, const b3cas_oid *id,
		    void *ctx)
{
	find_run *f = ctx;

	(void)sandbox;
	if (t > f->at)
		return 1; /* oldest first: the rest are later */
	f->found = true;
	f->id = *id;
	f->t = t;
	return 0;
}

int b3cas_checkpoint_find(b3cas_store *s, const char *sandbox, int64_t at_ns,
			  b3cas_oid *id_out, int64_t *time_out)
{
	find_run f = {at_ns, false, {{0}}, 0};
	int rc;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(sandbox, "sandbox");
	B3CAS__NONNULL(id_out, "id_out");
	rc = b3cas_checkpoint_list(s, sandbox, find_one, &f);
	if (rc < 0)
		return rc;
	if (!f.found)
		return b3cas__error(B3CAS_ENOTFOUND, "sandbox '%s' has no "
				    "checkpoint at or before that time",
				    sandbox);
	*id_out = f.id;
	if (time_out)
		*time_out = f.t;
	return 0;
}

int b3cas_checkpoint_delete(b3cas_store *s, const char *sandbox,
			    int64_t time_ns)
{
	char name[CKPT_NAME_MAX];
	int rc;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(sandbox, "sandbox");
	rc = check_sandbox("b3cas_checkpoint_delete", sandbox);
	if (rc < 0)
		return rc;
	if (time_ns < 0)
		return b3cas__error(B3CAS_ENOTFOUND, "no checkpoint before "
				    "1970");
	ckpt_name(name, sandbox, time_ns);
	rc = b3cas_name_delete(s, name);
	if (rc == B3CAS_ENOTFOUND)
		return b3cas__error(rc, "sandbox '%s' has no checkpoint at "
				    "that time", sandbox);
	return rc;
}

/* ---- retention -------------------------------------------------------- */

typedef struct ckpt_ref {
	char *sandbox;
	int64_t t;
	b3cas_oid id;
} ckpt_ref;

typedef struct gather {
	ckpt_ref *v;
	size_t n, cap;
} gather;

static int gather_one(const char *sandbox, int64_t t, const b3cas_oid *id,
		      void *ctx)
{
	gather *g = ctx;

	if (g->n == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 64;
		ckpt_ref *v = realloc(g->v, cap * sizeof(*v));

		if (!v)
			return b3cas__error(B3CAS_ENOMEM, "out of memory");
		g->v = v;
		g->cap = cap;
	}
	g->v[g->n].sandbox = strdup(sandbox);
	if (!g->v[g->n].sandbox)
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	g->v[g->n].t = t;
	g->v[g->n].id = *id;
	g->n++;
	return 0;
}

/* The bucket of time t for a rule: hours, days or ISO weeks since 1970
 * (a week from Monday: 1970-01-01 was a Thursday). */
static int64_t bucket(int64_t t, int rule)
{
	int64_t sec = t / 1000000000, hour = sec / 3600, day = sec / 86400;

	return rule == 0 ? hour : rule == 1 ? day : (day + 3) / 7;
}

/* Mark which of v[lo..hi) (one sandbox, oldest first) r keeps. */
static void judge(const ckpt_ref *v, size_t lo, size_t hi,
		  const b3cas_retention *r, bool *keep)
{
	uint64_t want[3] = {r->hourly, r->daily, r->weekly};
	uint64_t got[3] = {0, 0, 0}, last_n = 0;
	int64_t last_b[3] = {0, 0, 0};
	bool any[3] = {false, false, false};
	int64_t newest = v[hi - 1].t;

	for (size_t i = hi; i-- > lo;) {
		keep[i] = false;
		if (last_n < r->last) {
			keep[i] = true;
			last_n++;
		}
		for (int k = 0; k < 3; k++) {
			int64_t b = bucket(v[i].t, k);

			if (got[k] < want[k] && (!any[k] || b != last_b[k])) {
				keep[i] = true;
				got[k]++;
				any[k] = true;
				last_b[k] = b;
			}
		}
		if (r->within_ns &&
		    (uint64_t)(newest - v[i].t) <= r->within_ns)
			keep[i] = true;
	}
}

int b3cas_checkpoint_prune(b3cas_store *s, const char *sandbox,
			   const b3cas_retention *r, bool dry_run,
			   b3cas_prune_fn fn, void *ctx, uint64_t *removed)
{
	gather g = {NULL, 0, 0};
	bool *keep = NULL;
	uint64_t gone = 0;
	int rc;

	B3CAS__NONNULL(s, "store");
	B3CAS__NONNULL(r, "r");
	if (removed)
		*removed = 0;
	if (!r->last && !r->hourly && !r->daily && !r->weekly &&
	    !r->within_ns)
		return b3cas__error(B3CAS_EINVAL, "b3cas_checkpoint_prune: no "
				    "rule keeps anything; refusing to delete "
				    "every checkpoint");
	rc = b3cas_checkpoint_list(s, sandbox, gather_one, &g);
	if (rc == 0 && g.n) {
		keep = calloc(g.n, sizeof(*keep));
		if (!keep)
			rc = b3cas__error(B3CAS_ENOMEM, "out of memory");
	}
	/* each sandbox on its own: the listing groups them */
	for (size_t lo = 0; rc == 0 && lo < g.n;) {
		size_t hi = lo + 1;

		while (hi < g.n && strcmp(g.v[hi].sandbox, g.v[lo].sandbox) == 0)
			hi++;
		judge(g.v, lo, hi, r, keep);
		for (size_t i = hi; rc == 0 && i-- > lo;) {
			if (!keep[i] && !dry_run)
				rc = b3cas_checkpoint_delete(s, g.v[i].sandbox,
							     g.v[i].t);
			if (rc == 0 && !keep[i])
				gone++;
			if (rc == 0 && fn)
				rc = fn(g.v[i].sandbox, g.v[i].t, &g.v[i].id,
					keep[i], ctx);
		}
		lo = hi;
	}
	for (size_t i = 0; i < g.n; i++)
		free(g.v[i].sandbox);
	free(g.v);
	free(keep);
	if (removed)
		*removed = gone;
	return rc;
}
