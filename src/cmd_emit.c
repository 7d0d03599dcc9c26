/* SPDX-License-Identifier: MIT */
/* tattletale emit: sign and publish one message, then wait until the broker has it. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd.h"
#include "envelope.h"
#include "jsontext.h"
#include "log.h"
#include "sender.h"

enum { OPT_TIMEOUT = TT_OPT_COMMAND_BASE };

struct emit {
	struct tt_loop *loop;
	struct tt_mqtt *mqtt;
	struct tt_sender sender;
	struct tt_outgoing out;
	char id[TT_ID_LEN + 1];
	int mid;
	bool sent, done, failed;
};

static void
help(FILE *out)
{
	fputs("usage: tattletale emit [OPTIONS] KIND NS NAME [JSON]\n\n"
	      "Signs and publishes one message. KIND is event, state or action. The value is\n"
	      "the JSON argument, or standard input when it is absent. Prints the message id.\n"
	      "An action waits for the broker's QoS 2 completion.\n\n"
	      "options:\n"
	      "      --timeout SECONDS   give up after this long (default 10)\n", out);
	tt_cli_common_help(out);
}

/* Reads standard input up to max bytes. Returns a malloc'd buffer, or NULL with errno. */
static char *
read_stdin(size_t max, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1), *grown;
	size_t got;

	while (buf != NULL && (got = fread(buf + n, 1, cap - n, stdin)) > 0) {
		n += got;
		if (n > max) {
			free(buf);
			errno = EFBIG;
			return NULL;
		}
		if (n == cap) {
			cap *= 2;
			grown = realloc(buf, cap + 1);
			if (grown == NULL)
				free(buf);
			buf = grown;
		}
	}
	if (buf != NULL && ferror(stdin)) {
		free(buf);
		return NULL;
	}
	if (buf != NULL)
		buf[n] = '\0';
	*len = n;
	return buf;
}

/*
 * Checks that text is one JSON value within the limits and trims the
 * whitespace around it. The value is then sent byte for byte as written.
 * It is checked with the scanner that receivers use, so emit sends only
 * what they accept.
 */
static int
check_value(char *text, size_t *len, const struct tt_config *cfg)
{
	struct tt_json_error jerr;
	size_t start = 0, end = *len;

	while (start < end && tt_json_isspace(text[start]))
		start++;
	while (end > start && tt_json_isspace(text[end - 1]))
		end--;
	memmove(text, text + start, end - start);
	*len = end - start;
	text[*len] = '\0';

	if (*len == 0) {
		fprintf(stderr, "tattletale emit: missing value: pass JSON such as '{\"id\":42}' or 'null'\n");
		return -1;
	}
	/* The envelope adds one level and some bytes, and receivers count both. */
	if (*len > cfg->limits.payload - TT_ENVELOPE_OVERHEAD) {
		fprintf(stderr, "tattletale emit: invalid value: %zu bytes, more than the %zu that fit "
			"in limits.payload\n", *len, cfg->limits.payload - TT_ENVELOPE_OVERHEAD);
		return -1;
	}
	if (tt_json_validate(text, *len, cfg->limits.depth - 1, &jerr) == 0)
		return 0;
	if (jerr.too_deep)
		fprintf(stderr, "tattletale emit: invalid value: nested deeper than %d levels\n",
			cfg->limits.depth - 1);
	else
		fprintf(stderr, "tattletale emit: invalid JSON value at byte %zu: %s%s\n",
			jerr.offset + 1, jerr.message,
			isalpha((unsigned char)text[0]) ?
			" (a string needs JSON quotes, such as '\"hello\"')" : "");
	return -1;
}

static void
on_connected(void *arg)
{
	struct emit *e = arg;
	char err[512];

	if (tt_sender_send(&e->sender, &e->out, e->id, &e->mid, err, sizeof(err)) < 0) {
		fprintf(stderr, "tattletale emit: %s\n", err);
		e->failed = true;
		tt_mqtt_disconnect(e->mqtt);
		return;
	}
	e->sent = true;
}

static void
on_published(void *arg, int mid)
{
	struct emit *e = arg;

	if (e->sent && mid == e->mid) {
		e->done = true;
		tt_mqtt_disconnect(e->mqtt);
	}
}

static void
on_disconnected(void *arg, int rc, const char *reason)
{
	struct emit *e = arg;

	if (!e->done && !e->failed) {
		fprintf(stderr, "tattletale emit: broker %s unreachable or connection lost: %s\n",
			tt_mqtt_address(e->mqtt), reason);
		e->failed = true;
	}
	tt_loop_stop(e->loop);
}

static int
parse_seconds(const char *arg, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(arg, &end);
	return errno != 0 || end == arg || *end != '\0' || !(*out > 0 && *out <= 86400) ? -1 : 0;
}

/* Connects, sends and waits. Returns an exit status. */
static int
send_one(struct emit *e, const struct tt_config *cfg, const struct tt_keyring *keys,
	 double timeout)
{
	struct tt_mqtt_handlers h = {
		.connected = on_connected,
		.disconnected = on_disconnected,
		.published = on_published,
		.arg = e,
	};
	char err[512];
	int64_t deadline;

	e->mqtt = tt_cli_mqtt_new(cfg, &h, true, err, sizeof(err));
	if (e->mqtt == NULL) {
		fprintf(stderr, "tattletale emit: %s\n", err);
		return TT_EXIT_FAILURE;
	}
	e->sender = (struct tt_sender){ e->mqtt, tt_keyring_signer(keys), cfg->topic_prefix,
					cfg->app };
	e->loop = tt_loop_new();
	if (e->loop == NULL || tt_mqtt_start(e->mqtt, e->loop) < 0) {
		fprintf(stderr, "tattletale emit: cannot start the broker connection\n");
		return TT_EXIT_FAILURE;
	}

	deadline = tt_now_mono_ms() + (int64_t)(timeout * 1000);
	while (!tt_loop_stopped(e->loop) && tt_now_mono_ms() < deadline)
		tt_loop_once(e->loop, deadline - tt_now_mono_ms());
	if (!e->done) {
		if (!e->failed)
			fprintf(stderr, "tattletale emit: timed out after %g s waiting for the broker "
				"%s\n", timeout, tt_mqtt_address(e->mqtt));
		return TT_EXIT_FAILURE;
	}
	printf("%s\n", e->id);
	return fflush(stdout) == 0 ? TT_EXIT_OK : TT_EXIT_FAILURE;
}

int
tt_cmd_emit(int argc, char **argv)
{
	static const struct option extra[] = {
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ NULL, 0, NULL, 0 },
	};
	struct option *options = tt_cli_options(extra);
	struct tt_cli cli = { .tool = true };
	struct tt_config cfg;
	struct tt_keyring *keys = NULL;
	struct emit e = { 0 };
	double timeout = 10;
	char *value = NULL;
	size_t len;
	int opt, status = TT_EXIT_USAGE;

	while ((opt = getopt_long(argc, argv, TT_CLI_COMMON_SHORT, options, NULL)) != -1) {
		int rc = tt_cli_common(&cli, opt, optarg);
		if (rc == 0 && opt == OPT_TIMEOUT && parse_seconds(optarg, &timeout) == 0)
			continue;
		if (rc == 0 && opt == OPT_TIMEOUT)
			fprintf(stderr, "tattletale emit: invalid --timeout '%s': expected seconds "
				"above 0, at most 86400\n", optarg);
		if (rc <= 0)
			goto usage;
	}
	free(options);
	options = NULL;
	if (cli.help) {
		help(stdout);
		return TT_EXIT_OK;
	}
	if (argc - optind < 3 || argc - optind > 4) {
		fprintf(stderr, "tattletale emit: expected KIND NS NAME [JSON]\n");
		goto usage;
	}
	if (tt_kind_parse(argv[optind], &e.out.kind) < 0) {
		fprintf(stderr, "tattletale emit: invalid kind '%s': expected event, state or action\n",
			argv[optind]);
		goto usage;
	}
	e.out.ns = argv[optind + 1];
	e.out.name = argv[optind + 2];
	if (tt_topic_check_part(e.out.ns, strlen(e.out.ns)) < 0 ||
	    tt_topic_check_part(e.out.name, strlen(e.out.name)) < 0) {
		fprintf(stderr, "tattletale emit: invalid namespace or name: each is 1 to %d bytes of "
			"UTF-8 without '/', '+', '#', control characters or a leading '$'\n",
			TT_PART_MAX);
		goto usage;
	}

	if (tt_cli_setup(&cli, &cfg, &keys, "cli") < 0)
		goto out;
	if (argc - optind == 4) {
		len = strlen(argv[optind + 3]);
		value = strdup(argv[optind + 3]);
	} else {
		value = read_stdin(cfg.limits.payload, &len);
		if (value == NULL)
			fprintf(stderr, "tattletale emit: cannot read the value from standard input: %s\n",
				errno == EFBIG ? "larger than limits.payload" : strerror(errno));
	}
	if (value == NULL || check_value(value, &len, &cfg) < 0)
		goto out;
	e.out.json = value;
	e.out.len = len;
	status = send_one(&e, &cfg, keys, timeout);

out:
	free(value);
	tt_mqtt_free(e.mqtt);
	tt_loop_free(e.loop);
	tt_keyring_free(keys);
	tt_config_free(&cfg);
	return status;

usage:
	free(options);
	tt_cli_usage("emit", "[OPTIONS] KIND NS NAME [JSON]");
	return TT_EXIT_USAGE;
}
