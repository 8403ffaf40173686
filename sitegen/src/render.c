/* render.c — see render.h. */
#include "render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void sg_fmt_date(int64_t t, int iso, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm)) { snprintf(buf, n, "1970-01-01"); return; }
	strftime(buf, n, iso ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%d", &tm);
}

static char *page_href(const sg_render *r, const sg_page *p)
{
	return sg_xasprintf("%s%s", r->base, p->url);
}

uint64_t sg_page_key(const sg_render *r, size_t i, uint64_t settings)
{
	const sg_site *s = r->site;
	const sg_page *p = &s->pages[i];
	uint64_t h = sg_hash(SG_HASH_SEED, &settings, sizeof settings);
	h = sg_hash(h, p->oid.id, sizeof p->oid.id);
	h = sg_hash(h, &p->date, sizeof p->date);
	h = sg_hash_str(h, p->author);
	h = sg_hash(h, &p->listing, sizeof p->listing);   /* own children: nav, cards */
	for (size_t a = p->parent; a != SG_NONE; a = s->pages[a].parent) {
		/* breadcrumbs; the parent's listing covers nav and prev/next */
		h = sg_hash_str(h, s->pages[a].title);
		h = sg_hash_str(h, s->pages[a].url);
		if (a == p->parent) h = sg_hash(h, &s->pages[a].listing, sizeof s->pages[a].listing);
	}
	return h;
}

static sg_tv *link_obj(const sg_render *r, const sg_page *p)
{
	sg_tv *o = sg_tv_obj();
	sg_tv_setr(o, "title", p->title);
	sg_tv_set(o, "url", sg_tv_str_own(page_href(r, p)));
	sg_tv_setr(o, "description", p->description);
	sg_tv_setr(o, "is_section", p->is_section ? "1" : "");
	return o;
}

static sg_tv *site_obj(const sg_render *r)
{
	sg_tv *o = sg_tv_obj();
	sg_tv_setr(o, "title", r->cfg->title);
	sg_tv_setr(o, "description", r->cfg->description);
	sg_tv_setr(o, "lang", r->cfg->language);
	return o;
}

/* Fills the layout's variables common to every page. */
static void layout_vars(const sg_render *r, sg_tv *ctx, const char *title, const char *url)
{
	sg_tv_set(ctx, "site", site_obj(r));
	sg_tv_setr(ctx, "base", r->base);
	sg_tv_setr(ctx, "title", title);
	sg_tv_set(ctx, "canonical", sg_tv_str_own(sg_xasprintf("%s%s", r->abs, url)));
}

static void render_layout(const sg_render *r, sg_tv *ctx, const sg_buf *inner, sg_buf *out)
{
	sg_tv_setr(ctx, "page_content", inner->data);
	sg_tpl_render(r->theme->tpl[SG_T_BASE], ctx, out);
}

static void add_jsonld_crumbs(const sg_render *r, size_t i, sg_buf *j)
{
	const sg_site *s = r->site;
	size_t chain[256], n = 0;
	for (size_t a = i; a != SG_NONE && n < 256; a = s->pages[a].parent) chain[n++] = a;
	sg_buf_puts(j, "{\"@context\":\"https://schema.org\",\"@type\":\"BreadcrumbList\",\"itemListElement\":[");
	for (size_t k = 0; k < n; k++) {
		const sg_page *c = &s->pages[chain[n - 1 - k]];
		if (k) sg_buf_putc(j, ',');
		sg_buf_printf(j, "{\"@type\":\"ListItem\",\"position\":%zu,\"name\":\"", k + 1);
		sg_esc_json(j, c->title);
		sg_buf_puts(j, "\",\"item\":\"");
		sg_esc_json(j, r->abs);
		sg_esc_json(j, c->url);
		sg_buf_puts(j, "\"}");
	}
	sg_buf_puts(j, "]}");
}

void sg_render_cache_free(sg_render_cache *c)
{
	sg_tv_free_kept(c->nav);
	memset(c, 0, sizeof *c);
}

/* The navigation list of section sec with page i marked current: c's list
 * when it is sec's (only the current mark moves), else a new one. */
static sg_tv *nav_list(const sg_render *r, sg_render_cache *c, size_t sec, size_t i)
{
	const sg_site *s = r->site;
	const sg_page *ns = &s->pages[sec];
	if (!c->nav || c->site != s || c->sec != sec) {
		sg_tv_free_kept(c->nav);
		c->nav = sg_tv_keep(sg_tv_list());
		c->site = s;
		c->sec = sec;
		c->cur = SG_NONE;
		for (size_t k = 0; k < ns->nkids; k++) {
			sg_tv *o = link_obj(r, &s->pages[ns->kids[k]]);
			sg_tv_setr(o, "current", "");
			sg_tv_push(c->nav, o);
		}
	}
	size_t cur = SG_NONE;
	for (size_t k = 0; k < ns->nkids && cur == SG_NONE; k++)
		if (ns->kids[k] == i) cur = k;
	if (cur != c->cur) {
		if (c->cur != SG_NONE) sg_tv_setr(sg_tv_item(c->nav, c->cur), "current", "");
		if (cur != SG_NONE) sg_tv_setr(sg_tv_item(c->nav, cur), "current", "1");
		c->cur = cur;
	}
	return c->nav;
}

void sg_render_page(const sg_render *r, size_t i, const char *body, const char *toc,
                    const char *faqld, sg_buf *out)
{
	sg_render_cache c = {0};
	sg_render_page_cached(r, &c, i, body, toc, faqld, out);
	sg_render_cache_free(&c);
}

void sg_render_page_cached(const sg_render *r, sg_render_cache *c, size_t i, const char *body,
                           const char *toc, const char *faqld, sg_buf *out)
{
	const sg_site *s = r->site;
	const sg_page *p = &s->pages[i];
	sg_tv *ctx = sg_tv_obj();
	layout_vars(r, ctx, p->title, p->url);
	sg_tv_setr(ctx, "description", p->description);
	sg_tv_setr(ctx, "is_home", i == s->home ? "1" : "");
	sg_tv_setr(ctx, "body", body);
	sg_tv_setr(ctx, "toc", toc);

	/* Navigation: the page's own section only (a section shows its children;
	 * an article its siblings), never the whole site. */
	size_t navsec = p->nkids ? i : p->parent;
	if (navsec != SG_NONE) {
		const sg_page *ns = &s->pages[navsec];
		sg_tv_set(ctx, "nav", nav_list(r, c, navsec, i));   /* kept: ctx borrows it */
		sg_tv_setr(ctx, "nav_title", ns->title);
		sg_tv_set(ctx, "nav_url", sg_tv_str_own(page_href(r, ns)));
	}
	size_t chain[256], n = 0;
	for (size_t a = p->parent; a != SG_NONE && n < 256; a = s->pages[a].parent) chain[n++] = a;
	sg_tv *crumbs = sg_tv_list();
	while (n > 0) sg_tv_push(crumbs, link_obj(r, &s->pages[chain[--n]]));
	sg_tv_set(ctx, "crumbs", crumbs);

	if (p->is_section) {
		sg_tv *kids = sg_tv_list();
		for (size_t k = 0; k < p->nkids; k++) sg_tv_push(kids, link_obj(r, &s->pages[p->kids[k]]));
		sg_tv_set(ctx, "children", kids);
	} else {
		if (p->prev != SG_NONE) sg_tv_set(ctx, "prev", link_obj(r, &s->pages[p->prev]));
		if (p->next != SG_NONE) sg_tv_set(ctx, "next", link_obj(r, &s->pages[p->next]));
		sg_tv_setr(ctx, "has_pager", p->prev != SG_NONE || p->next != SG_NONE ? "1" : "");
	}
	sg_tv *tags = sg_tv_list();
	for (size_t k = 0; k < p->tags.n; k++) {
		sg_tv *o = sg_tv_obj();
		char *slug = sg_slugify(p->tags.v[k]);
		sg_tv_setr(o, "name", p->tags.v[k]);
		sg_tv_set(o, "url", sg_tv_str_own(sg_xasprintf("%stags/%s/", r->base, slug)));
		free(slug);
		sg_tv_push(tags, o);
	}
	sg_tv_set(ctx, "tags", tags);
	char date[32] = "", iso[32] = "";
	if (p->date) {
		sg_fmt_date(p->date, 0, date, sizeof date);
		sg_fmt_date(p->date, 1, iso, sizeof iso);
		sg_tv_setr(ctx, "date", date);
		sg_tv_setr(ctx, "date_iso", iso);
		sg_tv_setr(ctx, "author", p->author);
	}
	if (r->cfg->edit_url && *r->cfg->edit_url) {
		sg_buf e = {0};
		const char *t = r->cfg->edit_url, *ph;
		while ((ph = strstr(t, "{path}"))) {
			sg_buf_put(&e, t, (size_t)(ph - t));
			sg_esc_url_path(&e, r->prefix);
			sg_esc_url_path(&e, p->path);
			t = ph + 6;
		}
		sg_buf_puts(&e, t);
		sg_tv_set(ctx, "edit_url", sg_tv_str_own(sg_buf_take(&e)));
	}

	/* JSON-LD: Article (or the site for home), BreadcrumbList, FAQPage. */
	sg_buf j = {0};
	sg_buf_putc(&j, '[');
	sg_buf_puts(&j, "{\"@context\":\"https://schema.org\",\"@type\":\"");
	sg_buf_puts(&j, i == s->home ? "WebSite" : "Article");
	sg_buf_puts(&j, i == s->home ? "\",\"name\":\"" : "\",\"headline\":\"");
	sg_esc_json(&j, p->title);
	sg_buf_puts(&j, "\",\"url\":\"");
	sg_esc_json(&j, r->abs);
	sg_esc_json(&j, p->url);
	sg_buf_putc(&j, '"');
	if (*p->description) {
		sg_buf_puts(&j, ",\"description\":\"");
		sg_esc_json(&j, p->description);
		sg_buf_putc(&j, '"');
	}
	if (p->date && i != s->home) {
		sg_buf_printf(&j, ",\"dateModified\":\"%s\",\"author\":{\"@type\":\"Person\",\"name\":\"", iso);
		sg_esc_json(&j, p->author ? p->author : "");
		sg_buf_puts(&j, "\"}");
	}
	sg_buf_putc(&j, '}');
	if (i != s->home) {
		sg_buf_putc(&j, ',');
		add_jsonld_crumbs(r, i, &j);
	}
	if (faqld && *faqld) {
		sg_buf_puts(&j, ",{\"@context\":\"https://schema.org\",\"@type\":\"FAQPage\",\"mainEntity\":[");
		sg_buf_puts(&j, faqld);
		sg_buf_puts(&j, "]}");
	}
	sg_buf_putc(&j, ']');
	sg_tv_set(ctx, "jsonld", sg_tv_str_own(sg_buf_take(&j)));

	sg_buf inner = {0};
	sg_tpl_render(r->theme->tpl[p->is_section ? SG_T_SECTION : SG_T_PAGE], ctx, &inner);
	render_layout(r, ctx, &inner, out);
	sg_buf_free(&inner);
	sg_tv_free(ctx);
}

void sg_render_special(const sg_render *r, int tpl, const char *title, const char *url,
                       sg_tv *ctx, sg_buf *out)
{
	layout_vars(r, ctx, title, url);
	sg_buf inner = {0};
	sg_tpl_render(r->theme->tpl[tpl], ctx, &inner);
	render_layout(r, ctx, &inner, out);
	sg_buf_free(&inner);
	sg_tv_free(ctx);
}

void sg_render_redirect(const sg_render *r, size_t target, sg_buf *out)
{
	const sg_page *p = &r->site->pages[target];
	sg_tv *ctx = sg_tv_obj();
	layout_vars(r, ctx, p->title, p->url);
	sg_tv_set(ctx, "target", sg_tv_str_own(page_href(r, p)));
	sg_tpl_render(r->theme->tpl[SG_T_REDIRECT], ctx, out);
	sg_tv_free(ctx);
}

static void xml_text(sg_buf *b, const char *s) { sg_esc_html(b, s ? s : ""); }

void sg_render_sitemap(const sg_render *r, sg_buf *out)
{
	const sg_site *s = r->site;
	sg_buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	                 "<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n");
	for (size_t i = 0; i < s->npages; i++) {   /* pages are sorted by path */
		const sg_page *p = &s->pages[i];
		if (p->draft) continue;
		sg_buf_puts(out, "<url><loc>");
		xml_text(out, r->abs);
		xml_text(out, p->url);
		sg_buf_puts(out, "</loc>");
		if (p->date) {
			char iso[32];
			sg_fmt_date(p->date, 1, iso, sizeof iso);
			sg_buf_printf(out, "<lastmod>%s</lastmod>", iso);
		}
		sg_buf_puts(out, "</url>\n");
	}
	sg_buf_puts(out, "</urlset>\n");
}

static const sg_site *feed_site;

static int cmp_recent(const void *a, const void *b)
{
	const sg_page *x = &feed_site->pages[*(const size_t *)a], *y = &feed_site->pages[*(const size_t *)b];
	if (x->date != y->date) return x->date > y->date ? -1 : 1;
	return strcmp(x->path, y->path);
}

#define FEED_ENTRIES 20

void sg_render_feed(const sg_render *r, sg_buf *out)
{
	const sg_site *s = r->site;
	size_t *idx = sg_xcalloc(s->npages, sizeof *idx), n = 0;
	for (size_t i = 0; i < s->npages; i++)
		if (!s->pages[i].draft && !s->pages[i].is_section) idx[n++] = i;
	feed_site = s;
	if (n > 1) qsort(idx, n, sizeof *idx, cmp_recent);
	if (n > FEED_ENTRIES) n = FEED_ENTRIES;
	char iso[32];
	/* The feed's own date is its newest entry's: never the build time. */
	sg_fmt_date(n ? s->pages[idx[0]].date : 0, 1, iso, sizeof iso);
	sg_buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n<title>");
	xml_text(out, r->cfg->title);
	sg_buf_puts(out, ": recently updated</title>\n<id>");
	xml_text(out, r->abs);
	sg_buf_puts(out, "</id>\n<link href=\"");
	xml_text(out, r->abs);
	sg_buf_puts(out, "\"/>\n<link rel=\"self\" href=\"");
	xml_text(out, r->abs);
	sg_buf_printf(out, "feed.xml\"/>\n<updated>%s</updated>\n", iso);
	for (size_t k = 0; k < n; k++) {
		const sg_page *p = &s->pages[idx[k]];
		sg_fmt_date(p->date, 1, iso, sizeof iso);
		sg_buf_puts(out, "<entry>\n<title>");
		xml_text(out, p->title);
		sg_buf_puts(out, "</title>\n<link href=\"");
		xml_text(out, r->abs);
		xml_text(out, p->url);
		sg_buf_puts(out, "\"/>\n<id>");
		xml_text(out, r->abs);
		xml_text(out, p->url);
		sg_buf_printf(out, "</id>\n<updated>%s</updated>\n<author><name>", iso);
		xml_text(out, p->author && *p->author ? p->author : r->cfg->title);
		sg_buf_puts(out, "</name></author>\n<summary>");
		xml_text(out, *p->description ? p->description : p->title);
		sg_buf_puts(out, "</summary>\n</entry>\n");
	}
	sg_buf_puts(out, "</feed>\n");
	free(idx);
}

void sg_render_robots(const sg_render *r, sg_buf *out)
{
	sg_buf_printf(out, "User-agent: *\nAllow: /\nSitemap: %ssitemap.xml\n", r->abs);
}
