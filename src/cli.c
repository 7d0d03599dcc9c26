/* SPDX-License-Identifier: MIT */
/* The common command-line options and the path from them to a config and keys. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "log.h"

const struct option tt_cli_common_options[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "host", required_argument, NULL, 'H' },
	{ "port", required_argument, NULL, 'p' },
	{ "help", no_argument, NULL, 'h' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "app", required_argument, NULL, TT_OPT_APP },
	{ "key-file", required_argument, NULL, TT_OPT_KEY_FILE },
	{ "kid", required_argument, NULL, TT_OPT_KID },
	{ "prefix", required_argument, NULL, TT_OPT_PREFIX },
	{ "rules", required_argument, NULL, TT_OPT_RULES },
	{ "username", required_argument, NULL, TT_OPT_USERNAME },
	{ "password-file", required_argument, NULL, TT_OPT_PASSWORD_FILE },
	{ "tls", no_argument, NULL, TT_OPT_TLS },
	{ "ca-file", required_argument, NULL, TT_OPT_CA_FILE },
	{ "cert-file", required_argument, NULL, TT_OPT_CERT_FILE },
	{ "tls-key-file", required_argument, NULL, TT_OPT_TLS_KEY_FILE },
	{ "insecure", no_argument, NULL, TT_OPT_INSECURE },
	{ "log-level", required_argument, NULL, TT_OPT_LOG_LEVEL },
};

struct option *
tt_cli_options(const struct option *extra)
{
	size_t nextra = 0;
	struct option *all;

	while (extra != NULL && extra[nextra].name != NULL)
		nextra++;
	all = calloc(TT_CLI_COMMON_COUNT + nextra + 1, sizeof(*all));
	if (all == NULL)
		return NULL;
	memcpy(all, tt_cli_common_options, sizeof(tt_cli_common_options));
	if (nextra > 0)
		memcpy(all + TT_CLI_COMMON_COUNT, extra, nextra * sizeof(*all));
	return all;
}

static int
parse_port(const char *arg)
{
	char *end;
	long port;

	errno = 0;
	port = strtol(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || port < 1 || port > 65535)
		return -1;
	return (int)port;
}

int
tt_cli_common(struct tt_cli *cli, int opt, const char *arg)
{
	struct tt_config_overrides *ov = &cli->ov;

	switch (opt) {
	case 'c': cli->config_path = arg; break;
	case 'H': ov->host = arg; break;
	case 'p':
		ov->port = parse_port(arg);
		if (ov->port < 0) {
			fprintf(stderr, "tattletale: invalid port '%s': expected 1 to 65535\n", arg);
			return -1;
		}
		break;
	case 'h': cli->help = true; break;
	case 'v': cli->verbose++; break;
	case 'q': cli->quiet = true; break;
	case TT_OPT_APP: ov->app = arg; break;
	case TT_OPT_KEY_FILE: ov->key_file = arg; break;
	case TT_OPT_KID: ov->kid = arg; break;
	case TT_OPT_PREFIX: ov->prefix = arg; break;
	case TT_OPT_RULES: ov->rules = arg; break;
	case TT_OPT_USERNAME: ov->username = arg; break;
	case TT_OPT_PASSWORD_FILE: ov->password_file = arg; break;
	case TT_OPT_TLS: ov->tls = true; break;
	case TT_OPT_CA_FILE: ov->ca_file = arg; ov->tls = true; break;
	case TT_OPT_CERT_FILE: ov->cert_file = arg; ov->tls = true; break;
	case TT_OPT_TLS_KEY_FILE: ov->key_file_tls = arg; ov->tls = true; break;
	case TT_OPT_INSECURE: ov->insecure = true; ov->tls = true; break;
	case TT_OPT_LOG_LEVEL: {
		enum tt_log_level level;
		if (tt_log_level_parse(arg, &level) < 0) {
			fprintf(stderr, "tattletale: invalid log level '%s': expected error, warn, "
				"notice, info or debug\n", arg);
			return -1;
		}
		cli->log_level = arg;
		break;
	}
	default:
		return 0;
	}
	return 1;
}

void
tt_cli_usage(const char *command, const char *synopsis)
{
	fprintf(stderr, "usage: tattletale %s %s\nRun 'tattletale help %s' for the options.\n",
		command, synopsis, command);
}

void
tt_cli_common_help(FILE *out)
{
	fputs("common options:\n"
	      "  -c, --config FILE       config file (default: $TATTLETALE_CONFIG, ./tattletale.yaml,\n"
	      "                          /etc/tattletale/tattletale.yaml)\n"
	      "  -H, --host HOST         broker host (default 127.0.0.1)\n"
	      "  -p, --port PORT         broker port (default 1883, 8883 with TLS)\n"
	      "      --app NAME          this program's app name, sent as src\n"
	      "      --key-file FILE     file holding the shared key (default kid: default)\n"
	      "      --kid ID            key id of --key-file\n"
	      "      --prefix P          topic prefix (default tattletale)\n"
	      "      --username NAME     broker username\n"
	      "      --password-file F   file holding the broker password\n"
	      "      --tls               connect with TLS\n"
	      "      --ca-file FILE      CA certificates for TLS (implies --tls)\n"
	      "      --cert-file FILE    client certificate for TLS (implies --tls)\n"
	      "      --tls-key-file FILE client private key for TLS (implies --tls)\n"
	      "      --insecure          TLS without certificate verification (testing only)\n"
	      "      --log-level LEVEL   error, warn, notice, info or debug\n"
	      "  -v, --verbose           log at debug level\n"
	      "  -q, --quiet             log errors only\n"
	      "  -h, --help              show this help\n"
	      "environment: TATTLETALE_KEY holds a key's text (kid default) when no key is configured\n",
	      out);
}

/* Prints each line of err to stderr after the program's name. */
static void
print_errors(const char *err)
{
	const char *end;

	do {
		end = strchr(err, '\n');
		if (end == NULL)
			end = err + strlen(err);
		fprintf(stderr, "tattletale: %.*s\n", (int)(end - err), err);
		err = end + 1;
	} while (*end != '\0');
}

int
tt_cli_setup(struct tt_cli *cli, struct tt_config *cfg, struct tt_keyring **keys,
	     const char *default_app)
{
	char err[TT_CONFIG_ERR_MAX];
	const char *path;
	struct tt_config_overrides ov = cli->ov;
	enum tt_log_level level;

	tt_config_init(cfg);
	path = tt_config_locate(cli->config_path);
	if (path != NULL && tt_config_read(cfg, path, err, sizeof(err)) < 0) {
		print_errors(err);
		return -1;
	}
	if (ov.app == NULL && cfg->app == NULL)
		ov.app = default_app;
	if (tt_config_finish(cfg, &ov, err, sizeof(err)) < 0) {
		fprintf(stderr, "tattletale: %s%s\n", err,
			path == NULL ? " (no config file found; pass -c FILE or the flags)" : "");
		return -1;
	}

	level = cli->tool ? TT_LOG_WARN : cfg->log_level;
	if (cli->log_level != NULL)
		tt_log_level_parse(cli->log_level, &level);
	if (cli->verbose > 0)
		level = TT_LOG_DEBUG;
	if (cli->quiet)
		level = TT_LOG_ERROR;
	tt_log_set_level(level);

	*keys = tt_config_load_keys(cfg, err, sizeof(err));
	if (*keys == NULL) {
		fprintf(stderr, "tattletale: %s\n", err);
		return -1;
	}
	return 0;
}

struct tt_mqtt *
tt_cli_mqtt_new(const struct tt_config *cfg, const struct tt_mqtt_handlers *h, bool one_shot,
		char *err, size_t errsize)
{
	struct tt_mqtt_opts o = {
		.host = cfg->broker.host,
		.port = cfg->broker.port,
		.client_id = cfg->broker.client_id,
		.persistent = cfg->broker.persistent && !one_shot,
		.username = cfg->broker.username,
		.keepalive = cfg->broker.keepalive,
		.tls = cfg->broker.tls.enabled,
		.ca_file = cfg->broker.tls.ca_file,
		.cert_file = cfg->broker.tls.cert_file,
		.key_file = cfg->broker.tls.key_file,
		.tls_verify = cfg->broker.tls.verify,
		.reconnect = !one_shot,
	};
	unsigned char rnd[4];
	char idbuf[64], *password = NULL;
	struct tt_mqtt *mqtt;
	size_t len;

	if (one_shot) {
		o.client_id = NULL;
	} else if (o.client_id == NULL) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
			snprintf(err, errsize, "cannot make a client id: no randomness available");
			return NULL;
		}
		snprintf(idbuf, sizeof(idbuf), "%.40s-%02x%02x%02x%02x", cfg->app, rnd[0], rnd[1],
			 rnd[2], rnd[3]);
		o.client_id = idbuf;
	}

	if (cfg->broker.password_file != NULL) {
		if (tt_key_read_file(cfg->broker.password_file, &password, &len) < 0) {
			snprintf(err, errsize, "cannot read broker.password_file %s: %s",
				 cfg->broker.password_file, strerror(errno));
			return NULL;
		}
		o.password = password;
	}
	mqtt = tt_mqtt_new(&o, h, err, errsize);
	if (password != NULL) {
		OPENSSL_cleanse(password, len);
		free(password);
	}
	return mqtt;
}
