/* SPDX-License-Identifier: MIT */
/*
 * JSON text to Lua values: a walk over a text that the scanner in
 * jsontext.c checked, pushing what it reads. The markers and the way back,
 * Lua values to JSON, are in luajson.c.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "jsontext.h"
#include "luajson.h"

/* A walk over a checked text: the state to push into and the bytes left to read. */
struct reader {
	lua_State *L;
	const char *p, *end;
};

static void read_value(struct reader *r, int nested);

static void
skip_space(struct reader *r)
{
	while (r->p < r->end && tt_json_isspace(*r->p))
		r->p++;
}

/* Steps over n bytes, or to the end of text that did not come from the scanner. */
static void
step(struct reader *r, size_t n)
{
	r->p += (size_t)(r->end - r->p) < n ? (size_t)(r->end - r->p) : n;
}

/* Raises the error for text that did not come from the scanner. */
static void
unchecked(struct reader *r)
{
	luaL_error(r->L, "JSON text was not checked before reading");
}

static void
read_string(struct reader *r)
{
	const char *begin = ++r->p;
	bool escaped = false;
	luaL_Buffer b;
	size_t len;

	while (r->p < r->end && *r->p != '"') {
		if (*r->p == '\\' && r->end - r->p > 1) {
			escaped = true;
			r->p++;
		}
		r->p++;
	}
	if (r->p >= r->end)
		unchecked(r);
	len = (size_t)(r->p - begin);
	r->p++;
	if (!escaped) {
		lua_pushlstring(r->L, begin, len);
		return;
	}
	luaL_buffinitsize(r->L, &b, len);
	luaL_pushresultsize(&b, tt_json_unescape(begin, len, luaL_buffaddr(&b)));
}

/* Whether c can be part of a number token; sets *real for a fraction or an exponent. */
static bool
number_char(char c, bool *real)
{
	if ((c >= '0' && c <= '9') || c == '-' || c == '+')
		return true;
	if (c == '.' || c == 'e' || c == 'E') {
		*real = true;
		return true;
	}
	return false;
}

/* Pushes the real number token text[0..len). */
static void
read_real(lua_State *L, const char *text, size_t len)
{
	double d;

	if (len < TT_JSON_SHORT_NUMBER) {
		lua_pushnumber(L, (lua_Number)tt_json_real(text, len));
		return;
	}

	/* A long token is copied through a Lua string, so running out of memory raises. */
	lua_pushlstring(L, text, len);
	d = strtod(lua_tostring(L, -1), NULL);
	lua_pop(L, 1);
	lua_pushnumber(L, (lua_Number)d);
}

static void
read_number(struct reader *r)
{
	const char *begin = r->p;
	bool real = false;
	int64_t i;

	while (r->p < r->end && number_char(*r->p, &real))
		r->p++;
	if (real) {
		read_real(r->L, begin, (size_t)(r->p - begin));
		return;
	}
	if (tt_json_integer(&(struct tt_json_value){ TT_JSON_INTEGER, begin,
						      (size_t)(r->p - begin) }, &i) == -1)
		unchecked(r);
	lua_pushinteger(r->L, (lua_Integer)i);
}

/*
 * Items read onto the stack before they go into their table. A container
 * of at most this many items gets a table of its exact size, so small ones,
 * the common case, never rehash.
 */
#define ITEM_BATCH 16

/*
 * Moves the n items above the table at index t into it: n values for an
 * array, whose next index is *next, or n key-value pairs for an object.
 */
static void
store_items(lua_State *L, int t, int n, bool object, lua_Integer *next)
{
	if (object) {
		for (int i = 0; i < n; i++)
			lua_rawset(L, t);
		return;
	}
	for (int i = n; i > 0; i--)
		lua_rawseti(L, t, *next + i);
	*next += n;
}

/*
 * Reads the elements of an array or the members of an object, r->p being
 * past the bracket, and leaves the marked table on the stack.
 */
static void
read_items(struct reader *r, bool object, char close)
{
	lua_State *L = r->L;
	int t = lua_gettop(L) + 1, n = 0;
	bool have_table = false;
	lua_Integer next = 0;

	luaL_checkstack(L, 2 * ITEM_BATCH + 4, "JSON value nested too deeply");
	skip_space(r);
	while (r->p < r->end && *r->p != close) {
		if (object) {
			read_string(r);
			skip_space(r);
			step(r, 1);	/* the ':' */
			skip_space(r);
		}
		read_value(r, 1);
		skip_space(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			skip_space(r);
		}

		if (++n == ITEM_BATCH) {
			if (!have_table) {
				tt_luajson_push_marked(L, object, object ? 0 : ITEM_BATCH,
						       object ? ITEM_BATCH : 0);
				lua_insert(L, t);
				have_table = true;
			}
			store_items(L, t, n, object, &next);
			n = 0;
		}
	}
	if (r->p >= r->end)
		unchecked(r);
	r->p++;

	if (!have_table) {
		tt_luajson_push_marked(L, object, object ? 0 : (size_t)n,
				       object ? (size_t)n : 0);
		lua_insert(L, t);
	}
	store_items(L, t, n, object, &next);
}

/* Pushes the value at r->p. A nonzero nested means it is inside an array or an object. */
static void
read_value(struct reader *r, int nested)
{
	lua_State *L = r->L;

	luaL_checkstack(L, 3, "JSON value nested too deeply");
	if (r->p >= r->end)
		unchecked(r);
	switch (*r->p) {
	case '{':
		r->p++;
		read_items(r, true, '}');
		break;
	case '[':
		r->p++;
		read_items(r, false, ']');
		break;
	case '"':
		read_string(r);
		break;
	case 't':
		lua_pushboolean(L, 1);
		step(r, 4);
		break;
	case 'f':
		lua_pushboolean(L, 0);
		step(r, 5);
		break;
	case 'n':
		if (nested)
			tt_luajson_push_null(L);
		else
			lua_pushnil(L);
		step(r, 4);
		break;
	default:
		read_number(r);
		break;
	}
}

void
tt_luajson_push_text(lua_State *L, const char *text, size_t len)
{
	struct reader r = { L, text, text + len };

	skip_space(&r);
	read_value(&r, 0);
}
