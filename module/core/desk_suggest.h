/*
 * desk_suggest.h — help-site articles for a support request, read from the
 * search index sitegen writes (docs/search-index.md, "Reading the index from
 * C").  Tokenizing is sitegen's own (sitegen/src/searchidx.c, linked into the core).
 *
 * Parsed files are cached per process and index directory, reloaded when
 * search/meta.json's mtime changes.  Thread-safe (one mutex).
 */
#ifndef IMHOST_DESK_SUGGEST_H
#define IMHOST_DESK_SUGGEST_H

#include <jansson.h>

/* Up to k (1..10) articles for text from the index under <dir>/search/, as
 * [{"url","title","section","excerpt"}] (plain text: the caller escapes for
 * HTML); url is base_url + the page's site-relative URL.  No index, an
 * unreadable or foreign-format one: an empty array (suggestions are a bonus,
 * never a reason to refuse a ticket).  NULL only when out of memory. */
json_t *im_desk_suggest(const char *dir, const char *base_url, const char *text, int k);

/* Drops the cache (tests). */
void im_desk_suggest_reset(void);

#endif
