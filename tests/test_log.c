/* SPDX-License-Identifier: MIT */
/* Tests of log records, escaping of outside bytes and rate limits. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Reads what the test wrote to stderr so far. */
static void
read_stderr(char *buf, size_t size)
{
	FILE *f;
	size_t n;

	fflush(stderr);
	f = cr_get_redirected_stderr();
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
}

static void
redirect(void)
{
	cr_redirect_stderr();
	unsetenv("TATTLETALE_LOG_TIME");
	tt_log_set_level(TT_LOG_INFO);
}

Test(log, record_is_module_and_text, .init = redirect)
{
	tt_log(TT_LOG_INFO, "router", "connected host=%s port=%d", "127.0.0.1", 1883);
	cr_assert_stderr_eq_str("router: connected host=127.0.0.1 port=1883\n");
}

Test(log, records_above_level_dropped, .init = redirect)
{
	tt_log_set_level(TT_LOG_WARN);
	tt_log(TT_LOG_INFO, "router", "hidden");
	tt_log(TT_LOG_DEBUG, "router", "hidden");
	tt_log(TT_LOG_WARN, "router", "shown");
	tt_log(TT_LOG_ERROR, "router", "shown too");
	cr_assert_stderr_eq_str("router: shown\nrouter: shown too\n");
}

Test(log, long_record_cut_with_dots, .init = redirect)
{
	static char text[10000], out[10000];
	size_t len;

	memset(text, 'x', sizeof(text) - 1);
	tt_log(TT_LOG_ERROR, "m", "%s", text);
	read_stderr(out, sizeof(out));
	len = strlen(out);
	cr_assert_eq(len, 4096);
	cr_assert_eq(strncmp(out, "m: xxx", 6), 0);
	cr_assert_str_eq(out + len - 4, "...\n");
}

Test(log, timestamp_prefix_on_request, .init = redirect)
{
	char out[256];

	setenv("TATTLETALE_LOG_TIME", "1", 1);
	tt_log(TT_LOG_INFO, "router", "started");
	read_stderr(out, sizeof(out));
	/* 2024-05-01T12:00:00.123Z router: started */
	cr_assert_eq(strlen(out), 25 + strlen("router: started\n"), "%s", out);
	cr_assert_eq(out[4], '-');
	cr_assert_eq(out[10], 'T');
	cr_assert_eq(out[19], '.');
	cr_assert_eq(out[23], 'Z');
	cr_assert_str_eq(out + 25, "router: started\n");
}

Test(log, level_names_parse)
{
	static const struct {
		const char *name;
		enum tt_log_level level;
	} cases[] = {
		{ "error", TT_LOG_ERROR }, { "warn", TT_LOG_WARN }, { "notice", TT_LOG_NOTICE },
		{ "info", TT_LOG_INFO }, { "debug", TT_LOG_DEBUG },
	};
	enum tt_log_level level;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(tt_log_level_parse(cases[i].name, &level), 0);
		cr_assert_eq(level, cases[i].level);
	}
	cr_assert_eq(tt_log_level_parse("warning", &level), -1);
	cr_assert_eq(tt_log_level_parse("INFO", &level), -1);
	cr_assert_eq(tt_log_level_parse("", &level), -1);
}

Test(log, level_set_and_get)
{
	tt_log_set_level(TT_LOG_DEBUG);
	cr_assert_eq(tt_log_get_level(), TT_LOG_DEBUG);
	cr_assert(tt_log_enabled(TT_LOG_DEBUG));
	tt_log_set_level(TT_LOG_ERROR);
	cr_assert(tt_log_enabled(TT_LOG_ERROR));
	cr_assert_not(tt_log_enabled(TT_LOG_WARN));
}

Test(log, escape_keeps_printable_ascii)
{
	char out[64];

	cr_assert_str_eq(tt_log_escape("a/b-c_9.{}", 10, out, sizeof(out)), "a/b-c_9.{}");
}

Test(log, escape_hexes_space_quote_backslash)
{
	char out[64];

	cr_assert_str_eq(tt_log_escape("a b\"c\\", 6, out, sizeof(out)), "a\\x20b\\x22c\\x5c");
}

Test(log, escape_hexes_control_and_high_bytes)
{
	char out[64];

	cr_assert_str_eq(tt_log_escape("\n\x7f\xc3\xa9\0", 5, out, sizeof(out)),
			 "\\x0a\\x7f\\xc3\\xa9\\x00");
}

Test(log, escape_exact_fit_has_no_dots)
{
	char out[6];

	cr_assert_str_eq(tt_log_escape("abcde", 5, out, sizeof(out)), "abcde");
}

Test(log, escape_cut_ends_with_dots)
{
	char out[6];

	cr_assert_str_eq(tt_log_escape("abcdef", 6, out, sizeof(out)), "ab...");
}

Test(log, escape_cut_never_splits_hex)
{
	char out[9];

	/* "a\x0a" is 5 bytes and fits before "..."; the next escape does not. */
	cr_assert_str_eq(tt_log_escape("a\n\n\n", 4, out, sizeof(out)), "a\\x0a...");
	cr_assert_str_eq(tt_log_escape("ab\n\n", 4, out, sizeof(out)), "ab...");
}

Test(log, escape_tiny_buffers)
{
	char out[3] = "zz";

	cr_assert_str_eq(tt_log_escape("abc", 3, out, 1), "");
	cr_assert_str_eq(tt_log_escape("abc", 3, out, 3), "..");
	cr_assert_eq(tt_log_escape("abc", 3, out, 0), out);
}

Test(log, escape_empty_input)
{
	char out[4] = "zzz";

	cr_assert_str_eq(tt_log_escape("", 0, out, sizeof(out)), "");
}

Test(log, ratelimit_allows_burst)
{
	struct tt_ratelimit rl = TT_RATELIMIT_INIT(1000, 3);
	unsigned long suppressed = 99;

	for (int i = 0; i < 3; i++) {
		cr_assert(tt_ratelimit_allow(&rl, 5000 + i, &suppressed));
		cr_assert_eq(suppressed, 0);
	}
	cr_assert_not(tt_ratelimit_allow(&rl, 5003, &suppressed));
	cr_assert_not(tt_ratelimit_allow(&rl, 5999, &suppressed));
	cr_assert_eq(suppressed, 0);
	cr_assert_eq(rl.suppressed, 2);
}

Test(log, ratelimit_reports_suppressed_once)
{
	struct tt_ratelimit rl = TT_RATELIMIT_INIT(1000, 1);
	unsigned long suppressed;

	cr_assert(tt_ratelimit_allow(&rl, 10000, &suppressed));
	cr_assert_not(tt_ratelimit_allow(&rl, 10001, &suppressed));
	cr_assert_not(tt_ratelimit_allow(&rl, 10002, &suppressed));

	cr_assert(tt_ratelimit_allow(&rl, 11000, &suppressed));
	cr_assert_eq(suppressed, 2);
	cr_assert_not(tt_ratelimit_allow(&rl, 11001, &suppressed));
	cr_assert_eq(suppressed, 0);

	cr_assert(tt_ratelimit_allow(&rl, 12500, &suppressed));
	cr_assert_eq(suppressed, 1);
	cr_assert(tt_ratelimit_allow(&rl, 20000, &suppressed));
	cr_assert_eq(suppressed, 0);
}

Test(log, ratelimit_accepts_null_counter)
{
	struct tt_ratelimit rl = TT_RATELIMIT_INIT(1000, 1);

	cr_assert(tt_ratelimit_allow(&rl, 0, NULL));
	cr_assert_not(tt_ratelimit_allow(&rl, 1, NULL));
	cr_assert(tt_ratelimit_allow(&rl, 1000, NULL));
}

Test(log, clocks_move_forward)
{
	int64_t mono = tt_now_mono_ms();
	int64_t wall = tt_now_wall_ms();

	cr_assert_gt(mono, 0);
	cr_assert_geq(tt_now_mono_ms(), mono);
	/* After 2020-01-01 on any machine whose clock is set. */
	cr_assert_gt(wall, 1577836800000LL);
}

Test(log, quote_keeps_spaces_and_escapes_quotes)
{
	char out[64];

	cr_assert_str_eq(tt_log_quote("a.lua:2: attempt to \"x\"", 23, out, sizeof(out)),
			 "a.lua:2: attempt to \\x22x\\x22");
	cr_assert_str_eq(tt_log_escape("a b", 3, out, sizeof(out)), "a\\x20b");
}
