/* SPDX-License-Identifier: MIT */
/* tattletale watch: print every verified message as one JSON line. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "cmd.h"
#include "inbox.h"
#include "log.h"

enum { OPT_REJECTED = TT_OPT_COMMAND_BASE, OPT_COUNT, OPT_TIMEOUT };

struct watch {
	struct tt_loop *loop;
	struct tt_mqtt *mqtt;
	struct tt_inbox inbox;
	bool rejected;			/* --rejected */
	long count;			/* --count, 0: unlimited */
	long seen;
	bool failed;
};

static void
help(FILE *out)
{
	fputs("usage: tattletale watch [OPTIONS] [KIND [NS [NAME]]]\n\n"
	      "Subscribes and prints each verified message as one JSON line on standard output.\n"
	      "A missing part or * matches anything.\n\n"
	      "options:\n"
	      "      --rejected          also print each rejected message on standard error\n"
	      "      --count N           exit 0 after N messages\n"
	      "      --timeout SECONDS   exit after this long; status 1 if fewer than --count arrived\n",
	      out);
	tt_cli_common_help(out);
}

static void
print_message(const struct tt_message *m, bool retained)
{
	/* The data text already passed the scanner, which accepts what jansson accepts. */
	json_t *data = json_loadb(m->data, m->data_len, JSON_DECODE_ANY, NULL);
	json_t *line = json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:I,s:b,s:o?}",
				 "kind", tt_kind_name(m->topic.kind), "ns", m->topic.ns,
				 "name", m->topic.name, "src", m->src, "ts", (json_int_t)m->ts,
				 "id", m->id, "hop", (json_int_t)m->hop, "retained", retained,
				 "data", data);
	char *text = line != NULL ? json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

	if (text != NULL) {
		fputs(text, stdout);
		fputc('\n', stdout);
		fflush(stdout);
	}
	free(text);
	json_decref(line);
}

static void
on_message(void *arg, const char *topic, const void *payload, size_t len, int qos, bool retained)
{
	struct watch *w = arg;
	struct tt_message msg;

	if (w->count > 0 && w->seen >= w->count)
		return;
	if (tt_inbox_accept(&w->inbox, topic, payload, len, retained, &msg) != TT_OK)
		return;
	print_message(&msg, retained);
	tt_message_clear(&msg);
	if (w->count > 0 && ++w->seen >= w->count)
		tt_mqtt_disconnect(w->mqtt);
}

static void
on_reject(void *arg, const char *topic, enum tt_reason reason)
{
	struct watch *w = arg;
	char escaped[600];

	if (!w->rejected || reason == TT_REPEAT)
		return;
	fprintf(stderr, "watch: rejected reason=%s topic=%s\n", tt_reason_name(reason),
		tt_log_escape(topic, strlen(topic), escaped, sizeof(escaped)));
	fflush(stderr);
}

static void
on_disconnected(void *arg, int rc, const char *reason)
{
	struct watch *w = arg;

	if (!(w->count > 0 && w->seen >= w->count)) {
		fprintf(stderr, "tattletale watch: broker %s unreachable or connection lost: %s\n",
			tt_mqtt_address(w->mqtt), reason);
		w->failed = true;
	}
	tt_loop_stop(w->loop);
}

static void
on_signal(void *arg, int signo)
{
	struct watch *w = arg;

	if (signo != SIGHUP)
		tt_loop_stop(w->loop);
}

static int
parse_long(const char *arg, long max, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(arg, &end, 10);
	return errno != 0 || end == arg || *end != '\0' || *out < 1 || *out > max ? -1 : 0;
}

/* Subscribes to the filters that KIND NS NAME select. Returns 0, or -1 with the error printed. */
static int
subscribe(struct watch *w, const struct tt_config *cfg, int nargs, char **args)
{
	const char *kind = nargs > 0 ? args[0] : "*";
	const char *ns = nargs > 1 ? args[1] : "*";
	const char *name = nargs > 2 ? args[2] : "*";
	char filter[TT_TOPIC_MAX + 1];
	enum tt_kind k;

	for (int i = 1; i < nargs; i++)
		if (strcmp(args[i], "*") != 0 && tt_topic_check_part(args[i], strlen(args[i])) < 0) {
			fprintf(stderr, "tattletale watch: invalid namespace or name '%s'\n", args[i]);
			return -1;
		}
	if (strcmp(kind, "*") != 0 && tt_kind_parse(kind, &k) < 0) {
		fprintf(stderr, "tattletale watch: invalid kind '%s': expected event, state, action "
			"or *\n", kind);
		return -1;
	}
	for (int i = 0; i < TT_KIND_COUNT; i++) {
		if (strcmp(kind, "*") != 0 && (enum tt_kind)i != k)
			continue;
		tt_topic_format(filter, sizeof(filter), cfg->topic_prefix, i, ns, name, true);
		if (tt_mqtt_subscribe(w->mqtt, filter, tt_kind_qos(i)) < 0)
			return -1;
	}
	return 0;
}

static int
make_client(struct watch *w, const struct tt_config *cfg)
{
	struct tt_mqtt_handlers h = {
		.disconnected = on_disconnected,
		.message = on_message,
		.arg = w,
	};
	char err[512];

	w->mqtt = tt_cli_mqtt_new(cfg, &h, true, err, sizeof(err));
	if (w->mqtt == NULL)
		fprintf(stderr, "tattletale watch: %s\n", err);
	return w->mqtt == NULL ? -1 : 0;
}

static int
make_inbox(struct watch *w, const struct tt_config *cfg, const struct tt_keyring *keys)
{
	struct tt_verify_opts v = { cfg->topic_prefix, keys, cfg->limits.payload, cfg->limits.depth };
	struct tt_fresh_opts f = { cfg->window.past_ms, cfg->window.future_ms, cfg->limits.ids,
				   TT_STATE_TOPICS_DEFAULT };

	if (tt_inbox_init(&w->inbox, &v, &f) < 0)
		return -1;
	w->inbox.log_rejections = tt_log_enabled(TT_LOG_DEBUG);
	w->inbox.on_reject = on_reject;
	w->inbox.arg = w;
	return 0;
}

/* Runs until --count, --timeout, a signal or a lost connection. Returns an exit status. */
static int
run(struct watch *w, double timeout)
{
	int64_t deadline = timeout > 0 ? tt_now_mono_ms() + (int64_t)(timeout * 1000) : INT64_MAX;

	w->loop = tt_loop_new();
	if (w->loop == NULL || tt_loop_watch_signals(w->loop, on_signal, w) < 0 ||
	    tt_mqtt_start(w->mqtt, w->loop) < 0) {
		fprintf(stderr, "tattletale watch: cannot start the broker connection\n");
		return TT_EXIT_FAILURE;
	}
	while (!tt_loop_stopped(w->loop) && tt_now_mono_ms() < deadline)
		tt_loop_once(w->loop, deadline == INT64_MAX ? -1 : deadline - tt_now_mono_ms());

	if (w->failed)
		return TT_EXIT_FAILURE;
	if (w->count > 0 && w->seen < w->count) {
		if (tt_now_mono_ms() >= deadline)
			fprintf(stderr, "tattletale watch: timed out after %g s with %ld of %ld "
				"messages\n", timeout, w->seen, w->count);
		return TT_EXIT_FAILURE;
	}
	return TT_EXIT_OK;
}

int
tt_cmd_watch(int argc, char **argv)
{
	static const struct option extra[] = {
		{ "rejected", no_argument, NULL, OPT_REJECTED },
		{ "count", required_argument, NULL, OPT_COUNT },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ NULL, 0, NULL, 0 },
	};
	struct option *options = tt_cli_options(extra);
	struct tt_cli cli = { .tool = true };
	struct tt_config cfg;
	struct tt_keyring *keys = NULL;
	struct watch w = { 0 };
	double timeout = 0;
	long seconds;
	int opt, status = TT_EXIT_USAGE;

	while ((opt = getopt_long(argc, argv, TT_CLI_COMMON_SHORT, options, NULL)) != -1) {
		int rc = tt_cli_common(&cli, opt, optarg);
		if (rc < 0)
			goto usage;
		if (rc == 1)
			continue;
		if (opt == OPT_REJECTED) {
			w.rejected = true;
		} else if (opt == OPT_COUNT && parse_long(optarg, 1000000000L, &w.count) == 0) {
			continue;
		} else if (opt == OPT_TIMEOUT && parse_long(optarg, 86400L * 365, &seconds) == 0) {
			timeout = (double)seconds;
		} else {
			if (opt == OPT_COUNT || opt == OPT_TIMEOUT)
				fprintf(stderr, "tattletale watch: invalid %s '%s': expected a whole "
					"number above 0\n", opt == OPT_COUNT ? "--count" : "--timeout",
					optarg);
			goto usage;
		}
	}
	free(options);
	options = NULL;
	if (cli.help) {
		help(stdout);
		return TT_EXIT_OK;
	}
	if (argc - optind > 3) {
		fprintf(stderr, "tattletale watch: expected at most KIND NS NAME\n");
		goto usage;
	}

	if (tt_cli_setup(&cli, &cfg, &keys, "watch") < 0)
		goto out;
	if (make_inbox(&w, &cfg, keys) < 0 || make_client(&w, &cfg) < 0 ||
	    subscribe(&w, &cfg, argc - optind, argv + optind) < 0)
		goto out;
	status = run(&w, timeout);

out:
	tt_mqtt_free(w.mqtt);
	tt_loop_free(w.loop);
	tt_inbox_fini(&w.inbox);
	tt_keyring_free(keys);
	tt_config_free(&cfg);
	return status;

usage:
	free(options);
	tt_cli_usage("watch", "[OPTIONS] [KIND [NS [NAME]]]");
	return TT_EXIT_USAGE;
}
