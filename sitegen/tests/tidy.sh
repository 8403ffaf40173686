#!/bin/sh
# Builds the help site in content/ (the real one) and the golden fixture's
# expected pages, and runs tidy (Debian: tidy) on every generated HTML page:
# any tidy *error* fails the test; warnings are reported, not fatal.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
root=$(cd "$here/.." && pwd)
out=$(mktemp -d /tmp/sitegen-tidy-XXXXXX)
trap 'rm -rf "$out" "$out.sitegen-tmp"' EXIT
"$here/sitegen" build --repo "$root" --worktree --out "$out/site" --quiet
pass=0 fail=0
for f in $(find "$out/site" "$here/tests/golden/expected" -name '*.html' | sort); do
	if tidy -errors -quiet "$f" >"$out/log" 2>&1; then
		pass=$((pass + 1))
	else
		# tidy exits 1 for warnings only, 2 for errors.
		if grep -q "Error:" "$out/log"; then
			echo "tidy: $f"; cat "$out/log"; fail=$((fail + 1))
		else
			pass=$((pass + 1))
		fi
	fi
done
echo "tidy: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
