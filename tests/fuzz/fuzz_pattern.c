/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the budgeted string patterns of lpattern.c, checked
 * against the stock string functions of the linked Lua 5.4.
 *
 * The input is:
 *
 *   flags (1 byte)    bit 0: plain find; bits 1-2: gsub replacement kind
 *                     (string, number, table, function)
 *   init (1 byte)     signed; 0 leaves the argument out
 *   max (1 byte)      signed gsub count; 0x80 leaves the argument out
 *   pattern length (1 byte), replacement length (1 byte)
 *   pattern, replacement, then the subject: the rest of the input
 *
 * Each input runs find, match, gmatch (up to 64 matches) and gsub first
 * through the budgeted functions. The charge function raises once a call
 * has charged more than STEP_LIMIT steps. Only calls that end within the
 * budget run again through the stock functions, which do about the same
 * matching work, so they end too. When they do not, the libFuzzer timeout
 * of tests/fuzz/run reports the input. The target aborts when the results,
 * or the error messages, differ.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lpattern.h"

#define STEP_LIMIT 2000000
#define GMATCH_MAX 64

/* Its address, pushed as a light userdata, is the error the charge function raises. */
static const char budget_error = 0;

/* The replacement function for gsub: mixes returning a string, false, nil and a table. */
static const char replace_function[] =
	"return function(...)\n"
	"  local s = tostring((...)) .. select('#', ...)\n"
	"  local k = #s % 5\n"
	"  if k == 0 then return false elseif k == 1 then return nil\n"
	"  elseif k == 2 and #s > 6 then return {} end\n"
	"  return s\n"
	"end\n";

/* Steps charged since the current budgeted call started. */
static uint64_t charged;

static void
charge(lua_State *L, void *ud, uint64_t steps)
{
	(void)ud;
	charged += steps;
	if (charged > STEP_LIMIT) {
		lua_pushlightuserdata(L, (void *)&budget_error);
		lua_error(L);
	}
}

/* The parts of one input. */
struct input {
	unsigned flags;
	int init;		/* 0: not given */
	int max;		/* INT32_MIN: not given */
	const char *pattern, *repl, *subject;
	size_t plen, rlen, slen;
};

static int
split(const uint8_t *data, size_t size, struct input *in)
{
	size_t p = 5;

	if (size < 5)
		return -1;
	in->flags = data[0];
	in->init = (int8_t)data[1];
	in->max = data[2] == 0x80 ? INT32_MIN : (int8_t)data[2];
	in->plen = data[3] < size - p ? data[3] : size - p;
	in->pattern = (const char *)data + p;
	p += in->plen;
	in->rlen = data[4] < size - p ? data[4] : size - p;
	in->repl = (const char *)data + p;
	p += in->rlen;
	in->subject = (const char *)data + p;
	in->slen = size - p;
	return 0;
}

/*
 * Calls the function at stack index fn with copies of the values at the
 * nargs stack indexes in args. Returns the pcall status. The results, or
 * the error, are pushed, and *nres is their count.
 */
static int
call(lua_State *L, int fn, const int *args, int nargs, int *nres)
{
	int top = lua_gettop(L), status;

	lua_pushvalue(L, fn);
	for (int i = 0; i < nargs; i++)
		lua_pushvalue(L, args[i]);
	status = lua_pcall(L, nargs, LUA_MULTRET, 0);
	*nres = lua_gettop(L) - top;
	/* Room for the next call and its arguments above up to 34 results. */
	if (!lua_checkstack(L, 80))
		abort();
	return status;
}

static int
is_budget_error(lua_State *L, int idx)
{
	return lua_touserdata(L, idx) == &budget_error;
}

/* Whether the values at a and b are the same, counting integer and float apart. */
static int
same_value(lua_State *L, int a, int b)
{
	if (lua_type(L, a) != lua_type(L, b))
		return 0;
	if (lua_type(L, a) == LUA_TNUMBER && lua_isinteger(L, a) != lua_isinteger(L, b))
		return 0;
	/* The two gmatch iterators are different closures, so only the values they produce are compared. */
	if (lua_type(L, a) == LUA_TFUNCTION)
		return 1;
	return lua_rawequal(L, a, b);
}

static void
report(lua_State *L, const char *name, int base, int n1, int n2, const char *why)
{
	fprintf(stderr, "fuzz_pattern: %s: %s (budgeted %d values, stock %d values)\n",
		name, why, n1, n2);
	for (int i = 1; i <= n1 + n2; i++)
		fprintf(stderr, "  %s %d: %s %s\n", i <= n1 ? "budgeted" : "stock",
			i <= n1 ? i : i - n1, luaL_typename(L, base + i),
			lua_type(L, base + i) == LUA_TSTRING ? lua_tostring(L, base + i) : "");
	abort();
}

/*
 * Calls the budgeted function at ours and the stock one at stock with the
 * same arguments, and aborts when they differ. Returns 0 when both
 * returned the same values, or 1 when both raised the same error, with the
 * n values of the budgeted call pushed and then those of the stock call.
 * Returns -1, with nothing pushed, when the budget ran out.
 */
static int
compare(lua_State *L, const char *name, int ours, int stock, const int *args, int nargs,
	int *n)
{
	int base = lua_gettop(L), s1, s2, n1, n2;

	charged = 0;
	s1 = call(L, ours, args, nargs, &n1);
	if (s1 != LUA_OK && is_budget_error(L, -1)) {
		lua_settop(L, base);
		return -1;
	}
	s2 = call(L, stock, args, nargs, &n2);

	if ((s1 == LUA_OK) != (s2 == LUA_OK))
		report(L, name, base, n1, n2, s1 == LUA_OK ? "only the stock call failed" :
		       "only the budgeted call failed");
	if (n1 != n2)
		report(L, name, base, n1, n2, "different numbers of results");
	for (int i = 1; i <= n1; i++)
		if (!same_value(L, base + i, base + n1 + i))
			report(L, name, base, n1, n2, s1 == LUA_OK ? "different results" :
			       "different error messages");
	*n = n1;
	return s1 == LUA_OK ? 0 : 1;
}

/* Stack slots of the values that every input uses. */
enum {
	STOCK_FIND = 1, STOCK_MATCH, STOCK_GMATCH, STOCK_GSUB,
	OURS_FIND, OURS_MATCH, OURS_GMATCH, OURS_GSUB,
	SUBJECT, PATTERN, INIT, PLAIN, REPL, MAX,
};

/* Creates a state with the stock functions and the budgeted ones in the slots above. */
static lua_State *
new_state(void)
{
	static const char *const names[] = { "find", "match", "gmatch", "gsub" };
	lua_State *L = luaL_newstate();

	if (L == NULL)
		abort();
	/* Only what the replacement function needs, so a new state per input stays cheap. */
	luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
	luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
	lua_pop(L, 2);
	lua_getglobal(L, "string");
	for (int i = 0; i < 4; i++)
		lua_getfield(L, -1 - i, names[i]);
	tt_lpattern_install(L, -5, charge, NULL);
	for (int i = 0; i < 4; i++)
		lua_getfield(L, -5 - i, names[i]);
	lua_remove(L, 1);
	return L;
}

/* Pushes the gsub replacement of the kind that flags select. */
static void
push_repl(lua_State *L, const struct input *in)
{
	switch ((in->flags >> 1) & 3) {
	case 0:
		lua_pushlstring(L, in->repl, in->rlen);
		break;
	case 1:
		if (in->rlen % 2 == 0)
			lua_pushinteger(L, in->rlen > 0 ? (int8_t)in->repl[0] : 0);
		else
			lua_pushnumber(L, (int8_t)in->repl[0] / 4.0);
		break;
	case 2:
		/* Each byte of repl is a key, and the byte value picks the kind of value. */
		lua_createtable(L, 0, (int)in->rlen);
		for (size_t i = 0; i < in->rlen; i++) {
			unsigned char c = (unsigned char)in->repl[i];

			lua_pushlstring(L, in->repl + i, 1);
			if (c % 4 == 0)
				lua_pushfstring(L, "<%d>", c);
			else if (c % 4 == 1)
				lua_pushboolean(L, 0);
			else if (c % 4 == 2)
				lua_pushinteger(L, c);
			else
				lua_newtable(L);
			lua_rawset(L, -3);
		}
		break;
	default:
		if (luaL_dostring(L, replace_function) != LUA_OK)
			abort();
		break;
	}
}

static void
push_args(lua_State *L, const struct input *in)
{
	lua_pushlstring(L, in->subject, in->slen);
	lua_pushlstring(L, in->pattern, in->plen);
	if (in->init != 0)
		lua_pushinteger(L, in->init);
	else
		lua_pushnil(L);
	lua_pushboolean(L, in->flags & 1);
	push_repl(L, in);
	if (in->max != INT32_MIN)
		lua_pushinteger(L, in->max);
	else
		lua_pushnil(L);
}

/* Steps both gmatch iterators together until one ends or the budget runs out. */
static void
run_gmatch(lua_State *L)
{
	static const int args[] = { SUBJECT, PATTERN, INIT };
	int top = lua_gettop(L), n;

	if (compare(L, "gmatch", OURS_GMATCH, STOCK_GMATCH, args, 3, &n) != 0) {
		lua_settop(L, top);
		return;
	}
	for (int i = 0; i < GMATCH_MAX; i++) {
		if (compare(L, "gmatch iterator", top + 1, top + 2, NULL, 0, &n) != 0)
			break;
		if (n == 0 || lua_isnil(L, top + 3))
			break;
		lua_settop(L, top + 2);
	}
	lua_settop(L, top);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int find_args[] = { SUBJECT, PATTERN, INIT, PLAIN };
	static const int gsub_args[] = { SUBJECT, PATTERN, REPL, MAX };
	struct input in;
	lua_State *L;
	int top, n;

	if (split(data, size, &in) == -1)
		return 0;
	L = new_state();
	push_args(L, &in);
	top = lua_gettop(L);

	compare(L, "find", OURS_FIND, STOCK_FIND, find_args, 4, &n);
	lua_settop(L, top);
	compare(L, "match", OURS_MATCH, STOCK_MATCH, find_args, 3, &n);
	lua_settop(L, top);
	run_gmatch(L);
	compare(L, "gsub", OURS_GSUB, STOCK_GSUB, gsub_args, 4, &n);
	lua_settop(L, top);

	lua_close(L);
	return 0;
}
