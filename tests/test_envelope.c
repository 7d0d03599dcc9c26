/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the protocol v1 envelope: the published test vectors,
 * tampering with every byte, tail shapes, strict JSON and fields, signing,
 * and the keyring the envelope signs with.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "b64url.h"
#include "envelope.h"
#include "keyring.h"

#define KEY "0123456789abcdef0123456789abcdef"
#define TOPIC1 "tattletale/event/items/created"
#define VECTOR1 "{\"v\":1,\"src\":\"api\",\"ts\":1764806400000,\"id\":\"AAAAAAAAAAAAAAAAAAAAAA\"," \
	"\"data\":{\"id\":42,\"title\":\"hello\"}," \
	"\"sig\":\"k1.GYdLvecJ6hC_Lt1nJW91LjJJM_WIwuf5kTzRI6YxYHg\"}"
#define TOPIC2 "tattletale/state/lamp/kitchen"
#define VECTOR2 "{\"v\":1,\"src\":\"home\",\"ts\":1764806400500,\"id\":\"BBBBBBBBBBBBBBBBBBBBBB\"," \
	"\"hop\":2,\"data\":{\"on\":true,\"level\":0.5,\"name\":\"K\xc3\xbc" "che\",\"tags\":[]}," \
	"\"sig\":\"k1.CLyRL_tIyW308v8wIwIZCZaruE5YHix0NxdXA5swi98\"}"
#define HEAD "{\"v\":1,\"src\":\"api\",\"ts\":1764806400000,\"id\":\"AAAAAAAAAAAAAAAAAAAAAA\","

static struct tt_keyring *ring;
static struct tt_verify_opts opts;

static void
setup(void)
{
	ring = tt_keyring_new();
	cr_assert_not_null(ring);
	cr_assert_eq(tt_keyring_add(ring, "k1", KEY, strlen(KEY)), 0);
	opts.prefix = "tattletale";
	opts.keys = ring;
	opts.max_payload = TT_PAYLOAD_DEFAULT;
	opts.max_depth = TT_DEPTH_DEFAULT;
}

static void
teardown(void)
{
	tt_keyring_free(ring);
}

TestSuite(envelope, .init = setup, .fini = teardown);

/* Verifies and releases the message; returns only the reason. */
static enum tt_reason
verify_len(const char *topic, const char *payload, size_t len)
{
	struct tt_message msg;
	enum tt_reason r = tt_envelope_verify(&opts, topic, payload, len, &msg);

	if (r != TT_OK)
		cr_assert_null(msg.data, "a rejected message keeps its data");
	tt_message_clear(&msg);
	return r;
}

static enum tt_reason
verify(const char *topic, const char *payload)
{
	return verify_len(topic, payload, strlen(payload));
}

/*
 * Signs body independently of envelope.c (OpenSSL HMAC() over the signing
 * input) and appends the tail. Returns a malloc'd payload.
 */
static char *
seal_len(const char *kid, const char *key, const char *topic, const char *body, size_t bodylen,
	 size_t *outlen)
{
	size_t mlen = strlen("tattletale-v1\n") + strlen(kid) + 1 + strlen(topic) + 1 + bodylen;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char tag[TT_TAG_LEN + 1], *m, *out;
	size_t len;

	m = malloc(mlen + 1);		/* sprintf adds a NUL, even past an empty body */
	cr_assert_not_null(m);
	len = (size_t)sprintf(m, "tattletale-v1\n%s\n%s\n", kid, topic);
	memcpy(m + len, body, bodylen);
	cr_assert_not_null(HMAC(EVP_sha256(), key, (int)strlen(key), (unsigned char *)m, mlen,
				mac, &maclen));
	cr_assert_eq(maclen, 32);
	free(m);
	tt_b64url_encode(mac, maclen, tag);

	*outlen = bodylen + strlen(",\"sig\":\"") + strlen(kid) + 1 + TT_TAG_LEN + 2;
	out = malloc(*outlen + 1);
	cr_assert_not_null(out);
	memcpy(out, body, bodylen);
	sprintf(out + bodylen, ",\"sig\":\"%s.%s\"}", kid, tag);
	return out;
}

static char *
seal(const char *topic, const char *body)
{
	size_t len;

	return seal_len("k1", KEY, topic, body, strlen(body), &len);
}

/* Signs body[0..bodylen) on TOPIC1, verifies it and releases it. The body may contain NUL bytes. */
static enum tt_reason
verify_body_len(const char *body, size_t bodylen)
{
	size_t len;
	char *p = seal_len("k1", KEY, TOPIC1, body, bodylen, &len);
	enum tt_reason r = verify_len(TOPIC1, p, len);

	free(p);
	return r;
}

/* Signs body on TOPIC1, verifies it and releases it. */
static enum tt_reason
verify_body(const char *body)
{
	return verify_body_len(body, strlen(body));
}

Test(envelope, verifies_first_vector)
{
	static const char data[] = "{\"id\":42,\"title\":\"hello\"}";
	struct tt_message msg;

	cr_assert_eq(tt_envelope_verify(&opts, TOPIC1, VECTOR1, strlen(VECTOR1), &msg), TT_OK);
	cr_assert_eq(msg.topic.kind, TT_EVENT);
	cr_assert_str_eq(msg.topic.ns, "items");
	cr_assert_str_eq(msg.topic.name, "created");
	cr_assert_str_eq(msg.src, "api");
	cr_assert_eq(msg.ts, 1764806400000LL);
	cr_assert_str_eq(msg.id, "AAAAAAAAAAAAAAAAAAAAAA");
	cr_assert_eq(msg.hop, 0);
	cr_assert_str_eq(msg.kid, "k1");
	cr_assert_eq(msg.data_len, sizeof(data) - 1);
	cr_assert_eq(memcmp(msg.data, data, msg.data_len), 0);
	cr_assert_eq(msg.data, VECTOR1 + (strstr(VECTOR1, data) - VECTOR1), "data points into the payload");
	tt_message_clear(&msg);
	cr_assert_null(msg.data);
}

Test(envelope, verifies_second_vector)
{
	struct tt_message msg;

	cr_assert_eq(tt_envelope_verify(&opts, TOPIC2, VECTOR2, strlen(VECTOR2), &msg), TT_OK);
	cr_assert_eq(msg.topic.kind, TT_STATE);
	cr_assert_str_eq(msg.topic.ns, "lamp");
	cr_assert_str_eq(msg.topic.name, "kitchen");
	cr_assert_str_eq(msg.src, "home");
	cr_assert_eq(msg.ts, 1764806400500LL);
	cr_assert_eq(msg.hop, 2);
	cr_assert_eq(msg.data_len, strlen("{\"on\":true,\"level\":0.5,\"name\":\"K\xc3\xbc" "che\",\"tags\":[]}"));
	cr_assert_eq(memcmp(msg.data, "{\"on\":true,\"level\":0.5,\"name\":\"K\xc3\xbc" "che\",\"tags\":[]}",
			    msg.data_len), 0);
	tt_message_clear(&msg);
}

Test(envelope, rejects_first_vector_on_other_topic)
{
	cr_assert_eq(verify("tattletale/event/items/deleted", VECTOR1), TT_BAD_SIGNATURE);
}

Test(envelope, rejects_vectors_swapped_between_topics)
{
	cr_assert_eq(verify(TOPIC2, VECTOR1), TT_BAD_SIGNATURE);
	cr_assert_eq(verify(TOPIC1, VECTOR2), TT_BAD_SIGNATURE);
}

Test(envelope, sign_reproduces_vectors)
{
	const struct tt_key *key = tt_keyring_signer(ring);
	struct tt_sign_input in1 = {
		.topic = TOPIC1, .src = "api", .ts = 1764806400000LL,
		.id = "AAAAAAAAAAAAAAAAAAAAAA", .hop = 0,
		.data = "{\"id\":42,\"title\":\"hello\"}",
	};
	struct tt_sign_input in2 = {
		.topic = TOPIC2, .src = "home", .ts = 1764806400500LL,
		.id = "BBBBBBBBBBBBBBBBBBBBBB", .hop = 2,
		.data = "{\"on\":true,\"level\":0.5,\"name\":\"K\xc3\xbc" "che\",\"tags\":[]}",
	};
	size_t len;
	char *p;

	in1.data_len = strlen(in1.data);
	in2.data_len = strlen(in2.data);
	p = tt_envelope_sign(key, &in1, &len);
	cr_assert_not_null(p);
	cr_assert_eq(len, strlen(VECTOR1));
	cr_assert_str_eq(p, VECTOR1);
	free(p);
	p = tt_envelope_sign(key, &in2, &len);
	cr_assert_not_null(p);
	cr_assert_str_eq(p, VECTOR2);
	free(p);
}

Test(envelope, test_seal_matches_vector)
{
	char body[] = VECTOR1;
	char *p;

	*strstr(body, ",\"sig\":") = '\0';
	p = seal(TOPIC1, body);
	cr_assert_str_eq(p, VECTOR1);
	free(p);
}

static const unsigned char flips[] = { 0x01, 0x02, 0x20, 0x40, 0x80, 0xff };

Test(envelope, rejects_any_changed_payload_byte)
{
	char p[] = VECTOR1;
	size_t len = strlen(p);

	for (size_t i = 0; i < len; i++) {
		for (size_t f = 0; f < sizeof(flips); f++) {
			p[i] ^= flips[f];
			cr_assert_neq(verify_len(TOPIC1, p, len), TT_OK,
				      "accepted with byte %zu changed by 0x%02x", i, flips[f]);
			p[i] ^= flips[f];
		}
	}
	cr_assert_eq(verify_len(TOPIC1, p, len), TT_OK);
}

Test(envelope, rejects_any_changed_topic_byte)
{
	char t[] = TOPIC1;
	size_t len = strlen(t);

	for (size_t i = 0; i < len; i++) {
		for (size_t f = 0; f < sizeof(flips); f++) {
			t[i] ^= flips[f];
			cr_assert_neq(verify(t, VECTOR1), TT_OK,
				      "accepted with topic byte %zu changed by 0x%02x", i, flips[f]);
			t[i] ^= flips[f];
		}
	}
	cr_assert_eq(verify(t, VECTOR1), TT_OK);
}

Test(envelope, rejects_changed_tag_and_kid_as_bad_signature_or_key)
{
	char p[] = VECTOR1;
	char *kid = strstr(p, "\"k1.") + 1;
	char *tag = kid + 3;

	/* Another tag character of the alphabet: the shape holds, the tag does not. */
	for (size_t i = 0; i < TT_TAG_LEN; i++) {
		char saved = tag[i];

		tag[i] = saved == 'A' ? 'B' : 'A';
		cr_assert_eq(verify(TOPIC1, p), TT_BAD_SIGNATURE, "tag character %zu", i);
		tag[i] = saved;
	}
	kid[1] = '2';
	cr_assert_eq(verify(TOPIC1, p), TT_UNKNOWN_KEY);
}

Test(envelope, unknown_key_leaves_its_id)
{
	char p[] = VECTOR1;
	struct tt_message msg;

	strstr(p, "\"k1.")[2] = '7';
	cr_assert_eq(tt_envelope_verify(&opts, TOPIC1, p, strlen(p), &msg), TT_UNKNOWN_KEY);
	cr_assert_str_eq(msg.kid, "k7");
	cr_assert_null(msg.data);
	tt_message_clear(&msg);
}

Test(envelope, rejects_boundary_moved_between_topic_and_body)
{
	/* The tag signs "...created\n{..."; offer "...create\nd{...". */
	char *p = seal(TOPIC1, HEAD "\"data\":1");
	char *moved = malloc(strlen(p) + 2);

	moved[0] = 'd';
	strcpy(moved + 1, p);
	cr_assert_eq(verify("tattletale/event/items/create", moved), TT_BAD_SIGNATURE);
	/* And the other way, with the newline itself moved into the topic. */
	cr_assert_eq(verify(TOPIC1 "\n{", p + 1), TT_BAD_TOPIC);
	free(moved);
	free(p);
}

Test(envelope, rejects_boundary_moved_between_kid_and_topic)
{
	size_t len;
	char *p, *sig;

	/* Two key ids sharing the key: "k1\ntattletale/..." must not sign "k\n1tattletale/...". */
	cr_assert_eq(tt_keyring_add(ring, "k", KEY, strlen(KEY)), 0);
	p = seal_len("k1", KEY, TOPIC1, HEAD "\"data\":1", strlen(HEAD "\"data\":1"), &len);
	sig = strstr(p, "\"k1.");
	memmove(sig + 2, sig + 3, strlen(sig + 3) + 1);	/* "k1.TAG" becomes "k.TAG" */
	opts.prefix = "1tattletale";
	cr_assert_eq(verify("1" TOPIC1, p), TT_BAD_SIGNATURE);
	free(p);
}

Test(envelope, rejects_tag_from_other_kid_with_same_key)
{
	size_t len;
	char *p;

	cr_assert_eq(tt_keyring_add(ring, "k2", KEY, strlen(KEY)), 0);
	p = seal_len("k1", KEY, TOPIC1, HEAD "\"data\":1", strlen(HEAD "\"data\":1"), &len);
	strstr(p, "\"k1.")[2] = '2';
	cr_assert_eq(verify(TOPIC1, p), TT_BAD_SIGNATURE);
	free(p);
}

Test(envelope, rejects_every_truncation)
{
	size_t len = strlen(VECTOR1);

	for (size_t n = 0; n < len; n++)
		cr_assert_neq(verify_len(TOPIC1, VECTOR1, n), TT_OK, "accepted %zu of %zu bytes", n, len);
}

Test(envelope, rejects_truncated_tails)
{
	char p[] = VECTOR1;
	size_t len = strlen(p);
	char *tag = strstr(p, "k1.") + 3;

	cr_assert_eq(verify_len(TOPIC1, p, len - 1), TT_NO_SIGNATURE);	/* no '}' */
	cr_assert_eq(verify_len(TOPIC1, p, len - 2), TT_NO_SIGNATURE);	/* no '"}' */

	/* A 42-character tag. */
	memmove(tag + TT_TAG_LEN - 1, tag + TT_TAG_LEN, 3);
	cr_assert_eq(verify(TOPIC1, p), TT_NO_SIGNATURE);
	cr_assert_eq(verify(TOPIC1, "{}"), TT_NO_SIGNATURE);
	cr_assert_eq(verify_len(TOPIC1, "", 0), TT_NO_SIGNATURE);
}

Test(envelope, rejects_overlong_tails)
{
	char p[sizeof(VECTOR1) + 64];
	char *tag;

	/* A 44-character tag. */
	strcpy(p, VECTOR1);
	tag = strstr(p, "k1.") + 3;
	memmove(tag + 1, tag, strlen(tag) + 1);
	cr_assert_eq(verify(TOPIC1, p), TT_NO_SIGNATURE);

	/* A 33-character kid. */
	strcpy(p, HEAD "\"data\":1,\"sig\":\"");
	strcat(p, "abcdefghijabcdefghijabcdefghijabc.GYdLvecJ6hC_Lt1nJW91LjJJM_WIwuf5kTzRI6YxYHg\"}");
	cr_assert_eq(verify(TOPIC1, p), TT_NO_SIGNATURE);

	/* An extra closing brace. */
	strcpy(p, VECTOR1 "}");
	cr_assert_eq(verify(TOPIC1, p), TT_NO_SIGNATURE);
}

Test(envelope, rejects_whitespace_after_tail)
{
	cr_assert_eq(verify(TOPIC1, VECTOR1 "\n"), TT_NO_SIGNATURE);
	cr_assert_eq(verify(TOPIC1, VECTOR1 " "), TT_NO_SIGNATURE);
	cr_assert_eq(verify(TOPIC1, VECTOR1 "\r\n"), TT_NO_SIGNATURE);
	cr_assert_eq(verify_len(TOPIC1, VECTOR1 "\0", sizeof(VECTOR1)), TT_NO_SIGNATURE);
}

Test(envelope, rejects_whitespace_inside_tail)
{
	static const char *const tails[] = {
		", \"sig\":\"k1.GYdLvecJ6hC_Lt1nJW91LjJJM_WIwuf5kTzRI6YxYHg\"}",
		",\"sig\": \"k1.GYdLvecJ6hC_Lt1nJW91LjJJM_WIwuf5kTzRI6YxYHg\"}",
		",\"sig\" :\"k1.GYdLvecJ6hC_Lt1nJW91LjJJM_WIwuf5kTzRI6YxYHg\"}",
		",\"sig\":\"k1.GYdLvecJ6hC_Lt1nJW91LjJJM_WIwuf5kTzRI6YxYHg\" }",
		",\"sig\":\"k1 .GYdLvecJ6hC_Lt1nJW91LjJJM_WIwuf5kTzRI6YxYHg\"}",
		",\"sig\":\".GYdLvecJ6hC_Lt1nJW91LjJJM_WIwuf5kTzRI6YxYHg\"}",
		",'sig':\"k1.GYdLvecJ6hC_Lt1nJW91LjJJM_WIwuf5kTzRI6YxYHg\"}",
		"\"sig\":\"k1.GYdLvecJ6hC_Lt1nJW91LjJJM_WIwuf5kTzRI6YxYHg\"}",
	};
	char p[512];

	for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", HEAD "\"data\":{\"id\":42,\"title\":\"hello\"}", tails[i]);
		cr_assert_eq(verify(TOPIC1, p), TT_NO_SIGNATURE, "tail %zu", i);
	}
}

Test(envelope, rejects_unknown_kid)
{
	char p[] = VECTOR1;

	strstr(p, "\"k1.")[2] = '9';
	cr_assert_eq(verify(TOPIC1, p), TT_UNKNOWN_KEY);
	opts.keys = NULL;
	cr_assert_eq(verify(TOPIC1, VECTOR1), TT_UNKNOWN_KEY);
}

Test(envelope, rejects_noncanonical_tag)
{
	char p[] = VECTOR1;
	char *last = strstr(p, "xYHg\"}") + 3;

	/*
	 * The last tag character carries 2 unused bits. 'g' and 'h' differ
	 * only there, so a lenient decoder reads the same 32 bytes from both.
	 */
	*last = 'h';
	cr_assert_eq(verify(TOPIC1, p), TT_BAD_SIGNATURE);

	/* Characters from the standard alphabet or padding in place of tag characters. */
	*last = '=';
	cr_assert_eq(verify(TOPIC1, p), TT_BAD_SIGNATURE);
	*last = 'g';
	last[-5] = '+';
	cr_assert_eq(verify(TOPIC1, p), TT_BAD_SIGNATURE);
	last[-5] = '/';
	cr_assert_eq(verify(TOPIC1, p), TT_BAD_SIGNATURE);
}

Test(envelope, rejects_payload_over_limit)
{
	size_t len = strlen(VECTOR1);

	opts.max_payload = len;
	cr_assert_eq(verify(TOPIC1, VECTOR1), TT_OK);
	opts.max_payload = len - 1;
	cr_assert_eq(verify(TOPIC1, VECTOR1), TT_TOO_LARGE);
	/* Size comes before the topic. */
	cr_assert_eq(verify("not/a/topic", VECTOR1), TT_TOO_LARGE);
}

Test(envelope, rejects_payload_over_default_limit)
{
	size_t len = TT_PAYLOAD_DEFAULT + 1;
	char *p = malloc(len);

	memset(p, ' ', len);
	opts.max_payload = 0;
	cr_assert_eq(verify_len(TOPIC1, p, len), TT_TOO_LARGE);
	cr_assert_eq(verify_len(TOPIC1, p, len - 1), TT_NO_SIGNATURE);
	free(p);
}

Test(envelope, rejects_bad_topics)
{
	cr_assert_eq(verify("tattletale/event/items", VECTOR1), TT_BAD_TOPIC);
	cr_assert_eq(verify("tattletale/news/items/created", VECTOR1), TT_BAD_TOPIC);
	cr_assert_eq(verify("other/event/items/created", VECTOR1), TT_BAD_TOPIC);
	cr_assert_eq(verify("tattletale/event/$items/created", VECTOR1), TT_BAD_TOPIC);
	/* The topic is checked before the tail. */
	cr_assert_eq(verify("tattletale/event/items", "x"), TT_BAD_TOPIC);
}

Test(envelope, verifies_under_configured_prefix)
{
	char *p = seal("site/tt/event/items/created", HEAD "\"data\":1");

	opts.prefix = "site/tt";
	cr_assert_eq(verify("site/tt/event/items/created", p), TT_OK);
	cr_assert_eq(verify(TOPIC1, p), TT_BAD_TOPIC);
	free(p);
}

Test(envelope, accepts_whitespace_and_order_chosen_by_sender)
{
	cr_assert_eq(verify_body("{ \"data\" : [ 1 , 2 ] ,\n\t\"id\":\"AAAAAAAAAAAAAAAAAAAAAA\", "
				 "\"ts\" : 5 , \"src\":\"api\", \"v\" : 1 \n"), TT_OK);
}

Test(envelope, accepts_unknown_members)
{
	cr_assert_eq(verify_body(HEAD "\"data\":1,\"x-extra\":{\"a\":[1,2]},\"note\":\"hi\""), TT_OK);
}

Test(envelope, rejects_invalid_utf8_in_signed_body)
{
	cr_assert_eq(verify_body(HEAD "\"data\":\"\xff\""), TT_BAD_JSON);
	cr_assert_eq(verify_body(HEAD "\"data\":\"\xc3\""), TT_BAD_JSON);
	cr_assert_eq(verify_body(HEAD "\"data\":\"\xc0\xaf\""), TT_BAD_JSON);		/* overlong */
	cr_assert_eq(verify_body(HEAD "\"data\":\"\xed\xa0\x80\""), TT_BAD_JSON);	/* surrogate */
	cr_assert_eq(verify_body(HEAD "\"data\":\"\xf4\x90\x80\x80\""), TT_BAD_JSON);	/* U+110000 */
	cr_assert_eq(verify_body(HEAD "\"d\xff\":1,\"data\":1"), TT_BAD_JSON);		/* in a key */
}

Test(envelope, rejects_nul_in_signed_body)
{
	static const char body[] = HEAD "\"data\":\"a\0b\"";

	cr_assert_eq(verify_body_len(body, sizeof(body) - 1), TT_BAD_JSON);
	cr_assert_eq(verify_body(HEAD "\"data\":\"a\\u0000b\""), TT_BAD_JSON);
}

Test(envelope, rejects_invalid_json)
{
	cr_assert_eq(verify_body("[1"), TT_BAD_JSON);
	cr_assert_eq(verify_body(HEAD "\"data\":1,"), TT_BAD_JSON);
	cr_assert_eq(verify_body(HEAD "\"data\":tru"), TT_BAD_JSON);
	cr_assert_eq(verify_body(HEAD "\"data\":'x'"), TT_BAD_JSON);
	cr_assert_eq(verify_body(HEAD "\"data\":NaN"), TT_BAD_JSON);
	cr_assert_eq(verify_body(HEAD "\"data\":01"), TT_BAD_JSON);
	cr_assert_eq(verify_body(HEAD "\"data\":{\"a\":1"), TT_BAD_JSON);
	cr_assert_eq(verify_body(HEAD "\"data\":\"unterminated"), TT_BAD_JSON);
	cr_assert_eq(verify_body(HEAD "\"data\":1}{"), TT_BAD_JSON);
	cr_assert_eq(verify_body(""), TT_BAD_JSON);
	cr_assert_eq(verify_body("\xef\xbb\xbf" HEAD "\"data\":1"), TT_BAD_JSON);	/* byte-order mark */
	cr_assert_eq(verify_body(HEAD "\"data\":99999999999999999999"), TT_BAD_JSON);	/* above 64 bits */
}

Test(envelope, rejects_signature_inside_nested_object)
{
	/* The tail closes a nested object: the top level stays open. */
	cr_assert_eq(verify_body(HEAD "\"data\":1,\"x\":{\"y\":1"), TT_BAD_JSON);
	cr_assert_eq(verify_body(HEAD "\"data\":{\"x\":1"), TT_BAD_JSON);
}

Test(envelope, rejects_duplicate_members)
{
	cr_assert_eq(verify_body(HEAD "\"data\":1,\"data\":2"), TT_BAD_JSON);
	cr_assert_eq(verify_body("{\"v\":1,\"v\":1,\"src\":\"api\",\"ts\":1,"
				 "\"id\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"data\":1"), TT_BAD_JSON);
	cr_assert_eq(verify_body(HEAD "\"sig\":\"k1.x\",\"data\":1"), TT_BAD_JSON);
	/* The same name spelled with an escape is still the same name. */
	cr_assert_eq(verify_body(HEAD "\"d\\u0061ta\":1,\"data\":2"), TT_BAD_JSON);
	/* Duplicates inside data are rejected too. */
	cr_assert_eq(verify_body(HEAD "\"data\":{\"a\":1,\"a\":1}"), TT_BAD_JSON);
}

/* Builds HEAD "data": with n nested arrays; the envelope adds one level. */
static char *
nested(size_t n)
{
	size_t headlen = strlen(HEAD "\"data\":");
	char *body = malloc(headlen + 2 * n + 1);

	memcpy(body, HEAD "\"data\":", headlen);
	memset(body + headlen, '[', n);
	memset(body + headlen + n, ']', n);
	body[headlen + 2 * n] = '\0';
	return body;
}

Test(envelope, accepts_depth_at_limit)
{
	char *body = nested(TT_DEPTH_DEFAULT - 1);

	cr_assert_eq(verify_body(body), TT_OK);
	free(body);
}

Test(envelope, rejects_depth_over_limit)
{
	char *body = nested(TT_DEPTH_DEFAULT);

	cr_assert_eq(verify_body(body), TT_BAD_JSON);
	free(body);
}

Test(envelope, honours_configured_depth)
{
	char *body = nested(2);

	opts.max_depth = 3;
	cr_assert_eq(verify_body(body), TT_OK);
	opts.max_depth = 2;
	cr_assert_eq(verify_body(body), TT_BAD_JSON);
	free(body);
}

Test(envelope, rejects_hundred_thousand_brackets)
{
	size_t n = 100000;
	char *body = malloc(n + 1);

	memset(body, '[', n);
	body[n] = '\0';
	cr_assert_eq(verify_body(body), TT_BAD_JSON);
	memset(body, '{', n);
	cr_assert_eq(verify_body(body), TT_BAD_JSON);
	free(body);
}

Test(envelope, rejects_hundred_thousand_brackets_inside_envelope)
{
	size_t n = 100000, headlen = strlen(HEAD "\"data\":");
	char *body = malloc(headlen + n + 1);

	memcpy(body, HEAD "\"data\":", headlen);
	memset(body + headlen, '[', n);
	body[headlen + n] = '\0';
	cr_assert_eq(verify_body(body), TT_BAD_JSON);
	free(body);
}

Test(envelope, ignores_brackets_inside_strings)
{
	char body[512];
	char brackets[200];

	memset(brackets, '[', sizeof(brackets) - 1);
	brackets[sizeof(brackets) - 1] = '\0';
	snprintf(body, sizeof(body), HEAD "\"data\":\"%s\\\"[{\"", brackets);
	cr_assert_eq(verify_body(body), TT_OK);
}

Test(json_depth, counts_containers_not_strings)
{
	cr_assert_eq(tt_json_check_depth("[[1]]", 5, 2), 0);
	cr_assert_eq(tt_json_check_depth("[[1]]", 5, 1), -1);
	cr_assert_eq(tt_json_check_depth("{\"a\":{}}", 8, 2), 0);
	cr_assert_eq(tt_json_check_depth("{\"a\":{}}", 8, 1), -1);
	cr_assert_eq(tt_json_check_depth("[\"[[[[\"]", 8, 1), 0);
	cr_assert_eq(tt_json_check_depth("[\"\\\"[[[\"]", 9, 1), 0);
	cr_assert_eq(tt_json_check_depth("[\"\\\\\",[[]]]", 11, 2), -1);
	cr_assert_eq(tt_json_check_depth("[][][][]", 8, 1), 0);
	cr_assert_eq(tt_json_check_depth("]]]][[", 6, 2), 0);
	cr_assert_eq(tt_json_check_depth("]]]][[[", 7, 2), -1);
}

Test(envelope, rejects_invalid_fields)
{
	static const char *const bad[] = {
		"{\"src\":\"api\",\"ts\":1,\"id\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"data\":1",
		"{\"v\":2,\"src\":\"api\",\"ts\":1,\"id\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"data\":1",
		"{\"v\":\"1\",\"src\":\"api\",\"ts\":1,\"id\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"data\":1",
		"{\"v\":1.0,\"src\":\"api\",\"ts\":1,\"id\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"data\":1",
		"{\"v\":1,\"ts\":1,\"id\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"data\":1",
		"{\"v\":1,\"src\":\"\",\"ts\":1,\"id\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"data\":1",
		"{\"v\":1,\"src\":\"a b\",\"ts\":1,\"id\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"data\":1",
		"{\"v\":1,\"src\":\"a/b\",\"ts\":1,\"id\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"data\":1",
		"{\"v\":1,\"src\":\"K\xc3\xbc" "che\",\"ts\":1,\"id\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"data\":1",
		"{\"v\":1,\"src\":\"0123456789012345678901234567890123456789012345678901234567890123x\","
		"\"ts\":1,\"id\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"data\":1",
		"{\"v\":1,\"src\":7,\"ts\":1,\"id\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"data\":1",
		"{\"v\":1,\"src\":\"api\",\"id\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"data\":1",
		"{\"v\":1,\"src\":\"api\",\"ts\":-1,\"id\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"data\":1",
		"{\"v\":1,\"src\":\"api\",\"ts\":1.5,\"id\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"data\":1",
		"{\"v\":1,\"src\":\"api\",\"ts\":\"1\",\"id\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"data\":1",
		"{\"v\":1,\"src\":\"api\",\"ts\":1e3,\"id\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"data\":1",
		"{\"v\":1,\"src\":\"api\",\"ts\":1,\"data\":1",
		"{\"v\":1,\"src\":\"api\",\"ts\":1,\"id\":\"AAAAAAAAAAAAAAA\",\"data\":1",
		"{\"v\":1,\"src\":\"api\",\"ts\":1,\"id\":\"AAAAAAAAAAAAAAAAAAAAAA.\",\"data\":1",
		"{\"v\":1,\"src\":\"api\",\"ts\":1,\"id\":"
		"\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"data\":1",
		"{\"v\":1,\"src\":\"api\",\"ts\":1,\"id\":null,\"data\":1",
		"{\"v\":1,\"src\":\"api\",\"ts\":1,\"id\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"hop\":-1,\"data\":1",
		"{\"v\":1,\"src\":\"api\",\"ts\":1,\"id\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"hop\":\"1\",\"data\":1",
		"{\"v\":1,\"src\":\"api\",\"ts\":1,\"id\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"hop\":null,\"data\":1",
		"{\"v\":1,\"src\":\"api\",\"ts\":1,\"id\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"hop\":1.0,\"data\":1",
		"{\"v\":1,\"src\":\"api\",\"ts\":1,\"id\":\"AAAAAAAAAAAAAAAAAAAAAA\"",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(verify_body(bad[i]), TT_BAD_FIELD, "body %zu: %s", i, bad[i]);
}

Test(envelope, accepts_field_edges)
{
	/* 64-character src and id, 16-character id, hop 0, ts 0, data null. */
	cr_assert_eq(verify_body("{\"v\":1,\"src\":\"0123456789012345678901234567890123456789012345678901234567890123\","
				 "\"ts\":0,\"id\":\"AAAAAAAAAAAAAAAA\",\"hop\":0,\"data\":null"), TT_OK);
	cr_assert_eq(verify_body("{\"v\":1,\"src\":\"a.b_c-d\",\"ts\":1,\"id\":"
				 "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"data\":1"), TT_OK);
}

/* Signs data on topic with envelope.c, verifies it and compares the fields. */
static void
round_trip(const char *topic, const char *data, int64_t hop)
{
	struct tt_sign_input in = {
		.topic = topic, .src = "round.trip", .ts = 1764806400123LL,
		.hop = hop, .data = data, .data_len = strlen(data),
	};
	char id[TT_ID_LEN + 1];
	struct tt_message msg;
	size_t len, data_len;
	char *p;

	cr_assert_eq(tt_envelope_new_id(id), 0);
	in.id = id;
	p = tt_envelope_sign(tt_keyring_signer(ring), &in, &len);
	cr_assert_not_null(p, "sign %s", data);
	cr_assert_eq(strlen(p), len);
	cr_assert_eq(strstr(p, "\"hop\":") != NULL, hop > 0, "hop written only above 0: %s", p);
	cr_assert_eq(tt_envelope_verify(&opts, topic, p, len, &msg), TT_OK, "verify %s", p);
	cr_assert_str_eq(msg.src, "round.trip");
	cr_assert_eq(msg.ts, 1764806400123LL);
	cr_assert_str_eq(msg.id, id);
	cr_assert_eq(msg.hop, hop);
	cr_assert_str_eq(msg.kid, "k1");
	/* data is the value's own text, without the whitespace around it. */
	while (*data == ' ')
		data++;
	data_len = strlen(data);
	while (data_len > 0 && data[data_len - 1] == ' ')
		data_len--;
	cr_assert_eq(msg.data_len, data_len, "data of %s", p);
	cr_assert_eq(memcmp(msg.data, data, data_len), 0, "data of %s", p);
	tt_message_clear(&msg);
	free(p);
}

static const char *const round_trip_data[] = {
	"null",
	"true",
	"0",
	"-12.5e3",
	"\"text\"",
	"[]",
	"[1,\"two\",[3,[4]],{\"five\":null}]",
	"{}",
	"{\"a\":{\"b\":{\"c\":[1,2,{\"d\":false}]}}}",
	"\"K\xc3\xbc" "che \xe2\x82\xac \xf0\x9f\x92\xa1 \\u00fc \\ud83d\\udca1\"",
	"{\"K\xc3\xbc" "che\":\"\\\"quoted\\\" \\\\ \\n\"}",
	" { \"spaced\" : [ 1 , 2 ] } ",
};

Test(envelope, round_trips_every_kind)
{
	static const char *const topics[] = {
		"tattletale/event/items/created",
		"tattletale/state/lamp/K\xc3\xbc" "che",
		"tattletale/action/door/open",
	};

	for (size_t t = 0; t < sizeof(topics) / sizeof(topics[0]); t++) {
		for (size_t d = 0; d < sizeof(round_trip_data) / sizeof(round_trip_data[0]); d++) {
			round_trip(topics[t], round_trip_data[d], 0);
			round_trip(topics[t], round_trip_data[d], 3);
		}
	}
}

Test(envelope, sign_rejects_invalid_input)
{
	const struct tt_key *key = tt_keyring_signer(ring);
	struct tt_sign_input good = {
		.topic = TOPIC1, .src = "api", .ts = 1, .id = "AAAAAAAAAAAAAAAAAAAAAA",
		.data = "1", .data_len = 1,
	};
	struct tt_sign_input in;
	size_t len;

	in = good;
	in.src = "a\"b";
	errno = 0;
	cr_assert_null(tt_envelope_sign(key, &in, &len));
	cr_assert_eq(errno, EINVAL);
	in = good;
	in.src = "";
	cr_assert_null(tt_envelope_sign(key, &in, &len));
	in = good;
	in.id = "short";
	cr_assert_null(tt_envelope_sign(key, &in, &len));
	in = good;
	in.id = "AAAAAAAAAAAAAAAAAAAAA\"";
	cr_assert_null(tt_envelope_sign(key, &in, &len));
	in = good;
	in.ts = -1;
	cr_assert_null(tt_envelope_sign(key, &in, &len));
	in = good;
	in.hop = -1;
	cr_assert_null(tt_envelope_sign(key, &in, &len));
	in = good;
	in.data = NULL;
	cr_assert_null(tt_envelope_sign(key, &in, &len));
	in = good;
	in.data_len = 0;
	cr_assert_null(tt_envelope_sign(key, &in, &len));
	in = good;
	in.topic = NULL;
	cr_assert_null(tt_envelope_sign(key, &in, &len));
}

Test(envelope, new_ids_are_valid_and_distinct)
{
	char a[TT_ID_LEN + 1], b[TT_ID_LEN + 1];

	cr_assert_eq(tt_envelope_new_id(a), 0);
	cr_assert_eq(tt_envelope_new_id(b), 0);
	cr_assert_eq(strlen(a), TT_ID_LEN);
	cr_assert_eq(tt_id_check(a, strlen(a)), 0);
	cr_assert_str_neq(a, b);
}

Test(envelope, checks_src_and_id)
{
	cr_assert_eq(tt_src_check("a", 1), 0);
	cr_assert_eq(tt_src_check("my-app_1.2", 10), 0);
	cr_assert_eq(tt_src_check("", 0), -1);
	cr_assert_eq(tt_src_check("a:b", 3), -1);
	cr_assert_eq(tt_id_check("AAAAAAAAAAAAAAAA", 16), 0);
	cr_assert_eq(tt_id_check("AAAAAAAAAAAAAAA", 15), -1);
	cr_assert_eq(tt_id_check("AAAAAAAAAAAAAAA.", 16), -1);
}

/* Verifies body signed on TOPIC1 into msg, which the caller clears, and stores the payload. */
static enum tt_reason
verify_body_into(const char *body, struct tt_message *msg, char **payload)
{
	size_t len;

	*payload = seal_len("k1", KEY, TOPIC1, body, strlen(body), &len);
	return tt_envelope_verify(&opts, TOPIC1, *payload, len, msg);
}

Test(envelope, copy_of_empty_message_stays_empty)
{
	struct tt_message empty = { 0 }, copy;

	cr_assert_eq(tt_message_copy(&copy, &empty), 0);
	cr_assert_null(copy.data, "an empty message has no data text");
	cr_assert_eq(copy.data_len, 0);
	tt_message_clear(&copy);
}

Test(envelope, copy_keeps_data_after_payload_is_freed)
{
	struct tt_message msg, copy;
	char *payload;

	cr_assert_eq(verify_body_into(HEAD "\"data\":{\"a\":[1,\"x\"]}", &msg, &payload), TT_OK);
	cr_assert_eq(tt_message_copy(&copy, &msg), 0);
	tt_message_clear(&msg);
	free(payload);
	cr_assert_eq(copy.data_len, strlen("{\"a\":[1,\"x\"]}"));
	cr_assert_eq(memcmp(copy.data, "{\"a\":[1,\"x\"]}", copy.data_len), 0);
	cr_assert_str_eq(copy.id, "AAAAAAAAAAAAAAAAAAAAAA");
	tt_message_clear(&copy);
	cr_assert_null(copy.data);
}

Test(envelope, sign_rejects_overlong_topic_as_invalid)
{
	struct tt_sign_input in = {
		.src = "api", .ts = 1, .id = "AAAAAAAAAAAAAAAAAAAAAA", .data = "1", .data_len = 1,
	};
	char topic[TT_TOPIC_MAX + 2];
	size_t len;

	memset(topic, 'a', sizeof(topic) - 1);
	topic[sizeof(topic) - 1] = '\0';
	in.topic = topic;
	errno = 0;
	cr_assert_null(tt_envelope_sign(tt_keyring_signer(ring), &in, &len));
	cr_assert_eq(errno, EINVAL, "a topic longer than any valid topic is invalid input, "
		     "not an HMAC failure");
}

/* jansson 2.14 skipped a raw NUL right after a number, so the parser before the scanner accepted this. */
Test(envelope, rejects_nul_after_number_in_signed_body)
{
	static const char body[] = HEAD "\"data\":1\0";

	cr_assert_eq(verify_body_len(body, sizeof(body) - 1), TT_BAD_JSON);
}

Test(envelope, rejects_sig_name_spelled_with_escape)
{
	cr_assert_eq(verify_body(HEAD "\"data\":1,\"\\u0073ig\":\"k1.x\""), TT_BAD_JSON);
	cr_assert_eq(verify_body(HEAD "\"\\u0073\\u0069\\u0067\":1,\"data\":1"), TT_BAD_JSON);
}

Test(envelope, reads_member_names_spelled_with_escapes)
{
	struct tt_message msg;
	char *payload;

	cr_assert_eq(verify_body_into("{\"\\u0076\":1,\"src\":\"\\u0061pi\",\"t\\u0073\":7,"
				      "\"id\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"h\\u006fp\":2,"
				      "\"d\\u0061ta\":[1]", &msg, &payload), TT_OK);
	cr_assert_str_eq(msg.src, "api");
	cr_assert_eq(msg.ts, 7);
	cr_assert_eq(msg.hop, 2);
	cr_assert_eq(msg.data_len, 3);
	cr_assert_eq(memcmp(msg.data, "[1]", 3), 0);
	tt_message_clear(&msg);
	free(payload);
}

/* Builds HEAD "data": and an object of n members k0..k(n-1), then extra before the closing brace. */
static char *
data_object(int n, const char *extra)
{
	size_t size = strlen(HEAD) + 16 + (size_t)n * 16 + strlen(extra);
	char *body = malloc(size);
	size_t len;

	cr_assert_not_null(body);
	len = (size_t)snprintf(body, size, HEAD "\"data\":{");
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(body + len, size - len, "%s\"k%d\":%d", i > 0 ? "," : "", i, i);
	snprintf(body + len, size - len, "%s}", extra);
	return body;
}

/* 16 members are compared pairwise and 17 are sorted: a duplicate must fail either way. */
Test(envelope, rejects_duplicates_around_sort_threshold)
{
	static const int sizes[] = { 15, 16, 17, 40 };
	char *body;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		body = data_object(sizes[i], "");
		cr_assert_eq(verify_body(body), TT_OK, "%d members", sizes[i]);
		free(body);
		body = data_object(sizes[i] - 1, ",\"k0\":0");
		cr_assert_eq(verify_body(body), TT_BAD_JSON, "%d members, k0 twice", sizes[i]);
		free(body);
		body = data_object(sizes[i] - 1, ",\"\\u006b0\":0");
		cr_assert_eq(verify_body(body), TT_BAD_JSON, "%d members, k0 escaped", sizes[i]);
		free(body);
	}
}

Test(envelope, rejects_integer_fields_past_int64)
{
	cr_assert_eq(verify_body("{\"v\":1,\"src\":\"api\",\"ts\":9223372036854775808,"
				 "\"id\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"data\":1"), TT_BAD_JSON);
	cr_assert_eq(verify_body(HEAD "\"hop\":9223372036854775807,\"data\":1"), TT_OK);
	cr_assert_eq(verify_body(HEAD "\"hop\":-9223372036854775808,\"data\":1"), TT_BAD_FIELD);
}

/* Keyring: copies, lookups, limits, fingerprints and key files. */

Test(keyring, adds_and_finds_keys)
{
	struct tt_keyring *r = tt_keyring_new();
	char key[] = KEY;
	const unsigned char *bytes;
	size_t len;

	cr_assert_eq(tt_keyring_add(r, "first", key, strlen(key)), 0);
	cr_assert_eq(tt_keyring_add(r, "second", "another-key-of-16", 17), 0);
	memset(key, 'x', strlen(key));		/* the ring holds its own copy */
	cr_assert_eq(tt_keyring_count(r), 2);
	cr_assert_str_eq(tt_key_id(tt_keyring_signer(r)), "first");
	cr_assert_str_eq(tt_key_id(tt_keyring_at(r, 1)), "second");
	cr_assert_null(tt_keyring_at(r, 2));
	cr_assert_not_null(tt_keyring_find(r, "second", 6));
	cr_assert_null(tt_keyring_find(r, "secon", 5));
	cr_assert_null(tt_keyring_find(r, "second!", 7));
	bytes = tt_key_bytes(tt_keyring_find(r, "first", 5), &len);
	cr_assert_eq(len, strlen(KEY));
	cr_assert_eq(memcmp(bytes, KEY, len), 0);
	tt_keyring_free(r);
	tt_keyring_free(NULL);
}

Test(keyring, rejects_invalid_keys)
{
	struct tt_keyring *r = tt_keyring_new();
	char *big = calloc(1, TT_KEY_MAX + 1);

	errno = 0;
	cr_assert_eq(tt_keyring_add(r, "k", "fifteen-bytes!!", 15), -1);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(tt_keyring_add(r, "k", big, TT_KEY_MAX), 0);
	errno = 0;
	cr_assert_eq(tt_keyring_add(r, "k2", big, TT_KEY_MAX + 1), -1);
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_eq(tt_keyring_add(r, "k", KEY, strlen(KEY)), -1);
	cr_assert_eq(errno, EEXIST);
	errno = 0;
	cr_assert_eq(tt_keyring_add(r, "bad.kid", KEY, strlen(KEY)), -1);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(tt_keyring_add(r, "", KEY, strlen(KEY)), -1);
	cr_assert_eq(tt_keyring_add(r, "abcdefghijabcdefghijabcdefghijabc", KEY, strlen(KEY)), -1);
	cr_assert_eq(tt_keyring_add(r, "abcdefghijabcdefghijabcdefghijab", KEY, strlen(KEY)), 0);
	cr_assert_eq(tt_keyring_count(r), 2);
	free(big);
	tt_keyring_free(r);
}

Test(keyring, fingerprint_is_stable_and_short)
{
	struct tt_keyring *r = tt_keyring_new();
	char a[TT_FINGERPRINT_LEN + 1], b[TT_FINGERPRINT_LEN + 1], c[TT_FINGERPRINT_LEN + 1];

	cr_assert_eq(tt_keyring_add(r, "a", KEY, strlen(KEY)), 0);
	cr_assert_eq(tt_keyring_add(r, "b", KEY, strlen(KEY)), 0);
	cr_assert_eq(tt_keyring_add(r, "c", KEY "x", strlen(KEY) + 1), 0);
	tt_key_fingerprint(tt_keyring_find(r, "a", 1), a);
	tt_key_fingerprint(tt_keyring_find(r, "b", 1), b);
	tt_key_fingerprint(tt_keyring_find(r, "c", 1), c);
	cr_assert_eq(strlen(a), TT_FINGERPRINT_LEN);
	/* base64url of SHA-256("tattletale-fingerprint\n" KEY)[0..7], computed with Python's hashlib. */
	cr_assert_str_eq(a, "bM2NJGm0ywA");
	cr_assert_str_eq(a, b);
	cr_assert_str_neq(a, c);
	cr_assert_null(strstr(a, "0123"));
	tt_keyring_free(r);
}

/* Writes len bytes to a new temporary file and returns its path. */
static char *
temp_file(const char *text, size_t len)
{
	char *path = strdup("/tmp/tt-key-XXXXXX");
	int fd = mkstemp(path);

	cr_assert_neq(fd, -1);
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

Test(keyring, reads_key_file_trimming_whitespace)
{
	static const char text[] = " \t\r\n" KEY " inner\r\n\n";
	char *path = temp_file(text, strlen(text));
	char *key = NULL;
	size_t len = 0;

	cr_assert_eq(tt_key_read_file(path, &key, &len), 0);
	cr_assert_eq(len, strlen(KEY " inner"));
	cr_assert_str_eq(key, KEY " inner");
	free(key);
	unlink(path);
	free(path);
}

Test(keyring, rejects_oversized_key_file)
{
	size_t n = 64 * 1024 + 1;
	char *text = malloc(n);
	char *path, *key = NULL;
	size_t len;

	memset(text, 'k', n);
	path = temp_file(text, n);
	errno = 0;
	cr_assert_eq(tt_key_read_file(path, &key, &len), -1);
	cr_assert_eq(errno, EFBIG);
	cr_assert_null(key);
	unlink(path);
	free(path);
	free(text);
}

Test(keyring, reports_missing_key_file)
{
	char *key = NULL;
	size_t len;

	errno = 0;
	cr_assert_eq(tt_key_read_file("/nonexistent/tattletale.key", &key, &len), -1);
	cr_assert_eq(errno, ENOENT);
}
