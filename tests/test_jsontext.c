/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the strict JSON scanner: what it accepts and rejects, with
 * jansson's verdict on the same text as a second opinion, the members it
 * reports, and the readers for integers, reals and strings.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "jsontext.h"

#define DEPTH 64

static int
validate(const char *text)
{
	return tt_json_validate(text, strlen(text), DEPTH, NULL);
}

/* Whether jansson, with the flags the router used before the scanner, accepts text. */
static bool
jansson_accepts(const char *text, size_t len)
{
	json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);

	json_decref(v);
	return v != NULL;
}

static void
assert_valid(const char *text)
{
	struct tt_json_error err = { NULL, 0 };

	cr_assert_eq(tt_json_validate(text, strlen(text), DEPTH, &err), 0, "%s rejected: %s at %zu",
		     text, err.message, err.offset);
	cr_assert(jansson_accepts(text, strlen(text)), "jansson rejects %s", text);
}

static void
assert_invalid(const char *text, const char *message)
{
	struct tt_json_error err = { NULL, 0 };

	cr_assert_eq(tt_json_validate(text, strlen(text), DEPTH, &err), -1, "%s accepted", text);
	cr_assert_eq(errno, EINVAL);
	cr_assert_not_null(err.message);
	cr_assert(strstr(err.message, message) != NULL, "%s: message '%s' lacks '%s'", text,
		  err.message, message);
	cr_assert(!jansson_accepts(text, strlen(text)), "jansson accepts %s", text);
}

Test(jsontext, accepts_every_type)
{
	static const char *const texts[] = {
		"null", "true", "false", "0", "-0", "12", "-7", "1.5", "-0.25", "1e3", "2E-2",
		"3.5e+10", "\"\"", "\"text\"", "[]", "{}", "[1,[2,[3]],{\"a\":null}]",
		" \t\r\n{ \"a\" : [ 1 , 2 ] }\n ", "{\"a\":{\"a\":{\"a\":1}}}",
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		assert_valid(texts[i]);
}

Test(jsontext, rejects_broken_syntax)
{
	assert_invalid("", "expected a value");
	assert_invalid("   ", "expected a value");
	assert_invalid("[1,]", "expected a value");
	assert_invalid("[1 2]", "expected ',' or ']'");
	assert_invalid("{\"a\" 1}", "expected ':'");
	assert_invalid("{\"a\":1,}", "expected a member name");
	assert_invalid("{a:1}", "expected a member name");
	assert_invalid("{\"a\":1", "unterminated object");
	assert_invalid("[1", "unterminated array");
	assert_invalid("\"abc", "unterminated string");
	assert_invalid("tru", "invalid literal");
	assert_invalid("nul", "invalid literal");
	assert_invalid("True", "expected a value");
	assert_invalid("1 2", "unexpected text after the value");
	assert_invalid("{}{}", "unexpected text after the value");
	assert_invalid("'a'", "expected a value");
}

Test(jsontext, rejects_nonstandard_numbers)
{
	static const char *const texts[] = {
		"01", "-01", "+1", ".5", "1.", "1.e3", "-", "1e", "1e+", "0x10", "NaN", "Infinity",
		"-Infinity", "--1",
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		cr_assert_eq(validate(texts[i]), -1, "%s accepted", texts[i]);
		cr_assert(!jansson_accepts(texts[i], strlen(texts[i])), "jansson accepts %s", texts[i]);
	}
}

Test(jsontext, integers_must_fit_int64)
{
	assert_valid("9223372036854775807");
	assert_valid("-9223372036854775808");
	assert_valid("[123456789012345678,-123456789012345678]");
	assert_invalid("9223372036854775808", "integer out of range");
	assert_invalid("-9223372036854775809", "integer out of range");
	assert_invalid("[99999999999999999999]", "integer out of range");
}

Test(jsontext, reals_must_not_overflow)
{
	char big[400];

	assert_valid("1.7976931348623157e308");
	assert_valid("1e-400");
	assert_valid("9223372036854775808.0");
	assert_invalid("1e309", "real number out of range");
	assert_invalid("-1e309", "real number out of range");

	/* 310 digits before the point and no exponent. */
	big[0] = '1';
	memset(big + 1, '0', 309);
	memcpy(big + 310, ".0", 3);
	assert_invalid(big, "real number out of range");
}

Test(jsontext, strings_check_escapes)
{
	assert_valid("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"");
	assert_valid("\"\\u0041\\u00e9\\u20ac\"");
	assert_valid("\"\\ud83d\\ude00\"");
	assert_valid("\"\\u0001\\u001F\"");
	assert_invalid("\"\\a\"", "invalid escape");
	assert_invalid("\"\\x41\"", "invalid escape");
	assert_invalid("\"\\u12\"", "invalid \\u escape");
	assert_invalid("\"\\u12g4\"", "invalid \\u escape");
	assert_invalid("\"\\u0000\"", "\\u0000");
	assert_invalid("\"\\ud83d\"", "unpaired high surrogate");
	assert_invalid("\"\\ud83dx\"", "unpaired high surrogate");
	assert_invalid("\"\\ud83d\\u0041\"", "unpaired high surrogate");
	assert_invalid("\"\\ude00\"", "unpaired low surrogate");
	assert_invalid("\"\\", "unterminated string");
}

Test(jsontext, strings_must_be_utf8)
{
	assert_valid("\"K\xc3\xbc" "che \xe2\x82\xac \xf0\x9f\x92\xa1 \x7f\"");
	assert_invalid("\"\x80\"", "invalid UTF-8");
	assert_invalid("\"\xc0\xaf\"", "invalid UTF-8");
	assert_invalid("\"\xe0\x80\xaf\"", "invalid UTF-8");
	assert_invalid("\"\xed\xa0\x80\"", "invalid UTF-8");
	assert_invalid("\"\xf4\x90\x80\x80\"", "invalid UTF-8");
	assert_invalid("\"\xc3\"", "invalid UTF-8");
	assert_invalid("\"a\tb\"", "control character");
	assert_invalid("\"a\nb\"", "control character");
}

Test(jsontext, rejects_raw_nul_anywhere)
{
	static const char in_string[] = "\"a\0b\"";
	static const char between[] = "[0\0,1]";

	cr_assert_eq(tt_json_validate(in_string, sizeof(in_string) - 1, DEPTH, NULL), -1);
	cr_assert_eq(tt_json_validate(between, sizeof(between) - 1, DEPTH, NULL), -1);
	cr_assert_eq(tt_json_validate("1\0", 2, DEPTH, NULL), -1);
}

Test(jsontext, rejects_duplicate_names)
{
	assert_invalid("{\"a\":1,\"a\":2}", "duplicate member name");
	assert_invalid("{\"a\":1,\"\\u0061\":2}", "duplicate member name");
	assert_invalid("{\"x\":{\"b\":1,\"c\":2,\"b\":3}}", "duplicate member name");
	assert_invalid("[{\"\":1,\"\":2}]", "duplicate member name");
	assert_valid("{\"a\":{\"a\":1},\"b\":{\"a\":2}}");
	assert_valid("{\"a\":1,\"A\":2,\"a \":3,\"\\u00e9\":4,\"\xc3\xa9 \":5}");
}

/* Objects of more members than the pairwise check handles are sorted instead. */
Test(jsontext, finds_duplicates_in_large_objects)
{
	char text[16384];
	size_t len;

	for (int members = 9; members <= 1000; members = members * 3) {
		len = 0;
		for (int i = 0; i < members; i++)
			len += (size_t)snprintf(text + len, sizeof(text) - len, "%c\"k%d\":%d",
						i == 0 ? '{' : ',', i, i);
		snprintf(text + len, sizeof(text) - len, "}");
		assert_valid(text);

		/* The same object with one of its names repeated at the end. */
		snprintf(text + len, sizeof(text) - len, ",\"k%d\":0}", members / 2);
		assert_invalid(text, "duplicate member name");
	}
}

Test(jsontext, limits_nesting_depth)
{
	char text[300];

	memset(text, '[', 64);
	memset(text + 64, ']', 64);
	text[128] = '\0';
	assert_valid(text);
	cr_assert_eq(tt_json_validate(text, 128, 63, NULL), -1);
	cr_assert_eq(tt_json_validate("{\"a\":[{}]}", 10, 3, NULL), 0);
	cr_assert_eq(tt_json_validate("{\"a\":[{}]}", 10, 2, NULL), -1);
	cr_assert_eq(tt_json_validate("\"[[[[[[\"", 8, 1, NULL), 0);
	cr_assert_eq(tt_json_validate("1", 1, 0, NULL), 0);
}

Test(jsontext, survives_deep_hostile_nesting)
{
	size_t n = 100000;
	char *text = malloc(n);
	struct tt_json_error err;

	cr_assert_not_null(text);
	memset(text, '[', n);
	cr_assert_eq(tt_json_validate(text, n, 1000, &err), -1);
	cr_assert_str_eq(err.message, "nested too deeply");
	cr_assert_eq(err.offset, 1000);
	free(text);
}

/* Records the members that tt_json_scan_object reports. */
struct seen {
	int count;
	char names[8][16];
	struct tt_json_value values[8];
};

static int
record(void *arg, const char *name, size_t len, const struct tt_json_value *value)
{
	struct seen *s = arg;

	cr_assert_lt(s->count, 8);
	cr_assert_lt(len, sizeof(s->names[0]));
	memcpy(s->names[s->count], name, len);
	s->names[s->count][len] = '\0';
	s->values[s->count++] = *value;
	return 0;
}

static void
assert_value(const struct tt_json_value *v, enum tt_json_type type, const char *text)
{
	cr_assert_eq(v->type, type, "type of %.*s", (int)v->len, v->text);
	cr_assert_eq(v->len, strlen(text), "%.*s is not %s", (int)v->len, v->text, text);
	cr_assert_eq(memcmp(v->text, text, v->len), 0, "%.*s is not %s", (int)v->len, v->text,
		     text);
}

Test(jsontext, reports_top_level_members)
{
	static const char text[] = "{ \"n\" : null, \"\\u0074\":true,\"f\":false,\"i\":-3,"
				   "\"r\":2.5e1,\"s\":\"a\\\"b\",\"a\":[1, {\"x\":2}] ,\"o\":{}}";
	struct seen s = { 0 };

	cr_assert_eq(tt_json_scan_object(text, sizeof(text) - 1, DEPTH, record, &s, NULL), 0);
	cr_assert_eq(s.count, 8, "nested members are not reported");
	cr_assert_str_eq(s.names[0], "n");
	assert_value(&s.values[0], TT_JSON_NULL, "null");
	cr_assert_str_eq(s.names[1], "t", "names are unescaped");
	assert_value(&s.values[1], TT_JSON_TRUE, "true");
	assert_value(&s.values[2], TT_JSON_FALSE, "false");
	assert_value(&s.values[3], TT_JSON_INTEGER, "-3");
	assert_value(&s.values[4], TT_JSON_REAL, "2.5e1");
	assert_value(&s.values[5], TT_JSON_STRING, "\"a\\\"b\"");
	assert_value(&s.values[6], TT_JSON_ARRAY, "[1, {\"x\":2}]");
	assert_value(&s.values[7], TT_JSON_OBJECT, "{}");
}

static int
reject_b(void *arg, const char *name, size_t len, const struct tt_json_value *value)
{
	return len == 1 && name[0] == 'b';
}

Test(jsontext, scan_object_needs_an_object)
{
	struct tt_json_error err;

	cr_assert_eq(tt_json_scan_object("[]", 2, DEPTH, NULL, NULL, &err), -1);
	cr_assert_str_eq(err.message, "expected an object");
	cr_assert_eq(tt_json_scan_object(" {} ", 4, DEPTH, NULL, NULL, NULL), 0);
	cr_assert_eq(tt_json_scan_object("{\"a\":1,\"b\":2}", 13, DEPTH, reject_b, NULL, &err), -1);
	cr_assert_str_eq(err.message, "member rejected");
}

Test(jsontext, reads_integers)
{
	static const struct {
		const char *text;
		int64_t value;
	} cases[] = {
		{ "0", 0 }, { "-0", 0 }, { "42", 42 }, { "-7", -7 },
		{ "9223372036854775807", INT64_MAX }, { "-9223372036854775808", INT64_MIN },
	};
	int64_t v;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tt_json_value value = { TT_JSON_INTEGER, cases[i].text, strlen(cases[i].text) };

		cr_assert_eq(tt_json_integer(&value, &v), 0, "%s", cases[i].text);
		cr_assert_eq(v, cases[i].value, "%s", cases[i].text);
	}
	cr_assert_eq(tt_json_integer(&(struct tt_json_value){ TT_JSON_REAL, "1.0", 3 }, &v), -1);
	cr_assert_eq(tt_json_integer(&(struct tt_json_value){ TT_JSON_STRING, "\"1\"", 3 }, &v), -1);
	cr_assert_eq(tt_json_integer(&(struct tt_json_value){ TT_JSON_INTEGER, NULL, 0 }, &v), -1);
}

Test(jsontext, reads_reals)
{
	char longer[100];

	cr_assert_eq(tt_json_real("2.5e1,", 5), 25.0, "stops at the token's end");
	cr_assert_eq(tt_json_real("-0.125", 6), -0.125);
	snprintf(longer, sizeof(longer), "%s", "0.00000000000000000000000000000000000000000000000000000000000000000000000001");
	cr_assert_eq(tt_json_real(longer, strlen(longer)), 1e-74, "a token longer than the local buffer");
}

Test(jsontext, unescapes_strings)
{
	static const char text[] = "a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\u20ac\\ud83d\\ude00";
	static const char want[] = "a\"b\\c/d\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
	char out[sizeof(text)];
	size_t len = tt_json_unescape(text, sizeof(text) - 1, out);

	cr_assert_eq(len, sizeof(want) - 1);
	cr_assert_eq(memcmp(out, want, len), 0);
}

Test(jsontext, string_reader_checks_room)
{
	struct tt_json_value plain = { TT_JSON_STRING, "\"abc\"", 5 };
	/* Eighteen bytes of text for three bytes of string. */
	struct tt_json_value escaped = { TT_JSON_STRING, "\"\\u0061\\u0062\\u0063\"", 20 };
	char out[4];

	cr_assert_eq(tt_json_string(&plain, out, sizeof(out)), 3);
	cr_assert_str_eq(out, "abc");
	cr_assert_eq(tt_json_string(&plain, out, 3), -1, "no room for the NUL");
	cr_assert_eq(tt_json_string(&escaped, out, sizeof(out)), 3, "escapes make the text longer");
	cr_assert_str_eq(out, "abc");
	cr_assert_eq(tt_json_string(&escaped, out, 3), -1);
	cr_assert_eq(tt_json_string(&(struct tt_json_value){ TT_JSON_INTEGER, "1", 1 }, out,
				    sizeof(out)), -1);
}

/* The exception that jsontext.h names: jansson skips a raw NUL only right after a number or a literal. */
Test(jsontext, nul_after_token_splits_from_jansson)
{
	static const struct {
		const char *text;
		size_t len;
		bool jansson;
	} cases[] = {
		{ "[1\0]", 4, true }, { "[true\0]", 7, true }, { "{\"a\":null\0}", 11, true },
		{ "7\0", 2, true }, { "[\0 1]", 5, false }, { "[\"a\"\0]", 6, false },
		{ "[[]\0]", 5, false }, { "[1 \0]", 5, false }, { "{\0}", 3, false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(jansson_accepts(cases[i].text, cases[i].len), cases[i].jansson,
			     "jansson on case %zu", i);
		cr_assert_eq(tt_json_validate(cases[i].text, cases[i].len, DEPTH, NULL), -1,
			     "scanner on case %zu", i);
	}
}

/*
 * Every proper prefix of an object is invalid. Each is copied to a heap
 * block of its exact size, so valgrind or the address sanitizer detects any
 * read past the end, such as one inside an escape cut short.
 */
Test(jsontext, rejects_every_cut_without_reading_past_end)
{
	static const char text[] = "{\"k\\u00e9\":[-1.5e+3,true,false,null,\"\\ud83d\\ude00\\n\","
				   "\"K\xc3\xbc\xe2\x82\xac\xf0\x9f\x92\xa1\",{\"\\\"\":-0}],\"n\":12345}";
	size_t len = sizeof(text) - 1;

	assert_valid(text);
	for (size_t cut = 0; cut < len; cut++) {
		char *copy = malloc(cut > 0 ? cut : 1);

		cr_assert_not_null(copy);
		memcpy(copy, text, cut);
		cr_assert_eq(tt_json_validate(copy, cut, DEPTH, NULL), -1, "prefix of %zu bytes", cut);
		cr_assert_eq(tt_json_scan_object(copy, cut, DEPTH, NULL, NULL, NULL), -1,
			     "object prefix of %zu bytes", cut);
		free(copy);
	}
}

Test(jsontext, checks_surrogate_pairs_like_jansson)
{
	assert_valid("\"\\uD83D\\uDE00\"");
	assert_valid("\"\\udbff\\udfff\"");
	assert_valid("\"\\ud800\\udc00\"");
	assert_invalid("\"\\udc00\\ud800\"", "unpaired low surrogate");
	assert_invalid("\"\\ud800\\ud800\"", "unpaired high surrogate");
	assert_invalid("\"\\ud800\\\\udc00\"", "unpaired high surrogate");
	assert_invalid("\"\\ud800\\u0000\"", "unpaired high surrogate");
	assert_invalid("\"\\ud800\\udc0g\"", "unpaired high surrogate");
	assert_invalid("[\"\\ud800\"]", "unpaired high surrogate");
}

/* Builds an object of n members named k0..k(n-1), then extra before the closing brace. */
static void
object_text(char *text, size_t size, int n, const char *extra)
{
	size_t len = (size_t)snprintf(text, size, "{");

	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, size - len, "%s\"k%d\":%d", i > 0 ? "," : "", i, i);
	snprintf(text + len, size - len, "%s}", extra);
}

/* Objects of up to 16 members are compared pairwise and larger ones sorted: both paths must agree. */
Test(jsontext, finds_duplicates_around_pairwise_limit)
{
	char text[2048];

	for (int n = 14; n <= 19; n++) {
		object_text(text, sizeof(text), n, "");
		assert_valid(text);
		object_text(text, sizeof(text), n - 1, ",\"k0\":0");
		assert_invalid(text, "duplicate member name");
		object_text(text, sizeof(text), n - 1, ",\"\\u006b0\":0");
		assert_invalid(text, "duplicate member name");
		object_text(text, sizeof(text), n - 1, ",\"k1\\u0030\":0");
		if (n - 1 > 10)
			assert_invalid(text, "duplicate member name");
		else
			assert_valid(text);
	}

	/* Names that are prefixes of one another, or differ only past a common prefix, are distinct. */
	assert_valid("{\"a\":1,\"ab\":2,\"abc\":3,\"\":4,\"b\":5,\"ba\":6,\"k0\":7,\"k00\":8,\"k1\":9,"
		     "\"k10\":10,\"k2\":11,\"k3\":12,\"k4\":13,\"k5\":14,\"k6\":15,\"k7\":16,\"k8\":17}");
}

/*
 * Escaped names are unescaped into one buffer as large as the text. A text
 * made almost only of escaped names fills most of it, across nested objects
 * that close and reopen.
 */
Test(jsontext, unescapes_many_escaped_names)
{
	static const char unit[] = "\"\\u0061\\u00e9\\ud83d\\ude00\"";
	char *text = malloc(64 * 1024);
	size_t len = 0;

	cr_assert_not_null(text);
	text[len++] = '[';
	for (int i = 0; i < 200; i++) {
		len += (size_t)sprintf(text + len, "%s{%s:{%s:%d,\"x%d\":[]}}", i > 0 ? "," : "", unit,
				       unit, i, i);
	}
	text[len++] = ']';
	cr_assert_eq(tt_json_validate(text, len, DEPTH, NULL), 0);
	cr_assert(jansson_accepts(text, len));

	/* The same text with a duplicate escaped name in its last object. */
	len -= 2;
	len += (size_t)sprintf(text + len, ",{%s:1,\"a\xc3\xa9\xf0\x9f\x98\x80\":2}]", unit);
	cr_assert_eq(tt_json_validate(text, len, DEPTH, NULL), -1);
	cr_assert(!jansson_accepts(text, len));
	free(text);
}

/* A real whose mantissa runs to thousands of digits is read in full, not cut at a buffer's size. */
Test(jsontext, checks_reals_with_long_mantissas)
{
	size_t n = 5000;
	char *text = malloc(n + 16);

	cr_assert_not_null(text);
	memset(text, '9', n);
	memcpy(text + n, "e-4700", 6);
	cr_assert_eq(tt_json_validate(text, n + 6, DEPTH, NULL), 0, "about 1e300");
	cr_assert(jansson_accepts(text, n + 6));
	memcpy(text + n, "e-4690", 6);
	cr_assert_eq(tt_json_validate(text, n + 6, DEPTH, NULL), -1, "about 1e310");
	cr_assert(!jansson_accepts(text, n + 6));
	text[0] = '0';
	text[1] = '.';
	memcpy(text + n, "e+9999", 6);
	cr_assert_eq(tt_json_validate(text, n + 6, DEPTH, NULL), -1, "0.99... e9999");
	free(text);
}

/* Text that never passed the scanner: the unescaper stops and writes no more than it read. */
Test(jsontext, unescape_stops_at_broken_escape)
{
	static const struct {
		const char *text;
		size_t expected;
	} cases[] = {
		{ "ab\\", 2 }, { "ab\\u12", 2 }, { "ab\\u12g4cd", 2 }, { "ab\\x", 2 },
		{ "ab\\ud83d", 2 }, { "ab\\ud83d\\u00", 2 }, { "ab\\ud83dxxxxxx", 2 },
		{ "ab\\ud83d\\u0041", 2 }, { "\\n\\", 1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = strlen(cases[i].text);
		/* Exactly len bytes, so the address sanitizer catches a write past them. */
		char *out = malloc(len);

		cr_assert_not_null(out);
		cr_assert_eq(tt_json_unescape(cases[i].text, len, out), cases[i].expected, "%s",
			     cases[i].text);
		free(out);
	}
}

Test(jsontext, writes_unsigned_integers)
{
	static const struct {
		uint64_t value;
		const char *text;
	} cases[] = {
		{ 0, "0" }, { 9, "9" }, { 10, "10" }, { 1754000000000, "1754000000000" },
		{ INT64_MAX, "9223372036854775807" }, { UINT64_MAX, "18446744073709551615" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[20];
		size_t n = tt_json_put_uint(out, cases[i].value);

		cr_assert_eq(n, strlen(cases[i].text), "%s", cases[i].text);
		cr_assert_eq(memcmp(out, cases[i].text, n), 0, "%s", cases[i].text);
	}
}

Test(jsontext, marks_depth_errors)
{
	struct tt_json_error err;

	cr_assert_eq(tt_json_validate("[[[1]]]", 7, 2, &err), -1);
	cr_assert(err.too_deep);
	cr_assert_eq(err.offset, 2);
	cr_assert_eq(tt_json_validate("[[1,]]", 6, 2, &err), -1);
	cr_assert_not(err.too_deep);
}
