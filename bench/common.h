/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the benchmark tools: the monotonic clock, the key,
 * option parsing, and a libmosquitto client driven from poll(). The client
 * makes the same calls as the router's broker source in src/mqtt.c:
 * mosquitto_loop_read on POLLIN, mosquitto_loop_write on POLLOUT and
 * mosquitto_loop_misc once a second. So the bare relay and the router pay
 * the same library costs.
 */
#ifndef TT_BENCH_COMMON_H
#define TT_BENCH_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include <mosquitto.h>

#include "keyring.h"

#define BENCH_IN_TOPIC "tattletale/event/bench/in"
#define BENCH_OUT_TOPIC "tattletale/event/bench/out"

struct bench_client {
	struct mosquitto *mosq;
	bool connected;
	bool subscribed;		/* the broker acknowledged the SUBSCRIBE */
	bool lost;			/* the connection ended */
	int64_t next_misc_ns;
	const char *sub;		/* topic filter to subscribe to, or NULL */
	bool nodelay;			/* set TCP_NODELAY (the router does not) */
	void *arg;			/* the tool's own state, for its callbacks */
};

/* Nanoseconds of CLOCK_MONOTONIC, which every process on the machine shares. */
int64_t bench_now_ns(void);

/* Microseconds of user plus system CPU this process has used so far. */
int64_t bench_cpu_us(void);

/*
 * Reads a key file as the router does and returns a ring holding that key
 * under kid, or NULL after printing why to stderr.
 */
struct tt_keyring *bench_load_key(const char *prog, const char *path, const char *kid);

/* Parses a decimal integer in [min, max]. Returns 0, or -1 after printing why to stderr. */
int bench_parse_int(const char *prog, const char *name, const char *text, long long min,
		    long long max, long long *out);

/*
 * Creates a client, connects to host:port and, when c->sub is set,
 * subscribes to it at QoS 0. message (may be NULL) receives c as its
 * userdata. Waits at most timeout_ms for the CONNACK and the SUBACK.
 * Returns 0, or -1 after printing why to stderr.
 */
int bench_client_open(struct bench_client *c, const char *prog, const char *host, int port,
		      int timeout_ms,
		      void (*message)(struct mosquitto *, void *, const struct mosquitto_message *));

/*
 * Runs one round of the loop: poll() the socket for at most timeout_ms,
 * then read, write and run the library's housekeeping as due. Returns 0,
 * or -1 when the connection is gone.
 */
int bench_client_service(struct bench_client *c, int timeout_ms);

/* Sends DISCONNECT, waits at most timeout_ms for it to be written, and frees the client. */
void bench_client_close(struct bench_client *c, int timeout_ms);

#endif
