/* SPDX-License-Identifier: MIT */
/* Verification, freshness and rejection accounting for received messages. */
#include "inbox.h"

#include <errno.h>
#include <string.h>

#include "log.h"

/* At most this many rejection lines per second; the rest are counted and summarized. */
static struct tt_ratelimit reject_limit = TT_RATELIMIT_INIT(1000, 20);

int
tt_inbox_init(struct tt_inbox *inbox, const struct tt_verify_opts *verify,
	      const struct tt_fresh_opts *fresh)
{
	memset(inbox, 0, sizeof(*inbox));
	inbox->verify = *verify;
	inbox->log_rejections = true;
	inbox->fresh = tt_fresh_new(fresh);
	if (inbox->fresh == NULL) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

void
tt_inbox_fini(struct tt_inbox *inbox)
{
	tt_fresh_free(inbox->fresh);
	inbox->fresh = NULL;
}

static void
log_rejection(const char *topic, size_t len, enum tt_reason reason, const struct tt_message *msg)
{
	unsigned long suppressed = 0;
	char etopic[160];

	if (reason == TT_REPEAT) {
		tt_log(TT_LOG_DEBUG, "inbox", "repeated state dropped topic=%s",
		       tt_log_escape(topic, strlen(topic), etopic, sizeof(etopic)));
		return;
	}
	/* Clearing a retained message delivers an empty one: counted, but not worth a warning. */
	if (len == 0) {
		tt_log(TT_LOG_DEBUG, "inbox", "empty message rejected reason=%s topic=%s",
		       tt_reason_name(reason), tt_log_escape(topic, strlen(topic), etopic,
							     sizeof(etopic)));
		return;
	}
	if (!tt_ratelimit_allow(&reject_limit, tt_now_mono_ms(), &suppressed))
		return;
	if (suppressed > 0)
		tt_log(TT_LOG_WARN, "inbox", "rejections suppressed count=%lu", suppressed);
	tt_log_escape(topic, strlen(topic), etopic, sizeof(etopic));
	if (reason == TT_UNKNOWN_KEY)
		tt_log(TT_LOG_WARN, "inbox", "message rejected reason=%s topic=%s kid=%s bytes=%zu",
		       tt_reason_name(reason), etopic, msg->kid, len);
	else if (msg->data != NULL)	/* verified, then found stale or replayed */
		tt_log(TT_LOG_WARN, "inbox", "message rejected reason=%s topic=%s src=%s id=%s ts=%lld",
		       tt_reason_name(reason), etopic, msg->src, msg->id, (long long)msg->ts);
	else
		tt_log(TT_LOG_WARN, "inbox", "message rejected reason=%s topic=%s bytes=%zu",
		       tt_reason_name(reason), etopic, len);
}

enum tt_reason
tt_inbox_accept(struct tt_inbox *inbox, const char *topic, const void *payload, size_t len,
		bool retained, struct tt_message *msg)
{
	enum tt_reason reason;

	reason = tt_envelope_verify(&inbox->verify, topic, payload, len, msg);
	if (reason == TT_OK) {
		reason = tt_fresh_check(inbox->fresh, msg, topic, retained, tt_now_wall_ms());
		if (reason == TT_OK) {
			inbox->accepted++;
			return TT_OK;
		}
	}

	if (reason == TT_REPEAT)
		inbox->repeats++;
	else
		inbox->rejected[reason]++;
	if (inbox->log_rejections)
		log_rejection(topic, len, reason, msg);
	tt_message_clear(msg);
	if (inbox->on_reject != NULL)
		inbox->on_reject(inbox->arg, topic, reason);
	return reason;
}

uint64_t
tt_inbox_rejected_total(const struct tt_inbox *inbox)
{
	uint64_t total = 0;

	for (int i = 1; i < TT_REASON_COUNT; i++)
		total += inbox->rejected[i];
	return total;
}
