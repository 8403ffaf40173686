/* gitdates.c — see gitdates.h.  Measured (shared notes): per-commit
 * git_diff_tree_to_tree costs in proportion to the whole tree (38.8 s for 10k
 * files x 10k commits); the pruned two-tree walk below follows the change. */
#include "gitdates.h"

#include <stdlib.h>
#include <string.h>

/* Room for folder trees read as the old side of a change (see stash_get):
 * SG_STASH_SETS sets of SG_STASH_WAYS by id, the oldest of a set making
 * room; trees of at most 4 KiB (at most 2 MiB in all). */
#define SG_STASH_SETS 128
#define SG_STASH_WAYS 4
#define SG_STASH_TREE_MAX 4096

struct walk {
	git_repository *repo;
	git_mailmap *mailmap;
	sg_gdates *c;
	const sg_map *want;          /* path -> index into paths */
	unsigned char *seen;         /* per wanted path: dated by this walk */
	size_t remaining;
	git_commit *commit;          /* commit being compared */
	char *author;                /* its author after .mailmap, computed lazily */
	git_odb_object *stash[SG_STASH_SETS][SG_STASH_WAYS];   /* see stash_get */
	uint64_t stash_age[SG_STASH_SETS][SG_STASH_WAYS], stash_clock;
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

/* Trees are compared as git stores them: "<mode> <name>\0<20-byte id>"
 * entries sorted by name.  Through git_tree_lookup each tree was parsed
 * into an entry array and each entry compared through three calls and a
 * strcmp; an entry identical in both trees (nearly all of them) is now one
 * memcmp of its bytes. */
typedef struct {
	git_odb_object *obj;
	const unsigned char *p, *end;   /* the entries */
} rawtree;

typedef struct {
	const unsigned char *start, *next;   /* the entry's bytes: [start, next) */
	const char *name;
	size_t namelen;
	const unsigned char *id;
	int tree, blob;   /* as git_tree_entry_type: mode 040000, or not a submodule */
} rawent;

static int raw_tree(git_odb *odb, const git_oid *id, rawtree *t)
{
	t->obj = NULL;
	if (git_odb_read(&t->obj, odb, id) != 0) return -1;
	if (git_odb_object_type(t->obj) != GIT_OBJECT_TREE) {
		git_error_set_str(GIT_ERROR_INVALID, "tree expected");
		git_odb_object_free(t->obj);
		t->obj = NULL;
		return -1;
	}
	t->p = git_odb_object_data(t->obj);
	t->end = t->p + git_odb_object_size(t->obj);
	return 0;
}

static void raw_tree_free(rawtree *t)
{
	git_odb_object_free(t->obj);
	t->obj = NULL;
}

/* A folder's tree before a commit that changed it is the tree after the
 * previous commit that changed it, which the walk reaches next for that
 * folder, 40 commits later on the bench (200 folders, 5 changed per
 * commit): libgit2's small object cache (see main.c) had often dropped it
 * by then.  So the old trees of a commit are kept in w->stash, and reading
 * a tree takes it from there when it is (the bench's walk: 108 -> 96 ms;
 * a 64 MiB libgit2 cache instead: 84 ms, but 20 MB more RSS). */
static size_t stash_set(const git_oid *id)
{
	return (id->id[0] | (size_t)id->id[1] << 8) % SG_STASH_SETS;
}

static int stash_get(struct walk *w, git_odb *odb, const git_oid *id, rawtree *t)
{
	git_odb_object **set = w->stash[stash_set(id)];
	for (size_t k = 0; k < SG_STASH_WAYS; k++)
		if (set[k] && git_oid_equal(git_odb_object_id(set[k]), id)) {
			t->obj = set[k];
			set[k] = NULL;
			t->p = git_odb_object_data(t->obj);
			t->end = t->p + git_odb_object_size(t->obj);
			return 0;
		}
	return raw_tree(odb, id, t);
}

/* Keeps tree t (ours now) in the stash, or frees it. */
static void stash_put(struct walk *w, rawtree *t)
{
	if (!t->obj) return;
	if (git_odb_object_size(t->obj) > SG_STASH_TREE_MAX) { raw_tree_free(t); return; }
	size_t s = stash_set(git_odb_object_id(t->obj)), old = 0;
	for (size_t k = 0; k < SG_STASH_WAYS; k++) {
		if (!w->stash[s][k]) { old = k; break; }
		if (w->stash_age[s][k] < w->stash_age[s][old]) old = k;
	}
	git_odb_object_free(w->stash[s][old]);
	w->stash[s][old] = t->obj;
	w->stash_age[s][old] = ++w->stash_clock;
	t->obj = NULL;
}

static void stash_free(struct walk *w)
{
	for (size_t i = 0; i < SG_STASH_SETS; i++)
		for (size_t k = 0; k < SG_STASH_WAYS; k++) git_odb_object_free(w->stash[i][k]);
	memset(w->stash, 0, sizeof w->stash);
}

/* Reads the entry at p; 0 at the end, -1 when malformed. */
static int raw_next(const unsigned char *p, const unsigned char *end, rawent *e)
{
	if (p >= end) return 0;
	const unsigned char *sp = memchr(p, ' ', (size_t)(end - p));
	const unsigned char *nul = sp ? memchr(sp, '\0', (size_t)(end - sp)) : NULL;
	if (!nul || end - nul < 1 + GIT_OID_RAWSZ) {
		git_error_set_str(GIT_ERROR_INVALID, "malformed tree");
		return -1;
	}
	unsigned mode = 0;
	for (const unsigned char *m = p; m < sp; m++) mode = mode * 8 + (unsigned)(*m - '0');
	e->start = p;
	e->name = (const char *)sp + 1;
	e->namelen = (size_t)(nul - sp - 1);
	e->id = nul + 1;
	e->next = nul + 1 + GIT_OID_RAWSZ;
	e->tree = mode == GIT_FILEMODE_TREE;
	e->blob = !e->tree && mode != GIT_FILEMODE_COMMIT;
	return 1;
}

/* git's order of tree entries: by name, a tree's name as if ending in '/'. */
static int raw_cmp(const rawent *a, const rawent *b)
{
	size_t n = a->namelen < b->namelen ? a->namelen : b->namelen;
	int c = memcmp(a->name, b->name, n);
	if (c) return c;
	unsigned ca = a->namelen > n ? (unsigned char)a->name[n] : a->tree ? '/' : 0;
	unsigned cb = b->namelen > n ? (unsigned char)b->name[n] : b->tree ? '/' : 0;
	return (ca > cb) - (ca < cb);
}

static int cmp_trees(struct walk *w, git_odb *odb, const rawtree *nt, const rawtree *ot, sg_buf *path);

/* Entry e of the new tree, absent from the old one or different there (o,
 * or NULL): records it, or compares it as a folder. */
static int changed_entry(struct walk *w, git_odb *odb, const rawent *e, const rawent *o, sg_buf *path)
{
	size_t mark = path->len;
	if (path->len) sg_buf_putc(path, '/');
	sg_buf_put(path, e->name, e->namelen);
	int rc = 0;
	if (e->tree) {
		rawtree sub = {0}, osub = {0};
		git_oid id, oid;
		git_oid_fromraw(&id, e->id);
		if (o) git_oid_fromraw(&oid, o->id);
		if (stash_get(w, odb, &id, &sub) != 0 || (o && o->tree && stash_get(w, odb, &oid, &osub) != 0)) rc = -1;
		else rc = cmp_trees(w, odb, &sub, o && o->tree ? &osub : NULL, path);
		raw_tree_free(&sub);
		stash_put(w, &osub);
	} else if (e->blob) {
		record(w, path->data);
	}
	path->len = mark;
	if (path->data) path->data[mark] = '\0';
	return rc;
}

/* Records every blob of nt (under path) that is not identical in ot. */
static int cmp_trees(struct walk *w, git_odb *odb, const rawtree *nt, const rawtree *ot, sg_buf *path)
{
	const unsigned char *p = nt->p, *q = ot ? ot->p : NULL, *qend = ot ? ot->end : NULL;
	rawent e, o;
	int r = 0, have_o = 0;
	while (w->remaining && (r = raw_next(p, nt->end, &e)) > 0) {
		p = e.next;
		/* Trees of consecutive commits mostly list the same entries at
		 * the same offsets: an identical entry costs one comparison. */
		if (q && (size_t)(qend - q) >= (size_t)(e.next - e.start) &&
		    !memcmp(q, e.start, (size_t)(e.next - e.start))) {
			q += e.next - e.start;
			have_o = 0;
			continue;
		}
		/* Else find e's name in the old tree (both are sorted). */
		int c = 1;
		while (q) {
			if (!have_o) {
				int ro = raw_next(q, qend, &o);
				if (ro < 0) return -1;
				if (ro == 0) { q = NULL; break; }
				have_o = 1;
			}
			c = raw_cmp(&o, &e);
			if (c >= 0) break;
			q = o.next;
			have_o = 0;
		}
		const rawent *same = q && c == 0 ? &o : NULL;
		if (same && same->tree == e.tree && !memcmp(same->id, e.id, GIT_OID_RAWSZ)) continue;
		if (changed_entry(w, odb, &e, same, path) != 0) return -1;
	}
	return r < 0 ? -1 : 0;
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

/* The tree at dir inside commit's tree into *out (out->obj NULL when
 * absent). */
static int subtree(git_odb *odb, git_commit *commit, const char *dir, rawtree *out)
{
	if (raw_tree(odb, git_commit_tree_id(commit), out) != 0) return -1;
	while (*dir) {
		size_t n = strcspn(dir, "/");
		rawent e;
		int r;
		const unsigned char *p = out->p;
		while ((r = raw_next(p, out->end, &e)) > 0 && !(e.namelen == n && !memcmp(e.name, dir, n)))
			p = e.next;
		git_oid id;
		if (r > 0 && e.tree) git_oid_fromraw(&id, e.id);
		raw_tree_free(out);
		if (r < 0) return -1;
		if (r == 0 || !e.tree) return 0;
		if (raw_tree(odb, &id, out) != 0) return -1;
		dir += n + (dir[n] == '/');
	}
	return 0;
}

static int walk(struct walk *w, const git_oid *head, const git_oid *hide, const char *dir, char **err)
{
	git_revwalk *rw = NULL;
	git_odb *odb = NULL;
	if (git_repository_odb(&odb, w->repo) != 0 || git_revwalk_new(&rw, w->repo) != 0 ||
	    git_revwalk_sorting(rw, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME) != 0 ||
	    git_revwalk_push(rw, head) != 0 || (hide && git_revwalk_hide(rw, hide) != 0)) {
		*err = git_err("revwalk");
		git_revwalk_free(rw);
		git_odb_free(odb);
		return -1;
	}
	git_oid id;
	int rc = 0;
	sg_buf path = {0};
	/* In a linear history the next commit is this one's parent: its tree
	 * (carry, of commit carry_id) was read already.  The content folder's
	 * tree is larger than libgit2 caches trees (4 KiB), so reading it again
	 * meant inflating it again. */
	rawtree carry = {0};
	git_oid carry_id;
	int have_carry = 0;
	while (w->remaining && rc == 0 && git_revwalk_next(&id, rw) == 0) {
		w->c->walked++;
		rawtree nt = {0}, ot = {0};
		git_commit *parent = NULL;
		int reuse = have_carry && git_oid_equal(&id, &carry_id);
		if (reuse) nt = carry;
		else raw_tree_free(&carry);
		memset(&carry, 0, sizeof carry);
		have_carry = 0;
		if (git_commit_lookup(&w->commit, w->repo, &id) != 0 ||
		    (!reuse && subtree(odb, w->commit, dir, &nt) != 0) ||
		    (git_commit_parentcount(w->commit) > 0 &&
		     (git_commit_parent(&parent, w->commit, 0) != 0 || subtree(odb, parent, dir, &ot) != 0))) {
			*err = git_err("reading history");
			rc = -1;
		} else if (nt.obj && !(ot.obj && git_oid_equal(git_odb_object_id(nt.obj), git_odb_object_id(ot.obj)))) {
			sg_buf_puts(&path, dir);
			rc = cmp_trees(w, odb, &nt, ot.obj ? &ot : NULL, &path);
			if (rc != 0) *err = git_err("reading trees");
			path.len = 0;
		}
		if (rc == 0 && parent) {
			carry = ot;
			memset(&ot, 0, sizeof ot);
			git_oid_cpy(&carry_id, git_commit_id(parent));
			have_carry = 1;
		}
		raw_tree_free(&nt);
		raw_tree_free(&ot);
		git_commit_free(parent);
		git_commit_free(w->commit);
		w->commit = NULL;
		free(w->author);
		w->author = NULL;
	}
	raw_tree_free(&carry);
	stash_free(w);
	sg_buf_free(&path);
	git_revwalk_free(rw);
	git_odb_free(odb);
	return rc;
}

/* Moves the entries of paths, in that order, into a fresh cache for head,
 * and drops the others (copying the bench's 10,000 paths and authors
 * instead cost 5 ms of its 96 ms cold walk). */
static void keep_wanted(sg_gdates *c, char *const *paths, size_t npaths, const git_oid *head)
{
	sg_gdates fresh = {0};
	fresh.v = sg_xmalloc((npaths ? npaths : 1) * sizeof *fresh.v);
	fresh.cap = npaths ? npaths : 1;
	size_t cap = 64;
	while (cap < 2 * (npaths + 1)) cap *= 2;   /* sg_map_put never grows it */
	fresh.index.keys = sg_xcalloc(cap, sizeof *fresh.index.keys);
	fresh.index.vals = sg_xcalloc(cap, sizeof *fresh.index.vals);
	fresh.index.cap = cap;
	for (size_t i = 0; i < npaths; i++) {
		size_t k = sg_map_get(&c->index, paths[i]);
		if (k == (size_t)-1 || !c->v[k].path) continue;   /* absent, or a path listed twice */
		fresh.v[fresh.n] = c->v[k];
		c->v[k].path = c->v[k].author = NULL;
		sg_map_put(&fresh.index, fresh.v[fresh.n].path, fresh.n);
		fresh.n++;
	}
	fresh.walked = c->walked;
	sg_gdates_free(c);
	*c = fresh;
	c->built = *head;
	c->have_built = 1;
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
	struct walk w = { repo, NULL, c, &want, sg_xcalloc(npaths ? npaths : 1, 1), npaths, NULL, NULL, {{0}}, {{0}}, 0 };
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
	/* Keep only wanted paths, in their order, so the cache tracks the
	 * current tree. */
	if (rc == 0) keep_wanted(c, paths, npaths, head);
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
