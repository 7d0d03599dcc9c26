/* SPDX-License-Identifier: MIT */
/*
 * The baseline for the benchmark: a bare libmosquitto relay that
 * subscribes to one topic and republishes every payload unchanged to
 * another at QoS 0, with no verification, no Lua and no signing. It runs
 * one thread and one poll() loop with the same library calls as the router,
 * so the difference between the two is the router's own work. It runs
 * until SIGTERM or SIGINT, then prints how many messages it relayed.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define PROG "relay"

static volatile sig_atomic_t stop_requested;

struct relay {
	const char *out_topic;
	unsigned long long relayed;
	unsigned long long failed;
};

static void
on_signal(int signo)
{
	stop_requested = 1;
}

static void
on_message(struct mosquitto *mosq, void *arg, const struct mosquitto_message *msg)
{
	struct bench_client *c = arg;
	struct relay *r = c->arg;

	if (mosquitto_publish(mosq, NULL, r->out_topic, msg->payloadlen, msg->payload, 0,
			      false) == MOSQ_ERR_SUCCESS)
		r->relayed++;
	else
		r->failed++;
}

static void
usage(FILE *out)
{
	fputs("usage: relay [--host HOST] [--port PORT] [--in TOPIC] [--out TOPIC] [--nodelay]\n\n"
	      "Republishes every message on the in-topic (default " BENCH_IN_TOPIC ")\n"
	      "unchanged to the out-topic (default " BENCH_OUT_TOPIC ") at QoS 0 until\n"
	      "SIGTERM or SIGINT. host defaults to 127.0.0.1 and port to 1883. --nodelay\n"
	      "sets TCP_NODELAY on the broker connection, which the router does not do.\n", out);
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "in", required_argument, NULL, 'i' },
		{ "out", required_argument, NULL, 'o' },
		{ "nodelay", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct relay r = { .out_topic = BENCH_OUT_TOPIC };
	struct bench_client c = { .sub = BENCH_IN_TOPIC, .arg = &r };
	struct sigaction sa = { .sa_handler = on_signal };
	const char *host = "127.0.0.1";
	long long port = 1883;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (opt == 'H')
			host = optarg;
		else if (opt == 'p' && bench_parse_int(PROG, "port", optarg, 1, 65535, &port) < 0)
			return 2;
		else if (opt == 'i')
			c.sub = optarg;
		else if (opt == 'o')
			r.out_topic = optarg;
		else if (opt == 'N')
			c.nodelay = true;
		else if (opt == 'h') {
			usage(stdout);
			return 0;
		} else if (opt != 'p') {
			usage(stderr);
			return 2;
		}
	}

	/* No SA_RESTART, so a signal ends the poll() at once. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (bench_client_open(&c, PROG, host, (int)port, 10000, on_message) < 0)
		return 1;
	while (!stop_requested)
		if (bench_client_service(&c, 1000) < 0)
			break;
	bench_client_close(&c, 1000);

	printf("relayed=%llu failed=%llu\n", r.relayed, r.failed);
	if (!stop_requested) {
		fprintf(stderr, PROG ": connection to the broker lost\n");
		return 1;
	}
	return 0;
}
