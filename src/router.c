/* SPDX-License-Identifier: MIT */
/*
 * The router's message flow: broker message -> inbox -> state cache ->
 * every rule's matching handlers; and rule emits -> hop check -> sign ->
 * publish, or the outbox while the broker is away. It also implements
 * struct tt_host for the rules and the clean shutdown on SIGTERM.
 */
#include "router_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <signal.h>

#include "cli.h"
#include "log.h"

/* ---- publishing ---- */

static void
inflight_add(struct tt_router *r, int mid)
{
	uint16_t m = (uint16_t)mid;

	if (!(r->inflight_bits[m / 8] & (1u << (m % 8)))) {
		r->inflight_bits[m / 8] |= (uint8_t)(1u << (m % 8));
		r->inflight++;
	}
}

static void
on_published(void *arg, int mid)
{
	struct tt_router *r = arg;
	uint16_t m = (uint16_t)mid;

	if (r->inflight_bits[m / 8] & (1u << (m % 8))) {
		r->inflight_bits[m / 8] &= (uint8_t)~(1u << (m % 8));
		r->inflight--;
	}
}

/* Signs and publishes now. Returns 0, or -1 with errno (ENOTCONN when the broker is away). */
static int
send_now(void *arg, const struct tt_outgoing *out, const char *id)
{
	struct tt_router *r = arg;
	struct tt_outgoing stamped = *out;
	char err[512];
	int mid;

	stamped.id = id;
	if (tt_sender_send(&r->sender, &stamped, NULL, &mid, err, sizeof(err)) < 0) {
		if (errno != ENOTCONN)
			tt_log(TT_LOG_ERROR, "router", "publish failed error=\"%s\"", err);
		return -1;
	}
	if (tt_kind_qos(out->kind) > 0)
		inflight_add(r, mid);
	return 0;
}

/* Sends what waited for the broker; called on connect and then on every tick until empty. */
static void
outbox_flush(struct tt_router *r)
{
	uint64_t expired = r->outbox.expired;
	size_t sent;

	if (r->outbox.count == 0 || !tt_mqtt_connected(r->mqtt))
		return;
	sent = tt_outbox_flush(&r->outbox, send_now, r, tt_now_wall_ms(), r->cfg->window.past_ms);
	if (sent > 0 || r->outbox.expired > expired)
		tt_log(TT_LOG_INFO, "router", "outbox flushed sent=%zu expired=%llu left=%zu", sent,
		       (unsigned long long)(r->outbox.expired - expired), r->outbox.count);
}

/*
 * Signs and publishes, or queues while the broker is away; writes the
 * message id into id (may be NULL). Returns 0, or -1 with errno when the
 * message could be neither sent nor queued.
 */
int
tt_router_publish(struct tt_router *r, const struct tt_outgoing *out, char *id)
{
	char fresh_id[TT_ID_LEN + 1], topic[TT_TOPIC_MAX + 1], escaped[TT_TOPIC_MAX + 64];

	if (tt_envelope_new_id(fresh_id) < 0)
		return -1;
	if (id != NULL)
		memcpy(id, fresh_id, sizeof(fresh_id));

	/* Keep the order: nothing overtakes what is already queued. */
	if (r->outbox.count == 0 && send_now(r, out, fresh_id) == 0)
		return 0;
	if (r->outbox.count == 0 && errno != ENOTCONN)
		return -1;

	if (tt_outbox_push(&r->outbox, out, fresh_id, tt_now_wall_ms()) < 0) {
		int saved = errno;
		tt_topic_format(topic, sizeof(topic), r->cfg->topic_prefix, out->kind, out->ns,
				out->name, false);
		tt_log(TT_LOG_WARN, "router", "outbox full, message dropped topic=%s queued=%zu "
		       "dropped=%llu", tt_log_escape(topic, strlen(topic), escaped, sizeof(escaped)),
		       r->outbox.count, (unsigned long long)r->outbox.dropped);
		errno = saved;
		return saved == ENOBUFS ? 0 : -1;
	}
	return 0;
}

/* ---- the rules' host ---- */

static const char *
origin_of(const struct tt_router *r, const struct tt_message *in)
{
	if (in == NULL || in->id[0] == '\0' || strcmp(in->src, r->cfg->app) != 0)
		return NULL;
	for (unsigned i = 0; i < TT_ORIGINS; i++)
		if (strcmp(r->origins[i].id, in->id) == 0)
			return r->origins[i].rule;
	return NULL;
}

/* Copies src into dst[size], cut to fit. */
static void
copy_string(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void
remember_origin(struct tt_router *r, const char *id, struct tt_rule *rule)
{
	struct origin *o = &r->origins[r->origin_next++ % TT_ORIGINS];

	/* Copied by hand, because this runs for every emit and snprintf showed in profiles. */
	copy_string(o->id, sizeof(o->id), id);
	copy_string(o->rule, sizeof(o->rule), tt_rule_name(rule));
}

static int
host_emit(void *ctx, struct tt_rule *rule, enum tt_kind kind, const char *ns, const char *name,
	  const char *json, size_t len, const struct tt_message *in, char *err, size_t errsize)
{
	struct tt_router *r = ctx;
	/* Compared before adding, since a received hop may be as large as INT64_MAX. */
	bool over = in != NULL && in->hop >= r->cfg->limits.hops;
	struct tt_outgoing out = { kind, ns, name, json, len, 0, 0, NULL };
	char id[TT_ID_LEN + 1];

	if (over) {
		const char *origin = origin_of(r, in);
		r->hop_limit_hits++;
		tt_log(TT_LOG_WARN, "router", "hop limit reached rule=%s emit=%s/%s/%s "
		       "received_hop=%lld limit=%d received_from=%s%s%s", tt_rule_name(rule),
		       tt_kind_name(kind), ns, name, (long long)in->hop, r->cfg->limits.hops,
		       in->src, origin ? " previous_rule=" : "", origin ? origin : "");
		snprintf(err, errsize, "hop limit %d reached: the message being handled is hop "
			 "%lld; rules may be emitting in a loop", r->cfg->limits.hops,
			 (long long)in->hop);
		return -1;
	}
	if (in != NULL)
		out.hop = in->hop + 1;
	if (tt_router_publish(r, &out, id) < 0) {
		r->emit_failures++;
		snprintf(err, errsize, "emit failed: %s", strerror(errno));
		return -1;
	}
	remember_origin(r, id, rule);
	r->emitted++;
	return 0;
}

static int
host_listen(void *ctx, struct tt_rule *rule, enum tt_kind kind, const char *ns, const char *name)
{
	struct tt_router *r = ctx;
	char filter[TT_TOPIC_MAX + 1];
	struct replay *rp;

	if (tt_topic_format(filter, sizeof(filter), r->cfg->topic_prefix, kind, ns, name, true) < 0)
		return -1;
	if (tt_mqtt_subscribe(r->mqtt, filter, tt_kind_qos(kind)) < 0)
		return -1;
	if (kind != TT_STATE)
		return 0;

	/* A new state listener gets the cached states it matches, after the current call. */
	if (r->nreplays == r->replays_cap) {
		size_t cap = r->replays_cap ? r->replays_cap * 2 : 16;
		rp = realloc(r->replays, cap * sizeof(*rp));
		if (rp == NULL)
			return 0;
		r->replays = rp;
		r->replays_cap = cap;
	}
	rp = &r->replays[r->nreplays++];
	rp->rule = rule;
	snprintf(rp->ns, sizeof(rp->ns), "%s", ns);
	snprintf(rp->name, sizeof(rp->name), "%s", name);
	return 0;
}

static void
host_unlisten(void *ctx, struct tt_rule *rule, enum tt_kind kind, const char *ns,
	      const char *name)
{
	struct tt_router *r = ctx;
	char filter[TT_TOPIC_MAX + 1];

	if (tt_topic_format(filter, sizeof(filter), r->cfg->topic_prefix, kind, ns, name, true) >= 0)
		tt_mqtt_unsubscribe(r->mqtt, filter);
	for (size_t i = 0; i < r->nreplays; i++)
		if (r->replays[i].rule == rule && strcmp(r->replays[i].ns, ns) == 0 &&
		    strcmp(r->replays[i].name, name) == 0 && kind == TT_STATE)
			r->replays[i].rule = NULL;
}

static bool
host_get_state(void *ctx, const char *ns, const char *name, struct tt_state_view *out)
{
	struct tt_router *r = ctx;

	return tt_statecache_get(r->states, ns, name, &out->msg, &out->retained);
}

struct replay_ctx {
	struct tt_rule *rule;
	const char *ns, *name;
};

static void
replay_one(void *arg, const struct tt_message *msg, bool retained)
{
	struct replay_ctx *c = arg;

	tt_rule_dispatch_pattern(c->rule, TT_STATE, c->ns, c->name, msg, retained);
}

static void
run_replays(struct tt_router *r)
{
	/*
	 * Run only the replays queued before this call: a handler that listens
	 * again queues a new one, which waits for the next tick, so a rule
	 * cannot keep the loop here forever.
	 */
	for (size_t n = r->nreplays; n > 0 && r->nreplays > 0; n--) {
		struct replay rp = r->replays[0];
		memmove(r->replays, r->replays + 1, (r->nreplays - 1) * sizeof(*r->replays));
		r->nreplays--;
		if (rp.rule == NULL)
			continue;
		struct replay_ctx c = { rp.rule, rp.ns, rp.name };
		tt_statecache_each(r->states, rp.ns, rp.name, replay_one, &c);
	}
}

/* ---- receiving ---- */

static void
on_message(void *arg, const char *topic, const void *payload, size_t len, int qos, bool retained)
{
	struct tt_router *r = arg;
	struct tt_message msg;

	if (tt_inbox_accept(&r->inbox, topic, payload, len, retained, &msg) != TT_OK)
		return;
	if (msg.topic.kind == TT_STATE)
		tt_statecache_put(r->states, &msg, retained);
	for (size_t i = 0; i < r->rules.n; i++)
		tt_rule_dispatch(r->rules.rules[i], &msg, retained);
	tt_message_clear(&msg);
}

static void
on_connected(void *arg)
{
	struct tt_router *r = arg;

	tt_presence_online(r);
	outbox_flush(r);
}

static void
on_disconnected(void *arg, int rc, const char *reason)
{
	struct tt_router *r = arg;

	if (r->stopping)
		tt_loop_stop(r->loop);
}

/* ---- the tick: rule timers, replays, stats, reloads and shutdown ---- */

static void
tick_prepare(void *arg, struct pollfd *pfd, int64_t *deadline_ms)
{
	struct tt_router *r = arg;

	int64_t soon = INT64_MAX;

	/*
	 * Pending replays run at once, a shutdown checks its progress every
	 * 50 ms, and an outbox stuck on a failed publish is retried every second.
	 */
	if (r->nreplays > 0)
		soon = 0;
	else if (r->stopping)
		soon = tt_now_mono_ms() + 50;
	else if (r->outbox.count > 0 && tt_mqtt_connected(r->mqtt))
		soon = tt_now_mono_ms() + 1000;
	if (soon < *deadline_ms)
		*deadline_ms = soon;
	for (size_t i = 0; i < r->rules.n; i++) {
		int64_t due = tt_rule_next_timer(r->rules.rules[i]);
		if (due >= 0 && due < *deadline_ms)
			*deadline_ms = due;
	}
	if (r->next_stats_ms > 0 && r->next_stats_ms < *deadline_ms)
		*deadline_ms = r->next_stats_ms;
	if (r->reload_at_ms > 0 && r->reload_at_ms < *deadline_ms)
		*deadline_ms = r->reload_at_ms;
}

static void
finish_shutdown(struct tt_router *r, int64_t now)
{
	bool flushed = r->inflight == 0 && !tt_mqtt_want_write(r->mqtt);

	if (!tt_mqtt_connected(r->mqtt)) {
		tt_loop_stop(r->loop);
		return;
	}
	if (!r->disconnect_sent && (flushed || now >= r->stop_deadline_ms)) {
		if (!flushed)
			tt_log(TT_LOG_WARN, "router", "shutdown wait over, unacknowledged=%zu", r->inflight);
		tt_mqtt_disconnect(r->mqtt);
		r->disconnect_sent = true;
		r->stop_deadline_ms = now + 1000;
	} else if (r->disconnect_sent && now >= r->stop_deadline_ms) {
		tt_loop_stop(r->loop);
	}
}

static void
tick_dispatch(void *arg, const struct pollfd *pfd, int64_t now)
{
	struct tt_router *r = arg;

	run_replays(r);
	for (size_t i = 0; i < r->rules.n; i++)
		tt_rule_run_timers(r->rules.rules[i], now);
	outbox_flush(r);

	if (r->next_stats_ms > 0 && now >= r->next_stats_ms) {
		tt_presence_stats(r);
		r->next_stats_ms = now + r->cfg->stats_interval_ms;
	}
	if (r->reload_at_ms > 0 && now >= r->reload_at_ms) {
		r->reload_at_ms = 0;
		tt_router_reload(r);
	}
	if (r->stopping)
		finish_shutdown(r, now);
}

static void
on_signal(void *arg, int signo)
{
	struct tt_router *r = arg;

	if (signo == SIGHUP) {
		tt_log(TT_LOG_NOTICE, "router", "reload requested signal=SIGHUP");
		tt_router_reload(r);
		return;
	}
	if (r->stopping)
		return;
	tt_log(TT_LOG_NOTICE, "router", "stopping signal=%s queued_actions=%zu",
	       signo == SIGINT ? "SIGINT" : "SIGTERM", r->inflight);
	r->stopping = true;
	r->stop_deadline_ms = tt_now_mono_ms() + TT_SHUTDOWN_WAIT_MS;
	if (tt_mqtt_connected(r->mqtt))
		tt_presence_offline(r);
}

/* ---- life cycle ---- */

const char *
tt_router_lua_dir(void)
{
	const char *dir = getenv("TATTLETALE_LUA_DIR");

	return dir != NULL && dir[0] != '\0' ? dir : TT_LUA_DIR;
}

static void
set_limits(struct tt_router *r)
{
	const struct tt_config *c = r->cfg;

	tt_rule_limits_init(&r->limits);
	r->limits.instructions = c->sandbox.instructions;
	r->limits.time_ms = c->sandbox.time_ms;
	r->limits.memory = c->sandbox.memory;
	r->limits.failures = c->sandbox.failures;
	r->limits.failure_window_ms = c->sandbox.failure_window_ms;
	/* The envelope is one level and some bytes around the value; receivers count both. */
	r->limits.max_depth = c->limits.depth - 1;
	r->limits.max_payload = c->limits.payload - TT_ENVELOPE_OVERHEAD;
}

static int
make_client(struct tt_router *r, char *err, size_t errsize)
{
	struct tt_mqtt_handlers h = {
		.connected = on_connected,
		.disconnected = on_disconnected,
		.message = on_message,
		.published = on_published,
		.before_connect = tt_presence_prepare_will,
		.arg = r,
	};

	r->mqtt = tt_cli_mqtt_new(r->cfg, &h, false, err, errsize);
	return r->mqtt == NULL ? -1 : 0;
}

static int
make_inbox(struct tt_router *r)
{
	struct tt_verify_opts v = {
		.prefix = r->cfg->topic_prefix,
		.keys = r->keys,
		.max_payload = r->cfg->limits.payload,
		.max_depth = r->cfg->limits.depth,
	};
	struct tt_fresh_opts f = {
		.past_ms = r->cfg->window.past_ms,
		.future_ms = r->cfg->window.future_ms,
		.id_capacity = r->cfg->limits.ids,
		.state_capacity = TT_STATE_TOPICS_DEFAULT,
	};

	return tt_inbox_init(&r->inbox, &v, &f);
}

static void
log_keys(const struct tt_keyring *keys)
{
	char fp[TT_FINGERPRINT_LEN + 1];

	for (size_t i = 0; i < tt_keyring_count(keys); i++) {
		const struct tt_key *k = tt_keyring_at(keys, i);
		tt_key_fingerprint(k, fp);
		tt_log(TT_LOG_INFO, "router", "key loaded kid=%s fingerprint=%s use=%s", tt_key_id(k),
		       fp, i == 0 ? "sign+verify" : "verify");
	}
}

struct tt_router *
tt_router_new(const struct tt_router_opts *opts, char *err, size_t errsize)
{
	struct tt_router *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	r->cfg = opts->cfg;
	r->keys = opts->keys;
	r->lua_dir = opts->lua_dir;
	r->watch_rules = opts->watch_rules;
	r->inotify_fd = -1;
	set_limits(r);
	log_keys(r->keys);

	r->loop = tt_loop_new();
	r->states = tt_statecache_new(TT_STATE_TOPICS_DEFAULT, TT_STATECACHE_BYTES_DEFAULT);
	if (r->loop == NULL || r->states == NULL || make_inbox(r) < 0) {
		snprintf(err, errsize, "out of memory");
		goto fail;
	}
	if (make_client(r, err, errsize) < 0)
		goto fail;
	r->sender = (struct tt_sender){ r->mqtt, tt_keyring_signer(r->keys), r->cfg->topic_prefix,
					r->cfg->app };
	r->host = (struct tt_host){
		.ctx = r,
		.app = r->cfg->app,
		.prefix = r->cfg->topic_prefix,
		.emit = host_emit,
		.listen = host_listen,
		.unlisten = host_unlisten,
		.get_state = host_get_state,
	};
	if (tt_ruleset_load(r, &r->rules, err, errsize) < 0)
		goto fail;
	return r;

fail:
	tt_router_free(r);
	return NULL;
}

void
tt_router_free(struct tt_router *r)
{
	if (r == NULL)
		return;
	tt_ruleset_free(r, &r->rules);
	tt_outbox_free(&r->outbox);
	free(r->replays);
	tt_mqtt_free(r->mqtt);
	tt_inbox_fini(&r->inbox);
	tt_statecache_free(r->states);
	tt_loop_free(r->loop);
	if (r->inotify_fd >= 0)
		close(r->inotify_fd);
	free(r);
}

int
tt_router_run(struct tt_router *r)
{
	r->tick_source = (struct tt_loop_source){ tick_prepare, tick_dispatch, r };
	if (tt_loop_watch_signals(r->loop, on_signal, r) < 0 ||
	    tt_loop_add(r->loop, &r->tick_source) < 0) {
		tt_log(TT_LOG_ERROR, "router", "cannot set up the event loop error=\"%s\"",
		       strerror(errno));
		return 1;
	}
	if (r->watch_rules && tt_ruleset_watch(r) < 0)
		return 1;
	if (r->cfg->stats_interval_ms > 0)
		r->next_stats_ms = tt_now_mono_ms() + r->cfg->stats_interval_ms;
	if (tt_mqtt_start(r->mqtt, r->loop) < 0) {
		tt_log(TT_LOG_ERROR, "router", "cannot start the broker connection");
		return 1;
	}
	tt_log(TT_LOG_NOTICE, "router", "running app=%s rules=%zu prefix=%s", r->cfg->app,
	       r->rules.n, r->cfg->topic_prefix);
	if (tt_loop_run(r->loop) < 0) {
		tt_log(TT_LOG_ERROR, "router", "event loop failed error=\"%s\"", strerror(errno));
		return 1;
	}
	tt_log(r->outbox.count > 0 ? TT_LOG_WARN : TT_LOG_NOTICE, "router",
	       "stopped accepted=%llu rejected=%llu emitted=%llu unsent=%zu",
	       (unsigned long long)r->inbox.accepted,
	       (unsigned long long)tt_inbox_rejected_total(&r->inbox),
	       (unsigned long long)r->emitted, r->outbox.count);
	return 0;
}
