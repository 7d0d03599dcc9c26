/* SPDX-License-Identifier: MIT */
/*
 * The baseline for the benchmark: a bare libmosquitto relay that
 * subscribes to one topic and republishes every payload unchanged to
 * another at QoS 0, with no verification, no Lua and no signing. It runs
 * one thread and one poll() loop with the same library calls as the router,
 * so the difference between the two is the router's own work. It runs
 * until SIGTERM or SIGINT, then prints how many messages it relayed.
 *
 * With --key it is the signing relay instead. It does the protocol's work
 * on each message as the router does: verify, freshness and replay check,
 * a new id, hop + 1 and a signature for the out-topic. It forwards the data
 * text unchanged, with no Lua. The router's cost above this is the rules'
 * share.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "envelope.h"
#include "fresh.h"
#include "log.h"

#define PROG "relay"

static volatile sig_atomic_t stop_requested;

struct relay {
	const char *out_topic;
	/* Set by --key only: */
	struct tt_verify_opts verify;
	struct tt_fresh *fresh;
	const struct tt_key *signer;
	unsigned long long rejected;
	unsigned long long relayed;
	unsigned long long failed;
};

static void
on_signal(int signo)
{
	stop_requested = 1;
}

/*
 * Verifies msg as the router does and sets *payload to a payload signed for
 * the out-topic with the same data. Returns 0, 1 when the message is
 * rejected, or -1 when signing failed.
 */
static int
resign(struct relay *r, const struct mosquitto_message *msg, char **payload, size_t *len)
{
	struct tt_message in;
	struct tt_sign_input out;
	char id[TT_ID_LEN + 1];
	int64_t now = tt_now_wall_ms();
	int rc = 1;

	*payload = NULL;
	if (tt_envelope_verify(&r->verify, msg->topic, msg->payload, (size_t)msg->payloadlen,
			       &in) != TT_OK)
		return 1;
	if (tt_fresh_check(r->fresh, &in, msg->topic, msg->retain, now) == TT_OK &&
	    in.data != NULL) {
		rc = -1;
		if (tt_envelope_new_id(id) < 0)
			goto out;
		out = (struct tt_sign_input){
			.topic = r->out_topic,
			.src = "relay",
			.ts = now,
			.id = id,
			.hop = in.hop + 1,
			.data = in.data,
			.data_len = in.data_len,
		};
		*payload = tt_envelope_sign(r->signer, &out, len);
		if (*payload != NULL)
			rc = 0;
	}
out:
	tt_message_clear(&in);
	return rc;
}

static void
on_message(struct mosquitto *mosq, void *arg, const struct mosquitto_message *msg)
{
	struct bench_client *c = arg;
	struct relay *r = c->arg;
	char *payload;
	size_t len;

	if (r->signer != NULL) {
		switch (resign(r, msg, &payload, &len)) {
		case 1:
			r->rejected++;
			return;
		case -1:
			r->failed++;
			return;
		}
		if (mosquitto_publish(mosq, NULL, r->out_topic, (int)len, payload, 0, false) ==
		    MOSQ_ERR_SUCCESS)
			r->relayed++;
		else
			r->failed++;
		free(payload);
		return;
	}
	if (mosquitto_publish(mosq, NULL, r->out_topic, msg->payloadlen, msg->payload, 0,
			      false) == MOSQ_ERR_SUCCESS)
		r->relayed++;
	else
		r->failed++;
}

static void
usage(FILE *out)
{
	fputs("usage: relay [--host HOST] [--port PORT] [--in TOPIC] [--out TOPIC] [--nodelay]\n"
	      "             [--key FILE [--kid ID]]\n\n"
	      "Republishes every message on the in-topic (default " BENCH_IN_TOPIC ")\n"
	      "unchanged to the out-topic (default " BENCH_OUT_TOPIC ") at QoS 0 until\n"
	      "SIGTERM or SIGINT. host defaults to 127.0.0.1 and port to 1883. --nodelay\n"
	      "sets TCP_NODELAY on the broker connection, which the router does not do.\n"
	      "With --key, it verifies each message with that key (key id --kid, default\n"
	      "k1) and forwards its data signed again for the out-topic, as the router\n"
	      "does but without Lua.\n", out);
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
		{ "key", required_argument, NULL, 'k' },
		{ "kid", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct relay r = { .out_topic = BENCH_OUT_TOPIC };
	struct bench_client c = { .sub = BENCH_IN_TOPIC, .arg = &r };
	struct sigaction sa = { .sa_handler = on_signal };
	const char *host = "127.0.0.1", *key_file = NULL, *kid = "k1";
	struct tt_keyring *keys = NULL;
	long long port = 1883;
	int opt, status = 1;

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
		else if (opt == 'k')
			key_file = optarg;
		else if (opt == 'K')
			kid = optarg;
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

	if (key_file != NULL) {
		keys = bench_load_key(PROG, key_file, kid);
		if (keys == NULL)
			return 1;
		r.fresh = tt_fresh_new(NULL);
		if (r.fresh == NULL) {
			fprintf(stderr, PROG ": cannot set up the replay check: %s\n",
				strerror(errno));
			goto done;
		}
		r.verify.keys = keys;
		r.signer = tt_keyring_signer(keys);
	}
	if (bench_client_open(&c, PROG, host, (int)port, 10000, on_message) < 0)
		goto done;
	while (!stop_requested)
		if (bench_client_service(&c, 1000) < 0)
			break;
	bench_client_close(&c, 1000);

	printf("relayed=%llu failed=%llu rejected=%llu\n", r.relayed, r.failed, r.rejected);
	if (stop_requested)
		status = 0;
	else
		fprintf(stderr, PROG ": connection to the broker lost\n");
done:
	tt_fresh_free(r.fresh);
	tt_keyring_free(keys);
	return status;
}
