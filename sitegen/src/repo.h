/* repo.h — where sitegen's input comes from: one commit of a git repository
 * (bare or not, read through libgit2 without a checkout) or the working tree
 * on disk (--worktree, used by `serve` and `make site`).
 *
 * The listing holds every file under the content root, sorted by path, with
 * its git blob id (hashed from disk in worktree mode) so later stages can tell
 * changed inputs from unchanged ones without reading them.  Symlinks and
 * submodules are skipped with a warning; dotfiles are ignored (documented in
 * sitegen.1).  Ownership: sg_source owns everything it lists; free with
 * sg_source_close. */
#ifndef SG_REPO_H
#define SG_REPO_H

#include <git2.h>
#include <stdint.h>
#include "util.h"

/* Inputs larger than this are refused: no help article is 8 MiB, and a
 * 50 MB blob committed by mistake must not stall or bloat the build. */
#define SG_MAX_FILE (8u * 1024 * 1024)

typedef struct {
	char *path;     /* relative to the content root: "billing/invoices.md" */
	git_oid oid;    /* blob id */
} sg_srcfile;

typedef struct {
	git_repository *repo;  /* NULL in worktree mode when DIR is not a git repo */
	git_commit *commit;    /* the built commit; NULL in worktree mode */
	git_oid commit_id;     /* valid when have_commit */
	int have_commit;       /* commit mode, or worktree of a repo with a HEAD */
	char *workdir;         /* worktree mode: DIR on disk; else NULL */
	char *content_prefix;  /* repo-relative content root, "" or "content/" */
	sg_srcfile *files;
	size_t nfiles, cap;
	char *gitdir;          /* the repository's git folder (to reopen it); NULL without one */
	int released;          /* repo and commit freed by sg_source_release */
} sg_source;

/* Opens DIR at ref (NULL = HEAD) or its working tree.  content_dir NULL picks
 * "content/" when present, else the root.  Returns 0; -1 on I/O or git errors
 * with *err malloc'd; content problems are reported through d. */
int sg_source_open(sg_source *s, const char *dir, const char *ref, int worktree,
                   const char *content_dir, sg_diag *d, char **err);
/* Reads a file by repo-relative path.  Returns 0, 1 when absent, -1 on error. */
int sg_source_read_repo(sg_source *s, const char *repo_path, char **data, size_t *len);
/* Reads a listed file.  Returns 0, or -1 with *err malloc'd. */
int sg_source_read(sg_source *s, const sg_srcfile *f, char **data, size_t *len, char **err);
/* Same, through another handle on the same repository (libgit2 objects must
 * not be shared between threads: each thread opens its own handle). */
int sg_source_read_in(sg_source *s, git_repository *repo, const sg_srcfile *f, char **data,
                      size_t *len, char **err);
/* Where each of ids[0..n) sits in the repository's packs, as rank[i]
 * (pack number << 40 | offset; SG_RANK_NONE when in no pack), read from the
 * packs' .idx files.  Reading blobs in rank order lets libgit2's delta base
 * cache serve the bases that neighbouring objects share: on the bench
 * repository (delta chains 24 deep) 10k blobs read in 0.3 s in pack order,
 * 0.44 s in path order, 2.7 s in id order.  Only speed depends on it.
 * Returns 0, or -1 (ranks all SG_RANK_NONE) when no index is readable. */
#define SG_RANK_NONE UINT64_MAX
int sg_source_pack_ranks(const sg_source *s, const git_oid *const *ids, size_t n, uint64_t *rank);

/* Frees the repository handle, and with it libgit2's pack maps and caches
 * (30 MB on the 10k-page bench), once the pages are read: the next git read
 * through s reopens it.  repo and commit are NULL until then. */
void sg_source_release(sg_source *s);
/* s's repository, reopened when released.  NULL with *err malloc'd when
 * reopening fails; NULL with *err NULL when s has no repository. */
git_repository *sg_source_git(sg_source *s, char **err);
void sg_source_close(sg_source *s);

#endif
