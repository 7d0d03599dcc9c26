/* SPDX-License-Identifier: MIT */
/*
 * The benchmark's counting subscriber. Every message it receives goes
 * through tt_envelope_verify, the router's own check (size, topic, signature
 * tail, HMAC-SHA256 in constant time, strict JSON and envelope fields), and
 * its data must carry the integer "seq" and "t" that loadgen wrote. Messages
 * that fail are counted as invalid, a seq seen before as a duplicate, and
 * the first receipt of each seq gives a latency: receipt time minus "t",
 * both CLOCK_MONOTONIC.
 *
 * --verify-topic sets the topic the signature is checked against. Behind
 * the router it is the topic the message arrived on, because the router
 * signs again for its out-topic. Behind the bare relay it is loadgen's
 * in-topic, because the relay forwards loadgen's payload unchanged and
 * the signature covers the topic it was first published on.
 *
 * It stops when all N messages arrived, after --quiet-ms without any
 * message once the first one came, or at --timeout, and prints one line of
 * results.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "envelope.h"
#include "jsontext.h"

#define PROG "sink"

struct sink {
	struct tt_verify_opts verify;
	const char *verify_topic;	/* NULL: the topic of each message */
	const char *dump_file;		/* NULL, or where to write every latency */
	long long count;
	unsigned char *seen;		/* one byte per seq */
	int64_t *latency_ns;		/* by seq, for the first receipt */
	long long unique, duplicates, invalid;
	int64_t first_sent_ns;		/* the smallest "t" received */
	int64_t last_received_ns;	/* of the last message counted */
	int64_t last_message_ns;	/* of the last message, valid or not; 0 before the first */
};

/* The members of a message's data that the sink reads. */
struct stamp {
	struct tt_json_value seq, t;
};

static int
take_stamp(void *arg, const char *name, size_t len, const struct tt_json_value *value)
{
	struct stamp *s = arg;

	if (len == 3 && memcmp(name, "seq", 3) == 0)
		s->seq = *value;
	else if (len == 1 && name[0] == 't')
		s->t = *value;
	return 0;
}

/* Reads the integers seq and t from the data of a verified message. */
static bool
read_stamp(const struct tt_message *msg, int64_t *seq, int64_t *t)
{
	struct stamp s = { 0 };

	if (tt_json_scan_object(msg->data, msg->data_len, 64, take_stamp, &s, NULL) == -1)
		return false;
	return tt_json_integer(&s.seq, seq) == 0 && tt_json_integer(&s.t, t) == 0;
}

static void
on_message(struct mosquitto *mosq, void *arg, const struct mosquitto_message *m)
{
	struct bench_client *c = arg;
	struct sink *s = c->arg;
	int64_t now = bench_now_ns();
	const char *topic = s->verify_topic != NULL ? s->verify_topic : m->topic;
	struct tt_message msg;
	int64_t seq, t;

	s->last_message_ns = now;
	if (tt_envelope_verify(&s->verify, topic, m->payload, (size_t)m->payloadlen, &msg) !=
	    TT_OK) {
		s->invalid++;
		return;
	}
	if (!read_stamp(&msg, &seq, &t) || seq < 0 || seq >= s->count) {
		s->invalid++;
	} else if (s->seen[seq]) {
		s->duplicates++;
	} else {
		s->seen[seq] = 1;
		s->latency_ns[seq] = now - t;
		s->unique++;
		if (s->first_sent_ns == 0 || t < s->first_sent_ns)
			s->first_sent_ns = t;
		s->last_received_ns = now;
	}
	tt_message_clear(&msg);
}

static int
compare_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Returns the nearest-rank percentile p of the n sorted values, in microseconds. */
static double
percentile_us(const int64_t *sorted, long long n, int p)
{
	long long rank;

	if (n == 0)
		return 0;
	rank = (n * p + 99) / 100;
	if (rank < 1)
		rank = 1;
	return sorted[rank - 1] / 1e3;
}

/* Writes "seq latency_ms" for every message received, in seq order. */
static void
dump(const struct sink *s)
{
	FILE *f = fopen(s->dump_file, "w");

	if (f == NULL) {
		fprintf(stderr, PROG ": cannot write %s: %s\n", s->dump_file, strerror(errno));
		return;
	}
	for (long long i = 0; i < s->count; i++)
		if (s->seen[i])
			fprintf(f, "%lld %.3f\n", i, s->latency_ns[i] / 1e6);
	if (fclose(f) != 0)
		fprintf(stderr, PROG ": cannot write %s: %s\n", s->dump_file, strerror(errno));
}

static void
report(struct sink *s)
{
	int64_t *sorted = malloc((size_t)(s->unique > 0 ? s->unique : 1) * sizeof(*sorted));
	double seconds = (s->last_received_ns - s->first_sent_ns) / 1e9;
	long long n = 0;

	if (sorted == NULL) {
		fprintf(stderr, PROG ": out of memory for the latency report\n");
		return;
	}
	for (long long i = 0; i < s->count; i++)
		if (s->seen[i])
			sorted[n++] = s->latency_ns[i];
	qsort(sorted, (size_t)n, sizeof(*sorted), compare_i64);
	printf("received=%lld lost=%lld duplicates=%lld invalid=%lld seconds=%.3f rate=%.0f "
	       "p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n", s->unique, s->count - s->unique,
	       s->duplicates, s->invalid, n > 0 ? seconds : 0.0,
	       n > 0 && seconds > 0 ? n / seconds : 0.0, percentile_us(sorted, n, 50) / 1e3,
	       percentile_us(sorted, n, 99) / 1e3, n > 0 ? sorted[n - 1] / 1e6 : 0.0);
	free(sorted);
}

static void
usage(FILE *out)
{
	fputs("usage: sink --key FILE --count N [OPTIONS]\n\n"
	      "Receives, verifies and counts N messages, then prints one line of results.\n\n"
	      "options:\n"
	      "  --host HOST          broker address (default 127.0.0.1)\n"
	      "  --port PORT          broker port (default 1883)\n"
	      "  --key FILE           key file, read as the router reads it\n"
	      "  --kid ID             key id (default k1)\n"
	      "  --topic TOPIC        topic to subscribe to (default " BENCH_OUT_TOPIC ")\n"
	      "  --verify-topic T     check signatures against T instead of the topic each\n"
	      "                       message arrived on (for the relay, which forwards\n"
	      "                       payloads signed for " BENCH_IN_TOPIC ")\n"
	      "  --count N            messages expected\n"
	      "  --quiet-ms MS        stop after MS milliseconds without a message (default 3000)\n"
	      "  --timeout S          stop after S seconds in all (default 600)\n"
	      "  --dump FILE          write \"seq latency_ms\" for every message to FILE\n", out);
}

static int
parse_args(struct sink *s, struct bench_client *c, int argc, char **argv, const char **host,
	   long long *port, const char **key_file, const char **kid, long long *quiet_ms,
	   long long *timeout_s)
{
	static const struct option options[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "key", required_argument, NULL, 'k' },
		{ "kid", required_argument, NULL, 'K' },
		{ "topic", required_argument, NULL, 't' },
		{ "verify-topic", required_argument, NULL, 'v' },
		{ "count", required_argument, NULL, 'n' },
		{ "quiet-ms", required_argument, NULL, 'q' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "dump", required_argument, NULL, 'D' },
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
			c->sub = optarg;
			break;
		case 'v':
			s->verify_topic = optarg;
			break;
		case 'D':
			s->dump_file = optarg;
			break;
		case 'n':
			rc = bench_parse_int(PROG, "count", optarg, 1, 100000000, &s->count);
			break;
		case 'q':
			rc = bench_parse_int(PROG, "quiet-ms", optarg, 1, 3600000, quiet_ms);
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
	if (rc == 0 && (*key_file == NULL || s->count == 0)) {
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
	struct sink s = { .verify = { .prefix = "tattletale" } };
	struct bench_client c = { .sub = BENCH_OUT_TOPIC, .arg = &s };
	const char *host = "127.0.0.1", *key_file = NULL, *kid = "k1";
	long long port = 1883, quiet_ms = 3000, timeout_s = 600;
	struct tt_keyring *keys;
	int64_t deadline;
	int status = 1;

	if (parse_args(&s, &c, argc, argv, &host, &port, &key_file, &kid, &quiet_ms,
		       &timeout_s) < 0)
		return 2;
	keys = bench_load_key(PROG, key_file, kid);
	s.seen = calloc((size_t)s.count, 1);
	s.latency_ns = calloc((size_t)s.count, sizeof(*s.latency_ns));
	if (keys == NULL || s.seen == NULL || s.latency_ns == NULL) {
		fprintf(stderr, PROG ": cannot set up: %s\n", keys == NULL ? "no key" : "out of memory");
		goto done;
	}
	s.verify.keys = keys;
	if (bench_client_open(&c, PROG, host, (int)port, 10000, on_message) < 0)
		goto done;

	/* Tells the driver script that the subscription is in place. */
	fprintf(stderr, PROG ": ready\n");
	deadline = bench_now_ns() + timeout_s * 1000000000LL;
	while (s.unique < s.count) {
		int64_t now = bench_now_ns();
		if (now >= deadline)
			break;
		if (s.last_message_ns > 0 && now - s.last_message_ns >= quiet_ms * 1000000)
			break;
		if (bench_client_service(&c, 100) < 0) {
			fprintf(stderr, PROG ": connection to the broker lost\n");
			break;
		}
	}
	report(&s);
	if (s.dump_file != NULL)
		dump(&s);
	status = 0;
done:
	bench_client_close(&c, 1000);
	tt_keyring_free(keys);
	free(s.seen);
	free(s.latency_ns);
	return status;
}
