/*
 * mem_image.c - the binary files of the sandbox corpus
 * (bench/sandbox_corpus.sh): memory images and "upgraded" libraries.
 *
 *   mem_image template --size BYTES --seed N [--elf FILE]... OUT
 *   mem_image fork --seed N --pages PCT --inserts K [--changes FILE] IN OUT
 *   mem_image patch --seed N --spots S --inserts K IN OUT
 *
 * template writes a memory image of BYTES (a whole number of 4 KiB
 * pages) made of runs of pages of four kinds, as a process's memory is:
 * zero pages (untouched heap, bss), code pages (4 KiB taken from the
 * given ELF files at page-aligned offsets, as mapped text is), heap pages
 * (32-byte records: a pointer sharing its high bits with its neighbours,
 * small integers, short strings from a small vocabulary) and random pages
 * (compressed or encrypted data). fork derives the next checkpoint of an
 * image: PCT percent of its pages rewritten at random page offsets (heap
 * or random content), then K insertions of 1 to 16 bytes at random
 * offsets, which shift everything after them; the image keeps its size
 * (the tail that the insertions push out is dropped), so a fixed-block
 * store sees every page after the first insertion change. --changes
 * writes the changed bytes alone to FILE: each rewritten page's new
 * content, then the inserted bytes (what a perfect delta would keep;
 * `zstd -3` of it is the measure of issue 17's checkpoints). patch is the
 * library "upgrade": S spots of 1 to 16 bytes changed in place and K
 * insertions of 1 to 16 bytes; the file grows by what was inserted.
 *
 * Invariant: the output is a pure function of the inputs and the seed
 * (splitmix64 from tests/prng.h), so a corpus rebuilt from the same seed
 * and the same packages is the same bytes. Files are read whole: they are
 * tens of MiB at most.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_NAME "mem_image"
#include "bench_util.h"

#define PAGE 4096u
#define MAX_ELF 64
#define MAX_INSERT 16u

typedef struct blob {
	uint8_t *data;
	size_t len;
} blob;

typedef struct options {
	uint64_t size, seed, pct, spots, inserts;
	const char *elf[MAX_ELF];
	int n_elf;
	const char *in, *out, *changes;
} options;

static void usage(void)
{
	fputs("usage: mem_image template --size BYTES --seed N "
	      "[--elf FILE]... OUT\n"
	      "       mem_image fork --seed N --pages PCT --inserts K "
	      "[--changes FILE] IN OUT\n"
	      "       mem_image patch --seed N --spots S --inserts K IN OUT\n",
	      stderr);
	exit(2);
}

static uint64_t rnd(uint64_t *s, uint64_t n)
{
	return n ? tu_rand(s) % n : 0;
}

static void *xmalloc(size_t len)
{
	void *p = malloc(len ? len : 1);

	if (!p)
		die("out of memory (%zu bytes)", len);
	return p;
}

static blob read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	blob b = { 0 };
	long end;

	if (!f || fseek(f, 0, SEEK_END) != 0 || (end = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0)
		die("%s: %s", path, strerror(errno));
	b.len = (size_t)end;
	/* room for the insertions of patch, which grow the file */
	b.data = xmalloc(b.len + PAGE);
	if (fread(b.data, 1, b.len, f) != b.len)
		die("%s: short read", path);
	fclose(f);
	return b;
}

static void write_file(const char *path, const uint8_t *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		die("%s: cannot write: %s", path, strerror(errno));
}

/* ---- page kinds ---------------------------------------------------------- */

static void page_random(uint8_t *page, uint64_t *s)
{
	for (unsigned i = 0; i < PAGE; i += 8) {
		uint64_t v = tu_rand(s);

		memcpy(page + i, &v, 8);
	}
}

/* Records as an allocator lays them out: neighbours' pointers share their
 * high bits, counters are small, names repeat. That is what makes heap
 * pages compress and partly repeat across pages. */
static void page_heap(uint8_t *page, uint64_t *s)
{
	static const char *const words[] = {
		"request", "session", "buffer", "node", "entry", "cache",
		"worker", "token", "path", "/usr/lib", "config", "state",
	};
	uint64_t base = 0x00007f0000000000ull | (rnd(s, 1u << 20) << 12);

	for (unsigned off = 0; off < PAGE; off += 32) {
		uint64_t ptr = base + 16 * rnd(s, 4096);
		uint32_t count = (uint32_t)rnd(s, 100);
		uint32_t flags = (uint32_t)(1u << rnd(s, 8));
		char name[16] = { 0 };

		if (rnd(s, 4) != 0)
			snprintf(name, sizeof(name), "%s",
				 words[rnd(s, sizeof(words) / sizeof(*words))]);
		memcpy(page + off, &ptr, 8);
		memcpy(page + off + 8, &count, 4);
		memcpy(page + off + 12, &flags, 4);
		memcpy(page + off + 16, name, 16);
	}
}

/* A page of mapped text: 4 KiB of an ELF file at a page-aligned offset;
 * heap when no ELF file was given. */
static void page_code(uint8_t *page, uint64_t *s, const blob *elf, int n_elf)
{
	const blob *b;
	size_t pages, off, n;

	if (n_elf == 0) {
		page_heap(page, s);
		return;
	}
	b = &elf[rnd(s, (uint64_t)n_elf)];
	pages = (b->len + PAGE - 1) / PAGE;
	off = (size_t)rnd(s, pages) * PAGE;
	n = b->len - off < PAGE ? b->len - off : PAGE;
	memcpy(page, b->data + off, n);
	memset(page + n, 0, PAGE - n);
}

/* ---- the three commands -------------------------------------------------- */

/* Runs of 1 to 64 pages of one kind: 30% zero, 30% code, 25% heap, 15%
 * random, by run. */
static void make_template(const options *o)
{
	size_t pages = (size_t)(o->size / PAGE);
	uint8_t *img = xmalloc(pages * PAGE);
	blob elf[MAX_ELF];
	uint64_t s = o->seed;
	size_t p = 0;

	for (int i = 0; i < o->n_elf; i++)
		elf[i] = read_file(o->elf[i]);
	while (p < pages) {
		uint64_t kind = rnd(&s, 100);
		size_t run = 1 + (size_t)rnd(&s, 64);

		for (; run > 0 && p < pages; run--, p++) {
			uint8_t *page = img + p * PAGE;

			if (kind < 30)
				memset(page, 0, PAGE);
			else if (kind < 60)
				page_code(page, &s, elf, o->n_elf);
			else if (kind < 85)
				page_heap(page, &s);
			else
				page_random(page, &s);
		}
	}
	write_file(o->out, img, pages * PAGE);
	for (int i = 0; i < o->n_elf; i++)
		free(elf[i].data);
	free(img);
}

/* Insert 1 to MAX_INSERT random bytes at a random offset of b. The whole
 * tail moves into the room past b->len that read_file leaves (PAGE bytes:
 * patch checks that its insertions fit). With keep_size the length stays,
 * so what was pushed past the old end is dropped; otherwise b grows.
 * Returns the offset; *n_out is the number of bytes inserted. */
static size_t insert_bytes(blob *b, uint64_t *s, int keep_size,
			   size_t *n_out)
{
	size_t n = 1 + (size_t)rnd(s, MAX_INSERT);
	size_t at = (size_t)rnd(s, b->len + 1);

	memmove(b->data + at + n, b->data + at, b->len - at);
	for (size_t i = 0; i < n; i++)
		b->data[at + i] = (uint8_t)tu_rand(s);
	if (!keep_size)
		b->len += n;
	*n_out = n;
	return at;
}

static void fork_image(const options *o)
{
	blob b = read_file(o->in);
	size_t pages = b.len / PAGE;
	uint64_t rewrite = pages * o->pct / 100;
	uint64_t s = o->seed;
	/* the changed bytes: each rewritten page, then each insertion */
	blob ch = { xmalloc((size_t)rewrite * PAGE +
			    (size_t)o->inserts * MAX_INSERT), 0 };

	for (uint64_t i = 0; i < rewrite && pages > 0; i++) {
		uint8_t *page = b.data + rnd(&s, pages) * PAGE;

		if (rnd(&s, 10) < 7)
			page_heap(page, &s);
		else
			page_random(page, &s);
		memcpy(ch.data + ch.len, page, PAGE);
		ch.len += PAGE;
	}
	for (uint64_t i = 0; i < o->inserts; i++) {
		size_t n, at = insert_bytes(&b, &s, 1, &n);

		n = at + n <= b.len ? n : b.len - at; /* pushed out: gone */
		memcpy(ch.data + ch.len, b.data + at, n);
		ch.len += n;
	}
	write_file(o->out, b.data, b.len);
	if (o->changes)
		write_file(o->changes, ch.data, ch.len);
	free(ch.data);
	free(b.data);
}

static void patch_file(const options *o)
{
	blob b = read_file(o->in);
	uint64_t s = o->seed;

	if (o->inserts * MAX_INSERT > PAGE)
		die("--inserts %llu: at most %u", (unsigned long long)o->inserts,
		    PAGE / MAX_INSERT);
	for (uint64_t i = 0; i < o->spots && b.len > 0; i++) {
		size_t n = 1 + (size_t)rnd(&s, MAX_INSERT);
		size_t at = (size_t)rnd(&s, b.len);

		for (size_t j = at; j < at + n && j < b.len; j++)
			b.data[j] = (uint8_t)tu_rand(&s);
	}
	for (uint64_t i = 0; i < o->inserts; i++) {
		size_t n;

		insert_bytes(&b, &s, 0, &n);
	}
	write_file(o->out, b.data, b.len);
	free(b.data);
}

/* ---- arguments ----------------------------------------------------------- */

static uint64_t number(const char *opt, const char *text)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-')
		die("%s: not a number: '%s'", opt, text);
	return (uint64_t)v;
}

static void parse(options *o, int argc, char **argv)
{
	const char *pos[2];
	int n_pos = 0;

	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];

		if (a[0] != '-') {
			if (n_pos == 2)
				usage();
			pos[n_pos++] = a;
			continue;
		}
		if (i + 1 >= argc)
			usage();
		if (!strcmp(a, "--size"))
			o->size = number(a, argv[++i]);
		else if (!strcmp(a, "--seed"))
			o->seed = number(a, argv[++i]);
		else if (!strcmp(a, "--pages"))
			o->pct = number(a, argv[++i]);
		else if (!strcmp(a, "--spots"))
			o->spots = number(a, argv[++i]);
		else if (!strcmp(a, "--inserts"))
			o->inserts = number(a, argv[++i]);
		else if (!strcmp(a, "--changes"))
			o->changes = argv[++i];
		else if (!strcmp(a, "--elf") && o->n_elf == MAX_ELF)
			die("at most %d --elf files", MAX_ELF);
		else if (!strcmp(a, "--elf"))
			o->elf[o->n_elf++] = argv[++i];
		else
			usage();
	}
	if (n_pos == 1) {
		o->out = pos[0];
	} else if (n_pos == 2) {
		o->in = pos[0];
		o->out = pos[1];
	}
}

int main(int argc, char **argv)
{
	options o = { 0 };

	if (argc < 2)
		usage();
	parse(&o, argc, argv);
	if (!strcmp(argv[1], "template") && o.out && !o.in) {
		if (o.size < PAGE || o.size % PAGE)
			die("--size %llu: a whole number of 4 KiB pages",
			    (unsigned long long)o.size);
		make_template(&o);
	} else if (!strcmp(argv[1], "fork") && o.in) {
		if (o.pct > 100)
			die("--pages %llu: a percentage", (unsigned long long)o.pct);
		fork_image(&o);
	} else if (!strcmp(argv[1], "patch") && o.in) {
		patch_file(&o);
	} else {
		usage();
	}
	return 0;
}
