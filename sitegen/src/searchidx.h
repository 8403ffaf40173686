/* searchidx.h — sitegen's static search index (pagefind-style, sharded).
 *
 * The build feeds every published page to an sg_search, then writes the
 * index under <outdir>/search/.  The browser (theme/search.js) and the support
 * desk (C, in the Prosody module) read the same files; the format is specified
 * in docs/search-index.md and versioned by SG_SEARCH_FORMAT.
 *
 * Ownership: sg_search_new() returns an object the caller frees with
 * sg_search_free().  sg_search_add() copies what it keeps; the caller keeps
 * ownership of its arguments.  Not thread-safe: one builder per index.
 * Out of memory aborts (as cmark's default allocator does). */
#ifndef SG_SEARCHIDX_H
#define SG_SEARCHIDX_H

#include <stddef.h>

#define SG_SEARCH_FORMAT 1
/* The most pages one index holds, loaded and added together (posting page
 * ids are 22 bits).  An incremental build holds the previous index's pages
 * and the new ones: a site may have half as many (build.c checks). */
#define SG_SEARCH_MAX_PAGES (((size_t)1 << 22) - 1)

typedef struct sg_search sg_search;

sg_search *sg_search_new(void);

/* url: site-relative page URL ("/billing/invoices/"); headings: '\n'-separated;
 * text: the page's plain text (no markup).  Copies its arguments.  NULL fields
 * are treated as "".  Invalid UTF-8 is replaced by U+FFFD in stored strings
 * and ignored by the tokenizer.  A URL added twice makes sg_search_write fail. */
void sg_search_add(sg_search *s, const char *url, const char *title,
                   const char *section, const char *headings, const char *text);

/* Writes the index under <outdir>/search/ (shards + meta); writes a file only
 * when its bytes change (incremental builds) and removes shard files that the
 * new index no longer lists.  Output bytes depend only on the set of pages
 * added, not on the order of sg_search_add calls.
 * Returns 0, or -1 with *err malloc'd (the caller frees it). */
int sg_search_write(sg_search *s, const char *outdir, char **err);

void sg_search_free(sg_search *s);

/* --- incremental builds ---------------------------------------------------- */

/* Reads the index written under <outdir>/search/ back into a builder, so a
 * build that changed a few pages re-tokenizes only those.  Returns NULL
 * when there is no readable index of this format (err set when a file was
 * present but malformed; the caller frees it): then build from scratch.
 * Pages of a loaded index are dropped at write time unless kept
 * (sg_search_keep) or replaced (sg_search_add of the same URL). */
sg_search *sg_search_load(const char *outdir, char **err);

/* Keeps the loaded page url (its postings are unchanged); title and
 * section update its chunk entry.  Returns 0, or -1 when the loaded index
 * has no such page (the caller must sg_search_add it). */
int sg_search_keep(sg_search *s, const char *url, const char *title, const char *section);

/* Moves every page and term of src into dst and frees src (per-thread
 * builders are merged this way).  A page of src replaces a loaded page of
 * dst with the same URL. */
void sg_search_merge(sg_search *dst, sg_search *src);

/* As sg_search_write; when the index was loaded, files whose bytes equal
 * the loaded ones are not written and their names ("search/t/a.json") are
 * returned in *kept (the caller frees each and the array).  After writing
 * a loaded index, only sg_search_free may follow. */
int sg_search_write_kept(sg_search *s, const char *outdir, char ***kept, size_t *nkept, char **err);

/* Marks the next write as s's last use (only sg_search_free may follow it):
 * the writer then frees each term's postings once they are encoded and
 * hands the memory back to the system as it goes, so a build does not hold
 * the index and its encoding at once (its peak memory otherwise). */
void sg_search_last_write(sg_search *s);

/* --- the text pipeline, shared with tests and the support desk ------------ */

/* Porter2 (Snowball English) stem of one lowercase token, in place; returns
 * the new length.  `w` holds `len` bytes and need not be NUL-terminated; the
 * stem is never longer than the word.  Tokens with non-ASCII bytes or digits
 * are returned unchanged. */
size_t sg_stem(char *w, size_t len);

/* Splits UTF-8 `text` into search terms: letters and digits, folded to
 * lowercase with Latin diacritics removed ("Café" -> "cafe"), English
 * possessive 's dropped, other apostrophes removed ("don't" -> "dont"), then
 * stemmed.  Calls cb(term, len, ctx) for each term (not NUL-terminated, valid
 * only during the call); tokens longer than SG_SEARCH_MAX_TERM bytes are
 * skipped.  Returns the number of terms emitted. */
#define SG_SEARCH_MAX_TERM 64
size_t sg_search_tokenize(const char *text,
                          void (*cb)(const char *term, size_t len, void *ctx),
                          void *ctx);

#endif
