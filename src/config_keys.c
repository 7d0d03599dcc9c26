/* SPDX-License-Identifier: MIT */
/*
 * Loads the keys that a config names into a keyring.
 *
 * Each key comes from a file, an environment variable or an inline value,
 * or from $TATTLETALE_KEY when none is configured. Key text is wiped as
 * soon as the keyring has its copy, and messages name the key id and the
 * source, never the text.
 */
#include "config.h"
#include "config_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "keyring.h"

/* The whitespace that tt_key_read_file trims from key files. */
static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Copies s without surrounding whitespace into a malloc'd buffer. */
static int
copy_trimmed(const char *s, char **out, size_t *len)
{
	size_t n = strlen(s);

	while (n > 0 && is_space(*s)) {
		s++;
		n--;
	}
	while (n > 0 && is_space(s[n - 1]))
		n--;
	*out = malloc(n + 1);
	if (*out == NULL)
		return -1;
	memcpy(*out, s, n);
	(*out)[n] = '\0';
	*len = n;
	return 0;
}

/* Reads one key's text from its source and adds it to ring. */
static int
load_key(struct tt_keyring *ring, const struct tt_config *cfg, const struct tt_config_key *k,
	 char *err, size_t errsize)
{
	char source[512];
	char *text = NULL;
	size_t len = 0;
	int rc = -1;

	if (k->file != NULL)
		snprintf(source, sizeof(source), "%s", k->file);
	else if (k->env != NULL)
		snprintf(source, sizeof(source), "$%s", k->env);
	else
		snprintf(source, sizeof(source), "the inline value at %s:%d",
			 cfg->path ? cfg->path : "the config", k->line);

	if (k->file != NULL) {
		if (tt_key_read_file(k->file, &text, &len) == -1)
			return tt_config_errf(err, errsize, "key %s from %s: failed to read: %s", k->id,
				    source, strerror(errno));
	} else {
		const char *s = k->env ? getenv(k->env) : k->value;

		if (s == NULL)
			return tt_config_errf(err, errsize, "key %s from %s: the variable is not set", k->id,
				    source);
		if (copy_trimmed(s, &text, &len) == -1)
			return tt_config_errf(err, errsize, "key %s from %s: out of memory", k->id, source);
	}

	if (len < TT_KEY_MIN) {
		tt_config_errf(err, errsize, "key %s from %s is %zu bytes; a key needs at least %d (generate "
		     "one with 'tattletale keygen')", k->id, source, len, TT_KEY_MIN);
	} else if (len > TT_KEY_MAX) {
		tt_config_errf(err, errsize, "key %s from %s is %zu bytes; a key has at most %d", k->id,
		     source, len, TT_KEY_MAX);
	} else if (tt_keyring_add(ring, k->id, text, len) == -1) {
		if (errno == EEXIST)
			tt_config_errf(err, errsize, "key %s from %s: the key id %s is configured twice",
			     k->id, source, k->id);
		else
			tt_config_errf(err, errsize, "key %s from %s: %s", k->id, source, strerror(errno));
	} else {
		rc = 0;
	}

	OPENSSL_cleanse(text, len);
	free(text);
	return rc;
}

struct tt_keyring *
tt_config_load_keys(const struct tt_config *cfg, char *err, size_t errsize)
{
	static const struct tt_config_key fallback = { .id = "default", .env = "TATTLETALE_KEY" };
	struct tt_keyring *ring;

	if (cfg->nkeys == 0 && getenv("TATTLETALE_KEY") == NULL) {
		tt_config_errf(err, errsize, "no key configured: add keys to the config, pass --key-file "
		     "FILE or set TATTLETALE_KEY");
		return NULL;
	}
	ring = tt_keyring_new();
	if (ring == NULL) {
		tt_config_errf(err, errsize, "failed to create the keyring: %s", strerror(errno));
		return NULL;
	}

	if (cfg->nkeys == 0) {
		if (load_key(ring, cfg, &fallback, err, errsize) == -1)
			goto fail;
	}
	for (size_t i = 0; i < cfg->nkeys; i++) {
		if (load_key(ring, cfg, &cfg->keys[i], err, errsize) == -1)
			goto fail;
	}
	return ring;
fail:
	tt_keyring_free(ring);
	return NULL;
}
