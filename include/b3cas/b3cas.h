/*
 * b3cas/b3cas.h - the umbrella header: everything public in b3cas.
 */
#ifndef B3CAS_B3CAS_H
#define B3CAS_B3CAS_H

#include "common.h"
#include "hash.h"
#include "store.h"
#include "cache.h"
#include "integrity.h"
#include "tree.h"
#include "checkpoint.h"
#include "git.h"

#endif
