/* frontmatter.h — YAML front matter between '---' lines at the top of a page,
 * parsed with libyaml.  Unknown keys are errors (a typo such as "tittle"
 * must not silently drop a title); type errors name file:line.
 *
 * Ownership: sg_front owns all its strings; free with sg_front_free. */
#ifndef SG_FRONTMATTER_H
#define SG_FRONTMATTER_H

#include <stddef.h>
#include "util.h"

typedef struct { char *q, *a; int line; } sg_faq;

typedef struct {
	char *title, *description;
	long weight;
	char **tags;    size_t ntags;
	char **aliases; size_t naliases;
	int draft;
	sg_faq *faq;    size_t nfaq;
	size_t body_off;   /* where the Markdown body starts in the file */
	int body_line;     /* its 1-based line number */
} sg_front;

/* Parses the front matter of data (NUL-terminated, len bytes).  A file
 * without front matter yields an empty sg_front with body_off 0.  Returns 0, or
 * -1 after reporting errors through d.  require_title: pages need a title. */
int sg_front_parse(const char *file, const char *data, size_t len, sg_front *fm, sg_diag *d);
void sg_front_free(sg_front *fm);

/* Site configuration (sitegen.yaml).  Missing keys keep their defaults. */
typedef struct {
	char *title, *base_url, *language, *edit_url, *description;
	int allow_html;
} sg_config;

void sg_config_defaults(sg_config *c);
int  sg_config_parse(const char *file, const char *data, size_t len, sg_config *c, sg_diag *d);
void sg_config_free(sg_config *c);

#endif
