/*
 * index/index.c - opening RocksDB with the store's column families and
 * tuning, point reads and atomic batch writes.
 *
 * Tuning, and why:
 *  - full-key bloom filters in the tables and in the memtable: a put of new
 *    content asks for an id that is not there, and that miss should cost
 *    a filter probe, not a block read;
 *  - LZ4 compression: cheap, and it gives up quickly on the incompressible
 *    bytes that most large objects are;
 *  - point-in-time WAL recovery: after a crash the index comes back as of
 *    the last complete write batch, never with half a batch;
 *  - level-0 compaction after 16 files, not RocksDB's 4: keys are hashes,
 *    so every level-0 file overlaps every level-1 file and each L0->L1
 *    compaction rewrites the whole of level 1. Each process that writes
 *    flushes at close (below), so `b3cas put` run by xargs over a folder
 *    tree makes a level-0 file per run. Measured on the sandbox corpus
 *    (bench/compare_stores.sh, b3cas-c4k, 7,980 MB, about 200 runs): CPU
 *    47.0 s -> 37.5 s, the compaction threads' share of it 40% -> 20%,
 *    stored bytes the same. Reads of an id that is not there probe up to
 *    16 more bloom filters; writes slow down at 40 level-0 files and stop
 *    at 60 (RocksDB: 20 and 36).
 *
 * A full disk, and why these settings (docs/store.md, "A full disk"):
 * RocksDB 7.8's file writer, as Debian builds it (assertions on), aborts
 * the process when a file that once failed a write is written again.
 *  - The info log (index/LOG) is such a file, appended to and flushed from
 *    any thread whenever RocksDB has something to say, so on a full disk
 *    the second message killed the process (`init` on a 64 MiB file
 *    system, `rm` and `gc` on a full one). The level is HEADER_LEVEL,
 *    which writes nothing at all: RocksDB's header lines go through
 *    Logger::LogHeader, whose default is an INFO line, below the level.
 *    (A logger of our own cannot be given through the C API of 7.8, and
 *    one that cannot be created fails the open.)
 *  - No fallocate: RocksDB preallocates each log file to 1.1 times the
 *    write buffer (70 MiB) and each compaction output to 1.1 times the
 *    target file size. On a small or nearly full disk ext4 gives it every
 *    free block it has before failing (the failure is ignored), so a
 *    first open of a 64 MiB file system left nothing for anything else,
 *    and a full disk is reached with tens of MiB held unused. Measured:
 *    1 KiB puts in full durability cost the same without it (the log's
 *    fdatasync dominates).
 *  - No flush during recovery: an open replays the log into the memtables
 *    and leaves them there, instead of writing them out as tables first,
 *    which needs as much room as the log holds: a store whose writer
 *    stopped on a full disk with a large log could not be opened to free
 *    space. The old logs are kept until the next flush (at close); point-
 *    in-time recovery carries on past a log whose tail a failed write cut
 *    (RocksDB continues when the next log's first sequence follows on).
 *    RocksDB 7.8 never syncs the logs it replays. Yet the open moves
 *    past such a log the log number of every column family the log holds
 *    nothing for, in a manifest it syncs, and a later flush does so for
 *    the family it writes out (it syncs only the logs this process
 *    wrote). A log the last process left unsynced (an inline-only put
 *    run in durability none whose log write failed, so that its close
 *    neither flushed nor synced, say), cut by
 *    a power loss after that, made the next open refuse the index: "SST
 *    file is ahead of WALs in CF meta" (test_powerloss found it; its
 *    test_kept_log replays it). So a writable open first fsyncs every
 *    log file in the folder, and the folder (sync_kept_logs). After a
 *    clean close that is one empty log.
 *
 * An index that another process holds open (RocksDB's index/LOCK busy) is
 * B3CAS_ELOCKED naming that process, never damage.
 */
#include "index/index.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "util/error.h"
#include "util/fsutil.h"
#include "util/holder.h"

static const char *const cf_names[B3CAS_CF_COUNT] = {"content", "refs",
						     "meta", "data"};

int b3cas__index_error(char *err, const char *what)
{
	int code = B3CAS_EIO;

	if (!err)
		return b3cas__error(B3CAS_ERROR, "%s: unknown RocksDB error",
				    what);
	if (strstr(err, "No space left") || strstr(err, "Disk quota")) {
		b3cas__error(B3CAS_ENOSPC, "disk full: %s: %s", what, err);
		free(err);
		return B3CAS_ENOSPC;
	}
	else if (strstr(err, "Permission denied") ||
		 strstr(err, "Read-only file system"))
		code = B3CAS_EPERM;
	else if (strncmp(err, "Corruption", 10) == 0)
		code = B3CAS_ECORRUPT;
	else if (strstr(err, "does not exist (create_if_missing is false)") ||
		 strstr(err, "No such file or directory"))
		code = B3CAS_ENOTFOUND;
	else if ((strstr(err, "lock") && strstr(err, "unavailable")) ||
		 strstr(err, "lock hold by current process"))
		code = B3CAS_ELOCKED;
	else if (strncmp(err, "Invalid argument", 16) == 0)
		code = B3CAS_EFORMAT;
	if (code == B3CAS_ECORRUPT)
		b3cas__error(code, "%s: %s (the index is damaged: 'b3cas fsck' "
			     "reports it, 'b3cas recover' mends it)", what,
			     err);
	else
		b3cas__error(code, "%s: %s", what, err);
	free(err);
	return code;
}

/* o without fallocate and flushes during recovery (see above; not
 * settable through 7.8's C API, only by name). Should that fail (it
 * cannot with 7.8), o as it was: worse on a full disk, not wrong. */
static rocksdb_options_t *full_disk_options(rocksdb_options_t *o)
{
	rocksdb_options_t *n = rocksdb_options_create();
	char *err = NULL;

	rocksdb_get_options_from_string(
		o, "allow_fallocate=false;avoid_flush_during_recovery=true", n,
		&err);
	if (err) {
		free(err);
		rocksdb_options_destroy(n);
		return o;
	}
	rocksdb_options_destroy(o);
	return n;
}

/*
 * The memtable filters' size, as a share of the write buffer. RocksDB
 * allocates and zeroes the whole filter with every memtable, the empty
 * ones an open makes included, whatever the memtable will hold: at 0.05
 * that was 3.2 MiB for each 64 MiB family, about 50 ms of every writing
 * open in page faults on this machine (the memsets were a quarter of a
 * `b3cas put` of 500 files, perf), so a `put` run per folder paid it each
 * time. On a virtual machine first-touched memory is that slow still: at
 * 0.01 (and refs 0.05) the four filters were 2.4 MiB and about 10 ms of
 * a 37 ms open (perf, oc harness over the 225 MB corpus store), so now
 * 0.002 and 0.01, 0.5 MiB in all: open 37 -> 28 ms, and 26 ms with no
 * filters at all. The content and meta families' entries are large
 * (chunks, segments) or few, so 0.002 (1.07 million bits) still gives
 * about 30 bits per key of a full memtable of chunks; the refs family's
 * small entries (about 140,000 in its 8 MiB) get about 5 bits each,
 * still a filter that lets most misses skip the skip list. Our own
 * filter answers the misses of new content before RocksDB is asked.
 */
#define MEMTABLE_BLOOM 0.002
#define MEMTABLE_BLOOM_REFS 0.01

static int opening_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 16 ? 16 : (int)n;
}

/*
 * The block cache the content, refs and meta families share: an LRU
 * that grows only as blocks are read, so a small store never fills it.
 * At 64 MiB a store of 1,000,000 objects found few of its random lookups'
 * blocks there (each an LZ4 block read from the page cache, about 4.5
 * us): b3cas_git_lookup, two reads, took 11.4 us (bench_git_map); with
 * 256 MiB, 6.9 us.
 */
#define INDEX_CACHE (256u << 20)

/* The tuning above; for_writing adds the background threads that
 * flushes and compactions need (a read-only handle never runs either). */
/* x within [lo, hi]. */
static size_t clamp(uint64_t x, size_t lo, size_t hi)
{
	return x < lo ? lo : x > hi ? hi : (size_t)x;
}

/*
 * A memory bound M (b3cas_store_options.index_memory; 0: none) shares
 * out as: the shared block cache M/4 (at most INDEX_CACHE), the data
 * family's M/8 (at most 32 MiB), all memtables together M/2
 * (db_write_buffer_size: RocksDB flushes the largest when they pass it),
 * each at most M/8 (and the defaults), and the store's set of known ids
 * M/8 (open.c). Measured in test_git_stream.
 */
#define MEM_LO (1u << 20)

/*
 * MMAP_READS: a read-only handle with no memory bound reads its tables
 * through mmap, not pread. A restore of an old checkpoint reads most of the
 * content family's delta entries, a 4 KiB block or two each: with
 * pread, each was a system call and a copy into a buffer of its own.
 * Measured on the 50-step store of bench/checkpoint_series.sh
 * (2026-12-07, 3 runs each, in turn): the restore of the first
 * checkpoint 2.22-2.32 -> 1.42-1.56 s wall, 4.2-4.4 -> 2.6-2.8 s of
 * CPU; the newest one, read mostly from the data family's large
 * blocks, unchanged (0.77-1.12 against 0.80-1.16 s). Writing handles
 * keep pread: 8 creates in a row of the same series took as long with
 * mmap (15.7 s against 15.4-15.9). What it costs:
 * - the pages read count in the process's RSS (the first checkpoint's
 *   restore 311 -> 444 MB, the newest's 123 -> 427 MB): they are the
 *   page cache's, shared and dropped under pressure, but a handle
 *   opened with a memory bound keeps pread so that its RSS is what
 *   the bound says;
 * - an I/O error of the disk under a table is SIGBUS, not an error
 *   returned (LevelDB's default trade); a damaged block still fails its
 *   checksum as before (test_recover, cli_integrity).
 */

/*
 * TABLE_CHECKSUM: the check of every table block RocksDB writes, XXH3
 * (RocksDB's kXXH3) rather than its default CRC32C. Debian's RocksDB is
 * built for any x86-64, so its CRC32C is the table-driven one: checking
 * the blocks a restore of a 960 MiB image read took 5% of its CPU. Each
 * table records its own kind, so the tables of earlier versions are
 * read as before and rewritten with XXH3 by their next compaction. (The
 * log keeps CRC32C: its format has no other.)
 */
#define TABLE_CHECKSUM 4

static rocksdb_options_t *new_options(bool for_writing, uint64_t memory)
{
	rocksdb_options_t *o = rocksdb_options_create();
	rocksdb_block_based_table_options_t *t =
		rocksdb_block_based_options_create();
	rocksdb_cache_t *cache = rocksdb_cache_create_lru(
		memory ? clamp(memory / 4, MEM_LO, INDEX_CACHE) : INDEX_CACHE);

	rocksdb_block_based_options_set_filter_policy(
		t, rocksdb_filterpolicy_create_bloom_full(10));
	rocksdb_block_based_options_set_checksum(t, TABLE_CHECKSUM);
	rocksdb_block_based_options_set_block_cache(t, cache);
	rocksdb_options_set_block_based_table_factory(o, t);
	/* The options hold their own references now. */
	rocksdb_cache_destroy(cache);
	rocksdb_block_based_options_destroy(t);

	if (for_writing)
		rocksdb_options_increase_parallelism(o, 2);
	rocksdb_options_set_memtable_whole_key_filtering(o, 1);
	rocksdb_options_set_memtable_prefix_bloom_size_ratio(o, MEMTABLE_BLOOM);
	rocksdb_options_set_compression(o, rocksdb_lz4_compression);
	rocksdb_options_set_wal_recovery_mode(o, 2); /* point in time */
	rocksdb_options_set_level0_file_num_compaction_trigger(o, 16);
	rocksdb_options_set_level0_slowdown_writes_trigger(o, 40);
	rocksdb_options_set_level0_stop_writes_trigger(o, 60);
	rocksdb_options_set_keep_log_file_num(o, 4);
	rocksdb_options_set_info_log_level(o, 5);    /* none: see above */
	rocksdb_options_set_enable_pipelined_write(o, 1);
	/* An open loads every table's index and filter on this many
	 * threads (RocksDB's default 16): more threads than CPUs only add
	 * their start-up (measured on 2 CPUs: open 47 -> 37 ms with 2). */
	rocksdb_options_set_max_file_opening_threads(o, opening_threads());
	if (memory) {
		rocksdb_options_set_write_buffer_size(
			o, clamp(memory / 8, MEM_LO, 64u << 20));
		rocksdb_options_set_db_write_buffer_size(o, memory / 2);
	} else if (!for_writing) {
		rocksdb_options_set_allow_mmap_reads(o, 1); /* MMAP_READS */
	}
	return full_disk_options(o);
}

rocksdb_options_t *b3cas__index_new_options(void)
{
	return new_options(true, 0);
}

/*
 * What a read-only handle does not need (measured with 3 column families
 * on a store of 3000 objects: a read-only open took 16.6 MB of RSS and
 * started 3 threads, 10.5 MB of it the memtable filters): the memtable
 * filters (64 MiB x 0.05 each, allocated with every memtable, also the
 * empty ones a read-only open makes; they only speed up misses in the
 * writes replayed from the log). The background threads are left out
 * by new_options(false).
 */
static void trim_read_only(rocksdb_options_t *o)
{
	rocksdb_options_set_memtable_prefix_bloom_size_ratio(o, 0);
	rocksdb_options_set_memtable_whole_key_filtering(o, 0);
}

/*
 * The data family of a packed store (docs/compression.md): keys are
 * sequence numbers that only grow, so neighbouring values are chunks put
 * one after another, and a block of 64 KiB of them compresses as one
 * zstd frame at the store's level (measured on the sandbox corpus: 7%
 * smaller than a frame per chunk; 16 KiB blocks 4%, 128 KiB 8.5%). No
 * filters: a read follows an entry that names its key, so the key is
 * there, and RocksDB finds its table by range. Its own block cache: a
 * block is large and is read for one chunk of it.
 *
 * A 16 MiB memtable, not the others' 64: the new chunks of a large put
 * are flushed (compressed at the store's level) on RocksDB's thread
 * while the put goes on, instead of all at close on one thread while
 * the put waits, and a put holds a quarter of the memory. Measured on
 * the sandbox corpus (bench/compare_stores.sh, two runs each, in turn):
 * peak RSS 173 -> 80-84 MB, ingest 25.8 / 31.2 s -> 24.4 / 25.8 s wall;
 * a put of one snapshot holding a tar (013-sb5-cp1, 197 MB) 1.17-1.32 ->
 * 1.00-1.07 s. 4 MiB gave 67-70 MB but more CPU (35.0 / 37.9 s against
 * 32.6 / 34.3): many more tables to open and flush. Flushes during a
 * put need room on the disk: the room check counts them
 * (b3cas__index_unflushed, reserve.c).
 */
#define DATA_WRITE_BUFFER (16u << 20)
static rocksdb_options_t *data_options(const rocksdb_options_t *base,
				       int level, bool read_only,
				       uint64_t memory)
{
	rocksdb_options_t *o = rocksdb_options_create_copy(
		(rocksdb_options_t *)base);
	rocksdb_block_based_table_options_t *t =
		rocksdb_block_based_options_create();
	rocksdb_cache_t *cache = rocksdb_cache_create_lru(
		memory ? clamp(memory / 8, MEM_LO, 32u << 20) : 32u << 20);

	rocksdb_block_based_options_set_block_size(t, 64u << 10);
	rocksdb_block_based_options_set_checksum(t, TABLE_CHECKSUM);
	rocksdb_block_based_options_set_block_cache(t, cache);
	rocksdb_options_set_block_based_table_factory(o, t);
	rocksdb_cache_destroy(cache);
	rocksdb_block_based_options_destroy(t);
	rocksdb_options_set_compression(o, rocksdb_zstd_compression);
	/* window bits (zlib only), level, strategy (zlib), dictionary */
	rocksdb_options_set_compression_options(o, -14, level > 0 ? level : 3,
						0, 0);
	rocksdb_options_set_memtable_prefix_bloom_size_ratio(o, 0);
	rocksdb_options_set_memtable_whole_key_filtering(o, 0);
	rocksdb_options_set_write_buffer_size(
		o, memory ? clamp(memory / 8, MEM_LO, DATA_WRITE_BUFFER)
			  : DATA_WRITE_BUFFER);
	if (read_only)
		rocksdb_options_set_max_open_files(o, -1);
	return o;
}

/* Does the index at path have a data family? false when it cannot be
 * told (no index yet: the open that follows says why). */
static bool has_data_family(const rocksdb_options_t *o, const char *path)
{
	char *err = NULL;
	size_t n = 0;
	char **names = rocksdb_list_column_families(o, path, &n, &err);
	bool found = false;

	/* The list is allocated even on an error (empty then). */
	for (size_t i = 0; !err && i < n; i++)
		found = found || strcmp(names[i], cf_names[B3CAS_CF_DATA]) == 0;
	if (names)
		rocksdb_list_column_families_destroy(names, n);
	free(err);
	return found;
}

static int open_db(b3cas_index *ix, const char *path, bool create,
		   bool with_data)
{
	const char *names[B3CAS_CF_COUNT + 1];
	const rocksdb_options_t *cf_opts[B3CAS_CF_COUNT + 1];
	rocksdb_column_family_handle_t *handles[B3CAS_CF_COUNT + 1];
	int count = with_data ? B3CAS_CF_COUNT : B3CAS_CF_DATA;
	char *err = NULL;

	names[0] = "default";
	cf_opts[0] = ix->options;
	for (int i = 0; i < B3CAS_CF_COUNT; i++) {
		names[i + 1] = cf_names[i];
		cf_opts[i + 1] = ix->options;
	}
	cf_opts[1 + B3CAS_CF_REFS] = ix->refs_options;
	cf_opts[1 + B3CAS_CF_DATA] = ix->data_options;
	rocksdb_options_set_create_if_missing(ix->options, create);
	rocksdb_options_set_create_missing_column_families(ix->options,
							   create);
	if (ix->read_only)
		ix->db = rocksdb_open_for_read_only_column_families(
			ix->options, path, count + 1, names, cf_opts,
			handles, 0, &err);
	else
		ix->db = rocksdb_open_column_families(
			ix->options, path, count + 1, names, cf_opts,
			handles, &err);
	if (err)
		return b3cas__index_error(err, "cannot open the index");
	ix->cf_default = handles[0];
	for (int i = 0; i < B3CAS_CF_COUNT; i++)
		ix->cf[i] = i < count ? handles[i + 1] : NULL;
	return 0;
}

/* A RocksDB log file's name: digits, then ".log". */
static bool is_log_name(const char *name)
{
	size_t n = strspn(name, "0123456789");

	return n > 0 && strcmp(name + n, ".log") == 0;
}

/*
 * Make durable the log files a writable open will replay and keep (see
 * above), before RocksDB opens: fsync each, then the folder. A failure
 * fails the open, which would otherwise write a manifest that a power
 * loss could leave ahead of the logs. No folder yet (a store being
 * made): nothing to do.
 */
static int sync_kept_logs(const char *path, int *count)
{
	char file[4096];
	struct dirent *e;
	int rc = 0, logs = 0;
	DIR *d = opendir(path);

	if (!d && errno == ENOENT)
		return 0;
	if (!d)
		return b3cas__error_errno(errno, "cannot list the index %s",
					  path);
	for (;;) {
		int fd;

		errno = 0;
		if (!(e = readdir(d))) {
			if (errno)
				rc = b3cas__error_errno(errno, "cannot list "
							"the index %s", path);
			break;
		}
		if (!is_log_name(e->d_name))
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT) /* deleted as obsolete */
				continue;
			rc = b3cas__error_errno(errno, "cannot open the index "
						"log %s", file);
			break;
		}
		rc = b3cas__fsync(fd, file);
		close(fd);
		if (rc < 0)
			break;
		logs++;
	}
	closedir(d);
	*count = logs;
	return rc < 0 || !logs ? rc : b3cas__fsync_dir(path);
}

/*
 * RocksDB's lock on <path>/LOCK is held: the index is open in another
 * process (or another handle of this one) - in use, never damaged. Say
 * who holds it, from the kernel's list of locks, keeping RocksDB's words.
 */
static int index_in_use(const char *path)
{
	char said[512], lock[4096];
	struct stat st;
	long pid = 0;

	snprintf(said, sizeof(said), "%s", b3cas_error_last());
	snprintf(lock, sizeof(lock), "%s/LOCK", path);
	if (stat(lock, &st) == 0)
		pid = b3cas__lock_holder(st.st_dev, st.st_ino);
	if (pid > 0)
		return b3cas__error(B3CAS_ELOCKED,
				    "the index %s is in use by process %ld "
				    "(it holds %s; %s)", path, pid, lock, said);
	return b3cas__error(B3CAS_ELOCKED,
			    "the index %s is in use by another process (it "
			    "holds %s; %s)", path, lock, said);
}

int b3cas__index_open(b3cas_index **out, const char *path, bool create,
		      bool read_only, int packed_level)
{
	return b3cas__index_open_sized(out, path, create, read_only,
				       packed_level, 0);
}

int b3cas__index_open_sized(b3cas_index **out, const char *path,
			    bool create, bool read_only, int packed_level,
			    uint64_t memory)
{
	b3cas_index *ix = calloc(1, sizeof(*ix));
	bool with_data;
	int rc;

	if (!ix)
		return b3cas__error(B3CAS_ENOMEM, "out of memory");
	ix->read_only = read_only;
	pthread_mutex_init(&ix->wq_lock, NULL);
	pthread_mutex_init(&ix->log_lock, NULL);
	ix->wq_tail = &ix->wq_head;
	ix->options = new_options(!read_only, memory);
	/* Writers are combined (b3cas__index_write): one thread at a time
	 * writes, so RocksDB's pipelining of concurrent writers only adds
	 * its hand-offs. */
	rocksdb_options_set_enable_pipelined_write(ix->options, 0);
	/*
	 * The refs column family takes small entries (counts, candidates'
	 * marks) in bursts: a delete of a million objects writes a million.
	 * A 64 MiB memtable of them is a skip list of 800,000 nodes whose
	 * inserts miss the cache at every level; 8 MiB keeps it near
	 * 100,000 (measured: GC of 300,000 candidates 240,000 -> 340,000
	 * per second, duplicate puts 0.5 us faster).
	 */
	ix->refs_options = rocksdb_options_create_copy(ix->options);
	rocksdb_options_set_write_buffer_size(
		ix->refs_options,
		memory ? clamp(memory / 8, MEM_LO, 8u << 20) : 8u << 20);
	rocksdb_options_set_memtable_prefix_bloom_size_ratio(
		ix->refs_options, MEMTABLE_BLOOM_REFS);
	ix->read = rocksdb_readoptions_create();
	ix->write = rocksdb_writeoptions_create();
	ix->write_sync = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(ix->write_sync, 1);
	if (read_only) {
		/* Keep every table file open from the start: the writing
		 * process may delete files that compaction replaced, and an
		 * open file stays readable. */
		rocksdb_options_set_max_open_files(ix->options, -1);
		trim_read_only(ix->options);
		trim_read_only(ix->refs_options);
	}
	ix->data_options = data_options(ix->options, packed_level, read_only,
					memory);
	with_data = (create && !read_only && packed_level > 0) ||
		    has_data_family(ix->options, path);
	rc = read_only ? 0 : sync_kept_logs(path, &ix->logs_at_open);
	if (rc == 0)
		rc = open_db(ix, path, create && !read_only, with_data);
	/* A read-only open reads the manifest, then opens the files it
	 * lists; a concurrent compaction in the writer can delete one in
	 * between. A fresh attempt reads the new manifest. */
	for (int i = 0; read_only && rc < 0 && i < 50 &&
			strstr(b3cas_error_last(), "No such file");
	     i++) {
		struct timespec pause = {0, 10 * 1000 * 1000};

		nanosleep(&pause, NULL);
		rc = open_db(ix, path, false, with_data);
	}
	if (rc == B3CAS_ELOCKED)
		rc = index_in_use(path);
	if (rc < 0) {
		b3cas__index_close(ix);
		return rc;
	}
	*out = ix;
	return 0;
}

/*
 * A writing close waits for the index's compactions that ran or were due
 * before its own flush. RocksDB's close
 * marks the database as shutting down, and a compaction under way stops
 * at that mark and its output is thrown away. When a store is written by
 * one short `b3cas put` after another, the compaction of a family's
 * level 0 (due from 16 tables on) took longer than a run lived: every run
 * started it again at open, on the second CPU, and dropped it at close,
 * and level 0 kept growing. Measured on the sandbox corpus
 * (docs/benchmarks.md): a put of one known file into the store the
 * corpus left spent 5% of its samples in such a compaction, and the
 * ingest of the 112 snapshots took 30.9-34.3 s of CPU instead of
 * 34.8-44.8 s. So close waits until none runs or is due, polling every
 * 2 ms: at most CLOSE_COMPACT_WAIT_MS in all, and no longer than
 * CLOSE_COMPACT_IDLE_MS while one is due but none runs (RocksDB
 * schedules a due compaction at once; one it will not start, after a
 * background error say, must not hold the close). A compaction still
 * running at the limit is dropped as before and started again by the
 * next writer; writes slow down at 40 level-0 tables, so a long one gets
 * done in the end by the writer that meets the slowdown.
 *
 * A compaction that only the close's own flush made due is not waited
 * for: RocksDB drops it as it starts, and the next writer's open starts
 * it again, on a background thread while that writer works, and that
 * writer's close waits for what is left. In a series of checkpoint
 * creates every fourth or so made the data family's level 0 due, and its
 * compaction (the whole family rewritten: the whole chunks a create
 * replaces by deltas lie all over its keys) made that create about 1.5 s
 * longer, while a create keeps one CPU of two busy on average
 * (docs/benchmarks.md). A writer that meets the compaction due at open
 * pays what it does not hide; `b3cas put` run one after another pays the
 * same as before, one run later.
 */
#define CLOSE_COMPACT_WAIT_MS 30000
#define CLOSE_COMPACT_IDLE_MS 500
#define CLOSE_COMPACT_POLL_MS 2

/* 2 when a compaction runs, 1 when one is due in some family, else 0. */
static int compaction_state(b3cas_index *ix)
{
	uint64_t v = 0;

	if (rocksdb_property_int(ix->db, "rocksdb.num-running-compactions",
				 &v) == 0 &&
	    v > 0)
		return 2;
	for (int i = 0; i < B3CAS_CF_COUNT; i++)
		if (ix->cf[i] &&
		    rocksdb_property_int_cf(ix->db, ix->cf[i],
					    "rocksdb.compaction-pending",
					    &v) == 0 &&
		    v > 0)
			return 1;
	return 0;
}

static void wait_compactions(b3cas_index *ix)
{
	const struct timespec pause = {0, CLOSE_COMPACT_POLL_MS * 1000000L};
	unsigned waited = 0, idle = 0;
	int state;

	while (waited < CLOSE_COMPACT_WAIT_MS && idle < CLOSE_COMPACT_IDLE_MS &&
	       (state = compaction_state(ix)) > 0) {
		idle = state == 2 ? 0 : idle + CLOSE_COMPACT_POLL_MS;
		nanosleep(&pause, NULL);
		waited += CLOSE_COMPACT_POLL_MS;
	}
}

uint64_t b3cas__index_unflushed(b3cas_index *ix)
{
	uint64_t sum = 0, v;

	for (int i = 0; ix->db && i < B3CAS_CF_COUNT; i++)
		if (ix->cf[i] &&
		    rocksdb_property_int_cf(ix->db, ix->cf[i],
					    "rocksdb.cur-size-all-mem-tables",
					    &v) == 0)
			sum += v;
	return sum;
}

void b3cas__index_compact(b3cas_index *ix)
{
	for (int i = 0; i < B3CAS_CF_COUNT; i++)
		if (ix->cf[i])
			rocksdb_compact_range_cf(ix->db, ix->cf[i], NULL, 0,
						 NULL, 0);
}

/*
 * Logs that writable sessions which wrote nothing left behind. Each
 * writable open starts a new log, and RocksDB deletes the old ones only
 * when a flush moves past them; a session that writes nothing has
 * nothing to flush. So `b3cas gc` run again and again on a store with
 * nothing to collect, or opens that failed after the index opened (the
 * long form of test_nomem: over 4,000 in its store), added one empty log
 * each, and each open fsyncs and replays every log (sync_kept_logs): the
 * opens grew slower without end. From LOGS_SWEEP logs found at open, the
 * close puts one key in the default family, through the log, and flushes
 * it: the new log then holds something, so RocksDB starts another and
 * moves every empty family past the old ones, which it deletes. The key
 * means nothing (nothing reads the default family); a failure here is
 * only logs kept until the next close.
 */
#define LOGS_SWEEP 4
static void sweep_logs(b3cas_index *ix, rocksdb_flushoptions_t *fo)
{
	static const char key[] = "b3cas.logs-swept";
	rocksdb_writebatch_t *b = rocksdb_writebatch_create();
	char *err = NULL;

	rocksdb_writebatch_put_cf(b, ix->cf_default, key, sizeof(key) - 1,
				  "", 0);
	if (b3cas__index_write(ix, b, false) == 0)
		rocksdb_flush_cf(ix->db, fo, ix->cf_default, &err);
	rocksdb_writebatch_destroy(b);
	free(err);
	b3cas_error_clear();
}

void b3cas__index_close(b3cas_index *ix)
{
	if (!ix)
		return;
	if (ix->db && !ix->read_only && !atomic_load(&ix->failed)) {
		/*
		 * Write the memtables out, so the next open has no log to
		 * replay (a full 64 MiB memtable took over 2 s to replay and
		 * flush at open). A failure here loses nothing: the log
		 * still holds every write and is replayed instead.
		 */
		rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
		char *err = NULL;
		/* Whether a compaction ran or was due before this flush
		 * ("A writing close waits", above). */
		int before = compaction_state(ix);

		rocksdb_flushoptions_set_wait(fo, 1);
		for (int i = 0; i < B3CAS_CF_COUNT && !err; i++)
			if (ix->cf[i])
				rocksdb_flush_cf(ix->db, fo, ix->cf[i], &err);
		if (!err && ix->logs_at_open >= LOGS_SWEEP)
			sweep_logs(ix, fo);
		rocksdb_flushoptions_destroy(fo);
		/* A compaction this close's flushes made due is left to the
		 * next writer (above). */
		if (!err && before > 0)
			wait_compactions(ix);
		free(err);
	}
	if (ix->db) {
		for (int i = 0; i < B3CAS_CF_COUNT; i++)
			if (ix->cf[i])
				rocksdb_column_family_handle_destroy(
					ix->cf[i]);
		rocksdb_column_family_handle_destroy(ix->cf_default);
		rocksdb_close(ix->db);
	}
	rocksdb_writeoptions_destroy(ix->write_sync);
	rocksdb_writeoptions_destroy(ix->write);
	rocksdb_readoptions_destroy(ix->read);
	rocksdb_options_destroy(ix->refs_options);
	if (ix->data_options)
		rocksdb_options_destroy(ix->data_options);
	rocksdb_options_destroy(ix->options);
	pthread_mutex_destroy(&ix->wq_lock);
	pthread_mutex_destroy(&ix->log_lock);
	free(ix);
}

int b3cas__index_get(b3cas_index *ix, int cf, const void *key, size_t klen,
		     rocksdb_pinnableslice_t **out)
{
	return b3cas__index_get_at(ix, NULL, cf, key, klen, out);
}

int b3cas__index_get_at(b3cas_index *ix, const rocksdb_readoptions_t *ro,
			int cf, const void *key, size_t klen,
			rocksdb_pinnableslice_t **out)
{
	char *err = NULL;
	rocksdb_pinnableslice_t *v = rocksdb_get_pinned_cf(
		ix->db, ro ? ro : ix->read, ix->cf[cf], key, klen, &err);

	if (err)
		return b3cas__index_error(err, "index read failed");
	if (!v)
		return 0;
	*out = v;
	return 1;
}

int b3cas__index_has(b3cas_index *ix, int cf, const void *key, size_t klen)
{
	rocksdb_pinnableslice_t *v = NULL;
	int rc = b3cas__index_get(ix, cf, key, klen, &v);

	if (rc == 1)
		rocksdb_pinnableslice_destroy(v);
	return rc;
}

/*
 * One writer's place in the queue, on its stack. The writer sleeps on
 * state with a futex: whoever changes state wakes it after the change,
 * and may do so after the writer saw the change and left (a wake of a
 * word nobody waits on does nothing; a stray wake is a spurious one,
 * which every futex waiter re-checks).
 */
typedef struct b3cas_write_req {
	rocksdb_writebatch_t *batch;
	bool sync;
	char *err;            /* RocksDB's message, or NULL */
	bool failed;          /* failed, even if err could not be kept */
	_Atomic uint32_t state;
	struct b3cas_write_req *next;
} write_req;

enum { REQ_WAITING, REQ_DONE, REQ_LEAD };

/* Rounds a combiner runs before it hands over to the oldest waiter. */
#define COMBINE_ROUNDS 4
/* Most batches and bytes merged into one RocksDB write. */
#define MERGE_MAX 256
#define MERGE_BYTES (4u << 20)

/* A write batch's representation: a 12-byte header (sequence number,
 * 8 bytes, and record count, 4 bytes, little-endian), then the records.
 * It is also the format of RocksDB's log, so it does not change. */
#define BATCH_HEADER 12

static void futex_wake(_Atomic uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void req_set(write_req *q, uint32_t state)
{
	atomic_store_explicit(&q->state, state, memory_order_release);
	futex_wake(&q->state);
}

static uint32_t req_wait(write_req *q, bool spin)
{
	uint32_t st;

	/* The first in line spins a little first: the combiner is often
	 * done within microseconds, and a futex sleep and wake cost more
	 * than that. Later ones sleep at once, leaving the CPU to it. */
	for (int i = 0; spin && i < 200; i++) {
		st = atomic_load_explicit(&q->state, memory_order_acquire);
		if (st != REQ_WAITING)
			return st;
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	}
	while ((st = atomic_load_explicit(&q->state, memory_order_acquire)) ==
	       REQ_WAITING)
		syscall(SYS_futex, &q->state, FUTEX_WAIT_PRIVATE, REQ_WAITING,
			NULL, NULL, 0);
	return st;
}

/*
 * One RocksDB write of the n batches from first on: their records one
 * after another under one header. Returns false (nothing written) when a
 * batch's representation is not as expected, so the caller writes them
 * one by one instead.
 */
static bool write_merged(b3cas_index *ix, write_req *first, size_t n,
			 bool sync, char **err)
{
	size_t total = BATCH_HEADER, len;
	uint32_t count = 0;
	write_req *q = first;
	rocksdb_writebatch_t *merged;
	char *rep, *p;

	for (size_t i = 0; i < n; i++, q = q->next) {
		const char *d = rocksdb_writebatch_data(q->batch, &len);
		uint32_t c;

		if (len < BATCH_HEADER)
			return false;
		memcpy(&c, d + 8, 4);
		if (c != (uint32_t)rocksdb_writebatch_count(q->batch))
			return false;
		count += c;
		total += len - BATCH_HEADER;
	}
	rep = malloc(total);
	if (!rep)
		return false;
	memset(rep, 0, 8);
	memcpy(rep + 8, &count, 4);
	p = rep + BATCH_HEADER;
	for (q = first; n--; q = q->next) {
		const char *d = rocksdb_writebatch_data(q->batch, &len);

		memcpy(p, d + BATCH_HEADER, len - BATCH_HEADER);
		p += len - BATCH_HEADER;
	}
	merged = rocksdb_writebatch_create_from(rep, total);
	free(rep);
	rocksdb_write(ix->db, sync ? ix->write_sync : ix->write, merged, err);
	rocksdb_writebatch_destroy(merged);
	return true;
}

/*
 * Write every batch of list, in order, in as few RocksDB writes as
 * possible (runs of up to MERGE_MAX batches or MERGE_BYTES); a run that
 * any writer asked to sync is synced once. Each writer gets the error of
 * the write that carried its batch.
 */
static void write_round(b3cas_index *ix, write_req *list)
{
	while (list) {
		write_req *q = list, *end;
		size_t n = 0, bytes = 0, len;
		bool sync = false, bad = false; /* bad: all of the run failed */
		char *err = NULL;

		for (; q && n < MERGE_MAX && bytes < MERGE_BYTES; q = q->next) {
			rocksdb_writebatch_data(q->batch, &len);
			bytes += len;
			sync |= q->sync;
			n++;
		}
		end = q;
		pthread_mutex_lock(&ix->log_lock);
		if (atomic_load(&ix->failed)) {
			/* Never hand RocksDB's log writer another record
			 * after it failed (see b3cas_index.failed). */
			err = strdup("IO error: the index log failed earlier; "
				     "close and reopen the store");
			bad = true;
		} else if (n == 1 || !write_merged(ix, list, n, sync, &err)) {
			/* One by one; the last syncs the log for all. */
			for (q = list; q != end; q = q->next) {
				rocksdb_write(ix->db,
					      sync && q->next == end
						      ? ix->write_sync
						      : ix->write,
					      q->batch, &q->err);
				bad |= q->err != NULL;
				if (q->err && !err)
					err = strdup(q->err);
			}
			/* A failed sync leaves none of them durable; without
			 * one, each writer has only its own outcome. */
			if (!sync)
				free(err), err = NULL, bad = false;
		} else {
			bad = err != NULL; /* the merged write */
		}
		/* A message that cannot be copied (out of memory) must not
		 * turn a failure into a success: failed says it anyway. */
		for (q = list; q != end; q = q->next) {
			if (bad && err && !q->err)
				q->err = strdup(err);
			q->failed = bad || q->err != NULL;
			if (q->failed)
				atomic_store(&ix->failed, true);
		}
		pthread_mutex_unlock(&ix->log_lock);
		free(err);
		list = end;
	}
}

/* Run rounds until the queue is empty or it is someone else's turn.
 * Called with wq_lock held; returns with it released. */
static void combine(b3cas_index *ix)
{
	for (int round = 0; ix->wq_head; round++) {
		write_req *list = ix->wq_head, *next;

		if (round == COMBINE_ROUNDS) {
			/* Hand over to the oldest waiter; combining stays
			 * set for it. */
			ix->wq_head = list->next;
			if (!ix->wq_head)
				ix->wq_tail = &ix->wq_head;
			pthread_mutex_unlock(&ix->wq_lock);
			req_set(list, REQ_LEAD);
			return;
		}
		ix->wq_head = NULL;
		ix->wq_tail = &ix->wq_head;
		pthread_mutex_unlock(&ix->wq_lock);
		write_round(ix, list);
		/* Mark them all, wake only the first: each writer wakes the
		 * next as it leaves (b3cas__index_write), so the wakes are
		 * spread over the CPUs instead of delaying the next round. A
		 * writer may leave as soon as it sees DONE: read next first. */
		for (write_req *q = list; q; q = next) {
			next = q->next;
			atomic_store_explicit(&q->state, REQ_DONE,
					      memory_order_release);
		}
		futex_wake(&list->state);
		pthread_mutex_lock(&ix->wq_lock);
	}
	ix->combining = false;
	pthread_mutex_unlock(&ix->wq_lock);
}

int b3cas__index_write(b3cas_index *ix, rocksdb_writebatch_t *batch,
		       bool sync)
{
	write_req r = {.batch = batch, .sync = sync};
	uint32_t st = REQ_LEAD;

	atomic_init(&r.state, REQ_WAITING);
	pthread_mutex_lock(&ix->wq_lock);
	if (ix->combining) {
		bool first = ix->wq_head == NULL;

		*ix->wq_tail = &r;
		ix->wq_tail = &r.next;
		pthread_mutex_unlock(&ix->wq_lock);
		st = req_wait(&r, first);
		/* Pass the wake on (r.next was fixed when the combiner took
		 * the queue, before it marked us done). */
		if (st == REQ_DONE && r.next)
			futex_wake(&r.next->state);
		if (st == REQ_LEAD)
			pthread_mutex_lock(&ix->wq_lock);
	} else {
		ix->combining = true;
	}
	if (st == REQ_LEAD) {
		/* Ours first (it is not in the queue), then the queue. */
		pthread_mutex_unlock(&ix->wq_lock);
		r.next = NULL;
		write_round(ix, &r);
		pthread_mutex_lock(&ix->wq_lock);
		combine(ix);
	}
	if (r.err)
		return b3cas__index_error(r.err, "index write failed");
	if (r.failed)
		return b3cas__error(B3CAS_EIO, "index write failed (its "
				    "message was lost: out of memory)");
	return 0;
}

int b3cas__index_sync(b3cas_index *ix)
{
	char *err = NULL;
	bool failed = true;

	if (ix->read_only)
		return 0;
	pthread_mutex_lock(&ix->log_lock);
	if (!atomic_load(&ix->failed)) {
		rocksdb_flush_wal(ix->db, 1, &err);
		if (err)
			atomic_store(&ix->failed, true);
		else
			failed = false;
	}
	pthread_mutex_unlock(&ix->log_lock);
	if (err)
		return b3cas__index_error(err, "cannot sync the index log");
	if (failed)
		return b3cas__error(B3CAS_EIO, "cannot sync the index log: a "
				    "write to it failed earlier, so RocksDB "
				    "stopped writes; close and reopen the "
				    "store (what was acknowledged is kept)");
	return 0;
}
