/*
 * test_powerloss_int.h - what the files of test_powerloss share: the
 * simulated disk's state (pl) and its nodes, the log and totals shared
 * with the parent through anonymous shared memory (sh, ss: mapped by
 * setup, live until teardown), the contents, and the functions each file
 * offers the others. A round's child has its own copy of everything but
 * what sh and ss point at.
 */
#ifndef B3CAS_TEST_POWERLOSS_INT_H
#define B3CAS_TEST_POWERLOSS_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "b3cas/b3cas.h"

#define THRESHOLD 2048 /* inline threshold of the test store */
#define POOL 96        /* contents */
#define MAXREC 1024    /* log records per round */
#define MAXOPS 48      /* workload operations per round at most */
#define FRESH_EVERY 25 /* rounds before the store is made anew */
#define NCKPT 8        /* checkpoints: names of records that link contents */
#define CKPT_LINKS 4   /* links of a record, at most */
#define SLOTS (POOL + NCKPT) /* what the log counts: contents, then names */

/* ---- the simulated disk (test_powerloss_disk.c) ---- */

typedef struct pnode pnode;

typedef struct pentry {
	char *name;
	pnode *node;
} pentry;

/* One file or folder as a power loss would leave it. */
struct pnode {
	ino_t ino;
	bool dir;
	uint8_t *data; /* file: the bytes made durable (mmap'd, cap bytes) */
	size_t len, cap;
	pentry *ents;  /* folder: the names made durable */
	size_t nents;
};

typedef struct fault_plan {
	uint64_t at;      /* fail the at-th eligible call (1-based; 0 off) */
	int err;          /* EIO or ENOSPC */
	bool sticky;      /* and every later one */
	uint64_t seen;    /* eligible calls so far */
	uint64_t fired;   /* failures returned */
} fault_plan;

/* The simulated disk, its crash and its fault plan (the child's copy). */
struct sim_disk {
	bool active;               /* in a round's child */
	char root[300];            /* the store folder (real path) */
	size_t rootlen;
	char index[320];           /* root/index: where faults go */
	size_t indexlen;
	char image[300];           /* where the crash image is written */
	int mode;                  /* IMAGE_* */
	uint64_t rng;
	pthread_mutex_t lock;
	pnode *rootnode;
	struct { ino_t ino; pnode *node; } *tab;  /* inode -> current node */
	size_t ntab, captab;
	uint64_t syncs;            /* sync events seen */
	uint64_t crash_at;         /* power fails at this sync event (0: end) */
	fault_plan fault;
};

extern struct sim_disk pl;

enum { IMAGE_STRICT, IMAGE_TAILS, IMAGE_METADATA, IMAGE_KINDS };

/* Shared with the parent: the child's log. */
typedef struct oprec {
	int32_t content; /* index into the pool; POOL + k: checkpoint k */
	int32_t delta;   /* +1 a put (a checkpoint made), -1 a delete */
	uint32_t state;  /* REC_* */
} oprec;

enum { REC_FLIGHT, REC_DONE, REC_FAILED };

typedef struct shared {
	uint32_t nrec;
	uint32_t durable;   /* records before this, if done, are durable */
	uint32_t crashed;   /* 1: mid-workload, 2: at its end */
	uint32_t reopened;
	uint64_t syncs;
	uint64_t mark;      /* sync events before child_kept_log's reopen */
	uint64_t faults;    /* injected failures that fired */
	char msg[512];      /* why the child failed */
	oprec rec[MAXREC];
} shared;

extern shared *sh;

/* Also shared, kept across rounds: the store's counts as the last check
 * found them, and totals of the checks. */
typedef struct shared_state {
	uint64_t counts[SLOTS]; /* a checkpoint's: 1 if its name exists */
	unsigned long long checked, certain, repaired, reached, only_linked,
		drained;
} shared_state;

extern shared_state *ss;

/* Raw system calls: what libc would have done, past the take-overs. */
int raw_openat(int dirfd, const char *path, int flags, mode_t mode);
int raw_mkdirat(int dirfd, const char *path, mode_t mode);
ssize_t raw_write(int fd, const void *buf, size_t n);
pnode *node_new(ino_t ino, bool dir);
pnode *node_get(ino_t ino, bool dir);
bool under(const char *path, const char *dir, size_t len);
bool fd_path(int fd, char *out, size_t n);
bool at_path(int dirfd, const char *path, char *out, size_t n);
void snap_file(pnode *n, const char *path);
void snap_dir(pnode *n, const char *path, bool deep);
void snap_everything(void);
void on_freeze(int sig);
void power_loss(uint32_t how);

/* ---- the calls taken over (test_powerloss_calls.c) ---- */

/* The checker's children skip real syncs too: what reaches the disk of
 * this machine does not matter to the simulation, and a real fsync per
 * RocksDB flush made the check the slowest part of a round. */
extern bool no_sync;

/* ---- the contents, the workload and the checker (test_powerloss_child.c) ---- */

/* The test's folders (set by setup). */
extern char base[256], store_dir[300], image_dir[300];
/* The contents: bytes, lengths and ids (made by the test, freed by
 * teardown). */
extern uint8_t *data[POOL];
extern size_t lens[POOL];
extern b3cas_oid ids[POOL];
/* The checkpoints: record k ("ckpt", k, then its links' ids) links
 * contents ckpt_of[k][0..ckpt_nlinks[k]) and is made under the name
 * "ckpt/sbK/0" by b3cas_name_put_linked, in one step, as a checkpoint's
 * create makes its record; made from ids by make_checkpoints. */
extern uint8_t ckpt_bytes[NCKPT][8 + CKPT_LINKS * B3CAS_OID_LEN];
extern size_t ckpt_lens[NCKPT], ckpt_nlinks[NCKPT];
extern int ckpt_of[NCKPT][CKPT_LINKS];
extern b3cas_oid ckpt_ids[NCKPT], ckpt_links[NCKPT][CKPT_LINKS];

void make_checkpoints(void);
void child_run(uint64_t seed, b3cas_durability d);
void child_kept_log(void);
void check_image(void);
void make_fresh_store(void);
void drain_store(void);

#endif
