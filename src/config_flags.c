/* SPDX-License-Identifier: MIT */
/*
 * Finishing a configuration: where the file is found, the command-line
 * flags that override it, and the defaults that depend on other values.
 * Reading the file is in config.c.
 */
#include "config.h"
#include "config_internal.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define CFG(member) offsetof(struct tt_config, member)

const char *
tt_config_locate(const char *explicit_path)
{
	/* Fixed, not under the build's sysconfdir, so every package looks in one place. */
	static const char system_path[] = "/etc/tattletale/tattletale.yaml";
	const char *env;

	if (explicit_path != NULL)
		return explicit_path;
	env = getenv("TATTLETALE_CONFIG");
	if (env != NULL && env[0] != '\0')
		return env;
	if (access("tattletale.yaml", F_OK) == 0)
		return "tattletale.yaml";
	if (access(system_path, F_OK) == 0)
		return system_path;
	return NULL;
}

/* A flag that replaces a string of the config. */
struct flag {
	const char *name;		/* the option, for messages */
	size_t from;			/* a const char * in struct tt_config_overrides */
	size_t to;			/* a char * in struct tt_config */
	const char *(*check)(const char *s, size_t len);
	bool path;			/* relative to the current folder */
	bool tls;			/* giving it turns TLS on */
};

#define OV(member) offsetof(struct tt_config_overrides, member)

static const struct flag flags[] = {
	{ .name = "--host", .from = OV(host), .to = CFG(broker.host),
	  .check = tt_config_check_host },
	{ .name = "--app", .from = OV(app), .to = CFG(app), .check = tt_config_check_app },
	{ .name = "--prefix", .from = OV(prefix), .to = CFG(topic_prefix),
	  .check = tt_config_check_prefix },
	{ .name = "--rules", .from = OV(rules), .to = CFG(rules), .path = true },
	{ .name = "--username", .from = OV(username), .to = CFG(broker.username),
	  .check = tt_config_check_text },
	{ .name = "--password-file", .from = OV(password_file), .to = CFG(broker.password_file),
	  .path = true },
	{ .name = "--ca-file", .from = OV(ca_file), .to = CFG(broker.tls.ca_file), .path = true,
	  .tls = true },
	{ .name = "--cert-file", .from = OV(cert_file), .to = CFG(broker.tls.cert_file),
	  .path = true, .tls = true },
	{ .name = "--tls-key-file", .from = OV(key_file_tls), .to = CFG(broker.tls.key_file),
	  .path = true, .tls = true },
};

/* Returns an absolute copy of a path given on the command line. */
static char *
absolute(const char *path)
{
	char *cwd, *full_path;

	if (path[0] == '/')
		return strdup(path);
	cwd = getcwd(NULL, 0);
	if (cwd == NULL)
		return NULL;
	full_path = tt_config_join(cwd, path);
	free(cwd);
	return full_path;
}

static int
apply_flag(struct tt_config *cfg, const struct flag *fl, const char *value, char *err,
	   size_t errsize)
{
	char **slot = (char **)((char *)cfg + fl->to);
	char quoted[TT_CONFIG_QUOTE_MAX];
	const char *expectation;
	char *copy;

	if (fl->check != NULL && (expectation = fl->check(value, strlen(value))) != NULL)
		return tt_config_errf(err, errsize, "%s: expected %s, got \"%s\"", fl->name, expectation,
			    tt_log_quote(value, strlen(value), quoted, sizeof(quoted)));
	if (fl->path && value[0] == '\0')
		return tt_config_errf(err, errsize, "%s: expected a path, got an empty value", fl->name);

	copy = fl->path ? absolute(value) : strdup(value);
	if (copy == NULL)
		return tt_config_errf(err, errsize, "%s: %s", fl->name, strerror(errno));
	free(*slot);
	*slot = copy;
	if (fl->tls)
		cfg->broker.tls.enabled = true;
	return 0;
}

/* Replaces the configured keys with the one from --key-file. */
static int
apply_key_file(struct tt_config *cfg, const struct tt_config_overrides *ov, char *err,
	       size_t errsize)
{
	const char *kid = ov->kid ? ov->kid : "default";
	struct tt_config_key *k;
	char quoted[TT_CONFIG_QUOTE_MAX];
	const char *expectation;

	if (ov->kid != NULL && ov->key_file == NULL)
		return tt_config_errf(err, errsize, "--kid needs --key-file: it names the key read from "
			    "that file");
	if (ov->key_file == NULL)
		return 0;
	if ((expectation = tt_config_check_kid(kid, strlen(kid))) != NULL)
		return tt_config_errf(err, errsize, "--kid: expected %s, got \"%s\"", expectation,
			    tt_log_escape(kid, strlen(kid), quoted, sizeof(quoted)));
	if (ov->key_file[0] == '\0')
		return tt_config_errf(err, errsize, "--key-file: expected a path, got an empty value");

	k = calloc(1, sizeof(*k));
	if (k == NULL || (k->id = strdup(kid)) == NULL || (k->file = absolute(ov->key_file)) == NULL) {
		if (k != NULL)
			tt_config_free_key(k);
		free(k);
		return tt_config_errf(err, errsize, "--key-file: %s", strerror(errno));
	}
	tt_config_free_keys(cfg);
	cfg->keys = k;
	cfg->nkeys = 1;
	return 0;
}

static int
apply_overrides(struct tt_config *cfg, const struct tt_config_overrides *ov, char *err,
		size_t errsize)
{
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		const char *value = *(const char *const *)((const char *)ov + flags[i].from);

		if (value != NULL && apply_flag(cfg, &flags[i], value, err, errsize) == -1)
			return -1;
	}
	if (ov->port != 0) {
		if (ov->port < 1 || ov->port > 65535)
			return tt_config_errf(err, errsize, "--port: expected an integer from 1 to 65535, "
				    "got %d", ov->port);
		cfg->broker.port = ov->port;
	}
	if (ov->tls)
		cfg->broker.tls.enabled = true;
	if (ov->insecure) {
		cfg->broker.tls.enabled = true;
		cfg->broker.tls.verify = false;
	}
	return apply_key_file(cfg, ov, err, errsize);
}

/* Fills the defaults that depend on other values or that init failed to allocate. */
static int
fill_defaults(struct tt_config *cfg, char *err, size_t errsize)
{
	if (cfg->dir == NULL && (cfg->dir = getcwd(NULL, 0)) == NULL)
		return tt_config_errf(err, errsize, "failed to get the current folder: %s", strerror(errno));
	if (cfg->broker.host == NULL && (cfg->broker.host = strdup("127.0.0.1")) == NULL)
		return tt_config_errf(err, errsize, "out of memory");
	if (cfg->topic_prefix == NULL && (cfg->topic_prefix = strdup("tattletale")) == NULL)
		return tt_config_errf(err, errsize, "out of memory");
	if (cfg->rules == NULL && (cfg->rules = tt_config_join(cfg->dir, "rules.d")) == NULL)
		return tt_config_errf(err, errsize, "out of memory");
	if (cfg->broker.port == 0)
		cfg->broker.port = cfg->broker.tls.enabled ? 8883 : 1883;
	return 0;
}

int
tt_config_finish(struct tt_config *cfg, const struct tt_config_overrides *ov, char *err,
		 size_t errsize)
{
	static const struct tt_config_overrides none;
	const struct tt_config_tls *tls = &cfg->broker.tls;

	if (apply_overrides(cfg, ov ? ov : &none, err, errsize) == -1)
		return -1;
	if (fill_defaults(cfg, err, errsize) == -1)
		return -1;

	if (cfg->app == NULL)
		return tt_config_errf(err, errsize, "missing app: set app in the config or pass --app NAME");
	if (cfg->nkeys == 0 && getenv("TATTLETALE_KEY") == NULL)
		return tt_config_errf(err, errsize, "no key configured: add keys to the config, pass "
			    "--key-file FILE or set TATTLETALE_KEY");
	if ((tls->cert_file == NULL) != (tls->key_file == NULL))
		return tt_config_errf(err, errsize, "broker.tls: cert_file and key_file go together, set "
			    "both or neither");
	return 0;
}
