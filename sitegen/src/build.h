/* build.h — one build (or check) of a site, start to finish: read the
 * commit or worktree, parse what changed, date pages from git, check the
 * whole site, render what changed and everything that lists it, write the
 * search index, swap the result in.  See sitegen.1 for the user's view. */
#ifndef SG_BUILD_H
#define SG_BUILD_H

#include <stddef.h>

typedef struct {
	const char *repo;        /* repository or plain folder (default ".") */
	const char *ref;         /* revision to build (default HEAD) */
	const char *content;     /* content root override, repo-relative */
	const char *out;         /* output folder (default "_site") */
	const char *base_url;    /* overrides sitegen.yaml's base_url */
	int worktree;            /* read files from disk instead of a commit */
	int check_only;          /* validate, write nothing */
	int full;                /* ignore the manifest: rebuild everything */
	int quiet;               /* no summary, no warnings */
	int exiting;             /* the process exits after this build: leave the
	                          * site's memory to the OS instead of freeing it
	                          * piece by piece (40 ms on a 10k-page site) */
} sg_build_opts;

typedef struct {
	size_t pages;            /* published pages */
	size_t parsed;           /* Markdown files parsed */
	size_t rendered;         /* pages rendered */
	size_t written, unchanged, removed;   /* output files (incremental) */
	size_t commits_walked;   /* by the git-date walk */
	int incremental;
	int search_patched;      /* the search index was patched, not read back whole */
	int errors, warnings;
} sg_build_stats;

/* Returns an exit code: SG_EXIT_OK, SG_EXIT_CONTENT (errors in the content,
 * reported as file:line), or SG_EXIT_IO (I/O or git failure). */
int sg_build(const sg_build_opts *o, sg_build_stats *st);

#endif
