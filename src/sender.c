/* SPDX-License-Identifier: MIT */
/* Signing and publishing of outgoing messages. */
#include "sender.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

char *
tt_sender_sign(const struct tt_sender *s, const struct tt_outgoing *out, char *topic,
	       size_t topicsize, char *id, size_t *len, char *err, size_t errsize)
{
	struct tt_sign_input in;
	char fresh_id[TT_ID_LEN + 1];
	char *payload;

	if (tt_topic_format(topic, topicsize, s->prefix, out->kind, out->ns, out->name, false) < 0) {
		snprintf(err, errsize, "invalid topic part: a namespace and a name are 1 to %d bytes "
			 "of UTF-8 without '/', '+', '#', control characters or a leading '$'",
			 TT_PART_MAX);
		return NULL;
	}
	if (out->id != NULL) {
		size_t n = strnlen(out->id, sizeof(fresh_id) - 1);

		memcpy(fresh_id, out->id, n);
		fresh_id[n] = '\0';
	} else if (tt_envelope_new_id(fresh_id) < 0) {
		snprintf(err, errsize, "cannot make a message id: no randomness available");
		return NULL;
	}
	in = (struct tt_sign_input){
		.topic = topic,
		.src = s->src,
		.ts = out->ts != 0 ? out->ts : tt_now_wall_ms(),
		.id = fresh_id,
		.hop = out->hop,
		.data = out->json,
		.data_len = out->len,
	};
	payload = tt_envelope_sign(s->key, &in, len);
	if (payload == NULL) {
		snprintf(err, errsize, "signing failed: %s", strerror(errno));
		return NULL;
	}
	if (id != NULL)
		memcpy(id, fresh_id, sizeof(fresh_id));
	return payload;
}

int
tt_sender_send(const struct tt_sender *s, const struct tt_outgoing *out, char *id, int *mid,
	       char *err, size_t errsize)
{
	char topic[TT_TOPIC_MAX + 1];
	size_t len;
	char *payload;
	int rc, saved;

	payload = tt_sender_sign(s, out, topic, sizeof(topic), id, &len, err, errsize);
	if (payload == NULL)
		return -1;

	rc = tt_mqtt_publish(s->mqtt, topic, payload, len, tt_kind_qos(out->kind),
			     tt_kind_retained(out->kind), mid);
	saved = errno;
	free(payload);
	if (rc < 0) {
		snprintf(err, errsize, "publish failed on %s: %s", topic,
			 saved == ENOTCONN ? "not connected to the broker" : strerror(saved));
		errno = saved;
		return -1;
	}
	return 0;
}
