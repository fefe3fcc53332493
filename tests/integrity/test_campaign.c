/*
 * test_campaign.c - a corruption campaign: random loose objects get a bit
 * flipped, are truncated, zeroed, deleted or swapped with another, and
 * random inline entries get damaged bytes. fsck must find exactly the
 * damaged set (100% detected, nothing else accused); repair from a backup
 * must heal every one of them and change nothing else (bytes and
 * reference counts of the others as before). A second campaign is
 * detected by reads alone: no read ever returns wrong bytes, and with the
 * backup as mirror every damaged read is healed. Seeded (B3CAS_TEST_SEED).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b3cas/b3cas.h"
#include "store/store_int.h"
#include "test_util.h"

#define THRESHOLD 1024
#define NLOOSE 120
#define NINLINE 60
#define N (NLOOSE + NINLINE)
#define DAMAGES 30

static char root[256], store_dir[300], backup_dir[300];
static uint8_t *data[N];
static size_t lens[N];
static b3cas_oid ids[N];
static uint64_t refs[N];

static int setup(void **state)
{
	(void)state;
	tu_make_root(root, sizeof(root), "campaign");
	snprintf(store_dir, sizeof(store_dir), "%s/store", root);
	snprintf(backup_dir, sizeof(backup_dir), "%s/backup", root);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_remove_root(root);
	for (int i = 0; i < N; i++)
		free(data[i]);
	return 0;
}

static b3cas_store *open_store(const char *mirror)
{
	b3cas_store_options o = tu_store_options(true, THRESHOLD);

	o.mirror_dir = mirror;
	return tu_open_store(store_dir, &o);
}

static void path_of(char *out, size_t n, int i)
{
	tu_object_file(out, n, store_dir, "objects", &ids[i]);
}

static void read_file(const char *path, uint8_t **out, size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	*len = (size_t)st.st_size;
	*out = malloc(*len + 1);
	assert_int_equal(read(fd, *out, *len), (ssize_t)*len);
	close(fd);
}

static void write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

/* Damage object i in one of five ways (j: the partner of a swap). */
static void damage_loose(int i, int j, int how, uint64_t *rng)
{
	char path[512], other[512];
	uint8_t *a, *b;
	size_t la, lb;

	path_of(path, sizeof(path), i);
	chmod(path, 0644);
	switch (how) {
	case 0: /* one bit */
		read_file(path, &a, &la);
		a[tu_rand(rng) % la] ^= (uint8_t)(1u << (tu_rand(rng) % 8));
		write_file(path, a, la);
		free(a);
		break;
	case 1: /* cut short */
		assert_int_equal(truncate(path, (off_t)(tu_rand(rng) %
						     lens[i])), 0);
		break;
	case 2: /* zeroed, same length */
		a = calloc(1, lens[i]);
		write_file(path, a, lens[i]);
		free(a);
		break;
	case 3: /* gone */
		assert_int_equal(unlink(path), 0);
		break;
	default: /* swapped with j */
		path_of(other, sizeof(other), j);
		chmod(other, 0644);
		read_file(path, &a, &la);
		read_file(other, &b, &lb);
		write_file(path, b, lb);
		write_file(other, a, la);
		free(a);
		free(b);
		break;
	}
}

static void damage_inline(b3cas_store *s, int i)
{
	rocksdb_writebatch_t *b = rocksdb_writebatch_create();
	uint8_t *bad = malloc(lens[i]);

	memcpy(bad, data[i], lens[i]);
	bad[lens[i] / 2] ^= 0x80;
	b3cas__store_batch_put_entry(s, b, &ids[i], bad, lens[i], true);
	assert_int_equal(b3cas__store_write_batch(s, b), 0);
	rocksdb_writebatch_destroy(b);
	free(bad);
}

/* Damage DAMAGES distinct objects; marks them in hit[]. */
static int campaign(b3cas_store *s, bool *hit, uint64_t *rng)
{
	int n = 0;

	memset(hit, 0, N * sizeof(*hit));
	while (n < DAMAGES) {
		int i = (int)(tu_rand(rng) % N);
		int how = (int)(tu_rand(rng) % 5);

		if (hit[i])
			continue;
		if (i >= NLOOSE) {
			damage_inline(s, i);
		} else if (how == 4) {
			int j = (int)(tu_rand(rng) % NLOOSE);

			if (j == i || hit[j] || n + 2 > DAMAGES)
				continue;
			damage_loose(i, j, how, rng);
			hit[j] = true;
			n++;
		} else {
			damage_loose(i, -1, how, rng);
		}
		hit[i] = true;
		n++;
	}
	return n;
}

typedef struct accused {
	bool by_id[N];
	int count, strays;
} accused;

static int on_problem(const b3cas_fsck_problem *p, void *ctx)
{
	accused *a = ctx;

	if (!p->has_id || p->kind == B3CAS_FSCK_STRAY) {
		a->strays++;
		return 0;
	}
	for (int i = 0; i < N; i++)
		if (b3cas_oid_equal(&p->id, &ids[i]) && !a->by_id[i]) {
			a->by_id[i] = true;
			a->count++;
		}
	return 0;
}

static void expect_all_sound(b3cas_store *s)
{
	for (int i = 0; i < N; i++) {
		void *got;
		size_t len;
		uint64_t count;

		if (b3cas_store_get(s, &ids[i], &got, &len) != 0)
			fail_msg("object %d: %s", i, b3cas_error_last());
		assert_int_equal(len, lens[i]);
		assert_memory_equal(got, data[i], len);
		b3cas_free(got);
		assert_int_equal(b3cas_refcount(s, &ids[i], &count), 0);
		assert_int_equal(count, refs[i]); /* nothing else changed */
	}
}

static void test_campaign(void **state)
{
	uint64_t rng = tu_seed("campaign");
	b3cas_fsck_options fo = B3CAS_FSCK_OPTIONS_INIT;
	b3cas_fsck_report r;
	bool hit[N];
	accused a;
	b3cas_store *s;
	int n;

	(void)state;
	s = open_store(NULL);
	for (int i = 0; i < N; i++) {
		lens[i] = i < NLOOSE ? THRESHOLD + 1 + tu_rand(&rng) % 60000
				     : 1 + tu_rand(&rng) % THRESHOLD;
		data[i] = tu_random_block(lens[i], &rng);
		refs[i] = 1 + tu_rand(&rng) % 3;
		for (uint64_t k = 0; k < refs[i]; k++)
			assert_true(b3cas_store_put(s, &ids[i], data[i],
						    lens[i]) >= 0);
	}
	assert_int_equal(b3cas_backup(s, backup_dir, NULL, NULL), 0);

	/* Campaign 1: fsck finds exactly the damaged, repair heals all. */
	n = campaign(s, hit, &rng);
	memset(&a, 0, sizeof(a));
	fo.on_problem = on_problem;
	fo.ctx = &a;
	assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
	for (int i = 0; i < N; i++)
		if (a.by_id[i] != hit[i])
			fail_msg("object %d: damaged %d, accused %d", i,
				 hit[i], a.by_id[i]);
	assert_int_equal(a.count, n);
	assert_int_equal(a.strays, 0);
	assert_int_equal(b3cas_store_close(s), 0);
	s = open_store(backup_dir);
	memset(&a, 0, sizeof(a));
	fo.repair = true;
	assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
	assert_int_equal(a.count, n);
	assert_int_equal(r.healed, (uint64_t)n);
	assert_int_equal(r.lost, 0);
	fo.repair = false;
	assert_int_equal(b3cas_fsck(s, &fo, &r), 0);
	assert_int_equal(r.problems, 0);
	expect_all_sound(s);
	assert_int_equal(b3cas_store_close(s), 0);

	/* Campaign 2: reads alone, without a mirror: every damaged read
	 * fails, every other read is exact; never a wrong byte. */
	s = open_store(NULL);
	n = campaign(s, hit, &rng);
	for (int i = 0; i < N; i++) {
		void *got;
		size_t len;
		int rc = b3cas_store_get(s, &ids[i], &got, &len);

		if (hit[i]) {
			assert_int_equal(rc, B3CAS_ECORRUPT);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_memory_equal(got, data[i], lens[i]);
		b3cas_free(got);
	}
	assert_int_equal(b3cas_store_close(s), 0);
	/* With the backup as mirror, the same reads heal. */
	s = open_store(backup_dir);
	expect_all_sound(s);
	{
		b3cas_stats st;

		assert_int_equal(b3cas_store_stats(s, &st), 0);
		assert_int_equal(st.healed, (uint64_t)n);
	}
	assert_int_equal(b3cas_fsck(s, NULL, &r), 0);
	assert_int_equal(r.problems, 0);
	assert_int_equal(b3cas_store_close(s), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_campaign, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
