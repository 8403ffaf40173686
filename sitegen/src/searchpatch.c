/* searchpatch.c — see searchpatch.h.  Steps:
 *   1. the posting edits: (term, page id, old v, new v) from the before and
 *      after builders, keeping those whose v differs;
 *   2. meta.json's shard keys, cut into groups by first code point;
 *   3. per group with an edit: its shards read, those an edit can touch
 *      parsed (entries kept as the old bytes), edits applied, the group
 *      laid out again exactly as the writer does (split), shards whose
 *      bytes differ written;
 *   4. the page chunks holding changed pages, entries replaced;
 *   5. meta.json when its key list changed.
 * Anything in the old files that is not exactly what the writer produces
 * makes the patch give up (return 1) before anything is written. */
#include "searchpatch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "searchidx_int.h"
#include "util.h"

/* ---- small helpers ---------------------------------------------------------- */

/* JSON string exactly as searchidx.c's buf_json writes it. */
static void put_json(sg_buf *b, const char *s)
{
	sg_buf_putc(b, '"');
	for (; *s; s++) {
		size_t run = strcspn(s, "\"\\\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
		                        "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f");
		if (run) {
			sg_buf_put(b, s, run);
			s += run - 1;
			continue;
		}
		if (*s == '"' || *s == '\\') {
			sg_buf_putc(b, '\\');
			sg_buf_putc(b, *s);
		} else {
			sg_buf_printf(b, "\\u%04x", (unsigned char)*s);
		}
	}
	sg_buf_putc(b, '"');
}


/* "t/<key>.json" for the first n bytes of key (the writer's key_file). */
static char *shard_name(const char *key, size_t n)
{
	char *k = sg_xstrndup(key, n);
	char *name = sg_si_shard_name(k);
	free(k);
	return name;
}

static char *read_index_file(const char *dir, const char *name, size_t *len)
{
	char *path = sg_xasprintf("%s/search/%s", dir, name), *data = NULL;
	if (sg_read_file(path, &data, len) != 0) data = NULL;
	free(path);
	return data;
}

/* ---- step 1: posting edits ---------------------------------------------------- */

typedef struct {
	const char *term;
	uint32_t id;
	int64_t oldv, newv;   /* -1: page not in the term */
} edit;

static int cmp_edit(const void *a, const void *b)
{
	const edit *x = a, *y = b;
	int c = strcmp(x->term, y->term);
	if (c) return c;
	return x->id < y->id ? -1 : x->id > y->id;
}

typedef struct { edit *v; size_t n, cap; } edits;

static void push_edit(edits *e, const char *tname, uint32_t id, int64_t oldv, int64_t newv)
{
	sg_grow(&e->v, &e->cap, e->n, sizeof *e->v);
	e->v[e->n++] = (edit){ tname, id, oldv, newv };
}

/* Page ids of builder s's pages (UINT32_MAX: not to diff). */
static uint32_t *ids_of(const sg_search *s, const sg_search *only,
                        uint32_t (*id_of)(const char *, void *), void *ctx)
{
	uint32_t *ids = sg_xcalloc(s->npages + 1, sizeof *ids);
	for (size_t i = 0; i < s->npages; i++) {
		ids[i] = UINT32_MAX;
		if (only) {
			size_t k = 0;
			while (k < only->npages && strcmp(only->pages[k].url, s->pages[i].url)) k++;
			if (k == only->npages) continue;
		}
		ids[i] = id_of(s->pages[i].url, ctx);
	}
	return ids;
}

/* Returns 0, or 1 when a page has no id. */
static int collect_edits(sg_search *before, sg_search *after, uint32_t (*id_of)(const char *, void *),
                         void *ctx, edits *out)
{
	uint32_t *bid = ids_of(before, NULL, id_of, ctx), *aid = ids_of(after, before, id_of, ctx);
	int rc = 0;
	for (size_t i = 0; i < before->npages; i++)
		if (bid[i] == UINT32_MAX) rc = 1;
	edits all = { 0 };
	for (size_t i = 0; i < before->nterms && rc == 0; i++) {
		const term *t = &before->terms[i];
		for (size_t j = 0; j < t->n; j++) push_edit(&all, t->s, bid[t->p[j].page], t->p[j].v, -1);
	}
	for (size_t i = 0; i < after->nterms && rc == 0; i++) {
		const term *t = &after->terms[i];
		for (size_t j = 0; j < t->n; j++)
			if (aid[t->p[j].page] != UINT32_MAX) push_edit(&all, t->s, aid[t->p[j].page], -1, t->p[j].v);
	}
	free(bid);
	free(aid);
	if (all.n > 1) qsort(all.v, all.n, sizeof *all.v, cmp_edit);
	/* Merge the before and after halves of each (term, page). */
	for (size_t i = 0; i < all.n; i++) {
		edit e = all.v[i];
		while (i + 1 < all.n && !cmp_edit(&all.v[i + 1], &e)) {
			i++;
			if (all.v[i].oldv >= 0) e.oldv = all.v[i].oldv;
			if (all.v[i].newv >= 0) e.newv = all.v[i].newv;
		}
		if (e.oldv != e.newv) push_edit(out, e.term, e.id, e.oldv, e.newv);
	}
	free(all.v);
	return rc;
}

/* ---- step 2: meta.json -------------------------------------------------------- */

typedef struct {
	char *data; size_t len;
	size_t pages;
	char **keys; size_t nkeys, kcap;
} meta;

static void meta_free(meta *m)
{
	for (size_t i = 0; i < m->nkeys; i++) free(m->keys[i]);
	free(m->keys);
	free(m->data);
}

static void meta_format(sg_buf *b, size_t pages, char *const *keys, size_t n)
{
	sg_buf_printf(b, "{\"format\":%d,\"stemmer\":\"porter2\",\"pages\":%zu,\"page_chunk\":%d,\"shards\":[",
	              SG_SEARCH_FORMAT, pages, SG_SI_PAGE_CHUNK);
	for (size_t i = 0; i < n; i++) {
		if (i) sg_buf_putc(b, ',');
		put_json(b, keys[i]);
	}
	sg_buf_puts(b, "]}\n");
}

/* Reads meta.json; 0, or 1 when it is not what the writer would write. */
static int meta_read(meta *m, const char *dir)
{
	memset(m, 0, sizeof *m);
	m->data = read_index_file(dir, "meta.json", &m->len);
	if (!m->data) return 1;
	char head[96];
	snprintf(head, sizeof head, "{\"format\":%d,\"stemmer\":\"porter2\",\"pages\":", SG_SEARCH_FORMAT);
	if (strncmp(m->data, head, strlen(head))) return 1;
	const char *p = m->data + strlen(head);
	char *end;
	errno = 0;
	m->pages = strtoul(p, &end, 10);
	char tail[48];
	snprintf(tail, sizeof tail, ",\"page_chunk\":%d,\"shards\":[", SG_SI_PAGE_CHUNK);
	if (errno || end == p || strncmp(end, tail, strlen(tail))) return 1;
	p = end + strlen(tail);
	while (*p != ']') {
		char *k = sg_si_json_str(&p);
		if (!k) return 1;
		sg_grow(&m->keys, &m->kcap, m->nkeys, sizeof *m->keys);
		m->keys[m->nkeys++] = k;
		if (*p == ',') p++;
		else if (*p != ']') return 1;
	}
	/* Byte-exact round trip: then formatting new keys the same way is safe. */
	sg_buf b = { 0 };
	meta_format(&b, m->pages, m->keys, m->nkeys);
	int same = b.len == m->len && !memcmp(b.data, m->data, b.len);
	sg_buf_free(&b);
	return same ? 0 : 1;
}

/* ---- step 3: a group of shards ------------------------------------------------ */

/* A term of a group, or a whole old shard that no edit touches (cold):
 * its terms are not parsed, only counted, and its entries go over as one
 * run of bytes.  No edited or new term can sort inside a cold shard's
 * range: every string between two terms with prefix K has prefix K, and
 * an edit with prefix K makes shard K hot. */
typedef struct {
	char *s;            /* the term; a cold shard's key */
	const char *ent;    /* its entry "term":[...]; a cold shard's entries, with their commas */
	size_t len;         /* bytes of ent */
	size_t bytes;       /* entry bytes as the writer counts them (no commas) */
	size_t nterms;      /* 1; a cold shard's term count */
	char *own;          /* ent when re-encoded here */
} pterm;

typedef struct { pterm *v; size_t n, cap; } pterms;

typedef struct { char *name, *data; size_t len; } ofile;

static void add_file(ofile **v, size_t *n, size_t *cap, char *name, char *data, size_t len)
{
	sg_grow(v, cap, *n, sizeof **v);
	(*v)[(*n)++] = (ofile){ name, data, len };
}

/* Parses a shard written by the writer, appending its terms.  0 or 1. */
static int parse_shard(const char *data, pterms *out)
{
	const char *p = data;
	if (*p++ != '{') return 1;
	if (*p == '}') return p[1] == '\n' && !p[2] ? 0 : 1;
	for (;;) {
		const char *ent = p;
		char *w = sg_si_json_str(&p);
		if (!w || *p++ != ':' || *p != '[') { free(w); return 1; }
		const char *e = strchr(p, ']');
		if (!e) { free(w); return 1; }
		if (out->n && strcmp(out->v[out->n - 1].s, w) >= 0) { free(w); return 1; }
		sg_grow(&out->v, &out->cap, out->n, sizeof *out->v);
		out->v[out->n++] = (pterm){ w, ent, (size_t)(e + 1 - ent), (size_t)(e + 1 - ent), 1, NULL };
		p = e + 1;
		if (*p == '}') return p[1] == '\n' && !p[2] ? 0 : 1;
		if (*p++ != ',') return 1;
	}
}

typedef struct { uint32_t id, v; } pair;

/* Applies edits [a, b) (one term) to the postings of entry old (NULL for a
 * new term) and encodes the entry into *out; returns 0 when no page is
 * left, 1 when encoded, -1 when old is malformed or an edit does not fit. */
static int apply(const char *tname, const char *old, size_t oldlen, const edit *e, size_t ne, sg_buf *out)
{
	pair *pp = NULL;
	size_t n = 0, cap = 0;
	if (old) {
		const char *p = memchr(old, '[', oldlen), *end = old + oldlen - 1;   /* at ']' */
		if (!p) return -1;
		p++;
		uint32_t id = 0;
		while (p < end) {
			char *q;
			unsigned long d = strtoul(p, &q, 10);
			if (q == p || *q != ',') { free(pp); return -1; }
			p = q + 1;
			unsigned long v = strtoul(p, &q, 10);
			if (q == p || (*q != ',' && q != end)) { free(pp); return -1; }
			p = q + (q != end);
			id += (uint32_t)d;
			sg_grow(&pp, &cap, n, sizeof *pp);
			pp[n++] = (pair){ id, (uint32_t)v };
		}
	}
	/* Merge: both lists are in id order. */
	pair *r = sg_xcalloc(n + ne + 1, sizeof *r);
	size_t m = 0, i = 0, k = 0;
	int rc = 1;
	while (i < n || k < ne) {
		if (k == ne || (i < n && pp[i].id < e[k].id)) { r[m++] = pp[i++]; continue; }
		int had = i < n && pp[i].id == e[k].id;
		if (had != (e[k].oldv >= 0) || (had && pp[i].v != (uint32_t)e[k].oldv)) { rc = -1; break; }
		if (e[k].newv >= 0) r[m++] = (pair){ e[k].id, (uint32_t)e[k].newv };
		i += had;
		k++;
	}
	free(pp);
	if (rc == 1 && m == 0) rc = 0;
	if (rc == 1) {
		put_json(out, tname);
		sg_buf_puts(out, ":[");
		uint32_t prev = 0;
		for (size_t j = 0; j < m; j++) {
			sg_buf_printf(out, j ? ",%u,%u" : "%u,%u", r[j].id - prev, r[j].v);
			prev = r[j].id;
		}
		sg_buf_putc(out, ']');
	}
	free(r);
	return rc;
}

typedef struct {
	const pterms *t;
	size_t *off;                /* off[i]: entry bytes before item i */
	size_t *cnt;                /* cnt[i]: terms before item i */
	char **keys; size_t nkeys, kcap;
	ofile *files; size_t nfiles, fcap;
	int bad;                    /* a cold shard would have to split: give up */
} layout;

static void emit(layout *l, const char *key, size_t keylen, size_t a, size_t b)
{
	sg_grow(&l->keys, &l->kcap, l->nkeys, sizeof *l->keys);
	l->keys[l->nkeys++] = sg_xstrndup(key, keylen);
	sg_buf d = { 0 };
	sg_buf_putc(&d, '{');
	for (size_t i = a; i < b; i++) {
		if (i > a) sg_buf_putc(&d, ',');
		sg_buf_put(&d, l->t->v[i].ent, l->t->v[i].len);
	}
	sg_buf_puts(&d, "}\n");
	sg_grow(&l->files, &l->fcap, l->nfiles, sizeof *l->files);
	l->files[l->nfiles].name = shard_name(key, keylen);
	l->files[l->nfiles].len = d.len;
	l->files[l->nfiles++].data = sg_buf_take(&d);
}

static const char *layout_term(void *ctx, size_t i)
{
	return ((layout *)ctx)->t->v[i].s;
}

static size_t layout_bytes(void *ctx, size_t a, size_t b)
{
	return ((layout *)ctx)->off[b] - ((layout *)ctx)->off[a];
}

static size_t layout_count(void *ctx, size_t a, size_t b)
{
	return ((layout *)ctx)->cnt[b] - ((layout *)ctx)->cnt[a];
}

static void layout_emit(void *ctx, const char *key, size_t keylen, size_t a, size_t b)
{
	emit(ctx, key, keylen, a, b);
}

/* A cold shard (an old shard kept whole: nterms > 1) keyed at depth d,
 * inside a node that splits: its bytes did not change, so the old layout
 * says this cannot happen; if it does, the caller reads everything. */
static void layout_splits(void *ctx, size_t i, size_t d)
{
	layout *l = ctx;
	const char *ti = l->t->v[i].s;
	if (l->t->v[i].nterms > 1 && ti[sg_si_prefix_len(ti, d)] == '\0') l->bad = 1;
}

static void pterms_free(pterms *t)
{
	for (size_t i = 0; i < t->n; i++) free(t->v[i].s), free(t->v[i].own);
	free(t->v);
}

/* Re-lays one group.  okeys [ka, kb): its old keys; e [ea, eb): its edits.
 * New keys go to l->keys, new shard bytes to l->files.  0, or 1 when the
 * old files do not fit the edits. */
static int patch_group(const char *olddir, char *const *okeys, size_t ka, size_t kb, const edit *e,
                       size_t ne, layout *l, ofile **olds, size_t *nolds, size_t *ocap)
{
	pterms old = { 0 }, nw = { 0 };
	int rc = 0;
	for (size_t k = ka; k < kb && rc == 0; k++) {
		char *name = sg_si_shard_name(okeys[k]);
		size_t len = 0, kl = strlen(okeys[k]);
		char *data = read_index_file(olddir, name, &len);
		add_file(olds, nolds, ocap, name, data, len);
		if (!data || strlen(data) != len || len < 4 || data[0] != '{' || strcmp(data + len - 2, "}\n")) {
			rc = 1;
			break;
		}
		int hot = 0;
		for (size_t j = 0; j < ne && !hot; j++) hot = !strncmp(e[j].term, okeys[k], kl);
		if (hot) {
			if (parse_shard(data, &old) != 0) rc = 1;
			continue;
		}
		/* Cold: count its entries (terms hold no ']'), keep its bytes.  A
		 * one-term shard is parsed instead: as a term it needs no rules
		 * of its own. */
		size_t n = 0;
		for (const char *q = data; (q = memchr(q, ']', (size_t)(data + len - q))); q++) n++;
		if (n == 1) {
			if (parse_shard(data, &old) != 0) rc = 1;
			continue;
		}
		if (!n || len - 3 < n - 1) { rc = 1; break; }
		sg_grow(&old.v, &old.cap, old.n, sizeof *old.v);
		old.v[old.n++] = (pterm){ sg_xstrdup(okeys[k]), data + 1, len - 3, len - 3 - (n - 1), n, NULL };
	}
	/* Merge the old terms with the edited ones (both sorted). */
	size_t i = 0, k = 0;
	while (rc == 0 && (i < old.n || k < ne)) {
		/* A cold shard sorts as its key: no edit falls inside its range. */
		int c = k == ne ? -1 : i == old.n ? 1 : strcmp(old.v[i].s, e[k].term);
		if (c < 0) {   /* untouched: moves over as it is */
			sg_grow(&nw.v, &nw.cap, nw.n, sizeof *nw.v);
			nw.v[nw.n++] = old.v[i];
			old.v[i++].s = NULL;
			continue;
		}
		size_t k2 = k;
		while (k2 < ne && !strcmp(e[k2].term, e[k].term)) k2++;
		sg_buf out = { 0 };
		int r = apply(e[k].term, c == 0 ? old.v[i].ent : NULL, c == 0 ? old.v[i].len : 0, e + k, k2 - k, &out);
		if (r < 0) rc = 1;
		if (r > 0) {
			sg_grow(&nw.v, &nw.cap, nw.n, sizeof *nw.v);
			size_t len = out.len;
			char *own = sg_buf_take(&out);
			nw.v[nw.n++] = (pterm){ sg_xstrdup(e[k].term), own, len, len, 1, own };
		}
		sg_buf_free(&out);
		i += c == 0;
		k = k2;
	}
	if (rc == 0 && nw.n) {
		l->t = &nw;
		l->off = sg_xcalloc(nw.n + 1, sizeof *l->off);
		l->cnt = sg_xcalloc(nw.n + 1, sizeof *l->cnt);
		for (size_t j = 0; j < nw.n; j++) {
			l->off[j + 1] = l->off[j] + nw.v[j].bytes;
			l->cnt[j + 1] = l->cnt[j] + nw.v[j].nterms;
		}
		const sg_si_splitter sp = { l, layout_term, layout_bytes, layout_count, layout_emit, layout_splits };
		sg_si_split(&sp, 0, nw.n, 1);
		free(l->off);
		free(l->cnt);
		l->off = l->cnt = NULL;
		l->t = NULL;
		if (l->bad) rc = 1;
	}
	pterms_free(&old);
	pterms_free(&nw);
	return rc;
}

/* ---- step 4: page chunks ------------------------------------------------------ */

typedef struct { uint32_t id; const char *url, *title, *section, *excerpt; } chunkfix;

static int cmp_fix(const void *a, const void *b)
{
	uint32_t x = ((const chunkfix *)a)->id, y = ((const chunkfix *)b)->id;
	return x < y ? -1 : x > y;
}

/* Rewrites chunk c with fixes [a, b) (all in c) into *out.  0 or 1. */
static int patch_chunk(const char *data, const chunkfix *f, size_t nf, size_t c, sg_buf *out)
{
	const char *p = data;
	if (*p++ != '[') return 1;
	size_t slot = 0, k = 0;
	sg_buf_putc(out, '[');
	for (;; slot++) {
		if (*p++ != '[') return 1;
		char *v[4] = { 0 };
		int ok = 1;
		for (int j = 0; j < 4 && ok; j++) {
			v[j] = sg_si_json_str(&p);
			ok = v[j] && *p++ == (j < 3 ? ',' : ']');
		}
		uint32_t id = (uint32_t)(c * SG_SI_PAGE_CHUNK + slot);
		if (ok && k < nf && f[k].id == id) {
			if (strcmp(v[0], f[k].url)) ok = 0;   /* ids moved: not ours to patch */
			const char *nv[4] = { f[k].url, f[k].title, f[k].section, f[k].excerpt ? f[k].excerpt : v[3] };
			sg_buf_puts(out, slot ? ",\n[" : "[");
			for (int j = 0; j < 4; j++) {
				if (j) sg_buf_putc(out, ',');
				put_json(out, nv[j]);
			}
			sg_buf_putc(out, ']');
			k++;
		} else if (ok) {
			sg_buf_puts(out, slot ? ",\n[" : "[");
			for (int j = 0; j < 4; j++) {
				if (j) sg_buf_putc(out, ',');
				put_json(out, v[j]);
			}
			sg_buf_putc(out, ']');
		}
		for (int j = 0; j < 4; j++) free(v[j]);
		if (!ok) return 1;
		if (*p == ']') break;
		if (*p++ != ',' || *p++ != '\n') return 1;
	}
	sg_buf_puts(out, "]\n");
	return k == nf && !strcmp(p, "]\n") ? 0 : 1;
}

/* ---- the whole ---------------------------------------------------------------- */

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const ofile *)a)->name, ((const ofile *)b)->name);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int sg_search_patch(const char *olddir, const char *stagedir, size_t npages,
                    sg_search *before, sg_search *after,
                    const sg_si_pagefix *fixes, size_t nfixes,
                    uint32_t (*id_of)(const char *url, void *ctx), void *ctx,
                    char ***kept, size_t *nkept, char **err)
{
	*kept = NULL, *nkept = 0, *err = NULL;
	edits ed = { 0 };
	meta m;
	int rc = meta_read(&m, olddir);
	if (rc == 0 && m.pages != npages) rc = 1;
	if (rc == 0) rc = collect_edits(before, after, id_of, ctx, &ed);

	/* Steps 2-3: walk the old keys group by group; groups with edits are
	 * laid out again, the others keep their keys. */
	char **keys = NULL;
	size_t nkeys = 0, kcap = 0;
	ofile *out = NULL, *olds = NULL;   /* new bytes; old bytes of read shards */
	size_t nout = 0, ocap = 0, nolds = 0, olcap = 0;
	layout l = { 0 };
	size_t ki = 0, ei = 0;
	while (rc == 0 && (ki < m.nkeys || ei < ed.n)) {
		/* The next group: the smaller first code point of key or edit. */
		const char *gk = ki < m.nkeys ? m.keys[ki] : NULL, *ge = ei < ed.n ? ed.v[ei].term : NULL;
		size_t gkl = gk ? sg_si_prefix_len(gk, 1) : 0, gel = ge ? sg_si_prefix_len(ge, 1) : 0;
		int c = !gk ? 1 : !ge ? -1 : strncmp(gk, ge, gkl < gel ? gkl : gel);
		if (c == 0 && gkl != gel) c = gkl < gel ? -1 : 1;
		const char *g = c <= 0 ? gk : ge;
		size_t gl = c <= 0 ? gkl : gel;
		size_t kb = ki, eb = ei;
		while (kb < m.nkeys && sg_si_prefix_len(m.keys[kb], 1) == gl && !strncmp(m.keys[kb], g, gl)) kb++;
		while (eb < ed.n && sg_si_prefix_len(ed.v[eb].term, 1) == gl && !strncmp(ed.v[eb].term, g, gl)) eb++;
		if (eb == ei) {   /* no edit: the group stays as it was */
			for (; ki < kb; ki++) {
				sg_grow(&keys, &kcap, nkeys, sizeof *keys);
				keys[nkeys++] = sg_xstrdup(m.keys[ki]);
			}
			continue;
		}
		rc = patch_group(olddir, m.keys, ki, kb, ed.v + ei, eb - ei, &l, &olds, &nolds, &olcap);
		for (size_t j = 0; j < l.nkeys; j++) {
			sg_grow(&keys, &kcap, nkeys, sizeof *keys);
			keys[nkeys++] = l.keys[j];
		}
		l.nkeys = 0;
		ki = kb, ei = eb;
	}
	/* Shards: written unless an old shard of that name has the same bytes. */
	if (nolds > 1) qsort(olds, nolds, sizeof *olds, cmp_name);
	for (size_t j = 0; rc == 0 && j < l.nfiles; j++) {
		ofile *f = &l.files[j];
		const ofile *o = nolds ? bsearch(f, olds, nolds, sizeof *olds, cmp_name) : NULL;
		if (o && o->len == f->len && !memcmp(o->data, f->data, f->len)) continue;
		add_file(&out, &nout, &ocap, f->name, f->data, f->len);
		f->name = f->data = NULL;
	}

	/* Step 4: chunks of the pages whose entry may have changed. */
	chunkfix *cf = NULL;
	size_t ncf = 0, cfcap = 0;
	for (size_t j = 0; rc == 0 && j < after->npages; j++) {
		const page *pg = &after->pages[j];
		sg_grow(&cf, &cfcap, ncf, sizeof *cf);
		cf[ncf++] = (chunkfix){ id_of(pg->url, ctx), pg->url, pg->title, pg->section, pg->excerpt };
	}
	for (size_t j = 0; rc == 0 && j < nfixes; j++) {
		sg_grow(&cf, &cfcap, ncf, sizeof *cf);
		cf[ncf++] = (chunkfix){ fixes[j].id, fixes[j].url, fixes[j].title, fixes[j].section, NULL };
	}
	for (size_t j = 0; j < ncf; j++)
		if (cf[j].id == UINT32_MAX || cf[j].id >= npages) rc = 1;
	if (ncf > 1) qsort(cf, ncf, sizeof *cf, cmp_fix);
	for (size_t j = 1; rc == 0 && j < ncf; j++)
		if (cf[j].id == cf[j - 1].id) rc = 1;   /* one page twice: the caller's mistake */
	for (size_t a = 0, b; rc == 0 && a < ncf; a = b) {
		size_t c = cf[a].id / SG_SI_PAGE_CHUNK;
		for (b = a + 1; b < ncf && cf[b].id / SG_SI_PAGE_CHUNK == c; b++)
			;
		char *name = sg_xasprintf("p/%zu.json", c);
		size_t len = 0;
		char *data = read_index_file(olddir, name, &len);
		sg_buf nb = { 0 };
		if (!data || strlen(data) != len || patch_chunk(data, cf + a, b - a, c, &nb) != 0) rc = 1;
		if (rc == 0 && !(nb.len == len && !memcmp(nb.data, data, len))) {
			size_t nl = nb.len;
			add_file(&out, &nout, &ocap, name, sg_buf_take(&nb), nl);
			name = NULL;
		}
		sg_buf_free(&nb);
		free(name);
		free(data);
	}
	free(cf);

	/* Step 5: meta.json. */
	if (rc == 0) {
		sg_buf mb = { 0 };
		meta_format(&mb, npages, keys, nkeys);
		if (!(mb.len == m.len && !memcmp(mb.data, m.data, m.len))) {
			size_t ml = mb.len;
			add_file(&out, &nout, &ocap, sg_xstrdup("meta.json"), sg_buf_take(&mb), ml);
		}
		sg_buf_free(&mb);
	}

	/* Write, then list every other file of the new index as kept. */
	for (size_t j = 0; rc == 0 && j < nout; j++) {
		char *path = sg_xasprintf("%s/search/%s", stagedir, out[j].name);
		char *slash = strrchr(path, '/');
		*slash = '\0';
		int w = sg_mkdir_p(path);
		*slash = '/';
		if (w != 0 || sg_write_file(path, out[j].data, out[j].len) != 0) {
			*err = sg_xasprintf("%s: %s", path, strerror(errno));
			rc = -1;
		}
		free(path);
	}
	if (rc == 0) {
		char **all = NULL;
		size_t nall = 0, acap = 0, kcap2 = 0;
		for (size_t j = 0; j < nkeys; j++) {
			sg_grow(&all, &acap, nall, sizeof *all);
			all[nall++] = sg_si_shard_name(keys[j]);
		}
		for (size_t c = 0; c * SG_SI_PAGE_CHUNK < npages; c++) {
			sg_grow(&all, &acap, nall, sizeof *all);
			all[nall++] = sg_xasprintf("p/%zu.json", c);
		}
		sg_grow(&all, &acap, nall, sizeof *all);
		all[nall++] = sg_xstrdup("meta.json");
		if (nout > 1) qsort(out, nout, sizeof *out, cmp_name);
		for (size_t j = 0; j < nall; j++) {
			ofile key = { all[j], NULL, 0 };
			if (!nout || !bsearch(&key, out, nout, sizeof *out, cmp_name)) {
				sg_grow(kept, &kcap2, *nkept, sizeof **kept);
				(*kept)[(*nkept)++] = sg_xasprintf("search/%s", all[j]);
			}
			free(all[j]);
		}
		free(all);
		if (*nkept > 1) qsort(*kept, *nkept, sizeof **kept, cmp_str);
	}
	if (rc != 0) {
		for (size_t j = 0; j < *nkept; j++) free((*kept)[j]);
		free(*kept);
		*kept = NULL, *nkept = 0;
	}

	for (size_t j = 0; j < nkeys; j++) free(keys[j]);
	free(keys);
	for (size_t j = 0; j < l.nfiles; j++) free(l.files[j].name), free(l.files[j].data);
	free(l.files);
	free(l.keys);
	for (size_t j = 0; j < nout; j++) free(out[j].name), free(out[j].data);
	free(out);
	for (size_t j = 0; j < nolds; j++) free(olds[j].name), free(olds[j].data);
	free(olds);
	free(ed.v);
	meta_free(&m);
	return rc;
}
