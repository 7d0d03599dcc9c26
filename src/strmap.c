/* SPDX-License-Identifier: MIT */
/*
 * A chained hash table of caller-owned entries, keyed by byte strings.
 *
 * Buckets are a power of two, so a hash picks one with a mask. Each entry
 * keeps its full hash, which makes most mismatches cheap and lets the
 * table grow without hashing any key again.
 */
#include "strmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

struct tt_strmap {
	struct tt_strmap_entry **buckets;
	size_t mask;			/* bucket count - 1, a power of two minus one */
	size_t count;
	uint64_t seed;
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

struct tt_strmap *
tt_strmap_new(void)
{
	struct tt_strmap *t;

	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->mask = 15;
	t->buckets = calloc(t->mask + 1, sizeof(*t->buckets));
	if (t->buckets == NULL)
		goto fail;
	if (RAND_bytes((unsigned char *)&t->seed, sizeof(t->seed)) != 1) {
		errno = EIO;
		goto fail;
	}
	return t;
fail:
	tt_strmap_free(t);
	return NULL;
}

void
tt_strmap_free(struct tt_strmap *t)
{
	if (t == NULL)
		return;
	free(t->buckets);
	free(t);
}

size_t
tt_strmap_count(const struct tt_strmap *t)
{
	return t->count;
}

struct tt_strmap_entry *
tt_strmap_find(const struct tt_strmap *t, const char *key, size_t len)
{
	uint64_t h = hash(t->seed, key, len);

	for (struct tt_strmap_entry *n = t->buckets[h & t->mask]; n != NULL; n = n->next)
		if (n->hash == h && n->keylen == len && memcmp(n->key, key, len) == 0)
			return n;
	return NULL;
}

/* Doubles the bucket array once the load passes 1. Failing to grow is harmless. */
static void
grow(struct tt_strmap *t)
{
	struct tt_strmap_entry **b, *n, *next;
	size_t mask = t->mask * 2 + 1;

	if (t->count <= t->mask + 1 || mask < t->mask)
		return;
	b = calloc(mask + 1, sizeof(*b));
	if (b == NULL)
		return;
	for (size_t i = 0; i <= t->mask; i++) {
		for (n = t->buckets[i]; n != NULL; n = next) {
			next = n->next;
			n->next = b[n->hash & mask];
			b[n->hash & mask] = n;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->mask = mask;
}

void
tt_strmap_insert(struct tt_strmap *t, struct tt_strmap_entry *n, const char *key, size_t len)
{
	struct tt_strmap_entry **b;

	n->key = key;
	n->keylen = len;
	n->hash = hash(t->seed, key, len);
	b = &t->buckets[n->hash & t->mask];
	n->next = *b;
	*b = n;
	t->count++;
	grow(t);
}

void
tt_strmap_remove(struct tt_strmap *t, struct tt_strmap_entry *n)
{
	struct tt_strmap_entry **p = &t->buckets[n->hash & t->mask];

	while (*p != n)
		p = &(*p)->next;
	*p = n->next;
	t->count--;
}
