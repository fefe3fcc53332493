/*
 * test_tree_codec.c - the encoding of trees (b3cas/tree.h,
 * docs/trees.md):
 * - a tree written out by hand from the format's table in docs/trees.md
 *   (every type of entry, xattrs, a negative time), byte for byte;
 * - random trees against a plain reference encoder written here from
 *   the same table, byte for byte, and back through parse;
 * - canonical form: every truncation is refused, and every single-byte
 *   change is either refused or parses to a tree whose encoding is the
 *   changed bytes (so no two encodings name one tree);
 * - each rule of the format refused by encode (B3CAS_EINVAL) and by
 *   parse (B3CAS_ECORRUPT, B3CAS_EFORMAT), with a message;
 * - lookup by name against a linear search.
 */
#include "b3cas/tree.h"
#include "test_util.h"

static uint64_t seed;

/* ---- a plain reference encoder (docs/trees.md, "Encoding") ---------- */

typedef struct ref_buf {
	uint8_t b[1 << 20];
	size_t n;
} ref_buf;

static void ref_bytes(ref_buf *r, const void *p, size_t n)
{
	assert_true(r->n + n <= sizeof(r->b));
	if (n)
		memcpy(r->b + r->n, p, n);
	r->n += n;
}

static void ref_num(ref_buf *r, uint64_t v)
{
	do {
		uint8_t byte = v & 0x7f;

		v >>= 7;
		if (v)
			byte |= 0x80;
		ref_bytes(r, &byte, 1);
	} while (v);
}

static void ref_attr(ref_buf *r, const b3cas_tree_attr *a)
{
	uint64_t zz = a->mtime_sec < 0
			      ? ((uint64_t)(-(a->mtime_sec + 1)) * 2 + 1)
			      : (uint64_t)a->mtime_sec * 2;

	ref_num(r, a->mode);
	ref_num(r, a->uid);
	ref_num(r, a->gid);
	ref_num(r, zz);
	ref_num(r, a->mtime_nsec);
	ref_num(r, a->xattr_count);
	for (size_t i = 0; i < a->xattr_count; i++) {
		ref_num(r, a->xattrs[i].name_len);
		ref_bytes(r, a->xattrs[i].name, a->xattrs[i].name_len);
		ref_num(r, a->xattrs[i].value_len);
		ref_bytes(r, a->xattrs[i].value, a->xattrs[i].value_len);
	}
}

static void ref_encode(ref_buf *r, const b3cas_tree *t)
{
	r->n = 0;
	ref_bytes(r, "b3tree\0\1", 8);
	ref_attr(r, &t->self);
	ref_num(r, t->count);
	for (size_t i = 0; i < t->count; i++) {
		const b3cas_tree_entry *e = &t->entries[i];
		uint8_t type = (uint8_t)e->type;

		ref_num(r, e->name_len);
		ref_bytes(r, e->name, e->name_len);
		ref_bytes(r, &type, 1);
		if (e->type == B3CAS_TREE_DIR) {
			ref_bytes(r, e->id.bytes, 32);
			continue;
		}
		ref_attr(r, &e->attr);
		if (e->type == B3CAS_TREE_FILE) {
			ref_num(r, e->flags);
			ref_num(r, e->size);
			ref_bytes(r, e->id.bytes, 32);
			if (e->flags & B3CAS_TREE_LINKED)
				ref_num(r, e->link);
		} else if (e->type == B3CAS_TREE_SYMLINK) {
			ref_num(r, e->target_len);
			ref_bytes(r, e->target, e->target_len);
		} else if (e->type == B3CAS_TREE_CHAR ||
			   e->type == B3CAS_TREE_BLOCK) {
			ref_num(r, e->rdev_major);
			ref_num(r, e->rdev_minor);
		}
	}
}

/* ---- random trees ---------------------------------------------------- */

#define MAX_ENTRIES 64
#define POOL 65536

typedef struct gen {
	b3cas_tree tree;
	b3cas_tree_entry e[MAX_ENTRIES];
	b3cas_tree_xattr x[MAX_ENTRIES + 1][4];
	char pool[POOL]; /* names, targets, xattr names and values */
	size_t used;
	uint64_t rng;
} gen;

static char *gen_take(gen *g, size_t n)
{
	char *p = g->pool + g->used;

	assert_true(g->used + n <= POOL);
	g->used += n;
	return p;
}

/* A name of 1..max bytes from any byte but '/' and NUL (not . or ..). */
static size_t gen_name(gen *g, char *p, size_t max)
{
	size_t len = 1 + tu_rand(&g->rng) % (tu_rand(&g->rng) % 4 ? 12 : max);

	for (size_t i = 0; i < len; i++) {
		unsigned c = tu_rand(&g->rng) % 4 ? 'a' + tu_rand(&g->rng) % 26
						  : 1 + tu_rand(&g->rng) % 255;

		p[i] = (char)(c == '/' ? 'x' : c);
	}
	if (len <= 2 && p[0] == '.' && (len == 1 || p[1] == '.'))
		p[0] = 'd';
	return len;
}

static int xattr_cmp(const void *a, const void *b)
{
	const b3cas_tree_xattr *x = a, *y = b;
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	int c = memcmp(x->name, y->name, n);

	return c ? c : (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

static int entry_cmp(const void *a, const void *b)
{
	const b3cas_tree_entry *x = a, *y = b;
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	int c = memcmp(x->name, y->name, n);

	return c ? c : (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

static void gen_attr(gen *g, b3cas_tree_attr *a, b3cas_tree_xattr *x)
{
	uint64_t r = tu_rand(&g->rng);
	size_t n = r % 8 == 0 ? 1 + r / 8 % 4 : 0;

	a->mode = (uint32_t)(tu_rand(&g->rng) & B3CAS_TREE_MODE_MASK);
	a->uid = r % 3 ? 0 : tu_rand(&g->rng) >> (tu_rand(&g->rng) % 64);
	a->gid = r % 5 ? 1000 : tu_rand(&g->rng);
	a->mtime_sec = (int64_t)tu_rand(&g->rng) >> (tu_rand(&g->rng) % 64);
	a->mtime_nsec = (uint32_t)(tu_rand(&g->rng) % 1000000000u);
	for (size_t i = 0; i < n; i++) {
		char *name = gen_take(g, 40);
		size_t vlen = tu_rand(&g->rng) % 4 ? tu_rand(&g->rng) % 64
						   : tu_rand(&g->rng) % 3000;
		char *value = gen_take(g, vlen);

		x[i].name_len = gen_name(g, name, 40);
		x[i].name = (const uint8_t *)name;
		for (size_t k = 0; k < x[i].name_len; k++)
			if (!name[k])
				name[k] = 'z';
		tu_fill_random((uint8_t *)value, vlen, &g->rng);
		x[i].value = (const uint8_t *)value;
		x[i].value_len = vlen;
	}
	qsort(x, n, sizeof(*x), xattr_cmp);
	/* drop names met twice */
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (!k || xattr_cmp(&x[k - 1], &x[i]))
			x[k++] = x[i];
	a->xattrs = k ? x : NULL;
	a->xattr_count = k;
}

static void gen_tree(gen *g, size_t count)
{
	size_t k = 0;

	memset(&g->tree, 0, sizeof(g->tree));
	memset(g->e, 0, sizeof(g->e));
	g->used = 0;
	gen_attr(g, &g->tree.self, g->x[MAX_ENTRIES]);
	for (size_t i = 0; i < count; i++) {
		b3cas_tree_entry *e = &g->e[i];
		char *name = gen_take(g, B3CAS_TREE_NAME_MAX);

		e->name_len = gen_name(g, name, B3CAS_TREE_NAME_MAX);
		e->name = name;
		e->type = (b3cas_tree_type)(1 + tu_rand(&g->rng) % 7);
		if (e->type != B3CAS_TREE_DIR)
			gen_attr(g, &e->attr, g->x[i]);
		switch (e->type) {
		case B3CAS_TREE_FILE:
			e->flags = (uint32_t)(tu_rand(&g->rng) % 4);
			e->size = tu_rand(&g->rng) >> (tu_rand(&g->rng) % 64);
			if (e->flags & B3CAS_TREE_LINKED)
				e->link = tu_rand(&g->rng) % 1000;
			/* fall through */
		case B3CAS_TREE_DIR:
			tu_fill_random(e->id.bytes, 32, &g->rng);
			break;
		case B3CAS_TREE_SYMLINK: {
			size_t len = 1 + tu_rand(&g->rng) %
					     (tu_rand(&g->rng) % 8 ? 40 : 4095);
			char *t = gen_take(g, len);

			for (size_t j = 0; j < len; j++)
				t[j] = (char)(1 + tu_rand(&g->rng) % 255);
			e->target = t;
			e->target_len = len;
			break;
		}
		case B3CAS_TREE_CHAR:
		case B3CAS_TREE_BLOCK:
			e->rdev_major = (uint32_t)tu_rand(&g->rng);
			e->rdev_minor = (uint32_t)(tu_rand(&g->rng) % 256);
			break;
		default:
			break;
		}
	}
	qsort(g->e, count, sizeof(g->e[0]), entry_cmp);
	for (size_t i = 0; i < count; i++)
		if (!k || entry_cmp(&g->e[k - 1], &g->e[i]))
			g->e[k++] = g->e[i];
	g->tree.entries = g->e;
	g->tree.count = k;
}

/* ---- comparing trees -------------------------------------------------- */

static void expect_attr(const b3cas_tree_attr *a, const b3cas_tree_attr *b)
{
	assert_int_equal(a->mode, b->mode);
	assert_true(a->uid == b->uid && a->gid == b->gid);
	assert_true(a->mtime_sec == b->mtime_sec);
	assert_int_equal(a->mtime_nsec, b->mtime_nsec);
	assert_int_equal(a->xattr_count, b->xattr_count);
	for (size_t i = 0; i < a->xattr_count; i++) {
		assert_int_equal(a->xattrs[i].name_len, b->xattrs[i].name_len);
		assert_memory_equal(a->xattrs[i].name, b->xattrs[i].name,
				    a->xattrs[i].name_len);
		assert_int_equal(a->xattrs[i].value_len,
				 b->xattrs[i].value_len);
		if (a->xattrs[i].value_len)
			assert_memory_equal(a->xattrs[i].value,
					    b->xattrs[i].value,
					    a->xattrs[i].value_len);
	}
}

static void expect_tree(const b3cas_tree *a, const b3cas_tree *b)
{
	expect_attr(&a->self, &b->self);
	assert_int_equal(a->count, b->count);
	for (size_t i = 0; i < a->count; i++) {
		const b3cas_tree_entry *x = &a->entries[i], *y = &b->entries[i];

		assert_int_equal(x->name_len, y->name_len);
		assert_memory_equal(x->name, y->name, x->name_len);
		assert_int_equal(x->type, y->type);
		expect_attr(&x->attr, &y->attr);
		assert_int_equal(x->flags, y->flags);
		assert_true(x->size == y->size && x->link == y->link);
		assert_memory_equal(x->id.bytes, y->id.bytes, 32);
		assert_int_equal(x->target_len, y->target_len);
		if (x->target_len)
			assert_memory_equal(x->target, y->target,
					    x->target_len);
		assert_int_equal(x->rdev_major, y->rdev_major);
		assert_int_equal(x->rdev_minor, y->rdev_minor);
	}
}

/* ---- the tree of docs/trees.md, byte for byte -------------------------- */

static void test_documented_bytes(void **state)
{
	static const uint8_t value[] = {'u', ':', '1'};
	b3cas_tree_xattr x = {(const uint8_t *)"user.k", 6, value, 3};
	b3cas_tree_entry e[4];
	b3cas_tree t = {0};
	b3cas_tree *back = NULL;
	uint8_t *out;
	size_t len;
	/* docs/trees.md, "An example" */
	static const uint8_t want[] = {
		'b', '3', 't', 'r', 'e', 'e', 0x00, 0x01,
		/* self: mode 0755, uid 0, gid 0, mtime -2 s + 5 ns, 0 xattrs */
		0xed, 0x03, 0x00, 0x00, 0x03, 0x05, 0x00,
		0x04, /* 4 entries */
		/* "a": file 0644, uid 1000, gid 1000, mtime 300 s, xattr
		 * user.k = "u:1", flags LINKED, size 5, id 11.., link 7 */
		0x01, 'a', 0x01, 0xa4, 0x03, 0xe8, 0x07, 0xe8, 0x07, 0xd8,
		0x04, 0x00, 0x01, 0x06, 'u', 's', 'e', 'r', '.', 'k', 0x03,
		'u', ':', '1', 0x02, 0x05,
		0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
		0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
		0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
		0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x07,
		/* "b": directory, id 22.. */
		0x01, 'b', 0x02,
		0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
		0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
		0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
		0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
		/* "c": symlink 0777 -> "a", all else 0 */
		0x01, 'c', 0x03, 0xff, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x01, 'a',
		/* "d": character device 0666, 1:3 */
		0x01, 'd', 0x04, 0xb6, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x01, 0x03,
	};

	(void)state;
	memset(e, 0, sizeof(e));
	t.self.mode = 0755;
	t.self.mtime_sec = -2;
	t.self.mtime_nsec = 5;
	e[0].name = "a";
	e[0].name_len = 1;
	e[0].type = B3CAS_TREE_FILE;
	e[0].attr.mode = 0644;
	e[0].attr.uid = e[0].attr.gid = 1000;
	e[0].attr.mtime_sec = 300;
	e[0].attr.xattrs = &x;
	e[0].attr.xattr_count = 1;
	e[0].flags = B3CAS_TREE_LINKED;
	e[0].size = 5;
	memset(e[0].id.bytes, 0x11, 32);
	e[0].link = 7;
	e[1].name = "b";
	e[1].name_len = 1;
	e[1].type = B3CAS_TREE_DIR;
	memset(e[1].id.bytes, 0x22, 32);
	e[2].name = "c";
	e[2].name_len = 1;
	e[2].type = B3CAS_TREE_SYMLINK;
	e[2].attr.mode = 0777;
	e[2].target = "a";
	e[2].target_len = 1;
	e[3].name = "d";
	e[3].name_len = 1;
	e[3].type = B3CAS_TREE_CHAR;
	e[3].attr.mode = 0666;
	e[3].rdev_major = 1;
	e[3].rdev_minor = 3;
	t.entries = e;
	t.count = 4;
	assert_int_equal(b3cas_tree_encode(&t, &out, &len), 0);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(b3cas_tree_parse(want, sizeof(want), &back), 0);
	expect_tree(&t, back);
	assert_int_equal(b3cas_tree_find(back, "c", 1), 2);
	assert_int_equal(b3cas_tree_find(back, "e", 1), -1);
	b3cas_tree_free(back);
	free(out);
}

/* ---- random trees: reference bytes, round trips, damage ---------------- */

static void round_trip(gen *g, ref_buf *ref)
{
	b3cas_tree *back = NULL;
	uint8_t *out = NULL, *copy;
	size_t len = 0;

	assert_int_equal(b3cas_tree_encode(&g->tree, &out, &len), 0);
	ref_encode(ref, &g->tree);
	assert_int_equal(len, ref->n);
	assert_memory_equal(out, ref->b, len);
	copy = tu_exact_copy(out, len); /* reads past it are caught */
	assert_int_equal(b3cas_tree_parse(copy, len, &back), 0);
	expect_tree(&g->tree, back);
	for (size_t i = 0; i < g->tree.count; i++)
		assert_int_equal(b3cas_tree_find(back, g->e[i].name,
						 g->e[i].name_len),
				 (ptrdiff_t)i);
	b3cas_tree_free(back);
	free(copy);
	free(out);
}

static void test_random_against_reference(void **state)
{
	static gen g;
	static ref_buf ref;
	int rounds = 400 * tu_scale();

	(void)state;
	g.rng = seed;
	for (int r = 0; r < rounds; r++) {
		gen_tree(&g, tu_rand(&g.rng) % (r % 10 ? 8 : MAX_ENTRIES));
		round_trip(&g, &ref);
	}
}

/* A parse of bytes either fails with a message, or gives a tree that
 * encodes to exactly those bytes. */
static void expect_canonical(const uint8_t *p, size_t len)
{
	uint8_t *copy = tu_exact_copy(p, len);
	b3cas_tree *t = NULL;
	int rc = b3cas_tree_parse(copy, len, &t);

	if (rc == 0) {
		uint8_t *again = NULL;
		size_t alen = 0;

		assert_int_equal(b3cas_tree_encode(t, &again, &alen), 0);
		assert_int_equal(alen, len);
		assert_memory_equal(again, p, len);
		free(again);
		b3cas_tree_free(t);
	} else {
		assert_true(rc == B3CAS_ECORRUPT || rc == B3CAS_EFORMAT);
		assert_null(t);
		assert_true(strncmp(b3cas_error_last(), "tree: ", 6) == 0);
	}
	free(copy);
}

static void test_damage_is_refused_or_canonical(void **state)
{
	static gen g;
	int rounds = 60 * tu_scale();

	(void)state;
	g.rng = seed ^ 0x5151;
	for (int r = 0; r < rounds; r++) {
		uint8_t *out, *bad;
		size_t len;

		gen_tree(&g, tu_rand(&g.rng) % 6);
		assert_int_equal(b3cas_tree_encode(&g.tree, &out, &len), 0);
		/* every truncation */
		for (size_t cut = 0; cut < len; cut++) {
			uint8_t *copy = tu_exact_copy(out, cut);
			b3cas_tree *t = NULL;
			int rc = b3cas_tree_parse(copy, cut, &t);

			assert_true(rc == B3CAS_ECORRUPT ||
				    rc == B3CAS_EFORMAT);
			free(copy);
		}
		/* single bytes changed, and one byte more at the end */
		bad = malloc(len + 1);
		assert_non_null(bad);
		for (int k = 0; k < 200; k++) {
			size_t at = tu_rand(&g.rng) % len;

			memcpy(bad, out, len);
			bad[at] = k % 4 ? (uint8_t)tu_rand(&g.rng)
					: (uint8_t)(bad[at] ^ 0x80);
			expect_canonical(bad, len);
		}
		memcpy(bad, out, len);
		bad[len] = 0;
		expect_canonical(bad, len + 1);
		free(bad);
		free(out);
	}
}

/* ---- each rule --------------------------------------------------------- */

static b3cas_tree_entry base_entry(const char *name, b3cas_tree_type type)
{
	b3cas_tree_entry e;

	memset(&e, 0, sizeof(e));
	e.name = name;
	e.name_len = strlen(name);
	e.type = type;
	if (type == B3CAS_TREE_SYMLINK) {
		e.target = "t";
		e.target_len = 1;
	}
	return e;
}

static void expect_refused(const b3cas_tree_entry *e, size_t n,
			   const char *words)
{
	b3cas_tree t = {0};
	uint8_t *out = (uint8_t *)&t;
	size_t len = 1;

	t.entries = e;
	t.count = n;
	assert_int_equal(b3cas_tree_encode(&t, &out, &len), B3CAS_EINVAL);
	assert_null(out);
	assert_int_equal(len, 0);
	if (!strstr(b3cas_error_last(), words))
		fail_msg("expected '%s' in: %s", words, b3cas_error_last());
}

static void test_encode_refuses(void **state)
{
	b3cas_tree_entry e[2];
	b3cas_tree_xattr x[2] = {{(const uint8_t *)"user.b", 6, NULL, 0},
				 {(const uint8_t *)"user.a", 6, NULL, 0}};
	char longname[300];

	(void)state;
	memset(longname, 'n', sizeof(longname));
	e[0] = base_entry("", B3CAS_TREE_FILE);
	expect_refused(e, 1, "an empty name");
	e[0] = base_entry("a/b", B3CAS_TREE_FILE);
	expect_refused(e, 1, "'/'");
	e[0] = base_entry("..", B3CAS_TREE_FILE);
	expect_refused(e, 1, "'.' or '..'");
	e[0] = base_entry("a", B3CAS_TREE_FILE);
	e[0].name_len = 2; /* "a\0" */
	expect_refused(e, 1, "NUL in a name");
	e[0] = base_entry("x", B3CAS_TREE_FILE);
	e[0].name = longname;
	e[0].name_len = 256;
	expect_refused(e, 1, "longer than 255");
	e[0] = base_entry("b", B3CAS_TREE_FILE);
	e[1] = base_entry("a", B3CAS_TREE_FILE);
	expect_refused(e, 2, "not sorted");
	e[1] = base_entry("b", B3CAS_TREE_DIR);
	expect_refused(e, 2, "a name twice");
	e[0] = base_entry("a", (b3cas_tree_type)8);
	expect_refused(e, 1, "unknown type");
	e[0] = base_entry("a", B3CAS_TREE_FILE);
	e[0].attr.mode = 010644;
	expect_refused(e, 1, "07777");
	e[0] = base_entry("a", B3CAS_TREE_FILE);
	e[0].attr.mtime_nsec = 1000000000u;
	expect_refused(e, 1, "nanoseconds");
	e[0] = base_entry("a", B3CAS_TREE_FILE);
	e[0].attr.xattrs = x;
	e[0].attr.xattr_count = 2;
	expect_refused(e, 1, "xattrs not sorted");
	e[0] = base_entry("a", B3CAS_TREE_DIR);
	e[0].attr.mode = 0755;
	expect_refused(e, 1, "belong in its tree");
	e[0] = base_entry("a", B3CAS_TREE_FILE);
	e[0].flags = 4;
	expect_refused(e, 1, "unknown file flags");
	e[0] = base_entry("a", B3CAS_TREE_FILE);
	e[0].link = 3;
	expect_refused(e, 1, "without the LINKED flag");
	e[0] = base_entry("a", B3CAS_TREE_FIFO);
	e[0].size = 3;
	expect_refused(e, 1, "no file");
	e[0] = base_entry("a", B3CAS_TREE_SYMLINK);
	e[0].id.bytes[3] = 1;
	expect_refused(e, 1, "an id on an entry");
	e[0] = base_entry("a", B3CAS_TREE_SYMLINK);
	e[0].target_len = 0;
	expect_refused(e, 1, "symlink target of 0");
	e[0] = base_entry("a", B3CAS_TREE_FILE);
	e[0].target = "x";
	e[0].target_len = 1;
	expect_refused(e, 1, "no symlink");
	e[0] = base_entry("a", B3CAS_TREE_SOCKET);
	e[0].rdev_minor = 1;
	expect_refused(e, 1, "no device");
}

static void expect_parse(const uint8_t *p, size_t len, int code,
			 const char *words)
{
	uint8_t *copy = tu_exact_copy(p, len);
	b3cas_tree *t = (b3cas_tree *)copy;

	assert_int_equal(b3cas_tree_parse(copy, len, &t), code);
	if (code == 0) {
		assert_non_null(t);
		b3cas_tree_free(t);
		free(copy);
		return;
	}
	assert_null(t);
	if (!strstr(b3cas_error_last(), words))
		fail_msg("expected '%s' in: %s", words, b3cas_error_last());
	free(copy);
}

static void test_parse_refuses(void **state)
{
	/* an empty root: magic, attr 0 0 0 0 0 0, no entries */
	uint8_t t[64] = {'b', '3', 't', 'r', 'e', 'e', 0, 1,
			 0, 0, 0, 0, 0, 0, 0};

	(void)state;
	expect_parse(t, 15, 0, ""); /* the base case parses */
	expect_parse(t, 7, B3CAS_EFORMAT, "not a tree");
	t[0] = 'B';
	expect_parse(t, 15, B3CAS_EFORMAT, "not a tree");
	t[0] = 'b';
	t[7] = 2;
	expect_parse(t, 15, B3CAS_EFORMAT, "version 2");
	t[7] = 1;
	/* a number not in its shortest form: mode 0x80 0x00 */
	memcpy(t + 8, (uint8_t[]){0x80, 0x00, 0, 0, 0, 0, 0, 0}, 8);
	expect_parse(t, 16, B3CAS_ECORRUPT, "shortest form");
	/* a number over 64 bits: uid of 10 bytes ending in 2 */
	memcpy(t + 8, (uint8_t[]){0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				  0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0}, 16);
	expect_parse(t, 24, B3CAS_ECORRUPT, "over 64 bits");
	/* mode over 07777 */
	memcpy(t + 8, (uint8_t[]){0x80, 0x20, 0, 0, 0, 0, 0, 0}, 8);
	expect_parse(t, 16, B3CAS_ECORRUPT, "07777");
	/* more entries than the bytes can hold */
	memcpy(t + 8, (uint8_t[]){0, 0, 0, 0, 0, 0, 0x7f}, 7);
	expect_parse(t, 15, B3CAS_ECORRUPT, "more entries than");
	/* one fifo entry "a" (9 bytes), then a byte too many */
	memcpy(t + 8, (uint8_t[]){0, 0, 0, 0, 0, 0, 1, 1, 'a', 6,
				  0, 0, 0, 0, 0, 0, 0}, 17);
	expect_parse(t, 24, 0, "");
	expect_parse(t, 25, B3CAS_ECORRUPT, "bytes after the last entry");
	t[17] = 9; /* type 9 */
	expect_parse(t, 24, B3CAS_ECORRUPT, "unknown entry type");
	t[17] = 6;
	t[16] = '/';
	expect_parse(t, 24, B3CAS_ECORRUPT, "'/'");
	t[16] = '.';
	expect_parse(t, 24, B3CAS_ECORRUPT, "'.' or '..'");
}

static void test_find(void **state)
{
	static gen g;

	(void)state;
	g.rng = seed ^ 0xf1d;
	for (int r = 0; r < 50; r++) {
		gen_tree(&g, tu_rand(&g.rng) % MAX_ENTRIES);
		for (int k = 0; k < 20; k++) {
			char name[8];
			size_t len = 1 + tu_rand(&g.rng) % 2;
			ptrdiff_t want = -1;

			for (size_t i = 0; i < len; i++)
				name[i] = (char)('a' + tu_rand(&g.rng) % 26);
			for (size_t i = 0; i < g.tree.count; i++)
				if (g.e[i].name_len == len &&
				    !memcmp(g.e[i].name, name, len))
					want = (ptrdiff_t)i;
			assert_int_equal(b3cas_tree_find(&g.tree, name, len),
					 want);
		}
	}
	assert_int_equal(b3cas_tree_find(NULL, "a", 1), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_documented_bytes),
		cmocka_unit_test(test_random_against_reference),
		cmocka_unit_test(test_damage_is_refused_or_canonical),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_find),
	};

	seed = tu_seed("test_tree_codec");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
