/*
 * fuzz_zstd.c - compress/zstd: arbitrary bytes decompressed with a
 * fuzzer-chosen expected length, and arbitrary bytes round-tripped.
 *
 * Input layout: byte 0 picks the mode (even: decompress, odd: round
 * trip); bytes 1-3 the expected length (little-endian, below 1 MiB);
 * byte 4 the level (-10..19); the rest is the payload.
 *
 * Checked beyond "no crash" (AddressSanitizer sees any write past the
 * exact-size output block): a decompression that succeeds agrees with
 * libzstd's own one-shot decoder and with the content size the frame
 * declares; one that fails says B3CAS_ECORRUPT (or B3CAS_ENOMEM) with a
 * "zstd: " message; a round trip gives the input back, and a compression
 * capped by the worth-it rule either fits under the cap or says
 * B3CAS_ERANGE.
 */
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "b3cas/common.h"
#include "compress/zstd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_failure(int rc)
{
	if (rc != B3CAS_ECORRUPT && rc != B3CAS_ENOMEM)
		abort();
	if (strncmp(b3cas_error_last(), "zstd: ", 6) != 0)
		abort();
}

static void fuzz_decompress(const uint8_t *src, size_t n, size_t expected)
{
	uint8_t *out = malloc(expected ? expected : 1);
	uint8_t *ref = malloc(expected ? expected : 1);
	unsigned long long declared;
	size_t r;
	int rc;

	if (!out || !ref)
		abort();
	rc = b3cas__zstd_decompress(out, expected, src, n);
	if (rc < 0) {
		check_failure(rc);
		goto out;
	}
	declared = ZSTD_getFrameContentSize(src, n);
	if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != expected)
		abort();
	r = ZSTD_decompress(ref, expected, src, n);
	if (r != expected || memcmp(out, ref, expected) != 0)
		abort();
out:
	free(out);
	free(ref);
}

static void fuzz_round_trip(const uint8_t *src, size_t n, int level)
{
	size_t cap = b3cas__zstd_bound(n), csize, max;
	uint8_t *c = malloc(cap), *back = malloc(n ? n : 1);
	int rc;

	if (!c || !back)
		abort();
	if (b3cas__zstd_compress(&csize, c, cap, src, n, level) != 0 ||
	    csize > cap)
		abort();
	if (b3cas__zstd_decompress(back, n, c, csize) != 0 ||
	    (n && memcmp(back, src, n) != 0))
		abort();
	max = b3cas__zstd_worth_max(n, 16, 5);
	rc = b3cas__zstd_compress(&csize, c, max, src, n, level);
	if (rc == 0) {
		if (csize > max || !b3cas__zstd_worth(n, csize, 16, 5))
			abort();
		if (b3cas__zstd_decompress(back, n, c, csize) != 0 ||
		    memcmp(back, src, n) != 0)
			abort();
	} else if (rc != B3CAS_ERANGE) {
		abort();
	}
	free(c);
	free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t expected;
	int level;

	if (size < 5)
		return 0;
	expected = ((size_t)data[1] | (size_t)data[2] << 8 |
		    (size_t)data[3] << 16) & 0xfffff;
	level = (int)(data[4] % 30) - 10;
	if (data[0] & 1)
		fuzz_round_trip(data + 5, size - 5, level);
	else
		fuzz_decompress(data + 5, size - 5, expected);
	return 0;
}
