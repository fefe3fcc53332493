/*
 * test_git_map.c - git objects in the store (b3cas/git.h): git's ids
 * against git's own (known ids, and `git hash-object` of random objects),
 * the mapping both ways, by prefix (an ambiguous one too) and walked; a
 * blob and the same bytes put by b3cas_store_put are one object; links
 * keep what a tree names; GC removes an object's mappings with it, also
 * after a reopen; the mapping of a duplicate put; blobs written in
 * pieces (b3cas_git_writer) in a plain and a chunking store: the same
 * ids and mapping as one put, declared sizes enforced, an abort leaves
 * nothing; fsck of the mapping: five kinds of damage made behind the
 * store's back, each found, repaired, and the sound mappings left; what
 * a tree, commit or tag names (b3cas_git_each_named) against git's own
 * reading of real repositories of both formats, and the links of what a
 * store maps (b3cas_git_links).
 */
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "meta_keys.h"
#include "store/store_int.h"
#include "test_util.h"

static char root[256], dir[300];

static int setup(void **state)
{
	(void)state;
	tu_make_root(root, sizeof(root), "git_map");
	snprintf(dir, sizeof(dir), "%s/store", root);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_remove_root(root);
	return 0;
}

/* The mapping keys in s's index ('g' and 'G'), read directly: what GC
 * left, whatever the lookups' filter of objects no longer stored. */
static unsigned map_keys(b3cas_store *s)
{
	return tu_meta_keys_of(b3cas__store_index(s), "gG");
}

static b3cas_store *open_store(bool create)
{
	b3cas_store_options o = tu_store_options(create, 1024);

	return tu_open_store(dir, &o);
}

static void expect_hex(const b3cas_git_oid *g, const char *want)
{
	char hex[B3CAS_GIT_HEX_MAX + 1];

	assert_string_equal(b3cas_git_oid_fmt(hex, g), want);
}

/* Known ids, as git computes them (git hash-object, and git's constants
 * for the empty tree in both formats). */
static void test_known_ids(void **state)
{
	b3cas_git_oid g, p;

	(void)state;
	assert_int_equal(b3cas_git_hash(&g, B3CAS_GIT_SHA1, B3CAS_GIT_BLOB,
					"", 0), 0);
	expect_hex(&g, "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
	assert_int_equal(b3cas_git_hash(&g, B3CAS_GIT_SHA1, B3CAS_GIT_BLOB,
					"hello\n", 6), 0);
	expect_hex(&g, "ce013625030ba8dba906f756967f9e9ca394464a");
	assert_int_equal(b3cas_git_hash(&g, B3CAS_GIT_SHA1, B3CAS_GIT_TREE,
					"", 0), 0);
	expect_hex(&g, "4b825dc642cb6eb9a060e54bf8d69288fbee4904");
	assert_int_equal(b3cas_git_hash(&g, B3CAS_GIT_SHA256, B3CAS_GIT_TREE,
					"", 0), 0);
	expect_hex(&g, "6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b"
		       "939dd74decc5321");
	assert_int_equal(b3cas_git_hash(&g, B3CAS_GIT_SHA256, B3CAS_GIT_BLOB,
					"", 0), 0);
	expect_hex(&g, "473a0f4c3be8a93681a267e3b1e9a7dcda1185436fe141f77491"
		       "20a303721813");
	/* parse and format round trip, either case */
	assert_int_equal(b3cas_git_oid_parse(
				 &p, "CE013625030BA8DBA906F756967F9E9CA394464A"),
			 0);
	assert_int_equal(p.algo, B3CAS_GIT_SHA1);
	expect_hex(&p, "ce013625030ba8dba906f756967f9e9ca394464a");
}

/* Random objects of every type against `git hash-object --literally`
 * (both formats when this git has SHA-256). */
static void test_against_git(void **state)
{
	uint64_t rng = tu_seed("git_against_git");
	char path[400], cmd[700], want[80], hex[B3CAS_GIT_HEX_MAX + 1];
	int checked = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/obj", root);
	for (int i = 0; i < 24; i++) {
		size_t len = (size_t)(tu_rand(&rng) % 5000);
		uint8_t *data = tu_random_block(len, &rng);
		b3cas_git_type type = (b3cas_git_type)(1 + i % 4);
		b3cas_git_algo algo = i % 2 ? B3CAS_GIT_SHA256 : B3CAS_GIT_SHA1;
		b3cas_git_oid g;
		FILE *f = fopen(path, "wb"), *p;

		assert_non_null(f);
		assert_int_equal(fwrite(data, 1, len, f), len);
		fclose(f);
		snprintf(cmd, sizeof(cmd),
			 "cd '%s' && git %s hash-object --literally -t %s obj",
			 root,
			 algo == B3CAS_GIT_SHA1
				 ? ""
				 : "-c extensions.objectFormat=sha256",
			 b3cas_git_type_name(type));
		if (algo == B3CAS_GIT_SHA256) {
			/* hash-object needs a repository for the format */
			snprintf(cmd, sizeof(cmd),
				 "cd '%s' && (test -d r256 || git init -q "
				 "--object-format=sha256 r256) && cd r256 && "
				 "git hash-object --literally -t %s ../obj",
				 root, b3cas_git_type_name(type));
		}
		p = popen(cmd, "r");
		assert_non_null(p);
		want[0] = '\0';
		if (!fgets(want, sizeof(want), p))
			want[0] = '\0';
		assert_int_equal(pclose(p), 0);
		want[strcspn(want, "\n")] = '\0';
		assert_int_equal(b3cas_git_hash(&g, algo, type, data, len), 0);
		assert_string_equal(b3cas_git_oid_fmt(hex, &g), want);
		checked++;
		free(data);
	}
	assert_int_equal(checked, 24);
}

/* Two contents whose SHA-1 ids share their first 16 bits. */
static void colliding_pair(char a[32], char b[32])
{
	static char seen[65536][32];
	static bool used[65536];

	memset(used, 0, sizeof(used));
	for (unsigned i = 0;; i++) {
		char c[32];
		b3cas_git_oid g;
		unsigned top;

		snprintf(c, sizeof(c), "blob %u\n", i);
		assert_int_equal(b3cas_git_hash(&g, B3CAS_GIT_SHA1,
						B3CAS_GIT_BLOB, c, strlen(c)),
				 0);
		top = (unsigned)g.bytes[0] << 8 | g.bytes[1];
		if (used[top]) {
			memcpy(a, seen[top], 32);
			memcpy(b, c, 32);
			return;
		}
		used[top] = true;
		memcpy(seen[top], c, 32);
	}
}

static int count_one(const b3cas_git_object *o, void *ctx)
{
	(void)o;
	(*(int *)ctx)++;
	return 0;
}

static void test_map_both_ways(void **state)
{
	b3cas_store *s = open_store(true);
	b3cas_lease *l;
	b3cas_git_object blob, tree, got, same;
	b3cas_oid plain;
	char a[32], b[32], hex[B3CAS_GIT_HEX_MAX + 1], pre[B3CAS_GIT_HEX_MAX + 1];
	static const char content[] = "the same bytes\n";
	uint8_t tree_bytes[64];
	size_t tlen;
	b3cas_stats st;
	int n = 0;

	(void)state;
	assert_int_equal(b3cas_lease_open(s, &l), 0);
	/* put by b3cas_store_put first, then as a blob: one object */
	assert_int_equal(b3cas_store_put(s, &plain, content, sizeof(content) - 1),
			 0);
	assert_int_equal(b3cas_git_put(l, B3CAS_GIT_SHA1, B3CAS_GIT_BLOB,
				       content, sizeof(content) - 1, NULL, 0,
				       &blob),
			 1);
	assert_true(b3cas_oid_equal(&blob.id, &plain));
	assert_int_equal(b3cas_store_stats(s, &st), 0);
	assert_int_equal(st.objects, 1);
	/* a tree naming it, with its link */
	tlen = (size_t)snprintf((char *)tree_bytes, sizeof(tree_bytes),
				"100644 f%c", '\0');
	memcpy(tree_bytes + tlen, blob.git.bytes, 20);
	tlen += 20;
	assert_int_equal(b3cas_git_put(l, B3CAS_GIT_SHA1, B3CAS_GIT_TREE,
				       tree_bytes, tlen, &blob.id, 1, &tree),
			 0);
	/* forward, reverse, prefix */
	assert_int_equal(b3cas_git_lookup(s, &blob.git, &got), 0);
	assert_int_equal(got.type, B3CAS_GIT_BLOB);
	assert_int_equal(got.size, sizeof(content) - 1);
	assert_true(b3cas_oid_equal(&got.id, &plain));
	assert_int_equal(b3cas_git_reverse(s, &tree.id, B3CAS_GIT_SHA1, 0,
					   &got),
			 0);
	assert_memory_equal(got.git.bytes, tree.git.bytes, 20);
	assert_int_equal(got.type, B3CAS_GIT_TREE);
	assert_int_equal(b3cas_git_reverse(s, &tree.id, B3CAS_GIT_SHA1,
					   B3CAS_GIT_BLOB, &got),
			 B3CAS_ENOTFOUND);
	assert_int_equal(b3cas_git_reverse(s, &tree.id, B3CAS_GIT_SHA256, 0,
					   &got),
			 B3CAS_ENOTFOUND);
	b3cas_git_oid_fmt(hex, &tree.git);
	for (size_t k = 4; k <= 11; k++) {
		snprintf(pre, sizeof(pre), "%.*s", (int)k, hex);
		assert_int_equal(b3cas_git_lookup_prefix(s, B3CAS_GIT_SHA1,
							 pre, &got),
				 0);
		assert_memory_equal(got.git.bytes, tree.git.bytes, 20);
	}
	assert_int_equal(b3cas_git_lookup_prefix(s, B3CAS_GIT_SHA1, hex, &got),
			 0);
	assert_int_equal(b3cas_git_lookup_prefix(s, B3CAS_GIT_SHA256, "abcd",
						 &got),
			 B3CAS_ENOTFOUND);
	/* an ambiguous prefix: two blobs whose ids share 4 hex digits */
	colliding_pair(a, b);
	assert_true(b3cas_git_put(l, B3CAS_GIT_SHA1, B3CAS_GIT_BLOB, a,
				  strlen(a), NULL, 0, &got) >= 0);
	assert_true(b3cas_git_put(l, B3CAS_GIT_SHA1, B3CAS_GIT_BLOB, b,
				  strlen(b), NULL, 0, &same) >= 0);
	b3cas_git_oid_fmt(hex, &got.git);
	snprintf(pre, sizeof(pre), "%.4s", hex);
	assert_int_equal(b3cas_git_lookup_prefix(s, B3CAS_GIT_SHA1, pre, &got),
			 B3CAS_EEXISTS);
	assert_int_equal(b3cas_git_foreach(s, B3CAS_GIT_SHA1, count_one, &n),
			 0);
	assert_int_equal(n, 4);
	/* a duplicate git put: one reference more, the same mapping */
	assert_int_equal(b3cas_git_put(l, B3CAS_GIT_SHA1, B3CAS_GIT_TREE,
				       tree_bytes, tlen, &blob.id, 1, &same),
			 1);
	assert_true(b3cas_oid_equal(&same.id, &tree.id));
	/* a name keeps the tree, and its link the blob; the caller's put
	 * of the blob goes */
	assert_int_equal(b3cas_name_set(s, "git/t/refs/heads/main", &tree.id),
			 0);
	assert_int_equal(b3cas_lease_close(l), 0);
	assert_true(b3cas_store_delete(s, &plain) >= 0);
	{
		b3cas_gc_options o = B3CAS_GC_OPTIONS_INIT;

		o.normal_priority = true;
		assert_int_equal(b3cas_gc(s, &o, NULL), 0);
	}
	assert_int_equal(b3cas_git_lookup(s, &blob.git, &got), 0);
	assert_int_equal(b3cas_git_lookup(s, &tree.git, &got), 0);
	n = 0;
	assert_int_equal(b3cas_git_foreach(s, 0, count_one, &n), 0);
	assert_int_equal(n, 2); /* the two colliding blobs were collected */
	assert_int_equal(map_keys(s), 4); /* and their keys with them */
	assert_int_equal(b3cas_store_close(s), 0);

	/* after a reopen, removing the name and collecting removes the
	 * mappings with the objects */
	s = open_store(false);
	assert_int_equal(b3cas_name_delete(s, "git/t/refs/heads/main"), 0);
	{
		b3cas_gc_options o = B3CAS_GC_OPTIONS_INIT;

		o.normal_priority = true;
		assert_int_equal(b3cas_gc(s, &o, NULL), 0);
	}
	assert_int_equal(b3cas_git_lookup(s, &tree.git, &got), B3CAS_ENOTFOUND);
	assert_int_equal(b3cas_git_lookup(s, &blob.git, &got), B3CAS_ENOTFOUND);
	n = 0;
	assert_int_equal(b3cas_git_foreach(s, 0, count_one, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(b3cas_store_stats(s, &st), 0);
	assert_int_equal(st.objects, 0);
	assert_int_equal(map_keys(s), 0);
	assert_int_equal(tu_meta_keys(b3cas__store_index(s)), 0);
	assert_int_equal(b3cas_store_close(s), 0);
}

/* A blob of len bytes written through b3cas_git_writer in pieces of
 * varying size, in store s: its ids equal b3cas_git_put's of the same
 * bytes, and it is mapped both ways. */
static void writer_round(b3cas_store *s, size_t len)
{
	uint8_t *data = malloc(len ? len : 1);
	b3cas_git_writer *w;
	b3cas_git_object got, put, look;
	b3cas_git_oid want;
	b3cas_lease *l;
	size_t at = 0, step = 1;

	assert_non_null(data);
	for (size_t i = 0; i < len; i++) /* repeats: chunks dedup */
		data[i] = (uint8_t)((i * 2654435761u) >> 13 ^ (i / 70000));
	assert_int_equal(b3cas_git_hash(&want, B3CAS_GIT_SHA1, B3CAS_GIT_BLOB,
					data, len),
			 0);
	assert_int_equal(b3cas_lease_open(s, &l), 0);
	assert_int_equal(b3cas_git_writer_open(&w, l, B3CAS_GIT_SHA1,
					       B3CAS_GIT_BLOB, len),
			 0);
	while (at < len) {
		size_t n = len - at < step ? len - at : step;

		assert_int_equal(b3cas_git_writer_write(w, data + at, n), 0);
		at += n;
		step = step * 7 + 3; /* 1, 10, 73, ... bytes */
		if (step > (3u << 20))
			step = 4099;
	}
	assert_true(b3cas_git_writer_commit(w, &got) >= 0);
	assert_memory_equal(got.git.bytes, want.bytes, 20);
	assert_int_equal(got.type, B3CAS_GIT_BLOB);
	assert_int_equal(got.size, len);
	/* mapped both ways by the writer's own commit */
	assert_int_equal(b3cas_git_lookup(s, &want, &look), 0);
	assert_true(b3cas_oid_equal(&look.id, &got.id));
	assert_int_equal(look.size, len);
	assert_int_equal(look.type, B3CAS_GIT_BLOB);
	assert_int_equal(b3cas_git_reverse(s, &got.id, B3CAS_GIT_SHA1,
					   B3CAS_GIT_BLOB, &look),
			 0);
	assert_memory_equal(look.git.bytes, want.bytes, 20);
	/* the same bytes put whole: the same object, already stored */
	assert_int_equal(b3cas_git_put(l, B3CAS_GIT_SHA1, B3CAS_GIT_BLOB, data,
				       len, NULL, 0, &put),
			 1);
	assert_true(b3cas_oid_equal(&put.id, &got.id));
	{
		void *back;
		size_t blen;

		assert_int_equal(b3cas_store_get(s, &got.id, &back, &blen), 0);
		assert_int_equal(blen, len);
		assert_memory_equal(back, data, len);
		b3cas_free(back);
	}
	assert_int_equal(b3cas_lease_close(l), 0);
	free(data);
}

static void test_writer(void **state)
{
	b3cas_store_options o = tu_store_options(true, 1024);
	b3cas_git_writer *w;
	b3cas_git_object got;
	b3cas_lease *l;
	b3cas_store *s;
	b3cas_stats st;
	int n;

	(void)state;
	for (int chunking = 0; chunking < 2; chunking++) {
		o.create = true;
		snprintf(dir, sizeof(dir), "%s/store%d", root, chunking);
		if (chunking) {
			o.chunking = B3CAS_CHUNKING_ON;
			o.chunk_avg = 4096;
			o.compression_level = 3;
		}
		s = tu_open_store(dir, &o);
		writer_round(s, 0);
		writer_round(s, 100);
		writer_round(s, 5u << 20);
		assert_int_equal(b3cas_lease_open(s, &l), 0);
		/* more than declared: refused, and the writer is done */
		assert_int_equal(b3cas_git_writer_open(&w, l, B3CAS_GIT_SHA1,
						       B3CAS_GIT_BLOB, 4),
				 0);
		assert_int_equal(b3cas_git_writer_write(w, "abc", 3), 0);
		assert_int_equal(b3cas_git_writer_write(w, "de", 2),
				 B3CAS_EINVAL);
		assert_int_equal(b3cas_git_writer_write(w, "d", 1),
				 B3CAS_EINVAL);
		assert_int_equal(b3cas_git_writer_commit(w, &got),
				 B3CAS_EINVAL);
		/* fewer than declared: the commit fails, nothing stored */
		assert_int_equal(b3cas_git_writer_open(&w, l, B3CAS_GIT_SHA1,
						       B3CAS_GIT_BLOB, 4),
				 0);
		assert_int_equal(b3cas_git_writer_write(w, "abc", 3), 0);
		assert_int_equal(b3cas_git_writer_commit(w, &got),
				 B3CAS_EINVAL);
		assert_non_null(strstr(b3cas_error_last(), "3 bytes written"));
		/* an abort: nothing stored */
		assert_int_equal(b3cas_git_writer_open(&w, l,
						       B3CAS_GIT_SHA256,
						       B3CAS_GIT_BLOB, 3),
				 0);
		assert_int_equal(b3cas_git_writer_write(w, "xyz", 3), 0);
		b3cas_git_writer_abort(w);
		b3cas_git_writer_abort(NULL);
		n = 0;
		assert_int_equal(b3cas_git_foreach(s, B3CAS_GIT_SHA256,
						   count_one, &n),
				 0);
		assert_int_equal(n, 0);
		/* SHA-256: git's id of "xyz" as a blob */
		assert_int_equal(b3cas_git_writer_open(&w, l,
						       B3CAS_GIT_SHA256,
						       B3CAS_GIT_BLOB, 3),
				 0);
		assert_int_equal(b3cas_git_writer_write(w, "xyz", 3), 0);
		assert_int_equal(b3cas_git_writer_commit(w, &got), 0);
		{
			b3cas_git_oid want;

			assert_int_equal(b3cas_git_hash(&want,
							B3CAS_GIT_SHA256,
							B3CAS_GIT_BLOB, "xyz",
							3),
					 0);
			assert_memory_equal(got.git.bytes, want.bytes, 32);
		}
		assert_int_equal(b3cas_lease_close(l), 0);
		/* the lease gone, GC collects every blob and its mapping */
		{
			b3cas_gc_options g = B3CAS_GC_OPTIONS_INIT;

			g.normal_priority = true;
			assert_int_equal(b3cas_gc(s, &g, NULL), 0);
		}
		assert_int_equal(b3cas_store_stats(s, &st), 0);
		assert_int_equal(st.objects, 0);
		assert_int_equal(map_keys(s), 0);
		assert_int_equal(b3cas_store_close(s), 0);
	}
}

/* ---- fsck of the mapping ---------------------------------------------- */

static void raw_put(b3cas_store *s, const void *k, size_t klen, const void *v,
		    size_t vlen)
{
	rocksdb_writebatch_t *b = rocksdb_writebatch_create();

	rocksdb_writebatch_put_cf(b, b3cas__store_index(s)->cf[B3CAS_CF_META],
				  k, klen, v, vlen);
	assert_int_equal(b3cas__store_write_batch(s, b), 0);
	rocksdb_writebatch_destroy(b);
}

static void raw_del(b3cas_store *s, const void *k, size_t klen)
{
	rocksdb_writebatch_t *b = rocksdb_writebatch_create();

	rocksdb_writebatch_delete_cf(
		b, b3cas__store_index(s)->cf[B3CAS_CF_META], k, klen);
	assert_int_equal(b3cas__store_write_batch(s, b), 0);
	rocksdb_writebatch_destroy(b);
}

typedef struct gm_seen {
	int git_maps, other, mended, with_id;
} gm_seen;

static int gm_problem(const b3cas_fsck_problem *p, void *ctx)
{
	gm_seen *w = ctx;

	if (p->kind == B3CAS_FSCK_GIT_MAP) {
		w->git_maps++;
		w->with_id += p->has_id;
		w->mended += p->action != NULL;
		assert_non_null(p->detail);
	} else {
		w->other++;
	}
	return 0;
}

static b3cas_fsck_report gm_fsck(b3cas_store *s, bool repair, gm_seen *w)
{
	b3cas_fsck_options o = B3CAS_FSCK_OPTIONS_INIT;
	b3cas_fsck_report r;

	memset(w, 0, sizeof(*w));
	o.repair = repair;
	o.on_problem = gm_problem;
	o.ctx = w;
	assert_int_equal(b3cas_fsck(s, &o, &r), 0);
	assert_int_equal(w->other, 0);
	assert_int_equal(r.git_maps, (uint64_t)w->git_maps);
	return r;
}

static void test_fsck_mapping(void **state)
{
	b3cas_store *s = open_store(true);
	b3cas_git_object a, b, big, got;
	b3cas_git_writer *w;
	b3cas_lease *l;
	b3cas_fsck_report r;
	gm_seen seen;
	uint8_t k[64], v[64], *data = malloc(3u << 20);
	b3cas_oid absent = {{0x5a}};
	int n = 0;

	(void)state;
	assert_non_null(data);
	for (size_t i = 0; i < (3u << 20); i++)
		data[i] = (uint8_t)(i * 7 + i / 4099);
	assert_int_equal(b3cas_lease_open(s, &l), 0);
	assert_true(b3cas_git_put(l, B3CAS_GIT_SHA1, B3CAS_GIT_BLOB, "alpha\n",
				  6, NULL, 0, &a) >= 0);
	assert_true(b3cas_git_put(l, B3CAS_GIT_SHA256, B3CAS_GIT_BLOB,
				  "beta\n", 5, NULL, 0, &b) >= 0);
	assert_int_equal(b3cas_git_writer_open(&w, l, B3CAS_GIT_SHA1,
					       B3CAS_GIT_BLOB, 3u << 20),
			 0);
	assert_int_equal(b3cas_git_writer_write(w, data, 3u << 20), 0);
	assert_int_equal(b3cas_git_writer_commit(w, &big), 0);
	/* a sound store: nothing to say */
	r = gm_fsck(s, false, &seen);
	assert_int_equal(r.problems, 0);

	/* 1. a reverse key gone: b's */
	k[0] = 'G';
	memcpy(k + 1, b.id.bytes, 32);
	k[33] = B3CAS_GIT_SHA256;
	k[34] = B3CAS_GIT_BLOB;
	raw_del(s, k, 35);
	/* 2. a forward key naming an object whose content is another git
	 * id: a's object under a made-up id */
	k[0] = 'g';
	k[1] = B3CAS_GIT_SHA1;
	memset(k + 2, 0xab, 20);
	v[0] = 1;
	v[1] = B3CAS_GIT_BLOB;
	memset(v + 2, 0, 8);
	v[9] = 6;
	memcpy(v + 10, a.id.bytes, 32);
	raw_put(s, k, 22, v, 42);
	/* 3. a forward key naming an object that is not stored: lookup
	 * says absent, the unchecked mapping gives it, and a read of what
	 * it names fails */
	memset(k + 2, 0xcd, 20);
	memcpy(v + 10, absent.bytes, 32);
	raw_put(s, k, 22, v, 42);
	{
		b3cas_git_oid dangling = {B3CAS_GIT_SHA1, {0}};
		size_t nr;
		char c;

		memset(dangling.bytes, 0xcd, 20);
		assert_int_equal(b3cas_git_lookup(s, &dangling, &got),
				 B3CAS_ENOTFOUND);
		assert_int_equal(b3cas_git_mapping(s, &dangling, &got), 0);
		assert_true(b3cas_oid_equal(&got.id, &absent));
		assert_int_equal(got.size, 6);
		assert_int_equal(b3cas_store_read_at(s, &got.id, 0, &c, 1,
						     &nr),
				 B3CAS_ENOTFOUND);
		/* a sound one: both the same */
		assert_int_equal(b3cas_git_mapping(s, &a.git, &got), 0);
		assert_true(b3cas_oid_equal(&got.id, &a.id));
		assert_int_equal(got.type, B3CAS_GIT_BLOB);
		memset(dangling.bytes, 0x01, 20);
		assert_int_equal(b3cas_git_mapping(s, &dangling, &got),
				 B3CAS_ENOTFOUND);
	}
	/* 4. a forward key that does not decode (a value too short) */
	memset(k + 2, 0xef, 20);
	raw_put(s, k, 22, v, 7);
	/* 5. a reverse key alone: big's object as a tree */
	k[0] = 'G';
	memcpy(k + 1, big.id.bytes, 32);
	k[33] = B3CAS_GIT_SHA1;
	k[34] = B3CAS_GIT_TREE;
	raw_put(s, k, 35, big.git.bytes, 20);

	r = gm_fsck(s, false, &seen);
	assert_int_equal(seen.git_maps, 5);
	assert_int_equal(seen.with_id, 4); /* all but the malformed key */
	assert_int_equal(seen.mended, 0);
	assert_int_equal(r.problems, 5);
	/* repair: each mended; then nothing left to find */
	r = gm_fsck(s, true, &seen);
	assert_int_equal(seen.git_maps, 5);
	assert_int_equal(seen.mended, 5);
	assert_int_equal(r.git_mended, 5);
	r = gm_fsck(s, false, &seen);
	assert_int_equal(r.problems, 0);
	/* the sound mappings are all there, b's reverse key written back */
	assert_int_equal(b3cas_git_lookup(s, &a.git, &got), 0);
	assert_int_equal(b3cas_git_lookup(s, &big.git, &got), 0);
	assert_int_equal(b3cas_git_reverse(s, &b.id, B3CAS_GIT_SHA256,
					   B3CAS_GIT_BLOB, &got),
			 0);
	assert_memory_equal(got.git.bytes, b.git.bytes, 32);
	assert_int_equal(b3cas_git_reverse(s, &big.id, B3CAS_GIT_SHA1,
					   B3CAS_GIT_TREE, &got),
			 B3CAS_ENOTFOUND);
	assert_int_equal(b3cas_git_foreach(s, 0, count_one, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(map_keys(s), 6);
	assert_string_equal(b3cas_fsck_kind_name(B3CAS_FSCK_GIT_MAP),
			    "git-map");
	assert_int_equal(b3cas_lease_close(l), 0);
	assert_int_equal(b3cas_store_close(s), 0);
	free(data);
}

/* ---- what an object names, against git's own reading -------------------- */

typedef struct named_list {
	char hex[64][B3CAS_GIT_HEX_MAX + 1];
	unsigned n;
} named_list;

static int note_named(const b3cas_git_oid *g, void *ctx)
{
	named_list *l = ctx;

	assert_true(l->n < 64);
	b3cas_git_oid_fmt(l->hex[l->n++], g);
	return 0;
}

/* A repository of format fmt with merges, a gitlink, an annotated tag
 * and a commit message with a "parent" line in its body; every tree,
 * commit and tag read by b3cas_git_each_named against what git says
 * they name (ls-tree less commits; %T %P; a tag's object). Then
 * b3cas_git_links of each commit in a store holding only some of what
 * it names. */
static void named_in(const char *fmt)
{
	char cmd[1600], path[400], line[8192];
	unsigned checked[5] = {0};
	FILE *p;

	snprintf(path, sizeof(path), "%s/r-%s", root, fmt);
	snprintf(cmd, sizeof(cmd),
		 "set -e; git init -q --object-format=%s '%s'; cd '%s'; "
		 "git config user.name t; git config user.email t@t; "
		 "git config advice.nestedTag false; "
		 "echo a > a; mkdir d; echo b > d/b; git add .; "
		 "git commit -qm one; git branch side; echo c > c; git add c; "
		 "git commit -qm two -m 'parent 0123'; git checkout -q side; "
		 "echo e > e; git add e; git commit -qm three; "
		 "git checkout -q -; git merge -q --no-edit side; "
		 "git update-index --add --cacheinfo "
		 "160000,$(git rev-parse HEAD~1),sub; git commit -qm link; "
		 "git tag -a -m tagged v1; git tag -a -m again v2 v1",
		 fmt, path, path);
	assert_int_equal(system(cmd), 0);
	/* each object: "ID TYPE" then what git says it names */
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && git cat-file --batch-all-objects --batch-check="
		 "'%%(objectname) %%(objecttype)' | while read id t; do "
		 "case $t in tree) n=$(git ls-tree $id | awk '$2!=\"commit\""
		 "{print $3}');; commit) n=$(git show -s --format='%%T %%P' "
		 "$id);; tag) n=$(git cat-file tag $id | sed -n "
		 "'s/^object //p');; *) n=;; esac; echo $id $t $n; done",
		 path);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		char *tok[70], *save = NULL, *c, obj[B3CAS_GIT_HEX_MAX + 500];
		unsigned nt = 0;
		b3cas_git_oid g;
		b3cas_git_type type;
		named_list got = {.n = 0};
		uint8_t *data;
		size_t len = 0, cap = 1 << 16;
		FILE *q;

		for (c = strtok_r(line, " \n", &save); c && nt < 70;
		     c = strtok_r(NULL, " \n", &save))
			tok[nt++] = c;
		assert_true(nt >= 2);
		assert_int_equal(b3cas_git_oid_parse(&g, tok[0]), 0);
		assert_int_equal(b3cas_git_type_parse(&type, tok[1]), 0);
		snprintf(obj, sizeof(obj), "git -C '%s' cat-file %s %s", path,
			 tok[1], tok[0]);
		q = popen(obj, "r");
		data = malloc(cap);
		assert_non_null(q);
		assert_non_null(data);
		len = fread(data, 1, cap, q);
		assert_int_equal(pclose(q), 0);
		assert_int_equal(b3cas_git_each_named(g.algo, type, data, len,
						      note_named, &got),
				 0);
		assert_int_equal(got.n, nt - 2);
		for (unsigned i = 0; i < got.n; i++)
			assert_string_equal(got.hex[i], tok[2 + i]);
		checked[type]++;
		free(data);
	}
	assert_int_equal(pclose(p), 0);
	assert_int_equal(checked[B3CAS_GIT_COMMIT], 5);
	assert_int_equal(checked[B3CAS_GIT_TAG], 2);
	assert_true(checked[B3CAS_GIT_TREE] >= 5);
}

static int stop_at_two(const b3cas_git_oid *g, void *ctx)
{
	(void)g;
	return ++*(int *)ctx == 2 ? 7 : 0;
}

static void test_named(void **state)
{
	static const char tree[] = "100644 a\0"
				   "AAAAAAAAAAAAAAAAAAAA"
				   "160000 sub\0"
				   "BBBBBBBBBBBBBBBBBBBB"
				   "40000 d\0"
				   "CCCCCCCCCCCCCCCCCCCC"
				   "100644 cut\0"
				   "DDDDD";
	static const char commit[] =
		"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
		"parent 4b825dc642cb6eb9a060e54bf8d69288fbee490\n"
		"parent 4b825dc642cb6eb9a060e54bf8d69288fbee4905\n"
		"author t <t@t> 0 +0000\n\n"
		"parent 4b825dc642cb6eb9a060e54bf8d69288fbee4906\n";
	b3cas_store *s;
	b3cas_lease *l;
	b3cas_git_object blob, t;
	b3cas_oid *links;
	size_t n;
	named_list got = {.n = 0};
	int calls = 0;
	char raw[128];

	(void)state;
	named_in("sha1");
	named_in("sha256");
	/* a gitlink is left out, a cut entry ends the walk */
	assert_int_equal(b3cas_git_each_named(B3CAS_GIT_SHA1, B3CAS_GIT_TREE,
					      tree, sizeof(tree) - 1,
					      note_named, &got),
			 0);
	assert_int_equal(got.n, 2);
	assert_string_equal(got.hex[0],
			    "4141414141414141414141414141414141414141");
	assert_string_equal(got.hex[1],
			    "4343434343434343434343434343434343434343");
	/* a short id is no id; the body is not the header */
	got.n = 0;
	assert_int_equal(b3cas_git_each_named(B3CAS_GIT_SHA1,
					      B3CAS_GIT_COMMIT, commit,
					      sizeof(commit) - 1, note_named,
					      &got),
			 0);
	assert_int_equal(got.n, 2);
	assert_string_equal(got.hex[1],
			    "4b825dc642cb6eb9a060e54bf8d69288fbee4905");
	/* fn's return stops the walk */
	assert_int_equal(b3cas_git_each_named(B3CAS_GIT_SHA1,
					      B3CAS_GIT_COMMIT, commit,
					      sizeof(commit) - 1, stop_at_two,
					      &calls),
			 7);
	/* a blob names nothing; nothing names nothing */
	got.n = 0;
	assert_int_equal(b3cas_git_each_named(B3CAS_GIT_SHA1, B3CAS_GIT_BLOB,
					      commit, sizeof(commit) - 1,
					      note_named, &got),
			 0);
	assert_int_equal(b3cas_git_each_named(B3CAS_GIT_SHA1, B3CAS_GIT_TREE,
					      NULL, 0, note_named, &got),
			 0);
	assert_int_equal(got.n, 0);
	/* links: only what the store maps, as its b3cas ids */
	s = open_store(true);
	assert_int_equal(b3cas_lease_open(s, &l), 0);
	assert_true(b3cas_git_put(l, B3CAS_GIT_SHA1, B3CAS_GIT_BLOB, "x\n", 2,
				  NULL, 0, &blob) >= 0);
	memcpy(raw, "100644 x\0", 9);
	memcpy(raw + 9, blob.git.bytes, 20);
	memcpy(raw + 29, "100644 y\0", 9);
	memset(raw + 38, 0x11, 20); /* not stored */
	memcpy(raw + 58, "100644 z\0", 9);
	memcpy(raw + 67, blob.git.bytes, 20);
	assert_int_equal(b3cas_git_links(s, B3CAS_GIT_SHA1, B3CAS_GIT_TREE,
					 raw, 87, &links, &n),
			 0);
	assert_int_equal(n, 2);
	assert_true(b3cas_oid_equal(&links[0], &blob.id));
	assert_true(b3cas_oid_equal(&links[1], &blob.id));
	assert_true(b3cas_git_put(l, B3CAS_GIT_SHA1, B3CAS_GIT_TREE, raw, 87,
				  links, n, &t) >= 0);
	b3cas_free(links);
	assert_int_equal(b3cas_git_links(s, B3CAS_GIT_SHA1, B3CAS_GIT_TREE,
					 raw, 38, &links, &n),
			 0);
	assert_int_equal(n, 1);
	b3cas_free(links);
	assert_int_equal(b3cas_git_links(s, B3CAS_GIT_SHA1, B3CAS_GIT_TREE,
					 raw + 29, 20, &links, &n),
			 0);
	assert_int_equal(n, 0);
	assert_null(links);
	assert_int_equal(b3cas_lease_close(l), 0);
	assert_int_equal(b3cas_store_close(s), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_ids),
		cmocka_unit_test_setup_teardown(test_against_git, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_map_both_ways, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_writer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fsck_mapping, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_named, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
