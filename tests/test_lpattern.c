/* SPDX-License-Identifier: MIT */
/*
 * Tests for the budgeted pattern functions: differential runs against the
 * stock string.find, string.match, string.gmatch and string.gsub of the
 * linked Lua 5.4 (a case table and a seeded random fuzz), and the charge
 * callback aborting pathological matches.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <lauxlib.h>
#include <lualib.h>

#include "lpattern.h"

/* Records the charge calls and raises once raise_at calls are reached. */
struct probe {
	unsigned calls;
	unsigned raise_at;	/* 0: never raise */
	uint64_t steps;
	uint64_t min_steps;
};

static void
charge_probe(lua_State *L, void *ud, uint64_t steps)
{
	struct probe *probe = ud;

	probe->calls++;
	probe->steps += steps;
	if (probe->min_steps == 0 || steps < probe->min_steps)
		probe->min_steps = steps;
	if (probe->raise_at != 0 && probe->calls >= probe->raise_at)
		luaL_error(L, "budget exhausted");
}

/*
 * Opens a state whose string table keeps the stock functions as find0,
 * match0, gmatch0 and gsub0 and has the budgeted ones under the usual names.
 */
static lua_State *
new_state(struct probe *probe)
{
	static const char *const names[] = { "find", "match", "gmatch", "gsub" };
	lua_State *L = luaL_newstate();
	char stock_name[16];

	cr_assert_not_null(L);
	luaL_openlibs(L);
	lua_getglobal(L, "string");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		lua_getfield(L, -1, names[i]);
		snprintf(stock_name, sizeof(stock_name), "%s0", names[i]);
		lua_setfield(L, -2, stock_name);
	}
	tt_lpattern_install(L, -1, charge_probe, probe);
	lua_pop(L, 1);
	return L;
}

/* Runs chunk and leaves nresults results on the stack. Returns the status. */
static int
run(lua_State *L, const char *chunk, int nresults)
{
	int status = luaL_loadstring(L, chunk);

	cr_assert_eq(status, LUA_OK, "chunk does not compile: %s",
	    lua_tostring(L, -1));
	return lua_pcall(L, 0, nresults, 0);
}

/*
 * Defines outcome(lib, name, args) and compare(cases). outcome returns every
 * result of one call (or of all gmatch iterations) or its error as a
 * string. compare runs each case on the stock and the budgeted functions
 * and returns the mismatch count and a report.
 */
static const char harness_lua[] =
	"local stock = {\n"
	"  find = string.find0, match = string.match0,\n"
	"  gmatch = string.gmatch0, gsub = string.gsub0,\n"
	"}\n"
	"local ours = {\n"
	"  find = string.find, match = string.match,\n"
	"  gmatch = string.gmatch, gsub = string.gsub,\n"
	"}\n"
	"\n"
	"local function show(v)\n"
	"  if type(v) == 'string' then\n"
	"    return ('%q'):format(v)\n"
	"  end\n"
	"  return (math.type(v) or type(v)) .. ':' .. tostring(v)\n"
	"end\n"
	"\n"
	"local function show_all(...)\n"
	"  local t = table.pack(...)\n"
	"  for i = 1, t.n do\n"
	"    t[i] = show(t[i])\n"
	"  end\n"
	"  return table.concat(t, ',', 1, t.n)\n"
	"end\n"
	"\n"
	"-- Returns every result of lib[name](args), or of all gmatch iterations,\n"
	"-- or the error, as one string. Both libraries run through the same lines,\n"
	"-- so error messages carry the same position and function name.\n"
	"local function outcome(lib, name, args)\n"
	"  local fn = lib[name]\n"
	"  local ok, res = pcall(function()\n"
	"    local out = {}\n"
	"    if name ~= 'gmatch' then\n"
	"      out[1] = table.pack(fn(table.unpack(args, 1, args.n)))\n"
	"      return out\n"
	"    end\n"
	"    local it = fn(table.unpack(args, 1, args.n))\n"
	"    for i = 1, 64 do\n"
	"      local v = table.pack(it())\n"
	"      if v.n == 0 then\n"
	"        break\n"
	"      end\n"
	"      out[i] = v\n"
	"    end\n"
	"    return out\n"
	"  end)\n"
	"  if not ok then\n"
	"    return 'error ' .. show(res)\n"
	"  end\n"
	"  for i, v in ipairs(res) do\n"
	"    res[i] = '(' .. show_all(table.unpack(v, 1, v.n)) .. ')'\n"
	"  end\n"
	"  return table.concat(res, ' ')\n"
	"end\n"
	"\n"
	"-- Runs each case on both libraries. Returns the number of mismatches and\n"
	"-- a report of the first few.\n"
	"local function compare(cases)\n"
	"  local bad, report = 0, {}\n"
	"  for i, c in ipairs(cases) do\n"
	"    local want = outcome(stock, c.name, c.args)\n"
	"    local got = outcome(ours, c.name, c.args)\n"
	"    if want ~= got then\n"
	"      bad = bad + 1\n"
	"      if #report < 8 then\n"
	"        local args = show_all(table.unpack(c.args, 1, c.args.n))\n"
	"        report[#report + 1] = ('case %d: %s(%s)\\n  stock %s\\n  ours  %s')\n"
	"            :format(i, c.name, args:sub(1, 200), want:sub(1, 200), got:sub(1, 200))\n"
	"      end\n"
	"    end\n"
	"  end\n"
	"  return bad, table.concat(report, '\\n')\n"
	"end\n";

/* Cases for every feature of Lua 5.4 patterns and of the four functions. */
static const char table_lua[] =
	"local cases = {}\n"
	"local function C(name, ...)\n"
	"  cases[#cases + 1] = {name = name, args = table.pack(...)}\n"
	"end\n"
	"local bytes = {}\n"
	"for i = 0, 255 do\n"
	"  bytes[#bytes + 1] = string.char(i)\n"
	"end\n"
	"local ALL = table.concat(bytes)\n"
	"\n"
	"-- find: plain and pattern searches, init, plain flag, argument checks\n"
	"C('find', 'hello world', 'o')\n"
	"C('find', 'hello world', 'o w')\n"
	"C('find', 'hello world', 'l+')\n"
	"C('find', 'hello world', 'xyz')\n"
	"C('find', 'hello', '')\n"
	"C('find', '', '')\n"
	"C('find', '', 'a')\n"
	"C('find', 'hello', 'l', 1)\n"
	"C('find', 'hello', 'l', 4)\n"
	"C('find', 'hello', 'l', 5)\n"
	"C('find', 'hello', 'l', -1)\n"
	"C('find', 'hello', 'l', -2)\n"
	"C('find', 'hello', 'l', -100)\n"
	"C('find', 'hello', 'l', 0)\n"
	"C('find', 'hello', '', 6)\n"
	"C('find', 'hello', '', 7)\n"
	"C('find', 'hello', 'l*', 6)\n"
	"C('find', 'hello', 'l*', 7)\n"
	"C('find', 'hello', '', 100)\n"
	"C('find', 'hello', 'h', math.mininteger)\n"
	"C('find', 'hello', 'o', math.maxinteger)\n"
	"C('find', 'a.b', '.', 1, true)\n"
	"C('find', 'a.b', '.', 3, true)\n"
	"C('find', 'a+b', '+', 1, true)\n"
	"C('find', 'a+b', 'a+', 1, 1)\n"
	"C('find', 'a+b', 'a+', 1, false)\n"
	"C('find', 'a+b', 'a+', 1, nil)\n"
	"C('find', 'a+b', 'a+', nil, true)\n"
	"C('find', 'aab', 'ab', 1, true)\n"
	"C('find', 'abc)', ')')\n"
	"C('find', 'abc', 'b', 1.0)\n"
	"C('find', 'abc', 'b', 1.5)\n"
	"C('find', 'abc', 'b', '2')\n"
	"C('find', 'abc', 'b', 'x')\n"
	"C('find', 123, 2)\n"
	"C('find', nil, 'a')\n"
	"C('find', 'a')\n"
	"C('find', {}, 'a')\n"
	"C('find', 'abc', 'abcd', 1, true)\n"
	"\n"
	"-- anchors\n"
	"C('find', 'hello', '^h')\n"
	"C('find', 'hello', '^e')\n"
	"C('find', 'hello', '^e', 2)\n"
	"C('find', 'hello', 'o$')\n"
	"C('find', 'hello', 'l$')\n"
	"C('find', 'hel$lo', 'l$l')\n"
	"C('find', 'a^b', 'a^b')\n"
	"C('find', 'hello', '^hello$')\n"
	"C('find', '', '^$')\n"
	"C('find', 'x$', '$')\n"
	"C('find', 'x', '^', 2)\n"
	"C('match', 'hello', '^(h)(e)')\n"
	"C('match', '^^', '^^')\n"
	"C('match', 'abc', '$')\n"
	"C('match', 'a$', 'a$$')\n"
	"C('gsub', 'hello', '^', '>')\n"
	"C('gsub', 'hello', '$', '<')\n"
	"C('gsub', 'hello hello', '^hello', 'X')\n"
	"C('gmatch', '^a^b', '^.')\n"
	"C('gmatch', 'abab', '^ab')\n"
	"\n"
	"-- classes against every byte, alone, complemented and inside sets\n"
	"for cl in ('acdglpsuwx'):gmatch('.') do\n"
	"  C('gsub', ALL, '%' .. cl, '.')\n"
	"  C('gsub', ALL, '%' .. cl:upper(), '.')\n"
	"  C('gsub', ALL, '[_%' .. cl .. ']', '.')\n"
	"  C('gsub', ALL, '[^%' .. cl:upper() .. '@]', '.')\n"
	"end\n"
	"for esc in ('.%[]()-^$*+?z'):gmatch('.') do\n"
	"  C('gsub', ALL, '%' .. esc, '#')\n"
	"end\n"
	"C('gsub', ALL, '.', '')\n"
	"C('gsub', ALL, '[a-f]', '.')\n"
	"C('gsub', ALL, '[^a-f0-3]', '.')\n"
	"\n"
	"-- sets\n"
	"C('match', 'a]b', '[]]')\n"
	"C('match', 'a]b', '[^]]+')\n"
	"C('match', 'a-b', '[a-]+')\n"
	"C('match', 'a-b', '[-a]+')\n"
	"C('match', 'x^y', '[x^]+')\n"
	"C('match', 'x%y', '[%%]')\n"
	"C('match', 'a-z', '[%a-z]+')\n"
	"C('match', 'b', '[z-a]')\n"
	"C('match', 'b-', '[%w-]+')\n"
	"C('find', 'abc', '[a')\n"
	"C('find', 'abc', '[]')\n"
	"C('find', 'abc', '[^]')\n"
	"C('find', 'abc', '[%')\n"
	"C('find', 'abc', '[%]')\n"
	"C('find', 'a]', '[]]]')\n"
	"C('match', 'hello', '[^')\n"
	"C('match', 'a\\200\\201z', '[\\128-\\255]+')\n"
	"\n"
	"-- quantifiers\n"
	"C('match', 'aaab', 'a*')\n"
	"C('match', 'aaab', 'a+')\n"
	"C('match', 'aaab', 'a-b')\n"
	"C('match', 'aaab', 'a?a?a?a?b')\n"
	"C('match', 'b', 'a+')\n"
	"C('match', 'b', 'a*b')\n"
	"C('match', 'b', 'a-b')\n"
	"C('match', 'b', 'a?b')\n"
	"C('match', 'ab', 'a?')\n"
	"C('match', '<a><b>', '<.->')\n"
	"C('match', '<a><b>', '<.*>')\n"
	"C('match', 'abc', '.-$')\n"
	"C('match', 'abc', '.-')\n"
	"C('match', 'a+?', 'a+?')\n"
	"C('match', '**', '**')\n"
	"C('match', '-x', '-')\n"
	"C('match', 'aaa', 'a**')\n"
	"C('find', 'aaa', '*')\n"
	"C('find', '+a', '+')\n"
	"C('match', '  x  ', '^%s*(.-)%s*$')\n"
	"\n"
	"-- captures\n"
	"C('match', 'hello world', '(h)(e)(l)(l)(o)')\n"
	"C('match', 'hello world', '(%w+) (%w+)')\n"
	"C('match', 'hello', '()ll()')\n"
	"C('find', 'hello', '()ll()')\n"
	"C('find', 'hello', '(l)(l)')\n"
	"C('match', 'hello', '(h(e(l)))')\n"
	"C('match', 'hello', '(')\n"
	"C('match', 'hello', '(h')\n"
	"C('find', 'hello', '(h')\n"
	"C('match', 'hello', 'h)')\n"
	"C('match', 'hello', '()')\n"
	"C('match', '', '()')\n"
	"C('match', 'key = value', '(%w+)%s*=%s*(%w+)')\n"
	"C('match', ('a'):rep(32), ('(a)'):rep(32))\n"
	"C('match', ('a'):rep(33), ('(a)'):rep(33))\n"
	"C('match', ('a'):rep(40), ('()'):rep(32))\n"
	"C('match', ('a'):rep(40), ('()'):rep(33))\n"
	"C('match', 'abc', '((((((((((((((((((((((((((((((((a))))))))))))))))))))))))))))))))')\n"
	"\n"
	"-- back-references\n"
	"C('match', 'abcabc', '(abc)%1')\n"
	"C('match', 'say \"hi\" now', '([\"\\'])(.-)%1')\n"
	"C('match', 'abab', '(a)(b)%1%2')\n"
	"C('match', 'aa', '(a)%2')\n"
	"C('match', 'aa', '%1')\n"
	"C('match', 'aa', '(a%1)')\n"
	"C('match', 'aa', '%0')\n"
	"C('match', 'xx', '()x%1')\n"
	"C('find', 'hello', '(l)%1')\n"
	"C('find', 'ab', '(a)%1')\n"
	"C('gsub', 'hello', '(l)%1', '<%1>')\n"
	"\n"
	"-- %b\n"
	"C('match', 'f(a(b)c)d', '%b()')\n"
	"C('match', 'f(a(b c)d', '%b()')\n"
	"C('match', 'f(a', '%b()')\n"
	"C('match', 'xx', '%bxx')\n"
	"C('match', 'abc', '%b')\n"
	"C('match', 'abc', '%ba')\n"
	"C('gsub', '[a][b]', '%b[]', '#')\n"
	"C('match', ')(', '%b)(')\n"
	"C('match', '((a)', '%b()+')\n"
	"\n"
	"-- %f\n"
	"C('find', 'THE (quick) fox', '%f[%a]%a+')\n"
	"C('gsub', 'THE (quick) fox', '%f[%a]%w+', 'W')\n"
	"C('find', 'hello', '%f[%l]')\n"
	"C('find', 'hello', '%f[\\0]')\n"
	"C('find', 'hello', '%f[^\\0]')\n"
	"C('find', 'hello', '%f[%a]', 2)\n"
	"C('find', 'hello', '%f')\n"
	"C('find', 'hello', '%fa')\n"
	"C('find', 'hello', '%f[a')\n"
	"C('gsub', 'the cat sat', '%f[%w]%w+%f[%W]', '<%0>')\n"
	"C('find', '', '%f[\\0]')\n"
	"C('find', '', '%f[^\\0]')\n"
	"\n"
	"-- malformed patterns and lazily reached errors\n"
	"C('find', 'abc', '%')\n"
	"C('find', 'abc', 'a%')\n"
	"C('match', 'abc', '[a-')\n"
	"C('find', '', '%')\n"
	"C('find', 'abc', 'x%')\n"
	"C('find', 'abc', 'x[')\n"
	"\n"
	"-- recursion depth\n"
	"C('find', ('a'):rep(300), ('a?'):rep(300))\n"
	"C('find', ('a'):rep(300), ('a?'):rep(199))\n"
	"C('find', ('a'):rep(300), ('a?'):rep(200))\n"
	"C('find', ('a'):rep(300), ('a?'):rep(201))\n"
	"C('match', ('a'):rep(30), ('(a'):rep(30) .. (')'):rep(30))\n"
	"C('match', 'aaa', ('a*'):rep(250))\n"
	"C('match', ('a'):rep(250), ('a*'):rep(250))\n"
	"C('match', ('a'):rep(250), ('.-'):rep(210) .. '$')\n"
	"\n"
	"-- UTF-8 bytes\n"
	"C('match', 'h\\195\\169llo w\\195\\182rld', '[\\128-\\255]+')\n"
	"C('gsub', 'h\\195\\169llo', '[\\192-\\223][\\128-\\191]', '?')\n"
	"C('find', '\\230\\151\\165\\230\\156\\172', '\\230\\156\\172')\n"
	"C('match', '\\230\\151\\165\\230\\156\\172', '(.)')\n"
	"C('gmatch', 'h\\195\\169llo', utf8.charpattern)\n"
	"\n"
	"-- embedded zeros\n"
	"C('find', 'a\\0b', '\\0')\n"
	"C('find', 'a\\0b', 'b', 1)\n"
	"C('find', 'a\\0b', '\\0b+')\n"
	"C('match', 'a\\0b\\0c', '%z')\n"
	"C('match', 'a\\0b\\0c', '[\\0]')\n"
	"C('match', 'a\\0b\\0c', '[^\\0]+', 3)\n"
	"C('match', 'a\\0b', 'a%\\0b')\n"
	"C('gsub', 'a\\0b\\0c', '\\0', '-')\n"
	"C('match', 'a\\0b', '.+')\n"
	"C('find', 'a\\0b', 'a\\0b', 1, true)\n"
	"C('find', 'x\\0', '\\0$')\n"
	"C('match', 'a\\0Z', '(%Z+)')\n"
	"C('gsub', 'abc', 'b', 'x\\0y')\n"
	"C('match', '\\0\\0', '%f[\\0]')\n"
	"C('match', 'x(\\0)', '%b(\\0')\n"
	"C('match', 'x[\\0', '[\\0')\n"
	"\n"
	"-- gmatch\n"
	"C('gmatch', 'hello world from lua', '%a+')\n"
	"C('gmatch', 'abc', 'x*')\n"
	"C('gmatch', 'abc', '')\n"
	"C('gmatch', '', '')\n"
	"C('gmatch', 'abc', '.-')\n"
	"C('gmatch', 'k1=v1, k2=v2', '(%w+)=(%w+)')\n"
	"C('gmatch', 'abc', '()')\n"
	"C('gmatch', 'hello', 'l', 4)\n"
	"C('gmatch', 'hello', 'l', -2)\n"
	"C('gmatch', 'hello', '.', -100)\n"
	"C('gmatch', 'hello', '.', 10)\n"
	"C('gmatch', 'hello', '', 6)\n"
	"C('gmatch', 'hello', '', 7)\n"
	"C('gmatch', 'hello', '.', 0)\n"
	"C('gmatch', 'abc', '(')\n"
	"C('gmatch', 'abc', '%1')\n"
	"C('gmatch', 'a,b,,c', '([^,]*)')\n"
	"C('gmatch', 'aaa', 'a-')\n"
	"C('gmatch', 'one two', '%f[%w]%w+')\n"
	"C('gmatch', nil, 'x')\n"
	"C('gmatch', 'x', 'x', 'y')\n"
	"C('gmatch', 'a\\0b', '[^\\0]')\n"
	"C('gmatch', 'abc', 'b*$')\n"
	"\n"
	"-- gsub: string replacements\n"
	"C('gsub', 'hello world', 'o', '0')\n"
	"C('gsub', 'hello world', 'o', '0', 1)\n"
	"C('gsub', 'hello world', 'o', '0', 0)\n"
	"C('gsub', 'hello world', 'o', '0', -1)\n"
	"C('gsub', 'hello world', 'o', '0', 1.0)\n"
	"C('gsub', 'hello world', 'o', '0', 1.5)\n"
	"C('gsub', 'hello world', '(o)', '[%1]')\n"
	"C('gsub', 'hello world', 'o', '[%0]')\n"
	"C('gsub', 'hello world', 'o', '%%')\n"
	"C('gsub', 'hello world', 'o', '%')\n"
	"C('gsub', 'hello world', 'o', 'x%')\n"
	"C('gsub', 'hello world', 'o', '%a')\n"
	"C('gsub', 'hello world', 'o', '%1')\n"
	"C('gsub', 'hello world', 'o', '%2')\n"
	"C('gsub', 'hello world', '(o)', '%2')\n"
	"C('gsub', 'hello world', '()o', '%1')\n"
	"C('gsub', 'hello world', '(o', '%1')\n"
	"C('gsub', 'hello', '', '-')\n"
	"C('gsub', 'abc', 'x*', '-')\n"
	"C('gsub', 'abc', '.-', '-')\n"
	"C('gsub', '', '', 'x')\n"
	"C('gsub', '', 'x*', 'x')\n"
	"C('gsub', 'hello world', '%s*', '_')\n"
	"C('gsub', 'abc', '^a*', 'x')\n"
	"C('gsub', 'abc', '^b', 'x')\n"
	"C('gsub', 'abc', '$', 'x')\n"
	"C('gsub', 'a.b.c', '%.', '%%')\n"
	"C('gsub', 'aaa', 'a', '%0%0', 2)\n"
	"C('gsub', 'x = 1, y = 2', '(%w+) = (%w+)', '%2 = %1')\n"
	"C('gsub', 'abc', 'b', '%\\0')\n"
	"C('gsub', 'abc', '%w', 'x', math.maxinteger)\n"
	"C('gsub', 'abc', '%w', 'x', math.mininteger)\n"
	"C('gsub', 'abc', '(', 'x')\n"
	"C('gsub', 123, 2, 9)\n"
	"C('gsub', 'abc', '%w', 5)\n"
	"C('gsub', 'abc', '%w', 1.5)\n"
	"\n"
	"-- gsub: table and function replacements\n"
	"C('gsub', 'abc', '%w', {a = 'A', b = false, c = 3})\n"
	"C('gsub', 'abc', '%w', {})\n"
	"C('gsub', 'abc', '(%w)(%w)', {a = 'X'})\n"
	"C('gsub', 'abc', '()%w', {[1] = 'one', [3] = 'three'})\n"
	"C('gsub', 'abc', '%w', {a = true})\n"
	"C('gsub', 'abc', '%w', {a = {}})\n"
	"C('gsub', 'abc', '%w', setmetatable({}, {__index = function(t, k) return k .. k end}))\n"
	"C('gsub', 'abc', '%w', function(c) return c .. c end)\n"
	"C('gsub', 'abc', '%w', function() end)\n"
	"C('gsub', 'abc', '%w', function() return false end)\n"
	"C('gsub', 'abc', '%w', function() return 7 end)\n"
	"C('gsub', 'abc', '%w', function() return {} end)\n"
	"C('gsub', 'abc', '%w', function() error('boom') end)\n"
	"C('gsub', 'hello world', '(%w+) (%w+)', function(a, b) return b .. ' ' .. a end)\n"
	"C('gsub', 'abc', '()(%w)()', function(...) return show_all(...) end)\n"
	"C('gsub', 'abc', '', function(...) return show_all(...) end)\n"
	"C('gsub', ('a'):rep(32), ('(a)'):rep(32), function(...) return select('#', ...) end)\n"
	"C('gsub', 'abc', '%w', true)\n"
	"C('gsub', 'abc', '%w')\n"
	"C('gsub', 'abc', '%w', nil)\n"
	"C('gsub', 'abc', '%w', 'x', 'y')\n"
	"C('gsub', 'abc', '%w', 'x', 1, 'extra')\n"
	"\n"
	"local bad, report = compare(cases)\n"
	"return #cases, bad, report\n";

/*
 * Random short patterns over an alphabet of pattern items and special
 * characters, against random subjects of at most 12 bytes, so that no case
 * makes the stock matcher run long. The seed makes the run repeatable.
 */
static const char fuzz_lua[] =
	"math.randomseed(20240611)\n"
	"local atoms = {\n"
	"  'a', 'b', 'c', 'x', '1', ' ', '.', '%a', '%d', '%s', '%W', '%x', '%%', '%.',\n"
	"  '[ab]', '[^a]', '[a-c]', '[%d)]', ']', '[', '%b()', '%f[%w]', '%f[^a]',\n"
	"  '%1', '%2', '(', ')', '()', '^', '$', '*', '+', '-', '?', '%',\n"
	"}\n"
	"local chars = {'a', 'b', 'c', 'x', '(', ')', '1', ' ', '.', '%', '\\0', '\\200'}\n"
	"local replacements = {\n"
	"  '<%0>', '%1%2', '%%', 'r', '%', 5,\n"
	"  {a = 'A', b = false, ['1'] = 'one'},\n"
	"  function(...) return select('#', ...) > 1 and show_all(...) or nil end,\n"
	"}\n"
	"local names = {'find', 'match', 'gmatch', 'gsub'}\n"
	"\n"
	"local function pick(list)\n"
	"  return list[math.random(#list)]\n"
	"end\n"
	"\n"
	"local function random_string(list, maxlen)\n"
	"  local t = {}\n"
	"  for i = 1, math.random(0, maxlen) do\n"
	"    t[i] = pick(list)\n"
	"  end\n"
	"  return table.concat(t)\n"
	"end\n"
	"\n"
	"local cases = {}\n"
	"for i = 1, 20000 do\n"
	"  local name = pick(names)\n"
	"  local s = random_string(chars, 12)\n"
	"  local p = random_string(atoms, 7)\n"
	"  local init = math.random(-14, 14)\n"
	"  local args\n"
	"  if name == 'find' then\n"
	"    args = table.pack(s, p, init, math.random(8) == 1)\n"
	"  elseif name == 'gsub' then\n"
	"    local n = math.random(-1, 5)\n"
	"    if n == 5 then\n"
	"      n = nil\n"
	"    end\n"
	"    args = table.pack(s, p, pick(replacements), n)\n"
	"  else\n"
	"    args = table.pack(s, p, init)\n"
	"  end\n"
	"  cases[i] = {name = name, args = args}\n"
	"end\n"
	"\n"
	"local bad, report = compare(cases)\n"
	"return #cases, bad, report\n";

/* Runs harness_lua followed by cases and checks the comparison results. */
static void
check_differential(const char *cases, lua_Integer min_cases)
{
	struct probe probe = { 0 };
	lua_State *L = new_state(&probe);
	size_t len = strlen(harness_lua) + strlen(cases) + 1;
	char *chunk = malloc(len);
	int status;

	cr_assert_not_null(chunk);
	snprintf(chunk, len, "%s%s", harness_lua, cases);
	status = run(L, chunk, 3);
	free(chunk);
	cr_assert_eq(status, LUA_OK, "script failed: %s", lua_tostring(L, -1));
	cr_assert_geq(lua_tointeger(L, -3), min_cases);
	cr_assert_eq(lua_tointeger(L, -2), 0, "%lld of %lld cases differ:\n%s",
	    (long long)lua_tointeger(L, -2), (long long)lua_tointeger(L, -3),
	    lua_tostring(L, -1));
	lua_close(L);
}

Test(lpattern, matches_stock_on_case_table)
{
	check_differential(table_lua, 150);
}

Test(lpattern, matches_stock_on_random_patterns)
{
	check_differential(fuzz_lua, 20000);
}

/*
 * Runs a chunk whose match needs far more steps than the probe allows and
 * checks that it stopped with the probe's error at the probe's limit.
 * Returns the state for more checks.
 */
static lua_State *
check_abort(const char *chunk)
{
	static struct probe probe;
	lua_State *L;
	int status;

	memset(&probe, 0, sizeof(probe));
	probe.raise_at = 25;
	L = new_state(&probe);
	status = run(L, chunk, 0);
	cr_assert_eq(status, LUA_ERRRUN, "%s did not fail", chunk);
	cr_assert_not_null(strstr(lua_tostring(L, -1), "budget exhausted"),
	    "unexpected error: %s", lua_tostring(L, -1));
	cr_assert_eq(probe.calls, probe.raise_at);
	cr_assert_geq(probe.steps, (uint64_t)probe.raise_at * TT_LPATTERN_STEP_CHUNK);
	return L;
}

Test(lpattern, charge_error_aborts_pathological_find)
{
	lua_close(check_abort(
	    "return string.find(string.rep('a', 20000), '.-.-.-.-.-b')"));
}

Test(lpattern, charge_error_aborts_pathological_match)
{
	lua_close(check_abort(
	    "return string.match(string.rep('a', 20000), '(.-)(.-)(.-)$b')"));
}

Test(lpattern, charge_error_aborts_pathological_gmatch)
{
	lua_close(check_abort(
	    "for m in string.gmatch(string.rep('a', 20000), 'a*a*a*a*b') do end"));
}

Test(lpattern, charge_error_aborts_pathological_gsub)
{
	lua_close(check_abort(
	    "return string.gsub(string.rep('a', 20000), '.-.-.-b', 'x')"));
}

Test(lpattern, charge_error_aborts_gsub_after_function_call)
{
	lua_State *L = check_abort("called = 0"
	    " string.gsub('aab' .. string.rep('a', 20000), '(.-)(.-)b',"
	    " function(...) called = called + 1 end)");

	lua_getglobal(L, "called");
	cr_assert_eq(lua_tointeger(L, -1), 1);
	lua_close(L);
}

Test(lpattern, charge_error_aborts_long_plain_find)
{
	lua_close(check_abort("local s = string.rep('a', 1000000)"
	    " for i = 1, 100 do string.find(s, 'b', 1, true) end"));
}

Test(lpattern, state_usable_after_abort)
{
	struct probe probe = { .raise_at = 3 };
	lua_State *L = new_state(&probe);
	int status;

	status = run(L, "return string.find(string.rep('a', 20000), '.-.-.-.-.-b')", 0);
	cr_assert_eq(status, LUA_ERRRUN);
	lua_settop(L, 0);

	probe.raise_at = 0;
	status = run(L, "return ('key=value'):match('(%w+)=(%w+)')", 2);
	cr_assert_eq(status, LUA_OK, "%s", lua_tostring(L, -1));
	cr_assert_str_eq(lua_tostring(L, 1), "key");
	cr_assert_str_eq(lua_tostring(L, 2), "value");
	lua_settop(L, 0);

	status = run(L, "return (string.gsub('a-b-c', '-', '+'))", 1);
	cr_assert_eq(status, LUA_OK, "%s", lua_tostring(L, -1));
	cr_assert_str_eq(lua_tostring(L, 1), "a+b+c");
	lua_close(L);
}

Test(lpattern, charges_whole_chunks)
{
	struct probe probe = { 0 };
	lua_State *L = new_state(&probe);
	int status = run(L, "return string.find(string.rep('a', 3000), '.-b')", 1);

	cr_assert_eq(status, LUA_OK, "%s", lua_tostring(L, -1));
	cr_assert(lua_isnil(L, -1));
	cr_assert_gt(probe.calls, 100);
	cr_assert_geq(probe.min_steps, TT_LPATTERN_STEP_CHUNK);
	lua_close(L);
}

Test(lpattern, small_calls_add_up_to_charge)
{
	struct probe probe = { 0 };
	lua_State *L = new_state(&probe);
	int status = run(L, "for i = 1, 20000 do string.find('abc', 'c$') end", 0);

	cr_assert_eq(status, LUA_OK, "%s", lua_tostring(L, -1));
	cr_assert_gt(probe.calls, 0);
	lua_close(L);
}

Test(lpattern, null_charge_disables_budget)
{
	lua_State *L = luaL_newstate();
	int status;

	luaL_openlibs(L);
	lua_getglobal(L, "string");
	tt_lpattern_install(L, -1, NULL, NULL);
	lua_pop(L, 1);
	status = run(L, "return string.find(string.rep('a', 3000), '(a+)$')", 3);
	cr_assert_eq(status, LUA_OK, "%s", lua_tostring(L, -1));
	cr_assert_eq(lua_tointeger(L, 1), 1);
	cr_assert_eq(lua_tointeger(L, 2), 3000);
	cr_assert_eq(lua_rawlen(L, 3), 3000);
	lua_close(L);
}

Test(lpattern, install_replaces_string_functions)
{
	struct probe probe = { 0 };
	lua_State *L = new_state(&probe);
	int status = run(L, "return string.find ~= string.find0,"
	    " string.gsub ~= string.gsub0, ('').find == string.find", 3);

	cr_assert_eq(status, LUA_OK, "%s", lua_tostring(L, -1));
	cr_assert(lua_toboolean(L, 1));
	cr_assert(lua_toboolean(L, 2));
	cr_assert(lua_toboolean(L, 3));
	lua_close(L);
}
