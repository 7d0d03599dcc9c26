/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the YAML config reader: the input is the text of a
 * tattletale.yaml. It is parsed twice, by tt_yamltree_parse on the buffer
 * and by tt_config_read on a file in a private temporary folder, and a
 * config that reads is then completed by tt_config_finish.
 *
 * Besides sanitizer reports, the target aborts in three cases. The tree
 * breaks a promise of yamltree.h, such as a NUL inside a scalar, a mapping
 * with an odd number of children or a position before line 1. The config
 * reads although the tree parse failed. A failure leaves the error message
 * empty.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "yamltree.h"

static char folder[] = "/tmp/tattletale-fuzz-config-XXXXXX";
static char path[sizeof(folder) + 32];

static void
cleanup(void)
{
	unlink(path);
	rmdir(folder);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* tt_config_finish reads it, so it is unset to make every run of an input the same. */
	unsetenv("TATTLETALE_KEY");
	if (mkdtemp(folder) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/tattletale.yaml", folder);
	atexit(cleanup);
	return 0;
}

/* Aborts when node or a node below it breaks a promise of yamltree.h. */
static void
check_tree(const struct tt_yamltree_node *node, int depth)
{
	if (depth > 17 || node->line < 1 || node->column < 1 || node->nkids > node->cap)
		abort();
	switch (node->type) {
	case TT_YAMLTREE_SCALAR:
		if (node->text == NULL || strlen(node->text) != node->len || node->nkids != 0)
			abort();
		break;
	case TT_YAMLTREE_MAPPING:
		if (node->nkids % 2 != 0)
			abort();
		/* fall through */
	case TT_YAMLTREE_LIST:
		/* At most 16 levels of containers, so a scalar can sit at level 17. */
		if (depth > 16)
			abort();
		for (size_t i = 0; i < node->nkids; i++)
			check_tree(node->kids[i], depth + 1);
		break;
	default:
		abort();
	}
}

/* Parses the buffer into a tree. Returns 0 when it is valid YAML for yamltree. */
static int
parse_buffer(const uint8_t *data, size_t size)
{
	struct tt_yamltree_node *root = NULL;
	struct tt_yamltree_error err;
	int rc;

	memset(&err, 0, sizeof(err));
	rc = tt_yamltree_parse((const char *)data, size, &root, &err);
	if (rc == 0 && root != NULL)
		check_tree(root, 1);
	if (rc == -1 && (root != NULL || err.message[0] == '\0' ||
			 memchr(err.message, '\0', sizeof(err.message)) == NULL))
		abort();
	tt_yamltree_free(root);
	return rc;
}

static void
write_file(const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[TT_CONFIG_ERR_MAX];
	struct tt_config cfg;
	int tree_rc, rc;

	tree_rc = parse_buffer(data, size);

	write_file(data, size);
	tt_config_init(&cfg);
	err[0] = '\0';
	rc = tt_config_read(&cfg, path, err, sizeof(err));
	if (rc == -1 && err[0] == '\0')
		abort();
	if (rc == 0 && tree_rc == -1) {
		fprintf(stderr, "fuzz_config: the config read, but the same text failed to parse\n");
		abort();
	}
	if (rc == 0) {
		err[0] = '\0';
		if (tt_config_finish(&cfg, NULL, err, sizeof(err)) == -1 && err[0] == '\0')
			abort();
	}
	tt_config_free(&cfg);
	return 0;
}
