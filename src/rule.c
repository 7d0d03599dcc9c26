/* SPDX-License-Identifier: MIT */
/*
 * One rule: a sandbox (sandbox.c) running one file, the registrations it
 * made through the module (ttlib.c), and the policy around its calls.
 *
 * Each handler call and each timer call runs under fresh budgets. A call
 * that raises an error, runs out of memory or exceeds a budget is logged
 * with the rule's file:line and a traceback, counted, and recorded as a
 * failure; limits.failures failures within limits.failure_window_ms
 * disable the rule: its listens are reported to host->unlisten, its timers
 * are dropped and it receives nothing more until it is loaded again.
 *
 * A rule never runs twice at once. A dispatch that arrives while the same
 * rule is running is rejected and logged. This happens when a host delivers
 * synchronously from inside emit or listen, so hosts queue such deliveries.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rule.h"
#include "sandbox.h"
#include "ttlib.h"

#define FAILURES_MAX 10000	/* length of the failure history kept per rule */

struct tt_rule {
	char *path;
	const char *name;		/* inside path */
	char logname[128];		/* name escaped for logs */
	const struct tt_host *host;
	struct tt_rule_limits limits;
	struct tt_sandbox *sb;
	struct tt_ttlib lib;
	struct tt_rule_stats stats;
	bool disabled;

	int64_t *failed_at;		/* ring of the last limits.failures failure times */
	int nfailed;
	int next_failure;
};

void
tt_rule_limits_init(struct tt_rule_limits *limits)
{
	limits->instructions = 10000000;
	limits->time_ms = 100;
	limits->memory = 64 * 1024 * 1024;
	limits->failures = 5;
	limits->failure_window_ms = 60000;
	limits->max_depth = TT_DEPTH_DEFAULT;
	limits->max_payload = TT_PAYLOAD_DEFAULT;
}

static char *
escape(const char *s, char *out, size_t size)
{
	return tt_log_escape(s, strlen(s), out, size);
}

struct tt_rule *
tt_rule_load(const char *path, const struct tt_host *host, const struct tt_rule_limits *limits,
	     const char *lua_path, const char *lua_dir, char *err, size_t errsize)
{
	struct tt_sandbox_config cfg;
	struct tt_sandbox_result res;
	struct tt_rule *rule;
	const char *slash;

	rule = calloc(1, sizeof(*rule));
	if (rule == NULL || (rule->path = strdup(path)) == NULL) {
		snprintf(err, errsize, "%s: out of memory", path);
		free(rule);
		return NULL;
	}
	slash = strrchr(rule->path, '/');
	rule->name = slash != NULL ? slash + 1 : rule->path;
	escape(rule->name, rule->logname, sizeof(rule->logname));
	rule->host = host;
	rule->limits = *limits;
	if (rule->limits.failures > FAILURES_MAX)
		rule->limits.failures = FAILURES_MAX;
	if (rule->limits.failures > 0) {
		rule->failed_at = calloc((size_t)rule->limits.failures, sizeof(*rule->failed_at));
		if (rule->failed_at == NULL) {
			snprintf(err, errsize, "%s: out of memory", path);
			goto fail;
		}
	}
	tt_ttlib_init(&rule->lib, rule, host, limits->max_depth, limits->max_payload,
		      &rule->stats.emits);

	cfg = (struct tt_sandbox_config){
		.name = rule->name,
		.path = rule->path,
		.instructions = limits->instructions,
		.time_ms = limits->time_ms,
		.memory = limits->memory,
		.lua_path = lua_path,
		.lua_dir = lua_dir,
		.open_module = tt_ttlib_open,
		.owner = &rule->lib,
	};
	rule->sb = tt_sandbox_new(&cfg, err, errsize);
	if (rule->sb == NULL)
		goto fail;
	if (tt_sandbox_run_file(rule->sb, path, &res) == -1) {
		snprintf(err, errsize, "%s", res.message);
		goto fail;
	}
	return rule;

fail:
	tt_rule_free(rule);
	return NULL;
}

void
tt_rule_free(struct tt_rule *rule)
{
	if (rule == NULL)
		return;
	if (!rule->lib.closed)
		tt_ttlib_release(&rule->lib);
	tt_sandbox_free(rule->sb);
	free(rule->failed_at);
	free(rule->path);
	free(rule);
}

const char *
tt_rule_name(const struct tt_rule *rule)
{
	return rule->name;
}

const char *
tt_rule_path(const struct tt_rule *rule)
{
	return rule->path;
}

bool
tt_rule_disabled(const struct tt_rule *rule)
{
	return rule->disabled;
}

const struct tt_rule_stats *
tt_rule_stats(const struct tt_rule *rule)
{
	return &rule->stats;
}

static void
disable(struct tt_rule *rule)
{
	int64_t window = rule->limits.failure_window_ms;

	rule->disabled = true;
	tt_ttlib_release(&rule->lib);
	if (window % 1000 == 0)
		tt_log(TT_LOG_ERROR, "rule", "disabled rule=%s failures=%d window=%llds "
		       "until=\"the next reload (SIGHUP or --watch)\"",
		       rule->logname, rule->limits.failures, (long long)(window / 1000));
	else
		tt_log(TT_LOG_ERROR, "rule", "disabled rule=%s failures=%d window=%lldms "
		       "until=\"the next reload (SIGHUP or --watch)\"",
		       rule->logname, rule->limits.failures, (long long)window);
}

/* Records a failure now; disables the rule when the last limits.failures fit in the window. */
static void
count_failure(struct tt_rule *rule)
{
	int max = rule->limits.failures;
	int64_t now = tt_now_mono_ms();

	if (max <= 0 || rule->disabled)
		return;
	rule->failed_at[rule->next_failure] = now;
	rule->next_failure = (rule->next_failure + 1) % max;
	if (rule->nfailed < max)
		rule->nfailed++;

	/* When the ring is full, next_failure is the index of the oldest of the last max failures. */
	if (rule->nfailed == max &&
	    now - rule->failed_at[rule->next_failure] <= rule->limits.failure_window_ms)
		disable(rule);
}

/* Logs each line of a traceback after its "stack traceback:" heading. */
static void
log_traceback(const struct tt_rule *rule, const char *tb)
{
	const char *line = strchr(tb, '\n');
	char frame[512];

	while (line != NULL) {
		const char *start = line + 1, *stop = strchr(start, '\n');
		size_t len = stop != NULL ? (size_t)(stop - start) : strlen(start);

		while (len > 0 && *start == '\t') {
			start++;
			len--;
		}
		/* "[C]: in ?" is the runtime's own frame that called the handler. */
		if (len > 0 && !(len == 9 && memcmp(start, "[C]: in ?", 9) == 0))
			tt_log(TT_LOG_WARN, "rule", "traceback rule=%s frame=\"%s\"", rule->logname,
			       tt_log_quote(start, len, frame, sizeof(frame)));
		line = stop;
	}
}

/* Logs and counts a failed call; topic is NULL for a timer. */
static void
failed(struct tt_rule *rule, const char *topic, const struct tt_sandbox_result *res)
{
	char error[TT_SANDBOX_MSG_MAX * 4], where[TT_TOPIC_MAX * 4 + 1];

	if (res->status == TT_SANDBOX_INSTRUCTIONS || res->status == TT_SANDBOX_TIME)
		rule->stats.budget_hits++;
	else
		rule->stats.errors++;

	tt_log_quote(res->message, strlen(res->message), error, sizeof(error));
	if (topic != NULL)
		tt_log(TT_LOG_WARN, "rule", "handler failed rule=%s topic=%s error=\"%s\"",
		       rule->logname, escape(topic, where, sizeof(where)), error);
	else
		tt_log(TT_LOG_WARN, "rule", "timer failed rule=%s error=\"%s\"", rule->logname,
		       error);
	log_traceback(rule, res->traceback);
	count_failure(rule);
}

static bool
reject_reentry(const struct tt_rule *rule)
{
	if (!tt_sandbox_running(rule->sb))
		return false;
	tt_log(TT_LOG_WARN, "rule", "reentry rejected rule=%s", rule->logname);
	return true;
}

static void
call_handler(struct tt_rule *rule, const struct tt_handler *h, const struct tt_message *msg,
	     bool retained)
{
	struct tt_ttlib_call call = {
		.lib = &rule->lib, .ref = h->ref, .msg = msg, .retained = retained,
	};
	struct tt_sandbox_result res;
	char topic[TT_TOPIC_MAX + 1];

	rule->stats.handled++;
	rule->lib.current = msg;
	tt_sandbox_call(rule->sb, tt_ttlib_invoke, &call, &res);
	rule->lib.current = NULL;
	if (res.status == TT_SANDBOX_OK)
		return;

	if (tt_topic_format(topic, sizeof(topic), rule->host->prefix, msg->topic.kind,
			    msg->topic.ns, msg->topic.name, false) < 0)
		snprintf(topic, sizeof(topic), "%s/%s", msg->topic.ns, msg->topic.name);
	failed(rule, topic, &res);
}

int
tt_rule_dispatch(struct tt_rule *rule, const struct tt_message *msg, bool retained)
{
	uint64_t ids[TT_TTLIB_HANDLERS_MAX];
	size_t n;
	int called = 0;

	if (rule->disabled || reject_reentry(rule))
		return 0;

	/* Handlers added or removed by a handler take effect from the next message. */
	n = tt_ttlib_matching(&rule->lib, msg, ids, TT_TTLIB_HANDLERS_MAX);
	for (size_t i = 0; i < n && !rule->disabled; i++) {
		const struct tt_handler *h = tt_ttlib_handler(&rule->lib, ids[i]);

		if (h == NULL)
			continue;
		call_handler(rule, h, msg, retained);
		called++;
	}
	return called;
}

int
tt_rule_dispatch_pattern(struct tt_rule *rule, enum tt_kind kind, const char *pattern_ns,
			 const char *pattern_name, const struct tt_message *msg, bool retained)
{
	const struct tt_handler *h;

	if (rule->disabled || reject_reentry(rule))
		return 0;
	h = tt_ttlib_pattern(&rule->lib, kind, pattern_ns, pattern_name);
	if (h == NULL || !tt_ttlib_matches(h, msg))
		return 0;
	call_handler(rule, h, msg, retained);
	return 1;
}

void
tt_rule_run_timers(struct tt_rule *rule, int64_t now_ms)
{
	uint64_t ids[TT_TTLIB_TIMERS_MAX];
	struct tt_sandbox_result res;
	struct tt_message origin;
	size_t n;

	if (rule->disabled || reject_reentry(rule))
		return;

	/* Only the timers due now: an every timer runs at most once per run. */
	n = tt_ttlib_due(&rule->lib, now_ms, ids, TT_TTLIB_TIMERS_MAX);
	for (size_t i = 0; i < n && !rule->disabled; i++) {
		struct tt_ttlib_call call = { .lib = &rule->lib };
		int64_t hop;

		if (tt_ttlib_take(&rule->lib, ids[i], now_ms, &call.ref, &call.owned, &hop) == -1)
			continue;
		/*
		 * A timer made inside a handler emits as if still handling that
		 * message, with its hop, so the host's hop limit counts the chain.
		 */
		if (hop >= 0) {
			memset(&origin, 0, sizeof(origin));
			origin.hop = hop;
			snprintf(origin.src, sizeof(origin.src), "%s", rule->host->app != NULL ?
				 rule->host->app : "");
			rule->lib.current = &origin;
		}
		if (tt_sandbox_call(rule->sb, tt_ttlib_invoke, &call, &res) == -1)
			failed(rule, NULL, &res);
		rule->lib.current = NULL;
	}
}

int64_t
tt_rule_next_timer(const struct tt_rule *rule)
{
	if (rule->disabled)
		return -1;
	return tt_ttlib_next_due(&rule->lib);
}

static int
is_rule_file(const struct dirent *d)
{
	size_t len = strlen(d->d_name);

	return d->d_name[0] != '.' && len > 4 && strcmp(d->d_name + len - 4, ".lua") == 0;
}

int
tt_rule_scan(const char *dir, struct dirent ***names)
{
	return scandir(dir, names, is_rule_file, alphasort);
}
