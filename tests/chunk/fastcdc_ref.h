/*
 * chunk/fastcdc_ref.h - a plain FastCDC 2020 chunker, the expectation of
 * the unit tests and of fuzz/fuzz_cdc.c: one byte per iteration, one loop,
 * no unrolling, written from the algorithm's description and sharing
 * nothing with src/chunk/ (its gear table is computed here with OpenSSL's
 * MD5, its masks are its own copy of the paper's table).
 *
 * The rules it states: nothing is hashed below min; from offset min
 * (even), an even offset i makes h = (h << 2) + GEAR_LS[byte] tested with
 * mask << 1, an odd one h = h + GEAR[byte] tested with mask; the stricter
 * mask (log2(avg) + 2 bits) below min(avg, end) rounded down to even, the
 * looser one (log2(avg) - 2 bits) from there up to end rounded down to
 * even, end = min(len, max); the first offset whose test passes is the
 * chunk's length, else end is.
 */
#ifndef B3CAS_TESTS_CHUNK_FASTCDC_REF_H
#define B3CAS_TESTS_CHUNK_FASTCDC_REF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

typedef struct cdc_ref {
	uint64_t gear[256], gear_ls[256];
	uint64_t mask_s, mask_l;
	size_t min, avg, max;
} cdc_ref;

/* The paper's masks, by number of bits (2^6 .. 2^24). */
static const uint64_t cdc_ref_masks[25] = {
	[6] = 0x0000000001803110,  [7] = 0x0000000018035100,
	[8] = 0x0000001800035300,  [9] = 0x0000019000353000,
	[10] = 0x0000590003530000, [11] = 0x0000d90003530000,
	[12] = 0x0000d90103530000, [13] = 0x0000d90303530000,
	[14] = 0x0000d90313530000, [15] = 0x0000d90f03530000,
	[16] = 0x0000d90303537000, [17] = 0x0000d90703537000,
	[18] = 0x0000d90707537000, [19] = 0x0000d91707537000,
	[20] = 0x0000d91747537000, [21] = 0x0000d91767537000,
	[22] = 0x0000d93767537000, [23] = 0x0000d93777537000,
	[24] = 0x0000d93777577000,
};

/* GEAR[i]: the first 8 bytes, big-endian, of MD5 of 64 bytes equal to i.
 * 0, or -1 when OpenSSL fails. */
static inline int cdc_ref_gear(uint64_t gear[256])
{
	for (unsigned i = 0; i < 256; i++) {
		uint8_t msg[64], md[EVP_MAX_MD_SIZE];
		unsigned md_len = 0;
		uint64_t v = 0;

		memset(msg, (int)i, sizeof(msg));
		if (!EVP_Digest(msg, sizeof(msg), md, &md_len, EVP_md5(),
				NULL) || md_len != 16)
			return -1;
		for (int k = 0; k < 8; k++)
			v = v << 8 | md[k];
		gear[i] = v;
	}
	return 0;
}

/* Parameters as b3cas__cdc_init accepts them (avg a power of two);
 * md5_gear is what cdc_ref_gear made (computed once by the caller). */
static inline void cdc_ref_init(cdc_ref *r, const uint64_t md5_gear[256],
				size_t min, size_t avg, size_t max,
				uint64_t seed)
{
	unsigned bits = 0;

	for (unsigned i = 0; i < 256; i++) {
		r->gear_ls[i] = (md5_gear[i] << 1) ^ (seed << 1);
		r->gear[i] = md5_gear[i] ^ seed;
	}
	while (((size_t)1 << bits) < avg)
		bits++;
	r->mask_s = cdc_ref_masks[bits + 2];
	r->mask_l = cdc_ref_masks[bits - 2];
	r->min = min;
	r->avg = avg;
	r->max = max;
}

static inline size_t cdc_ref_cut(uint64_t *fp, const cdc_ref *r,
				 const uint8_t *p, size_t len)
{
	size_t end = len < r->max ? len : r->max;
	size_t center = end < r->avg ? end : r->avg;
	uint64_t h = 0;

	*fp = 0;
	if (len <= r->min)
		return len;
	for (size_t i = r->min; i < (end & ~(size_t)1); i++) {
		uint64_t mask = i < (center & ~(size_t)1) ? r->mask_s
							   : r->mask_l;

		if (i % 2 == 0) {
			h = (h << 2) + r->gear_ls[p[i]];
			mask <<= 1;
		} else {
			h += r->gear[p[i]];
		}
		*fp = h;
		if ((h & mask) == 0)
			return i;
	}
	return end;
}

#endif
