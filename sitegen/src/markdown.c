/* markdown.c — see markdown.h.
 *
 * Heading ids: cmark-gfm renders headings without ids, as "<hN>".  After
 * rendering, one linear pass gives each heading's start tag the id computed
 * for it during the tree walk (both in document order).  Only headings make
 * "<hN>": text, code and attributes are escaped, and the other tags cmark
 * and its extensions write are not of that form.  A page with raw HTML
 * (allow_html) may hold "<hN>" of its own, so it is rendered with
 * CMARK_OPT_SOURCEPOS instead, which marks every block start tag with a
 * data-sourcepos="..." attribute; the pass then drops those attributes and
 * gives the ids to the marked heading tags.  Text cannot contain that
 * attribute literally: cmark escapes '"' in text.  (Rendering every page
 * that way, and stripping a few dozen attributes from each, was ~2% of a
 * 10k-page build.) */
#include "markdown.h"

#include <cmark-gfm.h>
#include <cmark-gfm-core-extensions.h>
#include <cmark-gfm-extension_api.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const ext_names[] = { "table", "strikethrough", "autolink", "tasklist" };

/* libcmark-gfm keeps the table of special inline characters in a process
 * global.  Each cmark_parser_finish calls
 * cmark_manage_extensions_special_characters to add its extensions'
 * characters ('~' for strikethrough, ':' and 'w' for autolinks) and again
 * at the end to remove them, so two concurrent parses remove each other's
 * characters mid-parse (strikethrough and autolinks were lost in our golden
 * test).  Every parser here attaches the same extensions, so the
 * characters can stay registered for the life of the process: we register
 * them once through the library's own function (found with RTLD_NEXT) and
 * define a do-nothing function of the same name, which the library's call
 * (through its PLT) reaches instead.  Then the table is read-only while
 * threads parse.  Emptying the extensions' character lists instead does
 * not work: the inline parser also uses them to pick an extension, and
 * loops forever without them.
 *
 * Whether the interposition took effect depends on how the library was
 * linked, so global_init checks it with one probe parse; when it did not,
 * parses are serialised with parse_lock as before. */
typedef void (*manage_fn)(cmark_parser *, int);
static manage_fn real_manage;
static int probing;          /* set while global_init's probe parse runs */
static int probe_hit;        /* the probe reached our function */
static int serialise = 1;    /* cleared once interposition is proven */
static pthread_mutex_t parse_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

void cmark_manage_extensions_special_characters(cmark_parser *parser, int add)
{
	if (probing) probe_hit = 1;
	/* Not interposed after all: behave like the library (under the lock). */
	if (serialise && !probing && real_manage) real_manage(parser, add);
}

static cmark_parser *new_parser_mem(int opts, cmark_mem *mem)
{
	cmark_parser *p = mem ? cmark_parser_new_with_mem(opts, mem) : cmark_parser_new(opts);
	for (size_t i = 0; i < sizeof ext_names / sizeof *ext_names; i++) {
		cmark_syntax_extension *e = cmark_find_syntax_extension(ext_names[i]);
		if (e) cmark_parser_attach_syntax_extension(p, e);
	}
	return p;
}

static void global_init(void)
{
	cmark_gfm_core_extensions_ensure_registered();
	real_manage = (manage_fn)(uintptr_t)dlsym(RTLD_NEXT, "cmark_manage_extensions_special_characters");
	if (!real_manage) return;   /* keep serialising; the library's own calls reach us */
	cmark_parser *p = new_parser_mem(CMARK_OPT_DEFAULT, NULL);
	real_manage(p, 1);   /* registered for good */
	probing = 1;
	cmark_parser_feed(p, "~~x~~\n", 6);
	cmark_node_free(cmark_parser_finish(p));
	probing = 0;
	cmark_parser_free(p);
	serialise = !probe_hit;
}

void sg_md_global_init(void)
{
	pthread_once(&init_once, global_init);
}

/* cmark allocates every node, string and buffer of a parse separately, and
 * frees them one by one: a third of its time on a 10k-page site went to
 * malloc and free.  A parse and its HTML rendering allocate from a bump
 * arena instead, released in one go when the page is done.  cmark's
 * allocator hooks take no context, so the arena in use is per thread. */
struct arena_chunk {
	struct arena_chunk *next;
	size_t cap, used;
	_Alignas(16) unsigned char data[];
};

typedef struct {
	struct arena_chunk *head;   /* the chunk being filled */
	void *last;                 /* the latest block: realloc grows it in place */
} arena;

static _Thread_local arena *cur_arena;

/* The thread's last released chunk of ARENA_CHUNK bytes, for its next
 * parse: a fresh 64 KiB malloc per page made glibc consolidate its fast
 * bins every time.  sg_md_thread_done frees it. */
static _Thread_local struct arena_chunk *spare_chunk;

#define ARENA_CHUNK (64 * 1024)
#define ARENA_HDR 16   /* each block's size, before it (keeps 16-byte alignment) */

static void *arena_alloc(size_t n)
{
	arena *a = cur_arena;
	size_t need = ARENA_HDR + ((n + 15) & ~(size_t)15);
	if (need < n) abort();   /* overflow */
	struct arena_chunk *c = a->head;
	if (!c || c->cap - c->used < need) {
		size_t cap = need > ARENA_CHUNK ? need : ARENA_CHUNK;
		if (cap == ARENA_CHUNK && spare_chunk) c = spare_chunk, spare_chunk = NULL;
		else c = malloc(sizeof *c + cap);
		if (!c) abort();   /* as cmark's own allocator does */
		c->next = a->head;
		c->cap = cap;
		c->used = 0;
		a->head = c;
	}
	unsigned char *blk = c->data + c->used;
	memcpy(blk, &n, sizeof n);
	c->used += need;
	a->last = blk + ARENA_HDR;
	return a->last;
}

static void *arena_calloc(size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size) abort();
	void *p = arena_alloc(n * size);
	memset(p, 0, n * size);
	return p;
}

static void *arena_realloc(void *p, size_t n)
{
	if (!p) return arena_alloc(n);
	size_t old;
	memcpy(&old, (unsigned char *)p - ARENA_HDR, sizeof old);
	arena *a = cur_arena;
	struct arena_chunk *c = a->head;
	size_t oldround = (old + 15) & ~(size_t)15, round = (n + 15) & ~(size_t)15;
	if (p == a->last && round >= n && (round <= oldround || c->cap - c->used >= round - oldround)) {
		/* The latest block (a growing buffer, mostly): grow or shrink in place. */
		c->used = c->used - oldround + round;
		memcpy((unsigned char *)p - ARENA_HDR, &n, sizeof n);
		return p;
	}
	void *q = arena_alloc(n);
	memcpy(q, p, old < n ? old : n);
	return q;
}

static void arena_free(void *p)
{
	(void)p;   /* released with the whole arena */
}

static cmark_mem arena_mem = { arena_calloc, arena_realloc, arena_free };

static void arena_release(arena *a)
{
	while (a->head) {
		struct arena_chunk *n = a->head->next;
		if (!spare_chunk && a->head->cap == ARENA_CHUNK) spare_chunk = a->head;
		else free(a->head);
		a->head = n;
	}
	a->last = NULL;
}

void sg_md_thread_done(void)
{
	free(spare_chunk);
	spare_chunk = NULL;
}

static int is_external(const char *url)
{
	if (url[0] == '/' && url[1] == '/') return 1;
	for (const char *p = url; *p; p++) {
		if (*p == ':') return 1;
		if (*p == '/' || *p == '?' || *p == '#') return 0;
	}
	return 0;
}

static void collect_text(cmark_node *n, sg_buf *b)
{
	cmark_iter *it = cmark_iter_new(n);
	cmark_event_type ev;
	while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
		cmark_node *c = cmark_iter_get_node(it);
		if (ev != CMARK_EVENT_ENTER) continue;
		cmark_node_type t = cmark_node_get_type(c);
		if (t == CMARK_NODE_TEXT || t == CMARK_NODE_CODE)
			sg_buf_puts(b, cmark_node_get_literal(c));
		else if (t == CMARK_NODE_SOFTBREAK || t == CMARK_NODE_LINEBREAK)
			sg_buf_putc(b, ' ');
	}
	cmark_iter_free(it);
}

static int node_line(cmark_node *n, int first_line)
{
	for (; n; n = cmark_node_parent(n)) {
		int l = cmark_node_get_start_line(n);
		if (l > 0) return l + first_line - 1;
	}
	return first_line;
}

static const char *unique_id(sg_mdpage *pg, const char *text)
{
	char *base = sg_slugify(text);
	if (!*base) { free(base); base = sg_xstrdup("section"); }
	char *id = sg_xstrdup(base);
	for (int k = 1;; k++) {
		size_t i;
		for (i = 0; i < pg->nheads; i++)
			if (!strcmp(pg->heads[i].id, id)) break;
		if (i == pg->nheads) break;
		free(id);
		id = sg_xasprintf("%s-%d", base, k);
	}
	free(base);
	sg_grow(&pg->heads, &pg->hcap, pg->nheads, sizeof *pg->heads);
	sg_heading *h = &pg->heads[pg->nheads++];
	h->id = id;
	h->text = sg_xstrdup(text);
	h->level = 0;
	return id;
}

static void add_link(sg_mdpage *pg, char *target, const char *anchor, int line)
{
	sg_grow(&pg->links, &pg->lcap, pg->nlinks, sizeof *pg->links);
	sg_link *l = &pg->links[pg->nlinks++];
	l->target = target;
	l->anchor = anchor && *anchor ? sg_xstrdup(anchor) : NULL;
	l->line = line;
}

/* Rewrites a relative link or image URL; records it for checking. */
static int rewrite_url(sg_mdpage *pg, cmark_node *n, const char *file, const char *page,
                       int line, const char *base, sg_diag *d)
{
	const char *url = cmark_node_get_url(n);
	if (!url || !*url || is_external(url)) return 0;
	if (url[0] == '/') return 0;   /* site-absolute: the author's choice, left alone */
	const char *hash = strchr(url, '#');
	const char *q = strchr(url, '?');
	size_t plen = strcspn(url, "?#");
	if (plen == 0) {   /* "#anchor" on this page */
		if (hash) add_link(pg, sg_xstrdup(page), hash + 1, line);
		return 0;
	}
	char *path = sg_xstrndup(url, plen);
	char *target = sg_resolve(page, path);
	if (!target || !*target) {
		sg_error(d, file, line, "link '%s' leaves the content folder", url);
		free(path);
		free(target);
		return -1;
	}
	free(path);
	if (sg_ends_with(target, "/")) target[strlen(target) - 1] = '\0';
	char *u = sg_url_of(target);
	sg_buf nu = {0};
	sg_buf_puts(&nu, base);
	sg_buf_puts(&nu, u);
	if (q && (!hash || q < hash)) sg_buf_put(&nu, q, hash ? (size_t)(hash - q) : strlen(q));
	if (hash) sg_buf_puts(&nu, hash);
	free(u);
	add_link(pg, target, hash ? hash + 1 : NULL, line);
	cmark_node_set_url(n, nu.data);
	sg_buf_free(&nu);
	return 0;
}

/* "> [!NOTE]" as the first line of a blockquote: returns the kind, or NULL. */
static const char *admonition_kind(cmark_node *bq, cmark_node **marker)
{
	cmark_node *p = cmark_node_first_child(bq);
	if (!p || cmark_node_get_type(p) != CMARK_NODE_PARAGRAPH) return NULL;
	cmark_node *t = cmark_node_first_child(p);
	if (!t || cmark_node_get_type(t) != CMARK_NODE_TEXT) return NULL;
	static const char *const kinds[] = { "NOTE", "TIP", "WARNING", "IMPORTANT", "CAUTION" };
	const char *lit = cmark_node_get_literal(t);
	for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
		char want[16];
		snprintf(want, sizeof want, "[!%s]", kinds[i]);
		if (!strcmp(lit, want)) { *marker = t; return kinds[i]; }
	}
	return NULL;
}

static void make_admonition(cmark_node *bq, cmark_node *marker, const char *kind)
{
	static const char *const titles[][2] = {
		{ "NOTE", "Note" }, { "TIP", "Tip" }, { "WARNING", "Warning" },
		{ "IMPORTANT", "Important" }, { "CAUTION", "Caution" } };
	const char *title = kind;
	for (size_t i = 0; i < 5; i++)
		if (!strcmp(titles[i][0], kind)) title = titles[i][1];
	cmark_node *para = cmark_node_parent(marker);
	cmark_node *next = cmark_node_next(marker);
	cmark_node_free(marker);
	if (next && (cmark_node_get_type(next) == CMARK_NODE_SOFTBREAK ||
	             cmark_node_get_type(next) == CMARK_NODE_LINEBREAK))
		cmark_node_free(next);
	if (!cmark_node_first_child(para)) cmark_node_free(para);
	/* The blockquote becomes a custom block whose enter/exit literals are
	 * our own markup; its children render as usual.  It comes from the
	 * parse's arena: cmark moves nodes only between nodes of one allocator
	 * (append_child refuses, and the loop below would never end). */
	cmark_node *box = cmark_node_new_with_mem(CMARK_NODE_CUSTOM_BLOCK, &arena_mem);
	char lower[16];
	size_t i;
	for (i = 0; kind[i] && i + 1 < sizeof lower; i++) lower[i] = (char)(kind[i] | 0x20);
	lower[i] = '\0';
	char *enter = sg_xasprintf("<div class=\"admonition admonition-%s\" role=\"note\">\n"
	                           "<p class=\"admonition-title\">%s</p>\n", lower, title);
	cmark_node_set_on_enter(box, enter);
	cmark_node_set_on_exit(box, "</div>");
	free(enter);
	cmark_node *c;
	while ((c = cmark_node_first_child(bq)))
		cmark_node_append_child(box, c);
	cmark_node_replace(bq, box);
	cmark_node_free(bq);
}

/* Copies html (rendered without CMARK_OPT_SOURCEPOS, from a page without
 * raw HTML) into out, giving the k-th heading tag "<hN>" the k-th id. */
static void put_heading_ids(sg_buf *out, const char *html, const sg_heading *heads, size_t nheads)
{
	const char *p = html;
	for (size_t k = 0; k < nheads; k++) {
		const char *h = p;
		while ((h = strstr(h, "<h")) && !(h[2] >= '1' && h[2] <= '6' && h[3] == '>')) h += 2;
		if (!h) break;
		sg_buf_put(out, p, (size_t)(h + 3 - p));
		sg_buf_puts(out, " id=\"");
		sg_esc_html(out, heads[k].id);
		sg_buf_putc(out, '"');
		p = h + 3;
	}
	sg_buf_puts(out, p);
}

/* Copies html (rendered with CMARK_OPT_SOURCEPOS) into out, dropping
 * data-sourcepos attributes and giving the k-th heading the k-th id. */
static void finish_html(sg_buf *out, const char *html, sg_heading *heads, size_t nheads)
{
	static const char attr[] = " data-sourcepos=\"";
	size_t k = 0;
	const char *p = html;
	for (;;) {
		const char *a = strstr(p, attr);
		if (!a) break;
		sg_buf_put(out, p, (size_t)(a - p));
		const char *end = strchr(a + sizeof attr - 1, '"');
		if (!end) { p = a; break; }
		/* Is this the start tag of a heading? Look back for "<hN". */
		if (a - html >= 3 && a[-3] == '<' && a[-2] == 'h' && a[-1] >= '1' && a[-1] <= '6' && k < nheads) {
			sg_buf_puts(out, " id=\"");
			sg_esc_html(out, heads[k].id);
			sg_buf_putc(out, '"');
			k++;
		}
		p = end + 1;
	}
	sg_buf_puts(out, p);
}

int sg_md_render(sg_mdpage *pg, const char *file, const char *page, const char *src,
                 size_t len, int first_line, int allow_html, const char *base, sg_diag *d)
{
	sg_md_global_init();   /* idempotent; makes parsing thread-safe */
	int opts = CMARK_OPT_GITHUB_PRE_LANG | (allow_html ? CMARK_OPT_UNSAFE : 0);
	int raw_html = 0;   /* the page has raw HTML: render with SOURCEPOS */
	arena ar = { NULL, NULL };
	arena *outer = cur_arena;   /* never nested today; restored all the same */
	cur_arena = &ar;
	cmark_parser *parser = new_parser_mem(opts, &arena_mem);
	cmark_parser_feed(parser, src, len);
	if (serialise) pthread_mutex_lock(&parse_lock);
	cmark_node *doc = cmark_parser_finish(parser);
	if (serialise) pthread_mutex_unlock(&parse_lock);
	cmark_consolidate_text_nodes(doc);

	int rc = 0;
	size_t first_head = pg->nheads;
	cmark_node **quotes = NULL;
	size_t nq = 0, qcap = 0;
	cmark_iter *it = cmark_iter_new(doc);
	cmark_event_type ev;
	while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
		cmark_node *n = cmark_iter_get_node(it);
		cmark_node_type t = cmark_node_get_type(n);
		if (ev == CMARK_EVENT_EXIT) {
			if ((t & CMARK_NODE_TYPE_MASK) == CMARK_NODE_TYPE_BLOCK && pg->text.len &&
			    pg->text.data[pg->text.len - 1] != '\n')
				sg_buf_putc(&pg->text, '\n');
			continue;
		}
		switch (t) {
		case CMARK_NODE_HEADING: {
			sg_buf h = {0};
			collect_text(n, &h);
			unique_id(pg, h.data ? h.data : "");
			pg->heads[pg->nheads - 1].level = cmark_node_get_heading_level(n);
			sg_buf_free(&h);
			break;
		}
		case CMARK_NODE_HTML_BLOCK:
		case CMARK_NODE_HTML_INLINE:
			raw_html = 1;
			if (!allow_html) {
				sg_error(d, file, node_line(n, first_line),
				         "raw HTML is not allowed (set allow_html: true in sitegen.yaml to permit it)");
				rc = -1;
			}
			break;
		case CMARK_NODE_LINK:
		case CMARK_NODE_IMAGE:
			if (rewrite_url(pg, n, file, page, node_line(n, first_line), base, d) != 0) rc = -1;
			break;
		case CMARK_NODE_TEXT:
		case CMARK_NODE_CODE:
		case CMARK_NODE_CODE_BLOCK:
			sg_buf_puts(&pg->text, cmark_node_get_literal(n));
			break;
		case CMARK_NODE_SOFTBREAK:
		case CMARK_NODE_LINEBREAK:
			sg_buf_putc(&pg->text, ' ');
			break;
		case CMARK_NODE_BLOCK_QUOTE:
			sg_grow(&quotes, &qcap, nq, sizeof *quotes);
			quotes[nq++] = n;
			break;
		default:
			break;
		}
	}
	cmark_iter_free(it);
	/* Tree edits after the walk: the iterator must not see freed nodes. */
	for (size_t i = 0; i < nq; i++) {
		cmark_node *marker = NULL;
		const char *kind = admonition_kind(quotes[i], &marker);
		if (kind) make_admonition(quotes[i], marker, kind);
	}
	free(quotes);
	if (rc == 0) {
		int ropts = opts | (raw_html ? CMARK_OPT_SOURCEPOS : 0);
		char *html = cmark_render_html_with_mem(doc, ropts, cmark_parser_get_syntax_extensions(parser),
		                                         &arena_mem);
		if (raw_html) finish_html(&pg->html, html, pg->heads + first_head, pg->nheads - first_head);
		else put_heading_ids(&pg->html, html, pg->heads + first_head, pg->nheads - first_head);
	}
	cmark_node_free(doc);
	cmark_parser_free(parser);
	arena_release(&ar);
	cur_arena = outer;
	return rc;
}

void sg_md_add_heading(sg_mdpage *pg, int level, const char *text)
{
	const char *id = unique_id(pg, text);
	pg->heads[pg->nheads - 1].level = level;
	sg_buf_printf(&pg->html, "<h%d id=\"", level);
	sg_esc_html(&pg->html, id);
	sg_buf_puts(&pg->html, "\">");
	sg_esc_html(&pg->html, text);
	sg_buf_printf(&pg->html, "</h%d>\n", level);
	sg_buf_puts(&pg->text, text);
	sg_buf_putc(&pg->text, '\n');
}

void sg_md_toc(const sg_mdpage *pg, sg_buf *out)
{
	size_t n = 0;
	for (size_t i = 0; i < pg->nheads; i++)
		if (pg->heads[i].level == 2 || pg->heads[i].level == 3) n++;
	if (n < 2) return;
	int depth = 0;   /* 1 inside the h2 list, 2 inside an h3 sub-list */
	for (size_t i = 0; i < pg->nheads; i++) {
		const sg_heading *h = &pg->heads[i];
		if (h->level != 2 && h->level != 3) continue;
		int want = h->level == 2 || depth == 0 ? 1 : 2;
		if (depth == 0) { sg_buf_puts(out, "<ul>\n<li>"); depth = 1; }
		else if (want > depth) { sg_buf_puts(out, "\n<ul>\n<li>"); depth = 2; }
		else if (want < depth) { sg_buf_puts(out, "</li>\n</ul>\n</li>\n<li>"); depth = 1; }
		else sg_buf_puts(out, "</li>\n<li>");
		sg_buf_puts(out, "<a href=\"#");
		sg_esc_html(out, h->id);
		sg_buf_puts(out, "\">");
		sg_esc_html(out, h->text);
		sg_buf_puts(out, "</a>");
	}
	if (depth == 2) sg_buf_puts(out, "</li>\n</ul>\n");
	sg_buf_puts(out, "</li>\n</ul>\n");
}

void sg_md_free(sg_mdpage *pg)
{
	sg_buf_free(&pg->html);
	sg_buf_free(&pg->text);
	sg_buf_free(&pg->faqld);
	for (size_t i = 0; i < pg->nheads; i++) free(pg->heads[i].id), free(pg->heads[i].text);
	free(pg->heads);
	for (size_t i = 0; i < pg->nlinks; i++) free(pg->links[i].target), free(pg->links[i].anchor);
	free(pg->links);
	memset(pg, 0, sizeof *pg);
}
