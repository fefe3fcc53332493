/*
 * batch.c - hashing many independent small messages side by side.
 *
 * A message of at most one chunk is a chain of 1 to 16 compressions, the
 * last with CHUNK_END | ROOT. The lanes kernel runs up to 16 such chains at
 * once, one per SIMD lane, each with its own length and flags. The
 * scheduler here keeps every lane busy: it advances all lanes by the
 * smallest number of blocks any of them has left, so at least one lane
 * finishes after each run, and refills finished lanes with the next
 * message. Messages of equal length therefore all run in lockstep with no
 * refill in between; mixed lengths cost only the bookkeeping of refills.
 * Messages longer than a chunk are hashed one by one (their chunks already
 * fill the lanes of hash_many).
 */
#include "blake3_int.h"
#include "util/error.h"

typedef struct lane_job {
	size_t msg;       /* index of the message in this lane */
	size_t remaining; /* blocks left, the final one included */
	size_t final_len; /* bytes in the final block: 0..64 */
	const uint8_t *final_block;
	bool active;
} lane_job;

typedef struct batch {
	b3_lanes st;
	lane_job job[B3_MAX_LANES];
	uint8_t pad[B3_MAX_LANES][B3_BLOCK_LEN]; /* partial final blocks */
	const uint8_t *const *inputs;
	const size_t *lens;
	size_t count;
	size_t next; /* next message to schedule */
	uint8_t *out;
	uint8_t flags;
} batch;

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

/* Put the next small message in lane l; false when none is left. */
static bool refill(batch *b, size_t l)
{
	lane_job *j = &b->job[l];

	while (b->next < b->count && b->lens[b->next] > B3_CHUNK_LEN)
		hash_large(b, b->next++);
	if (b->next >= b->count) {
		j->active = false;
		b->st.ptr[l] = b3_zero_chunk; /* idle lanes read zeros */
		b->st.out[l] = NULL;
		return false;
	}
	size_t len = b->lens[b->next];
	const uint8_t *in = b->inputs[b->next];
	size_t blocks = len == 0 ? 1 : (len + B3_BLOCK_LEN - 1) / B3_BLOCK_LEN;

	j->msg = b->next++;
	j->remaining = blocks;
	j->final_len = len - (blocks - 1) * B3_BLOCK_LEN;
	if (j->final_len == B3_BLOCK_LEN) {
		j->final_block = in + (blocks - 1) * B3_BLOCK_LEN;
	} else {
		if (j->final_len > 0) /* in may be NULL for an empty message */
			memcpy(b->pad[l], in + (blocks - 1) * B3_BLOCK_LEN,
			       j->final_len);
		memset(b->pad[l] + j->final_len, 0,
		       B3_BLOCK_LEN - j->final_len);
		j->final_block = b->pad[l];
	}
	j->active = true;
	b->st.ptr[l] = in;
	b->st.flags_first[l] = B3_CHUNK_START;
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
			b->st.flags_last[l] = B3_CHUNK_END | B3_ROOT;
			b->st.out[l] = b->out + 32 * j->msg;
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

static void hash_batch(uint8_t *out, const uint32_t key[8], uint8_t flags,
		       const void *const *inputs, const size_t *lens,
		       size_t count)
{
	batch b;
	const b3_kernels *k = b3_kernels_active();
	size_t lanes = k->lanes;
	size_t active = 0;

	b.inputs = (const uint8_t *const *)inputs;
	b.lens = lens;
	b.count = count;
	b.next = 0;
	b.out = out;
	b.flags = flags;
	memcpy(b.st.key, key, 32);
	b.st.reset_mask = 0;
	for (size_t l = 0; l < lanes; l++) {
		b.st.ctr_lo[l] = 0;
		b.st.ctr_hi[l] = 0;
		b.st.flags_mid[l] = flags;
		b.st.flags_first[l] = 0;
		active += refill(&b, l);
	}
	while (active > 0) {
		size_t n = min_remaining(&b, lanes);

		prepare_run(&b, lanes, n);
		k->lanes_run(&b.st, n);
		active = finish_run(&b, lanes, n);
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
