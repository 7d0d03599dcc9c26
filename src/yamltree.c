/* SPDX-License-Identifier: MIT */
/*
 * Turns libyaml's events into a tree of scalars, mappings and lists.
 *
 * This is the first pass of reading a config file: it owns the YAML syntax
 * and rejects anchors, aliases, tags and extra documents, so only plain
 * data reaches config.c, which checks the keys and their values. Every
 * node keeps the position where it starts, and every error carries one
 * when the text has it. Scalar text is wiped when a tree is freed, because
 * it may be an inline key.
 */
#include "yamltree.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <yaml.h>

#include "log.h"

#define FILE_MAX (1024 * 1024)	/* bytes in a config file */
#define TREE_DEPTH_MAX 16	/* the schema needs 4 levels */
#define TREE_NODES_MAX 65536	/* the schema needs a few dozen values */
#define QUOTE_MAX 48		/* bytes of a tag shown in a message */

/* State of one parse: the text, the tree being built and where errors go. */
struct builder {
	const char *text;
	size_t textlen;
	struct tt_yamltree_error *err;
	struct tt_yamltree_node *root;
	struct tt_yamltree_node *open[TREE_DEPTH_MAX];	/* open mappings and lists */
	size_t depth;
	size_t nodes;
	int documents;
	bool done;
};

/* Writes a message at line and column (0 for none) into err. Returns -1. */
static int
fail_err(struct tt_yamltree_error *err, int line, int column, const char *fmt, ...)
{
	va_list ap;

	err->line = line;
	err->column = column;
	va_start(ap, fmt);
	if (vsnprintf(err->message, sizeof(err->message), fmt, ap) < 0)
		err->message[0] = '\0';
	va_end(ap);
	return -1;
}

#define fail_pos(b, line, column, ...) fail_err((b)->err, (line), (column), __VA_ARGS__)
#define fail_at(b, n, ...) fail_pos((b), (n)->line, (n)->column, __VA_ARGS__)
#define fail_mark(b, m, ...) fail_pos((b), (int)(m)->line + 1, (int)(m)->column + 1, __VA_ARGS__)

void
tt_yamltree_free(struct tt_yamltree_node *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		tt_yamltree_free(n->kids[i]);
	free(n->kids);
	if (n->text != NULL) {
		/* A scalar may be an inline key. */
		OPENSSL_cleanse(n->text, n->len);
		free(n->text);
	}
	free(n);
}

static int
node_add(struct tt_yamltree_node *parent, struct tt_yamltree_node *kid)
{
	if (parent->nkids == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 8;
		struct tt_yamltree_node **kids = realloc(parent->kids, cap * sizeof(*kids));

		if (kids == NULL)
			return -1;
		parent->kids = kids;
		parent->cap = cap;
	}
	parent->kids[parent->nkids++] = kid;
	return 0;
}

/* Rejects the YAML features beyond plain data that a node may carry. */
static int
check_plain(struct builder *b, const yaml_event_t *ev, const yaml_char_t *anchor,
	    const yaml_char_t *tag)
{
	if (anchor != NULL)
		return fail_mark(b, &ev->start_mark, "anchors and aliases are not supported");
	if (tag != NULL) {
		char quoted[QUOTE_MAX];

		tt_log_escape((const char *)tag, strlen((const char *)tag), quoted, sizeof(quoted));
		return fail_mark(b, &ev->start_mark, "tags such as %s are not supported", quoted);
	}
	return 0;
}

/* Adds n to the innermost open node, then opens n when it is a mapping or a list. */
static int
attach(struct builder *b, struct tt_yamltree_node *n)
{
	int line = n->line, column = n->column;

	if (++b->nodes > TREE_NODES_MAX) {
		tt_yamltree_free(n);
		return fail_pos(b, line, column, "more than %d values, far more than a config needs",
				TREE_NODES_MAX);
	}
	if (b->depth == 0) {
		b->root = n;
	} else if (node_add(b->open[b->depth - 1], n) == -1) {
		tt_yamltree_free(n);
		return fail_pos(b, line, column, "out of memory");
	}

	if (n->type == TT_YAMLTREE_SCALAR)
		return 0;
	if (b->depth == TREE_DEPTH_MAX)
		return fail_at(b, n, "nested deeper than %d levels", TREE_DEPTH_MAX);
	b->open[b->depth++] = n;
	return 0;
}

static struct tt_yamltree_node *
node_new(enum tt_yamltree_type type, const yaml_event_t *ev)
{
	struct tt_yamltree_node *n = calloc(1, sizeof(*n));

	if (n == NULL)
		return NULL;
	n->type = type;
	n->line = (int)ev->start_mark.line + 1;
	n->column = (int)ev->start_mark.column + 1;
	return n;
}

static int
take_scalar(struct builder *b, const yaml_event_t *ev)
{
	const char *value = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	struct tt_yamltree_node *n;

	if (check_plain(b, ev, ev->data.scalar.anchor, ev->data.scalar.tag) == -1)
		return -1;
	/* A double-quoted "\0" puts a NUL inside the value. */
	if (memchr(value, '\0', len) != NULL)
		return fail_mark(b, &ev->start_mark, "NUL bytes are not supported");

	n = node_new(TT_YAMLTREE_SCALAR, ev);
	if (n == NULL || (n->text = malloc(len + 1)) == NULL) {
		free(n);
		return fail_mark(b, &ev->start_mark, "out of memory");
	}
	memcpy(n->text, value, len);
	n->text[len] = '\0';
	n->len = len;
	return attach(b, n);
}

static int
take_container(struct builder *b, const yaml_event_t *ev, enum tt_yamltree_type type,
	       const yaml_char_t *anchor, const yaml_char_t *tag)
{
	struct tt_yamltree_node *n;

	if (check_plain(b, ev, anchor, tag) == -1)
		return -1;
	n = node_new(type, ev);
	if (n == NULL)
		return fail_mark(b, &ev->start_mark, "out of memory");
	return attach(b, n);
}

static int
take(struct builder *b, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_STREAM_END_EVENT:
		b->done = true;
		return 0;
	case YAML_DOCUMENT_START_EVENT:
		if (++b->documents > 1)
			return fail_mark(b, &ev->start_mark,
					 "more than one YAML document, expected one");
		return 0;
	case YAML_ALIAS_EVENT:
		return fail_mark(b, &ev->start_mark, "aliases are not supported");
	case YAML_SCALAR_EVENT:
		return take_scalar(b, ev);
	case YAML_SEQUENCE_START_EVENT:
		return take_container(b, ev, TT_YAMLTREE_LIST, ev->data.sequence_start.anchor,
				      ev->data.sequence_start.tag);
	case YAML_MAPPING_START_EVENT:
		return take_container(b, ev, TT_YAMLTREE_MAPPING, ev->data.mapping_start.anchor,
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
tab_hint(const struct builder *b, int line)
{
	size_t i = 0;

	for (int l = 1; l < line && i < b->textlen; i++)
		if (b->text[i] == '\n')
			l++;
	for (; i < b->textlen && (b->text[i] == ' ' || b->text[i] == '\t'); i++)
		if (b->text[i] == '\t')
			return " (YAML indents with spaces, not tabs)";
	return "";
}

/* Reports a libyaml error with its problem text and position. */
static int
syntax_error(struct builder *b, const yaml_parser_t *p)
{
	const char *problem = p->problem ? p->problem : "unknown error";
	int line = (int)p->problem_mark.line + 1;
	int column = (int)p->problem_mark.column + 1;

	if (p->error == YAML_MEMORY_ERROR)
		return fail_pos(b, 0, 0, "out of memory");

	if (p->error == YAML_READER_ERROR) {
		/* Reader errors carry a byte offset instead of a mark. */
		line = 1;
		column = 1;
		for (size_t i = 0; i < p->problem_offset && i < b->textlen; i++) {
			if (b->text[i] == '\n') {
				line++;
				column = 1;
			} else {
				column++;
			}
		}
		return fail_pos(b, line, column, "invalid text: %s", problem);
	}

	if (p->context != NULL)
		return fail_pos(b, line, column, "invalid YAML: %s (%s at line %d, column %d)%s",
				problem, p->context, (int)p->context_mark.line + 1,
				(int)p->context_mark.column + 1, tab_hint(b, line));
	return fail_pos(b, line, column, "invalid YAML: %s%s", problem, tab_hint(b, line));
}

int
tt_yamltree_parse(const char *text, size_t len, struct tt_yamltree_node **root,
		  struct tt_yamltree_error *err)
{
	struct builder b = { .text = text, .textlen = len, .err = err };
	yaml_parser_t parser;
	yaml_event_t ev;
	int rc = 0;

	*root = NULL;
	if (!yaml_parser_initialize(&parser))
		return fail_pos(&b, 0, 0, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);

	while (!b.done && rc == 0) {
		if (!yaml_parser_parse(&parser, &ev)) {
			rc = syntax_error(&b, &parser);
			break;
		}
		rc = take(&b, &ev);
		yaml_event_delete(&ev);
	}

	/*
	 * NOTE: libyaml frees its token buffers without wiping them, so the
	 * text of an inline key can stay in freed memory. Keys read from a
	 * file or the environment never pass through libyaml.
	 */
	yaml_parser_delete(&parser);
	if (rc == -1) {
		tt_yamltree_free(b.root);
		return -1;
	}
	*root = b.root;
	return 0;
}

/* Reads at most FILE_MAX bytes of path into a malloc'd buffer. */
static int
slurp(const char *path, char **text, size_t *len, struct tt_yamltree_error *err)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t n;
	int rc = -1;

	if (f == NULL)
		return fail_err(err, 0, 0, "failed to open: %s", strerror(errno));
	buf = malloc(FILE_MAX + 1);
	if (buf == NULL) {
		fail_err(err, 0, 0, "out of memory");
		goto out;
	}
	n = fread(buf, 1, FILE_MAX + 1, f);
	if (ferror(f)) {
		fail_err(err, 0, 0, "failed to read: %s", strerror(errno));
		goto out;
	}
	if (n > FILE_MAX) {
		fail_err(err, 0, 0, "larger than 1 MiB, expected a config file of at most %d bytes",
			 FILE_MAX);
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

int
tt_yamltree_read(const char *path, struct tt_yamltree_node **root,
		 struct tt_yamltree_error *err)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	*root = NULL;
	if (slurp(path, &text, &len, err) == -1)
		return -1;
	rc = tt_yamltree_parse(text, len, root, err);

	/* The text may hold inline keys. */
	OPENSSL_cleanse(text, len);
	free(text);
	return rc;
}
