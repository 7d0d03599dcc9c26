/* SPDX-License-Identifier: MIT */
/* Why a received message was rejected: one name per reason, shared by logs and counters. */
#ifndef TT_REASON_H
#define TT_REASON_H

enum tt_reason {
	TT_OK = 0,
	TT_TOO_LARGE,
	TT_BAD_TOPIC,
	TT_NO_SIGNATURE,
	TT_UNKNOWN_KEY,
	TT_BAD_SIGNATURE,
	TT_BAD_JSON,
	TT_BAD_FIELD,
	TT_STALE,
	TT_FUTURE,
	TT_REPLAY,
	TT_ROLLBACK,
	TT_RETAINED_EVENT,
	TT_REPEAT,		/* a state delivered again unchanged: dropped quietly */
	TT_REASON_COUNT
};

/* Returns the wire name of a reason, such as "bad-signature"; "ok" for TT_OK. */
const char *tt_reason_name(enum tt_reason reason);

#endif
