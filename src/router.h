/* SPDX-License-Identifier: MIT */
/*
 * The router behind `tattletale run`: it owns the broker connection, the
 * inbox, the state cache and the rule set, hands every verified message to
 * the rules that listen for it, and signs and publishes what they emit.
 * It is also the struct tt_host the rules talk to.
 */
#ifndef TT_ROUTER_H
#define TT_ROUTER_H

#include <stdbool.h>

#include "config.h"
#include "keyring.h"

struct tt_router;

struct tt_router_opts {
	const struct tt_config *cfg;
	struct tt_keyring *keys;	/* the router borrows it */
	const char *lua_dir;		/* the shipped lua/ folder */
	bool watch_rules;		/* reload when files in the rules folder change */
};

/*
 * Creates the router and loads every rule. Returns NULL with a message in
 * err when a rule fails to load or the broker client cannot be made.
 */
struct tt_router *tt_router_new(const struct tt_router_opts *opts, char *err, size_t errsize);
void tt_router_free(struct tt_router *router);

/* Connects and runs until SIGTERM or SIGINT. Returns an exit status. */
int tt_router_run(struct tt_router *router);

/*
 * Loads the rules folder again. The new set replaces the old one only when
 * every file loaded; otherwise the old set keeps running. Returns 0 or -1.
 */
int tt_router_reload(struct tt_router *router);

/* The shipped lua/ folder: $TATTLETALE_LUA_DIR, else the installed one. */
const char *tt_router_lua_dir(void);

#endif
