/* searchpatch.h — an incremental build's search index, changed in place.
 *
 * When a build changes a few pages and the set of published pages stays the
 * same, page ids (URL order) do not move: only the postings of the terms
 * those pages gained, lost or changed, the page chunks holding them and
 * possibly meta.json differ from the previous index.  sg_search_patch reads
 * only the shards of the affected term groups (terms sharing a first code
 * point: the writer's shard layout is decided per group), parses only those
 * an edited term can be in, reads the affected chunks, and writes the files
 * whose bytes change.  The result is byte for
 * byte what sg_search_write would write for the whole site
 * (test_incremental.c checks this on a corpus whose groups split into
 * deeper shards).
 *
 * The layout rule is the writer's own (sg_si_split, searchidx_int.h); the
 * JSON the patch writes (strings, postings, chunk entries, meta.json) is
 * encoded again here and must stay as the writer encodes it.
 * Ownership: the caller keeps its arguments; *kept is as in
 * sg_search_write_kept. */
#ifndef SG_SEARCHPATCH_H
#define SG_SEARCHPATCH_H

#include <stddef.h>
#include <stdint.h>
#include "searchidx.h"

typedef struct {
	const char *url;      /* "/billing/invoices/" */
	uint32_t id;          /* its page id in the index (URL rank) */
	const char *title, *section;   /* new values (chunk entry) */
} sg_si_pagefix;

/* before: the previous versions of the pages whose terms may have changed
 * (sg_search_add'ed, URLs as in the index); after: builder holding their
 * new versions (it may hold more pages: those not in before only get their
 * chunk entry refreshed).  fixes: pages whose title or section changed
 * without a new text (their excerpt is kept); may be empty.  ids: for the
 * pages of before and after, the page id of each, by URL (lookup callback).
 * npages: pages in the index.  Reads <olddir>/search, writes changed files
 * under <stagedir>/search.  Returns 0; 1 when the previous index does not
 * fit (the caller then builds the index another way; nothing was written
 * that a full write would not overwrite); -1 on I/O errors with *err set. */
int sg_search_patch(const char *olddir, const char *stagedir, size_t npages,
                    sg_search *before, sg_search *after,
                    const sg_si_pagefix *fixes, size_t nfixes,
                    uint32_t (*id_of)(const char *url, void *ctx), void *ctx,
                    char ***kept, size_t *nkept, char **err);

#endif
