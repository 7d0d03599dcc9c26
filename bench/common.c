/* SPDX-License-Identifier: MIT */
/* Clocks, key loading, option parsing and the poll()-driven MQTT client for the benchmark tools. */
#include "common.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <openssl/crypto.h>

#define MISC_INTERVAL_NS 1000000000LL

int64_t
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
bench_cpu_us(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return -1;
	return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
	       ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

struct tt_keyring *
bench_load_key(const char *prog, const char *path, const char *kid)
{
	struct tt_keyring *ring = NULL;
	char *key = NULL;
	size_t len = 0;

	if (tt_key_read_file(path, &key, &len) < 0) {
		fprintf(stderr, "%s: cannot read key file %s: %s\n", prog, path, strerror(errno));
		return NULL;
	}
	ring = tt_keyring_new();
	if (ring == NULL || tt_keyring_add(ring, kid, key, len) < 0) {
		fprintf(stderr, "%s: invalid key in %s (kid %s): %s\n", prog, path, kid,
			strerror(errno));
		tt_keyring_free(ring);
		ring = NULL;
	}
	OPENSSL_cleanse(key, len);
	free(key);
	return ring;
}

int
bench_parse_int(const char *prog, const char *name, const char *text, long long min,
		long long max, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "%s: invalid %s '%s': expected an integer from %lld to %lld\n", prog,
			name, text, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

static void
on_connect(struct mosquitto *mosq, void *arg, int rc)
{
	struct bench_client *c = arg;

	if (rc != 0)
		return;
	c->connected = true;
	if (c->sub != NULL)
		mosquitto_subscribe(mosq, NULL, c->sub, 0);
}

static void
on_subscribe(struct mosquitto *mosq, void *arg, int mid, int count, const int *granted)
{
	struct bench_client *c = arg;

	c->subscribed = true;
}

static void
on_disconnect(struct mosquitto *mosq, void *arg, int rc)
{
	struct bench_client *c = arg;

	c->connected = false;
	c->lost = true;
}

int
bench_client_open(struct bench_client *c, const char *prog, const char *host, int port,
		  int timeout_ms,
		  void (*message)(struct mosquitto *, void *, const struct mosquitto_message *))
{
	int64_t deadline = bench_now_ns() + (int64_t)timeout_ms * 1000000;
	int rc;

	mosquitto_lib_init();
	c->mosq = mosquitto_new(NULL, true, c);
	if (c->mosq == NULL) {
		fprintf(stderr, "%s: cannot create the MQTT client: %s\n", prog, strerror(errno));
		return -1;
	}
	mosquitto_connect_callback_set(c->mosq, on_connect);
	mosquitto_subscribe_callback_set(c->mosq, on_subscribe);
	mosquitto_disconnect_callback_set(c->mosq, on_disconnect);
	if (message != NULL)
		mosquitto_message_callback_set(c->mosq, message);
	if (c->nodelay)
		mosquitto_int_option(c->mosq, MOSQ_OPT_TCP_NODELAY, 1);

	rc = mosquitto_connect(c->mosq, host, port, 60);
	if (rc != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "%s: connect to %s:%d failed: %s\n", prog, host, port,
			rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		return -1;
	}
	while (!c->connected || (c->sub != NULL && !c->subscribed)) {
		int64_t left_ms = (deadline - bench_now_ns()) / 1000000;
		if (left_ms <= 0 || c->lost || bench_client_service(c, (int)left_ms) < 0) {
			fprintf(stderr, "%s: timed out after %d ms waiting for the %s from %s:%d; "
				"check that the broker runs there\n", prog, timeout_ms,
				c->connected ? "SUBACK" : "CONNACK", host, port);
			return -1;
		}
	}
	return 0;
}

int
bench_client_service(struct bench_client *c, int timeout_ms)
{
	struct pollfd pfd = { .fd = mosquitto_socket(c->mosq), .events = POLLIN };
	int64_t now;
	int n, rc = MOSQ_ERR_SUCCESS;

	if (pfd.fd < 0)
		return -1;
	if (mosquitto_want_write(c->mosq))
		pfd.events |= POLLOUT;
	n = poll(&pfd, 1, timeout_ms);
	if (n < 0 && errno != EINTR)
		return -1;

	/* The same calls, in the same order, as the router's broker source. */
	if (n > 0 && (pfd.revents & (POLLIN | POLLERR | POLLHUP)))
		rc = mosquitto_loop_read(c->mosq, 1);
	if (rc == MOSQ_ERR_SUCCESS && mosquitto_socket(c->mosq) >= 0 &&
	    ((n > 0 && (pfd.revents & POLLOUT)) || mosquitto_want_write(c->mosq)))
		rc = mosquitto_loop_write(c->mosq, 1);
	now = bench_now_ns();
	if (rc == MOSQ_ERR_SUCCESS && now >= c->next_misc_ns) {
		rc = mosquitto_loop_misc(c->mosq);
		c->next_misc_ns = now + MISC_INTERVAL_NS;
	}
	if (rc != MOSQ_ERR_SUCCESS || mosquitto_socket(c->mosq) < 0) {
		c->lost = true;
		return -1;
	}
	return 0;
}

void
bench_client_close(struct bench_client *c, int timeout_ms)
{
	int64_t deadline = bench_now_ns() + (int64_t)timeout_ms * 1000000;

	if (c->mosq == NULL)
		return;
	if (c->connected && mosquitto_disconnect(c->mosq) == MOSQ_ERR_SUCCESS) {
		while (!c->lost && bench_now_ns() < deadline)
			if (bench_client_service(c, 50) < 0)
				break;
	}
	mosquitto_destroy(c->mosq);
	c->mosq = NULL;
	mosquitto_lib_cleanup();
}
