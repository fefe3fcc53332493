/*
 * fuzz_hasher_update.c - libFuzzer target for the incremental hasher.
 *
 * The input's first bytes choose the mode, an output length and seek, and
 * a sequence of update sizes; the rest is the message. The message is
 * hashed in those pieces (with a finalize half-way, which must change
 * nothing) and must give exactly what one update gives, what the one-shot
 * functions give, and what the portable kernels give; the extended output
 * at the seek offset must be the slice of a longer output. Any difference
 * aborts. The SIMD level in use on entry is the one tested against
 * portable, and it is restored before returning.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b3cas/hash.h"

#define MAX_OUT 1024
#define MAX_SEEK 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t fuzz_key[32] = "b3cas fuzz key 0123456789abcdef";

typedef struct plan {
	unsigned mode; /* 0 plain, 1 keyed, 2 derive-key */
	size_t out_len;
	size_t seek;
	size_t nsplits;
	size_t splits[16];
	const uint8_t *msg;
	size_t msg_len;
} plan;

static void start(b3cas_hasher *h, unsigned mode)
{
	if (mode == 1)
		b3cas_hasher_init_keyed(h, fuzz_key);
	else if (mode == 2)
		b3cas_hasher_init_derive_key(h, "b3cas fuzz context");
	else
		b3cas_hasher_init(h);
}

static int read_plan(plan *p, const uint8_t *d, size_t n)
{
	if (n < 6)
		return -1;
	p->mode = d[0] % 3;
	p->out_len = ((size_t)d[1] << 8 | d[2]) % (MAX_OUT + 1);
	p->seek = ((size_t)d[3] << 8 | d[4]) % MAX_SEEK;
	p->nsplits = d[5] % 16;
	d += 6;
	n -= 6;
	for (size_t i = 0; i < p->nsplits; i++) {
		if (n < 2)
			return -1;
		p->splits[i] = (size_t)d[0] << 8 | d[1];
		d += 2;
		n -= 2;
	}
	p->msg = d;
	p->msg_len = n;
	return 0;
}

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t a[MAX_OUT + MAX_SEEK], b[MAX_OUT + MAX_SEEK];
	b3cas_simd level = b3cas_simd_active();
	b3cas_hasher whole, pieces;
	size_t done = 0;
	plan p;

	if (read_plan(&p, data, size) != 0)
		return 0;
	start(&whole, p.mode);
	b3cas_hasher_update(&whole, p.msg, p.msg_len);
	start(&pieces, p.mode);
	for (size_t i = 0; done < p.msg_len; i++) {
		size_t piece = i < p.nsplits ? p.splits[i] : p.msg_len;

		if (piece > p.msg_len - done)
			piece = p.msg_len - done;
		b3cas_hasher_update(&pieces, p.msg + done, piece);
		done += piece;
		/* finalizing on the way must not disturb what follows */
		if (i == p.nsplits / 2)
			b3cas_hasher_finalize(a, 64, &pieces);
	}

	b3cas_hasher_finalize_seek(a, p.out_len, &whole, p.seek);
	b3cas_hasher_finalize_seek(b, p.out_len, &pieces, p.seek);
	check(memcmp(a, b, p.out_len) == 0);
	/* the seek is a slice of the output from 0 */
	b3cas_hasher_finalize(b, p.seek + p.out_len, &pieces);
	check(memcmp(a, b + p.seek, p.out_len) == 0);

	/* the one-shot functions */
	b3cas_hasher_finalize(a, 32, &pieces);
	if (p.mode == 0)
		b3cas_hash(b, p.msg, p.msg_len);
	else if (p.mode == 1)
		b3cas_hash_keyed(b, fuzz_key, p.msg, p.msg_len);
	else
		b3cas_derive_key(b, 32, "b3cas fuzz context", p.msg,
				 p.msg_len);
	check(memcmp(a, b, 32) == 0);

	/* the portable kernels, pieces and extended output included */
	check(b3cas_simd_force(B3CAS_SIMD_PORTABLE) == 0);
	start(&whole, p.mode);
	b3cas_hasher_update(&whole, p.msg, p.msg_len);
	b3cas_hasher_finalize(b, 32, &whole);
	check(memcmp(a, b, 32) == 0);
	b3cas_hasher_finalize_seek(a, p.out_len, &whole, p.seek);
	check(b3cas_simd_force(level) == 0);
	b3cas_hasher_finalize_seek(b, p.out_len, &pieces, p.seek);
	check(memcmp(a, b, p.out_len) == 0);
	return 0;
}
