/* SPDX-License-Identifier: MIT */
/*
 * Conversion between JSON text and Lua values: the markers, and Lua values
 * to JSON. JSON text to Lua values is in luajson_read.c.
 *
 * Each Lua state stores three registry entries, keyed by the addresses of
 * the static variables below: the array marker and the object marker, two
 * shared metatables, and the null sentinel, one zero-size full userdata whose
 * tostring is "null". All three metatables set __metatable, so getmetatable()
 * returns their name and setmetatable() raises: a rule cannot change the
 * marker that every other table of its state shares.
 *
 * Both directions read and write tables with raw access only, so no
 * metamethod of a rule ever runs here. The encoder writes into a buffer on
 * the C stack and, once the output outgrows it, into a Lua userdata that
 * grows by replacement. So a long output counts against the state's memory
 * limit, and a memory error raised halfway leaves only garbage for the
 * collector, never a malloc'd block.
 */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "jsontext.h"
#include "luajson.h"
#include "utf8.h"

#define ARRAY_NAME "tattletale.array"
#define OBJECT_NAME "tattletale.object"
#define NULL_NAME "tattletale.null"

/* Only the addresses matter: they are the registry keys. */
static const char array_key;
static const char object_key;
static const char null_key;

/* Bytes of output the encoder holds on the C stack before it moves to a userdata. */
#define LOCAL_LEN 1024
/* Tables on the current path that the encoder tracks in a C array, outermost first. */
#define PATH_LEN 32
/* Keys of the largest object that the encoder sorts on the Lua stack. */
#define SMALL_OBJECT 32

struct encoder {
	lua_State *L;
	int buf;		/* stack index of the output userdata (nil while data is local) */
	int seen;		/* stack index of the set of path tables deeper than PATH_LEN, or nil */
	char *data;		/* local, or the memory of the userdata at buf */
	size_t len;
	size_t cap;
	size_t max_len;
	int max_depth;
	char *err;
	size_t errsize;
	const void *path[PATH_LEN];	/* lua_topointer() of the tables at depths 1..PATH_LEN */
	char local[LOCAL_LEN];
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
tt_luajson_push_marked(lua_State *L, bool object, size_t narr, size_t nrec)
{
	newmarked(L, object ? &object_key : &array_key, narr, nrec);
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
 * Grows the output to hold need bytes (need <= max_len) by copying it, from
 * the local buffer or the current userdata, into a larger userdata, which
 * takes the place at e->buf. Raises a memory error when the allocator fails,
 * and the old userdata is then only garbage.
 */
static void
grow(struct encoder *e, size_t need)
{
	size_t cap = e->cap;
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
toolong(struct encoder *e)
{
	return fail(e, "the encoded JSON is longer than the maximum of %zu bytes", e->max_len);
}

/* Inlined, so that a constant n turns memcpy() into a store. */
static inline int
append(struct encoder *e, const char *s, size_t n)
{
	if (n > e->max_len - e->len)
		return toolong(e);
	if (n > e->cap - e->len)
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

#define ONES ((uint64_t)0x0101010101010101)
#define HIGHS (ONES * 0x80)

/*
 * Whether s[0..n) is all ASCII from 0x20 to 0x7f except '"' and '\\': valid
 * UTF-8 that JSON takes unescaped. It tests 8 bytes at a time. When no byte
 * of x has its high bit set, x - ONES * c sets some high bit exactly when
 * some byte of x is below c. A byte of x ^ (ONES * c) is zero exactly when
 * that byte of x is c.
 */
static int
isplain(const char *s, size_t n)
{
	size_t i = 0;
	uint64_t x, q, b;

	for (; n - i >= 8; i += 8) {
		memcpy(&x, s + i, 8);
		if (x & HIGHS)
			return 0;
		q = x ^ (ONES * '"');
		b = x ^ (ONES * '\\');
		if (((x - ONES * 0x20) | (q - ONES) | (b - ONES)) & HIGHS)
			return 0;
	}
	for (; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
			return 0;
	}
	return 1;
}

/* Appends s as a JSON string. Bytes from 0x7f up are written as they are. */
static int
string(struct encoder *e, const char *s, size_t n)
{
	size_t start = 0, i;

	/* The common case takes one copy. It fails exactly when the three appends below would. */
	if (isplain(s, n)) {
		if (n > e->max_len - e->len || e->max_len - e->len - n < 2)
			return toolong(e);
		if (n + 2 > e->cap - e->len)
			grow(e, e->len + n + 2);
		e->data[e->len] = '"';
		memcpy(e->data + e->len + 1, s, n);
		e->data[e->len + n + 1] = '"';
		e->len += n + 2;
		return 0;
	}

	if (!tt_utf8_valid(s, n))
		return fail(e, "cannot encode a string that is not valid UTF-8");
	if (memchr(s, '\0', n) != NULL)
		return fail(e, "cannot encode a string with a NUL byte: receivers reject \\u0000");
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
 * Writes d into out (at least 32 bytes) as formatfloat() does, for the
 * common d that is the double nearest to m / 10^k with 0 <= k <= 8, m an
 * integer and 10^-4 <= |d| < 10^15, and returns 1; returns 0 for any other d.
 * Such a d lies within half an ulp of m / 10^k, far closer than the half unit
 * of a 15th significant digit. So "%.15g" writes the digits of m / 10^k in
 * fixed notation without trailing zeros, and they read back as d. The checks
 * below hold exactly because m < 2^53 and 10^k are doubles without rounding,
 * and IEEE 754 rounds the quotient correctly.
 */
static int
shortfloat(char *out, double d)
{
	static const double fpow[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8 };
	static const int64_t ipow[] = { 1, 10, 100, 1000, 10000, 100000, 1000000,
					10000000, 100000000 };
	double a = d < 0 ? -d : d, t;
	int64_t m = 0, whole, frac;
	int k, i, neg = d < 0;
	char *p = out;

	if (!(a >= 1e-4 && a < 1e15))
		return 0;
	for (k = 0; k <= 8; k++) {
		t = a * fpow[k];
		if (t >= 1e15)
			return 0;
		m = (int64_t)t;
		if ((double)m == t && (double)m / fpow[k] == a)
			break;
	}
	/* "%g" switches to exponent notation below 10^-4. */
	if (k > 8 || (k >= 4 && m < ipow[k - 4]))
		return 0;

	whole = m / ipow[k];
	frac = m % ipow[k];
	if (neg)
		*p++ = '-';
	p += tt_json_put_uint(p, (uint64_t)whole);
	*p++ = '.';
	if (frac == 0) {
		*p++ = '0';
	} else {
		for (i = k - 1; i >= 0; i--, frac /= 10)
			p[i] = (char)('0' + frac % 10);
		p += k;
		while (p[-1] == '0')
			p--;
	}
	*p = '\0';
	return 1;
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

	if (shortfloat(out, d))
		return;
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

/* Appends i in decimal, as LUA_INTEGER_FMT would write it. */
static int
integer(struct encoder *e, lua_Integer i)
{
	char tmp[24];
	size_t n = 0;

	/* Negating in unsigned arithmetic keeps LUA_MININTEGER defined. */
	if (i < 0)
		tmp[n++] = '-';
	n += tt_json_put_uint(tmp + n, i < 0 ? 0 - (uint64_t)i : (uint64_t)i);
	return append(e, tmp, n);
}

static int
number(struct encoder *e, int idx)
{
	char tmp[64];
	lua_Number d;

	if (lua_isinteger(e->L, idx))
		return integer(e, lua_tointeger(e->L, idx));
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
 * with its keys in byte order. It sorts the keys through a Lua table and
 * serves objects of any size.
 */
static int
bigmembers(struct encoder *e, int idx, size_t n, int depth)
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

/* One entry of a small object: its key's bytes and the stack index of the key. */
struct member {
	const char *key;
	size_t len;
	int slot;		/* the value sits at slot + 1 */
};

/* Orders two keys by their bytes. A key that is a prefix of the other comes first. */
static int
membercmp(const struct member *a, const struct member *b)
{
	int c = memcmp(a->key, b->key, a->len < b->len ? a->len : b->len);

	return c != 0 ? c : (a->len > b->len) - (a->len < b->len);
}

/*
 * Appends the table at idx, whose n <= SMALL_OBJECT keys are all strings, as
 * a JSON object with its keys in byte order, like bigmembers but with no
 * allocation. It leaves each key and value that lua_next() returns on the
 * stack, and sorts C pointers to the keys' bytes. The Lua 5.4 manual
 * (section 4.1.3, "Pointers to strings") keeps a lua_tolstring() pointer to a
 * string at a stack index valid while the value at that index is neither
 * modified nor popped. No key here is modified or popped before the
 * lua_settop() at the end.
 * lua_tolstring() converts nothing here because each key already is a string.
 * Keys in a table are unique, so the sort has no ties and its order matches
 * bigmembers's.
 */
static int
smallmembers(struct encoder *e, int idx, size_t n, int depth)
{
	lua_State *L = e->L;
	struct member m[SMALL_OBJECT], tmp;
	int top = lua_gettop(L);
	size_t i, j;

	/* Each pass leaves key, value and a copy of the key for the next lua_next(). */
	lua_pushnil(L);
	for (i = 0; i < n && lua_next(L, idx) != 0; i++) {
		m[i].key = lua_tolstring(L, -2, &m[i].len);
		m[i].slot = lua_gettop(L) - 1;
		lua_pushvalue(L, -2);
	}
	/*
	 * Drops the key copy that the last pass left. The count pass found
	 * exactly n keys in this unchanged table, so the loop stops at i == n.
	 */
	lua_settop(L, top + 2 * (int)i);

	/* Insertion sort: n is small, and it needs no callback through the stack. */
	for (i = 1; i < n; i++) {
		tmp = m[i];
		for (j = i; j > 0 && membercmp(&m[j - 1], &tmp) > 0; j--)
			m[j] = m[j - 1];
		m[j] = tmp;
	}

	if (append(e, "{", 1) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (i > 0 && append(e, ",", 1) != 0)
			return -1;
		if (string(e, m[i].key, m[i].len) != 0 || append(e, ":", 1) != 0 ||
		    value(e, m[i].slot + 1, depth) != 0)
			return -1;
	}
	lua_settop(L, top);
	return append(e, "}", 1);
}

/*
 * Appends the table at idx, whose n keys are all strings, as a JSON object.
 * A small object whose keys and values fit on the Lua stack takes the fast
 * path. The table() that called this reserved 8 slots, which bigmembers
 * needs, so a failed lua_checkstack() here only picks the other path.
 */
static int
members(struct encoder *e, int idx, size_t n, int depth)
{
	if (n <= SMALL_OBJECT && lua_checkstack(e->L, 2 * (int)n + 8))
		return smallmembers(e, idx, n, depth);
	return bigmembers(e, idx, n, depth);
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

/*
 * Records the table at idx as on the path at depth, unless it is on the
 * path already. The C array stores depths 1..PATH_LEN, and deeper tables go
 * to the set at e->seen, which is created the first time one needs it.
 * lua_topointer() is unique among live tables, and every table on the
 * path is live, since each one sits on the stack while its members are
 * written.
 */
static int
enter(struct encoder *e, int idx, int depth)
{
	lua_State *L = e->L;
	const void *t = lua_topointer(L, idx);
	int n = depth - 1 < PATH_LEN ? depth - 1 : PATH_LEN, i;

	for (i = 0; i < n; i++)
		if (e->path[i] == t)
			return fail(e, "cannot encode a table that contains itself");
	if (depth <= PATH_LEN) {
		e->path[depth - 1] = t;
		return 0;
	}

	if (lua_isnil(L, e->seen)) {
		lua_newtable(L);
		lua_replace(L, e->seen);
	}
	lua_pushvalue(L, idx);
	if (lua_rawget(L, e->seen) != LUA_TNIL)
		return fail(e, "cannot encode a table that contains itself");
	lua_pop(L, 1);
	lua_pushvalue(L, idx);
	lua_pushboolean(L, 1);
	lua_rawset(L, e->seen);
	return 0;
}

/* Removes the table at idx from the path: the same table may appear again beside it. */
static void
leave(struct encoder *e, int idx, int depth)
{
	if (depth <= PATH_LEN)
		return;
	lua_pushvalue(e->L, idx);
	lua_pushnil(e->L);
	lua_rawset(e->L, e->seen);
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
	if (enter(e, idx, depth) != 0)
		return -1;

	/* One metatable fetch serves both marker checks, as in hasmarker(). */
	if (!lua_getmetatable(L, idx)) {
		rc = plaintable(e, idx, depth);
	} else {
		lua_rawgetp(L, LUA_REGISTRYINDEX, &array_key);
		lua_rawgetp(L, LUA_REGISTRYINDEX, &object_key);
		if (lua_rawequal(L, -3, -2)) {
			lua_pop(L, 3);
			rc = markedarray(e, idx, depth);
		} else if (lua_rawequal(L, -3, -1)) {
			lua_pop(L, 3);
			rc = markedobject(e, idx, depth);
		} else {
			lua_pop(L, 3);
			rc = plaintable(e, idx, depth);
		}
	}
	if (rc != 0)
		return -1;
	leave(e, idx, depth);
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
	/* No initializer, because one would clear local and path on every call. */
	struct encoder e;
	int base = lua_gettop(L);

	e.L = L;
	e.data = e.local;
	e.len = 0;
	e.cap = sizeof(e.local);
	e.max_len = max_len;
	e.max_depth = max_depth < TT_LUAJSON_MAX_DEPTH ? max_depth : TT_LUAJSON_MAX_DEPTH;
	e.err = err;
	e.errsize = errsize;
	idx = lua_absindex(L, idx);
	if (!lua_checkstack(L, 4))
		return fail(&e, "cannot encode: the Lua stack is full");
	lua_pushnil(L);
	e.buf = base + 1;
	lua_pushnil(L);
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
