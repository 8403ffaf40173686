#!/bin/sh
# make bench-site: sitegen vs Hugo vs the cmark-gfm floor on a generated
# 10,000-article corpus (gencorpus.awk).  Prints; never asserts.
# Needs: git, hugo, cmark-gfm, time (install-deps.sh bench), node (optional,
# for the search download size).  Work dir: $BENCH_DIR (default
# /dev/shm/sitegen-bench when /dev/shm is a tmpfs with 2 GB free, else
# /tmp/sitegen-bench).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
SITEGEN=${SITEGEN:-$top/sitegen/sitegen}
# The work dir is on tmpfs when /dev/shm has room: the bench measures the
# generators, not the disk.  (The reference figures in
# ../shared/notes/sitegen-facts.md, Hugo 8-10 s, were taken on tmpfs; on this
# ext4 without a journal, creating inodes right after a mass deletion, such
# as the previous run's rm -rf, costs several times more, for every tool.)
if [ -z "${BENCH_DIR:-}" ] && [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] &&
   [ "$(df -Pk /dev/shm | awk 'NR == 2 { print $4 }')" -gt 2000000 ]; then
	W=/dev/shm/sitegen-bench
else
	W=${BENCH_DIR:-/tmp/sitegen-bench}
fi
T=/usr/bin/time
rm -rf "$W"; mkdir -p "$W"
export LC_ALL=C TZ=UTC

echo "== work dir: $W ($(stat -f -c %T "$(dirname "$W")"))"
echo "== corpus: 10,000 articles in 200 sections, git history via fast-import"
git init -q -b main "$W/repo"
$T -f "corpus generated in %e s" sh -c "awk -f '$here/gencorpus.awk' | git -C '$W/repo' fast-import --quiet"
git -C "$W/repo" checkout -q main
# fast-import writes one pack of its own making: each file's deltas run
# forward in time, so HEAD's blobs sit ~24 deltas deep.  A repository that
# ran git gc --aggressive, or was cloned from one, holds recent versions
# whole and history as deltas against them.  Build from such a pack.
$T -f "corpus repacked in %e s" git -C "$W/repo" repack -adfq
corpus=$(find "$W/repo/content" -name '*.md' -exec cat {} + | wc -c)
echo "corpus: $(find "$W/repo/content" -name '*.md' | wc -l) files, $corpus bytes, $(git -C "$W/repo" rev-list --count HEAD) commits"

# t LABEL CMD...: wall seconds and peak RSS (KB) into $W/LABEL.t (after a
# sync, so that the previous step's writeback does not compete for the cores)
t() { l=$1; shift; sync; $T -f "%e %M" -o "$W/$l.t" "$@" >/dev/null 2>"$W/$l.log" || { echo "$l failed:"; tail -5 "$W/$l.log"; echo "0 0" > "$W/$l.t"; }; }
secs() { cut -d' ' -f1 "$W/$1.t"; }
rss() { cut -d' ' -f2 "$W/$1.t"; }

echo "== floor: cmark-gfm CLI on the concatenated corpus"
find "$W/repo/content" -name '*.md' | sort | xargs cat > "$W/all.md"
cmark-gfm -e table -e autolink "$W/all.md" > /dev/null  # warm
t floor cmark-gfm -e table -e strikethrough -e autolink -e tasklist "$W/all.md"

echo "== Hugo $(hugo version 2>/dev/null | cut -d' ' -f2)"
cat > "$W/repo/hugo.toml" <<EOT
baseURL = "https://help.example.org/"
title = "Bench help center"
theme = "hugo-theme"
themesDir = "$here"
enableGitInfo = true
[markup.goldmark.renderer]
unsafe = false
[markup.tableOfContents]
startLevel = 2
endLevel = 3
EOT
t hugo hugo --quiet --source "$W/repo" --destination "$W/hugo-out"

if [ -x "$SITEGEN" ]; then
	echo "== sitegen"
	t full "$SITEGEN" build --repo "$W/repo" --out "$W/sg-out"
	f=$(find "$W/repo/content" -name 'art-00042.md')
	echo "One more sentence for the incremental benchmark." >> "$f"
	git -C "$W/repo" -c user.name=Bench -c user.email=b@example.org commit -qam "one-file edit"
	t incr "$SITEGEN" build --repo "$W/repo" --out "$W/sg-out"
	site=$W/sg-out
else
	echo "== sitegen: $SITEGEN not built; only its search index is timed"
	echo "0 0" > "$W/full.t"; echo "0 0" > "$W/incr.t"; site=""
fi

echo "== search index writer alone (bench/idxbench.c)"
cc -O2 -std=c11 -D_GNU_SOURCE -o "$W/idxbench" "$here/idxbench.c" "$top/sitegen/src/searchidx.c"
(cd "$W/repo/content" && find . -name '*.md' | sed 's|^\./||' | sort) > "$W/list"
(cd "$W/repo/content" && $T -f "%e s wall, %M KB peak" "$W/idxbench" . "$W/idx-out" < "$W/list")
[ -n "$site" ] || site=$W/idx-out
if command -v node >/dev/null 2>&1; then
	for q in "overdue invoice" "renew certificate domain" "refund"; do
		node "$here/querysize.js" "$site" "$q"
	done
fi

echo
echo "== results"
awk -v c="$corpus" -v fl="$(secs floor)" -v fr="$(rss floor)" -v h="$(secs hugo)" -v hr="$(rss hugo)" \
    -v f="$(secs full)" -v fm="$(rss full)" -v i="$(secs incr)" -v im="$(rss incr)" 'BEGIN {
	printf "%-28s %8s %10s\n", "", "wall s", "peak RSS MB"
	printf "%-28s %8.2f %10.1f\n", "cmark-gfm CLI (floor)", fl, fr / 1024
	printf "%-28s %8.2f %10.1f\n", "Hugo", h, hr / 1024
	if (f > 0) {
		printf "%-28s %8.2f %10.1f\n", "sitegen full (cold)", f, fm / 1024
		printf "%-28s %8.3f %10.1f\n", "sitegen incremental, 1 file", i, im / 1024
		printf "Hugo / sitegen full: %.1fx (goal >= 8x)\n", h / f
		printf "sitegen full / floor: %.2fx (goal <= 2x)\n", f / fl
		printf "incremental: %.0f ms (goal <= 100 ms)\n", i * 1000
		printf "peak RSS / corpus: %.2fx (goal <= 2x; corpus %.1f MB)\n", fm * 1024 / c, c / 1048576
	}
}'
# The outputs (about 0.5 GB, in memory when on tmpfs) go; the corpus and the
# logs stay for a look.  KEEP=1 keeps everything.
[ -n "${KEEP:-}" ] || rm -rf "$W/hugo-out" "$W/sg-out" "$W/idx-out" "$W/all.md"
