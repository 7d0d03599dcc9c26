/* SPDX-License-Identifier: MIT */
/* tattletale: the command dispatcher. */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "run", tt_cmd_run, "run the router with the Lua rules" },
	{ "emit", tt_cmd_emit, "sign and publish one message" },
	{ "watch", tt_cmd_watch, "print verified messages as JSON lines" },
	{ "check", tt_cmd_check, "validate the config and load every rule" },
	{ "keygen", tt_cmd_keygen, "print a new random key" },
};

static void
usage(FILE *out)
{
	fprintf(out, "usage: tattletale COMMAND [OPTIONS] [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "  help     show the help of a command\n\n"
		"Run 'tattletale help COMMAND' or 'tattletale COMMAND -h' for its options.\n");
}

static const struct command *
find(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int
main(int argc, char **argv)
{
	const struct command *cmd;

	if (argc < 2) {
		usage(stderr);
		return TT_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("tattletale %s (protocol v1)\n", PACKAGE_VERSION);
		return TT_EXIT_OK;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return TT_EXIT_OK;
	}
	if (strcmp(argv[1], "help") == 0) {
		if (argc < 3) {
			usage(stdout);
			return TT_EXIT_OK;
		}
		cmd = find(argv[2]);
		if (cmd == NULL) {
			fprintf(stderr, "tattletale: unknown command '%s'\n", argv[2]);
			usage(stderr);
			return TT_EXIT_USAGE;
		}
		char *help_argv[] = { argv[2], "--help", NULL };
		return cmd->run(2, help_argv);
	}

	cmd = find(argv[1]);
	if (cmd == NULL) {
		fprintf(stderr, "tattletale: unknown command '%s'\n", argv[1]);
		usage(stderr);
		return TT_EXIT_USAGE;
	}
	return cmd->run(argc - 1, argv + 1);
}
