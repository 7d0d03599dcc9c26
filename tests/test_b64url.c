/* SPDX-License-Identifier: MIT */
/* Unit tests of base64url: RFC 4648 vectors and strict decoding. */
#include <string.h>

#include <criterion/criterion.h>

#include "b64url.h"

struct vector {
	const char *raw;
	size_t len;
	const char *text;
};

/* RFC 4648, section 10, without padding, plus the two URL-safe characters. */
static const struct vector vectors[] = {
	{ "", 0, "" },
	{ "f", 1, "Zg" },
	{ "fo", 2, "Zm8" },
	{ "foo", 3, "Zm9v" },
	{ "foob", 4, "Zm9vYg" },
	{ "fooba", 5, "Zm9vYmE" },
	{ "foobar", 6, "Zm9vYmFy" },
	{ "\xfb\xef\xbe", 3, "----" },
	{ "\xff\xff\xff", 3, "____" },
	{ "\xfb\xff", 2, "-_8" },
	{ "\x00\x00\x00", 3, "AAAA" },
};

#define NVECTORS (sizeof(vectors) / sizeof(vectors[0]))

Test(b64url, encodes_rfc4648_vectors)
{
	char out[32];

	for (size_t i = 0; i < NVECTORS; i++) {
		size_t n = tt_b64url_encode((const unsigned char *)vectors[i].raw, vectors[i].len, out);

		cr_assert_eq(n, strlen(vectors[i].text), "length of vector %zu", i);
		cr_assert_str_eq(out, vectors[i].text, "vector %zu", i);
		cr_assert_eq(n, TT_B64URL_LEN(vectors[i].len), "TT_B64URL_LEN of vector %zu", i);
	}
}

Test(b64url, decodes_rfc4648_vectors)
{
	unsigned char out[32];
	size_t n;

	for (size_t i = 0; i < NVECTORS; i++) {
		int rc = tt_b64url_decode(vectors[i].text, strlen(vectors[i].text), out, &n);

		cr_assert_eq(rc, 0, "vector %zu", i);
		cr_assert_eq(n, vectors[i].len, "length of vector %zu", i);
		cr_assert_eq(memcmp(out, vectors[i].raw, n), 0, "bytes of vector %zu", i);
	}
}

Test(b64url, round_trips_every_length)
{
	unsigned char raw[64], back[64];
	char text[TT_B64URL_LEN(64) + 1];
	size_t n;

	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (unsigned char)(i * 37 + 11);
	for (size_t len = 0; len <= sizeof(raw); len++) {
		size_t tlen = tt_b64url_encode(raw, len, text);

		cr_assert_eq(tt_b64url_decode(text, tlen, back, &n), 0, "length %zu", len);
		cr_assert_eq(n, len, "decoded length for %zu", len);
		cr_assert_eq(memcmp(raw, back, len), 0, "bytes for length %zu", len);
	}
}

static void
assert_rejected(const char *text, size_t len)
{
	unsigned char out[64];
	size_t n;

	cr_assert_eq(tt_b64url_decode(text, len, out, &n), -1, "accepted \"%.*s\"", (int)len, text);
}

Test(b64url, rejects_padding)
{
	assert_rejected("Zg==", 4);
	assert_rejected("Zm8=", 4);
	assert_rejected("Zm9v=", 5);
	assert_rejected("=", 1);
}

Test(b64url, rejects_standard_alphabet_characters)
{
	assert_rejected("Zm9+", 4);
	assert_rejected("Zm9/", 4);
}

Test(b64url, rejects_characters_outside_alphabet)
{
	assert_rejected("Zm 9v", 5);
	assert_rejected("Zm9v\n", 5);
	assert_rejected("Zm.v", 4);
	assert_rejected("Zm\0v", 4);
	assert_rejected("Zm\xc3\xa4", 4);
}

Test(b64url, rejects_length_one_modulo_four)
{
	assert_rejected("Z", 1);
	assert_rejected("Zm9vY", 5);
}

Test(b64url, rejects_nonzero_unused_bits)
{
	/* "Zg" is the only spelling of "f"; "Zh" to "Zv" carry stray low bits. */
	assert_rejected("Zh", 2);
	assert_rejected("Zv", 2);
	/* "Zm8" is the only spelling of "fo"; "Zm9" sets an unused bit. */
	assert_rejected("Zm9", 3);
	assert_rejected("-_9", 3);
}

Test(b64url, accepts_empty_input)
{
	unsigned char out[1];
	size_t n = 99;

	cr_assert_eq(tt_b64url_decode("", 0, out, &n), 0);
	cr_assert_eq(n, 0);
}
