/* SPDX-License-Identifier: MIT */
/*
 * A YAML file read with libyaml into a small tree of scalars, mappings and
 * lists, each node with its line and column. Only plain data gets through:
 * anchors, aliases, tags, NUL bytes in scalars and a second document are
 * rejected, as are files over 1 MiB, nesting deeper than 16 levels and more
 * than 65536 values. Scalars are the text written, with no implicit typing.
 */
#ifndef TT_YAMLTREE_H
#define TT_YAMLTREE_H

#include <stddef.h>

#define TT_YAMLTREE_ERR_MAX 256

enum tt_yamltree_type { TT_YAMLTREE_SCALAR, TT_YAMLTREE_MAPPING, TT_YAMLTREE_LIST };

/* One value of the YAML document. */
struct tt_yamltree_node {
	enum tt_yamltree_type type;
	int line, column;		/* 1-based */
	char *text;			/* scalars: NUL-terminated, no NUL inside */
	size_t len;
	struct tt_yamltree_node **kids;	/* mappings: key, value, key, value...; lists: items */
	size_t nkids, cap;		/* cap: slots allocated in kids */
};

/* An error from reading or parsing a file, with its position when it has one. */
struct tt_yamltree_error {
	int line, column;		/* 1-based; 0 when the error has no place in the text */
	char message[TT_YAMLTREE_ERR_MAX];	/* such as "aliases are not supported" */
};

/*
 * Parses len bytes of text into a tree. Sets *root to the tree (NULL for a
 * text with no document) and returns 0, or returns -1 with *err filled in.
 * Free the tree with tt_yamltree_free.
 */
int tt_yamltree_parse(const char *text, size_t len, struct tt_yamltree_node **root,
		      struct tt_yamltree_error *err);

/*
 * Reads the file at path and parses it as tt_yamltree_parse does. Errors
 * in opening or reading the file and a file over 1 MiB have line 0. The
 * file's bytes are wiped before they are freed, because they may contain
 * key text.
 */
int tt_yamltree_read(const char *path, struct tt_yamltree_node **root,
		     struct tt_yamltree_error *err);

/* Frees node and everything below it, wiping scalar text first. NULL is allowed. */
void tt_yamltree_free(struct tt_yamltree_node *node);

#endif
