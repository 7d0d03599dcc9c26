/* SPDX-License-Identifier: MIT */
/*
 * The library of a rule's Lua state: the standard libraries without files,
 * processes or bytecode, with each C function wrapped to charge its work
 * before it runs (sandbox.c explains the budgets). The functions written
 * for the sandbox replace table.insert, table.remove, xpcall,
 * coroutine.wrap, load, collectgarbage, print and require.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "lpattern.h"
#include "luajson.h"
#include "sandbox_internal.h"

#define MODULE_NAME_MAX 128

/* Registry keys: only the addresses matter. */
static const char loaded_key;		/* modules returned by require() */
static const char poison_key;		/* coroutines killed by an abort (weak keys) */

static uint64_t
to_u64(double x)
{
	if (!(x > 0))
		return 0;
	if (x >= 1e18)
		return UINT64_C(1000000000000000000);
	return (uint64_t)x;
}

static void
charge_steps(lua_State *L, void *ud, uint64_t steps)
{
	(void)ud;
	tt_sandbox_charge(L, steps / TT_SANDBOX_WORK_PER_INSN);
}

/* ---- Wrapped library functions ---- */

enum guard {
	G_CALL,			/* arguments only */
	G_BYTES,		/* plus the bytes of string arguments */
	G_REP,
	G_CONCAT,
	G_UNPACK,
	G_MOVE,
	G_SORT,
	G_SETMETATABLE,		/* rejects __gc */
	G_RESUME,		/* marks coroutines killed by an abort */
	G_CLOSE,		/* never closes them */
};

static const struct special {
	const char *lib;
	const char *name;
	enum guard guard;
} specials[] = {
	{ "_G", "tonumber", G_BYTES },
	{ "_G", "setmetatable", G_SETMETATABLE },
	{ "string", "byte", G_BYTES },
	{ "string", "char", G_BYTES },
	{ "string", "format", G_BYTES },
	{ "string", "lower", G_BYTES },
	{ "string", "pack", G_BYTES },
	{ "string", "packsize", G_BYTES },
	{ "string", "rep", G_REP },
	{ "string", "reverse", G_BYTES },
	{ "string", "sub", G_BYTES },
	{ "string", "unpack", G_BYTES },
	{ "string", "upper", G_BYTES },
	{ "table", "concat", G_CONCAT },
	{ "table", "unpack", G_UNPACK },
	{ "table", "move", G_MOVE },
	{ "table", "sort", G_SORT },
	{ "utf8", "char", G_BYTES },
	{ "utf8", "codepoint", G_BYTES },
	{ "utf8", "codes", G_BYTES },
	{ "utf8", "len", G_BYTES },
	{ "utf8", "offset", G_BYTES },
	{ "coroutine", "resume", G_RESUME },
	{ "coroutine", "close", G_CLOSE },
	{ "os", "date", G_BYTES },
};

static double
integer_arg(lua_State *L, int idx, double otherwise)
{
	int ok;
	lua_Integer v = lua_tointegerx(L, idx, &ok);

	return ok ? (double)v : otherwise;
}

static double
raw_length(lua_State *L, int idx)
{
	return lua_type(L, idx) == LUA_TTABLE ? (double)lua_rawlen(L, idx) : 0;
}

static double
string_length(lua_State *L, int idx)
{
	return lua_type(L, idx) == LUA_TSTRING ? (double)lua_rawlen(L, idx) : 0;
}

/*
 * Elements that table.concat (first = 3) or table.unpack (first = 2) will
 * visit: the given range, but for concat never more than the raw length,
 * because a missing element stops it with an error.
 */
static double
list_work(lua_State *L, int first, bool stops_at_nil)
{
	double raw = raw_length(L, 1);
	double i = integer_arg(L, first, 1);
	double j = integer_arg(L, first + 1, raw);
	double range = j >= i ? j - i + 1 : 0;

	if (stops_at_nil && range > raw)
		range = raw;
	return range;
}

/* Estimated work of a call of the function guarded by g, in instructions. */
static uint64_t
cost(lua_State *L, enum guard g)
{
	int n = lua_gettop(L);
	double work = n, reps, size;

	switch (g) {
	case G_BYTES:
		for (int i = 1; i <= n; i++)
			work += string_length(L, i);
		break;
	case G_REP:
		/* Also counts repetitions: string.rep("", 1e15) copies nothing but loops. */
		reps = integer_arg(L, 2, 0);
		size = string_length(L, 1) + string_length(L, 3);
		if (reps > 0)
			work += reps * (size + 1);
		break;
	case G_CONCAT:
		work += list_work(L, 3, true);
		break;
	case G_UNPACK:
		work += list_work(L, 2, false);
		break;
	case G_MOVE:
		if (integer_arg(L, 3, 0) >= integer_arg(L, 2, 1))
			work += integer_arg(L, 3, 0) - integer_arg(L, 2, 1) + 1;
		return 1 + to_u64(work);
	case G_SORT:
		size = raw_length(L, 1);
		if (size > 1)
			return 1 + to_u64(size * ceil(log2(size)));
		break;
	default:
		break;
	}
	return 1 + to_u64(work / TT_SANDBOX_WORK_PER_INSN);
}

static bool
killed(lua_State *co)
{
	int status = lua_status(co);

	return status != LUA_OK && status != LUA_YIELD;
}

/* Remembers that the coroutine at idx was killed by an abort. */
static void
poison(lua_State *L, struct tt_sandbox *sb, int idx)
{
	bool was = sb->poison_all;

	/* If the set cannot grow, every killed coroutine counts as poisoned. */
	sb->poison_all = true;
	idx = lua_absindex(L, idx);
	luaL_checkstack(L, 3, NULL);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &poison_key);
	lua_pushvalue(L, idx);
	lua_pushboolean(L, 1);
	lua_rawset(L, -3);
	lua_pop(L, 1);
	sb->poison_all = was;
}

static bool
poisoned(lua_State *L, struct tt_sandbox *sb, int idx)
{
	bool marked;

	if (sb->poison_all)
		return true;
	luaL_checkstack(L, 2, NULL);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &poison_key);
	lua_pushvalue(L, idx);
	marked = lua_rawget(L, -2) != LUA_TNIL;
	lua_pop(L, 2);
	return marked;
}

static int
resume_guarded(lua_State *L, lua_CFunction resume)
{
	struct tt_sandbox *sb = tt_sandbox_of(L);
	lua_State *co = lua_tothread(L, 1);
	int n = resume(L);

	if (co != NULL && sb->abort != TT_SANDBOX_OK && killed(co))
		poison(L, sb, 1);
	tt_sandbox_charge(L, 0);
	return n;
}

/* coroutine.close of a coroutine killed by an abort: reports its error, closes nothing. */
static bool
close_rejected(lua_State *L)
{
	lua_State *co = lua_tothread(L, 1);

	if (co == NULL || !killed(co) || !poisoned(L, tt_sandbox_of(L), 1))
		return false;
	luaL_checkstack(L, 2, NULL);
	lua_pushboolean(L, 0);
	if (lua_gettop(co) > 0 && lua_checkstack(co, 1)) {
		lua_pushvalue(co, -1);
		lua_xmove(co, L, 1);
	} else {
		lua_pushnil(L);
	}
	return true;
}

/*
 * Upvalues: the stock C function and its guard. The stock function runs in
 * this frame, so its error messages name the function the rule called.
 */
static int
guarded(lua_State *L)
{
	lua_CFunction fn = lua_tocfunction(L, lua_upvalueindex(1));
	enum guard g = (enum guard)lua_tointeger(L, lua_upvalueindex(2));

	tt_sandbox_charge(L, cost(L, g));
	switch (g) {
	case G_SETMETATABLE:
		if (lua_type(L, 2) == LUA_TTABLE) {
			lua_pushliteral(L, "__gc");
			if (lua_rawget(L, 2) != LUA_TNIL)
				return luaL_error(L, "__gc metamethods are not allowed in rules");
			lua_pop(L, 1);
		}
		break;
	case G_RESUME:
		return resume_guarded(L, fn);
	case G_CLOSE:
		if (close_rejected(L))
			return 2;
		break;
	default:
		break;
	}
	return fn(L);
}

static enum guard
guard_of(const char *lib, const char *name)
{
	for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
		if (strcmp(specials[i].lib, lib) == 0 && strcmp(specials[i].name, name) == 0)
			return specials[i].guard;
	}
	return G_CALL;
}

/* Wraps every C function without upvalues in the global table lib. */
static void
guard_library(lua_State *L, const char *lib)
{
	if (strcmp(lib, "_G") == 0)
		lua_pushglobaltable(L);
	else if (lua_getglobal(L, lib) != LUA_TTABLE)
		luaL_error(L, "library %s is missing", lib);

	lua_pushnil(L);
	while (lua_next(L, -2) != 0) {
		/* stack: lib, key, value */
		if (lua_type(L, -2) == LUA_TSTRING && lua_iscfunction(L, -1)) {
			if (lua_getupvalue(L, -1, 1) != NULL) {
				lua_pop(L, 1);
			} else {
				lua_pushvalue(L, -2);
				lua_pushvalue(L, -2);
				lua_pushinteger(L, guard_of(lib, lua_tostring(L, -4)));
				lua_pushcclosure(L, guarded, 2);
				lua_rawset(L, -5);
			}
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

/* ---- Functions written for the sandbox ---- */

/* table.insert for tables (not proxies), charging the elements it shifts. */
static int
table_insert(lua_State *L)
{
	lua_Integer size, end, pos;

	luaL_checktype(L, 1, LUA_TTABLE);
	size = luaL_len(L, 1);
	end = (lua_Integer)((lua_Unsigned)size + 1u);
	switch (lua_gettop(L)) {
	case 2:
		tt_sandbox_charge(L, 1);
		pos = end;
		break;
	case 3:
		pos = luaL_checkinteger(L, 2);
		luaL_argcheck(L, (lua_Unsigned)pos - 1u < (lua_Unsigned)end, 2,
			      "position out of bounds");
		tt_sandbox_charge(L, 1 + ((lua_Unsigned)end - (lua_Unsigned)pos));
		for (lua_Integer i = end; i > pos; i--) {
			lua_geti(L, 1, i - 1);
			lua_seti(L, 1, i);
		}
		break;
	default:
		return luaL_error(L, "wrong number of arguments to 'insert'");
	}
	lua_seti(L, 1, pos);
	return 0;
}

/* table.remove for tables (not proxies), charging the elements it shifts. */
static int
table_remove(lua_State *L)
{
	lua_Integer size, pos;

	luaL_checktype(L, 1, LUA_TTABLE);
	size = luaL_len(L, 1);
	pos = luaL_optinteger(L, 2, size);
	if (pos != size)
		luaL_argcheck(L, (lua_Unsigned)pos - 1u <= (lua_Unsigned)size, 2,
			      "position out of bounds");
	tt_sandbox_charge(L, 1 + (pos < size ? (lua_Unsigned)size - (lua_Unsigned)pos : 0));

	lua_geti(L, 1, pos);
	for (; pos < size; pos++) {
		lua_geti(L, 1, pos + 1);
		lua_seti(L, 1, pos);
	}
	lua_pushnil(L);
	lua_seti(L, 1, pos);
	return 1;
}

/* Upvalue: the rule's handler. Skipped while aborting, because no hook could stop it. */
static int
handler_guard(lua_State *L)
{
	if (tt_sandbox_of(L)->abort != TT_SANDBOX_OK)
		return 1;
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	return 1;
}

static int
xpcall_done(lua_State *L, int status, lua_KContext extra)
{
	if (status != LUA_OK && status != LUA_YIELD) {
		lua_pushboolean(L, 0);
		lua_pushvalue(L, -2);
		return 2;
	}
	return lua_gettop(L) - (int)extra;
}

/* xpcall(f, handler, ...) with the handler behind handler_guard. */
static int
xpcall_guarded(lua_State *L)
{
	int n = lua_gettop(L), status;

	tt_sandbox_charge(L, 1 + (uint64_t)n / TT_SANDBOX_WORK_PER_INSN);
	luaL_checktype(L, 2, LUA_TFUNCTION);
	lua_pushvalue(L, 2);
	lua_pushcclosure(L, handler_guard, 1);
	lua_replace(L, 2);

	/* f, handler, true, f, args...: the results follow the true at index 3. */
	lua_pushboolean(L, 1);
	lua_pushvalue(L, 1);
	lua_rotate(L, 3, 2);
	status = lua_pcallk(L, n - 2, LUA_MULTRET, 2, 2, xpcall_done);
	return xpcall_done(L, status, 2);
}

static int
close_thread(lua_State *co, lua_State *from)
{
#if LUA_VERSION_RELEASE_NUM >= 50406
	return lua_closethread(co, from);
#else
	(void)from;
	return lua_resetthread(co);
#endif
}

/* The function returned by coroutine.wrap. Upvalue: the coroutine. */
static int
wrap_call(lua_State *L)
{
	struct tt_sandbox *sb = tt_sandbox_of(L);
	lua_State *co = lua_tothread(L, lua_upvalueindex(1));
	int nargs = lua_gettop(L), nres, status;

	tt_sandbox_charge(L, 1 + (uint64_t)nargs / TT_SANDBOX_WORK_PER_INSN);
	if (lua_status(co) == LUA_OK && lua_gettop(co) == 0)
		return luaL_error(L, "cannot resume dead coroutine");
	if (!lua_checkstack(co, nargs))
		return luaL_error(L, "too many arguments to resume");
	lua_xmove(L, co, nargs);
	status = lua_resume(co, L, nargs, &nres);
	if (status == LUA_OK || status == LUA_YIELD) {
		if (!lua_checkstack(L, nres + 1)) {
			lua_pop(co, nres);
			return luaL_error(L, "too many results to resume");
		}
		lua_xmove(co, L, nres);
		return nres;
	}

	/* Close the dead coroutine's variables, unless an abort killed it without hooks. */
	if (killed(co)) {
		if (sb->abort != TT_SANDBOX_OK)
			poison(L, sb, lua_upvalueindex(1));
		else
			close_thread(co, L);
	}
	lua_xmove(co, L, 1);
	if (lua_type(L, -1) == LUA_TSTRING) {
		luaL_where(L, 1);
		lua_insert(L, -2);
		lua_concat(L, 2);
	}
	return lua_error(L);
}

static int
wrap(lua_State *L)
{
	lua_State *co;

	tt_sandbox_charge(L, 1);
	luaL_checktype(L, 1, LUA_TFUNCTION);
	co = lua_newthread(L);
	lua_pushvalue(L, 1);
	lua_xmove(L, co, 1);
	lua_pushcclosure(L, wrap_call, 1);
	return 1;
}

/* Upvalue: a reader function of load(). Charges each piece it returns. */
static int
read_charged(lua_State *L)
{
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_call(L, 0, 1);
	if (lua_type(L, -1) == LUA_TSTRING)
		tt_sandbox_charge(L, 1 + lua_rawlen(L, -1));
	return 1;
}

/* load() for text chunks only. Upvalue: the stock load. */
static int
load_text(lua_State *L)
{
	lua_CFunction load = lua_tocfunction(L, lua_upvalueindex(1));

	tt_sandbox_charge(L, 1 + (uint64_t)string_length(L, 1));
	if (lua_type(L, 1) == LUA_TFUNCTION) {
		lua_pushvalue(L, 1);
		lua_pushcclosure(L, read_charged, 1);
		lua_replace(L, 1);
	}

	/* Mode "t" in slot 3; an absent environment stays absent (the globals). */
	if (lua_gettop(L) < 3) {
		lua_settop(L, 2);
		lua_pushliteral(L, "t");
	} else {
		lua_pushliteral(L, "t");
		lua_replace(L, 3);
	}
	return load(L);
}

static int
collect_count(lua_State *L)
{
	const char *opt = luaL_optstring(L, 1, "collect");

	tt_sandbox_charge(L, 1);
	if (strcmp(opt, "count") != 0)
		return luaL_error(L, "collectgarbage(\"%s\") is not allowed in a rule, only \"count\"",
				  opt);
	lua_pushnumber(L, (lua_Number)lua_gc(L, LUA_GCCOUNT) +
			  (lua_Number)lua_gc(L, LUA_GCCOUNTB) / 1024.0);
	return 1;
}

static int
print_log(lua_State *L)
{
	tt_sandbox_log(L, TT_LOG_INFO, "print", 1);
	return 0;
}

/*
 * Reads a whole file of at most TT_SANDBOX_FILE_MAX bytes. Returns a
 * malloc'd buffer, or NULL with a message in err.
 */
static char *
read_file(const char *path, size_t *len, char *err, size_t errsize)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		snprintf(err, errsize, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errsize, "%s: not a regular file", path);
		goto fail;
	}
	if (st.st_size > TT_SANDBOX_FILE_MAX) {
		snprintf(err, errsize, "%s: larger than %d bytes", path, TT_SANDBOX_FILE_MAX);
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		snprintf(err, errsize, "%s: out of memory", path);
		goto fail;
	}

	/* Reads one byte more than fstat saw, to notice a file that grew. */
	while (got <= (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size + 1 - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errsize, "%s: read failed: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got > (size_t)st.st_size) {
		snprintf(err, errsize, "%s: changed while being read", path);
		goto fail;
	}
	close(fd);
	*len = got;
	return buf;

fail:
	free(buf);
	close(fd);
	return NULL;
}

void
tt_sandbox_load_file(lua_State *L, const char *path)
{
	char err[TT_SANDBOX_MSG_MAX];
	char *buf;
	size_t len;
	int status;

	buf = read_file(path, &len, err, sizeof(err));
	if (buf == NULL) {
		luaL_error(L, "%s", err);
		return;
	}
	lua_pushliteral(L, "@");
	lua_pushstring(L, path);
	lua_concat(L, 2);
	status = luaL_loadbufferx(L, buf, len, lua_tostring(L, -1), "t");
	free(buf);
	lua_remove(L, -2);
	tt_sandbox_charge(L, 1 + len);
	if (status != LUA_OK)
		lua_error(L);
}

/*
 * Turns a module name into a relative path: segments of letters, digits,
 * '_' and '-' joined by dots, which become slashes. Rejects anything else,
 * so no name reaches outside the module folders. Returns 0 or -1.
 */
static int
module_path(const char *name, char *out, size_t size)
{
	size_t n = strlen(name), seg = 0;

	if (n == 0 || n > MODULE_NAME_MAX || n + 5 > size)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (c == '.') {
			if (seg == 0)
				return -1;
			out[i] = '/';
			seg = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c == '_' || c == '-') {
			out[i] = c;
			seg++;
		} else {
			return -1;
		}
	}
	if (seg == 0)
		return -1;
	memcpy(out + n, ".lua", 5);
	return 0;
}

/* Finds rel in lua_path, then in lua_dir. Returns 0 with the path, or -1. */
static int
find_module(const struct tt_sandbox *sb, const char *rel, char *path, size_t size)
{
	const char *dirs[] = { sb->lua_path, sb->lua_dir };
	struct stat st;

	for (size_t i = 0; i < 2; i++) {
		if (dirs[i] == NULL || dirs[i][0] == '\0')
			continue;
		if (snprintf(path, size, "%s/%s", dirs[i], rel) >= (int)size)
			continue;
		if (stat(path, &st) == 0 || errno != ENOENT)
			return 0;
	}
	return -1;
}

static int
require_module(lua_State *L)
{
	struct tt_sandbox *sb = tt_sandbox_of(L);
	const char *name = luaL_checkstring(L, 1);
	char rel[MODULE_NAME_MAX + 8], path[PATH_MAX];

	tt_sandbox_charge(L, 1);
	lua_settop(L, 1);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &loaded_key);
	lua_pushvalue(L, 1);
	if (lua_rawget(L, 2) != LUA_TNIL)
		return 1;
	lua_pop(L, 1);

	if (strcmp(name, "tattletale") == 0) {
		if (sb->open_module == NULL)
			return luaL_error(L, "module 'tattletale' is not available here");
		lua_pushcfunction(L, sb->open_module);
		lua_call(L, 0, 1);
	} else {
		if (module_path(name, rel, sizeof(rel)) == -1)
			return luaL_argerror(L, 1, "invalid module name (use letters, digits, '_', '-' and dots)");
		if (find_module(sb, rel, path, sizeof(path)) == -1)
			return luaL_error(L, "module '%s' not found: looked for %s in %s and %s "
					  "(set lua_path, or TATTLETALE_LUA_DIR for the shipped folder)",
					  name, rel, sb->lua_path != NULL ? sb->lua_path : "(no lua_path)",
					  sb->lua_dir != NULL ? sb->lua_dir : "(no lua folder)");
		tt_sandbox_load_file(L, path);
		lua_pushvalue(L, 1);
		lua_pushstring(L, path);
		lua_call(L, 2, 1);
	}

	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		lua_pushboolean(L, 1);
	}
	lua_pushvalue(L, 1);
	lua_pushvalue(L, -2);
	lua_rawset(L, 2);
	return 1;
}

/* ---- Setting up a state ---- */

/* Keeps only time, clock and date of the os library. */
static void
trim_os(lua_State *L)
{
	static const char *const keep[] = { "time", "clock", "date" };

	lua_getglobal(L, "os");
	lua_createtable(L, 0, 3);
	for (size_t i = 0; i < 3; i++) {
		lua_getfield(L, -2, keep[i]);
		lua_setfield(L, -2, keep[i]);
	}
	lua_pushvalue(L, -1);
	lua_setglobal(L, "os");
	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
	lua_pushvalue(L, -2);
	lua_setfield(L, -2, "os");
	lua_pop(L, 3);
}

static void
set_function(lua_State *L, const char *lib, const char *name, lua_CFunction fn, int nup)
{
	lua_getglobal(L, lib);
	lua_insert(L, -1 - nup);
	lua_pushcclosure(L, fn, nup);
	lua_setfield(L, -2, name);
	lua_pop(L, 1);
}

int
tt_sandbox_open_library(lua_State *L)
{
	static const luaL_Reg libs[] = {
		{ LUA_GNAME, luaopen_base },
		{ LUA_STRLIBNAME, luaopen_string },
		{ LUA_TABLIBNAME, luaopen_table },
		{ LUA_MATHLIBNAME, luaopen_math },
		{ LUA_UTF8LIBNAME, luaopen_utf8 },
		{ LUA_COLIBNAME, luaopen_coroutine },
		{ LUA_OSLIBNAME, luaopen_os },
	};
	lua_CFunction stock_load;

	for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]); i++) {
		luaL_requiref(L, libs[i].name, libs[i].func, 1);
		lua_pop(L, 1);
	}

	/* Remove what reaches the host: files, processes, bytecode. */
	lua_pushnil(L);
	lua_setglobal(L, "dofile");
	lua_pushnil(L);
	lua_setglobal(L, "loadfile");
	lua_getglobal(L, LUA_STRLIBNAME);
	lua_pushnil(L);
	lua_setfield(L, -2, "dump");
	tt_lpattern_install(L, -1, charge_steps, tt_sandbox_of(L));
	lua_pop(L, 1);
	trim_os(L);

	lua_getglobal(L, "load");
	stock_load = lua_tocfunction(L, -1);
	lua_pop(L, 1);
	for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]); i++)
		guard_library(L, libs[i].name);

	lua_pushcfunction(L, stock_load);
	set_function(L, LUA_GNAME, "load", load_text, 1);
	set_function(L, LUA_GNAME, "xpcall", xpcall_guarded, 0);
	set_function(L, LUA_GNAME, "print", print_log, 0);
	set_function(L, LUA_GNAME, "collectgarbage", collect_count, 0);
	set_function(L, LUA_GNAME, "require", require_module, 0);
	set_function(L, LUA_TABLIBNAME, "insert", table_insert, 0);
	set_function(L, LUA_TABLIBNAME, "remove", table_remove, 0);
	set_function(L, LUA_COLIBNAME, "wrap", wrap, 0);

	lua_newtable(L);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &loaded_key);
	lua_newtable(L);
	lua_createtable(L, 0, 1);
	lua_pushliteral(L, "k");
	lua_setfield(L, -2, "__mode");
	lua_setmetatable(L, -2);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &poison_key);

	tt_luajson_setup(L);
	return 0;
}
