/* SPDX-License-Identifier: MIT */
/*
 * The broker connection on top of libmosquitto. The library's own network
 * thread is never started: the loop takes the socket, polls it and calls
 * mosquitto_loop_read/write/misc, so every callback runs on our one thread.
 */
#include "mqtt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>

#include "log.h"

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
#define MISC_INTERVAL_MS 1000
#define TT_ESCAPED_FILTER_MAX 1200

struct subscription {
	char *filter;
	int qos;
	unsigned count;
};

struct tt_mqtt {
	struct mosquitto *mosq;
	struct tt_mqtt_handlers handlers;
	bool reconnect;
	char *host;
	int port;
	int keepalive;
	char address[300];

	bool started;			/* the first connect was attempted */
	bool connected;
	bool stopping;			/* we asked for the disconnect */
	int64_t next_attempt_ms;
	int64_t backoff_ms;
	int64_t next_misc_ms;

	struct subscription *subs;
	size_t nsubs, subs_cap;

	/*
	 * Filters dropped while disconnected. A persistent session keeps its
	 * subscriptions on the broker, so these are unsubscribed on reconnect.
	 */
	bool persistent;
	char **dropped;
	size_t ndropped;

	struct tt_loop_source source;
};

static int lib_users;

/* Escapes a topic filter for a log line; the result lasts until the next call. */
static const char *
escape(const char *filter)
{
	static char out[TT_ESCAPED_FILTER_MAX];

	return tt_log_escape(filter, strlen(filter), out, sizeof(out));
}

static void
schedule_retry(struct tt_mqtt *m)
{
	m->next_attempt_ms = tt_now_mono_ms() + m->backoff_ms;
	tt_log(TT_LOG_INFO, "mqtt", "reconnect scheduled broker=%s delay_ms=%lld", m->address,
	       (long long)m->backoff_ms);
	m->backoff_ms *= 2;
	if (m->backoff_ms > BACKOFF_MAX_MS)
		m->backoff_ms = BACKOFF_MAX_MS;
}

static const char *
describe(int rc)
{
	if (rc == MOSQ_ERR_ERRNO)
		return strerror(errno);
	return mosquitto_strerror(rc);
}

static void
attempt(struct tt_mqtt *m)
{
	int rc;

	if (m->handlers.before_connect != NULL)
		m->handlers.before_connect(m->handlers.arg);
	/* connect_async stores the address again each time; a refusal is retried below. */
	rc = mosquitto_connect_async(m->mosq, m->host, m->port, m->keepalive);
	m->started = true;
	if (rc == MOSQ_ERR_SUCCESS)
		return;

	tt_log(TT_LOG_WARN, "mqtt", "connect failed broker=%s error=\"%s\"", m->address,
	       describe(rc));
	if (m->reconnect) {
		schedule_retry(m);
		return;
	}
	m->stopping = true;
	if (m->handlers.disconnected != NULL)
		m->handlers.disconnected(m->handlers.arg, rc, describe(rc));
}

static void
forget_dropped(struct tt_mqtt *m, const char *filter)
{
	for (size_t i = 0; i < m->ndropped; i++)
		if (filter == NULL || strcmp(m->dropped[i], filter) == 0) {
			free(m->dropped[i]);
			m->dropped[i--] = m->dropped[--m->ndropped];
		}
}

static void
send_subscriptions(struct tt_mqtt *m)
{
	for (size_t i = 0; i < m->ndropped; i++)
		mosquitto_unsubscribe(m->mosq, NULL, m->dropped[i]);
	forget_dropped(m, NULL);

	for (size_t i = 0; i < m->nsubs; i++) {
		int rc = mosquitto_subscribe(m->mosq, NULL, m->subs[i].filter, m->subs[i].qos);
		if (rc != MOSQ_ERR_SUCCESS)
			tt_log(TT_LOG_WARN, "mqtt", "subscribe failed filter=%s error=\"%s\"",
			       escape(m->subs[i].filter), describe(rc));
	}
}

static void
on_connect(struct mosquitto *mosq, void *arg, int rc)
{
	struct tt_mqtt *m = arg;

	if (rc != 0) {
		tt_log(TT_LOG_WARN, "mqtt", "connection refused broker=%s reason=\"%s\"", m->address,
		       mosquitto_connack_string(rc));
		return;
	}
	m->connected = true;
	m->backoff_ms = BACKOFF_MIN_MS;
	tt_log(TT_LOG_NOTICE, "mqtt", "connected broker=%s subscriptions=%zu", m->address, m->nsubs);
	send_subscriptions(m);
	if (m->handlers.connected != NULL)
		m->handlers.connected(m->handlers.arg);
}

static void
on_disconnect(struct mosquitto *mosq, void *arg, int rc)
{
	struct tt_mqtt *m = arg;
	bool was_connected = m->connected;

	m->connected = false;
	if (m->stopping || rc == 0) {
		tt_log(TT_LOG_INFO, "mqtt", "disconnected broker=%s", m->address);
		m->stopping = true;
	} else {
		tt_log(TT_LOG_WARN, "mqtt", "%s broker=%s error=\"%s\"",
		       was_connected ? "connection lost" : "connect failed", m->address,
		       describe(rc));
		if (m->reconnect)
			schedule_retry(m);
		else
			m->stopping = true;
	}
	if (m->handlers.disconnected != NULL)
		m->handlers.disconnected(m->handlers.arg, m->stopping && rc == 0 ? 0 : rc,
					 rc == 0 ? "disconnected" : describe(rc));
}

static void
on_message(struct mosquitto *mosq, void *arg, const struct mosquitto_message *msg)
{
	struct tt_mqtt *m = arg;

	if (m->handlers.message != NULL)
		m->handlers.message(m->handlers.arg, msg->topic, msg->payload,
				    (size_t)msg->payloadlen, msg->qos, msg->retain);
}

static void
on_publish(struct mosquitto *mosq, void *arg, int mid)
{
	struct tt_mqtt *m = arg;

	if (m->handlers.published != NULL)
		m->handlers.published(m->handlers.arg, mid);
}

static void
prepare(void *arg, struct pollfd *pfd, int64_t *deadline_ms)
{
	struct tt_mqtt *m = arg;
	int fd = mosquitto_socket(m->mosq);

	if (fd >= 0) {
		pfd->fd = fd;
		pfd->events = POLLIN;
		if (mosquitto_want_write(m->mosq))
			pfd->events |= POLLOUT;
		if (m->next_misc_ms < *deadline_ms)
			*deadline_ms = m->next_misc_ms;
	} else if (!m->stopping && m->next_attempt_ms < *deadline_ms) {
		*deadline_ms = m->next_attempt_ms;
	}
}

static void
dispatch(void *arg, const struct pollfd *pfd, int64_t now_ms)
{
	struct tt_mqtt *m = arg;

	if (pfd->fd >= 0 && (pfd->revents & (POLLIN | POLLERR | POLLHUP)))
		mosquitto_loop_read(m->mosq, 1);
	/*
	 * Handlers publish from inside the read callback, which only queues.
	 * Writing now, instead of after the next poll() reports POLLOUT, saves
	 * a wake-up per message; a full socket just leaves the rest queued.
	 */
	if (pfd->fd >= 0 && mosquitto_socket(m->mosq) >= 0 &&
	    ((pfd->revents & POLLOUT) || mosquitto_want_write(m->mosq)))
		mosquitto_loop_write(m->mosq, 1);
	if (mosquitto_socket(m->mosq) >= 0 && now_ms >= m->next_misc_ms) {
		mosquitto_loop_misc(m->mosq);
		m->next_misc_ms = now_ms + MISC_INTERVAL_MS;
	}
	if (mosquitto_socket(m->mosq) < 0 && !m->stopping && now_ms >= m->next_attempt_ms)
		attempt(m);
}

static int
setup_tls(struct tt_mqtt *m, const struct tt_mqtt_opts *o, char *err, size_t errsize)
{
	const char *capath = o->ca_file == NULL ? "/etc/ssl/certs" : NULL;
	int rc;

	rc = mosquitto_tls_set(m->mosq, o->ca_file, capath, o->cert_file, o->key_file, NULL);
	if (rc == MOSQ_ERR_SUCCESS && !o->tls_verify)
		rc = mosquitto_tls_insecure_set(m->mosq, true);
	if (rc == MOSQ_ERR_SUCCESS && !o->tls_verify)
		rc = mosquitto_tls_opts_set(m->mosq, 0, NULL, NULL);
	if (rc != MOSQ_ERR_SUCCESS) {
		snprintf(err, errsize, "TLS setup failed: %s (check ca_file, cert_file and key_file)",
			 describe(rc));
		return -1;
	}
	return 0;
}

struct tt_mqtt *
tt_mqtt_new(const struct tt_mqtt_opts *o, const struct tt_mqtt_handlers *handlers, char *err,
	    size_t errsize)
{
	struct tt_mqtt *m;
	if (lib_users++ == 0)
		mosquitto_lib_init();
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		goto fail;
	m->handlers = *handlers;
	m->reconnect = o->reconnect;
	m->persistent = o->persistent;
	m->backoff_ms = BACKOFF_MIN_MS;
	snprintf(m->address, sizeof(m->address), "%s:%d", o->host, o->port);

	m->mosq = mosquitto_new(o->client_id, !o->persistent, m);
	if (m->mosq == NULL) {
		snprintf(err, errsize, "cannot create the MQTT client: %s", strerror(errno));
		goto fail;
	}
	mosquitto_connect_callback_set(m->mosq, on_connect);
	mosquitto_disconnect_callback_set(m->mosq, on_disconnect);
	mosquitto_message_callback_set(m->mosq, on_message);
	mosquitto_publish_callback_set(m->mosq, on_publish);
	/* Unlimited in-flight QoS 2 messages, so a burst of actions is not held back by the library. */
	mosquitto_max_inflight_messages_set(m->mosq, 0);
	/* Without it, Nagle's algorithm delays the last message of a burst for up to 40 ms. */
	mosquitto_int_option(m->mosq, MOSQ_OPT_TCP_NODELAY, 1);

	if (o->username != NULL &&
	    mosquitto_username_pw_set(m->mosq, o->username, o->password) != MOSQ_ERR_SUCCESS) {
		snprintf(err, errsize, "invalid MQTT username or password");
		goto fail;
	}
	if (o->tls && setup_tls(m, o, err, errsize) < 0)
		goto fail;

	m->host = strdup(o->host);
	if (m->host == NULL)
		goto fail;
	m->port = o->port;
	m->keepalive = o->keepalive;
	return m;

fail:
	tt_mqtt_free(m);
	return NULL;
}

void
tt_mqtt_free(struct tt_mqtt *m)
{
	if (m == NULL)
		return;
	if (m->mosq != NULL)
		mosquitto_destroy(m->mosq);
	for (size_t i = 0; i < m->nsubs; i++)
		free(m->subs[i].filter);
	free(m->subs);
	forget_dropped(m, NULL);
	free(m->dropped);
	free(m->host);
	free(m);
	if (--lib_users == 0)
		mosquitto_lib_cleanup();
}

int
tt_mqtt_start(struct tt_mqtt *m, struct tt_loop *loop)
{
	m->source = (struct tt_loop_source){ prepare, dispatch, m };
	if (tt_loop_add(loop, &m->source) < 0)
		return -1;
	tt_log(TT_LOG_INFO, "mqtt", "connecting broker=%s", m->address);
	attempt(m);
	return 0;
}

int
tt_mqtt_set_will(struct tt_mqtt *m, const char *topic, const void *payload, size_t len, int qos,
		 bool retain)
{
	int rc = mosquitto_will_set(m->mosq, topic, (int)len, payload, qos, retain);

	if (rc != MOSQ_ERR_SUCCESS) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int
tt_mqtt_publish(struct tt_mqtt *m, const char *topic, const void *payload, size_t len, int qos,
		bool retain, int *mid)
{
	int rc;

	if (!m->connected) {
		errno = ENOTCONN;
		return -1;
	}
	rc = mosquitto_publish(m->mosq, mid, topic, (int)len, payload, qos, retain);
	if (rc == MOSQ_ERR_SUCCESS)
		return 0;
	if (rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST)
		errno = ENOTCONN;
	else if (rc == MOSQ_ERR_NOMEM)
		errno = ENOMEM;
	else if (rc == MOSQ_ERR_PAYLOAD_SIZE)
		errno = EMSGSIZE;
	else if (rc != MOSQ_ERR_ERRNO)
		errno = EIO;
	return -1;
}

static struct subscription *
find_sub(struct tt_mqtt *m, const char *filter)
{
	for (size_t i = 0; i < m->nsubs; i++)
		if (strcmp(m->subs[i].filter, filter) == 0)
			return &m->subs[i];
	return NULL;
}

int
tt_mqtt_subscribe(struct tt_mqtt *m, const char *filter, int qos)
{
	struct subscription *sub = find_sub(m, filter);

	if (sub != NULL) {
		sub->count++;
		return 0;
	}
	if (m->nsubs == m->subs_cap) {
		size_t cap = m->subs_cap ? m->subs_cap * 2 : 16;
		struct subscription *subs = realloc(m->subs, cap * sizeof(*subs));
		if (subs == NULL)
			return -1;
		m->subs = subs;
		m->subs_cap = cap;
	}
	sub = &m->subs[m->nsubs];
	sub->filter = strdup(filter);
	if (sub->filter == NULL)
		return -1;
	sub->qos = qos;
	sub->count = 1;
	m->nsubs++;
	forget_dropped(m, filter);

	if (tt_log_enabled(TT_LOG_DEBUG))
		tt_log(TT_LOG_DEBUG, "mqtt", "subscribe filter=%s qos=%d", escape(filter), qos);
	if (m->connected)
		mosquitto_subscribe(m->mosq, NULL, filter, qos);
	return 0;
}

void
tt_mqtt_unsubscribe(struct tt_mqtt *m, const char *filter)
{
	struct subscription *sub = find_sub(m, filter);

	if (sub == NULL || --sub->count > 0)
		return;
	if (tt_log_enabled(TT_LOG_DEBUG))
		tt_log(TT_LOG_DEBUG, "mqtt", "unsubscribe filter=%s", escape(filter));
	if (m->connected) {
		mosquitto_unsubscribe(m->mosq, NULL, filter);
	} else if (m->persistent) {
		char **grown = realloc(m->dropped, (m->ndropped + 1) * sizeof(*grown));
		if (grown != NULL) {
			m->dropped = grown;
			m->dropped[m->ndropped] = sub->filter;
			m->ndropped++;
			sub->filter = NULL;
		}
	}
	free(sub->filter);
	*sub = m->subs[--m->nsubs];
}

size_t
tt_mqtt_subscriptions(const struct tt_mqtt *m)
{
	return m->nsubs;
}

bool
tt_mqtt_connected(const struct tt_mqtt *m)
{
	return m->connected;
}

bool
tt_mqtt_want_write(const struct tt_mqtt *m)
{
	return mosquitto_socket(m->mosq) >= 0 && mosquitto_want_write(m->mosq);
}

void
tt_mqtt_disconnect(struct tt_mqtt *m)
{
	m->stopping = true;
	if (mosquitto_socket(m->mosq) >= 0)
		mosquitto_disconnect(m->mosq);
}

const char *
tt_mqtt_address(const struct tt_mqtt *m)
{
	return m->address;
}
