/* SPDX-License-Identifier: MIT */
/*
 * The signed envelope of protocol v1.
 *
 * A payload ends with the fixed tail ,"sig":"KID.TAG"} and everything
 * before it is BODY. The tag is HMAC-SHA256 over
 * "tattletale-v1\n" KID "\n" topic "\n" BODY, so it binds the key id, the
 * topic and the exact bytes as sent, and nothing is re-serialized. Verifying
 * reads the tail from the end without parsing, checks the tag in constant
 * time, and only then hands the payload to the JSON scanner (jsontext.c). A
 * payload whose tag matched and that scans as JSON has "sig" as its last
 * top-level member, because the tail cannot sit inside a string or a nested
 * value.
 */
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "b64url.h"
#include "envelope.h"
#include "jsontext.h"

#define MAC_LEN 32			/* bytes of an HMAC-SHA256 */
#define DOMAIN "tattletale-v1\n"
#define SIG_OPEN ",\"sig\":\""		/* the tail up to KID */
#define SIG_OPEN_LEN (sizeof(SIG_OPEN) - 1)
#define SIG_CLOSE "\"}"
#define SIG_CLOSE_LEN (sizeof(SIG_CLOSE) - 1)

static bool
in_set(unsigned char c, bool dot)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-' || (dot && c == '.');
}

static int
check_chars(const char *s, size_t len, size_t min, size_t max, bool dot)
{
	if (len < min || len > max)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (!in_set((unsigned char)s[i], dot))
			return -1;
	return 0;
}

int
tt_src_check(const char *src, size_t len)
{
	return check_chars(src, len, 1, TT_SRC_MAX, true);
}

int
tt_id_check(const char *id, size_t len)
{
	return check_chars(id, len, TT_ID_MIN, TT_ID_MAX, false);
}

/* Copies s[0..n) to p and returns the end of the copy. */
static char *
put(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

#define put_literal(p, s) put((p), (s), sizeof(s) - 1)

/*
 * Computes the HMAC-SHA256 of the signing input into tag. Returns 0 or -1.
 * The short fields before BODY go in as one update, because each update
 * passes through several OpenSSL layers.
 */
static int
compute_tag(const struct tt_key *key, const char *topic, const void *body, size_t bodylen,
	    unsigned char tag[MAC_LEN])
{
	char head[sizeof(DOMAIN) + TT_KID_MAX + 1 + TT_TOPIC_MAX + 1], *p;
	EVP_MAC_CTX *ctx = tt_key_mac(key);
	const char *kid = tt_key_id(key);
	size_t kidlen = strlen(kid), topiclen = strlen(topic), outlen = 0;

	if (ctx == NULL || kidlen > TT_KID_MAX || topiclen > TT_TOPIC_MAX)
		return -1;
	p = put_literal(head, DOMAIN);
	p = put(p, kid, kidlen);
	*p++ = '\n';
	p = put(p, topic, topiclen);
	*p++ = '\n';

	/* A NULL key restarts the context with the key it was made with. */
	if (EVP_MAC_init(ctx, NULL, 0, NULL) != 1 ||
	    EVP_MAC_update(ctx, (const unsigned char *)head, (size_t)(p - head)) != 1 ||
	    EVP_MAC_update(ctx, body, bodylen) != 1)
		return -1;
	if (EVP_MAC_final(ctx, tag, &outlen, MAC_LEN) != 1 || outlen != MAC_LEN)
		return -1;
	return 0;
}

/* Positions of the parts of the tail ,"sig":"KID.TAG"} in a payload. */
struct tail {
	size_t bodylen;		/* bytes before ,"sig":" */
	const char *kid;
	size_t kidlen;
	const char *tag;	/* TT_TAG_LEN characters */
};

/* Finds the tail by reading backwards from the end. Returns 0 or -1. */
static int
find_tail(const char *p, size_t len, struct tail *t)
{
	size_t end, kidstart;

	if (len < SIG_OPEN_LEN + 1 + 1 + TT_TAG_LEN + SIG_CLOSE_LEN)
		return -1;
	if (memcmp(p + len - SIG_CLOSE_LEN, SIG_CLOSE, SIG_CLOSE_LEN) != 0)
		return -1;
	end = len - SIG_CLOSE_LEN - TT_TAG_LEN;	/* where TAG starts */
	t->tag = p + end;
	if (p[end - 1] != '.')
		return -1;

	/* KID runs back from the dot to the first character outside its set. */
	kidstart = end - 1;
	while (kidstart > 0 && end - 1 - kidstart <= TT_KID_MAX &&
	    in_set((unsigned char)p[kidstart - 1], false))
		kidstart--;
	t->kid = p + kidstart;
	t->kidlen = end - 1 - kidstart;
	if (t->kidlen == 0 || t->kidlen > TT_KID_MAX || kidstart < SIG_OPEN_LEN)
		return -1;
	if (memcmp(p + kidstart - SIG_OPEN_LEN, SIG_OPEN, SIG_OPEN_LEN) != 0)
		return -1;
	t->bodylen = kidstart - SIG_OPEN_LEN;
	return 0;
}

/* Steps 2 and 3: tail shape, key id and tag. */
static enum tt_reason
check_signature(const struct tt_verify_opts *opts, const char *topic, const char *p,
		size_t len, struct tail *t)
{
	unsigned char given[MAC_LEN + 2], expected[MAC_LEN];
	const struct tt_key *key;
	size_t glen = 0;
	enum tt_reason reason = TT_BAD_SIGNATURE;

	if (find_tail(p, len, t) == -1)
		return TT_NO_SIGNATURE;
	key = tt_keyring_find(opts->keys, t->kid, t->kidlen);
	if (key == NULL)
		return TT_UNKNOWN_KEY;

	/* A tag with another spelling of the same bytes is not the tag. */
	if (tt_b64url_decode(t->tag, TT_TAG_LEN, given, &glen) == -1 || glen != MAC_LEN)
		return TT_BAD_SIGNATURE;
	if (compute_tag(key, topic, p, t->bodylen, expected) == -1)
		goto out;
	if (CRYPTO_memcmp(given, expected, MAC_LEN) == 0)
		reason = TT_OK;
out:
	OPENSSL_cleanse(expected, sizeof(expected));
	return reason;
}

int
tt_json_check_depth(const char *text, size_t len, int max_depth)
{
	bool in_string = false;
	int depth = 0;

	for (size_t i = 0; i < len; i++) {
		char c = text[i];

		if (in_string) {
			if (c == '\\')
				i++;	/* the escaped byte cannot end the string */
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (c == '"') {
			in_string = true;
		} else if (c == '[' || c == '{') {
			if (++depth > max_depth)
				return -1;
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return 0;
}

/* The members of the envelope as the scanner found them. A NULL text means absent. */
struct members {
	struct tt_json_value v, src, ts, id, hop, data, sig;
};

static const struct {
	const char *name;
	size_t len;
	size_t offset;
} member_table[] = {
	{ "v", 1, offsetof(struct members, v) },
	{ "src", 3, offsetof(struct members, src) },
	{ "ts", 2, offsetof(struct members, ts) },
	{ "id", 2, offsetof(struct members, id) },
	{ "hop", 3, offsetof(struct members, hop) },
	{ "data", 4, offsetof(struct members, data) },
	{ "sig", 3, offsetof(struct members, sig) },
};

/* Records an envelope member; others are ignored. Duplicates fail the scan later. */
static int
take_member(void *arg, const char *name, size_t len, const struct tt_json_value *value)
{
	struct members *m = arg;

	for (size_t i = 0; i < sizeof(member_table) / sizeof(member_table[0]); i++) {
		if (member_table[i].len == len && memcmp(member_table[i].name, name, len) == 0) {
			*(struct tt_json_value *)((char *)m + member_table[i].offset) = *value;
			break;
		}
	}
	return 0;
}

static bool
present(const struct tt_json_value *v)
{
	return v->text != NULL;
}

/* Copies a string member that passes check into out[size]. Returns 0 or -1. */
static int
take_string(const struct tt_json_value *v, int (*check)(const char *, size_t), char *out,
	    size_t size)
{
	int len = tt_json_string(v, out, size);

	if (len < 0 || check(out, (size_t)len) == -1)
		return -1;
	return 0;
}

/* Step 4, after the JSON checked out: the members every message must carry. */
static enum tt_reason
read_fields(const struct members *m, struct tt_message *msg)
{
	int64_t v;

	if (tt_json_integer(&m->v, &v) == -1 || v != 1)
		return TT_BAD_FIELD;
	if (take_string(&m->src, tt_src_check, msg->src, sizeof(msg->src)) == -1)
		return TT_BAD_FIELD;
	if (tt_json_integer(&m->ts, &msg->ts) == -1 || msg->ts < 0)
		return TT_BAD_FIELD;
	if (take_string(&m->id, tt_id_check, msg->id, sizeof(msg->id)) == -1)
		return TT_BAD_FIELD;
	msg->hop = 0;
	if (present(&m->hop) && (tt_json_integer(&m->hop, &msg->hop) == -1 || msg->hop < 0))
		return TT_BAD_FIELD;
	if (!present(&m->data))
		return TT_BAD_FIELD;
	msg->data = m->data.text;
	msg->data_len = m->data.len;
	return TT_OK;
}

/* Step 4: strict JSON whose "sig" is the tail, then the fields. */
static enum tt_reason
parse(const struct tt_verify_opts *opts, const char *p, size_t len, const struct tail *t,
      struct tt_message *msg)
{
	int depth = opts->max_depth > 0 ? opts->max_depth : TT_DEPTH_DEFAULT;
	size_t siglen = t->kidlen + 1 + TT_TAG_LEN;
	char sig[TT_KID_MAX + 1 + TT_TAG_LEN + 1];
	struct members m = { 0 };
	int n;

	if (tt_json_scan_object(p, len, depth, take_member, &m, NULL) == -1)
		return TT_BAD_JSON;
	n = tt_json_string(&m.sig, sig, sizeof(sig));
	if (n < 0 || (size_t)n != siglen || memcmp(sig, t->kid, siglen) != 0)
		return TT_BAD_JSON;
	return read_fields(&m, msg);
}

enum tt_reason
tt_envelope_verify(const struct tt_verify_opts *opts, const char *topic,
		   const void *payload, size_t len, struct tt_message *msg)
{
	size_t max = opts->max_payload > 0 ? opts->max_payload : TT_PAYLOAD_DEFAULT;
	struct tail t;
	enum tt_reason reason;

	memset(msg, 0, sizeof(*msg));
	if (len > max)
		return TT_TOO_LARGE;
	if (tt_topic_parse(opts->prefix, topic, &msg->topic) == -1) {
		reason = TT_BAD_TOPIC;
		goto fail;
	}

	reason = check_signature(opts, topic, payload, len, &t);
	if (reason != TT_OK)
		goto fail;
	reason = parse(opts, payload, len, &t, msg);
	if (reason != TT_OK)
		goto fail;
	memcpy(msg->kid, t.kid, t.kidlen);
	msg->kid[t.kidlen] = '\0';
	return TT_OK;
fail:
	tt_message_clear(msg);
	if (reason == TT_UNKNOWN_KEY) {
		memcpy(msg->kid, t.kid, t.kidlen);
		msg->kid[t.kidlen] = '\0';
	}
	return reason;
}

void
tt_message_clear(struct tt_message *msg)
{
	free(msg->owned);
	memset(msg, 0, sizeof(*msg));
}

int
tt_message_copy(struct tt_message *dst, const struct tt_message *src)
{
	char *data;

	/* An empty message has no data text, and its copy must not gain an empty one. */
	if (src->data == NULL) {
		*dst = *src;
		dst->owned = NULL;
		return 0;
	}
	data = malloc(src->data_len > 0 ? src->data_len : 1);
	if (data == NULL)
		return -1;
	memcpy(data, src->data, src->data_len);
	*dst = *src;
	dst->data = dst->owned = data;
	return 0;
}

/* Room for the longest head: the fixed text, src and id at their longest, and two int64s. */
#define HEAD_MAX (64 + TT_SRC_MAX + TT_ID_MAX + 2 * 20)

/*
 * Writes the start of the payload, up to and including "data":, into
 * buf[HEAD_MAX] and returns its length. src and id are checked, so they need
 * no JSON escaping.
 */
static size_t
format_head(char *buf, const struct tt_sign_input *in)
{
	char *p = buf;

	p = put_literal(p, "{\"v\":1,\"src\":\"");
	p = put(p, in->src, strlen(in->src));
	p = put_literal(p, "\",\"ts\":");
	p += tt_json_put_uint(p, (uint64_t)in->ts);
	p = put_literal(p, ",\"id\":\"");
	p = put(p, in->id, strlen(in->id));
	if (in->hop > 0) {
		p = put_literal(p, "\",\"hop\":");
		p += tt_json_put_uint(p, (uint64_t)in->hop);
		p = put_literal(p, ",\"data\":");
	} else {
		p = put_literal(p, "\",\"data\":");
	}
	return (size_t)(p - buf);
}

char *
tt_envelope_sign(const struct tt_key *key, const struct tt_sign_input *in, size_t *len)
{
	unsigned char mac[MAC_LEN];
	const char *kid = tt_key_id(key);
	size_t kidlen = strlen(kid), headlen, bodylen, total;
	char head[HEAD_MAX], *buf, *p;

	if (in->topic == NULL || strlen(in->topic) > TT_TOPIC_MAX || in->src == NULL ||
	    in->id == NULL || in->data == NULL || in->data_len == 0 || in->ts < 0 || in->hop < 0 ||
	    tt_src_check(in->src, strlen(in->src)) == -1 ||
	    tt_id_check(in->id, strlen(in->id)) == -1) {
		errno = EINVAL;
		return NULL;
	}

	headlen = format_head(head, in);
	if (in->data_len > SIZE_MAX / 2 - headlen) {
		errno = EOVERFLOW;
		return NULL;
	}
	bodylen = headlen + in->data_len;
	total = bodylen + SIG_OPEN_LEN + kidlen + 1 + TT_TAG_LEN + SIG_CLOSE_LEN;
	buf = malloc(total + 1);
	if (buf == NULL)
		return NULL;

	memcpy(buf, head, headlen);
	memcpy(buf + headlen, in->data, in->data_len);
	if (compute_tag(key, in->topic, buf, bodylen, mac) == -1) {
		free(buf);
		errno = EIO;
		return NULL;
	}

	p = put(buf + bodylen, SIG_OPEN, SIG_OPEN_LEN);
	p = put(p, kid, kidlen);
	*p++ = '.';
	p += tt_b64url_encode(mac, MAC_LEN, p);
	memcpy(p, SIG_CLOSE, SIG_CLOSE_LEN + 1);
	*len = total;
	return buf;
}

/*
 * Ids come from a pool refilled 64 ids at a time, because each RAND_bytes
 * call has a fixed cost (OpenSSL 3 checks for a fork with getpid()) that
 * dominated at high message rates. Ids are unique, not secret.
 */
#define ID_BYTES 16
#define ID_POOL (64 * ID_BYTES)

static unsigned char id_pool[ID_POOL];
static size_t id_used = ID_POOL;

/* A forked child must not hand out the ids its parent still holds. */
static void
drop_pool(void)
{
	OPENSSL_cleanse(id_pool, sizeof(id_pool));
	id_used = ID_POOL;
}

int
tt_envelope_new_id(char *out)
{
	static bool registered;

	if (!registered) {
		if (pthread_atfork(NULL, NULL, drop_pool) != 0) {
			errno = ENOMEM;
			return -1;
		}
		registered = true;
	}
	if (id_used == ID_POOL) {
		if (RAND_bytes(id_pool, sizeof(id_pool)) != 1) {
			errno = EIO;
			return -1;
		}
		id_used = 0;
	}
	tt_b64url_encode(id_pool + id_used, ID_BYTES, out);
	id_used += ID_BYTES;
	return 0;
}
