/* SPDX-License-Identifier: MIT */
/* Strict UTF-8 decoding, shared by topics, the JSON scanner and the JSON encoder. */
#ifndef TT_UTF8_H
#define TT_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Decodes one UTF-8 sequence at s, with n > 0 bytes available. Returns its
 * length (1 to 4) and the code point in *cp, or 0 when the sequence is
 * invalid: a stray continuation byte, a truncated sequence, an overlong
 * form, a surrogate (U+D800 to U+DFFF) or a code point past U+10FFFF.
 */
size_t tt_utf8_next(const unsigned char *s, size_t n, unsigned long *cp);

/* Whether s[0..n) is valid UTF-8 in the sense of tt_utf8_next. */
bool tt_utf8_valid(const char *s, size_t n);

#endif
