/*
 * batch.c - hashing many independent messages of a few KiB side by side.
 *
 * The lanes kernel runs up to 16 independent chains of compressions at
 * once, one per SIMD lane, each with its own counter, flags, length and
 * padded last block. Every job the scheduler gives a lane is such a chain:
 * one chunk of a message (1 to 16 blocks, CHUNK_START on the first,
 * CHUNK_END on the last, ROOT too when the message is that one chunk) or
 * one parent node (one block: two child chaining values side by side,
 * PARENT, ROOT when it is the message's top). The scheduler advances all
 * lanes by the smallest number of blocks any of them has left, so at least
 * one lane finishes after each run, and refills finished lanes with the
 * next job. Equal lengths run in lockstep; mixed lengths cost only the
 * bookkeeping of refills.
 *
 * A message of at most MAX_MSG_CHUNKS chunks is batched unless its own
 * chunks would keep the lanes of hash_many at least 90% busy (16, 32 or
 * 48 chunks at AVX-512, 8, 16, ... at AVX2); others are hashed one by one
 * with b3cas_hash, which is then as fast or faster (docs/blake3.md, "Batch
 * hashing"). Messages of one or two chunks are always batched.
 *
 * Batched messages go in groups whose chaining values fit cv_area: first
 * every chunk of the group, then its parents level by level, pairing
 * neighbours left to right and carrying a lone last value up unchanged
 * (BLAKE3's left-balanced tree). A message's level k starts right after
 * its level k - 1 in cv_area, so a parent's block is two adjacent values.
 * A group is also at most GROUP_MSGS messages, whose last chunks (when
 * shorter than 16 blocks) are handed out longest first after all full
 * chunks, by a counting sort into order[].
 */
#include "blake3_int.h"
#include "util/error.h"

/* the longest message batched, in chunks (docs/blake3.md) */
#define MAX_MSG_CHUNKS 64
#define CHUNK_BLOCKS (B3_CHUNK_LEN / B3_BLOCK_LEN)
#define CV_SLOTS 512 /* 16 KiB of chaining values per group */
#define GROUP_MSGS 512

typedef struct job {
	const uint8_t *in;
	size_t len; /* 0..1024 bytes */
	uint64_t counter;
	uint8_t flags_first, flags_last;
	uint8_t *out;
} job;

typedef struct lane_job {
	size_t remaining; /* blocks left, the final one included */
	size_t final_len; /* bytes in the final block: 0..64 */
	const uint8_t *final_block;
	uint8_t flags_last;
	uint8_t *out;
	bool active;
} lane_job;

/* Where the job source stands in the current group. */
typedef struct cursor {
	size_t msg;     /* message */
	size_t item;    /* its next chunk (level 0) or parent */
	unsigned level; /* 0: chunks; k > 0: parents of level k - 1 */
	bool full_done; /* level 0: all full chunks handed out */
	size_t pos;     /* then: the next entry of order[] */
} cursor;

typedef struct batch {
	b3_lanes st;
	lane_job job[B3_MAX_LANES];
	uint8_t pad[B3_MAX_LANES][B3_BLOCK_LEN]; /* partial final blocks */
	uint8_t cv_area[CV_SLOTS][B3_OUT_LEN];
	const uint8_t *const *inputs;
	const size_t *lens;
	size_t count;
	size_t group_start, group_end;
	/* by message of the group (index - group_start): first slot */
	uint16_t base[GROUP_MSGS];
	/* the messages whose last chunk is short, longest first */
	uint16_t order[GROUP_MSGS];
	size_t n_short;
	cursor cur;
	uint8_t *out;
	size_t lanes; /* the kernel's */
	uint8_t flags;
} batch;

static size_t msg_chunks(size_t len)
{
	return len == 0 ? 1 : (len + B3_CHUNK_LEN - 1) / B3_CHUNK_LEN;
}

/* Is a message of n chunks batched? Not when hash_many would have its
 * lanes at least 90% busy with them: n * 10 >= 9 * lanes rounded up. */
static bool batched(const batch *b, size_t n)
{
	size_t width = (n + b->lanes - 1) / b->lanes * b->lanes;

	return n <= 2 || (n <= MAX_MSG_CHUNKS && n * 10 < width * 9);
}

/* Nodes at level k of the tree over n chunks: ceil(n / 2^k). */
static size_t level_count(size_t n, unsigned k)
{
	return ((n - 1) >> k) + 1;
}

/* First slot of level k, counted from the message's base. */
static size_t level_start(size_t n, unsigned k)
{
	size_t s = 0;

	for (unsigned i = 0; i < k; i++)
		s += level_count(n, i);
	return s;
}

/* Slots a message of n chunks needs: every level but the root. */
static size_t cv_slots(size_t n)
{
	size_t s = 0;

	for (unsigned k = 0; level_count(n, k) > 1; k++)
		s += level_count(n, k);
	return s;
}

/* cv_slots(n) < 2n + log2(n) */
_Static_assert(CV_SLOTS >= 4 * MAX_MSG_CHUNKS,
	       "a group must hold the largest batched message");
_Static_assert(CV_SLOTS <= 65536 && GROUP_MSGS <= 65536,
	       "base[] and order[] hold 16-bit values");

static void hash_large(batch *b, size_t i)
{
	if (b->flags & B3_KEYED_HASH) {
		uint8_t key[32];

		memcpy(key, b->st.key, 32);
		b3cas_hash_keyed(b->out + 32 * i, key, b->inputs[i],
				 b->lens[i]);
	} else {
		b3cas_hash(b->out + 32 * i, b->inputs[i], b->lens[i]);
	}
}

/* Chunk c of a message of n chunks that starts at slot base. */
static void chunk_job(batch *b, job *j, size_t msg, size_t n,
		      size_t c, size_t base)
{
	size_t len = b->lens[msg];

	/* inputs[msg] may be NULL when len is 0: no offset on it then */
	j->in = c == 0 ? b->inputs[msg] : b->inputs[msg] + B3_CHUNK_LEN * c;
	j->len = len - B3_CHUNK_LEN * c;
	if (j->len > B3_CHUNK_LEN)
		j->len = B3_CHUNK_LEN;
	j->counter = c;
	j->flags_first = B3_CHUNK_START;
	j->flags_last = B3_CHUNK_END;
	if (n == 1) {
		j->flags_last |= B3_ROOT;
		j->out = b->out + 32 * msg;
	} else {
		j->out = b->cv_area[base + c];
	}
}

/* Parent p of level k (k > 0) of a message of n chunks. */
static void parent_job(batch *b, job *j, size_t msg, size_t n,
		       unsigned k, size_t p, size_t base)
{
	size_t below = base + level_start(n, k - 1);

	j->in = b->cv_area[below + 2 * p];
	j->len = B3_BLOCK_LEN;
	j->counter = 0;
	j->flags_first = B3_PARENT;
	if (level_count(n, k - 1) == 2) {
		j->flags_last = B3_ROOT;
		j->out = b->out + 32 * msg;
	} else {
		j->flags_last = 0;
		j->out = b->cv_area[base + level_start(n, k) + p];
	}
}

/* Blocks of chunk c of a message of len bytes: 1 to 16. */
static size_t chunk_blocks(size_t len, size_t c)
{
	size_t rest = len - B3_CHUNK_LEN * c;

	if (rest > B3_CHUNK_LEN)
		rest = B3_CHUNK_LEN;
	return rest == 0 ? 1 : (rest + B3_BLOCK_LEN - 1) / B3_BLOCK_LEN;
}

/*
 * The next chunk of the group: every full chunk in message order, then
 * the short last chunks longest first. Lanes then mostly hold jobs of
 * equal length, which run in lockstep with no refill in between; in
 * message order, chunks of random lengths left many runs of one or two
 * steps (chunks of FastCDC's avg 2 KiB: batch 1.57 GB/s, 2.19 sorted).
 */
static bool next_chunk(batch *b, job *j)
{
	cursor *c = &b->cur;

	for (; !c->full_done && c->msg < b->group_end; c->msg++) {
		size_t len = b->lens[c->msg], n = msg_chunks(len);
		size_t full = chunk_blocks(len, n - 1) == CHUNK_BLOCKS ? n
								       : n - 1;

		if (batched(b, n) && c->item < full) {
			chunk_job(b, j, c->msg, n, c->item++,
				  b->base[c->msg - b->group_start]);
			return true;
		}
		c->item = 0;
	}
	c->full_done = true;
	if (c->pos == b->n_short)
		return false;
	size_t g = b->order[c->pos++], msg = b->group_start + g;
	size_t n = msg_chunks(b->lens[msg]);

	chunk_job(b, j, msg, n, n - 1, b->base[g]);
	return true;
}

/* The next parent of the group at the cursor's level (above 0). */
static bool next_parent(batch *b, job *j)
{
	cursor *c = &b->cur;

	for (; c->msg < b->group_end; c->msg++) {
		size_t n = msg_chunks(b->lens[c->msg]);

		if (!batched(b, n))
			continue; /* hashed apart, no slots */
		if (c->item < level_count(n, c->level - 1) / 2) {
			parent_job(b, j, c->msg, n, c->level, c->item++,
				   b->base[c->msg - b->group_start]);
			return true;
		}
		c->item = 0;
	}
	return false;
}

static bool next_job(batch *b, job *j)
{
	return b->cur.level == 0 ? next_chunk(b, j) : next_parent(b, j);
}

/* Put the next job in lane l; false when none is left. */
static bool refill(batch *b, size_t l)
{
	lane_job *lj = &b->job[l];
	job j;

	if (!next_job(b, &j)) {
		lj->active = false;
		b->st.ptr[l] = b3_zero_chunk; /* idle lanes read zeros */
		b->st.out[l] = NULL;
		return false;
	}
	size_t blocks = j.len == 0 ? 1
				   : (j.len + B3_BLOCK_LEN - 1) / B3_BLOCK_LEN;

	lj->remaining = blocks;
	lj->final_len = j.len - (blocks - 1) * B3_BLOCK_LEN;
	if (lj->final_len == B3_BLOCK_LEN) {
		lj->final_block = j.in + (blocks - 1) * B3_BLOCK_LEN;
	} else {
		if (lj->final_len > 0) /* j.in may be NULL when empty */
			memcpy(b->pad[l], j.in + (blocks - 1) * B3_BLOCK_LEN,
			       lj->final_len);
		memset(b->pad[l] + lj->final_len, 0,
		       B3_BLOCK_LEN - lj->final_len);
		lj->final_block = b->pad[l];
	}
	lj->flags_last = j.flags_last;
	lj->out = j.out;
	lj->active = true;
	b->st.ptr[l] = j.in;
	b->st.ctr_lo[l] = (uint32_t)j.counter;
	b->st.ctr_hi[l] = (uint32_t)(j.counter >> 32);
	b->st.flags_first[l] = j.flags_first;
	b->st.reset_mask |= 1u << l;
	return true;
}

/* Set each lane's last-step fields for a run of n steps. */
static void prepare_run(batch *b, size_t lanes, size_t n)
{
	for (size_t l = 0; l < lanes; l++) {
		lane_job *j = &b->job[l];

		if (j->active && j->remaining == n) {
			b->st.last[l] = j->final_block;
			b->st.blen_last[l] = (uint32_t)j->final_len;
			b->st.flags_last[l] = j->flags_last;
			b->st.out[l] = j->out;
		} else {
			b->st.last[l] = b->st.ptr[l] + B3_BLOCK_LEN * (n - 1);
			b->st.blen_last[l] = B3_BLOCK_LEN;
			b->st.flags_last[l] = 0;
			b->st.out[l] = NULL;
		}
	}
}

/* After a run of n steps: advance the lanes, refill the finished ones. */
static size_t finish_run(batch *b, size_t lanes, size_t n)
{
	size_t active = 0;

	b->st.reset_mask = 0;
	for (size_t l = 0; l < lanes; l++) {
		lane_job *j = &b->job[l];

		if (!j->active)
			continue;
		j->remaining -= n;
		if (j->remaining == 0) {
			active += refill(b, l);
		} else {
			b->st.ptr[l] += B3_BLOCK_LEN * n;
			b->st.flags_first[l] = 0;
			active++;
		}
	}
	return active;
}

static size_t min_remaining(const batch *b, size_t lanes)
{
	size_t n = SIZE_MAX;

	for (size_t l = 0; l < lanes; l++)
		if (b->job[l].active && b->job[l].remaining < n)
			n = b->job[l].remaining;
	return n;
}

/* Run every job of one level of the current group through the lanes. */
static void run_level(batch *b, const b3_kernels *k, unsigned level)
{
	size_t lanes = k->lanes;
	size_t active = 0;

	b->cur.msg = b->group_start;
	b->cur.item = 0;
	b->cur.level = level;
	b->cur.full_done = false;
	b->cur.pos = 0;
	b->st.reset_mask = 0;
	for (size_t l = 0; l < lanes; l++)
		active += refill(b, l);
	while (active > 0) {
		size_t n = min_remaining(b, lanes);

		prepare_run(b, lanes, n);
		k->lanes_run(&b->st, n);
		active = finish_run(b, lanes, n);
	}
}

/*
 * Carry the lone last value of each odd level k - 1 (above one node) up to
 * the end of level k. True if any message of the group has parents at
 * level k.
 */
static bool carry_lone(batch *b, unsigned k)
{
	bool any = false;

	for (size_t i = b->group_start; i < b->group_end; i++) {
		size_t n = msg_chunks(b->lens[i]);
		size_t below = level_count(n, k - 1);
		size_t base = b->base[i - b->group_start];

		if (!batched(b, n))
			continue;
		if (below > 1) {
			any = true;
			if (below & 1)
				memcpy(b->cv_area[base + level_start(n, k) +
						  below / 2],
				       b->cv_area[base + level_start(n, k - 1) +
						  below - 1],
				       B3_OUT_LEN);
		}
	}
	return any;
}

/* Blocks of the last chunk of message i if it is batched and short. */
static size_t short_last(const batch *b, size_t i)
{
	size_t n = msg_chunks(b->lens[i]);
	size_t blocks = chunk_blocks(b->lens[i], n - 1);

	return batched(b, n) && blocks < CHUNK_BLOCKS ? blocks : 0;
}

/* order[]: the group's short last chunks by blocks, longest first. */
static void sort_short(batch *b)
{
	size_t at[CHUNK_BLOCKS] = {0}, pos = 0;

	for (size_t i = b->group_start; i < b->group_end; i++)
		at[short_last(b, i)]++;
	for (size_t bl = CHUNK_BLOCKS - 1; bl > 0; bl--) {
		size_t count = at[bl];

		at[bl] = pos;
		pos += count;
	}
	b->n_short = pos;
	for (size_t i = b->group_start; i < b->group_end; i++) {
		size_t bl = short_last(b, i);

		if (bl > 0)
			b->order[at[bl]++] = (uint16_t)(i - b->group_start);
	}
}

/*
 * The messages from group_start on (at most GROUP_MSGS) whose slots fit
 * cv_area; those too long to batch are hashed on the way.
 */
static void form_group(batch *b)
{
	size_t slots = 0, i;

	for (i = b->group_start;
	     i < b->count && i - b->group_start < GROUP_MSGS; i++) {
		size_t n = msg_chunks(b->lens[i]);

		if (!batched(b, n)) {
			hash_large(b, i);
			continue;
		}
		if (slots + cv_slots(n) > CV_SLOTS)
			break;
		b->base[i - b->group_start] = (uint16_t)slots;
		slots += cv_slots(n);
	}
	b->group_end = i;
	sort_short(b);
}

static void hash_batch(uint8_t *out, const uint32_t key[8], uint8_t flags,
		       const void *const *inputs, const size_t *lens,
		       size_t count)
{
	batch b;
	const b3_kernels *k = b3_kernels_active();

	b.inputs = (const uint8_t *const *)inputs;
	b.lens = lens;
	b.count = count;
	b.out = out;
	b.flags = flags;
	b.lanes = k->lanes;
	memcpy(b.st.key, key, 32);
	for (size_t l = 0; l < k->lanes; l++)
		b.st.flags_mid[l] = flags;
	for (b.group_start = 0; b.group_start < count;
	     b.group_start = b.group_end) {
		form_group(&b);
		run_level(&b, k, 0);
		for (unsigned level = 1; carry_lone(&b, level); level++)
			run_level(&b, k, level);
	}
}

/*
 * The pointer checks of the public batch functions (include/b3cas/
 * common.h): false, with the message set, when one is NULL. Each input is
 * looked at once here; hashing it costs far more.
 */
static bool batch_args_ok(const char *func, const uint8_t *out,
			  const void *const *inputs, const size_t *lens,
			  size_t count)
{
	if (count == 0)
		return true;
	if (!out || !inputs || !lens) {
		b3cas__error_null(func, !out ? "out" : !inputs ? "inputs"
							   : "lens");
		return false;
	}
	for (size_t i = 0; i < count; i++) {
		if (!inputs[i] && lens[i]) {
			b3cas__error(B3CAS_EINVAL,
				     "%s: inputs[%zu] is NULL but lens[%zu] "
				     "is %zu",
				     func, i, i, lens[i]);
			return false;
		}
	}
	return true;
}

void b3cas_hash_batch(uint8_t *out, const void *const *inputs,
		      const size_t *lens, size_t count)
{
	if (!batch_args_ok(__func__, out, inputs, lens, count))
		return;
	hash_batch(out, b3_iv, 0, inputs, lens, count);
}

void b3cas_hash_batch_keyed(uint8_t *out, const uint8_t key[B3CAS_KEY_LEN],
			    const void *const *inputs, const size_t *lens,
			    size_t count)
{
	uint32_t key_words[8];

	B3CAS__NONNULL_VOID(key, "key");
	if (!batch_args_ok(__func__, out, inputs, lens, count))
		return;
	b3_load_key(key_words, key);
	hash_batch(out, key_words, B3_KEYED_HASH, inputs, lens, count);
}
