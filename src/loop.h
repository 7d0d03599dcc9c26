/* SPDX-License-Identifier: MIT */
/*
 * A single-threaded poll() loop. Each source fills in the pollfd it wants
 * watched and the next monotonic time it needs to run, then is dispatched
 * once per iteration, after poll() returns. Sources are few (the broker
 * socket, the signal pipe, the rules folder watch, timers), so the loop
 * keeps them in a small array and calls each one every turn.
 */
#ifndef TT_LOOP_H
#define TT_LOOP_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#define TT_LOOP_SOURCES_MAX 8

struct tt_loop_source {
	/*
	 * Sets pfd->fd (or -1) and pfd->events, and lowers *deadline_ms (a
	 * CLOCK_MONOTONIC time) when the source must run by then. May be NULL.
	 */
	void (*prepare)(void *arg, struct pollfd *pfd, int64_t *deadline_ms);
	/* Runs after every poll(), with pfd->revents set, or 0 when the fd did not fire. */
	void (*dispatch)(void *arg, const struct pollfd *pfd, int64_t now_ms);
	void *arg;
};

struct tt_loop;

struct tt_loop *tt_loop_new(void);
void tt_loop_free(struct tt_loop *loop);

/* Adds a source; the loop keeps the pointer. Returns 0, or -1 when full. */
int tt_loop_add(struct tt_loop *loop, const struct tt_loop_source *source);

/* Runs one iteration, waiting at most max_wait_ms (-1: until a source is due). */
int tt_loop_once(struct tt_loop *loop, int64_t max_wait_ms);

/* Runs until tt_loop_stop is called. Returns 0, or -1 when poll() failed. */
int tt_loop_run(struct tt_loop *loop);
void tt_loop_stop(struct tt_loop *loop);
bool tt_loop_stopped(const struct tt_loop *loop);

/*
 * The signal source: SIGINT, SIGTERM and SIGHUP write their number to a
 * self-pipe, and the loop calls fn(arg, signo) from dispatch, outside the
 * handler. SIGPIPE is ignored. Returns 0 or -1.
 */
int tt_loop_watch_signals(struct tt_loop *loop, void (*fn)(void *arg, int signo), void *arg);

#endif
