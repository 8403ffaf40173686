/* manifest.c — see manifest.h.  Format, one record per line, fields
 * separated by TAB, list items by 0x1F, link parts by 0x1E; those bytes and
 * '\\', TAB, LF, CR inside values are escaped as \\ \t \n \r \1 \2 \3.
 *   sitegen-manifest 1
 *   settings <hex64>
 *   commit <oid>|-
 *   G path commit time author
 *   P path oid key draft section faq weight title description tags aliases
 *     ids headings links text-hash
 *   search <hex64>
 *   S path oid
 *   O output-path
 *   L output-path key */
#include "manifest.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define LIST_SEP '\x1f'
#define PART_SEP '\x1e'

static void put_esc(sg_buf *b, const char *s)
{
	if (!s) return;
	/* Copy runs of plain bytes at once: most of the text needs no escape. */
	for (;;) {
		size_t n = strcspn(s, "\\\t\n\r\x1d\x1e\x1f");
		sg_buf_put(b, s, n);
		s += n;
		if (!*s) return;
		switch (*s) {
		case '\\': sg_buf_puts(b, "\\\\"); break;
		case '\t': sg_buf_puts(b, "\\t"); break;
		case '\n': sg_buf_puts(b, "\\n"); break;
		case '\r': sg_buf_puts(b, "\\r"); break;
		case '\x1d': sg_buf_puts(b, "\\1"); break;
		case LIST_SEP: sg_buf_puts(b, "\\2"); break;
		case PART_SEP: sg_buf_puts(b, "\\3"); break;
		default: sg_buf_putc(b, *s);
		}
		s++;
	}
}

static void put_list(sg_buf *b, const sg_strs *l)
{
	for (size_t i = 0; i < l->n; i++) {
		if (i) sg_buf_putc(b, LIST_SEP);
		put_esc(b, l->v[i]);
	}
}

static void put_oid(sg_buf *b, const git_oid *oid)
{
	char hex[GIT_OID_HEXSZ + 1];
	git_oid_tostr(hex, sizeof hex, oid);
	sg_buf_puts(b, hex);
}

void sg_manifest_format(const sg_manifest *m, sg_buf *b)
{
	sg_buf_printf(b, "sitegen-manifest 2\nsettings %016" PRIx64 "\nsearch %016" PRIx64 "\ncommit ",
	              m->settings, m->search);
	if (m->have_commit) put_oid(b, &m->commit); else sg_buf_putc(b, '-');
	sg_buf_putc(b, '\n');
	for (size_t i = 0; i < m->dates.n; i++) {
		const sg_gdate *g = &m->dates.v[i];
		sg_buf_puts(b, "G\t");
		put_esc(b, g->path);
		sg_buf_putc(b, '\t');
		put_oid(b, &g->commit);
		sg_buf_printf(b, "\t%" PRId64 "\t", g->time);
		put_esc(b, g->author);
		sg_buf_putc(b, '\n');
	}
	for (size_t i = 0; i < m->site.npages; i++) {
		const sg_page *p = &m->site.pages[i];
		sg_buf_puts(b, "P\t");
		put_esc(b, p->path);
		sg_buf_putc(b, '\t');
		put_oid(b, &p->oid);
		sg_buf_printf(b, "\t%016" PRIx64 "\t%d\t%d\t%d\t%ld\t", p->key, p->draft, p->is_section, p->is_faq, p->weight);
		put_esc(b, p->title);
		sg_buf_putc(b, '\t');
		put_esc(b, p->description);
		sg_buf_putc(b, '\t');
		put_list(b, &p->tags);
		sg_buf_putc(b, '\t');
		put_list(b, &p->aliases);
		sg_buf_putc(b, '\t');
		put_list(b, &p->ids);
		sg_buf_putc(b, '\t');
		put_list(b, &p->headings);
		sg_buf_putc(b, '\t');
		for (size_t k = 0; k < p->nlinks; k++) {
			if (k) sg_buf_putc(b, LIST_SEP);
			put_esc(b, p->links[k].target);
			sg_buf_putc(b, PART_SEP);
			put_esc(b, p->links[k].anchor ? p->links[k].anchor : "");
			sg_buf_printf(b, "%c%d", PART_SEP, p->links[k].line);
		}
		sg_buf_printf(b, "\t%016" PRIx64 "\n", p->text_hash);
	}
	for (size_t i = 0; i < m->site.nstatics; i++) {
		sg_buf_puts(b, "S\t");
		put_esc(b, m->site.statics[i].path);
		sg_buf_putc(b, '\t');
		put_oid(b, &m->site.statics[i].oid);
		sg_buf_putc(b, '\n');
	}
	for (size_t i = 0; i < m->nlists; i++) {
		sg_buf_puts(b, "L\t");
		put_esc(b, m->lists[i]);
		sg_buf_printf(b, "\t%016" PRIx64 "\n", m->list_keys[i]);
	}
	for (size_t i = 0; i < m->noutputs; i++) {
		sg_buf_puts(b, "O\t");
		put_esc(b, m->outputs[i]);
		sg_buf_putc(b, '\n');
	}
}

/* Splits line (modified in place) at sep into at most max fields. */
static size_t split(char *line, char sep, char **f, size_t max)
{
	size_t n = 0;
	if (!*line) return 0;
	f[n++] = line;
	for (char *p = line; *p && n < max; p++)
		if (*p == sep) { *p = '\0'; f[n++] = p + 1; }
	return n;
}

/* Unescapes in place. */
static char *unesc(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (*r != '\\' || !r[1]) { *w++ = *r; continue; }
		r++;
		switch (*r) {
		case 't': *w++ = '\t'; break;
		case 'n': *w++ = '\n'; break;
		case 'r': *w++ = '\r'; break;
		case '1': *w++ = '\x1d'; break;
		case '2': *w++ = LIST_SEP; break;
		case '3': *w++ = PART_SEP; break;
		default: *w++ = *r; break;
		}
	}
	*w = '\0';
	return s;
}

static void get_list(char *s, sg_strs *l)
{
	while (*s) {
		char *e = strchr(s, LIST_SEP);
		if (e) *e = '\0';
		sg_strs_push(l, unesc(s));
		if (!e) break;
		s = e + 1;
	}
}

static int parse_oid(git_oid *oid, const char *s)
{
	return strlen(s) == GIT_OID_HEXSZ && git_oid_fromstr(oid, s) == 0 ? 0 : -1;
}

static int parse_page(sg_manifest *m, char *line)
{
	char *f[16];
	if (split(line, '\t', f, 16) != 16) return -1;
	sg_site *s = &m->site;
	sg_grow(&s->pages, &s->pcap, s->npages, sizeof *s->pages);
	sg_page *p = &s->pages[s->npages];
	memset(p, 0, sizeof *p);
	p->path = sg_xstrdup(unesc(f[1]));
	p->url = sg_url_of(p->path);
	s->npages++;
	if (parse_oid(&p->oid, f[2]) != 0) return -1;
	p->key = strtoull(f[3], NULL, 16);
	p->draft = atoi(f[4]);
	p->is_section = atoi(f[5]);
	p->is_faq = atoi(f[6]);
	p->weight = strtol(f[7], NULL, 10);
	p->title = sg_xstrdup(unesc(f[8]));
	p->description = sg_xstrdup(unesc(f[9]));
	get_list(f[10], &p->tags);
	get_list(f[11], &p->aliases);
	get_list(f[12], &p->ids);
	get_list(f[13], &p->headings);
	char *l = f[14];
	size_t cap = 0;
	while (*l) {
		char *e = strchr(l, LIST_SEP);
		if (e) *e = '\0';
		char *parts[3];
		if (split(l, PART_SEP, parts, 3) != 3) return -1;
		sg_grow(&p->links, &cap, p->nlinks, sizeof *p->links);
		sg_link *k = &p->links[p->nlinks++];
		k->target = sg_xstrdup(unesc(parts[0]));
		k->anchor = *parts[1] ? sg_xstrdup(unesc(parts[1])) : NULL;
		k->line = atoi(parts[2]);
		if (!e) break;
		l = e + 1;
	}
	p->text_hash = strtoull(f[15], NULL, 16);
	p->loaded = 1;
	sg_map_put(&s->by_path, p->path, s->npages - 1);
	return 0;
}

int sg_manifest_load(sg_manifest *m, const char *path)
{
	memset(m, 0, sizeof *m);
	char *data = NULL;
	size_t len = 0;
	if (sg_read_file(path, &data, &len) != 0) return errno == ENOENT ? 1 : -1;
	int rc = 0;
	char *line = data, *next;
	int lineno = 0;
	for (; line && *line && rc == 0; line = next) {
		next = strchr(line, '\n');
		if (next) *next++ = '\0';
		lineno++;
		if (lineno == 1) { if (strcmp(line, "sitegen-manifest 2")) rc = 1; continue; }
		if (!strncmp(line, "search ", 7)) { m->search = strtoull(line + 7, NULL, 16); continue; }
		if (!strncmp(line, "settings ", 9)) { m->settings = strtoull(line + 9, NULL, 16); continue; }
		if (!strncmp(line, "commit ", 7)) {
			if (strcmp(line + 7, "-")) {
				if (parse_oid(&m->commit, line + 7) != 0) rc = 1;
				m->have_commit = 1;
			}
			continue;
		}
		char *f[5];
		switch (line[0]) {
		case 'G': {
			git_oid c;
			if (split(line, '\t', f, 5) != 5 || parse_oid(&c, f[2]) != 0) { rc = 1; break; }
			sg_gdates_set(&m->dates, unesc(f[1]), &c, strtoll(f[3], NULL, 10), unesc(f[4]));
			break;
		}
		case 'P':
			if (parse_page(m, line) != 0) rc = 1;
			break;
		case 'S': {
			if (split(line, '\t', f, 3) != 3) { rc = 1; break; }
			sg_site *s = &m->site;
			sg_grow(&s->statics, &s->scap, s->nstatics, sizeof *s->statics);
			s->statics[s->nstatics].path = sg_xstrdup(unesc(f[1]));
			if (parse_oid(&s->statics[s->nstatics].oid, f[2]) != 0) rc = 1;
			s->nstatics++;
			break;
		}
		case 'L':
			if (split(line, '\t', f, 3) != 3) { rc = 1; break; }
			sg_manifest_add_list(m, unesc(f[1]), strtoull(f[2], NULL, 16));
			break;
		case 'O':
			if (split(line, '\t', f, 2) != 2) { rc = 1; break; }
			sg_grow(&m->outputs, &m->ocap, m->noutputs, sizeof *m->outputs);
			m->outputs[m->noutputs++] = sg_xstrdup(unesc(f[1]));
			break;
		default:
			rc = 1;
		}
	}
	free(data);
	if (m->have_commit) { m->dates.built = m->commit; m->dates.have_built = 1; }
	if (rc != 0) { sg_manifest_free(m); return 1; }
	return 0;
}

void sg_manifest_free(sg_manifest *m)
{
	sg_site_free(&m->site);
	sg_gdates_free(&m->dates);
	for (size_t i = 0; i < m->noutputs; i++) free(m->outputs[i]);
	free(m->outputs);
	for (size_t i = 0; i < m->nlists; i++) free(m->lists[i]);
	free(m->lists);
	free(m->list_keys);
	memset(m, 0, sizeof *m);
}


void sg_manifest_add_list(sg_manifest *m, const char *out, uint64_t key)
{
	size_t cap = m->lcap;
	sg_grow(&m->list_keys, &cap, m->nlists, sizeof *m->list_keys);
	sg_grow(&m->lists, &m->lcap, m->nlists, sizeof *m->lists);
	m->lists[m->nlists] = sg_xstrdup(out);
	m->list_keys[m->nlists++] = key;
}

uint64_t sg_manifest_list_key(const sg_manifest *m, const char *out)
{
	for (size_t i = 0; i < m->nlists; i++)   /* one per tag: a few dozen */
		if (!strcmp(m->lists[i], out)) return m->list_keys[i];
	return 0;
}
