/* SPDX-License-Identifier: MIT */
/* Names of the rejection reasons. */
#include "reason.h"

static const char *const names[TT_REASON_COUNT] = {
	[TT_OK] = "ok",
	[TT_TOO_LARGE] = "too-large",
	[TT_BAD_TOPIC] = "bad-topic",
	[TT_NO_SIGNATURE] = "no-signature",
	[TT_UNKNOWN_KEY] = "unknown-key",
	[TT_BAD_SIGNATURE] = "bad-signature",
	[TT_BAD_JSON] = "bad-json",
	[TT_BAD_FIELD] = "bad-field",
	[TT_STALE] = "stale",
	[TT_FUTURE] = "future",
	[TT_REPLAY] = "replay",
	[TT_ROLLBACK] = "rollback",
	[TT_RETAINED_EVENT] = "retained-event",
	[TT_REPEAT] = "repeat",
};

const char *
tt_reason_name(enum tt_reason reason)
{
	if ((unsigned)reason >= TT_REASON_COUNT)
		return "unknown";
	return names[reason];
}
