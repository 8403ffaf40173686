/* manifest.h — what an output folder remembers between builds, in
 * <out>/.sitegen-manifest (a line-oriented text file, escaped with \\ \t \n):
 *   - the commit built and a hash of the build settings (config, theme,
 *     sitegen version): when either differs from the new build's, the
 *     incremental path is abandoned for a full build;
 *   - per page: source blob id, the key (hash of every input of its HTML)
 *     and the metadata other pages need, so unchanged pages are not read;
 *   - per static file: blob id;
 *   - the git-date cache (path -> commit, time, author) valid at the commit;
 *   - the list of output files, so files no longer produced are removed.
 * Ownership: sg_manifest owns everything; free with sg_manifest_free. */
#ifndef SG_MANIFEST_H
#define SG_MANIFEST_H

#include "gitdates.h"
#include "site.h"

typedef struct {
	uint64_t settings;
	git_oid commit; int have_commit;
	sg_site site;          /* pages (with key, date) and statics */
	sg_gdates dates;
	char **outputs; size_t noutputs, ocap;   /* sorted */
} sg_manifest;

/* Loads path.  Returns 0, 1 when absent or unreadable as a manifest (the
 * caller then builds in full), -1 on I/O errors. */
int  sg_manifest_load(sg_manifest *m, const char *path);
/* Serialises m into out. */
void sg_manifest_format(const sg_manifest *m, sg_buf *out);
void sg_manifest_free(sg_manifest *m);

#endif
