/*
 * fuzz_cdc.c - libFuzzer target for the FastCDC 2020 chunker.
 *
 * The input's first bytes choose the parameters (avg, min, max, seed)
 * and a piece size; the rest is the message. The message is cut chunk
 * after chunk by b3cas__cdc_cut and by the plain chunker of
 * tests/chunk/fastcdc_ref.h, which must agree on every length and
 * fingerprint; every chunk must be 1..max bytes and at least min unless
 * it is the last; b3cas__cdc_walk must give the same chunks; and the
 * message fed in pieces under the streaming contract (cut whenever max
 * bytes are waiting, the rest at the end) must give them too. Any
 * difference aborts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chunk/fastcdc.h"
#include "chunk/fastcdc_ref.h"

#define MAX_CHUNKS 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct plan {
	size_t min, avg, max, piece;
	uint64_t seed;
	const uint8_t *msg;
	size_t msg_len;
} plan;

typedef struct cuts {
	size_t n, len[MAX_CHUNKS];
	uint64_t fp[MAX_CHUNKS];
} cuts;

static void check(bool ok)
{
	if (!ok)
		abort();
}

/* byte 0: avg 256 << (0..4); bytes 1-2: min; bytes 3-4: max; bytes 5-12:
 * seed (big-endian); bytes 13-14: piece size; the rest: the message. */
static int read_plan(plan *p, const uint8_t *d, size_t n)
{
	if (n < 15)
		return -1;
	p->avg = (size_t)256 << (d[0] % 5);
	p->min = 64 + 2 * (((size_t)d[1] << 8 | d[2]) % ((p->avg - 64) / 2));
	p->max = p->avg + 1 + ((size_t)d[3] << 8 | d[4]) % (7 * p->avg);
	p->seed = 0;
	for (int i = 5; i < 13; i++)
		p->seed = p->seed << 8 | d[i];
	p->piece = 1 + ((size_t)d[13] << 8 | d[14]) % p->max;
	p->msg = d + 15;
	p->msg_len = n - 15;
	return 0;
}

static int note_chunk(void *arg, size_t offset, size_t len, uint64_t fp)
{
	cuts *c = arg;

	(void)offset;
	check(c->n < MAX_CHUNKS);
	c->len[c->n] = len;
	c->fp[c->n++] = fp;
	return 0;
}

/* The message in pieces of p->piece bytes, cut whenever max bytes wait. */
static void check_streamed(const b3cas_cdc *cdc, const plan *p,
			   const cuts *whole)
{
	uint8_t *pending = malloc(p->max + p->piece);
	size_t fed = 0, have = 0, i = 0;

	check(pending != NULL);
	while (fed < p->msg_len || have > 0) {
		size_t piece = p->piece < p->msg_len - fed ? p->piece
							   : p->msg_len - fed;

		memcpy(pending + have, p->msg + fed, piece);
		have += piece;
		fed += piece;
		while (have > 0 && (have >= p->max || fed == p->msg_len)) {
			uint64_t fp;
			size_t n = b3cas__cdc_cut(&fp, cdc, pending, have);

			check(i < whole->n && n == whole->len[i] &&
			      fp == whole->fp[i]);
			memmove(pending, pending + n, have - n);
			have -= n;
			i++;
		}
	}
	check(i == whole->n);
	free(pending);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static cuts whole, walked;
	static uint64_t md5_gear[256];
	static bool have_gear;
	size_t off = 0;
	b3cas_cdc cdc;
	cdc_ref ref;
	plan p;

	if (read_plan(&p, data, size) != 0)
		return 0;
	check(b3cas__cdc_init(&cdc, p.min, p.avg, p.max, p.seed) == 0);
	if (!have_gear) {
		check(cdc_ref_gear(md5_gear) == 0);
		have_gear = true;
	}
	cdc_ref_init(&ref, md5_gear, p.min, p.avg, p.max, p.seed);
	whole.n = 0;
	while (off < p.msg_len) {
		uint64_t fp, want_fp;
		size_t n = b3cas__cdc_cut(&fp, &cdc, p.msg + off,
					  p.msg_len - off);
		size_t want = cdc_ref_cut(&want_fp, &ref, p.msg + off,
					  p.msg_len - off);

		check(n == want && fp == want_fp);
		check(n > 0 && n <= p.max);
		check(n >= p.min || off + n == p.msg_len);
		note_chunk(&whole, off, n, fp);
		off += n;
	}
	walked.n = 0;
	check(b3cas__cdc_walk(&cdc, p.msg, p.msg_len, note_chunk, &walked) ==
	      0);
	check(walked.n == whole.n);
	check(memcmp(walked.len, whole.len, whole.n * sizeof(size_t)) == 0);
	check(memcmp(walked.fp, whole.fp, whole.n * sizeof(uint64_t)) == 0);
	check_streamed(&cdc, &p, &whole);
	return 0;
}
