/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the rule runtime: the sandbox, the tattletale module and
 * the rule policy. Rules are written to a temporary folder and driven
 * through a stub host that records emits and listens. Each hostile rule
 * is loaded beside a well-behaved one, which must keep replying.
 *
 * The instruction budget does the stopping; the deadline is 2 s so that
 * slow runs (valgrind) still stop on instructions, except in the test
 * that shows the deadline itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>
#include <lauxlib.h>
#include <lua.h>

#include "jsontext.h"
#include "log.h"
#include "rule.h"
#include "sandbox.h"

#define MAX_EMITS 64
#define MAX_FILES 16

struct emitted {
	enum tt_kind kind;
	char ns[TT_PART_MAX + 1];
	char name[TT_PART_MAX + 1];
	char *json;
	const struct tt_message *in;
	struct tt_rule *rule;
};

static struct {
	struct emitted emits[MAX_EMITS];
	int nemits;
	int listens;
	int unlistens;
	char unlistened[2 * TT_PART_MAX + 2];
	struct tt_message state;
	bool have_state;
} rec;

static char dir[64];
static char *files[MAX_FILES];
static int nfiles;
static struct tt_rule_limits limits;

static int
host_emit(void *ctx, struct tt_rule *rule, enum tt_kind kind, const char *ns, const char *name,
	  const char *json, size_t len, const struct tt_message *in, char *err, size_t errsize)
{
	struct emitted *e;

	(void)ctx;
	if (rec.nemits == MAX_EMITS) {
		snprintf(err, errsize, "too many emits in one test");
		return -1;
	}
	e = &rec.emits[rec.nemits++];
	e->kind = kind;
	snprintf(e->ns, sizeof(e->ns), "%s", ns);
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->json = strndup(json, len);
	e->in = in;
	e->rule = rule;
	return 0;
}

static int
host_listen(void *ctx, struct tt_rule *rule, enum tt_kind kind, const char *ns, const char *name)
{
	(void)ctx, (void)rule, (void)kind, (void)ns, (void)name;
	rec.listens++;
	return 0;
}

static void
host_unlisten(void *ctx, struct tt_rule *rule, enum tt_kind kind, const char *ns,
	      const char *name)
{
	(void)ctx, (void)rule, (void)kind;
	rec.unlistens++;
	snprintf(rec.unlistened, sizeof(rec.unlistened), "%s/%s", ns, name);
}

static bool
host_get_state(void *ctx, const char *ns, const char *name, struct tt_state_view *out)
{
	(void)ctx;
	if (!rec.have_state || strcmp(ns, rec.state.topic.ns) != 0 ||
	    strcmp(name, rec.state.topic.name) != 0)
		return false;
	out->msg = &rec.state;
	out->retained = true;
	return true;
}

static const struct tt_host host = {
	.ctx = NULL,
	.app = "testapp",
	.prefix = "tattletale",
	.emit = host_emit,
	.listen = host_listen,
	.unlisten = host_unlisten,
	.get_state = host_get_state,
};

static void
make_msg(struct tt_message *m, enum tt_kind kind, const char *ns, const char *name,
	 const char *json)
{
	memset(m, 0, sizeof(*m));
	m->topic.kind = kind;
	snprintf(m->topic.ns, sizeof(m->topic.ns), "%s", ns);
	snprintf(m->topic.name, sizeof(m->topic.name), "%s", name);
	snprintf(m->src, sizeof(m->src), "svc");
	m->ts = 1700000000000;
	snprintf(m->id, sizeof(m->id), "AAAAAAAAAAAAAAAAAAAAAA");
	m->hop = 2;
	cr_assert_eq(tt_json_validate(json, strlen(json), 64, NULL), 0, "bad test JSON %s", json);
	m->data = json;
	m->data_len = strlen(json);
}

static void
free_msg(struct tt_message *m)
{
	tt_message_clear(m);
}

static void
setup(void)
{
	memset(&rec, 0, sizeof(rec));
	snprintf(dir, sizeof(dir), "/tmp/tt-sandbox-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	nfiles = 0;
	tt_rule_limits_init(&limits);
	limits.instructions = 2000000;
	limits.time_ms = 2000;
	limits.memory = 16 * 1024 * 1024;
	tt_log_set_level(TT_LOG_ERROR);
}

static void
teardown(void)
{
	for (int i = 0; i < rec.nemits; i++)
		free(rec.emits[i].json);
	if (rec.have_state)
		free_msg(&rec.state);
	for (int i = 0; i < nfiles; i++) {
		unlink(files[i]);
		free(files[i]);
	}
	rmdir(dir);
}

/* The timeout turns a hang (a budget that failed to fire) into a failure. */
TestSuite(sandbox, .init = setup, .fini = teardown, .timeout = 120);

/* Writes text to dir/name and returns the path (owned by the test). */
static const char *
write_file(const char *name, const char *text)
{
	char *path;
	FILE *f;

	cr_assert_lt(nfiles, MAX_FILES);
	cr_assert_neq(asprintf(&path, "%s/%s", dir, name), -1);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fputs(text, f) >= 0, true);
	cr_assert_eq(fclose(f), 0);
	files[nfiles++] = path;
	return path;
}

static struct tt_rule *
load_text(const char *name, const char *text, char *err, size_t errsize)
{
	return tt_rule_load(write_file(name, text), &host, &limits, dir, NULL, err, errsize);
}

static struct tt_rule *
load_ok(const char *name, const char *text)
{
	char err[512] = "";
	struct tt_rule *rule = load_text(name, text, err, sizeof(err));

	cr_assert_not_null(rule, "loading %s failed: %s", name, err);
	return rule;
}

/* Replies to event test/ping with event test/pong carrying upper("ok"). */
static const char good_rule[] =
	"local tt = require('tattletale')\n"
	"tt.event('test', 'ping', function(src, value, meta)\n"
	"  tt.event('test', 'pong', { up = string.upper('ok'), low = ('AbC'):lower() })\n"
	"end)\n";

/* Asserts that two JSON texts hold the same value; object key order does not matter. */
static void
assert_json(const char *actual, const char *expected)
{
	json_t *a = json_loads(actual, JSON_DECODE_ANY, NULL);
	json_t *e = json_loads(expected, JSON_DECODE_ANY, NULL);

	cr_assert_not_null(a, "not JSON: %s", actual);
	cr_assert_not_null(e, "bad test JSON: %s", expected);
	cr_assert(json_equal(a, e), "got %s, expected %s", actual, expected);
	json_decref(a);
	json_decref(e);
}

static int
count_emits(const char *name)
{
	int n = 0;

	for (int i = 0; i < rec.nemits; i++)
		n += strcmp(rec.emits[i].name, name) == 0;
	return n;
}

static const struct emitted *
last_emit(const char *name)
{
	for (int i = rec.nemits - 1; i >= 0; i--) {
		if (strcmp(rec.emits[i].name, name) == 0)
			return &rec.emits[i];
	}
	return NULL;
}

/* Dispatches test/ping to both rules and checks that the good one replied. */
static void
ping(struct tt_rule *hostile, struct tt_rule *good)
{
	struct tt_message msg;
	int before = count_emits("pong");

	make_msg(&msg, TT_EVENT, "test", "ping", "{\"n\":1}");
	if (hostile != NULL)
		tt_rule_dispatch(hostile, &msg, false);
	cr_assert_eq(tt_rule_dispatch(good, &msg, false), 1);
	free_msg(&msg);
	cr_assert_eq(count_emits("pong"), before + 1, "the good rule did not reply");
	assert_json(last_emit("pong")->json, "{\"up\":\"OK\",\"low\":\"abc\"}");
}

static uint64_t
budget_hits(const struct tt_rule *rule)
{
	return tt_rule_stats(rule)->budget_hits;
}

/* A rule whose handler for test/ping runs body. */
static struct tt_rule *
load_handler(const char *name, const char *body)
{
	char text[4096];

	snprintf(text, sizeof(text),
		 "local tt = require('tattletale')\n"
		 "tt.event('test', 'ping', function(src, value, meta)\n%s\nend)\n", body);
	return load_ok(name, text);
}

/* ---- Budgets ---- */

Test(sandbox, looping_load_fails_on_budget)
{
	char err[512] = "";
	struct tt_rule *bad, *good;

	bad = load_text("bad.lua", "local x = 0\nwhile true do x = x + 1 end\n", err, sizeof(err));
	cr_assert_null(bad);
	cr_assert_not_null(strstr(err, "bad.lua:2: "), "%s", err);
	cr_assert_not_null(strstr(err, "budget exceeded"), "%s", err);

	good = load_ok("good.lua", good_rule);
	ping(NULL, good);
	tt_rule_free(good);
}

Test(sandbox, looping_handler_is_stopped)
{
	struct tt_rule *bad = load_handler("bad.lua", "while true do end");
	struct tt_rule *good = load_ok("good.lua", good_rule);

	ping(bad, good);
	cr_assert_eq(budget_hits(bad), 1);
	cr_assert_eq(tt_rule_stats(bad)->handled, 1);
	ping(bad, good);
	cr_assert_eq(budget_hits(bad), 2);
	tt_rule_free(bad);
	tt_rule_free(good);
}

Test(sandbox, loop_inside_pcall_is_not_caught)
{
	struct tt_rule *bad = load_handler("bad.lua",
		"while true do pcall(function() while true do end end) end");
	struct tt_rule *good = load_ok("good.lua", good_rule);

	ping(bad, good);
	cr_assert_eq(budget_hits(bad), 1);
	tt_rule_free(bad);
	tt_rule_free(good);
}

Test(sandbox, caught_budget_error_still_fails)
{
	struct tt_rule *bad = load_handler("bad.lua",
		"local ok = pcall(function() while true do end end)\n"
		"tt.event('test', 'escaped', ok)");
	struct tt_rule *good = load_ok("good.lua", good_rule);

	ping(bad, good);
	cr_assert_eq(budget_hits(bad), 1);
	cr_assert_eq(count_emits("escaped"), 0);
	tt_rule_free(bad);
	tt_rule_free(good);
}

Test(sandbox, loop_inside_coroutine_is_stopped)
{
	struct tt_rule *bad = load_handler("bad.lua",
		"local co = coroutine.create(function() while true do end end)\n"
		"while true do coroutine.resume(co) end");
	struct tt_rule *good = load_ok("good.lua", good_rule);

	ping(bad, good);
	cr_assert_eq(budget_hits(bad), 1);
	tt_rule_free(bad);
	tt_rule_free(good);
}

Test(sandbox, loop_inside_wrapped_coroutine_is_stopped)
{
	struct tt_rule *bad = load_handler("bad.lua",
		"local f = coroutine.wrap(function() while true do coroutine.yield() end end)\n"
		"while true do pcall(f) end");
	struct tt_rule *good = load_ok("good.lua", good_rule);

	ping(bad, good);
	cr_assert_eq(budget_hits(bad), 1);
	tt_rule_free(bad);
	tt_rule_free(good);
}

Test(sandbox, xpcall_handler_with_loop_is_stopped)
{
	struct tt_rule *bad = load_handler("bad.lua",
		"xpcall(function() while true do end end, function(m) while true do end end)\n"
		"tt.event('test', 'escaped', true)");
	struct tt_rule *good = load_ok("good.lua", good_rule);

	ping(bad, good);
	cr_assert_eq(budget_hits(bad), 1);
	cr_assert_eq(count_emits("escaped"), 0);
	tt_rule_free(bad);
	tt_rule_free(good);
}

Test(sandbox, xpcall_handler_runs_for_ordinary_errors)
{
	struct tt_rule *rule = load_handler("rule.lua",
		"local ok, m = xpcall(function() error('x', 0) end, function(m) return m .. 'y' end)\n"
		"tt.event('test', 'result', { ok = ok, m = m })");
	struct tt_message msg;

	make_msg(&msg, TT_EVENT, "test", "ping", "1");
	tt_rule_dispatch(rule, &msg, false);
	free_msg(&msg);
	cr_assert_eq(count_emits("result"), 1);
	assert_json(last_emit("result")->json, "{\"ok\":false,\"m\":\"xy\"}");
	tt_rule_free(rule);
}

Test(sandbox, killed_coroutine_close_never_runs)
{
	struct tt_rule *bad = load_handler("bad.lua",
		"local f = coroutine.wrap(function()\n"
		"  local x <close> = setmetatable({}, { __close = function() while true do end end })\n"
		"  while true do end\n"
		"end)\n"
		"f()");
	struct tt_rule *good = load_ok("good.lua", good_rule);

	ping(bad, good);
	cr_assert_eq(budget_hits(bad), 1);
	tt_rule_free(bad);
	tt_rule_free(good);
}

Test(sandbox, killed_coroutine_is_not_closed_later)
{
	struct tt_rule *bad = load_handler("bad.lua",
		"if CO then\n"
		"  tt.event('test', 'closed', (coroutine.close(CO)))\n"
		"  return\n"
		"end\n"
		"CO = coroutine.create(function()\n"
		"  local x <close> = setmetatable({}, { __close = function() while true do end end })\n"
		"  while true do end\n"
		"end)\n"
		"coroutine.resume(CO)");
	struct tt_rule *good = load_ok("good.lua", good_rule);

	ping(bad, good);
	cr_assert_eq(budget_hits(bad), 1);
	ping(bad, good);
	cr_assert_eq(budget_hits(bad), 1);
	cr_assert_eq(count_emits("closed"), 1);
	cr_assert_str_eq(last_emit("closed")->json, "false");
	tt_rule_free(bad);
	tt_rule_free(good);
}

static int
run_chunk(lua_State *L)
{
	const char *code = lua_touserdata(L, 1);

	if (luaL_loadbufferx(L, code, strlen(code), "=chunk", "t") != LUA_OK)
		return lua_error(L);
	lua_call(L, 0, 0);
	return 0;
}

static struct tt_sandbox *
new_sandbox(int64_t instructions, int64_t time_ms, size_t memory)
{
	struct tt_sandbox_config cfg = {
		.name = "chunk.lua",
		.path = "chunk.lua",
		.instructions = instructions,
		.time_ms = time_ms,
		.memory = memory,
		.lua_path = dir,
	};
	char err[256] = "";
	struct tt_sandbox *sb = tt_sandbox_new(&cfg, err, sizeof(err));

	cr_assert_not_null(sb, "%s", err);
	return sb;
}

static enum tt_sandbox_status
run(struct tt_sandbox *sb, const char *code, struct tt_sandbox_result *res)
{
	tt_sandbox_call(sb, run_chunk, (void *)code, res);
	return res->status;
}

Test(sandbox, deadline_stops_endless_loop)
{
	struct tt_sandbox *sb = new_sandbox(INT64_C(1) << 60, 50, 16 << 20);
	struct tt_sandbox_result res;

	cr_assert_eq(run(sb, "while true do end", &res), TT_SANDBOX_TIME);
	cr_assert_not_null(strstr(res.message, "time budget exceeded"), "%s", res.message);
	cr_assert_eq(run(sb, "local x = 1 + 1", &res), TT_SANDBOX_OK, "%s", res.message);
	tt_sandbox_free(sb);
}

Test(sandbox, budget_message_names_chunk_and_line)
{
	struct tt_sandbox *sb = new_sandbox(100000, 2000, 16 << 20);
	struct tt_sandbox_result res;

	cr_assert_eq(run(sb, "local x\n\nwhile true do x = 1 end", &res), TT_SANDBOX_INSTRUCTIONS);
	cr_assert_str_eq(res.message, "chunk:3: instruction budget exceeded (limit 100000)");
	tt_sandbox_free(sb);
}

Test(sandbox, error_message_has_line_and_traceback)
{
	struct tt_sandbox *sb = new_sandbox(100000, 2000, 16 << 20);
	struct tt_sandbox_result res;

	cr_assert_eq(run(sb, "local t\nlocal function f() return t.x end\nf()", &res),
		     TT_SANDBOX_ERROR);
	cr_assert_not_null(strstr(res.message, "chunk:2: attempt to index"), "%s", res.message);
	cr_assert_not_null(strstr(res.traceback, "stack traceback:"), "%s", res.traceback);
	cr_assert_not_null(strstr(res.traceback, "chunk:3:"), "%s", res.traceback);
	tt_sandbox_free(sb);
}

Test(sandbox, pathological_pattern_is_stopped)
{
	struct tt_rule *bad = load_handler("bad.lua",
		"string.find(string.rep('a', 30000), '.-.-.-.-.-b')");
	struct tt_rule *good = load_ok("good.lua", good_rule);

	ping(bad, good);
	cr_assert_eq(budget_hits(bad), 1);
	tt_rule_free(bad);
	tt_rule_free(good);
}

Test(sandbox, long_library_calls_are_charged)
{
	static const char *const cases[] = {
		"string.rep('', 1e15)",
		"string.rep('x', 1e9)",
		"table.move({}, 1, 1e15, 2)",
		"table.concat(setmetatable({}, { __index = function() return 'x' end }), '', 1, 1e12)",
		"local t = setmetatable({}, { __len = function() return 1e15 end }) table.insert(t, 1, 0)",
		"local s = string.rep('x', 1e6) while true do s:upper() end",
	};
	struct tt_sandbox *sb = new_sandbox(1000000, 2000, 16 << 20);
	struct tt_sandbox_result res;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum tt_sandbox_status st = run(sb, cases[i], &res);

		cr_assert(st == TT_SANDBOX_INSTRUCTIONS || st == TT_SANDBOX_TIME,
			  "%s: %s %s", cases[i], tt_sandbox_status_name(st), res.message);
	}
	tt_sandbox_free(sb);
}

/* ---- Memory ---- */

Test(sandbox, string_memory_bomb_is_contained)
{
	struct tt_sandbox *sb = new_sandbox(INT64_C(1) << 40, 2000, 4 << 20);
	struct tt_sandbox_result res;

	cr_assert_eq(run(sb, "local s = 'x' while true do s = s .. s end", &res),
		     TT_SANDBOX_MEMORY, "%s", res.message);
	cr_assert_not_null(strstr(res.message, "memory limit exceeded"), "%s", res.message);
	cr_assert_leq(tt_sandbox_memory(sb), (size_t)4 << 20);
	cr_assert_eq(run(sb, "local t = {} for i = 1, 1000 do t[i] = tostring(i) end", &res),
		     TT_SANDBOX_OK, "%s", res.message);
	tt_sandbox_free(sb);
}

Test(sandbox, table_memory_bomb_is_contained)
{
	struct tt_rule *bad, *good;

	limits.memory = 4 << 20;
	limits.instructions = INT64_C(1) << 40;
	bad = load_handler("bad.lua",
		"local t = {} local i = 0 while true do i = i + 1 t[i] = { i } end");
	good = load_ok("good.lua", good_rule);

	ping(bad, good);
	cr_assert_eq(tt_rule_stats(bad)->errors, 1);
	ping(bad, good);
	cr_assert_eq(tt_rule_stats(bad)->errors, 2);
	tt_rule_free(bad);
	tt_rule_free(good);
}

Test(sandbox, memory_cap_too_small_fails_load)
{
	char err[512] = "";

	limits.memory = 4096;
	cr_assert_null(load_text("tiny.lua", "local x = 1\n", err, sizeof(err)));
	cr_assert_neq(err[0], '\0');
}

/* ---- Library ---- */

Test(sandbox, forbidden_functions_are_absent)
{
	static const char *const absent[] = {
		"io", "debug", "package", "dofile", "loadfile", "os.execute", "os.getenv",
		"os.exit", "os.remove", "os.rename", "os.tmpname", "string.dump", "require.path",
	};
	struct tt_sandbox *sb = new_sandbox(1000000, 2000, 16 << 20);
	struct tt_sandbox_result res;
	char code[256];

	for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
		snprintf(code, sizeof(code), "assert(%s == nil)", absent[i]);
		if (strcmp(absent[i], "require.path") == 0)
			snprintf(code, sizeof(code), "assert(type(require) == 'function')");
		cr_assert_eq(run(sb, code, &res), TT_SANDBOX_OK, "%s: %s", absent[i], res.message);
	}
	cr_assert_eq(run(sb, "assert(os.time() and os.clock() and os.date('%Y'))", &res),
		     TT_SANDBOX_OK, "%s", res.message);
	tt_sandbox_free(sb);
}

Test(sandbox, forbidden_calls_fail)
{
	struct tt_rule *bad = load_handler("bad.lua",
		"local probes = {\n"
		"  function() return io.open('/etc/passwd') end,\n"
		"  function() return os.execute('true') end,\n"
		"  function() return os.getenv('HOME') end,\n"
		"  function() return os.exit(1) end,\n"
		"  function() return os.remove('/tmp/x') end,\n"
		"  function() return dofile('/etc/passwd') end,\n"
		"  function() return loadfile('/etc/passwd') end,\n"
		"  function() return debug.getinfo(1) end,\n"
		"  function() return package.loadlib('libc.so.6', 'system') end,\n"
		"  function() return string.dump(print) end,\n"
		"}\n"
		"local failed = 0\n"
		"for _, p in ipairs(probes) do if not pcall(p) then failed = failed + 1 end end\n"
		"tt.event('test', 'failed', failed)");
	struct tt_rule *good = load_ok("good.lua", good_rule);

	ping(bad, good);
	cr_assert_str_eq(last_emit("failed")->json, "10");
	tt_rule_free(bad);
	tt_rule_free(good);
}

Test(sandbox, collectgarbage_allows_only_count)
{
	struct tt_sandbox *sb = new_sandbox(1000000, 2000, 16 << 20);
	struct tt_sandbox_result res;

	cr_assert_eq(run(sb, "assert(type(collectgarbage('count')) == 'number')", &res),
		     TT_SANDBOX_OK, "%s", res.message);
	cr_assert_eq(run(sb, "collectgarbage('collect')", &res), TT_SANDBOX_ERROR);
	cr_assert_eq(run(sb, "collectgarbage()", &res), TT_SANDBOX_ERROR);
	cr_assert_eq(run(sb, "collectgarbage('stop')", &res), TT_SANDBOX_ERROR);
	tt_sandbox_free(sb);
}

Test(sandbox, load_accepts_text_and_rejects_binary)
{
	struct tt_sandbox *sb = new_sandbox(1000000, 2000, 16 << 20);
	struct tt_sandbox_result res;

	cr_assert_eq(run(sb, "X = 41 assert(load('return X + 1')() == 42)", &res), TT_SANDBOX_OK,
		     "%s", res.message);
	cr_assert_eq(run(sb, "local f, e = load('\\27Lua\\84\\0') assert(f == nil)\n"
			     "assert(e:find('binary'), e)", &res),
		     TT_SANDBOX_OK, "%s", res.message);
	cr_assert_eq(run(sb, "local f = load('\\27Lua', 'x', 'b') assert(f == nil)", &res),
		     TT_SANDBOX_OK, "%s", res.message);
	cr_assert_eq(run(sb, "local parts = { 'return ', '7' } local i = 0\n"
			     "local f = load(function() i = i + 1 return parts[i] end)\n"
			     "assert(f() == 7)", &res),
		     TT_SANDBOX_OK, "%s", res.message);
	tt_sandbox_free(sb);
}

Test(sandbox, require_stays_in_module_folders)
{
	struct tt_sandbox *sb = new_sandbox(1000000, 2000, 16 << 20);
	struct tt_sandbox_result res;

	write_file("helper.lua", "return { answer = 42 }\n");
	cr_assert_eq(run(sb, "assert(require('helper').answer == 42)\n"
			     "assert(require('helper') == require('helper'))", &res),
		     TT_SANDBOX_OK, "%s", res.message);
	cr_assert_eq(run(sb, "require('/etc/passwd')", &res), TT_SANDBOX_ERROR);
	cr_assert_not_null(strstr(res.message, "invalid module name"), "%s", res.message);
	cr_assert_eq(run(sb, "require('../x')", &res), TT_SANDBOX_ERROR);
	cr_assert_eq(run(sb, "require('..x')", &res), TT_SANDBOX_ERROR);
	cr_assert_eq(run(sb, "require('a/b')", &res), TT_SANDBOX_ERROR);
	cr_assert_eq(run(sb, "require('missing')", &res), TT_SANDBOX_ERROR);
	cr_assert_not_null(strstr(res.message, "not found"), "%s", res.message);
	tt_sandbox_free(sb);
}

Test(sandbox, gc_metamethods_are_rejected)
{
	struct tt_rule *bad = load_ok("bad.lua",
		"local tt = require('tattletale')\n"
		"local ok = pcall(setmetatable, {}, { __gc = function() while true do end end })\n"
		"tt.event('test', 'gc', ok)\n"
		"local mt = {}\n"
		"setmetatable({}, mt)\n"
		"mt.__gc = function() while true do end end\n"
		"tt.event('test', 'late', (pcall(setmetatable, {}, mt)))\n"
		"tt.event('test', 'marker', getmetatable(tt.array()))\n");
	struct tt_rule *good = load_ok("good.lua", good_rule);

	cr_assert_str_eq(last_emit("gc")->json, "false");
	cr_assert_str_eq(last_emit("late")->json, "false");
	cr_assert_str_eq(last_emit("marker")->json, "\"tattletale.array\"");
	ping(NULL, good);
	tt_rule_free(bad);
	tt_rule_free(good);
}

Test(sandbox, string_library_changes_stay_in_their_rule)
{
	struct tt_rule *bad = load_ok("bad.lua",
		"string.upper = function() return 'pwned' end\n"
		"getmetatable('').__index.lower = nil\n"
		"X = 'global of bad'\n");
	struct tt_rule *good = load_ok("good.lua", good_rule);

	ping(bad, good);
	tt_rule_free(bad);
	tt_rule_free(good);
}

Test(sandbox, globals_stay_in_their_rule)
{
	struct tt_rule *a = load_ok("a.lua", "SHARED = 'a'\n");
	struct tt_rule *b = load_ok("b.lua",
		"local tt = require('tattletale')\n"
		"tt.event('test', 'seen', SHARED == nil)\n");

	cr_assert_str_eq(last_emit("seen")->json, "true");
	tt_rule_free(a);
	tt_rule_free(b);
}

/* ---- Failures ---- */

Test(sandbox, failing_rule_is_disabled)
{
	struct tt_rule *bad = load_handler("bad.lua", "error('boom')");
	struct tt_rule *good = load_ok("good.lua", good_rule);

	for (int i = 0; i < 4; i++)
		ping(bad, good);
	cr_assert_not(tt_rule_disabled(bad));
	cr_assert_eq(rec.unlistens, 0);
	ping(bad, good);
	cr_assert(tt_rule_disabled(bad));
	cr_assert_eq(tt_rule_stats(bad)->errors, 5);
	cr_assert_eq(rec.unlistens, 1);
	cr_assert_str_eq(rec.unlistened, "test/ping");

	ping(bad, good);
	cr_assert_eq(tt_rule_stats(bad)->handled, 5);
	tt_rule_free(bad);
	cr_assert_eq(rec.unlistens, 1);
	tt_rule_free(good);
}

Test(sandbox, load_error_names_file_and_line)
{
	char err[512] = "";

	cr_assert_null(load_text("syntax.lua", "local x =\nend\n", err, sizeof(err)));
	cr_assert_not_null(strstr(err, "syntax.lua:2:"), "%s", err);
	cr_assert_null(load_text("raise.lua", "local x = 1\nerror('no')\n", err, sizeof(err)));
	cr_assert_not_null(strstr(err, "raise.lua:2: no"), "%s", err);
}

Test(sandbox, failed_load_releases_its_listens)
{
	char err[512] = "";

	cr_assert_null(load_text("half.lua",
		"local tt = require('tattletale')\n"
		"tt.event('a', 'b', function() end)\n"
		"error('late')\n", err, sizeof(err)));
	cr_assert_eq(rec.listens, 1);
	cr_assert_eq(rec.unlistens, 1);
}

/* ---- Timers ---- */

Test(sandbox, timers_fire_and_cancel)
{
	struct tt_rule *rule = load_ok("timers.lua",
		"local tt = require('tattletale')\n"
		"tt.after(1, function() tt.event('t', 'after', 1) end)\n"
		"tt.every(2, function() tt.event('t', 'every', 1) end)\n"
		"local c = tt.after(1, function() tt.event('t', 'cancelled', 1) end)\n"
		"tt.event('t', 'first', c:cancel())\n"
		"tt.event('t', 'second', c:cancel())\n");
	int64_t now = tt_now_mono_ms();
	int64_t next = tt_rule_next_timer(rule);

	cr_assert_str_eq(last_emit("first")->json, "true");
	cr_assert_str_eq(last_emit("second")->json, "false");
	cr_assert_geq(next, now - 100);
	cr_assert_leq(next, now + 1000);

	tt_rule_run_timers(rule, now + 1500);
	cr_assert_eq(count_emits("after"), 1);
	cr_assert_eq(count_emits("every"), 0);
	cr_assert_null(last_emit("after")->in);

	tt_rule_run_timers(rule, now + 2500);
	cr_assert_eq(count_emits("every"), 1);
	tt_rule_run_timers(rule, now + 2600);
	cr_assert_eq(count_emits("every"), 1);

	/* Many missed periods: one run, then the next period after now. */
	tt_rule_run_timers(rule, now + 20500);
	cr_assert_eq(count_emits("every"), 2);
	cr_assert_gt(tt_rule_next_timer(rule), now + 20500);
	cr_assert_leq(tt_rule_next_timer(rule), now + 22500);
	cr_assert_eq(count_emits("after"), 1);
	cr_assert_eq(count_emits("cancelled"), 0);
	tt_rule_free(rule);
}

Test(sandbox, looping_timer_is_stopped_and_disabled)
{
	struct tt_rule *bad = load_ok("bad.lua",
		"local tt = require('tattletale')\n"
		"tt.every(1, function() while true do end end)\n");
	struct tt_rule *good = load_ok("good.lua", good_rule);
	int64_t now = tt_now_mono_ms();

	for (int i = 1; i <= 5; i++) {
		tt_rule_run_timers(bad, now + 1000 * i + 500);
		cr_assert_eq(budget_hits(bad), (uint64_t)i);
		ping(bad, good);
	}
	cr_assert(tt_rule_disabled(bad));
	cr_assert_eq(tt_rule_next_timer(bad), -1);
	tt_rule_free(bad);
	tt_rule_free(good);
}

Test(sandbox, timer_arguments_are_checked)
{
	struct tt_rule *rule = load_ok("rule.lua",
		"local tt = require('tattletale')\n"
		"local function f() end\n"
		"tt.event('t', 'r', {\n"
		"  pcall(tt.every, 0, f), pcall(tt.after, -1, f), pcall(tt.after, 0/0, f),\n"
		"  pcall(tt.after, 1, 'x'), pcall(tt.after, 0, f), (pcall(tt.every, 0.001, f)) })\n");

	cr_assert_str_eq(last_emit("r")->json, "[false,false,false,false,true,true]");
	tt_rule_free(rule);
}

/* ---- The module ---- */

Test(sandbox, emit_rejects_invalid_values)
{
	struct tt_rule *rule = load_handler("rule.lua",
		"local cycle = {} cycle.self = cycle\n"
		"local r = {\n"
		"  pcall(tt.event, 't', 'out', 0/0), pcall(tt.event, 't', 'out', 1/0),\n"
		"  pcall(tt.event, 't', 'out', '\\xff'), pcall(tt.event, 't', 'out', cycle),\n"
		"  pcall(tt.event, 't', '*', 1), pcall(tt.event, 't', 'a/b', 1),\n"
		"  pcall(tt.event, 't', 'out', coroutine.create(print)),\n"
		"  (pcall(tt.event, 't', 'out', 1, 2)) }\n"
		"tt.event('t', 'report', r)");
	struct tt_message msg;

	make_msg(&msg, TT_EVENT, "test", "ping", "null");
	cr_assert_eq(tt_rule_dispatch(rule, &msg, false), 1);
	free_msg(&msg);
	cr_assert_eq(rec.nemits, 1);
	cr_assert_str_eq(last_emit("report")->json,
			 "[false,false,false,false,false,false,false,false]");
	tt_rule_free(rule);
}

Test(sandbox, explicit_nil_emits_null)
{
	struct tt_rule *rule = load_handler("rule.lua",
		"tt.state('t', 'nothing', nil)\n"
		"tt.action('t', 'echo', { value = value, src = src })");
	struct tt_message msg;

	make_msg(&msg, TT_EVENT, "test", "ping", "{\"a\":[1,2.5,\"x\"]}");
	tt_rule_dispatch(rule, &msg, false);
	cr_assert_eq(rec.nemits, 2);
	cr_assert_eq(rec.emits[0].kind, TT_STATE);
	cr_assert_str_eq(rec.emits[0].json, "null");
	cr_assert_eq(rec.emits[0].in, &msg);
	cr_assert_eq(rec.emits[1].kind, TT_ACTION);
	assert_json(rec.emits[1].json, "{\"value\":{\"a\":[1,2.5,\"x\"]},\"src\":\"svc\"}");
	cr_assert_eq(rec.emits[1].rule, rule);
	cr_assert_eq(tt_rule_stats(rule)->emits, 2);
	free_msg(&msg);
	tt_rule_free(rule);
}

Test(sandbox, meta_describes_the_message)
{
	struct tt_rule *rule = load_handler("rule.lua",
		"tt.event('t', 'meta', { meta.kind, meta.ns, meta.name, meta.topic, meta.src,\n"
		"  meta.ts, meta.id, meta.hop, meta.retained })");
	struct tt_message msg;

	make_msg(&msg, TT_EVENT, "test", "ping", "1");
	tt_rule_dispatch(rule, &msg, true);
	free_msg(&msg);
	cr_assert_str_eq(last_emit("meta")->json,
			 "[\"event\",\"test\",\"ping\",\"tattletale/event/test/ping\",\"svc\","
			 "1700000000000,\"AAAAAAAAAAAAAAAAAAAAAA\",2,true]");
	tt_rule_free(rule);
}

Test(sandbox, two_arguments_stop_listening)
{
	struct tt_rule *rule = load_ok("rule.lua",
		"local tt = require('tattletale')\n"
		"tt.event('test', 'ping', function() tt.event('test', 'pong', 1) end)\n"
		"tt.event('test', 'stop', function() tt.event('test', 'ping') end)\n");
	struct tt_message ping_msg, stop_msg;

	cr_assert_eq(rec.listens, 2);
	make_msg(&ping_msg, TT_EVENT, "test", "ping", "1");
	make_msg(&stop_msg, TT_EVENT, "test", "stop", "1");
	cr_assert_eq(tt_rule_dispatch(rule, &ping_msg, false), 1);
	cr_assert_eq(tt_rule_dispatch(rule, &stop_msg, false), 1);
	cr_assert_eq(rec.unlistens, 1);
	cr_assert_str_eq(rec.unlistened, "test/ping");
	cr_assert_eq(tt_rule_dispatch(rule, &ping_msg, false), 0);
	cr_assert_eq(count_emits("pong"), 1);
	free_msg(&ping_msg);
	free_msg(&stop_msg);
	tt_rule_free(rule);
	cr_assert_eq(rec.unlistens, 2);
}

Test(sandbox, listening_again_replaces_the_handler)
{
	struct tt_rule *rule = load_ok("rule.lua",
		"local tt = require('tattletale')\n"
		"tt.event('test', 'ping', function() tt.event('test', 'old', 1) end)\n"
		"tt.event('test', 'ping', function() tt.event('test', 'new', 1) end)\n");
	struct tt_message msg;

	cr_assert_eq(rec.listens, 1);
	make_msg(&msg, TT_EVENT, "test", "ping", "1");
	cr_assert_eq(tt_rule_dispatch(rule, &msg, false), 1);
	free_msg(&msg);
	cr_assert_eq(count_emits("old"), 0);
	cr_assert_eq(count_emits("new"), 1);
	tt_rule_free(rule);
}

Test(sandbox, wildcards_match_one_level)
{
	struct tt_rule *rule = load_ok("rule.lua",
		"local tt = require('tattletale')\n"
		"tt.event('*', 'x', function(s, v, m) tt.event('r', 'any-ns', m.ns) end)\n"
		"tt.event('a', '*', function(s, v, m) tt.event('r', 'any-name', m.name) end)\n"
		"tt.state('a', 'x', function() tt.event('r', 'state', 1) end)\n");
	struct tt_message msg;

	make_msg(&msg, TT_EVENT, "b", "x", "1");
	cr_assert_eq(tt_rule_dispatch(rule, &msg, false), 1);
	free_msg(&msg);
	make_msg(&msg, TT_EVENT, "a", "x", "1");
	cr_assert_eq(tt_rule_dispatch(rule, &msg, false), 2);
	free_msg(&msg);
	make_msg(&msg, TT_EVENT, "b", "y", "1");
	cr_assert_eq(tt_rule_dispatch(rule, &msg, false), 0);
	free_msg(&msg);
	make_msg(&msg, TT_STATE, "a", "x", "1");
	cr_assert_eq(tt_rule_dispatch(rule, &msg, false), 1);
	cr_assert_eq(tt_rule_dispatch_pattern(rule, TT_STATE, "a", "x", &msg, true), 1);
	cr_assert_eq(tt_rule_dispatch_pattern(rule, TT_EVENT, "a", "x", &msg, true), 0);
	free_msg(&msg);
	cr_assert_eq(count_emits("any-ns"), 2);
	cr_assert_eq(count_emits("any-name"), 1);
	cr_assert_eq(count_emits("state"), 2);
	tt_rule_free(rule);
}

Test(sandbox, get_returns_cached_state)
{
	struct tt_rule *rule;

	make_msg(&rec.state, TT_STATE, "home", "temp", "{\"c\":21}");
	rec.have_state = true;
	rule = load_ok("rule.lua",
		"local tt = require('tattletale')\n"
		"local v, m = tt.get('home', 'temp')\n"
		"tt.event('t', 'got', { v.c, m.kind, m.src, m.retained, tt.get('home', 'none') == nil })\n");
	cr_assert_str_eq(last_emit("got")->json, "[21,\"state\",\"svc\",true,true]");
	tt_rule_free(rule);
}

Test(sandbox, module_helpers_work)
{
	struct tt_rule *rule = load_ok("rule.lua",
		"local tt = require('tattletale')\n"
		"assert(require('tattletale') == tt)\n"
		"print('hello', 1, nil)\n"
		"tt.log('info', 'a', 'b')\n"
		"local bad_level = pcall(tt.log, 'loud', 'x')\n"
		"tt.event('t', 'h', { tt.app, tt.array(), tt.object(), tt.array({ 1 }), bad_level,\n"
		"  { tt.null } })\n");

	cr_assert_str_eq(last_emit("h")->json, "[\"testapp\",[],{},[1],false,[null]]");
	tt_rule_free(rule);
}

Test(sandbox, guarded_library_keeps_stock_behaviour)
{
	struct tt_sandbox *sb = new_sandbox(1000000, 2000, 16 << 20);
	struct tt_sandbox_result res;

	cr_assert_eq(run(sb,
		"local t = { 3, 1, 2 } table.sort(t) assert(table.concat(t, ',') == '1,2,3')\n"
		"table.sort(t, function(a, b) return a > b end) assert(table.concat(t) == '321')\n"
		"table.insert(t, 1, 9) table.insert(t, 8) assert(table.concat(t) == '93218')\n"
		"assert(table.remove(t, 1) == 9 and table.remove(t) == 8 and #t == 3)\n"
		"assert(table.remove({}) == nil)\n"
		"assert(select('#', table.unpack({ 1, 2, 3 })) == 3)\n"
		"assert(('x'):rep(3, ',') == 'x,x,x' and ('abc'):upper() == 'ABC')\n"
		"assert(string.format('%d-%s', 4, 'y') == '4-y' and tonumber('0x10') == 16)\n"
		"assert(utf8.len('h\\u{e9}') == 2 and #utf8.char(233) == 2)\n"
		"local ok, e = pcall(function() return string.upper() end) assert(e:find(\"bad argument #1 to 'upper'\"), e)\n"
		"local co = coroutine.wrap(function()\n"
		"  pcall(function() coroutine.yield(1) end) return 2 end)\n"
		"assert(co() == 1 and co() == 2)\n"
		"local c2 = coroutine.create(function(a) local b = coroutine.yield(a + 1) return b * 2 end)\n"
		"local _, x = coroutine.resume(c2, 1) local _, y = coroutine.resume(c2, 5)\n"
		"assert(x == 2 and y == 10 and coroutine.status(c2) == 'dead')\n"
		"local w = coroutine.wrap(function() error('inner') end)\n"
		"local ok2, e2 = pcall(w) assert(not ok2 and e2:find('inner'), e2)\n"
		"assert(select(2, pcall(error, { code = 7 })).code == 7)\n",
		&res), TT_SANDBOX_OK, "%s", res.message);
	tt_sandbox_free(sb);
}

Test(sandbox, ttutil_compares_and_debounces)
{
	const char *lua_dir = getenv("TATTLETALE_LUA_DIR");
	char err[512] = "";
	struct tt_rule *rule;
	int64_t now;

	if (lua_dir == NULL)
		cr_skip_test("TATTLETALE_LUA_DIR is not set (run through make check)");
	rule = tt_rule_load(write_file("rule.lua",
		"local tt = require('tattletale')\n"
		"local util = require('ttutil')\n"
		"tt.event('t', 'cmp', {\n"
		"  util.changed({ a = { 1, 2 } }, { a = { 1, 2 } }),\n"
		"  util.changed({ a = { 1, 2 } }, { a = { 1, 3 } }),\n"
		"  util.changed(tt.array(), tt.object()),\n"
		"  util.changed(1, 1), util.changed(nil, tt.null) })\n"
		"local push = util.debounce(1, function(v) tt.event('t', 'settled', v) end)\n"
		"push(1) push(2) push(3)\n"), &host, &limits, dir, lua_dir, err, sizeof(err));
	cr_assert_not_null(rule, "%s", err);
	cr_assert_str_eq(last_emit("cmp")->json, "[false,true,true,false,true]");

	now = tt_now_mono_ms();
	tt_rule_run_timers(rule, now + 5000);
	cr_assert_eq(count_emits("settled"), 1);
	cr_assert_str_eq(last_emit("settled")->json, "3");
	tt_rule_free(rule);
}
