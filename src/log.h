/* SPDX-License-Identifier: MIT */
/*
 * Logging to stderr as one line per record: "<module>: <event> key=value ...".
 * Values from outside are escaped with tt_log_escape. Repeated records can
 * be rate-limited per call site with struct tt_ratelimit.
 */
#ifndef TT_LOG_H
#define TT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tt_log_level { TT_LOG_ERROR, TT_LOG_WARN, TT_LOG_NOTICE, TT_LOG_INFO, TT_LOG_DEBUG };

void tt_log_set_level(enum tt_log_level level);
enum tt_log_level tt_log_get_level(void);
/* Parses "error", "warn", "notice", "info" or "debug". Returns 0 or -1. */
int tt_log_level_parse(const char *s, enum tt_log_level *level);
bool tt_log_enabled(enum tt_log_level level);

/* Writes one record; the format is the text after "<module>: ". A newline is added. */
void tt_log(enum tt_log_level level, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Escapes len bytes from outside for a log value: printable ASCII other
 * than '"', '\\' and space is kept, the rest becomes \xHH, and the result
 * is cut at size - 1 with "..." appended when it does not fit. Returns out.
 */
char *tt_log_escape(const char *in, size_t len, char *out, size_t size);

/* Like tt_log_escape, but keeps spaces: for values written between double quotes. */
char *tt_log_quote(const char *in, size_t len, char *out, size_t size);

/* Allows up to burst records per interval; the suppressed ones are counted. */
struct tt_ratelimit {
	int64_t interval_ms;
	unsigned burst;
	int64_t window_start;
	unsigned used;
	unsigned long suppressed;
};
#define TT_RATELIMIT_INIT(interval_ms, burst) { (interval_ms), (burst), 0, 0, 0 }

/*
 * Returns true when a record may be written now. When a new interval starts
 * after suppressions, *suppressed receives their count (to be logged once)
 * and the counter resets; otherwise *suppressed is 0.
 */
bool tt_ratelimit_allow(struct tt_ratelimit *rl, int64_t now_ms, unsigned long *suppressed);

/* Milliseconds of CLOCK_MONOTONIC and of CLOCK_REALTIME. */
int64_t tt_now_mono_ms(void);
int64_t tt_now_wall_ms(void);

#endif
