/* SPDX-License-Identifier: MIT */
/*
 * The receiving side shared by `run` and `watch`: every message from the
 * broker goes through tt_inbox_accept, which verifies the envelope, checks
 * freshness, counts each rejection by reason and logs it, rate-limited.
 */
#ifndef TT_INBOX_H
#define TT_INBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "fresh.h"

struct tt_inbox {
	struct tt_verify_opts verify;
	struct tt_fresh *fresh;
	uint64_t accepted;
	uint64_t repeats;		/* unchanged states delivered again: not rejections */
	uint64_t rejected[TT_REASON_COUNT];	/* by reason; TT_OK and TT_REPEAT stay 0 */
	bool log_rejections;		/* false: count only */
	/* Called for each rejection, after counting; may be NULL. */
	void (*on_reject)(void *arg, const char *topic, enum tt_reason reason);
	void *arg;
};

/* Sets up an inbox. Returns 0, or -1 with errno. */
int tt_inbox_init(struct tt_inbox *inbox, const struct tt_verify_opts *verify,
		  const struct tt_fresh_opts *fresh);
void tt_inbox_fini(struct tt_inbox *inbox);

/*
 * Verifies a received payload. Returns TT_OK with *msg filled (the caller
 * clears it), or the reason it was dropped. TT_REPEAT is counted but not
 * logged above debug.
 */
enum tt_reason tt_inbox_accept(struct tt_inbox *inbox, const char *topic, const void *payload,
			       size_t len, bool retained, struct tt_message *msg);

/* Sum of all rejections. */
uint64_t tt_inbox_rejected_total(const struct tt_inbox *inbox);

#endif
