/* SPDX-License-Identifier: MIT */
/* The last verified state per topic, for tt.get() and for new listeners. */
#ifndef TT_STATECACHE_H
#define TT_STATECACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "envelope.h"

struct tt_statecache;

struct tt_statecache *tt_statecache_new(size_t capacity);
void tt_statecache_free(struct tt_statecache *cache);

/* Stores a verified state, replacing the previous one on its topic. The cache takes a reference to msg->root. */
int tt_statecache_put(struct tt_statecache *cache, const struct tt_message *msg, bool retained);

/* Finds the state on ns/name. The pointers stay valid until the next put. */
bool tt_statecache_get(const struct tt_statecache *cache, const char *ns, const char *name,
		       const struct tt_message **msg, bool *retained);

/* Calls fn for every cached state whose ns and name match the patterns ("*" matches any). */
void tt_statecache_each(const struct tt_statecache *cache, const char *ns, const char *name,
			void (*fn)(void *arg, const struct tt_message *msg, bool retained), void *arg);

#endif
