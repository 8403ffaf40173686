#!/bin/sh
# run.sh — runs every integration suite (build/integration/test_*), each
# against its own fresh Prosody described by tests/integration/<suite>.env
# (a suite_setup function: env_start + env_register).  Prints each suite's
# output, the server log tail when a suite fails, and as its last line
# "integration tests: N passed, N failed".  Exit status 1 on any failure.
#   SUITES="test_env test_logs"  run only these      KEEP=1  keep temp dirs
#   SUITE_TIMEOUT=seconds (default 300 per suite)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
IMHOST_REPO=$(cd "$HERE/../.." && pwd)
BIN="${IT_BIN:-$IMHOST_REPO/build/integration}"	# IT_BIN: e.g. sanitizer builds
ENV_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/imhost-it.XXXXXX") || exit 1
export IMHOST_REPO ENV_ROOT
. "$HERE/prosody-env.sh"

total_p=0; total_f=0
cleanup() {
	env_stop_all
	if [ "$total_f" -eq 0 ] && [ -z "${KEEP:-}" ]; then rm -rf "$ENV_ROOT"
	else echo "(server dirs and logs kept in $ENV_ROOT)"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ls "$BIN"/test_* >/dev/null 2>&1 ||
	{ echo "no test binaries in $BIN (make -C tests/integration)"; total_f=1; }
for bin in "$BIN"/test_*; do
	[ -f "$bin" ] && [ -x "$bin" ] || continue
	name=${bin##*/}
	case " ${SUITES:-$name} " in *" $name "*) ;; *) continue ;; esac
	echo "== $name"
	out="$ENV_ROOT/$name.out"
	started=$(date +%s)
	(
		. "$HERE/$name.env" || exit 1
		if ! suite_setup; then
			echo "FAIL - $name: environment set-up failed"
			env_log_tail 40
			echo "0 passed, 1 failed"
			exit 1
		fi
		timeout "${SUITE_TIMEOUT:-300}" "$bin"
		rc=$?
		[ $rc -eq 124 ] && echo "FAIL - $name: killed after ${SUITE_TIMEOUT:-300} s"
		[ $rc -ne 0 ] && env_log_tail 60
		env_stop
		exit $rc
	) 2>&1 | tee "$out"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
	if [ -z "$line" ]; then
		echo "FAIL - $name ended without a summary (crash?)"
		total_f=$((total_f + 1))
	else
		set -- $line
		total_p=$((total_p + $1)); total_f=$((total_f + $3))
	fi
	echo "== $name: $(( $(date +%s) - started )) s"
done
echo "integration tests: $total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
