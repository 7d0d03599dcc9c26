/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of freshness (time window, replay cache, state rollback) and
 * of the state cache.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "envelope.h"
#include "fresh.h"
#include "keyring.h"
#include "statecache.h"

#define NOW 1764806400000LL
#define PAST 120000
#define FUTURE 30000
#define EVENT_TOPIC "tattletale/event/items/created"

/* A verified-looking message; freshness reads only topic, src, id and ts. */
static struct tt_message
message(enum tt_kind kind, const char *name, const char *src, const char *id, int64_t ts)
{
	struct tt_message msg;

	memset(&msg, 0, sizeof(msg));
	msg.topic.kind = kind;
	strcpy(msg.topic.ns, "items");
	strcpy(msg.topic.name, name);
	strcpy(msg.src, src);
	strcpy(msg.id, id);
	msg.ts = ts;
	return msg;
}

/* Message ids of the form "id-0000000000042". */
static const char *
id_of(unsigned n)
{
	static char buf[TT_ID_MAX + 1];

	snprintf(buf, sizeof(buf), "id-%013u", n);
	return buf;
}

static struct tt_fresh *
fresh_new(int64_t past, int64_t future, size_t ids, size_t states)
{
	struct tt_fresh_opts o = { past, future, ids, states };
	struct tt_fresh *f = tt_fresh_new(&o);

	cr_assert_not_null(f);
	return f;
}

static enum tt_reason
event(struct tt_fresh *f, const char *id, int64_t ts, int64_t now)
{
	struct tt_message msg = message(TT_EVENT, "created", "api", id, ts);

	return tt_fresh_check(f, &msg, EVENT_TOPIC, false, now);
}

static enum tt_reason
state(struct tt_fresh *f, const char *name, const char *id, int64_t ts)
{
	struct tt_message msg = message(TT_STATE, name, "home", id, ts);

	return tt_fresh_check(f, &msg, NULL, true, NOW);
}

Test(fresh, accepts_past_edge_of_window)
{
	struct tt_fresh *f = fresh_new(PAST, FUTURE, 16, 16);

	cr_assert_eq(event(f, id_of(1), NOW - PAST, NOW), TT_OK);
	cr_assert_eq(event(f, id_of(2), NOW - PAST - 1, NOW), TT_STALE);
	tt_fresh_free(f);
}

Test(fresh, accepts_future_edge_of_window)
{
	struct tt_fresh *f = fresh_new(PAST, FUTURE, 16, 16);

	cr_assert_eq(event(f, id_of(1), NOW + FUTURE, NOW), TT_OK);
	cr_assert_eq(event(f, id_of(2), NOW + FUTURE + 1, NOW), TT_FUTURE);
	tt_fresh_free(f);
}

Test(fresh, honours_asymmetric_window)
{
	struct tt_fresh *f = fresh_new(5000, 100, 16, 16);

	cr_assert_eq(event(f, id_of(1), NOW - 4000, NOW), TT_OK);
	cr_assert_eq(event(f, id_of(2), NOW - 5000, NOW), TT_OK);
	cr_assert_eq(event(f, id_of(3), NOW - 5001, NOW), TT_STALE);
	cr_assert_eq(event(f, id_of(4), NOW + 100, NOW), TT_OK);
	cr_assert_eq(event(f, id_of(5), NOW + 101, NOW), TT_FUTURE);
	cr_assert_eq(event(f, id_of(6), NOW + 4000, NOW), TT_FUTURE);
	tt_fresh_free(f);
}

Test(fresh, rejects_replay_within_window)
{
	struct tt_fresh *f = fresh_new(PAST, FUTURE, 16, 16);
	struct tt_message other_src = message(TT_EVENT, "created", "other", id_of(1), NOW);

	cr_assert_eq(event(f, id_of(1), NOW, NOW), TT_OK);
	cr_assert_eq(event(f, id_of(1), NOW, NOW), TT_REPLAY);
	cr_assert_eq(event(f, id_of(1), NOW, NOW + 1000), TT_REPLAY);
	/* A replay is a replay whatever its ts: the pair is what was seen. */
	cr_assert_eq(event(f, id_of(1), NOW - 10, NOW), TT_REPLAY);
	/* The same id from another sender is another message. */
	cr_assert_eq(tt_fresh_check(f, &other_src, EVENT_TOPIC, false, NOW), TT_OK);
	cr_assert_eq(event(f, id_of(2), NOW, NOW), TT_OK);
	tt_fresh_free(f);
}

Test(fresh, rejects_replay_after_window_as_stale)
{
	struct tt_fresh *f = fresh_new(PAST, FUTURE, 16, 16);

	cr_assert_eq(event(f, id_of(1), NOW, NOW), TT_OK);
	cr_assert_eq(event(f, id_of(1), NOW, NOW + PAST + 1), TT_STALE);
	tt_fresh_free(f);
}

Test(fresh, rejects_retained_events_and_actions)
{
	struct tt_fresh *f = fresh_new(PAST, FUTURE, 16, 16);
	struct tt_message ev = message(TT_EVENT, "created", "api", id_of(1), NOW);
	struct tt_message act = message(TT_ACTION, "open", "api", id_of(2), NOW);
	struct tt_message old = message(TT_EVENT, "created", "api", id_of(3), 0);

	cr_assert_eq(tt_fresh_check(f, &ev, EVENT_TOPIC, true, NOW), TT_RETAINED_EVENT);
	cr_assert_eq(tt_fresh_check(f, &act, "tattletale/action/items/open", true, NOW),
		     TT_RETAINED_EVENT);
	/* The retain flag is checked before the window. */
	cr_assert_eq(tt_fresh_check(f, &old, EVENT_TOPIC, true, NOW), TT_RETAINED_EVENT);
	/* Rejected messages are not remembered. */
	cr_assert_eq(tt_fresh_check(f, &ev, EVENT_TOPIC, false, NOW), TT_OK);
	tt_fresh_free(f);
}

Test(fresh, applies_window_to_actions)
{
	struct tt_fresh *f = fresh_new(PAST, FUTURE, 16, 16);
	struct tt_message act = message(TT_ACTION, "open", "api", id_of(1), NOW - PAST - 1);

	cr_assert_eq(tt_fresh_check(f, &act, NULL, false, NOW), TT_STALE);
	act.ts = NOW;
	cr_assert_eq(tt_fresh_check(f, &act, NULL, false, NOW), TT_OK);
	cr_assert_eq(tt_fresh_check(f, &act, NULL, false, NOW), TT_REPLAY);
	tt_fresh_free(f);
}

Test(fresh, full_cache_raises_floor)
{
	struct tt_fresh *f = fresh_new(PAST, FUTURE, 4, 16);

	for (unsigned i = 1; i <= 4; i++)
		cr_assert_eq(event(f, id_of(i), NOW + i, NOW), TT_OK);
	cr_assert_eq(tt_fresh_floor(f, NOW), NOW - PAST);

	/* Full: the entry with ts NOW + 1 goes, and its ts becomes the floor. */
	cr_assert_eq(event(f, id_of(5), NOW + 5, NOW), TT_OK);
	cr_assert_eq(tt_fresh_floor(f, NOW), NOW + 2);
	cr_assert_eq(event(f, id_of(1), NOW + 1, NOW), TT_STALE);
	cr_assert_eq(event(f, id_of(9), NOW + 1, NOW), TT_STALE);
	cr_assert_eq(event(f, id_of(9), NOW - 10, NOW), TT_STALE);

	/* Full with a ts no newer than the oldest entry: rejected, nothing evicted. */
	cr_assert_eq(event(f, id_of(10), NOW + 2, NOW), TT_STALE);
	cr_assert_eq(event(f, id_of(2), NOW + 2, NOW), TT_REPLAY);
	cr_assert_eq(event(f, id_of(11), NOW + 3, NOW), TT_OK);
	cr_assert_eq(event(f, id_of(2), NOW + 2, NOW), TT_STALE);
	cr_assert_eq(event(f, id_of(3), NOW + 3, NOW), TT_REPLAY);
	tt_fresh_free(f);
}

Test(fresh, never_accepts_replay_under_flood)
{
	struct tt_fresh *f = fresh_new(PAST, FUTURE, 4, 16);
	unsigned n = 1000;

	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(event(f, id_of(i), NOW - PAST + i, NOW), TT_OK, "flood message %u", i);
	for (unsigned i = 0; i < n; i++)
		cr_assert_neq(event(f, id_of(i), NOW - PAST + i, NOW), TT_OK, "replay of %u", i);
	/* The evicted ones are stale, the live ones replays. */
	cr_assert_eq(event(f, id_of(0), NOW - PAST, NOW), TT_STALE);
	cr_assert_eq(event(f, id_of(n - 1), NOW - PAST + n - 1, NOW), TT_REPLAY);
	tt_fresh_free(f);
}

Test(fresh, never_accepts_replay_under_flood_with_equal_ts)
{
	struct tt_fresh *f = fresh_new(PAST, FUTURE, 4, 16);

	for (unsigned i = 0; i < 4; i++)
		cr_assert_eq(event(f, id_of(i), NOW, NOW), TT_OK);
	for (unsigned i = 4; i < 100; i++)
		cr_assert_eq(event(f, id_of(i), NOW, NOW), TT_STALE, "flood message %u", i);
	for (unsigned i = 0; i < 4; i++)
		cr_assert_eq(event(f, id_of(i), NOW, NOW), TT_REPLAY);
	cr_assert_eq(event(f, id_of(200), NOW + 1, NOW), TT_OK);
	for (unsigned i = 0; i < 4; i++)
		cr_assert_neq(event(f, id_of(i), NOW, NOW), TT_OK);
	tt_fresh_free(f);
}

Test(fresh, window_recovers_after_flood)
{
	struct tt_fresh *f = fresh_new(PAST, FUTURE, 4, 16);
	int64_t later = NOW + PAST + FUTURE + 1;

	for (unsigned i = 0; i < 50; i++)
		cr_assert_eq(event(f, id_of(i), NOW + FUTURE - 50 + i, NOW), TT_OK);
	cr_assert_gt(tt_fresh_floor(f, NOW), NOW);
	cr_assert_eq(event(f, id_of(100), NOW, NOW), TT_STALE);

	/* Once time passes the flood, the floor falls behind the window. */
	cr_assert_eq(tt_fresh_floor(f, later), later - PAST);
	for (unsigned i = 100; i < 104; i++)
		cr_assert_eq(event(f, id_of(i), later - PAST + i, later), TT_OK);
	cr_assert_eq(event(f, id_of(100), later - PAST + 100, later), TT_REPLAY);
	tt_fresh_free(f);
}

Test(fresh, expired_entries_free_room)
{
	struct tt_fresh *f = fresh_new(1000, 1000, 2, 16);

	cr_assert_eq(event(f, id_of(1), NOW, NOW), TT_OK);
	cr_assert_eq(event(f, id_of(2), NOW, NOW), TT_OK);
	/* Both expire first, so nothing live is evicted. */
	cr_assert_eq(event(f, id_of(3), NOW + 1500, NOW + 1500), TT_OK);
	cr_assert_eq(event(f, id_of(4), NOW + 1500, NOW + 1500), TT_OK);
	cr_assert_eq(tt_fresh_floor(f, NOW + 1500), NOW + 500);
	tt_fresh_free(f);
}

Test(fresh, rejects_replay_when_clock_steps_back)
{
	struct tt_fresh *f = fresh_new(1000, 1000, 16, 16);

	cr_assert_eq(event(f, id_of(1), NOW, NOW), TT_OK);
	/* Time passes: the entry expires while another message arrives. */
	cr_assert_eq(event(f, id_of(2), NOW + 2000, NOW + 2000), TT_OK);
	/* The wall clock steps back: the forgotten pair must stay rejected. */
	cr_assert_eq(event(f, id_of(1), NOW, NOW), TT_STALE);
	tt_fresh_free(f);
}

Test(fresh, rejects_state_rollback)
{
	struct tt_fresh *f = fresh_new(PAST, FUTURE, 16, 16);

	cr_assert_eq(state(f, "kitchen", id_of(1), 1000), TT_OK);
	cr_assert_eq(state(f, "kitchen", id_of(2), 999), TT_ROLLBACK);
	cr_assert_eq(state(f, "kitchen", id_of(1), 1000), TT_REPEAT);
	cr_assert_eq(state(f, "kitchen", id_of(3), 1000), TT_OK);
	cr_assert_eq(state(f, "kitchen", id_of(3), 1000), TT_REPEAT);
	cr_assert_eq(state(f, "kitchen", id_of(4), 1001), TT_OK);
	cr_assert_eq(state(f, "kitchen", id_of(3), 1000), TT_ROLLBACK);
	tt_fresh_free(f);
}

Test(fresh, tracks_states_per_topic)
{
	struct tt_fresh *f = fresh_new(PAST, FUTURE, 16, 16);

	cr_assert_eq(state(f, "kitchen", id_of(1), 2000), TT_OK);
	cr_assert_eq(state(f, "hall", id_of(2), 1000), TT_OK);
	cr_assert_eq(state(f, "hall", id_of(3), 1500), TT_OK);
	cr_assert_eq(state(f, "kitchen", id_of(4), 1500), TT_ROLLBACK);
	tt_fresh_free(f);
}

Test(fresh, accepts_old_retained_states)
{
	struct tt_fresh *f = fresh_new(PAST, FUTURE, 16, 16);

	/* States have no window: a retained state from a year ago is fine. */
	cr_assert_eq(state(f, "kitchen", id_of(1), NOW - 365LL * 86400000), TT_OK);
	cr_assert_eq(state(f, "hall", id_of(2), 0), TT_OK);
	tt_fresh_free(f);
}

Test(fresh, evicts_least_recently_updated_topic)
{
	struct tt_fresh *f = fresh_new(PAST, FUTURE, 16, 2);

	cr_assert_eq(state(f, "a", id_of(1), 1000), TT_OK);
	cr_assert_eq(state(f, "b", id_of(2), 1000), TT_OK);
	cr_assert_eq(state(f, "a", id_of(3), 2000), TT_OK);
	cr_assert_eq(state(f, "c", id_of(4), 1000), TT_OK);	/* evicts b */

	cr_assert_eq(state(f, "a", id_of(5), 1500), TT_ROLLBACK);
	cr_assert_eq(state(f, "c", id_of(6), 500), TT_ROLLBACK);
	/* b was forgotten, so its older state passes: the documented limit. */
	cr_assert_eq(state(f, "b", id_of(7), 500), TT_OK);
	tt_fresh_free(f);
}

Test(fresh, uses_defaults)
{
	struct tt_fresh *f = tt_fresh_new(NULL);
	struct tt_fresh_opts bad = { -1, 0, 0, 0 };

	cr_assert_not_null(f);
	cr_assert_eq(tt_fresh_floor(f, NOW), NOW - TT_PAST_DEFAULT_MS);
	cr_assert_eq(event(f, id_of(1), NOW + TT_FUTURE_DEFAULT_MS, NOW), TT_OK);
	cr_assert_eq(event(f, id_of(2), NOW + TT_FUTURE_DEFAULT_MS + 1, NOW), TT_FUTURE);
	tt_fresh_free(f);
	tt_fresh_free(NULL);

	errno = 0;
	cr_assert_null(tt_fresh_new(&bad));
	cr_assert_eq(errno, EINVAL);
}

Test(fresh, grows_past_initial_table_size)
{
	struct tt_fresh *f = fresh_new(PAST, FUTURE, 5000, 5000);
	char name[32];

	for (unsigned i = 0; i < 5000; i++)
		cr_assert_eq(event(f, id_of(i), NOW - i, NOW), TT_OK);
	for (unsigned i = 0; i < 5000; i++)
		cr_assert_eq(event(f, id_of(i), NOW - i, NOW), TT_REPLAY, "message %u", i);
	for (unsigned i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "lamp%u", i);
		cr_assert_eq(state(f, name, id_of(i), 10), TT_OK);
	}
	for (unsigned i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "lamp%u", i);
		cr_assert_eq(state(f, name, id_of(i), 9), TT_ROLLBACK, "topic %s", name);
	}
	tt_fresh_free(f);
}

/* The whole receive path: sign, verify, then freshness. */

#define KEY "0123456789abcdef0123456789abcdef"

static struct tt_keyring *ring;

static void
ring_setup(void)
{
	ring = tt_keyring_new();
	cr_assert_not_null(ring);
	cr_assert_eq(tt_keyring_add(ring, "k1", KEY, strlen(KEY)), 0);
}

static void
ring_teardown(void)
{
	tt_keyring_free(ring);
}

TestSuite(receive, .init = ring_setup, .fini = ring_teardown);

/* Signs a message, verifies it, and runs the freshness check at now. */
static enum tt_reason
receive(struct tt_fresh *f, const char *topic, const char *id, int64_t ts, bool retained,
	int64_t now)
{
	struct tt_verify_opts vo = { "tattletale", ring, 0, 0 };
	struct tt_sign_input in = {
		.topic = topic, .src = "api", .ts = ts, .id = id, .data = "{\"x\":1}", .data_len = 7,
	};
	struct tt_message msg;
	enum tt_reason r;
	size_t len;
	char *p;

	p = tt_envelope_sign(tt_keyring_signer(ring), &in, &len);
	cr_assert_not_null(p);
	r = tt_envelope_verify(&vo, topic, p, len, &msg);
	free(p);
	if (r != TT_OK)
		return r;
	r = tt_fresh_check(f, &msg, topic, retained, now);
	tt_message_clear(&msg);
	return r;
}

Test(receive, produces_every_freshness_reason)
{
	struct tt_fresh *f = fresh_new(PAST, FUTURE, 16, 16);
	const char *ev = "tattletale/event/items/created";
	const char *st = "tattletale/state/lamp/kitchen";

	cr_assert_eq(receive(f, ev, id_of(1), NOW, false, NOW), TT_OK);
	cr_assert_eq(receive(f, ev, id_of(1), NOW, false, NOW), TT_REPLAY);
	cr_assert_eq(receive(f, ev, id_of(2), NOW - PAST - 1, false, NOW), TT_STALE);
	cr_assert_eq(receive(f, ev, id_of(3), NOW + FUTURE + 1, false, NOW), TT_FUTURE);
	cr_assert_eq(receive(f, ev, id_of(4), NOW, true, NOW), TT_RETAINED_EVENT);
	cr_assert_eq(receive(f, st, id_of(5), NOW, true, NOW), TT_OK);
	cr_assert_eq(receive(f, st, id_of(5), NOW, true, NOW), TT_REPEAT);
	cr_assert_eq(receive(f, st, id_of(6), NOW - 1, false, NOW), TT_ROLLBACK);
	cr_assert_eq(receive(f, st, id_of(7), NOW + 1, false, NOW), TT_OK);
	tt_fresh_free(f);
}

/* State cache. */

/* Makes a state message whose data is the JSON string value; the caller clears it. */
static struct tt_message
cached_state(const char *ns, const char *name, const char *value)
{
	struct tt_message msg;
	size_t len = strlen(value);

	memset(&msg, 0, sizeof(msg));
	msg.topic.kind = TT_STATE;
	strcpy(msg.topic.ns, ns);
	strcpy(msg.topic.name, name);
	strcpy(msg.src, "home");
	strcpy(msg.id, id_of(1));
	msg.ts = NOW;
	msg.owned = malloc(len + 2);
	cr_assert_not_null(msg.owned);
	msg.owned[0] = '"';
	memcpy(msg.owned + 1, value, len);
	msg.owned[len + 1] = '"';
	msg.data = msg.owned;
	msg.data_len = len + 2;
	return msg;
}

/* Returns the cached string value on ns/name without its quotes, or NULL. */
static const char *
cached_value(struct tt_statecache *c, const char *ns, const char *name)
{
	static char value[32768];
	const struct tt_message *msg;
	bool retained;

	if (!tt_statecache_get(c, ns, name, &msg, &retained))
		return NULL;
	cr_assert(msg->data_len >= 2 && msg->data_len - 2 < sizeof(value));
	memcpy(value, msg->data + 1, msg->data_len - 2);
	value[msg->data_len - 2] = '\0';
	return value;
}

Test(statecache, stores_and_replaces_states)
{
	struct tt_statecache *c = tt_statecache_new(8, 0);
	struct tt_message a = cached_state("lamp", "kitchen", "on");
	struct tt_message b = cached_state("lamp", "kitchen", "off");
	const struct tt_message *got;
	bool retained = false;

	cr_assert_not_null(c);
	cr_assert_null(cached_value(c, "lamp", "kitchen"));
	cr_assert_eq(tt_statecache_put(c, &a, true), 0);
	tt_message_clear(&a);		/* the cache holds its own reference */
	cr_assert_str_eq(cached_value(c, "lamp", "kitchen"), "on");
	cr_assert(tt_statecache_get(c, "lamp", "kitchen", &got, &retained));
	cr_assert(retained);
	cr_assert_str_eq(got->src, "home");
	cr_assert_eq(got->ts, NOW);

	cr_assert_eq(tt_statecache_put(c, &b, false), 0);
	tt_message_clear(&b);
	cr_assert_str_eq(cached_value(c, "lamp", "kitchen"), "off");
	cr_assert(tt_statecache_get(c, "lamp", "kitchen", &got, &retained));
	cr_assert_not(retained);
	cr_assert_null(cached_value(c, "lamp", "hall"));
	cr_assert_null(cached_value(c, "lam", "p/kitchen"));
	tt_statecache_free(c);
	tt_statecache_free(NULL);
}

Test(statecache, puts_cached_message_again)
{
	struct tt_statecache *c = tt_statecache_new(8, 0);
	struct tt_message a = cached_state("lamp", "kitchen", "on");
	const struct tt_message *got;

	cr_assert_eq(tt_statecache_put(c, &a, true), 0);
	tt_message_clear(&a);
	cr_assert(tt_statecache_get(c, "lamp", "kitchen", &got, NULL));
	cr_assert_eq(tt_statecache_put(c, got, true), 0);
	cr_assert_str_eq(cached_value(c, "lamp", "kitchen"), "on");
	tt_statecache_free(c);
}

Test(statecache, evicts_least_recently_updated)
{
	struct tt_statecache *c = tt_statecache_new(2, 0);
	struct tt_message m;

	m = cached_state("lamp", "a", "1");
	cr_assert_eq(tt_statecache_put(c, &m, true), 0);
	tt_message_clear(&m);
	m = cached_state("lamp", "b", "2");
	cr_assert_eq(tt_statecache_put(c, &m, true), 0);
	tt_message_clear(&m);
	m = cached_state("lamp", "a", "3");
	cr_assert_eq(tt_statecache_put(c, &m, true), 0);
	tt_message_clear(&m);
	m = cached_state("lamp", "c", "4");
	cr_assert_eq(tt_statecache_put(c, &m, true), 0);
	tt_message_clear(&m);

	cr_assert_str_eq(cached_value(c, "lamp", "a"), "3");
	cr_assert_null(cached_value(c, "lamp", "b"));
	cr_assert_str_eq(cached_value(c, "lamp", "c"), "4");
	tt_statecache_free(c);
}

struct seen {
	char names[8][TT_PART_MAX + 1];
	int count;
};

static void
collect(void *arg, const struct tt_message *msg, bool retained)
{
	struct seen *s = arg;

	if (s->count < 8)
		strcpy(s->names[s->count], msg->topic.name);
	s->count++;
}

static bool
has(const struct seen *s, const char *name)
{
	for (int i = 0; i < s->count && i < 8; i++)
		if (strcmp(s->names[i], name) == 0)
			return true;
	return false;
}

Test(statecache, iterates_matching_states)
{
	struct tt_statecache *c = tt_statecache_new(0, 0);
	static const char *const topics[][2] = {
		{ "lamp", "kitchen" }, { "lamp", "hall" }, { "door", "front" }, { "door", "kitchen" },
	};
	struct seen s;
	struct tt_message m;

	for (size_t i = 0; i < 4; i++) {
		m = cached_state(topics[i][0], topics[i][1], "x");
		cr_assert_eq(tt_statecache_put(c, &m, true), 0);
		tt_message_clear(&m);
	}

	memset(&s, 0, sizeof(s));
	tt_statecache_each(c, "*", "*", collect, &s);
	cr_assert_eq(s.count, 4);

	memset(&s, 0, sizeof(s));
	tt_statecache_each(c, "lamp", "*", collect, &s);
	cr_assert_eq(s.count, 2);
	cr_assert(has(&s, "kitchen"));
	cr_assert(has(&s, "hall"));

	memset(&s, 0, sizeof(s));
	tt_statecache_each(c, "*", "kitchen", collect, &s);
	cr_assert_eq(s.count, 2);

	memset(&s, 0, sizeof(s));
	tt_statecache_each(c, "door", "front", collect, &s);
	cr_assert_eq(s.count, 1);
	cr_assert(has(&s, "front"));

	memset(&s, 0, sizeof(s));
	tt_statecache_each(c, "door", "hall", collect, &s);
	cr_assert_eq(s.count, 0);
	tt_statecache_free(c);
}

Test(statecache, rejects_message_without_data)
{
	struct tt_statecache *c = tt_statecache_new(4, 0);
	struct tt_message m = message(TT_STATE, "kitchen", "home", id_of(1), NOW);

	errno = 0;
	cr_assert_eq(tt_statecache_put(c, &m, true), -1);
	cr_assert_eq(errno, EINVAL);
	tt_statecache_free(c);
}

/* A state whose data is a string of len copies of c. */
static struct tt_message
sized_state(const char *name, size_t len, char c)
{
	struct tt_message msg;
	char *text = malloc(len + 1);

	cr_assert_not_null(text);
	memset(text, c, len);
	text[len] = '\0';
	msg = cached_state("lamp", name, text);
	free(text);
	return msg;
}

Test(statecache, byte_budget_drops_oldest_states)
{
	struct tt_message one = sized_state("one", 4000, 'a');
	struct tt_message two = sized_state("two", 4000, 'b');
	struct tt_message three = sized_state("three", 4000, 'c');
	struct tt_statecache *c = tt_statecache_new(64, 10000);

	cr_assert_eq(tt_statecache_put(c, &one, false), 0);
	cr_assert_eq(tt_statecache_put(c, &two, false), 0);
	cr_assert_eq(tt_statecache_put(c, &three, false), 0);
	cr_assert_null(cached_value(c, "lamp", "one"), "the oldest state should be dropped");
	cr_assert_not_null(cached_value(c, "lamp", "two"));
	cr_assert_not_null(cached_value(c, "lamp", "three"));

	tt_message_clear(&one);
	tt_message_clear(&two);
	tt_message_clear(&three);
	tt_statecache_free(c);
}

Test(statecache, state_over_budget_is_refused)
{
	struct tt_message small = sized_state("hall", 10, 'a');
	struct tt_message huge = sized_state("hall", 20000, 'b');
	struct tt_statecache *c = tt_statecache_new(64, 10000);

	cr_assert_eq(tt_statecache_put(c, &small, false), 0);
	cr_assert_eq(tt_statecache_put(c, &huge, false), -1);
	cr_assert_eq(errno, EFBIG);
	cr_assert_null(cached_value(c, "lamp", "hall"), "the older value must not outlive a refused update");

	tt_message_clear(&small);
	tt_message_clear(&huge);
	tt_statecache_free(c);
}
