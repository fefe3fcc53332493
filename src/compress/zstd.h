/*
 * compress/zstd.h - zstd compression of chunks and small objects: one
 * frame per call, whole buffers in and out, no store state.
 *
 * Invariants: an object's id is the hash of its uncompressed bytes, so
 * compressed bytes read back are untrusted input until the caller has
 * decompressed and verified them. b3cas__zstd_decompress therefore writes
 * at most expected_len bytes into the caller's buffer, allocates nothing
 * per frame (it decodes in one shot into that buffer, so libzstd keeps no
 * window of its own), and succeeds only when the bytes given are exactly
 * one zstd frame that decodes to exactly expected_len bytes.
 *
 * Contexts: each thread that calls here gets one compression and one
 * decompression context, made on its first call and freed when the
 * thread exits (or by b3cas__zstd_thread_release). A call in steady state
 * allocates nothing (libzstd may regrow a compression context for a
 * larger input or level, and shrinks one that stayed far too large).
 *
 * Thread safety: every function may be called from any thread at once;
 * no state is shared between threads.
 */
#ifndef B3CAS_COMPRESS_ZSTD_H
#define B3CAS_COMPRESS_ZSTD_H

#include <stdbool.h>
#include <stddef.h>

#include "b3cas/common.h"

/*
 * Levels accepted by b3cas__zstd_compress: libzstd's fast (negative)
 * levels up to 19. Levels 20-22 ("ultra") want windows up to 128 MiB,
 * which the decompressor refuses (B3CAS_ZSTD_WINDOW_LOG_MAX), and are far
 * too slow for a store's write path anyway. 0 means libzstd's default (3).
 */
#define B3CAS_ZSTD_LEVEL_MIN (-131072)
#define B3CAS_ZSTD_LEVEL_MAX 19

/*
 * What the store should use unless told otherwise (docs/compression.md
 * has the figures, from bench_zstd): level 1 compresses 4-64 KiB blocks
 * of text and programs 1.2-1.5x faster than level 3 (CPU time) for a
 * ratio 2-5% lower, and memory images better than level 3. A block is kept
 * compressed when that saves at least 64 bytes and 5%: on the measured
 * data almost every block either compresses well or not at all, so the
 * rule costs no saving there and spares reads a decompression for
 * nearly nothing.
 */
#define B3CAS_ZSTD_LEVEL_DEFAULT 1
#define B3CAS_ZSTD_MIN_SAVING_DEFAULT 64
#define B3CAS_ZSTD_MIN_PERCENT_DEFAULT 5

/*
 * The largest window (log2 bytes) a frame may declare: 8 MiB, what level
 * 19 uses on a large input (every level up to 19 stays within it, and
 * smaller inputs get smaller windows). A frame declaring more was not
 * made here and is refused before it is decoded; the same limit is set as
 * the decompression context's ZSTD_d_windowLogMax.
 */
#define B3CAS_ZSTD_WINDOW_LOG_MAX 23

/*
 * Compress len bytes at src into one zstd frame at dst, which has room
 * for dst_cap bytes; *csize_out is the frame's size. The frame records
 * the content size (len) and no checksum: the caller verifies the
 * decompressed bytes against the object's id, which is stronger. A
 * dst_cap of at least b3cas__zstd_bound(len) always suffices; a smaller
 * one makes a frame that does not fit fail with B3CAS_ERANGE. libzstd
 * may also refuse a tight dst_cap that its frame would have fit in (it
 * keeps room to fall back to raw literals), so a caller applying a rule
 * to the size (b3cas__zstd_worth) gives the bound and checks afterwards.
 * src may be NULL when len is 0.
 * Returns 0; B3CAS_ERANGE (the frame does not fit in dst_cap: dst holds
 * unspecified bytes), B3CAS_EINVAL (level outside
 * B3CAS_ZSTD_LEVEL_MIN..MAX, NULL), B3CAS_ENOMEM (no context or
 * workspace), B3CAS_ERROR (libzstd failed otherwise; the message names
 * its error).
 */
int b3cas__zstd_compress(size_t *csize_out, void *dst, size_t dst_cap,
			 const void *src, size_t len, int level);

/*
 * The largest frame b3cas__zstd_compress can make from len bytes, or 0
 * when len is too large for libzstd (over about 2^64 / 1.004). Never
 * fails.
 */
size_t b3cas__zstd_bound(size_t len);

/*
 * Decode the frame of csize bytes at src into dst, which has room for
 * exactly expected_len bytes. Succeeds only when src holds exactly one
 * zstd frame (no skippable frame, no dictionary, no trailing bytes) whose
 * window is at most 2^B3CAS_ZSTD_WINDOW_LOG_MAX bytes, whose declared
 * content size (when it declares one) is expected_len, and which decodes
 * to exactly expected_len bytes (a checksum, when the frame has one, is
 * checked too). Never writes outside dst[0..expected_len). dst may be
 * NULL when expected_len is 0.
 * Returns 0; B3CAS_ECORRUPT (anything else: truncated, garbage, a
 * different declared or decoded size, a window too large; the message
 * says which; dst holds unspecified bytes), B3CAS_EINVAL (NULL),
 * B3CAS_ENOMEM (no context could be made).
 */
int b3cas__zstd_decompress(void *dst, size_t expected_len, const void *src,
			   size_t csize);

/*
 * Delta frames: b3cas__zstd_compress and b3cas__zstd_decompress with the
 * plen bytes at prefix as raw content that the frame's matches may refer
 * to (libzstd's "prefix": never parsed as a dictionary, whatever its
 * bytes; the frame names no dictionary id). The decoder must be given the
 * very same prefix: other bytes decode to other content (which the
 * caller's hash check catches) or fail. prefix may be NULL when plen is
 * 0. Errors as the functions without a prefix.
 */
int b3cas__zstd_compress_prefix(size_t *csize_out, void *dst, size_t dst_cap,
				const void *src, size_t len,
				const void *prefix, size_t plen, int level);
int b3cas__zstd_decompress_prefix(void *dst, size_t expected_len,
				  const void *src, size_t csize,
				  const void *prefix, size_t plen);

/*
 * The largest compressed size worth storing instead of len raw bytes:
 * one that saves at least min_saving bytes and at least min_percent
 * percent of len (0 for either means no such condition; a compressed
 * size must still be smaller than len). 0 when nothing is worth it (0 is
 * never a zstd frame's size). Pass it as dst_cap to b3cas__zstd_compress
 * to stop as soon as the frame is too large. Never fails.
 */
size_t b3cas__zstd_worth_max(size_t len, size_t min_saving,
			     unsigned min_percent);

/* Whether csize compressed bytes are worth storing instead of len raw
 * ones, by the rule of b3cas__zstd_worth_max. Never fails. */
bool b3cas__zstd_worth(size_t len, size_t csize, size_t min_saving,
		       unsigned min_percent);

/*
 * Free the calling thread's contexts now rather than at its exit (a
 * thread that will not compress again, or the main thread before exit,
 * whose thread-specific data is never destroyed). The next call makes
 * new ones. Never fails.
 */
void b3cas__zstd_thread_release(void);

/* How many threads hold contexts now (made and not yet freed): for tests
 * and diagnostics. Never fails. */
size_t b3cas__zstd_threads_with_contexts(void);

#endif
