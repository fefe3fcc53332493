/*
 * test_faults_int.h - what test_faults.c uses of test_faults_index.c: the
 * plan that fails calls on RocksDB's files (over chunking stores). The
 * plan is process-wide; arm and disarm it from the test's thread.
 */
#ifndef B3CAS_TEST_FAULTS_INT_H
#define B3CAS_TEST_FAULTS_INT_H

#include <stdbool.h>

/* From now on the at-th write, pwrite, fsync, fdatasync or rename of a
 * file under dir (1-based, every thread's) fails with err; with sticky,
 * every later one too. */
void index_faults_arm(const char *dir, unsigned long at, int err,
		      bool sticky);
/* How many calls failed since the plan was armed. */
unsigned long index_faults_fired(void);
/* Stop failing calls; returns how many failed. */
unsigned long index_faults_disarm(void);

#endif
