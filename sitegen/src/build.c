/* build.c — see build.h.  The stages, in order:
 *   1. open the source, read sitegen.yaml and the theme;
 *   2. load the previous manifest; decide full or incremental build;
 *   3. list pages: unchanged blobs reuse the manifest's metadata, others are
 *      parsed (front matter + Markdown, rendered HTML kept for step 6);
 *   4. git dates (cached walk), section tree, output-path clashes, links;
 *   5. stop on content errors (check mode stops here anyway);
 *   6. render every page whose key changed, plus the listings, feeds and
 *      the search index, into the staging folder;
 *   7. write the manifest, commit the staging folder. */
#include "build.h"

#include <ctype.h>
#include <malloc.h>
#include <pthread.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "frontmatter.h"
#include "gitdates.h"
#include "manifest.h"
#include "markdown.h"
#include "output.h"
#include "render.h"
#include "repo.h"
#include "searchidx.h"
#include "searchpatch.h"
#include "site.h"
#include "theme.h"
#include "util.h"
#include "zsrc.h"

#define SG_VERSION "0.1"

/* SITEGEN_PROFILE=1 prints the wall and CPU time of each stage, the RSS
 * after it (anonymous memory and mapped files: libraries and git packs)
 * and the peak so far (for the benchmark: on a shared machine CPU time is
 * the steadier number). */
static double stage_t0, stage_c0;
static int profiling = -1;

static double clock_ms(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double now_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

static _Thread_local int stage_quiet;   /* a helper thread: stages are the main thread's */

static void stage(const char *name)
{
	if (profiling < 0) profiling = getenv("SITEGEN_PROFILE") != NULL;
	if (!profiling || stage_quiet) return;
	double t = now_ms(), c = clock_ms(CLOCK_PROCESS_CPUTIME_ID);
	long anon = 0, file = 0, hwm = 0;
	FILE *f = fopen("/proc/self/status", "r");
	if (f) {
		char line[128];
		while (fgets(line, sizeof line, f)) {
			if (!strncmp(line, "RssAnon:", 8)) anon = atol(line + 8);
			else if (!strncmp(line, "RssFile:", 8)) file = atol(line + 8);
			else if (!strncmp(line, "VmHWM:", 6)) hwm = atol(line + 6);
		}
		fclose(f);
	}
	if (name) {
		/* The heap: in use, free (resident until trimmed), and large
		 * blocks malloc mapped on their own. */
		struct mallinfo2 mi = mallinfo2();
		fprintf(stderr, "sitegen: %-10s %8.1f ms  cpu %8.1f ms  rss %6.1f MB (anon %.1f file %.1f) peak %.1f"
		        "  heap %.1f free %.1f mmap %.1f\n",
		        name, t - stage_t0, c - stage_c0, (double)(anon + file) / 1024, (double)anon / 1024,
		        (double)file / 1024, (double)hwm / 1024, (double)mi.uordblks / 1048576,
		        (double)mi.fordblks / 1048576, (double)mi.hblkhd / 1048576);
	}
	stage_t0 = t;
	stage_c0 = c;
}

typedef struct {
	char *name, *slug;
	size_t *pages; size_t npages, cap;
} tag;

/* A page's source and front matter while it waits to be rendered.  The
 * source is read once and held, LZ4-compressed, until its page is rendered:
 * reading it again cost a fifth of the build's CPU time (blobs are delta
 * chains, each read inflates the whole chain), holding it plain cost its
 * whole size in peak RSS, compressed it costs about half (see zsrc.h). */
struct pstate {
	char *data;      /* the source plain: while loading, and while rendering */
	size_t len;
	sg_zsrc zs;      /* the source held between loading and rendering */
	sg_front fm;
	int have;        /* fm is loaded (data may be NULL) */
	int render;      /* in this build's render set */
	size_t old;      /* index in the old manifest's pages, or SG_NONE */
};

typedef struct {
	const sg_build_opts *o;
	sg_build_stats *st;
	sg_diag d;
	sg_source src;
	sg_config cfg;
	sg_theme theme;
	char *base, *abs;
	uint64_t settings;
	uint64_t search;                 /* search_hash() of this build */
	sg_manifest old;
	int old_rc;                      /* sg_manifest_load's result */
	pthread_t old_th;                /* loads old while the source opens */
	int old_live, old_started;
	char *old_path;
	sg_manifest lists;               /* listing keys of this build */
	sg_manifest_wr *mw;              /* the manifest, written up to its outputs */
	int have_old, incremental;
	sg_site site;
	struct pstate *ps;               /* per page: source held for rendering */
	sg_zdict *zd[2];                 /* per loading thread: ps[].zs refer to them */
	sg_gdates dates;
	sg_output out;
	int out_open;
	sg_strs kept;                    /* outputs left in place from before */
	sg_map claims;                   /* lowercased output path -> claimant */
	sg_strs claim_keys, claim_src;
	tag *tags; size_t ntags, tcap;
	sg_map tag_by_slug;
	sg_render r;
	sg_search *sidx;                 /* pages indexed while rendering */
	pthread_mutex_t lock;            /* guards err during parallel rendering */
	char *err;                       /* I/O or git error message */
} build;

static int io_fail(build *b, char *msg)
{
	pthread_mutex_lock(&b->lock);
	if (!b->err) b->err = msg; else free(msg);
	pthread_mutex_unlock(&b->lock);
	return -1;
}

/* Parses base_url into the URL path prefix and the absolute prefix. */
static int set_base(build *b, const char *url)
{
	const char *path = NULL;
	if (!strncmp(url, "https://", 8) || !strncmp(url, "http://", 7)) {
		const char *host = strstr(url, "://") + 3;
		path = strchr(host, '/');
		if (!path) path = "/";
	} else if (url[0] == '/') {
		path = url;
	} else {
		sg_error(&b->d, "sitegen.yaml", 0, "base_url '%s' must start with '/' or http(s)://", url);
		return -1;
	}
	if (strpbrk(url, " \"'<>\\")) {
		sg_error(&b->d, "sitegen.yaml", 0, "base_url '%s' contains characters not allowed in a URL", url);
		return -1;
	}
	int slash = url[strlen(url) - 1] == '/';
	b->base = sg_xasprintf("%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/");
	b->abs = sg_xasprintf("%s%s", url, slash ? "" : "/");
	return 0;
}

static int load_config(build *b)
{
	sg_config_defaults(&b->cfg);
	/* sitegen.yaml beside the content root, else at the repository root. */
	const char *pre = b->src.content_prefix;
	char *cands[2] = { NULL, sg_xstrdup("sitegen.yaml") };
	size_t n = strlen(pre);
	if (n > 1) {
		const char *up = memrchr(pre, '/', n - 1);
		if (up) cands[0] = sg_xasprintf("%.*s/sitegen.yaml", (int)(up - pre), pre);
	}
	int rc = 0;
	for (int i = 0; i < 2; i++) {
		if (!cands[i]) continue;
		char *data = NULL;
		size_t len = 0;
		int r = sg_source_read_repo(&b->src, cands[i], &data, &len);
		if (r < 0) { rc = io_fail(b, sg_xasprintf("%s: %s", cands[i], strerror(errno))); break; }
		if (r == 1) continue;
		if (sg_config_parse(cands[i], data, len, &b->cfg, &b->d) != 0) rc = -1;
		free(data);
		break;
	}
	free(cands[0]);
	free(cands[1]);
	if (rc != 0) return rc;
	return set_base(b, b->o->base_url ? b->o->base_url : b->cfg.base_url);
}

static uint64_t settings_hash(build *b)
{
	uint64_t h = sg_hash_str(SG_HASH_SEED, "sitegen " SG_VERSION);
	h = sg_hash_str(h, b->cfg.title);
	h = sg_hash_str(h, b->cfg.language);
	h = sg_hash_str(h, b->cfg.edit_url);
	h = sg_hash_str(h, b->cfg.description);
	h = sg_hash(h, &b->cfg.allow_html, sizeof b->cfg.allow_html);
	h = sg_hash_str(h, b->base);
	h = sg_hash_str(h, b->abs);
	h = sg_hash_str(h, b->src.content_prefix);
	return sg_hash(h, &b->theme.hash, sizeof b->theme.hash);
}

/* Records that outpath is produced by src; reports a clash, including one
 * that only differs in case (it would clash on macOS and Windows hosts). */
static void claim(build *b, const char *outpath, const char *src)
{
	char *key = sg_xstrdup(outpath);
	for (char *p = key; *p; p++) *p = (char)tolower((unsigned char)*p);
	size_t prev = sg_map_get(&b->claims, key);
	if (prev != SG_NONE) {
		sg_error(&b->d, src, 0, "duplicate output %s: also produced by %s", outpath, b->claim_src.v[prev]);
		free(key);
		return;
	}
	sg_strs_push(&b->claim_keys, key);
	sg_strs_push(&b->claim_src, src);
	free(key);
	/* The map borrows keys: rebuild it when the array moves. */
	if (b->claim_keys.n == 1 || b->claims.n == 0) {
		sg_map_free(&b->claims);
		for (size_t i = 0; i < b->claim_keys.n; i++) sg_map_put(&b->claims, b->claim_keys.v[i], i);
	} else {
		sg_map_put(&b->claims, b->claim_keys.v[b->claim_keys.n - 1], b->claim_keys.n - 1);
	}
}

static int valid_page_name(const char *path)
{
	for (const char *p = path; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-_./", *p)) return 0;
	return 1;
}

/* Moves the metadata of manifest page o into p (o is left empty). */
static void steal_meta(sg_page *p, sg_page *o)
{
	p->title = o->title, o->title = NULL;
	p->description = o->description, o->description = NULL;
	p->weight = o->weight;
	p->draft = o->draft;
	p->is_faq = o->is_faq;
	p->tags = o->tags, memset(&o->tags, 0, sizeof o->tags);
	p->aliases = o->aliases, memset(&o->aliases, 0, sizeof o->aliases);
	p->ids = o->ids, memset(&o->ids, 0, sizeof o->ids);
	p->headings = o->headings, memset(&o->headings, 0, sizeof o->headings);
	p->links = o->links, p->nlinks = o->nlinks, o->links = NULL, o->nlinks = 0;
	p->text = o->text, o->text = NULL;
	p->text_hash = o->text_hash;
	p->loaded = 1;
	p->parsed = 0;
}

static void drop_source(build *b, size_t i)
{
	struct pstate *ps = &b->ps[i];
	free(ps->data);
	ps->data = NULL;
	sg_zsrc_free(&ps->zs);
	if (!ps->have) return;
	sg_front_free(&ps->fm);
	ps->have = 0;
}

/* Decompresses the source load_page_in held for page i into *out.
 * Returns 0, or -1 after reporting. */
static int unpack_source(build *b, size_t i, sg_buf *out)
{
	if (sg_zsrc_get(&b->ps[i].zs, out) == 0) return 0;
	sg_error(&b->d, NULL, 0, "%s%s: held source does not decompress (internal error)",
	         b->src.content_prefix, b->site.pages[i].path);
	return -1;
}

/* Puts page i's source into ps->data: from the copy load_page_in held,
 * else from the source.  Returns 0, or -1 after reporting. */
static int read_source(build *b, git_repository *repo, size_t i)
{
	struct pstate *ps = &b->ps[i];
	if (ps->data) return 0;
	if (ps->zs.held) {
		sg_buf out = {0};
		int rc = unpack_source(b, i, &out);
		ps->len = out.len;
		ps->data = sg_buf_take(&out);
		return rc;
	}
	const sg_srcfile f = { b->site.pages[i].path, b->site.pages[i].oid };
	char *err = NULL;
	if (sg_source_read_in(&b->src, repo, &f, &ps->data, &ps->len, &err) == 0) return 0;
	sg_error(&b->d, NULL, 0, "%s%s: %s", b->src.content_prefix, f.path, err);
	free(err);
	return -1;
}

/* Reads page i and parses its front matter; both stay in ps for rendering
 * (drop_source frees them). */
static int load_page_in(build *b, git_repository *repo, sg_zdict *zd, size_t i, size_t *parsed)
{
	sg_page *p = &b->site.pages[i];
	struct pstate *ps = &b->ps[i];
	char *file = sg_xasprintf("%s%s", b->src.content_prefix, p->path);
	char *err = NULL;
	int rc = 0;
	const sg_srcfile f = { p->path, p->oid };
	drop_source(b, i);
	if (sg_source_read_in(&b->src, repo, &f, &ps->data, &ps->len, &err) != 0) {
		/* Oversized input is the content's fault, not an I/O failure. */
		sg_error(&b->d, file, 0, "%s", err);
		free(err);
		rc = -1;
	} else {
		ps->have = 1;
		rc = sg_page_front(p, file, ps->data, ps->len, &ps->fm, &b->d);
		(*parsed)++;
		/* Held compressed until rendering (plain if it cannot be); kept
		 * plain without zd, for a caller that reads it right away. */
		if (zd && sg_zsrc_put(&ps->zs, zd, ps->data, ps->len) == 0) {
			free(ps->data);
			ps->data = NULL;
		}
	}
	free(file);
	return rc;
}

/* The main thread's handle on the repository (reopened after
 * sg_source_release); NULL after reporting when that fails, or when there is
 * no repository (worktree mode reads the disk). */
static int main_repo(build *b, git_repository **repo)
{
	char *err = NULL;
	*repo = sg_source_git(&b->src, &err);
	return err ? io_fail(b, err) : 0;
}

/* zd: b->zd[0] to hold the source compressed (the loaders are done), NULL
 * to keep it plain. */
static int load_page(build *b, sg_zdict *zd, size_t i)
{
	git_repository *repo;
	if (main_repo(b, &repo) != 0) return -1;
	return load_page_in(b, repo, zd, i, &b->st->parsed);
}

static int list_content(build *b)
{
	sg_site *s = &b->site;
	/* Room for every file at once: growing a 10,000-page array by
	 * doubling copied and faulted in its megabytes several times. */
	s->pages = sg_xmalloc((b->src.nfiles ? b->src.nfiles : 1) * sizeof *s->pages);
	s->pcap = b->src.nfiles ? b->src.nfiles : 1;
	for (size_t k = 0; k < b->src.nfiles; k++) {
		const sg_srcfile *f = &b->src.files[k];
		if (!sg_ends_with(f->path, ".md")) {
			sg_grow(&s->statics, &s->scap, s->nstatics, sizeof *s->statics);
			s->statics[s->nstatics].path = sg_xstrdup(f->path);
			s->statics[s->nstatics].oid = f->oid;
			s->nstatics++;
			continue;
		}
		if (!valid_page_name(f->path)) {
			sg_error(&b->d, NULL, 0, "%s%s: page file and folder names become URLs: use letters, digits, "
			         "'-', '_' and '.' only", b->src.content_prefix, f->path);
			continue;
		}
		sg_grow(&s->pages, &s->pcap, s->npages, sizeof *s->pages);
		sg_page *p = &s->pages[s->npages];
		memset(p, 0, sizeof *p);
		p->path = sg_xstrdup(f->path);
		p->url = sg_url_of(f->path);
		p->oid = f->oid;
		const char *slash = strrchr(f->path, '/');
		p->is_section = !strcmp(slash ? slash + 1 : f->path, "_index.md");
		s->npages++;
	}
	if (s->npages > SG_SEARCH_MAX_PAGES / 2) {
		sg_error(&b->d, NULL, 0, "%zu pages: a site may have at most %zu (the search index's limit)",
		         s->npages, SG_SEARCH_MAX_PAGES / 2);
		s->npages = 0;
	}
	/* Sized once (as manifest.c does): a map doubling its way to 10,000
	 * paths rehashes each about twice. */
	size_t cap = 64;
	while (cap < 2 * (s->npages + 1)) cap *= 2;
	sg_map_free(&s->by_path);
	s->by_path.keys = sg_xcalloc(cap, sizeof *s->by_path.keys);
	s->by_path.vals = sg_xcalloc(cap, sizeof *s->by_path.vals);
	s->by_path.cap = cap;
	for (size_t i = 0; i < s->npages; i++) sg_map_put(&s->by_path, s->pages[i].path, i);
	b->ps = sg_xcalloc(s->npages, sizeof *b->ps);
	for (size_t i = 0; i < s->npages; i++) {
		sg_page *p = &s->pages[i];
		size_t oi = b->incremental ? sg_map_get(&b->old.site.by_path, p->path) : SG_NONE;
		sg_page *o = oi != SG_NONE ? &b->old.site.pages[oi] : NULL;
		b->ps[i].old = oi;   /* plan_pages needs it again */
		if (o && o->loaded && git_oid_equal(&o->oid, &p->oid)) steal_meta(p, o);
		else b->ps[i].render = 1;   /* to load; plan_pages resets it */
	}
	return 0;
}

static int date_pages(build *b, git_repository *repo)
{
	sg_site *s = &b->site;
	if (!b->src.repo || !b->src.have_commit) return 0;
	char **paths = sg_xcalloc(s->npages, sizeof *paths);
	for (size_t i = 0; i < s->npages; i++) paths[i] = sg_xasprintf("%s%s", b->src.content_prefix, s->pages[i].path);
	if (b->have_old) { b->dates = b->old.dates; memset(&b->old.dates, 0, sizeof b->old.dates); }
	char *err = NULL;
	int rc = sg_gdates_update(&b->dates, repo, &b->src.commit_id, paths, s->npages, &b->d, &err);
	if (rc != 0) io_fail(b, err);
	b->st->commits_walked = b->dates.walked;
	for (size_t i = 0; i < s->npages && rc == 0; i++) {
		const sg_gdate *g = sg_gdates_get(&b->dates, paths[i]);
		if (g && g->time) { s->pages[i].date = g->time; s->pages[i].author = sg_xstrdup(g->author); }
	}
	for (size_t i = 0; i < s->npages; i++) free(paths[i]);
	free(paths);
	return rc;
}

/* Loading pages (blob inflate, YAML) and dating them (history walk) are
 * independent: a second thread dates pages, then helps load.  Each thread
 * reads git through its own repository handle.  The site structure needs
 * every page loaded but no dates, so it is built while the dating thread
 * may still walk history (load_begin waits for the loads only; load_end
 * joins the thread, before page keys, which include dates, are computed).
 * The dating thread writes only pages' date and author fields and
 * b->dates, which nothing reads before load_end. */
struct loader {
	build *b;
	git_repository *repo;
	int dates;             /* this thread dates pages first */
	int flush;             /* ... then frees the pack's cache (flush_dates) */
	sg_zdict *zd;          /* this thread's dictionary for held sources */
	const size_t *order;   /* pages in the order to read them (shared) */
	size_t parsed;
	int rc;
};

static size_t load_next, load_total, load_done;
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t load_cond = PTHREAD_COND_INITIALIZER;

/* The history walk fills the delta-base cache of the pack (16 MiB, a
 * compile-time size in libgit2 1.5) with trees that loading pages never
 * reads: 14 MB of peak RSS on the bench while pages still load.  libgit2
 * shares a pack between every handle on it and frees it, cache included,
 * with the last one.  So in a full build the dating thread, done walking,
 * frees its handle and asks the main loader (flush_want) to reopen its own
 * between two pages; the pack goes, and the dating thread opens a fresh
 * handle to help load (after flush_done, else it would keep the pack).
 * main_loading: the main loader may still answer (0 once it left its loop:
 * then there is nothing left to load). */
static int flush_want, flush_done, main_loading;
/* The helper has not returned: load_begin's wait must not outlast it (when
 * both loaders' handles fail to reopen, pages stay unloaded). */
static int helper_loading;

/* The main loader's side: between two pages, reopen its handle. */
static void flush_main(struct loader *l)
{
	char *err = NULL;
	sg_source_release(&l->b->src);
	l->repo = sg_source_git(&l->b->src, &err);
	if (!l->repo) { io_fail(l->b, err); l->rc = -1; }
	/* The cache's blocks are free now, scattered through the dating
	 * thread's heap: give their pages back. */
	malloc_trim(0);
}

/* The dating thread's side, its walk done: returns 0 to go on loading
 * with l->repo, -1 when there is nothing left to load. */
static int flush_dates(struct loader *l)
{
	git_repository_free(l->repo);
	l->repo = NULL;
	pthread_mutex_lock(&load_lock);
	int wait = main_loading;
	if (wait) {
		flush_want = 1;
		while (!flush_done && main_loading) pthread_cond_wait(&load_cond, &load_lock);
	}
	pthread_mutex_unlock(&load_lock);
	if (!wait) return -1;
	if (git_repository_open(&l->repo, l->b->src.gitdir) != 0) {
		const git_error *e = git_error_last();
		l->repo = NULL;
		io_fail(l->b, sg_xasprintf("reopening repository: %s", e ? e->message : "?"));
		l->rc = -1;
		return -1;
	}
	return 0;
}

static void *load_work(void *arg)
{
	struct loader *l = arg;
	if (l->dates && date_pages(l->b, l->repo) != 0) l->rc = -1;
	size_t n = l->b->site.npages;
	int go = !(l->dates && l->flush && flush_dates(l) != 0);
	while (go) {
		pthread_mutex_lock(&load_lock);
		if (!l->dates && flush_want && !flush_done) {
			pthread_mutex_unlock(&load_lock);
			flush_main(l);
			pthread_mutex_lock(&load_lock);
			flush_done = 1;
			pthread_cond_broadcast(&load_cond);
			if (!l->repo) {
				main_loading = 0;
				pthread_mutex_unlock(&load_lock);
				break;
			}
		}
		size_t k = load_next;
		while (k < n && !l->b->ps[l->order[k]].render) k++;
		load_next = k + 1;
		pthread_mutex_unlock(&load_lock);
		if (k >= n) break;
		size_t i = l->order[k];
		l->b->ps[i].render = 0;
		if (load_page_in(l->b, l->repo, l->zd, i, &l->parsed) != 0) l->rc = -1;
		pthread_mutex_lock(&load_lock);
		if (++load_done == load_total) pthread_cond_broadcast(&load_cond);
		pthread_mutex_unlock(&load_lock);
	}
	pthread_mutex_lock(&load_lock);
	if (l->dates) helper_loading = 0;
	else main_loading = 0;
	pthread_cond_broadcast(&load_cond);
	pthread_mutex_unlock(&load_lock);
	return NULL;
}

static const uint64_t *rank_of;

static int cmp_rank(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	if (rank_of[x] != rank_of[y]) return rank_of[x] < rank_of[y] ? -1 : 1;
	return (x > y) - (x < y);
}

/* The order to read pages in: their blobs' order in the packs (see
 * sg_source_pack_ranks), else path order.  Caller frees. */
static size_t *load_order(build *b)
{
	size_t n = b->site.npages;
	size_t *order = sg_xcalloc(n ? n : 1, sizeof *order);
	for (size_t i = 0; i < n; i++) order[i] = i;
	if (b->src.workdir || n < 2) return order;
	const git_oid **ids = sg_xcalloc(n, sizeof *ids);
	uint64_t *rank = sg_xcalloc(n, sizeof *rank);
	for (size_t i = 0; i < n; i++) ids[i] = &b->site.pages[i].oid;
	if (sg_source_pack_ranks(&b->src, ids, n, rank) == 0) {
		rank_of = rank;
		qsort(order, n, sizeof *order, cmp_rank);
		rank_of = NULL;
	}
	free(rank);
	free(ids);
	return order;
}

static struct loadjob {
	git_repository *r2;
	size_t *order;
	struct loader main_l, helper;
	pthread_t th;
	int started, live;
} lj;

/* Loads every page to load; the dating thread may still run after.
 * Returns 0, or -1 when no second repository handle can be opened. */
static int load_begin(build *b)
{
	memset(&lj, 0, sizeof lj);
	if (b->src.repo && git_repository_open(&lj.r2, git_repository_path(b->src.repo)) != 0) {
		const git_error *e = git_error_last();
		return io_fail(b, sg_xasprintf("reopening repository: %s", e ? e->message : "?"));
	}
	load_next = load_done = load_total = 0;
	for (size_t i = 0; i < b->site.npages; i++) load_total += b->ps[i].render != 0;
	lj.order = load_order(b);
	for (int k = 0; k < 2; k++)
		if (!b->zd[k]) b->zd[k] = sg_zdict_new();
	int flush = !b->incremental && b->src.repo && !b->src.workdir;
	lj.main_l = (struct loader){ b, b->src.repo, 0, 0, b->zd[0], lj.order, 0, 0 };
	lj.helper = (struct loader){ b, lj.r2, 1, flush, b->zd[1], lj.order, 0, 0 };
	lj.r2 = NULL;   /* lj.helper.repo owns it (flush_dates replaces it) */
	lj.live = 1;
	flush_want = flush_done = 0;
	main_loading = helper_loading = 1;
	lj.started = pthread_create(&lj.th, NULL, load_work, &lj.helper) == 0;
	if (!lj.started) main_loading = 0;
	if (!lj.started) load_work(&lj.helper);   /* no thread: date (and load) here */
	load_work(&lj.main_l);
	pthread_mutex_lock(&load_lock);
	while (load_done < load_total && helper_loading) pthread_cond_wait(&load_cond, &load_lock);
	int unloaded = load_done < load_total;   /* both handles failed: reported */
	pthread_mutex_unlock(&load_lock);
	return unloaded ? -1 : 0;
}

/* Joins the dating thread (also on error paths: see cleanup). */
static int load_end(build *b)
{
	if (!lj.live) return b->err ? -1 : 0;
	if (lj.started) pthread_join(lj.th, NULL);
	git_repository_free(lj.helper.repo);
	free(lj.order);
	b->st->parsed += lj.main_l.parsed + lj.helper.parsed;
	memset(&lj, 0, sizeof lj);
	return b->err ? -1 : 0;
}

static char *alias_output(const char *alias)
{
	const char *a = alias + 1;   /* validated: starts with '/' */
	if (!*a || sg_ends_with(a, "/")) return sg_xasprintf("%sindex.html", a);
	if (sg_ends_with(a, ".html")) return sg_xstrdup(a);
	return sg_xasprintf("%s/index.html", a);
}

/* Tags as written ("Billing") map to tag pages by slug ("billing").  A
 * 10k-page site repeats a few dozen names 20,000 times: each distinct name
 * is slugified once (by_name), not each use. */
#define NO_SLUG (SG_NONE - 1)

static void collect_tags(build *b)
{
	sg_site *s = &b->site;
	sg_map by_name = {0};   /* borrows the pages' tag strings */
	for (size_t i = 0; i < s->npages; i++) {
		sg_page *p = &s->pages[i];
		if (p->draft) continue;
		for (size_t k = 0; k < p->tags.n; k++) {
			const char *nm = p->tags.v[k];
			size_t t = sg_map_get(&by_name, nm);
			if (t == SG_NONE) {
				char *slug = sg_slugify(nm);
				if (!*slug) {
					t = NO_SLUG;
					free(slug);
				} else if ((t = sg_map_get(&b->tag_by_slug, slug)) == SG_NONE) {
					sg_grow(&b->tags, &b->tcap, b->ntags, sizeof *b->tags);
					t = b->ntags++;
					memset(&b->tags[t], 0, sizeof b->tags[t]);
					b->tags[t].name = sg_xstrdup(nm);
					b->tags[t].slug = slug;
					/* The map borrows the slug, a separate allocation:
					 * it does not move when b->tags grows. */
					sg_map_put(&b->tag_by_slug, b->tags[t].slug, t);
				} else {
					free(slug);
				}
				sg_map_put(&by_name, nm, t);
			}
			if (t == NO_SLUG) {
				sg_error(&b->d, NULL, 0, "%s%s: tag '%s' has no letters or digits", b->src.content_prefix,
				         p->path, nm);
				continue;
			}
			tag *tg = &b->tags[t];
			if (tg->npages && tg->pages[tg->npages - 1] == i) continue;
			sg_grow(&tg->pages, &tg->cap, tg->npages, sizeof *tg->pages);
			tg->pages[tg->npages++] = i;
		}
	}
	sg_map_free(&by_name);
}

static void claim_all(build *b)
{
	sg_site *s = &b->site;
	const char *pre = b->src.content_prefix;
	for (size_t i = 0; i < s->npages; i++) {
		sg_page *p = &s->pages[i];
		if (p->draft) continue;
		char *src = sg_xasprintf("%s%s", pre, p->path);
		char *out = sg_xasprintf("%sindex.html", p->url);
		claim(b, out, src);
		free(out);
		for (size_t k = 0; k < p->aliases.n; k++) {
			out = alias_output(p->aliases.v[k]);
			char *why = sg_xasprintf("%s (alias %s)", src, p->aliases.v[k]);
			claim(b, out, why);
			free(why);
			free(out);
		}
		free(src);
	}
	for (size_t i = 0; i < s->nstatics; i++) {
		char *src = sg_xasprintf("%s%s", pre, s->statics[i].path);
		claim(b, s->statics[i].path, src);
		free(src);
	}
	static const char *const fixed[] = { "404.html", "sitemap.xml", "feed.xml", "robots.txt",
	                                     "search/index.html", "tags/index.html", SG_MANIFEST_NAME };
	for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) claim(b, fixed[i], "sitegen");
	for (size_t i = 0; i < b->theme.nassets; i++) {
		char *out = sg_xasprintf("assets/%s", b->theme.assets[i].name);
		claim(b, out, "the theme");
		free(out);
	}
	for (size_t t = 0; t < b->ntags; t++) {
		char *out = sg_xasprintf("tags/%s/index.html", b->tags[t].slug);
		char *why = sg_xasprintf("tag '%s'", b->tags[t].name);
		claim(b, out, why);
		free(why);
		free(out);
	}
}

/* Does this build produce exactly the previous build's pages, aliases,
 * static files and tag pages?  Then the output paths are the ones the
 * previous build claimed without a clash (the theme and settings are the
 * same, or the build would not be incremental), and claim_all, which
 * lowercases and hashes every output path, has nothing to find. */
static int outputs_unchanged(build *b)
{
	const sg_site *s = &b->site, *os = &b->old.site;
	if (!b->incremental || s->npages != os->npages || s->nstatics != os->nstatics) return 0;
	for (size_t i = 0; i < s->npages; i++) {
		const sg_page *p = &s->pages[i];
		size_t oi = b->ps[i].old;
		if (oi == SG_NONE) return 0;
		if (!p->parsed) continue;   /* metadata taken from the manifest: the same */
		const sg_page *o = &os->pages[oi];
		if (p->draft != o->draft || p->aliases.n != o->aliases.n) return 0;
		for (size_t k = 0; k < p->aliases.n; k++)
			if (strcmp(p->aliases.v[k], o->aliases.v[k])) return 0;
	}
	for (size_t i = 0; i < s->nstatics; i++)
		if (strcmp(s->statics[i].path, os->statics[i].path)) return 0;
	/* Tag pages: the previous build listed one key per tag page. */
	if (b->ntags != b->old.nlists) return 0;
	for (size_t t = 0; t < b->ntags; t++) {
		char *out = sg_xasprintf("tags/%s/index.html", b->tags[t].slug);
		size_t k = 0;
		while (k < b->old.nlists && strcmp(b->old.lists[k], out)) k++;
		free(out);
		if (k == b->old.nlists) return 0;
	}
	return 1;
}

static int emit(build *b, const char *rel, sg_buf *data)
{
	char *err = NULL;
	int rc = sg_out_write(&b->out, rel, data->data ? data->data : "", data->len, &err);
	data->len = 0;
	if (data->data) data->data[0] = '\0';
	return rc == 0 ? 0 : io_fail(b, err);
}

static int old_had_output(build *b, const char *rel)
{
	size_t lo = 0, hi = b->old.noutputs;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(b->old.outputs[mid], rel);
		if (!c) return 1;
		if (c < 0) lo = mid + 1; else hi = mid;
	}
	return 0;
}

/* Decides which pages this build renders: every page parsed now, and every
 * unchanged page whose key (its inputs, including what it lists) changed or
 * whose output is missing.  Loads the source of the latter. */
static int plan_pages(build *b)
{
	sg_site *s = &b->site;
	int rc = 0;
	for (size_t i = 0; i < s->npages; i++) {
		sg_page *p = &s->pages[i];
		if (p->draft) { drop_source(b, i); continue; }
		b->st->pages++;
		p->key = sg_page_key(&b->r, i, b->settings);
		char *out = sg_xasprintf("%sindex.html", p->url);
		size_t oi = b->ps[i].old;
		if (!p->parsed && oi != SG_NONE && b->old.site.pages[oi].key == p->key && old_had_output(b, out)) {
			sg_strs_push(&b->kept, out);
			for (size_t k = 0; k < p->aliases.n; k++) {
				char *ao = alias_output(p->aliases.v[k]);
				sg_strs_push(&b->kept, ao);
				free(ao);
			}
		} else {
			b->ps[i].render = 1;
			if (!b->ps[i].have && load_page(b, b->zd[0], i) != 0) rc = -1;
		}
		free(out);
	}
	return rc;
}

/* Feeds page i's search text to idx and frees the text: the index keeps
 * only terms and an excerpt, so no build holds every page's text. */
static void index_page(build *b, sg_search *idx, size_t i)
{
	sg_page *p = &b->site.pages[i];
	sg_buf heads = {0};
	for (size_t k = 0; k < p->headings.n; k++) {
		if (k) sg_buf_putc(&heads, '\n');
		sg_buf_puts(&heads, p->headings.v[k]);
	}
	char *url = sg_xasprintf("/%s", p->url);
	const char *section = p->parent != SG_NONE ? b->site.pages[p->parent].title : "";
	sg_search_add(idx, url, p->title, section, heads.data ? heads.data : "", p->text);
	free(url);
	sg_buf_free(&heads);
	free(p->text);
	p->text = NULL;
}

/* Renders page i: Markdown, then (unless checking) template and file.
 * A page whose source changed goes to the search index idx (pages whose
 * source did not change keep their entries: see write_search). */
static int render_one(build *b, git_repository *repo, size_t i, sg_buf *buf, sg_buf *src,
                      sg_search *idx, sg_render_cache *rc_cache)
{
	sg_page *p = &b->site.pages[i];
	struct pstate *ps = &b->ps[i];
	/* A held source is decompressed into the thread's buffer src. */
	const char *data;
	size_t len;
	if (!ps->data && ps->zs.held) {
		if (unpack_source(b, i, src) != 0) { drop_source(b, i); return -1; }
		data = src->data, len = src->len;
	} else {
		if (read_source(b, repo, i) != 0) { drop_source(b, i); return -1; }
		data = ps->data, len = ps->len;
	}
	char *file = sg_xasprintf("%s%s", b->src.content_prefix, p->path);
	sg_mdpage md = {0};
	int rc = sg_page_body(p, file, data, len, &ps->fm, b->cfg.allow_html, b->base, &md, &b->d);
	free(file);
	free(ps->data);   /* the body is rendered: not needed while templating */
	ps->data = NULL;
	sg_zsrc_free(&ps->zs);
	if (rc == 0 && !b->o->check_only) {
		sg_buf toc = {0};
		sg_md_toc(&md, &toc);
		sg_render_page_cached(&b->r, rc_cache, i, md.html.data ? md.html.data : "",
		                      toc.data ? toc.data : "", md.faqld.data ? md.faqld.data : "", buf);
		sg_buf_free(&toc);
		char *out = sg_xasprintf("%sindex.html", p->url);
		rc = emit(b, out, buf);
		free(out);
		for (size_t k = 0; k < p->aliases.n && rc == 0; k++) {
			char *ao = alias_output(p->aliases.v[k]);
			sg_render_redirect(&b->r, i, buf);
			rc = emit(b, ao, buf);
			free(ao);
		}
		if (rc == 0 && p->parsed && idx) index_page(b, idx, i);
	}
	sg_md_free(&md);
	drop_source(b, i);
	return rc;
}

struct worker {
	build *b;
	size_t rendered;
	sg_search *idx;   /* this thread's part of the search index */
	git_repository *repo;   /* this thread's handle (libgit2 objects are per thread) */
	int trimmer;            /* this thread trims the heap (full builds) */
	int rc;
};

#define SG_TRIM_RUNS 32   /* runs of SG_CHUNK pages between two heap trims */

/* Threads take pages in runs of SG_CHUNK consecutive ones (a section's
 * pages are consecutive): the threads then mostly create files in different
 * folders, which a filesystem serializes per folder, and a thread whose
 * core is busy with another program simply takes fewer runs. */
#define SG_CHUNK 32
static size_t render_next;
static pthread_mutex_t render_lock = PTHREAD_MUTEX_INITIALIZER;

/* Pages loaded in this run hold their source; a page whose source must be
 * read (an unchanged page whose listing changed) makes its thread open a
 * handle of its own on the repository, once. */
static int worker_repo(struct worker *w, size_t i)
{
	build *b = w->b;
	if (w->repo || b->ps[i].data || b->ps[i].zs.held || !b->src.gitdir || b->src.workdir) return 0;
	if (git_repository_open(&w->repo, b->src.gitdir) == 0) return 0;
	const git_error *e = git_error_last();
	w->repo = NULL;
	return io_fail(b, sg_xasprintf("reopening repository: %s", e ? e->message : "?"));
}

static void *work(void *arg)
{
	struct worker *w = arg;
	sg_buf buf = {0}, src = {0};
	sg_render_cache cache = {0};
	size_t n = w->b->site.npages;
	for (;;) {
		pthread_mutex_lock(&render_lock);
		size_t first = render_next;
		render_next = first < n ? first + SG_CHUNK : n;
		pthread_mutex_unlock(&render_lock);
		if (first >= n) break;
		size_t end = first + SG_CHUNK < n ? first + SG_CHUNK : n;
		for (size_t i = first; i < end; i++) {
			if (!w->b->ps[i].render) continue;
			if (worker_repo(w, i) != 0 || render_one(w->b, w->repo, i, &buf, &src, w->idx, &cache) != 0)
				w->rc = -1;
			w->rendered++;
		}
		/* Rendering frees each page's held source while the search
		 * index grows elsewhere in the heap: trimmed now and then, the
		 * freed pages do not stay resident beside it (one thread does,
		 * about 1 ms each: -5 MB peak RSS on the bench). */
		if (w->trimmer && (first / SG_CHUNK) % SG_TRIM_RUNS == SG_TRIM_RUNS - 1) malloc_trim(0);
	}
	sg_render_cache_free(&cache);
	sg_buf_free(&buf);
	sg_buf_free(&src);
	sg_md_thread_done();
	sg_tv_thread_done();
	return NULL;
}

/* Pages are independent once the site is linked: render them on up to
 * SG_THREADS threads (each page is written by exactly one thread; shared
 * state is read-only except diagnostics and errors, which are locked). */
#define SG_THREADS 2

static int render_pages(build *b)
{
	struct worker w[SG_THREADS];
	pthread_t th[SG_THREADS];
	int started[SG_THREADS] = { 0 };
	render_next = 0;
	for (int k = 0; k < SG_THREADS; k++) {
		w[k] = (struct worker){ b, 0, NULL, NULL, k == 0 && !b->incremental, 0 };
		if (!b->o->check_only) w[k].idx = sg_search_new();
		if (k > 0) started[k] = pthread_create(&th[k], NULL, work, &w[k]) == 0;
	}
	work(&w[0]);
	int rc = w[0].rc;
	b->st->rendered += w[0].rendered;
	git_repository_free(w[0].repo);
	for (int k = 1; k < SG_THREADS; k++) {
		if (started[k]) pthread_join(th[k], NULL);
		else work(&w[k]);   /* no thread: do its share here */
		if (w[k].rc) rc = -1;
		b->st->rendered += w[k].rendered;
		sg_search_merge(w[0].idx, w[k].idx);
		git_repository_free(w[k].repo);
	}
	b->sidx = w[0].idx;
	if (b->o->check_only) b->st->rendered = 0;
	return rc;
}

static int cmp_tag(const void *a, const void *b)
{
	return strcmp(((const tag *)a)->slug, ((const tag *)b)->slug);
}

static const sg_site *title_site;

static int cmp_by_title(const void *a, const void *b)
{
	const sg_page *x = &title_site->pages[*(const size_t *)a], *y = &title_site->pages[*(const size_t *)b];
	int c = strcmp(x->title, y->title);
	return c ? c : strcmp(x->path, y->path);
}

static int render_site_files(build *b)
{
	sg_site *s = &b->site;
	sg_buf buf = {0};
	int rc = 0;
	/* Tag pages. */
	if (b->ntags > 1) qsort(b->tags, b->ntags, sizeof *b->tags, cmp_tag);
	sg_tv *all = sg_tv_list();
	title_site = s;
	/* What a tag page shows of each page (its card), hashed once per page
	 * rather than once per tag the page has. */
	uint64_t *cards = sg_xcalloc(s->npages ? s->npages : 1, sizeof *cards);
	for (size_t t = 0; t < b->ntags; t++)
		for (size_t k = 0; k < b->tags[t].npages; k++) {
			size_t i = b->tags[t].pages[k];
			if (cards[i]) continue;
			const sg_page *p = &s->pages[i];
			cards[i] = sg_hash_str(sg_hash_str(sg_hash_str(SG_HASH_SEED, p->url), p->title), p->description) | 1;
		}
	for (size_t t = 0; t < b->ntags && rc == 0; t++) {
		tag *tg = &b->tags[t];
		char *url = sg_xasprintf("tags/%s/", tg->slug);
		char *out = sg_xasprintf("%sindex.html", url);
		sg_tv *o = sg_tv_obj();
		sg_tv_sets(o, "name", tg->name);
		sg_tv_set(o, "url", sg_tv_str_own(sg_xasprintf("%s%s", b->base, url)));
		sg_tv_set(o, "count", sg_tv_str_own(sg_xasprintf("%zu", tg->npages)));
		sg_tv_push(all, o);
		/* A tag page shows its pages' titles and descriptions: skip it
		 * when none of that changed.  The key is taken in page order
		 * (collect_tags adds pages in path order), before sorting by
		 * title: the title order follows from the same (url, title)
		 * set, and an unchanged tag then costs no sort (thousands of
		 * strcmps per tag on a 10k-page site). */
		uint64_t key = sg_hash(SG_HASH_SEED, &b->settings, sizeof b->settings);
		key = sg_hash_str(key, tg->name);
		for (size_t k = 0; k < tg->npages; k++) key = sg_hash(key, &cards[tg->pages[k]], sizeof *cards);
		sg_manifest_add_list(&b->lists, out, key);
		if (b->incremental && sg_manifest_list_key(&b->old, out) == key && old_had_output(b, out)) {
			sg_strs_push(&b->kept, out);
			free(out);
			free(url);
			continue;
		}
		qsort(tg->pages, tg->npages, sizeof *tg->pages, cmp_by_title);
		sg_tv *ctx = sg_tv_obj(), *pages = sg_tv_list();
		for (size_t k = 0; k < tg->npages; k++) {
			const sg_page *p = &s->pages[tg->pages[k]];
			sg_tv *card = sg_tv_obj();
			sg_tv_sets(card, "title", p->title);
			sg_tv_sets(card, "description", p->description);
			sg_tv_set(card, "url", sg_tv_str_own(sg_xasprintf("%s%s", b->base, p->url)));
			sg_tv_push(pages, card);
		}
		sg_tv_set(ctx, "pages", pages);
		char *title = sg_xasprintf("Topic: %s", tg->name);
		sg_render_special(&b->r, SG_T_TAG, title, url, ctx, &buf);
		rc = emit(b, out, &buf);
		free(out);
		free(title);
		free(url);
	}
	free(cards);
	sg_tv *ctx = sg_tv_obj();
	sg_tv_set(ctx, "tags", all);
	sg_render_special(&b->r, SG_T_TAGS, "Topics", "tags/", ctx, &buf);
	if (rc == 0) rc = emit(b, "tags/index.html", &buf);
	sg_render_special(&b->r, SG_T_SEARCH, "Search", "search/", sg_tv_obj(), &buf);
	if (rc == 0) rc = emit(b, "search/index.html", &buf);
	sg_render_special(&b->r, SG_T_404, "Page not found", "404.html", sg_tv_obj(), &buf);
	if (rc == 0) rc = emit(b, "404.html", &buf);
	sg_render_sitemap(&b->r, &buf);
	if (rc == 0) rc = emit(b, "sitemap.xml", &buf);
	sg_render_feed(&b->r, &buf);
	if (rc == 0) rc = emit(b, "feed.xml", &buf);
	sg_render_robots(&b->r, &buf);
	if (rc == 0) rc = emit(b, "robots.txt", &buf);
	for (size_t i = 0; i < b->theme.nassets && rc == 0; i++) {
		char *out = sg_xasprintf("assets/%s", b->theme.assets[i].name);
		sg_buf_put(&buf, b->theme.assets[i].data, b->theme.assets[i].len);
		rc = emit(b, out, &buf);
		free(out);
	}
	/* Static files: copied unless unchanged since the last build. */
	for (size_t i = 0; i < s->nstatics && rc == 0; i++) {
		const sg_static *st = &s->statics[i];
		int same = 0;
		if (b->incremental) {
			for (size_t k = 0; k < b->old.site.nstatics; k++)   /* few statics: linear is fine */
				if (!strcmp(b->old.site.statics[k].path, st->path)) {
					same = git_oid_equal(&b->old.site.statics[k].oid, &st->oid) && old_had_output(b, st->path);
					break;
				}
		}
		if (same) { sg_strs_push(&b->kept, st->path); continue; }
		const sg_srcfile f = { st->path, st->oid };
		char *data = NULL, *err = NULL;
		size_t len = 0;
		if (sg_source_read(&b->src, &f, &data, &len, &err) != 0) {
			sg_error(&b->d, NULL, 0, "%s%s: %s", b->src.content_prefix, st->path, err);
			free(err);
			rc = -1;
			break;
		}
		char *e2 = NULL;
		if (sg_out_write(&b->out, st->path, data, len, &e2) != 0) rc = io_fail(b, e2);
		free(data);
	}
	sg_buf_free(&buf);
	return rc;
}

/* Hash of every input of the search index. */
static uint64_t search_hash(build *b)
{
	sg_site *s = &b->site;
	uint64_t h = SG_HASH_SEED;
	for (size_t i = 0; i < s->npages; i++) {
		const sg_page *p = &s->pages[i];
		if (p->draft) continue;
		h = sg_hash_str(h, p->url);
		h = sg_hash_str(h, p->title);
		h = sg_hash_str(h, p->parent != SG_NONE ? s->pages[p->parent].title : "");
		for (size_t k = 0; k < p->headings.n; k++) h = sg_hash_str(h, p->headings.v[k]);
		h = sg_hash(h, &p->text_hash, sizeof p->text_hash);
	}
	return h;
}

/* The search index of a small change is patched (searchpatch.h) rather
 * than read back whole.  These are the pieces build.c gives it. */
struct idctx { const sg_site *s; };

/* Page id of url ("/a/b/") in the index: its rank among published URLs.
 * Linear: the patch is taken only for a few pages. */
static uint32_t page_id(const char *url, void *vctx)
{
	const sg_site *s = ((const struct idctx *)vctx)->s;
	uint32_t id = 0;
	int found = 0;
	if (url[0] != '/') return UINT32_MAX;
	for (size_t i = 0; i < s->npages; i++) {
		const sg_page *p = &s->pages[i];
		if (p->draft) continue;
		int c = strcmp(p->url, url + 1);
		id += c < 0;
		found |= c == 0;
	}
	return found ? id : UINT32_MAX;
}

static int has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20) return 1;
	return 0;
}

static int same_strs(const sg_strs *a, const sg_strs *b)
{
	if (a->n != b->n) return 0;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i])) return 0;
	return 1;
}

/* Adds the previous version of page i (old manifest page o, whose blob is
 * still in the repository) to before, as index_page added it then.
 * Returns 0, or 1 when it cannot be read or parsed again. */
static int add_old_version(build *b, git_repository *repo, sg_search *before, size_t i, const sg_page *o)
{
	sg_page op;
	memset(&op, 0, sizeof op);
	op.path = o->path;
	const sg_srcfile f = { o->path, o->oid };
	char *data = NULL, *err = NULL;
	size_t len = 0;
	if (sg_source_read_in(&b->src, repo, &f, &data, &len, &err) != 0) { free(err); return 1; }
	sg_diag d = { 0, 0, 1 };
	sg_front fm;
	sg_mdpage md = {0};
	char *file = sg_xasprintf("%s%s", b->src.content_prefix, o->path);
	int rc = sg_page_front(&op, file, data, len, &fm, &d) == 0
	         && sg_page_body(&op, file, data, len, &fm, b->cfg.allow_html, b->base, &md, &d) == 0 ? 0 : 1;
	if (rc == 0) {
		sg_buf heads = {0};
		for (size_t k = 0; k < op.headings.n; k++) {
			if (k) sg_buf_putc(&heads, '\n');
			sg_buf_puts(&heads, op.headings.v[k]);
		}
		char *url = sg_xasprintf("/%s", b->site.pages[i].url);
		sg_search_add(before, url, op.title, "", heads.data ? heads.data : "", op.text);
		free(url);
		sg_buf_free(&heads);
	}
	sg_md_free(&md);
	sg_front_free(&fm);
	sg_page_clear_meta(&op);
	free(file);
	free(data);
	return rc;
}

/* Patches the previous index for this build's changes.  Returns 0 when
 * done, 1 when the change does not suit a patch (pages appeared, vanished
 * or moved, many changed, no previous blob to compare with), -1 on I/O
 * errors. */
#define PATCH_MAX_PAGES 64
static int patch_search(build *b, const char *outdir)
{
	sg_site *s = &b->site;
	git_repository *repo;
	if (!b->incremental || b->o->worktree || !b->sidx) return 1;
	if (main_repo(b, &repo) != 0) return -1;
	size_t nold = 0, nnew = 0;
	for (size_t i = 0; i < b->old.site.npages; i++) nold += !b->old.site.pages[i].draft;
	for (size_t i = 0; i < s->npages; i++) {
		if (s->pages[i].draft) continue;
		nnew++;
		size_t oi = b->ps[i].old;
		if (oi == SG_NONE || b->old.site.pages[oi].draft) return 1;
	}
	if (nold != nnew) return 1;
	sg_search *before = sg_search_new();
	sg_si_pagefix *fixes = NULL;
	size_t nfixes = 0, fcap = 0, changed = 0;
	struct idctx ctx = { s };
	int rc = 0;
	for (size_t i = 0; i < s->npages && rc == 0; i++) {
		const sg_page *p = &s->pages[i];
		if (p->draft) continue;
		/* A page whose blob changed was not taken from the manifest
		 * (steal_meta): the old manifest still holds its previous
		 * metadata.  Parsed pages are in b->sidx (the "after" side). */
		const sg_page *o = &b->old.site.pages[b->ps[i].old];
		if (p->parsed) {
			if (++changed > PATCH_MAX_PAGES) rc = 1;
			else if (!git_oid_equal(&p->oid, &o->oid)
			         && (strcmp(p->title, o->title) || p->text_hash != o->text_hash
			             || !same_strs(&p->headings, &o->headings)))
				rc = add_old_version(b, repo, before, i, o);
			continue;
		}
		/* Unchanged page under a retitled section: its chunk entry. */
		if (p->parent == SG_NONE) continue;
		const sg_page *np = &s->pages[p->parent], *op = &b->old.site.pages[b->ps[p->parent].old];
		if (git_oid_equal(&np->oid, &op->oid) || !strcmp(op->title, np->title)) continue;
		if (++changed > PATCH_MAX_PAGES || has_ctl(p->title) || has_ctl(np->title)) { rc = 1; break; }
		char *url = sg_xasprintf("/%s", p->url);
		sg_grow(&fixes, &fcap, nfixes, sizeof *fixes);
		fixes[nfixes++] = (sg_si_pagefix){ url, page_id(url, &ctx), p->title, np->title };
	}
	char **kept = NULL, *err = NULL;
	size_t nkept = 0;
	if (rc == 0)
		rc = sg_search_patch(outdir, b->out.stage, nnew, before, b->sidx, fixes, nfixes, page_id, &ctx,
		                     &kept, &nkept, &err);
	for (size_t i = 0; i < nkept; i++) {
		sg_strs_push(&b->kept, kept[i]);
		free(kept[i]);
	}
	free(kept);
	for (size_t i = 0; i < nfixes; i++) free((char *)fixes[i].url);
	free(fixes);
	sg_search_free(before);
	if (rc < 0) return io_fail(b, err ? err : sg_xstrdup("search index: patch failed"));
	free(err);
	return rc;
}

/* Writes the search index.  Pages parsed in this build were indexed while
 * rendering (b->sidx).  In an incremental build the previous index is read
 * back from <out>/search and every other page keeps its entry there, so
 * only changed pages are tokenized and only shards whose bytes change are
 * written; a page the old index lacks (or a missing index) has its text
 * rendered again. */
static int write_search(build *b, const char *outdir)
{
	sg_site *s = &b->site;
	/* A full build writes the index whatever its hash (write_rest hashes
	 * meanwhile, on the other thread). */
	int same = 0;
	if (b->incremental) {
		b->search = search_hash(b);
		same = b->old.search == b->search && old_had_output(b, "search/meta.json");
	}
	if (same) {
		/* Nothing the index is made of changed: keep its files. */
		for (size_t i = 0; i < b->old.noutputs; i++)
			if (!strncmp(b->old.outputs[i], "search/", 7) && strcmp(b->old.outputs[i], "search/index.html"))
				sg_strs_push(&b->kept, b->old.outputs[i]);
		return 0;
	}
	int prc = patch_search(b, outdir);
	b->st->search_patched = prc == 0;
	if (prc <= 0) return prc;
	char *err = NULL;
	sg_search *idx = b->incremental ? sg_search_load(outdir, &err) : NULL;
	if (err) { sg_warn(&b->d, NULL, 0, "%s; indexing every page", err); free(err); err = NULL; }
	if (idx) { sg_search_merge(idx, b->sidx); b->sidx = idx; }
	idx = b->sidx;
	stage("search rd");
	for (size_t i = 0; i < s->npages; i++) {
		sg_page *p = &s->pages[i];
		if (p->draft || p->parsed) continue;
		char *url = sg_xasprintf("/%s", p->url);
		const char *section = p->parent != SG_NONE ? s->pages[p->parent].title : "";
		int kept = sg_search_keep(idx, url, p->title, section);
		free(url);
		if (kept == 0) continue;
		if (!b->ps[i].have && load_page(b, NULL, i) != 0) return -1;   /* read next */
		git_repository *repo;
		if (main_repo(b, &repo) != 0 || read_source(b, repo, i) != 0) return -1;
		sg_mdpage md = {0};
		char *file = sg_xasprintf("%s%s", b->src.content_prefix, p->path);
		int rc = sg_page_body(p, file, b->ps[i].data, b->ps[i].len, &b->ps[i].fm,
		                      b->cfg.allow_html, b->base, &md, &b->d);
		free(file);
		sg_md_free(&md);
		drop_source(b, i);
		if (rc != 0) return -1;
		index_page(b, idx, i);
	}
	char **kept = NULL;
	size_t nkept = 0;
	stage("search add");
	sg_search_last_write(idx);   /* freed by cleanup next */
	int rc = sg_search_write_kept(idx, b->out.stage, &kept, &nkept, &err);
	for (size_t i = 0; i < nkept; i++) {
		sg_strs_push(&b->kept, kept[i]);
		free(kept[i]);
	}
	free(kept);
	if (rc != 0) return io_fail(b, err ? err : sg_xstrdup("search index: write failed"));
	return 0;
}

struct search_job {
	build *b;
	const char *outdir;
	int rc;
};

static void *search_work(void *arg)
{
	struct search_job *j = arg;
	stage_quiet = 1;
	j->rc = write_search(j->b, j->outdir);
	return NULL;
}

/* The site files (tag pages, sitemap, feed, assets, statics) and the search
 * index.  In a full build they share nothing but read-only state, so the
 * index (its encoding and 1,100 files: the longest single-threaded step of
 * a 10k-page build) is written on a second thread meanwhile.  An
 * incremental build reads the previous index and adds to the kept list
 * from both, so it does one after the other. */
static void manifest_fields(build *b, sg_manifest *m);

static int write_rest(build *b, const char *outdir)
{
	struct search_job j = { b, outdir, 0 };
	pthread_t th;
	int started = !b->incremental && pthread_create(&th, NULL, search_work, &j) == 0;
	if (!b->incremental) b->search = search_hash(b);   /* for the manifest; not read by the thread */
	int rc = render_site_files(b);
	if (rc == 0 && started) {
		/* Nothing the manifest says but its outputs depends on the search
		 * index: write the rest while the index is being written. */
		sg_manifest m;
		manifest_fields(b, &m);
		char *mp = sg_path_join(b->out.stage, SG_MANIFEST_NAME);
		b->mw = sg_manifest_begin(&m, mp);
		if (!b->mw) rc = io_fail(b, sg_xasprintf("%s: %s", mp, strerror(errno)));
		free(mp);
	}
	stage("site files");
	if (started) sg_out_sort_written(&b->out);   /* for finish, while the index is written */
	if (started) pthread_join(th, NULL);
	else if (rc == 0) j.rc = write_search(b, outdir);
	stage("search");
	return rc != 0 || j.rc != 0 ? -1 : 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The manifest of this build but its outputs (borrowed from b). */
static void manifest_fields(build *b, sg_manifest *m)
{
	memset(m, 0, sizeof *m);
	m->settings = b->settings;
	m->search = b->search;
	m->commit = b->src.commit_id;
	m->have_commit = b->src.have_commit;
	m->site = b->site;
	m->dates = b->dates;
	m->lists = b->lists.lists, m->list_keys = b->lists.list_keys, m->nlists = b->lists.nlists;
}

/* A full build's outputs are sg_out_list_written's list, sorted already. */
static int sorted_strs(char *const *v, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (strcmp(v[i - 1], v[i]) > 0) return 0;
	return 1;
}

static int finish(build *b)
{
	char **staged = NULL, *err = NULL;
	size_t nst = 0;
	/* The search index writes its files itself; everything else went
	 * through emit. */
	if (sg_out_list_written(&b->out, "search", &staged, &nst, &err) != 0) return io_fail(b, err);
	stage("list");
	sg_manifest m;
	manifest_fields(b, &m);
	for (size_t i = 0; i < nst; i++) {
		sg_grow(&m.outputs, &m.ocap, m.noutputs, sizeof *m.outputs);
		m.outputs[m.noutputs++] = staged[i];
	}
	for (size_t i = 0; i < b->kept.n; i++) {
		sg_grow(&m.outputs, &m.ocap, m.noutputs, sizeof *m.outputs);
		m.outputs[m.noutputs++] = b->kept.v[i];
	}
	if (!sorted_strs(m.outputs, m.noutputs)) qsort(m.outputs, m.noutputs, sizeof *m.outputs, cmp_str);
	/* Streamed into the staging folder (the writer's own file, like the
	 * search index), not built in memory first. */
	char *mp = sg_path_join(b->out.stage, SG_MANIFEST_NAME);
	int rc = 0;
	int wrc = b->mw ? sg_manifest_end(b->mw, &m) : sg_manifest_write(&m, mp);
	b->mw = NULL;
	if (wrc != 0) rc = io_fail(b, sg_xasprintf("%s: %s", mp, strerror(errno)));
	free(mp);
	stage("manifest");
	if (rc == 0 && sg_out_commit(&b->out, b->old.outputs, b->old.noutputs, m.outputs, m.noutputs, &err) != 0)
		rc = io_fail(b, err);
	b->st->written = b->incremental ? b->out.written : nst + 1;
	b->st->unchanged = b->out.unchanged;
	b->st->removed = b->out.removed;
	for (size_t i = 0; i < nst; i++) free(staged[i]);
	free(staged);
	free(m.outputs);
	return rc;
}

/* The previous manifest is read on a thread of its own while the source
 * is opened (a 10k-page manifest takes about as long as listing the tree);
 * old_join waits for it. */
static void *old_work(void *arg)
{
	build *b = arg;
	b->old_rc = sg_manifest_load(&b->old, b->old_path);
	return NULL;
}

static void old_begin(build *b, const char *outdir)
{
	b->old_path = sg_path_join(outdir, SG_MANIFEST_NAME);
	b->old_live = 1;
	b->old_started = pthread_create(&b->old_th, NULL, old_work, b) == 0;
	if (!b->old_started) old_work(b);
}

/* 1 when a usable manifest was loaded. */
static int old_join(build *b)
{
	if (!b->old_live) return 0;
	if (b->old_started) pthread_join(b->old_th, NULL);
	b->old_live = b->old_started = 0;
	free(b->old_path);
	b->old_path = NULL;
	b->have_old = b->old_rc == 0;
	return b->have_old;
}

static void cleanup(build *b)
{
	sg_md_thread_done();   /* pages parsed on this thread outside work() */
	sg_tv_thread_done();
	load_end(b);   /* the dating thread writes pages: stop it first */
	old_join(b);
	if (b->mw) sg_manifest_end(b->mw, NULL);   /* in the staging folder: goes with it */
	b->mw = NULL;
	if (b->out_open) sg_out_abort(&b->out);
	if (b->o->exiting) {
		/* Only what outlives the process is cleaned up: the staging
		 * folder (above) and the repository handle. */
		sg_source_close(&b->src);
		free(b->err);
		return;
	}
	for (size_t i = 0; b->ps && i < b->site.npages; i++) drop_source(b, i);
	free(b->ps);
	for (int k = 0; k < 2; k++) sg_zdict_free(b->zd[k]);
	for (size_t t = 0; t < b->ntags; t++) free(b->tags[t].name), free(b->tags[t].slug), free(b->tags[t].pages);
	free(b->tags);
	sg_map_free(&b->tag_by_slug);
	sg_map_free(&b->claims);
	sg_strs_free(&b->claim_keys);
	sg_strs_free(&b->claim_src);
	sg_strs_free(&b->kept);
	sg_site_free(&b->site);
	sg_gdates_free(&b->dates);
	if (b->have_old) sg_manifest_free(&b->old);
	sg_manifest_free(&b->lists);
	sg_search_free(b->sidx);
	sg_theme_free(&b->theme);
	sg_config_free(&b->cfg);
	free(b->base), free(b->abs);
	sg_source_close(&b->src);
	free(b->err);
}

int sg_build(const sg_build_opts *o, sg_build_stats *st)
{
	build B, *b = &B;
	memset(b, 0, sizeof *b);
	pthread_mutex_init(&b->lock, NULL);
	memset(st, 0, sizeof *st);
	b->o = o;
	b->st = st;
	b->d.quiet_warnings = o->quiet;
	int code = SG_EXIT_OK;
	const char *outdir = o->out ? o->out : "_site";

	stage(NULL);
	if (!o->check_only) old_begin(b, outdir);
	if (sg_source_open(&b->src, o->repo ? o->repo : ".", o->ref, o->worktree, o->content, &b->d, &b->err) != 0)
		goto io;
	stage("source");
	if (load_config(b) != 0) goto fail;
	int trc = sg_theme_load(&b->theme, &b->src, &b->d, &b->err);
	if (trc < 0) goto io;
	if (trc > 0) goto fail;
	b->settings = settings_hash(b);

	if (!o->check_only)
		b->incremental = old_join(b) && !o->full && b->old.settings == b->settings;
	st->incremental = b->incremental;
	stage("open");
	list_content(b);
	if (load_begin(b) != 0) goto io;
	stage("load");
	b->r = (sg_render){ &b->site, &b->cfg, &b->theme, b->base, b->abs, b->src.content_prefix };
	if (b->d.errors == 0) {
		sg_site_link(&b->site, b->src.content_prefix, &b->d);
		collect_tags(b);
		if (!outputs_unchanged(b)) claim_all(b);
	}
	stage("structure");
	if (load_end(b) != 0) goto io;
	stage("dates");
	if (b->d.errors) goto fail;
	if (plan_pages(b) != 0) goto fail;
	/* Every page to render holds its source now: in a full build, let
	 * libgit2's pack maps and caches go before rendering builds the search
	 * index (peak RSS).  An incremental build keeps the handle: patching the
	 * search index reads the changed pages' old blobs, and reopening costs
	 * more than the memory it would save there. */
	if (!b->incremental) sg_source_release(&b->src);
	if (!o->check_only) {
		if (sg_out_begin(&b->out, outdir, !b->incremental, &b->err) != 0) goto io;
		b->out_open = 1;
	}
	/* Links are checked after rendering: rendering is what extracts them
	 * from changed pages (unchanged pages bring theirs from the manifest).
	 * Nothing reaches <out> before the check passes. */
	/* A full build gives back what it freed before each phase that grows:
	 * the pack's maps and caches (just released) before rendering, the
	 * held sources and the threads' search indexes (merged) before the
	 * site files and the search index writer. */
	if (!b->incremental) malloc_trim(0);
	if (render_pages(b) != 0) goto check;
	if (!b->incremental) malloc_trim(0);
	stage("render");
	if (sg_site_check_links(&b->site, b->src.content_prefix, &b->d) != 0) goto fail;
	stage("links");
	if (o->check_only) goto done;
	if (write_rest(b, outdir) != 0) goto check;
	if (finish(b) != 0) goto check;
	stage("commit");
	goto done;
check:
	if (b->err) goto io;
fail:
	if (b->err) goto io;
	code = SG_EXIT_CONTENT;
	goto done;
io:
	fprintf(stderr, "sitegen: error: %s\n", b->err ? b->err : "I/O error");
	code = SG_EXIT_IO;
done:
	st->errors = b->d.errors;
	st->warnings = b->d.warnings;
	if (code == SG_EXIT_OK && b->d.errors) code = SG_EXIT_CONTENT;
	cleanup(b);
	pthread_mutex_destroy(&b->lock);
	return code;
}
