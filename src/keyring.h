/* SPDX-License-Identifier: MIT */
/*
 * The shared secrets: one signing key and any number of verifying keys,
 * each with a key id. Key bytes never leave this module except through
 * tt_key_bytes() for HMAC, and are wiped when the ring is freed.
 */
#ifndef TT_KEYRING_H
#define TT_KEYRING_H

#include <stddef.h>

#include <openssl/types.h>

#define TT_KID_MAX 32
#define TT_KEY_MIN 16		/* bytes */
#define TT_KEY_MAX 4096		/* bytes */
#define TT_FINGERPRINT_LEN 11	/* characters, without the NUL */

struct tt_keyring;
struct tt_key;

struct tt_keyring *tt_keyring_new(void);
/* Wipes every key's bytes and frees the ring. Accepts NULL. */
void tt_keyring_free(struct tt_keyring *ring);

/* Checks a key id: 1 to 32 of [A-Za-z0-9_-]. Returns 0 or -1. */
int tt_kid_check(const char *id, size_t len);

/*
 * Copies a key into the ring. The first key added signs; all verify.
 * Returns 0, or -1 with errno EINVAL (bad id, key shorter than TT_KEY_MIN
 * or longer than TT_KEY_MAX), EEXIST (id already present) or ENOMEM.
 */
int tt_keyring_add(struct tt_keyring *ring, const char *id, const void *key, size_t len);

/* Finds the key with this id; NULL when there is none. */
const struct tt_key *tt_keyring_find(const struct tt_keyring *ring, const char *id, size_t len);
/* Returns the signing key, or NULL on an empty ring. */
const struct tt_key *tt_keyring_signer(const struct tt_keyring *ring);
size_t tt_keyring_count(const struct tt_keyring *ring);
/* Returns the i-th key in the order they were added. */
const struct tt_key *tt_keyring_at(const struct tt_keyring *ring, size_t i);

const char *tt_key_id(const struct tt_key *key);

/*
 * Returns an HMAC-SHA256 context keyed with this key, made when the key was
 * added, so that signing and verifying skip the key setup. Start each use
 * with EVP_MAC_init(ctx, NULL, 0, NULL), which keeps the key. The key owns
 * it; it is not safe to use from two threads at once.
 */
EVP_MAC_CTX *tt_key_mac(const struct tt_key *key);
const unsigned char *tt_key_bytes(const struct tt_key *key, size_t *len);
/*
 * Writes a short public fingerprint of the key (base64url of the first
 * 8 bytes of SHA-256 over "tattletale-fingerprint\n" + key) into out,
 * which must hold TT_FINGERPRINT_LEN + 1 bytes. Safe to log.
 */
void tt_key_fingerprint(const struct tt_key *key, char *out);

/*
 * Reads key text from a file: surrounding spaces, tabs, CRs and LFs are
 * ignored. Returns 0 with a malloc'd, NUL-terminated buffer in *key (the
 * caller wipes and frees it) and its length without the NUL in *len, or -1
 * with errno (EFBIG for a file above 64 KiB). An empty result is returned
 * as it is; tt_keyring_add rejects it as too short.
 */
int tt_key_read_file(const char *path, char **key, size_t *len);

#endif
