/* SPDX-License-Identifier: MIT */
/*
 * The signed envelope of protocol v1: signing outgoing payloads and the
 * stateless part of verifying incoming ones (size, topic, signature tail,
 * HMAC, JSON and fields). Freshness, which needs memory of past messages,
 * is in fresh.c. The JSON scanner only ever reads bytes whose tag matched.
 */
#ifndef TT_ENVELOPE_H
#define TT_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keyring.h"
#include "reason.h"
#include "topic.h"

#define TT_SRC_MAX 64
#define TT_ID_MIN 16
#define TT_ID_MAX 64
#define TT_ID_LEN 22		/* base64url of 128 random bits */
#define TT_TAG_LEN 43		/* base64url of an HMAC-SHA256 */
#define TT_PAYLOAD_DEFAULT (256 * 1024)
/*
 * Bytes the envelope adds around a value at most: every member but data at
 * its longest, and the signature tail. A value of limits.payload minus this
 * always signs into a payload within limits.payload.
 */
#define TT_ENVELOPE_OVERHEAD 320
#define TT_DEPTH_DEFAULT 64

struct tt_verify_opts {
	const char *prefix;		/* topic prefix, such as "tattletale" */
	const struct tt_keyring *keys;
	size_t max_payload;		/* bytes; 0 means TT_PAYLOAD_DEFAULT */
	int max_depth;			/* JSON nesting levels, the envelope counting as 1;
					   0 means TT_DEPTH_DEFAULT */
};

/*
 * A verified message. data is the checked JSON text of the data member.
 * After tt_envelope_verify it points into the payload, so it is valid only
 * while the payload is; tt_message_copy gives a message that owns it.
 */
struct tt_message {
	struct tt_topic topic;
	char src[TT_SRC_MAX + 1];
	int64_t ts;			/* ms since the Unix epoch, as the sender set it */
	char id[TT_ID_MAX + 1];
	int64_t hop;
	char kid[TT_KID_MAX + 1];
	const char *data;		/* NULL in an empty message */
	size_t data_len;
	char *owned;			/* the copy of data this message frees, or NULL */
};

/*
 * Verifies steps 1 to 4 of protocol v1 in order: size and topic, tail shape
 * and key id, constant-time tag compare, then strict JSON and fields.
 * Returns TT_OK and fills *msg (release it with tt_message_clear; its data
 * points into payload), or the reason for rejecting the message, leaving
 * *msg empty. For TT_UNKNOWN_KEY, msg->kid contains the key id the message
 * named, which is safe to log: find_tail admits only its characters.
 */
enum tt_reason tt_envelope_verify(const struct tt_verify_opts *opts, const char *topic,
				  const void *payload, size_t len, struct tt_message *msg);

/* Releases what a verified message owns and empties it. Safe on an empty or cleared message. */
void tt_message_clear(struct tt_message *msg);

/* Copies src into dst with its own copy of the data text. Returns 0, or -1 with errno ENOMEM. */
int tt_message_copy(struct tt_message *dst, const struct tt_message *src);

struct tt_sign_input {
	const char *topic;
	const char *src;
	int64_t ts;
	const char *id;
	int64_t hop;			/* written only when above 0 */
	const char *data;		/* JSON text of the value, already validated */
	size_t data_len;
};

/*
 * Builds and signs the payload
 * {"v":1,"src":...,"ts":...,"id":...,["hop":...,]"data":...,"sig":"KID.TAG"}.
 * Returns a malloc'd, NUL-terminated payload and its length in *len, or NULL
 * with errno EINVAL (missing topic or data, topic longer than TT_TOPIC_MAX,
 * src or id invalid, ts or hop negative), EIO (HMAC failed) or ENOMEM. data
 * is copied as it is.
 */
char *tt_envelope_sign(const struct tt_key *key, const struct tt_sign_input *in, size_t *len);

/* Checks an app name: 1 to 64 of [A-Za-z0-9._-]. Returns 0 or -1. */
int tt_src_check(const char *src, size_t len);
/* Checks a message id: 16 to 64 of [A-Za-z0-9_-]. Returns 0 or -1. */
int tt_id_check(const char *id, size_t len);

/* Writes a fresh message id (128 random bits, 22 characters) into out[TT_ID_LEN + 1]. Returns 0 or -1. */
int tt_envelope_new_id(char *out);

/*
 * Checks that text is at most max_depth levels deep, scanning bytes without
 * parsing, so that hostile nesting never reaches a recursive parser.
 * Returns 0 or -1.
 */
int tt_json_check_depth(const char *text, size_t len, int max_depth);

#endif
