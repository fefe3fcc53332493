/*
 * test_api_misuse_tree.c - the t_<function> tests of b3cas/tree.h (see
 * test_api_misuse.c): NULL arguments are refused with B3CAS_EINVAL (or
 * -1 from b3cas_tree_find) and the message naming them, and outputs are
 * left as they were.
 */
#include "test_api_misuse_int.h"

/* an empty root: magic, its attributes (all 0), no entries */
static const uint8_t empty_tree[15] = {'b', '3', 't', 'r', 'e', 'e', 0, 1};

void t_b3cas_tree_encode(void **state)
{
	b3cas_tree t = {0};
	uint8_t *out = (uint8_t *)&t;
	size_t len = 7;

	(void)state;
	EINVAL_FOR("b3cas_tree_encode", "tree",
		   b3cas_tree_encode(NULL, &out, &len));
	EINVAL_FOR("b3cas_tree_encode", "out",
		   b3cas_tree_encode(&t, NULL, &len));
	EINVAL_FOR("b3cas_tree_encode", "out_len",
		   b3cas_tree_encode(&t, &out, NULL));
	assert_ptr_equal(out, (uint8_t *)&t);
	assert_int_equal(len, 7);
	assert_int_equal(b3cas_tree_encode(&t, &out, &len), 0);
	assert_int_equal(len, sizeof(empty_tree));
	assert_memory_equal(out, empty_tree, len);
	free(out);
}

void t_b3cas_tree_parse(void **state)
{
	b3cas_tree *t = (b3cas_tree *)&t;

	(void)state;
	EINVAL_FOR("b3cas_tree_parse", "data",
		   b3cas_tree_parse(NULL, sizeof(empty_tree), &t));
	EINVAL_FOR("b3cas_tree_parse", "out",
		   b3cas_tree_parse(empty_tree, sizeof(empty_tree), NULL));
	assert_ptr_equal(t, (b3cas_tree *)&t);
	/* no bytes at all: not a tree, whatever the pointer */
	assert_int_equal(b3cas_tree_parse(NULL, 0, &t), B3CAS_EFORMAT);
	assert_null(t);
}

void t_b3cas_tree_free(void **state)
{
	(void)state;
	b3cas_tree_free(NULL); /* a no-op */
}

void t_b3cas_tree_find(void **state)
{
	b3cas_tree t = {0};
	ptrdiff_t r = 0;

	(void)state;
	MSG_FOR("b3cas_tree_find", "tree", r = b3cas_tree_find(NULL, "a", 1));
	assert_int_equal(r, -1);
	MSG_FOR("b3cas_tree_find", "name", r = b3cas_tree_find(&t, NULL, 1));
	assert_int_equal(r, -1);
	assert_int_equal(b3cas_tree_find(&t, NULL, 0), -1); /* empty name */
}
