#!/bin/sh
# Runs each unit-test binary; prints one closing line for the whole set.
# cmocka prints its own summary per binary; this adds the suite total.
title=$1; shift
pass=0; fail=0
for t in "$@"; do
	if "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $t" >&2; fi
done
echo "$title: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
