/* main.c — sitegen's command line: options, dispatch, exit codes.
 *   0 success; 1 content errors (file:line on stderr); 2 usage errors;
 *   3 I/O or git errors.  (Also in sitegen.1.) */
#include <git2.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "build.h"
#include "markdown.h"
#include "serve.h"
#include "util.h"

static const char usage[] =
"usage: sitegen build [--repo DIR] [--ref REV | --worktree] [--content DIR]\n"
"                     [--out DIR] [--base-url URL] [--full] [--quiet]\n"
"       sitegen check [--repo DIR] [--ref REV | --worktree] [--content DIR]\n"
"       sitegen serve [--repo DIR] [--content DIR] [--out DIR] [--port N]\n"
"       sitegen --help | --version\n"
"\n"
"Builds a help site from Markdown in a git repository (any commit, bare\n"
"repositories too), rebuilding only what changed since the last build.\n"
"\n"
"  --repo DIR      repository, or a plain folder with --worktree (default .)\n"
"  --ref REV       commit, branch or tag to build (default HEAD)\n"
"  --worktree      read files from disk instead of a commit\n"
"  --content DIR   content root inside the repository (default content/\n"
"                  when present, else the repository root)\n"
"  --out DIR       output folder (default _site)\n"
"  --base-url URL  overrides base_url of sitegen.yaml\n"
"  --full          ignore the previous build's manifest\n"
"  --quiet         print errors only\n"
"  --port N        serve: port on 127.0.0.1 (default 1313)\n"
"\n"
"Exit status: 0 ok, 1 content errors, 2 usage error, 3 I/O or git error.\n"
"See sitegen(1).\n";

static int bad_usage(const char *msg, const char *arg)
{
	fprintf(stderr, "sitegen: %s%s%s\n%s", msg, arg ? ": " : "", arg ? arg : "", usage);
	return SG_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	if (argc < 2) return bad_usage("missing command", NULL);
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		fputs(usage, stdout);
		return SG_EXIT_OK;
	}
	if (!strcmp(cmd, "--version")) { puts("sitegen 0.1"); return SG_EXIT_OK; }
	int is_build = !strcmp(cmd, "build"), is_check = !strcmp(cmd, "check"), is_serve = !strcmp(cmd, "serve");
	if (!is_build && !is_check && !is_serve) return bad_usage("unknown command", cmd);

	sg_build_opts o = { 0 };
	int port = 1313, max_seconds = 0;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char **dst = NULL;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(usage, stdout); return SG_EXIT_OK; }
		else if (!strcmp(a, "--repo")) dst = &o.repo;
		else if (!strcmp(a, "--ref")) dst = &o.ref;
		else if (!strcmp(a, "--content")) dst = &o.content;
		else if (!strcmp(a, "--out")) dst = &o.out;
		else if (!strcmp(a, "--base-url")) dst = &o.base_url;
		else if (!strcmp(a, "--worktree")) { o.worktree = 1; continue; }
		else if (!strcmp(a, "--full")) { o.full = 1; continue; }
		else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) { o.quiet = 1; continue; }
		else if (!strcmp(a, "--port") || !strcmp(a, "--max-seconds")) {
			if (i + 1 >= argc) return bad_usage("missing value for", a);
			char *end;
			long v = strtol(argv[++i], &end, 10);
			if (*end || v < 0 || v > 65535 || (!strcmp(a, "--port") && v == 0)) return bad_usage("bad number", argv[i]);
			if (!strcmp(a, "--port")) port = (int)v; else max_seconds = (int)v;
			continue;
		} else return bad_usage("unknown option", a);
		if (i + 1 >= argc || !*argv[i + 1]) return bad_usage("missing value for", a);
		*dst = argv[++i];
	}
	if (o.ref && o.worktree) return bad_usage("--ref and --worktree exclude each other", NULL);
	if (is_serve && o.ref) return bad_usage("serve always previews the working tree", NULL);

	/* glibc raises its mmap threshold (up to 32 MiB) each time a large
	 * block is freed, so later large buffers (the search index's encoding,
	 * hash tables, the sitemap) came from the heap, where freed they stay
	 * resident beside what grows next: peak RSS varied by 3 MB from run to
	 * run.  A fixed 1 MiB threshold maps them and unmaps them on free (and
	 * keeps the default trim threshold): 3 MB less peak RSS on the 10k-page
	 * bench, same CPU time. */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	git_libgit2_init();
	/* libgit2 caches up to 256 MiB of objects by default; the history walk
	 * touches every tree once per commit that changed it, and a small cache
	 * keeps peak memory near the corpus size at no measurable cost (2 MiB
	 * vs 16 MiB: same CPU time, 20 MB less RSS on the 10k-page bench). */
	git_libgit2_opts(GIT_OPT_SET_CACHE_MAX_SIZE, (ssize_t)(2 * 1024 * 1024));
	/* libgit2 re-hashes every object it reads to verify it (git itself does
	 * not): a sixth of the time spent reading blobs.  The pack's own
	 * checksums still catch corruption of compressed data. */
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
	/* libgit2 maps a pack in 1 GiB windows and keeps every page it touched:
	 * the whole pack counts in peak RSS (15 of 16 MB on the bench, while
	 * every page is also loaded).  1 MiB windows, at most 4 MiB mapped:
	 * pages are read in pack order, so windows are replaced rarely (same
	 * CPU time, 14 MB less RSS at the end of loading). */
	git_libgit2_opts(GIT_OPT_SET_MWINDOW_SIZE, (size_t)1 << 20);
	git_libgit2_opts(GIT_OPT_SET_MWINDOW_MAPPED_LIMIT, (size_t)4 << 20);
	sg_md_global_init();
	int code;
	char served[64];
	if (is_serve) {
		o.worktree = 1;
		if (!o.base_url) {
			snprintf(served, sizeof served, "http://127.0.0.1:%d/", port);
			o.base_url = served;
		}
		code = sg_serve(&o, port, max_seconds);
	} else {
		o.check_only = is_check;
		o.exiting = 1;
		sg_build_stats st;
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		code = sg_build(&o, &st);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
		if (code == SG_EXIT_OK && !o.quiet) {
			if (is_check)
				fprintf(stderr, "sitegen: %zu pages checked, no errors (%d warnings) in %.0f ms\n",
				        st.pages, st.warnings, ms);
			else
				fprintf(stderr, "sitegen: %s build: %zu pages, %zu parsed, %zu rendered, %zu files written, "
				        "%zu unchanged, %zu removed, %zu commits walked, %.0f ms\n",
				        st.incremental ? "incremental" : "full", st.pages, st.parsed, st.rendered, st.written,
				        st.unchanged, st.removed, st.commits_walked, ms);
		} else if (code == SG_EXIT_CONTENT) {
			fprintf(stderr, "sitegen: %d error(s); %s\n", st.errors,
			        is_check ? "see above" : "nothing written, the previous output is unchanged");
		}
	}
	git_libgit2_shutdown();
	return code;
}
