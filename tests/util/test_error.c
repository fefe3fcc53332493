/*
 * test_error.c - util/error: the errno -> B3CAS_E... table that
 * util/error.h documents, and the options-version check's verdicts and
 * messages (every options struct of the public API goes through it).
 *
 * The table here is written from the header's comment, not from error.c:
 * a mapping changed in one place and not the other fails.
 */
#include <errno.h>
#include <string.h>

#include "test_util.h"
#include "util/error.h"

static const struct {
	int errnum;
	int code;
} table[] = {
	{ENOENT, B3CAS_ENOTFOUND}, {ENOTDIR, B3CAS_ENOTFOUND},
	{ENOSPC, B3CAS_ENOSPC},    {EDQUOT, B3CAS_ENOSPC},
	{EFBIG, B3CAS_ENOSPC},     {EACCES, B3CAS_EPERM},
	{EPERM, B3CAS_EPERM},      {EROFS, B3CAS_EPERM},
	{ENOMEM, B3CAS_ENOMEM},    {EEXIST, B3CAS_EEXISTS},
	{EINVAL, B3CAS_EINVAL},    {EBUSY, B3CAS_EBUSY},
	{EAGAIN, B3CAS_EBUSY},     {EIO, B3CAS_EIO},
	{EISDIR, B3CAS_EIO},       {EMFILE, B3CAS_EIO},
	{ELOOP, B3CAS_EIO},        {0x7fff, B3CAS_EIO},
};

static void test_errno_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		int got = b3cas__error_errno(table[i].errnum, "opening %s",
					     "x");

		if (got != table[i].code)
			fail_msg("errno %d (%s) gave %d, not %d",
				 table[i].errnum, strerror(table[i].errnum),
				 got, table[i].code);
		assert_int_equal(strncmp(b3cas_error_last(), "opening x: ", 11),
				 0);
	}
}

/* "disk full" is what a user looks for whatever the layer that met it. */
static void test_disk_full_named(void **state)
{
	(void)state;
	b3cas__error_errno(ENOSPC, "writing");
	assert_non_null(strstr(b3cas_error_last(), "(disk full)"));
	b3cas__error_errno(EDQUOT, "writing");
	assert_non_null(strstr(b3cas_error_last(), "(disk full)"));
	b3cas__error_errno(EIO, "writing");
	assert_null(strstr(b3cas_error_last(), "disk full"));
}

static void test_version_accepted(void **state)
{
	(void)state;
	b3cas_error_clear();
	assert_int_equal(b3cas__check_version(1, 1, 1, "gc"), 0);
	assert_int_equal(b3cas__check_version(2, 1, 3, "store"), 0);
	assert_int_equal(b3cas__check_version(3, 1, 3, "store"), 0);
	assert_string_equal(b3cas_error_last(), "");
}

static void test_version_refused(void **state)
{
	(void)state;
	assert_int_equal(b3cas__check_version(0, 1, 1, "gc"), B3CAS_EINVAL);
	assert_string_equal(b3cas_error_last(),
			    "gc options version 0 is not 1: initialise them "
			    "with B3CAS_GC_OPTIONS_INIT");
	assert_int_equal(b3cas__check_version(4, 1, 3, "store"),
			 B3CAS_EINVAL);
	assert_string_equal(b3cas_error_last(),
			    "store options version 4 is not from 1 to 3: "
			    "initialise them with B3CAS_STORE_OPTIONS_INIT");
	assert_int_equal(b3cas__check_version(0xffffffffu, 1, 1, "scrub"),
			 B3CAS_EINVAL);
	assert_non_null(strstr(b3cas_error_last(), "4294967295"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errno_table),
		cmocka_unit_test(test_disk_full_named),
		cmocka_unit_test(test_version_accepted),
		cmocka_unit_test(test_version_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
