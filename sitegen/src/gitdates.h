/* gitdates.h — "last updated" dates and authors from git history.
 *
 * One revision walk, newest first; for each commit, its tree is compared with
 * its first parent's by walking both sorted trees and descending only into
 * subtrees whose ids differ (cost follows the change, not the tree size).
 * The first commit seen for a path is its last change.  Results are cached
 * (see manifest.h) keyed by the commit they were computed at; a later build
 * walks only commits that are new since then, unless history was rewritten.
 * Authors go through .mailmap.  A shallow clone is detected and reported.
 *
 * Ownership: sg_gdates owns its entries; free with sg_gdates_free. */
#ifndef SG_GITDATES_H
#define SG_GITDATES_H

#include <git2.h>
#include <stdint.h>
#include "util.h"

typedef struct {
	char *path;        /* repo-relative */
	git_oid commit;    /* last commit that changed it */
	int64_t time;      /* that commit's author time, UTC epoch seconds */
	char *author;      /* author name after .mailmap */
} sg_gdate;

typedef struct {
	sg_gdate *v; size_t n, cap;
	git_oid built;     /* commit the cache is valid for */
	int have_built;
	sg_map index;      /* path -> position in v */
	size_t walked;     /* commits walked by the last update (for tests/bench) */
} sg_gdates;

/* Brings c up to date for head: afterwards every path in paths has an entry;
 * a path without history (not committed yet) has time 0.  Returns 0, or
 * -1 with *err malloc'd on git errors. */
int sg_gdates_update(sg_gdates *c, git_repository *repo, const git_oid *head,
                     char *const *paths, size_t npaths, sg_diag *d, char **err);
const sg_gdate *sg_gdates_get(const sg_gdates *c, const char *path);
/* Adds or replaces an entry (used when loading the cache). */
void sg_gdates_set(sg_gdates *c, const char *path, const git_oid *commit, int64_t time,
                   const char *author);
void sg_gdates_free(sg_gdates *c);

#endif
