/* SPDX-License-Identifier: MIT */
/*
 * Times, in one thread and without a broker, each step the router takes
 * per pass-through message, on the same payload loadgen sends: verify,
 * the freshness check with a full replay cache, JSON to Lua, Lua to JSON,
 * a new id and sign. It also times the HMAC alone, from the keyed context
 * that src/envelope.c uses and set up per call, to show what the setup
 * costs. Prints the median of five rounds in ns per call.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <lauxlib.h>
#include <lualib.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "common.h"
#include "envelope.h"
#include "fresh.h"
#include "jsontext.h"
#include "luajson.h"

#define PROG "micro"
#define ROUNDS 5
#define DOMAIN "tattletale-v1\n"

struct micro {
	const struct tt_key *key;
	struct tt_verify_opts verify;
	char *payload;
	size_t len;
	const char *data;		/* the data member as JSON text */
	size_t data_len;
	lua_State *L;			/* holds the data as a Lua table at index 1 */
	EVP_MAC *mac;
	EVP_MAC_CTX *keyed;		/* HMAC-SHA256 with the key already set */
	size_t body_len;		/* payload bytes before the signature */
	struct tt_fresh *fresh;		/* a replay cache kept full */
	struct tt_message event;	/* the next event for it, one ms later each time */
};

static int
sign(struct micro *m)
{
	struct tt_sign_input in = { BENCH_IN_TOPIC, "loadgen", 1700000000000, "AAAAAAAAAAAAAAAAAAAAAA",
				    0, m->data, m->data_len };
	size_t len;
	char *p = tt_envelope_sign(m->key, &in, &len);

	free(p);
	return p == NULL ? -1 : 0;
}

static int
verify(struct micro *m)
{
	struct tt_message msg;
	enum tt_reason r = tt_envelope_verify(&m->verify, BENCH_IN_TOPIC, m->payload, m->len, &msg);

	tt_message_clear(&msg);
	return r == TT_OK ? 0 : -1;
}

static int
scan(struct micro *m)
{
	return tt_json_scan_object(m->payload, m->len, 64, NULL, NULL, NULL);
}

/* The parser the router used before the scanner, for comparison. */
static int
parse_jansson(struct micro *m)
{
	json_t *root = json_loadb(m->payload, m->len, JSON_REJECT_DUPLICATES, NULL);

	json_decref(root);
	return root == NULL ? -1 : 0;
}

static int
feed(EVP_MAC_CTX *ctx, const struct micro *m)
{
	unsigned char tag[32];
	size_t outlen;

	if (EVP_MAC_update(ctx, (const unsigned char *)DOMAIN, sizeof(DOMAIN) - 1) != 1 ||
	    EVP_MAC_update(ctx, (const unsigned char *)"k1\n", 3) != 1 ||
	    EVP_MAC_update(ctx, (const unsigned char *)BENCH_IN_TOPIC "\n",
			   sizeof(BENCH_IN_TOPIC)) != 1 ||
	    EVP_MAC_update(ctx, (const unsigned char *)m->payload, m->body_len) != 1 ||
	    EVP_MAC_final(ctx, tag, &outlen, sizeof(tag)) != 1)
		return -1;
	return 0;
}

/* The HMAC as src/envelope.c computes it: the keyed context, started again. */
static int
hmac_keyed(struct micro *m)
{
	if (EVP_MAC_init(m->keyed, NULL, 0, NULL) != 1)
		return -1;
	return feed(m->keyed, m);
}

/* The HMAC with everything set up per call: fetch, new context, set key, hash, free. */
static int
hmac_setup_per_call(struct micro *m)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
	const unsigned char *kb;
	size_t kblen;
	int rc = -1;

	kb = tt_key_bytes(m->key, &kblen);
	if (ctx != NULL && EVP_MAC_init(ctx, kb, kblen, params) == 1)
		rc = feed(ctx, m);
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return rc;
}

/* The same HMAC from a copy of a context whose key was set once. */
static int
hmac_keyed_copy(struct micro *m)
{
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(m->keyed);
	int rc = ctx != NULL ? feed(ctx, m) : -1;

	EVP_MAC_CTX_free(ctx);
	return rc;
}

/* Writes n as 22 base64url characters, a distinct message id for each n. */
static void
format_id(char *out, uint64_t n)
{
	static const char digits[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

	for (int i = TT_ID_LEN - 1; i >= 0; i--, n /= 64)
		out[i] = digits[n % 64];
	out[TT_ID_LEN] = '\0';
}

/* Checks the next event against the full cache, which evicts its oldest id to store it. */
static int
fresh_full(struct micro *m)
{
	m->event.ts++;
	format_id(m->event.id, (uint64_t)m->event.ts);
	return tt_fresh_check(m->fresh, &m->event, NULL, false, m->event.ts) == TT_OK ? 0 : -1;
}

/* Fills the replay cache to its default capacity with ids one ms apart. */
static int
fill_fresh(struct micro *m)
{
	m->fresh = tt_fresh_new(NULL);
	if (m->fresh == NULL)
		return -1;
	m->event = (struct tt_message){ .topic = { .kind = TT_EVENT }, .ts = 1700000000000 };
	strcpy(m->event.src, "loadgen");
	for (long i = 0; i < TT_ID_CACHE_DEFAULT; i++)
		if (fresh_full(m) < 0)
			return -1;
	return 0;
}

static int
new_id(struct micro *m)
{
	char id[TT_ID_LEN + 1];

	return tt_envelope_new_id(id);
}

static int
to_lua(struct micro *m)
{
	tt_luajson_push_text(m->L, m->data, m->data_len);
	lua_pop(m->L, 1);
	return 0;
}

static int
to_json(struct micro *m)
{
	char err[128];

	if (tt_luajson_encode(m->L, 1, 64, 256 * 1024, err, sizeof(err)) < 0)
		return -1;
	lua_pop(m->L, 1);
	return 0;
}

static int
compare_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Prints the median over ROUNDS rounds of iterations calls of fn, in ns per call. */
static int
measure(struct micro *m, const char *name, int (*fn)(struct micro *), long iterations)
{
	int64_t per_call[ROUNDS];

	for (int r = 0; r < ROUNDS; r++) {
		int64_t start = bench_now_ns();
		for (long i = 0; i < iterations; i++) {
			if (fn(m) < 0) {
				fprintf(stderr, PROG ": %s failed\n", name);
				return -1;
			}
		}
		per_call[r] = (bench_now_ns() - start) / iterations;
	}
	qsort(per_call, ROUNDS, sizeof(per_call[0]), compare_i64);
	printf("%-40s %8lld\n", name, (long long)per_call[ROUNDS / 2]);
	return 0;
}

/* Builds the payload loadgen would send, and every form of its data the steps need. */
static int
prepare(struct micro *m, struct tt_keyring *keys)
{
	static const char data[] =
		"{\"seq\":12345,\"t\":1234567890123456,\"device\":\"sensor-345\",\"site\":\"hall-b\","
		"\"metric\":\"temperature\",\"unit\":\"C\",\"value\":20.5,\"ok\":true,"
		"\"tags\":[\"bench\",\"loadgen\"],\"note\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}";
	struct tt_sign_input in = { BENCH_IN_TOPIC, "loadgen", 1700000000000,
				    "AAAAAAAAAAAAAAAAAAAAAA", 0, data, sizeof(data) - 1 };
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	const unsigned char *kb;
	size_t kblen;

	m->key = tt_keyring_signer(keys);
	m->verify = (struct tt_verify_opts){ .prefix = "tattletale", .keys = keys };
	m->data = data;
	m->data_len = sizeof(data) - 1;
	m->payload = tt_envelope_sign(m->key, &in, &m->len);
	m->L = luaL_newstate();
	if (m->payload == NULL || m->L == NULL)
		return -1;
	m->body_len = (size_t)(strstr(m->payload, ",\"sig\":\"") - m->payload);

	tt_luajson_setup(m->L);
	tt_luajson_push_text(m->L, m->data, m->data_len);

	m->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	m->keyed = m->mac != NULL ? EVP_MAC_CTX_new(m->mac) : NULL;
	kb = tt_key_bytes(m->key, &kblen);
	if (m->keyed == NULL || EVP_MAC_init(m->keyed, kb, kblen, params) != 1 ||
	    fill_fresh(m) < 0)
		return -1;
	printf("payload %zu bytes, data %zu bytes\n%-40s %8s\n", m->len, m->data_len, "step",
	       "ns/call");
	return 0;
}

int
main(int argc, char **argv)
{
	static const char key[] = "0123456789abcdef0123456789abcdef";
	long long iterations = 20000;
	struct tt_keyring *keys = tt_keyring_new();
	struct micro m = { 0 };
	int status = 1;

	if (argc > 1 && bench_parse_int(PROG, "iterations", argv[1], 1, 100000000, &iterations) < 0)
		return 2;
	if (keys == NULL || tt_keyring_add(keys, "k1", key, sizeof(key) - 1) < 0 ||
	    prepare(&m, keys) < 0) {
		fprintf(stderr, PROG ": setup failed: %s\n", strerror(errno));
		goto done;
	}
	if (measure(&m, "verify (tt_envelope_verify)", verify, iterations) < 0 ||
	    measure(&m, "  of which JSON scan (tt_json_scan_object)", scan, iterations) < 0 ||
	    measure(&m, "  of which HMAC (keyed context)", hmac_keyed, iterations) < 0 ||
	    measure(&m, "HMAC set up per call, for comparison", hmac_setup_per_call,
		    iterations) < 0 ||
	    measure(&m, "HMAC from a keyed context copy", hmac_keyed_copy, iterations) < 0 ||
	    measure(&m, "freshness check, 65,536 ids cached", fresh_full, iterations) < 0 ||
	    measure(&m, "data to Lua (tt_luajson_push_text)", to_lua, iterations) < 0 ||
	    measure(&m, "Lua to JSON (tt_luajson_encode)", to_json, iterations) < 0 ||
	    measure(&m, "for comparison: jansson json_loadb", parse_jansson, iterations) < 0 ||
	    measure(&m, "new id (tt_envelope_new_id)", new_id, iterations) < 0 ||
	    measure(&m, "sign (tt_envelope_sign)", sign, iterations) < 0)
		goto done;
	status = 0;
done:
	tt_fresh_free(m.fresh);
	EVP_MAC_CTX_free(m.keyed);
	EVP_MAC_free(m.mac);
	if (m.L != NULL)
		lua_close(m.L);
	free(m.payload);
	tt_keyring_free(keys);
	return status;
}
