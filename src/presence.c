/* SPDX-License-Identifier: MIT */
/*
 * The router's own states: presence on {prefix}/state/tattletale/{app}
 * ("online" after each connect, "offline" from a pre-signed last will or
 * at a clean stop) and counters on {prefix}/state/tattletale/{app}.stats.
 *
 * Receivers reject a state older than the last one on its topic. So the
 * will is signed just before each connect, with a ts one millisecond after
 * the online state that follows it. The offline state of a clean stop is
 * later still.
 */
#include "router_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "autoconfig.h"
#include "log.h"

#define PRESENCE_NS "tattletale"

static int
presence_outgoing(struct tt_router *r, const char *status, int64_t ts, struct tt_outgoing *out,
		  char *json, size_t size)
{
	int len = snprintf(json, size, "{\"status\":\"%s\",\"version\":\"%s\"}", status,
			   PACKAGE_VERSION);

	*out = (struct tt_outgoing){ TT_STATE, PRESENCE_NS, r->cfg->app, json, (size_t)len, 0, ts, NULL };
	return 0;
}

void
tt_presence_prepare_will(void *arg)
{
	struct tt_router *r = arg;
	char json[128], topic[TT_TOPIC_MAX + 1], err[256];
	struct tt_outgoing out;
	size_t len;
	char *payload;

	r->presence_ts = tt_now_wall_ms();
	presence_outgoing(r, "offline", r->presence_ts + 1, &out, json, sizeof(json));
	payload = tt_sender_sign(&r->sender, &out, topic, sizeof(topic), NULL, &len, err,
				 sizeof(err));
	if (payload == NULL) {
		tt_log(TT_LOG_ERROR, "presence", "cannot sign the last will error=\"%s\"", err);
		return;
	}
	if (tt_mqtt_set_will(r->mqtt, topic, payload, len, 1, true) < 0)
		tt_log(TT_LOG_ERROR, "presence", "cannot set the last will topic=%s", topic);
	free(payload);
}

void
tt_presence_online(struct tt_router *r)
{
	char json[128];
	struct tt_outgoing out;

	presence_outgoing(r, "online", r->presence_ts, &out, json, sizeof(json));
	if (tt_router_publish(r, &out, NULL) < 0)
		tt_log(TT_LOG_WARN, "presence", "cannot publish the online state");
}

void
tt_presence_offline(struct tt_router *r)
{
	char json[128];
	struct tt_outgoing out;
	int64_t ts = tt_now_wall_ms();

	if (ts <= r->presence_ts + 1)
		ts = r->presence_ts + 2;
	presence_outgoing(r, "offline", ts, &out, json, sizeof(json));
	if (tt_router_publish(r, &out, NULL) < 0)
		tt_log(TT_LOG_WARN, "presence", "cannot publish the offline state");
}

static json_t *
rule_counters(const struct rule_set *set)
{
	json_t *rules = json_object();

	for (size_t i = 0; i < set->n && rules != NULL; i++) {
		const struct tt_rule_stats *s = tt_rule_stats(set->rules[i]);
		json_object_set_new(rules, tt_rule_name(set->rules[i]),
				    json_pack("{s:I,s:I,s:I,s:I,s:b}",
					      "handled", (json_int_t)s->handled,
					      "errors", (json_int_t)s->errors,
					      "budget_hits", (json_int_t)s->budget_hits,
					      "emits", (json_int_t)s->emits,
					      "disabled", tt_rule_disabled(set->rules[i])));
	}
	return rules;
}

void
tt_presence_stats(struct tt_router *r)
{
	json_t *root, *rejected = json_object();
	char name[TT_PART_MAX + 1];
	struct tt_outgoing out;
	char *json;

	for (int i = 1; i < TT_REPEAT; i++)
		json_object_set_new(rejected, tt_reason_name(i),
				    json_integer((json_int_t)r->inbox.rejected[i]));
	root = json_pack("{s:I,s:o,s:I,s:I,s:I,s:I,s:o}",
			 "accepted", (json_int_t)r->inbox.accepted,
			 "rejected", rejected,
			 "emitted", (json_int_t)r->emitted,
			 "hop_limit_hits", (json_int_t)r->hop_limit_hits,
			 "outbox", (json_int_t)r->outbox.count,
			 "outbox_dropped", (json_int_t)(r->outbox.dropped + r->outbox.expired),
			 "rules", rule_counters(&r->rules));
	json = root != NULL ? json_dumps(root, JSON_COMPACT) : NULL;
	json_decref(root);
	if (json == NULL) {
		tt_log(TT_LOG_WARN, "presence", "cannot build the stats state");
		return;
	}

	snprintf(name, sizeof(name), "%s.stats", r->cfg->app);
	out = (struct tt_outgoing){ TT_STATE, PRESENCE_NS, name, json, strlen(json), 0, 0, NULL };
	if (tt_router_publish(r, &out, NULL) < 0)
		tt_log(TT_LOG_WARN, "presence", "cannot publish the stats state");
	free(json);
}
