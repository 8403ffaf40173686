/* site.c — see site.h. */
#include "site.h"

#include <stdlib.h>
#include <string.h>

void sg_strs_push(sg_strs *s, const char *str)
{
	sg_grow(&s->v, &s->cap, s->n, sizeof *s->v);
	s->v[s->n++] = sg_xstrdup(str);
}

void sg_strs_free(sg_strs *s)
{
	for (size_t i = 0; i < s->n; i++) free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof *s);
}

void sg_page_clear_meta(sg_page *p)
{
	free(p->title), p->title = NULL;
	free(p->description), p->description = NULL;
	sg_strs_free(&p->tags);
	sg_strs_free(&p->aliases);
	sg_strs_free(&p->ids);
	sg_strs_free(&p->headings);
	for (size_t i = 0; i < p->nlinks; i++) free(p->links[i].target), free(p->links[i].anchor);
	free(p->links), p->links = NULL, p->nlinks = 0;
	free(p->text), p->text = NULL;
	p->weight = 0;
	p->draft = p->is_faq = 0;
	p->loaded = p->parsed = 0;
}

/* Binary content (a NUL byte) and invalid UTF-8 are refused before parsing:
 * both would produce garbage pages and break the search index. */
static int check_bytes(const char *file, const char *data, size_t len, sg_diag *d)
{
	if (memchr(data, '\0', len)) {
		sg_error(d, file, sg_line_of(data, (size_t)((const char *)memchr(data, '\0', len) - data)),
		         "binary file (NUL byte) where Markdown was expected");
		return -1;
	}
	long bad = sg_utf8_invalid_at(data, len);
	if (bad >= 0) {
		sg_error(d, file, sg_line_of(data, (size_t)bad), "invalid UTF-8 (byte 0x%02x at offset %ld)",
		         (unsigned char)data[bad], bad);
		return -1;
	}
	return 0;
}

int sg_page_front(sg_page *p, const char *file, const char *data, size_t len, sg_front *fm, sg_diag *d)
{
	sg_page_clear_meta(p);
	memset(fm, 0, sizeof *fm);
	if (check_bytes(file, data, len, d) != 0) return -1;
	if (sg_front_parse(file, data, len, fm, d) != 0) return -1;
	int rc = 0;
	if (!fm->title || !*fm->title) {
		sg_error(d, file, 1, "front matter needs a non-empty 'title'");
		rc = -1;
	}
	for (size_t i = 0; i < fm->naliases; i++) {
		const char *a = fm->aliases[i];
		if (a[0] != '/' || strstr(a, "..") || strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./") != strlen(a)) {
			sg_error(d, file, 1, "alias '%s' must be a URL path like /old/page/ (letters, digits, - _ . /)", a);
			rc = -1;
		}
	}
	p->title = sg_xstrdup(fm->title ? fm->title : "");
	p->description = sg_xstrdup(fm->description ? fm->description : "");
	p->weight = fm->weight;
	p->draft = fm->draft;
	p->is_faq = fm->nfaq > 0;
	for (size_t i = 0; i < fm->ntags; i++) sg_strs_push(&p->tags, fm->tags[i]);
	for (size_t i = 0; i < fm->naliases; i++) sg_strs_push(&p->aliases, fm->aliases[i]);
	p->loaded = 1;
	p->parsed = 1;
	return rc;
}

int sg_page_body(sg_page *p, const char *file, const char *data, size_t len, const sg_front *fm,
                 int allow_html, const char *base, sg_mdpage *m, sg_diag *d)
{
	sg_strs_free(&p->ids);
	sg_strs_free(&p->headings);
	for (size_t i = 0; i < p->nlinks; i++) free(p->links[i].target), free(p->links[i].anchor);
	free(p->links), p->links = NULL, p->nlinks = 0;
	int rc = 0;
	if (sg_md_render(m, file, p->path, data + fm->body_off, len - fm->body_off, fm->body_line,
	                 allow_html, base, d) != 0)
		rc = -1;
	for (size_t i = 0; i < fm->nfaq && rc == 0; i++) {
		sg_md_add_heading(m, 2, fm->faq[i].q);
		sg_buf_puts(&m->html, "<div class=\"faq-answer\">\n");
		size_t start = m->html.len;
		if (sg_md_render(m, file, p->path, fm->faq[i].a, strlen(fm->faq[i].a), fm->faq[i].line,
		                 allow_html, base, d) != 0)
			rc = -1;
		/* FAQPage JSON-LD: the question and its answer as rendered. */
		if (m->faqld.len) sg_buf_putc(&m->faqld, ',');
		sg_buf_puts(&m->faqld, "{\"@type\":\"Question\",\"name\":\"");
		sg_esc_json(&m->faqld, fm->faq[i].q);
		sg_buf_puts(&m->faqld, "\",\"acceptedAnswer\":{\"@type\":\"Answer\",\"text\":\"");
		char *ans = sg_xstrndup(m->html.data + start, m->html.len - start);
		sg_esc_json(&m->faqld, ans);
		free(ans);
		sg_buf_puts(&m->faqld, "\"}}");
		sg_buf_puts(&m->html, "</div>\n");
	}
	for (size_t i = 0; i < m->nheads; i++) {
		sg_strs_push(&p->ids, m->heads[i].id);
		sg_strs_push(&p->headings, m->heads[i].text);
	}
	p->links = m->links, p->nlinks = m->nlinks;
	m->links = NULL, m->nlinks = m->lcap = 0;
	free(p->text);
	size_t tlen = m->text.data ? m->text.len : 0;
	p->text = m->text.data ? sg_buf_take(&m->text) : sg_xstrdup("");   /* m->text is spent */
	p->text_hash = sg_hash_text(SG_HASH_SEED, p->text, tlen);
	return rc;
}

static const sg_site *sort_site;   /* qsort has no user pointer in C11 */

static int cmp_kids(const void *a, const void *b)
{
	const sg_page *x = &sort_site->pages[*(const size_t *)a];
	const sg_page *y = &sort_site->pages[*(const size_t *)b];
	if (x->weight != y->weight) return x->weight < y->weight ? -1 : 1;
	int c = strcmp(x->title, y->title);
	return c ? c : strcmp(x->path, y->path);
}

/* "a/b/c.md" -> "a/b/_index.md"; "a/b/_index.md" -> "a/_index.md". */
static char *parent_index(const sg_page *p)
{
	const char *path = p->path;
	size_t n = strlen(path);
	const char *slash = memrchr(path, '/', n);
	size_t dir = slash ? (size_t)(slash - path) : 0;
	if (p->is_section) {
		if (!slash) return NULL;   /* the home page */
		const char *up = memrchr(path, '/', dir);
		dir = up ? (size_t)(up - path) : 0;
	}
	return dir ? sg_xasprintf("%.*s/_index.md", (int)dir, path) : sg_xstrdup("_index.md");
}

int sg_site_link(sg_site *s, const char *prefix, sg_diag *d)
{
	int rc = 0;
	s->home = sg_map_get(&s->by_path, "_index.md");
	if (s->home == SG_NONE || s->pages[s->home].draft) {
		sg_error(d, prefix[0] ? prefix : ".", 0, "no _index.md: the home page of the site is missing");
		return -1;
	}
	sg_map reported = {0};
	sg_strs missing = {0};
	for (size_t i = 0; i < s->npages; i++) {
		sg_page *p = &s->pages[i];
		p->parent = p->prev = p->next = SG_NONE;
		free(p->kids), p->kids = NULL, p->nkids = 0;
	}
	size_t *caps = sg_xcalloc(s->npages, sizeof *caps);
	for (size_t i = 0; i < s->npages; i++) {
		sg_page *p = &s->pages[i];
		if (p->draft || i == s->home) continue;
		char *pi = parent_index(p);
		size_t par = sg_map_get(&s->by_path, pi);
		if (par == SG_NONE || s->pages[par].draft) {
			if (sg_map_get(&reported, pi) == SG_NONE) {
				sg_strs_push(&missing, pi);
				sg_map_put(&reported, missing.v[missing.n - 1], 0);
				sg_error(d, NULL, 0, "%s%s: missing (folder of %s%s has pages but no _index.md)",
				         prefix, pi, prefix, p->path);
			}
			rc = -1;
		} else {
			p->parent = par;
			sg_page *pp = &s->pages[par];
			sg_grow(&pp->kids, &caps[par], pp->nkids, sizeof *pp->kids);
			pp->kids[pp->nkids++] = i;
		}
		free(pi);
	}
	free(caps);
	sg_map_free(&reported);
	sg_strs_free(&missing);
	sort_site = s;
	for (size_t i = 0; i < s->npages; i++) {
		sg_page *p = &s->pages[i];
		if (p->nkids > 1) qsort(p->kids, p->nkids, sizeof *p->kids, cmp_kids);
		uint64_t h = SG_HASH_SEED;
		for (size_t k = 0; k < p->nkids; k++) {
			sg_page *c = &s->pages[p->kids[k]];
			c->prev = k ? p->kids[k - 1] : SG_NONE;
			c->next = k + 1 < p->nkids ? p->kids[k + 1] : SG_NONE;
			h = sg_hash_str(h, c->url);
			h = sg_hash_str(h, c->title);
			h = sg_hash_str(h, c->description);
			h = sg_hash(h, &c->is_section, sizeof c->is_section);
		}
		p->listing = h;
	}
	return rc;
}

static int has_id(const sg_page *p, const char *id)
{
	for (size_t i = 0; i < p->ids.n; i++)
		if (!strcmp(p->ids.v[i], id)) return 1;
	return 0;
}

static int is_static(const sg_site *s, const char *path)
{
	size_t lo = 0, hi = s->nstatics;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(s->statics[mid].path, path);
		if (!c) return 1;
		if (c < 0) lo = mid + 1; else hi = mid;
	}
	return 0;
}

int sg_site_check_links(const sg_site *s, const char *prefix, sg_diag *d)
{
	int rc = 0;
	for (size_t i = 0; i < s->npages; i++) {
		const sg_page *p = &s->pages[i];
		if (p->draft) continue;
		char *file = sg_xasprintf("%s%s", prefix, p->path);
		for (size_t k = 0; k < p->nlinks; k++) {
			const sg_link *l = &p->links[k];
			size_t t = sg_map_get(&s->by_path, l->target);
			if (t == SG_NONE && !sg_ends_with(l->target, ".md") && !is_static(s, l->target)) {
				/* A link to a folder means its section page. */
				char *idx = sg_xasprintf("%s/_index.md", l->target);
				t = sg_map_get(&s->by_path, idx);
				free(idx);
				if (t == SG_NONE) {
					sg_error(d, file, l->line, "broken link: %s does not exist", l->target);
					rc = -1;
					continue;
				}
			}
			if (t == SG_NONE) {
				if (!is_static(s, l->target)) {
					sg_error(d, file, l->line, "broken link: %s does not exist", l->target);
					rc = -1;
				} else if (l->anchor) {
					sg_error(d, file, l->line, "anchor #%s on a file that is not a page (%s)", l->anchor, l->target);
					rc = -1;
				}
				continue;
			}
			if (s->pages[t].draft) {
				sg_error(d, file, l->line, "broken link: %s is a draft and is not published", l->target);
				rc = -1;
			} else if (l->anchor && !has_id(&s->pages[t], l->anchor)) {
				sg_error(d, file, l->line, "broken link: %s has no heading with id '#%s'", l->target, l->anchor);
				rc = -1;
			}
		}
		free(file);
	}
	return rc;
}

void sg_site_free(sg_site *s)
{
	for (size_t i = 0; i < s->npages; i++) {
		sg_page_clear_meta(&s->pages[i]);
		free(s->pages[i].path);
		free(s->pages[i].url);
		free(s->pages[i].author);
		free(s->pages[i].kids);
	}
	free(s->pages);
	for (size_t i = 0; i < s->nstatics; i++) free(s->statics[i].path);
	free(s->statics);
	sg_map_free(&s->by_path);
	memset(s, 0, sizeof *s);
}
