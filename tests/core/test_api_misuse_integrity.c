/*
 * test_api_misuse_integrity.c - the t_<function> misuse tests for the
 * functions of integrity.h (fsck, scrub, backup, restore, recover): each
 * required pointer NULL in turn, and each options struct at an unknown
 * version, is refused with its message. Part of the test_api_misuse
 * program.
 */
#include "test_api_misuse_int.h"

/* ---- integrity.h -------------------------------------------------------- */

void t_b3cas_fsck_kind_name(void **state)
{
	(void)state;
	assert_string_equal(b3cas_fsck_kind_name((b3cas_fsck_kind)999),
			    "unknown");
}

void t_b3cas_fsck(void **state)
{
	b3cas_fsck_options o = B3CAS_FSCK_OPTIONS_INIT;

	(void)state;
	EINVAL_FOR("b3cas_fsck", "store", b3cas_fsck(NULL, NULL, NULL));
	VERSION_REFUSED("fsck", o, B3CAS_FSCK_OPTIONS_VERSION,
			"B3CAS_FSCK_OPTIONS_INIT", b3cas_fsck(st, &o, NULL));
}

void t_b3cas_scrub(void **state)
{
	b3cas_scrub_options o = B3CAS_SCRUB_OPTIONS_INIT;

	(void)state;
	EINVAL_FOR("b3cas_scrub", "store", b3cas_scrub(NULL, NULL, NULL));
	VERSION_REFUSED("scrub", o, B3CAS_SCRUB_OPTIONS_VERSION,
			"B3CAS_SCRUB_OPTIONS_INIT", b3cas_scrub(st, &o, NULL));
}

void t_b3cas_backup(void **state)
{
	b3cas_backup_options o = B3CAS_BACKUP_OPTIONS_INIT;
	char dest[64];

	(void)state;
	make_dir(dest, sizeof(dest), "bk");
	EINVAL_FOR("b3cas_backup", "store",
		   b3cas_backup(NULL, dest, NULL, NULL));
	EINVAL_FOR("b3cas_backup", "dest_dir",
		   b3cas_backup(st, NULL, NULL, NULL));
	VERSION_REFUSED("backup", o, B3CAS_BACKUP_OPTIONS_VERSION,
			"B3CAS_BACKUP_OPTIONS_INIT",
			b3cas_backup(st, dest, &o, NULL));
	remove_dir(dest);
}

void t_b3cas_restore(void **state)
{
	b3cas_restore_options o = B3CAS_RESTORE_OPTIONS_INIT;

	(void)state;
	EINVAL_FOR("b3cas_restore", "store",
		   b3cas_restore(NULL, root, NULL, NULL));
	EINVAL_FOR("b3cas_restore", "src_dir",
		   b3cas_restore(st, NULL, NULL, NULL));
	VERSION_REFUSED("restore", o, B3CAS_RESTORE_OPTIONS_VERSION,
			"B3CAS_RESTORE_OPTIONS_INIT",
			b3cas_restore(st, root, &o, NULL));
}

void t_b3cas_recover_action_name(void **state)
{
	(void)state;
	assert_string_equal(b3cas_recover_action_name(B3CAS_RECOVER_REBUILT),
			    "rebuilt");
}

void t_b3cas_recover(void **state)
{
	b3cas_recover_options o = B3CAS_RECOVER_OPTIONS_INIT;

	(void)state;
	EINVAL_FOR("b3cas_recover", "root_dir", b3cas_recover(NULL, NULL, NULL));
	VERSION_REFUSED("recover", o, B3CAS_RECOVER_OPTIONS_VERSION,
			"B3CAS_RECOVER_OPTIONS_INIT",
			b3cas_recover(root, &o, NULL));
}
