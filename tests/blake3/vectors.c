/*
 * vectors.c - loading the official vectors for test_vectors and
 * test_reference.
 */
#include "vectors.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hex_decode(uint8_t *out, const char *hex, size_t len)
{
	if (!hex || strlen(hex) != 2 * len)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

static const char *string_field(const json_t *obj, const char *name)
{
	return json_string_value(json_object_get(obj, name));
}

int vectors_load(vset *v)
{
	const char *dir = getenv("B3CAS_TEST_DATA");
	char path[4096];
	json_error_t err;
	json_t *root, *arr;
	const char *key, *ctx;
	int rc = -1;

	memset(v, 0, sizeof(*v));
	snprintf(path, sizeof(path), "%s/blake3_test_vectors.json",
		 dir ? dir : "tests/data");
	root = json_load_file(path, 0, &err);
	if (!root) {
		fprintf(stderr, "cannot read %s: %s\n", path, err.text);
		return -1;
	}
	key = json_string_value(json_object_get(root, "key"));
	ctx = json_string_value(json_object_get(root, "context_string"));
	arr = json_object_get(root, "cases");
	if (!key || strlen(key) != 32 || !ctx || strlen(ctx) >= 128 ||
	    !json_is_array(arr))
		goto out;
	memcpy(v->key, key, 32);
	strcpy(v->context, ctx);
	v->count = json_array_size(arr);
	v->cases = calloc(v->count, sizeof(*v->cases));
	if (!v->cases)
		goto out;
	for (size_t i = 0; i < v->count; i++) {
		json_t *c = json_array_get(arr, i);
		vcase *vc = &v->cases[i];
		const char *h = json_string_value(json_object_get(c, "hash"));

		vc->input_len = (size_t)json_integer_value(
			json_object_get(c, "input_len"));
		vc->out_len = h ? strlen(h) / 2 : 0;
		if (vc->out_len < 32 || vc->out_len > VEC_MAX_OUT ||
		    hex_decode(vc->hash, h, vc->out_len) ||
		    hex_decode(vc->keyed, string_field(c, "keyed_hash"),
			       vc->out_len) ||
		    hex_decode(vc->derive, string_field(c, "derive_key"),
			       vc->out_len))
			goto out;
	}
	rc = v->count >= 30 ? 0 : -1;
out:
	if (rc) {
		fprintf(stderr, "malformed vectors file %s\n", path);
		vectors_free(v);
	}
	json_decref(root);
	return rc;
}

void vectors_free(vset *v)
{
	free(v->cases);
	v->cases = NULL;
}
