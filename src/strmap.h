/* SPDX-License-Identifier: MIT */
/*
 * A hash table from byte-string keys to entries that the caller embeds in
 * its own records (an intrusive table), with a random seed per table.
 *
 * The table never allocates or frees entries, so inserting cannot fail and
 * a record can move from one key to another without an allocation. Find,
 * insert and remove cost O(1) expected. The table doubles its bucket array
 * as it fills, and only a failed grow leaves longer chains behind.
 *
 * NOTE: the hash is FNV-1a with a random seed, fast but not a keyed hash
 * such as SipHash. It suits keys taken from messages whose signature
 * matched, as in fresh.c and statecache.c, where only a key holder could
 * try to force collisions.
 */
#ifndef TT_STRMAP_H
#define TT_STRMAP_H

#include <stddef.h>
#include <stdint.h>

/* The part of a record that the table links. Embed it, and let the table fill it in. */
struct tt_strmap_entry {
	struct tt_strmap_entry *next;	/* bucket chain */
	uint64_t hash;
	const char *key;		/* not copied: stays valid while the entry is in a table */
	size_t keylen;
};

struct tt_strmap;

/* Creates an empty table. Returns NULL with errno ENOMEM or EIO (no random seed). */
struct tt_strmap *tt_strmap_new(void);

/* Frees the table but not the entries in it, which the caller owns. NULL is allowed. */
void tt_strmap_free(struct tt_strmap *map);

/* Returns the number of entries in map. */
size_t tt_strmap_count(const struct tt_strmap *map);

/* Finds the entry whose key is the keylen bytes at key. Returns it, or NULL. */
struct tt_strmap_entry *tt_strmap_find(const struct tt_strmap *map, const char *key,
				       size_t keylen);

/*
 * Adds entry under the keylen bytes at key, which must stay valid until the
 * entry is removed, usually because they are in the record itself. The key
 * must not be in map already: look it up with tt_strmap_find first.
 */
void tt_strmap_insert(struct tt_strmap *map, struct tt_strmap_entry *entry, const char *key,
		      size_t keylen);

/* Takes entry, which must be in map, out of it. */
void tt_strmap_remove(struct tt_strmap *map, struct tt_strmap_entry *entry);

#endif
