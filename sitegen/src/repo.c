/* repo.c — see repo.h. */
#include "repo.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *git_err(const char *what)
{
	const git_error *e = git_error_last();
	return sg_xasprintf("%s: %s", what, e && e->message ? e->message : "unknown git error");
}

/* A path component we will never write to disk as given. */
static int bad_component(const char *name)
{
	return !*name || !strcmp(name, ".") || !strcmp(name, "..") || strchr(name, '\\') != NULL;
}

/* Whether a content-root-relative path is reserved for sitegen itself when the
 * content root is the repository root. */
static int reserved_at_root(const sg_source *s, const char *rel)
{
	if (*s->content_prefix) return 0;
	return !strcmp(rel, "theme") || !strcmp(rel, "sitegen.yaml") || !strcmp(rel, "node_modules");
}

static void add_file(sg_source *s, const char *path, const git_oid *oid)
{
	sg_grow(&s->files, &s->cap, s->nfiles, sizeof *s->files);
	s->files[s->nfiles].path = sg_xstrdup(path);
	s->files[s->nfiles].oid = *oid;
	s->nfiles++;
}

struct walk_ctx { sg_source *s; sg_diag *d; };

static int tree_cb(const char *root, const git_tree_entry *e, void *payload)
{
	struct walk_ctx *w = payload;
	const char *name = git_tree_entry_name(e);
	char *rel = sg_xasprintf("%s%s", root, name);
	char *shown = sg_xasprintf("%s%s", w->s->content_prefix, rel);
	int rc = 0;
	git_filemode_t mode = git_tree_entry_filemode(e);
	if (name[0] == '.' || reserved_at_root(w->s, rel)) {
		rc = 1;                                  /* skip, and do not descend */
	} else if (bad_component(name)) {
		sg_error(w->d, shown, 0, "unsafe path component in tree; refusing it");
		rc = 1;
	} else if (mode == GIT_FILEMODE_TREE) {
		rc = 0;
	} else if (mode == GIT_FILEMODE_LINK) {
		sg_warn(w->d, shown, 0, "symbolic link skipped (sitegen never follows links)");
	} else if (mode == GIT_FILEMODE_COMMIT) {
		sg_warn(w->d, shown, 0, "submodule skipped (its content is not part of this repository)");
		rc = 1;
	} else {
		add_file(w->s, rel, git_tree_entry_id(e));
	}
	free(rel);
	free(shown);
	return rc;
}

static int walk_dir(sg_source *s, sg_diag *d, const char *abs, const char *rel, char **err)
{
	DIR *dir = opendir(abs);
	if (!dir) { *err = sg_xasprintf("%s: %s", abs, strerror(errno)); return -1; }
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.') continue;
		sg_grow(&names, &cap, n, sizeof *names);
		names[n++] = sg_xstrdup(e->d_name);
	}
	closedir(dir);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		char *a = sg_path_join(abs, names[i]);
		char *r = *rel ? sg_xasprintf("%s/%s", rel, names[i]) : sg_xstrdup(names[i]);
		char *shown = sg_xasprintf("%s%s", s->content_prefix, r);
		struct stat st;
		if (rc != 0 || reserved_at_root(s, r)) {
			/* skip */
		} else if (lstat(a, &st) != 0) {
			*err = sg_xasprintf("%s: %s", a, strerror(errno));
			rc = -1;
		} else if (S_ISLNK(st.st_mode)) {
			sg_warn(d, shown, 0, "symbolic link skipped (sitegen never follows links)");
		} else if (S_ISDIR(st.st_mode)) {
			char *gitfile = sg_path_join(a, ".git");
			struct stat gs;
			if (lstat(gitfile, &gs) == 0)
				sg_warn(d, shown, 0, "submodule skipped (its content is not part of this repository)");
			else
				rc = walk_dir(s, d, a, r, err);
			free(gitfile);
		} else if (!S_ISREG(st.st_mode)) {
			sg_warn(d, shown, 0, "not a regular file; skipped");
		} else {
			git_oid oid;
			if (st.st_size > (off_t)SG_MAX_FILE) {
				/* Listed with a zero id; sg_source_read refuses it by size. */
				memset(&oid, 0, sizeof oid);
			} else if (git_odb_hashfile(&oid, a, GIT_OBJECT_BLOB) != 0) {
				*err = git_err(a);
				rc = -1;
			}
			if (rc == 0) add_file(s, r, &oid);
		}
		free(a);
		free(r);
		free(shown);
		free(names[i]);
	}
	free(names);
	return rc;
}

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const sg_srcfile *)a)->path, ((const sg_srcfile *)b)->path);
}

static char *norm_dir(const char *dir)
{
	/* "docs/help/" -> "docs/help/", "docs" -> "docs/", "" or "." -> "" */
	if (!dir || !*dir || !strcmp(dir, ".") || !strcmp(dir, "./")) return sg_xstrdup("");
	while (dir[0] == '.' && dir[1] == '/') dir += 2;
	size_t n = strlen(dir);
	while (n > 0 && dir[n - 1] == '/') n--;
	return sg_xasprintf("%.*s/", (int)n, dir);
}

int sg_source_open(sg_source *s, const char *dir, const char *ref, int worktree,
                   const char *content_dir, sg_diag *d, char **err)
{
	memset(s, 0, sizeof *s);
	*err = NULL;
	if (content_dir && strstr(content_dir, "..")) {
		*err = sg_xasprintf("--content %s: '..' is not allowed", content_dir);
		return -1;
	}
	int orc = git_repository_open_ext(&s->repo, dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
	if (orc != 0) {
		s->repo = NULL;
		if (!worktree) { *err = git_err(dir); return -1; }
	} else {
		s->gitdir = sg_xstrdup(git_repository_path(s->repo));
	}
	if (worktree) {
		s->workdir = sg_xstrdup(dir);
		git_reference *head = NULL;
		if (s->repo && git_repository_head(&head, s->repo) == 0) {
			s->commit_id = *git_reference_target(head);
			s->have_commit = 1;
			git_reference_free(head);
		}
		if (content_dir) {
			s->content_prefix = norm_dir(content_dir);
		} else {
			char *c = sg_path_join(dir, "content");
			struct stat st;
			s->content_prefix = sg_xstrdup(stat(c, &st) == 0 && S_ISDIR(st.st_mode) ? "content/" : "");
			free(c);
		}
		char *root = sg_path_join(dir, s->content_prefix);
		int rc = walk_dir(s, d, root, "", err);
		free(root);
		if (rc != 0) return -1;
	} else {
		git_object *obj = NULL;
		if (git_revparse_single(&obj, s->repo, ref ? ref : "HEAD") != 0) {
			*err = git_err(ref ? ref : "HEAD");
			return -1;
		}
		int prc = git_object_peel((git_object **)&s->commit, obj, GIT_OBJECT_COMMIT);
		git_object_free(obj);
		if (prc != 0) { *err = git_err(ref ? ref : "HEAD"); return -1; }
		s->commit_id = *git_commit_id(s->commit);
		s->have_commit = 1;
		git_tree *tree = NULL, *sub = NULL;
		if (git_commit_tree(&tree, s->commit) != 0) { *err = git_err("commit tree"); return -1; }
		git_tree_entry *ce = NULL;
		if (content_dir) {
			s->content_prefix = norm_dir(content_dir);
			if (!*s->content_prefix) {
				sub = tree, tree = NULL;
			} else {
				char *p = sg_xstrndup(s->content_prefix, strlen(s->content_prefix) - 1);
				int brc = git_tree_entry_bypath(&ce, tree, p);
				free(p);
				if (brc != 0 || git_tree_entry_type(ce) != GIT_OBJECT_TREE) {
					*err = sg_xasprintf("--content %s: no such folder at %s", content_dir, ref ? ref : "HEAD");
					git_tree_entry_free(ce);
					git_tree_free(tree);
					return -1;
				}
			}
		} else {
			const git_tree_entry *c = git_tree_entry_byname(tree, "content");
			if (c && git_tree_entry_type(c) == GIT_OBJECT_TREE) {
				s->content_prefix = sg_xstrdup("content/");
				if (git_tree_entry_dup(&ce, c) != 0) { *err = git_err("tree"); git_tree_free(tree); return -1; }
			} else {
				s->content_prefix = sg_xstrdup("");
				sub = tree, tree = NULL;
			}
		}
		if (ce) {
			int lrc = git_tree_lookup(&sub, s->repo, git_tree_entry_id(ce));
			git_tree_entry_free(ce);
			if (lrc != 0) { *err = git_err("content tree"); git_tree_free(tree); return -1; }
		}
		git_tree_free(tree);
		struct walk_ctx w = { s, d };
		int wrc = git_tree_walk(sub, GIT_TREEWALK_PRE, tree_cb, &w);
		git_tree_free(sub);
		if (wrc < 0) { *err = git_err("tree walk"); return -1; }
	}
	if (s->nfiles > 1) qsort(s->files, s->nfiles, sizeof *s->files, cmp_file);
	return 0;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Ranks the ids found in one version-2 pack index (data, len bytes: git's
 * format since 2007): fan-out table, sorted ids, CRCs, 31-bit offsets (the
 * top bit set: an index into the 64-bit offsets that follow). */
static void rank_in_idx(const unsigned char *data, size_t len, uint64_t pack, const git_oid *const *ids,
                        size_t n, uint64_t *rank)
{
	const size_t hdr = 8, fan = 256 * 4;
	if (len < hdr + fan || memcmp(data, "\377tOc", 4) || be32(data + 4) != 2) return;
	size_t count = be32(data + hdr + 255 * 4);
	/* Per object: its id, a CRC and an offset (28 bytes). */
	if (count > (len - hdr - fan) / (GIT_OID_RAWSZ + 8)) return;
	const unsigned char *sha = data + hdr + fan;
	const unsigned char *off32 = sha + count * (GIT_OID_RAWSZ + 4);
	const unsigned char *off64 = off32 + count * 4;
	for (size_t i = 0; i < n; i++) {
		if (rank[i] != SG_RANK_NONE) continue;
		const unsigned char *id = ids[i]->id;
		size_t lo = id[0] ? be32(data + hdr + (id[0] - 1) * 4) : 0, hi = be32(data + hdr + id[0] * 4);
		if (hi > count || lo > hi) return;   /* not a sane index */
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			int c = memcmp(sha + mid * GIT_OID_RAWSZ, id, GIT_OID_RAWSZ);
			if (c < 0) { lo = mid + 1; continue; }
			if (c > 0) { hi = mid; continue; }
			uint64_t o = be32(off32 + mid * 4);
			if (o & 0x80000000u) {
				size_t k = (size_t)(o & 0x7fffffffu);
				if ((size_t)(off64 - data) + (k + 1) * 8 > len) break;
				o = (uint64_t)be32(off64 + k * 8) << 32 | be32(off64 + k * 8 + 4);
			}
			rank[i] = pack << 40 | (o & (((uint64_t)1 << 40) - 1));
			break;
		}
	}
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int sg_source_pack_ranks(const sg_source *s, const git_oid *const *ids, size_t n, uint64_t *rank)
{
	for (size_t i = 0; i < n; i++) rank[i] = SG_RANK_NONE;
	if (!s->gitdir) return -1;
	char *dir = sg_path_join(s->gitdir, "objects/pack");
	DIR *d = opendir(dir);
	if (!d) { free(dir); return -1; }
	char **names = NULL;
	size_t nn = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (sg_ends_with(e->d_name, ".idx")) {
			sg_grow(&names, &cap, nn, sizeof *names);
			names[nn++] = sg_xstrdup(e->d_name);
		}
	closedir(d);
	if (nn > 1) qsort(names, nn, sizeof *names, cmp_name);   /* same ranks every run */
	int any = 0;
	for (size_t k = 0; k < nn; k++) {
		char *path = sg_path_join(dir, names[k]);
		char *data = NULL;
		size_t len = 0;
		if (sg_read_file(path, &data, &len) == 0) {
			rank_in_idx((const unsigned char *)data, len, k, ids, n, rank);
			any = 1;
			free(data);
		}
		free(path);
		free(names[k]);
	}
	free(names);
	free(dir);
	return any ? 0 : -1;
}

void sg_source_release(sg_source *s)
{
	if (!s->repo) return;
	git_commit_free(s->commit);
	git_repository_free(s->repo);
	s->commit = NULL;
	s->repo = NULL;
	s->released = 1;
}

git_repository *sg_source_git(sg_source *s, char **err)
{
	*err = NULL;
	if (!s->released) return s->repo;
	if (git_repository_open(&s->repo, s->gitdir) != 0) {
		s->repo = NULL;
		*err = git_err(s->gitdir);
		return NULL;
	}
	/* Only commit mode holds the commit (worktree mode reads the disk). */
	if (!s->workdir && git_commit_lookup(&s->commit, s->repo, &s->commit_id) != 0) {
		*err = git_err("reopening the built commit");
		git_repository_free(s->repo);
		s->repo = NULL;
		return NULL;
	}
	s->released = 0;
	return s->repo;
}

int sg_source_read_repo(sg_source *s, const char *repo_path, char **data, size_t *len)
{
	if (s->workdir) {
		char *p = sg_path_join(s->workdir, repo_path);
		struct stat st;
		int rc;
		if (lstat(p, &st) != 0 || !S_ISREG(st.st_mode)) rc = 1;
		else if (st.st_size > (off_t)SG_MAX_FILE) { errno = EFBIG; rc = -1; }
		else rc = sg_read_file(p, data, len) == 0 ? 0 : -1;
		free(p);
		return rc;
	}
	git_tree *tree = NULL;
	git_tree_entry *e = NULL;
	git_blob *blob = NULL;
	char *gerr = NULL;
	if (!sg_source_git(s, &gerr)) { free(gerr); errno = EIO; return -1; }
	if (git_commit_tree(&tree, s->commit) != 0) return -1;
	int rc = git_tree_entry_bypath(&e, tree, repo_path);
	git_tree_free(tree);
	if (rc == GIT_ENOTFOUND) return 1;
	if (rc != 0) return -1;
	if (git_tree_entry_type(e) != GIT_OBJECT_BLOB || git_tree_entry_filemode(e) == GIT_FILEMODE_LINK) {
		git_tree_entry_free(e);
		return 1;
	}
	rc = git_blob_lookup(&blob, s->repo, git_tree_entry_id(e));
	git_tree_entry_free(e);
	if (rc != 0) return -1;
	size_t n = (size_t)git_blob_rawsize(blob);
	if (n > SG_MAX_FILE) { git_blob_free(blob); errno = EFBIG; return -1; }
	*data = sg_xstrndup(git_blob_rawcontent(blob), n);
	*len = n;
	git_blob_free(blob);
	return 0;
}

int sg_source_read(sg_source *s, const sg_srcfile *f, char **data, size_t *len, char **err)
{
	git_repository *repo = s->workdir ? s->repo : sg_source_git(s, err);
	if (!s->workdir && !repo) return -1;
	return sg_source_read_in(s, repo, f, data, len, err);
}

int sg_source_read_in(sg_source *s, git_repository *repo, const sg_srcfile *f, char **data,
                      size_t *len, char **err)
{
	*err = NULL;
	if (s->workdir) {
		char *rel = sg_xasprintf("%s%s", s->content_prefix, f->path);
		int rc = sg_source_read_repo(s, rel, data, len);
		if (rc == -1 && errno == EFBIG)
			*err = sg_xasprintf("file too large (limit %u MiB)", SG_MAX_FILE >> 20);
		else if (rc != 0)
			*err = sg_xasprintf("cannot read: %s", rc == 1 ? "vanished" : strerror(errno));
		free(rel);
		return rc == 0 ? 0 : -1;
	}
	git_blob *blob = NULL;
	if (git_blob_lookup(&blob, repo, &f->oid) != 0) { *err = git_err("blob"); return -1; }
	size_t n = (size_t)git_blob_rawsize(blob);
	if (n > SG_MAX_FILE) {
		git_blob_free(blob);
		*err = sg_xasprintf("file too large (limit %u MiB)", SG_MAX_FILE >> 20);
		return -1;
	}
	*data = sg_xstrndup(git_blob_rawcontent(blob), n);
	*len = n;
	git_blob_free(blob);
	return 0;
}

void sg_source_close(sg_source *s)
{
	for (size_t i = 0; i < s->nfiles; i++) free(s->files[i].path);
	free(s->files);
	free(s->workdir);
	free(s->gitdir);
	free(s->content_prefix);
	git_commit_free(s->commit);
	git_repository_free(s->repo);
	memset(s, 0, sizeof *s);
}
