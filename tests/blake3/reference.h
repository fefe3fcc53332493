/*
 * reference.h - an independent BLAKE3 written straight from the
 * specification, for the tests to compare the library against. It shares
 * no code with src/ and is deliberately simple and slow: a recursive tree,
 * one compression at a time, every output byte computed from the root.
 */
#ifndef B3CAS_TEST_REFERENCE_H
#define B3CAS_TEST_REFERENCE_H

#include <stddef.h>
#include <stdint.h>

/* out_len bytes of output starting at byte `seek`, for each mode. */
void ref_hash(uint8_t *out, size_t out_len, uint64_t seek,
	      const uint8_t *in, size_t len);
void ref_keyed(uint8_t *out, size_t out_len, uint64_t seek,
	       const uint8_t key[32], const uint8_t *in, size_t len);
void ref_derive(uint8_t *out, size_t out_len, uint64_t seek,
		const void *context, size_t context_len, const uint8_t *in,
		size_t len);

/*
 * The compression function alone, for the kernel tests: the full 64-byte
 * output (the first 32 bytes are the new chaining value, little-endian
 * words) of compressing the 64 bytes at block, of which block_len count.
 */
void ref_compress(uint8_t out[64], const uint32_t cv[8],
		  const uint8_t block[64], uint32_t block_len,
		  uint64_t counter, uint32_t flags);

#endif
