/* SPDX-License-Identifier: MIT */
/* The subcommands. Each takes the arguments after its name and returns an exit status. */
#ifndef TT_CMD_H
#define TT_CMD_H

/* Exit statuses shared by every command, as listed in tattletale(1). */
enum {
	TT_EXIT_OK = 0,
	TT_EXIT_FAILURE = 1,		/* runtime failure: broker unreachable, timeout */
	TT_EXIT_USAGE = 2,		/* bad usage or an invalid config */
};

int tt_cmd_run(int argc, char **argv);
int tt_cmd_emit(int argc, char **argv);
int tt_cmd_watch(int argc, char **argv);
int tt_cmd_check(int argc, char **argv);
int tt_cmd_keygen(int argc, char **argv);

#endif
