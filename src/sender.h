/* SPDX-License-Identifier: MIT */
/* The sending side shared by `run` and `emit`: sign a value and publish it with its kind's QoS and retain flag. */
#ifndef TT_SENDER_H
#define TT_SENDER_H

#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "keyring.h"
#include "mqtt.h"
#include "topic.h"

struct tt_sender {
	struct tt_mqtt *mqtt;
	const struct tt_key *key;
	const char *prefix;
	const char *src;
};

struct tt_outgoing {
	enum tt_kind kind;
	const char *ns;
	const char *name;
	const char *json;		/* the value, as validated JSON text */
	size_t len;
	int64_t hop;
	int64_t ts;			/* 0: now */
	const char *id;			/* NULL: a fresh id */
};

/*
 * Signs and publishes one message. Writes the new message id into
 * id[TT_ID_LEN + 1] and the MQTT message id into *mid (either may be NULL).
 * Returns 0, or -1 with a message in err (ENOTCONN when the broker is not
 * connected).
 */
int tt_sender_send(const struct tt_sender *sender, const struct tt_outgoing *out, char *id,
		   int *mid, char *err, size_t errsize);

/* Signs a message without publishing: the payload is malloc'd; topic receives the topic. */
char *tt_sender_sign(const struct tt_sender *sender, const struct tt_outgoing *out, char *topic,
		     size_t topicsize, char *id, size_t *len, char *err, size_t errsize);

#endif
