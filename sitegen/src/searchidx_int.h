/* searchidx_int.h — the inside of an sg_search, shared by searchidx.c (the
 * builder and writer) and searchload.c (which reads a written index back
 * for incremental builds).  Not for other users: the file format in
 * docs/search-index.md is the public interface. */
#ifndef SG_SEARCHIDX_INT_H
#define SG_SEARCHIDX_INT_H

#include <stddef.h>
#include <stdint.h>
#include "searchidx.h"

/* The writer's layout parameters (searchidx.c), also used by the
 * incremental patcher (searchpatch.c), which must lay shards out alike. */
#define SG_SI_SHARD_MAX    24000
#define SG_SI_SHARD_DEPTH  6
#define SG_SI_PAGE_CHUNK   16

/* A posting packs into 4 bytes (a 10k-page site holds ~2 million of them
 * while it renders: 8-byte postings were a tenth of its peak RSS).  v is
 * at most TF_MAX << 2 | 3 = 1023; page ids stay below SG_SI_MAX_PAGES
 * (sg_si_page enforces it, build.c reports it as a content error first). */
#define SG_SI_PAGE_BITS 22
#define SG_SI_MAX_PAGES ((size_t)1 << SG_SI_PAGE_BITS)
#define SG_SI_MAX_V 1023u
_Static_assert(SG_SEARCH_MAX_PAGES < SG_SI_MAX_PAGES, "page ids fit a posting");
typedef struct {
	uint32_t page : SG_SI_PAGE_BITS; /* insertion index until write, then page id */
	uint32_t v : 32 - SG_SI_PAGE_BITS; /* tf << 2 | heading << 1 | title */
} posting;

typedef struct {
	char *s;
	posting *p;
	size_t n, cap;
	/* A term read back from a previous index (sg_search_load) keeps its
	 * encoded postings "[d,v,...]" as they were in the old shard (old
	 * page ids) until write decodes them; NULL otherwise. */
	const char *raw;
	size_t rawlen;
	int rawown;         /* raw was re-encoded (raw_splice) and is ours to free */
	const char *ent;    /* with raw: the whole "term":[...] entry in the old shard */
	const char *from;   /* with raw: that shard's name (an oldfile's name) */
} term;

typedef struct {
	char *url, *title, *section, *excerpt;
	unsigned char old;      /* from a loaded index: old id == its index */
	unsigned char used;     /* old page kept by sg_search_keep */
	unsigned char replaced; /* old page superseded by sg_search_add */
} page;

typedef struct {
	char *name;  /* relative to <out>/search, e.g. "t/in.json" */
	char *data;
	size_t len;
	size_t nterms;   /* a loaded shard: how many terms it held */
} oldfile;

/* A stem cache slot.  Nearly every word of a page fits in 16 bytes: the
 * key is held inline, so a probe compares two integers instead of chasing a
 * pointer into a separate string (the probe was the index's hottest load). */
typedef struct {
	uint64_t k0, k1; /* the word's first 16 bytes, zero-padded */
	char *w;         /* the whole word (owned) when longer than 16 bytes */
	uint32_t term;   /* index + 1 into terms, 0 = stopword */
	uint32_t n;      /* length of the word; 0 = empty slot */
} cache_ent;

typedef struct {
	uint32_t gen, v;
} acc_ent;

struct sg_search {
	page *pages;
	size_t npages, pcap;
	term *terms;
	size_t nterms, tcap;
	uint32_t *slots; /* open addressing: term index + 1, 0 = empty */
	size_t nslots;
	/* Stem cache: a folded word -> its term (index + 1), or 0 for a
	 * stopword.  Words repeat, so this saves most stemming and lookups. */
	cache_ent *cache;
	size_t ncache, cslots;
	int last;        /* sg_search_last_write: free postings while writing */
	/* sg_search_add's page accumulator, by term index: a term seen in the
	 * page being added has acc[i].gen == gen and its posting value so far
	 * in acc[i].v; touched lists those terms.  Each token then touches one
	 * small array, and each term's postings once per page, not per token. */
	acc_ent *acc;
	uint32_t *touched;
	size_t acc_cap, ntouched;
	uint32_t gen;
	/* A loaded index (sg_search_load): pages [0, nold) are its pages, in
	 * id (= URL) order; files holds its files, sorted by name, so write
	 * can leave byte-identical files alone. */
	size_t nold;
	oldfile *files;
	size_t nfiles;
};

/* The term w (n bytes), created empty when new. */
term *sg_si_term(sg_search *s, const char *w, size_t n);
/* A zeroed page slot at s->pages[s->npages]; the caller fills it and
 * increments npages. */
page *sg_si_page(sg_search *s);
/* "t/<escaped key>.json" for a shard key; caller frees. */
char *sg_si_shard_name(const char *key);

/* Byte length of the first `cps` code points of s (all of s if shorter). */
size_t sg_si_prefix_len(const char *s, size_t cps);

/* How terms become shards, shared by the writer (searchidx.c) and the
 * incremental patch (searchpatch.c), which must lay out shards exactly as
 * the writer would.  Terms [a, b), sorted, share their first d code points;
 * they are one shard, or split by one more code point when that shard
 * would be too big (a term of exactly the key sorts first and is a shard
 * of its own). */
typedef struct {
	void *ctx;
	const char *(*term)(void *ctx, size_t i);
	size_t (*bytes)(void *ctx, size_t a, size_t b);    /* encoded size of [a, b) */
	size_t (*count)(void *ctx, size_t a, size_t b);    /* terms in [a, b) */
	void (*emit)(void *ctx, const char *key, size_t keylen, size_t a, size_t b);
	/* Optional: entry i starts a part of a node at depth d that splits. */
	void (*splits)(void *ctx, size_t i, size_t d);
} sg_si_splitter;

void sg_si_split(const sg_si_splitter *sp, size_t a, size_t b, size_t d);

/* The JSON string at *p as the writer encodes it (\" \\ \u00XX only);
 * advances *p past it.  Returns a malloc'd string, NULL when malformed.
 * Shared by the two readers (searchload.c, searchpatch.c). */
char *sg_si_json_str(const char **p);

#endif
