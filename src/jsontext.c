/* SPDX-License-Identifier: MIT */
/*
 * The strict JSON scanner: a recursive descent over the bytes that keeps
 * only the names of the objects still open, to find duplicates. Recursion
 * is bounded by max_depth, which the callers take from limits.depth
 * (at most 1000).
 */
#include "jsontext.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

/*
 * Objects with at most this many members are checked for duplicates
 * pairwise (at most 120 compares, most ending at the length), larger ones
 * by sorting.
 */
#define PAIRWISE_MAX 16

struct name {
	const char *text;
	size_t len;
};

struct scanner {
	const unsigned char *start, *p, *end;
	int depth, max_depth;
	struct name *names;		/* names of the open objects, innermost last */
	size_t nnames, cap;
	char *unescaped;		/* room for names that had escapes, made on first use */
	size_t unescaped_len;
	const char *error;
	int error_errno;
	struct name local[32];
};

static const char too_deep[] = "nested too deeply";

static int
fail(struct scanner *s, const char *message)
{
	if (s->error == NULL) {
		s->error = message;
		s->error_errno = EINVAL;
	}
	return -1;
}

static void
skip_space(struct scanner *s)
{
	while (s->p < s->end && tt_json_isspace((char)*s->p))
		s->p++;
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Reads the four hex digits after "\u" at p. Returns the code unit, or -1. */
static long
hex4(const unsigned char *p, const unsigned char *end)
{
	long v = 0;

	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int h = hexval(p[i]);
		if (h < 0)
			return -1;
		v = v << 4 | h;
	}
	return v;
}

/* Checks the escape after a backslash at s->p and steps over it. */
static int
scan_escape(struct scanner *s)
{
	long unit, low;

	s->p++;
	if (s->p == s->end)
		return fail(s, "unterminated string");
	switch (*s->p) {
	case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
		s->p++;
		return 0;
	case 'u':
		break;
	default:
		return fail(s, "invalid escape in string");
	}

	unit = hex4(s->p + 1, s->end);
	if (unit < 0)
		return fail(s, "invalid \\u escape in string");
	s->p += 5;
	if (unit == 0)
		return fail(s, "\\u0000 is not allowed in a string");
	if (unit >= 0xdc00 && unit <= 0xdfff)
		return fail(s, "unpaired low surrogate in string");
	if (unit < 0xd800 || unit > 0xdbff)
		return 0;

	/* A high surrogate must be followed by an escaped low one. */
	if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u')
		return fail(s, "unpaired high surrogate in string");
	low = hex4(s->p + 2, s->end);
	if (low < 0xdc00 || low > 0xdfff)
		return fail(s, "unpaired high surrogate in string");
	s->p += 6;
	return 0;
}

/* Bytes that a string may contain as they are with no further check: ASCII but controls, '"' and '\\'. */
static const bool plain_byte[256] = {
	[0x20] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 0x22 is '"' */
	[0x30] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x40] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x50] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,	/* 0x5c is '\\' */
	[0x60] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x70] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/*
 * Checks the string at s->p (on its opening quote) and steps past it.
 * Stores the bytes between the quotes and whether any escape occurs.
 */
static int
scan_string(struct scanner *s, const char **content, size_t *len, bool *escaped)
{
	const unsigned char *begin = ++s->p;
	unsigned long cp;
	size_t step;

	*escaped = false;
	for (;;) {
		while (s->p < s->end && plain_byte[*s->p])
			s->p++;
		if (s->p == s->end)
			return fail(s, "unterminated string");
		if (*s->p == '"')
			break;
		if (*s->p == '\\') {
			*escaped = true;
			if (scan_escape(s) == -1)
				return -1;
		} else if (*s->p < 0x20) {
			return fail(s, "control character in string");
		} else {
			step = tt_utf8_next(s->p, (size_t)(s->end - s->p), &cp);
			if (step == 0)
				return fail(s, "invalid UTF-8 in string");
			s->p += step;
		}
	}
	*content = (const char *)begin;
	*len = (size_t)(s->p - begin);
	s->p++;
	return 0;
}

static bool
isdigit_ascii(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* Whether the integer token text[0..len), which has only digits after an optional '-', fits int64_t. */
static bool
integer_fits(const char *text, size_t len)
{
	int64_t v;

	return tt_json_integer(&(struct tt_json_value){ TT_JSON_INTEGER, text, len }, &v) == 0;
}

/* Checks the number at s->p and steps past it. Stores its type. */
static int
scan_number(struct scanner *s, enum tt_json_type *type)
{
	const unsigned char *begin = s->p;
	bool real = false, exponent = false;

	if (*s->p == '-')
		s->p++;
	if (s->p == s->end || !isdigit_ascii(*s->p))
		return fail(s, "invalid number");
	if (*s->p == '0')
		s->p++;
	else
		while (s->p < s->end && isdigit_ascii(*s->p))
			s->p++;

	if (s->p < s->end && *s->p == '.') {
		real = true;
		s->p++;
		if (s->p == s->end || !isdigit_ascii(*s->p))
			return fail(s, "invalid number");
		while (s->p < s->end && isdigit_ascii(*s->p))
			s->p++;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		real = exponent = true;
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (s->p == s->end || !isdigit_ascii(*s->p))
			return fail(s, "invalid number");
		while (s->p < s->end && isdigit_ascii(*s->p))
			s->p++;
	}

	*type = real ? TT_JSON_REAL : TT_JSON_INTEGER;
	if (!real) {
		if (!integer_fits((const char *)begin, (size_t)(s->p - begin)))
			return fail(s, "integer out of range");
		return 0;
	}
	/* Without an exponent, fewer than 309 digits cannot reach DBL_MAX. */
	if (exponent || s->p - begin > 300) {
		double d = tt_json_real((const char *)begin, (size_t)(s->p - begin));

		if (isnan(d)) {
			s->error = "out of memory";
			s->error_errno = ENOMEM;
			return -1;
		}
		if (isinf(d))
			return fail(s, "real number out of range");
	}
	return 0;
}

static int
scan_literal(struct scanner *s, const char *word, size_t len)
{
	if ((size_t)(s->end - s->p) < len || memcmp(s->p, word, len) != 0)
		return fail(s, "invalid literal");
	s->p += len;
	return 0;
}

static int scan_value(struct scanner *s, struct tt_json_value *v);

static int
scan_array(struct scanner *s)
{
	struct tt_json_value item;

	if (++s->depth > s->max_depth)
		return fail(s, too_deep);
	s->p++;
	skip_space(s);
	if (s->p < s->end && *s->p == ']') {
		s->p++;
		s->depth--;
		return 0;
	}
	for (;;) {
		if (scan_value(s, &item) == -1)
			return -1;
		skip_space(s);
		if (s->p == s->end)
			return fail(s, "unterminated array");
		if (*s->p == ']')
			break;
		if (*s->p != ',')
			return fail(s, "expected ',' or ']'");
		s->p++;
		skip_space(s);
	}
	s->p++;
	s->depth--;
	return 0;
}

/* Appends a member name to the names of the open objects. */
static int
push_name(struct scanner *s, const char *text, size_t len)
{
	if (s->nnames == s->cap) {
		size_t cap = s->cap * 2;
		struct name *names;

		if (s->names == s->local) {
			names = malloc(cap * sizeof(*names));
			if (names != NULL)
				memcpy(names, s->local, sizeof(s->local));
		} else {
			names = realloc(s->names, cap * sizeof(*names));
		}
		if (names == NULL) {
			s->error = "out of memory";
			s->error_errno = ENOMEM;
			return -1;
		}
		s->names = names;
		s->cap = cap;
	}
	s->names[s->nnames++] = (struct name){ text, len };
	return 0;
}

/* Unescapes a name into the scanner's buffer, which is as large as the text, so it never fills. */
static const char *
unescape_name(struct scanner *s, const char *text, size_t len, size_t *out_len)
{
	char *out;

	if (s->unescaped == NULL) {
		s->unescaped = malloc((size_t)(s->end - s->start));
		if (s->unescaped == NULL) {
			s->error = "out of memory";
			s->error_errno = ENOMEM;
			return NULL;
		}
	}
	out = s->unescaped + s->unescaped_len;
	*out_len = tt_json_unescape(text, len, out);
	s->unescaped_len += *out_len;
	return out;
}

static int
compare_names(const void *a, const void *b)
{
	const struct name *x = a, *y = b;
	int c = memcmp(x->text, y->text, x->len < y->len ? x->len : y->len);

	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* Fails when two of the names from index first on are equal. Reorders them. */
static int
check_duplicates(struct scanner *s, size_t first)
{
	struct name *n = s->names + first;
	size_t count = s->nnames - first;

	if (count <= PAIRWISE_MAX) {
		for (size_t i = 1; i < count; i++)
			for (size_t j = 0; j < i; j++)
				if (n[i].len == n[j].len && memcmp(n[i].text, n[j].text, n[i].len) == 0)
					return fail(s, "duplicate member name");
		return 0;
	}
	qsort(n, count, sizeof(*n), compare_names);
	for (size_t i = 1; i < count; i++)
		if (compare_names(&n[i - 1], &n[i]) == 0)
			return fail(s, "duplicate member name");
	return 0;
}

/* Checks one "name": value pair at s->p and reports it when member is set. */
static int
scan_member(struct scanner *s, tt_json_member_fn member, void *arg)
{
	struct tt_json_value value;
	const char *name;
	size_t len;
	bool escaped;

	if (s->p == s->end || *s->p != '"')
		return fail(s, "expected a member name");
	if (scan_string(s, &name, &len, &escaped) == -1)
		return -1;
	if (escaped && (name = unescape_name(s, name, len, &len)) == NULL)
		return -1;
	if (push_name(s, name, len) == -1)
		return -1;

	skip_space(s);
	if (s->p == s->end || *s->p != ':')
		return fail(s, "expected ':'");
	s->p++;
	skip_space(s);
	if (scan_value(s, &value) == -1)
		return -1;
	if (member != NULL && member(arg, name, len, &value) != 0)
		return fail(s, "member rejected");
	return 0;
}

static int
scan_object(struct scanner *s, tt_json_member_fn member, void *arg)
{
	size_t first = s->nnames;

	if (++s->depth > s->max_depth)
		return fail(s, too_deep);
	s->p++;
	skip_space(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		s->depth--;
		return 0;
	}
	for (;;) {
		if (scan_member(s, member, arg) == -1)
			return -1;
		skip_space(s);
		if (s->p == s->end)
			return fail(s, "unterminated object");
		if (*s->p == '}')
			break;
		if (*s->p != ',')
			return fail(s, "expected ',' or '}'");
		s->p++;
		skip_space(s);
	}
	s->p++;
	if (check_duplicates(s, first) == -1)
		return -1;
	s->nnames = first;
	s->depth--;
	return 0;
}

static int
scan_value(struct scanner *s, struct tt_json_value *v)
{
	const char *content;
	size_t len;
	bool escaped;
	int rc;

	if (s->p == s->end)
		return fail(s, "expected a value");
	v->text = (const char *)s->p;
	switch (*s->p) {
	case '{':
		v->type = TT_JSON_OBJECT;
		rc = scan_object(s, NULL, NULL);
		break;
	case '[':
		v->type = TT_JSON_ARRAY;
		rc = scan_array(s);
		break;
	case '"':
		v->type = TT_JSON_STRING;
		rc = scan_string(s, &content, &len, &escaped);
		break;
	case 't':
		v->type = TT_JSON_TRUE;
		rc = scan_literal(s, "true", 4);
		break;
	case 'f':
		v->type = TT_JSON_FALSE;
		rc = scan_literal(s, "false", 5);
		break;
	case 'n':
		v->type = TT_JSON_NULL;
		rc = scan_literal(s, "null", 4);
		break;
	default:
		if (*s->p != '-' && !isdigit_ascii(*s->p))
			return fail(s, "expected a value");
		rc = scan_number(s, &v->type);
		break;
	}
	v->len = (size_t)((const char *)s->p - v->text);
	return rc;
}

static int
scan(const char *text, size_t len, int max_depth, bool object, tt_json_member_fn member,
     void *arg, struct tt_json_error *err)
{
	struct scanner s = { 0 };
	struct tt_json_value top;
	int rc;

	s.start = s.p = (const unsigned char *)text;
	s.end = s.start + len;
	s.max_depth = max_depth;
	s.names = s.local;
	s.cap = sizeof(s.local) / sizeof(s.local[0]);

	skip_space(&s);
	if (object) {
		top.type = TT_JSON_OBJECT;
		rc = s.p < s.end && *s.p == '{' ? scan_object(&s, member, arg)
						: fail(&s, "expected an object");
	} else {
		rc = scan_value(&s, &top);
	}
	if (rc == 0) {
		skip_space(&s);
		if (s.p != s.end)
			rc = fail(&s, "unexpected text after the value");
	}

	if (s.names != s.local)
		free(s.names);
	free(s.unescaped);
	if (rc == -1) {
		if (err != NULL) {
			err->message = s.error;
			err->offset = (size_t)(s.p - s.start);
			err->too_deep = s.error == too_deep;
		}
		errno = s.error_errno;
	}
	return rc;
}

int
tt_json_validate(const char *text, size_t len, int max_depth, struct tt_json_error *err)
{
	return scan(text, len, max_depth, false, NULL, NULL, err);
}

int
tt_json_scan_object(const char *text, size_t len, int max_depth, tt_json_member_fn member,
		    void *arg, struct tt_json_error *err)
{
	return scan(text, len, max_depth, true, member, arg, err);
}

size_t
tt_json_put_uint(char *out, uint64_t u)
{
	char digits[20];
	size_t n = 0;

	do {
		digits[sizeof(digits) - ++n] = (char)('0' + u % 10);
		u /= 10;
	} while (u > 0);
	memcpy(out, digits + sizeof(digits) - n, n);
	return n;
}

int
tt_json_integer(const struct tt_json_value *value, int64_t *out)
{
	const char *p = value->text, *end;
	bool negative = false;
	uint64_t v = 0, limit;

	/* An absent member has a NULL text, which takes no offset, not even 0. */
	if (value->type != TT_JSON_INTEGER || p == NULL || value->len == 0)
		return -1;
	end = p + value->len;
	if (*p == '-') {
		negative = true;
		p++;
	}
	if (p == end)
		return -1;
	limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; p < end; p++) {
		unsigned digit = (unsigned char)*p - '0';

		if (digit > 9 || v > (limit - digit) / 10)
			return -1;
		v = v * 10 + digit;
	}
	if (negative)
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	else
		*out = (int64_t)v;
	return 0;
}

double
tt_json_real(const char *text, size_t len)
{
	char local[TT_JSON_SHORT_NUMBER], *copy = local;
	double d;

	/* strtod needs a terminated string, but a checked number ends at a delimiter, not at a NUL. */
	if (len >= sizeof(local)) {
		copy = malloc(len + 1);
		if (copy == NULL)
			return NAN;
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	d = strtod(copy, NULL);
	if (copy != local)
		free(copy);
	return d;
}

/* Writes code point cp as UTF-8 at out. Returns the length. */
static size_t
put_utf8(unsigned long cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Writes what the escape at p (on its backslash) stands for at out, sets
 * *written and returns the bytes the escape takes. Returns 0 for an escape
 * that is invalid or cut short, which only unchecked text has. An escape
 * never writes more bytes than it takes.
 */
static size_t
unescape_one(const unsigned char *p, const unsigned char *end, char *out, size_t *written)
{
	long unit, low;

	*written = 1;
	if (end - p < 2)
		return 0;
	switch (p[1]) {
	case '"': case '\\': case '/': *out = (char)p[1]; return 2;
	case 'b': *out = '\b'; return 2;
	case 'f': *out = '\f'; return 2;
	case 'n': *out = '\n'; return 2;
	case 'r': *out = '\r'; return 2;
	case 't': *out = '\t'; return 2;
	case 'u': break;
	default: return 0;
	}

	unit = hex4(p + 2, end);
	if (unit < 0)
		return 0;
	if (unit < 0xd800 || unit > 0xdbff) {
		*written = put_utf8((unsigned long)unit, out);
		return 6;
	}
	if (end - p < 12 || p[6] != '\\' || p[7] != 'u')
		return 0;
	low = hex4(p + 8, end);
	if (low < 0xdc00 || low > 0xdfff)
		return 0;
	*written = put_utf8(0x10000 + ((unsigned long)(unit - 0xd800) << 10) +
			    (unsigned long)(low - 0xdc00), out);
	return 12;
}

size_t
tt_json_unescape(const char *text, size_t len, char *out)
{
	const unsigned char *p = (const unsigned char *)text, *end = p + len;
	size_t n = 0, step, written;

	while (p < end) {
		const unsigned char *run = p;

		while (p < end && *p != '\\')
			p++;
		memcpy(out + n, run, (size_t)(p - run));
		n += (size_t)(p - run);
		if (p == end)
			break;
		step = unescape_one(p, end, out + n, &written);
		if (step == 0)
			break;
		n += written;
		p += step;
	}
	return n;
}

int
tt_json_string(const struct tt_json_value *value, char *out, size_t size)
{
	size_t raw, len;
	char *tmp;

	if (value->type != TT_JSON_STRING || value->len < 2 || size == 0)
		return -1;
	raw = value->len - 2;
	if (raw < size) {
		len = tt_json_unescape(value->text + 1, raw, out);
		out[len] = '\0';
		return (int)len;
	}

	/* Escapes make the text longer than the string, so it may still fit. */
	tmp = malloc(raw);
	if (tmp == NULL)
		return -1;
	len = tt_json_unescape(value->text + 1, raw, tmp);
	if (len < size) {
		memcpy(out, tmp, len);
		out[len] = '\0';
	}
	free(tmp);
	return len < size ? (int)len : -1;
}
