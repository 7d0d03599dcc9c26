/* SPDX-License-Identifier: MIT */
/*
 * Options shared by every command (-c, -H, -p, --app, keys, TLS, logging)
 * and the steps every command takes from them to a checked config and a
 * keyring.
 */
#ifndef TT_CLI_H
#define TT_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "keyring.h"

/* Long options of the common set; a command appends its own after them. */
#define TT_CLI_COMMON_SHORT "c:H:p:hvq"
extern const struct option tt_cli_common_options[];
#define TT_CLI_COMMON_COUNT 19

/* Option values above the char range, for long options with no short form. */
enum {
	TT_OPT_APP = 256, TT_OPT_KEY_FILE, TT_OPT_KID, TT_OPT_PREFIX, TT_OPT_RULES,
	TT_OPT_USERNAME, TT_OPT_PASSWORD_FILE, TT_OPT_TLS, TT_OPT_CA_FILE, TT_OPT_CERT_FILE,
	TT_OPT_TLS_KEY_FILE, TT_OPT_INSECURE, TT_OPT_LOG_LEVEL,
	TT_OPT_COMMAND_BASE = 300,	/* first value free for a command's own options */
};

struct tt_cli {
	const char *config_path;	/* -c */
	struct tt_config_overrides ov;
	const char *log_level;
	bool help;
	int verbose;			/* -v count */
	bool quiet;
	bool tool;			/* a one-shot command: log warnings and errors only by default */
};

/*
 * Handles one option of the common set. Returns 1 when it was one, 0 when the
 * command must handle it, or -1 on a bad value (message printed).
 */
int tt_cli_common(struct tt_cli *cli, int opt, const char *arg);

/* Prints the synopsis of a command and where to find its options, after a usage error. */
void tt_cli_usage(const char *command, const char *synopsis);

/* Prints the common options' help to out. */
void tt_cli_common_help(FILE *out);

/*
 * Locates and reads the config (a missing file is fine when flags give
 * what is needed), applies the flags and loads the keys. default_app is used
 * when neither gives an app (NULL: app is required). Prints the error and
 * returns -1 on failure.
 */
int tt_cli_setup(struct tt_cli *cli, struct tt_config *cfg, struct tt_keyring **keys,
		 const char *default_app);

/* Builds a getopt_long table: the common options followed by extra (NULL-terminated). Returns a malloc'd table. */
struct option *tt_cli_options(const struct option *extra);

#endif

#ifndef TT_CLI_MQTT
#define TT_CLI_MQTT
#include "mqtt.h"
/*
 * Creates the broker client a finished config describes, reading the
 * password from broker.password_file. client_id falls back to
 * "<app>-<8 random hex>". A one-shot client (emit, watch) never reconnects
 * and uses a clean session with an id the library makes. Returns the client,
 * or NULL with a message in err.
 */
struct tt_mqtt *tt_cli_mqtt_new(const struct tt_config *cfg, const struct tt_mqtt_handlers *h,
				bool one_shot, char *err, size_t errsize);
#endif
