/* SPDX-License-Identifier: MIT */
/*
 * The router's configuration: YAML read with libyaml, then overrides from
 * command-line flags and the environment. Every error names the file, line,
 * column and key. Key material goes into a keyring, never into this struct.
 */
#ifndef TT_CONFIG_H
#define TT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keyring.h"
#include "log.h"

#define TT_CONFIG_ERR_MAX 2048	/* the first errors of a file, a line each */

struct tt_config_tls {
	bool enabled;
	char *ca_file;
	char *cert_file;
	char *key_file;
	bool verify;			/* default true */
};

/* A key as configured: where its text comes from. Loaded by tt_config_load_keys. */
struct tt_config_key {
	char *id;
	char *file;			/* or */
	char *env;			/* or */
	char *value;			/* inline text; discouraged, but accepted */
	int line, column;		/* where the entry starts, for errors */
};

struct tt_config {
	char *path;			/* the file read, or NULL with flags only */
	char *dir;			/* its folder, for relative paths */

	char *app;
	struct {
		char *host;		/* default "127.0.0.1" */
		int port;		/* 0 until tt_config_finish picks 1883, or 8883 with tls */
		char *client_id;	/* default NULL: app plus a random suffix */
		bool persistent;	/* session: persistent */
		char *username;
		char *password_file;
		int keepalive;		/* seconds, default 30 */
		struct tt_config_tls tls;
	} broker;
	char *topic_prefix;		/* default "tattletale" */
	struct tt_config_key *keys;
	size_t nkeys;
	struct {
		int64_t past_ms, future_ms;	/* defaults 120 s and 30 s */
	} window;
	struct {
		size_t payload;		/* bytes, default 262144 */
		int depth;		/* default 64 */
		int hops;		/* default 8 */
		size_t ids;		/* id cache entries, default 65536 */
	} limits;
	struct {
		int64_t instructions;	/* per call, default 10000000 */
		int64_t time_ms;	/* per call, default 100 */
		size_t memory;		/* bytes per rule, default 64 MiB */
		int failures;		/* budget hits or errors before disabling, default 5 */
		int64_t failure_window_ms;	/* default 60 s */
	} sandbox;
	char *rules;			/* absolute path; NULL until tt_config_finish sets "<dir>/rules.d" */
	char *lua_path;			/* absolute path or NULL */
	enum tt_log_level log_level;	/* default info */
	int64_t stats_interval_ms;	/* default 60 s; 0 turns stats off */
};

/* Command-line flags that override the file. NULL or 0 means not given. */
struct tt_config_overrides {
	const char *host;
	int port;
	const char *app;
	const char *key_file;
	const char *kid;
	const char *prefix;
	const char *rules;
	const char *username;
	const char *password_file;
	const char *ca_file;
	const char *cert_file;
	const char *key_file_tls;
	bool tls;
	bool insecure;			/* tls without certificate verification */
};

/* Fills cfg with defaults; dir is the current folder. */
void tt_config_init(struct tt_config *cfg);
/* Frees every string of cfg and wipes inline key values. */
void tt_config_free(struct tt_config *cfg);

/*
 * Reads a YAML file of at most 1 MiB into cfg (initialized), setting path
 * and dir and making relative paths absolute against dir. Returns 0, or -1
 * with a message in err such as "tattletale.yaml:7:9: broker.port: expected
 * an integer from 1 to 65535, got \"http\"": a line for each bad key, up to
 * eight or as many as fit in errsize, then a line counting the rest. A YAML
 * syntax error stops the read, so it is the only line. After an error cfg may hold part of the file;
 * tt_config_free still releases it.
 */
int tt_config_read(struct tt_config *cfg, const char *path, char *err, size_t errsize);

/*
 * Finds the config file: explicit path, else $TATTLETALE_CONFIG, else
 * ./tattletale.yaml, else /etc/tattletale/tattletale.yaml. Returns the path
 * to read (static or from the environment), or NULL when none exists and
 * none was named.
 */
const char *tt_config_locate(const char *explicit_path);

/*
 * Applies flags (ov may be NULL), fills defaults that depend on other
 * values and checks that the result is complete (app and at least one key
 * source). Paths from flags are relative to the current folder. key_file
 * replaces the configured keys with one key, named kid or "default"; any
 * TLS flag and insecure turn TLS on. Returns 0 or -1 with err.
 */
int tt_config_finish(struct tt_config *cfg, const struct tt_config_overrides *ov,
		     char *err, size_t errsize);

/*
 * Reads every configured key (files, environment, --key-file, then
 * $TATTLETALE_KEY as kid "default" when nothing else is configured) into
 * a new keyring. Returns it, or NULL with err naming the key id and the
 * source, never the key text.
 */
struct tt_keyring *tt_config_load_keys(const struct tt_config *cfg, char *err, size_t errsize);

#endif
