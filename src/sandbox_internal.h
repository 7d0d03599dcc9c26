/* SPDX-License-Identifier: MIT */
/*
 * The parts that sandbox.c and sandbox_lib.c share: the state of one
 * sandbox and the two calls between them. No other module includes this
 * header.
 */
#ifndef TT_SANDBOX_INTERNAL_H
#define TT_SANDBOX_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lua.h>

#include "log.h"
#include "sandbox.h"

#define TT_SANDBOX_WORK_PER_INSN 8	/* bytes, arguments or pattern steps per instruction */

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

/* Opens the restricted library in a new state. A lua_CFunction, run through tt_sandbox_call. */
int tt_sandbox_open_library(lua_State *L);

/* Pushes the chunk of a text file named "@path", charging its bytes, or raises an error. */
void tt_sandbox_load_file(lua_State *L, const char *path);

#endif
