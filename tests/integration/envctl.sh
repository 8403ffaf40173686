#!/bin/sh
# envctl.sh CMD [ARGS...] — runs env_CMD from prosody-env.sh against the server
# described by the exported ENV_DIR (a test binary uses this to stop, restart
# or administer the Prosody that run.sh started for it).
#   sh envctl.sh stop | launch | alive | register U H P | prosodyctl ARGS... | log_tail [N]
IMHOST_REPO=${IMHOST_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$IMHOST_REPO/tests/integration/prosody-env.sh"
: "${ENV_DIR:?ENV_DIR is not set}"
. "$ENV_DIR/env" || exit 2
cmd=$1; shift
case "$cmd" in
stop|launch|alive|register|prosodyctl|log_tail) "env_$cmd" "$@" ;;
*) echo "envctl: unknown command '$cmd'" >&2; exit 2 ;;
esac
