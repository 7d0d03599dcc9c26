/* SPDX-License-Identifier: MIT */
/* Tests of the outbox: order, failure, expiry and bounds. */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>

#include "outbox.h"

#define T0 1764806400000LL

struct sent {
	char names[16][16];
	int count;
	int fail_after;			/* fail the call after this many successes; -1 never */
};

static int
record(void *arg, const struct tt_outgoing *out, const char *id)
{
	struct sent *s = arg;

	if (s->fail_after >= 0 && s->count >= s->fail_after) {
		errno = ENOTCONN;
		return -1;
	}
	cr_assert_eq(strlen(id), TT_ID_LEN);
	snprintf(s->names[s->count++], sizeof(s->names[0]), "%s", out->name);
	return 0;
}

static void
push(struct tt_outbox *box, enum tt_kind kind, const char *name, int64_t now)
{
	struct tt_outgoing out = { kind, "ns", name, "{}", 2, 0, 0, NULL };
	char id[TT_ID_LEN + 1];

	memset(id, 'A', TT_ID_LEN);
	id[TT_ID_LEN] = '\0';
	cr_assert_eq(tt_outbox_push(box, &out, id, now), 0);
}

Test(outbox, flush_keeps_order_and_stops_at_failure)
{
	struct tt_outbox box = { 0 };
	struct sent s = { .fail_after = 2 };

	push(&box, TT_EVENT, "a", T0);
	push(&box, TT_ACTION, "b", T0);
	push(&box, TT_STATE, "c", T0);

	cr_assert_eq(tt_outbox_flush(&box, record, &s, T0, 120000), 2);
	cr_assert_str_eq(s.names[0], "a");
	cr_assert_str_eq(s.names[1], "b");
	cr_assert_eq(box.count, 1, "the message that failed stays queued");

	s.fail_after = -1;
	cr_assert_eq(tt_outbox_flush(&box, record, &s, T0, 120000), 1);
	cr_assert_str_eq(s.names[2], "c");
	cr_assert_eq(box.count, 0);
	cr_assert_eq(box.bytes, 0);
	tt_outbox_free(&box);
}

Test(outbox, old_events_expire_but_states_stay)
{
	struct tt_outbox box = { 0 };
	struct sent s = { .fail_after = -1 };

	push(&box, TT_EVENT, "old-event", T0);
	push(&box, TT_ACTION, "old-action", T0);
	push(&box, TT_STATE, "old-state", T0);
	push(&box, TT_EVENT, "new-event", T0 + 200000);

	cr_assert_eq(tt_outbox_flush(&box, record, &s, T0 + 200000, 120000), 2);
	cr_assert_str_eq(s.names[0], "old-state");
	cr_assert_str_eq(s.names[1], "new-event");
	cr_assert_eq(box.expired, 2);
	tt_outbox_free(&box);
}

Test(outbox, full_outbox_refuses_and_counts)
{
	struct tt_outbox box = { 0 };
	struct tt_outgoing out = { TT_EVENT, "ns", "n", "1", 1, 0, 0, NULL };
	char id[TT_ID_LEN + 1] = "AAAAAAAAAAAAAAAAAAAAAA";

	for (int i = 0; i < TT_OUTBOX_MAX_MESSAGES; i++)
		cr_assert_eq(tt_outbox_push(&box, &out, id, T0), 0);
	cr_assert_eq(tt_outbox_push(&box, &out, id, T0), -1);
	cr_assert_eq(errno, ENOBUFS);
	cr_assert_eq(box.dropped, 1);
	cr_assert_eq(box.count, TT_OUTBOX_MAX_MESSAGES);
	tt_outbox_free(&box);
	cr_assert_eq(box.count, 0);
}
