/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the JSON scanner and the JSON to Lua conversion and
 * back: the input is JSON text. The target aborts when the scanner
 * (tt_json_validate) and jansson disagree on whether the text is valid.
 * jansson runs with any type allowed at the top and duplicate keys
 * rejected. The comparison covers texts at most 64 levels deep and without
 * a raw NUL byte, which the scanner always rejects. A valid value is pushed into a new Lua state with
 * tt_luajson_push_text, encoded back with tt_luajson_encode, and the text
 * is parsed again. The target aborts when the encoder rejects the value or
 * when the parsed text is not json_equal to the input value. Reals may be
 * written differently, but json_equal compares values, and integers stay
 * integers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "envelope.h"
#include "jsontext.h"
#include "luajson.h"

#define DEPTH 64
#define MAX_LEN (16 * 1024 * 1024)

/* The round trip in protected mode, so a memory error is a Lua error. Arguments: the text and its length. */
static int
round_trip(lua_State *L)
{
	const char *text = lua_touserdata(L, 1);
	char err[256];

	tt_luajson_push_text(L, text, (size_t)lua_tointeger(L, 2));
	if (tt_luajson_encode(L, -1, DEPTH, MAX_LEN, err, sizeof(err)) == -1) {
		fprintf(stderr, "fuzz_luajson: failed to encode a value that came from JSON: %s\n",
			err);
		abort();
	}
	return 1;
}

/* Aborts unless text parses to a value equal to want. */
static void
check_text(const char *text, size_t len, const json_t *want)
{
	json_error_t jerr;
	json_t *got;

	got = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (got == NULL) {
		fprintf(stderr, "fuzz_luajson: encoded text does not parse: %s: %.*s\n",
			jerr.text, (int)(len < 200 ? len : 200), text);
		abort();
	}
	if (!json_equal(got, want)) {
		fprintf(stderr, "fuzz_luajson: the round trip changed the value: %.*s\n",
			(int)(len < 200 ? len : 200), text);
		abort();
	}
	json_decref(got);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	const char *text;
	lua_State *L;
	json_t *v;
	size_t len;

	struct tt_json_error serr;
	int scanned;

	if (tt_json_check_depth((const char *)data, size, DEPTH) == -1)
		return 0;
	scanned = tt_json_validate((const char *)data, size, DEPTH, &serr);
	/* jansson 2.14 skips a raw NUL right after a number or a literal, but the scanner rejects every raw NUL. */
	if (memchr(data, '\0', size) != NULL) {
		if (scanned == 0)
			abort();
		return 0;
	}
	v = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if ((v == NULL) != (scanned == -1)) {
		fprintf(stderr, "fuzz_luajson: the scanner %s (%s) but jansson %s (%s): %.*s\n",
			scanned == 0 ? "accepts" : "rejects", scanned == 0 ? "-" : serr.message,
			v != NULL ? "accepts" : "rejects", v != NULL ? "-" : jerr.text,
			(int)(size < 200 ? size : 200), (const char *)data);
		abort();
	}
	if (v == NULL)
		return 0;

	L = luaL_newstate();
	if (L == NULL)
		abort();
	tt_luajson_setup(L);
	lua_pushcfunction(L, round_trip);
	lua_pushlightuserdata(L, (void *)data);
	lua_pushinteger(L, (lua_Integer)size);
	if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
		fprintf(stderr, "fuzz_luajson: the round trip raised: %s\n", lua_tostring(L, -1));
		abort();
	}
	text = lua_tolstring(L, -1, &len);
	check_text(text, len, v);

	lua_close(L);
	json_decref(v);
	return 0;
}
