# bench/desk.sh — the "desk" part of bench/run.sh (sourced by it; uses its
# BIN, PW, ENV_ROOT, result and the prosody-env.sh functions).
#   1. build/bench/desk: 10,000 tickets with 100,000 replies, queue and keyword
#      search p95 (goal <= 20 ms), in the core alone.
#   2. message-to-ticket throughput through Prosody: DESK_SENDERS users (one
#      message each: a new ticket needs a sender without an open one) in batches
#      of DESK_BATCH write to support.a.test (bench/deskload), while
#      DESK_PAIRS loadgen pairs route chat between other users; prints tickets/s
#      (goal >= 1,000) and the routing rate during it.
# Knobs: DESK_SENDERS (2000) DESK_BATCH (250) DESK_PAIRS (5) DESK_ROUTE_SECONDS (20)
desk_part() {
	if [ -x "$BIN/desk" ]; then
		echo "== desk: core queue and search (build/bench/desk)"
		( cd "$ENV_ROOT" && "$BIN/desk" ) | tee "$ENV_ROOT/desk-core.out"
	fi
	[ -x "$BIN/deskload" ] || { echo "bench: $BIN/deskload missing (make -C bench)" >&2; return 1; }
	_senders=${DESK_SENDERS:-2000}; _batch=${DESK_BATCH:-250}; _pairs=${DESK_PAIRS:-5}
	echo "== desk: $_senders messages to the desk (batches of $_batch), $_pairs routing pairs alongside"
	env_start bench-desk '+imhost' 'authentication = "internal_plain"' \
		'Component "support.a.test" "imhost_desk"' || { echo "bench: desk server did not start" >&2; return 1; }
	# Accounts in one admin-shell call (prosodyctl register per user is ~0.3 s each).
	env_prosodyctl shell "> local um = require 'core.usermanager'; for i = 0, $((_senders - 1)) do um.create_user('dk-' .. i, '$PW', 'a.test') end; for i = 0, $((_pairs - 1)) do um.create_user('lg-s' .. i, '$PW', 'a.test'); um.create_user('lg-r' .. i, '$PW', 'a.test') end" \
		> /dev/null || { echo "bench: could not create the desk senders" >&2; env_stop; return 1; }
	"$BIN/loadgen" -p "$ENV_C2S_PORT" -n "$_pairs" -w 50 -t "${DESK_ROUTE_SECONDS:-20}" -x "$PW" \
		> "$ENV_ROOT/desk-routing.out" &
	_lg=$!
	sleep 2	# routing under way before the desk load starts
	"$BIN/deskload" -p "$ENV_C2S_PORT" -n "$_senders" -b "$_batch" -x "$PW" \
		-P "$(cat "$ENV_DIR/started.pid")" | tee "$ENV_ROOT/desk-load.out"
	wait "$_lg"	# its window (DESK_ROUTE_SECONDS, 20) spans the desk load
	cat "$ENV_ROOT/desk-routing.out"
	module_check desk "$ENV_LOG"
	env_stop
}

desk_table() {
	[ -f "$ENV_ROOT/desk-load.out" ] || return 0
	printf '%-34s %12s %14s   goal >= 1000 tickets/s\n' "desk: message -> ticket" \
		"$(result "$ENV_ROOT/desk-load.out" rate)/s" "$(result "$ENV_ROOT/desk-load.out" cpu_us) us"
	printf '%-34s %12s   (loadgen over DESK_ROUTE_SECONDS, spanning the desk load)\n' "  routing alongside" \
		"$(result "$ENV_ROOT/desk-routing.out" rate)"
}
