/* SPDX-License-Identifier: MIT */
/*
 * The Lua state of one rule: its allocator and the budgets of each call.
 * Its restricted library is in sandbox_lib.c.
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
 * instructions, so sandbox_lib.c wraps each one to charge an estimate of
 * its work before it runs: one instruction plus one per
 * TT_SANDBOX_WORK_PER_INSN arguments or bytes of string arguments, and for
 * these functions more:
 *   string.rep		result bytes and repetitions
 *   table.concat	elements, table.unpack elements
 *   table.move		elements moved
 *   table.sort		n * log2(n) comparisons (a Lua comparator also
 *			runs under the hook)
 *   table.insert	elements shifted (reimplemented in sandbox_lib.c, one call of
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
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

#include "sandbox_internal.h"

#define HOOK_COUNT 1000			/* instructions between two hooks */
#define CLOCK_EVERY 1000		/* charged instructions between two clock reads */
#define NUDGE_BYTES (1024 * 1024)	/* growth that brings the next hook forward */
#define LOG_BURST 100			/* log records of one rule ... */
#define LOG_INTERVAL_MS 1000		/* ... per interval */

static void hook(lua_State *L, lua_Debug *ar);

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
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

	tt_sandbox_charge(L, 1 + (uint64_t)(top >= first ? top - first + 1 : 0) /
				     TT_SANDBOX_WORK_PER_INSN);
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
	tt_sandbox_charge(L, len / TT_SANDBOX_WORK_PER_INSN);

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
	tt_sandbox_load_file(L, lua_touserdata(L, 1));
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
	if (tt_sandbox_call(sb, tt_sandbox_open_library, NULL, &res) == -1) {
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
