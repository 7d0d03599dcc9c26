/* SPDX-License-Identifier: MIT */
/*
 * Conversion between JSON text and Lua values, keeping what a
 * round trip needs: objects and arrays carry marker metatables so empty ones
 * keep their kind, integers stay 64-bit integers, and JSON null inside a
 * table is the sentinel tt.null.
 */
#ifndef TT_LUAJSON_H
#define TT_LUAJSON_H

#include <stdbool.h>
#include <stddef.h>

#include <lua.h>

/* Maximum table nesting that tt_luajson_encode accepts, whatever max_depth requests. */
#define TT_LUAJSON_MAX_DEPTH 1000

/* Creates the marker metatables and the null sentinel in L's registry. Call once per state. */
void tt_luajson_setup(lua_State *L);

/* Pushes the null sentinel, a new empty array and a new empty object. */
void tt_luajson_push_null(lua_State *L);
void tt_luajson_push_array(lua_State *L);
void tt_luajson_push_object(lua_State *L);
/* Pushes a new object or array with its marker and room for narr + nrec entries. */
void tt_luajson_push_marked(lua_State *L, bool object, size_t narr, size_t nrec);
/* Whether the value at idx is the null sentinel. */
int tt_luajson_is_null(lua_State *L, int idx);
/* Whether the value at idx is a table with the array or the object marker. */
int tt_luajson_is_array(lua_State *L, int idx);
int tt_luajson_is_object(lua_State *L, int idx);

/*
 * Pushes the JSON value in text[0..len), which must have passed the scanner
 * (tt_json_validate or tt_json_scan_object), as a Lua value: a top-level
 * null becomes nil, a null inside a table becomes the sentinel. Raises a
 * memory error. Text that did not pass the scanner is read without going
 * past its end or overrunning a buffer, but it may raise an error or give
 * wrong values.
 */
void tt_luajson_push_text(lua_State *L, const char *text, size_t len);

/*
 * Encodes the Lua value at idx as compact JSON and pushes the text as a
 * string. It rejects non-finite numbers, and strings that are not valid
 * UTF-8 or that contain a NUL byte (receivers reject \u0000). It also
 * rejects cycles, tables deeper than max_depth, tables with keys that are
 * neither a sequence nor all strings, functions, userdata and threads, and
 * output over max_len bytes. Returns 0, or -1 with a message in err and
 * nothing pushed.
 * May raise a memory error; it then leaks nothing.
 *
 * A table at the top level is at depth 1; a max_depth above
 * TT_LUAJSON_MAX_DEPTH counts as TT_LUAJSON_MAX_DEPTH. Object keys are
 * written in byte order, so equal tables give equal text.
 */
int tt_luajson_encode(lua_State *L, int idx, int max_depth, size_t max_len,
		      char *err, size_t errsize);

#endif
