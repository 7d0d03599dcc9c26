# SPDX-License-Identifier: MIT
# Shared helpers for the integration tests: a private mosquitto on a free
# loopback port, a scratch folder, a key, and bounded waits. Source it;
# every process started here is stopped by its own PID on exit.

set -u

: "${TT_BIN:?TT_BIN must point at the tattletale binary}"
: "${TT_SRCDIR:?TT_SRCDIR must point at the source tree}"
MOSQUITTO_BIN=${MOSQUITTO_BIN:-$(command -v mosquitto || echo /usr/sbin/mosquitto)}

TT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tt-test.XXXXXX")
TT_PIDS=""
TT_FAILS=0
TT_KEY=0123456789abcdef0123456789abcdef
printf '%s\n' "$TT_KEY" > "$TT_TMP/key"
chmod 600 "$TT_TMP/key"

tt_cleanup() {
	for pid in $TT_PIDS; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in $TT_PIDS; do
		wait "$pid" 2>/dev/null || true
	done
	if [ "$TT_FAILS" -eq 0 ] && [ -z "${TT_KEEP_TMP:-}" ]; then
		rm -rf "$TT_TMP"
	else
		echo "# scratch folder kept: $TT_TMP" >&2
	fi
}
trap tt_cleanup EXIT

# Records a background process for cleanup.
tt_track() {
	TT_PIDS="$TT_PIDS $1"
}

# Stops one tracked process and waits for it.
tt_stop() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# Returns 0 once something accepts TCP connections on 127.0.0.1:$1.
tt_port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Starts mosquitto on a free loopback port: sets TT_PORT and BROKER_PID.
# Pass "keep" to reuse TT_PORT (for a restart on the same port).
tt_broker_start() {
	local tries=0 port
	while [ $tries -lt 20 ]; do
		tries=$((tries + 1))
		if [ "${1:-}" = keep ]; then
			port=$TT_PORT
		else
			port=$(( (RANDOM << 15 | RANDOM) % 30000 + 20000 ))
			tt_port_open "$port" && continue
		fi
		cat > "$TT_TMP/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
persistence false
user $(id -un)
log_dest file $TT_TMP/mosquitto.log
log_type all
CONF
		"$MOSQUITTO_BIN" -c "$TT_TMP/mosquitto.conf" >/dev/null 2>&1 &
		BROKER_PID=$!
		tt_track "$BROKER_PID"
		local waited=0
		while [ $waited -lt 50 ]; do
			if tt_port_open "$port"; then
				TT_PORT=$port
				return 0
			fi
			kill -0 "$BROKER_PID" 2>/dev/null || break
			sleep 0.1
			waited=$((waited + 1))
		done
		tt_stop "$BROKER_PID"
		[ "${1:-}" = keep ] && sleep 0.5
	done
	echo "# cannot start mosquitto on a free loopback port" >&2
	exit 99
}

# Writes a config file for app $1 with rules folder $2 to $TT_TMP/$1.yaml.
tt_config() {
	cat > "$TT_TMP/$1.yaml" <<CONF
app: $1
broker:
  host: 127.0.0.1
  port: $TT_PORT
keys:
  - { id: k1, file: $TT_TMP/key }
rules: $2
stats: { interval: 0 }
CONF
	echo "$TT_TMP/$1.yaml"
}

# Waits up to $3 seconds (default 10) until file $1 contains the fixed string $2.
tt_wait_for() {
	local deadline=$(( $(date +%s) + ${3:-10} ))
	while [ "$(date +%s)" -le "$deadline" ]; do
		grep -qF -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# Waits until the broker has acknowledged at least $1 subscriptions in all.
tt_wait_subacks() {
	local deadline=$(( $(date +%s) + ${2:-10} ))
	while [ "$(date +%s)" -le "$deadline" ]; do
		[ "$(tt_count "$TT_TMP/mosquitto.log" "Sending SUBACK")" -ge "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

# Prints how many subscriptions the broker has acknowledged so far.
tt_subacks() {
	tt_count "$TT_TMP/mosquitto.log" "Sending SUBACK"
}

# Counts lines of file $1 that contain the fixed string $2.
tt_count() {
	grep -cF -- "$2" "$1" 2>/dev/null || true
}

tt_pass() {
	echo "ok - $1"
}

tt_fail() {
	echo "not ok - $1"
	TT_FAILS=$((TT_FAILS + 1))
}

# tt_check NAME COMMAND...: runs the command and reports it.
tt_check() {
	local name=$1
	shift
	if "$@"; then tt_pass "$name"; else tt_fail "$name"; fi
}

# Ends the script with the right status.
tt_done() {
	if [ "$TT_FAILS" -gt 0 ]; then
		echo "# $TT_FAILS check(s) failed; logs in $TT_TMP" >&2
		exit 1
	fi
	exit 0
}

# Starts the router in the background with config $1; sets ROUTER_PID and
# logs to $TT_TMP/<name>.log. Waits until it is connected.
tt_router_start() {
	local cfg=$1 log=$TT_TMP/$(basename "$1" .yaml).log
	shift
	"$TT_BIN" run -c "$cfg" -v "$@" > "$log" 2>&1 &
	ROUTER_PID=$!
	tt_track "$ROUTER_PID"
	if ! tt_wait_for "$log" "mqtt: connected" 10; then
		echo "# router did not connect; log follows" >&2
		sed 's/^/# /' "$log" >&2
		return 1
	fi
}

# Prints a protocol v1 payload for topic $1 with body $2 (the JSON text
# before the signature), signed with $TT_KEY as kid k1. Uses openssl only,
# as a client in another language would.
tt_sign() {
	local tag
	tag=$(printf 'tattletale-v1\nk1\n%s\n%s' "$1" "$2" |
		openssl dgst -sha256 -mac HMAC -macopt "key:$TT_KEY" -binary |
		basenc --base64url | tr -d '=\n')
	printf '%s,"sig":"k1.%s"}' "$2" "$tag"
}

# Prints the current time in milliseconds since the epoch.
tt_now_ms() {
	date +%s%3N
}

# Prints a random 22-character message id.
tt_new_id() {
	head -c 16 /dev/urandom | basenc --base64url | tr -d '=\n'
}

# Waits up to $4 seconds (default 10) until one line of file $1 contains both fixed strings $2 and $3.
tt_wait_line() {
	local deadline=$(( $(date +%s) + ${4:-10} ))
	while [ "$(date +%s)" -le "$deadline" ]; do
		grep -F -- "$2" "$1" 2>/dev/null | grep -qF -- "$3" && return 0
		sleep 0.1
	done
	return 1
}

# Counts lines of file $1 that contain both fixed strings $2 and $3.
tt_count_line() {
	grep -F -- "$2" "$1" 2>/dev/null | grep -cF -- "$3" || true
}
