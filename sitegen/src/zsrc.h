/* zsrc.h — a page source held LZ4-compressed from loading to rendering.
 *
 * A full build reads every page while loading (front matter, in pack order:
 * each blob inflates once) and needs the source again when the page is
 * rendered.  Holding the sources plain cost their whole size in peak RSS
 * (31 MB on the bench); reading them again at render time cost a fifth of
 * the build's CPU (blobs are delta chains).  LZ4 compresses at ~600 MB/s
 * and decompresses at ~3 GB/s.  Alone it shrinks a help page only 1.5x (a
 * 3 KB page repeats few of its own phrases); primed with a dictionary of
 * other pages of the same site (the first 64 KB its loader read) it
 * shrinks them 2.2x: the held copies halve for a few ms of CPU.
 *
 * Ownership: an sg_zsrc owns its compressed copy (one exact-size malloc, so
 * that freeing it after rendering leaves no half-used block behind); free
 * with sg_zsrc_free.  A zeroed sg_zsrc is empty (held == 0).  It refers to
 * the sg_zdict it was compressed with, which must outlive it.
 *
 * Threads: an sg_zdict is filled by sg_zsrc_put, so one thread at a time
 * puts through it; once full it is only read, and sg_zsrc_get may run on
 * any thread. */
#ifndef SG_ZSRC_H
#define SG_ZSRC_H

#include <stddef.h>
#include <stdint.h>
#include "util.h"

typedef struct sg_zdict sg_zdict;

typedef struct {
	char *z;                /* compressed bytes, or the plain ones when raw */
	const sg_zdict *dict;   /* compressed against it, or NULL */
	uint32_t zlen;          /* bytes at z */
	uint32_t len;           /* the source's length */
	uint8_t raw;            /* LZ4 did not shrink it: z holds it plain */
	uint8_t held;           /* a source is held */
} sg_zsrc;

/* A dictionary that the first sources put through it fill (64 KB). */
sg_zdict *sg_zdict_new(void);
void sg_zdict_free(sg_zdict *d);

/* Holds a copy of data (len bytes, len < 2 GiB) in z, replacing what z
 * held, compressed against d when d is full (d may be NULL).  Returns 0,
 * or -1 (z empty) when len is out of LZ4's range. */
int sg_zsrc_put(sg_zsrc *z, sg_zdict *d, const char *data, size_t len);

/* The held source, NUL-terminated, in out (its data grown as needed and
 * reused from call to call: a renderer decompresses into one buffer, not
 * into a fresh block per page).  Returns 0, or -1 when nothing is held or
 * the copy does not decompress to its recorded length. */
int sg_zsrc_get(const sg_zsrc *z, sg_buf *out);

void sg_zsrc_free(sg_zsrc *z);

#endif
