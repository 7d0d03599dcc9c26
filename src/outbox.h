/* SPDX-License-Identifier: MIT */
/*
 * Messages the rules emitted while the broker was away. They are kept
 * unsigned and signed when they are finally sent, so a receiver judges
 * their freshness by the time they left. Events and actions that waited
 * longer than the receivers' window are dropped instead, since by then
 * they describe the past.
 */
#ifndef TT_OUTBOX_H
#define TT_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "sender.h"

#define TT_OUTBOX_MAX_MESSAGES 10000
#define TT_OUTBOX_MAX_BYTES (16u << 20)

struct tt_outbox_item {
	struct tt_outgoing out;		/* ns, name and json owned by the item */
	char id[TT_ID_LEN + 1];
	int64_t queued_ms;		/* CLOCK_REALTIME */
};

struct tt_outbox {
	struct tt_outbox_item *items;
	size_t count, cap;
	size_t bytes;			/* of the queued values */
	uint64_t dropped;		/* refused because the outbox was full */
	uint64_t expired;		/* dropped because they waited too long */
};

/*
 * Copies a message into the outbox with its id. Returns 0, or -1 with errno
 * ENOBUFS when the outbox is full (the message is counted as dropped) or
 * ENOMEM.
 */
int tt_outbox_push(struct tt_outbox *box, const struct tt_outgoing *out, const char *id,
		   int64_t now_ms);

/*
 * Sends queued messages in order with send(), which returns 0 or -1; stops
 * at the first failure and keeps the rest. Events and actions queued more
 * than max_age_ms ago are dropped and counted. Returns the number sent.
 */
size_t tt_outbox_flush(struct tt_outbox *box, int (*send)(void *arg, const struct tt_outgoing *out,
							 const char *id),
		       void *arg, int64_t now_ms, int64_t max_age_ms);

void tt_outbox_free(struct tt_outbox *box);

#endif
