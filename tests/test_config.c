/* SPDX-License-Identifier: MIT */
/* Tests of the config reader, the flags that override it and key loading. */
#include <criterion/criterion.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "keyring.h"

#define KEY16 "0123456789abcdef"

/* Writes text to a new file under dir and returns its malloc'd path. */
static char *
write_in(const char *dir, const char *text, size_t len)
{
	char *path;
	int fd;

	cr_assert_neq(asprintf(&path, "%s/tt-config-XXXXXX", dir), -1);
	fd = mkstemp(path);
	cr_assert_neq(fd, -1);
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

static char *
write_tmp(const char *text)
{
	return write_in("/tmp", text, strlen(text));
}

/* Reads text as a config file into cfg (initialized here). Returns the result. */
static int
read_text(struct tt_config *cfg, const char *text, char *err)
{
	char *path = write_tmp(text);
	int rc;

	tt_config_init(cfg);
	err[0] = '\0';
	rc = tt_config_read(cfg, path, err, TT_CONFIG_ERR_MAX);
	unlink(path);
	free(path);
	return rc;
}

/* Checks that text is rejected with a message containing needle. */
static void
assert_rejects(const char *text, const char *needle)
{
	struct tt_config cfg;
	char err[TT_CONFIG_ERR_MAX];

	cr_assert_eq(read_text(&cfg, text, err), -1, "accepted: %s", text);
	cr_assert(strstr(err, needle) != NULL, "message \"%s\" lacks \"%s\"", err, needle);
	tt_config_free(&cfg);
}

static const char full_example[] =
	"app: indexer\n"
	"broker:\n"
	"  host: mqtt.example.org\n"
	"  port: 8884\n"
	"  client_id: indexer-1\n"
	"  session: persistent\n"
	"  username: svc\n"
	"  password_file: /run/secrets/mqtt-password\n"
	"  keepalive: 45\n"
	"  tls: { ca_file: ca.pem, cert_file: client.pem, key_file: client.key, verify: true }\n"
	"topic_prefix: acme/tattletale\n"
	"keys:\n"
	"  - { id: k2, file: /run/secrets/tattletale-k2 }\n"
	"  - { id: k1, env: TATTLETALE_K1 }\n"
	"  - { id: k0, value: \"" KEY16 "\" }\n"
	"window: { past: 100, future: 20 }\n"
	"limits: { payload: 4096, depth: 10, hops: 3, ids: 1000 }\n"
	"sandbox: { instructions: 5000, time: 250, memory: 2097152, failures: 7, "
	"failure_window: 30 }\n"
	"rules: ./rules.d\n"
	"lua_path: ./lua\n"
	"log: { level: debug }\n"
	"stats: { interval: 0 }\n";

Test(config, full_example_sets_every_value)
{
	struct tt_config cfg;
	char err[TT_CONFIG_ERR_MAX];

	cr_assert_eq(read_text(&cfg, full_example, err), 0, "%s", err);
	cr_assert_str_eq(cfg.dir, "/tmp");
	cr_assert_str_eq(cfg.app, "indexer");
	cr_assert_str_eq(cfg.broker.host, "mqtt.example.org");
	cr_assert_eq(cfg.broker.port, 8884);
	cr_assert_str_eq(cfg.broker.client_id, "indexer-1");
	cr_assert(cfg.broker.persistent);
	cr_assert_str_eq(cfg.broker.username, "svc");
	cr_assert_str_eq(cfg.broker.password_file, "/run/secrets/mqtt-password");
	cr_assert_eq(cfg.broker.keepalive, 45);
	cr_assert(cfg.broker.tls.enabled);
	cr_assert_str_eq(cfg.broker.tls.ca_file, "/tmp/ca.pem");
	cr_assert_str_eq(cfg.broker.tls.cert_file, "/tmp/client.pem");
	cr_assert_str_eq(cfg.broker.tls.key_file, "/tmp/client.key");
	cr_assert(cfg.broker.tls.verify);
	cr_assert_str_eq(cfg.topic_prefix, "acme/tattletale");
	cr_assert_eq(cfg.nkeys, 3);
	cr_assert_str_eq(cfg.keys[0].id, "k2");
	cr_assert_str_eq(cfg.keys[0].file, "/run/secrets/tattletale-k2");
	cr_assert_eq(cfg.keys[0].line, 13);
	cr_assert_eq(cfg.keys[0].column, 5);
	cr_assert_str_eq(cfg.keys[1].id, "k1");
	cr_assert_str_eq(cfg.keys[1].env, "TATTLETALE_K1");
	cr_assert_str_eq(cfg.keys[2].id, "k0");
	cr_assert_str_eq(cfg.keys[2].value, KEY16);
	cr_assert_eq(cfg.window.past_ms, 100000);
	cr_assert_eq(cfg.window.future_ms, 20000);
	cr_assert_eq(cfg.limits.payload, 4096);
	cr_assert_eq(cfg.limits.depth, 10);
	cr_assert_eq(cfg.limits.hops, 3);
	cr_assert_eq(cfg.limits.ids, 1000);
	cr_assert_eq(cfg.sandbox.instructions, 5000);
	cr_assert_eq(cfg.sandbox.time_ms, 250);
	cr_assert_eq(cfg.sandbox.memory, 2097152);
	cr_assert_eq(cfg.sandbox.failures, 7);
	cr_assert_eq(cfg.sandbox.failure_window_ms, 30000);
	cr_assert_str_eq(cfg.rules, "/tmp/rules.d");
	cr_assert_str_eq(cfg.lua_path, "/tmp/lua");
	cr_assert_eq(cfg.log_level, TT_LOG_DEBUG);
	cr_assert_eq(cfg.stats_interval_ms, 0);
	tt_config_free(&cfg);
}

Test(config, defaults_fill_unset_values)
{
	struct tt_config_overrides ov = { .app = "indexer", .key_file = "/k" };
	struct tt_config cfg;
	char err[TT_CONFIG_ERR_MAX];
	char cwd[PATH_MAX], rules[PATH_MAX + 16];

	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	snprintf(rules, sizeof(rules), "%s/rules.d", cwd);
	tt_config_init(&cfg);
	cr_assert_eq(tt_config_finish(&cfg, &ov, err, sizeof(err)), 0, "%s", err);
	cr_assert_null(cfg.path);
	cr_assert_str_eq(cfg.dir, cwd);
	cr_assert_str_eq(cfg.broker.host, "127.0.0.1");
	cr_assert_eq(cfg.broker.port, 1883);
	cr_assert_null(cfg.broker.client_id);
	cr_assert_not(cfg.broker.persistent);
	cr_assert_eq(cfg.broker.keepalive, 30);
	cr_assert_not(cfg.broker.tls.enabled);
	cr_assert(cfg.broker.tls.verify);
	cr_assert_str_eq(cfg.topic_prefix, "tattletale");
	cr_assert_eq(cfg.window.past_ms, 120000);
	cr_assert_eq(cfg.window.future_ms, 30000);
	cr_assert_eq(cfg.limits.payload, 262144);
	cr_assert_eq(cfg.limits.depth, 64);
	cr_assert_eq(cfg.limits.hops, 8);
	cr_assert_eq(cfg.limits.ids, 65536);
	cr_assert_eq(cfg.sandbox.instructions, 10000000);
	cr_assert_eq(cfg.sandbox.time_ms, 100);
	cr_assert_eq(cfg.sandbox.memory, 64 * 1024 * 1024);
	cr_assert_eq(cfg.sandbox.failures, 5);
	cr_assert_eq(cfg.sandbox.failure_window_ms, 60000);
	cr_assert_str_eq(cfg.rules, rules);
	cr_assert_null(cfg.lua_path);
	cr_assert_eq(cfg.log_level, TT_LOG_INFO);
	cr_assert_eq(cfg.stats_interval_ms, 60000);
	tt_config_free(&cfg);
}

Test(config, rules_default_to_config_folder)
{
	struct tt_config_overrides ov = { .key_file = "/k" };
	struct tt_config cfg;
	char err[TT_CONFIG_ERR_MAX];

	cr_assert_eq(read_text(&cfg, "app: a\n", err), 0, "%s", err);
	cr_assert_eq(tt_config_finish(&cfg, &ov, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(cfg.rules, "/tmp/rules.d");
	tt_config_free(&cfg);
}

Test(config, tls_changes_default_port)
{
	struct tt_config_overrides ov = { .key_file = "/k" };
	struct tt_config cfg;
	char err[TT_CONFIG_ERR_MAX];

	cr_assert_eq(read_text(&cfg, "app: a\nbroker: { tls: {} }\n", err), 0, "%s", err);
	cr_assert_eq(tt_config_finish(&cfg, &ov, err, sizeof(err)), 0, "%s", err);
	cr_assert(cfg.broker.tls.enabled);
	cr_assert(cfg.broker.tls.verify);
	cr_assert_eq(cfg.broker.port, 8883);
	tt_config_free(&cfg);
}

Test(config, explicit_port_wins_over_tls_default)
{
	struct tt_config_overrides ov = { .key_file = "/k" };
	struct tt_config cfg;
	char err[TT_CONFIG_ERR_MAX];

	cr_assert_eq(read_text(&cfg, "app: a\nbroker: { port: 1884, tls: {} }\n", err), 0);
	cr_assert_eq(tt_config_finish(&cfg, &ov, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.broker.port, 1884);
	tt_config_free(&cfg);
}

Test(config, bad_port_names_line_column_and_key)
{
	assert_rejects("app: a\n"
		       "# a comment\n"
		       "\n"
		       "broker:\n"
		       "  host: h\n"
		       "  keepalive: 30\n"
		       "  port: http\n",
		       ":7:9: broker.port: expected an integer from 1 to 65535, got \"http\"");
}

Test(config, message_starts_with_file_name)
{
	struct tt_config cfg;
	char err[TT_CONFIG_ERR_MAX];
	char *path = write_tmp("app: [a]\n");

	tt_config_init(&cfg);
	cr_assert_eq(tt_config_read(&cfg, path, err, sizeof(err)), -1);
	cr_assert_eq(strncmp(err, path, strlen(path)), 0, "%s", err);
	cr_assert_str_eq(err + strlen(path), ":1:6: app: expected a string, got a list");
	unlink(path);
	free(path);
	tt_config_free(&cfg);
}

/* Returns the number of lines in err. */
static int
count_lines(const char *err)
{
	int n = 1;

	for (const char *p = err; *p != '\0'; p++)
		n += *p == '\n';
	return n;
}

Test(config, every_bad_key_reported)
{
	struct tt_config cfg;
	char err[TT_CONFIG_ERR_MAX];
	const char *first, *second, *third;

	cr_assert_eq(read_text(&cfg, "app: [a]\nbroker:\n  port: http\n  hots: h\nstats: 1\n", err),
		     -1);
	first = strstr(err, ":1:6: app: expected a string, got a list\n");
	second = strstr(err, ":3:9: broker.port: expected an integer from 1 to 65535");
	third = strstr(err, ":4:3: broker.hots: unknown key");
	cr_assert_not_null(first, "%s", err);
	cr_assert_not_null(second, "%s", err);
	cr_assert_not_null(third, "%s", err);
	cr_assert(first < second && second < third, "%s", err);
	cr_assert_not_null(strstr(err, ":5:8: stats: expected a mapping"), "%s", err);
	cr_assert_eq(count_lines(err), 4, "%s", err);
	tt_config_free(&cfg);
}

Test(config, errors_past_eight_counted)
{
	struct tt_config cfg;
	char err[TT_CONFIG_ERR_MAX];
	char text[256];
	size_t pos = 0;

	for (int i = 0; i < 11; i++)
		pos += (size_t)snprintf(text + pos, sizeof(text) - pos, "bad%d: 1\n", i);
	cr_assert_eq(read_text(&cfg, text, err), -1);
	cr_assert_eq(count_lines(err), 9, "%s", err);
	cr_assert_not_null(strstr(err, ":8:1: bad7: unknown key"), "%s", err);
	cr_assert_null(strstr(err, "bad8"), "%s", err);
	cr_assert_not_null(strstr(err, "\n3 more errors not shown"), "%s", err);
	tt_config_free(&cfg);
}

Test(config, long_lines_leave_room_for_count)
{
	struct tt_config cfg;
	char err[TT_CONFIG_ERR_MAX], small[600];
	char text[1024];
	char *path;
	size_t pos = 0;

	/* Each unknown top-level key lists every allowed key, about 150 bytes a line. */
	for (int i = 0; i < 12; i++)
		pos += (size_t)snprintf(text + pos, sizeof(text) - pos, "unknown_key_%02d: 1\n", i);
	cr_assert_eq(read_text(&cfg, text, err), -1);
	cr_assert_eq(count_lines(err), 9, "%s", err);
	tt_config_free(&cfg);

	/* A small buffer takes fewer whole lines, and still the count. */
	path = write_tmp(text);
	tt_config_init(&cfg);
	cr_assert_eq(tt_config_read(&cfg, path, small, sizeof(small)), -1);
	cr_assert_lt(count_lines(small), 9, "%s", small);
	cr_assert_not_null(strstr(small, "more errors not shown"), "%s", small);
	cr_assert_eq(small[strlen(small) - 1], 'n', "%s", small);
	unlink(path);
	free(path);
	tt_config_free(&cfg);
}

Test(config, non_scalar_key_then_duplicate)
{
	struct tt_config cfg;
	char err[TT_CONFIG_ERR_MAX];

	cr_assert_eq(read_text(&cfg, "? [a]\n: 1\napp: x\napp: y\n", err), -1);
	cr_assert_not_null(strstr(err, ":1:3: expected a key name, got a list\n"), "%s", err);
	cr_assert_not_null(strstr(err, ":4:1: app: duplicate key, first set at line 3"), "%s", err);
	cr_assert_eq(count_lines(err), 2, "%s", err);
	tt_config_free(&cfg);
}

Test(config, bad_key_entry_then_valid_entry)
{
	struct tt_config cfg;
	char err[TT_CONFIG_ERR_MAX];

	cr_assert_eq(read_text(&cfg, "keys:\n  - { file: [x] }\n  - { id: k1, file: /b }\n", err),
		     -1);
	cr_assert_not_null(strstr(err, ":2:13: keys[0].file: expected a path, got a list"), "%s", err);
	cr_assert_eq(count_lines(err), 1, "%s", err);
	tt_config_free(&cfg);
}

Test(config, links_unchecked_after_bad_key)
{
	struct tt_config cfg;
	char err[TT_CONFIG_ERR_MAX];

	cr_assert_eq(read_text(&cfg, "app: [a]\nbroker:\n  session: persistent\n", err), -1);
	cr_assert_eq(count_lines(err), 1, "%s", err);
	cr_assert_null(strstr(err, "client_id"), "%s", err);
	tt_config_free(&cfg);
}

Test(config, unknown_key_lists_allowed_keys)
{
	assert_rejects("app: a\nbroker:\n  hots: h\n",
		       ":3:3: broker.hots: unknown key, expected one of: host, port, client_id, "
		       "session, username, password_file, keepalive, tls");
}

Test(config, unknown_top_level_key_rejected)
{
	assert_rejects("app: a\nprefix: x\n", ":2:1: prefix: unknown key, expected one of: app, ");
}

Test(config, unknown_key_in_key_entry_rejected)
{
	assert_rejects("keys:\n  - { id: k1, path: /k }\n",
		       ":2:15: keys[0].path: unknown key, expected one of: id, file, env, value");
}

Test(config, duplicate_key_rejected)
{
	assert_rejects("app: a\nbroker:\n  port: 1\n  port: 2\n",
		       ":4:3: broker.port: duplicate key, first set at line 3, column 3");
}

Test(config, duplicate_top_level_key_rejected)
{
	assert_rejects("app: a\napp: b\n", ":2:1: app: duplicate key, first set at line 1");
}

Test(config, mapping_where_scalar_expected_rejected)
{
	assert_rejects("app: { name: a }\n", ":1:6: app: expected a string, got a mapping");
}

Test(config, scalar_where_mapping_expected_rejected)
{
	assert_rejects("broker: localhost\n",
		       ":1:9: broker: expected a mapping, got \"localhost\"");
}

Test(config, empty_value_where_mapping_expected_rejected)
{
	assert_rejects("broker:\napp: a\n", ":1:8: broker: expected a mapping, got an empty value");
}

Test(config, list_where_integer_expected_rejected)
{
	assert_rejects("limits: { depth: [1] }\n",
		       ":1:18: limits.depth: expected an integer from 2 to 1000, got a list");
}

Test(config, keys_must_be_a_list)
{
	assert_rejects("keys: { id: k1, file: /k }\n", ":1:7: keys: expected a list of keys");
}

Test(config, key_entry_must_be_a_mapping)
{
	assert_rejects("keys:\n  - k1\n", ":2:5: keys[0]: expected a mapping, got \"k1\"");
}

Test(config, mapping_as_key_name_rejected)
{
	assert_rejects("? [a]\n: 1\n", ":1:3: expected a key name, got a list");
}

Test(config, out_of_range_values_rejected)
{
	static const struct {
		const char *text, *needle;
	} cases[] = {
		{ "broker: { port: 0 }", "broker.port: expected an integer from 1 to 65535" },
		{ "broker: { port: 65536 }", "broker.port: expected an integer from 1 to 65535" },
		{ "broker: { keepalive: 4 }",
		  "broker.keepalive: expected an integer from 5 to 65535 (seconds), got \"4\"" },
		{ "window: { past: 86401 }",
		  "window.past: expected an integer from 0 to 86400 (seconds)" },
		{ "window: { future: 99999999999999999999999 }",
		  "window.future: expected an integer from 0 to 86400" },
		{ "limits: { payload: 1023 }", "limits.payload: expected an integer from 1024 to 268435455" },
		{ "limits: { payload: 268435456 }", "limits.payload: expected an integer from 1024" },
		{ "limits: { depth: 1 }", "limits.depth: expected an integer from 2 to 1000" },
		{ "limits: { depth: 1001 }", "limits.depth: expected an integer from 2 to 1000" },
		{ "limits: { hops: 256 }", "limits.hops: expected an integer from 0 to 255" },
		{ "limits: { ids: 15 }", "limits.ids: expected an integer from 16 to 10000000" },
		{ "limits: { ids: 10000001 }", "limits.ids: expected an integer from 16" },
		{ "sandbox: { instructions: 999 }",
		  "sandbox.instructions: expected an integer from 1000 to 1000000000000" },
		{ "sandbox: { instructions: 1000000000001 }", "sandbox.instructions: expected" },
		{ "sandbox: { time: 0 }", "sandbox.time: expected an integer from 1 to 600000" },
		{ "sandbox: { time: 600001 }", "sandbox.time: expected" },
		{ "sandbox: { memory: 1048575 }",
		  "sandbox.memory: expected an integer from 1048576 to 68719476736 (bytes)" },
		{ "sandbox: { memory: 68719476737 }", "sandbox.memory: expected" },
		{ "sandbox: { failures: 0 }", "sandbox.failures: expected an integer from 1 to 1000" },
		{ "sandbox: { failures: 1001 }", "sandbox.failures: expected" },
		{ "sandbox: { failure_window: 0 }",
		  "sandbox.failure_window: expected an integer from 1 to 86400" },
		{ "stats: { interval: 86401 }", "stats.interval: expected an integer from 0 to 86400" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_rejects(cases[i].text, cases[i].needle);
}

Test(config, range_bounds_accepted)
{
	struct tt_config cfg;
	char err[TT_CONFIG_ERR_MAX];

	cr_assert_eq(read_text(&cfg, "broker: { port: 65535, keepalive: 5 }\n"
			       "window: { past: 0, future: 86400 }\n"
			       "limits: { payload: 268435455, depth: 1000, hops: 0, ids: 16 }\n"
			       "sandbox: { instructions: 1000000000000, time: 600000, "
			       "memory: 68719476736, failures: 1000, failure_window: 86400 }\n"
			       "stats: { interval: 86400 }\n", err), 0, "%s", err);
	cr_assert_eq(cfg.broker.port, 65535);
	cr_assert_eq(cfg.window.past_ms, 0);
	cr_assert_eq(cfg.window.future_ms, 86400000);
	cr_assert_eq(cfg.limits.hops, 0);
	cr_assert_eq(cfg.sandbox.instructions, 1000000000000LL);
	cr_assert_eq(cfg.sandbox.memory, 68719476736ULL);
	cr_assert_eq(cfg.sandbox.failure_window_ms, 86400000);
	cr_assert_eq(cfg.stats_interval_ms, 86400000);
	tt_config_free(&cfg);
}

Test(config, integers_are_plain_decimal_digits)
{
	static const char *const values[] = {
		"0x10", "1_000", "+5", "-1", "1.0", "1e3", "0o17", "'  5'", "~", "\"\"",
	};
	char text[64];

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		snprintf(text, sizeof(text), "limits: { depth: %s }\n", values[i]);
		assert_rejects(text, "limits.depth: expected an integer from 2 to 1000, got ");
	}
}

Test(config, quoted_integer_accepted)
{
	struct tt_config cfg;
	char err[TT_CONFIG_ERR_MAX];

	cr_assert_eq(read_text(&cfg, "broker: { port: \"1884\" }\n", err), 0, "%s", err);
	cr_assert_eq(cfg.broker.port, 1884);
	tt_config_free(&cfg);
}

Test(config, booleans_are_strict)
{
	static const char *const values[] = { "yes", "no", "on", "off", "True", "FALSE", "1", "y" };
	char text[64];

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		snprintf(text, sizeof(text), "broker:\n  tls: { verify: %s }\n", values[i]);
		assert_rejects(text, ":2:18: broker.tls.verify: expected true or false, got \"");
	}
}

Test(config, verify_false_accepted)
{
	struct tt_config cfg;
	char err[TT_CONFIG_ERR_MAX];

	cr_assert_eq(read_text(&cfg, "broker: { tls: { verify: false } }\n", err), 0, "%s", err);
	cr_assert(cfg.broker.tls.enabled);
	cr_assert_not(cfg.broker.tls.verify);
	tt_config_free(&cfg);
}

Test(config, yaml11_words_stay_text)
{
	struct tt_config cfg;
	char err[TT_CONFIG_ERR_MAX];

	cr_assert_eq(read_text(&cfg, "app: yes\nbroker: { username: ~, client_id: 0x10 }\n", err),
		     0, "%s", err);
	cr_assert_str_eq(cfg.app, "yes");
	cr_assert_str_eq(cfg.broker.username, "~");
	cr_assert_str_eq(cfg.broker.client_id, "0x10");
	tt_config_free(&cfg);
}

Test(config, yaml_syntax_error_names_position)
{
	assert_rejects("app: a\nbroker: { host: h\n",
		       ":3:1: invalid YAML: did not find expected ',' or '}'");
}

Test(config, yaml_syntax_error_gives_context)
{
	assert_rejects("app: a\nbroker: { host: h\n",
		       "(while parsing a flow mapping at line 2, column 9)");
}

Test(config, bad_indentation_rejected)
{
	assert_rejects("app: a\n  b: c\n", ":2:4: invalid YAML: mapping values are not allowed");
}

Test(config, tab_indentation_explained)
{
	assert_rejects("broker:\n\thost: h\n", ":2:1: invalid YAML: found character that cannot "
		       "start any token");
	assert_rejects("broker:\n\thost: h\n", "(YAML indents with spaces, not tabs)");
}

Test(config, invalid_utf8_rejected)
{
	assert_rejects("app: a\nbroker: { host: \"h\xff\" }\n",
		       ":2:19: invalid text: invalid leading UTF-8 octet");
}

Test(config, alias_rejected)
{
	assert_rejects("app: a\nbroker:\n  host: *h\n", ":3:9: aliases are not supported");
}

Test(config, anchor_rejected)
{
	assert_rejects("app: &name a\nbroker: { host: *name }\n",
		       ":1:6: anchors and aliases are not supported");
}

Test(config, anchor_on_mapping_rejected)
{
	assert_rejects("broker: &b { host: h }\n", ":1:9: anchors and aliases are not supported");
}

Test(config, alias_bomb_rejected)
{
	assert_rejects("a: &a [x, x, x, x, x, x, x, x, x]\n"
		       "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n",
		       ":1:4: anchors and aliases are not supported");
}

Test(config, tag_rejected)
{
	assert_rejects("broker: { port: !!int 1884 }\n",
		       ":1:17: tags such as tag:yaml.org,2002:int are not supported");
}

Test(config, nul_byte_rejected)
{
	assert_rejects("app: \"a\\0b\"\n", ":1:6: NUL bytes are not supported");
}

Test(config, deep_nesting_rejected)
{
	assert_rejects("a: [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]\n",
		       ":1:19: nested deeper than 16 levels");
}

Test(config, document_must_be_a_mapping)
{
	assert_rejects("- app: a\n",
		       ":1:1: expected a mapping of settings such as app: NAME, got a list");
}

Test(config, scalar_document_rejected)
{
	assert_rejects("indexer\n",
		       ":1:1: expected a mapping of settings such as app: NAME, got \"indexer\"");
}

Test(config, multiple_documents_rejected)
{
	assert_rejects("app: a\n---\napp: b\n", ":2:1: more than one YAML document, expected one");
}

Test(config, empty_file_rejected)
{
	assert_rejects("", ":1:1: the file is empty, expected a mapping such as app: NAME");
}

Test(config, comments_only_file_rejected)
{
	assert_rejects("# app: a\n\n", ":1:1: the file is empty");
}

Test(config, file_over_1mib_rejected)
{
	size_t len = 2 * 1024 * 1024;
	char *text = malloc(len);
	struct tt_config cfg;
	char err[TT_CONFIG_ERR_MAX];
	char *path;

	cr_assert_not_null(text);
	memset(text, '#', len);
	path = write_in("/tmp", text, len);
	tt_config_init(&cfg);
	cr_assert_eq(tt_config_read(&cfg, path, err, sizeof(err)), -1);
	cr_assert(strstr(err, ": larger than 1 MiB") != NULL, "%s", err);
	unlink(path);
	free(path);
	free(text);
	tt_config_free(&cfg);
}

Test(config, missing_file_rejected)
{
	struct tt_config cfg;
	char err[TT_CONFIG_ERR_MAX];

	tt_config_init(&cfg);
	cr_assert_eq(tt_config_read(&cfg, "/nonexistent/tattletale.yaml", err, sizeof(err)), -1);
	cr_assert_str_eq(err, "/nonexistent/tattletale.yaml: failed to open: "
			 "No such file or directory");
	tt_config_free(&cfg);
}

Test(config, invalid_strings_rejected)
{
	static const struct {
		const char *text, *needle;
	} cases[] = {
		{ "app: a b", "app: expected 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-', "
		  "got \"a b\"" },
		{ "app: a/b", "app: expected 1 to 64 characters" },
		{ "app: \"\"", "app: expected 1 to 64 characters" },
		{ "app: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		  "app: expected 1 to 64 characters" },
		{ "broker: { host: \"\" }", "broker.host: expected a host name or address, got an "
		  "empty value" },
		{ "broker: { client_id: \"a b\" }", "broker.client_id: expected 1 to 128 printable" },
		{ "broker: { session: dirty }", "broker.session: expected clean or persistent, "
		  "got \"dirty\"" },
		{ "broker: { username: \"\" }", "broker.username: expected a non-empty string" },
		{ "broker: { password_file: \"\" }", "broker.password_file: expected a path, got an "
		  "empty value" },
		{ "topic_prefix: a/+/b", "topic_prefix: expected topic levels joined by '/'" },
		{ "topic_prefix: a//b", "topic_prefix: expected topic levels" },
		{ "topic_prefix: $SYS", "topic_prefix: expected topic levels" },
		{ "keys: [ { id: \"bad id\", file: /k } ]", "keys[0].id: expected 1 to 32 characters "
		  "of A-Z, a-z, 0-9, '_' and '-'" },
		{ "keys: [ { id: k1, env: 1KEY } ]", "keys[0].env: expected an environment variable" },
		{ "log: { level: verbose }", "log.level: expected error, warn, notice, info or debug, "
		  "got \"verbose\"" },
		{ "rules: \"\"", "rules: expected a path" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_rejects(cases[i].text, cases[i].needle);
}

Test(config, app_at_64_characters_accepted)
{
	struct tt_config cfg;
	char err[TT_CONFIG_ERR_MAX];

	cr_assert_eq(read_text(&cfg, "app: A-z_0.9aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			       "aaaaaaaaaaaaaaaaaaaaaaaaaaa\n", err), 0, "%s", err);
	cr_assert_eq(strlen(cfg.app), 64);
	tt_config_free(&cfg);
}

Test(config, persistent_session_needs_client_id)
{
	assert_rejects("app: a\nbroker:\n  session: persistent\n",
		       ":3:12: broker.session: persistent needs broker.client_id");
}

Test(config, client_cert_needs_key)
{
	assert_rejects("broker:\n  tls: { cert_file: c.pem }\n",
		       ":2:8: broker.tls: cert_file and key_file go together");
}

Test(config, key_entry_needs_id)
{
	assert_rejects("keys:\n  - { file: /k }\n", ":2:5: keys[0]: missing id");
}

Test(config, key_entry_needs_a_source)
{
	assert_rejects("keys:\n  - { id: k1 }\n",
		       ":2:5: keys[0]: expected exactly one of file, env or value, got 0");
}

Test(config, key_entry_with_two_sources_rejected)
{
	assert_rejects("keys:\n  - { id: k1 }\n  - { id: k2, file: /k, env: K }\n",
		       ":2:5: keys[0]: expected exactly one of file, env or value, got 0");
	assert_rejects("keys:\n  - { id: k1, file: /k, env: K }\n",
		       ":2:5: keys[0]: expected exactly one of file, env or value, got 2");
}

Test(config, duplicate_key_id_rejected)
{
	assert_rejects("keys:\n  - { id: k1, file: /a }\n  - { id: k1, file: /b }\n",
		       ":3:5: keys[1]: key id k1 is already used by keys[0]");
}

Test(config, relative_paths_join_config_folder)
{
	char dir[] = "/tmp/tt-config-dir-XXXXXX";
	char sub[sizeof(dir) + 8], cwd[PATH_MAX], expect[PATH_MAX];
	static const char text[] =
		"broker:\n"
		"  password_file: ../pw\n"
		"  tls: { ca_file: ca.pem, cert_file: /etc/c.pem, key_file: ./keys/c.key }\n"
		"keys: [ { id: k1, file: secrets/k1 } ]\n"
		"rules: .\n"
		"lua_path: ./././lua\n";
	struct tt_config cfg;
	char err[TT_CONFIG_ERR_MAX];
	char *path;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/conf", dir);
	cr_assert_eq(mkdir(sub, 0700), 0);
	path = write_in(sub, text, strlen(text));

	/* Read through a relative path, so the folder must come from the cwd. */
	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	cr_assert_eq(chdir(dir), 0);
	tt_config_init(&cfg);
	cr_assert_eq(tt_config_read(&cfg, path + strlen(dir) + 1, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(chdir(cwd), 0);

	cr_assert_str_eq(cfg.dir, sub);
	snprintf(expect, sizeof(expect), "%s/../pw", sub);
	cr_assert_str_eq(cfg.broker.password_file, expect);
	snprintf(expect, sizeof(expect), "%s/ca.pem", sub);
	cr_assert_str_eq(cfg.broker.tls.ca_file, expect);
	cr_assert_str_eq(cfg.broker.tls.cert_file, "/etc/c.pem");
	snprintf(expect, sizeof(expect), "%s/keys/c.key", sub);
	cr_assert_str_eq(cfg.broker.tls.key_file, expect);
	snprintf(expect, sizeof(expect), "%s/secrets/k1", sub);
	cr_assert_str_eq(cfg.keys[0].file, expect);
	cr_assert_str_eq(cfg.rules, sub);
	snprintf(expect, sizeof(expect), "%s/lua", sub);
	cr_assert_str_eq(cfg.lua_path, expect);

	tt_config_free(&cfg);
	unlink(path);
	free(path);
	rmdir(sub);
	rmdir(dir);
}

Test(config, flags_override_file)
{
	struct tt_config_overrides ov = {
		.host = "broker.local", .port = 2883, .app = "other", .prefix = "p/q",
		.rules = "/srv/rules", .username = "u2", .password_file = "/pw2",
	};
	struct tt_config cfg;
	char err[TT_CONFIG_ERR_MAX];

	cr_assert_eq(read_text(&cfg, full_example, err), 0, "%s", err);
	cr_assert_eq(tt_config_finish(&cfg, &ov, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(cfg.broker.host, "broker.local");
	cr_assert_eq(cfg.broker.port, 2883);
	cr_assert_str_eq(cfg.app, "other");
	cr_assert_str_eq(cfg.topic_prefix, "p/q");
	cr_assert_str_eq(cfg.rules, "/srv/rules");
	cr_assert_str_eq(cfg.broker.username, "u2");
	cr_assert_str_eq(cfg.broker.password_file, "/pw2");
	cr_assert_eq(cfg.nkeys, 3);
	tt_config_free(&cfg);
}

Test(config, flag_paths_relative_to_cwd)
{
	struct tt_config_overrides ov = { .app = "a", .key_file = "k", .rules = "./r" };
	struct tt_config cfg;
	char err[TT_CONFIG_ERR_MAX];
	char cwd[PATH_MAX], expect[PATH_MAX + 8];

	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	cr_assert_eq(read_text(&cfg, "rules: x\n", err), 0, "%s", err);
	cr_assert_eq(tt_config_finish(&cfg, &ov, err, sizeof(err)), 0, "%s", err);
	snprintf(expect, sizeof(expect), "%s/r", cwd);
	cr_assert_str_eq(cfg.rules, expect);
	snprintf(expect, sizeof(expect), "%s/k", cwd);
	cr_assert_str_eq(cfg.keys[0].file, expect);
	tt_config_free(&cfg);
}

Test(config, tls_flags_turn_tls_on)
{
	struct tt_config_overrides ov = {
		.app = "a", .key_file = "/k", .ca_file = "/ca.pem", .insecure = true,
	};
	struct tt_config cfg;
	char err[TT_CONFIG_ERR_MAX];

	tt_config_init(&cfg);
	cr_assert_eq(tt_config_finish(&cfg, &ov, err, sizeof(err)), 0, "%s", err);
	cr_assert(cfg.broker.tls.enabled);
	cr_assert_not(cfg.broker.tls.verify);
	cr_assert_str_eq(cfg.broker.tls.ca_file, "/ca.pem");
	cr_assert_eq(cfg.broker.port, 8883);
	tt_config_free(&cfg);
}

Test(config, bad_flag_values_rejected)
{
	static const struct {
		struct tt_config_overrides ov;
		const char *message;
	} cases[] = {
		{ { .app = "a b", .key_file = "/k" }, "--app: expected 1 to 64 characters" },
		{ { .app = "a", .port = 70000, .key_file = "/k" },
		  "--port: expected an integer from 1 to 65535, got 70000" },
		{ { .app = "a", .prefix = "#", .key_file = "/k" }, "--prefix: expected topic levels" },
		{ { .app = "a", .host = "", .key_file = "/k" }, "--host: expected a host name" },
		{ { .app = "a", .key_file = "/k", .kid = "a.b" }, "--kid: expected 1 to 32 characters" },
		{ { .app = "a", .key_file = "" }, "--key-file: expected a path" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tt_config cfg;
		char err[TT_CONFIG_ERR_MAX];

		tt_config_init(&cfg);
		cr_assert_eq(tt_config_finish(&cfg, &cases[i].ov, err, sizeof(err)), -1);
		cr_assert(strstr(err, cases[i].message) != NULL, "%s", err);
		tt_config_free(&cfg);
	}
}

Test(config, key_file_flag_replaces_keys)
{
	struct tt_config_overrides ov = { .key_file = "/run/k", .kid = "k9" };
	struct tt_config cfg;
	char err[TT_CONFIG_ERR_MAX];

	cr_assert_eq(read_text(&cfg, full_example, err), 0, "%s", err);
	cr_assert_eq(tt_config_finish(&cfg, &ov, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg.nkeys, 1);
	cr_assert_str_eq(cfg.keys[0].id, "k9");
	cr_assert_str_eq(cfg.keys[0].file, "/run/k");
	cr_assert_null(cfg.keys[0].env);
	tt_config_free(&cfg);
}

Test(config, key_file_flag_defaults_kid)
{
	struct tt_config_overrides ov = { .app = "a", .key_file = "/run/k" };
	struct tt_config cfg;
	char err[TT_CONFIG_ERR_MAX];

	tt_config_init(&cfg);
	cr_assert_eq(tt_config_finish(&cfg, &ov, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(cfg.keys[0].id, "default");
	tt_config_free(&cfg);
}

Test(config, kid_without_key_file_rejected)
{
	struct tt_config_overrides ov = { .app = "a", .kid = "k1" };
	struct tt_config cfg;
	char err[TT_CONFIG_ERR_MAX];

	tt_config_init(&cfg);
	cr_assert_eq(tt_config_finish(&cfg, &ov, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "--kid needs --key-file: it names the key read from that file");
	tt_config_free(&cfg);
}

Test(config, missing_app_rejected)
{
	struct tt_config_overrides ov = { .key_file = "/k" };
	struct tt_config cfg;
	char err[TT_CONFIG_ERR_MAX];

	tt_config_init(&cfg);
	cr_assert_eq(tt_config_finish(&cfg, &ov, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "missing app: set app in the config or pass --app NAME");
	tt_config_free(&cfg);
}

Test(config, missing_key_source_rejected)
{
	struct tt_config_overrides ov = { .app = "a" };
	struct tt_config cfg;
	char err[TT_CONFIG_ERR_MAX];

	unsetenv("TATTLETALE_KEY");
	tt_config_init(&cfg);
	cr_assert_eq(tt_config_finish(&cfg, &ov, err, sizeof(err)), -1);
	cr_assert(strstr(err, "no key configured") != NULL, "%s", err);
	tt_config_free(&cfg);
}

Test(config, env_key_counts_as_key_source)
{
	struct tt_config_overrides ov = { .app = "a" };
	struct tt_config cfg;
	char err[TT_CONFIG_ERR_MAX];

	setenv("TATTLETALE_KEY", KEY16, 1);
	tt_config_init(&cfg);
	cr_assert_eq(tt_config_finish(&cfg, &ov, err, sizeof(err)), 0, "%s", err);
	tt_config_free(&cfg);
	unsetenv("TATTLETALE_KEY");
}

Test(config, finish_accepts_null_overrides)
{
	struct tt_config cfg;
	char err[TT_CONFIG_ERR_MAX];

	cr_assert_eq(read_text(&cfg, "app: a\nkeys: [ { id: k1, env: K1 } ]\n", err), 0, "%s", err);
	cr_assert_eq(tt_config_finish(&cfg, NULL, err, sizeof(err)), 0, "%s", err);
	tt_config_free(&cfg);
}

/* Loads the keys of a config read from text. Returns the ring, or NULL with err. */
static struct tt_keyring *
load(const char *text, char *err)
{
	struct tt_config cfg;
	struct tt_keyring *ring;

	cr_assert_eq(read_text(&cfg, text, err), 0, "%s", err);
	ring = tt_config_load_keys(&cfg, err, TT_CONFIG_ERR_MAX);
	tt_config_free(&cfg);
	return ring;
}

static void
assert_key(const struct tt_keyring *ring, size_t i, const char *id, const char *text)
{
	const struct tt_key *key = tt_keyring_at(ring, i);
	const unsigned char *bytes;
	size_t len;

	cr_assert_not_null(key);
	cr_assert_str_eq(tt_key_id(key), id);
	bytes = tt_key_bytes(key, &len);
	cr_assert_eq(len, strlen(text));
	cr_assert_eq(memcmp(bytes, text, len), 0);
}

Test(config, key_file_loaded_trimmed)
{
	char *key = write_tmp("  \t" KEY16 "\r\n\n");
	struct tt_keyring *ring;
	char text[256], err[TT_CONFIG_ERR_MAX];

	snprintf(text, sizeof(text), "keys: [ { id: k1, file: %s } ]\n", key);
	ring = load(text, err);
	cr_assert_not_null(ring, "%s", err);
	cr_assert_eq(tt_keyring_count(ring), 1);
	assert_key(ring, 0, "k1", KEY16);
	tt_keyring_free(ring);
	unlink(key);
	free(key);
}

Test(config, env_key_loaded_trimmed)
{
	struct tt_keyring *ring;
	char err[TT_CONFIG_ERR_MAX];

	setenv("TT_TEST_K1", " " KEY16 "xyz\n", 1);
	ring = load("keys: [ { id: k1, env: TT_TEST_K1 } ]\n", err);
	cr_assert_not_null(ring, "%s", err);
	assert_key(ring, 0, "k1", KEY16 "xyz");
	tt_keyring_free(ring);
	unsetenv("TT_TEST_K1");
}

Test(config, inline_key_loaded_trimmed)
{
	struct tt_keyring *ring;
	char err[TT_CONFIG_ERR_MAX];

	ring = load("keys: [ { id: k1, value: \" " KEY16 "\\n\" } ]\n", err);
	cr_assert_not_null(ring, "%s", err);
	assert_key(ring, 0, "k1", KEY16);
	tt_keyring_free(ring);
}

Test(config, first_key_signs)
{
	struct tt_keyring *ring;
	char err[TT_CONFIG_ERR_MAX];

	setenv("TT_TEST_K2", KEY16 "2", 1);
	ring = load("keys:\n  - { id: k2, env: TT_TEST_K2 }\n  - { id: k1, value: " KEY16 " }\n",
		    err);
	cr_assert_not_null(ring, "%s", err);
	cr_assert_eq(tt_keyring_count(ring), 2);
	cr_assert_str_eq(tt_key_id(tt_keyring_signer(ring)), "k2");
	assert_key(ring, 1, "k1", KEY16);
	tt_keyring_free(ring);
	unsetenv("TT_TEST_K2");
}

Test(config, short_key_rejected_without_key_text)
{
	char *key = write_tmp("shortkey1\n");
	char text[256], expect[512], err[TT_CONFIG_ERR_MAX];

	snprintf(text, sizeof(text), "keys: [ { id: k1, file: %s } ]\n", key);
	cr_assert_null(load(text, err));
	snprintf(expect, sizeof(expect), "key k1 from %s is 9 bytes; a key needs at least 16 "
		 "(generate one with 'tattletale keygen')", key);
	cr_assert_str_eq(err, expect);
	cr_assert_null(strstr(err, "shortkey1"));
	unlink(key);
	free(key);
}

Test(config, short_inline_key_names_line)
{
	char err[TT_CONFIG_ERR_MAX];

	cr_assert_null(load("app: a\nkeys:\n  - { id: k1, value: tooshort }\n", err));
	cr_assert(strstr(err, "key k1 from the inline value at /tmp/") != NULL, "%s", err);
	cr_assert(strstr(err, ":3 is 8 bytes; a key needs at least 16") != NULL, "%s", err);
	cr_assert_null(strstr(err, "tooshort"));
}

Test(config, long_key_rejected)
{
	char value[5000], err[TT_CONFIG_ERR_MAX];

	memset(value, 'k', 4097);
	value[4097] = '\0';
	setenv("TT_TEST_LONG", value, 1);
	cr_assert_null(load("keys: [ { id: k1, env: TT_TEST_LONG } ]\n", err));
	cr_assert_str_eq(err, "key k1 from $TT_TEST_LONG is 4097 bytes; a key has at most 4096");
	unsetenv("TT_TEST_LONG");
}

Test(config, missing_key_file_rejected)
{
	char err[TT_CONFIG_ERR_MAX];

	cr_assert_null(load("keys: [ { id: k1, file: /nonexistent/k1 } ]\n", err));
	cr_assert_str_eq(err, "key k1 from /nonexistent/k1: failed to read: No such file or "
			 "directory");
}

Test(config, unset_env_key_rejected)
{
	char err[TT_CONFIG_ERR_MAX];

	unsetenv("TT_TEST_UNSET");
	cr_assert_null(load("keys: [ { id: k1, env: TT_TEST_UNSET } ]\n", err));
	cr_assert_str_eq(err, "key k1 from $TT_TEST_UNSET: the variable is not set");
}

Test(config, tattletale_key_used_as_default)
{
	struct tt_keyring *ring;
	char err[TT_CONFIG_ERR_MAX];

	setenv("TATTLETALE_KEY", KEY16 "\n", 1);
	ring = load("app: a\n", err);
	cr_assert_not_null(ring, "%s", err);
	cr_assert_eq(tt_keyring_count(ring), 1);
	assert_key(ring, 0, "default", KEY16);
	tt_keyring_free(ring);
	unsetenv("TATTLETALE_KEY");
}

Test(config, tattletale_key_ignored_with_configured_keys)
{
	struct tt_keyring *ring;
	char err[TT_CONFIG_ERR_MAX];

	setenv("TATTLETALE_KEY", KEY16 "env", 1);
	ring = load("keys: [ { id: k1, value: " KEY16 " } ]\n", err);
	cr_assert_not_null(ring, "%s", err);
	cr_assert_eq(tt_keyring_count(ring), 1);
	assert_key(ring, 0, "k1", KEY16);
	tt_keyring_free(ring);
	unsetenv("TATTLETALE_KEY");
}

Test(config, load_without_any_key_rejected)
{
	char err[TT_CONFIG_ERR_MAX];

	unsetenv("TATTLETALE_KEY");
	cr_assert_null(load("app: a\n", err));
	cr_assert(strstr(err, "no key configured") != NULL, "%s", err);
}

Test(config, locate_prefers_explicit_path)
{
	setenv("TATTLETALE_CONFIG", "/from/env.yaml", 1);
	cr_assert_str_eq(tt_config_locate("/given.yaml"), "/given.yaml");
	unsetenv("TATTLETALE_CONFIG");
}

Test(config, locate_uses_environment)
{
	setenv("TATTLETALE_CONFIG", "/from/env.yaml", 1);
	cr_assert_str_eq(tt_config_locate(NULL), "/from/env.yaml");
	unsetenv("TATTLETALE_CONFIG");
}

Test(config, locate_finds_file_in_cwd)
{
	char dir[] = "/tmp/tt-locate-XXXXXX";
	char cwd[PATH_MAX], path[sizeof(dir) + 32];
	const char *found, *found_empty;
	FILE *f;

	unsetenv("TATTLETALE_CONFIG");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	cr_assert_eq(chdir(dir), 0);
	found_empty = tt_config_locate(NULL);
	snprintf(path, sizeof(path), "%s/tattletale.yaml", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fclose(f);
	found = tt_config_locate(NULL);
	cr_assert_eq(chdir(cwd), 0);
	unlink(path);
	rmdir(dir);

	/* True only where no system-wide config is installed. */
	if (access("/etc/tattletale/tattletale.yaml", F_OK) != 0)
		cr_assert_null(found_empty);
	cr_assert_str_eq(found, "tattletale.yaml");
}
