/* gitdates.c — see gitdates.h.  Measured (shared notes): per-commit
 * git_diff_tree_to_tree costs in proportion to the whole tree (38.8 s for 10k
 * files x 10k commits); the pruned two-tree walk below follows the change. */
#include "gitdates.h"

#include <stdlib.h>
#include <string.h>

struct walk {
	git_repository *repo;
	git_mailmap *mailmap;
	sg_gdates *c;
	const sg_map *want;          /* path -> index into paths */
	unsigned char *seen;         /* per wanted path: dated by this walk */
	size_t remaining;
	git_commit *commit;          /* commit being compared */
	char *author;                /* its author after .mailmap, computed lazily */
};

static char *git_err(const char *what)
{
	const git_error *e = git_error_last();
	return sg_xasprintf("%s: %s", what, e && e->message ? e->message : "unknown git error");
}

void sg_gdates_set(sg_gdates *c, const char *path, const git_oid *commit, int64_t time,
                   const char *author)
{
	size_t i = sg_map_get(&c->index, path);
	if (i == (size_t)-1) {
		sg_grow(&c->v, &c->cap, c->n, sizeof *c->v);
		i = c->n++;
		c->v[i].path = sg_xstrdup(path);
		c->v[i].author = NULL;
		sg_map_put(&c->index, c->v[i].path, i);
	}
	c->v[i].commit = *commit;
	c->v[i].time = time;
	free(c->v[i].author);
	c->v[i].author = sg_xstrdup(author);
}

const sg_gdate *sg_gdates_get(const sg_gdates *c, const char *path)
{
	size_t i = sg_map_get(&c->index, path);
	return i == (size_t)-1 ? NULL : &c->v[i];
}

static void record(struct walk *w, const char *path)
{
	size_t idx = sg_map_get(w->want, path);
	if (idx == (size_t)-1 || w->seen[idx]) return;
	w->seen[idx] = 1;
	w->remaining--;
	if (!w->author) {
		git_signature *sig = NULL;
		if (w->mailmap && git_commit_author_with_mailmap(&sig, w->commit, w->mailmap) == 0) {
			w->author = sg_xstrdup(sig->name);
			git_signature_free(sig);
		} else {
			w->author = sg_xstrdup(git_commit_author(w->commit)->name);
		}
	}
	sg_gdates_set(w->c, path, git_commit_id(w->commit), (int64_t)git_commit_author(w->commit)->when.time,
	              w->author);
}

/* Records every blob of nt (under path) that is not identical in ot. */
static int cmp_trees(struct walk *w, git_tree *nt, git_tree *ot, sg_buf *path)
{
	size_t n = git_tree_entrycount(nt);
	for (size_t i = 0; i < n && w->remaining; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(nt, i);
		/* Trees of consecutive commits mostly list the same names: try the
		 * same position before a search by name (which was a fifth of the
		 * walk, comparing 200 folder names per commit). */
		const git_tree_entry *o = ot ? git_tree_entry_byindex(ot, i) : NULL;
		if (o && strcmp(git_tree_entry_name(o), git_tree_entry_name(e)))
			o = git_tree_entry_byname(ot, git_tree_entry_name(e));
		if (o && git_oid_equal(git_tree_entry_id(e), git_tree_entry_id(o)) &&
		    git_tree_entry_type(e) == git_tree_entry_type(o))
			continue;
		size_t mark = path->len;
		if (path->len) sg_buf_putc(path, '/');
		sg_buf_puts(path, git_tree_entry_name(e));
		int rc = 0;
		if (git_tree_entry_type(e) == GIT_OBJECT_TREE) {
			git_tree *sub = NULL, *osub = NULL;
			if (git_tree_lookup(&sub, w->repo, git_tree_entry_id(e)) != 0) rc = -1;
			else if (o && git_tree_entry_type(o) == GIT_OBJECT_TREE &&
			         git_tree_lookup(&osub, w->repo, git_tree_entry_id(o)) != 0) rc = -1;
			else rc = cmp_trees(w, sub, osub, path);
			git_tree_free(sub);
			git_tree_free(osub);
		} else if (git_tree_entry_type(e) == GIT_OBJECT_BLOB) {
			record(w, path->data);
		}
		path->len = mark;
		if (path->data) path->data[mark] = '\0';
		if (rc != 0) return rc;
	}
	return 0;
}

/* Longest common folder of all wanted paths ("content" or ""). */
static char *common_dir(char *const *paths, size_t n)
{
	if (n == 0) return sg_xstrdup("");
	size_t len = strlen(paths[0]);
	for (size_t i = 1; i < n; i++) {
		size_t k = 0;
		while (k < len && paths[i][k] && paths[i][k] == paths[0][k]) k++;
		len = k;
	}
	while (len > 0 && paths[0][len - 1] != '/') len--;
	/* If every path is in a folder, it is the common one; drop the '/'. */
	return sg_xstrndup(paths[0], len ? len - 1 : 0);
}

/* The tree at dir inside commit's tree, or NULL when absent. */
static int subtree(git_repository *repo, git_commit *commit, const char *dir, git_tree **out)
{
	*out = NULL;
	git_tree *root = NULL;
	if (git_commit_tree(&root, commit) != 0) return -1;
	if (!*dir) { *out = root; return 0; }
	git_tree_entry *e = NULL;
	int rc = git_tree_entry_bypath(&e, root, dir);
	git_tree_free(root);
	if (rc == GIT_ENOTFOUND) return 0;
	if (rc != 0) return -1;
	if (git_tree_entry_type(e) == GIT_OBJECT_TREE) rc = git_tree_lookup(out, repo, git_tree_entry_id(e));
	git_tree_entry_free(e);
	return rc;
}

static int walk(struct walk *w, const git_oid *head, const git_oid *hide, const char *dir, char **err)
{
	git_revwalk *rw = NULL;
	if (git_revwalk_new(&rw, w->repo) != 0 ||
	    git_revwalk_sorting(rw, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME) != 0 ||
	    git_revwalk_push(rw, head) != 0 || (hide && git_revwalk_hide(rw, hide) != 0)) {
		*err = git_err("revwalk");
		git_revwalk_free(rw);
		return -1;
	}
	git_oid id;
	int rc = 0;
	sg_buf path = {0};
	/* In a linear history the next commit is this one's parent: its tree
	 * (carry, of commit carry_id) was read already.  The content folder's
	 * tree is larger than libgit2 caches trees (4 KiB), so reading it again
	 * meant inflating it again. */
	git_tree *carry = NULL;
	git_oid carry_id;
	int have_carry = 0;
	while (w->remaining && rc == 0 && git_revwalk_next(&id, rw) == 0) {
		w->c->walked++;
		git_tree *nt = NULL, *ot = NULL;
		git_commit *parent = NULL;
		int reuse = have_carry && git_oid_equal(&id, &carry_id);
		if (reuse) nt = carry;
		else git_tree_free(carry);
		carry = NULL;
		have_carry = 0;
		if (git_commit_lookup(&w->commit, w->repo, &id) != 0 ||
		    (!reuse && subtree(w->repo, w->commit, dir, &nt) != 0) ||
		    (git_commit_parentcount(w->commit) > 0 &&
		     (git_commit_parent(&parent, w->commit, 0) != 0 || subtree(w->repo, parent, dir, &ot) != 0))) {
			*err = git_err("reading history");
			rc = -1;
		} else if (nt && !(ot && git_oid_equal(git_tree_id(nt), git_tree_id(ot)))) {
			sg_buf_puts(&path, dir);
			rc = cmp_trees(w, nt, ot, &path);
			if (rc != 0) *err = git_err("reading trees");
			path.len = 0;
		}
		if (rc == 0 && parent) {
			carry = ot, ot = NULL;
			git_oid_cpy(&carry_id, git_commit_id(parent));
			have_carry = 1;
		}
		git_tree_free(nt);
		git_tree_free(ot);
		git_commit_free(parent);
		git_commit_free(w->commit);
		w->commit = NULL;
		free(w->author);
		w->author = NULL;
	}
	git_tree_free(carry);
	sg_buf_free(&path);
	git_revwalk_free(rw);
	return rc;
}

int sg_gdates_update(sg_gdates *c, git_repository *repo, const git_oid *head,
                     char *const *paths, size_t npaths, sg_diag *d, char **err)
{
	*err = NULL;
	c->walked = 0;
	if (git_repository_is_shallow(repo) == 1)
		sg_warn(d, NULL, 0, "shallow clone: \"last updated\" dates of files not changed in the "
		        "fetched history are wrong; fetch full history (git fetch --unshallow)");
	sg_map want = {0};
	for (size_t i = 0; i < npaths; i++) sg_map_put(&want, paths[i], i);
	struct walk w = { repo, NULL, c, &want, sg_xcalloc(npaths ? npaths : 1, 1), npaths, NULL, NULL };
	if (git_mailmap_from_repository(&w.mailmap, repo) != 0) w.mailmap = NULL;
	char *dir = common_dir(paths, npaths);
	int rc = 0;
	int incremental = c->have_built &&
		(git_oid_equal(&c->built, head) || git_graph_descendant_of(repo, head, &c->built) == 1);
	if (incremental) {
		rc = walk(&w, head, &c->built, dir, err);
		/* Paths not changed since the cached commit keep their cached date. */
		for (size_t i = 0; i < npaths && rc == 0; i++)
			if (!w.seen[i] && sg_gdates_get(c, paths[i])) { w.seen[i] = 1; w.remaining--; }
	}
	if (rc == 0 && w.remaining) {
		/* Cold cache, rewritten history, or paths the cache never saw. */
		rc = walk(&w, head, NULL, dir, err);
	}
	free(dir);
	/* Paths with no history (uncommitted files in --worktree builds) are
	 * remembered as undated, so the next build does not walk the whole
	 * history again looking for them. */
	for (size_t i = 0; i < npaths && rc == 0; i++) {
		if (w.seen[i] || sg_gdates_get(c, paths[i])) continue;
		git_oid zero;
		memset(&zero, 0, sizeof zero);
		sg_gdates_set(c, paths[i], &zero, 0, "");
	}
	/* Keep only wanted paths so the cache tracks the current tree. */
	if (rc == 0) {
		sg_gdates fresh = {0};
		for (size_t i = 0; i < npaths; i++) {
			const sg_gdate *g = sg_gdates_get(c, paths[i]);
			if (g) sg_gdates_set(&fresh, g->path, &g->commit, g->time, g->author);
		}
		fresh.walked = c->walked;
		sg_gdates_free(c);
		*c = fresh;
		c->built = *head;
		c->have_built = 1;
	}
	git_mailmap_free(w.mailmap);
	free(w.seen);
	sg_map_free(&want);
	return rc;
}

void sg_gdates_free(sg_gdates *c)
{
	for (size_t i = 0; i < c->n; i++) free(c->v[i].path), free(c->v[i].author);
	free(c->v);
	sg_map_free(&c->index);
	memset(c, 0, sizeof *c);
}
