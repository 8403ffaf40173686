/*
 * desk_suggest.c — article suggestions from sitegen's static search index.
 * Follows docs/search-index.md, "Reading the index from C", steps 1-5,
 * scoring as search.js does for whole words (no prefix matching).
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../sitegen/src/searchidx.h"   /* the index writer's own tokenizer and stemmer */
#include "desk_suggest.h"

#define MAX_TERMS 64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char dir[512];
	struct timespec mtime;
	json_t *meta;     /* parsed meta.json */
	json_t *files;    /* "t/<key>.json" / "p/<n>.json" -> parsed (JSON null when unreadable) */
} cache;

void im_desk_suggest_reset(void)
{
	pthread_mutex_lock(&lock);
	json_decref(cache.meta);
	json_decref(cache.files);
	memset(&cache, 0, sizeof cache);
	pthread_mutex_unlock(&lock);
}

/* The index's meta, (re)loaded when meta.json changed.  Lock held. */
static json_t *meta_get(const char *dir)
{
	char path[600];
	struct stat sb;
	json_t *m, *f;

	if (snprintf(path, sizeof path, "%s/search/meta.json", dir) >= (int)sizeof path || stat(path, &sb) != 0)
		return NULL;
	if (cache.meta && strcmp(cache.dir, dir) == 0 && cache.mtime.tv_sec == sb.st_mtim.tv_sec &&
	    cache.mtime.tv_nsec == sb.st_mtim.tv_nsec)
		return cache.meta;
	json_decref(cache.meta);
	json_decref(cache.files);
	memset(&cache, 0, sizeof cache);
	m = json_load_file(path, 0, NULL);
	if (m == NULL || json_integer_value(json_object_get(m, "format")) != 1 ||
	    !json_is_array(json_object_get(m, "shards")) ||
	    json_integer_value(json_object_get(m, "pages")) <= 0 ||
	    json_integer_value(json_object_get(m, "pages")) > 10000000 ||
	    json_integer_value(json_object_get(m, "page_chunk")) <= 0) {
		json_decref(m);   /* a format this reader does not know: no suggestions */
		return NULL;
	}
	if ((f = json_object()) == NULL) {
		json_decref(m);
		return NULL;
	}
	snprintf(cache.dir, sizeof cache.dir, "%s", dir);
	cache.mtime = sb.st_mtim;
	cache.meta = m;
	cache.files = f;
	return m;
}

/* A parsed index file (name relative to search/), cached; NULL if unreadable. */
static json_t *file_get(const char *dir, const char *name)
{
	json_t *v = json_object_get(cache.files, name);
	char path[800];

	if (v == NULL) {
		if (snprintf(path, sizeof path, "%s/search/%s", dir, name) >= (int)sizeof path)
			return NULL;
		v = json_load_file(path, 0, NULL);
		json_object_set_new(cache.files, name, v ? v : json_null());
	}
	return json_is_null(v) ? NULL : v;
}

static int has_shard(json_t *shards, const char *key, size_t len)
{
	size_t lo = 0, hi = json_array_size(shards);

	while (lo < hi) {   /* sorted bytewise */
		size_t mid = (lo + hi) / 2;
		const char *s = json_string_value(json_array_get(shards, mid));
		int c;
		if (s == NULL)
			return 0;
		c = strncmp(s, key, len);
		if (c == 0 && s[len] != '\0')
			c = 1;
		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

typedef struct { char *t[MAX_TERMS]; size_t n; } termset;

static void collect(const char *term, size_t len, void *ctx)
{
	termset *ts = ctx;
	size_t i;

	for (i = 0; i < ts->n; i++)
		if (strlen(ts->t[i]) == len && memcmp(ts->t[i], term, len) == 0)
			return;
	if (ts->n < MAX_TERMS && (ts->t[ts->n] = strndup(term, len)) != NULL)
		ts->n++;
}

/* The shard file holding term: the longest key (<= 6 code points) that is a prefix. */
static json_t *shard_for(const char *dir, json_t *shards, const char *term)
{
	size_t cut[7], ncut = 0, i = 0, len = strlen(term);
	char name[64];

	while (i < len && ncut < 6) {   /* byte length of each code-point prefix */
		i++;
		while (i < len && ((unsigned char)term[i] & 0xc0) == 0x80)
			i++;
		cut[ncut++] = i;
	}
	while (ncut > 0) {
		size_t k = cut[--ncut], o = 0, j;
		if (!has_shard(shards, term, k))
			continue;
		o = (size_t)snprintf(name, sizeof name, "t/");
		for (j = 0; j < k; j++) {
			unsigned char c = (unsigned char)term[j];
			if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
				name[o++] = (char)c;
			else
				o += (size_t)snprintf(name + o, sizeof name - o, "_%02x", c);
		}
		snprintf(name + o, sizeof name - o, ".json");
		return file_get(dir, name);
	}
	return NULL;
}

typedef struct { int64_t page; int words; double score; } hit;

static int hit_cmp(const void *a, const void *b)
{
	const hit *x = a, *y = b;

	if (x->words != y->words)
		return y->words - x->words;
	if (x->score != y->score)
		return x->score < y->score ? 1 : -1;
	return (x->page > y->page) - (x->page < y->page);
}

json_t *im_desk_suggest(const char *dir, const char *base_url, const char *text, int k)
{
	json_t *out = json_array(), *meta;
	termset ts = { { NULL }, 0 };
	hit *hits = NULL;
	int64_t npages, chunk, p;
	size_t i, nhit = 0;

	if (out == NULL || dir == NULL || *dir == '\0' || text == NULL)
		return out;
	if (k < 1)
		k = 1;
	if (k > 10)
		k = 10;
	(void)sg_search_tokenize(text, collect, &ts);
	pthread_mutex_lock(&lock);
	if ((meta = meta_get(dir)) == NULL || ts.n == 0)
		goto done;
	npages = json_integer_value(json_object_get(meta, "pages"));
	chunk = json_integer_value(json_object_get(meta, "page_chunk"));
	if ((hits = calloc((size_t)npages, sizeof *hits)) == NULL)
		goto done;
	for (i = 0; i < ts.n; i++) {
		json_t *pairs = json_object_get(shard_for(dir, json_object_get(meta, "shards"), ts.t[i]), ts.t[i]);
		size_t n = json_array_size(pairs), j;
		double idf;
		int64_t id = 0;
		if (n < 2)
			continue;
		idf = log(1.0 + (double)npages / (double)(n / 2));
		for (j = 0; j + 1 < n; j += 2) {
			int64_t v = json_integer_value(json_array_get(pairs, j + 1)), tf = v >> 2;
			id += json_integer_value(json_array_get(pairs, j));
			if (id < 0 || id >= npages)
				break;   /* a malformed shard: stop reading it */
			hits[id].page = id;
			hits[id].words++;
			hits[id].score += idf * (8.0 * (double)(v & 1) + 3.0 * (double)((v >> 1) & 1) +
			                         (tf > 0 ? 1.0 + log((double)tf) : 0.0));
		}
	}
	for (p = 0; p < npages; p++)   /* compact the pages that matched */
		if (hits[p].words > 0)
			hits[nhit++] = hits[p];
	qsort(hits, nhit, sizeof *hits, hit_cmp);
	for (i = 0; i < nhit && (int)json_array_size(out) < k; i++) {
		char name[64], url[1024];
		json_t *e;
		snprintf(name, sizeof name, "p/%lld.json", (long long)(hits[i].page / chunk));
		e = json_array_get(file_get(dir, name), (size_t)(hits[i].page % chunk));
		if (json_array_size(e) != 4 || !json_is_string(json_array_get(e, 0)))
			continue;
		snprintf(url, sizeof url, "%s%s", base_url ? base_url : "", json_string_value(json_array_get(e, 0)));
		json_array_append_new(out, json_pack("{s:s,s:O,s:O,s:O}", "url", url, "title", json_array_get(e, 1),
		                                     "section", json_array_get(e, 2), "excerpt", json_array_get(e, 3)));
	}
done:
	pthread_mutex_unlock(&lock);
	free(hits);
	for (i = 0; i < ts.n; i++)
		free(ts.t[i]);
	return out;
}
