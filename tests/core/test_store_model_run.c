/*
 * test_store_model_run.c - the seeded run of test_store_model: operations
 * picked by weight (narrow phases forcing duplicates and deletes to zero),
 * a store per run at a given inline threshold and durability (a chunking
 * one under B3CAS_TEST_CHUNKING=1), a final check of everything, and the
 * three model cases (1 KiB inline, default inline, full durability).
 */
#include "test_store_model_int.h"

const char *const op_names[NOPS] = {
	"put new", "put duplicate", "put deleted", "get", "exists", "delete",
	"stat", "put_batch", "get_batch", "writer", "reader", "foreach",
	"close+reopen", "read-only open", "sync", "info", "gc", "read_at",
};

/* per-op weights in 1/1000 */
static const unsigned op_weight[NOPS] = {
	190, 90, 30, 140, 50, 120, 60, 50, 50, 70, 60, 3, 1, 1, 3, 2, 4, 60,
};

/* ---- the run ----------------------------------------------------------- */

static enum op_kind pick_op(run *r)
{
	unsigned w[NOPS], total = 0, x;

	memcpy(w, op_weight, sizeof(w));
	if (r->m.nlive > LIVE_HIGH)
		w[OP_DELETE] *= 4;
	else if (r->m.nlive < LIVE_LOW)
		w[OP_DELETE] /= 3;
	for (int i = 0; i < NOPS; i++)
		total += w[i];
	x = (unsigned)cu_below(&r->rng, total);
	for (int i = 0; i < NOPS; i++) {
		if (x < w[i])
			return (enum op_kind)i;
		x -= w[i];
	}
	return OP_GET;
}

static void do_op(run *r, enum op_kind k)
{
	switch (k) {
	case OP_PUT_NEW: op_put(r, pick_new(r)); break;
	case OP_PUT_DUP: op_put_existing(r, pick_live(r)); break;
	case OP_PUT_GHOST: op_put_existing(r, pick_ghost(r)); break;
	case OP_GET: {
		b3cas_oid id = pick_lookup(r);

		check_get(r, r->s, &id);
		break;
	}
	case OP_EXISTS: op_exists(r); break;
	case OP_DELETE: op_delete(r); break;
	case OP_STAT: op_stat(r); break;
	case OP_PUT_BATCH: op_put_batch(r); break;
	case OP_GET_BATCH: op_get_batch(r); break;
	case OP_WRITER: op_writer(r); break;
	case OP_READER: op_reader(r); break;
	case OP_FOREACH: check_foreach(r, r->s, cu_chance(&r->rng, 1, 3));
		break;
	case OP_REOPEN: op_reopen(r); break;
	case OP_READ_ONLY: op_read_only(r); break;
	case OP_SYNC: op_sync(r); break;
	case OP_INFO: check_info(r, r->s, false); break;
	case OP_GC: op_gc(r); break;
	case OP_READ_AT: op_read_at(r); break;
	default: break;
	}
}

static void run_model(uint64_t seed, size_t threshold, b3cas_durability dur,
		      unsigned long nops)
{
	run *r = calloc(1, sizeof(*r));
	size_t t;
	double t0 = cu_now();

	assert_non_null(r);
	cur = r;
	r->seed = r->rng = seed;
	r->nops = nops;
	r->threshold = threshold ? threshold : B3CAS_INLINE_THRESHOLD_DEFAULT;
	r->durability = dur;
	r->chunking = tu_chunking();
	r->rados = tu_rados();
	cdc_ref_init(&r->cdc, md5_gear, CHUNK_MIN, CHUNK_AVG, CHUNK_MAX, 0);
	r->buf = malloc(MAX_OBJ + 1);
	r->buf2 = malloc(MAX_OBJ + 1);
	r->buf3 = malloc(MAX_OBJ + 1);
	assert_non_null(r->buf);
	assert_non_null(r->buf2);
	assert_non_null(r->buf3);
	t = r->threshold;
	{
		/* a chunking store: right at the size where chunking starts */
		const size_t edge[2] = {r->chunking ? CHUNK_MAX : 1024,
					r->chunking ? CHUNK_MAX + 1 : 64};
		const size_t sizes[NARROW_N] = {
			0, 1, 100, t - 1, t, t + 1, 3000, 70000, edge[0], 5,
			200000, edge[1],
		};

		for (int k = 0; k < NARROW_N; k++) {
			r->narrow_seed[k] = 0xA11CE000ull + (uint64_t)k;
			r->narrow_size[k] = sizes[k];
		}
	}
	snprintf(r->root, sizeof(r->root), "%s/model-%llu-%zu", tmp_root,
		 (unsigned long long)seed, threshold);
	fprintf(stderr, "[test_store_model] seed %llu: %lu ops, inline "
		"threshold %zu, durability %d%s\n", (unsigned long long)seed,
		nops, r->threshold, (int)dur,
		r->chunking ? ", chunking (format 2)"
		: r->rados  ? ", RADOS (format 3)"
			    : "");
	r->kind = OP_REOPEN;
	CHECK_EQ(open_store(r, &r->s, true, false), 0, "%s", "create");
	check_info(r, r->s, false);
	for (r->op = 0; r->op < nops; r->op++) {
		/* narrow phases: a few hundred ops every so often */
		if (r->op % 500 == 0)
			r->narrow = cu_chance(&r->rng, 1, 4);
		r->kind = pick_op(r);
		r->count[r->kind]++;
		do_op(r, r->kind);
	}
	r->kind = OP_REOPEN;
	check_all(r, r->s);
	CHECK_EQ(b3cas_store_close(r->s), 0, "%s", "final close");
	CHECK_EQ(open_store(r, &r->s, false, true), 0, "%s",
		 "final read-only open");
	check_all(r, r->s);
	CHECK_EQ(b3cas_store_close(r->s), 0, "%s", "close");
	fprintf(stderr, "  %.2f s; %zu stored at the end, %zu deleted/"
		"unstored ids, %lu duplicates, %lu deletes to zero, %lu "
		"aborted writers, %.1f MiB put, %lu GCs collected %lu objects "
		"and %lu chunks, %lu range reads\n  ops:",
		cu_now() - t0, r->m.nlive, r->m.nghost, r->dups,
		r->deletes_to_zero, r->aborts,
		(double)r->bytes_put / (1024.0 * 1024.0), r->gcs, r->collected,
		r->chunks_freed, r->ranges);

	for (int i = 0; i < NOPS; i++)
		fprintf(stderr, " %s %lu%s", op_names[i], r->count[i],
			i + 1 < NOPS ? "," : "\n");
	cu_rm_rf(r->root);
	model_free(&r->m);
	free(r->buf);
	free(r->buf2);
	free(r->buf3);
	free(r);
	cur = NULL;
}

void test_model_small_inline(void **state)
{
	(void)state;
	for (unsigned long i = 0; i < nseeds; i++)
		run_model(base_seed + i, 1024,
			  i % 2 ? B3CAS_DURABILITY_BATCH
				: B3CAS_DURABILITY_NONE,
			  ops_per_seed);
}

void test_model_default_inline(void **state)
{
	(void)state;
	for (unsigned long i = 0; i < nseeds; i++)
		run_model(base_seed + 1000 + i, 0,
			  i % 2 ? B3CAS_DURABILITY_NONE
				: B3CAS_DURABILITY_BATCH,
			  ops_per_seed);
}

/* Every put is fsync'd: slow, so a short run. */
void test_model_full(void **state)
{
	(void)state;
	run_model(base_seed + 2000, 4096, B3CAS_DURABILITY_FULL,
		  ops_per_seed / 20 + 50);
}
