/*
 * model/tree.c - the canonical encoding of trees (b3cas/tree.h,
 * docs/trees.md): encode checks a tree described in memory and writes its
 * bytes; parse reads them back and accepts nothing encode would not make.
 */
#include <stdlib.h>
#include <string.h>

#include "b3cas/tree.h"
#include "model/tree_int.h"
#include "util/error.h"
#include "util/varint.h"

static const uint8_t magic[8] = {'b', '3', 't', 'r', 'e', 'e', 0, 1};

#define NSEC_PER_SEC 1000000000u

/* ---- rules both directions share ---------------------------------- */

int b3cas__tree_name_cmp(const void *a, size_t alen, const void *b,
			 size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static bool has_byte(const void *p, size_t len, int byte)
{
	return len && memchr(p, byte, len) != NULL;
}

/* Why an entry name is refused, or NULL. */
static const char *bad_name(const char *name, size_t len)
{
	if (len == 0)
		return "an empty name";
	if (len > B3CAS_TREE_NAME_MAX)
		return "a name longer than 255 bytes";
	if (has_byte(name, len, '/'))
		return "a '/' in a name";
	if (has_byte(name, len, 0))
		return "a NUL in a name";
	if ((len == 1 && name[0] == '.') ||
	    (len == 2 && name[0] == '.' && name[1] == '.'))
		return "the name '.' or '..'";
	return NULL;
}

static const char *bad_xattrs(const b3cas_tree_xattr *x, size_t n)
{
	if (n > B3CAS_TREE_XATTRS_MAX)
		return "more than 1024 xattrs";
	for (size_t i = 0; i < n; i++) {
		if (x[i].name_len == 0 ||
		    x[i].name_len > B3CAS_TREE_XATTR_NAME_MAX)
			return "an xattr name of 0 or more than 255 bytes";
		if (has_byte(x[i].name, x[i].name_len, 0))
			return "a NUL in an xattr name";
		if (x[i].value_len > B3CAS_TREE_XATTR_VALUE_MAX)
			return "an xattr value over 64 KiB";
		if (x[i].value_len && !x[i].value)
			return "an xattr value that is NULL";
		if (i && b3cas__tree_name_cmp(x[i - 1].name,
					      x[i - 1].name_len, x[i].name,
					      x[i].name_len) >= 0)
			return "xattrs not sorted by name, or a name twice";
	}
	return NULL;
}

static const char *bad_attr(const b3cas_tree_attr *a)
{
	if (a->mode & ~B3CAS_TREE_MODE_MASK)
		return "mode bits outside 07777";
	if (a->mtime_nsec >= NSEC_PER_SEC)
		return "nanoseconds of 1 s or more";
	if (a->xattr_count && !a->xattrs)
		return "xattrs that are NULL";
	return bad_xattrs(a->xattrs, a->xattr_count);
}

static bool attr_zero(const b3cas_tree_attr *a)
{
	return !a->mode && !a->uid && !a->gid && !a->mtime_sec &&
	       !a->mtime_nsec && !a->xattr_count;
}

static bool id_zero(const b3cas_oid *id)
{
	for (size_t i = 0; i < B3CAS_OID_LEN; i++)
		if (id->bytes[i])
			return false;
	return true;
}

/* Why an entry's fields do not fit its type, or NULL (not its name). */
static const char *bad_fields(const b3cas_tree_entry *e)
{
	bool file = e->type == B3CAS_TREE_FILE;
	bool dev = e->type == B3CAS_TREE_CHAR || e->type == B3CAS_TREE_BLOCK;
	bool link = e->type == B3CAS_TREE_SYMLINK;

	if (e->type < B3CAS_TREE_FILE || e->type > B3CAS_TREE_SOCKET)
		return "an unknown type";
	if (e->type == B3CAS_TREE_DIR) {
		if (!attr_zero(&e->attr))
			return "a directory entry with attributes "
			       "(they belong in its tree)";
	} else {
		const char *why = bad_attr(&e->attr);

		if (why)
			return why;
	}
	if (!file && (e->flags || e->size || e->link))
		return "flags, size or link on an entry that is no file";
	if (file && (e->flags & ~(B3CAS_TREE_SPARSE | B3CAS_TREE_LINKED)))
		return "unknown file flags";
	if (file && !(e->flags & B3CAS_TREE_LINKED) && e->link)
		return "a link number without the LINKED flag";
	if (!file && e->type != B3CAS_TREE_DIR && !id_zero(&e->id))
		return "an id on an entry that is neither file nor directory";
	if (!link && e->target_len)
		return "a target on an entry that is no symlink";
	if (link && (e->target_len == 0 ||
		     e->target_len > B3CAS_TREE_TARGET_MAX))
		return "a symlink target of 0 or more than 4095 bytes";
	if (link && (!e->target || has_byte(e->target, e->target_len, 0)))
		return "a symlink target that is NULL or holds a NUL";
	if (!dev && (e->rdev_major || e->rdev_minor))
		return "a device number on an entry that is no device";
	return NULL;
}

/* ---- encode --------------------------------------------------------- */

typedef struct out {
	uint8_t *p;
	size_t len, cap;
	bool nomem;
} out;

static void put_bytes(out *o, const void *p, size_t n)
{
	if (o->nomem || n == 0)
		return;
	if (o->cap - o->len < n) {
		size_t cap = o->cap ? o->cap : 256;
		uint8_t *q;

		while (cap - o->len < n)
			cap *= 2;
		q = realloc(o->p, cap);
		if (!q) {
			o->nomem = true;
			return;
		}
		o->p = q;
		o->cap = cap;
	}
	memcpy(o->p + o->len, p, n);
	o->len += n;
}

static void put_varint(out *o, uint64_t v)
{
	uint8_t b[10];

	put_bytes(o, b, b3cas__varint_put(b, v));
}

static void put_attr(out *o, const b3cas_tree_attr *a)
{
	uint64_t sec = (uint64_t)a->mtime_sec;

	put_varint(o, a->mode);
	put_varint(o, a->uid);
	put_varint(o, a->gid);
	put_varint(o, sec << 1 ^ (uint64_t)(a->mtime_sec >> 63)); /* zigzag */
	put_varint(o, a->mtime_nsec);
	put_varint(o, a->xattr_count);
	for (size_t i = 0; i < a->xattr_count; i++) {
		put_varint(o, a->xattrs[i].name_len);
		put_bytes(o, a->xattrs[i].name, a->xattrs[i].name_len);
		put_varint(o, a->xattrs[i].value_len);
		put_bytes(o, a->xattrs[i].value, a->xattrs[i].value_len);
	}
}

static void put_entry(out *o, const b3cas_tree_entry *e)
{
	uint8_t type = (uint8_t)e->type;

	put_varint(o, e->name_len);
	put_bytes(o, e->name, e->name_len);
	put_bytes(o, &type, 1);
	if (e->type == B3CAS_TREE_DIR) {
		put_bytes(o, e->id.bytes, B3CAS_OID_LEN);
		return;
	}
	put_attr(o, &e->attr);
	switch (e->type) {
	case B3CAS_TREE_FILE:
		put_varint(o, e->flags);
		put_varint(o, e->size);
		put_bytes(o, e->id.bytes, B3CAS_OID_LEN);
		if (e->flags & B3CAS_TREE_LINKED)
			put_varint(o, e->link);
		break;
	case B3CAS_TREE_SYMLINK:
		put_varint(o, e->target_len);
		put_bytes(o, e->target, e->target_len);
		break;
	case B3CAS_TREE_CHAR:
	case B3CAS_TREE_BLOCK:
		put_varint(o, e->rdev_major);
		put_varint(o, e->rdev_minor);
		break;
	default:
		break;
	}
}

/* The message names the entry by its index and, when printable, its
 * name (a bad name may hold anything). */
static int bad_entry(size_t i, const b3cas_tree_entry *e, const char *why)
{
	bool show = e->name && e->name_len <= B3CAS_TREE_NAME_MAX &&
		    !has_byte(e->name, e->name_len, 0);

	return b3cas__error(B3CAS_EINVAL, "tree: entry %zu%s%.*s%s: %s", i,
			    show ? " ('" : "", show ? (int)e->name_len : 0,
			    show ? e->name : "", show ? "')" : "", why);
}

int b3cas_tree_encode(const b3cas_tree *tree, uint8_t **out_p,
		      size_t *out_len)
{
	out o = {0};
	const char *why;

	if (!tree || !out_p || !out_len)
		return b3cas__error_null("b3cas_tree_encode",
					 !tree	 ? "tree"
					 : !out_p ? "out"
						  : "out_len");
	*out_p = NULL;
	*out_len = 0;
	why = bad_attr(&tree->self);
	if (why)
		return b3cas__error(B3CAS_EINVAL, "tree: the directory's own "
				    "attributes: %s", why);
	if (tree->count && !tree->entries)
		return b3cas__error(B3CAS_EINVAL, "tree: %zu entries at NULL",
				    tree->count);
	for (size_t i = 0; i < tree->count; i++) {
		const b3cas_tree_entry *e = &tree->entries[i];

		why = e->name ? bad_name(e->name, e->name_len)
			      : "a NULL name";
		if (!why)
			why = bad_fields(e);
		if (!why && i &&
		    b3cas__tree_name_cmp(tree->entries[i - 1].name,
					 tree->entries[i - 1].name_len,
					 e->name, e->name_len) >= 0)
			why = "entries not sorted by name, or a name twice";
		if (why)
			return bad_entry(i, e, why);
	}
	put_bytes(&o, magic, sizeof(magic));
	put_attr(&o, &tree->self);
	put_varint(&o, tree->count);
	for (size_t i = 0; i < tree->count; i++)
		put_entry(&o, &tree->entries[i]);
	if (o.nomem) {
		free(o.p);
		return b3cas__error(B3CAS_ENOMEM, "tree: out of memory "
				    "encoding %zu entries", tree->count);
	}
	*out_p = o.p;
	*out_len = o.len;
	return 0;
}

/* ---- parse ---------------------------------------------------------- */

typedef struct in {
	const uint8_t *base, *p, *end;
	const char *why; /* the first rule broken; NULL while all is well */
	size_t at;       /* where */
	bool nomem;      /* or no memory for what was read */
} in;

static bool fail(in *r, const char *why)
{
	if (!r->why) {
		r->why = why;
		r->at = (size_t)(r->p - r->base);
	}
	r->p = r->end; /* nothing more is read */
	return false;
}

/* A varint as encode writes it: at most 10 bytes, no bits past 64, and
 * no needless zero byte at its end (util/varint.h's reader accepts all
 * three, so trees read their own: the bytes must be canonical). */
static bool get_varint(in *r, uint64_t *v)
{
	uint64_t x = 0;

	for (unsigned n = 0; n < 10; n++) {
		uint8_t b;

		if (r->p == r->end)
			return fail(r, "the bytes end inside a number");
		b = *r->p++;
		if (n == 9 && b > 1)
			return fail(r, "a number over 64 bits");
		x |= (uint64_t)(b & 0x7f) << (7 * n);
		if (!(b & 0x80)) {
			if (n && b == 0)
				return fail(r, "a number not in its "
					       "shortest form");
			*v = x;
			return true;
		}
	}
	return fail(r, "a number over 10 bytes");
}

static bool get_len(in *r, size_t min, size_t max, size_t *v,
		    const char *why)
{
	uint64_t x;

	if (!get_varint(r, &x))
		return false;
	if (x < min || x > max)
		return fail(r, why);
	if ((size_t)(r->end - r->p) < x)
		return fail(r, "the bytes end inside a name or value");
	*v = (size_t)x;
	return true;
}

static bool get_u32(in *r, uint32_t *v, uint64_t max, const char *why)
{
	uint64_t x;

	if (!get_varint(r, &x))
		return false;
	if (x > max)
		return fail(r, why);
	*v = (uint32_t)x;
	return true;
}

static const uint8_t *take(in *r, size_t n)
{
	const uint8_t *p = r->p;

	if ((size_t)(r->end - r->p) < n) {
		fail(r, "the bytes end early");
		return NULL;
	}
	r->p += n;
	return p;
}

/* How many xattrs the parse may need room for: a first pass cannot know,
 * so each attr's xattrs go in a list that grows. */
typedef struct xbuf {
	b3cas_tree_xattr *x;
	size_t n, cap;
} xbuf;

static bool get_attr(in *r, b3cas_tree_attr *a, xbuf *xb, size_t *first)
{
	uint64_t zz, count;
	const char *why;

	if (!get_u32(r, &a->mode, B3CAS_TREE_MODE_MASK,
		     "mode bits outside 07777") ||
	    !get_varint(r, &a->uid) || !get_varint(r, &a->gid) ||
	    !get_varint(r, &zz) ||
	    !get_u32(r, &a->mtime_nsec, NSEC_PER_SEC - 1,
		     "nanoseconds of 1 s or more") ||
	    !get_varint(r, &count))
		return false;
	a->mtime_sec = (int64_t)(zz >> 1) ^ -(int64_t)(zz & 1);
	if (count > B3CAS_TREE_XATTRS_MAX)
		return fail(r, "more than 1024 xattrs");
	if (xb->cap - xb->n < count) {
		size_t cap = xb->cap ? xb->cap : 16;
		b3cas_tree_xattr *x;

		while (cap - xb->n < count)
			cap *= 2;
		x = realloc(xb->x, cap * sizeof(*x));
		if (!x) {
			r->nomem = true;
			return false;
		}
		xb->x = x;
		xb->cap = cap;
	}
	*first = xb->n;
	a->xattr_count = (size_t)count;
	for (uint64_t i = 0; i < count; i++) {
		b3cas_tree_xattr *x = &xb->x[xb->n++];

		if (!get_len(r, 1, B3CAS_TREE_XATTR_NAME_MAX, &x->name_len,
			     "an xattr name of 0 or more than 255 bytes"))
			return false;
		x->name = take(r, x->name_len);
		if (!get_len(r, 0, B3CAS_TREE_XATTR_VALUE_MAX, &x->value_len,
			     "an xattr value over 64 KiB"))
			return false;
		x->value = take(r, x->value_len);
	}
	why = bad_xattrs(xb->x + *first, a->xattr_count);
	return why ? fail(r, why) : true;
}

typedef struct parsed {
	b3cas_tree tree;
	b3cas_tree_entry *entries;
	size_t *xfirst; /* per entry, then the tree's own: index in xb */
	xbuf xb;
	void *owned; /* the bytes, when the tree owns them (tree_own) */
} parsed;

static bool get_entry(in *r, b3cas_tree_entry *e, xbuf *xb, size_t *first,
		      const b3cas_tree_entry *prev)
{
	const uint8_t *type;
	const char *why;

	memset(e, 0, sizeof(*e));
	if (!get_len(r, 1, B3CAS_TREE_NAME_MAX, &e->name_len,
		     "a name of 0 or more than 255 bytes"))
		return false;
	e->name = (const char *)take(r, e->name_len);
	why = bad_name(e->name, e->name_len);
	if (!why && prev &&
	    b3cas__tree_name_cmp(prev->name, prev->name_len, e->name,
				 e->name_len) >= 0)
		why = "entries not sorted by name, or a name twice";
	if (why)
		return fail(r, why);
	type = take(r, 1);
	if (!type)
		return false;
	e->type = (b3cas_tree_type)*type;
	if (e->type < B3CAS_TREE_FILE || e->type > B3CAS_TREE_SOCKET) {
		r->p--;
		return fail(r, "an unknown entry type");
	}
	if (e->type == B3CAS_TREE_DIR) {
		const uint8_t *id = take(r, B3CAS_OID_LEN);

		if (id)
			memcpy(e->id.bytes, id, B3CAS_OID_LEN);
		return id != NULL;
	}
	if (!get_attr(r, &e->attr, xb, first))
		return false;
	switch (e->type) {
	case B3CAS_TREE_FILE: {
		const uint8_t *id;

		if (!get_u32(r, &e->flags,
			     B3CAS_TREE_SPARSE | B3CAS_TREE_LINKED,
			     "unknown file flags") ||
		    !get_varint(r, &e->size))
			return false;
		id = take(r, B3CAS_OID_LEN);
		if (!id)
			return false;
		memcpy(e->id.bytes, id, B3CAS_OID_LEN);
		if ((e->flags & B3CAS_TREE_LINKED) && !get_varint(r, &e->link))
			return false;
		return true;
	}
	case B3CAS_TREE_SYMLINK:
		if (!get_len(r, 1, B3CAS_TREE_TARGET_MAX, &e->target_len,
			     "a symlink target of 0 or more than 4095 bytes"))
			return false;
		e->target = (const char *)take(r, e->target_len);
		return !has_byte(e->target, e->target_len, 0) ||
		       fail(r, "a NUL in a symlink target");
	case B3CAS_TREE_CHAR:
	case B3CAS_TREE_BLOCK:
		return get_u32(r, &e->rdev_major, UINT32_MAX,
			       "a device number over 32 bits") &&
		       get_u32(r, &e->rdev_minor, UINT32_MAX,
			       "a device number over 32 bits");
	default:
		return true;
	}
}

/* The xattr lists grew while parsing: point each attr at its own now. */
static void link_xattrs(parsed *t, size_t self_first)
{
	if (t->tree.self.xattr_count)
		t->tree.self.xattrs = t->xb.x + self_first;
	for (size_t i = 0; i < t->tree.count; i++)
		if (t->entries[i].attr.xattr_count)
			t->entries[i].attr.xattrs = t->xb.x + t->xfirst[i];
}

static int parse_fail(parsed *t, in *r)
{
	bool nomem = r->nomem;

	free(t->entries);
	free(t->xfirst);
	free(t->xb.x);
	free(t);
	if (nomem)
		return b3cas__error(B3CAS_ENOMEM, "tree: out of memory");
	return b3cas__error(B3CAS_ECORRUPT, "tree: %s (byte %zu of %zu)",
			    r->why, r->at, (size_t)(r->end - r->base));
}

int b3cas_tree_parse(const void *data, size_t len, b3cas_tree **out_p)
{
	in r = {data, data, (const uint8_t *)data + len, NULL, 0, false};
	parsed *t;
	size_t self_first = 0;
	uint64_t count;

	if (!out_p)
		return b3cas__error_null("b3cas_tree_parse", "out");
	if (!data && len)
		return b3cas__error_null_len("b3cas_tree_parse", "data", "len",
					     len);
	*out_p = NULL;
	if (len < sizeof(magic) || memcmp(data, magic, sizeof(magic) - 1))
		return b3cas__error(B3CAS_EFORMAT, "tree: not a tree (no "
				    "b3tree magic in its first bytes)");
	if (((const uint8_t *)data)[sizeof(magic) - 1] != magic[7])
		return b3cas__error(B3CAS_EFORMAT, "tree: version %u, this "
				    "build reads version %u",
				    ((const uint8_t *)data)[7], magic[7]);
	t = calloc(1, sizeof(*t));
	if (!t)
		return b3cas__error(B3CAS_ENOMEM, "tree: out of memory");
	r.p += sizeof(magic);
	if (!get_attr(&r, &t->tree.self, &t->xb, &self_first) ||
	    !get_varint(&r, &count))
		return parse_fail(t, &r);
	/* an entry takes at least 9 bytes (a fifo with a 1-byte name and
	 * zero attributes: 1 + 1 + 1 + 6), so a count the bytes cannot hold
	 * is refused before anything is allocated for it */
	if (count > (uint64_t)(r.end - r.p) / 9) {
		fail(&r, "more entries than the bytes can hold");
		return parse_fail(t, &r);
	}
	if (count) {
		t->entries = calloc((size_t)count, sizeof(*t->entries));
		t->xfirst = calloc((size_t)count, sizeof(*t->xfirst));
		if (!t->entries || !t->xfirst) {
			r.nomem = true;
			return parse_fail(t, &r);
		}
	}
	for (size_t i = 0; i < count; i++)
		if (!get_entry(&r, &t->entries[i], &t->xb, &t->xfirst[i],
			       i ? &t->entries[i - 1] : NULL))
			return parse_fail(t, &r);
	if (r.p != r.end) {
		fail(&r, "bytes after the last entry");
		return parse_fail(t, &r);
	}
	t->tree.count = (size_t)count;
	t->tree.entries = t->entries;
	link_xattrs(t, self_first);
	*out_p = &t->tree;
	return 0;
}

void b3cas_tree_free(b3cas_tree *tree)
{
	parsed *t = (parsed *)tree; /* tree is the first member */

	if (!t)
		return;
	free(t->entries);
	free(t->xfirst);
	free(t->xb.x);
	b3cas_free(t->owned);
	free(t);
}

void b3cas__tree_own(b3cas_tree *tree, void *bytes)
{
	((parsed *)tree)->owned = bytes;
}

ptrdiff_t b3cas_tree_find(const b3cas_tree *tree, const char *name,
			  size_t name_len)
{
	size_t lo = 0, hi;

	if (!tree) {
		b3cas__error_null("b3cas_tree_find", "tree");
		return -1;
	}
	if (!name && name_len) {
		b3cas__error_null_len("b3cas_tree_find", "name", "name_len",
				      name_len);
		return -1;
	}
	hi = tree->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const b3cas_tree_entry *e = &tree->entries[mid];
		int c = b3cas__tree_name_cmp(e->name, e->name_len, name,
					     name_len);

		if (c == 0)
			return (ptrdiff_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}
