/*
 * chunk/fastcdc.h - content-defined chunking with FastCDC 2020 (Xia et
 * al., "The Design of Fast Content-Defined Chunking for Data
 * Deduplication Based Storage Systems", TPDS 2020): the gear hash rolled
 * two bytes per step, cut-point skipping below min and normalized
 * chunking at level 2. The cuts are those of the Remote Execution API's
 * FastCdc2020Params and of the Rust crate fastcdc (module v2020, with its
 * seed), checked against their published vectors (tests/chunk/).
 *
 * A b3cas_cdc holds the parameters and the seeded gear tables; it is made
 * by b3cas__cdc_init, holds no pointer and no resource (nothing to free,
 * may be copied), and is read only by the cut functions, so one can be
 * shared by any number of threads. Pure functions over bytes: no store
 * state, no allocation.
 *
 * Invariants of a cut over len bytes: 0 < cut <= max when len > 0; a
 * cut is len when len <= min; a cut below min is never made from a longer
 * input; the cut depends on the bytes data[0 .. min(len, max)) only and,
 * once len >= max, not on len (the streaming contract below).
 */
#ifndef B3CAS_CHUNK_FASTCDC_H
#define B3CAS_CHUNK_FASTCDC_H

#include <stddef.h>
#include <stdint.h>

/* The limits b3cas__cdc_init accepts (see there). */
#define B3CAS_CDC_MIN_MIN 64
#define B3CAS_CDC_AVG_MIN 256
#define B3CAS_CDC_AVG_MAX ((size_t)4 << 20)
#define B3CAS_CDC_MAX_MAX ((size_t)64 << 20)

typedef struct b3cas_cdc {
	uint64_t gear[256];    /* GEAR ^ seed: added for an odd byte */
	uint64_t gear_ls[256]; /* (GEAR << 1) ^ (seed << 1): an even byte */
	uint64_t mask_s, mask_s_ls; /* stricter, below avg */
	uint64_t mask_l, mask_l_ls; /* looser, from avg to max */
	size_t min, avg, max;
	uint64_t seed;
} b3cas_cdc;

/*
 * Make out a chunker for chunks of min..max bytes, about avg on average,
 * with the gear tables XORed with seed (0: the published tables).
 * Accepted: min even and at least B3CAS_CDC_MIN_MIN; avg a power of two
 * from B3CAS_CDC_AVG_MIN to B3CAS_CDC_AVG_MAX (the range of the mask
 * table at normalization level 2); min < avg < max <= B3CAS_CDC_MAX_MAX;
 * max need not be a power of two. (min must be even because the hash
 * rolls two bytes per step from an even offset: with an odd min the other
 * implementations start one byte early and can cut min - 1 bytes.)
 * Returns 0, or B3CAS_EINVAL with a message naming the parameter (out is
 * then left unusable). Thread safe.
 */
int b3cas__cdc_init(b3cas_cdc *out, size_t min, size_t avg, size_t max,
		    uint64_t seed);

/*
 * The length of the chunk that starts at data, of the len bytes there:
 * len when len <= min (0 when len is 0), else at most the smaller of len
 * and max. fp_out (may be NULL) receives the gear fingerprint at the cut,
 * the "hash" of the other implementations: 0 for an input of at most min
 * bytes. Never fails; data may be NULL when len is 0.
 *
 * The streaming contract: a caller who has more input to come must offer
 * at least max bytes (or, at the end, all that remain). Then cutting
 * chunk after chunk, each time from where the last one ended, gives the
 * same cuts as cutting the whole input at once, however the input
 * arrived. (An offer shorter than max ends a chunk at its end or earlier
 * with a looser mask: that is the cut of an input that ends there.)
 */
size_t b3cas__cdc_cut(uint64_t *fp_out, const b3cas_cdc *cdc,
		      const uint8_t *data, size_t len);

/*
 * Called by b3cas__cdc_walk for each chunk in order: offset and len of
 * the chunk in the buffer, its fingerprint. A non-zero return stops the
 * walk, which returns it.
 */
typedef int (*b3cas_cdc_chunk_fn)(void *arg, size_t offset, size_t len,
				  uint64_t fp);

/*
 * Cut the whole of data (len bytes, all the input there is) into chunks,
 * calling fn for each. Returns 0, or what fn returned to stop the walk.
 */
int b3cas__cdc_walk(const b3cas_cdc *cdc, const uint8_t *data, size_t len,
		    b3cas_cdc_chunk_fn fn, void *arg);

#endif
