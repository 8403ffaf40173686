/* zsrc.c — see zsrc.h. */
#include "zsrc.h"

#include <lz4.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* LZ4 reaches back 64 KB at most: a larger dictionary is never used. */
#define SG_ZDICT_MAX 65536

/* Sources up to this size compress through a stack buffer, then one
 * exact-size copy; larger ones (rare: SG_MAX_FILE allows 8 MiB) through a
 * heap buffer of LZ4's bound. */
#define SG_ZSRC_STACK 16384

struct sg_zdict {
	LZ4_stream_t primed;   /* the stream with buf loaded, copied per source */
	LZ4_stream_t work;     /* that copy, dirtied by one compression */
	size_t len;            /* bytes in buf */
	int full;              /* primed is loaded; buf no longer changes */
	/* The dictionary, then room for a source: a source copied right
	 * after the dictionary compresses in LZ4's prefix mode, a quarter
	 * faster than against a dictionary elsewhere (extDict). */
	char buf[SG_ZDICT_MAX + SG_ZSRC_STACK];
};

sg_zdict *sg_zdict_new(void)
{
	sg_zdict *d = sg_xcalloc(1, sizeof *d);
	return d;
}

void sg_zdict_free(sg_zdict *d)
{
	free(d);
}

/* Appends a source to d until it is full, then primes d's stream with it
 * (loading hashes the whole dictionary: once, not per source). */
static void zdict_fill(sg_zdict *d, const char *data, size_t len)
{
	size_t k = SG_ZDICT_MAX - d->len;
	if (k > len) k = len;
	memcpy(d->buf + d->len, data, k);
	d->len += k;
	if (d->len < SG_ZDICT_MAX) return;
	LZ4_initStream(&d->primed, sizeof d->primed);
	LZ4_loadDict(&d->primed, d->buf, (int)d->len);
	d->full = 1;
}

int sg_zsrc_put(sg_zsrc *z, sg_zdict *d, const char *data, size_t len)
{
	sg_zsrc_free(z);
	if (len > (size_t)LZ4_MAX_INPUT_SIZE) return -1;
	int bound = LZ4_compressBound((int)len);
	char stackbuf[SG_ZSRC_STACK];
	char *tmp = bound <= SG_ZSRC_STACK ? stackbuf : sg_xmalloc((size_t)bound);
	int n = 0;
	const sg_zdict *used = NULL;
	if (len && d && d->full) {
		/* A copy of the primed stream compresses against the dictionary
		 * without loading it again (LZ4F does the same with its CDict). */
		memcpy(&d->work, &d->primed, sizeof d->work);
		const char *in = data;
		if (len <= SG_ZSRC_STACK) in = memcpy(d->buf + d->len, data, len);
		n = LZ4_compress_fast_continue(&d->work, in, tmp, (int)len, bound, 1);
		used = d;
	} else if (len) {
		n = LZ4_compress_default(data, tmp, (int)len, bound);
	}
	if (n > 0 && (size_t)n < len) {
		z->z = sg_xmalloc((size_t)n);
		memcpy(z->z, tmp, (size_t)n);
		z->zlen = (uint32_t)n;
		z->dict = used;
	} else {
		/* Incompressible, or empty: held plain (LZ4 cannot fail on a
		 * buffer of its own bound, but plain is right either way). */
		z->z = len ? sg_xmalloc(len) : NULL;
		if (len) memcpy(z->z, data, len);
		z->zlen = (uint32_t)len;
		z->raw = 1;
	}
	if (tmp != stackbuf) free(tmp);
	z->len = (uint32_t)len;
	z->held = 1;
	if (d && !d->full) zdict_fill(d, data, len);
	return 0;
}

int sg_zsrc_get(const sg_zsrc *z, sg_buf *out)
{
	out->len = 0;
	if (!z->held) return -1;
	if (out->cap < (size_t)z->len + 1) {
		out->cap = (size_t)z->len + 1;
		out->data = sg_xrealloc(out->data, out->cap);
	}
	int n = (int)z->len;
	if (z->raw) {
		if (z->len) memcpy(out->data, z->z, z->len);
	} else if (z->dict) {
		n = LZ4_decompress_safe_usingDict(z->z, out->data, (int)z->zlen, (int)z->len, z->dict->buf,
		                                  (int)z->dict->len);
	} else {
		n = LZ4_decompress_safe(z->z, out->data, (int)z->zlen, (int)z->len);
	}
	if (n != (int)z->len) {
		out->data[0] = '\0';
		return -1;
	}
	out->data[z->len] = '\0';
	out->len = z->len;
	return 0;
}

void sg_zsrc_free(sg_zsrc *z)
{
	free(z->z);
	memset(z, 0, sizeof *z);
}
