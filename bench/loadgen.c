/* SPDX-License-Identifier: MIT */
/*
 * The benchmark's load generator: publishes N protocol v1 events, each
 * signed at send time with tt_envelope_sign as a real producer would. A
 * paced run follows an absolute schedule: message i is due at
 * start + i / rate, so a late message does not shift the ones after it.
 * A full-speed run publishes as fast as the broker accepts: the next batch
 * waits until the socket has taken the previous one.
 *
 * The data member is a JSON object of about --data-bytes bytes whose "seq"
 * is the message number and "t" the CLOCK_MONOTONIC time in ns just before
 * signing, so the sink can find losses and latencies.
 *
 * At the end it prints one line of key=value results, including its own
 * CPU per message, which is reported apart from the process under test.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "envelope.h"
#include "log.h"

#define PROG "loadgen"
#define BATCH 64			/* messages published between two poll() rounds */
#define DATA_MAX 4096

struct gen {
	struct bench_client client;
	const struct tt_key *key;
	const char *topic;
	const char *src;
	long long count;
	long long rate;			/* messages per second; 0: as fast as possible */
	long long data_bytes;
	long long sent;
	size_t payload_bytes;		/* of the last message */
	int64_t late_max_ns;		/* the furthest behind schedule a paced message went out */
};

/* Writes the data object for message seq, padded with a "note" to about g->data_bytes. */
static int
format_data(const struct gen *g, long long seq, int64_t t, char *out, size_t size)
{
	int len, pad;

	len = snprintf(out, size,
		       "{\"seq\":%lld,\"t\":%lld,\"device\":\"sensor-%03lld\",\"site\":\"hall-b\","
		       "\"metric\":\"temperature\",\"unit\":\"C\",\"value\":%lld.%lld,\"ok\":true,"
		       "\"tags\":[\"bench\",\"loadgen\"],\"note\":\"",
		       seq, (long long)t, seq % 1000, 15 + seq % 10, seq % 10);
	if (len < 0 || (size_t)len + 3 > size)
		return -1;
	pad = (int)g->data_bytes - len - 2;
	if (pad > 0 && (size_t)(len + pad + 3) <= size) {
		memset(out + len, 'x', (size_t)pad);
		len += pad;
	}
	memcpy(out + len, "\"}", 3);
	return len + 2;
}

static int
publish_one(struct gen *g)
{
	char data[DATA_MAX], id[TT_ID_LEN + 1];
	struct tt_sign_input in;
	char *payload;
	size_t len;
	int data_len, rc;

	data_len = format_data(g, g->sent, bench_now_ns(), data, sizeof(data));
	if (data_len < 0 || tt_envelope_new_id(id) < 0) {
		fprintf(stderr, PROG ": cannot build message %lld\n", g->sent);
		return -1;
	}
	in = (struct tt_sign_input){
		.topic = g->topic,
		.src = g->src,
		.ts = tt_now_wall_ms(),
		.id = id,
		.data = data,
		.data_len = (size_t)data_len,
	};
	payload = tt_envelope_sign(g->key, &in, &len);
	if (payload == NULL) {
		fprintf(stderr, PROG ": signing failed: %s\n", strerror(errno));
		return -1;
	}
	rc = mosquitto_publish(g->client.mosq, NULL, g->topic, (int)len, payload, 0, false);
	free(payload);
	if (rc != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, PROG ": publish failed: %s\n", mosquitto_strerror(rc));
		return -1;
	}
	g->payload_bytes = len;
	g->sent++;
	return 0;
}

static int64_t
due_ns(const struct gen *g, int64_t start)
{
	return start + g->sent * 1000000000LL / g->rate;
}

/* Sends every message that is due, up to BATCH, or sleeps until the next one is. */
static int
paced_step(struct gen *g, int64_t start)
{
	int64_t now = bench_now_ns(), due = due_ns(g, start);
	struct timespec ts;

	if (now < due) {
		if (mosquitto_want_write(g->client.mosq))
			return bench_client_service(&g->client, 0);
		ts.tv_sec = due / 1000000000;
		ts.tv_nsec = due % 1000000000;
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		return 0;
	}
	for (int i = 0; i < BATCH && g->sent < g->count && (due = due_ns(g, start)) <= now; i++) {
		if (now - due > g->late_max_ns)
			g->late_max_ns = now - due;
		if (publish_one(g) < 0)
			return -1;
	}
	return bench_client_service(&g->client, 0);
}

/* Publishes up to BATCH messages while the socket takes them, then services it. */
static int
full_speed_step(struct gen *g)
{
	for (int i = 0; i < BATCH && g->sent < g->count && !mosquitto_want_write(g->client.mosq);
	     i++)
		if (publish_one(g) < 0)
			return -1;
	return bench_client_service(&g->client, mosquitto_want_write(g->client.mosq) ? 100 : 0);
}

static void
usage(FILE *out)
{
	fputs("usage: loadgen --key FILE --count N [OPTIONS]\n\n"
	      "Publishes N signed events and prints one line of results.\n\n"
	      "options:\n"
	      "  --host HOST         broker address (default 127.0.0.1)\n"
	      "  --port PORT         broker port (default 1883)\n"
	      "  --key FILE          key file, read as the router reads it\n"
	      "  --kid ID            key id (default k1)\n"
	      "  --topic TOPIC       topic (default " BENCH_IN_TOPIC ")\n"
	      "  --src NAME          app name in the envelope (default loadgen)\n"
	      "  --count N           messages to publish\n"
	      "  --rate R            messages per second; 0 publishes as fast as the broker\n"
	      "                      accepts them (default 5000)\n"
	      "  --data-bytes B      approximate size of the data member (default 200)\n"
	      "  --timeout S         stop after S seconds even when not done (default 600)\n",
	      out);
}

static int
parse_args(struct gen *g, int argc, char **argv, const char **host, long long *port,
	   const char **key_file, const char **kid, long long *timeout_s)
{
	static const struct option options[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "key", required_argument, NULL, 'k' },
		{ "kid", required_argument, NULL, 'K' },
		{ "topic", required_argument, NULL, 't' },
		{ "src", required_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'n' },
		{ "rate", required_argument, NULL, 'r' },
		{ "data-bytes", required_argument, NULL, 'd' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt, rc = 0;

	while (rc == 0 && (opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'H':
			*host = optarg;
			break;
		case 'p':
			rc = bench_parse_int(PROG, "port", optarg, 1, 65535, port);
			break;
		case 'k':
			*key_file = optarg;
			break;
		case 'K':
			*kid = optarg;
			break;
		case 't':
			g->topic = optarg;
			break;
		case 's':
			g->src = optarg;
			break;
		case 'n':
			rc = bench_parse_int(PROG, "count", optarg, 1, 100000000, &g->count);
			break;
		case 'r':
			rc = bench_parse_int(PROG, "rate", optarg, 0, 10000000, &g->rate);
			break;
		case 'd':
			rc = bench_parse_int(PROG, "data-bytes", optarg, 0, DATA_MAX - 1,
					     &g->data_bytes);
			break;
		case 'T':
			rc = bench_parse_int(PROG, "timeout", optarg, 1, 86400, timeout_s);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			rc = -1;
			break;
		}
	}
	if (rc == 0 && (*key_file == NULL || g->count == 0)) {
		fprintf(stderr, PROG ": --key and --count are required\n");
		rc = -1;
	}
	if (rc < 0)
		usage(stderr);
	return rc;
}

int
main(int argc, char **argv)
{
	struct gen g = { .topic = BENCH_IN_TOPIC, .src = "loadgen", .rate = 5000,
			 .data_bytes = 200 };
	const char *host = "127.0.0.1", *key_file = NULL, *kid = "k1";
	long long port = 1883, timeout_s = 600;
	struct tt_keyring *keys;
	int64_t start, deadline, end, cpu0, cpu1;
	int status = 1;

	if (parse_args(&g, argc, argv, &host, &port, &key_file, &kid, &timeout_s) < 0)
		return 2;
	keys = bench_load_key(PROG, key_file, kid);
	if (keys == NULL)
		return 1;
	g.key = tt_keyring_signer(keys);
	g.client.nodelay = true;
	if (bench_client_open(&g.client, PROG, host, (int)port, 10000, NULL) < 0)
		goto done;

	cpu0 = bench_cpu_us();
	/* A paced run starts 1 ms ahead, so message 0 is not already late. */
	start = bench_now_ns() + (g.rate > 0 ? 1000000 : 0);
	deadline = start + timeout_s * 1000000000LL;
	while (g.sent < g.count && bench_now_ns() < deadline) {
		if ((g.rate > 0 ? paced_step(&g, start) : full_speed_step(&g)) < 0)
			goto done;
	}
	while (mosquitto_want_write(g.client.mosq) && bench_now_ns() < deadline)
		if (bench_client_service(&g.client, 100) < 0)
			goto done;
	end = bench_now_ns();
	cpu1 = bench_cpu_us();

	printf("sent=%lld seconds=%.3f rate=%.0f cpu_us_per_msg=%.2f payload_bytes=%zu "
	       "late_max_ms=%.3f\n", g.sent, (end - start) / 1e9,
	       g.sent / ((end - start) / 1e9), (double)(cpu1 - cpu0) / (double)g.sent,
	       g.payload_bytes, g.late_max_ns / 1e6);
	if (g.sent < g.count)
		fprintf(stderr, PROG ": timed out after %lld s with %lld of %lld sent\n", timeout_s,
			g.sent, g.count);
	else
		status = 0;
done:
	bench_client_close(&g.client, 1000);
	tt_keyring_free(keys);
	return status;
}
