#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The command line against a real mosquitto: emit, watch, check, keygen and usage errors.
. "$(dirname "$0")/lib.sh"

tt_broker_start
mkdir -p "$TT_TMP/rules"
cfg=$(tt_config cli "$TT_TMP/rules")
tt=("$TT_BIN")

# emit then watch, for each kind: the watcher is started first and waits for one message.
for kind in event state action; do
	out=$TT_TMP/watch-$kind.out
	acks=$(tt_subacks)
	"${tt[@]}" watch -c "$cfg" --count 1 --timeout 10 "$kind" items created > "$out" 2>"$out.err" &
	wpid=$!
	tt_track "$wpid"
	tt_wait_subacks $((acks + 1))
	id=$("${tt[@]}" emit -c "$cfg" "$kind" items created '{"id":42,"title":"hello"}')
	wait "$wpid"
	status=$?
	tt_check "watch exits 0 after --count 1 ($kind)" test "$status" -eq 0
	tt_check "emit prints a 22-character id ($kind)" test "${#id}" -eq 22
	tt_check "watch prints the emitted $kind" grep -qF "\"kind\":\"$kind\",\"ns\":\"items\",\"name\":\"created\",\"src\":\"cli\"" "$out"
	tt_check "watch line carries the id ($kind)" grep -qF "\"id\":\"$id\"" "$out"
	tt_check "watch line carries the data ($kind)" grep -qF '"data":{"id":42,"title":"hello"}' "$out"
done

# A state retained before the watcher starts is delivered to it, marked retained.
"${tt[@]}" emit -c "$cfg" state lamp kitchen '{"on":true}' >/dev/null
"${tt[@]}" watch -c "$cfg" --count 1 --timeout 10 state lamp kitchen > "$TT_TMP/retained.out" 2>&1
tt_check "watch sees a state retained earlier" grep -qF '"retained":true,"data":{"on":true}' "$TT_TMP/retained.out"

# The value can come from standard input, and a scalar value is fine.
echo '  "from stdin"  ' | "${tt[@]}" emit -c "$cfg" state misc text >/dev/null
"${tt[@]}" watch -c "$cfg" --count 1 --timeout 10 state misc text > "$TT_TMP/stdin.out" 2>&1
tt_check "emit reads the value from stdin" grep -qF '"data":"from stdin"' "$TT_TMP/stdin.out"

# watch --rejected reports a forged message with its reason, and a valid one still passes.
acks=$(tt_subacks)
"${tt[@]}" watch -c "$cfg" --rejected --count 1 --timeout 10 event > "$TT_TMP/forged.out" 2>"$TT_TMP/forged.err" &
wpid=$!
tt_track "$wpid"
tt_wait_subacks $((acks + 1))
forged='{"v":1,"src":"api","ts":1764806400000,"id":"AAAAAAAAAAAAAAAAAAAAAA","data":{"id":42},"sig":"k1.GYdLvecJ6hC_Lt1nJW91LjJJM_WIwuf5kTzRI6YxYHg"}'
mosquitto_pub -h 127.0.0.1 -p "$TT_PORT" -t tattletale/event/items/created -m "$forged"
mosquitto_pub -h 127.0.0.1 -p "$TT_PORT" -t tattletale/event/items/created -m '{"v":1}'
"${tt[@]}" emit -c "$cfg" event items created '{"ok":true}' >/dev/null
wait "$wpid"
tt_check "watch --rejected names bad-signature" grep -qF "watch: rejected reason=bad-signature topic=tattletale/event/items/created" "$TT_TMP/forged.err"
tt_check "watch --rejected names no-signature" grep -qF "reason=no-signature" "$TT_TMP/forged.err"
tt_check "watch still prints the valid message" grep -qF '"data":{"ok":true}' "$TT_TMP/forged.out"

# --timeout with too few messages exits 1.
"${tt[@]}" watch -c "$cfg" --count 1 --timeout 1 event nothing here >/dev/null 2>&1
tt_check "watch --timeout without enough messages exits 1" test $? -eq 1

# Flags alone, with no config file.
id=$(cd "$TT_TMP" && "${tt[@]}" emit -p "$TT_PORT" --app flags --key-file "$TT_TMP/key" --kid k1 event a b 1)
tt_check "emit works with flags and no config file" test "${#id}" -eq 22

# Values as deep and as large as receivers accept are sent; one more is refused.
deep() { printf '%*s' "$1" '' | tr ' ' '['; printf '%*s' "$1" '' | tr ' ' ']'; }
"${tt[@]}" emit -c "$cfg" event limits deep "$(deep 63)" >/dev/null
tt_check "emit sends data 63 levels deep" test $? -eq 0
"${tt[@]}" emit -c "$cfg" event limits deep "$(deep 64)" 2>"$TT_TMP/e0"
tt_check "emit refuses data 64 levels deep" test $? -eq 2
tt_check "emit names the depth limit" grep -qF "nested deeper than 63 levels" "$TT_TMP/e0"
head -c 300000 /dev/zero | tr '\0' 'x' | sed 's/.*/"&"/' | "${tt[@]}" emit -c "$cfg" event limits big 2>"$TT_TMP/e0"
tt_check "emit refuses a value too large to sign" test $? -eq 2

# Errors: bad value, bad name, unreachable broker, bad usage.
"${tt[@]}" emit -c "$cfg" event items created '{"id":' 2>"$TT_TMP/e1"
tt_check "emit rejects invalid JSON with status 2" test $? -eq 2
tt_check "emit names the JSON error" grep -qF "invalid JSON value at byte 7" "$TT_TMP/e1"
"${tt[@]}" emit -c "$cfg" event items created 'hello' 2>"$TT_TMP/e1q"
tt_check "emit says a bare word needs quotes" grep -qF "a string needs JSON quotes" "$TT_TMP/e1q"
tt_check "emit gives no quote hint for other errors" bash -c '! grep -qF "quotes" "$0"' "$TT_TMP/e1"
# jansson skips a raw NUL after a number, but receivers reject it, so emit must too.
printf '[1\0]' | "${tt[@]}" emit -c "$cfg" event items created 2>"$TT_TMP/e1"
tt_check "emit rejects a raw NUL in the value" test $? -eq 2
"${tt[@]}" emit -c "$cfg" event 'bad/ns' created 1 2>/dev/null
tt_check "emit rejects a name with a slash" test $? -eq 2
"${tt[@]}" emit -c "$cfg" -p 1 event a b 1 2>"$TT_TMP/e2"
tt_check "emit to an unreachable broker exits 1" test $? -eq 1
tt_check "emit names the unreachable broker" grep -qF "127.0.0.1:1" "$TT_TMP/e2"
"${tt[@]}" emit 2>"$TT_TMP/e3"
tt_check "emit without arguments exits 2" test $? -eq 2
tt_check "emit without arguments prints the usage" grep -qF "usage: tattletale emit" "$TT_TMP/e3"
"${tt[@]}" watch --count x 2>/dev/null
tt_check "watch with a bad --count exits 2" test $? -eq 2
"${tt[@]}" frobnicate 2>/dev/null
tt_check "an unknown command exits 2" test $? -eq 2
"${tt[@]}" run --no-such-flag 2>/dev/null
tt_check "an unknown flag exits 2" test $? -eq 2

# check: a good setup, a broken config, a rule with a syntax error.
echo 'local tt = require("tattletale") tt.event("a", "b", function() end)' > "$TT_TMP/rules/good.lua"
"${tt[@]}" check -c "$cfg" > "$TT_TMP/c1" 2>&1
tt_check "check passes a good setup" test $? -eq 0
tt_check "check prints a one-line summary" grep -qF "rules=1" "$TT_TMP/c1"
printf 'app: x\nbroker:\n  port: http\nlimits: { depth: 1 }\n' > "$TT_TMP/broken.yaml"
"${tt[@]}" check -c "$TT_TMP/broken.yaml" > "$TT_TMP/c2" 2>&1
tt_check "check fails a broken config with status 2" test $? -eq 2
tt_check "check names file:line:column and key" grep -qF "broken.yaml:3:9: broker.port" "$TT_TMP/c2"
tt_check "check reports the second bad key too" grep -qF "broken.yaml:4:18: limits.depth" "$TT_TMP/c2"
tt_check "check prefixes each error line" test "$(grep -c '^tattletale: .*broken.yaml:' "$TT_TMP/c2")" -eq 2
printf 'local tt = require("tattletale")\n\ntt.event("a", "b", function()\n  return 1 +\nend)\n' > "$TT_TMP/rules/bad.lua"
"${tt[@]}" check -c "$cfg" > "$TT_TMP/c3" 2>&1
tt_check "check fails a rule with a syntax error" test $? -eq 2
tt_check "check names the rule file:line" grep -qF "bad.lua:5:" "$TT_TMP/c3"

# keygen: 43 base64url characters, different each time.
k1=$("${tt[@]}" keygen)
k2=$("${tt[@]}" keygen)
tt_check "keygen prints 43 base64url characters" bash -c '[[ "$0" =~ ^[A-Za-z0-9_-]{43}$ ]]' "$k1"
tt_check "keygen prints a new key each time" test "$k1" != "$k2"
"${tt[@]}" --version | grep -q '^tattletale '
tt_check "--version prints the version" test $? -eq 0
"${tt[@]}" help emit | grep -qF "usage: tattletale emit"
tt_check "help emit prints the emit usage" test $? -eq 0

tt_done
