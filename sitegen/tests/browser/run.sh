#!/bin/sh
# Browser test of the help site: builds content/ with sitegen, serves it on a
# random 127.0.0.1 port and drives Debian's Chromium with playwright-core
# (search by a body-only word, live prefix search, hit -> article,
# breadcrumbs, phone layout, escaping, no console errors).  Screenshots at
# 390x844 and 1366x900 go to $ARTIFACTS_DIR (default build/artifacts/).
# Needs: chromium (Debian), node + npm.  Prints "N passed, N failed".
# Env: SITEGEN (binary, default sitegen/sitegen), REPO (default: this repo),
#      SITE_DIR (test an already built site instead of building one).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
ARTIFACTS_DIR=${ARTIFACTS_DIR:-$top/build/artifacts}
SITEGEN=${SITEGEN:-$top/sitegen/sitegen}
REPO=${REPO:-$top}

for need in node npm; do
	command -v $need >/dev/null 2>&1 || { echo "browser test: $need missing (install-deps.sh browser)" >&2; exit 2; }
done
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || { echo "browser test: chromium missing (apt-get install chromium)" >&2; exit 2; }

cd "$here"
if [ ! -d node_modules/playwright-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi

tmp=$(mktemp -d /tmp/sitegen-browser.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
if [ -n "${SITE_DIR:-}" ]; then
	site=$SITE_DIR
else
	[ -x "$SITEGEN" ] || { echo "browser test: $SITEGEN not built (make sitegen)" >&2; exit 2; }
	site=$tmp/site
	"$SITEGEN" build --repo "$REPO" --worktree --out "$site" >"$tmp/build.log" 2>&1 || {
		cat "$tmp/build.log" >&2
		echo "0 passed, 1 failed"
		exit 1
	}
fi
mkdir -p "$ARTIFACTS_DIR"
# Bounded: the whole run must finish in 2 minutes.
timeout 120 node test.js "$site" "$ARTIFACTS_DIR"
