/* output.h — writing the site so that a failed build never damages the
 * previous one.  Every file goes to a staging folder beside the output
 * (<out>.sitegen-tmp).  On success:
 *   - full build: the staging folder and <out> are exchanged atomically
 *     (renameat2 RENAME_EXCHANGE), then the old tree is removed;
 *   - incremental build: each staged file whose bytes differ from the live
 *     one is renamed into <out> (atomic per file); identical ones are dropped,
 *     so unchanged files keep their inode and mtime; files the new build no
 *     longer produces are deleted.
 * On failure the staging folder is removed and <out> is untouched.
 * Ownership: sg_output owns its paths. */
#ifndef SG_OUTPUT_H
#define SG_OUTPUT_H

#include <pthread.h>

#include "util.h"

#define SG_MANIFEST_NAME ".sitegen-manifest"

typedef struct {
	char *out, *stage;
	int full;
	size_t written, unchanged, removed;   /* counts from commit */
	/* Every rel passed to sg_out_write, in no order (threads write at
	 * once): listing them back from the staging folder cost a readdir of
	 * 10,000 folders on a 10k-page site. */
	char **wrote;
	size_t nwrote, wcap;
	int wrote_sorted;                     /* since sg_out_sort_written */
	pthread_mutex_t lock;                 /* guards wrote */
} sg_output;

int  sg_out_begin(sg_output *o, const char *out, int full, char **err);
/* rel: output-relative path ("billing/invoices/index.html"). */
int  sg_out_write(sg_output *o, const char *rel, const char *data, size_t len, char **err);
/* keep: sorted output-relative paths of every file the build produces (staged
 * or kept from before); in an incremental build, other files in <out> that
 * the previous manifest listed in old (sorted) are removed. */
int  sg_out_commit(sg_output *o, char *const *old, size_t nold, char *const *keep, size_t nkeep, char **err);
/* Lists staged files (sorted, output-relative) into *files; caller frees. */
int  sg_out_list_staged(sg_output *o, char ***files, size_t *n, char **err);
/* The same list, without reading the staging folder back: the files written
 * through sg_out_write plus those found under the staged folder `under`
 * (written there directly, e.g. "search"; NULL for none).  Sorted, no
 * duplicates; caller frees. */
int  sg_out_list_written(sg_output *o, const char *under, char ***files, size_t *n, char **err);
/* Sorts the sg_out_write list now, while the caller waits for something
 * else; sg_out_list_written then only merges it. */
void sg_out_sort_written(sg_output *o);
void sg_out_abort(sg_output *o);

#endif
