/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for envelope verification (steps 1 to 4) and the
 * freshness check (step 5) of protocol v1.
 *
 * The input is a sequence of records, each one message:
 *
 *   flags (1 byte)  bit 0: sign the body with key k1 before verifying
 *                   bit 1: the MQTT retain flag
 *                   bits 2-7: seconds that the clock advances before this record
 *   topic length (1 byte), then the topic
 *   body length (2 bytes, little-endian), then the body
 *
 * A record cut short takes what is left of the input. Without bit 0 the
 * body is the whole payload, so only the size, topic and tail checks can
 * pass. With bit 0 the target appends ,"sig":"k1.TAG"} with a correct tag,
 * so the fuzzer reaches the JSON parser and the field checks.
 *
 * Every accepted message goes to one tt_fresh per input, with room for 4
 * ids and 2 state topics so that eviction runs often. Besides sanitizer
 * reports, the target aborts when an accepted message is accepted a
 * second time, which would be a replay let through.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "b64url.h"
#include "envelope.h"
#include "fresh.h"
#include "keyring.h"

#define KEY "0123456789abcdef0123456789abcdef"
#define KID "k1"
#define DOMAIN "tattletale-v1\n"
#define SIG_OPEN ",\"sig\":\"" KID "."
#define SIG_CLOSE "\"}"
#define MAC_LEN 32
/* 1700000000000 ms: a fixed start, so that every run of an input is the same. */
#define CLOCK_START_MS INT64_C(1700000000000)

static struct tt_keyring *ring;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	ring = tt_keyring_new();
	if (ring == NULL || tt_keyring_add(ring, KID, KEY, strlen(KEY)) == -1)
		abort();
	return 0;
}

/* One record of the input, pointing into it. */
struct record {
	unsigned flags;
	char topic[256];
	const uint8_t *body;
	size_t bodylen;
};

/* Reads the next record at *pos. Returns 0, or -1 when the input is used up. */
static int
next_record(const uint8_t *data, size_t size, size_t *pos, struct record *r)
{
	size_t p = *pos, n;

	if (p >= size)
		return -1;
	r->flags = data[p++];

	n = p < size ? data[p++] : 0;
	if (n > size - p)
		n = size - p;
	memcpy(r->topic, data + p, n);
	r->topic[n] = '\0';
	p += n;

	n = size - p >= 2 ? (size_t)data[p] | (size_t)data[p + 1] << 8 : size - p;
	p += size - p >= 2 ? 2 : 0;
	if (n > size - p)
		n = size - p;
	r->body = data + p;
	r->bodylen = n;
	*pos = p + n;
	return 0;
}

/*
 * Builds body + ,"sig":"k1.TAG"} with the tag that tt_envelope_sign would
 * write, computed here with HMAC() over the signing input. topic is read up
 * to its first NUL, as the verifier reads it.
 */
static char *
sign(const char *topic, const uint8_t *body, size_t bodylen, size_t *len)
{
	size_t toplen = strlen(topic);
	size_t inlen = strlen(DOMAIN) + strlen(KID) + 1 + toplen + 1 + bodylen;
	unsigned char mac[MAC_LEN];
	unsigned int maclen = 0;
	char *input, *out, *p;

	input = malloc(inlen);
	out = malloc(bodylen + strlen(SIG_OPEN) + TT_TAG_LEN + strlen(SIG_CLOSE) + 1);
	if (input == NULL || out == NULL)
		abort();
	p = input;
	memcpy(p, DOMAIN KID "\n", strlen(DOMAIN KID "\n"));
	p += strlen(DOMAIN KID "\n");
	memcpy(p, topic, toplen);
	p += toplen;
	*p++ = '\n';
	memcpy(p, body, bodylen);
	if (HMAC(EVP_sha256(), KEY, (int)strlen(KEY), (unsigned char *)input, inlen, mac,
		 &maclen) == NULL || maclen != MAC_LEN)
		abort();
	free(input);

	p = out;
	memcpy(p, body, bodylen);
	p += bodylen;
	memcpy(p, SIG_OPEN, strlen(SIG_OPEN));
	p += strlen(SIG_OPEN);
	p += tt_b64url_encode(mac, MAC_LEN, p);
	memcpy(p, SIG_CLOSE, strlen(SIG_CLOSE) + 1);
	*len = (size_t)(p - out) + strlen(SIG_CLOSE);
	return out;
}

/* Checks what tt_envelope_verify promises about an accepted message. */
static void
check_message(const struct tt_message *msg)
{
	if (msg->data == NULL || msg->data_len == 0 || msg->ts < 0 || msg->hop < 0)
		abort();
	if (tt_src_check(msg->src, strlen(msg->src)) == -1 ||
	    tt_id_check(msg->id, strlen(msg->id)) == -1 || strcmp(msg->kid, KID) != 0)
		abort();
}

/* Runs step 5 on an accepted message, then again to see that a repeat is never fresh. */
static void
check_fresh(struct tt_fresh *fresh, const struct tt_message *msg, const char *topic,
	    bool retained, int64_t now)
{
	enum tt_reason first, again;

	first = tt_fresh_check(fresh, msg, topic, retained, now);
	if (first != TT_OK)
		return;
	again = tt_fresh_check(fresh, msg, topic, retained, now);
	if (again == TT_OK) {
		fprintf(stderr, "fuzz_envelope: a repeated message was accepted again, "
			"kind=%d src=%s id=%s ts=%lld\n", (int)msg->topic.kind, msg->src,
			msg->id, (long long)msg->ts);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct tt_fresh_opts fresh_opts = {
		.past_ms = TT_PAST_DEFAULT_MS,
		.future_ms = TT_FUTURE_DEFAULT_MS,
		.id_capacity = 4,
		.state_capacity = 2,
	};
	const struct tt_verify_opts opts = {
		.prefix = "tattletale",
		.keys = ring,
		.max_payload = 4096,
		.max_depth = 16,
	};
	struct tt_fresh *fresh = tt_fresh_new(&fresh_opts);
	int64_t now = CLOCK_START_MS;
	struct tt_message msg;
	struct record r;
	size_t pos = 0, len;
	char *signed_payload;

	if (fresh == NULL)
		abort();
	while (next_record(data, size, &pos, &r) == 0) {
		now += (int64_t)(r.flags >> 2) * 1000;
		signed_payload = NULL;
		if (r.flags & 1)
			signed_payload = sign(r.topic, r.body, r.bodylen, &len);
		if (tt_envelope_verify(&opts, r.topic, signed_payload ? signed_payload :
				       (const char *)r.body, signed_payload ? len : r.bodylen,
				       &msg) == TT_OK) {
			check_message(&msg);
			check_fresh(fresh, &msg, r.topic, r.flags & 2, now);
		}
		tt_message_clear(&msg);
		free(signed_payload);
	}
	tt_fresh_free(fresh);
	return 0;
}
