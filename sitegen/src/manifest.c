/* manifest.c — see manifest.h.  The file is binary, in the build machine's
 * byte order (it never leaves the output folder it describes):
 *   magic "sitegen-manifest" NUL, u32 version (3), u32 0x01020304 (order)
 *   u64 settings, u64 search, u8 have_commit, oid commit
 *   u32 n, then n dates:   str path, oid commit, i64 time, str author
 *   u32 n, then n pages:   str path, oid blob, u64 key, u8 draft,
 *                          u8 is_section, u8 is_faq, i64 weight, str title,
 *                          str description, list tags, list aliases,
 *                          list ids, list headings, u32 nlinks, then per
 *                          link str target, str anchor ("" = none),
 *                          i32 line; u64 text_hash
 *   u32 n, then n statics: str path, oid blob
 *   u32 n, then n lists:   str output, u64 key
 *   u32 n, then n outputs: str path
 *   magic "end" NUL
 * str = u32 length, the bytes, NUL (so strings can be used where they lie);
 * list = u32 count, then count strs; oid = 20 raw bytes.
 * The text format it replaced (version 2) spent most of an incremental
 * build's first 30 ms unescaping and splitting fields. */
#include "manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "sitegen-manifest"
#define VERSION 3u
#define ORDER 0x01020304u

/* ---- writing ------------------------------------------------------------------ */

/* Fields go through a fixed chunk, written to the file (sg_manifest_write)
 * as it fills: a 5 MB manifest built in one growing buffer first cost more
 * in page faults and copies than the bytes themselves. */
typedef struct wr {
	char chunk[1 << 16];
	size_t used;
	int fd;
	int err;             /* errno of a failed write */
} wr;

static void flush(wr *w)
{
	const char *p = w->chunk;
	size_t left = w->used;
	while (left && !w->err) {
		ssize_t k = write(w->fd, p, left);
		if (k < 0 && errno == EINTR) continue;
		if (k <= 0) { w->err = k < 0 ? errno : EIO; break; }
		p += k;
		left -= (size_t)k;
	}
	w->used = 0;
}

static void put(wr *w, const void *s, size_t n)
{
	while (n) {
		if (w->used == sizeof w->chunk) flush(w);
		size_t k = sizeof w->chunk - w->used < n ? sizeof w->chunk - w->used : n;
		memcpy(w->chunk + w->used, s, k);
		w->used += k;
		s = (const char *)s + k;
		n -= k;
	}
}

static void put_u8(wr *w, int v) { unsigned char c = (unsigned char)(v != 0); put(w, &c, 1); }
static void put_u32(wr *w, uint32_t v) { put(w, &v, sizeof v); }
static void put_u64(wr *w, uint64_t v) { put(w, &v, sizeof v); }
static void put_oid(wr *w, const git_oid *o) { put(w, o->id, GIT_OID_RAWSZ); }

static void put_str(wr *w, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	put_u32(w, (uint32_t)n);
	put(w, s ? s : "", n + 1);   /* with its NUL */
}

static void put_list(wr *w, const sg_strs *l)
{
	put_u32(w, (uint32_t)l->n);
	for (size_t i = 0; i < l->n; i++) put_str(w, l->v[i]);
}

/* Everything before the outputs (see sg_manifest_begin). */
static void put_head(wr *w, const sg_manifest *m)
{
	put(w, MAGIC, sizeof MAGIC);
	put_u32(w, VERSION);
	put_u32(w, ORDER);
	put_u64(w, m->settings);
	put_u64(w, m->search);
	put_u8(w, m->have_commit);
	git_oid zero;
	memset(&zero, 0, sizeof zero);
	put_oid(w, m->have_commit ? &m->commit : &zero);
	put_u32(w, (uint32_t)m->dates.n);
	for (size_t i = 0; i < m->dates.n; i++) {
		const sg_gdate *g = &m->dates.v[i];
		put_str(w, g->path);
		put_oid(w, &g->commit);
		put_u64(w, (uint64_t)g->time);
		put_str(w, g->author);
	}
	put_u32(w, (uint32_t)m->site.npages);
	for (size_t i = 0; i < m->site.npages; i++) {
		const sg_page *p = &m->site.pages[i];
		put_str(w, p->path);
		put_oid(w, &p->oid);
		put_u64(w, p->key);
		put_u8(w, p->draft);
		put_u8(w, p->is_section);
		put_u8(w, p->is_faq);
		put_u64(w, (uint64_t)(int64_t)p->weight);
		put_str(w, p->title);
		put_str(w, p->description);
		put_list(w, &p->tags);
		put_list(w, &p->aliases);
		put_list(w, &p->ids);
		put_list(w, &p->headings);
		put_u32(w, (uint32_t)p->nlinks);
		for (size_t k = 0; k < p->nlinks; k++) {
			put_str(w, p->links[k].target);
			put_str(w, p->links[k].anchor ? p->links[k].anchor : "");
			put_u32(w, (uint32_t)(int32_t)p->links[k].line);
		}
		put_u64(w, p->text_hash);
	}
	put_u32(w, (uint32_t)m->site.nstatics);
	for (size_t i = 0; i < m->site.nstatics; i++) {
		put_str(w, m->site.statics[i].path);
		put_oid(w, &m->site.statics[i].oid);
	}
	put_u32(w, (uint32_t)m->nlists);
	for (size_t i = 0; i < m->nlists; i++) {
		put_str(w, m->lists[i]);
		put_u64(w, m->list_keys[i]);
	}
}

static void put_tail(wr *w, const sg_manifest *m)
{
	put_u32(w, (uint32_t)m->noutputs);
	for (size_t i = 0; i < m->noutputs; i++) put_str(w, m->outputs[i]);
	put(w, "end", 4);
}

struct sg_manifest_wr { wr w; };

sg_manifest_wr *sg_manifest_begin(const sg_manifest *m, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) return NULL;
	sg_manifest_wr *mw = sg_xcalloc(1, sizeof *mw);
	mw->w.fd = fd;
	put_head(&mw->w, m);
	return mw;
}

int sg_manifest_end(sg_manifest_wr *mw, const sg_manifest *m)
{
	wr *w = &mw->w;
	if (m) put_tail(w, m);
	flush(w);
	int e = m ? w->err : ECANCELED;
	if (close(w->fd) != 0 && !e) e = errno;
	free(mw);
	if (e) { errno = e; return -1; }
	return 0;
}

int sg_manifest_write(const sg_manifest *m, const char *path)
{
	sg_manifest_wr *mw = sg_manifest_begin(m, path);
	return mw ? sg_manifest_end(mw, m) : -1;
}

/* ---- reading ------------------------------------------------------------------ */

/* A bounds-checked cursor: once bad, every read yields zeros/"". */
typedef struct {
	const char *p, *end;
	int bad;
} rd;

static int take(rd *r, void *out, size_t n)
{
	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = 1;
		memset(out, 0, n);
		return -1;
	}
	memcpy(out, r->p, n);
	r->p += n;
	return 0;
}

static uint32_t get_u32(rd *r) { uint32_t v; take(r, &v, sizeof v); return v; }
static uint64_t get_u64(rd *r) { uint64_t v; take(r, &v, sizeof v); return v; }
static int get_u8(rd *r) { unsigned char v; take(r, &v, 1); return v; }
static void get_oid(rd *r, git_oid *o) { take(r, o->id, GIT_OID_RAWSZ); }

/* A count of items of at least min bytes each that the rest can hold. */
static size_t get_count(rd *r, size_t min)
{
	uint32_t n = get_u32(r);
	if (r->bad || (size_t)n > (size_t)(r->end - r->p) / min) {
		r->bad = 1;
		return 0;
	}
	return n;
}

/* The string where it lies in the file (NUL-terminated there); len its length. */
static const char *get_str(rd *r, size_t *len)
{
	uint32_t n = get_u32(r);
	if (r->bad || (size_t)(r->end - r->p) <= n || r->p[n] != '\0') {
		r->bad = 1;
		*len = 0;
		return "";
	}
	const char *s = r->p;
	r->p += (size_t)n + 1;
	*len = n;
	return s;
}

static char *dup_str(rd *r)
{
	size_t n;
	const char *s = get_str(r, &n);
	return sg_xstrndup(s, n);
}

static void get_list(rd *r, sg_strs *l)
{
	size_t n = get_count(r, 5);
	if (!n) return;
	l->v = sg_xcalloc(n, sizeof *l->v);
	l->cap = n;
	for (size_t i = 0; i < n && !r->bad; i++) l->v[l->n++] = dup_str(r);
}

/* A map sized for n keys up front: loading 10,000 paths into a map that
 * doubles as it fills rehashed every key about twice. */
static void map_presize(sg_map *m, size_t n)
{
	size_t cap = 64;
	while (cap < 2 * (n + 1)) cap *= 2;
	m->keys = sg_xcalloc(cap, sizeof *m->keys);
	m->vals = sg_xcalloc(cap, sizeof *m->vals);
	m->cap = cap;
	m->n = 0;
}

static void get_dates(rd *r, sg_gdates *d)
{
	size_t n = get_count(r, 4 + 1 + GIT_OID_RAWSZ + 8 + 4 + 1);
	if (!n) return;
	d->v = sg_xcalloc(n, sizeof *d->v);
	d->cap = n;
	map_presize(&d->index, n);
	for (size_t i = 0; i < n && !r->bad; i++) {
		sg_gdate *g = &d->v[d->n++];
		g->path = dup_str(r);
		get_oid(r, &g->commit);
		g->time = (int64_t)get_u64(r);
		g->author = dup_str(r);
		/* Written from a map: paths are unique. */
		sg_map_put(&d->index, g->path, i);
	}
}

static void get_page(rd *r, sg_page *p)
{
	memset(p, 0, sizeof *p);
	p->path = dup_str(r);
	get_oid(r, &p->oid);
	p->key = get_u64(r);
	p->draft = get_u8(r);
	p->is_section = get_u8(r);
	p->is_faq = get_u8(r);
	p->weight = (long)(int64_t)get_u64(r);
	p->title = dup_str(r);
	p->description = dup_str(r);
	get_list(r, &p->tags);
	get_list(r, &p->aliases);
	get_list(r, &p->ids);
	get_list(r, &p->headings);
	size_t nl = get_count(r, 4 + 1 + 4 + 1 + 4);
	if (nl) p->links = sg_xcalloc(nl, sizeof *p->links);
	for (size_t k = 0; k < nl && !r->bad; k++) {
		sg_link *l = &p->links[p->nlinks++];
		l->target = dup_str(r);
		size_t an;
		const char *a = get_str(r, &an);
		l->anchor = an ? sg_xstrndup(a, an) : NULL;
		l->line = (int)(int32_t)get_u32(r);
	}
	p->text_hash = get_u64(r);
	p->loaded = 1;
}

static int parse(sg_manifest *m, rd *r)
{
	char magic[sizeof MAGIC];
	take(r, magic, sizeof magic);
	if (r->bad || memcmp(magic, MAGIC, sizeof MAGIC) || get_u32(r) != VERSION || get_u32(r) != ORDER) return 1;
	m->settings = get_u64(r);
	m->search = get_u64(r);
	m->have_commit = get_u8(r);
	get_oid(r, &m->commit);
	get_dates(r, &m->dates);

	sg_site *s = &m->site;
	size_t np = get_count(r, 4 + 1 + GIT_OID_RAWSZ + 8 + 3 + 8 + 2 * 5 + 4 * 4 + 4 + 8);
	if (np) {
		s->pages = sg_xcalloc(np, sizeof *s->pages);
		s->pcap = np;
		map_presize(&s->by_path, np);
	}
	for (size_t i = 0; i < np && !r->bad; i++) {
		get_page(r, &s->pages[s->npages++]);
		sg_map_put(&s->by_path, s->pages[i].path, i);
	}
	size_t ns = get_count(r, 4 + 1 + GIT_OID_RAWSZ);
	if (ns) {
		s->statics = sg_xcalloc(ns, sizeof *s->statics);
		s->scap = ns;
	}
	for (size_t i = 0; i < ns && !r->bad; i++) {
		s->statics[s->nstatics].path = dup_str(r);
		get_oid(r, &s->statics[s->nstatics++].oid);
	}
	size_t nl = get_count(r, 4 + 1 + 8);
	for (size_t i = 0; i < nl && !r->bad; i++) {
		size_t n;
		const char *out = get_str(r, &n);
		uint64_t key = get_u64(r);
		if (!r->bad) sg_manifest_add_list(m, out, key);
	}
	/* Outputs are used where they lie: 11,000 paths need no copies. */
	size_t no = get_count(r, 4 + 1);
	if (no) {
		m->outputs = sg_xcalloc(no, sizeof *m->outputs);
		m->ocap = no;
	}
	for (size_t i = 0; i < no && !r->bad; i++) {
		size_t n;
		m->outputs[m->noutputs++] = (char *)get_str(r, &n);
		if (i && strcmp(m->outputs[i - 1], m->outputs[i]) >= 0) r->bad = 1;   /* bsearch needs order */
	}
	char end[4];
	take(r, end, sizeof end);
	if (r->bad || memcmp(end, "end", 4) || r->p != r->end) return 1;
	return 0;
}

int sg_manifest_load(sg_manifest *m, const char *path)
{
	memset(m, 0, sizeof *m);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return errno == ENOENT ? 1 : -1;
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (st.st_size < (off_t)sizeof MAGIC) {
		close(fd);
		return 1;
	}
	/* Mapped, not read: the outputs list stays where it is. */
	void *data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	close(fd);
	if (data == MAP_FAILED) return -1;
	m->data = data;
	m->len = (size_t)st.st_size;
	rd r = { data, (const char *)data + st.st_size, 0 };
	if (parse(m, &r) != 0) {
		sg_manifest_free(m);
		return 1;
	}
	if (m->have_commit) { m->dates.built = m->commit; m->dates.have_built = 1; }
	return 0;
}

void sg_manifest_free(sg_manifest *m)
{
	sg_site_free(&m->site);
	sg_gdates_free(&m->dates);
	/* A loaded manifest's outputs lie in its mapping; a built one's are
	 * the caller's (build.c frees them). */
	if (!m->data)
		for (size_t i = 0; i < m->noutputs; i++) free(m->outputs[i]);
	free(m->outputs);
	if (m->data) munmap(m->data, m->len);
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
