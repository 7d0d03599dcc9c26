/* SPDX-License-Identifier: MIT */
/*
 * The router's configuration file, flags and key sources.
 *
 * A file is read in two passes. The first turns libyaml's events into a
 * small tree of scalars, mappings and lists, and rejects anchors, aliases,
 * tags and extra documents, so only plain data reaches the second pass.
 * The second walks the tree against tables that map each key to a setter,
 * which checks the value's type and range and stores it. A scalar is the
 * text written: there is no YAML 1.1 implicit typing, so `yes` is a string
 * and only `true` and `false` are booleans.
 *
 * Key text never passes through struct tt_config except for inline
 * `value:` entries, which are wiped when the config is freed.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <yaml.h>

#include "keyring.h"
#include "log.h"
#include "topic.h"

#define FILE_MAX (1024 * 1024)	/* bytes in a config file */
#define TREE_DEPTH_MAX 16	/* the schema needs 4 levels */
#define TREE_NODES_MAX 65536	/* the schema needs a few dozen values */
#define KEYS_MAX 256
#define QUOTE_MAX 48		/* bytes of a bad value shown in a message */

enum node_type { NODE_SCALAR, NODE_MAPPING, NODE_LIST };

/* One value of the YAML document. */
struct node {
	enum node_type type;
	int line, column;		/* 1-based */
	char *text;			/* scalars: NUL-terminated, no NUL inside */
	size_t len;
	struct node **kids;		/* mappings: key, value, key, value...; lists: items */
	size_t nkids, cap;
};

/* State of one tt_config_read call. */
struct reader {
	const char *file;		/* as the caller named it, for messages */
	const char *text;		/* the file's bytes, to place reader errors */
	size_t textlen;
	struct tt_config *cfg;
	void *base;			/* struct that the current table's offsets point into */
	char path[256];			/* key path of the value being set */
	size_t pathlen;
	size_t nodes;
	const struct node *session;	/* where session: persistent was written */
	const struct node *tls;
	char *err;
	size_t errsize;
};

/*
 * One key of a mapping: set checks the value and stores it at offset in
 * r->base. min, max, unit and scale describe numbers, check describes
 * strings and sub lists the keys of a nested mapping.
 */
struct field {
	const char *name;
	int (*set)(struct reader *r, const struct field *f, const struct node *n);
	size_t offset;
	int64_t min, max;		/* in the unit written */
	const char *unit;		/* for messages, such as "seconds" */
	int64_t scale;			/* stored = written * scale; 0 means 1 */
	/* Returns NULL when s is valid, else what was expected. */
	const char *(*check)(const char *s, size_t len);
	const struct field *sub;
};

/* Appends to err at *pos and keeps *pos below errsize. */
static void
vappend(char *err, size_t errsize, size_t *pos, const char *fmt, va_list ap)
{
	int n;

	if (*pos >= errsize)
		return;
	n = vsnprintf(err + *pos, errsize - *pos, fmt, ap);
	if (n < 0)
		return;
	*pos += (size_t)n;
	if (*pos >= errsize)
		*pos = errsize - 1;
}

static void
append(char *err, size_t errsize, size_t *pos, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vappend(err, errsize, pos, fmt, ap);
	va_end(ap);
}

/* Writes a message with no file position into err. Returns -1. */
static int
errf(char *err, size_t errsize, const char *fmt, ...)
{
	size_t pos = 0;
	va_list ap;

	if (errsize == 0)
		return -1;
	err[0] = '\0';
	va_start(ap, fmt);
	vappend(err, errsize, &pos, fmt, ap);
	va_end(ap);
	return -1;
}

/* Writes "FILE:LINE:COLUMN: KEY.PATH: message" into r->err. Returns -1. */
static int
fail_pos(struct reader *r, int line, int column, const char *fmt, ...)
{
	size_t pos = 0;
	va_list ap;

	if (r->errsize == 0)
		return -1;
	r->err[0] = '\0';
	append(r->err, r->errsize, &pos, "%s:%d:%d: ", r->file, line, column);
	if (r->pathlen > 0)
		append(r->err, r->errsize, &pos, "%s: ", r->path);
	va_start(ap, fmt);
	vappend(r->err, r->errsize, &pos, fmt, ap);
	va_end(ap);
	return -1;
}

#define fail_at(r, n, ...) fail_pos((r), (n)->line, (n)->column, __VA_ARGS__)
#define fail_mark(r, m, ...) fail_pos((r), (int)(m)->line + 1, (int)(m)->column + 1, __VA_ARGS__)

/* Describes a value for "got ...": its text quoted and escaped, or its kind. */
static const char *
describe(const struct node *n, char *buf, size_t size)
{
	char quoted[QUOTE_MAX];

	if (n->type == NODE_MAPPING)
		return "a mapping";
	if (n->type == NODE_LIST)
		return "a list";
	if (n->len == 0)
		return "an empty value";
	tt_log_escape(n->text, n->len, quoted, sizeof(quoted));
	snprintf(buf, size, "\"%s\"", quoted);
	return buf;
}

/* Reports that n is not what was expected. Returns -1. */
static int
expected(struct reader *r, const struct node *n, const char *expectation)
{
	char buf[QUOTE_MAX + 2];

	return fail_at(r, n, "expected %s, got %s", expectation, describe(n, buf, sizeof(buf)));
}

/* Appends a key or an index to r->path. Returns the length to restore. */
static size_t
push(struct reader *r, const char *fmt, ...)
{
	size_t saved = r->pathlen, pos = r->pathlen;
	va_list ap;

	va_start(ap, fmt);
	vappend(r->path, sizeof(r->path), &pos, fmt, ap);
	va_end(ap);
	r->pathlen = pos;
	return saved;
}

static void
pop(struct reader *r, size_t saved)
{
	r->pathlen = saved;
	r->path[saved] = '\0';
}

static void
node_free(struct node *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	if (n->text != NULL) {
		/* A scalar may be an inline key. */
		OPENSSL_cleanse(n->text, n->len);
		free(n->text);
	}
	free(n);
}

static int
node_add(struct node *parent, struct node *kid)
{
	if (parent->nkids == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 8;
		struct node **kids = realloc(parent->kids, cap * sizeof(*kids));

		if (kids == NULL)
			return -1;
		parent->kids = kids;
		parent->cap = cap;
	}
	parent->kids[parent->nkids++] = kid;
	return 0;
}

/* Tree being built from events: the root and the open mappings and lists. */
struct builder {
	struct node *root;
	struct node *open[TREE_DEPTH_MAX];
	size_t depth;
	int documents;
	bool done;
};

/* Rejects the YAML features beyond plain data that a node may carry. */
static int
check_plain(struct reader *r, const yaml_event_t *ev, const yaml_char_t *anchor,
	    const yaml_char_t *tag)
{
	if (anchor != NULL)
		return fail_mark(r, &ev->start_mark, "anchors and aliases are not supported");
	if (tag != NULL) {
		char quoted[QUOTE_MAX];

		tt_log_escape((const char *)tag, strlen((const char *)tag), quoted, sizeof(quoted));
		return fail_mark(r, &ev->start_mark, "tags such as %s are not supported", quoted);
	}
	return 0;
}

/* Adds n to the innermost open node, then opens n when it is a mapping or a list. */
static int
attach(struct reader *r, struct builder *b, struct node *n)
{
	int line = n->line, column = n->column;

	if (++r->nodes > TREE_NODES_MAX) {
		node_free(n);
		return fail_pos(r, line, column, "more than %d values, far more than a config needs",
				TREE_NODES_MAX);
	}
	if (b->depth == 0) {
		b->root = n;
	} else if (node_add(b->open[b->depth - 1], n) == -1) {
		node_free(n);
		return fail_pos(r, line, column, "out of memory");
	}

	if (n->type == NODE_SCALAR)
		return 0;
	if (b->depth == TREE_DEPTH_MAX)
		return fail_at(r, n, "nested deeper than %d levels", TREE_DEPTH_MAX);
	b->open[b->depth++] = n;
	return 0;
}

static struct node *
node_new(enum node_type type, const yaml_event_t *ev)
{
	struct node *n = calloc(1, sizeof(*n));

	if (n == NULL)
		return NULL;
	n->type = type;
	n->line = (int)ev->start_mark.line + 1;
	n->column = (int)ev->start_mark.column + 1;
	return n;
}

static int
take_scalar(struct reader *r, struct builder *b, const yaml_event_t *ev)
{
	const char *value = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	struct node *n;

	if (check_plain(r, ev, ev->data.scalar.anchor, ev->data.scalar.tag) == -1)
		return -1;
	/* A double-quoted "\0" puts a NUL inside the value. */
	if (memchr(value, '\0', len) != NULL)
		return fail_mark(r, &ev->start_mark, "NUL bytes are not supported");

	n = node_new(NODE_SCALAR, ev);
	if (n == NULL || (n->text = malloc(len + 1)) == NULL) {
		free(n);
		return fail_mark(r, &ev->start_mark, "out of memory");
	}
	memcpy(n->text, value, len);
	n->text[len] = '\0';
	n->len = len;
	return attach(r, b, n);
}

static int
take_container(struct reader *r, struct builder *b, const yaml_event_t *ev,
	       enum node_type type, const yaml_char_t *anchor, const yaml_char_t *tag)
{
	struct node *n;

	if (check_plain(r, ev, anchor, tag) == -1)
		return -1;
	n = node_new(type, ev);
	if (n == NULL)
		return fail_mark(r, &ev->start_mark, "out of memory");
	return attach(r, b, n);
}

static int
take(struct reader *r, struct builder *b, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_STREAM_END_EVENT:
		b->done = true;
		return 0;
	case YAML_DOCUMENT_START_EVENT:
		if (++b->documents > 1)
			return fail_mark(r, &ev->start_mark,
					 "more than one YAML document, expected one");
		return 0;
	case YAML_ALIAS_EVENT:
		return fail_mark(r, &ev->start_mark, "aliases are not supported");
	case YAML_SCALAR_EVENT:
		return take_scalar(r, b, ev);
	case YAML_SEQUENCE_START_EVENT:
		return take_container(r, b, ev, NODE_LIST, ev->data.sequence_start.anchor,
				      ev->data.sequence_start.tag);
	case YAML_MAPPING_START_EVENT:
		return take_container(r, b, ev, NODE_MAPPING, ev->data.mapping_start.anchor,
				      ev->data.mapping_start.tag);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		b->depth--;
		return 0;
	default:
		return 0;
	}
}

/* Returns a hint when the error's line is indented with a tab, which libyaml does not name. */
static const char *
tab_hint(const struct reader *r, int line)
{
	size_t i = 0;

	for (int l = 1; l < line && i < r->textlen; i++)
		if (r->text[i] == '\n')
			l++;
	for (; i < r->textlen && (r->text[i] == ' ' || r->text[i] == '\t'); i++)
		if (r->text[i] == '\t')
			return " (YAML indents with spaces, not tabs)";
	return "";
}

/* Reports a libyaml error with its problem text and position. */
static int
syntax_error(struct reader *r, const yaml_parser_t *p)
{
	const char *problem = p->problem ? p->problem : "unknown error";
	int line = (int)p->problem_mark.line + 1;
	int column = (int)p->problem_mark.column + 1;

	if (p->error == YAML_MEMORY_ERROR)
		return errf(r->err, r->errsize, "%s: out of memory", r->file);

	if (p->error == YAML_READER_ERROR) {
		/* Reader errors carry a byte offset instead of a mark. */
		line = 1;
		column = 1;
		for (size_t i = 0; i < p->problem_offset && i < r->textlen; i++) {
			if (r->text[i] == '\n') {
				line++;
				column = 1;
			} else {
				column++;
			}
		}
		return fail_pos(r, line, column, "invalid text: %s", problem);
	}

	if (p->context != NULL)
		return fail_pos(r, line, column, "invalid YAML: %s (%s at line %d, column %d)%s",
				problem, p->context, (int)p->context_mark.line + 1,
				(int)p->context_mark.column + 1, tab_hint(r, line));
	return fail_pos(r, line, column, "invalid YAML: %s%s", problem, tab_hint(r, line));
}

/* Parses text into a tree. *root stays NULL for a file with no document. */
static int
parse(struct reader *r, struct node **root)
{
	struct builder b = { 0 };
	yaml_parser_t parser;
	yaml_event_t ev;
	int rc = 0;

	if (!yaml_parser_initialize(&parser))
		return errf(r->err, r->errsize, "%s: out of memory", r->file);
	yaml_parser_set_input_string(&parser, (const unsigned char *)r->text, r->textlen);

	while (!b.done && rc == 0) {
		if (!yaml_parser_parse(&parser, &ev)) {
			rc = syntax_error(r, &parser);
			break;
		}
		rc = take(r, &b, &ev);
		yaml_event_delete(&ev);
	}

	/*
	 * NOTE: libyaml frees its token buffers without wiping them, so the
	 * text of an inline key can stay in freed memory. Keys read from a
	 * file or the environment never pass through libyaml.
	 */
	yaml_parser_delete(&parser);
	if (rc == -1) {
		node_free(b.root);
		return -1;
	}
	*root = b.root;
	return 0;
}

static void *
field_ptr(struct reader *r, const struct field *f)
{
	return (char *)r->base + f->offset;
}

static const struct field *
lookup(const struct field *fields, const char *name)
{
	for (const struct field *f = fields; f->name != NULL; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

static int
unknown_key(struct reader *r, const struct node *key, const struct field *fields)
{
	char allowed[256];
	size_t pos = 0;

	allowed[0] = '\0';
	for (const struct field *f = fields; f->name != NULL; f++)
		append(allowed, sizeof(allowed), &pos, "%s%s", pos ? ", " : "", f->name);
	return fail_at(r, key, "unknown key, expected one of: %s", allowed);
}

/* Applies each key of mapping n with the setter from fields. */
static int
apply_map(struct reader *r, const struct field *fields, const struct node *n)
{
	if (n->type != NODE_MAPPING)
		return expected(r, n, "a mapping");

	for (size_t i = 0; i < n->nkids; i += 2) {
		const struct node *key = n->kids[i], *value = n->kids[i + 1];
		char name[QUOTE_MAX];
		const struct field *f;
		size_t saved;

		if (key->type != NODE_SCALAR)
			return expected(r, key, "a key name");
		tt_log_escape(key->text, key->len, name, sizeof(name));
		saved = push(r, "%s%s", r->pathlen ? "." : "", name);

		for (size_t j = 0; j < i; j += 2) {
			const struct node *prev = n->kids[j];

			if (strcmp(prev->text, key->text) == 0)
				return fail_at(r, key, "duplicate key, first set at line %d, column %d",
					       prev->line, prev->column);
		}
		f = lookup(fields, key->text);
		if (f == NULL)
			return unknown_key(r, key, fields);
		if (f->set(r, f, value) == -1)
			return -1;
		pop(r, saved);
	}
	return 0;
}

static int
set_map(struct reader *r, const struct field *f, const struct node *n)
{
	return apply_map(r, f->sub, n);
}

/* Parses decimal digits only: no sign, no spaces, no 0x or '_'. */
static int
parse_count(const char *s, int64_t max, int64_t *out)
{
	int64_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
		if (v > max)
			return -1;
	}
	*out = v;
	return 0;
}

/* Reads an integer from f->min to f->max, multiplied by f->scale. */
static int
get_number(struct reader *r, const struct field *f, const struct node *n, int64_t *out)
{
	char expectation[96];
	int64_t v;

	if (n->type == NODE_SCALAR && parse_count(n->text, f->max, &v) == 0 && v >= f->min) {
		*out = v * (f->scale ? f->scale : 1);
		return 0;
	}
	snprintf(expectation, sizeof(expectation), "an integer from %lld to %lld%s%s%s",
		 (long long)f->min, (long long)f->max, f->unit ? " (" : "",
		 f->unit ? f->unit : "", f->unit ? ")" : "");
	return expected(r, n, expectation);
}

static int
set_int(struct reader *r, const struct field *f, const struct node *n)
{
	int64_t v;

	if (get_number(r, f, n, &v) == -1)
		return -1;
	*(int *)field_ptr(r, f) = (int)v;
	return 0;
}

static int
set_int64(struct reader *r, const struct field *f, const struct node *n)
{
	int64_t v;

	if (get_number(r, f, n, &v) == -1)
		return -1;
	*(int64_t *)field_ptr(r, f) = v;
	return 0;
}

static int
set_size(struct reader *r, const struct field *f, const struct node *n)
{
	int64_t v;

	if (get_number(r, f, n, &v) == -1)
		return -1;
	if ((uint64_t)v > SIZE_MAX)
		return fail_at(r, n, "%lld does not fit in memory sizes of this system",
			       (long long)v);
	*(size_t *)field_ptr(r, f) = (size_t)v;
	return 0;
}

static int
set_bool(struct reader *r, const struct field *f, const struct node *n)
{
	bool *b = field_ptr(r, f);

	if (n->type == NODE_SCALAR && strcmp(n->text, "true") == 0)
		*b = true;
	else if (n->type == NODE_SCALAR && strcmp(n->text, "false") == 0)
		*b = false;
	else
		return expected(r, n, "true or false");
	return 0;
}

/* Replaces the string at *slot with a copy of s. */
static int
replace(char **slot, const char *s)
{
	char *copy = strdup(s);

	if (copy == NULL)
		return -1;
	free(*slot);
	*slot = copy;
	return 0;
}

static int
set_str(struct reader *r, const struct field *f, const struct node *n)
{
	const char *expectation;

	if (n->type != NODE_SCALAR)
		return expected(r, n, "a string");
	if (f->check != NULL && (expectation = f->check(n->text, n->len)) != NULL)
		return expected(r, n, expectation);
	if (replace(field_ptr(r, f), n->text) == -1)
		return fail_at(r, n, "out of memory");
	return 0;
}

/* Joins dir and a relative path; an absolute path is copied. Returns NULL on ENOMEM. */
static char *
join(const char *dir, const char *path)
{
	char *out;

	if (path[0] == '/')
		return strdup(path);
	while (path[0] == '.' && path[1] == '/') {
		path += 2;
		while (path[0] == '/')
			path++;
	}
	if (strcmp(path, ".") == 0 || path[0] == '\0')
		return strdup(dir);
	if (asprintf(&out, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", path) == -1)
		return NULL;
	return out;
}

static int
set_path(struct reader *r, const struct field *f, const struct node *n)
{
	char **slot = field_ptr(r, f);
	char *full_path;

	if (n->type != NODE_SCALAR || n->len == 0)
		return expected(r, n, "a path");
	full_path = join(r->cfg->dir, n->text);
	if (full_path == NULL)
		return fail_at(r, n, "out of memory");
	free(*slot);
	*slot = full_path;
	return 0;
}

static int
set_session(struct reader *r, const struct field *f, const struct node *n)
{
	bool *persistent = field_ptr(r, f);

	if (n->type == NODE_SCALAR && strcmp(n->text, "clean") == 0) {
		*persistent = false;
	} else if (n->type == NODE_SCALAR && strcmp(n->text, "persistent") == 0) {
		*persistent = true;
		r->session = n;
	} else {
		return expected(r, n, "clean or persistent");
	}
	return 0;
}

static int
set_level(struct reader *r, const struct field *f, const struct node *n)
{
	if (n->type != NODE_SCALAR || tt_log_level_parse(n->text, field_ptr(r, f)) == -1)
		return expected(r, n, "error, warn, notice, info or debug");
	return 0;
}

static int
set_tls(struct reader *r, const struct field *f, const struct node *n)
{
	r->cfg->broker.tls.enabled = true;
	r->tls = n;
	return apply_map(r, f->sub, n);
}

static const char *
check_app(const char *s, size_t len)
{
	static const char expectation[] = "1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'";

	if (len < 1 || len > 64 || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					  "0123456789._-") != len)
		return expectation;
	return NULL;
}

/* Printable ASCII without spaces, from 1 to max bytes. */
static bool
is_token(const char *s, size_t len, size_t max)
{
	if (len < 1 || len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] <= ' ' || s[i] >= 0x7f)
			return false;
	return true;
}

static const char *
check_client_id(const char *s, size_t len)
{
	return is_token(s, len, 128) ? NULL : "1 to 128 printable ASCII characters without spaces";
}

static const char *
check_host(const char *s, size_t len)
{
	return is_token(s, len, 255) ? NULL : "a host name or address";
}

static const char *
check_text(const char *s, size_t len)
{
	/* MQTT strings, such as the username, have a 16-bit length. */
	return len >= 1 && len <= 65535 ? NULL : "a non-empty string of at most 65535 bytes";
}

static const char *
check_prefix(const char *s, size_t len)
{
	if (len <= TT_PREFIX_MAX && tt_topic_check_prefix(s) == 0)
		return NULL;
	return "topic levels joined by '/', each 1 to 128 bytes of UTF-8 with no '+', '#' or "
	       "control characters and no leading '$'";
}

static const char *
check_kid(const char *s, size_t len)
{
	return tt_kid_check(s, len) == 0 ? NULL : "1 to 32 characters of A-Z, a-z, 0-9, '_' and '-'";
}

static const char *
check_env(const char *s, size_t len)
{
	static const char expectation[] = "an environment variable name of A-Z, a-z, 0-9 and '_'";

	if (len < 1 || len > 128 || (s[0] >= '0' && s[0] <= '9'))
		return expectation;
	if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") != len)
		return expectation;
	return NULL;
}

#define KEY(member) offsetof(struct tt_config_key, member)

static const struct field key_fields[] = {
	{ .name = "id", .set = set_str, .offset = KEY(id), .check = check_kid },
	{ .name = "file", .set = set_path, .offset = KEY(file) },
	{ .name = "env", .set = set_str, .offset = KEY(env), .check = check_env },
	{ .name = "value", .set = set_str, .offset = KEY(value) },
	{ NULL }
};

static void
free_key(struct tt_config_key *k)
{
	free(k->id);
	free(k->file);
	free(k->env);
	if (k->value != NULL) {
		OPENSSL_cleanse(k->value, strlen(k->value));
		free(k->value);
	}
}

static void
free_keys(struct tt_config *cfg)
{
	for (size_t i = 0; i < cfg->nkeys; i++)
		free_key(&cfg->keys[i]);
	free(cfg->keys);
	cfg->keys = NULL;
	cfg->nkeys = 0;
}

/* Checks one entry of keys: an id, one source, and no id used twice. */
static int
check_key_entry(struct reader *r, const struct node *n, size_t i)
{
	const struct tt_config_key *k = &r->cfg->keys[i];
	int sources = (k->file != NULL) + (k->env != NULL) + (k->value != NULL);

	if (k->id == NULL)
		return fail_at(r, n, "missing id, expected an id such as k1");
	if (sources != 1)
		return fail_at(r, n, "expected exactly one of file, env or value, got %d", sources);
	for (size_t j = 0; j < i; j++)
		if (strcmp(r->cfg->keys[j].id, k->id) == 0)
			return fail_at(r, n, "key id %s is already used by keys[%zu]", k->id, j);
	return 0;
}

static int
set_keys(struct reader *r, const struct field *f, const struct node *n)
{
	struct tt_config *cfg = r->cfg;

	if (n->type != NODE_LIST)
		return expected(r, n, "a list of keys such as - { id: k1, file: /path/to/key }");
	if (n->nkids > KEYS_MAX)
		return fail_at(r, n, "%zu keys, expected at most %d", n->nkids, KEYS_MAX);

	free_keys(cfg);
	if (n->nkids > 0 && (cfg->keys = calloc(n->nkids, sizeof(*cfg->keys))) == NULL)
		return fail_at(r, n, "out of memory");

	for (size_t i = 0; i < n->nkids; i++) {
		const struct node *item = n->kids[i];
		struct tt_config_key *k = &cfg->keys[i];
		size_t saved = push(r, "[%zu]", i);
		int rc;

		cfg->nkeys = i + 1;
		k->line = item->line;
		k->column = item->column;
		r->base = k;
		rc = apply_map(r, key_fields, item);
		r->base = cfg;
		if (rc == -1 || check_key_entry(r, item, i) == -1)
			return -1;
		pop(r, saved);
	}
	return 0;
}

#define CFG(member) offsetof(struct tt_config, member)

static const struct field tls_fields[] = {
	{ .name = "ca_file", .set = set_path, .offset = CFG(broker.tls.ca_file) },
	{ .name = "cert_file", .set = set_path, .offset = CFG(broker.tls.cert_file) },
	{ .name = "key_file", .set = set_path, .offset = CFG(broker.tls.key_file) },
	{ .name = "verify", .set = set_bool, .offset = CFG(broker.tls.verify) },
	{ NULL }
};

static const struct field broker_fields[] = {
	{ .name = "host", .set = set_str, .offset = CFG(broker.host), .check = check_host },
	{ .name = "port", .set = set_int, .offset = CFG(broker.port), .min = 1, .max = 65535 },
	{ .name = "client_id", .set = set_str, .offset = CFG(broker.client_id),
	  .check = check_client_id },
	{ .name = "session", .set = set_session, .offset = CFG(broker.persistent) },
	{ .name = "username", .set = set_str, .offset = CFG(broker.username), .check = check_text },
	{ .name = "password_file", .set = set_path, .offset = CFG(broker.password_file) },
	{ .name = "keepalive", .set = set_int, .offset = CFG(broker.keepalive), .min = 5,
	  .max = 65535, .unit = "seconds" },
	{ .name = "tls", .set = set_tls, .sub = tls_fields },
	{ NULL }
};

static const struct field window_fields[] = {
	{ .name = "past", .set = set_int64, .offset = CFG(window.past_ms), .max = 86400,
	  .unit = "seconds", .scale = 1000 },
	{ .name = "future", .set = set_int64, .offset = CFG(window.future_ms), .max = 86400,
	  .unit = "seconds", .scale = 1000 },
	{ NULL }
};

static const struct field limits_fields[] = {
	{ .name = "payload", .set = set_size, .offset = CFG(limits.payload), .min = 64,
	  .max = 268435455, .unit = "bytes" },
	{ .name = "depth", .set = set_int, .offset = CFG(limits.depth), .min = 1, .max = 1000 },
	{ .name = "hops", .set = set_int, .offset = CFG(limits.hops), .max = 255 },
	{ .name = "ids", .set = set_size, .offset = CFG(limits.ids), .min = 16, .max = 10000000,
	  .unit = "entries" },
	{ NULL }
};

static const struct field sandbox_fields[] = {
	{ .name = "instructions", .set = set_int64, .offset = CFG(sandbox.instructions),
	  .min = 1000, .max = 1000000000000LL },
	{ .name = "time", .set = set_int64, .offset = CFG(sandbox.time_ms), .min = 1,
	  .max = 600000, .unit = "milliseconds" },
	{ .name = "memory", .set = set_size, .offset = CFG(sandbox.memory), .min = 1LL << 20,
	  .max = 1LL << 36, .unit = "bytes" },
	{ .name = "failures", .set = set_int, .offset = CFG(sandbox.failures), .min = 1,
	  .max = 1000 },
	{ .name = "failure_window", .set = set_int64, .offset = CFG(sandbox.failure_window_ms),
	  .min = 1, .max = 86400, .unit = "seconds", .scale = 1000 },
	{ NULL }
};

static const struct field log_fields[] = {
	{ .name = "level", .set = set_level, .offset = CFG(log_level) },
	{ NULL }
};

static const struct field stats_fields[] = {
	{ .name = "interval", .set = set_int64, .offset = CFG(stats_interval_ms), .max = 86400,
	  .unit = "seconds", .scale = 1000 },
	{ NULL }
};

static const struct field top_fields[] = {
	{ .name = "app", .set = set_str, .offset = CFG(app), .check = check_app },
	{ .name = "broker", .set = set_map, .sub = broker_fields },
	{ .name = "topic_prefix", .set = set_str, .offset = CFG(topic_prefix),
	  .check = check_prefix },
	{ .name = "keys", .set = set_keys },
	{ .name = "window", .set = set_map, .sub = window_fields },
	{ .name = "limits", .set = set_map, .sub = limits_fields },
	{ .name = "sandbox", .set = set_map, .sub = sandbox_fields },
	{ .name = "rules", .set = set_path, .offset = CFG(rules) },
	{ .name = "lua_path", .set = set_path, .offset = CFG(lua_path) },
	{ .name = "log", .set = set_map, .sub = log_fields },
	{ .name = "stats", .set = set_map, .sub = stats_fields },
	{ NULL }
};

/* Checks rules between keys, once the whole file is applied. */
static int
check_links(struct reader *r)
{
	const struct tt_config *cfg = r->cfg;

	if (r->session != NULL && cfg->broker.persistent && cfg->broker.client_id == NULL) {
		push(r, "broker.session");
		return fail_at(r, r->session, "persistent needs broker.client_id, so that the "
			       "broker finds the session again after a reconnect");
	}
	if (r->tls != NULL && (cfg->broker.tls.cert_file == NULL) != (cfg->broker.tls.key_file == NULL)) {
		push(r, "broker.tls");
		return fail_at(r, r->tls, "cert_file and key_file go together, set both or neither");
	}
	return 0;
}

/* Sets cfg->path and cfg->dir, the absolute folder of path. */
static int
set_location(struct reader *r, const char *path)
{
	struct tt_config *cfg = r->cfg;
	const char *slash = strrchr(path, '/');
	char *cwd = NULL, *folder = NULL, *dir;

	if (replace(&cfg->path, path) == -1)
		return errf(r->err, r->errsize, "%s: out of memory", path);

	if (slash == path) {
		dir = strdup("/");
	} else if (slash != NULL && path[0] == '/') {
		dir = strndup(path, (size_t)(slash - path));
	} else {
		cwd = getcwd(NULL, 0);
		if (cwd == NULL)
			return errf(r->err, r->errsize, "%s: failed to get the current folder: %s",
				    path, strerror(errno));
		folder = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
		dir = folder ? join(cwd, folder) : NULL;
	}
	free(cwd);
	free(folder);
	if (dir == NULL)
		return errf(r->err, r->errsize, "%s: out of memory", path);
	free(cfg->dir);
	cfg->dir = dir;
	return 0;
}

/* Reads at most FILE_MAX bytes of path into a malloc'd buffer. */
static int
slurp(struct reader *r, const char *path, char **text, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t n;
	int rc = -1;

	if (f == NULL)
		return errf(r->err, r->errsize, "%s: failed to open: %s", path, strerror(errno));
	buf = malloc(FILE_MAX + 1);
	if (buf == NULL) {
		errf(r->err, r->errsize, "%s: out of memory", path);
		goto out;
	}
	n = fread(buf, 1, FILE_MAX + 1, f);
	if (ferror(f)) {
		errf(r->err, r->errsize, "%s: failed to read: %s", path, strerror(errno));
		goto out;
	}
	if (n > FILE_MAX) {
		errf(r->err, r->errsize, "%s: larger than 1 MiB, expected a config file of at "
		     "most %d bytes", path, FILE_MAX);
		goto out;
	}
	*text = buf;
	*len = n;
	buf = NULL;
	rc = 0;
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, FILE_MAX + 1);
		free(buf);
	}
	fclose(f);
	return rc;
}

void
tt_config_init(struct tt_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));

	/* A failed allocation leaves NULL, and tt_config_finish tries again. */
	cfg->dir = getcwd(NULL, 0);
	cfg->broker.host = strdup("127.0.0.1");
	cfg->topic_prefix = strdup("tattletale");

	cfg->broker.keepalive = 30;
	cfg->broker.tls.verify = true;
	cfg->window.past_ms = 120 * 1000;
	cfg->window.future_ms = 30 * 1000;
	cfg->limits.payload = 262144;
	cfg->limits.depth = 64;
	cfg->limits.hops = 8;
	cfg->limits.ids = 65536;
	cfg->sandbox.instructions = 10000000;
	cfg->sandbox.time_ms = 100;
	cfg->sandbox.memory = 64 * 1024 * 1024;
	cfg->sandbox.failures = 5;
	cfg->sandbox.failure_window_ms = 60 * 1000;
	cfg->log_level = TT_LOG_INFO;
	cfg->stats_interval_ms = 60 * 1000;
}

void
tt_config_free(struct tt_config *cfg)
{
	free(cfg->path);
	free(cfg->dir);
	free(cfg->app);
	free(cfg->broker.host);
	free(cfg->broker.client_id);
	free(cfg->broker.username);
	free(cfg->broker.password_file);
	free(cfg->broker.tls.ca_file);
	free(cfg->broker.tls.cert_file);
	free(cfg->broker.tls.key_file);
	free(cfg->topic_prefix);
	free_keys(cfg);
	free(cfg->rules);
	free(cfg->lua_path);
	memset(cfg, 0, sizeof(*cfg));
}

int
tt_config_read(struct tt_config *cfg, const char *path, char *err, size_t errsize)
{
	struct reader r = {
		.file = path, .cfg = cfg, .base = cfg, .err = err, .errsize = errsize,
	};
	struct node *root = NULL;
	char *text = NULL;
	int rc = -1;

	if (set_location(&r, path) == -1 || slurp(&r, path, &text, &r.textlen) == -1)
		goto out;
	r.text = text;
	if (parse(&r, &root) == -1)
		goto out;

	if (root == NULL) {
		fail_pos(&r, 1, 1, "the file is empty, expected a mapping such as app: NAME");
		goto out;
	}
	if (root->type != NODE_MAPPING) {
		expected(&r, root, "a mapping of settings such as app: NAME");
		goto out;
	}
	if (apply_map(&r, top_fields, root) == -1)
		goto out;
	rc = check_links(&r);
out:
	node_free(root);
	if (text != NULL) {
		/* The text may hold inline keys. */
		OPENSSL_cleanse(text, r.textlen);
		free(text);
	}
	return rc;
}

const char *
tt_config_locate(const char *explicit_path)
{
	/* Fixed, not under the build's sysconfdir, so every package looks in one place. */
	static const char system_path[] = "/etc/tattletale/tattletale.yaml";
	const char *env;

	if (explicit_path != NULL)
		return explicit_path;
	env = getenv("TATTLETALE_CONFIG");
	if (env != NULL && env[0] != '\0')
		return env;
	if (access("tattletale.yaml", F_OK) == 0)
		return "tattletale.yaml";
	if (access(system_path, F_OK) == 0)
		return system_path;
	return NULL;
}

/* A flag that replaces a string of the config. */
struct flag {
	const char *name;		/* the option, for messages */
	size_t from;			/* a const char * in struct tt_config_overrides */
	size_t to;			/* a char * in struct tt_config */
	const char *(*check)(const char *s, size_t len);
	bool path;			/* relative to the current folder */
	bool tls;			/* giving it turns TLS on */
};

#define OV(member) offsetof(struct tt_config_overrides, member)

static const struct flag flags[] = {
	{ .name = "--host", .from = OV(host), .to = CFG(broker.host), .check = check_host },
	{ .name = "--app", .from = OV(app), .to = CFG(app), .check = check_app },
	{ .name = "--prefix", .from = OV(prefix), .to = CFG(topic_prefix), .check = check_prefix },
	{ .name = "--rules", .from = OV(rules), .to = CFG(rules), .path = true },
	{ .name = "--username", .from = OV(username), .to = CFG(broker.username),
	  .check = check_text },
	{ .name = "--password-file", .from = OV(password_file), .to = CFG(broker.password_file),
	  .path = true },
	{ .name = "--ca-file", .from = OV(ca_file), .to = CFG(broker.tls.ca_file), .path = true,
	  .tls = true },
	{ .name = "--cert-file", .from = OV(cert_file), .to = CFG(broker.tls.cert_file),
	  .path = true, .tls = true },
	{ .name = "--tls-key-file", .from = OV(key_file_tls), .to = CFG(broker.tls.key_file),
	  .path = true, .tls = true },
};

/* Returns an absolute copy of a path given on the command line. */
static char *
absolute(const char *path)
{
	char *cwd, *full_path;

	if (path[0] == '/')
		return strdup(path);
	cwd = getcwd(NULL, 0);
	if (cwd == NULL)
		return NULL;
	full_path = join(cwd, path);
	free(cwd);
	return full_path;
}

static int
apply_flag(struct tt_config *cfg, const struct flag *fl, const char *value, char *err,
	   size_t errsize)
{
	char **slot = (char **)((char *)cfg + fl->to);
	char quoted[QUOTE_MAX];
	const char *expectation;
	char *copy;

	if (fl->check != NULL && (expectation = fl->check(value, strlen(value))) != NULL)
		return errf(err, errsize, "%s: expected %s, got \"%s\"", fl->name, expectation,
			    tt_log_escape(value, strlen(value), quoted, sizeof(quoted)));
	if (fl->path && value[0] == '\0')
		return errf(err, errsize, "%s: expected a path, got an empty value", fl->name);

	copy = fl->path ? absolute(value) : strdup(value);
	if (copy == NULL)
		return errf(err, errsize, "%s: %s", fl->name, strerror(errno));
	free(*slot);
	*slot = copy;
	if (fl->tls)
		cfg->broker.tls.enabled = true;
	return 0;
}

/* Replaces the configured keys with the one from --key-file. */
static int
apply_key_file(struct tt_config *cfg, const struct tt_config_overrides *ov, char *err,
	       size_t errsize)
{
	const char *kid = ov->kid ? ov->kid : "default";
	struct tt_config_key *k;
	char quoted[QUOTE_MAX];
	const char *expectation;

	if (ov->kid != NULL && ov->key_file == NULL)
		return errf(err, errsize, "--kid needs --key-file: it names the key read from "
			    "that file");
	if (ov->key_file == NULL)
		return 0;
	if ((expectation = check_kid(kid, strlen(kid))) != NULL)
		return errf(err, errsize, "--kid: expected %s, got \"%s\"", expectation,
			    tt_log_escape(kid, strlen(kid), quoted, sizeof(quoted)));
	if (ov->key_file[0] == '\0')
		return errf(err, errsize, "--key-file: expected a path, got an empty value");

	k = calloc(1, sizeof(*k));
	if (k == NULL || (k->id = strdup(kid)) == NULL || (k->file = absolute(ov->key_file)) == NULL) {
		if (k != NULL)
			free_key(k);
		free(k);
		return errf(err, errsize, "--key-file: %s", strerror(errno));
	}
	free_keys(cfg);
	cfg->keys = k;
	cfg->nkeys = 1;
	return 0;
}

static int
apply_overrides(struct tt_config *cfg, const struct tt_config_overrides *ov, char *err,
		size_t errsize)
{
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		const char *value = *(const char *const *)((const char *)ov + flags[i].from);

		if (value != NULL && apply_flag(cfg, &flags[i], value, err, errsize) == -1)
			return -1;
	}
	if (ov->port != 0) {
		if (ov->port < 1 || ov->port > 65535)
			return errf(err, errsize, "--port: expected an integer from 1 to 65535, "
				    "got %d", ov->port);
		cfg->broker.port = ov->port;
	}
	if (ov->tls)
		cfg->broker.tls.enabled = true;
	if (ov->insecure) {
		cfg->broker.tls.enabled = true;
		cfg->broker.tls.verify = false;
	}
	return apply_key_file(cfg, ov, err, errsize);
}

/* Fills the defaults that depend on other values or that init failed to allocate. */
static int
fill_defaults(struct tt_config *cfg, char *err, size_t errsize)
{
	if (cfg->dir == NULL && (cfg->dir = getcwd(NULL, 0)) == NULL)
		return errf(err, errsize, "failed to get the current folder: %s", strerror(errno));
	if (cfg->broker.host == NULL && (cfg->broker.host = strdup("127.0.0.1")) == NULL)
		return errf(err, errsize, "out of memory");
	if (cfg->topic_prefix == NULL && (cfg->topic_prefix = strdup("tattletale")) == NULL)
		return errf(err, errsize, "out of memory");
	if (cfg->rules == NULL && (cfg->rules = join(cfg->dir, "rules.d")) == NULL)
		return errf(err, errsize, "out of memory");
	if (cfg->broker.port == 0)
		cfg->broker.port = cfg->broker.tls.enabled ? 8883 : 1883;
	return 0;
}

int
tt_config_finish(struct tt_config *cfg, const struct tt_config_overrides *ov, char *err,
		 size_t errsize)
{
	static const struct tt_config_overrides none;
	const struct tt_config_tls *tls = &cfg->broker.tls;

	if (apply_overrides(cfg, ov ? ov : &none, err, errsize) == -1)
		return -1;
	if (fill_defaults(cfg, err, errsize) == -1)
		return -1;

	if (cfg->app == NULL)
		return errf(err, errsize, "missing app: set app in the config or pass --app NAME");
	if (cfg->nkeys == 0 && getenv("TATTLETALE_KEY") == NULL)
		return errf(err, errsize, "no key configured: add keys to the config, pass "
			    "--key-file FILE or set TATTLETALE_KEY");
	if ((tls->cert_file == NULL) != (tls->key_file == NULL))
		return errf(err, errsize, "broker.tls: cert_file and key_file go together, set "
			    "both or neither");
	return 0;
}

/* The whitespace that tt_key_read_file trims from key files. */
static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Copies s without surrounding whitespace into a malloc'd buffer. */
static int
copy_trimmed(const char *s, char **out, size_t *len)
{
	size_t n = strlen(s);

	while (n > 0 && is_space(*s)) {
		s++;
		n--;
	}
	while (n > 0 && is_space(s[n - 1]))
		n--;
	*out = malloc(n + 1);
	if (*out == NULL)
		return -1;
	memcpy(*out, s, n);
	(*out)[n] = '\0';
	*len = n;
	return 0;
}

/* Reads one key's text from its source and adds it to ring. */
static int
load_key(struct tt_keyring *ring, const struct tt_config *cfg, const struct tt_config_key *k,
	 char *err, size_t errsize)
{
	char source[512];
	char *text = NULL;
	size_t len = 0;
	int rc = -1;

	if (k->file != NULL)
		snprintf(source, sizeof(source), "%s", k->file);
	else if (k->env != NULL)
		snprintf(source, sizeof(source), "$%s", k->env);
	else
		snprintf(source, sizeof(source), "the inline value at %s:%d",
			 cfg->path ? cfg->path : "the config", k->line);

	if (k->file != NULL) {
		if (tt_key_read_file(k->file, &text, &len) == -1)
			return errf(err, errsize, "key %s from %s: failed to read: %s", k->id,
				    source, strerror(errno));
	} else {
		const char *s = k->env ? getenv(k->env) : k->value;

		if (s == NULL)
			return errf(err, errsize, "key %s from %s: the variable is not set", k->id,
				    source);
		if (copy_trimmed(s, &text, &len) == -1)
			return errf(err, errsize, "key %s from %s: out of memory", k->id, source);
	}

	if (len < TT_KEY_MIN) {
		errf(err, errsize, "key %s from %s is %zu bytes; a key needs at least %d (generate "
		     "one with 'tattletale keygen')", k->id, source, len, TT_KEY_MIN);
	} else if (len > TT_KEY_MAX) {
		errf(err, errsize, "key %s from %s is %zu bytes; a key has at most %d", k->id,
		     source, len, TT_KEY_MAX);
	} else if (tt_keyring_add(ring, k->id, text, len) == -1) {
		if (errno == EEXIST)
			errf(err, errsize, "key %s from %s: the key id %s is configured twice",
			     k->id, source, k->id);
		else
			errf(err, errsize, "key %s from %s: %s", k->id, source, strerror(errno));
	} else {
		rc = 0;
	}

	OPENSSL_cleanse(text, len);
	free(text);
	return rc;
}

struct tt_keyring *
tt_config_load_keys(const struct tt_config *cfg, char *err, size_t errsize)
{
	static const struct tt_config_key fallback = { .id = "default", .env = "TATTLETALE_KEY" };
	struct tt_keyring *ring;

	if (cfg->nkeys == 0 && getenv("TATTLETALE_KEY") == NULL) {
		errf(err, errsize, "no key configured: add keys to the config, pass --key-file "
		     "FILE or set TATTLETALE_KEY");
		return NULL;
	}
	ring = tt_keyring_new();
	if (ring == NULL) {
		errf(err, errsize, "failed to create the keyring: %s", strerror(errno));
		return NULL;
	}

	if (cfg->nkeys == 0) {
		if (load_key(ring, cfg, &fallback, err, errsize) == -1)
			goto fail;
	}
	for (size_t i = 0; i < cfg->nkeys; i++) {
		if (load_key(ring, cfg, &cfg->keys[i], err, errsize) == -1)
			goto fail;
	}
	return ring;
fail:
	tt_keyring_free(ring);
	return NULL;
}
