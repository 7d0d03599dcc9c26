/* SPDX-License-Identifier: MIT */
/*
 * Step 5 of protocol v1: whether a verified message is fresh. Events and
 * actions must fall in the time window and must not repeat a (src, id)
 * already accepted; states must not roll back to an older ts per topic.
 *
 * The id cache is bounded and never evicts a live entry: when it is full,
 * the oldest entry is dropped and every ts at or below it is rejected as
 * stale from then on, so the window narrows instead of letting a replay in.
 *
 * NOTE: the per-topic state table is bounded by state_capacity. When it is
 * full, the least recently updated topic is forgotten, and with it the
 * rollback protection of that topic: an older state on it is accepted
 * again until a newer one has been seen.
 */
#ifndef TT_FRESH_H
#define TT_FRESH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"

#define TT_PAST_DEFAULT_MS (120 * 1000)
#define TT_FUTURE_DEFAULT_MS (30 * 1000)
#define TT_ID_CACHE_DEFAULT 65536
#define TT_STATE_TOPICS_DEFAULT 65536

struct tt_fresh_opts {
	int64_t past_ms;
	int64_t future_ms;
	size_t id_capacity;		/* (src, id) pairs remembered */
	size_t state_capacity;		/* state topics remembered */
};

struct tt_fresh;

/*
 * Creates the freshness state. NULL opts, or a capacity of 0, take the
 * defaults above. Returns NULL with errno EINVAL (negative past or future),
 * EIO (no random seed) or ENOMEM.
 */
struct tt_fresh *tt_fresh_new(const struct tt_fresh_opts *opts);
void tt_fresh_free(struct tt_fresh *fresh);

/*
 * Decides whether msg, received on topic with the MQTT retain flag as given,
 * is fresh at now_ms, and remembers it when it is. Returns TT_OK, or
 * TT_STALE, TT_FUTURE, TT_REPLAY, TT_RETAINED_EVENT, TT_ROLLBACK or
 * TT_REPEAT (an unchanged state delivered again, to be dropped quietly).
 * States are keyed by msg->topic (ns and name), and the topic argument is
 * not read. When memory runs out, an event or action is rejected as stale
 * and a state as a rollback, rather than accepted and forgotten.
 */
enum tt_reason tt_fresh_check(struct tt_fresh *fresh, const struct tt_message *msg,
			      const char *topic, bool retained, int64_t now_ms);

/* Oldest ts still accepted for events and actions at now_ms: the window, or the cache floor when that is later. */
int64_t tt_fresh_floor(const struct tt_fresh *fresh, int64_t now_ms);

#endif
