/*
 * compress/zstd.c - one-frame compression and the checked decompression
 * of compress/zstd.h, over libzstd's stable API.
 *
 * Invariants: a frame is judged before libzstd decodes it, from its header
 * read here by the format's specification (RFC 8878, section 3.1.1): our
 * magic, no dictionary, a window of at most 2^B3CAS_ZSTD_WINDOW_LOG_MAX,
 * the declared size (if any) equal to the one expected, and exactly one
 * frame in the bytes given. Then it is decoded in one shot into the
 * caller's buffer of exactly expected_len bytes, so a frame that would
 * produce more fails inside libzstd (dstSize_tooSmall) without writing
 * past it, and one that produces less is caught by the count returned.
 * (libzstd's ZSTD_getFrameHeader would do the parsing, but it is in the
 * unstable part of its API, whose struct may change between versions of
 * the shared library.)
 *
 * State: one pthread key, made once, whose values are each thread's
 * contexts; the key's destructor frees them when the thread exits. The
 * library must therefore not be unloaded (dlclose) while a thread that
 * used it is still running. A counter of the threads holding contexts
 * lets tests see that the destructor ran.
 */
#include "compress/zstd.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "util/error.h"

/* ---- per-thread contexts ------------------------------------------- */

struct zstd_contexts {
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
};

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t key;
static int key_error; /* pthread_key_create's result, set once */
static atomic_size_t threads_with_contexts;

static void free_contexts(void *p)
{
	struct zstd_contexts *c = p;

	if (!c)
		return;
	ZSTD_freeCCtx(c->cctx);
	ZSTD_freeDCtx(c->dctx);
	free(c);
	atomic_fetch_sub(&threads_with_contexts, 1);
}

static void make_key(void)
{
	key_error = pthread_key_create(&key, free_contexts);
}

static int thread_contexts(struct zstd_contexts **out)
{
	struct zstd_contexts *c;
	int err;

	pthread_once(&key_once, make_key);
	if (key_error)
		return b3cas__error(B3CAS_ENOMEM,
				    "zstd: no thread key for contexts: %s",
				    strerror(key_error));
	c = pthread_getspecific(key);
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c)
			return b3cas__error(B3CAS_ENOMEM,
					    "zstd: out of memory for contexts");
		err = pthread_setspecific(key, c);
		if (err) {
			free(c);
			return b3cas__error(B3CAS_ENOMEM,
					    "zstd: cannot keep contexts: %s",
					    strerror(err));
		}
		atomic_fetch_add(&threads_with_contexts, 1);
	}
	*out = c;
	return 0;
}

static int thread_cctx(ZSTD_CCtx **out)
{
	struct zstd_contexts *c = NULL;
	int rc = thread_contexts(&c);

	if (rc < 0)
		return rc;
	if (!c->cctx) {
		c->cctx = ZSTD_createCCtx();
		if (!c->cctx)
			return b3cas__error(B3CAS_ENOMEM,
				"zstd: out of memory for a compression context");
	}
	*out = c->cctx;
	return 0;
}

static int thread_dctx(ZSTD_DCtx **out)
{
	struct zstd_contexts *c = NULL;
	int rc = thread_contexts(&c);
	size_t r;

	if (rc < 0)
		return rc;
	if (!c->dctx) {
		c->dctx = ZSTD_createDCtx();
		if (!c->dctx)
			return b3cas__error(B3CAS_ENOMEM,
				"zstd: out of memory for a decompression context");
		/* One-shot decoding keeps no window; this limit is for any
		 * streaming use of the context, so that it too refuses what
		 * decode_header refuses. */
		r = ZSTD_DCtx_setParameter(c->dctx, ZSTD_d_windowLogMax,
					   B3CAS_ZSTD_WINDOW_LOG_MAX);
		if (ZSTD_isError(r)) {
			ZSTD_freeDCtx(c->dctx);
			c->dctx = NULL;
			return b3cas__error(B3CAS_ERROR,
				"zstd: setting the window limit: %s",
				ZSTD_getErrorName(r));
		}
	}
	*out = c->dctx;
	return 0;
}

void b3cas__zstd_thread_release(void)
{
	struct zstd_contexts *c;

	pthread_once(&key_once, make_key);
	if (key_error)
		return;
	c = pthread_getspecific(key);
	if (c && pthread_setspecific(key, NULL) == 0)
		free_contexts(c);
}

size_t b3cas__zstd_threads_with_contexts(void)
{
	return atomic_load(&threads_with_contexts);
}

/* ---- compression ---------------------------------------------------- */

size_t b3cas__zstd_bound(size_t len)
{
	size_t r = ZSTD_compressBound(len);

	return ZSTD_isError(r) || r < len ? 0 : r;
}

static int compress_result(size_t *csize_out, size_t r, size_t len,
			   size_t dst_cap, int level);

/* The level checked, and the thread's compression context. */
static int level_cctx(int level, ZSTD_CCtx **cctx)
{
	if (level < B3CAS_ZSTD_LEVEL_MIN || level > B3CAS_ZSTD_LEVEL_MAX)
		return b3cas__error(B3CAS_EINVAL,
				    "zstd: level %d is outside %d..%d", level,
				    B3CAS_ZSTD_LEVEL_MIN, B3CAS_ZSTD_LEVEL_MAX);
	return thread_cctx(cctx);
}

int b3cas__zstd_compress(size_t *csize_out, void *dst, size_t dst_cap,
			 const void *src, size_t len, int level)
{
	uint8_t empty = 0;
	ZSTD_CCtx *cctx = NULL;
	size_t r;
	int rc;

	B3CAS__NONNULL(csize_out, "csize_out");
	B3CAS__NONNULL_LEN(dst, "dst", dst_cap, "dst_cap");
	B3CAS__NONNULL_LEN(src, "src", len, "len");
	rc = level_cctx(level, &cctx);
	if (rc < 0)
		return rc;
	/* ZSTD_compressCCtx takes its parameters from the level alone
	 * (content size recorded, no checksum), whatever the context held. */
	r = ZSTD_compressCCtx(cctx, dst ? dst : &empty, dst_cap,
			      src ? src : &empty, len, level);
	return compress_result(csize_out, r, len, dst_cap, level);
}

static int compress_result(size_t *csize_out, size_t r, size_t len,
			   size_t dst_cap, int level)
{
	if (!ZSTD_isError(r)) {
		*csize_out = r;
		return 0;
	}
	switch (ZSTD_getErrorCode(r)) {
	case ZSTD_error_dstSize_tooSmall:
		return b3cas__error(B3CAS_ERANGE,
			"zstd: %zu bytes do not compress into %zu", len,
			dst_cap);
	case ZSTD_error_memory_allocation:
		return b3cas__error(B3CAS_ENOMEM,
			"zstd: out of memory compressing %zu bytes", len);
	default:
		return b3cas__error(B3CAS_ERROR,
			"zstd: compressing %zu bytes at level %d: %s", len,
			level, ZSTD_getErrorName(r));
	}
}

int b3cas__zstd_compress_prefix(size_t *csize_out, void *dst, size_t dst_cap,
				const void *src, size_t len,
				const void *prefix, size_t plen, int level)
{
	uint8_t empty = 0;
	ZSTD_CCtx *cctx = NULL;
	size_t r;
	int rc;

	B3CAS__NONNULL(csize_out, "csize_out");
	B3CAS__NONNULL_LEN(dst, "dst", dst_cap, "dst_cap");
	B3CAS__NONNULL_LEN(src, "src", len, "len");
	B3CAS__NONNULL_LEN(prefix, "prefix", plen, "plen");
	rc = level_cctx(level, &cctx);
	if (rc < 0)
		return rc;
	/* The advanced API keeps its parameters in the context: set them
	 * all from a clean one, and leave it clean (a prefix is used by one
	 * frame only, but a failure could leave it referenced). */
	ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
	r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
	if (!ZSTD_isError(r) && plen)
		r = ZSTD_CCtx_refPrefix(cctx, prefix, plen); /* raw */
	if (!ZSTD_isError(r))
		r = ZSTD_compress2(cctx, dst ? dst : &empty, dst_cap,
				   src ? src : &empty, len);
	ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
	return compress_result(csize_out, r, len, dst_cap, level);
}

/* ---- the decision ---------------------------------------------------- */

size_t b3cas__zstd_worth_max(size_t len, size_t min_saving,
			     unsigned min_percent)
{
	size_t need = min_saving > 0 ? min_saving : 1;
	size_t by_percent;

	if (min_percent >= 100)
		return 0;
	/* ceil(len * min_percent / 100), without overflowing len * 100 */
	by_percent = len / 100 * min_percent +
		     (len % 100 * min_percent + 99) / 100;
	if (by_percent > need)
		need = by_percent;
	return need >= len ? 0 : len - need;
}

bool b3cas__zstd_worth(size_t len, size_t csize, size_t min_saving,
		       unsigned min_percent)
{
	size_t max = b3cas__zstd_worth_max(len, min_saving, min_percent);

	return max > 0 && csize <= max;
}

/* ---- decompression -------------------------------------------------- */

/* What a frame header says, by RFC 8878 section 3.1.1.1. */
struct frame_header {
	uint64_t content_size; /* when has_content_size */
	uint64_t window;       /* bytes */
	uint32_t dict_id;
	bool has_content_size;
};

static uint64_t read_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = n; i > 0; i--)
		v = v << 8 | p[i - 1];
	return v;
}

static int decode_header(struct frame_header *h, const uint8_t *p,
			 size_t n)
{
	static const unsigned dict_bytes[4] = {0, 1, 2, 4};
	static const unsigned fcs_bytes[4] = {0, 2, 4, 8};
	unsigned fhd, single, dict_len, fcs_len;
	size_t need;

	if (n < 5)
		return b3cas__error(B3CAS_ECORRUPT,
			"zstd: %zu bytes are too few for a frame header", n);
	if (read_le(p, 4) != ZSTD_MAGICNUMBER)
		return b3cas__error(B3CAS_ECORRUPT,
			"zstd: not a zstd frame (magic %08llx)",
			(unsigned long long)read_le(p, 4));
	fhd = p[4];
	if (fhd & 0x08)
		return b3cas__error(B3CAS_ECORRUPT,
			"zstd: the frame header's reserved bit is set");
	single = fhd >> 5 & 1;
	dict_len = dict_bytes[fhd & 3];
	fcs_len = fcs_bytes[fhd >> 6];
	if (single && fcs_len == 0)
		fcs_len = 1;
	need = 5 + !single + dict_len + fcs_len;
	if (n < need)
		return b3cas__error(B3CAS_ECORRUPT,
			"zstd: frame header truncated (%zu of %zu bytes)", n,
			need);
	p += 5;
	if (!single) {
		unsigned log = 10 + (p[0] >> 3);

		h->window = ((uint64_t)1 << log) +
			    ((uint64_t)1 << log) / 8 * (p[0] & 7);
		p++;
	}
	h->dict_id = (uint32_t)read_le(p, dict_len);
	p += dict_len;
	h->has_content_size = fcs_len > 0;
	h->content_size = read_le(p, fcs_len) + (fcs_len == 2 ? 256 : 0);
	if (single)
		h->window = h->content_size;
	return 0;
}

static int check_frame(const uint8_t *src, size_t csize, size_t expected_len)
{
	struct frame_header h = {0};
	size_t frame_len;
	int rc = decode_header(&h, src, csize);

	if (rc < 0)
		return rc;
	if (h.dict_id != 0)
		return b3cas__error(B3CAS_ECORRUPT,
			"zstd: the frame wants dictionary %u", h.dict_id);
	if (h.window > (uint64_t)1 << B3CAS_ZSTD_WINDOW_LOG_MAX)
		return b3cas__error(B3CAS_ECORRUPT,
			"zstd: the frame's window of %llu bytes is over the "
			"limit of %llu", (unsigned long long)h.window,
			1ull << B3CAS_ZSTD_WINDOW_LOG_MAX);
	if (h.has_content_size && h.content_size != expected_len)
		return b3cas__error(B3CAS_ECORRUPT,
			"zstd: the frame declares %llu bytes, not the %zu "
			"expected", (unsigned long long)h.content_size,
			expected_len);
	frame_len = ZSTD_findFrameCompressedSize(src, csize);
	if (ZSTD_isError(frame_len))
		return b3cas__error(B3CAS_ECORRUPT,
			"zstd: damaged or truncated frame of %zu bytes: %s",
			csize, ZSTD_getErrorName(frame_len));
	if (frame_len != csize)
		return b3cas__error(B3CAS_ECORRUPT,
			"zstd: %zu bytes follow the frame of %zu",
			csize - frame_len, frame_len);
	return 0;
}

static int decompress_result(size_t r, size_t expected_len, size_t csize);

int b3cas__zstd_decompress(void *dst, size_t expected_len, const void *src,
			   size_t csize)
{
	uint8_t empty;
	ZSTD_DCtx *dctx = NULL;
	size_t r;
	int rc;

	B3CAS__NONNULL_LEN(dst, "dst", expected_len, "expected_len");
	B3CAS__NONNULL_LEN(src, "src", csize, "csize");
	rc = check_frame(src, csize, expected_len);
	if (rc < 0)
		return rc;
	rc = thread_dctx(&dctx);
	if (rc < 0)
		return rc;
	r = ZSTD_decompressDCtx(dctx, dst ? dst : &empty, expected_len, src,
				csize);
	return decompress_result(r, expected_len, csize);
}

static int decompress_result(size_t r, size_t expected_len, size_t csize)
{
	if (ZSTD_isError(r)) {
		if (ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation)
			return b3cas__error(B3CAS_ENOMEM,
				"zstd: out of memory decompressing");
		if (ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall)
			return b3cas__error(B3CAS_ECORRUPT,
				"zstd: the frame decodes to more than the %zu "
				"bytes expected", expected_len);
		return b3cas__error(B3CAS_ECORRUPT,
			"zstd: damaged frame of %zu bytes: %s", csize,
			ZSTD_getErrorName(r));
	}
	if (r != expected_len)
		return b3cas__error(B3CAS_ECORRUPT,
			"zstd: the frame decodes to %zu bytes, not the %zu "
			"expected", r, expected_len);
	return 0;
}

int b3cas__zstd_decompress_prefix(void *dst, size_t expected_len,
				  const void *src, size_t csize,
				  const void *prefix, size_t plen)
{
	uint8_t empty;
	ZSTD_DCtx *dctx = NULL;
	size_t r = 0;
	int rc;

	B3CAS__NONNULL_LEN(dst, "dst", expected_len, "expected_len");
	B3CAS__NONNULL_LEN(src, "src", csize, "csize");
	B3CAS__NONNULL_LEN(prefix, "prefix", plen, "plen");
	rc = check_frame(src, csize, expected_len);
	if (rc < 0)
		return rc;
	rc = thread_dctx(&dctx);
	if (rc < 0)
		return rc;
	if (plen)
		r = ZSTD_DCtx_refPrefix(dctx, prefix, plen); /* raw */
	if (!ZSTD_isError(r))
		r = ZSTD_decompressDCtx(dctx, dst ? dst : &empty,
					expected_len, src, csize);
	/* the window limit is a parameter: a session reset keeps it */
	ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only);
	return decompress_result(r, expected_len, csize);
}
