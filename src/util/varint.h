/*
 * util/varint.h - LEB128 unsigned varints: 7 bits a byte, low bits first,
 * the top bit set on every byte but the last (manifest segments,
 * store/chunked.c; the chunk-store model, bench/bench_chunk_model.c).
 */
#ifndef B3CAS_UTIL_VARINT_H
#define B3CAS_UTIL_VARINT_H

#include <stddef.h>
#include <stdint.h>

/* Write v at p (at most 10 bytes); returns the bytes written. */
static inline size_t b3cas__varint_put(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* Read a varint of at most max_bytes bytes from p (not past end) into
 * *v: its length, or 0 when none ends there in time. */
static inline size_t b3cas__varint_get(const uint8_t *p, const uint8_t *end,
				       size_t max_bytes, uint64_t *v)
{
	uint64_t x = 0;

	for (size_t n = 0; n < max_bytes && p + n < end; n++) {
		x |= (uint64_t)(p[n] & 0x7f) << (7 * n);
		if (!(p[n] & 0x80)) {
			*v = x;
			return n + 1;
		}
	}
	return 0;
}

#endif
