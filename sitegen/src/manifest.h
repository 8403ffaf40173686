/* manifest.h — what an output folder remembers between builds, in
 * <out>/.sitegen-manifest (a binary file, laid out in manifest.c, read in
 * one pass with every length and count bounds-checked; a file of another
 * version, byte order or shape is "absent" and the build is full):
 *   - the commit built and a hash of the build settings (config, theme,
 *     sitegen version): when either differs from the new build's, the
 *     incremental path is abandoned for a full build;
 *   - per page: source blob id, the key (hash of every input of its HTML)
 *     and the metadata other pages need, so unchanged pages are not read;
 *   - per static file: blob id;
 *   - the git-date cache (path -> commit, time, author) valid at the commit;
 *   - the list of output files, so files no longer produced are removed;
 *   - per tag listing page: the key of its inputs;
 *   - a hash of everything the search index is built from, so an unchanged
 *     index is not rebuilt.
 * The search index under <out>/search/ is its own state: an incremental
 * build patches it (sg_search_patch) or reads it back (sg_search_load)
 * instead of keeping pages' text.
 * Pages loaded from a manifest have no url (nothing reads it).
 * Ownership: sg_manifest owns everything; free with sg_manifest_free.  A
 * loaded manifest's outputs point into its mapped file (data). */
#ifndef SG_MANIFEST_H
#define SG_MANIFEST_H

#include "gitdates.h"
#include "site.h"

typedef struct {
	uint64_t settings;
	uint64_t search;       /* hash of the search index's inputs */
	git_oid commit; int have_commit;
	sg_site site;          /* pages (with key, date) and statics */
	sg_gdates dates;
	char **outputs; size_t noutputs, ocap;   /* sorted */
	void *data; size_t len;   /* the mapped file of a loaded manifest */
	/* Listing pages outside the content tree (tags/<slug>/, tags/) with
	 * the key of their inputs, like pages: sorted by output path. */
	char **lists; uint64_t *list_keys; size_t nlists, lcap;
} sg_manifest;

/* Adds a listing key (used while building the next manifest). */
void sg_manifest_add_list(sg_manifest *m, const char *out, uint64_t key);
/* Key recorded for a listing output, or 0 when none. */
uint64_t sg_manifest_list_key(const sg_manifest *m, const char *out);

/* Loads path.  Returns 0, 1 when absent or unreadable as a manifest (the
 * caller then builds in full), -1 on I/O errors. */
int  sg_manifest_load(sg_manifest *m, const char *path);
/* Writes m (its outputs sorted, unique) to a new file at path.  Returns 0,
 * or -1 with errno set. */
int  sg_manifest_write(const sg_manifest *m, const char *path);
/* The same in two steps: sg_manifest_begin writes all but the outputs (so a
 * build can write them while its search index is still being written) and
 * returns the open writer, or NULL with errno set; sg_manifest_end writes
 * m's outputs (m's other fields are not read again), closes and frees the
 * writer: 0, or -1 with errno set.  sg_manifest_end(w, NULL) abandons the
 * file (the caller removes it). */
typedef struct sg_manifest_wr sg_manifest_wr;
sg_manifest_wr *sg_manifest_begin(const sg_manifest *m, const char *path);
int  sg_manifest_end(sg_manifest_wr *w, const sg_manifest *m);
void sg_manifest_free(sg_manifest *m);

#endif
