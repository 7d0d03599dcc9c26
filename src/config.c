/* SPDX-License-Identifier: MIT */
/*
 * The router's configuration file, read into struct tt_config.
 *
 * A file is read in two passes. The first, in yamltree.c, turns the YAML
 * into a small tree of scalars, mappings and lists and rejects everything
 * beyond plain data. The second, here, walks the tree against tables that
 * map each key to a setter, which checks the value's type and range and
 * stores it. A scalar is the text written: there is no YAML 1.1 implicit
 * typing, so `yes` is a string and only `true` and `false` are booleans.
 * Reading the keys themselves is in config_keys.c, and the flags that
 * override the file are in config_flags.c.
 *
 * Key text never passes through struct tt_config except for inline
 * `value:` entries, which are wiped when the config is freed.
 */
#include "config.h"
#include "config_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "keyring.h"
#include "log.h"
#include "topic.h"
#include "yamltree.h"

#define KEYS_MAX 256
#define ERRORS_SHOWN 8		/* errors written into err; the rest are counted */
#define COUNT_ROOM 48		/* bytes kept in err for the line that counts the rest */
#define FIELDS_MAX 16		/* keys in one table of fields */

/* State of one tt_config_read call. */
struct reader {
	const char *file;		/* as the caller named it, for messages */
	struct tt_config *cfg;
	void *base;			/* struct that the current table's offsets point into */
	char path[256];			/* key path of the value being set */
	size_t pathlen;
	const struct tt_yamltree_node *session;	/* where session: persistent was written */
	const struct tt_yamltree_node *tls;
	char *err;
	size_t errsize;
	size_t errpos;			/* end of the text in err */
	int nerrors;			/* errors found */
	int shown;			/* errors written into err */
	bool err_full;			/* an error did not fit, so later ones are only counted */
};

/*
 * One key of a mapping: set checks the value and stores it at offset in
 * r->base. min, max, unit and scale describe numbers, check describes
 * strings and sub lists the keys of a nested mapping.
 */
struct field {
	const char *name;
	int (*set)(struct reader *r, const struct field *f, const struct tt_yamltree_node *n);
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
int
tt_config_errf(char *err, size_t errsize, const char *fmt, ...)
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

/*
 * Adds the line "FILE:LINE:COLUMN: KEY.PATH: message" to r->err, which
 * collects the first ERRORS_SHOWN errors of the file. The first error is
 * always written, cut to fit if it must be. A later one is written only
 * whole and with COUNT_ROOM bytes to spare, else it and all after it are
 * only counted. Returns -1.
 */
static int
fail_pos(struct reader *r, int line, int column, const char *fmt, ...)
{
	char text[TT_CONFIG_ERR_MAX];
	size_t len = 0;
	va_list ap;

	r->nerrors++;
	if (r->err_full || r->shown >= ERRORS_SHOWN || r->errsize == 0)
		return -1;
	append(text, sizeof(text), &len, "%s:%d:%d: ", r->file, line, column);
	if (r->pathlen > 0)
		append(text, sizeof(text), &len, "%s: ", r->path);
	va_start(ap, fmt);
	vappend(text, sizeof(text), &len, fmt, ap);
	va_end(ap);

	if (r->shown == 0) {
		r->err[0] = '\0';
	} else if (r->errpos + 1 + len + COUNT_ROOM >= r->errsize) {
		r->err_full = true;
		return -1;
	} else {
		append(r->err, r->errsize, &r->errpos, "\n");
	}
	append(r->err, r->errsize, &r->errpos, "%s", text);
	r->shown++;
	return -1;
}

#define fail_at(r, n, ...) fail_pos((r), (n)->line, (n)->column, __VA_ARGS__)

/* Describes a value for "got ...": its text quoted and escaped, or its kind. */
static const char *
describe(const struct tt_yamltree_node *n, char *buf, size_t size)
{
	char quoted[TT_CONFIG_QUOTE_MAX];

	if (n->type == TT_YAMLTREE_MAPPING)
		return "a mapping";
	if (n->type == TT_YAMLTREE_LIST)
		return "a list";
	if (n->len == 0)
		return "an empty value";
	tt_log_quote(n->text, n->len, quoted, sizeof(quoted));
	snprintf(buf, size, "\"%s\"", quoted);
	return buf;
}

/* Reports that n is not what was expected. Returns -1. */
static int
expected(struct reader *r, const struct tt_yamltree_node *n, const char *expectation)
{
	char buf[TT_CONFIG_QUOTE_MAX + 2];

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
unknown_key(struct reader *r, const struct tt_yamltree_node *key, const struct field *fields)
{
	char allowed[256];
	size_t pos = 0;

	allowed[0] = '\0';
	for (const struct field *f = fields; f->name != NULL; f++)
		append(allowed, sizeof(allowed), &pos, "%s%s", pos ? ", " : "", f->name);
	return fail_at(r, key, "unknown key, expected one of: %s", allowed);
}

/*
 * Applies one key with its value. first[k] is where fields[k] was set
 * before in this mapping, or NULL. Returns 0 or -1.
 */
static int
apply_key(struct reader *r, const struct field *fields, const struct tt_yamltree_node *key,
	  const struct tt_yamltree_node *value, const struct tt_yamltree_node **first)
{
	const struct field *f = lookup(fields, key->text);
	const struct tt_yamltree_node *prev;

	if (f == NULL)
		return unknown_key(r, key, fields);
	prev = first[f - fields];
	if (prev != NULL)
		return fail_at(r, key, "duplicate key, first set at line %d, column %d",
			       prev->line, prev->column);
	first[f - fields] = key;
	return f->set(r, f, value);
}

/*
 * Applies each key of mapping n with the setter from fields. A bad key is
 * reported and skipped, so one read reports every bad key of the file.
 */
static int
apply_map(struct reader *r, const struct field *fields, const struct tt_yamltree_node *n)
{
	const struct tt_yamltree_node *first[FIELDS_MAX] = { NULL };
	int rc = 0;

	if (n->type != TT_YAMLTREE_MAPPING)
		return expected(r, n, "a mapping");

	for (size_t i = 0; i < n->nkids; i += 2) {
		const struct tt_yamltree_node *key = n->kids[i];
		char name[TT_CONFIG_QUOTE_MAX];
		size_t saved;

		if (key->type != TT_YAMLTREE_SCALAR) {
			rc = expected(r, key, "a key name");
			continue;
		}
		tt_log_escape(key->text, key->len, name, sizeof(name));
		saved = push(r, "%s%s", r->pathlen ? "." : "", name);
		if (apply_key(r, fields, key, n->kids[i + 1], first) == -1)
			rc = -1;
		pop(r, saved);
	}
	return rc;
}

static int
set_map(struct reader *r, const struct field *f, const struct tt_yamltree_node *n)
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
get_number(struct reader *r, const struct field *f, const struct tt_yamltree_node *n, int64_t *out)
{
	char expectation[96];
	int64_t v;

	if (n->type == TT_YAMLTREE_SCALAR && parse_count(n->text, f->max, &v) == 0 && v >= f->min) {
		*out = v * (f->scale ? f->scale : 1);
		return 0;
	}
	snprintf(expectation, sizeof(expectation), "an integer from %lld to %lld%s%s%s",
		 (long long)f->min, (long long)f->max, f->unit ? " (" : "",
		 f->unit ? f->unit : "", f->unit ? ")" : "");
	return expected(r, n, expectation);
}

static int
set_int(struct reader *r, const struct field *f, const struct tt_yamltree_node *n)
{
	int64_t v;

	if (get_number(r, f, n, &v) == -1)
		return -1;
	*(int *)field_ptr(r, f) = (int)v;
	return 0;
}

static int
set_int64(struct reader *r, const struct field *f, const struct tt_yamltree_node *n)
{
	int64_t v;

	if (get_number(r, f, n, &v) == -1)
		return -1;
	*(int64_t *)field_ptr(r, f) = v;
	return 0;
}

static int
set_size(struct reader *r, const struct field *f, const struct tt_yamltree_node *n)
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
set_bool(struct reader *r, const struct field *f, const struct tt_yamltree_node *n)
{
	bool *b = field_ptr(r, f);

	if (n->type == TT_YAMLTREE_SCALAR && strcmp(n->text, "true") == 0)
		*b = true;
	else if (n->type == TT_YAMLTREE_SCALAR && strcmp(n->text, "false") == 0)
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
set_str(struct reader *r, const struct field *f, const struct tt_yamltree_node *n)
{
	const char *expectation;

	if (n->type != TT_YAMLTREE_SCALAR)
		return expected(r, n, "a string");
	if (f->check != NULL && (expectation = f->check(n->text, n->len)) != NULL)
		return expected(r, n, expectation);
	if (replace(field_ptr(r, f), n->text) == -1)
		return fail_at(r, n, "out of memory");
	return 0;
}

/* Joins dir and a relative path; an absolute path is copied. Returns NULL on ENOMEM. */
char *
tt_config_join(const char *dir, const char *path)
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
set_path(struct reader *r, const struct field *f, const struct tt_yamltree_node *n)
{
	char **slot = field_ptr(r, f);
	char *full_path;

	if (n->type != TT_YAMLTREE_SCALAR || n->len == 0)
		return expected(r, n, "a path");
	full_path = tt_config_join(r->cfg->dir, n->text);
	if (full_path == NULL)
		return fail_at(r, n, "out of memory");
	free(*slot);
	*slot = full_path;
	return 0;
}

static int
set_session(struct reader *r, const struct field *f, const struct tt_yamltree_node *n)
{
	bool *persistent = field_ptr(r, f);

	if (n->type == TT_YAMLTREE_SCALAR && strcmp(n->text, "clean") == 0) {
		*persistent = false;
	} else if (n->type == TT_YAMLTREE_SCALAR && strcmp(n->text, "persistent") == 0) {
		*persistent = true;
		r->session = n;
	} else {
		return expected(r, n, "clean or persistent");
	}
	return 0;
}

static int
set_level(struct reader *r, const struct field *f, const struct tt_yamltree_node *n)
{
	if (n->type != TT_YAMLTREE_SCALAR || tt_log_level_parse(n->text, field_ptr(r, f)) == -1)
		return expected(r, n, "error, warn, notice, info or debug");
	return 0;
}

static int
set_tls(struct reader *r, const struct field *f, const struct tt_yamltree_node *n)
{
	r->cfg->broker.tls.enabled = true;
	r->tls = n;
	return apply_map(r, f->sub, n);
}

const char *
tt_config_check_app(const char *s, size_t len)
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

const char *
tt_config_check_host(const char *s, size_t len)
{
	return is_token(s, len, 255) ? NULL : "a host name or address";
}

const char *
tt_config_check_text(const char *s, size_t len)
{
	/* MQTT strings, such as the username, have a 16-bit length. */
	return len >= 1 && len <= 65535 ? NULL : "a non-empty string of at most 65535 bytes";
}

const char *
tt_config_check_prefix(const char *s, size_t len)
{
	if (len <= TT_PREFIX_MAX && tt_topic_check_prefix(s) == 0)
		return NULL;
	return "topic levels joined by '/', each 1 to 128 bytes of UTF-8 with no '+', '#' or "
	       "control characters and no leading '$'";
}

const char *
tt_config_check_kid(const char *s, size_t len)
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
	{ .name = "id", .set = set_str, .offset = KEY(id), .check = tt_config_check_kid },
	{ .name = "file", .set = set_path, .offset = KEY(file) },
	{ .name = "env", .set = set_str, .offset = KEY(env), .check = check_env },
	{ .name = "value", .set = set_str, .offset = KEY(value) },
	{ NULL }
};

void
tt_config_free_key(struct tt_config_key *k)
{
	free(k->id);
	free(k->file);
	free(k->env);
	if (k->value != NULL) {
		OPENSSL_cleanse(k->value, strlen(k->value));
		free(k->value);
	}
}

void
tt_config_free_keys(struct tt_config *cfg)
{
	for (size_t i = 0; i < cfg->nkeys; i++)
		tt_config_free_key(&cfg->keys[i]);
	free(cfg->keys);
	cfg->keys = NULL;
	cfg->nkeys = 0;
}

/* Checks one entry of keys: an id, one source, and no id used twice. */
static int
check_key_entry(struct reader *r, const struct tt_yamltree_node *n, size_t i)
{
	const struct tt_config_key *k = &r->cfg->keys[i];
	int sources = (k->file != NULL) + (k->env != NULL) + (k->value != NULL);

	if (k->id == NULL)
		return fail_at(r, n, "missing id, expected an id such as k1");
	if (sources != 1)
		return fail_at(r, n, "expected exactly one of file, env or value, got %d", sources);
	for (size_t j = 0; j < i; j++)
		if (r->cfg->keys[j].id != NULL && strcmp(r->cfg->keys[j].id, k->id) == 0)
			return fail_at(r, n, "key id %s is already used by keys[%zu]", k->id, j);
	return 0;
}

static int
set_keys(struct reader *r, const struct field *f, const struct tt_yamltree_node *n)
{
	struct tt_config *cfg = r->cfg;
	int failed = 0;

	if (n->type != TT_YAMLTREE_LIST)
		return expected(r, n, "a list of keys such as - { id: k1, file: /path/to/key }");
	if (n->nkids > KEYS_MAX)
		return fail_at(r, n, "%zu keys, expected at most %d", n->nkids, KEYS_MAX);

	tt_config_free_keys(cfg);
	if (n->nkids > 0 && (cfg->keys = calloc(n->nkids, sizeof(*cfg->keys))) == NULL)
		return fail_at(r, n, "out of memory");

	for (size_t i = 0; i < n->nkids; i++) {
		const struct tt_yamltree_node *item = n->kids[i];
		struct tt_config_key *k = &cfg->keys[i];
		size_t saved = push(r, "[%zu]", i);
		int rc;

		cfg->nkeys = i + 1;
		k->line = item->line;
		k->column = item->column;
		r->base = k;
		rc = apply_map(r, key_fields, item);
		r->base = cfg;
		/* A bad key is already reported, and checking the entry whole would repeat it. */
		if (rc == -1 || check_key_entry(r, item, i) == -1)
			failed = -1;
		pop(r, saved);
	}
	return failed;
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
	{ .name = "host", .set = set_str, .offset = CFG(broker.host),
	  .check = tt_config_check_host },
	{ .name = "port", .set = set_int, .offset = CFG(broker.port), .min = 1, .max = 65535 },
	{ .name = "client_id", .set = set_str, .offset = CFG(broker.client_id),
	  .check = check_client_id },
	{ .name = "session", .set = set_session, .offset = CFG(broker.persistent) },
	{ .name = "username", .set = set_str, .offset = CFG(broker.username),
	  .check = tt_config_check_text },
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
	{ .name = "payload", .set = set_size, .offset = CFG(limits.payload), .min = 1024,
	  .max = 268435455, .unit = "bytes" },
	{ .name = "depth", .set = set_int, .offset = CFG(limits.depth), .min = 2, .max = 1000 },
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
	{ .name = "app", .set = set_str, .offset = CFG(app), .check = tt_config_check_app },
	{ .name = "broker", .set = set_map, .sub = broker_fields },
	{ .name = "topic_prefix", .set = set_str, .offset = CFG(topic_prefix),
	  .check = tt_config_check_prefix },
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

/* apply_map keeps one slot per key of a table, so no table may have more than FIELDS_MAX. */
#define FITS(table) (sizeof(table) / sizeof((table)[0]) - 1 <= FIELDS_MAX)
_Static_assert(FITS(key_fields) && FITS(tls_fields) && FITS(broker_fields) &&
	       FITS(window_fields) && FITS(limits_fields) && FITS(sandbox_fields) &&
	       FITS(log_fields) && FITS(stats_fields) && FITS(top_fields),
	       "a table of fields has more keys than FIELDS_MAX");

/* Checks rules between keys, once the whole file is applied. */
static int
check_links(struct reader *r)
{
	const struct tt_config *cfg = r->cfg;
	size_t saved;
	int rc = 0;

	if (r->session != NULL && cfg->broker.persistent && cfg->broker.client_id == NULL) {
		saved = push(r, "broker.session");
		rc = fail_at(r, r->session, "persistent needs broker.client_id, so that the "
			     "broker finds the session again after a reconnect");
		pop(r, saved);
	}
	if (r->tls != NULL && (cfg->broker.tls.cert_file == NULL) != (cfg->broker.tls.key_file == NULL)) {
		saved = push(r, "broker.tls");
		rc = fail_at(r, r->tls, "cert_file and key_file go together, set both or neither");
		pop(r, saved);
	}
	return rc;
}

/* Sets cfg->path and cfg->dir, the absolute folder of path. */
static int
set_location(struct reader *r, const char *path)
{
	struct tt_config *cfg = r->cfg;
	const char *slash = strrchr(path, '/');
	char *cwd = NULL, *folder = NULL, *dir;

	if (replace(&cfg->path, path) == -1)
		return tt_config_errf(r->err, r->errsize, "%s: out of memory", path);

	if (slash == path) {
		dir = strdup("/");
	} else if (slash != NULL && path[0] == '/') {
		dir = strndup(path, (size_t)(slash - path));
	} else {
		cwd = getcwd(NULL, 0);
		if (cwd == NULL)
			return tt_config_errf(r->err, r->errsize,
					      "%s: failed to get the current folder: %s", path,
					      strerror(errno));
		folder = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
		dir = folder ? tt_config_join(cwd, folder) : NULL;
	}
	free(cwd);
	free(folder);
	if (dir == NULL)
		return tt_config_errf(r->err, r->errsize, "%s: out of memory", path);
	free(cfg->dir);
	cfg->dir = dir;
	return 0;
}

/* Reads path into a tree. Errors read "FILE:LINE:COLUMN: message", or "FILE: message". */
static int
read_tree(struct reader *r, const char *path, struct tt_yamltree_node **root)
{
	struct tt_yamltree_error yaml_err;

	if (tt_yamltree_read(path, root, &yaml_err) == 0)
		return 0;
	if (yaml_err.line == 0)
		return tt_config_errf(r->err, r->errsize, "%s: %s", path, yaml_err.message);
	return fail_pos(r, yaml_err.line, yaml_err.column, "%s", yaml_err.message);
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
	tt_config_free_keys(cfg);
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
	struct tt_yamltree_node *root = NULL;
	int rc = -1;

	if (set_location(&r, path) == -1 || read_tree(&r, path, &root) == -1)
		goto out;

	if (root == NULL) {
		fail_pos(&r, 1, 1, "the file is empty, expected a mapping such as app: NAME");
		goto out;
	}
	if (root->type != TT_YAMLTREE_MAPPING) {
		expected(&r, root, "a mapping of settings such as app: NAME");
		goto out;
	}
	/* Rules between keys are checked only on a clean file, as a bad key would trip them too. */
	if (apply_map(&r, top_fields, root) == 0 && check_links(&r) == 0)
		rc = 0;
	if (r.nerrors > r.shown)
		append(err, errsize, &r.errpos, "\n%d more error%s not shown", r.nerrors - r.shown,
		       r.nerrors - r.shown == 1 ? "" : "s");
out:
	tt_yamltree_free(root);
	return rc;
}
