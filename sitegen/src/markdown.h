/* markdown.h — one page's Markdown through libcmark-gfm (table, strikethrough,
 * autolink, tasklist), in process.  Adds what cmark lacks: GitHub-style
 * heading ids, admonitions ("> [!NOTE]"), rewriting of relative .md links to
 * page URLs, collection of every internal link (checked later against the
 * whole site), and the plain text the search index wants.
 *
 * A page may be rendered from several fragments (the body, then each FAQ
 * answer): they share one sg_mdpage so heading ids stay unique.
 * Ownership: sg_mdpage owns its buffers and arrays; free with sg_md_free. */
#ifndef SG_MARKDOWN_H
#define SG_MARKDOWN_H

#include "util.h"

typedef struct { int level; char *id; char *text; } sg_heading;

/* An internal link: target is a content path ("billing/invoices.md", or a
 * static file); anchor may be NULL.  line is the source line. */
typedef struct { char *target; char *anchor; int line; } sg_link;

typedef struct {
	sg_buf html;       /* rendered HTML, appended fragment by fragment */
	sg_buf text;       /* plain text for search */
	sg_heading *heads; size_t nheads, hcap;
	sg_link *links;    size_t nlinks, lcap;
	sg_buf faqld;      /* FAQPage JSON-LD Question objects, comma-separated */
} sg_mdpage;

void sg_md_global_init(void);   /* registers the GFM extensions; call once */

/* Renders src (len bytes, starting at file line first_line) of the page at
 * content path page, appending to pg.  Raw HTML is an error unless
 * allow_html.  base is the site's URL path prefix ("/" or "/help/").
 * Returns 0, or -1 after reporting errors through d. */
int sg_md_render(sg_mdpage *pg, const char *file, const char *page, const char *src,
                 size_t len, int first_line, int allow_html, const char *base, sg_diag *d);
/* Adds an <hN id=...> heading of plain text (FAQ questions) to pg->html. */
void sg_md_add_heading(sg_mdpage *pg, int level, const char *text);
/* Table of contents (h2/h3) as nested <ul>, appended to out; nothing when
 * the page has fewer than two headings. */
void sg_md_toc(const sg_mdpage *pg, sg_buf *out);
void sg_md_free(sg_mdpage *pg);
/* Frees what sg_md_render keeps per thread between pages; call before a
 * thread that rendered ends (or when the calling thread is done). */
void sg_md_thread_done(void);

#endif
