/*
 * bench_chunk_model.c - a model of the chunked store of issue 16
 * (docs/chunked-objects.md) over snapshot folders, to choose its
 * parameters: the average chunk size, chunk_threshold and the manifest
 * form. Nothing is stored; every byte that would be is counted.
 *
 * One pass: each regular file of each snapshot, in order (names sorted),
 * is read once and hashed whole; a file whose content was seen before adds
 * only logical bytes (the store keeps one object per id). A new content is
 * cut with FastCDC 2020 at each average (min avg / 4, max avg * 4, seed 0)
 * and its chunks hashed once per average (b3cas_hash_batch); the settings
 * that share an average share the cuts, the ids and each chunk's zstd size.
 *
 * Per setting: "whole" is today's store (one object per distinct file);
 * "avg N, thr T" stores files below T, and files that cut into one chunk,
 * whole (their id is their only chunk's); larger ones as a kind-4 entry
 * plus chunks. A chunk or whole object is compressed once when first seen
 * (zstd level 1, kept by the worth-it rule: 64 bytes and 5%).
 *
 * Constants of the model (stated in docs/benchmarks.md): every RocksDB
 * entry costs INDEX_ENTRY bytes = 32-byte key + 9-byte header + 20 bytes
 * of framing, beside its payload. A manifest entry is a 32-byte id and
 * the LEB128 varint of a length. Flat: each distinct chunked object stores
 * its whole list. Nodes: a list of more than NODE_MAX entries is cut into
 * nodes after an entry whose id's first 4 bytes (LE u32) are below
 * 2^32 / NODE_FANOUT (at least NODE_MIN, at most NODE_MAX entries), nodes
 * are deduplicated by their bytes (each distinct one an entry), and the
 * list of nodes is cut again until it fits the object's entry.
 *
 * Invariants checked on every run (exit 1 when one fails): compressed <=
 * raw unique bytes <= logical; the bytes stored per file class add up to
 * the node-form total. --self-test writes snapshots of its own and checks
 * more (see self_test).
 */
#define BENCH_NAME "bench_chunk_model"
#include "bench_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b3cas/hash.h"
#include "chunk/fastcdc.h"
#include "util/varint.h"
#include "compress/zstd.h"

#define ID_LEN B3CAS_OUT_LEN
#define INDEX_ENTRY (32 + 9 + 20)
#define NODE_FANOUT 64
#define NODE_MIN 16
#define NODE_MAX 256
#define ZSTD_LEVEL B3CAS_ZSTD_LEVEL_DEFAULT
#define NAVG 5
#define NSET (1 + 2 * NAVG)
#define NOT_YET SIZE_MAX

static const size_t avgs[NAVG] = { 2048, 4096, 8192, 16384, 65536 };

enum file_class { CLASS_MEM, CLASS_TAR, CLASS_REST, NCLASS };
static const char *const class_names[NCLASS] = { "memory images", "tars",
						 "rest" };

/* A set of 32-byte ids: open addressing, linear probing, load <= 1/2. An
 * all-zero slot is empty; the all-zero id itself is a flag. */
typedef struct idset {
	uint8_t (*slot)[ID_LEN];
	size_t cap, n;
	bool has_zero;
} idset;

typedef struct tally {
	uint64_t logical, files, chunks_cut, ids, objects;
	uint64_t raw, z, flat, node_top, node_bytes, nodes, nodes_distinct;
	uint64_t cls[NCLASS];
} tally;

typedef struct setting {
	size_t avg, threshold; /* avg 0: whole files */
	idset ids, objects, nodes;
	tally t;
} setting;

/* The cuts of the current file at one average, shared by its settings. */
typedef struct cutlist {
	const void **ptr;
	size_t *len, *zlen;
	uint8_t *id;
	size_t n, cap;
} cutlist;

typedef struct model {
	setting set[NSET];
	b3cas_cdc cdc[NAVG];
	cutlist cuts[NAVG];
	idset files;
	bool file_shortcut;
	uint8_t *buf, *zbuf, *nodebuf;
	size_t buf_cap, zbuf_cap;
	uint8_t (*list)[ID_LEN]; /* manifest levels: ids and lengths */
	uint64_t *list_len;
	size_t list_cap;
	uint64_t read_bytes;
	size_t whole_z; /* zstd size of the current file, NOT_YET */
} model;

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		die("out of memory (%zu bytes)", n);
	return p;
}

static size_t idset_home(const idset *s, const uint8_t *id)
{
	uint64_t h;

	memcpy(&h, id, 8); /* BLAKE3 bytes are uniform already */
	return (size_t)h & (s->cap - 1);
}

static bool is_zero(const uint8_t *id)
{
	static const uint8_t zero[ID_LEN];

	return memcmp(id, zero, ID_LEN) == 0;
}

static void idset_place(idset *s, const uint8_t *id)
{
	size_t i = idset_home(s, id);

	while (!is_zero(s->slot[i]))
		i = (i + 1) & (s->cap - 1);
	memcpy(s->slot[i], id, ID_LEN);
}

static void idset_grow(idset *s)
{
	uint8_t (*old)[ID_LEN] = s->slot;
	size_t old_cap = s->cap;

	s->cap = old_cap ? old_cap * 2 : 1024;
	s->slot = calloc(s->cap, ID_LEN);
	if (!s->slot)
		die("out of memory (id set of %zu)", s->cap);
	for (size_t i = 0; i < old_cap; i++)
		if (!is_zero(old[i]))
			idset_place(s, old[i]);
	free(old);
}

/* Adds id; true when it was not there. */
static bool idset_add(idset *s, const uint8_t *id)
{
	size_t i;

	if (is_zero(id)) {
		bool was = s->has_zero;

		s->has_zero = true;
		return !was;
	}
	if (2 * (s->n + 1) > s->cap)
		idset_grow(s);
	for (i = idset_home(s, id); !is_zero(s->slot[i]);
	     i = (i + 1) & (s->cap - 1))
		if (memcmp(s->slot[i], id, ID_LEN) == 0)
			return false;
	memcpy(s->slot[i], id, ID_LEN);
	s->n++;
	return true;
}

static void idset_free(idset *s)
{
	free(s->slot);
	memset(s, 0, sizeof(*s));
}

static size_t varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static size_t varint_put(uint8_t *p, uint64_t v)
{
	return b3cas__varint_put(p, v);
}

static void model_init(model *m, bool file_shortcut)
{
	memset(m, 0, sizeof(*m));
	m->file_shortcut = file_shortcut;
	for (int a = 0; a < NAVG; a++) {
		if (b3cas__cdc_init(&m->cdc[a], avgs[a] / 4, avgs[a],
				    avgs[a] * 4, 0) != 0)
			die("cdc_init avg %zu", avgs[a]);
		m->set[1 + 2 * a].avg = avgs[a];
		m->set[1 + 2 * a].threshold = avgs[a] * 4;
		m->set[2 + 2 * a].avg = avgs[a];
		m->set[2 + 2 * a].threshold = 0;
	}
	/* a list is cut into nodes of at most NODE_MAX entries of at most
	 * 32 + 10 bytes */
	m->nodebuf = xrealloc(NULL, NODE_MAX * (ID_LEN + 10));
}

static void model_free(model *m)
{
	for (int i = 0; i < NSET; i++) {
		idset_free(&m->set[i].ids);
		idset_free(&m->set[i].objects);
		idset_free(&m->set[i].nodes);
	}
	for (int a = 0; a < NAVG; a++) {
		free(m->cuts[a].ptr);
		free(m->cuts[a].len);
		free(m->cuts[a].zlen);
		free(m->cuts[a].id);
	}
	idset_free(&m->files);
	free(m->buf);
	free(m->zbuf);
	free(m->nodebuf);
	free(m->list);
	free(m->list_len);
	b3cas__zstd_thread_release();
}

/* The bytes len bytes at p take stored: zstd level 1 when worth it. */
static size_t stored_size(model *m, const void *p, size_t len)
{
	size_t cap = b3cas__zstd_worth_max(len, B3CAS_ZSTD_MIN_SAVING_DEFAULT,
					   B3CAS_ZSTD_MIN_PERCENT_DEFAULT);
	size_t csize;
	int rc;

	if (cap == 0)
		return len;
	if (cap > m->zbuf_cap) {
		m->zbuf_cap = cap;
		m->zbuf = xrealloc(m->zbuf, cap);
	}
	rc = b3cas__zstd_compress(&csize, m->zbuf, cap, p, len, ZSTD_LEVEL);
	if (rc == B3CAS_ERANGE)
		return len;
	if (rc != 0)
		die("zstd: %s", b3cas_error_last());
	return csize;
}

static size_t whole_stored(model *m, size_t len)
{
	if (m->whole_z == NOT_YET)
		m->whole_z = stored_size(m, m->buf, len);
	return m->whole_z;
}

typedef struct cut_arg {
	cutlist *c;
	const uint8_t *data;
} cut_arg;

static int on_chunk(void *arg, size_t offset, size_t len, uint64_t fp)
{
	cut_arg *a = arg;
	cutlist *c = a->c;

	(void)fp;
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 4096;
		c->ptr = xrealloc(c->ptr, c->cap * sizeof(*c->ptr));
		c->len = xrealloc(c->len, c->cap * sizeof(*c->len));
		c->zlen = xrealloc(c->zlen, c->cap * sizeof(*c->zlen));
		c->id = xrealloc(c->id, c->cap * ID_LEN);
	}
	c->ptr[c->n] = a->data + offset;
	c->len[c->n] = len;
	c->zlen[c->n] = NOT_YET;
	c->n++;
	return 0;
}

static void cut_file(model *m, int a, size_t len)
{
	cut_arg arg = { &m->cuts[a], m->buf };

	m->cuts[a].n = 0;
	b3cas__cdc_walk(&m->cdc[a], m->buf, len, on_chunk, &arg);
	b3cas_hash_batch(m->cuts[a].id, m->cuts[a].ptr, m->cuts[a].len,
			 m->cuts[a].n);
}

static void list_reserve(model *m, size_t n)
{
	if (n <= m->list_cap)
		return;
	m->list_cap = n;
	m->list = xrealloc(m->list, n * ID_LEN);
	m->list_len = xrealloc(m->list_len, n * sizeof(*m->list_len));
}

static bool node_ends(const uint8_t *id, size_t count)
{
	uint32_t v;

	if (count >= NODE_MAX)
		return true;
	memcpy(&v, id, 4); /* x86-64: little-endian */
	return count >= NODE_MIN && v < UINT32_MAX / NODE_FANOUT;
}

/* Stores one node of entries [from, to) of the list; its (id, bytes
 * under) goes to list slot out. Returns the bytes stored for it. */
static uint64_t node_store(model *m, setting *s, size_t from, size_t to,
			   size_t out)
{
	uint64_t under = 0, cost = 0;
	size_t n = 0;

	for (size_t i = from; i < to; i++) {
		memcpy(m->nodebuf + n, m->list[i], ID_LEN);
		n += ID_LEN;
		n += varint_put(m->nodebuf + n, m->list_len[i]);
		under += m->list_len[i];
	}
	s->t.nodes++;
	b3cas_hash(m->list[out], m->nodebuf, n);
	m->list_len[out] = under;
	if (idset_add(&s->nodes, m->list[out])) {
		s->t.nodes_distinct++;
		s->t.node_bytes += n;
		cost = n + INDEX_ENTRY;
	}
	return cost;
}

/* The node form of the list in m->list[0..n): levels of nodes until the
 * top fits the entry. Returns the bytes stored (nodes, their entries and
 * the top list). */
static uint64_t manifest_nodes(model *m, setting *s, size_t n)
{
	uint64_t cost = 0, top = 0;

	while (n > NODE_MAX) {
		size_t out = 0, from = 0;

		for (size_t i = 0; i < n; i++)
			if (node_ends(m->list[i], i + 1 - from) ||
			    i + 1 == n) {
				cost += node_store(m, s, from, i + 1, out++);
				from = i + 1;
			}
		n = out; /* out <= from: parents overwrite consumed slots */
	}
	for (size_t i = 0; i < n; i++)
		top += ID_LEN + varint_len(m->list_len[i]);
	s->t.node_top += top;
	return cost + top;
}

/* Counts a new id of len bytes that takes zsize stored; returns the
 * bytes it adds (its entry included). */
static uint64_t add_id(setting *s, uint64_t len, size_t zsize)
{
	s->t.ids++;
	s->t.raw += len;
	s->t.z += zsize;
	return zsize + INDEX_ENTRY;
}

static uint64_t store_whole(model *m, setting *s, const uint8_t *fid,
			    size_t len)
{
	if (!idset_add(&s->ids, fid))
		return 0;
	return add_id(s, len, whole_stored(m, len));
}

static uint64_t store_chunked(model *m, setting *s, cutlist *c,
			      const uint8_t *fid)
{
	uint64_t cost = INDEX_ENTRY, flat = 0;

	if (!idset_add(&s->objects, fid))
		return 0;
	s->t.objects++;
	s->t.chunks_cut += c->n;
	list_reserve(m, c->n);
	for (size_t i = 0; i < c->n; i++) {
		const uint8_t *id = c->id + i * ID_LEN;

		flat += ID_LEN + varint_len(c->len[i]);
		memcpy(m->list[i], id, ID_LEN);
		m->list_len[i] = c->len[i];
		if (!idset_add(&s->ids, id))
			continue;
		if (c->zlen[i] == NOT_YET)
			c->zlen[i] = stored_size(m, c->ptr[i], c->len[i]);
		cost += add_id(s, c->len[i], c->zlen[i]);
	}
	s->t.flat += flat;
	return cost + manifest_nodes(m, s, c->n);
}

static void new_content(model *m, const uint8_t *fid, size_t len,
			enum file_class cls)
{
	setting *w = &m->set[0];

	m->whole_z = NOT_YET;
	if (idset_add(&w->ids, fid))
		w->t.cls[cls] += add_id(w, len, whole_stored(m, len));
	for (int a = 0; a < NAVG; a++) {
		cutlist *c = &m->cuts[a];

		if (len > m->cdc[a].min)
			cut_file(m, a, len);
		else
			c->n = 1;
		for (int k = 1; k <= 2; k++) {
			setting *s = &m->set[2 * a + k];
			uint64_t cost;

			if (len < s->threshold || c->n == 1)
				cost = store_whole(m, s, fid, len);
			else
				cost = store_chunked(m, s, c, fid);
			s->t.cls[cls] += cost;
		}
	}
}

static enum file_class classify(const char *path)
{
	const char *base = strrchr(path, '/');
	size_t n = strlen(path);

	base = base ? base + 1 : path;
	if (strcmp(base, "mem.img") == 0 || strstr(path, "/mem/") ||
	    strncmp(path, "mem/", 4) == 0)
		return CLASS_MEM;
	if (n >= 4 && strcmp(path + n - 4, ".tar") == 0)
		return CLASS_TAR;
	return CLASS_REST;
}

static size_t read_file(model *m, const char *path, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	if (size + 1 > m->buf_cap) {
		m->buf_cap = size + 1;
		m->buf = xrealloc(m->buf, m->buf_cap);
	}
	while (got < size) {
		ssize_t r = read(fd, m->buf + got, size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("read %s: %s", path, strerror(errno));
		if (r == 0)
			break; /* shrank while read: model what was there */
		got += (size_t)r;
	}
	close(fd);
	return got;
}

static void model_file(model *m, const char *path, size_t size)
{
	uint8_t fid[ID_LEN];
	size_t len = read_file(m, path, size);

	m->read_bytes += len;
	for (int i = 0; i < NSET; i++) {
		m->set[i].t.logical += len;
		m->set[i].t.files++;
	}
	b3cas_hash(fid, m->buf, len);
	if (m->file_shortcut && !idset_add(&m->files, fid))
		return; /* every setting has this content already */
	new_content(m, fid, len, classify(path));
}

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Every regular file under dir, names in byte order, depth first. */
static void model_tree(model *m, const char *dir)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, name_cmp);

	if (n < 0)
		die("scandir %s: %s", dir, strerror(errno));
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		char path[4096];
		struct stat st;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			goto next;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
				     name) >= sizeof(path))
			die("path too long under %s", dir);
		if (lstat(path, &st) != 0)
			die("lstat %s: %s", path, strerror(errno));
		if (S_ISDIR(st.st_mode))
			model_tree(m, path);
		else if (S_ISREG(st.st_mode))
			model_file(m, path, (size_t)st.st_size);
next:
		free(ents[i]);
	}
	free(ents);
}

static uint64_t index_bytes(const tally *t)
{
	return (t->ids + t->objects) * INDEX_ENTRY;
}

static uint64_t total_flat(const tally *t)
{
	return t->z + index_bytes(t) + t->flat;
}

static uint64_t total_nodes(const tally *t)
{
	return t->z + index_bytes(t) + t->node_top + t->node_bytes +
	       t->nodes_distinct * INDEX_ENTRY;
}

static void setting_name(char *out, size_t cap, const setting *s)
{
	if (s->avg == 0)
		snprintf(out, cap, "whole files");
	else
		snprintf(out, cap, "avg %zuK thr %s", s->avg / 1024,
			 s->threshold ? "max" : "0");
}

/* The checks every run makes; returns how many failed. */
static int check_model(const model *m)
{
	int bad = 0;

	for (int i = 0; i < NSET; i++) {
		const tally *t = &m->set[i].t;
		uint64_t sum = 0;
		char name[64];

		setting_name(name, sizeof(name), &m->set[i]);
		for (int c = 0; c < NCLASS; c++)
			sum += t->cls[c];
		if (!(t->z <= t->raw && t->raw <= t->logical)) {
			bench_fail("%s: zstd %llu raw %llu logical %llu",
				   name, (unsigned long long)t->z,
				   (unsigned long long)t->raw,
				   (unsigned long long)t->logical);
			bad++;
		}
		if (sum != total_nodes(t)) {
			bench_fail("%s: classes add to %llu, total %llu",
				   name, (unsigned long long)sum,
				   (unsigned long long)total_nodes(t));
			bad++;
		}
	}
	return bad;
}

static double mb(uint64_t v)
{
	return (double)v / 1e6;
}

static double not_stored(uint64_t stored, uint64_t logical)
{
	return logical ? 100.0 * (1.0 - (double)stored / (double)logical) : 0;
}

static void print_table(const model *m)
{
	printf("| setting | logical MB | distinct ids | objects chunked | "
	       "unique MB | after zstd MB | index MB | manifests flat MB | "
	       "manifests nodes MB (distinct/all nodes) | total flat MB | "
	       "total nodes MB | not stored (nodes) |\n"
	       "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < NSET; i++) {
		const tally *t = &m->set[i].t;
		uint64_t nodes = total_nodes(t) - t->z - index_bytes(t);
		char name[64];

		setting_name(name, sizeof(name), &m->set[i]);
		printf("| %s | %.1f | %llu | %llu | %.1f | %.1f | %.1f | "
		       "%.2f | %.2f (%llu/%llu) | %.1f | %.1f | %.2f%% |\n",
		       name, mb(t->logical), (unsigned long long)t->ids,
		       (unsigned long long)t->objects, mb(t->raw), mb(t->z),
		       mb(index_bytes(t)), mb(t->flat), mb(nodes),
		       (unsigned long long)t->nodes_distinct,
		       (unsigned long long)t->nodes, mb(total_flat(t)),
		       mb(total_nodes(t)),
		       not_stored(total_nodes(t), t->logical));
	}
}

static void print_classes(const model *m)
{
	printf("\n| setting (nodes form) | %s | %s | %s |\n|---|---|---|---|\n",
	       class_names[0], class_names[1], class_names[2]);
	for (int i = 0; i < NSET; i++) {
		const tally *t = &m->set[i].t;
		double all = (double)total_nodes(t);
		char name[64];

		if (m->set[i].avg != 4096 && m->set[i].avg != 0)
			continue;
		setting_name(name, sizeof(name), &m->set[i]);
		printf("| %s", name);
		for (int c = 0; c < NCLASS; c++)
			printf(" | %.1f MB (%.1f%%)", mb(t->cls[c]),
			       all > 0 ? 100.0 * (double)t->cls[c] / all : 0);
		printf(" |\n");
	}
}

static void run_snapshots(model *m, char **dirs, int n)
{
	for (int i = 0; i < n; i++)
		model_tree(m, dirs[i]);
}

/* Subfolders of parent, sorted; the caller frees each and the array. */
static char **subfolders(int *n_out, const char *parent)
{
	struct dirent **ents;
	char **out;
	int n = scandir(parent, &ents, NULL, name_cmp), k = 0;

	if (n < 0)
		die("scandir %s: %s", parent, strerror(errno));
	out = xrealloc(NULL, (size_t)n * sizeof(*out));
	for (int i = 0; i < n; i++) {
		char path[4096];
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", parent,
			 ents[i]->d_name);
		if (ents[i]->d_name[0] != '.' && lstat(path, &st) == 0 &&
		    S_ISDIR(st.st_mode))
			out[k++] = strdup(path);
		free(ents[i]);
	}
	free(ents);
	*n_out = k;
	return out;
}

/* --self-test: snapshots written here, checked against what the test
 * knows of them. */

#define ST_BIG ((size_t)3 << 20)
#define ST_INSERT 20000
#define ST_SMALL 20

static size_t st_written; /* bytes of distinct contents in snapshot a */

static void st_write(const char *dir, const char *name, const uint8_t *p,
		     size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, len, f) != len || fclose(f) != 0)
		die("write %s: %s", path, strerror(errno));
	st_written += len;
}

static void st_mkdir(const char *path)
{
	if (mkdir(path, 0777) != 0 && errno != EEXIST)
		die("mkdir %s: %s", path, strerror(errno));
}

/* Words from a small vocabulary: text that compresses and chunks. */
static void st_text(uint8_t *p, size_t len)
{
	static const char *const words[8] = { "store ", "chunk ", "id ",
		"manifest ", "node\n", "the ", "of ", "reference " };
	size_t i = 0;

	for (uint64_t k = 1; i < len; k++) {
		const char *w = words[tu_mix(k) & 7];

		for (; *w && i < len; w++)
			p[i++] = (uint8_t)*w;
	}
}

/* Snapshot kind 0 and 1 are identical; 2 has ST_INSERT new bytes inserted
 * in the middle of big.bin: about 10 chunks of 2 KiB, enough to shift
 * every node boundary after them if nodes were cut every N entries. */
static void st_snapshot(const char *root, const char *name, int kind)
{
	size_t cap = ST_BIG + ST_INSERT;
	uint8_t *p = xrealloc(NULL, cap);
	char dir[4096], sub[4200];

	snprintf(dir, sizeof(dir), "%s/%s", root, name);
	st_mkdir(dir);
	snprintf(sub, sizeof(sub), "%s/mem", dir);
	st_mkdir(sub);
	make_content(p, ST_BIG, 7, 1);
	if (kind == 2) {
		memmove(p + ST_BIG / 2 + ST_INSERT, p + ST_BIG / 2,
			ST_BIG / 2);
		make_content(p + ST_BIG / 2, ST_INSERT, 7, 99);
	}
	st_write(dir, "big.bin", p, ST_BIG + (kind == 2 ? ST_INSERT : 0));
	st_text(p, 300 << 10);
	st_write(dir, "text.txt", p, 300 << 10);
	memset(p, 0, 512 << 10);
	make_content(p + (512 << 10), 512 << 10, 7, 2);
	st_write(dir, "mem/img", p, 1 << 20);
	make_content(p, 600 << 10, 7, 3);
	st_write(dir, "x.tar", p, 600 << 10);
	for (int i = 0; i < ST_SMALL; i++) {
		char fname[32];

		snprintf(fname, sizeof(fname), "small%02d", i);
		make_content(p, 100 + 250 * (size_t)i, 7, 10 + (uint64_t)i);
		st_write(dir, fname, p, 100 + 250 * (size_t)i);
	}
	st_write(dir, "empty", p, 0);
	free(p);
}

static int st_expect(bool ok, const char *what, const setting *s)
{
	char name[64];

	if (ok)
		return 0;
	setting_name(name, sizeof(name), s);
	bench_fail("self-test: %s (%s)", what, name);
	return 1;
}

/* The tallies after each snapshot, for one model. */
static void st_run(tally out[3][NSET], const char *root, bool shortcut)
{
	static const char *const names[3] = { "a", "b", "c" };
	model m;

	model_init(&m, shortcut);
	for (int k = 0; k < 3; k++) {
		char dir[4096];

		snprintf(dir, sizeof(dir), "%s/%s", root, names[k]);
		model_tree(&m, dir);
		for (int i = 0; i < NSET; i++)
			out[k][i] = m.set[i].t;
	}
	if (check_model(&m))
		die("self-test: invariants failed");
	model_free(&m);
}

static int st_check(tally t[3][NSET], const model *shape, size_t a_bytes)
{
	int bad = 0;

	for (int i = 0; i < NSET; i++) {
		const setting *s = &shape->set[i];
		tally same = t[0][i];
		uint64_t added = t[2][i].raw - t[1][i].raw;

		same.logical = t[1][i].logical;
		same.files = t[1][i].files;
		bad += st_expect(memcmp(&same, &t[1][i], sizeof(same)) == 0,
				 "an identical snapshot added bytes", s);
		bad += st_expect(t[1][i].logical == 2 * (uint64_t)a_bytes &&
				 t[0][i].logical == a_bytes,
				 "logical bytes", s);
		if (s->avg == 0) {
			bad += st_expect(t[0][i].raw == a_bytes &&
					 t[0][i].ids == ST_SMALL + 5,
					 "whole files: one copy of each", s);
			bad += st_expect(added == ST_BIG + ST_INSERT,
					 "whole files: the changed file", s);
			continue;
		}
		bad += st_expect(added > 0 && added < ST_BIG / 2,
				 "an insertion added no or too many bytes",
				 s);
		bad += st_expect(t[0][i].cls[CLASS_MEM] > 0 &&
				 t[0][i].cls[CLASS_TAR] > 0,
				 "file classes", s);
	}
	{
		/* avg 2K thr 0: a small insertion into a 1,500-chunk list
		 * must cost the node form far less than a new flat list
		 * (nodes cut every 256 entries: about half of it) */
		const tally *b = &t[1][2], *c = &t[2][2];
		uint64_t flat = c->flat - b->flat;
		uint64_t nodes = (c->node_top + c->node_bytes) -
				 (b->node_top + b->node_bytes);

		bad += st_expect(nodes < flat / 4 && flat > 0,
				 "node dedup", &shape->set[2]);
	}
	return bad;
}

static int self_test(const char *parent)
{
	static tally with[3][NSET], without[3][NSET];
	char root[4096];
	size_t a_bytes;
	model shape;
	int bad = 0;

	snprintf(root, sizeof(root), "%s/chunk_model.XXXXXX", parent);
	if (!mkdtemp(root))
		die("mkdtemp %s: %s", root, strerror(errno));
	st_snapshot(root, "a", 0);
	a_bytes = st_written;
	st_snapshot(root, "b", 1);
	st_snapshot(root, "c", 2);
	st_run(with, root, true);
	st_run(without, root, false);
	model_init(&shape, true);
	bad += st_check(with, &shape, a_bytes);
	bad += st_check(without, &shape, a_bytes);
	if (memcmp(with, without, sizeof(with)) != 0)
		bad += st_expect(false, "file shortcut changed a figure",
				 &shape.set[0]);
	model_free(&shape);
	remove_tree(root);
	printf("self-test: %s\n", bad ? "FAILED" : "ok");
	return bad ? 1 : 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_chunk_model SNAPSHOT...\n"
		"       bench_chunk_model --parent DIR   (its subfolders, "
		"sorted)\n"
		"       bench_chunk_model --self-test DIR\n");
	exit(2);
}

int main(int argc, char **argv)
{
	char **dirs = argv + 1;
	int n = argc - 1, bad;
	bool owned = false;
	double t0, secs;
	model m;

	if (argc < 2)
		usage();
	if (strcmp(argv[1], "--self-test") == 0) {
		if (argc != 3)
			usage();
		return self_test(argv[2]);
	}
	if (strcmp(argv[1], "--parent") == 0) {
		if (argc != 3)
			usage();
		dirs = subfolders(&n, argv[2]);
		owned = true;
	}
	model_init(&m, true);
	t0 = now();
	run_snapshots(&m, dirs, n);
	secs = now() - t0;
	print_table(&m);
	print_classes(&m);
	printf("\n%d snapshots, %llu files, %.1f MB read in %.1f s: "
	       "%.1f MB/s (read, hash, cut at 5 averages, hash chunks, "
	       "zstd of new ones; one thread, %s)\n",
	       n, (unsigned long long)m.set[0].t.files, mb(m.read_bytes),
	       secs, mb(m.read_bytes) / secs, b3cas_simd_name());
	bad = check_model(&m);
	model_free(&m);
	if (owned) {
		for (int i = 0; i < n; i++)
			free(dirs[i]);
		free(dirs);
	}
	return bad ? 1 : 0;
}
