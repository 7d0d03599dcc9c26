/* SPDX-License-Identifier: MIT */
/*
 * Topics of protocol v1: {prefix}/{kind}/{ns}/{name}.
 *
 * A namespace or a name is checked code point by code point. It must be
 * strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF)
 * without MQTT separators, wildcards or control characters. It must not
 * start with '$', because MQTT reserves such topics for the broker.
 */
#include <stdio.h>
#include <string.h>

#include "topic.h"
#include "utf8.h"

static const char *const kind_names[TT_KIND_COUNT] = {
	[TT_EVENT] = "event",
	[TT_STATE] = "state",
	[TT_ACTION] = "action",
};

const char *
tt_kind_name(enum tt_kind kind)
{
	if ((unsigned)kind >= TT_KIND_COUNT)
		return "unknown";
	return kind_names[kind];
}

int
tt_kind_parse(const char *s, enum tt_kind *kind)
{
	for (int i = 0; i < TT_KIND_COUNT; i++) {
		if (strcmp(s, kind_names[i]) == 0) {
			*kind = (enum tt_kind)i;
			return 0;
		}
	}
	return -1;
}

int
tt_kind_qos(enum tt_kind kind)
{
	return kind == TT_ACTION ? 2 : 0;
}

bool
tt_kind_retained(enum tt_kind kind)
{
	return kind == TT_STATE;
}

/* Whether a code point may not appear in a topic part. */
static bool
forbidden(unsigned long cp)
{
	if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f))
		return true;
	return cp == '/' || cp == '+' || cp == '#';
}

int
tt_topic_check_part(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned long cp;
	size_t i, step;

	if (len == 0 || len > TT_PART_MAX || p[0] == '$')
		return -1;
	for (i = 0; i < len; i += step) {
		step = tt_utf8_next(p + i, len - i, &cp);
		if (step == 0 || forbidden(cp))
			return -1;
	}
	return 0;
}

int
tt_topic_check_prefix(const char *prefix)
{
	size_t len = strlen(prefix);
	const char *part = prefix, *slash;

	if (len == 0 || len > TT_PREFIX_MAX)
		return -1;
	for (;;) {
		slash = strchr(part, '/');
		if (slash == NULL)
			return tt_topic_check_part(part, strlen(part));
		if (tt_topic_check_part(part, (size_t)(slash - part)) == -1)
			return -1;
		part = slash + 1;
	}
}

/* Copies a checked part of len bytes into out[TT_PART_MAX + 1]. */
static int
take_part(const char *s, size_t len, char *out)
{
	if (tt_topic_check_part(s, len) == -1)
		return -1;
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

int
tt_topic_parse(const char *prefix, const char *topic, struct tt_topic *out)
{
	size_t plen;
	const char *kind, *ns, *name;
	char kindbuf[8];

	if (prefix == NULL)
		prefix = TT_PREFIX_DEFAULT;
	plen = strlen(prefix);
	if (strncmp(topic, prefix, plen) != 0 || topic[plen] != '/')
		return -1;

	/* The three levels after the prefix: kind, ns and name, with no fourth. */
	kind = topic + plen + 1;
	ns = strchr(kind, '/');
	if (ns == NULL || (size_t)(ns - kind) >= sizeof(kindbuf))
		return -1;
	memcpy(kindbuf, kind, (size_t)(ns - kind));
	kindbuf[ns - kind] = '\0';
	if (tt_kind_parse(kindbuf, &out->kind) == -1)
		return -1;
	ns++;
	name = strchr(ns, '/');
	if (name == NULL)
		return -1;
	name++;
	if (strchr(name, '/') != NULL)
		return -1;

	if (take_part(ns, (size_t)(name - 1 - ns), out->ns) == -1)
		return -1;
	return take_part(name, strlen(name), out->name);
}

/* A part of a filter: "*" stands for any part and is written as "+". */
static const char *
filter_part(const char *part, bool filter)
{
	if (filter && strcmp(part, "*") == 0)
		return "+";
	if (tt_topic_check_part(part, strlen(part)) == -1)
		return NULL;
	return part;
}

int
tt_topic_format(char *buf, size_t size, const char *prefix, enum tt_kind kind,
		const char *ns, const char *name, bool filter)
{
	const char *n, *m;
	size_t len = 0;

	if (prefix == NULL)
		prefix = TT_PREFIX_DEFAULT;
	if ((unsigned)kind >= TT_KIND_COUNT || tt_topic_check_prefix(prefix) == -1)
		return -1;
	n = filter_part(ns, filter);
	m = filter_part(name, filter);
	if (n == NULL || m == NULL)
		return -1;

	/* Joined by hand, because snprintf cost a visible share of each routed message. */
	const char *parts[4] = { prefix, kind_names[kind], n, m };

	for (int i = 0; i < 4; i++) {
		size_t plen = strlen(parts[i]);

		if (plen >= size - len - (i > 0))
			return -1;
		if (i > 0)
			buf[len++] = '/';
		memcpy(buf + len, parts[i], plen);
		len += plen;
	}
	buf[len] = '\0';
	return (int)len;
}

bool
tt_topic_part_matches(const char *pattern, const char *part)
{
	return strcmp(pattern, "*") == 0 || strcmp(pattern, part) == 0;
}
