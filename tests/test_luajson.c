/* SPDX-License-Identifier: MIT */
/* Unit tests for the conversion between JSON values and Lua values. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "jsontext.h"
#include "luajson.h"

#define DEPTH 64
#define MAX_LEN (1 << 20)

static lua_State *L;
static char err[256];

static int
lua_array(lua_State *l)
{
	tt_luajson_push_array(l);
	return 1;
}

static int
lua_object(lua_State *l)
{
	tt_luajson_push_object(l);
	return 1;
}

/* Sets the globals array(), object() and null that the Lua snippets below use. */
static void
addglobals(lua_State *l)
{
	lua_register(l, "array", lua_array);
	lua_register(l, "object", lua_object);
	tt_luajson_push_null(l);
	lua_setglobal(l, "null");
}

static void
setup(void)
{
	L = luaL_newstate();
	cr_assert_not_null(L);
	luaL_openlibs(L);
	tt_luajson_setup(L);
	addglobals(L);
	err[0] = '\0';
}

static void
teardown(void)
{
	lua_close(L);
}

TestSuite(luajson, .init = setup, .fini = teardown);

/* Checks text with the scanner and pushes it onto L. */
static void
pushjson(const char *text)
{
	struct tt_json_error jerr;

	cr_assert_eq(tt_json_validate(text, strlen(text), DEPTH, &jerr), 0, "invalid test JSON %s: %s",
		     text, jerr.message);
	tt_luajson_push_text(L, text, strlen(text));
}

/* Runs a Lua chunk that returns one value and leaves the value on the stack. */
static void
pushlua(const char *chunk)
{
	int rc = luaL_dostring(L, chunk);

	cr_assert_eq(rc, LUA_OK, "chunk failed: %s", lua_tostring(L, -1));
}

/*
 * Encodes the top value, pops it and returns the encoder's result. On
 * success the text is copied to out.
 */
static int
encodetop(int max_depth, size_t max_len, char *out, size_t outsize)
{
	int top = lua_gettop(L);
	int rc = tt_luajson_encode(L, -1, max_depth, max_len, err, sizeof(err));

	if (rc == 0) {
		cr_assert_eq(lua_gettop(L), top + 1);
		snprintf(out, outsize, "%s", lua_tostring(L, -1));
		lua_pop(L, 1);
	} else {
		cr_assert_eq(lua_gettop(L), top);
	}
	lua_pop(L, 1);
	return rc;
}

static void
assert_roundtrip(const char *in, const char *expected)
{
	char out[512];

	pushjson(in);
	cr_assert_eq(encodetop(DEPTH, MAX_LEN, out, sizeof(out)), 0, "%s: %s", in, err);
	cr_assert_str_eq(out, expected);
}

static void
assert_encodes(const char *chunk, const char *expected)
{
	char out[512];

	pushlua(chunk);
	cr_assert_eq(encodetop(DEPTH, MAX_LEN, out, sizeof(out)), 0, "%s: %s", chunk, err);
	cr_assert_str_eq(out, expected);
}

static void
assert_rejects(const char *chunk, const char *message)
{
	char out[512];

	pushlua(chunk);
	cr_assert_eq(encodetop(DEPTH, MAX_LEN, out, sizeof(out)), -1, "%s encoded as %s",
		     chunk, out);
	cr_assert(strstr(err, message) != NULL, "%s: error '%s' lacks '%s'", chunk, err, message);
}

Test(luajson, empty_array_stays_array)
{
	assert_roundtrip("[]", "[]");
}

Test(luajson, empty_object_stays_object)
{
	assert_roundtrip("{}", "{}");
}

Test(luajson, nested_values_round_trip)
{
	assert_roundtrip("{\"a\":[1,2,{\"b\":null,\"c\":[]}],\"d\":{},\"e\":true,\"f\":false}",
			 "{\"a\":[1,2,{\"b\":null,\"c\":[]}],\"d\":{},\"e\":true,\"f\":false}");
}

/* Containers around the reader's batch of 16 items keep every item, in order. */
Test(luajson, containers_of_every_size_round_trip)
{
	static const int sizes[] = { 0, 1, 15, 16, 17, 31, 32, 33, 100 };
	static char array[1024], object[2048], out[2048];

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t alen = 0, olen = 0;

		for (int k = 1; k <= sizes[i]; k++) {
			alen += (size_t)snprintf(array + alen, sizeof(array) - alen, "%c%d",
						 k == 1 ? '[' : ',', k);
			olen += (size_t)snprintf(object + olen, sizeof(object) - olen, "%c\"k%03d\":%d",
						 k == 1 ? '{' : ',', k, k);
		}
		snprintf(array + alen, sizeof(array) - alen, "%s", sizes[i] == 0 ? "[]" : "]");
		snprintf(object + olen, sizeof(object) - olen, "%s", sizes[i] == 0 ? "{}" : "}");

		pushjson(array);
		cr_assert_eq(lua_rawlen(L, -1), (size_t)sizes[i], "%d elements", sizes[i]);
		cr_assert_eq(encodetop(DEPTH, MAX_LEN, out, sizeof(out)), 0, "%s", err);
		cr_assert_str_eq(out, array, "%d elements", sizes[i]);
		pushjson(object);
		cr_assert_eq(encodetop(DEPTH, MAX_LEN, out, sizeof(out)), 0, "%s", err);
		cr_assert_str_eq(out, object, "%d members", sizes[i]);
	}
}

Test(luajson, object_keys_come_out_sorted)
{
	assert_roundtrip("{\"b\":1,\"a\":2,\"ab\":3,\"\":4}", "{\"\":4,\"a\":2,\"ab\":3,\"b\":1}");
	assert_roundtrip("{\"\\u00e9\":1,\"z\":2}", "{\"z\":2,\"\xc3\xa9\":1}");
	assert_encodes("return {['a\\1b'] = 1, a = 2}", "{\"a\":2,\"a\\u0001b\":1}");
	assert_encodes("local t = {} for i = 30, 1, -1 do t['k' .. i] = i end return t",
		       "{\"k1\":1,\"k10\":10,\"k11\":11,\"k12\":12,\"k13\":13,\"k14\":14,"
		       "\"k15\":15,\"k16\":16,\"k17\":17,\"k18\":18,\"k19\":19,\"k2\":2,"
		       "\"k20\":20,\"k21\":21,\"k22\":22,\"k23\":23,\"k24\":24,\"k25\":25,"
		       "\"k26\":26,\"k27\":27,\"k28\":28,\"k29\":29,\"k3\":3,\"k30\":30,"
		       "\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,\"k9\":9}");
}

/* Pushes a table with the keys k001..k<n>, inserted from the last to the first. */
static void
pushkeyed(int n)
{
	char chunk[160];

	snprintf(chunk, sizeof(chunk),
		 "local t = {} for i = %d, 1, -1 do t[string.format('k%%03d', i)] = i end "
		 "return t", n);
	pushlua(chunk);
}

/* Objects of more than 32 keys take another sorting path than smaller ones. */
Test(luajson, objects_sort_at_every_size)
{
	static const int sizes[] = { 1, 2, 31, 32, 33, 100 };
	static char out[2048], expected[2048];

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t len = 0;

		for (int k = 1; k <= sizes[i]; k++)
			len += (size_t)snprintf(expected + len, sizeof(expected) - len,
						"%c\"k%03d\":%d", k == 1 ? '{' : ',', k, k);
		snprintf(expected + len, sizeof(expected) - len, "}");
		pushkeyed(sizes[i]);
		cr_assert_eq(encodetop(DEPTH, MAX_LEN, out, sizeof(out)), 0, "%s", err);
		cr_assert_str_eq(out, expected, "%d keys", sizes[i]);
	}
}

/* A key that is a prefix of another sorts first, and a lower byte sorts first. */
Test(luajson, keys_sort_by_bytes)
{
	static const char small[] =
		"return {['a\\2'] = 6, ['a\\1b'] = 5, ['a\\1a'] = 4, ['a\\1'] = 3, a = 2, [''] = 1}";
	static const char big[] =
		"local t = {['a\\2'] = 6, ['a\\1b'] = 5, ['a\\1a'] = 4, ['a\\1'] = 3, a = 2, [''] = 1} "
		"for i = 1, 30 do t[string.format('z%02d', i)] = 0 end return t";
	static const char head[] =
		"{\"\":1,\"a\":2,\"a\\u0001\":3,\"a\\u0001a\":4,\"a\\u0001b\":5,\"a\\u0002\":6";
	static char out[1024], expected[1024];
	size_t len;

	snprintf(expected, sizeof(expected), "%s}", head);
	assert_encodes(small, expected);

	len = (size_t)snprintf(expected, sizeof(expected), "%s", head);
	for (int i = 1; i <= 30; i++)
		len += (size_t)snprintf(expected + len, sizeof(expected) - len, ",\"z%02d\":0", i);
	snprintf(expected + len, sizeof(expected) - len, "}");
	pushlua(big);
	cr_assert_eq(encodetop(DEPTH, MAX_LEN, out, sizeof(out)), 0, "%s", err);
	cr_assert_str_eq(out, expected);
}

Test(luajson, integer_extremes_encode_exactly)
{
	assert_encodes("return {math.mininteger, math.maxinteger, 0, -7, 10, 1000000}",
		       "[-9223372036854775808,9223372036854775807,0,-7,10,1000000]");
}

Test(luajson, integers_stay_exact)
{
	assert_roundtrip("3", "3");
	assert_roundtrip("9007199254740993", "9007199254740993");
	assert_roundtrip("-9223372036854775808", "-9223372036854775808");
	assert_roundtrip("9223372036854775807", "9223372036854775807");
	assert_roundtrip("[0,-1]", "[0,-1]");
}

Test(luajson, integer_becomes_lua_integer)
{
	pushjson("9007199254740993");
	cr_assert(lua_isinteger(L, -1));
	cr_assert_eq(lua_tointeger(L, -1), 9007199254740993LL);
}

Test(luajson, float_becomes_lua_float)
{
	pushjson("3.0");
	cr_assert_eq(lua_type(L, -1), LUA_TNUMBER);
	cr_assert_not(lua_isinteger(L, -1));
	cr_assert_eq(lua_tonumber(L, -1), 3.0);
}

Test(luajson, floats_round_trip)
{
	assert_roundtrip("3.0", "3.0");
	assert_roundtrip("0.1", "0.1");
	assert_roundtrip("1e300", "1e+300");
	assert_roundtrip("-2.5e-8", "-2.5e-08");
	assert_roundtrip("0.30000000000000004", "0.30000000000000004");
	assert_roundtrip("9007199254740992.0", "9007199254740992.0");
}

/* Formats d with the fewest of 15 to 17 significant digits that read back as d, plus ".0". */
static void
reference_float(char *out, size_t size, double d)
{
	int prec;

	for (prec = 15; prec < 17; prec++) {
		snprintf(out, size, "%.*g", prec, d);
		if (strtod(out, NULL) == d)
			break;
	}
	if (prec == 17)
		snprintf(out, size, "%.17g", d);
	if (strpbrk(out, ".eE") == NULL)
		strncat(out, ".0", size - strlen(out) - 1);
}

static void
assert_float_matches_reference(double d)
{
	char out[64], expected[64];

	reference_float(expected, sizeof(expected), d);
	lua_pushnumber(L, d);
	cr_assert_eq(encodetop(DEPTH, MAX_LEN, out, sizeof(out)), 0, "%s", err);
	cr_assert_str_eq(out, expected, "%.17g", d);
}

/* Decimal fractions take a path without snprintf(), which must write what "%.15g" writes. */
Test(luajson, floats_match_shortest_g_format)
{
	static const double edges[] = {
		20.5, 0.5, 1e-4, 9.9999e-5, 1.5e-4, 1e14, 999999999999999.0, 1e15,
		99999999999999.99, 123456789.12345678, 0.1 + 0.2, 1.0 / 3, 4503599627370496.5,
		12345.678901, 0.00012345678, 1e-9, 3.0, 100.0,
	};
	static const double scale[] = { 1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9 };
	uint64_t seed = 42;

	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
		double d = edges[i];

		assert_float_matches_reference(d);
		assert_float_matches_reference(-d);
		assert_float_matches_reference(nextafter(d, 0));
		assert_float_matches_reference(nextafter(d, INFINITY));
	}
	for (int i = 0; i < 2000; i++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		double d = (double)(seed >> 14 & ((1ULL << 50) - 1)) / scale[(seed >> 8) % 10];

		assert_float_matches_reference(d);
		assert_float_matches_reference(-d);
		assert_float_matches_reference(nextafter(d, INFINITY));
	}
}

/* -0.0 keeps its sign, so it reads back as negative zero. */
Test(luajson, negative_zero_keeps_sign)
{
	assert_roundtrip("-0.0", "-0.0");
}

Test(luajson, float_output_reads_back_as_float)
{
	static const char *const chunks[] = {
		"return 3.0", "return 2^53", "return 1e15", "return -0.0", "return 1/3",
		"return 5e-324", "return 1.7976931348623157e308",
	};
	char out[512];

	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		pushlua(chunks[i]);
		lua_Number expected = lua_tonumber(L, -1);

		cr_assert_eq(encodetop(DEPTH, MAX_LEN, out, sizeof(out)), 0, "%s", err);
		json_t *v = json_loads(out, JSON_DECODE_ANY, NULL);

		cr_assert(json_is_real(v), "%s gave %s", chunks[i], out);
		cr_assert_eq(json_real_value(v), expected, "%s gave %s", chunks[i], out);
		json_decref(v);
	}
}

Test(luajson, encoded_float_is_float_in_lua)
{
	char out[64];

	pushlua("return 3.0");
	cr_assert_eq(encodetop(DEPTH, MAX_LEN, out, sizeof(out)), 0, "%s", err);
	pushjson(out);
	lua_setglobal(L, "x");
	pushlua("return math.type(x)");
	cr_assert_str_eq(lua_tostring(L, -1), "float");
}

Test(luajson, unicode_strings_written_raw)
{
	assert_roundtrip("\"h\\u00e9llo \\u2603 \\ud83d\\ude00\"",
			 "\"h\xc3\xa9llo \xe2\x98\x83 \xf0\x9f\x98\x80\"");
}

Test(luajson, string_escapes_round_trip)
{
	assert_roundtrip("\"a\\\"b\\\\c\\/d\\n\\r\\t\\b\\f\"", "\"a\\\"b\\\\c/d\\n\\r\\t\\b\\f\"");
	assert_roundtrip("\"\\u0001\\u001f\\u007f\"", "\"\\u0001\\u001f\x7f\"");
}

/* Receivers reject \u0000, so a rule learns at emit time instead. */
Test(luajson, rejects_nul_byte)
{
	assert_rejects("return 'a\\0b'", "NUL");
	assert_rejects("return {['a\\0b'] = 1}", "NUL");
	assert_rejects("return {'\\0'}", "NUL");
}

Test(luajson, unicode_edges_are_valid)
{
	assert_encodes("return '\\u{10FFFF}'", "\"\xf4\x8f\xbf\xbf\"");
	assert_encodes("return '\\u{FFFF}'", "\"\xef\xbf\xbf\"");
	assert_encodes("return '\\u{D7FF}\\u{E000}'", "\"\xed\x9f\xbf\xee\x80\x80\"");
	assert_encodes("return '\\u{80}\\u{7FF}\\u{800}'", "\"\xc2\x80\xdf\xbf\xe0\xa0\x80\"");
}

Test(luajson, null_in_array_becomes_sentinel)
{
	pushjson("[1,null]");
	lua_rawgeti(L, -1, 2);
	cr_assert(tt_luajson_is_null(L, -1));
}

Test(luajson, null_in_object_becomes_sentinel)
{
	pushjson("{\"a\":null}");
	lua_getfield(L, -1, "a");
	cr_assert(tt_luajson_is_null(L, -1));
}

Test(luajson, top_level_null_becomes_nil)
{
	int top = lua_gettop(L);

	pushjson("null");
	cr_assert_eq(lua_gettop(L), top + 1);
	cr_assert(lua_isnil(L, -1));
}

Test(luajson, sentinel_encodes_as_null)
{
	assert_encodes("return null", "null");
	assert_encodes("return {1, null, 3}", "[1,null,3]");
	assert_encodes("return {a = null}", "{\"a\":null}");
	assert_encodes("return nil", "null");
}

Test(luajson, sentinel_is_only_null)
{
	pushlua("return io.stdout");
	cr_assert_not(tt_luajson_is_null(L, -1));
	lua_pushnil(L);
	cr_assert_not(tt_luajson_is_null(L, -1));
	tt_luajson_push_null(L);
	cr_assert(tt_luajson_is_null(L, -1));
}

Test(luajson, sentinel_prints_as_null)
{
	pushlua("return tostring(null)");
	cr_assert_str_eq(lua_tostring(L, -1), "null");
}

Test(luajson, json_tables_carry_markers)
{
	pushjson("[]");
	cr_assert(tt_luajson_is_array(L, -1));
	cr_assert_not(tt_luajson_is_object(L, -1));
	pushjson("{}");
	cr_assert(tt_luajson_is_object(L, -1));
	cr_assert_not(tt_luajson_is_array(L, -1));
	lua_newtable(L);
	cr_assert_not(tt_luajson_is_array(L, -1));
	cr_assert_not(tt_luajson_is_object(L, -1));
}

Test(luajson, markers_are_protected)
{
	pushlua("return getmetatable(array())");
	cr_assert_str_eq(lua_tostring(L, -1), "tattletale.array");
	pushlua("return getmetatable(object())");
	cr_assert_str_eq(lua_tostring(L, -1), "tattletale.object");
	cr_assert_neq(luaL_dostring(L, "setmetatable(array(), {})"), LUA_OK);
	cr_assert_neq(luaL_dostring(L, "setmetatable(null, {})"), LUA_OK);
}

Test(luajson, marker_name_shows_in_tostring)
{
	pushlua("return tostring(object())");
	cr_assert(strncmp(lua_tostring(L, -1), "tattletale.object: ", 19) == 0);
}

Test(luajson, marked_empty_tables_keep_kind)
{
	assert_encodes("return array()", "[]");
	assert_encodes("return object()", "{}");
	assert_encodes("return {}", "{}");
	assert_encodes("return {a = array(), b = object()}", "{\"a\":[],\"b\":{}}");
}

Test(luajson, marked_array_writes_null_for_nil)
{
	assert_encodes("local a = array() a[1] = 1 a[2] = null a[3] = 3 return a",
		       "[1,null,3]");
}

Test(luajson, marked_array_rejects_string_key)
{
	assert_rejects("local a = array() a[1] = 1 a.x = 2 return a",
		       "cannot encode an array with keys other than 1..1 (found a string key)");
}

Test(luajson, marked_object_rejects_number_key)
{
	assert_rejects("local o = object() o[1] = 1 return o",
		       "cannot encode an object with a number key");
}

Test(luajson, plain_tables_pick_kind_by_keys)
{
	assert_encodes("return {1, 2, 3}", "[1,2,3]");
	assert_encodes("return {x = 1, y = 'a'}", "{\"x\":1,\"y\":\"a\"}");
	assert_encodes("return {[1] = 'a', [2] = 'b'}", "[\"a\",\"b\"]");
	assert_encodes("return {true, false}", "[true,false]");
}

Test(luajson, metamethods_never_run)
{
	assert_encodes("local bad = function() error('metamethod ran') end "
		       "return setmetatable({1, 2}, {__index = bad, __len = bad, "
		       "__pairs = bad, __newindex = bad, __tostring = bad})",
		       "[1,2]");
}

Test(luajson, shared_table_is_not_a_cycle)
{
	assert_encodes("local x = {1} return {x, x, {x}}", "[[1],[1],[[1]]]");
}

Test(luajson, rejects_nan)
{
	assert_rejects("return 0/0", "cannot encode a non-finite number");
	assert_rejects("return {1, 0/0}", "cannot encode a non-finite number");
}

Test(luajson, rejects_infinity)
{
	assert_rejects("return math.huge", "cannot encode a non-finite number");
	assert_rejects("return {x = -math.huge}", "cannot encode a non-finite number");
}

Test(luajson, rejects_invalid_utf8)
{
	static const char *const chunks[] = {
		"return '\\xff'",			/* never valid */
		"return '\\x80'",			/* lone continuation byte */
		"return '\\xc0\\xaf'",			/* overlong '/' */
		"return '\\xc1\\xbf'",			/* overlong 2-byte */
		"return '\\xe0\\x80\\xaf'",		/* overlong 3-byte */
		"return '\\xf0\\x80\\x80\\xaf'",	/* overlong 4-byte */
		"return '\\xed\\xa0\\x80'",		/* surrogate U+D800 */
		"return '\\xed\\xbf\\xbf'",		/* surrogate U+DFFF */
		"return '\\xf4\\x90\\x80\\x80'",	/* U+110000 */
		"return '\\xf5\\x80\\x80\\x80'",	/* lead byte past U+10FFFF */
		"return 'a\\xe2\\x82'",			/* truncated at the end */
		"return '\\xe2\\x82a'",			/* truncated before ASCII */
		"return {'ok', '\\xff'}",		/* inside an array */
		"return {['\\xff'] = 1}",		/* as an object key */
	};

	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)
		assert_rejects(chunks[i], "cannot encode a string that is not valid UTF-8");
}

Test(luajson, rejects_self_cycle)
{
	assert_rejects("local t = {} t[1] = t return t", "cannot encode a table that contains itself");
	assert_rejects("local t = {} t.me = t return t", "cannot encode a table that contains itself");
}

Test(luajson, rejects_indirect_cycle)
{
	assert_rejects("local a = {} local b = {x = {a}} a[1] = b return a",
		       "cannot encode a table that contains itself");
}

/* The encoder keeps the first 32 path levels in a C array and deeper ones in a table. */
Test(luajson, rejects_cycle_below_32_levels)
{
	static const char *const chunks[] = {
		/* the table at depth 40 contains the top-level table */
		"local top = {} local t = top for i = 2, 40 do t.x = {} t = t.x end "
		"t.x = top return top",
		/* the table at depth 50 contains the one at depth 40 */
		"local top = {} local t, at40 = top for i = 2, 50 do t.x = {} t = t.x "
		"if i == 40 then at40 = t end end t.x = at40 return top",
		/* the table at depth 40 contains the one at depth 32, the last in the C array */
		"local top = {} local t, at32 = top for i = 2, 40 do t.x = {} t = t.x "
		"if i == 32 then at32 = t end end t.x = at32 return top",
		/* the table at depth 33 contains itself */
		"local top = {} local t = top for i = 2, 33 do t.x = {} t = t.x end "
		"t.me = t return top",
	};

	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)
		assert_rejects(chunks[i], "cannot encode a table that contains itself");
}

/* At max_depth 33 only the cycle check stops this table. A missed check gives a depth error. */
Test(luajson, rejects_cycle_at_depth_32)
{
	char out[64];

	pushlua("local top = {} local t = top for i = 2, 32 do t.x = {} t = t.x end "
		"t.me = t return top");
	cr_assert_eq(encodetop(33, MAX_LEN, out, sizeof(out)), -1);
	cr_assert_str_eq(err, "cannot encode a table that contains itself");
}

Test(luajson, shared_deep_table_is_not_a_cycle)
{
	static char out[1024], expected[1024];
	size_t len = 0;

	pushlua("local top = {} local t = top for i = 2, 40 do t.x = {} t = t.x end "
		"local s = {v = 1} t.x = {s, {s}, s} return top");
	cr_assert_eq(encodetop(DEPTH, MAX_LEN, out, sizeof(out)), 0, "%s", err);
	for (int i = 0; i < 40; i++)
		len += (size_t)snprintf(expected + len, sizeof(expected) - len, "{\"x\":");
	len += (size_t)snprintf(expected + len, sizeof(expected) - len,
				"[{\"v\":1},[{\"v\":1}],{\"v\":1}]");
	for (int i = 0; i < 40; i++)
		len += (size_t)snprintf(expected + len, sizeof(expected) - len, "}");
	cr_assert_str_eq(out, expected);
}

/* Pushes an array nested n levels deep: [[...[]...]]. */
static void
pushnested(int n)
{
	char chunk[128];

	snprintf(chunk, sizeof(chunk),
		 "local t = array() for i = 2, %d do t = {t} end return t", n);
	pushlua(chunk);
}

Test(luajson, accepts_max_depth)
{
	char out[64];

	pushnested(5);
	cr_assert_eq(encodetop(5, MAX_LEN, out, sizeof(out)), 0, "%s", err);
	cr_assert_str_eq(out, "[[[[[]]]]]");
}

Test(luajson, rejects_max_depth_plus_one)
{
	char out[64];

	pushnested(6);
	cr_assert_eq(encodetop(5, MAX_LEN, out, sizeof(out)), -1);
	cr_assert_str_eq(err, "cannot encode a table nested deeper than 5 levels");
}

Test(luajson, scalar_needs_no_depth)
{
	char out[64];

	lua_pushinteger(L, 7);
	cr_assert_eq(encodetop(0, MAX_LEN, out, sizeof(out)), 0, "%s", err);
	cr_assert_str_eq(out, "7");
}

Test(luajson, caps_depth_at_hard_maximum)
{
	static char out[4 * TT_LUAJSON_MAX_DEPTH];

	pushnested(TT_LUAJSON_MAX_DEPTH);
	cr_assert_eq(encodetop(INT_MAX, MAX_LEN, out, sizeof(out)), 0, "%s", err);
	pushnested(TT_LUAJSON_MAX_DEPTH + 1);
	cr_assert_eq(encodetop(INT_MAX, MAX_LEN, out, sizeof(out)), -1);
	cr_assert(strstr(err, "deeper than 1000 levels") != NULL, "%s", err);
}

Test(luajson, rejects_mixed_keys)
{
	static const char *const chunks[] = {
		"return {1, 2, x = 3}",
		"return {[1] = 1, [3] = 3}",
		"return {[0] = 1}",
		"return {[-1] = 1}",
		"return {[1.5] = 1}",
		"return {[true] = 1}",
		"return {[{}] = 1}",
	};

	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)
		assert_rejects(chunks[i], "cannot encode a table with mixed or non-string keys");
}

Test(luajson, rejects_function_value)
{
	assert_rejects("return {f = print}", "cannot encode a function value");
	assert_rejects("return print", "cannot encode a function value");
}

Test(luajson, rejects_thread_and_userdata)
{
	assert_rejects("return coroutine.create(print)", "cannot encode a thread value");
	assert_rejects("return {io.stdout}", "cannot encode a userdata value");
}

Test(luajson, rejects_light_userdata)
{
	char out[64];

	lua_pushlightuserdata(L, err);
	cr_assert_eq(encodetop(DEPTH, MAX_LEN, out, sizeof(out)), -1);
	cr_assert_str_eq(err, "cannot encode a userdata value");
}

Test(luajson, accepts_output_at_max_len)
{
	char out[64];

	pushlua("return {1, 2, 3}");
	cr_assert_eq(encodetop(DEPTH, 7, out, sizeof(out)), 0, "%s", err);
	cr_assert_str_eq(out, "[1,2,3]");
}

Test(luajson, rejects_output_over_max_len)
{
	char out[64];

	pushlua("return {1, 2, 3}");
	cr_assert_eq(encodetop(DEPTH, 6, out, sizeof(out)), -1);
	cr_assert_str_eq(err, "the encoded JSON is longer than the maximum of 6 bytes");
}

Test(luajson, plain_string_at_max_len)
{
	char out[64];

	pushlua("return 'abcdefghij'");
	cr_assert_eq(encodetop(DEPTH, 12, out, sizeof(out)), 0, "%s", err);
	cr_assert_str_eq(out, "\"abcdefghij\"");
	pushlua("return 'abcdefghij'");
	cr_assert_eq(encodetop(DEPTH, 11, out, sizeof(out)), -1);
	cr_assert_str_eq(err, "the encoded JSON is longer than the maximum of 11 bytes");
}

/* Output passes from the encoder's first buffer to a userdata in the middle of a string. */
Test(luajson, long_strings_cross_buffer_growth)
{
	static char out[8192], expected[8192];
	size_t len = 0;

	pushlua("return {string.rep('a', 1000), string.rep('\"', 500), string.rep('b', 3000)}");
	cr_assert_eq(encodetop(DEPTH, MAX_LEN, out, sizeof(out)), 0, "%s", err);
	len += (size_t)snprintf(expected + len, sizeof(expected) - len, "[\"");
	for (int i = 0; i < 1000; i++)
		expected[len++] = 'a';
	len += (size_t)snprintf(expected + len, sizeof(expected) - len, "\",\"");
	for (int i = 0; i < 500; i++)
		len += (size_t)snprintf(expected + len, sizeof(expected) - len, "\\\"");
	len += (size_t)snprintf(expected + len, sizeof(expected) - len, "\",\"");
	for (int i = 0; i < 3000; i++)
		expected[len++] = 'b';
	snprintf(expected + len, sizeof(expected) - len, "\"]");
	cr_assert_str_eq(out, expected);
}

Test(luajson, long_output_grows_buffer)
{
	pushlua("local t = {} for i = 1, 10000 do t[i] = 'item' .. i end "
		"return #table.concat(t, '\",\"') + 4");
	lua_Integer expected = lua_tointeger(L, -1);

	lua_pop(L, 1);
	pushlua("local t = {} for i = 1, 10000 do t[i] = 'item' .. i end return t");
	cr_assert_eq(tt_luajson_encode(L, -1, DEPTH, MAX_LEN, err, sizeof(err)), 0, "%s", err);
	size_t len;
	const char *text = lua_tolstring(L, -1, &len);

	cr_assert_eq((lua_Integer)len, expected);
	cr_assert_eq(strncmp(text, "[\"item1\",\"item2\",", 17), 0);
	const char *tail = ",\"item10000\"]";

	cr_assert_str_eq(text + len - strlen(tail), tail);
}

Test(luajson, encode_leaves_input_in_place)
{
	pushlua("return {a = 1}");
	lua_pushinteger(L, 5);
	cr_assert_eq(tt_luajson_encode(L, -2, DEPTH, MAX_LEN, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(lua_tostring(L, -1), "{\"a\":1}");
	cr_assert_eq(lua_tointeger(L, -2), 5);
	cr_assert(lua_istable(L, -3));
}

/* An allocator that fails any request that would bring the bytes in use above limit. */
struct capped {
	size_t used;
	size_t limit;
};

static void *
capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct capped *c = ud;
	size_t old = ptr != NULL ? osize : 0;
	void *p;

	if (nsize == 0) {
		free(ptr);
		c->used -= old;
		return NULL;
	}
	if (nsize > old && c->used - old + nsize > c->limit)
		return NULL;
	p = realloc(ptr, nsize);
	if (p == NULL)
		return NULL;
	c->used = c->used - old + nsize;
	return p;
}

static int
encode_arg(lua_State *l)
{
	char msg[256];

	if (tt_luajson_encode(l, 1, DEPTH, SIZE_MAX, msg, sizeof(msg)) != 0)
		return luaL_error(l, "%s", msg);
	return 1;
}

static lua_State *
newcapped(struct capped *c)
{
	lua_State *l;

	c->used = 0;
	c->limit = SIZE_MAX;
	l = lua_newstate(capped_alloc, c);
	cr_assert_not_null(l);
	luaL_openlibs(l);
	tt_luajson_setup(l);
	addglobals(l);
	return l;
}

Test(luajson, memory_cap_raises_memory_error)
{
	struct capped c;
	lua_State *l = newcapped(&c);

	cr_assert_eq(luaL_dostring(l, "big = {} for i = 1, 20000 do "
				   "big[i] = {name = 'item' .. i, n = i} end"), LUA_OK);
	lua_gc(l, LUA_GCCOLLECT);
	c.limit = c.used + 64 * 1024;

	lua_pushcfunction(l, encode_arg);
	lua_getglobal(l, "big");
	cr_assert_eq(lua_pcall(l, 1, 1, 0), LUA_ERRMEM);
	lua_pop(l, 1);

	c.limit = SIZE_MAX;
	lua_close(l);
	cr_assert_eq(c.used, 0);
}

Test(luajson, memory_error_at_any_point_leaks_nothing)
{
	struct capped c;
	lua_State *l = newcapped(&c);
	int failed = 0, passed = 0;

	cr_assert_eq(luaL_dostring(l, "big = {} for i = 1, 2000 do "
				   "big[i] = {name = 'item' .. i, tags = {'a', 'b'}} end"),
		     LUA_OK);
	for (size_t extra = 1024; extra <= 256 * 1024; extra += 4096) {
		lua_gc(l, LUA_GCCOLLECT);
		c.limit = c.used + extra;
		lua_pushcfunction(l, encode_arg);
		lua_getglobal(l, "big");
		int rc = lua_pcall(l, 1, 1, 0);

		cr_assert(rc == LUA_OK || rc == LUA_ERRMEM, "rc %d: %s", rc, lua_tostring(l, -1));
		if (rc == LUA_OK)
			passed++;
		else
			failed++;
		lua_pop(l, 1);
		c.limit = SIZE_MAX;
	}
	cr_assert_gt(failed, 0);
	cr_assert_gt(passed, 0);

	lua_close(l);
	cr_assert_eq(c.used, 0);
}

/* Pushes the text at the light userdata argument 1, of the length in argument 2. */
static int
push_arg(lua_State *l)
{
	tt_luajson_push_text(l, lua_touserdata(l, 1), (size_t)lua_tointeger(l, 2));
	return 1;
}

/* Text that never passed the scanner raises or reads wrongly, but stays within its bounds. */
Test(luajson, unchecked_text_stays_in_bounds)
{
	static const char *const texts[] = {
		"\"abc\\u\"", "\"abc\\", "[tru", "[1,", "{\"a\"", "{\"a\":", "{\"a\":1,", "f", "-", "[:]",
		"{a:1}", "\"\\ud83d\"",
	};
	size_t long_len = 5004;
	char *long_text = malloc(long_len);

	cr_assert_not_null(long_text);
	long_text[0] = '"';
	memset(long_text + 1, 'a', 5000);
	memcpy(long_text + 5001, "\\u\"", 3);
	for (size_t i = 0; i <= sizeof(texts) / sizeof(texts[0]); i++) {
		size_t len = i < sizeof(texts) / sizeof(texts[0]) ? strlen(texts[i]) : long_len;
		/* An exact-size copy, so the address sanitizer catches a read past it. */
		char *copy = malloc(len);

		cr_assert_not_null(copy);
		memcpy(copy, i < sizeof(texts) / sizeof(texts[0]) ? texts[i] : long_text, len);
		lua_pushcfunction(L, push_arg);
		lua_pushlightuserdata(L, copy);
		lua_pushinteger(L, (lua_Integer)len);
		lua_pcall(L, 2, 1, 0);
		lua_pop(L, 1);
		free(copy);
	}
	free(long_text);
}

Test(luajson, push_under_memory_cap_leaks_nothing)
{
	struct capped c;
	lua_State *l = newcapped(&c);
	size_t cap = 5000 * 40, len = 0;
	char *text = malloc(cap);

	cr_assert_not_null(text);
	for (int i = 0; i < 5000; i++)
		len += (size_t)snprintf(text + len, cap - len, "%c{\"n\":%d,\"name\":\"it\\u0065m\"}",
					i == 0 ? '[' : ',', i);
	len += (size_t)snprintf(text + len, cap - len, "]");
	cr_assert_eq(tt_json_validate(text, len, DEPTH, NULL), 0);
	lua_gc(l, LUA_GCCOLLECT);
	c.limit = c.used + 32 * 1024;

	lua_pushcfunction(l, push_arg);
	lua_pushlightuserdata(l, text);
	lua_pushinteger(l, (lua_Integer)len);
	cr_assert_eq(lua_pcall(l, 2, 1, 0), LUA_ERRMEM);
	lua_pop(l, 1);

	c.limit = SIZE_MAX;
	lua_close(l);
	free(text);
	cr_assert_eq(c.used, 0);
}

/* Checks text, then pushes it in protected mode with push_arg. Returns the lua_pcall result. */
static int
pushjson_protected(const char *text, size_t len, int max_depth)
{
	cr_assert_eq(tt_json_validate(text, len, max_depth, NULL), 0, "invalid test JSON");
	lua_pushcfunction(L, push_arg);
	lua_pushlightuserdata(L, (void *)text);
	lua_pushinteger(L, (lua_Integer)len);
	return lua_pcall(L, 2, 1, 0);
}

Test(luajson, reads_escapes_in_names_and_values)
{
	pushjson("{\"\\u00e9\\/\":\"\\ud83d\\ude00\\t\\\"\",\"a\\\\b\":[\"\\u0041\\u20AC\",\"\\b\\f\\r\\n\"]}");
	lua_getfield(L, -1, "\xc3\xa9/");
	cr_assert_str_eq(lua_tostring(L, -1), "\xf0\x9f\x98\x80\t\"");
	lua_pop(L, 1);
	lua_getfield(L, -1, "a\\b");
	lua_rawgeti(L, -1, 1);
	cr_assert_str_eq(lua_tostring(L, -1), "A\xe2\x82\xac");
	lua_rawgeti(L, -2, 2);
	cr_assert_str_eq(lua_tostring(L, -1), "\b\f\r\n");
}

/* A real of 64 characters or more goes through the heap copy in tt_json_real. */
Test(luajson, reads_long_real_tokens)
{
	static const char text[] = "[0.00000000000000000000000000000000000000000000000000000000000000000000000125e3,"
				   "123456789012345678901234567890123456789012345678901234567890123456789.5]";

	pushjson(text);
	lua_rawgeti(L, -1, 1);
	cr_assert_not(lua_isinteger(L, -1));
	cr_assert_eq(lua_tonumber(L, -1), 1.25e-69);
	lua_rawgeti(L, -2, 2);
	cr_assert_eq(lua_tonumber(L, -1), 123456789012345678901234567890123456789012345678901234567890123456789.5);
}

/*
 * The reader keeps up to 16 items of every open container on the Lua stack.
 * At 999 levels, each with 15 members before the nested one, that is about
 * 31000 slots (15 pairs and a key per level). The stack must not overflow,
 * and no item may be lost.
 */
Test(luajson, reads_deep_nesting_with_full_batches)
{
	int levels = 999;
	size_t cap = (size_t)levels * 128, len = 0;
	char *text = malloc(cap);

	cr_assert_not_null(text);
	for (int i = 0; i < levels; i++) {
		len += (size_t)snprintf(text + len, cap - len, "{");
		for (int k = 0; k < 15; k++)
			len += (size_t)snprintf(text + len, cap - len, "\"m%d\":%d,", k, k);
		len += (size_t)snprintf(text + len, cap - len, "\"z\":");
	}
	len += (size_t)snprintf(text + len, cap - len, "\"end\"");
	for (int i = 0; i < levels; i++)
		text[len++] = '}';

	cr_assert_eq(pushjson_protected(text, len, 1000), LUA_OK, "%s", lua_tostring(L, -1));
	for (int i = 0; i < levels; i++) {
		lua_getfield(L, -1, "m14");
		cr_assert_eq(lua_tointeger(L, -1), 14, "level %d", i);
		lua_pop(L, 1);
		lua_getfield(L, -1, "z");
		lua_remove(L, -2);
	}
	cr_assert_str_eq(lua_tostring(L, -1), "end");
	free(text);
}

Test(luajson, reads_large_containers_in_order)
{
	size_t cap = 64 * 1024, len = 0;
	char *text = malloc(cap);

	cr_assert_not_null(text);
	len += (size_t)snprintf(text, cap, "{\"a\":[");
	for (int i = 1; i <= 1000; i++)
		len += (size_t)snprintf(text + len, cap - len, "%s%d", i > 1 ? "," : "", i);
	len += (size_t)snprintf(text + len, cap - len, "],\"o\":{");
	for (int i = 1; i <= 1000; i++)
		len += (size_t)snprintf(text + len, cap - len, "%s\"\\u006b%d\":%d", i > 1 ? "," : "", i, i);
	len += (size_t)snprintf(text + len, cap - len, "}}");

	cr_assert_eq(pushjson_protected(text, len, DEPTH), LUA_OK, "%s", lua_tostring(L, -1));
	lua_getfield(L, -1, "a");
	cr_assert_eq(lua_rawlen(L, -1), 1000);
	for (int i = 1; i <= 1000; i++) {
		lua_rawgeti(L, -1, i);
		cr_assert_eq(lua_tointeger(L, -1), i, "a[%d]", i);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	lua_getfield(L, -1, "o");
	for (int i = 1; i <= 1000; i++) {
		char key[16];

		snprintf(key, sizeof(key), "k%d", i);
		lua_getfield(L, -1, key);
		cr_assert_eq(lua_tointeger(L, -1), i, "o.%s", key);
		lua_pop(L, 1);
	}
	free(text);
}
