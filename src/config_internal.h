/* SPDX-License-Identifier: MIT */
/*
 * The helpers that config.c shares with config_flags.c and config_keys.c.
 * No other module includes this header.
 */
#ifndef TT_CONFIG_INTERNAL_H
#define TT_CONFIG_INTERNAL_H

#include <stddef.h>

#include "config.h"

#define TT_CONFIG_QUOTE_MAX 48	/* bytes of a bad value shown in a message */

/* Writes a message with no file position into err. Returns -1. */
int tt_config_errf(char *err, size_t errsize, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Joins dir and a relative path; an absolute path is copied. Returns NULL on ENOMEM. */
char *tt_config_join(const char *dir, const char *path);

/*
 * Each checks a value s[0..len) of a key or flag. Returns NULL when it is
 * valid, else what was expected, for the error message.
 */
const char *tt_config_check_app(const char *s, size_t len);
const char *tt_config_check_host(const char *s, size_t len);
const char *tt_config_check_text(const char *s, size_t len);
const char *tt_config_check_prefix(const char *s, size_t len);
const char *tt_config_check_kid(const char *s, size_t len);

/* Frees one configured key, wiping an inline value, or all of cfg's keys. */
void tt_config_free_key(struct tt_config_key *k);
void tt_config_free_keys(struct tt_config *cfg);

#endif
