/* theme.h — the templates and assets a build uses: the default theme
 * compiled into the binary (theme_data.c, generated from theme/), each file
 * replaceable by <repo>/theme/<name> at the built commit or in the worktree.
 * Ownership: sg_theme owns compiled templates and override bytes. */
#ifndef SG_THEME_H
#define SG_THEME_H

#include <stddef.h>
#include <stdint.h>
#include "repo.h"
#include "template.h"

typedef struct { const char *name; const char *data; size_t len; } sg_theme_file;
extern const sg_theme_file sg_theme_files[];   /* NULL-name terminated */

enum { SG_T_BASE, SG_T_PAGE, SG_T_SECTION, SG_T_TAGS, SG_T_TAG, SG_T_SEARCH, SG_T_404,
       SG_T_REDIRECT, SG_T_COUNT };

typedef struct { char *name; char *data; size_t len; } sg_asset;

typedef struct {
	sg_tpl *tpl[SG_T_COUNT];
	sg_asset *assets; size_t nassets;   /* non-template files, go to /assets/ */
	uint64_t hash;                      /* of every file's bytes */
} sg_theme;

/* Returns 0, 1 after reporting template errors, or -1 with *err on I/O errors. */
int  sg_theme_load(sg_theme *t, sg_source *src, sg_diag *d, char **err);
void sg_theme_free(sg_theme *t);

#endif
