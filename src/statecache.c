/* SPDX-License-Identifier: MIT */
/*
 * The last verified state per topic: a chained hash table keyed by
 * ns "/" name (neither part contains '/', so the key is unambiguous) and a
 * list in update order. When the cache is full, a new topic replaces the
 * least recently updated one. Each entry holds a reference to the message's
 * JSON root, so the borrowed data pointer stays valid while it is cached.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "statecache.h"

#define KEY_MAX (2 * TT_PART_MAX + 2)

struct entry {
	struct entry *next;		/* bucket chain */
	struct entry *newer, *older;	/* update order */
	uint64_t hash;
	size_t keylen;
	char key[KEY_MAX];
	struct tt_message msg;
	bool retained;
};

struct tt_statecache {
	size_t capacity;
	uint64_t seed;
	struct entry **buckets;
	size_t mask;			/* bucket count - 1 */
	size_t count;
	struct entry *newest, *oldest;
};

/* FNV-1a with a random starting value and a final mix. */
static uint64_t
hash(uint64_t seed, const char *s, size_t len)
{
	uint64_t h = seed ^ 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

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
tt_statecache_new(size_t capacity)
{
	struct tt_statecache *c;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->capacity = capacity > 0 ? capacity : TT_STATECACHE_DEFAULT;
	c->mask = 15;
	c->buckets = calloc(c->mask + 1, sizeof(*c->buckets));
	if (c->buckets == NULL)
		goto fail;
	if (RAND_bytes((unsigned char *)&c->seed, sizeof(c->seed)) != 1) {
		errno = EIO;
		goto fail;
	}
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
	free(c->buckets);
	free(c);
}

static struct entry *
find(const struct tt_statecache *c, const char *key, size_t len, uint64_t h)
{
	for (struct entry *e = c->buckets[h & c->mask]; e != NULL; e = e->next)
		if (e->hash == h && e->keylen == len && memcmp(e->key, key, len) == 0)
			return e;
	return NULL;
}

/* Doubles the bucket array once the load passes 1. Failing to grow is harmless. */
static void
grow(struct tt_statecache *c)
{
	struct entry **b, *e, *next;
	size_t mask = c->mask * 2 + 1;

	if (c->count <= c->mask + 1 || mask < c->mask)
		return;
	b = calloc(mask + 1, sizeof(*b));
	if (b == NULL)
		return;
	for (size_t i = 0; i <= c->mask; i++) {
		for (e = c->buckets[i]; e != NULL; e = next) {
			next = e->next;
			e->next = b[e->hash & mask];
			b[e->hash & mask] = e;
		}
	}
	free(c->buckets);
	c->buckets = b;
	c->mask = mask;
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

/* Takes the least recently updated entry out of the table, for reuse. */
static struct entry *
evict(struct tt_statecache *c)
{
	struct entry *e = c->oldest, **p;

	unlink_entry(c, e);
	p = &c->buckets[e->hash & c->mask];
	while (*p != e)
		p = &(*p)->next;
	*p = e->next;
	c->count--;
	tt_message_clear(&e->msg);
	return e;
}

/* Adds an entry for a topic not yet cached. Returns it, or NULL when out of memory. */
static struct entry *
add(struct tt_statecache *c, const char *key, size_t len, uint64_t h)
{
	struct entry *e;

	if (c->count >= c->capacity) {
		e = evict(c);
	} else {
		e = calloc(1, sizeof(*e));
		if (e == NULL)
			return NULL;
	}
	memcpy(e->key, key, len);
	e->keylen = len;
	e->hash = h;
	e->next = c->buckets[h & c->mask];
	c->buckets[h & c->mask] = e;
	c->count++;
	push_newest(c, e);
	grow(c);
	return e;
}

int
tt_statecache_put(struct tt_statecache *c, const struct tt_message *msg, bool retained)
{
	struct tt_message copy;
	char key[KEY_MAX];
	size_t len;
	uint64_t h;
	struct entry *e;

	len = make_key(msg->topic.ns, msg->topic.name, key);
	if (len == 0 || msg->root == NULL) {
		errno = EINVAL;
		return -1;
	}
	h = hash(c->seed, key, len);

	/* Copied and referenced first, in case msg is the entry about to be cleared. */
	copy = *msg;
	json_incref(copy.root);
	e = find(c, key, len, h);
	if (e != NULL) {
		tt_message_clear(&e->msg);
		unlink_entry(c, e);
		push_newest(c, e);
	} else {
		e = add(c, key, len, h);
		if (e == NULL) {
			json_decref(copy.root);
			return -1;
		}
	}
	e->msg = copy;
	e->retained = retained;
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
	e = find(c, key, len, hash(c->seed, key, len));
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
