#!/bin/sh
# sitegen serve: serves the built worktree on loopback, rebuilds on change,
# refuses paths outside the output.  Bounded: the server exits by itself.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
w=$(mktemp -d /tmp/sitegen-serve-XXXXXX)
port=$((20000 + $$ % 20000))
trap 'rm -rf "$w"' EXIT
mkdir -p "$w/repo/content"
printf -- '---\ntitle: Home\n---\nHello one.\n' > "$w/repo/content/_index.md"
"$here/sitegen" serve --repo "$w/repo" --out "$w/out" --port "$port" --max-seconds 8 2>"$w/log" &
pid=$!
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "serve: FAIL: $1"; cat "$w/log"; fail=$((fail + 1)); }
get() { curl -s --max-time 2 --path-as-is "$@"; }
for i in 1 2 3 4 5 6 7 8 9 10; do get -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.3; done
get "http://127.0.0.1:$port/" | grep -q "Hello one" && ok || bad "first page"
printf -- '---\ntitle: Home\n---\nHello two.\n' > "$w/repo/content/_index.md"
sleep 2.5
get "http://127.0.0.1:$port/" | grep -q "Hello two" && ok || bad "rebuild on change"
code=$(get -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/../../etc/passwd")
[ "$code" = 404 ] && ok || bad "path traversal answered $code"
code=$(get -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/assets/style.css")
[ "$code" = 200 ] && ok || bad "asset answered $code"
# Only loopback: the listening socket is bound to 127.0.0.1.
if command -v ss >/dev/null 2>&1; then
	ss -ltn | grep -q "127.0.0.1:$port" && ok || bad "not bound to 127.0.0.1"
fi
wait "$pid" || bad "serve exit status"
echo "serve: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
