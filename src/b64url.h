/* SPDX-License-Identifier: MIT */
/* base64url without padding (RFC 4648, section 5), strict on decode. */
#ifndef TT_B64URL_H
#define TT_B64URL_H

#include <stddef.h>

/* Length of the encoding of n bytes, without the terminating NUL. */
#define TT_B64URL_LEN(n) (((n) * 4 + 2) / 3)

/*
 * Encodes len bytes of in into out, which must hold TT_B64URL_LEN(len) + 1
 * bytes, and NUL-terminates it. Returns the encoded length.
 */
size_t tt_b64url_encode(const unsigned char *in, size_t len, char *out);

/*
 * Decodes len characters of in into out, which must hold len * 3 / 4 bytes.
 * Rejects padding, characters outside the alphabet, a length of 1 modulo 4
 * and non-zero unused bits in the last character, so every byte string has
 * exactly one accepted encoding. Returns 0 and sets *outlen, or -1.
 */
int tt_b64url_decode(const char *in, size_t len, unsigned char *out, size_t *outlen);

#endif
