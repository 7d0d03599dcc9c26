/* SPDX-License-Identifier: MIT */
/*
 * The broker connection: libmosquitto driven from our poll loop through its
 * socket, read, write and misc calls, never from its own thread. It
 * reconnects with capped exponential backoff. Subscriptions are counted per
 * topic filter, so several listeners share one SUBSCRIBE and the last one to
 * leave sends the UNSUBSCRIBE. Subscriptions are sent again after every
 * reconnect.
 */
#ifndef TT_MQTT_H
#define TT_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"

struct tt_mqtt_opts {
	const char *host;
	int port;
	const char *client_id;		/* NULL: the library makes one */
	bool persistent;		/* clean_session = false */
	const char *username;
	const char *password;
	int keepalive;			/* seconds */
	bool tls;
	const char *ca_file;		/* NULL: the system store */
	const char *cert_file;
	const char *key_file;
	bool tls_verify;
	bool reconnect;			/* false: a lost or failed connection is final */
};

struct tt_mqtt_handlers {
	void (*connected)(void *arg);
	/* rc is 0 after a clean disconnect we asked for; reason is a short text. */
	void (*disconnected)(void *arg, int rc, const char *reason);
	void (*message)(void *arg, const char *topic, const void *payload, size_t len,
			int qos, bool retained);
	/* A publish finished: QoS 0 written, QoS 2 acknowledged by PUBCOMP. */
	void (*published)(void *arg, int mid);
	/* Asks the host to refresh the will before a (re)connect; may be NULL. */
	void (*before_connect)(void *arg);
	void *arg;
};

struct tt_mqtt;

/* Creates a client. Returns NULL with a message in err. */
struct tt_mqtt *tt_mqtt_new(const struct tt_mqtt_opts *opts,
			    const struct tt_mqtt_handlers *handlers, char *err, size_t errsize);
void tt_mqtt_free(struct tt_mqtt *mqtt);

/* Adds the client to the loop and starts connecting. Returns 0 or -1. */
int tt_mqtt_start(struct tt_mqtt *mqtt, struct tt_loop *loop);

/* Sets the last will for the next connect. Returns 0 or -1. */
int tt_mqtt_set_will(struct tt_mqtt *mqtt, const char *topic, const void *payload, size_t len,
		     int qos, bool retain);

/*
 * Publishes now when connected. Returns 0 and the message id in *mid (may be
 * NULL), or -1 with errno ENOTCONN when not connected, or another errno.
 */
int tt_mqtt_publish(struct tt_mqtt *mqtt, const char *topic, const void *payload, size_t len,
		    int qos, bool retain, int *mid);

/* Counts a listener on filter; subscribes when it is the first. Returns 0 or -1. */
int tt_mqtt_subscribe(struct tt_mqtt *mqtt, const char *filter, int qos);
/* Drops a listener on filter; unsubscribes when it was the last. */
void tt_mqtt_unsubscribe(struct tt_mqtt *mqtt, const char *filter);
/* Number of distinct filters subscribed. */
size_t tt_mqtt_subscriptions(const struct tt_mqtt *mqtt);

bool tt_mqtt_connected(const struct tt_mqtt *mqtt);
/* Whether data is still waiting to be written to the socket. */
bool tt_mqtt_want_write(const struct tt_mqtt *mqtt);
/* Sends DISCONNECT; the disconnected handler runs once it is written. */
void tt_mqtt_disconnect(struct tt_mqtt *mqtt);
/* "host:port", for logs. */
const char *tt_mqtt_address(const struct tt_mqtt *mqtt);

#endif
