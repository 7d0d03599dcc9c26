/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the JSON to Lua conversion and back: the input is
 * JSON text. A value that jansson accepts (any type at the top, duplicate
 * keys rejected, at most 64 levels deep) is pushed into a new Lua state
 * with tt_luajson_push, encoded back with tt_luajson_encode, and the text
 * is parsed again. The target aborts when the encoder rejects the value or
 * when the parsed text is not json_equal to the input value. Reals may be
 * written differently, but json_equal compares values, and integers stay
 * integers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "envelope.h"
#include "luajson.h"

#define DEPTH 64
#define MAX_LEN (16 * 1024 * 1024)

/* The round trip in protected mode, so a memory error is a Lua error. Argument: the json_t. */
static int
round_trip(lua_State *L)
{
	const json_t *v = lua_touserdata(L, 1);
	char err[256];

	tt_luajson_push(L, v);
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

	if (tt_json_check_depth((const char *)data, size, DEPTH) == -1)
		return 0;
	v = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (v == NULL)
		return 0;

	L = luaL_newstate();
	if (L == NULL)
		abort();
	tt_luajson_setup(L);
	lua_pushcfunction(L, round_trip);
	lua_pushlightuserdata(L, v);
	if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
		fprintf(stderr, "fuzz_luajson: the round trip raised: %s\n", lua_tostring(L, -1));
		abort();
	}
	text = lua_tolstring(L, -1, &len);
	check_text(text, len, v);

	lua_close(L);
	json_decref(v);
	return 0;
}
