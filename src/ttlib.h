/* SPDX-License-Identifier: MIT */
/*
 * The "tattletale" Lua module of a rule, and what the rule registers
 * through it: handlers, kept in the order they were added, and timers,
 * kept in the order they are due. rule.c runs them; this module only
 * records them and reports listens to the host.
 */
#ifndef TT_TTLIB_H
#define TT_TTLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lua.h>

#include "envelope.h"
#include "rule.h"
#include "topic.h"

#define TT_TTLIB_HANDLERS_MAX 1000	/* per rule */
#define TT_TTLIB_TIMERS_MAX 1000	/* per rule */

struct tt_handler {
	uint64_t id;
	enum tt_kind kind;
	char ns[TT_PART_MAX + 1];	/* a part or "*" */
	char name[TT_PART_MAX + 1];
	int ref;			/* the function, in the registry */
};

struct tt_timer {
	uint64_t id;
	int64_t due_ms;			/* CLOCK_MONOTONIC */
	int64_t interval_ms;		/* 0 for tt.after */
	int ref;
	int64_t hop;			/* of the message handled when it was made, or -1 */
};

struct tt_ttlib {
	struct tt_rule *rule;
	const struct tt_host *host;
	int max_depth;
	size_t max_payload;
	uint64_t *emits;		/* counter to increment per emit */
	const struct tt_message *current;	/* the message being handled, or NULL */
	bool closed;			/* released: tt.* functions raise */

	struct tt_handler *handlers;
	size_t nhandlers, handlers_cap;
	struct tt_timer *timers;
	size_t ntimers, timers_cap;
	uint64_t next_id;
};

/* The call tt_ttlib_invoke makes, passed to it as a light userdata. */
struct tt_ttlib_call {
	struct tt_ttlib *lib;
	int ref;			/* the function, in the registry */
	bool owned;			/* release ref before the call (a tt.after timer) */
	const struct tt_message *msg;	/* the message for a handler, NULL for a timer */
	bool retained;
};

void tt_ttlib_init(struct tt_ttlib *lib, struct tt_rule *rule, const struct tt_host *host,
		   int max_depth, size_t max_payload, uint64_t *emits);

/*
 * Drops every handler, reporting each to host->unlisten, and every timer.
 * Later calls of tt.* functions raise. Runs no Lua; the functions stay in
 * the registry until the state is closed.
 */
void tt_ttlib_release(struct tt_ttlib *lib);

/* lua_CFunction that returns the module table; the opener of tt_sandbox_config. */
int tt_ttlib_open(lua_State *L);

/*
 * lua_CFunction run by tt_sandbox_call with a struct tt_ttlib_call: calls
 * fn(src, value, meta) for a message, or fn() for a timer.
 */
int tt_ttlib_invoke(lua_State *L);

/* Pushes the value of msg (nil for JSON null) and its meta table. [-0, +2, m] */
void tt_ttlib_push_message(lua_State *L, const struct tt_ttlib *lib, const struct tt_message *msg,
			   bool retained);

bool tt_ttlib_matches(const struct tt_handler *h, const struct tt_message *msg);
/* Writes the ids of the handlers matching msg, in order. Returns their number (at most max). */
size_t tt_ttlib_matching(const struct tt_ttlib *lib, const struct tt_message *msg, uint64_t *ids,
			 size_t max);
/* The handler with this id, or NULL when it was removed. */
const struct tt_handler *tt_ttlib_handler(const struct tt_ttlib *lib, uint64_t id);
/* The handler registered on exactly (kind, ns, name), or NULL. */
const struct tt_handler *tt_ttlib_pattern(const struct tt_ttlib *lib, enum tt_kind kind,
					  const char *ns, const char *name);

/* Writes the ids of the timers due at now, earliest first. Returns their number (at most max). */
size_t tt_ttlib_due(const struct tt_ttlib *lib, int64_t now_ms, uint64_t *ids, size_t max);
/*
 * Takes a due timer for running: a tt.after timer is removed and its ref
 * handed over (*owned set); a tt.every timer is re-armed at the first
 * period after now_ms, so missed periods are skipped, and keeps its ref.
 * Returns 0, or -1 when the timer no longer exists.
 */
int tt_ttlib_take(struct tt_ttlib *lib, uint64_t id, int64_t now_ms, int *ref, bool *owned,
		  int64_t *hop);
/* The due time of the earliest timer, or -1 when there is none. */
int64_t tt_ttlib_next_due(const struct tt_ttlib *lib);

#endif
