/*
 * test_store_model_fixed.c - the fixed cases the model cannot reach: id
 * text (format and parse), errors of open on missing, foreign and damaged
 * folders and bad options, a store locked by another writer, read-only
 * opens, and the SHA-256 comparison mode checked against OpenSSL. Part of
 * the test_store_model program.
 */
#include "test_store_model_int.h"

/* ---- fixed cases ---------------------------------------------------------- */

void test_oid_text(void **state)
{
	uint64_t rng = base_seed ^ 0x01D;
	char text[B3CAS_OID_HEX_LEN + 1], want[B3CAS_OID_HEX_LEN + 1];
	char bad[160];
	b3cas_oid id, back, sentinel;

	(void)state;
	memset(&sentinel, 0xAB, sizeof(sentinel));
	for (int round = 0; round < 200; round++) {
		for (int i = 0; i < B3CAS_OID_LEN; i++)
			id.bytes[i] = (uint8_t)tu_rand(&rng);
		if (round == 0)
			memset(id.bytes, 0, sizeof(id.bytes));
		if (round == 1)
			memset(id.bytes, 0xFF, sizeof(id.bytes));
		memset(text, 'Z', sizeof(text));
		assert_ptr_equal(b3cas_oid_fmt(text, &id), text);
		tu_hex_encode(want, id.bytes, B3CAS_OID_LEN);
		assert_string_equal(text, want);
		assert_int_equal(b3cas_oid_parse(&back, text), 0);
		assert_true(b3cas_oid_equal(&back, &id));
		/* upper case, and a random mix of cases */
		for (int i = 0; i < B3CAS_OID_HEX_LEN; i++)
			if (round % 2 || cu_chance(&rng, 1, 2))
				text[i] = (char)toupper((unsigned char)text[i]);
		back = sentinel;
		assert_int_equal(b3cas_oid_parse(&back, text), 0);
		assert_true(b3cas_oid_equal(&back, &id));
		back.bytes[round % B3CAS_OID_LEN] ^= 1;
		assert_false(b3cas_oid_equal(&back, &id));

		/* a bad character anywhere */
		{
			static const char badc[] = "gGzZ -x.:\n\t\xff\x80/@`";
			int pos = (int)cu_below(&rng, B3CAS_OID_HEX_LEN);

			strcpy(bad, want);
			bad[pos] = badc[cu_below(&rng, sizeof(badc) - 1)];
			back = sentinel;
			b3cas_error_clear();
			assert_int_equal(b3cas_oid_parse(&back, bad),
					 B3CAS_EINVAL);
			assert_memory_equal(&back, &sentinel, sizeof(back));
			assert_true(strlen(b3cas_error_last()) > 0);
		}
		/* wrong lengths: every length from 0 to 130 but 64 */
		{
			size_t len = (size_t)cu_below(&rng, 131);

			if (len == 64)
				len = 63;
			for (size_t i = 0; i < len; i++)
				bad[i] = want[i % 64];
			bad[len] = '\0';
			back = sentinel;
			assert_int_equal(b3cas_oid_parse(&back, bad),
					 B3CAS_EINVAL);
			assert_memory_equal(&back, &sentinel, sizeof(back));
		}
	}
	{
		static const char *const cases[] = {
			"", "0", " 0000000000000000000000000000000000000000000000000000000000000000",
			"0000000000000000000000000000000000000000000000000000000000000000 ",
			"0000000000000000000000000000000000000000000000000000000000000000\n",
			"0x00000000000000000000000000000000000000000000000000000000000000",
			"+000000000000000000000000000000000000000000000000000000000000000",
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			back = sentinel;
			assert_int_equal(b3cas_oid_parse(&back, cases[i]),
					 B3CAS_EINVAL);
			assert_memory_equal(&back, &sentinel, sizeof(back));
		}
		/* a NUL inside: the string ends early, so it is too short */
		strcpy(bad, want);
		bad[10] = '\0';
		assert_int_equal(b3cas_oid_parse(&back, bad), B3CAS_EINVAL);
	}
}

/* A store in a fresh folder under tmp_root with some objects in it. */
static void make_store(char *root, size_t root_len, const char *name,
		       b3cas_hash_algo hash, size_t threshold)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	b3cas_store *s = NULL;
	b3cas_oid id;

	snprintf(root, root_len, "%s/%s", tmp_root, name);
	o.create = true;
	o.hash = hash;
	o.inline_threshold = threshold;
	assert_int_equal(b3cas_store_open(&s, root, &o), 0);
	assert_int_equal(b3cas_store_put(s, &id, "hello", 5), 0);
	assert_int_equal(b3cas_store_close(s), 0);
}

static int open_with(const char *root, bool create, bool read_only,
		     b3cas_hash_algo hash, size_t threshold,
		     b3cas_store **out)
{
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;

	o.create = create;
	o.read_only = read_only;
	o.hash = hash;
	o.inline_threshold = threshold;
	*out = NULL;
	return b3cas_store_open(out, root, &o);
}

void test_read_only(void **state)
{
	char root[PATH_MAX];
	b3cas_store *s = NULL, *ro = NULL, *ro2 = NULL;
	static const size_t sizes[] = {0, 1, 2000, 2048, 2049, 100000};
	b3cas_oid ids[6], id;
	uint8_t *bufs[6];
	void *data;
	size_t len;
	bool dup;
	b3cas_store_info info;
	b3cas_writer *w = NULL;
	int rc;

	(void)state;
	snprintf(root, sizeof(root), "%s/ro", tmp_root);
	assert_int_equal(open_with(root, true, false, 0, 2048, &s), 0);
	for (int i = 0; i < 6; i++) {
		bufs[i] = cu_gen_alloc(77 + (uint64_t)i, sizes[i]);
		assert_int_equal(b3cas_store_put(s, &ids[i], bufs[i], sizes[i]),
				 0);
	}
	assert_int_equal(b3cas_store_put(s, &id, bufs[3], sizes[3]), 1);
	/* beside the writer, in the same process */
	assert_int_equal(open_with(root, false, true, 0, 0, &ro), 0);
	assert_int_equal(b3cas_store_close(s), 0);
	/* and once the writer has closed */
	assert_int_equal(open_with(root, false, true, 0, 0, &ro2), 0);
	for (int k = 0; k < 2; k++) {
		b3cas_store *x = k ? ro2 : ro;
		b3cas_object_info oi;

		b3cas_store_info_get(&info, x);
		assert_true(info.read_only);
		assert_int_equal((int)info.inline_threshold, 2048);
		for (int i = 0; i < 6; i++) {
			assert_int_equal(b3cas_store_get(x, &ids[i], &data,
							 &len), 0);
			assert_int_equal(len, sizes[i]);
			assert_memory_equal(data, bufs[i], len);
			b3cas_free(data);
			assert_int_equal(b3cas_store_stat(x, &ids[i], &oi), 0);
			assert_int_equal(oi.refs, i == 3 ? 2 : 1);
			assert_int_equal(oi.is_inline, sizes[i] <= 2048);
		}
		assert_int_equal(b3cas_store_put(x, &id, "new", 3),
				 B3CAS_EPERM);
		assert_int_equal(b3cas_store_put(x, &id, bufs[2], sizes[2]),
				 B3CAS_EPERM);
		{
			const void *d[1] = {"new"};
			size_t l[1] = {3};

			assert_int_equal(b3cas_store_put_batch(x, &id, &dup, d,
							       l, 1),
					 B3CAS_EPERM);
		}
		assert_int_equal(b3cas_store_delete(x, &ids[1]), B3CAS_EPERM);
		rc = b3cas_writer_open(&w, x);
		if (rc == 0) {
			(void)b3cas_writer_write(w, "abc", 3);
			assert_int_equal(b3cas_writer_commit(w, &id),
					 B3CAS_EPERM);
		} else {
			assert_int_equal(rc, B3CAS_EPERM);
		}
		/* refs unchanged by all of that */
		assert_int_equal(b3cas_store_stat(x, &ids[1], &oi), 0);
		assert_int_equal(oi.refs, 1);
	}
	assert_int_equal(b3cas_store_close(ro), 0);
	assert_int_equal(b3cas_store_close(ro2), 0);
	/* nothing changed for the next writer either */
	assert_int_equal(open_with(root, false, false, 0, 0, &s), 0);
	assert_int_equal(b3cas_store_delete(s, &ids[1]), 0);
	assert_int_equal(b3cas_store_delete(s, &ids[3]), 1);
	assert_int_equal(b3cas_store_exists(s, &ids[1]), 0);
	assert_int_equal(b3cas_store_close(s), 0);
	/* read-only where there is no store */
	snprintf(root, sizeof(root), "%s/ro-missing", tmp_root);
	assert_int_equal(open_with(root, false, true, 0, 0, &ro),
			 B3CAS_ENOTFOUND);
	assert_null(ro);
	for (int i = 0; i < 6; i++)
		free(bufs[i]);
}

void test_locked(void **state)
{
	char root[PATH_MAX], pid[32];
	b3cas_store *a = NULL, *b = NULL, *ro = NULL;

	(void)state;
	make_store(root, sizeof(root), "locked", B3CAS_HASH_DEFAULT, 0);
	assert_int_equal(open_with(root, false, false, 0, 0, &a), 0);
	assert_int_equal(open_with(root, false, false, 0, 0, &b),
			 B3CAS_ELOCKED);
	assert_null(b);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	if (!strstr(b3cas_error_last(), pid))
		fail_msg("ELOCKED message \"%s\" does not name pid %s",
			 b3cas_error_last(), pid);
	/* create does not get around the lock */
	assert_int_equal(open_with(root, true, false, 0, 0, &b),
			 B3CAS_ELOCKED);
	assert_int_equal(open_with(root, false, true, 0, 0, &ro), 0);
	assert_int_equal(b3cas_store_exists(ro, &(b3cas_oid){{0}}), 0);
	assert_int_equal(b3cas_store_close(a), 0);
	assert_int_equal(open_with(root, false, false, 0, 0, &b), 0);
	assert_int_equal(b3cas_store_close(b), 0);
	assert_int_equal(b3cas_store_close(ro), 0);
	assert_int_equal(b3cas_store_close(NULL), 0);
}

void test_open_errors(void **state)
{
	char root[PATH_MAX], path[PATH_MAX + 32];
	b3cas_store *s = NULL;
	b3cas_store_options o = B3CAS_STORE_OPTIONS_INIT;
	int rc;

	(void)state;
	/* nothing there */
	snprintf(root, sizeof(root), "%s/missing", tmp_root);
	assert_int_equal(open_with(root, false, false, 0, 0, &s),
			 B3CAS_ENOTFOUND);
	assert_null(s);
	assert_int_equal(b3cas_store_open(&s, root, NULL), B3CAS_ENOTFOUND);
	assert_int_equal(cu_count_entries(root), -1); /* not made */
	/* an empty folder */
	snprintf(root, sizeof(root), "%s/empty", tmp_root);
	assert_int_equal(mkdir(root, 0777), 0);
	assert_int_equal(open_with(root, false, false, 0, 0, &s),
			 B3CAS_ENOTFOUND);
	assert_int_equal(cu_count_entries(root), 0);
	/* a folder of other things: not a store, and not made one */
	snprintf(root, sizeof(root), "%s/foreign", tmp_root);
	assert_int_equal(mkdir(root, 0777), 0);
	snprintf(path, sizeof(path), "%s/notes.txt", root);
	assert_true(cu_write_file(path, "not a store\n"));
	for (int create = 0; create < 2; create++) {
		rc = open_with(root, create, false, 0, 0, &s);
		if (rc != B3CAS_ENOTFOUND && rc != B3CAS_EFORMAT)
			fail_msg("foreign folder (create %d): %d \"%s\"",
				 create, rc, b3cas_error_last());
		assert_null(s);
		assert_int_equal(cu_count_entries(root), 1);
	}
	/* a regular file */
	assert_true(open_with(path, false, false, 0, 0, &s) < 0);
	assert_true(open_with(path, true, false, 0, 0, &s) < 0);
	assert_null(s);

	/* a store whose b3cas.conf is damaged, or from the future */
	make_store(root, sizeof(root), "badconf", B3CAS_HASH_DEFAULT, 0);
	snprintf(path, sizeof(path), "%s/b3cas.conf", root);
	assert_true(cu_write_file(path, "\x01\x02 this is not a config\n"));
	assert_int_equal(open_with(root, false, false, 0, 0, &s),
			 B3CAS_EFORMAT);
	assert_int_equal(open_with(root, true, false, 0, 0, &s),
			 B3CAS_EFORMAT);
	assert_int_equal(open_with(root, false, true, 0, 0, &s),
			 B3CAS_EFORMAT);
	assert_true(cu_write_file(path, ""));
	assert_int_equal(open_with(root, false, false, 0, 0, &s),
			 B3CAS_EFORMAT);
	unlink(path);
	rc = open_with(root, false, false, 0, 0, &s);
	if (rc != B3CAS_ENOTFOUND && rc != B3CAS_EFORMAT)
		fail_msg("store without b3cas.conf: %d \"%s\"", rc,
			 b3cas_error_last());
	assert_null(s);

	/* another inline threshold than recorded */
	make_store(root, sizeof(root), "thresh", B3CAS_HASH_DEFAULT, 4096);
	assert_int_equal(open_with(root, false, false, 0, 8192, &s),
			 B3CAS_EFORMAT);
	assert_int_equal(open_with(root, false, false, 0, 4096, &s), 0);
	assert_int_equal(b3cas_store_close(s), 0);

	/* bad options (a failed open leaves *out alone) */
	s = NULL;
	snprintf(root, sizeof(root), "%s/badopts", tmp_root);
	o.create = true;
	o.inline_threshold = B3CAS_INLINE_THRESHOLD_MAX + 1;
	assert_int_equal(b3cas_store_open(&s, root, &o), B3CAS_EINVAL);
	o.inline_threshold = 0;
	o.durability = (b3cas_durability)7;
	assert_int_equal(b3cas_store_open(&s, root, &o), B3CAS_EINVAL);
	o.durability = B3CAS_DURABILITY_BATCH;
	o.hash = (b3cas_hash_algo)9;
	assert_int_equal(b3cas_store_open(&s, root, &o), B3CAS_EINVAL);
	o.hash = B3CAS_HASH_DEFAULT;
	o.version = 99;
	assert_int_equal(b3cas_store_open(&s, root, &o), B3CAS_EINVAL);
	assert_null(s);
	/* the largest threshold is accepted */
	o.version = B3CAS_STORE_OPTIONS_VERSION;
	o.inline_threshold = B3CAS_INLINE_THRESHOLD_MAX;
	assert_int_equal(b3cas_store_open(&s, root, &o), 0);
	assert_int_equal(b3cas_store_close(s), 0);
}

static void sha256(uint8_t out[32], const void *data, size_t len)
{
	unsigned n = 0;

	assert_int_equal(EVP_Digest(len ? data : "", len, out, &n,
				    EVP_sha256(), NULL), 1);
	assert_int_equal(n, 32);
}

void test_sha256(void **state)
{
	char root[PATH_MAX];
	static const size_t sizes[] = {0, 1, 64, 1000, 1024, 1025, 70000};
	b3cas_store *s = NULL;
	b3cas_store_info info;
	b3cas_oid id, ids[7];
	uint8_t want[32], b3[32];
	void *data;
	size_t len;
	bool dup[7];
	const void *ptrs[7];
	uint8_t *bufs[7];

	(void)state;
	make_store(root, sizeof(root), "sha", B3CAS_HASH_SHA256, 1024);
	assert_int_equal(open_with(root, false, false, B3CAS_HASH_DEFAULT, 0,
				   &s), 0);
	b3cas_store_info_get(&info, s);
	assert_int_equal(info.hash, B3CAS_HASH_SHA256);
	assert_string_equal(b3cas_hash_algo_name(info.hash), "sha256");
	assert_string_equal(b3cas_hash_algo_name(B3CAS_HASH_BLAKE3), "blake3");
	/* make_store put "hello" */
	sha256(want, "hello", 5);
	memcpy(id.bytes, want, 32);
	assert_int_equal(b3cas_store_exists(s, &id), 1);
	for (int i = 0; i < 7; i++) {
		bufs[i] = cu_gen_alloc(500 + (uint64_t)i, sizes[i]);
		ptrs[i] = bufs[i];
		sha256(want, bufs[i], sizes[i]);
		b3cas_hash(b3, bufs[i], sizes[i]);
		assert_memory_not_equal(want, b3, 32);
		assert_int_equal(b3cas_store_put(s, &id, bufs[i], sizes[i]), 0);
		assert_memory_equal(id.bytes, want, 32);
		assert_int_equal(b3cas_store_get(s, &id, &data, &len), 0);
		assert_int_equal(len, sizes[i]);
		assert_memory_equal(data, bufs[i], len);
		b3cas_free(data);
		memcpy(id.bytes, b3, 32);
		assert_int_equal(b3cas_store_exists(s, &id), 0);
	}
	/* the batch and the streaming writer hash the same way */
	assert_int_equal(b3cas_store_put_batch(s, ids, dup, ptrs, sizes, 7), 0);
	for (int i = 0; i < 7; i++) {
		sha256(want, bufs[i], sizes[i]);
		assert_memory_equal(ids[i].bytes, want, 32);
		assert_true(dup[i]);
	}
	{
		b3cas_writer *w = NULL;
		uint8_t *big = cu_gen_alloc(999, 5000);

		assert_int_equal(b3cas_writer_open(&w, s), 0);
		for (size_t off = 0; off < 5000; off += 700)
			assert_int_equal(b3cas_writer_write(w, big + off,
				off + 700 > 5000 ? 5000 - off : 700), 0);
		assert_int_equal(b3cas_writer_commit(w, &id), 0);
		sha256(want, big, 5000);
		assert_memory_equal(id.bytes, want, 32);
		free(big);
	}
	assert_int_equal(b3cas_store_close(s), 0);
	/* asking for the other hash is refused, either way round */
	assert_int_equal(open_with(root, false, false, B3CAS_HASH_BLAKE3, 0,
				   &s), B3CAS_EFORMAT);
	assert_int_equal(open_with(root, false, true, B3CAS_HASH_BLAKE3, 0,
				   &s), B3CAS_EFORMAT);
	assert_int_equal(open_with(root, false, false, B3CAS_HASH_SHA256, 0,
				   &s), 0);
	assert_int_equal(b3cas_store_close(s), 0);
	make_store(root, sizeof(root), "b3", B3CAS_HASH_BLAKE3, 0);
	assert_int_equal(open_with(root, false, false, B3CAS_HASH_SHA256, 0,
				   &s), B3CAS_EFORMAT);
	assert_int_equal(open_with(root, false, false, B3CAS_HASH_DEFAULT, 0,
				   &s), 0);
	b3cas_store_info_get(&info, s);
	assert_int_equal(info.hash, B3CAS_HASH_BLAKE3);
	assert_int_equal(b3cas_store_close(s), 0);
	for (int i = 0; i < 7; i++)
		free(bufs[i]);
}
