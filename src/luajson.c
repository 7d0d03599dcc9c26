/* SPDX-License-Identifier: MIT */
/*
 * Conversion between JSON values (jansson) and Lua values.
 *
 * Each Lua state stores three registry entries, keyed by the addresses of
 * the static variables below: the array marker and the object marker, two
 * shared metatables, and the null sentinel, one zero-size full userdata whose
 * tostring is "null". All three metatables set __metatable, so getmetatable()
 * returns their name and setmetatable() raises: a rule cannot change the
 * marker that every other table of its state shares.
 *
 * Both directions read and write tables with raw access only, so no
 * metamethod of a rule ever runs here. The encoder writes into a Lua
 * userdata that grows by replacement: the output counts against the state's
 * memory limit, and a memory error raised halfway leaves only garbage for
 * the collector, never a malloc'd block.
 */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "luajson.h"

#define ARRAY_NAME "tattletale.array"
#define OBJECT_NAME "tattletale.object"
#define NULL_NAME "tattletale.null"

/* Only the addresses matter: they are the registry keys. */
static const char array_key;
static const char object_key;
static const char null_key;

struct encoder {
	lua_State *L;
	int buf;		/* stack index of the output userdata (nil until the first write) */
	int seen;		/* stack index of the set of tables on the current path */
	char *data;		/* memory of the userdata at buf */
	size_t len;
	size_t cap;
	size_t max_len;
	int max_depth;
	char *err;
	size_t errsize;
};

static int value(struct encoder *e, int idx, int depth);

static int
null_tostring(lua_State *L)
{
	lua_pushliteral(L, "null");
	return 1;
}

/* Pushes a new protected metatable named name. */
static void
newmeta(lua_State *L, const char *name)
{
	lua_createtable(L, 0, 3);
	lua_pushstring(L, name);
	lua_setfield(L, -2, "__name");
	lua_pushstring(L, name);
	lua_setfield(L, -2, "__metatable");
}

void
tt_luajson_setup(lua_State *L)
{
	luaL_checkstack(L, 3, NULL);

	newmeta(L, ARRAY_NAME);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &array_key);
	newmeta(L, OBJECT_NAME);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &object_key);

	lua_newuserdatauv(L, 0, 0);
	newmeta(L, NULL_NAME);
	lua_pushcfunction(L, null_tostring);
	lua_setfield(L, -2, "__tostring");
	lua_setmetatable(L, -2);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &null_key);
}

/* Pushes a new table with the marker stored under key and room for narr + nrec entries. */
static void
newmarked(lua_State *L, const void *key, size_t narr, size_t nrec)
{
	luaL_checkstack(L, 2, NULL);
	lua_createtable(L, narr > INT_MAX ? INT_MAX : (int)narr,
			nrec > INT_MAX ? INT_MAX : (int)nrec);
	lua_rawgetp(L, LUA_REGISTRYINDEX, key);
	lua_setmetatable(L, -2);
}

void
tt_luajson_push_null(lua_State *L)
{
	lua_rawgetp(L, LUA_REGISTRYINDEX, &null_key);
}

void
tt_luajson_push_array(lua_State *L)
{
	newmarked(L, &array_key, 0, 0);
}

void
tt_luajson_push_object(lua_State *L)
{
	newmarked(L, &object_key, 0, 0);
}

int
tt_luajson_is_null(lua_State *L, int idx)
{
	int same;

	if (lua_type(L, idx) != LUA_TUSERDATA)
		return 0;
	idx = lua_absindex(L, idx);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &null_key);
	same = lua_rawequal(L, idx, -1);
	lua_pop(L, 1);
	return same;
}

/* Whether the value at idx is a table whose metatable is the one stored under key. */
static int
hasmarker(lua_State *L, int idx, const void *key)
{
	int same;

	if (lua_type(L, idx) != LUA_TTABLE)
		return 0;
	/* lua_getmetatable() ignores __metatable, so it returns the real marker. */
	if (!lua_getmetatable(L, idx))
		return 0;
	lua_rawgetp(L, LUA_REGISTRYINDEX, key);
	same = lua_rawequal(L, -1, -2);
	lua_pop(L, 2);
	return same;
}

int
tt_luajson_is_array(lua_State *L, int idx)
{
	return hasmarker(L, idx, &array_key);
}

int
tt_luajson_is_object(lua_State *L, int idx)
{
	return hasmarker(L, idx, &object_key);
}

/* Pushes v. A nonzero nested means v is inside an array or an object. */
static void
push(lua_State *L, const json_t *v, int nested)
{
	/* jansson's iteration API takes a non-const pointer but only reads. */
	json_t *obj = (json_t *)v;
	const char *key;
	size_t key_len, i;
	json_t *item;

	luaL_checkstack(L, 3, "JSON value nested too deeply");
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		newmarked(L, &object_key, 0, json_object_size(v));
		json_object_keylen_foreach(obj, key, key_len, item) {
			lua_pushlstring(L, key, key_len);
			push(L, item, 1);
			lua_rawset(L, -3);
		}
		break;
	case JSON_ARRAY:
		newmarked(L, &array_key, json_array_size(v), 0);
		json_array_foreach(obj, i, item) {
			push(L, item, 1);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
		break;
	case JSON_STRING:
		lua_pushlstring(L, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		lua_pushinteger(L, (lua_Integer)json_integer_value(v));
		break;
	case JSON_REAL:
		lua_pushnumber(L, (lua_Number)json_real_value(v));
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		lua_pushboolean(L, json_is_true(v));
		break;
	case JSON_NULL:
		if (nested)
			tt_luajson_push_null(L);
		else
			lua_pushnil(L);
		break;
	}
}

void
tt_luajson_push(lua_State *L, const json_t *v)
{
	push(L, v, 0);
}

static int
fail(struct encoder *e, const char *fmt, ...)
{
	va_list ap;

	if (e->errsize > 0) {
		va_start(ap, fmt);
		vsnprintf(e->err, e->errsize, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/*
 * Grows the output to hold need bytes (need <= max_len) by copying it into a
 * larger userdata, which replaces the old one at e->buf. Raises a memory
 * error when the allocator fails, and the old userdata is then only garbage.
 */
static void
grow(struct encoder *e, size_t need)
{
	size_t cap = e->cap > 0 ? e->cap : 256;
	char *data;

	while (cap < need)
		cap = cap > e->max_len / 2 ? e->max_len : cap * 2;
	if (cap > e->max_len)
		cap = e->max_len;

	data = lua_newuserdatauv(e->L, cap, 0);
	if (e->len > 0)
		memcpy(data, e->data, e->len);
	lua_replace(e->L, e->buf);
	e->data = data;
	e->cap = cap;
}

static int
append(struct encoder *e, const char *s, size_t n)
{
	if (n > e->max_len - e->len)
		return fail(e, "the encoded JSON is longer than the maximum of %zu bytes",
			    e->max_len);
	if (e->len + n > e->cap)
		grow(e, e->len + n);
	memcpy(e->data + e->len, s, n);
	e->len += n;
	return 0;
}

static int
appendstr(struct encoder *e, const char *s)
{
	return append(e, s, strlen(s));
}

/* Whether s[0..n) is UTF-8 without overlong forms, surrogates or code points past U+10FFFF. */
static int
isutf8(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *end = p + n;

	while (p < end) {
		unsigned char c = *p, lo = 0x80, hi = 0xbf;
		size_t more, i;

		if (c < 0x80) {
			p++;
			continue;
		}
		/* The bounds on the second byte exclude overlongs, surrogates and > U+10FFFF. */
		if (c >= 0xc2 && c <= 0xdf) {
			more = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			more = 2;
			lo = c == 0xe0 ? 0xa0 : 0x80;
			hi = c == 0xed ? 0x9f : 0xbf;
		} else if (c >= 0xf0 && c <= 0xf4) {
			more = 3;
			lo = c == 0xf0 ? 0x90 : 0x80;
			hi = c == 0xf4 ? 0x8f : 0xbf;
		} else {
			return 0;
		}
		if ((size_t)(end - p) <= more || p[1] < lo || p[1] > hi)
			return 0;
		for (i = 2; i <= more; i++)
			if ((p[i] & 0xc0) != 0x80)
				return 0;
		p += more + 1;
	}
	return 1;
}

/* Appends the escape for byte c, which is '"', '\\' or a control character. */
static int
escape(struct encoder *e, unsigned char c)
{
	char tmp[8];

	switch (c) {
	case '"':  return appendstr(e, "\\\"");
	case '\\': return appendstr(e, "\\\\");
	case '\b': return appendstr(e, "\\b");
	case '\f': return appendstr(e, "\\f");
	case '\n': return appendstr(e, "\\n");
	case '\r': return appendstr(e, "\\r");
	case '\t': return appendstr(e, "\\t");
	default:
		snprintf(tmp, sizeof(tmp), "\\u%04x", c);
		return appendstr(e, tmp);
	}
}

/* Appends s as a JSON string. Bytes from 0x7f up are written as they are. */
static int
string(struct encoder *e, const char *s, size_t n)
{
	size_t start = 0, i;

	if (!isutf8(s, n))
		return fail(e, "cannot encode a string that is not valid UTF-8");
	if (append(e, "\"", 1) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if (append(e, s + start, i - start) != 0 || escape(e, c) != 0)
			return -1;
		start = i + 1;
	}
	if (append(e, s + start, n - start) != 0)
		return -1;
	return append(e, "\"", 1);
}

/*
 * Writes d into out with the fewest significant digits (15 to 17) that
 * read back as d, then adds ".0" if the text would read back as an integer.
 * NOTE: this assumes LC_NUMERIC is "C", which holds unless the program calls
 * setlocale(). In another locale printf may write a comma as the decimal point.
 */
static void
formatfloat(char *out, size_t size, double d)
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

static int
number(struct encoder *e, int idx)
{
	char tmp[64];
	lua_Number d;

	if (lua_isinteger(e->L, idx)) {
		snprintf(tmp, sizeof(tmp), LUA_INTEGER_FMT, (LUAI_UACINT)lua_tointeger(e->L, idx));
		return appendstr(e, tmp);
	}
	d = lua_tonumber(e->L, idx);
	if (!isfinite(d))
		return fail(e, "cannot encode a non-finite number");
	formatfloat(tmp, sizeof(tmp), (double)d);
	return appendstr(e, tmp);
}

/* Appends t[1..n] of the table at idx as a JSON array; nil items become null. */
static int
items(struct encoder *e, int idx, lua_Integer n, int depth)
{
	lua_State *L = e->L;
	lua_Integer i;

	if (append(e, "[", 1) != 0)
		return -1;
	for (i = 1; i <= n; i++) {
		if (i > 1 && append(e, ",", 1) != 0)
			return -1;
		lua_rawgeti(L, idx, i);
		if (value(e, lua_gettop(L), depth) != 0)
			return -1;
		lua_pop(L, 1);
	}
	return append(e, "]", 1);
}

/* The keys of an object being sorted: a sequence of strings at stack index keys. */
struct keysort {
	lua_State *L;
	int keys;
};

/*
 * Compares two positions in the key sequence by their strings' bytes. It
 * reads the strings through the stack, because the Lua manual promises a
 * lua_tolstring() pointer only while its value stays on the stack, and it
 * cannot raise, since qsort_r() must return normally.
 */
static int
keycmp(const void *a, const void *b, void *arg)
{
	const struct keysort *ks = arg;
	const char *x, *y;
	size_t xlen, ylen;
	int c;

	lua_rawgeti(ks->L, ks->keys, *(const lua_Integer *)a);
	lua_rawgeti(ks->L, ks->keys, *(const lua_Integer *)b);
	x = lua_tolstring(ks->L, -2, &xlen);
	y = lua_tolstring(ks->L, -1, &ylen);
	c = memcmp(x, y, xlen < ylen ? xlen : ylen);
	if (c == 0)
		c = (xlen > ylen) - (xlen < ylen);
	lua_pop(ks->L, 2);
	return c;
}

/*
 * Appends the table at idx, whose n keys are all strings, as a JSON object
 * with its keys in byte order.
 */
static int
members(struct encoder *e, int idx, size_t n, int depth)
{
	lua_State *L = e->L;
	struct keysort ks = { .L = L };
	lua_Integer *order;
	const char *key;
	size_t i, len;

	/* Both live on the stack, so a memory error on the way out frees them too. */
	lua_createtable(L, n > INT_MAX ? INT_MAX : (int)n, 0);
	ks.keys = lua_gettop(L);
	order = lua_newuserdatauv(L, n * sizeof(*order), 0);

	i = 0;
	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		lua_pop(L, 1);
		i++;
		lua_pushvalue(L, -1);
		lua_rawseti(L, ks.keys, (lua_Integer)i);
	}
	for (i = 0; i < n; i++)
		order[i] = (lua_Integer)i + 1;
	qsort_r(order, n, sizeof(*order), keycmp, &ks);

	if (append(e, "{", 1) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (i > 0 && append(e, ",", 1) != 0)
			return -1;
		lua_rawgeti(L, ks.keys, order[i]);
		key = lua_tolstring(L, -1, &len);
		if (string(e, key, len) != 0 || append(e, ":", 1) != 0)
			return -1;
		lua_rawget(L, idx);
		if (value(e, lua_gettop(L), depth) != 0)
			return -1;
		lua_pop(L, 1);
	}
	lua_pop(L, 2);
	return append(e, "}", 1);
}

/* Appends a table with the array marker: t[1..n] for n = lua_rawlen(), and no other key. */
static int
markedarray(struct encoder *e, int idx, int depth)
{
	lua_State *L = e->L;
	lua_Integer n = (lua_Integer)lua_rawlen(L, idx), k;

	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		lua_pop(L, 1);
		k = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
		if (k < 1 || k > n)
			return fail(e, "cannot encode an array with keys other than 1..%lld "
				    "(found a %s key)", (long long)n, luaL_typename(L, -1));
	}
	return items(e, idx, n, depth);
}

/* Appends a table with the object marker, whose keys must all be strings. */
static int
markedobject(struct encoder *e, int idx, int depth)
{
	lua_State *L = e->L;
	size_t n = 0;

	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		lua_pop(L, 1);
		if (lua_type(L, -1) != LUA_TSTRING)
			return fail(e, "cannot encode an object with a %s key",
				    luaL_typename(L, -1));
		n++;
	}
	return members(e, idx, n, depth);
}

/*
 * Appends a table without a marker: {} for an empty one (tt.array() makes
 * an empty array), an array for keys exactly 1..n, an object for string keys.
 */
static int
plaintable(struct encoder *e, int idx, int depth)
{
	lua_State *L = e->L;
	lua_Integer max = 0, k;
	size_t n = 0, strings = 0;

	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		lua_pop(L, 1);
		n++;
		if (lua_type(L, -1) == LUA_TSTRING) {
			strings++;
			continue;
		}
		k = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
		if (k < 1)
			return fail(e, "cannot encode a table with mixed or non-string keys");
		if (k > max)
			max = k;
	}
	if (n == 0)
		return append(e, "{}", 2);
	if (strings == n)
		return members(e, idx, n, depth);
	if (strings == 0 && (size_t)max == n)
		return items(e, idx, max, depth);
	return fail(e, "cannot encode a table with mixed or non-string keys");
}

/* Appends the table at idx, which sits at the given depth (1 for the top level). */
static int
table(struct encoder *e, int idx, int depth)
{
	lua_State *L = e->L;
	int rc;

	if (depth > e->max_depth)
		return fail(e, "cannot encode a table nested deeper than %d levels",
			    e->max_depth);
	if (!lua_checkstack(L, 8))
		return fail(e, "cannot encode a table: the Lua stack is full");

	lua_pushvalue(L, idx);
	if (lua_rawget(L, e->seen) != LUA_TNIL)
		return fail(e, "cannot encode a table that contains itself");
	lua_pop(L, 1);
	lua_pushvalue(L, idx);
	lua_pushboolean(L, 1);
	lua_rawset(L, e->seen);

	if (hasmarker(L, idx, &array_key))
		rc = markedarray(e, idx, depth);
	else if (hasmarker(L, idx, &object_key))
		rc = markedobject(e, idx, depth);
	else
		rc = plaintable(e, idx, depth);
	if (rc != 0)
		return -1;

	/* Leaving the path: the same table may appear again beside this one. */
	lua_pushvalue(L, idx);
	lua_pushnil(L);
	lua_rawset(L, e->seen);
	return 0;
}

/* Appends the value at idx, found inside a table at the given depth (0 for the top level). */
static int
value(struct encoder *e, int idx, int depth)
{
	lua_State *L = e->L;
	const char *s;
	size_t n;

	switch (lua_type(L, idx)) {
	case LUA_TNIL:
		return appendstr(e, "null");
	case LUA_TBOOLEAN:
		return appendstr(e, lua_toboolean(L, idx) ? "true" : "false");
	case LUA_TNUMBER:
		return number(e, idx);
	case LUA_TSTRING:
		s = lua_tolstring(L, idx, &n);
		return string(e, s, n);
	case LUA_TTABLE:
		return table(e, idx, depth + 1);
	case LUA_TUSERDATA:
		if (tt_luajson_is_null(L, idx))
			return appendstr(e, "null");
		break;
	}
	return fail(e, "cannot encode a %s value", luaL_typename(L, idx));
}

int
tt_luajson_encode(lua_State *L, int idx, int max_depth, size_t max_len,
		  char *err, size_t errsize)
{
	struct encoder e = {
		.L = L,
		.max_len = max_len,
		.max_depth = max_depth < TT_LUAJSON_MAX_DEPTH ? max_depth : TT_LUAJSON_MAX_DEPTH,
		.err = err,
		.errsize = errsize,
	};
	int base = lua_gettop(L);

	idx = lua_absindex(L, idx);
	if (!lua_checkstack(L, 4))
		return fail(&e, "cannot encode: the Lua stack is full");
	lua_pushnil(L);
	e.buf = base + 1;
	lua_newtable(L);
	e.seen = base + 2;

	if (value(&e, idx, 0) != 0) {
		lua_settop(L, base);
		return -1;
	}
	lua_pushlstring(L, e.data, e.len);
	lua_replace(L, base + 1);
	lua_settop(L, base + 1);
	return 0;
}
