/* theme.c — see theme.h. */
#include "theme.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const tpl_names[SG_T_COUNT] = {
	"base.html", "page.html", "section.html", "tags.html", "tag.html", "search.html",
	"404.html", "redirect.html" };

int sg_theme_load(sg_theme *t, sg_source *src, sg_diag *d, char **err)
{
	memset(t, 0, sizeof *t);
	*err = NULL;
	int bad = 0;
	uint64_t h = SG_HASH_SEED;
	for (const sg_theme_file *f = sg_theme_files; f->name; f++) {
		char *rp = sg_xasprintf("theme/%s", f->name);
		char *data = NULL;
		size_t len = 0;
		int rc = sg_source_read_repo(src, rp, &data, &len);
		if (rc < 0) {
			*err = sg_xasprintf("%s: %s", rp, strerror(errno));
			free(rp);
			sg_theme_free(t);
			return -1;
		}
		if (rc == 1) { data = sg_xstrndup(f->data, f->len); len = f->len; }
		h = sg_hash_str(h, f->name);
		h = sg_hash(h, data, len);
		int ti = -1;
		for (int k = 0; k < SG_T_COUNT; k++)
			if (!strcmp(tpl_names[k], f->name)) ti = k;
		if (ti >= 0) {
			/* Overrides are named by their repository path in errors. */
			t->tpl[ti] = sg_tpl_compile(rc == 0 ? rp : f->name, data, d);
			if (!t->tpl[ti]) bad = 1;
			free(data);
		} else {
			t->assets = sg_xrealloc(t->assets, (t->nassets + 1) * sizeof *t->assets);
			t->assets[t->nassets].name = sg_xstrdup(f->name);
			t->assets[t->nassets].data = data;
			t->assets[t->nassets].len = len;
			t->nassets++;
		}
		free(rp);
	}
	for (int k = 0; k < SG_T_COUNT; k++)
		if (!t->tpl[k] && !bad) {
			sg_error(d, tpl_names[k], 0, "template missing from the built-in theme");
			bad = 1;
		}
	t->hash = h;
	return bad ? 1 : 0;
}

void sg_theme_free(sg_theme *t)
{
	for (int k = 0; k < SG_T_COUNT; k++) sg_tpl_free(t->tpl[k]);
	for (size_t i = 0; i < t->nassets; i++) free(t->assets[i].name), free(t->assets[i].data);
	free(t->assets);
	memset(t, 0, sizeof *t);
}
