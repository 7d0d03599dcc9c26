/* SPDX-License-Identifier: MIT */
/* The last verified state per topic, for tt.get() and for new listeners. */
#ifndef TT_STATECACHE_H
#define TT_STATECACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "envelope.h"

#define TT_STATECACHE_DEFAULT 65536	/* topics */
#define TT_STATECACHE_BYTES_DEFAULT (64u << 20)	/* bytes of entries and their data text */

struct tt_statecache;

/*
 * Creates a cache of at most capacity topics (0 means TT_STATECACHE_DEFAULT)
 * and at most max_bytes of memory for entries and data text (0 means
 * TT_STATECACHE_BYTES_DEFAULT). When it is full, the least recently updated
 * topics are dropped. Returns NULL with errno ENOMEM or EIO (no random hash
 * seed).
 */
struct tt_statecache *tt_statecache_new(size_t capacity, size_t max_bytes);
void tt_statecache_free(struct tt_statecache *cache);

/*
 * Stores a copy of a verified state, replacing the previous one on its
 * topic. Returns 0, or -1 with errno EINVAL (msg has no data), ENOMEM, or
 * EFBIG (the state alone exceeds max_bytes: it is not cached and the
 * topic's older state is dropped).
 */
int tt_statecache_put(struct tt_statecache *cache, const struct tt_message *msg, bool retained);

/* Finds the state on ns/name. The pointers stay valid until the next put. retained may be NULL. */
bool tt_statecache_get(const struct tt_statecache *cache, const char *ns, const char *name,
		       const struct tt_message **msg, bool *retained);

/*
 * Calls fn for every cached state whose ns and name match the patterns
 * ("*" matches any), most recently updated first. fn must not put into
 * the cache.
 */
void tt_statecache_each(const struct tt_statecache *cache, const char *ns, const char *name,
			void (*fn)(void *arg, const struct tt_message *msg, bool retained), void *arg);

#endif
