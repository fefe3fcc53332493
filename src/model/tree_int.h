/*
 * model/tree_int.h - what the model layer's files share about trees
 * beyond b3cas/tree.h. Private to src/model/.
 */
#ifndef B3CAS_MODEL_TREE_INT_H
#define B3CAS_MODEL_TREE_INT_H

#include <stddef.h>

/* The order of names in a tree (and of xattr names): bytewise, a name
 * before any longer one it begins. <0, 0 or >0. */
int b3cas__tree_name_cmp(const void *a, size_t alen, const void *b,
			 size_t blen);

#include "b3cas/tree.h"

/* Make tree (from b3cas_tree_parse) own bytes, the buffer it was parsed
 * from (from the store: b3cas_tree_free frees it with b3cas_free). */
void b3cas__tree_own(b3cas_tree *tree, void *bytes);

#endif
