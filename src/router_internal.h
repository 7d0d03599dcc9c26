/* SPDX-License-Identifier: MIT */
/*
 * The router's state, shared by router.c (message flow and the rules'
 * host), ruleset.c (loading and reloading rules) and presence.c (the
 * online/offline and stats states). Not for use outside those files.
 */
#ifndef TT_ROUTER_INTERNAL_H
#define TT_ROUTER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "inbox.h"
#include "keyring.h"
#include "loop.h"
#include "mqtt.h"
#include "outbox.h"
#include "router.h"
#include "rule.h"
#include "sender.h"
#include "statecache.h"

#define TT_ORIGINS 256
#define TT_SHUTDOWN_WAIT_MS 5000

struct rule_set {
	struct tt_rule **rules;
	size_t n;
};

/* A state listener that still has to receive the cached states it matches. */
struct replay {
	struct tt_rule *rule;
	char ns[TT_PART_MAX + 1];
	char name[TT_PART_MAX + 1];
};

struct tt_router {
	const struct tt_config *cfg;
	struct tt_keyring *keys;
	const char *lua_dir;
	bool watch_rules;

	struct tt_loop *loop;
	struct tt_mqtt *mqtt;
	struct tt_inbox inbox;
	struct tt_statecache *states;
	struct tt_sender sender;
	struct tt_host host;
	struct tt_rule_limits limits;
	struct rule_set rules;

	struct replay *replays;
	size_t nreplays, replays_cap;

	struct tt_outbox outbox;

	/* Which rule emitted each of our recent messages, to name both ends of a hop loop. */
	struct origin {
		char id[TT_ID_LEN + 1];
		char rule[64];
	} origins[TT_ORIGINS];
	unsigned origin_next;

	/* QoS 2 messages published and not yet completed, by MQTT message id. */
	uint8_t inflight_bits[65536 / 8];
	size_t inflight;

	uint64_t emitted;
	uint64_t emit_failures;
	uint64_t hop_limit_hits;

	int64_t presence_ts;		/* ts of the last online state */
	int64_t next_stats_ms;

	bool stopping;
	int64_t stop_deadline_ms;
	bool disconnect_sent;

	int inotify_fd;
	int64_t reload_at_ms;		/* 0: no reload pending */

	struct tt_loop_source tick_source;
	struct tt_loop_source watch_source;
};

/* ruleset.c */
int tt_ruleset_load(struct tt_router *r, struct rule_set *set, char *err, size_t errsize);
void tt_ruleset_free(struct tt_router *r, struct rule_set *set);
int tt_ruleset_watch(struct tt_router *r);

/* presence.c */
void tt_presence_prepare_will(void *arg);
void tt_presence_online(struct tt_router *r);
void tt_presence_offline(struct tt_router *r);
void tt_presence_stats(struct tt_router *r);

/* router.c */
int tt_router_publish(struct tt_router *r, const struct tt_outgoing *out, char *id);

#endif
