/*
 * digest/oid.c - object ids: 32 bytes, written as 64 hex characters.
 */
#include <string.h>

#include "b3cas/store.h"
#include "digest/digest.h"
#include "util/error.h"

static const char hex_digits[] = "0123456789abcdef";

char *b3cas_oid_fmt(char out[B3CAS_OID_HEX_LEN + 1], const b3cas_oid *id)
{
	B3CAS__NONNULL_OR(out, "out", NULL);
	B3CAS__NONNULL_OR(id, "id", NULL);
	for (size_t i = 0; i < B3CAS_OID_LEN; i++) {
		out[2 * i] = hex_digits[id->bytes[i] >> 4];
		out[2 * i + 1] = hex_digits[id->bytes[i] & 15];
	}
	out[B3CAS_OID_HEX_LEN] = '\0';
	return out;
}

int b3cas__hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int bad_char(const char *text, size_t pos)
{
	unsigned char c = (unsigned char)text[pos];

	if (c >= 0x20 && c < 0x7f)
		return b3cas__error(B3CAS_EINVAL,
				    "object id '%s' has a non-hex character "
				    "'%c' at position %zu",
				    text, c, pos + 1);
	return b3cas__error(B3CAS_EINVAL,
			    "object id has a non-hex byte 0x%02x at position "
			    "%zu",
			    c, pos + 1);
}

int b3cas_oid_parse(b3cas_oid *out, const char *text)
{
	b3cas_oid id;
	size_t len;

	B3CAS__NONNULL(out, "out");
	B3CAS__NONNULL(text, "text");
	len = strnlen(text, B3CAS_OID_HEX_LEN + 1);
	for (size_t i = 0; i < len && i < B3CAS_OID_HEX_LEN; i++)
		if (b3cas__hex_value(text[i]) < 0)
			return bad_char(text, i);
	if (len > B3CAS_OID_HEX_LEN)
		return b3cas__error(B3CAS_EINVAL,
				    "object id '%.64s...' is longer than %d "
				    "hex digits",
				    text, B3CAS_OID_HEX_LEN);
	if (len < B3CAS_OID_HEX_LEN)
		return b3cas__error(B3CAS_EINVAL,
				    "object id '%s' has %zu hex digits; an id "
				    "has %d",
				    text, len, B3CAS_OID_HEX_LEN);
	for (size_t i = 0; i < B3CAS_OID_LEN; i++)
		id.bytes[i] = (uint8_t)(b3cas__hex_value(text[2 * i]) << 4 |
					b3cas__hex_value(text[2 * i + 1]));
	*out = id;
	return 0;
}

bool b3cas_oid_equal(const b3cas_oid *a, const b3cas_oid *b)
{
	B3CAS__NONNULL_OR(a, "a", false);
	B3CAS__NONNULL_OR(b, "b", false);
	return memcmp(a->bytes, b->bytes, B3CAS_OID_LEN) == 0;
}
