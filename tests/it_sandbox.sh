#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Hostile rules inside the real router: each is contained while a
# well-behaved rule beside it keeps replying. Also timers, tt.get, reload
# and the stats state.
. "$(dirname "$0")/lib.sh"

tt_broker_start
rules=$TT_TMP/rules
mkdir -p "$rules"

# The well-behaved rule: replies to every ping with a pong carrying the same value.
cat > "$rules/00-good.lua" <<'LUA'
local tt = require("tattletale")
tt.event("probe", "ping", function(src, v) tt.event("probe", "pong", v) end)
tt.event("probe", "upper", function(src, v) tt.event("probe", "upper-out", string.upper(v)) end)
LUA
cat > "$rules/10-spin.lua" <<'LUA'
local tt = require("tattletale")
tt.event("probe", "ping", function() while true do end end)
LUA
cat > "$rules/11-spin-pcall.lua" <<'LUA'
local tt = require("tattletale")
tt.event("probe", "ping", function()
  for i = 1, 3 do pcall(function() while true do end end) end
end)
LUA
cat > "$rules/12-spin-coroutine.lua" <<'LUA'
local tt = require("tattletale")
tt.event("probe", "ping", function()
  local co = coroutine.wrap(function() while true do end end)
  pcall(co)
end)
LUA
cat > "$rules/13-memory.lua" <<'LUA'
local tt = require("tattletale")
tt.event("probe", "ping", function()
  local t = {}
  for i = 1, 1e9 do t[i] = string.rep("x", 1024) .. i end
end)
LUA
cat > "$rules/14-pattern.lua" <<'LUA'
local tt = require("tattletale")
tt.event("probe", "ping", function()
  string.find(string.rep("a", 40000), ".-.-.-.-.-b")
end)
LUA
cat > "$rules/15-forbidden.lua" <<'LUA'
local tt = require("tattletale")
local names = { "io", "debug", "dofile", "loadfile", "package" }
tt.event("probe", "forbidden", function()
  local found = {}
  for _, n in ipairs(names) do if _G[n] ~= nil then found[#found + 1] = n end end
  for _, n in ipairs({ "execute", "getenv", "exit", "remove", "rename", "tmpname" }) do
    if os[n] ~= nil then found[#found + 1] = "os." .. n end
  end
  if string.dump ~= nil then found[#found + 1] = "string.dump" end
  if pcall(collectgarbage, "collect") then found[#found + 1] = "collectgarbage" end
  tt.event("probe", "forbidden-out", found)
end)
LUA
cat > "$rules/16-vandal.lua" <<'LUA'
string.upper = function() return "pwned" end
getmetatable("").__index.lower = nil
LUA
cat > "$rules/17-always-fails.lua" <<'LUA'
local tt = require("tattletale")
tt.event("probe", "ping", function() error("this rule always fails") end)
LUA
cat > "$rules/18-timers.lua" <<'LUA'
local tt = require("tattletale")
local n = 0
local every = tt.every(0.05, function()
  n = n + 1
  if n == 3 then tt.event("probe", "timer", n) end
end)
tt.after(0.1, function() tt.event("probe", "after", "fired") end)
local cancelled = tt.after(0.1, function() tt.event("probe", "after", "cancelled-ran") end)
cancelled:cancel()
tt.every(0.05, function() while true do end end)
LUA
cat > "$rules/19-get.lua" <<'LUA'
local tt = require("tattletale")
tt.event("probe", "get", function()
  local lamp, meta = tt.get("lamp", "hall")
  tt.event("probe", "get-out", { on = lamp and lamp.on, src = meta and meta.src })
end)
tt.state("lamp", "hall", function() end)
LUA

# A state handler that listens again from inside each replay of the cached state.
cat > "$rules/20-relisten.lua" <<'LUA'
local tt = require("tattletale")
local function again() tt.state("lamp", "hall"); tt.state("lamp", "hall", again) end
tt.state("lamp", "hall", again)
LUA

cfg=$(tt_config sandbox "$rules")
cat >> "$cfg" <<CONF
sandbox: { instructions: 2000000, time: 2000, memory: 16777216, failures: 5, failure_window: 60 }
CONF
log=$TT_TMP/sandbox.log
"$TT_BIN" emit -c "$cfg" --app api state lamp hall '{"on":true}' >/dev/null
acks=$(tt_subacks)
"$TT_BIN" watch -c "$cfg" event probe > "$TT_TMP/out" 2>"$TT_TMP/out.err" &
tt_track $!
tt_wait_subacks $((acks + 1))
tt_router_start "$cfg"
pid=$ROUTER_PID
tt_wait_subacks $((acks + 6))
emit() { "$TT_BIN" emit -c "$cfg" --app api "$@" >/dev/null; }

for i in 1 2 3 4 5 6; do
	emit event probe ping "$i"
	tt_check "the good rule answers ping $i next to hostile rules" \
		tt_wait_line "$TT_TMP/out" '"name":"pong"' "\"data\":$i}" 10
done
tt_check "an endless loop is stopped by the budget" grep -qF "10-spin.lua" "$log"
tt_check "the budget hit is logged" grep -qE "rule=10-spin.lua.*(budget|instruction)" "$log"
tt_check "the loop inside pcall is stopped" grep -qE "rule=11-spin-pcall.lua.*(budget|instruction)" "$log"
tt_check "the loop inside a coroutine is stopped" grep -qE "rule=12-spin-coroutine.lua.*(budget|instruction)" "$log"
tt_check "the memory bomb is stopped" grep -qE "rule=13-memory.lua.*memory" "$log"
tt_check "the pathological pattern is stopped" grep -qE "rule=14-pattern.lua.*(budget|instruction|time)" "$log"
tt_check "the failing rule is disabled after 5 failures" grep -qE "disabled rule=17-always-fails.lua" "$log"
tt_check "the disabled log says how to enable it again" grep -qF 'until="the next reload (SIGHUP or --watch)"' "$log"
tt_check "the rule with a spinning timer is disabled" tt_wait_for "$log" "disabled rule=18-timers.lua" 10

emit event probe forbidden 1
tt_check "no forbidden function is reachable" tt_wait_line "$TT_TMP/out" '"name":"forbidden-out"' '"data":{}' 10
emit event probe upper '"abc"'
tt_check "one rule's string.upper does not leak into another" tt_wait_line "$TT_TMP/out" '"name":"upper-out"' '"data":"ABC"' 10
tt_check "timers: every fired three times" grep -qF '"name":"timer","src":"sandbox"' "$TT_TMP/out"
tt_check "timers: after fired" grep -qF '"data":"fired"' "$TT_TMP/out"
tt_check "timers: a cancelled timer does not fire" test "$(tt_count "$TT_TMP/out" 'cancelled-ran')" -eq 0
emit event probe get 1
tt_check "tt.get returns the cached state and its meta" tt_wait_line "$TT_TMP/out" '"name":"get-out"' '"data":{"on":true,"src":"api"}' 10

# A reload with a broken file keeps the old set; a good reload replaces it.
echo 'this is not lua' > "$rules/99-broken.lua"
kill -HUP "$pid"
tt_check "a broken reload keeps the old rules" tt_wait_for "$log" "reload failed, keeping the old rules" 10
tt_check "the broken reload names the file" grep -qF "99-broken.lua:1:" "$log"
emit event probe ping 7
tt_check "the old rules still answer after a failed reload" tt_wait_line "$TT_TMP/out" '"name":"pong"' '"data":7}' 10
rm "$rules/99-broken.lua" "$rules"/1*.lua "$rules"/2*.lua
cat > "$rules/01-new.lua" <<'LUA'
local tt = require("tattletale")
tt.event("probe", "ping", function(src, v) tt.event("probe", "pong2", v) end)
LUA
kill -HUP "$pid"
tt_check "a good reload is logged" tt_wait_for "$log" "rules: reloaded rules=2" 10
emit event probe ping 8
tt_check "the new rule answers after reload" tt_wait_line "$TT_TMP/out" '"name":"pong2"' '"data":8}' 10
tt_check "the old rule set is gone" test "$(tt_count "$TT_TMP/out" '"name":"pong"')" -ge 7

tt_stop "$pid"

# run --watch reloads when a file changes; stats are published as a signed state.
sed -i 's/interval: 0/interval: 1/' "$cfg"
acks=$(tt_subacks)
"$TT_BIN" watch -c "$cfg" --count 1 --timeout 10 state tattletale sandbox.stats > "$TT_TMP/stats" 2>&1 &
wpid=$!
tt_track "$wpid"
tt_wait_subacks $((acks + 1))
tt_router_start "$cfg" --watch
pid=$ROUTER_PID
wait "$wpid"
tt_check "stats are published as a signed state" grep -qF '"rules":{"00-good.lua":{"handled":' "$TT_TMP/stats"
cat > "$rules/02-added.lua" <<'LUA'
local tt = require("tattletale")
tt.event("probe", "ping", function(src, v) tt.event("probe", "pong3", v) end)
LUA
tt_check "--watch reloads when a rule file appears" tt_wait_for "$TT_TMP/sandbox.log" "rules: reloaded rules=3" 10
tt_stop "$pid"

tt_done
