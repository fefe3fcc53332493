/*
 * cmd_git.h - what cmd_git.c and cmd_git_clone.c share.
 */
#ifndef B3CAS_CMD_GIT_H
#define B3CAS_CMD_GIT_H

#include "cli.h"

/* The name a repository at path gets in the store: given (--name), or
 * the folder's last part less ".git" (a new string, NULL when out of
 * memory). */
char *cli_git_repo_name(const char *given, const char *path);

/* `b3cas git clone` (argv[0] is "clone"). In the b3cas program, which
 * does not load libgit2 (its start-up would double), it runs the program
 * b3cas-git, built from the same sources with libgit2, with the same
 * arguments; b3cas-git clones. */
int cli_git_clone(cli_ctx *ctx, int argc, char **argv);

#endif
