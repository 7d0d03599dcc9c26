/* SPDX-License-Identifier: MIT */
/*
 * Logging to stderr, one line per record.
 *
 * Each record is formatted into one buffer and written with a single
 * write(2), so records of one process never interleave and lines up to
 * PIPE_BUF bytes stay whole on a pipe shared with other processes. No
 * timestamp is added unless TATTLETALE_LOG_TIME=1, because systemd and
 * docker stamp each line themselves.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Longer records are cut and end with "...". */
#define LOG_LINE_MAX 4096

static enum tt_log_level current_level = TT_LOG_INFO;

static const char *const level_names[] = {
	[TT_LOG_ERROR] = "error",
	[TT_LOG_WARN] = "warn",
	[TT_LOG_NOTICE] = "notice",
	[TT_LOG_INFO] = "info",
	[TT_LOG_DEBUG] = "debug",
};

void
tt_log_set_level(enum tt_log_level level)
{
	current_level = level;
}

enum tt_log_level
tt_log_get_level(void)
{
	return current_level;
}

int
tt_log_level_parse(const char *s, enum tt_log_level *level)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*level = (enum tt_log_level)i;
			return 0;
		}
	}
	return -1;
}

bool
tt_log_enabled(enum tt_log_level level)
{
	return level <= current_level;
}

/* Writes "2024-05-01T12:00:00.123Z " into buf. Returns its length, or 0. */
static size_t
stamp(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1 || gmtime_r(&ts.tv_sec, &tm) == NULL)
		return 0;
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n == 0)
		return 0;
	int m = snprintf(buf + n, size - n, ".%03ldZ ", ts.tv_nsec / 1000000);
	if (m < 0 || (size_t)m >= size - n)
		return 0;
	return n + (size_t)m;
}

static void
write_all(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, buf, len);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			return;		/* nowhere left to report a failed log write */
		}
		buf += n;
		len -= (size_t)n;
	}
}

void
tt_log(enum tt_log_level level, const char *module, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	const char *env;
	size_t len = 0;
	va_list ap;
	int n;

	if (!tt_log_enabled(level))
		return;

	env = getenv("TATTLETALE_LOG_TIME");
	if (env != NULL && strcmp(env, "1") == 0)
		len = stamp(line, sizeof(line));

	n = snprintf(line + len, sizeof(line) - len, "%s: ", module);
	if (n < 0)
		return;
	len += (size_t)n;

	/* Keep room for the newline. */
	if (len < sizeof(line) - 1) {
		va_start(ap, fmt);
		n = vsnprintf(line + len, sizeof(line) - 1 - len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		len += (size_t)n;
	}

	if (len >= sizeof(line) - 1) {
		len = sizeof(line) - 1;
		memcpy(line + len - 3, "...", 3);
	}
	line[len++] = '\n';
	write_all(line, len);
}

static bool
keep(unsigned char c, bool space)
{
	return (c > ' ' || (space && c == ' ')) && c < 0x7f && c != '"' && c != '\\';
}

static char *
escape(const char *in, size_t len, char *out, size_t size, bool space)
{
	static const char hex[] = "0123456789abcdef";
	size_t need = 0, budget, pos = 0;

	if (size == 0)
		return out;

	for (size_t i = 0; i < len; i++)
		need += keep((unsigned char)in[i], space) ? 1 : 4;

	/* When the text does not fit, stop early enough to leave room for "...". */
	budget = size - 1;
	if (need > budget)
		budget = budget > 3 ? budget - 3 : 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (keep(c, space)) {
			if (pos + 1 > budget)
				break;
			out[pos++] = (char)c;
		} else {
			if (pos + 4 > budget)
				break;
			out[pos++] = '\\';
			out[pos++] = 'x';
			out[pos++] = hex[c >> 4];
			out[pos++] = hex[c & 0xf];
		}
	}

	if (need > size - 1) {
		for (int i = 0; i < 3 && pos < size - 1; i++)
			out[pos++] = '.';
	}
	out[pos] = '\0';
	return out;
}

char *
tt_log_escape(const char *in, size_t len, char *out, size_t size)
{
	return escape(in, len, out, size, false);
}

char *
tt_log_quote(const char *in, size_t len, char *out, size_t size)
{
	return escape(in, len, out, size, true);
}

bool
tt_ratelimit_allow(struct tt_ratelimit *rl, int64_t now_ms, unsigned long *suppressed)
{
	if (suppressed != NULL)
		*suppressed = 0;

	if (now_ms - rl->window_start >= rl->interval_ms) {
		if (suppressed != NULL)
			*suppressed = rl->suppressed;
		rl->suppressed = 0;
		rl->window_start = now_ms;
		rl->used = 0;
	}

	if (rl->used < rl->burst) {
		rl->used++;
		return true;
	}
	rl->suppressed++;
	return false;
}

static int64_t
now_ms(clockid_t clock)
{
	struct timespec ts;

	/* Cannot fail for these two clocks on Linux, so 0 marks a broken system. */
	if (clock_gettime(clock, &ts) == -1)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
tt_now_mono_ms(void)
{
	return now_ms(CLOCK_MONOTONIC);
}

int64_t
tt_now_wall_ms(void)
{
	return now_ms(CLOCK_REALTIME);
}
