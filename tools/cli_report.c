/*
 * cli_report.c - what the maintenance commands (fsck, scrub, backup,
 * restore, recover) and the restores of trees print through the
 * library's callbacks: progress lines, fsck's and scrub's problems, objects not copied. Every callback
 * takes a cli_report as its ctx; a progress line is cleared before any
 * other line, so that none is printed after it on the same line.
 */
#include <stdio.h>

#include "b3cas/b3cas.h"
#include "cli.h"

void cli_report_progress(const b3cas_progress *p, void *ctx)
{
	const cli_report *r = ctx;

	cli_progress(r->what, p, p->done == p->total);
}

int cli_report_tree_progress(const b3cas_tree_progress *p, void *ctx)
{
	cli_progress_files(ctx, p, p->done);
	return 0;
}

int cli_report_problem(const b3cas_fsck_problem *p, void *ctx)
{
	const cli_report *r = ctx;
	char hex[B3CAS_OID_HEX_LEN + 1] = "-";

	cli_progress_clear();
	fflush(stderr);

	if (p->has_id)
		b3cas_oid_fmt(hex, &p->id);
	if (r->json) {
		printf("{\"problem\":\"%s\",\"id\":", b3cas_fsck_kind_name(p->kind));
		if (p->has_id)
			printf("\"%s\"", hex);
		else
			fputs("null", stdout);
		fputs(",\"path\":", stdout);
		if (p->path)
			cli_json_string(stdout, p->path);
		else
			fputs("null", stdout);
		fputs(",\"detail\":", stdout);
		cli_json_string(stdout, p->detail);
		fputs(",\"action\":", stdout);
		if (p->action)
			cli_json_string(stdout, p->action);
		else
			fputs("null", stdout);
		printf(",\"lost\":%s}\n", p->lost ? "true" : "false");
		return 0;
	}
	printf("%-13s %s  %s", b3cas_fsck_kind_name(p->kind), hex,
	       p->detail);
	if (p->path)
		printf(" (%s)", p->path);
	putchar('\n');
	if (p->action)
		printf("%-13s %s  -> %s\n", "", hex, p->action);
	return 0;
}

int cli_report_copy_failure(const b3cas_oid *id, int err, void *ctx)
{
	const cli_report *r = ctx;
	char hex[B3CAS_OID_HEX_LEN + 1];

	cli_progress_clear();
	b3cas_oid_fmt(hex, id);
	if (r->json) {
		printf("{\"id\":\"%s\",\"error\":", hex);
		cli_json_string(stdout, b3cas_error_last());
		puts("}");
	} else if (r->name_id) {
		cli_error("%s not copied: %s (%s)", hex, b3cas_error_last(),
			  b3cas_strerror(err));
	} else {
		cli_error("%s (%s)", b3cas_error_last(), b3cas_strerror(err));
	}
	return 0;
}

int cli_fsck_exit(const b3cas_fsck_report *f, bool repair)
{
	if (repair ? f->lost > 0 || f->index_damage > 0 : f->problems > 0)
		return CLI_NEGATIVE;
	return CLI_OK;
}
