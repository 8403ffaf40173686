#!/bin/sh
# Builds and runs tests/test_searchidx.c (plain and under ASan+UBSan), then
# checks that theme/search.js tokenizes and stems exactly like the C writer
# (the index is useless if a query word reduces to a different term).
# Usage: sh sitegen/tests/searchidx.sh     (from anywhere; needs cc, node optional)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
out=${BUILD_DIR:-$here/../build}/searchidx-test
mkdir -p "$out"
CC=${CC:-cc}
F="-Wall -Wextra -Werror -std=c11 -D_GNU_SOURCE -g"
$CC $F -O2 -o "$out/test_searchidx" "$here/tests/test_searchidx.c" "$here/src/searchidx.c" "$here/src/searchload.c"
$CC $F -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
	-o "$out/test_searchidx-asan" "$here/tests/test_searchidx.c" "$here/src/searchidx.c" "$here/src/searchload.c"
fail=0
echo "== searchidx unit tests"
"$out/test_searchidx" || fail=1
echo "== searchidx unit tests (ASan+UBSan)"
ASAN_OPTIONS=detect_leaks=1 "$out/test_searchidx-asan" || fail=1

echo "== C/JS tokenizer parity"
if command -v node >/dev/null 2>&1; then
	sample="$out/parity.txt"
	{
		# Real help-site text when present, plus edge cases.
		find "$here/../content" -name '*.md' -type f 2>/dev/null | sort | xargs cat 2>/dev/null || true
		printf '%s\n' "Café Ærø Straße œuvre Łódź naïve coöperate résumé ﬁle" \
			"customer's customer’s don't 'quoted' rock'n'roll o'clock" \
			"Привет Σοφός ΣΟΦΟΣ 中文字 emoji 🎉 x×y a÷b" "e$(printf '\314\201')t" \
			"generously communication arsenal skies dying inning succeeded" \
			"$(head -c 300 /dev/zero | tr '\0' 'x') after-long-word TLS1.3 ipv6"
		# Words exercising every stemmer rule.
		sed -n 's/^\t{ "\([a-z]*\)", "[a-z]*" },$/\1/p' "$here/tests/test_searchidx.c"
	} > "$sample"
	"$out/test_searchidx" --tokenize < "$sample" > "$out/parity-c.txt"
	node -e '
		const s = require(process.argv[1]);
		const t = require("fs").readFileSync(0, "utf8");
		process.stdout.write(s.tokenize(t).map(x => x + "\n").join(""));
	' "$here/theme/search.js" < "$sample" > "$out/parity-js.txt"
	n=$(wc -l < "$out/parity-c.txt")
	if cmp -s "$out/parity-c.txt" "$out/parity-js.txt" && [ "$n" -gt 50 ]; then
		echo "1 passed, 0 failed ($n terms identical)"
	else
		diff "$out/parity-c.txt" "$out/parity-js.txt" | head -20
		echo "0 passed, 1 failed"
		fail=1
	fi
else
	echo "node not installed: parity check skipped"
fi
exit $fail
