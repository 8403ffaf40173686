/* searchload.c — reads an index that searchidx.c wrote back into an
 * sg_search (see sg_search_load in searchidx.h).  The written files are the
 * state an incremental build needs: page chunks give every page's URL,
 * title, section and excerpt; shards give every term's postings, kept
 * encoded until the writer needs them (searchidx.c: assign_ids).  The
 * parser accepts exactly what the writer produces (docs/search-index.md);
 * anything else makes the load fail and the build index from scratch. */
#include "searchidx_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void *xalloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q) {
		fputs("sitegen: out of memory\n", stderr);
		abort();
	}
	return q;
}

/* Reads <dir>/<name> into a new entry of s->files.  Returns it, or NULL.
 * One open, fstat and read per file: an index has ~1,100 of them. */
static oldfile *read_one(sg_search *s, const char *dir, const char *name)
{
	size_t pl = strlen(dir) + strlen(name) + 2;
	char *path = xalloc(NULL, pl);
	snprintf(path, pl, "%s/%s", dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) != 0 || st.st_size < 0 || (uint64_t)st.st_size > SIZE_MAX / 2) {
		close(fd);
		return NULL;
	}
	size_t len = (size_t)st.st_size, got = 0;
	char *data = xalloc(NULL, len + 1);
	while (got < len) {
		ssize_t r = read(fd, data + got, len - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got != len) {   /* changed under us, or unreadable: not a usable index */
		free(data);
		return NULL;
	}
	data[len] = '\0';
	s->files = xalloc(s->files, (s->nfiles + 1) * sizeof *s->files);
	oldfile *o = &s->files[s->nfiles++];
	size_t nl = strlen(name) + 1;
	o->name = memcpy(xalloc(NULL, nl), name, nl);
	o->data = data;
	o->len = len;
	o->nterms = 0;
	return o;
}

/* Parses the JSON string at *p (as buf_json writes it: \" \\ and \u00XX
 * escapes only) into a new NUL-terminated string; advances *p past it. */
char *sg_si_json_str(const char **p)
{
	const char *q = *p;
	if (*q != '"')
		return NULL;
	q++;
	/* Escapes only shrink a string: the raw span up to the closing quote
	 * bounds the result, so one exact allocation serves (40,000 strings
	 * per load on a 10k-page site). */
	size_t cap = 1, n = 0;
	for (const char *e = q; *e && *e != '"'; e++, cap++)
		if (*e == '\\' && e[1]) e++, cap++;
	char *o = xalloc(NULL, cap);
	for (; *q != '"'; q++) {
		if (!*q) {
			free(o);
			return NULL;
		}
		char c = *q;
		if (c == '\\') {
			q++;
			if (*q == 'u') {
				/* Exactly four hex digits (sscanf's %4x would take
				 * fewer and let q skip past the closing quote). */
				unsigned v = 0;
				for (int k = 1; k <= 4 && v < 0x10000; k++) {
					char h = q[k];
					unsigned d = h >= '0' && h <= '9' ? (unsigned)(h - '0')
					           : h >= 'a' && h <= 'f' ? (unsigned)(h - 'a' + 10)
					           : h >= 'A' && h <= 'F' ? (unsigned)(h - 'A' + 10) : 0x10000;
					v = d == 0x10000 ? 0x10000 : v << 4 | d;
				}
				if (v >= 0x20) {
					free(o);
					return NULL;
				}
				c = (char)v;
				q += 4;
			} else if (*q == '"' || *q == '\\') {
				c = *q;
			} else {
				free(o);
				return NULL;
			}
		}
		o[n++] = c;
	}
	o[n] = '\0';
	*p = q + 1;
	return o;
}

/* A shard: {"term":[d,v,...],...}\n — terms keep their arrays encoded. */
static int parse_shard(sg_search *s, oldfile *f)
{
	const char *p = f->data;
	if (*p++ != '{')
		return -1;
	if (*p == '}')
		return 0;
	for (;;) {
		const char *ent = p;
		char *w = sg_si_json_str(&p);
		if (!w || *p++ != ':' || *p != '[') {
			free(w);
			return -1;
		}
		const char *end = strchr(p, ']');
		if (!end) {
			free(w);
			return -1;
		}
		term *t = sg_si_term(s, w, strlen(w));
		free(w);
		if (t->raw || t->n)
			return -1;   /* a term in two shards: not our writer's output */
		t->raw = p;
		t->rawlen = (size_t)(end + 1 - p);
		t->ent = ent;
		t->from = f->name;
		f->nterms++;
		p = end + 1;
		if (*p == '}')
			return 0;
		if (*p++ != ',')
			return -1;
	}
}

/* A page chunk: [["url","title","section","excerpt"],\n[...]]\n */
static int parse_chunk(sg_search *s, const oldfile *f)
{
	const char *p = f->data;
	if (*p++ != '[')
		return -1;
	for (;;) {
		if (*p++ != '[')
			return -1;
		char *v[4] = { 0 };
		int ok = 1;
		for (int k = 0; k < 4 && ok; k++) {
			v[k] = sg_si_json_str(&p);
			ok = v[k] && *p++ == (k < 3 ? ',' : ']');
		}
		if (!ok) {
			for (int k = 0; k < 4; k++)
				free(v[k]);
			return -1;
		}
		page *pg = sg_si_page(s);
		pg->url = v[0], pg->title = v[1], pg->section = v[2], pg->excerpt = v[3];
		pg->old = 1;
		s->npages++;
		if (*p == ']')
			return 0;
		if (*p++ != ',' || *p++ != '\n')
			return -1;
	}
}

/* meta.json: {"format":1,"stemmer":"porter2","pages":N,"page_chunk":16,"shards":[...]} */
static int parse_meta(sg_search *s, const oldfile *m, const char *dir, size_t *pages)
{
	char head[64];
	snprintf(head, sizeof head, "{\"format\":%d,\"stemmer\":\"porter2\",\"pages\":", SG_SEARCH_FORMAT);
	if (strncmp(m->data, head, strlen(head)))
		return -1;
	const char *p = m->data + strlen(head);
	char *end;
	errno = 0;
	unsigned long n = strtoul(p, &end, 10), chunk;
	if (errno || end == p || strncmp(end, ",\"page_chunk\":", 14))
		return -1;
	p = end + 14;
	chunk = strtoul(p, &end, 10);
	if (chunk == 0 || strncmp(end, ",\"shards\":[", 11))
		return -1;
	p = end + 11;
	*pages = n;
	while (*p != ']') {
		char *key = sg_si_json_str(&p);
		if (!key)
			return -1;
		char *name = sg_si_shard_name(key);
		free(key);
		oldfile *f = read_one(s, dir, name);
		free(name);
		if (!f || parse_shard(s, f) != 0)
			return -1;
		if (*p == ',')
			p++;
		else if (*p != ']')
			return -1;
	}
	for (unsigned long c = 0; c * chunk < n; c++) {
		char name[32];
		snprintf(name, sizeof name, "p/%lu.json", c);
		const oldfile *f = read_one(s, dir, name);
		if (!f || parse_chunk(s, f) != 0)
			return -1;
	}
	return s->npages == n ? 0 : -1;
}

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const oldfile *)a)->name, ((const oldfile *)b)->name);
}

sg_search *sg_search_load(const char *outdir, char **err)
{
	*err = NULL;
	size_t dl = strlen(outdir) + sizeof "/search";
	char *dir = xalloc(NULL, dl);
	snprintf(dir, dl, "%s/search", outdir);
	sg_search *s = sg_search_new();
	const oldfile *meta = read_one(s, dir, "meta.json");
	size_t pages = 0;
	if (!meta) {
		free(dir);
		sg_search_free(s);
		return NULL;
	}
	if (parse_meta(s, meta, dir, &pages) != 0) {
		size_t el = strlen(dir) + 64;
		*err = xalloc(NULL, el);
		snprintf(*err, el, "%s: not a search index this sitegen wrote", dir);
		free(dir);
		sg_search_free(s);
		return NULL;
	}
	free(dir);
	/* Chunks list pages in id order, which is URL order: find_old relies on it. */
	for (size_t i = 1; i < s->npages; i++)
		if (strcmp(s->pages[i - 1].url, s->pages[i].url) >= 0) {
			*err = xalloc(NULL, 64);
			snprintf(*err, 64, "search index: pages out of order");
			sg_search_free(s);
			return NULL;
		}
	s->nold = s->npages;
	qsort(s->files, s->nfiles, sizeof *s->files, cmp_file);
	return s;
}
