/* SPDX-License-Identifier: MIT */
/* tattletale run: the router. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "log.h"
#include "router.h"

enum { OPT_WATCH = TT_OPT_COMMAND_BASE };

static void
help(FILE *out)
{
	fputs("usage: tattletale run [OPTIONS]\n\n"
	      "Connects to the broker, loads the Lua rules and routes verified messages to them\n"
	      "until SIGTERM or SIGINT. SIGHUP reloads the rules.\n\n"
	      "options:\n"
	      "      --rules DIR         rules folder (default: rules.d beside the config file)\n"
	      "      --watch             reload the rules when files in the rules folder change\n",
	      out);
	tt_cli_common_help(out);
}

int
tt_cmd_run(int argc, char **argv)
{
	static const struct option extra[] = {
		{ "watch", no_argument, NULL, OPT_WATCH },
		{ NULL, 0, NULL, 0 },
	};
	struct tt_cli cli = { 0 };
	struct tt_config cfg;
	struct tt_keyring *keys = NULL;
	struct tt_router *router;
	struct option *options = tt_cli_options(extra);
	bool watch = false;
	char err[1024];
	int opt, status;

	while ((opt = getopt_long(argc, argv, TT_CLI_COMMON_SHORT, options, NULL)) != -1) {
		int rc = tt_cli_common(&cli, opt, optarg);
		if (rc < 0)
			goto usage;
		if (rc == 0 && opt == OPT_WATCH)
			watch = true;
		else if (rc == 0)
			goto usage;
	}
	free(options);
	options = NULL;
	if (cli.help) {
		help(stdout);
		return TT_EXIT_OK;
	}
	if (optind < argc) {
		fprintf(stderr, "tattletale run: unexpected argument '%s'\n", argv[optind]);
		goto usage;
	}

	if (tt_cli_setup(&cli, &cfg, &keys, NULL) < 0) {
		tt_config_free(&cfg);
		return TT_EXIT_USAGE;
	}
	router = tt_router_new(&(struct tt_router_opts){ &cfg, keys, tt_router_lua_dir(), watch },
			       err, sizeof(err));
	if (router == NULL) {
		char quoted[1100];
		tt_log(TT_LOG_ERROR, "router", "start failed error=\"%s\"",
		       tt_log_quote(err, strlen(err), quoted, sizeof(quoted)));
		tt_keyring_free(keys);
		tt_config_free(&cfg);
		return TT_EXIT_USAGE;
	}
	status = tt_router_run(router) == 0 ? TT_EXIT_OK : TT_EXIT_FAILURE;
	tt_router_free(router);
	tt_keyring_free(keys);
	tt_config_free(&cfg);
	return status;

usage:
	free(options);
	tt_cli_usage("run", "[OPTIONS] [--watch]");
	return TT_EXIT_USAGE;
}
