/* render.h — turns the content model into files: article and section pages
 * through the theme's templates (navigation of the page's own section only,
 * breadcrumbs, TOC, previous/next, tags, "last updated", edit link,
 * JSON-LD), tag pages, search page, 404, alias redirects, and the
 * machine-readable files (sitemap.xml, feed.xml, robots.txt).
 * Everything is a pure function of its inputs: no clock, no environment, so
 * the same commit gives the same bytes.
 * Ownership: sg_render borrows everything it points to. */
#ifndef SG_RENDER_H
#define SG_RENDER_H

#include "frontmatter.h"
#include "site.h"
#include "theme.h"

typedef struct {
	const sg_site *site;
	const sg_config *cfg;
	const sg_theme *theme;
	const char *base;     /* URL path prefix, "/" or "/help/" */
	const char *abs;      /* absolute site URL with trailing '/', or base */
	const char *prefix;   /* content root inside the repository ("content/") */
} sg_render;

/* Hash of every input of page i's HTML except its own body (which the blob
 * id in the page stands for). */
uint64_t sg_page_key(const sg_render *r, size_t i, uint64_t settings);

/* Page i; body/toc: rendered Markdown and table of contents; faqld: FAQ
 * Question objects (may be empty). */
void sg_render_page(const sg_render *r, size_t i, const char *body, const char *toc,
                    const char *faqld, sg_buf *out);

/* What consecutive pages of one section share: the section's navigation
 * list, built once instead of once per page (a 50-page section made 2,500
 * link objects, a fifth of the render time in malloc).  One per thread;
 * zero-initialize; owns nav; free with sg_render_cache_free. */
typedef struct {
	const sg_site *site;
	size_t sec;           /* section whose children nav lists */
	size_t cur;           /* nav item marked current, or SG_NONE */
	struct sg_tv *nav;
} sg_render_cache;

/* sg_render_page with the same bytes, reusing c between calls. */
void sg_render_page_cached(const sg_render *r, sg_render_cache *c, size_t i, const char *body,
                           const char *toc, const char *faqld, sg_buf *out);
void sg_render_cache_free(sg_render_cache *c);
/* A page outside the content tree (tags, search, 404): template tpl with
 * ctx (taken) and the site layout. */
void sg_render_special(const sg_render *r, int tpl, const char *title, const char *url,
                       sg_tv *ctx, sg_buf *out);
void sg_render_redirect(const sg_render *r, size_t target, sg_buf *out);
void sg_render_sitemap(const sg_render *r, sg_buf *out);
void sg_render_feed(const sg_render *r, sg_buf *out);
void sg_render_robots(const sg_render *r, sg_buf *out);

/* "2026-01-05" / "2026-01-05T10:00:00Z" of an epoch time into buf (>= 21). */
void sg_fmt_date(int64_t t, int iso, char *buf, size_t n);

#endif
