/* SPDX-License-Identifier: MIT */
/*
 * Loading the rules folder as one set, reloading it atomically, and
 * watching it for changes with inotify.
 *
 * A reload loads the whole new set while the old one keeps running; only
 * when every file loaded does the new set replace the old one. Listens of
 * the new set are counted before the old set releases its own, so a topic
 * filter that both sets use is never unsubscribed in between.
 */
#include "router_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "log.h"

#define RELOAD_DEBOUNCE_MS 300


int
tt_ruleset_load(struct tt_router *r, struct rule_set *set, char *err, size_t errsize)
{
	struct dirent **names = NULL;
	char path[4096];
	int n;

	set->rules = NULL;
	set->n = 0;
	n = tt_rule_scan(r->cfg->rules, &names);
	if (n < 0) {
		snprintf(err, errsize, "cannot read the rules folder %s: %s", r->cfg->rules,
			 strerror(errno));
		return -1;
	}
	set->rules = calloc(n > 0 ? (size_t)n : 1, sizeof(*set->rules));
	if (set->rules == NULL) {
		snprintf(err, errsize, "out of memory");
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", r->cfg->rules, names[i]->d_name);
		set->rules[set->n] = tt_rule_load(path, &r->host, &r->limits, r->cfg->lua_path,
						  r->lua_dir, err, errsize);
		if (set->rules[set->n] == NULL)
			goto fail;
		set->n++;
		tt_log(TT_LOG_INFO, "rules", "rule loaded rule=%s", names[i]->d_name);
	}
	if (n == 0)
		tt_log(TT_LOG_WARN, "rules", "no rules found folder=%s", r->cfg->rules);
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return 0;

fail:
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	tt_ruleset_free(r, set);
	return -1;
}

void
tt_ruleset_free(struct tt_router *r, struct rule_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		/* Pending state replays must not outlive their rule. */
		for (size_t j = 0; j < r->nreplays; j++)
			if (r->replays[j].rule == set->rules[i])
				r->replays[j].rule = NULL;
		tt_rule_free(set->rules[i]);
	}
	free(set->rules);
	set->rules = NULL;
	set->n = 0;
}

int
tt_router_reload(struct tt_router *r)
{
	struct rule_set fresh, old;
	char err[1024], quoted[1100];

	if (tt_ruleset_load(r, &fresh, err, sizeof(err)) < 0) {
		tt_log(TT_LOG_ERROR, "rules", "reload failed, keeping the old rules rules=%zu error=\"%s\"",
		       r->rules.n, tt_log_quote(err, strlen(err), quoted, sizeof(quoted)));
		return -1;
	}
	old = r->rules;
	r->rules = fresh;
	tt_ruleset_free(r, &old);
	tt_log(TT_LOG_NOTICE, "rules", "reloaded rules=%zu subscriptions=%zu", r->rules.n,
	       tt_mqtt_subscriptions(r->mqtt));
	return 0;
}

static void
watch_prepare(void *arg, struct pollfd *pfd, int64_t *deadline_ms)
{
	struct tt_router *r = arg;

	pfd->fd = r->inotify_fd;
	pfd->events = POLLIN;
}

static void
watch_dispatch(void *arg, const struct pollfd *pfd, int64_t now_ms)
{
	struct tt_router *r = arg;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool relevant = false;
	ssize_t n;

	if (!(pfd->revents & POLLIN))
		return;
	while ((n = read(r->inotify_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			size_t len = ev->len > 0 ? strlen(ev->name) : 0;
			if (len > 4 && strcmp(ev->name + len - 4, ".lua") == 0 && ev->name[0] != '.')
				relevant = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	/* Editors write in several steps; wait for the folder to settle. */
	if (relevant)
		r->reload_at_ms = now_ms + RELOAD_DEBOUNCE_MS;
}

int
tt_ruleset_watch(struct tt_router *r)
{
	r->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (r->inotify_fd < 0 ||
	    inotify_add_watch(r->inotify_fd, r->cfg->rules,
			      IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
			      IN_CREATE) < 0) {
		tt_log(TT_LOG_ERROR, "rules", "cannot watch the rules folder folder=%s error=\"%s\"",
		       r->cfg->rules, strerror(errno));
		return -1;
	}
	r->watch_source = (struct tt_loop_source){ watch_prepare, watch_dispatch, r };
	if (tt_loop_add(r->loop, &r->watch_source) < 0)
		return -1;
	tt_log(TT_LOG_INFO, "rules", "watching folder=%s", r->cfg->rules);
	return 0;
}
