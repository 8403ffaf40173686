/* output.c — see output.h. */
#include "output.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *io_err(const char *what, const char *path)
{
	return sg_xasprintf("%s %s: %s", what, path, strerror(errno));
}

int sg_out_begin(sg_output *o, const char *out, int full, char **err)
{
	memset(o, 0, sizeof *o);
	size_t n = strlen(out);
	while (n > 1 && out[n - 1] == '/') n--;
	o->out = sg_xstrndup(out, n);
	o->stage = sg_xasprintf("%s.sitegen-tmp", o->out);
	o->full = full;
	pthread_mutex_init(&o->lock, NULL);
	if (sg_rm_rf(o->stage) != 0 || sg_mkdir_p(o->stage) != 0) {
		*err = io_err("cannot create", o->stage);
		return -1;
	}
	return 0;
}

/* Creates path's folder.  One mkdir in the common case (the grandparent
 * exists): a 10,000-page site creates 10,000 folders, and mkdir -p from the
 * root would cost five system calls each. */
static int ensure_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash) return 0;
	char *dir = sg_xstrndup(path, (size_t)(slash - path));
	int rc = 0;
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) rc = sg_mkdir_p(dir);
	free(dir);
	return rc;
}

int sg_out_write(sg_output *o, const char *rel, const char *data, size_t len, char **err)
{
	char *p = sg_path_join(o->stage, rel);
	int rc = 0;
	if (ensure_parent(p) != 0 || sg_write_file(p, data, len) != 0) {
		*err = io_err("cannot write", p);
		rc = -1;
	} else {
		char *r = sg_xstrdup(rel);
		pthread_mutex_lock(&o->lock);
		sg_grow(&o->wrote, &o->wcap, o->nwrote, sizeof *o->wrote);
		o->wrote[o->nwrote++] = r;
		o->wrote_sorted = 0;
		pthread_mutex_unlock(&o->lock);
	}
	free(p);
	return rc;
}

static int list_rec(const char *root, const char *rel, char ***v, size_t *n, size_t *cap)
{
	char *dir = *rel ? sg_path_join(root, rel) : sg_xstrdup(root);
	DIR *d = opendir(dir);
	free(dir);
	if (!d) return -1;
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d)) && rc == 0) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
		char *r = *rel ? sg_xasprintf("%s/%s", rel, e->d_name) : sg_xstrdup(e->d_name);
		char *abs = sg_path_join(root, r);
		struct stat st;
		/* d_type saves a stat per file (21k in a 10k-page site). */
		int isdir = e->d_type == DT_DIR;
		if (e->d_type == DT_UNKNOWN) {
			if (lstat(abs, &st) != 0) rc = -1;
			else isdir = S_ISDIR(st.st_mode);
		}
		if (rc != 0) { /* reported below */ }
		else if (isdir) rc = list_rec(root, r, v, n, cap);
		else {
			sg_grow(v, cap, *n, sizeof **v);
			(*v)[(*n)++] = r;
			r = NULL;
		}
		free(r);
		free(abs);
	}
	closedir(d);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int sg_out_list_staged(sg_output *o, char ***files, size_t *n, char **err)
{
	size_t cap = 0;
	*files = NULL;
	*n = 0;
	if (list_rec(o->stage, "", files, n, &cap) != 0) {
		*err = io_err("cannot list", o->stage);
		return -1;
	}
	if (*n > 1) qsort(*files, *n, sizeof **files, cmp_str);
	return 0;
}

void sg_out_sort_written(sg_output *o)
{
	pthread_mutex_lock(&o->lock);
	if (!o->wrote_sorted && o->nwrote > 1) qsort(o->wrote, o->nwrote, sizeof *o->wrote, cmp_str);
	o->wrote_sorted = 1;
	pthread_mutex_unlock(&o->lock);
}

int sg_out_list_written(sg_output *o, const char *under, char ***files, size_t *n, char **err)
{
	char **found = NULL;
	size_t nfound = 0, cap = 0;
	*files = NULL;
	*n = 0;
	if (under) {
		char *dir = sg_path_join(o->stage, under);
		struct stat st;
		int there = stat(dir, &st) == 0;
		if (there && list_rec(o->stage, under, &found, &nfound, &cap) != 0) {
			*err = io_err("cannot list", dir);
			free(dir);
			for (size_t i = 0; i < nfound; i++) free(found[i]);
			free(found);
			return -1;
		}
		free(dir);
		if (nfound > 1) qsort(found, nfound, sizeof *found, cmp_str);
	}
	/* Both lists sorted: merged, a file written twice, or written and
	 * found under `under`, once. */
	sg_out_sort_written(o);
	char **v = sg_xmalloc((nfound + o->nwrote + 1) * sizeof *v);
	size_t k = 0, i = 0, j = 0;
	while (i < nfound || j < o->nwrote) {
		int take_found = j == o->nwrote || (i < nfound && strcmp(found[i], o->wrote[j]) <= 0);
		char *f = take_found ? found[i++] : sg_xstrdup(o->wrote[j++]);
		if (k && !strcmp(v[k - 1], f)) free(f);
		else v[k++] = f;
	}
	free(found);
	*files = v;
	*n = k;
	return 0;
}

static int same_bytes(const char *a, const char *b)
{
	struct stat sa, sb;
	if (stat(a, &sa) != 0 || stat(b, &sb) != 0 || sa.st_size != sb.st_size) return 0;
	char *da = NULL, *db = NULL;
	size_t la = 0, lb = 0;
	int same = sg_read_file(a, &da, &la) == 0 && sg_read_file(b, &db, &lb) == 0 &&
	           la == lb && !memcmp(da, db, la);
	free(da);
	free(db);
	return same;
}

/* Removes now-empty folders from path's parent up to (not including) root. */
static void prune_dirs(const char *root, const char *path)
{
	char *p = sg_xstrdup(path);
	for (;;) {
		char *slash = strrchr(p, '/');
		if (!slash) break;
		*slash = '\0';
		if (strlen(p) <= strlen(root)) break;
		if (rmdir(p) != 0) break;
	}
	free(p);
}

int sg_out_commit(sg_output *o, char *const *old, size_t nold, char *const *keep, size_t nkeep, char **err)
{
	struct stat st;
	if (o->full) {
		if (stat(o->out, &st) == 0) {
			if (renameat2(AT_FDCWD, o->stage, AT_FDCWD, o->out, RENAME_EXCHANGE) != 0) {
				*err = io_err("cannot swap in", o->out);
				return -1;
			}
			/* The staging path now holds the previous site. */
			if (sg_rm_rf(o->stage) != 0) { *err = io_err("cannot remove", o->stage); return -1; }
		} else {
			if (ensure_parent(o->out) != 0 || rename(o->stage, o->out) != 0) {
				*err = io_err("cannot create", o->out);
				return -1;
			}
		}
		return 0;
	}
	char **files = NULL;
	size_t n = 0;
	if (sg_out_list_staged(o, &files, &n, err) != 0) return -1;
	int rc = 0;
	/* The manifest sorts first but must land last: if we stop half-way, the
	 * old manifest's keys make the next build redo every changed file. */
	if (n > 0 && !strcmp(files[0], SG_MANIFEST_NAME)) {
		char *m = files[0];
		memmove(files, files + 1, (n - 1) * sizeof *files);
		files[n - 1] = m;
	}
	for (size_t i = 0; i < n; i++) {
		char *from = sg_path_join(o->stage, files[i]);
		char *to = sg_path_join(o->out, files[i]);
		if (rc == 0) {
			if (same_bytes(from, to)) {
				o->unchanged++;
			} else if (ensure_parent(to) != 0 || rename(from, to) != 0) {
				*err = io_err("cannot update", to);
				rc = -1;
			} else {
				o->written++;
			}
		}
		free(from);
		free(to);
		free(files[i]);
	}
	free(files);
	/* Remove what the previous build wrote and this one does not produce. */
	for (size_t i = 0, k = 0; i < nold && rc == 0; i++) {
		while (k < nkeep && strcmp(keep[k], old[i]) < 0) k++;
		if (k < nkeep && !strcmp(keep[k], old[i])) continue;
		char *p = sg_path_join(o->out, old[i]);
		if (unlink(p) == 0) { o->removed++; prune_dirs(o->out, p); }
		else if (errno != ENOENT) { *err = io_err("cannot remove", p); rc = -1; }
		free(p);
	}
	if (rc == 0 && sg_rm_rf(o->stage) != 0) { *err = io_err("cannot remove", o->stage); rc = -1; }
	return rc;
}

void sg_out_abort(sg_output *o)
{
	if (o->stage) sg_rm_rf(o->stage);
	for (size_t i = 0; i < o->nwrote; i++) free(o->wrote[i]);
	free(o->wrote);
	if (o->out) pthread_mutex_destroy(&o->lock);
	free(o->out);
	free(o->stage);
	memset(o, 0, sizeof *o);
}
