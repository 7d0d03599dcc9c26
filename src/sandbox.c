/* SPDX-License-Identifier: MIT */
/*
 * The Lua state of one rule: its allocator, its restricted library and
 * the budgets of each call.
 *
 * Memory. The allocator counts the bytes in use and rejects any growth
 * past the cap, at every moment of the state's life, lua_close included.
 * Shrinking and freeing never fail, as Lua 5.4 requires: a shrinking
 * realloc that fails keeps the old block.
 *
 * Budgets. A count hook fires every HOOK_COUNT VM instructions in every
 * thread (a coroutine inherits the hook of the thread that creates it). It
 * adds the count to the call's total and checks the deadline on
 * CLOCK_MONOTONIC. Library functions written in C do not run VM
 * instructions, so each one is wrapped to charge an estimate of its work
 * before it runs: one instruction plus one per WORK_PER_INSN arguments or
 * bytes of string arguments, and for these functions more:
 *   string.rep		result bytes and repetitions
 *   table.concat	elements, table.unpack elements
 *   table.move		elements moved
 *   table.sort		n * log2(n) comparisons (a Lua comparator also
 *			runs under the hook)
 *   table.insert	elements shifted (reimplemented here, one call of
 *   table.remove	__len only, so a lying __len cannot hide the work)
 *   load		one instruction per byte of source
 *   require		one instruction per byte of the module file
 * string.find, match, gmatch and gsub come from lpattern.c and charge
 * their matching steps the same way. The deadline is read again after
 * every CLOCK_EVERY charged instructions.
 *
 * Aborting. A call that exceeds a budget raises an error and sets the
 * sandbox's abort state. While it is set, the hook of every thread raises
 * again before each instruction and every wrapped C function raises on
 * entry, so pcall, xpcall and coroutines cannot keep the rule running. The
 * top-level call then reports the budget, whatever the rule did with the
 * error.
 *
 * Lua 5.4.4 runs no hook inside a __gc metamethod, inside a message
 * handler called for an error that a hook raised, or in a coroutine that
 * such an error killed (its to-be-closed variables would close without
 * hooks). So setmetatable() rejects a metatable with a __gc field, xpcall
 * skips the rule's handler while aborting, and coroutine.wrap and
 * coroutine.close never close a coroutine that an abort killed.
 *
 * NOTE: one VM instruction can do work proportional to the size of its
 * operands (concatenating or comparing strings of many MiB, copying a long
 * vararg list). The hook sees such work only every HOOK_COUNT instructions;
 * growth by more than NUDGE_BYTES brings the next hook of the main thread
 * forward, but comparisons and coroutines are not covered, so such loops
 * can overshoot the deadline by up to HOOK_COUNT of those instructions.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "lpattern.h"
#include "luajson.h"
#include "sandbox.h"

#define HOOK_COUNT 1000			/* instructions between two hooks */
#define CLOCK_EVERY 1000		/* charged instructions between two clock reads */
#define WORK_PER_INSN 8			/* bytes, arguments or pattern steps per instruction */
#define NUDGE_BYTES (1024 * 1024)	/* growth that brings the next hook forward */
#define LOG_BURST 100			/* log records of one rule ... */
#define LOG_INTERVAL_MS 1000		/* ... per interval */
#define MODULE_NAME_MAX 128

struct tt_sandbox {
	lua_State *L;
	char *name;
	char *path;
	char *lua_path;
	char *lua_dir;
	char logname[128];		/* name escaped for logs */
	lua_CFunction open_module;
	void *owner;

	size_t used;			/* bytes in use */
	size_t limit;			/* 0: none */
	bool over_limit;		/* an allocation was rejected at the cap during this call */
	size_t grown;			/* growth since the last nudge */

	uint64_t budget;		/* instructions per call */
	int64_t time_ms;
	uint64_t count;			/* instructions charged in this call */
	uint64_t clock_at;		/* count at which to read the clock again */
	int64_t deadline;		/* CLOCK_MONOTONIC ns */
	bool in_call;
	bool closing;
	enum tt_sandbox_status abort;	/* TT_SANDBOX_OK, or the budget being enforced */
	char abort_msg[TT_SANDBOX_MSG_MAX];
	bool poison_all;		/* the set of killed coroutines may be incomplete */

	char trace[TT_SANDBOX_TRACE_MAX];
	char warning[512];		/* pieces of a warning being assembled */
	struct tt_ratelimit ratelimit;
};

/* Registry keys: only the addresses matter. */
static const char loaded_key;		/* modules returned by require() */
static const char poison_key;		/* coroutines killed by an abort (weak keys) */

static void hook(lua_State *L, lua_Debug *ar);

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t
to_u64(double x)
{
	if (!(x > 0))
		return 0;
	if (x >= 1e18)
		return UINT64_C(1000000000000000000);
	return (uint64_t)x;
}

/* The allocator of every state: counts bytes and enforces the cap. */
static void *
alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct tt_sandbox *sb = ud;
	size_t old = ptr != NULL ? osize : 0;
	void *p;

	if (nsize == 0) {
		free(ptr);
		sb->used -= old;
		return NULL;
	}
	if (nsize > old && sb->limit != 0 && nsize - old > sb->limit - sb->used) {
		sb->over_limit = true;
		return NULL;
	}

	p = realloc(ptr, nsize);
	if (p == NULL)
		return nsize <= old ? ptr : NULL;
	sb->used = sb->used - old + nsize;

	/* Long strings and big tables grow in few instructions: check soon. */
	if (nsize > old && sb->in_call && !sb->closing && sb->L != NULL) {
		sb->grown += nsize - old;
		if (sb->grown >= NUDGE_BYTES) {
			sb->grown = 0;
			lua_sethook(sb->L, hook, LUA_MASKCOUNT, 1);
		}
	}
	return p;
}

struct tt_sandbox *
tt_sandbox_of(lua_State *L)
{
	void *ud = NULL;

	lua_getallocf(L, &ud);
	return ud;
}

/* Writes "source:line: " of the innermost Lua function that has a current line. */
static void
where(lua_State *L, const struct tt_sandbox *sb, char *buf, size_t size)
{
	lua_Debug ar;

	for (int level = 0; level < 64 && lua_getstack(L, level, &ar); level++) {
		if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
			snprintf(buf, size, "%s:%d: ", ar.short_src, ar.currentline);
			return;
		}
	}
	snprintf(buf, size, "%s: ", sb->path);
}

static int
reraise(lua_State *L, struct tt_sandbox *sb)
{
	lua_pushstring(L, sb->abort_msg);
	return lua_error(L);
}

/* Starts aborting the call: from now on every thread raises at its next instruction. */
static int
abort_call(lua_State *L, struct tt_sandbox *sb, enum tt_sandbox_status why)
{
	char at[TT_SANDBOX_MSG_MAX / 2];

	where(L, sb, at, sizeof(at));
	if (why == TT_SANDBOX_INSTRUCTIONS)
		snprintf(sb->abort_msg, sizeof(sb->abort_msg),
			 "%sinstruction budget exceeded (limit %" PRIu64 ")", at, sb->budget);
	else
		snprintf(sb->abort_msg, sizeof(sb->abort_msg),
			 "%stime budget exceeded (limit %" PRId64 " ms)", at, sb->time_ms);
	sb->abort = why;
	lua_sethook(L, hook, LUA_MASKCOUNT, 1);
	if (L != sb->L)
		lua_sethook(sb->L, hook, LUA_MASKCOUNT, 1);
	return reraise(L, sb);
}

static void
add(struct tt_sandbox *sb, uint64_t n)
{
	sb->count = UINT64_MAX - sb->count < n ? UINT64_MAX : sb->count + n;
}

static void
hook(lua_State *L, lua_Debug *ar)
{
	struct tt_sandbox *sb = tt_sandbox_of(L);
	int count = lua_gethookcount(L);

	(void)ar;
	if (!sb->in_call)
		return;
	if (sb->abort != TT_SANDBOX_OK) {
		if (count != 1)
			lua_sethook(L, hook, LUA_MASKCOUNT, 1);
		reraise(L, sb);
		return;
	}

	/* Back to the normal rate after a nudge or after an abort in an earlier call. */
	if (count != HOOK_COUNT)
		lua_sethook(L, hook, LUA_MASKCOUNT, HOOK_COUNT);
	add(sb, (uint64_t)count);
	if (sb->count > sb->budget)
		abort_call(L, sb, TT_SANDBOX_INSTRUCTIONS);
	if (now_ns() > sb->deadline)
		abort_call(L, sb, TT_SANDBOX_TIME);
	sb->clock_at = sb->count + CLOCK_EVERY;
}

void
tt_sandbox_charge(lua_State *L, uint64_t instructions)
{
	struct tt_sandbox *sb = tt_sandbox_of(L);

	if (!sb->in_call)
		return;
	if (sb->abort != TT_SANDBOX_OK) {
		lua_sethook(L, hook, LUA_MASKCOUNT, 1);
		reraise(L, sb);
	}
	add(sb, instructions);
	if (sb->count > sb->budget)
		abort_call(L, sb, TT_SANDBOX_INSTRUCTIONS);
	if (sb->count >= sb->clock_at) {
		sb->clock_at = sb->count + CLOCK_EVERY;
		if (now_ns() > sb->deadline)
			abort_call(L, sb, TT_SANDBOX_TIME);
	}
}

static void
charge_steps(lua_State *L, void *ud, uint64_t steps)
{
	(void)ud;
	tt_sandbox_charge(L, steps / WORK_PER_INSN);
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
	return 1 + to_u64(work / WORK_PER_INSN);
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

	tt_sandbox_charge(L, 1 + (uint64_t)n / WORK_PER_INSN);
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

	tt_sandbox_charge(L, 1 + (uint64_t)nargs / WORK_PER_INSN);
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

/* Pushes the chunk of a text file named "@path", or raises an error. */
static void
load_file(lua_State *L, const char *path)
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
		load_file(L, path);
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

/* ---- Logging ---- */

void
tt_sandbox_log(lua_State *L, enum tt_log_level level, const char *event, int first)
{
	struct tt_sandbox *sb = tt_sandbox_of(L);
	int top = lua_gettop(L);
	char msg[1024];
	unsigned long suppressed;
	luaL_Buffer b;
	const char *text;
	size_t len;

	tt_sandbox_charge(L, 1 + (uint64_t)(top >= first ? top - first + 1 : 0) / WORK_PER_INSN);
	if (!tt_log_enabled(level))
		return;

	luaL_buffinit(L, &b);
	for (int i = first; i <= top; i++) {
		luaL_tolstring(L, i, NULL);
		luaL_addvalue(&b);
		if (i < top)
			luaL_addchar(&b, ' ');
	}
	luaL_pushresult(&b);
	text = lua_tolstring(L, -1, &len);
	tt_sandbox_charge(L, len / WORK_PER_INSN);

	if (!tt_ratelimit_allow(&sb->ratelimit, tt_now_mono_ms(), &suppressed)) {
		lua_pop(L, 1);
		return;
	}
	if (suppressed > 0)
		tt_log(TT_LOG_WARN, "rule", "log suppressed rule=%s records=%lu", sb->logname,
		       suppressed);
	tt_log(level, "rule", "%s rule=%s msg=\"%s\"", event, sb->logname,
	       tt_log_quote(text, len, msg, sizeof(msg)));
	lua_pop(L, 1);
}

/* Receives warn() and errors of __close handlers; "@on"/"@off" controls are ignored. */
static void
warnf(void *ud, const char *piece, int tocont)
{
	struct tt_sandbox *sb = ud;
	size_t len = strlen(sb->warning), add = strlen(piece);
	char msg[1024];
	unsigned long suppressed;

	if (len == 0 && !tocont && piece[0] == '@')
		return;
	if (add > sizeof(sb->warning) - 1 - len)
		add = sizeof(sb->warning) - 1 - len;
	memcpy(sb->warning + len, piece, add);
	sb->warning[len + add] = '\0';
	if (tocont)
		return;

	if (tt_ratelimit_allow(&sb->ratelimit, tt_now_mono_ms(), &suppressed)) {
		if (suppressed > 0)
			tt_log(TT_LOG_WARN, "rule", "log suppressed rule=%s records=%lu",
			       sb->logname, suppressed);
		tt_log(TT_LOG_WARN, "rule", "warning rule=%s msg=\"%s\"", sb->logname,
		       tt_log_quote(sb->warning, strlen(sb->warning), msg, sizeof(msg)));
	}
	sb->warning[0] = '\0';
}

static int
panic(lua_State *L)
{
	const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?";
	char text[TT_SANDBOX_MSG_MAX];

	tt_log(TT_LOG_ERROR, "rule", "panic rule=%s error=\"%s\"", tt_sandbox_of(L)->logname,
	       tt_log_quote(msg, strlen(msg), text, sizeof(text)));
	abort();
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

static int
setup(lua_State *L)
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

/* ---- Calls ---- */

static void
begin(struct tt_sandbox *sb)
{
	int64_t now = now_ns();

	sb->in_call = true;
	sb->count = 0;
	sb->clock_at = CLOCK_EVERY;
	if (sb->time_ms > 0 && sb->time_ms < (INT64_MAX - now) / 1000000)
		sb->deadline = now + sb->time_ms * 1000000;
	else
		sb->deadline = INT64_MAX;
	sb->abort = TT_SANDBOX_OK;
	sb->over_limit = false;
	sb->grown = 0;
	sb->trace[0] = '\0';
}

static void
end(struct tt_sandbox *sb)
{
	lua_sethook(sb->L, hook, LUA_MASKCOUNT, HOOK_COUNT);
	sb->abort = TT_SANDBOX_OK;
	sb->in_call = false;
}

/* Message handler of every call: keeps the message, stores a traceback. */
static int
msgh(lua_State *L)
{
	struct tt_sandbox *sb = tt_sandbox_of(L);
	const char *tb;
	size_t len;

	if (sb->abort != TT_SANDBOX_OK)
		return 1;
	if (lua_type(L, 1) == LUA_TNUMBER) {
		lua_tostring(L, 1);
	} else if (lua_type(L, 1) != LUA_TSTRING) {
		if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) {
			lua_replace(L, 1);
		} else {
			lua_settop(L, 1);
			lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
			lua_replace(L, 1);
		}
	}

	luaL_traceback(L, L, NULL, 1);
	tb = lua_tolstring(L, -1, &len);
	if (len >= sizeof(sb->trace))
		len = sizeof(sb->trace) - 1;
	memcpy(sb->trace, tb, len);
	sb->trace[len] = '\0';
	lua_settop(L, 1);
	return 1;
}

static void
copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src);
}

static void
classify(struct tt_sandbox *sb, int status, struct tt_sandbox_result *res)
{
	lua_State *L = sb->L;

	if (sb->abort != TT_SANDBOX_OK) {
		res->status = sb->abort;
		copy(res->message, sizeof(res->message), sb->abort_msg);
		return;
	}
	switch (status) {
	case LUA_OK:
		res->status = TT_SANDBOX_OK;
		break;
	case LUA_ERRMEM:
		res->status = TT_SANDBOX_MEMORY;
		if (sb->over_limit)
			snprintf(res->message, sizeof(res->message),
				 "%s: memory limit exceeded (limit %zu bytes)", sb->path, sb->limit);
		else
			snprintf(res->message, sizeof(res->message), "%s: not enough memory",
				 sb->path);
		break;
	default:
		res->status = TT_SANDBOX_ERROR;
		copy(res->message, sizeof(res->message),
		     lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) :
		     "(error object is not a string)");
		copy(res->traceback, sizeof(res->traceback), sb->trace);
		break;
	}
}

int
tt_sandbox_call(struct tt_sandbox *sb, lua_CFunction fn, void *arg, struct tt_sandbox_result *res)
{
	lua_State *L = sb->L;
	int base, status;

	res->status = TT_SANDBOX_OK;
	res->message[0] = '\0';
	res->traceback[0] = '\0';
	if (sb->in_call) {
		res->status = TT_SANDBOX_ERROR;
		snprintf(res->message, sizeof(res->message), "%s: the rule is already running",
			 sb->path);
		return -1;
	}
	if (!lua_checkstack(L, 3)) {
		res->status = TT_SANDBOX_MEMORY;
		snprintf(res->message, sizeof(res->message), "%s: not enough memory", sb->path);
		return -1;
	}

	begin(sb);
	base = lua_gettop(L);
	lua_pushcfunction(L, msgh);
	lua_pushcfunction(L, fn);
	lua_pushlightuserdata(L, arg);
	status = lua_pcall(L, 1, 0, base + 1);
	classify(sb, status, res);
	lua_settop(L, base);
	end(sb);
	return res->status == TT_SANDBOX_OK ? 0 : -1;
}

static int
run_file(lua_State *L)
{
	load_file(L, lua_touserdata(L, 1));
	lua_call(L, 0, 0);
	return 0;
}

int
tt_sandbox_run_file(struct tt_sandbox *sb, const char *path, struct tt_sandbox_result *res)
{
	return tt_sandbox_call(sb, run_file, (void *)path, res);
}

/* ---- Life cycle ---- */

static char *
dup_or_null(const char *s, bool *failed)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL)
		*failed = true;
	return d;
}

struct tt_sandbox *
tt_sandbox_new(const struct tt_sandbox_config *cfg, char *err, size_t errsize)
{
	struct tt_sandbox *sb;
	struct tt_sandbox_result res;
	bool failed = false;

	sb = calloc(1, sizeof(*sb));
	if (sb == NULL) {
		snprintf(err, errsize, "%s: out of memory", cfg->path);
		return NULL;
	}
	sb->name = dup_or_null(cfg->name, &failed);
	sb->path = dup_or_null(cfg->path, &failed);
	sb->lua_path = dup_or_null(cfg->lua_path, &failed);
	sb->lua_dir = dup_or_null(cfg->lua_dir, &failed);
	if (failed || sb->name == NULL || sb->path == NULL) {
		snprintf(err, errsize, "%s: out of memory", cfg->path);
		goto fail;
	}
	tt_log_escape(sb->name, strlen(sb->name), sb->logname, sizeof(sb->logname));
	sb->open_module = cfg->open_module;
	sb->owner = cfg->owner;
	sb->limit = cfg->memory;
	sb->budget = cfg->instructions > 0 ? (uint64_t)cfg->instructions : UINT64_MAX;
	sb->time_ms = cfg->time_ms;
	sb->ratelimit = (struct tt_ratelimit)TT_RATELIMIT_INIT(LOG_INTERVAL_MS, LOG_BURST);

	sb->L = lua_newstate(alloc, sb);
	if (sb->L == NULL) {
		snprintf(err, errsize, "%s: cannot create a Lua state within %zu bytes",
			 cfg->path, cfg->memory);
		goto fail;
	}
	lua_atpanic(sb->L, panic);
	lua_setwarnf(sb->L, warnf, sb);
	lua_sethook(sb->L, hook, LUA_MASKCOUNT, HOOK_COUNT);
	if (tt_sandbox_call(sb, setup, NULL, &res) == -1) {
		snprintf(err, errsize, "%s", res.message);
		goto fail;
	}
	return sb;

fail:
	tt_sandbox_free(sb);
	return NULL;
}

void
tt_sandbox_free(struct tt_sandbox *sb)
{
	if (sb == NULL)
		return;
	if (sb->L != NULL) {
		begin(sb);
		sb->closing = true;
		lua_close(sb->L);
		sb->L = NULL;
	}
	free(sb->name);
	free(sb->path);
	free(sb->lua_path);
	free(sb->lua_dir);
	free(sb);
}

lua_State *
tt_sandbox_state(const struct tt_sandbox *sb)
{
	return sb->L;
}

void *
tt_sandbox_owner(const struct tt_sandbox *sb)
{
	return sb->owner;
}

const char *
tt_sandbox_name(const struct tt_sandbox *sb)
{
	return sb->name;
}

size_t
tt_sandbox_memory(const struct tt_sandbox *sb)
{
	return sb->used;
}

bool
tt_sandbox_running(const struct tt_sandbox *sb)
{
	return sb->in_call;
}

const char *
tt_sandbox_status_name(enum tt_sandbox_status status)
{
	switch (status) {
	case TT_SANDBOX_OK:
		return "ok";
	case TT_SANDBOX_ERROR:
		return "error";
	case TT_SANDBOX_MEMORY:
		return "memory";
	case TT_SANDBOX_INSTRUCTIONS:
		return "instructions";
	case TT_SANDBOX_TIME:
		return "time";
	}
	return "?";
}
