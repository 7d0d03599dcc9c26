/* SPDX-License-Identifier: MIT */
/* Unit tests of topics: kinds, part rules, prefixes, parsing and filters. */
#include <string.h>

#include <criterion/criterion.h>

#include "topic.h"

Test(topic, names_and_parses_kinds)
{
	enum tt_kind kind;

	cr_assert_str_eq(tt_kind_name(TT_EVENT), "event");
	cr_assert_str_eq(tt_kind_name(TT_STATE), "state");
	cr_assert_str_eq(tt_kind_name(TT_ACTION), "action");
	cr_assert_eq(tt_kind_parse("state", &kind), 0);
	cr_assert_eq(kind, TT_STATE);
	cr_assert_eq(tt_kind_parse("action", &kind), 0);
	cr_assert_eq(kind, TT_ACTION);
	cr_assert_eq(tt_kind_parse("events", &kind), -1);
	cr_assert_eq(tt_kind_parse("", &kind), -1);
	cr_assert_eq(tt_kind_parse("Event", &kind), -1);
}

Test(topic, kinds_have_protocol_qos_and_retain)
{
	cr_assert_eq(tt_kind_qos(TT_EVENT), 0);
	cr_assert_eq(tt_kind_qos(TT_STATE), 0);
	cr_assert_eq(tt_kind_qos(TT_ACTION), 2);
	cr_assert_not(tt_kind_retained(TT_EVENT));
	cr_assert(tt_kind_retained(TT_STATE));
	cr_assert_not(tt_kind_retained(TT_ACTION));
}

static int
check(const char *s)
{
	return tt_topic_check_part(s, strlen(s));
}

Test(topic, accepts_valid_parts)
{
	char max[TT_PART_MAX + 1];

	cr_assert_eq(check("items"), 0);
	cr_assert_eq(check("a"), 0);
	cr_assert_eq(check("with space"), 0);
	cr_assert_eq(check("a$b"), 0);
	cr_assert_eq(check("K\xc3\xbc" "che"), 0);		/* U+00FC */
	cr_assert_eq(check("\xc2\xa0"), 0);			/* U+00A0, first after C1 */
	cr_assert_eq(check("\xe2\x82\xac"), 0);			/* U+20AC */
	cr_assert_eq(check("\xf0\x9f\x92\xa1"), 0);		/* U+1F4A1 */
	cr_assert_eq(check("\xf4\x8f\xbf\xbf"), 0);		/* U+10FFFF */
	cr_assert_eq(check("\xee\x80\x80"), 0);			/* U+E000, after the surrogates */
	memset(max, 'x', TT_PART_MAX);
	max[TT_PART_MAX] = '\0';
	cr_assert_eq(check(max), 0);
}

Test(topic, rejects_empty_and_long_parts)
{
	char long_part[TT_PART_MAX + 2];

	cr_assert_eq(check(""), -1);
	memset(long_part, 'x', TT_PART_MAX + 1);
	long_part[TT_PART_MAX + 1] = '\0';
	cr_assert_eq(check(long_part), -1);
}

Test(topic, rejects_separators_and_wildcards)
{
	cr_assert_eq(check("a/b"), -1);
	cr_assert_eq(check("a+"), -1);
	cr_assert_eq(check("#"), -1);
	cr_assert_eq(check("*x#"), -1);
}

Test(topic, rejects_leading_dollar)
{
	cr_assert_eq(check("$SYS"), -1);
	cr_assert_eq(check("$"), -1);
}

Test(topic, rejects_control_characters)
{
	cr_assert_eq(tt_topic_check_part("a\0b", 3), -1);	/* NUL */
	cr_assert_eq(check("a\tb"), -1);
	cr_assert_eq(check("a\nb"), -1);
	cr_assert_eq(check("\x1f"), -1);
	cr_assert_eq(check("a\x7f"), -1);			/* DEL */
	cr_assert_eq(check("\xc2\x80"), -1);			/* U+0080, C1 */
	cr_assert_eq(check("\xc2\x85"), -1);			/* U+0085, NEL */
	cr_assert_eq(check("\xc2\x9f"), -1);			/* U+009F, C1 */
}

Test(topic, rejects_invalid_utf8)
{
	cr_assert_eq(check("\x80"), -1);			/* lone continuation */
	cr_assert_eq(check("\xc3"), -1);			/* truncated */
	cr_assert_eq(check("\xe2\x82"), -1);			/* truncated */
	cr_assert_eq(check("\xc3x"), -1);			/* bad continuation */
	cr_assert_eq(check("\xc0\xaf"), -1);			/* overlong '/' */
	cr_assert_eq(check("\xc1\xbf"), -1);			/* overlong */
	cr_assert_eq(check("\xe0\x80\xaf"), -1);		/* overlong '/' */
	cr_assert_eq(check("\xf0\x80\x80\xaf"), -1);		/* overlong '/' */
	cr_assert_eq(check("\xed\xa0\x80"), -1);		/* U+D800, surrogate */
	cr_assert_eq(check("\xed\xbf\xbf"), -1);		/* U+DFFF, surrogate */
	cr_assert_eq(check("\xf4\x90\x80\x80"), -1);		/* U+110000 */
	cr_assert_eq(check("\xf5\x80\x80\x80"), -1);
	cr_assert_eq(check("\xff"), -1);
}

Test(topic, checks_prefixes)
{
	char long_prefix[TT_PREFIX_MAX + 2];

	cr_assert_eq(tt_topic_check_prefix("tattletale"), 0);
	cr_assert_eq(tt_topic_check_prefix("site/a/tattletale"), 0);
	cr_assert_eq(tt_topic_check_prefix(""), -1);
	cr_assert_eq(tt_topic_check_prefix("/tattletale"), -1);
	cr_assert_eq(tt_topic_check_prefix("tattletale/"), -1);
	cr_assert_eq(tt_topic_check_prefix("a//b"), -1);
	cr_assert_eq(tt_topic_check_prefix("a/+/b"), -1);
	cr_assert_eq(tt_topic_check_prefix("a/#"), -1);
	cr_assert_eq(tt_topic_check_prefix("$SYS/x"), -1);

	/* Three parts joined by '/': exactly TT_PREFIX_MAX bytes, then one more. */
	memset(long_prefix, 'p', sizeof(long_prefix) - 1);
	long_prefix[100] = '/';
	long_prefix[200] = '/';
	long_prefix[TT_PREFIX_MAX] = '\0';
	cr_assert_eq(tt_topic_check_prefix(long_prefix), 0);
	long_prefix[TT_PREFIX_MAX] = 'p';
	long_prefix[TT_PREFIX_MAX + 1] = '\0';
	cr_assert_eq(tt_topic_check_prefix(long_prefix), -1);
}

Test(topic, parses_valid_topic)
{
	struct tt_topic t;

	cr_assert_eq(tt_topic_parse("tattletale", "tattletale/event/items/created", &t), 0);
	cr_assert_eq(t.kind, TT_EVENT);
	cr_assert_str_eq(t.ns, "items");
	cr_assert_str_eq(t.name, "created");
	cr_assert_eq(tt_topic_parse(NULL, "tattletale/state/lamp/K\xc3\xbc" "che", &t), 0);
	cr_assert_eq(t.kind, TT_STATE);
	cr_assert_str_eq(t.name, "K\xc3\xbc" "che");
}

Test(topic, parses_under_multilevel_prefix)
{
	struct tt_topic t;

	cr_assert_eq(tt_topic_parse("site/b/tt", "site/b/tt/action/door/open", &t), 0);
	cr_assert_eq(t.kind, TT_ACTION);
	cr_assert_str_eq(t.ns, "door");
	cr_assert_str_eq(t.name, "open");
	cr_assert_eq(tt_topic_parse("site/b/tt", "site/b/event/door/open", &t), -1);
	cr_assert_eq(tt_topic_parse("site/b/tt", "site/b/ttx/event/door/open", &t), -1);
}

Test(topic, rejects_invalid_topics)
{
	struct tt_topic t;
	static const char *const bad[] = {
		"other/event/items/created",
		"tattletalex/event/items/created",
		"tattletale",
		"tattletale/",
		"tattletale/event",
		"tattletale/event/items",
		"tattletale/event/items/",
		"tattletale/event//created",
		"tattletale/event/items/created/extra",
		"tattletale/events/items/created",
		"tattletale/Event/items/created",
		"tattletale//items/created",
		"tattletale/event/+/created",
		"tattletale/event/items/#",
		"tattletale/event/$items/created",
		"tattletale/event/it\x7fms/created",
		"tattletale/event/items/cr\xc0\xaf" "eated",
		"/tattletale/event/items/created",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(tt_topic_parse("tattletale", bad[i], &t), -1, "accepted %s", bad[i]);
}

Test(topic, formats_topic)
{
	char buf[TT_TOPIC_MAX];
	int n;

	n = tt_topic_format(buf, sizeof(buf), "tattletale", TT_STATE, "lamp", "kitchen", false);
	cr_assert_eq(n, (int)strlen("tattletale/state/lamp/kitchen"));
	cr_assert_str_eq(buf, "tattletale/state/lamp/kitchen");
	n = tt_topic_format(buf, sizeof(buf), "a/b", TT_ACTION, "door", "open", false);
	cr_assert_str_eq(buf, "a/b/action/door/open");
	cr_assert_eq(n, 20);
}

Test(topic, formats_filter_with_wildcards)
{
	char buf[TT_TOPIC_MAX];

	cr_assert_gt(tt_topic_format(buf, sizeof(buf), "tattletale", TT_EVENT, "*", "*", true), 0);
	cr_assert_str_eq(buf, "tattletale/event/+/+");
	cr_assert_gt(tt_topic_format(buf, sizeof(buf), "tattletale", TT_EVENT, "items", "*", true), 0);
	cr_assert_str_eq(buf, "tattletale/event/items/+");
	cr_assert_gt(tt_topic_format(buf, sizeof(buf), "tattletale", TT_EVENT, "*", "created", true), 0);
	cr_assert_str_eq(buf, "tattletale/event/+/created");
}

Test(topic, format_rejects_invalid_input)
{
	char buf[TT_TOPIC_MAX];

	/* '+' is never valid in a part, filter or not. */
	cr_assert_eq(tt_topic_format(buf, sizeof(buf), "tattletale", TT_EVENT, "+", "x", false), -1);
	cr_assert_eq(tt_topic_format(buf, sizeof(buf), "tattletale", TT_EVENT, "a/b", "x", false), -1);
	cr_assert_eq(tt_topic_format(buf, sizeof(buf), "tattletale", TT_EVENT, "x", "", true), -1);
	cr_assert_eq(tt_topic_format(buf, sizeof(buf), "tat+tle", TT_EVENT, "x", "y", false), -1);
	cr_assert_eq(tt_topic_format(buf, sizeof(buf), "tattletale", TT_KIND_COUNT, "x", "y", false), -1);
	cr_assert_eq(tt_topic_format(buf, 10, "tattletale", TT_EVENT, "x", "y", false), -1);
}

Test(topic, format_keeps_star_literal_outside_filters)
{
	char buf[TT_TOPIC_MAX];

	cr_assert_gt(tt_topic_format(buf, sizeof(buf), "tattletale", TT_EVENT, "*", "x", false), 0);
	cr_assert_str_eq(buf, "tattletale/event/*/x");
}

Test(topic, part_matches_star_and_literal)
{
	cr_assert(tt_topic_part_matches("*", "anything"));
	cr_assert(tt_topic_part_matches("items", "items"));
	cr_assert_not(tt_topic_part_matches("items", "item"));
	cr_assert_not(tt_topic_part_matches("item", "items"));
	cr_assert_not(tt_topic_part_matches("+", "items"));
}
