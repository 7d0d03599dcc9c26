/* SPDX-License-Identifier: MIT */
/*
 * base64url without padding (RFC 4648, section 5). Decoding is strict, so
 * every byte string has exactly one accepted spelling. A lenient decoder
 * would read one tag from several different strings.
 */
#include "b64url.h"

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t
tt_b64url_encode(const unsigned char *in, size_t len, char *out)
{
	size_t i, n = 0;
	unsigned long v;

	for (i = 0; i + 3 <= len; i += 3) {
		v = (unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8 | in[i + 2];
		out[n++] = alphabet[v >> 18 & 63];
		out[n++] = alphabet[v >> 12 & 63];
		out[n++] = alphabet[v >> 6 & 63];
		out[n++] = alphabet[v & 63];
	}

	/* One or two bytes left: two or three characters, unused bits zero. */
	if (len - i == 1) {
		v = (unsigned long)in[i] << 16;
		out[n++] = alphabet[v >> 18 & 63];
		out[n++] = alphabet[v >> 12 & 63];
	} else if (len - i == 2) {
		v = (unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8;
		out[n++] = alphabet[v >> 18 & 63];
		out[n++] = alphabet[v >> 12 & 63];
		out[n++] = alphabet[v >> 6 & 63];
	}
	out[n] = '\0';
	return n;
}

/*
 * The 6-bit value of each alphabet character, plus one, and 0 for every
 * other byte. A table rather than comparisons, because the characters of a
 * tag are random and each comparison chain mispredicted.
 */
static const unsigned char values[256] = {
	['A'] = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
	23, 24, 25, 26,
	['a'] = 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46,
	47, 48, 49, 50, 51, 52,
	['0'] = 53, 54, 55, 56, 57, 58, 59, 60, 61, 62,
	['-'] = 63,
	['_'] = 64,
};

/* Returns the 6-bit value of an alphabet character, or -1. */
static int
value(unsigned char c)
{
	return (int)values[c] - 1;
}

int
tt_b64url_decode(const char *in, size_t len, unsigned char *out, size_t *outlen)
{
	unsigned long acc = 0;
	size_t i, n = 0;
	int bits = 0, v;

	if (len % 4 == 1)
		return -1;

	for (i = 0; i < len; i++) {
		v = value((unsigned char)in[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6 | (unsigned long)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits & 0xff);
		}
	}

	/* The bits left over after the last full byte must be zero. */
	if (bits > 0 && (acc & ((1UL << bits) - 1)) != 0)
		return -1;
	*outlen = n;
	return 0;
}
