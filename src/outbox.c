/* SPDX-License-Identifier: MIT */
/* The queue of unsigned messages waiting for the broker connection. */
#include "outbox.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void
item_free(struct tt_outbox_item *item)
{
	free((char *)item->out.ns);
	free((char *)item->out.name);
	free((char *)item->out.json);
}

static char *
copy(const char *s, size_t len)
{
	char *c = malloc(len + 1);

	if (c != NULL) {
		memcpy(c, s, len);
		c[len] = '\0';
	}
	return c;
}

int
tt_outbox_push(struct tt_outbox *box, const struct tt_outgoing *out, const char *id,
	       int64_t now_ms)
{
	struct tt_outbox_item *item;

	if (box->count >= TT_OUTBOX_MAX_MESSAGES || box->bytes + out->len > TT_OUTBOX_MAX_BYTES) {
		box->dropped++;
		errno = ENOBUFS;
		return -1;
	}
	if (box->count == box->cap) {
		size_t cap = box->cap ? box->cap * 2 : 64;
		item = realloc(box->items, cap * sizeof(*item));
		if (item == NULL)
			return -1;
		box->items = item;
		box->cap = cap;
	}

	item = &box->items[box->count];
	item->out = *out;
	item->out.ns = copy(out->ns, strlen(out->ns));
	item->out.name = copy(out->name, strlen(out->name));
	item->out.json = copy(out->json, out->len);
	item->out.id = NULL;
	if (item->out.ns == NULL || item->out.name == NULL || item->out.json == NULL) {
		item_free(item);
		errno = ENOMEM;
		return -1;
	}
	memcpy(item->id, id, sizeof(item->id));
	item->queued_ms = now_ms;
	box->count++;
	box->bytes += out->len;
	return 0;
}

size_t
tt_outbox_flush(struct tt_outbox *box,
		int (*send)(void *arg, const struct tt_outgoing *out, const char *id), void *arg,
		int64_t now_ms, int64_t max_age_ms)
{
	size_t done = 0, sent = 0;

	for (; done < box->count; done++) {
		struct tt_outbox_item *item = &box->items[done];

		if (item->out.kind != TT_STATE && now_ms - item->queued_ms > max_age_ms) {
			box->expired++;
		} else if (send(arg, &item->out, item->id) < 0) {
			break;
		} else {
			sent++;
		}
		box->bytes -= item->out.len;
		item_free(item);
	}
	if (done > 0) {
		memmove(box->items, box->items + done, (box->count - done) * sizeof(*box->items));
		box->count -= done;
	}
	return sent;
}

void
tt_outbox_free(struct tt_outbox *box)
{
	for (size_t i = 0; i < box->count; i++)
		item_free(&box->items[i]);
	free(box->items);
	memset(box, 0, sizeof(*box));
}
