/* SPDX-License-Identifier: MIT */
/*
 * The last verified state per topic: a hash table (strmap.c) keyed by
 * ns "/" name (neither part contains '/', so the key is unambiguous) and a
 * list in update order. When the cache is full, a new topic replaces the
 * least recently updated one. Each entry keeps its own copy of the data
 * text, which the Lua bridge reads each time a rule gets the state.
 *
 * The cache is also bounded in bytes: each entry is charged its size and
 * its data text, and the least recently updated entries go until the total
 * fits.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "statecache.h"
#include "strmap.h"

#define KEY_MAX (2 * TT_PART_MAX + 2)

struct entry {
	struct tt_strmap_entry node;	/* first, so a found entry is its record */
	struct entry *newer, *older;	/* update order */
	char key[KEY_MAX];
	struct tt_message msg;
	bool retained;
	size_t cost;			/* bytes charged: the entry and its data text */
};

struct tt_statecache {
	size_t capacity;
	size_t max_bytes;
	size_t bytes;			/* sum of the entries' costs */
	struct tt_strmap *map;
	struct entry *newest, *oldest;
};

/* Writes ns "/" name into key[KEY_MAX]. Returns the length, or 0 when a part is too long. */
static size_t
make_key(const char *ns, const char *name, char *key)
{
	size_t nslen = strlen(ns), namelen = strlen(name);

	if (nslen > TT_PART_MAX || namelen > TT_PART_MAX)
		return 0;
	memcpy(key, ns, nslen);
	key[nslen] = '/';
	memcpy(key + nslen + 1, name, namelen);
	return nslen + 1 + namelen;
}

struct tt_statecache *
tt_statecache_new(size_t capacity, size_t max_bytes)
{
	struct tt_statecache *c;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->capacity = capacity > 0 ? capacity : TT_STATECACHE_DEFAULT;
	c->max_bytes = max_bytes > 0 ? max_bytes : TT_STATECACHE_BYTES_DEFAULT;
	c->map = tt_strmap_new();
	if (c->map == NULL)
		goto fail;
	return c;
fail:
	tt_statecache_free(c);
	return NULL;
}

void
tt_statecache_free(struct tt_statecache *c)
{
	struct entry *e, *older;

	if (c == NULL)
		return;
	for (e = c->newest; e != NULL; e = older) {
		older = e->older;
		tt_message_clear(&e->msg);
		free(e);
	}
	tt_strmap_free(c->map);
	free(c);
}

static void
unlink_entry(struct tt_statecache *c, struct entry *e)
{
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
}

static void
push_newest(struct tt_statecache *c, struct entry *e)
{
	e->newer = NULL;
	e->older = c->newest;
	if (c->newest != NULL)
		c->newest->newer = e;
	else
		c->oldest = e;
	c->newest = e;
}

/* Takes an entry out of the table and releases its message, for reuse. */
static struct entry *
take(struct tt_statecache *c, struct entry *e)
{
	unlink_entry(c, e);
	tt_strmap_remove(c->map, &e->node);
	tt_message_clear(&e->msg);
	c->bytes -= e->cost;
	e->cost = 0;
	return e;
}

/* Drops the least recently updated entries, but never keep, until the total fits. */
static void
shrink(struct tt_statecache *c, const struct entry *keep)
{
	while (c->bytes > c->max_bytes && c->oldest != NULL && c->oldest != keep)
		free(take(c, c->oldest));
}

/* Adds an entry for a topic not yet cached. Returns it, or NULL when out of memory. */
static struct entry *
add(struct tt_statecache *c, const char *key, size_t len)
{
	struct entry *e;

	if (tt_strmap_count(c->map) >= c->capacity) {
		e = take(c, c->oldest);
	} else {
		e = calloc(1, sizeof(*e));
		if (e == NULL)
			return NULL;
	}
	memcpy(e->key, key, len);
	tt_strmap_insert(c->map, &e->node, e->key, len);
	push_newest(c, e);
	return e;
}

int
tt_statecache_put(struct tt_statecache *c, const struct tt_message *msg, bool retained)
{
	struct tt_message copy;
	char key[KEY_MAX];
	size_t len, cost;
	struct entry *e;

	len = make_key(msg->topic.ns, msg->topic.name, key);
	if (len == 0 || msg->data == NULL) {
		errno = EINVAL;
		return -1;
	}
	cost = sizeof(struct entry) + msg->data_len;
	if (cost > c->max_bytes) {
		/* Too big to keep: drop the older value too, so tt.get never returns it. */
		e = (struct entry *)tt_strmap_find(c->map, key, len);
		if (e != NULL)
			free(take(c, e));
		errno = EFBIG;
		return -1;
	}

	/* Copied first, in case msg is the entry about to be cleared. */
	if (tt_message_copy(&copy, msg) == -1)
		return -1;
	e = (struct entry *)tt_strmap_find(c->map, key, len);
	if (e != NULL) {
		tt_message_clear(&e->msg);
		c->bytes -= e->cost;
		unlink_entry(c, e);
		push_newest(c, e);
	} else {
		e = add(c, key, len);
		if (e == NULL) {
			tt_message_clear(&copy);
			return -1;
		}
	}
	e->msg = copy;
	e->retained = retained;
	e->cost = cost;
	c->bytes += cost;
	shrink(c, e);
	return 0;
}

bool
tt_statecache_get(const struct tt_statecache *c, const char *ns, const char *name,
		  const struct tt_message **msg, bool *retained)
{
	char key[KEY_MAX];
	size_t len;
	struct entry *e;

	len = make_key(ns, name, key);
	if (len == 0)
		return false;
	e = (struct entry *)tt_strmap_find(c->map, key, len);
	if (e == NULL)
		return false;
	*msg = &e->msg;
	if (retained != NULL)
		*retained = e->retained;
	return true;
}

void
tt_statecache_each(const struct tt_statecache *c, const char *ns, const char *name,
		   void (*fn)(void *arg, const struct tt_message *msg, bool retained), void *arg)
{
	const struct tt_message *msg;
	bool retained;

	/* Two literal parts name at most one topic: a lookup, not a walk. */
	if (strcmp(ns, "*") != 0 && strcmp(name, "*") != 0) {
		if (tt_statecache_get(c, ns, name, &msg, &retained))
			fn(arg, msg, retained);
		return;
	}
	for (struct entry *e = c->newest; e != NULL; e = e->older)
		if (tt_topic_part_matches(ns, e->msg.topic.ns) &&
		    tt_topic_part_matches(name, e->msg.topic.name))
			fn(arg, &e->msg, e->retained);
}
