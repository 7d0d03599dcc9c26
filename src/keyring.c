/* SPDX-License-Identifier: MIT */
/*
 * The keyring: copies of the configured keys, looked up by key id.
 *
 * A ring contains a handful of keys, so lookups scan the list. Every buffer
 * that held key bytes is wiped with OPENSSL_cleanse before it is freed,
 * including the temporary ones of tt_key_read_file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "b64url.h"
#include "keyring.h"

/* Largest key file read: far above TT_KEY_MAX, so trimming cannot matter. */
#define KEY_FILE_MAX (64 * 1024)

struct tt_key {
	char id[TT_KID_MAX + 1];
	unsigned char *bytes;
	size_t len;
	EVP_MAC_CTX *mac;		/* keyed HMAC-SHA256, see tt_key_mac */
};

struct tt_keyring {
	struct tt_key **keys;	/* pointers, so a key stays put when the array grows */
	size_t count;
	size_t alloc;
};

struct tt_keyring *
tt_keyring_new(void)
{
	return calloc(1, sizeof(struct tt_keyring));
}

static void
key_free(struct tt_key *key)
{
	EVP_MAC_CTX_free(key->mac);
	OPENSSL_cleanse(key->bytes, key->len);
	free(key->bytes);
	free(key);
}

void
tt_keyring_free(struct tt_keyring *ring)
{
	if (ring == NULL)
		return;
	for (size_t i = 0; i < ring->count; i++)
		key_free(ring->keys[i]);
	free(ring->keys);
	free(ring);
}

static bool
kid_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-';
}

int
tt_kid_check(const char *id, size_t len)
{
	if (len == 0 || len > TT_KID_MAX)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (!kid_char((unsigned char)id[i]))
			return -1;
	return 0;
}

/* Makes room for one more key pointer. Returns 0, or -1 with errno ENOMEM. */
static int
grow(struct tt_keyring *ring)
{
	struct tt_key **keys;
	size_t alloc;

	if (ring->count < ring->alloc)
		return 0;
	alloc = ring->alloc == 0 ? 4 : ring->alloc * 2;
	keys = realloc(ring->keys, alloc * sizeof(*keys));
	if (keys == NULL)
		return -1;
	ring->keys = keys;
	ring->alloc = alloc;
	return 0;
}

/* Makes an HMAC-SHA256 context keyed with key. Returns NULL on failure. */
static EVP_MAC_CTX *
new_mac(const unsigned char *key, size_t len)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[2];

	EVP_MAC_free(mac);	/* the context keeps its own reference */
	if (ctx == NULL)
		return NULL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(ctx, key, len, params) != 1) {
		EVP_MAC_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int
tt_keyring_add(struct tt_keyring *ring, const char *id, const void *key, size_t len)
{
	struct tt_key *k;
	size_t idlen = strlen(id);

	if (tt_kid_check(id, idlen) == -1 || len < TT_KEY_MIN || len > TT_KEY_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (tt_keyring_find(ring, id, idlen) != NULL) {
		errno = EEXIST;
		return -1;
	}
	if (grow(ring) == -1)
		return -1;

	k = calloc(1, sizeof(*k));
	if (k == NULL)
		return -1;
	k->bytes = malloc(len);
	if (k->bytes == NULL) {
		free(k);
		return -1;
	}
	memcpy(k->id, id, idlen + 1);
	memcpy(k->bytes, key, len);
	k->len = len;
	k->mac = new_mac(k->bytes, len);
	if (k->mac == NULL) {
		key_free(k);
		errno = ENOMEM;
		return -1;
	}
	ring->keys[ring->count++] = k;
	return 0;
}

EVP_MAC_CTX *
tt_key_mac(const struct tt_key *key)
{
	return key->mac;
}

const struct tt_key *
tt_keyring_find(const struct tt_keyring *ring, const char *id, size_t len)
{
	if (ring == NULL || len > TT_KID_MAX)
		return NULL;
	for (size_t i = 0; i < ring->count; i++) {
		const struct tt_key *k = ring->keys[i];

		if (strlen(k->id) == len && memcmp(k->id, id, len) == 0)
			return k;
	}
	return NULL;
}

const struct tt_key *
tt_keyring_signer(const struct tt_keyring *ring)
{
	if (ring == NULL || ring->count == 0)
		return NULL;
	return ring->keys[0];
}

size_t
tt_keyring_count(const struct tt_keyring *ring)
{
	return ring == NULL ? 0 : ring->count;
}

const struct tt_key *
tt_keyring_at(const struct tt_keyring *ring, size_t i)
{
	if (ring == NULL || i >= ring->count)
		return NULL;
	return ring->keys[i];
}

const char *
tt_key_id(const struct tt_key *key)
{
	return key->id;
}

const unsigned char *
tt_key_bytes(const struct tt_key *key, size_t *len)
{
	*len = key->len;
	return key->bytes;
}

void
tt_key_fingerprint(const struct tt_key *key, char *out)
{
	static const char label[] = "tattletale-fingerprint\n";
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	EVP_MD_CTX *ctx;
	int ok;

	ctx = EVP_MD_CTX_new();
	ok = ctx != NULL &&
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, label, sizeof(label) - 1) == 1 &&
	    EVP_DigestUpdate(ctx, key->bytes, key->len) == 1 &&
	    EVP_DigestFinal_ex(ctx, digest, &dlen) == 1 && dlen >= 8;
	EVP_MD_CTX_free(ctx);

	/* A fingerprint is only for logs, so a failed digest shows as "unknown". */
	if (!ok) {
		strcpy(out, "unknown");
		return;
	}
	tt_b64url_encode(digest, 8, out);
}

static bool
space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Reads at most KEY_FILE_MAX bytes of fd into buf (KEY_FILE_MAX + 1 bytes),
 * one more than allowed so an oversized file shows even when st_size lies,
 * as it does for pipes and /proc. Returns the length or -1 with errno.
 */
static ssize_t
read_all(int fd, char *buf)
{
	size_t n = 0;
	ssize_t r;

	while (n <= KEY_FILE_MAX) {
		r = read(fd, buf + n, KEY_FILE_MAX + 1 - n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > KEY_FILE_MAX) {
		errno = EFBIG;
		return -1;
	}
	return (ssize_t)n;
}

int
tt_key_read_file(const char *path, char **key, size_t *len)
{
	char *buf = NULL, *out = NULL;
	size_t start, end;
	ssize_t n = -1;
	struct stat st;
	int fd, saved;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto out;
	if (S_ISREG(st.st_mode) && st.st_size > KEY_FILE_MAX) {
		errno = EFBIG;
		goto out;
	}
	buf = malloc(KEY_FILE_MAX + 1);
	if (buf == NULL)
		goto out;
	n = read_all(fd, buf);
	if (n == -1)
		goto out;

	/* Only surrounding whitespace goes: the key is the bytes in between. */
	start = 0;
	end = (size_t)n;
	while (start < end && space((unsigned char)buf[start]))
		start++;
	while (end > start && space((unsigned char)buf[end - 1]))
		end--;
	out = malloc(end - start + 1);
	if (out == NULL)
		goto out;
	memcpy(out, buf + start, end - start);
	out[end - start] = '\0';
	*key = out;
	*len = end - start;

out:
	saved = errno;
	if (buf != NULL) {
		OPENSSL_cleanse(buf, KEY_FILE_MAX + 1);
		free(buf);
	}
	close(fd);
	errno = saved;
	return out == NULL ? -1 : 0;
}
