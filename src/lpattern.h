/* SPDX-License-Identifier: MIT */
/*
 * Lua 5.4 string patterns with a step budget: string.find, string.match,
 * string.gmatch and string.gsub rewritten so that a long match calls back
 * into the sandbox every few thousand steps. The stock functions run in C
 * without ever returning to the VM, so a pathological pattern would escape
 * the instruction budget and the deadline.
 */
#ifndef TT_LPATTERN_H
#define TT_LPATTERN_H

#include <stdint.h>

#include <lua.h>

/*
 * Charges steps of matching work to the caller's budget. It may raise a
 * Lua error (longjmp) to abort the match; the matcher holds no memory
 * outside the Lua stack, so that is safe. It must leave the Lua stack as it
 * found it, because gsub may have a luaL_Buffer open on it. steps is the
 * work done since the previous call, at least TT_LPATTERN_STEP_CHUNK: steps
 * carry over from one string function call to the next, and a plain find
 * or a long %b may add many steps at once.
 */
typedef void (*tt_lpattern_charge)(lua_State *L, void *ud, uint64_t steps);

/* Steps between two calls of the charge function. */
#define TT_LPATTERN_STEP_CHUNK 4096

/*
 * Replaces find, match, gmatch and gsub in the table at index idx (the
 * state's string library) with the budgeted versions. charge and ud are
 * stored in upvalues. A NULL charge turns the budget off.
 */
void tt_lpattern_install(lua_State *L, int idx, tt_lpattern_charge charge, void *ud);

#endif
