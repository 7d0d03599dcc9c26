/* SPDX-License-Identifier: MIT */
/*
 * One rule: one Lua file running in its own sandboxed lua_State, with its
 * handlers, timers, budgets and counters. The rule reaches the rest of the
 * router only through struct tt_host, so the router, `tattletale check`
 * and the unit tests can each supply their own.
 *
 * Every call into Lua (loading, a handler, a timer) runs under the budgets
 * in struct tt_rule_limits. A rule that fails too often is disabled until
 * it is loaded again.
 */
#ifndef TT_RULE_H
#define TT_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "topic.h"

struct tt_rule;

/* A state as the router last saw it, for tt.get(). */
struct tt_state_view {
	const struct tt_message *msg;
	bool retained;
};

/* The services a rule may request from its host. ctx is tt_host.ctx. */
struct tt_host {
	void *ctx;
	const char *app;		/* this router's app name, for tt.app */
	const char *prefix;		/* topic prefix, for meta.topic */

	/*
	 * Signs and publishes a value. json is compact JSON text that the rule
	 * module has validated. in is the message being handled when the emit
	 * happens inside a handler, else NULL (load or timer). Returns 0, or -1
	 * with a reason in err that is raised as a Lua error in the rule.
	 */
	int (*emit)(void *ctx, struct tt_rule *rule, enum tt_kind kind, const char *ns,
		    const char *name, const char *json, size_t len, const struct tt_message *in,
		    char *err, size_t errsize);

	/*
	 * Called when the rule gains its first handler for (kind, ns, name)
	 * and when it drops its last one. ns and name may be "*".
	 */
	int (*listen)(void *ctx, struct tt_rule *rule, enum tt_kind kind, const char *ns,
		      const char *name);
	void (*unlisten)(void *ctx, struct tt_rule *rule, enum tt_kind kind, const char *ns,
			 const char *name);

	/* Looks up the last verified state on ns/name; returns false when none is known. */
	bool (*get_state)(void *ctx, const char *ns, const char *name, struct tt_state_view *out);
};

struct tt_rule_limits {
	int64_t instructions;		/* VM instructions per call */
	int64_t time_ms;		/* wall-clock milliseconds per call */
	size_t memory;			/* bytes for the whole lua_State */
	int failures;			/* errors or budget hits before disabling */
	int64_t failure_window_ms;	/* ... within this span */
	int max_depth;			/* JSON nesting for emitted values */
	size_t max_payload;		/* bytes of emitted JSON */
};

struct tt_rule_stats {
	uint64_t handled;		/* handler calls */
	uint64_t errors;		/* calls that raised an error */
	uint64_t budget_hits;		/* calls aborted by a budget */
	uint64_t emits;			/* values published */
};

struct dirent;

/*
 * Lists the rule files of dir: the names ending in ".lua" that do not start
 * with '.', in lexical order. Returns their number and a scandir(3) array in
 * *names (free each entry, then the array), or -1 with errno.
 */
int tt_rule_scan(const char *dir, struct dirent ***names);

/* Sets every limit to its default. */
void tt_rule_limits_init(struct tt_rule_limits *limits);

/*
 * Loads a rule file: creates its sandbox and runs the file once under the
 * budgets. lua_path is the rules' own module folder (may be NULL); lua_dir is
 * the shipped lua/ folder. Returns the rule, or NULL with a message in err
 * such as "rules.d/a.lua:3: unexpected symbol near 'end'".
 * Listens made while loading reach host->listen before this returns.
 */
struct tt_rule *tt_rule_load(const char *path, const struct tt_host *host,
			     const struct tt_rule_limits *limits, const char *lua_path,
			     const char *lua_dir, char *err, size_t errsize);

/*
 * Closes the rule's Lua state, cancels its timers and reports each of its
 * remaining listens to host->unlisten. Accepts NULL.
 */
void tt_rule_free(struct tt_rule *rule);

/* The rule's name for logs: the file name, such as "indexer.lua". */
const char *tt_rule_name(const struct tt_rule *rule);
const char *tt_rule_path(const struct tt_rule *rule);
bool tt_rule_disabled(const struct tt_rule *rule);
const struct tt_rule_stats *tt_rule_stats(const struct tt_rule *rule);

/*
 * Calls every handler of the rule that matches the message, in the order
 * they were added. Errors and budget hits are logged and counted, never
 * returned. Returns the number of handlers called.
 */
int tt_rule_dispatch(struct tt_rule *rule, const struct tt_message *msg, bool retained);

/*
 * Calls only the handler registered on exactly (kind, pattern_ns,
 * pattern_name), if it matches the message. The host uses it to hand
 * cached states to a handler that just started listening. Returns 1 when
 * the handler was called, else 0.
 */
int tt_rule_dispatch_pattern(struct tt_rule *rule, enum tt_kind kind, const char *pattern_ns,
			     const char *pattern_name, const struct tt_message *msg, bool retained);

/* Runs the timers that are due at now_ms (CLOCK_MONOTONIC). */
void tt_rule_run_timers(struct tt_rule *rule, int64_t now_ms);
/* The monotonic time of the next timer, or -1 when the rule has none. */
int64_t tt_rule_next_timer(const struct tt_rule *rule);

#endif
