/* SPDX-License-Identifier: MIT */
/*
 * Freshness of verified messages (step 5 of protocol v1).
 *
 * Events and actions: a hash table (strmap.c) of the accepted (src, id) pairs
 * plus a binary min-heap of the same entries ordered by ts. The heap keeps
 * each ts next to its entry's pointer, so ordering it reads one array.
 * Entries whose ts fell out of the window are popped from the heap before
 * each insert. When the cache is still full, the entry with the smallest ts
 * is evicted and its ts becomes the floor. From then on every ts at or
 * below the floor is stale, so the forgotten pair can never be accepted
 * again.
 *
 * States: the (ts, id) of the last accepted state per topic, in a second
 * hash table with a list ordered by last update for eviction.
 *
 * Every operation costs O(1) expected or O(log n); nothing scans the cache.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fresh.h"
#include "strmap.h"

/* An accepted event or action; the key is src "\n" id. */
#define SEEN_KEY_MAX (TT_SRC_MAX + 1 + TT_ID_MAX)

struct seen {
	struct tt_strmap_entry node;	/* first, so a found entry is its record */
	char key[];			/* src "\n" id, sized to fit: the cache holds many */
};

/* A place in the heap: an accepted pair and its ts. */
struct slot {
	int64_t ts;
	struct seen *seen;
};

/* The last accepted state of one topic; the key is ns "/" name. */
struct last {
	struct tt_strmap_entry node;	/* first, so a found entry is its record */
	struct last *newer, *older;	/* update order */
	int64_t ts;
	char id[TT_ID_MAX + 1];
	char key[2 * TT_PART_MAX + 2];
};

struct tt_fresh {
	struct tt_fresh_opts opts;

	struct tt_strmap *ids;
	struct slot *heap;		/* min-heap by ts, one slot per entry of ids */
	size_t heap_alloc;
	int64_t floor;			/* every ts at or below it is stale */

	struct tt_strmap *states;
	struct last *newest, *oldest;
};

struct tt_fresh *
tt_fresh_new(const struct tt_fresh_opts *opts)
{
	struct tt_fresh *f;

	if (opts != NULL && (opts->past_ms < 0 || opts->future_ms < 0)) {
		errno = EINVAL;
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	if (opts != NULL) {
		f->opts = *opts;
	} else {
		f->opts.past_ms = TT_PAST_DEFAULT_MS;
		f->opts.future_ms = TT_FUTURE_DEFAULT_MS;
	}
	if (f->opts.id_capacity == 0)
		f->opts.id_capacity = TT_ID_CACHE_DEFAULT;
	if (f->opts.state_capacity == 0)
		f->opts.state_capacity = TT_STATE_TOPICS_DEFAULT;
	f->floor = -1;

	f->ids = tt_strmap_new();
	if (f->ids == NULL)
		goto fail;
	f->states = tt_strmap_new();
	if (f->states == NULL)
		goto fail;
	return f;
fail:
	tt_fresh_free(f);
	return NULL;
}

void
tt_fresh_free(struct tt_fresh *f)
{
	struct last *l, *older;

	if (f == NULL)
		return;
	for (size_t i = 0; f->ids != NULL && i < tt_strmap_count(f->ids); i++)
		free(f->heap[i].seen);
	for (l = f->newest; l != NULL; l = older) {
		older = l->older;
		free(l);
	}
	free(f->heap);
	tt_strmap_free(f->ids);
	tt_strmap_free(f->states);
	free(f);
}

static void
heap_swap(struct slot *heap, size_t i, size_t j)
{
	struct slot tmp = heap[i];

	heap[i] = heap[j];
	heap[j] = tmp;
}

/* Adds the newest slot, already in the last place heap[i], to the heap order. */
static void
heap_up(struct slot *heap, size_t i)
{
	while (i > 0 && heap[(i - 1) / 2].ts > heap[i].ts) {
		heap_swap(heap, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void
heap_down(struct slot *heap, size_t count)
{
	size_t i = 0, child;

	for (;;) {
		child = 2 * i + 1;
		if (child >= count)
			return;
		if (child + 1 < count && heap[child + 1].ts < heap[child].ts)
			child++;
		if (heap[i].ts <= heap[child].ts)
			return;
		heap_swap(heap, i, child);
		i = child;
	}
}

/* Forgets the entry with the smallest ts. Returns its ts. */
static int64_t
pop_oldest(struct tt_fresh *f)
{
	struct slot oldest = f->heap[0];

	tt_strmap_remove(f->ids, &oldest.seen->node);
	f->heap[0] = f->heap[tt_strmap_count(f->ids)];
	heap_down(f->heap, tt_strmap_count(f->ids));
	free(oldest.seen);
	return oldest.ts;
}

/*
 * Drops the entries that can no longer pass the window. They still raise
 * the floor, which only matters when the wall clock steps back: a forgotten
 * pair then stays rejected instead of becoming acceptable again.
 */
static void
expire(struct tt_fresh *f, int64_t lo)
{
	int64_t ts;

	while (tt_strmap_count(f->ids) > 0 && f->heap[0].ts < lo) {
		ts = pop_oldest(f);
		if (ts > f->floor)
			f->floor = ts;
	}
}

/* Stores an accepted (src, id). Returns 0, or -1 when out of memory. */
static int
remember(struct tt_fresh *f, const char *key, size_t len, int64_t ts)
{
	size_t count = tt_strmap_count(f->ids);
	struct slot *heap;
	struct seen *s;
	size_t alloc;

	if (count == f->heap_alloc) {
		alloc = f->heap_alloc == 0 ? 64 : f->heap_alloc * 2;
		if (alloc > f->opts.id_capacity)
			alloc = f->opts.id_capacity;
		heap = realloc(f->heap, alloc * sizeof(*heap));
		if (heap == NULL)
			return -1;
		f->heap = heap;
		f->heap_alloc = alloc;
	}
	s = malloc(sizeof(*s) + len);
	if (s == NULL)
		return -1;
	memcpy(s->key, key, len);

	f->heap[count] = (struct slot){ .ts = ts, .seen = s };
	tt_strmap_insert(f->ids, &s->node, s->key, len);
	heap_up(f->heap, count);
	return 0;
}

static int64_t
sub_sat(int64_t a, int64_t b)
{
	int64_t r;

	return __builtin_sub_overflow(a, b, &r) ? INT64_MIN : r;
}

static int64_t
add_sat(int64_t a, int64_t b)
{
	int64_t r;

	return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

static enum tt_reason
check_event(struct tt_fresh *f, const struct tt_message *msg, bool retained, int64_t now)
{
	int64_t lo = sub_sat(now, f->opts.past_ms);
	char key[SEEN_KEY_MAX];
	size_t srclen = strlen(msg->src), idlen = strlen(msg->id), len;

	if (retained)
		return TT_RETAINED_EVENT;
	if (msg->ts < lo || msg->ts <= f->floor)
		return TT_STALE;
	if (msg->ts > add_sat(now, f->opts.future_ms))
		return TT_FUTURE;

	memcpy(key, msg->src, srclen);
	key[srclen] = '\n';
	memcpy(key + srclen + 1, msg->id, idlen);
	len = srclen + 1 + idlen;
	expire(f, lo);
	if (tt_strmap_find(f->ids, key, len) != NULL)
		return TT_REPLAY;

	/* Full of live entries: give up the oldest and never accept its ts again. */
	if (tt_strmap_count(f->ids) >= f->opts.id_capacity) {
		if (msg->ts <= f->heap[0].ts)
			return TT_STALE;
		f->floor = pop_oldest(f);
	}

	/*
	 * NOTE: a pair that cannot be stored for lack of memory is rejected as
	 * stale, because accepting it unremembered would let its replay in.
	 */
	if (remember(f, key, len, msg->ts) == -1)
		return TT_STALE;
	return TT_OK;
}

static void
unlink_last(struct tt_fresh *f, struct last *l)
{
	if (l->newer != NULL)
		l->newer->older = l->older;
	else
		f->newest = l->older;
	if (l->older != NULL)
		l->older->newer = l->newer;
	else
		f->oldest = l->newer;
}

static void
push_newest(struct tt_fresh *f, struct last *l)
{
	l->newer = NULL;
	l->older = f->newest;
	if (f->newest != NULL)
		f->newest->newer = l;
	else
		f->oldest = l;
	f->newest = l;
}

/* A new topic: evicts the least recently updated one when the table is full. */
static struct last *
add_topic(struct tt_fresh *f, const char *key, size_t len)
{
	struct last *l;

	/*
	 * NOTE: an evicted topic loses its rollback protection: an older
	 * state for it is accepted again until a newer one is seen.
	 */
	if (tt_strmap_count(f->states) >= f->opts.state_capacity) {
		l = f->oldest;
		unlink_last(f, l);
		tt_strmap_remove(f->states, &l->node);
	} else {
		l = malloc(sizeof(*l));
		if (l == NULL)
			return NULL;
	}
	memcpy(l->key, key, len);
	tt_strmap_insert(f->states, &l->node, l->key, len);
	push_newest(f, l);
	return l;
}

static enum tt_reason
check_state(struct tt_fresh *f, const struct tt_message *msg)
{
	char key[sizeof(((struct last *)0)->key)];
	size_t nslen = strlen(msg->topic.ns), namelen = strlen(msg->topic.name), len;
	struct last *l;

	memcpy(key, msg->topic.ns, nslen);
	key[nslen] = '/';
	memcpy(key + nslen + 1, msg->topic.name, namelen);
	len = nslen + 1 + namelen;

	l = (struct last *)tt_strmap_find(f->states, key, len);
	if (l != NULL) {
		if (msg->ts < l->ts)
			return TT_ROLLBACK;
		if (msg->ts == l->ts && strcmp(msg->id, l->id) == 0)
			return TT_REPEAT;
		unlink_last(f, l);
		push_newest(f, l);
	} else {
		/* NOTE: out of memory, the state is rejected like a rollback. */
		l = add_topic(f, key, len);
		if (l == NULL)
			return TT_ROLLBACK;
	}
	l->ts = msg->ts;
	strcpy(l->id, msg->id);
	return TT_OK;
}

enum tt_reason
tt_fresh_check(struct tt_fresh *f, const struct tt_message *msg, const char *topic,
	       bool retained, int64_t now_ms)
{
	if (msg->topic.kind == TT_STATE)
		return check_state(f, msg);
	return check_event(f, msg, retained, now_ms);
}

int64_t
tt_fresh_floor(const struct tt_fresh *f, int64_t now_ms)
{
	int64_t lo = sub_sat(now_ms, f->opts.past_ms);

	return f->floor >= lo ? add_sat(f->floor, 1) : lo;
}
