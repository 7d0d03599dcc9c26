/* SPDX-License-Identifier: MIT */
/*
 * The Lua state of one rule: a restricted standard library, a memory cap
 * enforced by the allocator, and calls that run under an instruction budget
 * and a wall-clock deadline. The sandbox has no notion of topics or
 * handlers; the "tattletale" module comes from the opener in its config.
 */
#ifndef TT_SANDBOX_H
#define TT_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lua.h>

#include "log.h"

/* Bytes of a rule file or of a module that require() loads. */
#define TT_SANDBOX_FILE_MAX (4 * 1024 * 1024)

#define TT_SANDBOX_MSG_MAX 512
#define TT_SANDBOX_TRACE_MAX 2048

struct tt_sandbox;

struct tt_sandbox_config {
	const char *name;		/* for logs, such as "indexer.lua" */
	const char *path;		/* the rule file, prefix of memory errors */
	int64_t instructions;		/* per call; 0 or less: no limit */
	int64_t time_ms;		/* per call; 0 or less: no limit */
	size_t memory;			/* bytes for the whole state; 0: no limit */
	const char *lua_path;		/* first folder of require(); may be NULL */
	const char *lua_dir;		/* second folder of require(); may be NULL */
	lua_CFunction open_module;	/* returns the table of require("tattletale") */
	void *owner;			/* returned by tt_sandbox_owner */
};

enum tt_sandbox_status {
	TT_SANDBOX_OK,
	TT_SANDBOX_ERROR,		/* the rule raised an error */
	TT_SANDBOX_MEMORY,		/* an allocation failed, usually at the memory cap */
	TT_SANDBOX_INSTRUCTIONS,	/* the instruction budget ran out */
	TT_SANDBOX_TIME,		/* the deadline passed */
};

/* The outcome of one call. */
struct tt_sandbox_result {
	enum tt_sandbox_status status;
	char message[TT_SANDBOX_MSG_MAX];	/* "file:line: text", empty on success */
	char traceback[TT_SANDBOX_TRACE_MAX];	/* "stack traceback:\n\t...", or empty */
};

/*
 * Creates a state with the restricted library. Returns it, or NULL with a
 * message in err (the memory cap is too small for the library, or malloc
 * failed).
 */
struct tt_sandbox *tt_sandbox_new(const struct tt_sandbox_config *cfg, char *err,
				  size_t errsize);

/*
 * Closes the state. Anything Lua runs while closing gets a fresh budget.
 * Accepts NULL.
 */
void tt_sandbox_free(struct tt_sandbox *sb);

lua_State *tt_sandbox_state(const struct tt_sandbox *sb);
/* The sandbox of a state created by tt_sandbox_new, from any of its threads. */
struct tt_sandbox *tt_sandbox_of(lua_State *L);
void *tt_sandbox_owner(const struct tt_sandbox *sb);
const char *tt_sandbox_name(const struct tt_sandbox *sb);
/* Bytes the state has allocated now. */
size_t tt_sandbox_memory(const struct tt_sandbox *sb);
/* Whether a call is running, so that callers can reject reentry. */
bool tt_sandbox_running(const struct tt_sandbox *sb);

/*
 * Calls fn(L) in protected mode with arg as its only argument (a light
 * userdata), under a fresh instruction budget and deadline. Errors get a
 * traceback. Fills res and returns 0 when fn returned normally, else -1.
 * Returns -1 with TT_SANDBOX_ERROR, running nothing, when a call is already running.
 */
int tt_sandbox_call(struct tt_sandbox *sb, lua_CFunction fn, void *arg,
		    struct tt_sandbox_result *res);

/*
 * Loads the file at path as a text chunk named "@path" and runs it once
 * with no arguments, as tt_sandbox_call does.
 */
int tt_sandbox_run_file(struct tt_sandbox *sb, const char *path, struct tt_sandbox_result *res);

/*
 * Adds instructions to the running call's budget. Raises a Lua error when
 * the budget or the deadline is exceeded, or when the call is already
 * being aborted. C functions reachable from Lua call it on entry, with an
 * estimate of the work they are about to do.
 */
void tt_sandbox_charge(lua_State *L, uint64_t instructions);

/*
 * Writes the values at first..top, converted with tostring and joined by
 * spaces, as one log record "rule: <event> rule=NAME msg=\"...\"". Records
 * of one rule are rate-limited. May raise a Lua error.
 */
void tt_sandbox_log(lua_State *L, enum tt_log_level level, const char *event, int first);

/* Returns "ok", "error", "memory", "instructions" or "time". */
const char *tt_sandbox_status_name(enum tt_sandbox_status status);

#endif
