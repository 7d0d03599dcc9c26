/* SPDX-License-Identifier: MIT */
/*
 * A strict JSON scanner that checks a text in one pass and builds nothing.
 * The envelope uses it to check a payload and find its members, and the
 * Lua bridge then reads values straight from the checked text, so a
 * received message is never turned into a tree.
 *
 * Strict means RFC 8259 plus these rules:
 * - valid UTF-8 in every string;
 * - no NUL, neither raw nor as \u0000, and no unpaired surrogate escape;
 * - no member name twice in one object, compared after unescaping;
 * - integers within int64_t and reals that do not overflow a double;
 * - at most max_depth nested arrays and objects.
 * These are the rules jansson 2.14 applies with
 * JSON_REJECT_DUPLICATES after tt_json_check_depth, and
 * tests/fuzz/fuzz_luajson.c checks that both agree, with two exceptions.
 * jansson skips a raw NUL byte that directly follows a number or a literal
 * (it accepts "[1\0]" but not "[\0 1]"), which is not JSON, and the scanner
 * rejects every raw NUL. jansson also rejects values nested deeper than
 * 2048, so the two agree on depth only for a max_depth below 2048.
 */
#ifndef TT_JSONTEXT_H
#define TT_JSONTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tt_json_type {
	TT_JSON_NULL,
	TT_JSON_FALSE,
	TT_JSON_TRUE,
	TT_JSON_INTEGER,
	TT_JSON_REAL,
	TT_JSON_STRING,
	TT_JSON_ARRAY,
	TT_JSON_OBJECT,
};

/* Whether c is JSON whitespace: space, tab, line feed or carriage return (RFC 8259). */
static inline bool
tt_json_isspace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* One value inside a checked text: its type and its bytes, quotes included for a string. */
struct tt_json_value {
	enum tt_json_type type;
	const char *text;
	size_t len;
};

/* Why a text was rejected: a fixed message and the byte offset where scanning stopped. */
struct tt_json_error {
	const char *message;
	size_t offset;
	bool too_deep;			/* nested deeper than max_depth */
};

/*
 * Called for each member of the top-level object, in order, with the name
 * unescaped. It runs before the rest of the text is checked, so it should
 * only record what it needs; act on it after tt_json_scan_object returns 0.
 * A nonzero return stops the scan, which then fails.
 */
typedef int (*tt_json_member_fn)(void *arg, const char *name, size_t name_len,
				 const struct tt_json_value *value);

/*
 * Checks that text[0..len) is exactly one strict JSON value of any type,
 * with JSON whitespace allowed around it, nested at most max_depth arrays
 * and objects deep (a top-level array is at depth 1). Returns 0, or -1 and
 * fills *err (may be NULL); errno is ENOMEM when memory ran out and EINVAL
 * otherwise.
 */
int tt_json_validate(const char *text, size_t len, int max_depth, struct tt_json_error *err);

/*
 * Like tt_json_validate, but the value must be an object, and member (may be
 * NULL) is called for each of its own members.
 */
int tt_json_scan_object(const char *text, size_t len, int max_depth, tt_json_member_fn member,
			void *arg, struct tt_json_error *err);

/* Reads an integer value from a checked text. Returns 0, or -1 when value is not an integer. */
int tt_json_integer(const struct tt_json_value *value, int64_t *out);

/* Writes u in decimal into out, which must have room for 20 bytes. Returns the length. */
size_t tt_json_put_uint(char *out, uint64_t u);

/* Number tokens shorter than this many bytes convert without allocating memory. */
#define TT_JSON_SHORT_NUMBER 64

/*
 * Reads a number token from a checked text as a double. Returns NaN when
 * the token is at least TT_JSON_SHORT_NUMBER bytes long and memory ran out.
 */
double tt_json_real(const char *text, size_t len);

/*
 * Unescapes the bytes between the quotes of a string from a checked text
 * into out, which must have room for len bytes. Returns the unescaped length.
 * In text that was not checked, it stops at the first invalid escape and
 * never writes more than len bytes.
 */
size_t tt_json_unescape(const char *text, size_t len, char *out);

/*
 * Unescapes a string value from a checked text into out[size], adding a
 * NUL. Returns the length, or -1 when value is not a string or does not fit.
 */
int tt_json_string(const struct tt_json_value *value, char *out, size_t size);

#endif
