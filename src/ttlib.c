/* SPDX-License-Identifier: MIT */
/*
 * The "tattletale" module that rules get from require("tattletale"):
 *
 *   tt.event(ns, name, fn)   listens; fn(src, value, meta) runs per message
 *   tt.event(ns, name)       stops listening
 *   tt.event(ns, name, v)    emits v (any third argument but a function,
 *                            an explicit nil included, which sends null)
 *   tt.state, tt.action      the same for the other kinds
 *   tt.after(s, fn), tt.every(s, fn)   timers; the handle has :cancel()
 *   tt.get(ns, name)         the last state seen on ns/name: value, meta
 *   tt.log(level, ...)       a log record with the rule's name
 *   tt.array([t]), tt.object([t])      mark a table for JSON
 *   tt.null, tt.app
 *
 * meta has kind, ns, name, topic, src, ts, id, hop and retained. A rule
 * has one handler per (kind, ns, name); listening again replaces the
 * function and keeps its place in the order. When listening, ns or name
 * may be "*", which matches any single level.
 *
 * Every function here checks the sandbox's abort state on entry, through
 * tt_sandbox_charge, so a rule being aborted cannot emit or listen.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "log.h"
#include "luajson.h"
#include "sandbox.h"
#include "ttlib.h"

#define TIMER_META "tattletale.timer"
#define TIMER_MAX_S 1e9			/* about 31 years */

void
tt_ttlib_init(struct tt_ttlib *lib, struct tt_rule *rule, const struct tt_host *host,
	      int max_depth, size_t max_payload, uint64_t *emits)
{
	memset(lib, 0, sizeof(*lib));
	lib->rule = rule;
	lib->host = host;
	lib->max_depth = max_depth;
	lib->max_payload = max_payload;
	lib->emits = emits;
}

void
tt_ttlib_release(struct tt_ttlib *lib)
{
	for (size_t i = 0; i < lib->nhandlers; i++) {
		struct tt_handler *h = &lib->handlers[i];

		if (lib->host->unlisten != NULL)
			lib->host->unlisten(lib->host->ctx, lib->rule, h->kind, h->ns, h->name);
	}
	free(lib->handlers);
	free(lib->timers);
	lib->handlers = NULL;
	lib->timers = NULL;
	lib->nhandlers = lib->handlers_cap = 0;
	lib->ntimers = lib->timers_cap = 0;
	lib->closed = true;
}

/* The module state of the calling rule; raises when the rule is aborting or released. */
static struct tt_ttlib *
getlib(lua_State *L)
{
	struct tt_ttlib *lib = tt_sandbox_owner(tt_sandbox_of(L));

	tt_sandbox_charge(L, 1);
	if (lib->closed)
		luaL_error(L, "the rule is unloaded or disabled");
	return lib;
}

/* Grows an array to hold one more element. Returns 0 or -1. */
static int
reserve(void **array, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 8;
	p = realloc(*array, ncap * size);
	if (p == NULL)
		return -1;
	*array = p;
	*cap = ncap;
	return 0;
}

/* ---- Handlers ---- */

bool
tt_ttlib_matches(const struct tt_handler *h, const struct tt_message *msg)
{
	return h->kind == msg->topic.kind && tt_topic_part_matches(h->ns, msg->topic.ns) &&
	       tt_topic_part_matches(h->name, msg->topic.name);
}

size_t
tt_ttlib_matching(const struct tt_ttlib *lib, const struct tt_message *msg, uint64_t *ids,
		  size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < lib->nhandlers && n < max; i++) {
		if (tt_ttlib_matches(&lib->handlers[i], msg))
			ids[n++] = lib->handlers[i].id;
	}
	return n;
}

const struct tt_handler *
tt_ttlib_handler(const struct tt_ttlib *lib, uint64_t id)
{
	for (size_t i = 0; i < lib->nhandlers; i++) {
		if (lib->handlers[i].id == id)
			return &lib->handlers[i];
	}
	return NULL;
}

const struct tt_handler *
tt_ttlib_pattern(const struct tt_ttlib *lib, enum tt_kind kind, const char *ns,
		 const char *name)
{
	for (size_t i = 0; i < lib->nhandlers; i++) {
		const struct tt_handler *h = &lib->handlers[i];

		if (h->kind == kind && strcmp(h->ns, ns) == 0 && strcmp(h->name, name) == 0)
			return h;
	}
	return NULL;
}

/* Checks argument idx as a namespace or a name; "*" only when wildcard is set. */
static const char *
check_part(lua_State *L, int idx, bool wildcard)
{
	size_t len;
	const char *s = luaL_checklstring(L, idx, &len);

	if (len == 1 && s[0] == '*') {
		if (!wildcard)
			luaL_argerror(L, idx, "\"*\" is only valid when listening");
		return s;
	}
	if (tt_topic_check_part(s, len) == -1)
		luaL_argerror(L, idx, "invalid topic part (1 to 128 bytes of UTF-8, "
			      "no '/', '+', '#', control characters or leading '$')");
	return s;
}

static int
listen(lua_State *L, struct tt_ttlib *lib, enum tt_kind kind, const char *ns, const char *name)
{
	struct tt_handler *h;
	int ref;

	lua_settop(L, 3);
	h = (struct tt_handler *)tt_ttlib_pattern(lib, kind, ns, name);
	if (h != NULL) {
		ref = luaL_ref(L, LUA_REGISTRYINDEX);
		luaL_unref(L, LUA_REGISTRYINDEX, h->ref);
		h->ref = ref;
		return 0;
	}

	if (lib->nhandlers >= TT_TTLIB_HANDLERS_MAX)
		return luaL_error(L, "tt.%s: too many handlers in one rule (max %d)",
				  tt_kind_name(kind), TT_TTLIB_HANDLERS_MAX);
	if (reserve((void **)&lib->handlers, &lib->handlers_cap, lib->nhandlers,
		    sizeof(*lib->handlers)) == -1)
		return luaL_error(L, "tt.%s: out of memory", tt_kind_name(kind));
	ref = luaL_ref(L, LUA_REGISTRYINDEX);
	if (lib->host->listen != NULL &&
	    lib->host->listen(lib->host->ctx, lib->rule, kind, ns, name) == -1) {
		luaL_unref(L, LUA_REGISTRYINDEX, ref);
		return luaL_error(L, "tt.%s: cannot listen on %s/%s", tt_kind_name(kind), ns, name);
	}

	h = &lib->handlers[lib->nhandlers++];
	h->id = ++lib->next_id;
	h->kind = kind;
	snprintf(h->ns, sizeof(h->ns), "%s", ns);
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->ref = ref;
	return 0;
}

static int
unlisten(lua_State *L, struct tt_ttlib *lib, enum tt_kind kind, const char *ns, const char *name)
{
	const struct tt_handler *h = tt_ttlib_pattern(lib, kind, ns, name);
	size_t i;
	int ref;

	if (h == NULL)
		return 0;
	i = (size_t)(h - lib->handlers);
	ref = h->ref;
	memmove(&lib->handlers[i], &lib->handlers[i + 1],
		(lib->nhandlers - i - 1) * sizeof(*lib->handlers));
	lib->nhandlers--;
	luaL_unref(L, LUA_REGISTRYINDEX, ref);
	if (lib->host->unlisten != NULL)
		lib->host->unlisten(lib->host->ctx, lib->rule, kind, ns, name);
	return 0;
}

static int
emit(lua_State *L, struct tt_ttlib *lib, enum tt_kind kind, const char *ns, const char *name)
{
	char err[256];
	const char *json;
	size_t len;

	if (tt_luajson_encode(L, 3, lib->max_depth, lib->max_payload, err, sizeof(err)) == -1)
		return luaL_error(L, "tt.%s: cannot emit on %s/%s: %s", tt_kind_name(kind), ns,
				  name, err);
	json = lua_tolstring(L, -1, &len);
	tt_sandbox_charge(L, len / 8);

	err[0] = '\0';
	if (lib->host->emit == NULL ||
	    lib->host->emit(lib->host->ctx, lib->rule, kind, ns, name, json, len, lib->current,
			    err, sizeof(err)) == -1)
		return luaL_error(L, "tt.%s: cannot emit on %s/%s: %s", tt_kind_name(kind), ns,
				  name, err[0] ? err : "no host");
	if (lib->emits != NULL)
		(*lib->emits)++;
	return 0;
}

/* tt.event, tt.state and tt.action: listen, stop listening or emit, by their arguments. */
static int
kind_call(lua_State *L, enum tt_kind kind)
{
	struct tt_ttlib *lib = getlib(L);
	int n = lua_gettop(L);
	bool listening = n == 3 && lua_type(L, 3) == LUA_TFUNCTION;
	const char *ns, *name;

	if (n < 2 || n > 3)
		return luaL_error(L, "tt.%s: expected 2 or 3 arguments, got %d", tt_kind_name(kind),
				  n);
	ns = check_part(L, 1, n == 2 || listening);
	name = check_part(L, 2, n == 2 || listening);
	if (listening)
		return listen(L, lib, kind, ns, name);
	if (n == 2)
		return unlisten(L, lib, kind, ns, name);
	return emit(L, lib, kind, ns, name);
}

static int
event(lua_State *L)
{
	return kind_call(L, TT_EVENT);
}

static int
state(lua_State *L)
{
	return kind_call(L, TT_STATE);
}

static int
action(lua_State *L)
{
	return kind_call(L, TT_ACTION);
}

/* ---- Messages ---- */

static void
set_string(lua_State *L, const char *key, const char *value)
{
	lua_pushstring(L, value);
	lua_setfield(L, -2, key);
}

static void
set_integer(lua_State *L, const char *key, lua_Integer value)
{
	lua_pushinteger(L, value);
	lua_setfield(L, -2, key);
}

void
tt_ttlib_push_message(lua_State *L, const struct tt_ttlib *lib, const struct tt_message *msg,
		      bool retained)
{
	char topic[TT_TOPIC_MAX + 1];

	luaL_checkstack(L, 4, NULL);
	if (msg->data != NULL)
		tt_luajson_push_text(L, msg->data, msg->data_len);
	else
		lua_pushnil(L);

	lua_createtable(L, 0, 9);
	set_string(L, "kind", tt_kind_name(msg->topic.kind));
	set_string(L, "ns", msg->topic.ns);
	set_string(L, "name", msg->topic.name);
	if (tt_topic_format(topic, sizeof(topic), lib->host->prefix, msg->topic.kind,
			    msg->topic.ns, msg->topic.name, false) >= 0)
		set_string(L, "topic", topic);
	set_string(L, "src", msg->src);
	set_integer(L, "ts", msg->ts);
	set_string(L, "id", msg->id);
	set_integer(L, "hop", msg->hop);
	lua_pushboolean(L, retained);
	lua_setfield(L, -2, "retained");
}

/*
 * Returns how many of src, value and meta the function on top of the stack
 * takes: its fixed parameters up to 3, or 3 when it has "...". Lua drops
 * the arguments past the fixed parameters, so the router skips building them.
 */
static int
handler_arity(lua_State *L)
{
	lua_Debug ar;

	lua_pushvalue(L, -1);
	if (!lua_getinfo(L, ">u", &ar) || ar.isvararg || ar.nparams >= 3)
		return 3;
	return ar.nparams < 1 ? 1 : ar.nparams;
}

int
tt_ttlib_invoke(lua_State *L)
{
	struct tt_ttlib_call *call = lua_touserdata(L, 1);
	int nargs;

	lua_settop(L, 0);
	luaL_checkstack(L, 4, NULL);
	lua_rawgeti(L, LUA_REGISTRYINDEX, call->ref);
	if (call->owned)
		luaL_unref(L, LUA_REGISTRYINDEX, call->ref);
	if (call->msg == NULL) {
		lua_call(L, 0, 0);
		return 0;
	}
	nargs = handler_arity(L);
	lua_pushstring(L, call->msg->src);
	if (nargs < 3) {
		/* The value alone: the handler has no parameter for the meta table. */
		if (nargs == 2 && call->msg->data != NULL)
			tt_luajson_push_text(L, call->msg->data, call->msg->data_len);
		else if (nargs == 2)
			lua_pushnil(L);
		lua_call(L, nargs, 0);
		return 0;
	}
	tt_ttlib_push_message(L, call->lib, call->msg, call->retained);
	lua_call(L, 3, 0);
	return 0;
}

static int
get(lua_State *L)
{
	struct tt_ttlib *lib = getlib(L);
	const char *ns = check_part(L, 1, false);
	const char *name = check_part(L, 2, false);
	struct tt_state_view view = { NULL, false };

	if (lib->host->get_state == NULL ||
	    !lib->host->get_state(lib->host->ctx, ns, name, &view) || view.msg == NULL) {
		lua_pushnil(L);
		return 1;
	}
	tt_ttlib_push_message(L, lib, view.msg, view.retained);
	return 2;
}

/* ---- Timers ---- */

static size_t
timer_index(const struct tt_ttlib *lib, uint64_t id)
{
	for (size_t i = 0; i < lib->ntimers; i++) {
		if (lib->timers[i].id == id)
			return i;
	}
	return SIZE_MAX;
}

/* Inserts t after every timer due at or before it, so equal times run in creation order. */
static void
timer_insert(struct tt_ttlib *lib, const struct tt_timer *t)
{
	size_t i = lib->ntimers;

	while (i > 0 && lib->timers[i - 1].due_ms > t->due_ms)
		i--;
	memmove(&lib->timers[i + 1], &lib->timers[i], (lib->ntimers - i) * sizeof(*t));
	lib->timers[i] = *t;
	lib->ntimers++;
}

static void
timer_remove(struct tt_ttlib *lib, size_t i)
{
	memmove(&lib->timers[i], &lib->timers[i + 1], (lib->ntimers - i - 1) * sizeof(*lib->timers));
	lib->ntimers--;
}

static int
timer_new(lua_State *L, bool repeat)
{
	struct tt_ttlib *lib = getlib(L);
	lua_Number s = luaL_checknumber(L, 1);
	struct tt_timer t;
	uint64_t *handle;

	luaL_checktype(L, 2, LUA_TFUNCTION);
	luaL_argcheck(L, s >= (repeat ? 0.001 : 0) && s <= TIMER_MAX_S, 1,
		      repeat ? "expected seconds from 0.001 to 1e9" : "expected seconds from 0 to 1e9");
	if (lib->ntimers >= TT_TTLIB_TIMERS_MAX)
		return luaL_error(L, "too many timers in one rule (max %d)", TT_TTLIB_TIMERS_MAX);
	if (reserve((void **)&lib->timers, &lib->timers_cap, lib->ntimers, sizeof(t)) == -1)
		return luaL_error(L, "out of memory");

	lua_settop(L, 2);
	handle = lua_newuserdatauv(L, sizeof(*handle), 0);
	luaL_setmetatable(L, TIMER_META);
	lua_pushvalue(L, 2);
	t.ref = luaL_ref(L, LUA_REGISTRYINDEX);

	t.id = ++lib->next_id;
	t.interval_ms = repeat ? llround(s * 1000) : 0;
	if (repeat && t.interval_ms < 1)
		t.interval_ms = 1;
	t.due_ms = tt_now_mono_ms() + llround(s * 1000);
	/* A timer made by a handler carries its hop, so a loop through timers still ends. */
	t.hop = lib->current != NULL ? lib->current->hop : -1;
	timer_insert(lib, &t);
	*handle = t.id;
	return 1;
}

static int
after(lua_State *L)
{
	return timer_new(L, false);
}

static int
every(lua_State *L)
{
	return timer_new(L, true);
}

/* handle:cancel() returns true when the timer was still pending. */
static int
cancel(lua_State *L)
{
	uint64_t id = *(uint64_t *)luaL_checkudata(L, 1, TIMER_META);
	struct tt_ttlib *lib = getlib(L);
	size_t i = timer_index(lib, id);
	int ref;

	if (i == SIZE_MAX) {
		lua_pushboolean(L, 0);
		return 1;
	}
	ref = lib->timers[i].ref;
	timer_remove(lib, i);
	luaL_unref(L, LUA_REGISTRYINDEX, ref);
	lua_pushboolean(L, 1);
	return 1;
}

size_t
tt_ttlib_due(const struct tt_ttlib *lib, int64_t now_ms, uint64_t *ids, size_t max)
{
	size_t n = 0;

	while (n < lib->ntimers && n < max && lib->timers[n].due_ms <= now_ms) {
		ids[n] = lib->timers[n].id;
		n++;
	}
	return n;
}

int
tt_ttlib_take(struct tt_ttlib *lib, uint64_t id, int64_t now_ms, int *ref, bool *owned,
	      int64_t *hop)
{
	size_t i = timer_index(lib, id);
	struct tt_timer t;

	if (i == SIZE_MAX)
		return -1;
	t = lib->timers[i];
	timer_remove(lib, i);
	*ref = t.ref;
	*owned = t.interval_ms == 0;
	*hop = t.hop;
	if (t.interval_ms > 0) {
		if (t.due_ms <= now_ms)
			t.due_ms += ((now_ms - t.due_ms) / t.interval_ms + 1) * t.interval_ms;
		timer_insert(lib, &t);
	}
	return 0;
}

int64_t
tt_ttlib_next_due(const struct tt_ttlib *lib)
{
	return lib->ntimers > 0 ? lib->timers[0].due_ms : -1;
}

/* ---- Small helpers ---- */

static int
log_record(lua_State *L)
{
	static const char *const levels[] = { "error", "warn", "notice", "info", "debug", NULL };
	static const enum tt_log_level values[] = {
		TT_LOG_ERROR, TT_LOG_WARN, TT_LOG_NOTICE, TT_LOG_INFO, TT_LOG_DEBUG,
	};
	int level;

	getlib(L);
	level = luaL_checkoption(L, 1, NULL, levels);
	tt_sandbox_log(L, values[level], "log", 2);
	return 0;
}

/* Whether the metatable on top of the stack is the array or the object marker. */
static bool
is_marker(lua_State *L)
{
	bool found = false;

	luaL_checkstack(L, 2, NULL);
	for (int i = 0; i < 2 && !found; i++) {
		if (i == 0)
			tt_luajson_push_array(L);
		else
			tt_luajson_push_object(L);
		lua_getmetatable(L, -1);
		found = lua_rawequal(L, -1, -3);
		lua_pop(L, 2);
	}
	return found;
}

/* tt.array([t]) and tt.object([t]): a new marked table, or t marked in place. */
static int
mark(lua_State *L, void (*push)(lua_State *L), const char *what)
{
	getlib(L);
	if (lua_isnoneornil(L, 1)) {
		push(L);
		return 1;
	}
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	if (lua_getmetatable(L, 1)) {
		if (!is_marker(L))
			return luaL_error(L, "tt.%s: the table already has a metatable", what);
		lua_pop(L, 1);
	}
	push(L);
	lua_getmetatable(L, -1);
	lua_setmetatable(L, 1);
	lua_settop(L, 1);
	return 1;
}

static int
array(lua_State *L)
{
	return mark(L, tt_luajson_push_array, "array");
}

static int
object(lua_State *L)
{
	return mark(L, tt_luajson_push_object, "object");
}

int
tt_ttlib_open(lua_State *L)
{
	static const luaL_Reg functions[] = {
		{ "event", event },
		{ "state", state },
		{ "action", action },
		{ "after", after },
		{ "every", every },
		{ "get", get },
		{ "log", log_record },
		{ "array", array },
		{ "object", object },
		{ NULL, NULL },
	};
	struct tt_ttlib *lib = getlib(L);

	/* The handle metatable is protected, so no rule can add a __gc to it. */
	if (luaL_newmetatable(L, TIMER_META)) {
		lua_createtable(L, 0, 1);
		lua_pushcfunction(L, cancel);
		lua_setfield(L, -2, "cancel");
		lua_setfield(L, -2, "__index");
		lua_pushliteral(L, TIMER_META);
		lua_setfield(L, -2, "__metatable");
	}
	lua_pop(L, 1);

	luaL_newlib(L, functions);
	tt_luajson_push_null(L);
	lua_setfield(L, -2, "null");
	lua_pushstring(L, lib->host->app != NULL ? lib->host->app : "");
	lua_setfield(L, -2, "app");
	return 1;
}
