/* SPDX-License-Identifier: MIT */
/*
 * string.find, string.match, string.gmatch and string.gsub with a step
 * budget.
 *
 * Rules run in a Lua state whose instruction budget and deadline are
 * enforced by a count hook, but the hook only fires between VM
 * instructions. The stock pattern functions match in C without returning
 * to the VM, so one call such as
 * string.find(string.rep("a", 30000), ".-.-.-.-.-b") can run for minutes
 * and never be stopped. This file matches patterns itself and counts its
 * work: each test of a subject byte against a pattern item, each entry into
 * the matcher (so every backtrack), each byte scanned by a plain find, a
 * %b, a back-reference or a set, and each byte that a gsub replacement
 * string adds is one step. Every
 * TT_LPATTERN_STEP_CHUNK steps it calls the charge function, which may
 * raise a Lua error to abort the call. Results and error messages follow
 * the Lua 5.4 reference manual (sections 6.4 and 6.4.1) and were checked
 * against the stock functions of Lua 5.4.4 by tests/test_lpattern.c.
 *
 * The matcher keeps all its state in a struct on the C stack and in
 * Lua values, so a longjmp out of the charge function leaks nothing.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <lauxlib.h>

#include "lpattern.h"

/* Lua 5.4's LUA_MAXCAPTURES. */
#define MAX_CAPTURES	32
/* Nested matcher calls allowed before "pattern too complex", as in Lua 5.4. */
#define MAX_DEPTH	200
/* Bytes that make find run the matcher instead of a plain search. */
#define SPECIALS	"^$*+?.([%-"

/* Values of capture.len that mark an open capture and a position capture. */
#define CAP_OPEN	(-1)
#define CAP_POSITION	(-2)

/* Value of the last match end of a gmatch iterator before its first match. */
#define NO_MATCH	SIZE_MAX

/*
 * The charge function and the steps not yet charged, shared by the
 * closures of one install.
 */
struct budget {
	tt_lpattern_charge charge;
	void *ud;
	uint64_t pending;
};

struct capture {
	const char *start;
	ptrdiff_t len;		/* a length, CAP_OPEN or CAP_POSITION */
};

/* The state of one match attempt at one subject position. */
struct matcher {
	lua_State *L;
	struct budget *budget;
	const char *subject;
	const char *subject_end;
	const char *pattern_end;
	int depth_left;
	int ncaptures;
	struct capture captures[MAX_CAPTURES];
};

/* Position of a gmatch iterator, as offsets into its subject. */
struct gmatch_state {
	size_t next;
	size_t last_end;
};

/*
 * Adds n steps to the budget and calls the charge function once the
 * pending steps reach a chunk. The pending count is reset first, so the
 * budget stays consistent when the charge function raises.
 */
static void
charge_steps(lua_State *L, struct budget *budget, uint64_t n)
{
	uint64_t steps;

	budget->pending += n;
	if (budget->pending < TT_LPATTERN_STEP_CHUNK)
		return;
	steps = budget->pending;
	budget->pending = 0;
	if (budget->charge != NULL)
		budget->charge(L, budget->ud, steps);
}

static void
step(struct matcher *m, uint64_t n)
{
	charge_steps(m->L, m->budget, n);
}

static void
reset(struct matcher *m)
{
	m->ncaptures = 0;
	m->depth_left = MAX_DEPTH;
}

static void
prepare(struct matcher *m, lua_State *L, struct budget *budget,
    const char *s, size_t ls, const char *p, size_t lp)
{
	m->L = L;
	m->budget = budget;
	m->subject = s;
	m->subject_end = s + ls;
	m->pattern_end = p + lp;
	reset(m);
}

/*
 * Returns the end of the single-character class that starts at p: one
 * character, an escape %x, or a set [...].
 */
static const char *
class_end(struct matcher *m, const char *p)
{
	char c = *p++;

	if (c == '%') {
		if (p >= m->pattern_end)
			luaL_error(m->L, "malformed pattern (ends with '%%')");
		return p + 1;
	}
	if (c != '[')
		return p;
	if (p < m->pattern_end && *p == '^')
		p++;
	/* The first character of a set is a member even when it is ']'. */
	do {
		if (p >= m->pattern_end)
			luaL_error(m->L, "malformed pattern (missing ']')");
		c = *p++;
		if (c == '%' && p < m->pattern_end)
			p++;
	} while (p >= m->pattern_end || *p != ']');
	return p + 1;
}

/*
 * Tests byte c against the class letter cl of an escape %cl. A letter that
 * names no class stands for itself. The manual no longer lists %z (the
 * byte '\0'), but Lua 5.4.4 still matches it, and so does this function.
 */
static int
class_has(int c, int cl)
{
	int res;

	switch (tolower(cl)) {
	case 'a': res = isalpha(c); break;
	case 'c': res = iscntrl(c); break;
	case 'd': res = isdigit(c); break;
	case 'g': res = isgraph(c); break;
	case 'l': res = islower(c); break;
	case 'p': res = ispunct(c); break;
	case 's': res = isspace(c); break;
	case 'u': res = isupper(c); break;
	case 'w': res = isalnum(c); break;
	case 'x': res = isxdigit(c); break;
	case 'z': res = c == '\0'; break;	/* deprecated, still in Lua 5.4 */
	default: return cl == c;
	}
	if (isupper(cl))
		res = !res;
	return res;
}

/* Tests byte c against the set that opens at p and closes at close. */
static int
set_has(struct matcher *m, int c, const char *p, const char *close)
{
	const char *start = p;
	int member = 1;
	int found = 0;

	if (p[1] == '^') {
		member = 0;
		p++;
	}
	while (++p < close) {
		if (*p == '%') {
			p++;
			found = class_has(c, (unsigned char)*p);
		} else if (p[1] == '-' && p + 2 < close) {
			found = (unsigned char)p[0] <= c &&
			    c <= (unsigned char)p[2];
			p += 2;
		} else {
			found = (unsigned char)*p == c;
		}
		if (found)
			break;
	}
	step(m, (uint64_t)(p - start));
	return found ? member : !member;
}

/* Tests the subject byte at s against the class from p to ep. */
static int
item_has(struct matcher *m, const char *s, const char *p, const char *ep)
{
	int c;

	step(m, 1);
	if (s >= m->subject_end)
		return 0;
	c = (unsigned char)*s;
	switch (*p) {
	case '.':
		return 1;
	case '%':
		return class_has(c, (unsigned char)p[1]);
	case '[':
		return set_has(m, c, p, ep - 1);
	default:
		return (unsigned char)*p == c;
	}
}

static const char *match_here(struct matcher *m, const char *s, const char *p);

/* Matches as many repetitions as possible, then gives them back one by one. */
static const char *
expand_greedy(struct matcher *m, const char *s, const char *p, const char *ep)
{
	const char *res;
	size_t n = 0;

	while (item_has(m, s + n, p, ep))
		n++;
	for (;;) {
		res = match_here(m, s + n, ep + 1);
		if (res != NULL || n == 0)
			return res;
		n--;
	}
}

/* Tries the rest of the pattern first, and one more repetition on failure. */
static const char *
expand_lazy(struct matcher *m, const char *s, const char *p, const char *ep)
{
	const char *res;

	for (;;) {
		res = match_here(m, s, ep + 1);
		if (res != NULL)
			return res;
		if (!item_has(m, s, p, ep))
			return NULL;
		s++;
	}
}

static const char *
open_capture(struct matcher *m, const char *s, const char *p, ptrdiff_t what)
{
	const char *res;

	if (m->ncaptures >= MAX_CAPTURES)
		luaL_error(m->L, "too many captures");
	m->captures[m->ncaptures].start = s;
	m->captures[m->ncaptures].len = what;
	m->ncaptures++;
	res = match_here(m, s, p);
	if (res == NULL)
		m->ncaptures--;
	return res;
}

/* Closes the innermost capture that is still open. */
static const char *
close_capture(struct matcher *m, const char *s, const char *p)
{
	const char *res;
	int i;

	for (i = m->ncaptures - 1; i >= 0; i--) {
		if (m->captures[i].len == CAP_OPEN)
			break;
	}
	if (i < 0)
		luaL_error(m->L, "invalid pattern capture");
	m->captures[i].len = s - m->captures[i].start;
	res = match_here(m, s, p);
	if (res == NULL)
		m->captures[i].len = CAP_OPEN;
	return res;
}

/*
 * Matches %bxy at s, where p points at x. Returns the end of the balanced
 * run, or NULL.
 */
static const char *
match_balance(struct matcher *m, const char *s, const char *p)
{
	const char *start = s;
	int depth = 1;

	if (p + 1 >= m->pattern_end)
		luaL_error(m->L, "malformed pattern (missing arguments to '%%b')");
	if (s >= m->subject_end || *s != p[0])
		return NULL;
	while (++s < m->subject_end) {
		if (*s == p[1]) {
			if (--depth == 0)
				break;
		} else if (*s == p[0]) {
			depth++;
		}
	}
	step(m, (uint64_t)(s - start));
	return s < m->subject_end ? s + 1 : NULL;
}

/*
 * Matches the frontier %f[set] at s, where p points at '['. Returns the end
 * of the set in the pattern, or NULL when s is no frontier. The subject is
 * taken to have a '\0' before its start and after its end.
 */
static const char *
match_frontier(struct matcher *m, const char *s, const char *p)
{
	const char *ep;
	int prev, cur;

	if (p >= m->pattern_end || *p != '[')
		luaL_error(m->L, "missing '[' after '%%f' in pattern");
	ep = class_end(m, p);
	prev = s == m->subject ? '\0' : (unsigned char)s[-1];
	cur = s < m->subject_end ? (unsigned char)*s : '\0';
	if (!set_has(m, prev, p, ep - 1) && set_has(m, cur, p, ep - 1))
		return ep;
	return NULL;
}

/* Matches the back-reference %d at s. Returns the end of the copy, or NULL. */
static const char *
match_backref(struct matcher *m, const char *s, int digit)
{
	int i = digit - '1';
	ptrdiff_t len;

	if (i < 0 || i >= m->ncaptures || m->captures[i].len == CAP_OPEN)
		luaL_error(m->L, "invalid capture index %%%d", i + 1);
	len = m->captures[i].len;

	/* Like Lua 5.4, a reference to a position capture never matches. */
	if (len < 0)
		return NULL;
	step(m, 1 + (uint64_t)len);
	if (m->subject_end - s >= len &&
	    memcmp(m->captures[i].start, s, (size_t)len) == 0)
		return s + len;
	return NULL;
}

/*
 * Matches one single-character class at s, with its quantifier if any.
 * Returns 1 when matching goes on at *sp and *pp, or 0 when *sp is the
 * final result of this match_here call.
 */
static int
match_item(struct matcher *m, const char **sp, const char **pp)
{
	const char *s = *sp, *p = *pp;
	const char *ep = class_end(m, p);
	const char *res;
	char quantifier = ep < m->pattern_end ? *ep : '\0';

	if (!item_has(m, s, p, ep)) {
		if (quantifier == '*' || quantifier == '?' || quantifier == '-') {
			*pp = ep + 1;
			return 1;
		}
		*sp = NULL;
		return 0;
	}
	switch (quantifier) {
	case '?':
		res = match_here(m, s + 1, ep + 1);
		if (res != NULL) {
			*sp = res;
			return 0;
		}
		*pp = ep + 1;
		return 1;
	case '+':
		*sp = expand_greedy(m, s + 1, p, ep);
		return 0;
	case '*':
		*sp = expand_greedy(m, s, p, ep);
		return 0;
	case '-':
		*sp = expand_lazy(m, s, p, ep);
		return 0;
	default:
		*sp = s + 1;
		*pp = ep;
		return 1;
	}
}

/* Matches the escapes %b, %f and %1-%9 like match_item; others go to it. */
static int
match_escape(struct matcher *m, const char **sp, const char **pp)
{
	const char *p = *pp;
	const char *res;
	char c = p + 1 < m->pattern_end ? p[1] : '\0';

	if (c == 'b') {
		res = match_balance(m, *sp, p + 2);
		p += 4;
	} else if (c == 'f') {
		res = *sp;
		p = match_frontier(m, *sp, p + 2);
	} else if (c >= '0' && c <= '9') {
		res = match_backref(m, *sp, c);
		p += 2;
	} else {
		return match_item(m, sp, pp);
	}
	if (res == NULL || p == NULL) {
		*sp = NULL;
		return 0;
	}
	*sp = res;
	*pp = p;
	return 1;
}

/*
 * Matches the pattern from p to its end against the subject from s.
 * Returns the end of the match, or NULL. Every capture, every '?' that
 * consumed a byte and every repetition goes one call deeper. MAX_DEPTH
 * bounds that depth, and with it the C stack.
 */
static const char *
match_here(struct matcher *m, const char *s, const char *p)
{
	int more = 1;

	if (m->depth_left-- == 0)
		luaL_error(m->L, "pattern too complex");
	step(m, 1);
	while (more && p < m->pattern_end) {
		switch (*p) {
		case '(':
			if (p + 1 < m->pattern_end && p[1] == ')')
				s = open_capture(m, s, p + 2, CAP_POSITION);
			else
				s = open_capture(m, s, p + 1, CAP_OPEN);
			more = 0;
			break;
		case ')':
			s = close_capture(m, s, p + 1);
			more = 0;
			break;
		case '$':
			if (p + 1 == m->pattern_end) {
				if (s != m->subject_end)
					s = NULL;
				more = 0;
			} else {
				more = match_item(m, &s, &p);
			}
			break;
		case '%':
			more = match_escape(m, &s, &p);
			break;
		default:
			more = match_item(m, &s, &p);
			break;
		}
	}
	m->depth_left++;
	return s;
}

/*
 * Pushes capture i, or the whole match from s to e when i is 0 and the
 * pattern has no captures.
 */
static void
push_capture(struct matcher *m, int i, const char *s, const char *e)
{
	ptrdiff_t len;

	if (i >= m->ncaptures) {
		if (i != 0)
			luaL_error(m->L, "invalid capture index %%%d", i + 1);
		lua_pushlstring(m->L, s, (size_t)(e - s));
		return;
	}
	len = m->captures[i].len;
	if (len == CAP_OPEN)
		luaL_error(m->L, "unfinished capture");
	if (len == CAP_POSITION)
		lua_pushinteger(m->L, m->captures[i].start - m->subject + 1);
	else
		lua_pushlstring(m->L, m->captures[i].start, (size_t)len);
}

/*
 * Pushes all captures, or the whole match when there are none and s is not
 * NULL. Returns how many values it pushed.
 */
static int
push_captures(struct matcher *m, const char *s, const char *e)
{
	int n = m->ncaptures == 0 && s != NULL ? 1 : m->ncaptures;

	luaL_checkstack(m->L, n, "too many captures");
	for (int i = 0; i < n; i++)
		push_capture(m, i, s, e);
	return n;
}

/*
 * Converts the init argument to a 1-based position: negative values count
 * from the end, and values before the start clip to 1.
 */
static size_t
init_position(lua_Integer pos, size_t len)
{
	if (pos > 0)
		return (size_t)pos;
	if (pos == 0 || pos < -(lua_Integer)len)
		return 1;
	return len + (size_t)pos + 1;
}

static int
has_specials(const char *p, size_t lp)
{
	for (const char *c = SPECIALS; *c != '\0'; c++) {
		if (memchr(p, *c, lp) != NULL)
			return 1;
	}
	return 0;
}

/* Returns the first occurrence of p in s, or NULL. */
static const char *
find_plain(lua_State *L, struct budget *budget, const char *s, size_t ls,
    const char *p, size_t lp)
{
	const char *cur = s, *last, *hit;

	if (lp == 0)
		return s;
	if (lp > ls)
		return NULL;
	last = s + (ls - lp);
	while (cur <= last) {
		hit = memchr(cur, *p, (size_t)(last - cur) + 1);
		if (hit == NULL) {
			charge_steps(L, budget, (uint64_t)(last - cur) + 1);
			return NULL;
		}
		charge_steps(L, budget, (uint64_t)(hit - cur) + lp);
		if (memcmp(hit + 1, p + 1, lp - 1) == 0)
			return hit;
		cur = hit + 1;
	}
	return NULL;
}

/* The common part of find and match. */
static int
find_or_match(lua_State *L, int find)
{
	struct budget *budget = lua_touserdata(L, lua_upvalueindex(1));
	size_t ls, lp, init;
	const char *s = luaL_checklstring(L, 1, &ls);
	const char *p = luaL_checklstring(L, 2, &lp);
	const char *start, *e;
	struct matcher m;
	int anchor;

	init = init_position(luaL_optinteger(L, 3, 1), ls) - 1;
	if (init > ls) {
		luaL_pushfail(L);
		return 1;
	}
	if (find && (lua_toboolean(L, 4) || !has_specials(p, lp))) {
		start = find_plain(L, budget, s + init, ls - init, p, lp);
		if (start == NULL) {
			luaL_pushfail(L);
			return 1;
		}
		lua_pushinteger(L, start - s + 1);
		lua_pushinteger(L, (lua_Integer)(start - s + lp));
		return 2;
	}

	anchor = lp > 0 && *p == '^';
	if (anchor) {
		p++;
		lp--;
	}
	prepare(&m, L, budget, s, ls, p, lp);
	for (start = s + init; start <= m.subject_end; start++) {
		reset(&m);
		e = match_here(&m, start, p);
		if (e != NULL && find) {
			lua_pushinteger(L, start - s + 1);
			lua_pushinteger(L, e - s);
			return 2 + push_captures(&m, NULL, NULL);
		}
		if (e != NULL)
			return push_captures(&m, start, e);
		if (anchor)
			break;
	}
	luaL_pushfail(L);
	return 1;
}

static int
lp_find(lua_State *L)
{
	return find_or_match(L, 1);
}

static int
lp_match(lua_State *L)
{
	return find_or_match(L, 0);
}

/*
 * The iterator returned by gmatch. Upvalues: subject, pattern, struct
 * gmatch_state, struct budget. An empty match right where the previous
 * match ended is skipped, so the iteration always advances.
 */
static int
gmatch_next(lua_State *L)
{
	size_t ls, lp;
	const char *s = lua_tolstring(L, lua_upvalueindex(1), &ls);
	const char *p = lua_tolstring(L, lua_upvalueindex(2), &lp);
	struct gmatch_state *gm = lua_touserdata(L, lua_upvalueindex(3));
	struct budget *budget = lua_touserdata(L, lua_upvalueindex(4));
	struct matcher m;
	const char *e;

	prepare(&m, L, budget, s, ls, p, lp);
	for (size_t pos = gm->next; pos <= ls; pos++) {
		reset(&m);
		e = match_here(&m, s + pos, p);
		if (e != NULL && (size_t)(e - s) != gm->last_end) {
			gm->next = gm->last_end = (size_t)(e - s);
			return push_captures(&m, s + pos, e);
		}
	}

	/* A later call would fail the same way, so skip its search. */
	gm->next = ls + 1;
	return 0;
}

/*
 * Returns an iterator over the matches of a pattern. Like Lua 5.4, gmatch
 * gives '^' no special meaning: it matches a literal '^'.
 */
static int
lp_gmatch(lua_State *L)
{
	size_t ls, lp, init;
	struct gmatch_state *gm;

	luaL_checklstring(L, 1, &ls);
	luaL_checklstring(L, 2, &lp);
	init = init_position(luaL_optinteger(L, 3, 1), ls) - 1;
	if (init > ls)
		init = ls + 1;

	lua_settop(L, 2);	/* subject and pattern, both strings now */
	gm = lua_newuserdatauv(L, sizeof(*gm), 0);
	gm->next = init;
	gm->last_end = NO_MATCH;
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_pushcclosure(L, gmatch_next, 4);
	return 1;
}

/*
 * Appends the replacement string (argument 3) for the match from s to e,
 * expanding %0-%9 and %%.
 */
static void
add_template(struct matcher *m, luaL_Buffer *b, const char *s, const char *e)
{
	lua_State *L = m->L;
	size_t len;
	const char *t = lua_tolstring(L, 3, &len);
	const char *end = t + len;
	const char *esc;
	char c;

	step(m, len);
	while ((esc = memchr(t, '%', (size_t)(end - t))) != NULL) {
		luaL_addlstring(b, t, (size_t)(esc - t));
		c = esc + 1 < end ? esc[1] : '\0';
		if (c == '%') {
			luaL_addchar(b, '%');
		} else if (c == '0') {
			step(m, (uint64_t)(e - s));
			luaL_addlstring(b, s, (size_t)(e - s));
		} else if (isdigit((unsigned char)c)) {
			/* %1 with no captures is the whole match */
			push_capture(m, c - '1', s, e);
			step(m, lua_rawlen(L, -1));
			luaL_addvalue(b);
		} else {
			luaL_error(L, "invalid use of '%%' in replacement string");
		}
		t = esc + 2;
	}
	luaL_addlstring(b, t, (size_t)(end - t));
}

/*
 * Appends the replacement for the match from s to e: the template, the
 * table value at the first capture, or the result of the function called
 * with all captures. A false or nil value keeps the matched text. Returns
 * 1 when the subject changed.
 */
static int
add_replacement(struct matcher *m, luaL_Buffer *b, const char *s,
    const char *e, int type)
{
	lua_State *L = m->L;

	if (type == LUA_TFUNCTION) {
		lua_pushvalue(L, 3);
		lua_call(L, push_captures(m, s, e), 1);
	} else if (type == LUA_TTABLE) {
		push_capture(m, 0, s, e);
		lua_gettable(L, 3);
	} else {
		add_template(m, b, s, e);
		return 1;
	}

	if (!lua_toboolean(L, -1)) {
		lua_pop(L, 1);
		luaL_addlstring(b, s, (size_t)(e - s));
		return 0;
	}
	if (!lua_isstring(L, -1))
		return luaL_error(L, "invalid replacement value (a %s)",
		    luaL_typename(L, -1));
	luaL_addvalue(b);
	return 1;
}

static int
lp_gsub(lua_State *L)
{
	struct budget *budget = lua_touserdata(L, lua_upvalueindex(1));
	size_t ls, lp;
	const char *s = luaL_checklstring(L, 1, &ls);
	const char *p = luaL_checklstring(L, 2, &lp);
	int type = lua_type(L, 3);
	lua_Integer max = luaL_optinteger(L, 4, (lua_Integer)ls + 1);
	lua_Integer n = 0;
	const char *src = s, *last_end = NULL, *e;
	int anchor = lp > 0 && *p == '^';
	int changed = 0;
	struct matcher m;
	luaL_Buffer b;

	luaL_argexpected(L, type == LUA_TNUMBER || type == LUA_TSTRING ||
	    type == LUA_TFUNCTION || type == LUA_TTABLE, 3,
	    "string/function/table");
	if (anchor) {
		p++;
		lp--;
	}
	prepare(&m, L, budget, s, ls, p, lp);
	luaL_buffinit(L, &b);

	/* An empty match right after the previous match does not count. */
	while (n < max) {
		reset(&m);
		e = match_here(&m, src, p);
		if (e != NULL && e != last_end) {
			n++;
			changed |= add_replacement(&m, &b, src, e, type);
			src = last_end = e;
		} else if (src < m.subject_end) {
			luaL_addchar(&b, *src++);
		} else {
			break;
		}
		if (anchor)
			break;
	}

	if (changed) {
		luaL_addlstring(&b, src, (size_t)(m.subject_end - src));
		luaL_pushresult(&b);
	} else {
		lua_pushvalue(L, 1);
	}
	lua_pushinteger(L, n);
	return 2;
}

static const luaL_Reg functions[] = {
	{ "find", lp_find },
	{ "match", lp_match },
	{ "gmatch", lp_gmatch },
	{ "gsub", lp_gsub },
	{ NULL, NULL },
};

void
tt_lpattern_install(lua_State *L, int idx, tt_lpattern_charge charge, void *ud)
{
	struct budget *budget;

	idx = lua_absindex(L, idx);
	budget = lua_newuserdatauv(L, sizeof(*budget), 0);
	budget->charge = charge;
	budget->ud = ud;
	budget->pending = 0;
	for (const luaL_Reg *f = functions; f->name != NULL; f++) {
		lua_pushvalue(L, -1);
		lua_pushcclosure(L, f->func, 1);
		lua_setfield(L, idx, f->name);
	}
	lua_pop(L, 1);
}
