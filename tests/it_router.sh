#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tattletale run end to end against a real mosquitto: the rules, the
# rejections, the hop limit and a broker restart.
. "$(dirname "$0")/lib.sh"

tt_broker_start
rules=$TT_TMP/rules
mkdir -p "$rules"

# The scenario: the API announces items/created, the indexer rule requests
# index/item, and the worker rule replies with a state.
cat > "$rules/10-indexer.lua" <<'LUA'
local tt = require("tattletale")
tt.event("items", "created", function(src, item, meta)
  tt.action("index", "item", { id = item.id, from = src })
end)
LUA
cat > "$rules/20-worker.lua" <<'LUA'
local tt = require("tattletale")
tt.action("index", "item", function(src, job, meta)
  tt.state("index", "last", { id = job.id, from = job.from, by = src, hop = meta.hop })
end)
LUA
# Value round trips: whatever arrives on rt/in goes out unchanged on rt/out.
cat > "$rules/30-echo.lua" <<'LUA'
local tt = require("tattletale")
tt.event("rt", "in", function(src, value) tt.event("rt", "out", value) end)
LUA
# Wildcards, and stopping: "*" matches any name; the "once" listener stops itself.
cat > "$rules/40-wild.lua" <<'LUA'
local tt = require("tattletale")
tt.event("wild", "*", function(src, value, meta) tt.event("seen", "wild", meta.name) end)
tt.event("stop", "once", function(src, value)
  tt.event("seen", "once", value)
  tt.event("stop", "once")
end)
-- Handlers see the arguments their parameters ask for: "..." gets all three.
tt.event("arity", "all", function(...)
  local src, value, meta = ...
  tt.event("seen", "all", { n = select("#", ...), src = src, value = value, name = meta.name })
end)
tt.event("arity", "src", function(src) tt.event("seen", "src", src) end)
tt.event("arity", "none", function() tt.event("seen", "none", true) end)
tt.event("arity", "print", print)
LUA
# A rule that fails on every message, next to one that keeps working.
cat > "$rules/50-broken.lua" <<'LUA'
local tt = require("tattletale")
tt.event("fail", "now", function(src, value) local x = nil; return x.field end)
LUA
cat > "$rules/51-steady.lua" <<'LUA'
local tt = require("tattletale")
tt.event("fail", "now", function(src, value) tt.event("seen", "steady", value) end)
LUA
# Two rules that reply to each other forever, until the hop limit stops them.
cat > "$rules/60-ping.lua" <<'LUA'
local tt = require("tattletale")
tt.event("loop", "ping", function(src, n) tt.event("loop", "pong", n + 1) end)
LUA
# The same loop, but each reply goes out from a timer started by the handler.
cat > "$rules/62-timer-loop.lua" <<'LUA'
local tt = require("tattletale")
tt.event("tloop", "ping", function(src, n) tt.after(0, function() tt.event("tloop", "pong", n + 1) end) end)
tt.event("tloop", "pong", function(src, n) tt.after(0, function() tt.event("tloop", "ping", n + 1) end) end)
LUA
cat > "$rules/61-pong.lua" <<'LUA'
local tt = require("tattletale")
tt.event("loop", "pong", function(src, n) tt.event("loop", "ping", n + 1) end)
LUA

cfg=$(tt_config router "$rules")
log=$TT_TMP/router.log
acks=$(tt_subacks)
tt_router_start "$cfg"
main_pid=$ROUTER_PID
tt_wait_subacks $((acks + 14))
emit() { "$TT_BIN" emit -c "$cfg" --app api "$@" >/dev/null; }

# Watch everything the rules emit.
acks=$(tt_subacks)
"$TT_BIN" watch -c "$cfg" > "$TT_TMP/all.out" 2>"$TT_TMP/all.err" &
tt_track $!
tt_wait_subacks $((acks + 3))

# 1. The scenario.
emit event items created '{"id":42,"title":"hello"}'
tt_check "scenario: the worker answers the indexer's action" \
	tt_wait_for "$TT_TMP/all.out" '"kind":"state","ns":"index","name":"last","src":"router","ts":'
tt_check "scenario: the state carries the item and hop 2" \
	grep -qF '"data":{"by":"router","from":"api","hop":1,"id":42}' "$TT_TMP/all.out"
tt_check "scenario: the action went out as QoS 2 with hop 1" \
	grep -qF '"kind":"action","ns":"index","name":"item"' "$TT_TMP/all.out"

# 2. Value round trips through Lua.
roundtrip() {
	local value=$1 expect=${2:-$1}
	emit event rt in ${3:-} "$value"
	if tt_wait_line "$TT_TMP/all.out" '"ns":"rt","name":"out"' "\"data\":$expect}" 5; then
		tt_pass "round trip keeps $value"
	else
		tt_fail "round trip keeps $value"
	fi
}
roundtrip '[]'
roundtrip '{}'
roundtrip '{"a":[],"b":{}}'
roundtrip '9007199254740993'
roundtrip '[1,2.5,3.0,-0.5]'
roundtrip '{"list":[null,1],"n":null}'
roundtrip '"K\u00fcche \u2603"' '"Küche ☃"'
roundtrip 'null'
roundtrip '-9223372036854775808' '-9223372036854775808' --

# 3. Wildcards and stopping.
emit event wild alpha 1
emit event wild beta 2
tt_check "wildcard name matches alpha" tt_wait_line "$TT_TMP/all.out" '"ns":"seen","name":"wild"' '"data":"alpha"' 5
tt_check "wildcard name matches beta" tt_wait_line "$TT_TMP/all.out" '"ns":"seen","name":"wild"' '"data":"beta"' 5
emit event stop once '"first"'
tt_wait_line "$TT_TMP/all.out" '"ns":"seen","name":"once"' '"data":"first"' 5
emit event stop once '"second"'
emit event wild gamma 3
tt_wait_line "$TT_TMP/all.out" '"ns":"seen","name":"wild"' '"data":"gamma"' 5
tt_check "stop listening: the handler ran once" test "$(tt_count "$TT_TMP/all.out" '"ns":"seen","name":"once"')" -eq 1

emit event arity all '[7]'
tt_check "a handler with ... gets src, value and meta" tt_wait_line "$TT_TMP/all.out" \
	'"ns":"seen","name":"all"' '"data":{"n":3,"name":"all","src":"api","value":[7]}}' 5
emit event arity src '[8]'
tt_check "a handler with one parameter gets src" tt_wait_line "$TT_TMP/all.out" \
	'"ns":"seen","name":"src"' '"data":"api"}' 5
emit event arity none '[9]'
tt_check "a handler with no parameters runs" tt_wait_line "$TT_TMP/all.out" \
	'"ns":"seen","name":"none"' '"data":true}' 5
emit event arity print '"v"'
tt_check "a C function as handler gets all three" tt_wait_for "$log" 'msg="api v table: '

# 4. A failing rule is logged with file:line and the rule beside it keeps working.
for i in 1 2 3; do emit event fail now "$i"; done
tt_wait_line "$TT_TMP/all.out" '"ns":"seen","name":"steady"' '"data":3}' 5
tt_check "the steady rule handled every message" test "$(tt_count "$TT_TMP/all.out" '"ns":"seen","name":"steady"')" -eq 3
tt_check "the failing handler is logged with file:line" grep -qF "50-broken.lua:2:" "$log"

# 5. The hop limit stops the loop between two rules.
emit event loop ping 0
tt_check "the hop limit is logged" tt_wait_for "$log" "hop limit reached" 5
tt_check "the hop-limit log names the previous rule" grep -qE "hop limit reached rule=6[01]-p[io]ng.lua .*previous_rule=6[01]-p[io]ng.lua" "$log"
sleep 0.5
pings=$(( $(tt_count "$TT_TMP/all.out" '"ns":"loop"') ))
tt_check "the loop stopped after 9 messages" test "$pings" -eq 9
emit event tloop ping 0
tt_check "the hop limit stops a loop through timers" tt_wait_for "$log" "hop limit reached rule=62-timer-loop.lua" 5
sleep 0.5
tt_check "the timer loop stopped after 9 messages" test "$(tt_count "$TT_TMP/all.out" '"ns":"tloop"')" -eq 9

# 6. Forged, replayed, stale and retained events are rejected; a valid one passes.
topic=tattletale/event/fail/now
now=$(tt_now_ms)
body="{\"v\":1,\"src\":\"api\",\"ts\":$now,\"id\":\"$(tt_new_id)\",\"data\":100"
good=$(tt_sign "$topic" "$body")
mosquitto_pub -h 127.0.0.1 -p "$TT_PORT" -t "$topic" -m "$good"
mosquitto_pub -h 127.0.0.1 -p "$TT_PORT" -t "$topic" -m "$good"
mosquitto_pub -h 127.0.0.1 -p "$TT_PORT" -t "$topic" -m "${good/100/101}"
old="{\"v\":1,\"src\":\"api\",\"ts\":$((now - 600000)),\"id\":\"$(tt_new_id)\",\"data\":102"
mosquitto_pub -h 127.0.0.1 -p "$TT_PORT" -t "$topic" -m "$(tt_sign "$topic" "$old")"
ret="{\"v\":1,\"src\":\"api\",\"ts\":$now,\"id\":\"$(tt_new_id)\",\"data\":103"
mosquitto_pub -h 127.0.0.1 -p "$TT_PORT" -t tattletale/event/fail/kept -m "$(tt_sign tattletale/event/fail/kept "$ret")" -r
mosquitto_pub -h 127.0.0.1 -p "$TT_PORT" -t "$topic" -n
mosquitto_pub -h 127.0.0.1 -p "$TT_PORT" -t "$topic" -m "${good/\"sig\":\"k1./\"sig\":\"k9.}"
mosquitto_pub -h 127.0.0.1 -p "$TT_PORT" -t "$topic" -m "not json at all"
huge="{\"v\":1,\"src\":\"api\",\"ts\":$now,\"id\":\"$(tt_new_id)\",\"hop\":9223372036854775807,\"data\":104"
mosquitto_pub -h 127.0.0.1 -p "$TT_PORT" -t "$topic" -m "$(tt_sign "$topic" "$huge")"
tt_check "a valid hand-signed message passes" tt_wait_line "$TT_TMP/all.out" '"ns":"seen","name":"steady"' '"data":100}' 5
tt_check "replay rejected" tt_wait_for "$log" "reason=replay topic=$topic" 5
tt_check "forged rejected" tt_wait_for "$log" "reason=bad-signature topic=$topic" 5
tt_check "stale rejected" tt_wait_for "$log" "reason=stale topic=$topic" 5
tt_check "no-signature rejected" tt_wait_for "$log" "reason=no-signature topic=$topic" 5
tt_check "unknown key rejected with its id" tt_wait_for "$log" "reason=unknown-key topic=$topic kid=k9" 5
tt_check "an empty message is not logged as a warning" bash -c '! grep -qF "bytes=0" "$0"' "$log"
tt_check "the largest hop is stopped by the hop limit" tt_wait_for "$log" "received_hop=9223372036854775807" 5
acks=$(tt_subacks)
cat > "$rules/70-kept.lua" <<'LUA'
local tt = require("tattletale")
tt.event("fail", "kept", function(src, v) tt.event("seen", "kept", v) end)
LUA
kill -HUP "$main_pid"
tt_check "retained event rejected" tt_wait_for "$log" "reason=retained-event topic=tattletale/event/fail/kept" 5
tt_check "the replayed message was handled once" test "$(tt_count_line "$TT_TMP/all.out" '"ns":"seen","name":"steady"' '"data":100}')" -eq 1
mosquitto_pub -h 127.0.0.1 -p "$TT_PORT" -t tattletale/event/fail/kept -r -n

# 7. A state retained on the broker reaches a router that starts later.
emit state lamp kitchen '{"on":true,"level":0.5}'
later=$TT_TMP/later
mkdir -p "$later"
cat > "$later/lamp.lua" <<'LUA'
local tt = require("tattletale")
tt.state("lamp", "kitchen", function(src, lamp, meta)
  tt.event("seen", "lamp", { on = lamp.on, retained = meta.retained, from = src })
end)
LUA
cfg2=$(tt_config later "$later")
tt_router_start "$cfg2"
later_pid=$ROUTER_PID
tt_check "a later router gets the retained state" \
	tt_wait_for "$TT_TMP/all.out" '"ns":"seen","name":"lamp","src":"later"' 5
tt_check "the retained state is marked retained" \
	grep -qF '"data":{"from":"api","on":true,"retained":true}' "$TT_TMP/all.out"
tt_stop "$later_pid"

# 8. Presence: the router announced itself online.
tt_check "presence state online" grep -qF '"ns":"tattletale","name":"router","src":"router"' "$TT_TMP/all.out"

# 9. Recovery after the broker restarts on the same port.
tt_stop "$BROKER_PID"
tt_check "the router logs the lost connection" tt_wait_for "$log" "connection lost" 5
acks=$(tt_subacks)
tt_broker_start keep
deadline=$(( $(date +%s) + 15 ))
while [ "$(tt_count "$log" "mqtt: connected")" -lt 2 ] && [ "$(date +%s)" -le "$deadline" ]; do sleep 0.2; done
tt_check "the router connected a second time" test "$(tt_count "$log" "mqtt: connected")" -ge 2
tt_wait_subacks $((acks + 11)) 10
"$TT_BIN" watch -c "$cfg" --count 1 --timeout 10 state index last > "$TT_TMP/after.out" 2>&1 &
wpid=$!
tt_track "$wpid"
tt_wait_subacks $((acks + 12)) 10
emit event items created '{"id":43}'
wait "$wpid"
tt_check "rules work after the broker restart" grep -qF '"id":43}' "$TT_TMP/after.out"

# 10. SIGTERM stops the router cleanly with status 0.
kill -TERM "$main_pid" 2>/dev/null
wait "$main_pid"
tt_check "SIGTERM exits 0" test $? -eq 0
tt_check "the router logs its stop" grep -qF "router: stopped" "$log"

# 11. With a persistent session, actions sent while the router is away arrive when it is back.
away=$TT_TMP/away
mkdir -p "$away"
cat > "$away/jobs.lua" <<'LUA'
local tt = require("tattletale")
tt.action("jobs", "run", function(src, job) tt.event("seen", "job", job) end)
LUA
cfg3=$(tt_config keeper "$away")
sed -i 's/^  port: .*/&\n  client_id: keeper-1\n  session: persistent/' "$cfg3"
acks=$(tt_subacks)
tt_router_start "$cfg3"
keeper=$ROUTER_PID
tt_wait_subacks $((acks + 1))
kill -TERM "$keeper"
wait "$keeper"
emit action jobs run '"while-away"'
acks=$(tt_subacks)
"$TT_BIN" watch -c "$cfg" --count 1 --timeout 10 event seen job > "$TT_TMP/away.out" 2>&1 &
wpid=$!
tt_track "$wpid"
tt_wait_subacks $((acks + 1))
tt_router_start "$cfg3"
wait "$wpid"
tt_check "an action sent while away arrives on return" grep -qF '"data":"while-away"' "$TT_TMP/away.out"
tt_stop "$ROUTER_PID"

tt_done
