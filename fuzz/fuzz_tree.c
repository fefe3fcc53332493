/*
 * fuzz_tree.c - libFuzzer target for the encoding of trees
 * (b3cas/tree.h, docs/trees.md).
 *
 * The input is parsed as a tree. A parse either fails with
 * B3CAS_ECORRUPT or B3CAS_EFORMAT, or gives a tree that encodes to
 * exactly the input (the encoding is canonical) and whose every entry
 * b3cas_tree_find finds at its own index. The input is parsed from an
 * exact-size copy, so AddressSanitizer catches any read past it. Any
 * difference aborts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b3cas/tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1), *again = NULL;
	b3cas_tree *t = NULL;
	size_t len = 0;
	int rc;

	check(copy != NULL);
	if (size)
		memcpy(copy, data, size);
	rc = b3cas_tree_parse(copy, size, &t);
	if (rc < 0) {
		check(rc == B3CAS_ECORRUPT || rc == B3CAS_EFORMAT ||
		      rc == B3CAS_ENOMEM);
		check(t == NULL);
		free(copy);
		return 0;
	}
	check(b3cas_tree_encode(t, &again, &len) == 0);
	check(len == size && memcmp(again, data, size) == 0);
	for (size_t i = 0; i < t->count; i++)
		check(b3cas_tree_find(t, t->entries[i].name,
				      t->entries[i].name_len) ==
		      (ptrdiff_t)i);
	free(again);
	b3cas_tree_free(t);
	free(copy);
	return 0;
}
