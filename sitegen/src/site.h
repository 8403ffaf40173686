/* site.h — the content model: every page with the metadata other pages need
 * (title, order, tags, heading ids, outgoing links, search text), the section
 * tree, and the checks that need the whole site (missing _index.md, duplicate
 * output paths, broken links and anchors).
 *
 * A page's metadata either comes from parsing its file, or — in an
 * incremental build, when the file's blob id is unchanged — from the
 * manifest, so unchanged pages are never read.
 * Ownership: sg_site owns its pages and their strings; free with sg_site_free. */
#ifndef SG_SITE_H
#define SG_SITE_H

#include <git2.h>
#include <stdint.h>
#include "frontmatter.h"
#include "markdown.h"
#include "util.h"

#define SG_NONE ((size_t)-1)

typedef struct { char **v; size_t n, cap; } sg_strs;
void sg_strs_push(sg_strs *s, const char *str);   /* copies */
void sg_strs_free(sg_strs *s);

typedef struct {
	char *path;          /* content path: "billing/invoices.md" */
	char *url;           /* site-relative URL: "billing/invoices/" */
	git_oid oid;         /* blob id of the source */
	int is_section;      /* an _index.md */
	int is_faq;
	int draft;
	char *title, *description;
	long weight;
	sg_strs tags, aliases;
	sg_strs ids;         /* heading ids, for anchor checks */
	sg_strs headings;    /* heading texts, for search */
	sg_link *links; size_t nlinks;
	char *text;          /* plain text, for search; NULL until loaded */
	uint64_t text_hash;  /* of text: tells whether the search index changed */
	int64_t date;        /* last change (0 = unknown) */
	char *author;
	/* structure, filled by sg_site_link */
	size_t parent;       /* index of the section page; SG_NONE for home */
	size_t *kids; size_t nkids;   /* ordered children of a section */
	size_t prev, next;   /* neighbours in the parent's order */
	uint64_t listing;    /* hash of what a listing of this section shows */
	uint64_t key;        /* hash of every input of this page's HTML */
	int loaded;          /* metadata present */
	int parsed;          /* parsed in this run (have fresh markdown) */
} sg_page;

typedef struct {
	char *path;          /* content path of a non-Markdown file, copied as is */
	git_oid oid;
} sg_static;

typedef struct {
	sg_page *pages; size_t npages, pcap;
	sg_static *statics; size_t nstatics, scap;
	sg_map by_path;      /* content path -> page index */
	size_t home;         /* index of _index.md */
} sg_site;

/* Fills the front-matter metadata of p from its source data and leaves the
 * parsed front matter in fm (caller frees with sg_front_free, also on error).
 * Rejects binary data and invalid UTF-8.  Returns 0, or -1 after reporting. */
int sg_page_front(sg_page *p, const char *file, const char *data, size_t len, sg_front *fm, sg_diag *d);
/* Renders the Markdown body (and FAQ answers) of p into m, and refreshes
 * p's heading ids, headings, links and search text.  Returns 0 or -1. */
int sg_page_body(sg_page *p, const char *file, const char *data, size_t len, const sg_front *fm,
                 int allow_html, const char *base, sg_mdpage *m, sg_diag *d);
void sg_page_clear_meta(sg_page *p);

/* Orders sections, sets parents, neighbours and listing hashes; reports a
 * missing _index.md.  Returns 0 or -1. */
int sg_site_link(sg_site *s, const char *prefix, sg_diag *d);
/* Reports every internal link whose page, file or anchor does not exist. */
int sg_site_check_links(const sg_site *s, const char *prefix, sg_diag *d);
void sg_site_free(sg_site *s);

#endif
