/*
 * fuzz_store_text.c - the store's two text parsers: object ids
 * (b3cas_oid_parse) and b3cas.conf (b3cas__conf_parse).
 *
 * Checked beyond "no crash": an id that parses formats back to the same
 * hex in lower case, and parsing fails exactly when the text is not 64
 * hex digits; a configuration that parses has a format this version
 * reads, a known hash and a threshold within the limit, an objects folder,
 * if any, that is an absolute path, and the RADOS tier's pool, namespace
 * and configuration exactly when its format is 3 (all freed: the fuzzer
 * checks for leaks; a failed parse must leave none). The first byte picks
 * the parser.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "b3cas/store.h"
#include "layout/path.h"

static bool is_id_text(const char *s)
{
	size_t n = strlen(s);

	if (n != B3CAS_OID_HEX_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

static void fuzz_oid(const char *text)
{
	char back[B3CAS_OID_HEX_LEN + 1];
	b3cas_oid id;
	int rc = b3cas_oid_parse(&id, text);

	if ((rc == 0) != is_id_text(text))
		abort();
	if (rc != 0)
		return;
	b3cas_oid_fmt(back, &id);
	for (size_t i = 0; i < B3CAS_OID_HEX_LEN; i++)
		if (back[i] != tolower((unsigned char)text[i]))
			abort();
}

static void fuzz_conf(char *text)
{
	b3cas_layout lay;
	bool rados;

	memset(&lay, 0, sizeof(lay));
	lay.root = "fuzz";
	if (b3cas__conf_parse(&lay, text) != 0) {
		/* A failed parse leaves nothing allocated. */
		if (lay.objects_conf || lay.rados_pool || lay.rados_ns ||
		    lay.rados_conf)
			abort();
		return;
	}
	rados = lay.format == B3CAS_FORMAT_VERSION_RADOS;
	if ((lay.format != B3CAS_FORMAT_VERSION &&
	     lay.format != B3CAS_FORMAT_VERSION_CHUNKED && !rados) ||
	    (lay.hash != B3CAS_HASH_BLAKE3 && lay.hash != B3CAS_HASH_SHA256) ||
	    lay.inline_threshold > B3CAS_INLINE_THRESHOLD_MAX ||
	    (lay.objects_conf && lay.objects_conf[0] != '/'))
		abort();
	/* The tier's three lines are all there in format 3, none before. */
	if (rados != (lay.rados_pool != NULL) ||
	    rados != (lay.rados_ns != NULL) ||
	    rados != (lay.rados_conf != NULL))
		abort();
	free(lay.objects_conf);
	free(lay.rados_pool);
	free(lay.rados_ns);
	free(lay.rados_conf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (size == 0 || size > 8192)
		return 0;
	text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (data[0] & 1)
		fuzz_conf(text);
	else
		fuzz_oid(text);
	free(text);
	return 0;
}
