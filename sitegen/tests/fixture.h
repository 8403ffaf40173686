/* fixture.h — helpers the tests use to create git repositories through
 * libgit2 (commits by chosen authors at fixed dates, renames, deletions,
 * symlinks, submodules), to run sitegen in process with stderr captured,
 * and to compare output trees.  Header-only: each test is one program. */
#ifndef SG_FIXTURE_H
#define SG_FIXTURE_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build.h"
#include "markdown.h"
#include "util.h"

typedef struct {
	git_repository *repo;
	git_index *idx;       /* in-memory index: the next commit's tree */
	char *dir;
	git_oid head;
	int have_head;
} fx_repo;

static inline void fx_check(int rc, const char *what)
{
	if (rc < 0) {
		const git_error *e = git_error_last();
		fprintf(stderr, "fixture: %s: %s\n", what, e ? e->message : "?");
		abort();
	}
}

/* A fresh temporary folder (caller frees the string). */
static inline char *fx_tmpdir(const char *tag)
{
	char *t = sg_xasprintf("/tmp/sitegen-test-%s-XXXXXX", tag);
	if (!mkdtemp(t)) { perror("mkdtemp"); abort(); }
	return t;
}

static inline void fx_init(fx_repo *r, const char *dir, int bare)
{
	memset(r, 0, sizeof *r);
	r->dir = sg_xstrdup(dir);
	fx_check(git_repository_init(&r->repo, dir, bare), "init");
	fx_check(git_index_new(&r->idx), "index");
}

static inline void fx_put_mode(fx_repo *r, const char *path, const char *data, size_t len, unsigned mode)
{
	git_index_entry e;
	memset(&e, 0, sizeof e);
	e.path = path;
	e.mode = mode;
	if (mode == GIT_FILEMODE_COMMIT) {
		/* A gitlink: the id of a commit in another repository. */
		fx_check(git_oid_fromstr(&e.id, "1234567890123456789012345678901234567890"), "oid");
		fx_check(git_index_add(r->idx, &e), "add gitlink");
		return;
	}
	fx_check(git_blob_create_from_buffer(&e.id, r->repo, data, len), path);
	fx_check(git_index_add(r->idx, &e), path);
}

static inline void fx_put(fx_repo *r, const char *path, const char *text)
{
	fx_put_mode(r, path, text, strlen(text), GIT_FILEMODE_BLOB);
}

static inline void fx_del(fx_repo *r, const char *path)
{
	fx_check(git_index_remove(r->idx, path, 0), path);
}

static inline git_oid fx_commit(fx_repo *r, const char *name, const char *email, git_time_t when, const char *msg)
{
	git_oid tree_id, id;
	git_tree *tree = NULL;
	git_signature *sig = NULL;
	git_commit *parent = NULL;
	fx_check(git_index_write_tree_to(&tree_id, r->idx, r->repo), "write tree");
	fx_check(git_tree_lookup(&tree, r->repo, &tree_id), "tree");
	fx_check(git_signature_new(&sig, name, email, when, 0), "signature");
	if (r->have_head) fx_check(git_commit_lookup(&parent, r->repo, &r->head), "parent");
	const git_commit *parents[1] = { parent };
	fx_check(git_commit_create(&id, r->repo, "HEAD", sig, sig, NULL, msg, tree, parent ? 1 : 0, parents), "commit");
	git_commit_free(parent);
	git_signature_free(sig);
	git_tree_free(tree);
	r->head = id;
	r->have_head = 1;
	return id;
}

static inline void fx_free(fx_repo *r)
{
	git_index_free(r->idx);
	git_repository_free(r->repo);
	free(r->dir);
	memset(r, 0, sizeof *r);
}

/* Runs a build with stderr captured into *log (caller frees). */
static inline int fx_build(const sg_build_opts *o, sg_build_stats *st, char **log)
{
	fflush(stderr);
	char path[] = "/tmp/sitegen-test-log-XXXXXX";
	int fd = mkstemp(path);
	int saved = dup(2);
	dup2(fd, 2);
	int code = sg_build(o, st);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fd);
	size_t len;
	if (sg_read_file(path, log, &len) != 0) *log = sg_xstrdup("");
	unlink(path);
	return code;
}

/* Lists files under root (relative, sorted) into a '\n'-joined string. */
static inline void fx_list_rec(const char *root, const char *rel, sg_buf *out)
{
	char *dir = *rel ? sg_path_join(root, rel) : sg_xstrdup(root);
	struct dirent **ents = NULL;
	int n = scandir(dir, &ents, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		const char *nm = ents[i]->d_name;
		if (strcmp(nm, ".") && strcmp(nm, "..")) {
			char *r = *rel ? sg_xasprintf("%s/%s", rel, nm) : sg_xstrdup(nm);
			char *abs = sg_path_join(root, r);
			struct stat st;
			if (lstat(abs, &st) == 0 && S_ISDIR(st.st_mode)) fx_list_rec(root, r, out);
			else { sg_buf_puts(out, r); sg_buf_putc(out, '\n'); }
			free(abs);
			free(r);
		}
		free(ents[i]);
	}
	free(ents);
	free(dir);
}

/* Returns NULL when trees a and b hold the same files with the same bytes,
 * else a description of the first difference (caller frees). */
static inline char *fx_tree_diff(const char *a, const char *b)
{
	sg_buf la = {0}, lb = {0};
	fx_list_rec(a, "", &la);
	fx_list_rec(b, "", &lb);
	char *res = NULL;
	if (!la.data || !lb.data || strcmp(la.data, lb.data)) {
		res = sg_xasprintf("file lists differ:\n--- %s\n%s--- %s\n%s", a, la.data ? la.data : "", b, lb.data ? lb.data : "");
	} else {
		for (char *p = la.data; *p && !res;) {
			char *nl = strchr(p, '\n');
			*nl = '\0';
			char *fa = sg_path_join(a, p), *fb = sg_path_join(b, p);
			char *da = NULL, *db = NULL;
			size_t na = 0, nb = 0;
			if (sg_read_file(fa, &da, &na) || sg_read_file(fb, &db, &nb) || na != nb || memcmp(da, db, na))
				res = sg_xasprintf("bytes differ: %s", p);
			free(da), free(db), free(fa), free(fb);
			p = nl + 1;
		}
	}
	sg_buf_free(&la);
	sg_buf_free(&lb);
	return res;
}

static inline ino_t fx_inode(const char *root, const char *rel)
{
	char *p = sg_path_join(root, rel);
	struct stat st;
	ino_t ino = stat(p, &st) == 0 ? st.st_ino : 0;
	free(p);
	return ino;
}

static inline void fx_rm(const char *dir)
{
	sg_rm_rf(dir);
}

#endif
