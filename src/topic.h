/* SPDX-License-Identifier: MIT */
/*
 * Topics of protocol v1: {prefix}/{kind}/{ns}/{name}. Validation of each
 * part, parsing of a received topic, and the MQTT filters that listening
 * with "*" turns into.
 */
#ifndef TT_TOPIC_H
#define TT_TOPIC_H

#include <stdbool.h>
#include <stddef.h>

#define TT_PART_MAX 128		/* bytes in a namespace or a name */
#define TT_PREFIX_MAX 256	/* bytes in a topic prefix */
#define TT_PREFIX_DEFAULT "tattletale"
#define TT_TOPIC_MAX (TT_PREFIX_MAX + 8 + 2 * TT_PART_MAX + 3)

enum tt_kind { TT_EVENT, TT_STATE, TT_ACTION, TT_KIND_COUNT };

/* Returns "event", "state" or "action". */
const char *tt_kind_name(enum tt_kind kind);
/* Parses a kind name; returns 0, or -1 when s names no kind. */
int tt_kind_parse(const char *s, enum tt_kind *kind);
/* MQTT QoS of a kind: 0 for events and states, 2 for actions. */
int tt_kind_qos(enum tt_kind kind);
/* Whether the broker retains messages of a kind: only states. */
bool tt_kind_retained(enum tt_kind kind);

/*
 * Checks a namespace or a name: 1 to 128 bytes of valid UTF-8, no '/', '+',
 * '#' or control characters (C0, DEL, C1), not starting with '$'.
 * Returns 0 when valid, else -1.
 */
int tt_topic_check_part(const char *s, size_t len);

/*
 * Checks a prefix: one or more valid parts joined by '/', at most
 * TT_PREFIX_MAX bytes. Returns 0 or -1.
 */
int tt_topic_check_prefix(const char *prefix);

struct tt_topic {
	enum tt_kind kind;
	char ns[TT_PART_MAX + 1];
	char name[TT_PART_MAX + 1];
};

/*
 * Parses a received topic under prefix (NULL means TT_PREFIX_DEFAULT).
 * Returns 0, or -1 when it is not a valid topic.
 */
int tt_topic_parse(const char *prefix, const char *topic, struct tt_topic *out);

/*
 * Writes {prefix}/{kind}/{ns}/{name} into buf. With filter set, an ns or
 * name of "*" becomes the MQTT single-level wildcard "+". A NULL prefix
 * means TT_PREFIX_DEFAULT. Returns the length, or -1 when the prefix, the
 * kind or a part is invalid or buf is too small.
 */
int tt_topic_format(char *buf, size_t size, const char *prefix, enum tt_kind kind,
		    const char *ns, const char *name, bool filter);

/* Whether a listener pattern part ("*" or a literal) matches a topic part. */
bool tt_topic_part_matches(const char *pattern, const char *part);

#endif
