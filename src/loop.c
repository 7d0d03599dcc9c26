/* SPDX-License-Identifier: MIT */
/* The poll() loop and the self-pipe that carries signals into it. */
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

struct tt_loop {
	const struct tt_loop_source *sources[TT_LOOP_SOURCES_MAX + 1];
	int nsources;
	bool stopped;

	/* the signal source */
	struct tt_loop_source signal_source;
	void (*signal_fn)(void *arg, int signo);
	void *signal_arg;
};

/* Written by the signal handler, read by the loop. */
static int signal_pipe[2] = { -1, -1 };

static void
on_signal(int signo)
{
	int saved = errno;
	unsigned char byte = (unsigned char)signo;

	/* A full pipe already contains a pending signal, so dropping this one loses nothing. */
	if (write(signal_pipe[1], &byte, 1) < 0) {
		/* nothing to do in a signal handler */
	}
	errno = saved;
}

static void
signal_prepare(void *arg, struct pollfd *pfd, int64_t *deadline_ms)
{
	pfd->fd = signal_pipe[0];
	pfd->events = POLLIN;
}

static void
signal_dispatch(void *arg, const struct pollfd *pfd, int64_t now_ms)
{
	struct tt_loop *loop = arg;
	unsigned char bytes[16];
	ssize_t n;

	if (!(pfd->revents & POLLIN))
		return;
	n = read(signal_pipe[0], bytes, sizeof(bytes));
	for (ssize_t i = 0; i < n; i++)
		loop->signal_fn(loop->signal_arg, bytes[i]);
}

struct tt_loop *
tt_loop_new(void)
{
	return calloc(1, sizeof(struct tt_loop));
}

void
tt_loop_free(struct tt_loop *loop)
{
	free(loop);
}

int
tt_loop_add(struct tt_loop *loop, const struct tt_loop_source *source)
{
	if (loop->nsources >= TT_LOOP_SOURCES_MAX) {
		errno = ENOSPC;
		return -1;
	}
	loop->sources[loop->nsources++] = source;
	return 0;
}

int
tt_loop_once(struct tt_loop *loop, int64_t max_wait_ms)
{
	struct pollfd pfds[TT_LOOP_SOURCES_MAX];
	int64_t now = tt_now_mono_ms();
	int64_t deadline = max_wait_ms < 0 ? INT64_MAX : now + max_wait_ms;
	int timeout, n;

	for (int i = 0; i < loop->nsources; i++) {
		pfds[i] = (struct pollfd){ .fd = -1 };
		if (loop->sources[i]->prepare != NULL)
			loop->sources[i]->prepare(loop->sources[i]->arg, &pfds[i], &deadline);
	}

	if (deadline == INT64_MAX)
		timeout = -1;
	else if (deadline <= now)
		timeout = 0;
	else
		timeout = deadline - now > 60000 ? 60000 : (int)(deadline - now);

	n = poll(pfds, (nfds_t)loop->nsources, timeout);
	if (n < 0) {
		if (errno != EINTR)
			return -1;
		for (int i = 0; i < loop->nsources; i++)
			pfds[i].revents = 0;
	}

	now = tt_now_mono_ms();
	for (int i = 0; i < loop->nsources && !loop->stopped; i++)
		loop->sources[i]->dispatch(loop->sources[i]->arg, &pfds[i], now);
	return 0;
}

int
tt_loop_run(struct tt_loop *loop)
{
	while (!loop->stopped)
		if (tt_loop_once(loop, -1) < 0)
			return -1;
	return 0;
}

void
tt_loop_stop(struct tt_loop *loop)
{
	loop->stopped = true;
}

bool
tt_loop_stopped(const struct tt_loop *loop)
{
	return loop->stopped;
}

int
tt_loop_watch_signals(struct tt_loop *loop, void (*fn)(void *arg, int signo), void *arg)
{
	struct sigaction sa;

	if (signal_pipe[0] < 0 && pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0 ||
	    sigaction(SIGHUP, &sa, NULL) < 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);

	loop->signal_fn = fn;
	loop->signal_arg = arg;
	loop->signal_source = (struct tt_loop_source){ signal_prepare, signal_dispatch, loop };
	return tt_loop_add(loop, &loop->signal_source);
}
