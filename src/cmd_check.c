/* SPDX-License-Identifier: MIT */
/* tattletale check: validate the config and load every rule without connecting, as `nginx -t` does. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "log.h"
#include "router.h"
#include "rule.h"

/* Rules loaded by check talk to a host that accepts everything and sends nothing. */
struct check_host {
	unsigned listens;
	unsigned emits;
};

static int
check_emit(void *ctx, struct tt_rule *rule, enum tt_kind kind, const char *ns, const char *name,
	   const char *json, size_t len, const struct tt_message *in, char *err, size_t errsize)
{
	((struct check_host *)ctx)->emits++;
	return 0;
}

static int
check_listen(void *ctx, struct tt_rule *rule, enum tt_kind kind, const char *ns, const char *name)
{
	((struct check_host *)ctx)->listens++;
	return 0;
}

static void
check_unlisten(void *ctx, struct tt_rule *rule, enum tt_kind kind, const char *ns,
	       const char *name)
{
}

static bool
check_get_state(void *ctx, const char *ns, const char *name, struct tt_state_view *out)
{
	return false;
}


/* Loads each rule file. Returns the number that failed, or -1 when the folder cannot be read. */
static int
load_rules(const struct tt_config *cfg, struct tt_host *host, int *loaded)
{
	struct tt_rule_limits limits;
	struct dirent **names;
	char path[4096], err[1024];
	int n, failed = 0;

	tt_rule_limits_init(&limits);
	limits.instructions = cfg->sandbox.instructions;
	limits.time_ms = cfg->sandbox.time_ms;
	limits.memory = cfg->sandbox.memory;
	limits.max_depth = cfg->limits.depth - 1;
	limits.max_payload = cfg->limits.payload - TT_ENVELOPE_OVERHEAD;

	n = tt_rule_scan(cfg->rules, &names);
	if (n < 0) {
		fprintf(stderr, "tattletale check: cannot read the rules folder %s: %s\n", cfg->rules,
			strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", cfg->rules, names[i]->d_name);
		struct tt_rule *rule = tt_rule_load(path, host, &limits, cfg->lua_path,
						    tt_router_lua_dir(), err, sizeof(err));
		if (rule == NULL) {
			fprintf(stderr, "tattletale check: %s\n", err);
			failed++;
		} else {
			(*loaded)++;
		}
		tt_rule_free(rule);
		free(names[i]);
	}
	free(names);
	return failed;
}

int
tt_cmd_check(int argc, char **argv)
{
	struct option *options = tt_cli_options(NULL);
	struct tt_cli cli = { .tool = true };
	struct tt_config cfg;
	struct tt_keyring *keys = NULL;
	struct check_host ch = { 0 };
	struct tt_host host = { &ch, NULL, NULL, check_emit, check_listen, check_unlisten,
				check_get_state };
	int opt, loaded = 0, failed, status = TT_EXIT_USAGE;

	while ((opt = getopt_long(argc, argv, TT_CLI_COMMON_SHORT, options, NULL)) != -1)
		if (tt_cli_common(&cli, opt, optarg) <= 0) {
			free(options);
			goto usage;
		}
	free(options);
	if (cli.help) {
		fputs("usage: tattletale check [OPTIONS]\n\n"
		      "Validates the config, reads the keys and loads every rule without connecting.\n"
		      "Exits 0 with a one-line summary, or 2 with each error and its file:line.\n\n",
		      stdout);
		tt_cli_common_help(stdout);
		return TT_EXIT_OK;
	}
	if (optind < argc) {
		fprintf(stderr, "tattletale check: unexpected argument '%s'\n", argv[optind]);
		goto usage;
	}

	if (tt_cli_setup(&cli, &cfg, &keys, NULL) < 0)
		goto out;
	host.app = cfg.app;
	host.prefix = cfg.topic_prefix;
	failed = load_rules(&cfg, &host, &loaded);
	if (failed != 0)
		goto out;
	printf("tattletale check: ok config=%s app=%s keys=%zu rules=%d listens=%u folder=%s\n",
	       cfg.path != NULL ? cfg.path : "(flags)", cfg.app, tt_keyring_count(keys), loaded,
	       ch.listens, cfg.rules);
	status = TT_EXIT_OK;

out:
	tt_keyring_free(keys);
	tt_config_free(&cfg);
	return status;

usage:
	tt_cli_usage("check", "[OPTIONS]");
	return TT_EXIT_USAGE;
}
