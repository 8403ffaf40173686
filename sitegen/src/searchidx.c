/* searchidx.c — sitegen's sharded static search index.
 *
 * Pipeline: text -> tokens (UTF-8, folded to lowercase ASCII for Latin
 * letters) -> stopwords dropped -> Porter2 stem -> postings per term.  At
 * write time pages get ids in URL order, terms are sorted bytewise and cut
 * into shards by term prefix, growing the prefix only where a shard would be
 * too big; page metadata is cut into fixed-size chunks.  A query then fetches
 * meta.json, one shard per word and one chunk per shown result.  The exact
 * file format is docs/search-index.md; theme/search.js mirrors the tokenizer
 * and stemmer, so any change here is a format change there (bump
 * SG_SEARCH_FORMAT).
 *
 * Incremental builds: searchload.c reads a written index back; its pages
 * are dropped unless kept or replaced, and its terms keep their encoded
 * posting arrays untouched unless a changed page is in them or page ids
 * moved (assign_ids).  Files whose bytes equal the loaded ones are not
 * written.  The render threads each fill a builder of their own, merged
 * before writing (sg_search_merge). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* vasprintf */
#endif
#include "searchidx.h"
#include "searchidx_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Tuning, documented in docs/search-index.md.  SHARD_MAX bounds a shard's
 * bytes (a single huge term can still exceed it); PAGE_CHUNK pages share one
 * metadata file, small so that ten results cost at most ten small fetches. */
#define SHARD_MAX    SG_SI_SHARD_MAX
#define SHARD_DEPTH  SG_SI_SHARD_DEPTH   /* longest shard key, in code points */
#define PAGE_CHUNK   SG_SI_PAGE_CHUNK
#define EXCERPT_MAX  180    /* bytes of plain text kept per page */
#define TF_MAX       255

/* ---- small utilities ------------------------------------------------------ */

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q) {
		fputs("sitegen: out of memory\n", stderr);
		abort();
	}
	return q;
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	return memcpy(xrealloc(NULL, n), s, n);
}

static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, f);
	int n = vasprintf(&s, f, ap);
	va_end(ap);
	if (n < 0) {
		fputs("sitegen: out of memory\n", stderr);
		abort();
	}
	return s;
}

typedef struct {
	char *p;
	size_t n, cap;
} buf;

static void buf_put(buf *b, const void *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + n + 1)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void buf_puts(buf *b, const char *s) { buf_put(b, s, strlen(s)); }

/* Makes room for n more bytes (and the NUL) without changing b->n. */
static void buf_reserve(buf *b, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + n + 1)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
}

/* Decimal digits of v at o; returns the count.  o needs 10 bytes. */
static size_t put_u32(char *o, uint32_t v)
{
	char t[10];
	size_t i = sizeof t;
	do {
		t[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	memcpy(o, t + i, sizeof t - i);
	return sizeof t - i;
}

/* Decimal, by hand: the writer emits millions of numbers (snprintf was a
 * third of the write time at 10,000 pages). */
static void buf_putu(buf *b, unsigned long v)
{
	char t[24];
	size_t i = sizeof t;
	do {
		t[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	buf_put(b, t + i, sizeof t - i);
}

/* JSON string; input is valid UTF-8 (sanitized on add). */
static void buf_json(buf *b, const char *s)
{
	buf_put(b, "\"", 1);
	for (; *s; s++) {
		/* Copy the run of bytes that need no escape at once. */
		size_t run = 0;
		while (s[run] && s[run] != '"' && s[run] != '\\' && (unsigned char)s[run] >= 0x20)
			run++;
		if (run) {
			buf_put(b, s, run);
			s += run - 1;
			continue;
		}
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			buf_put(b, e, 2);
		} else if (c < 0x20) {
			char e[8];
			snprintf(e, sizeof e, "\\u%04x", c);
			buf_put(b, e, 6);
		} else {
			buf_put(b, s, 1);
		}
	}
	buf_put(b, "\"", 1);
}

/* Decodes one UTF-8 code point at s[0..n); returns its length (>= 1) and
 * stores it in *cp, or U+FFFD for an invalid, overlong or truncated
 * sequence (consuming one byte so that decoding resynchronizes). */
static size_t utf8_dec(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t len, i;
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) { len = 2; c &= 0x1F; min = 0x80; }
	else if (c >= 0xE0 && c <= 0xEF) { len = 3; c &= 0x0F; min = 0x800; }
	else if (c >= 0xF0 && c <= 0xF4) { len = 4; c &= 0x07; min = 0x10000; }
	else goto bad;
	if (len > n)
		goto bad;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			goto bad;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		goto bad;
	*cp = c;
	return len;
bad:
	*cp = 0xFFFD;
	return 1;
}

static size_t utf8_enc(uint32_t c, char *o)
{
	if (c < 0x80) { o[0] = (char)c; return 1; }
	if (c < 0x800) {
		o[0] = (char)(0xC0 | (c >> 6));
		o[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		o[0] = (char)(0xE0 | (c >> 12));
		o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		o[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (c >> 18));
	o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((c >> 6) & 0x3F));
	o[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

/* Copy of s with invalid UTF-8 replaced by U+FFFD and control characters
 * other than '\n' and '\t' dropped, so stored strings are always valid. */
static char *utf8_clean(const char *s)
{
	buf b = { 0 };
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p);
	while (n) {
		uint32_t cp;
		size_t k = utf8_dec(p, n, &cp);
		char o[4];
		if (cp >= 0x20 || cp == '\n' || cp == '\t')
			buf_put(&b, o, utf8_enc(cp, o));
		p += k;
		n -= k;
	}
	buf_put(&b, "", 0);
	return b.p;
}

/* How many bytes from p (n left) are printable ASCII, '\n' or '\t': they
 * need no look in utf8_clean_view.  16 at a time where 16 are readable
 * (a byte loop was a tenth of indexing a page). */
static size_t plain_run(const unsigned char *p, size_t n)
{
	size_t l = 0;
#ifdef __SSE2__
	for (; n - l >= 16; l += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + l));
		/* Signed: bytes >= 0x80 are below 0x20 too. */
		__m128i odd = _mm_andnot_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\n')),
		                                            _mm_cmpeq_epi8(v, _mm_set1_epi8('\t'))),
		                               _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
		unsigned m = (unsigned)_mm_movemask_epi8(odd);
		if (m)
			return l + (size_t)__builtin_ctz(m);
	}
#endif
	while (l < n && ((p[l] >= 0x20 && p[l] < 0x80) || p[l] == '\n' || p[l] == '\t'))
		l++;
	return l;
}

/* s itself when it is already what utf8_clean would make of it (the usual
 * case: page text comes from cmark, which only passes valid UTF-8), else a
 * cleaned copy stored in *owned (caller frees).  Saves copying every
 * page's text. */
static const char *utf8_clean_view(const char *s, char **owned)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	*owned = NULL;
	size_t n = strlen((const char *)p);
	for (size_t i = 0; i < n;) {
		i += plain_run(p + i, n - i);
		if (i >= n)
			break;
		uint32_t cp;
		size_t k = utf8_dec(p + i, n - i, &cp);
		if ((cp == 0xFFFD && k == 1) || (cp < 0x20 && cp != '\n' && cp != '\t'))
			return *owned = utf8_clean(s);
		i += k;
	}
	return (const char *)p;
}

/* A cleaned copy of s in a block of its own size.  Page fields live as
 * long as the index: utf8_clean's buffers (256 bytes and up for a URL or a
 * title of 30) were 7 MB of a 10,000-page build's peak RSS. */
static char *clean_dup(const char *s)
{
	char *owned;
	const char *v = utf8_clean_view(s, &owned);
	char *r = xstrdup(v);
	free(owned);
	return r;
}

/* ---- Porter2 stemmer -------------------------------------------------------
 * A direct transcription of the Snowball 2.2 English stemmer ("Porter2",
 * https://snowballstem.org/algorithms/english/stemmer.html), checked against
 * Snowball's own output in tests/test_searchidx.c.  'Y' marks a consonant y.
 * Every rule replaces a suffix by one no longer, so the stem fits in place. */

typedef struct {
	char *b;
	size_t n, p1, p2;
} stem_t;

static int isv(char c)
{
	return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y';
}

static size_t ends(const stem_t *z, const char *s)
{
	size_t k = strlen(s);
	return k <= z->n && memcmp(z->b + z->n - k, s, k) == 0 ? k : 0;
}

static void set_to(stem_t *z, size_t k, const char *s)
{
	size_t m = strlen(s);
	memcpy(z->b + z->n - k, s, m);
	z->n = z->n - k + m;
}

/* A short syllable ends just before index `end`. */
static int shortv(const stem_t *z, size_t end)
{
	const char *b = z->b;
	if (end >= 3 && !isv(b[end - 1]) && b[end - 1] != 'w' && b[end - 1] != 'x'
	    && b[end - 1] != 'Y' && isv(b[end - 2]) && !isv(b[end - 3]))
		return 1;
	return end == 2 && isv(b[0]) && !isv(b[1]);
}

/* A vowel somewhere in b[0..end). */
static int has_vowel(const stem_t *z, size_t end)
{
	for (size_t i = 0; i < end; i++)
		if (isv(z->b[i]))
			return 1;
	return 0;
}

static size_t region_after(const stem_t *z, size_t from)
{
	for (size_t i = from + 1; i < z->n; i++)
		if (!isv(z->b[i]) && isv(z->b[i - 1]))
			return i + 1;
	return z->n;
}

static int exception1(stem_t *z)
{
	static const char *const ex[][2] = {
		{ "skis", "ski" }, { "skies", "sky" }, { "dying", "die" },
		{ "lying", "lie" }, { "tying", "tie" }, { "idly", "idl" },
		{ "gently", "gentl" }, { "ugly", "ugli" }, { "early", "earli" },
		{ "only", "onli" }, { "singly", "singl" }, { "sky", "sky" },
		{ "news", "news" }, { "howe", "howe" }, { "atlas", "atlas" },
		{ "cosmos", "cosmos" }, { "bias", "bias" }, { "andes", "andes" },
	};
	for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++)
		if (strlen(ex[i][0]) == z->n && memcmp(z->b, ex[i][0], z->n) == 0) {
			z->n = strlen(ex[i][1]);
			memcpy(z->b, ex[i][1], z->n);
			return 1;
		}
	return 0;
}

static int exception2(const stem_t *z)
{
	static const char *const ex[] = { "inning", "outing", "canning", "herring",
	                                  "earring", "proceed", "exceed", "succeed" };
	for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++)
		if (strlen(ex[i]) == z->n && memcmp(z->b, ex[i], z->n) == 0)
			return 1;
	return 0;
}

static void step1a(stem_t *z)
{
	size_t k;
	if (ends(z, "sses"))
		set_to(z, 4, "ss");
	else if ((k = ends(z, "ied")) || (k = ends(z, "ies")))
		set_to(z, 3, z->n - 3 >= 2 ? "i" : "ie");
	else if (ends(z, "ss") || ends(z, "us"))
		return;
	else if (ends(z, "s") && z->n >= 3 && has_vowel(z, z->n - 2))
		z->n--;
}

static void step1b(stem_t *z)
{
	static const char *const sfx[] = { "eedly", "ingly", "edly", "eed", "ing", "ed" };
	size_t k = 0, i;
	for (i = 0; i < 6 && !(k = ends(z, sfx[i])); i++)
		;
	if (!k)
		return;
	if (i == 0 || i == 3) { /* eedly, eed */
		if (z->n - k >= z->p1)
			set_to(z, k, "ee");
		return;
	}
	if (!has_vowel(z, z->n - k))
		return;
	z->n -= k;
	if (ends(z, "at") || ends(z, "bl") || ends(z, "iz")) {
		z->b[z->n++] = 'e';
	} else if (z->n >= 2 && z->b[z->n - 1] == z->b[z->n - 2]
	           && strchr("bdfgmnprt", z->b[z->n - 1])) {
		z->n--;
	} else if (z->n == z->p1 && shortv(z, z->n)) {
		z->b[z->n++] = 'e';
	}
}

static void step1c(stem_t *z)
{
	if (z->n >= 3 && (z->b[z->n - 1] == 'y' || z->b[z->n - 1] == 'Y')
	    && !isv(z->b[z->n - 2]))
		z->b[z->n - 1] = 'i';
}

typedef struct {
	const char *sfx, *to;
} rule;

/* Finds the longest suffix of the table (sorted longest first) that ends
 * the word; Snowball's `among` semantics: no fallback to a shorter one. */
static const rule *longest(const stem_t *z, const rule *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ends(z, r[i].sfx))
			return &r[i];
	return NULL;
}

static void step2(stem_t *z)
{
	static const rule r[] = {
		{ "ational", "ate" }, { "ization", "ize" }, { "iveness", "ive" },
		{ "fulness", "ful" }, { "ousness", "ous" }, { "tional", "tion" },
		{ "biliti", "ble" }, { "lessli", "less" }, { "fulli", "ful" },
		{ "ousli", "ous" }, { "entli", "ent" }, { "aliti", "al" },
		{ "iviti", "ive" }, { "alism", "al" }, { "ation", "ate" },
		{ "abli", "able" }, { "alli", "al" }, { "anci", "ance" },
		{ "enci", "ence" }, { "izer", "ize" }, { "ator", "ate" },
		{ "bli", "ble" }, { "ogi", "og" }, { "li", "" },
	};
	const rule *m = longest(z, r, sizeof r / sizeof r[0]);
	if (!m)
		return;
	size_t k = strlen(m->sfx);
	if (z->n - k < z->p1)
		return;
	if (!strcmp(m->sfx, "ogi")) {
		if (z->n >= 4 && z->b[z->n - 4] == 'l')
			set_to(z, k, "og");
	} else if (!strcmp(m->sfx, "li")) {
		if (z->n >= 3 && strchr("cdeghkmnrt", z->b[z->n - 3]))
			z->n -= 2;
	} else {
		set_to(z, k, m->to);
	}
}

static void step3(stem_t *z)
{
	static const rule r[] = {
		{ "ational", "ate" }, { "tional", "tion" }, { "alize", "al" },
		{ "icate", "ic" }, { "iciti", "ic" }, { "ative", "" },
		{ "ical", "ic" }, { "ness", "" }, { "ful", "" },
	};
	const rule *m = longest(z, r, sizeof r / sizeof r[0]);
	if (!m)
		return;
	size_t k = strlen(m->sfx);
	if (z->n - k < z->p1)
		return;
	if (!strcmp(m->sfx, "ative") && z->n - k < z->p2)
		return;
	set_to(z, k, m->to);
}

static void step4(stem_t *z)
{
	static const rule r[] = {
		{ "ement", "" }, { "ance", "" }, { "ence", "" }, { "able", "" },
		{ "ible", "" }, { "ment", "" }, { "ate", "" }, { "ive", "" },
		{ "ize", "" }, { "iti", "" }, { "ism", "" }, { "ion", "" },
		{ "ous", "" }, { "ant", "" }, { "ent", "" }, { "ic", "" },
		{ "al", "" }, { "er", "" },
	};
	const rule *m = longest(z, r, sizeof r / sizeof r[0]);
	if (!m)
		return;
	size_t k = strlen(m->sfx);
	if (z->n - k < z->p2)
		return;
	if (!strcmp(m->sfx, "ion")
	    && !(z->n >= 4 && (z->b[z->n - 4] == 's' || z->b[z->n - 4] == 't')))
		return;
	z->n -= k;
}

static void step5(stem_t *z)
{
	if (z->n == 0)
		return;
	char c = z->b[z->n - 1];
	if (c == 'e') {
		if (z->n - 1 >= z->p2 || (z->n - 1 >= z->p1 && !shortv(z, z->n - 1)))
			z->n--;
	} else if (c == 'l') {
		if (z->n - 1 >= z->p2 && z->n >= 2 && z->b[z->n - 2] == 'l')
			z->n--;
	}
}

size_t sg_stem(char *w, size_t len)
{
	stem_t z = { w, len, 0, 0 };
	for (size_t i = 0; i < len; i++)
		if (w[i] < 'a' || w[i] > 'z')
			return len;
	if (exception1(&z) || len <= 2)
		return z.n;

	/* prelude: consonant y -> Y */
	if (w[0] == 'y')
		w[0] = 'Y';
	for (size_t i = 1; i < len; i++)
		if (w[i] == 'y' && isv(w[i - 1]))
			w[i] = 'Y';

	/* regions */
	if (len >= 5 && !strncmp(w, "gener", 5))
		z.p1 = 5;
	else if (len >= 6 && !strncmp(w, "commun", 6))
		z.p1 = 6;
	else if (len >= 5 && !strncmp(w, "arsen", 5))
		z.p1 = 5;
	else
		z.p1 = region_after(&z, 0);
	z.p2 = region_after(&z, z.p1);

	step1a(&z);
	if (!exception2(&z)) {
		step1b(&z);
		step1c(&z);
		step2(&z);
		step3(&z);
		step4(&z);
		step5(&z);
	}
	for (size_t i = 0; i < z.n; i++)
		if (w[i] == 'Y')
			w[i] = 'y';
	return z.n;
}

/* ---- tokenizer ------------------------------------------------------------ */

/* Base letters of U+00C0..U+017F.  '-' is not a letter (U+00D7, U+00F7);
 * 'A'/'T'/'I'/'O'/'S' expand to "ae", "th", "ij", "oe", "ss". */
static const char fold_c0[] = "aaaaaaAceeeeiiiidnooooo-ouuuuyTS"
                              "aaaaaaAceeeeiiiidnooooo-ouuuuyTy";
static const char fold_100[] =
	"aaaaaacccccccc" "dddd" "eeeeeeeeee" "gggggggg" "hhhh" "iiiiiiiiii" "II"
	"jj" "kkk" "llllllllll" "nnnnnnnnn" "oooooo" "OO" "rrrrrr" "ssssssss"
	"tttttt" "uuuuuuuuuuuu" "ww" "yyy" "zzzzzz" "s";

/* Folds code point c for indexing into o (UTF-8).  Returns
 * -1 for a separator, 0 for a character to ignore (combining mark), else the
 * number of bytes written to o (at most 4). */
static int fold(uint32_t c, char *o)
{
	char f = 0;
	if (c < 0x80) {
		if (c >= 'A' && c <= 'Z')
			c += 32;
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
			o[0] = (char)c;
			return 1;
		}
		return -1;
	}
	if (c < 0xC0)
		return -1;
	if (c < 0x100)
		f = fold_c0[c - 0xC0];
	else if (c < 0x180)
		f = fold_100[c - 0x100];
	if (f) {
		const char *x = f == 'A' ? "ae" : f == 'T' ? "th" : f == 'I' ? "ij"
		                : f == 'O' ? "oe" : f == 'S' ? "ss" : NULL;
		if (f == '-')
			return -1;
		if (x) {
			memcpy(o, x, 2);
			return 2;
		}
		o[0] = f;
		return 1;
	}
	if (c >= 0x300 && c <= 0x36F)
		return 0;
	if ((c >= 0x2000 && c <= 0x2BFF) || (c >= 0x3000 && c <= 0x303F)
	    || (c >= 0xFE10 && c <= 0xFE6F) || (c >= 0xFF00 && c <= 0xFF0F)
	    || (c >= 0xFF1A && c <= 0xFF20) || (c >= 0xFF3B && c <= 0xFF40)
	    || (c >= 0xFF5B && c <= 0xFF65) || c >= 0xFFF0)
		return -1;
	/* Simple case folding for Greek and Cyrillic capitals. */
	if ((c >= 0x391 && c <= 0x3A9) || (c >= 0x410 && c <= 0x42F))
		c += 0x20;
	else if (c >= 0x400 && c <= 0x40F)
		c += 0x50;
	else if (c == 0x3C2)
		c = 0x3C3;
	return (int)utf8_enc(c, o);
}

/* Dropped before stemming: words in nearly every help page that only
 * bloat shards.  Sorted; mirrored in search.js. */
static const char *const stopwords[] = {
	"a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in",
	"is", "it", "of", "on", "or", "that", "the", "this", "to", "was",
	"were", "with", "you", "your",
};

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int is_stopword(const char *w, size_t n)
{
	char t[8];
	if (n >= sizeof t)
		return 0;
	memcpy(t, w, n);
	t[n] = '\0';
	const char *k = t;
	return bsearch(&k, stopwords, sizeof stopwords / sizeof stopwords[0],
	               sizeof stopwords[0], cmp_cstr) != NULL;
}

static int is_apostrophe(uint32_t c) { return c == '\'' || c == 0x2019; }

/* ASCII letters and digits: 1, else 0 (every other byte below 0x80 but the
 * apostrophe separates words, as fold says). */
static const unsigned char ascii_alnum[256] = {
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
	['8'] = 1, ['9'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
	['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
	['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
	['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
	['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
	['Y'] = 1, ['Z'] = 1,
};

#ifdef __SSE2__
/* How many bytes from p (n left) are ASCII letters or digits.  16 at a
 * time where 16 are readable: a byte loop's exit mispredicted once a word. */
static size_t alnum_run(const unsigned char *p, size_t n)
{
	size_t l = 0;
	for (; n - l >= 16; l += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + l));
		__m128i lv = _mm_or_si128(v, _mm_set1_epi8(0x20));   /* bytes >= 0x80 stay negative */
		__m128i letter = _mm_and_si128(_mm_cmpgt_epi8(lv, _mm_set1_epi8('a' - 1)),
		                               _mm_cmplt_epi8(lv, _mm_set1_epi8('z' + 1)));
		__m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
		                              _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(letter, digit));
		if (m != 0xFFFF)
			return l + (size_t)__builtin_ctz(~m);
	}
	while (l < n && ascii_alnum[p[l]]) l++;
	return l;
}
#else
static size_t alnum_run(const unsigned char *p, size_t n)
{
	size_t l = 0;
	while (l < n && ascii_alnum[p[l]]) l++;
	return l;
}
#endif

/* The length of the word of ASCII letters and digits at p (n bytes left)
 * when it is a whole word: ended by the end of the text or by an ASCII
 * separator, and not too long; else 0 (the general path takes it). */
static size_t ascii_word(const unsigned char *p, size_t n)
{
	size_t l = alnum_run(p, n);
	if (l > SG_SEARCH_MAX_TERM || (l < n && (p[l] >= 0x80 || p[l] == '\'')))
		return 0;
	return l;
}

/* Folds the ASCII word p[0..l) into tok.  Letters and digits fold by
 * setting bit 0x20, so where 16 bytes are readable the first 16 go in two
 * 8-byte stores: word_key then reads them back whole, where loading 8
 * bytes written one at a time stalled on every word (store forwarding). */
static void fold_ascii_word(char *tok, const unsigned char *p, size_t l, size_t n)
{
	size_t i = 0;
	if (n >= 16) {
		uint64_t a, b;
		memcpy(&a, p, 8);
		memcpy(&b, p + 8, 8);
		a |= UINT64_C(0x2020202020202020);
		b |= UINT64_C(0x2020202020202020);
		memcpy(tok, &a, 8);
		memcpy(tok + 8, &b, 8);
		i = l < 16 ? l : 16;
	}
	for (; i < l; i++)
		tok[i] = (char)(p[i] | 0x20);
}

/* Emits folded words, before stopwords and stemming.  The callback may
 * rewrite the word (it has room for SG_SEARCH_MAX_TERM bytes, and 16 bytes
 * are readable from its start).  Inlined into each caller, so the
 * callback is a direct call there (6% faster indexing, with word_key). */
static inline __attribute__((always_inline)) size_t tokenize_raw(const char *text,
                           void (*cb)(char *word, size_t len, void *ctx), void *ctx)
{
	const unsigned char *p = (const unsigned char *)(text ? text : "");
	size_t n = strlen((const char *)p), count = 0, tl = 0;
	char tok[SG_SEARCH_MAX_TERM + 16];
	int overflow = 0;

	for (;;) {
		/* Between words, a word of plain ASCII letters and digits (nearly
		 * every word of a help page) is taken whole, with the separator
		 * after it. */
		if (!tl && !overflow) {
			size_t l = ascii_word(p, n);
			if (l) {
				fold_ascii_word(tok, p, l, n);
				cb(tok, l, ctx);
				count++;
				l += l < n;
				p += l;
				n -= l;
				continue;
			}
		}
		/* Plain ASCII letters and digits (nearly all of a help page) go
		 * straight into the word; everything else takes the general path. */
		if (n && p[0] < 0x80) {
			unsigned char a = p[0];
			if (a >= 'A' && a <= 'Z')
				a += 32;
			int alnum = (a >= 'a' && a <= 'z') || (a >= '0' && a <= '9');
			if (alnum && tl < SG_SEARCH_MAX_TERM) {
				tok[tl++] = (char)a;
				p++;
				n--;
				continue;
			}
			/* Other ASCII but the apostrophe separates words (as fold
			 * says): spaces and punctuation skip the general path too. */
			if (!alnum && a != '\'') {
				if (tl && !overflow) {
					cb(tok, tl, ctx);
					count++;
				}
				tl = 0;
				overflow = 0;
				p++;
				n--;
				continue;
			}
		}
		uint32_t c = 0;
		size_t k = n ? utf8_dec(p, n, &c) : 0;
		char o[4];
		int r = n ? fold(c, o) : -1;

		if (n && r < 0 && is_apostrophe(c) && tl > 0) {
			/* Inside a word?  Look at what follows. */
			uint32_t c2 = 0, c3 = 0;
			size_t k2 = n > k ? utf8_dec(p + k, n - k, &c2) : 0;
			size_t k3 = n > k + k2 && k2 ? utf8_dec(p + k + k2, n - k - k2, &c3) : 0;
			char o2[4];
			if (k2 && fold(c2, o2) > 0) {
				if ((c2 == 's' || c2 == 'S') && (!k3 || fold(c3, o2) < 0)) {
					p += k + k2; /* possessive 's: drop, end word */
					n -= k + k2;
					continue;
				}
				p += k; /* don't -> dont */
				n -= k;
				continue;
			}
		}
		if (r > 0) {
			if (tl + (size_t)r <= SG_SEARCH_MAX_TERM) {
				memcpy(tok + tl, o, (size_t)r);
				tl += (size_t)r;
			} else {
				overflow = 1;
			}
		} else if (r < 0 && (tl || overflow)) {
			if (!overflow) {
				cb(tok, tl, ctx);
				count++;
			}
			tl = 0;
			overflow = 0;
		}
		if (!n)
			break;
		p += k;
		n -= k;
	}
	return count;
}

typedef struct {
	void (*cb)(const char *term, size_t len, void *ctx);
	void *ctx;
	size_t count;
} stem_ctx;

static void stem_word(char *w, size_t n, void *vctx)
{
	stem_ctx *c = vctx;
	if (is_stopword(w, n))
		return;
	c->cb(w, sg_stem(w, n), c->ctx);
	c->count++;
}

size_t sg_search_tokenize(const char *text,
                          void (*cb)(const char *term, size_t len, void *ctx),
                          void *ctx)
{
	stem_ctx c = { cb, ctx, 0 };
	tokenize_raw(text, stem_word, &c);
	return c.count;
}

/* ---- the index ------------------------------------------------------------ */

sg_search *sg_search_new(void)
{
	sg_search *s = xrealloc(NULL, sizeof *s);
	memset(s, 0, sizeof *s);
	s->nslots = 1024;
	s->slots = xrealloc(NULL, s->nslots * sizeof *s->slots);
	memset(s->slots, 0, s->nslots * sizeof *s->slots);
	return s;
}

void sg_search_free(sg_search *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->npages; i++) {
		free(s->pages[i].url);
		free(s->pages[i].title);
		free(s->pages[i].section);
		free(s->pages[i].excerpt);
	}
	for (size_t i = 0; i < s->nterms; i++) {
		free(s->terms[i].s);
		free(s->terms[i].p);
		if (s->terms[i].rawown)
			free((char *)s->terms[i].raw);
	}
	for (size_t i = 0; i < s->cslots; i++)
		free(s->cache[i].w);
	for (size_t i = 0; i < s->nfiles; i++) {
		free(s->files[i].name);
		free(s->files[i].data);
	}
	free(s->files);
	free(s->acc);
	free(s->touched);
	free(s->cache);
	free(s->pages);
	free(s->terms);
	free(s->slots);
	free(s);
}

static uint32_t hash(const char *w, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)w[i]) * 16777619u;
	return h;
}

static void rehash(sg_search *s)
{
	size_t ns = s->nslots * 2;
	uint32_t *sl = xrealloc(NULL, ns * sizeof *sl);
	memset(sl, 0, ns * sizeof *sl);
	for (size_t i = 0; i < s->nterms; i++) {
		const char *w = s->terms[i].s;
		size_t j = hash(w, strlen(w)) & (ns - 1);
		while (sl[j])
			j = (j + 1) & (ns - 1);
		sl[j] = (uint32_t)i + 1;
	}
	free(s->slots);
	s->slots = sl;
	s->nslots = ns;
}

term *sg_si_term(sg_search *s, const char *w, size_t n)
{
	size_t j = hash(w, n) & (s->nslots - 1);
	while (s->slots[j]) {
		term *t = &s->terms[s->slots[j] - 1];
		if (strncmp(t->s, w, n) == 0 && t->s[n] == '\0')
			return t;
		j = (j + 1) & (s->nslots - 1);
	}
	if (s->nterms == s->tcap) {
		s->tcap = s->tcap ? s->tcap * 2 : 1024;
		s->terms = xrealloc(s->terms, s->tcap * sizeof *s->terms);
	}
	term *t = &s->terms[s->nterms];
	t->s = xrealloc(NULL, n + 1);
	memcpy(t->s, w, n);
	t->s[n] = '\0';
	t->p = NULL;
	t->n = t->cap = 0;
	t->raw = NULL;
	t->rawlen = 0;
	t->rawown = 0;
	t->ent = t->from = NULL;
	s->slots[j] = (uint32_t)++s->nterms;
	if (s->nterms * 2 > s->nslots)
		rehash(s);
	return &s->terms[s->nterms - 1];
}

typedef struct {
	sg_search *s;
	uint32_t page;
	uint32_t field; /* 1 title, 2 heading, 4 body */
} add_ctx;

/* The first 16 bytes of word w (n bytes; 16 bytes are readable at w), zero-
 * padded, and their hash (with n: longer words sharing a prefix differ in
 * the rest, which word_term compares).  Inlined: the keys stay in
 * registers for the probe that follows. */
static inline __attribute__((always_inline)) uint64_t word_key(const char *w, size_t n, uint64_t *k0,
                                                               uint64_t *k1)
{
	uint64_t a, b;
	memcpy(&a, w, 8);
	memcpy(&b, w + 8, 8);
	if (n < 8) {
		a &= (UINT64_C(1) << (8 * n)) - 1;
		b = 0;
	} else if (n < 16) {
		b &= (UINT64_C(1) << (8 * (n - 8))) - 1;
	}
	*k0 = a;
	*k1 = b;
	uint64_t h = (a ^ (uint64_t)n) * UINT64_C(0x9E3779B97F4A7C15) + b * UINT64_C(0xC2B2AE3D27D4EB4F);
	return h ^ (h >> 29);
}

static void cache_grow(sg_search *s)
{
	size_t ns = s->cslots ? s->cslots * 2 : 4096;
	cache_ent *old = s->cache;
	size_t oslots = s->cslots;
	s->cache = xrealloc(NULL, ns * sizeof *s->cache);
	memset(s->cache, 0, ns * sizeof *s->cache);
	s->cslots = ns;
	for (size_t i = 0; i < oslots; i++) {
		const cache_ent *e = &old[i];
		if (!e->n)
			continue;
		char k[16];
		memcpy(k, &e->k0, 8);
		memcpy(k + 8, &e->k1, 8);
		uint64_t k0, k1;
		size_t j = word_key(k, e->n, &k0, &k1) & (ns - 1);
		while (s->cache[j].n)
			j = (j + 1) & (ns - 1);
		s->cache[j] = *e;
	}
	free(old);
}

/* The term of folded word w, as its index + 1 (0 for a stopword), through
 * the cache.  w must have 16 readable bytes (tokenize_raw's buffer has). */
static uint32_t word_term(sg_search *s, char *w, size_t n)
{
	if (s->ncache * 2 >= s->cslots)
		cache_grow(s);
	uint64_t k0, k1;
	size_t j = word_key(w, n, &k0, &k1) & (s->cslots - 1);
	for (;;) {
		const cache_ent *e = &s->cache[j];
		if (!e->n)
			break;
		if (e->k0 == k0 && e->k1 == k1 && e->n == n && (n <= 16 || memcmp(e->w + 16, w + 16, n - 16) == 0))
			return e->term;
		j = (j + 1) & (s->cslots - 1);
	}
	term *t = NULL;
	char *key = NULL;
	if (n > 16) {
		key = xrealloc(NULL, n + 1);
		memcpy(key, w, n);
		key[n] = '\0';
	}
	/* sg_stem rewrites w in place: the key above was taken first. */
	if (!is_stopword(w, n))
		t = sg_si_term(s, w, sg_stem(w, n));
	cache_ent *e = &s->cache[j];
	e->k0 = k0;
	e->k1 = k1;
	e->w = key;
	e->term = t ? (uint32_t)(t - s->terms) + 1 : 0;
	e->n = (uint32_t)n;
	s->ncache++;
	return e->term;
}

/* Room in the page accumulator for every term index so far. */
static void acc_grow(sg_search *s)
{
	size_t n = s->acc_cap ? s->acc_cap : 1024;
	while (n < s->nterms)
		n *= 2;
	s->acc = xrealloc(s->acc, n * sizeof *s->acc);
	s->touched = xrealloc(s->touched, n * sizeof *s->touched);
	memset(s->acc + s->acc_cap, 0, (n - s->acc_cap) * sizeof *s->acc);
	s->acc_cap = n;
}

/* Counts word w of the page being added in the accumulator (see
 * sg_search_add). */
static void add_term(char *w, size_t n, void *vctx)
{
	add_ctx *c = vctx;
	sg_search *s = c->s;
	uint32_t ti = word_term(s, w, n);
	if (!ti)
		return;
	size_t i = ti - 1;
	if (i >= s->acc_cap)
		acc_grow(s);
	acc_ent *a = &s->acc[i];
	if (a->gen != s->gen) {
		a->gen = s->gen;
		a->v = 0;
		s->touched[s->ntouched++] = (uint32_t)i;
	}
	if (c->field == 1)
		a->v |= 1;
	else if (c->field == 2)
		a->v |= 2;
	else if ((a->v >> 2) < TF_MAX)
		a->v += 4;
}

/* Appends the accumulated page's postings: terms' postings stay in page
 * order, one per term and page. */
static void acc_flush(sg_search *s, uint32_t pg)
{
	for (size_t k = 0; k < s->ntouched; k++) {
		uint32_t i = s->touched[k];
		term *t = &s->terms[i];
		if (t->n == t->cap) {
			t->cap = t->cap ? t->cap * 2 : 4;
			t->p = xrealloc(t->p, t->cap * sizeof *t->p);
		}
		t->p[t->n].page = pg;
		t->p[t->n].v = s->acc[i].v;
		t->n++;
	}
	s->ntouched = 0;
}

/* The first EXCERPT_MAX bytes of text, whitespace collapsed, cut at a word
 * boundary (never inside a UTF-8 sequence). */
static char *make_excerpt(const char *clean)
{
	/* Byte by byte into a local array (it was a buffer append per byte):
	 * at most EXCERPT_MAX + 40 bytes, a UTF-8 sequence's last 3 and the
	 * ellipsis. */
	char t[EXCERPT_MAX + 48];
	size_t n = 0;
	int space = 0;
	for (const char *p = clean; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
			space = n > 0;
			continue;
		}
		if (space) {
			if (n >= EXCERPT_MAX)
				break;
			t[n++] = ' ';
			space = 0;
		}
		if (n >= EXCERPT_MAX + 40 && (c & 0xC0) != 0x80)
			break; /* one very long word: hard cut */
		t[n++] = (char)c;
	}
	if (n >= EXCERPT_MAX) {
		memcpy(t + n, "\xE2\x80\xA6", 3); /* … */
		n += 3;
	}
	char *e = xrealloc(NULL, n + 1);
	memcpy(e, t, n);
	e[n] = '\0';
	return e;
}

/* The loaded page with this (clean) URL, or NULL.  Loaded pages are in
 * URL order, so a binary search finds it. */
static page *find_old(sg_search *s, const char *url)
{
	size_t lo = 0, hi = s->nold;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->pages[mid].url, url);
		if (!c)
			return &s->pages[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* A new, zeroed page slot at the end of s->pages. */
page *sg_si_page(sg_search *s)
{
	if (s->npages >= SG_SEARCH_MAX_PAGES) {
		/* build.c refuses such a site before indexing it. */
		fputs("sitegen: search index: too many pages\n", stderr);
		abort();
	}
	if (s->npages == s->pcap) {
		s->pcap = s->pcap ? s->pcap * 2 : 64;
		s->pages = xrealloc(s->pages, s->pcap * sizeof *s->pages);
	}
	page *pg = &s->pages[s->npages];
	memset(pg, 0, sizeof *pg);
	return pg;
}

/* A new page with url supersedes the loaded page of that URL, if any. */
static void supersede(sg_search *s, const char *url)
{
	page *o = s->nold ? find_old(s, url) : NULL;
	if (o)
		o->replaced = 1;
}

void sg_search_add(sg_search *s, const char *url, const char *title,
                   const char *section, const char *headings, const char *text)
{
	page *pg = sg_si_page(s);
	char *owned;
	const char *body = utf8_clean_view(text, &owned);
	pg->url = clean_dup(url);
	supersede(s, pg->url);
	pg->title = clean_dup(title);
	pg->section = clean_dup(section);
	pg->excerpt = make_excerpt(body);

	add_ctx c = { s, (uint32_t)s->npages, 1 };
	if (++s->gen == 0) { /* wrapped: no stale mark may match */
		if (s->acc_cap)
			memset(s->acc, 0, s->acc_cap * sizeof *s->acc);
		s->gen = 1;
	}
	s->ntouched = 0;
	tokenize_raw(pg->title, add_term, &c);
	c.field = 2;
	tokenize_raw(headings, add_term, &c);
	c.field = 4;
	tokenize_raw(body, add_term, &c);
	acc_flush(s, c.page);
	free(owned);
	s->npages++;
}

int sg_search_keep(sg_search *s, const char *url, const char *title, const char *section)
{
	char *u = clean_dup(url);
	page *o = s->nold ? find_old(s, u) : NULL;
	free(u);
	if (!o || o->replaced)
		return -1;
	o->used = 1;
	/* The section's title may have changed without the page: only its
	 * chunk entry changes, its postings do not. */
	char *t = clean_dup(title), *sec = clean_dup(section);
	if (strcmp(t, o->title))
		free(o->title), o->title = t;
	else
		free(t);
	if (strcmp(sec, o->section))
		free(o->section), o->section = sec;
	else
		free(sec);
	return 0;
}

void sg_search_merge(sg_search *dst, sg_search *src)
{
	if (!src)
		return;
	uint32_t off = (uint32_t)dst->npages;
	for (size_t i = 0; i < src->npages; i++) {
		page *pg = sg_si_page(dst);
		*pg = src->pages[i];
		pg->old = pg->used = pg->replaced = 0;
		supersede(dst, pg->url);
		dst->npages++;
	}
	src->npages = 0;
	for (size_t i = 0; i < src->nterms; i++) {
		term *from = &src->terms[i];
		term *t = sg_si_term(dst, from->s, strlen(from->s));
		if (t->n + from->n > t->cap) {
			t->cap = t->n + from->n;
			t->p = xrealloc(t->p, t->cap * sizeof *t->p);
		}
		for (size_t j = 0; j < from->n; j++) {
			t->p[t->n].page = from->p[j].page + off;
			t->p[t->n++].v = from->p[j].v;
		}
	}
	sg_search_free(src);
}

/* ---- writing -------------------------------------------------------------- */

static int cmp_page_url(const void *a, const void *b)
{
	return strcmp(((const page *)a)->url, ((const page *)b)->url);
}

static int cmp_posting(const void *a, const void *b)
{
	uint32_t x = ((const posting *)a)->page, y = ((const posting *)b)->page;
	return (x > y) - (x < y);
}

static int cmp_term(const void *a, const void *b)
{
	return strcmp(((const term *)a)->s, ((const term *)b)->s);
}

size_t sg_si_prefix_len(const char *s, size_t cps)
{
	size_t i = 0;
	while (s[i] && cps) {
		i++;
		while (((unsigned char)s[i] & 0xC0) == 0x80)
			i++;
		cps--;
	}
	return i;
}


/* File name of a shard key: [a-z0-9] kept, any other byte as _xx. */
static void key_file(buf *b, const char *key, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	buf_puts(b, "t/");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)key[i];
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
			buf_put(b, key + i, 1);
		} else {
			char e[3] = { '_', hex[c >> 4], hex[c & 15] };
			buf_put(b, e, 3);
		}
	}
	buf_puts(b, ".json");
}

char *sg_si_shard_name(const char *key)
{
	buf b = { 0 };
	key_file(&b, key, strlen(key));
	return b.p;
}

typedef oldfile outfile;   /* same shape: name, bytes */

typedef struct {
	outfile *f;     /* every file of the new index; data freed once written */
	size_t n, cap;
	buf keys;       /* the meta "shards" array body */
	size_t nkeys;
	/* Term i's entry ("term":[...]) is at fp[i], fragoff[i + 1] - fragoff[i]
	 * bytes long: in the old shard for a term left encoded, else in the
	 * writer's buffer.  fragoff doubles as the byte counts split needs. */
	const char *const *fp;
	const size_t *fragoff;
	const term *terms;
	/* Where files go as they are made (one at a time: holding the whole
	 * index's bytes at once was the build's peak memory). */
	const sg_search *s;
	const char *dir;       /* <outdir>/search */
	char ***kept;          /* see sg_search_write_kept */
	size_t *nkept;
	char **err;
	int rc;
} plan;

static int same_as_loaded(const sg_search *s, const outfile *f);
static int write_if_changed(const char *path, const char *data, size_t len, char **err);

/* Writes f (or records it as kept when the loaded index has the same
 * bytes) and frees its bytes. */
static void put_file(plan *pl, outfile *f)
{
	if (pl->rc == 0) {
		if (pl->kept && same_as_loaded(pl->s, f)) {
			*pl->kept = xrealloc(*pl->kept, (*pl->nkept + 1) * sizeof **pl->kept);
			(*pl->kept)[(*pl->nkept)++] = fmt("search/%s", f->name);
		} else {
			char *path = fmt("%s/%s", pl->dir, f->name);
			pl->rc = write_if_changed(path, f->data ? f->data : "", f->len, pl->err);
			free(path);
		}
	}
	free(f->data);
	f->data = NULL;
	f->len = 0;
}

/* Records a shard the loaded index already holds byte for byte. */
static void plan_kept(plan *pl, char *name)
{
	if (pl->n == pl->cap) {
		pl->cap = pl->cap ? pl->cap * 2 : 64;
		pl->f = xrealloc(pl->f, pl->cap * sizeof *pl->f);
	}
	outfile *f = &pl->f[pl->n++];
	f->name = name;
	f->data = NULL;
	f->len = 0;
	*pl->kept = xrealloc(*pl->kept, (*pl->nkept + 1) * sizeof **pl->kept);
	(*pl->kept)[(*pl->nkept)++] = fmt("search/%s", name);
}

static int cmp_outfile(const void *a, const void *b);

/* Do terms [a, b) make up exactly the loaded shard called name, each entry
 * unchanged?  Then its bytes are the old file's: no need to build them. */
static int shard_unchanged(const plan *pl, const char *name, size_t a, size_t b)
{
	const char *from = pl->terms[a].from;
	if (!pl->kept || !pl->terms[a].raw || !from || strcmp(from, name))
		return 0;
	for (size_t i = a; i < b; i++)
		if (!pl->terms[i].raw || pl->terms[i].from != from)
			return 0;
	outfile key = { (char *)name, NULL, 0, 0 };
	const oldfile *o = bsearch(&key, pl->s->files, pl->s->nfiles, sizeof *pl->s->files, cmp_outfile);
	return o && o->nterms == b - a;
}

/* Adds a file to the index; all but meta.json are written right away
 * (meta.json last, so a reader that sees it finds every file it lists). */
static void plan_file(plan *pl, char *name, buf *data)
{
	if (pl->n == pl->cap) {
		pl->cap = pl->cap ? pl->cap * 2 : 64;
		pl->f = xrealloc(pl->f, pl->cap * sizeof *pl->f);
	}
	outfile *f = &pl->f[pl->n++];
	f->name = name;
	f->data = data->p;
	f->len = data->n;
	if (strcmp(name, "meta.json"))
		put_file(pl, f);
}

static void emit_shard(plan *pl, const char *key, size_t keylen, size_t a, size_t b)
{
	buf name = { 0 }, data = { 0 };
	key_file(&name, key, keylen);
	if (shard_unchanged(pl, name.p, a, b)) {
		plan_kept(pl, name.p);
	} else {
		buf_reserve(&data, pl->fragoff[b] - pl->fragoff[a] + (b - a) + 3);
		buf_put(&data, "{", 1);
		for (size_t i = a; i < b; i++) {
			if (i > a)
				buf_put(&data, ",", 1);
			buf_put(&data, pl->fp[i], pl->fragoff[i + 1] - pl->fragoff[i]);
		}
		buf_put(&data, "}\n", 2);
		plan_file(pl, name.p, &data);
	}

	char *k = xrealloc(NULL, keylen + 1);
	memcpy(k, key, keylen);
	k[keylen] = '\0';
	if (pl->nkeys++)
		buf_put(&pl->keys, ",", 1);
	buf_json(&pl->keys, k);
	free(k);
}

void sg_si_split(const sg_si_splitter *sp, size_t a, size_t b, size_t d)
{
	const char *first = sp->term(sp->ctx, a);
	size_t keylen = sg_si_prefix_len(first, d);
	if (sp->bytes(sp->ctx, a, b) <= SHARD_MAX || d >= SHARD_DEPTH || sp->count(sp->ctx, a, b) == 1) {
		sp->emit(sp->ctx, first, keylen, a, b);
		return;
	}
	size_t i = a;
	if (first[keylen] == '\0') {
		if (sp->splits) sp->splits(sp->ctx, a, d);
		sp->emit(sp->ctx, first, keylen, a, a + 1);
		i++;
	}
	while (i < b) {
		const char *ti = sp->term(sp->ctx, i);
		size_t kl = sg_si_prefix_len(ti, d + 1), j = i + 1;
		if (sp->splits) sp->splits(sp->ctx, i, d);
		while (j < b && strncmp(sp->term(sp->ctx, j), ti, kl) == 0 && sg_si_prefix_len(sp->term(sp->ctx, j), d + 1) == kl)
			j++;
		sg_si_split(sp, i, j, d + 1);
		i = j;
	}
}

static const char *plan_term(void *ctx, size_t i)
{
	return ((plan *)ctx)->terms[i].s;
}

static size_t plan_bytes(void *ctx, size_t a, size_t b)
{
	return ((plan *)ctx)->fragoff[b] - ((plan *)ctx)->fragoff[a];
}

static size_t plan_count(void *ctx, size_t a, size_t b)
{
	(void)ctx;
	return b - a;
}

static void plan_emit(void *ctx, const char *key, size_t keylen, size_t a, size_t b)
{
	emit_shard(ctx, key, keylen, a, b);
}

static int mkdir_p1(const char *path, char **err)
{
	if (mkdir(path, 0755) == 0 || errno == EEXIST)
		return 0;
	*err = fmt("%s: %s", path, strerror(errno));
	return -1;
}

/* Writes data to path unless the file already holds exactly those bytes;
 * through a temporary file and rename, so readers never see half a file. */
/* Writes all of data to fd; 0 or -1 (errno set). */
static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t w = write(fd, data, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		data += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Is the file open on fd exactly data (len bytes)? */
static int same_file(int fd, const char *data, size_t len)
{
	struct stat st;
	if (fstat(fd, &st) != 0 || (size_t)st.st_size != len)
		return 0;
	char *old = xrealloc(NULL, len);
	size_t got = 0;
	while (got < len) {
		ssize_t r = read(fd, old + got, len - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	int same = got == len && memcmp(old, data, len) == 0;
	free(old);
	return same;
}

static int write_if_changed(const char *path, const char *data, size_t len, char **err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		/* A new file (every file of a build's staging folder): written in
		 * place, as build.c writes pages; a rename would be a second
		 * directory update per file. */
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0 || write_all(fd, data, len) != 0 || close(fd) != 0) {
			*err = fmt("%s: %s", path, strerror(errno));
			if (fd >= 0)
				unlink(path);
			return -1;
		}
		return 0;
	}
	if (fd >= 0) {
		int same = same_file(fd, data, len);
		close(fd);
		if (same)
			return 0;
	}
	/* Replacing a file: readers see the old bytes or the new, never a part. */
	char *tmp = fmt("%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		*err = fmt("%s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	int ok = write_all(fd, data, len) == 0;
	ok = (close(fd) == 0) && ok;
	if (!ok || rename(tmp, path) != 0) {
		*err = fmt("%s: %s", path, strerror(errno));
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	return 0;
}

static int cmp_outfile(const void *a, const void *b)
{
	return strcmp(((const outfile *)a)->name, ((const outfile *)b)->name);
}

/* Does the loaded index hold a file of this name with exactly these bytes? */
static int same_as_loaded(const sg_search *s, const outfile *f)
{
	const oldfile *o = s->nfiles ? bsearch(f, s->files, s->nfiles, sizeof *s->files, cmp_outfile) : NULL;
	return o && o->len == f->len && memcmp(o->data, f->data ? f->data : "", f->len) == 0;
}

/* Removes the .json files of <dir>/<sub> that the new index does not list. */
static int remove_stale(const char *dir, const char *sub, const plan *pl, char **err)
{
	char *path = fmt("%s/%s", dir, sub);
	DIR *d = opendir(path);
	if (!d) {
		*err = fmt("%s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n < 6 || strcmp(e->d_name + n - 5, ".json"))
			continue;
		char *name = fmt("%s/%s", sub, e->d_name);
		outfile key = { name, NULL, 0, 0 };
		if (!bsearch(&key, pl->f, pl->n, sizeof *pl->f, cmp_outfile)) {
			char *full = fmt("%s/%s", dir, name);
			if (unlink(full) != 0 && errno != ENOENT && !rc) {
				*err = fmt("%s: %s", full, strerror(errno));
				rc = -1;
			}
			free(full);
		}
		free(name);
	}
	closedir(d);
	free(path);
	return rc;
}

/* Merges the sorted runs a[lo, mid) and a[mid, hi) through tmp. */
static void merge_runs(char *a, char *tmp, size_t lo, size_t mid, size_t hi, size_t sz,
                       int (*cmp)(const void *, const void *))
{
	memcpy(tmp + lo * sz, a + lo * sz, (hi - lo) * sz);
	size_t i = lo, j = mid, o = lo;
	while (i < mid && j < hi) {
		if (cmp(tmp + i * sz, tmp + j * sz) <= 0)
			memcpy(a + (o++) * sz, tmp + (i++) * sz, sz);
		else
			memcpy(a + (o++) * sz, tmp + (j++) * sz, sz);
	}
	if (i < mid)
		memcpy(a + o * sz, tmp + i * sz, (mid - i) * sz);
	if (j < hi)
		memcpy(a + o * sz, tmp + j * sz, (hi - j) * sz);
}

#define SORT_MAX_RUNS 16

/* Sorts an array that is usually made of a few sorted runs: the postings
 * of the render threads' builders, appended one after the other (each
 * thread's run is in page order), or a loaded index plus a short tail of
 * new terms or postings.  A few runs are merged pairwise (linear per pass:
 * qsort on the threads' postings was a third of writing the index); many
 * runs after a long sorted prefix: the tail is sorted and merged; else
 * qsort. */
static void sort_mostly_sorted(void *base, size_t n, size_t sz, int (*cmp)(const void *, const void *))
{
	char *a = base;
	size_t runs[SORT_MAX_RUNS + 1], nr = 1;   /* run starts; runs[nr] = n */
	int many = 0;
	runs[0] = 0;
	for (size_t k = 1; k < n && !many; k++) {
		if (cmp(a + (k - 1) * sz, a + k * sz) <= 0)
			continue;
		if (nr == SORT_MAX_RUNS)
			many = 1;
		else
			runs[nr++] = k;
	}
	if (nr == 1)
		return;
	if (!many) {
		char *tmp = xrealloc(NULL, n * sz);
		runs[nr] = n;
		while (nr > 1) {
			size_t w = 0;
			for (size_t r = 0; r < nr; r += 2) {
				if (r + 1 < nr)
					merge_runs(a, tmp, runs[r], runs[r + 1], runs[r + 2], sz, cmp);
				runs[w++] = runs[r];
			}
			runs[w] = n;
			nr = w;
		}
		free(tmp);
		return;
	}
	size_t k = runs[1];   /* the sorted prefix */
	if (k < n / 2) {      /* not mostly sorted after all */
		qsort(a, n, sz, cmp);
		return;
	}
	qsort(a + k * sz, n - k, sz, cmp);
	/* Merge [0, k) and [k, n) through a copy of the (short) tail, from
	 * the back so nothing is overwritten before it is read. */
	size_t t = n - k;
	char *tail = xrealloc(NULL, t * sz);
	memcpy(tail, a + k * sz, t * sz);
	size_t i = k, j = t, o = n;
	while (j > 0) {
		if (i > 0 && cmp(a + (i - 1) * sz, tail + (j - 1) * sz) > 0) {
			memcpy(a + (--o) * sz, a + (--i) * sz, sz);
		} else {
			memcpy(a + (--o) * sz, tail + (--j) * sz, sz);
		}
	}
	free(tail);
}

/* sort_mostly_sorted for postings (their page ids are distinct), with the
 * comparisons inline: the merged builders' postings come as two or three
 * runs in nearly every term, and the generic merge was a fifth of writing
 * the index.  scratch/scap: a buffer reused across terms. */
static void sort_postings(posting *p, size_t n, posting **scratch, size_t *scap)
{
	size_t runs[SORT_MAX_RUNS + 1], nr = 1;
	runs[0] = 0;
	for (size_t k = 1; k < n; k++) {
		if (p[k - 1].page < p[k].page)
			continue;
		if (nr == SORT_MAX_RUNS) {
			sort_mostly_sorted(p, n, sizeof *p, cmp_posting);
			return;
		}
		runs[nr++] = k;
	}
	if (nr == 1)
		return;
	if (*scap < n) {
		*scap = n;
		*scratch = xrealloc(*scratch, n * sizeof **scratch);
	}
	posting *tmp = *scratch;
	runs[nr] = n;
	while (nr > 1) {
		size_t w = 0;
		for (size_t r = 0; r < nr; r += 2) {
			if (r + 1 < nr) {
				size_t lo = runs[r], mid = runs[r + 1], hi = runs[r + 2];
				memcpy(tmp + lo, p + lo, (hi - lo) * sizeof *p);
				size_t i = lo, j = mid, o = lo;
				while (i < mid && j < hi)
					p[o++] = tmp[i].page < tmp[j].page ? tmp[i++] : tmp[j++];
				while (i < mid)
					p[o++] = tmp[i++];
				while (j < hi)
					p[o++] = tmp[j++];
			}
			runs[w++] = runs[r];
		}
		runs[w] = n;
		nr = w;
	}
}

/* Does the encoded posting array raw ("[d,v,...]", old ids) list a page
 * whose flag is set in dirty? */
static int raw_touches(const char *raw, size_t len, const unsigned char *dirty, size_t ndirty)
{
	unsigned long id = 0, num = 0;
	int even = 1;
	for (size_t i = 1; i < len; i++) {
		char c = raw[i];
		if (c >= '0' && c <= '9') {
			num = num * 10 + (unsigned long)(c - '0');
			continue;
		}
		if (even) {
			id += num;
			if (id >= ndirty)
				return 0;   /* ids only grow: no dirty page further on */
			if (dirty[id])
				return 1;
		}
		even = !even;
		num = 0;
	}
	return 0;
}

/* Decodes t's raw postings (page = old id = loaded page index) into t->p,
 * ahead of the postings new pages added: the array then stays nearly
 * sorted, which sort_mostly_sorted handles in linear time. */
static int raw_decode(term *t, size_t nold)
{
	size_t room = t->rawlen / 4 + 1, n = 0;   /* >= 4 bytes per posting */
	size_t cap = room + t->n;
	posting *p = xrealloc(NULL, cap * sizeof *p);
	unsigned long num = 0, id = 0;
	int even = 1;
	for (size_t i = 1; i < t->rawlen; i++) {
		char c = t->raw[i];
		if (c >= '0' && c <= '9') {
			if (num > SG_SI_MAX_PAGES)
				goto bad;
			num = num * 10 + (unsigned long)(c - '0');
			continue;
		}
		if (even) {
			id += num;
		} else {
			/* The loaded shard is outside input: ids past the loaded
			 * pages or values past a posting's bits are refused. */
			if (id >= nold || num > SG_SI_MAX_V || n == room)
				goto bad;
			p[n].page = (uint32_t)id;
			p[n++].v = (uint32_t)num;
		}
		even = !even;
		num = 0;
	}
	if (t->n)
		memcpy(p + n, t->p, t->n * sizeof *p);
	free(t->p);
	t->p = p;
	t->n += n;
	t->cap = cap;
	if (t->rawown)
		free((char *)t->raw);
	t->raw = NULL;
	t->rawlen = 0;
	t->rawown = 0;
	t->ent = t->from = NULL;
	return 0;
bad:
	free(p);
	return -1;
}

/* Appends ",d,v" (or "d,v" first) for page id after prev. */
static void put_pair(buf *o, int *any, uint32_t *prev, uint32_t id, uint32_t v)
{
	buf_reserve(o, 24);
	char *w = o->p + o->n;
	if ((*any)++)
		*w++ = ',';
	w += put_u32(w, id - *prev);
	*w++ = ',';
	w += put_u32(w, v);
	o->n = (size_t)(w - o->p);
	o->p[o->n] = '\0';
	*prev = id;
}

/* When page ids did not move: t's encoded postings with the loaded pages
 * flagged in dirty taken out and t->p (new pages) put in, copying the
 * untouched runs before and after the changes as they are.  A common term
 * of a one-page edit lists every page: decoding and re-encoding all of it
 * was most of an incremental build's index time. */
static void raw_splice(term *t, const unsigned char *dirty, size_t ndirty, const uint32_t *remap)
{
	/* New postings at their final ids (the same as the old ids here). */
	size_t m = 0;
	for (size_t j = 0; j < t->n; j++)
		if (remap[t->p[j].page] != UINT32_MAX) {
			t->p[m].page = remap[t->p[j].page];
			t->p[m++].v = t->p[j].v;
		}
	if (m > 1)
		qsort(t->p, m, sizeof *t->p, cmp_posting);
	uint32_t last = ndirty ? (uint32_t)(ndirty - 1) : 0;   /* no change after this id */
	if (m && t->p[m - 1].page > last)
		last = t->p[m - 1].page;

	buf o = { 0 };
	buf_reserve(&o, t->rawlen + m * 24 + 2);
	buf_put(&o, "[", 1);
	const char *p = t->raw + 1, *end = t->raw + t->rawlen - 1;   /* "[ ... ]" */
	uint32_t id = 0, prev = 0;
	size_t k = 0;
	int any = 0, diverged = 0;
	while (p < end) {
		const char *pair = p;
		uint32_t d = 0, v = 0;
		while (*p != ',')
			d = d * 10 + (uint32_t)(*p++ - '0');
		p++;
		while (p < end && *p != ',')
			v = v * 10 + (uint32_t)(*p++ - '0');
		if (p < end)
			p++;   /* the comma before the next pair */
		id += d;
		int drop = id < ndirty && dirty[id];
		if (!diverged && ((k < m && t->p[k].page <= id) || drop)) {
			/* First change: the input so far is the output so far. */
			size_t len = (size_t)(pair - (t->raw + 1));
			if (len)
				buf_put(&o, t->raw + 1, len - 1);   /* without its last comma */
			diverged = 1;
		}
		if (!diverged) {
			prev = id;
			any = 1;
			continue;
		}
		while (k < m && t->p[k].page < id)
			put_pair(&o, &any, &prev, t->p[k].page, t->p[k].v), k++;
		if (k < m && t->p[k].page == id)   /* the replaced page, new posting */
			put_pair(&o, &any, &prev, id, t->p[k].v), k++;
		else if (!drop)
			put_pair(&o, &any, &prev, id, v);
		if (id > last && !drop) {
			/* Past every change: the rest's deltas still hold. */
			if (p < end) {
				buf_put(&o, ",", 1);
				buf_put(&o, p, (size_t)(end - p));
			}
			p = end;
		}
	}
	if (!diverged) {   /* nothing dropped or inserted before the end */
		buf_put(&o, t->raw + 1, (size_t)(end - (t->raw + 1)));
	}
	while (k < m)
		put_pair(&o, &any, &prev, t->p[k].page, t->p[k].v), k++;
	buf_put(&o, "]", 1);
	free(t->p);
	t->p = NULL;
	t->n = t->cap = 0;
	t->ent = t->from = NULL;   /* no longer the old file's bytes */
	if (o.n == 2) {   /* no page left: the term disappears */
		free(o.p);
		t->raw = NULL;
		t->rawlen = 0;
		return;
	}
	t->raw = o.p;
	t->rawlen = o.n;
	t->rawown = 1;
}

static int is_included(const page *pg)
{
	return !pg->old || (pg->used && !pg->replaced);
}

/* Gives pages their ids (URL order), drops loaded pages nobody kept, and
 * brings every term's postings to those ids.  Terms of a loaded index stay
 * encoded when no page they list changed id or content (the usual one-page
 * edit): only the terms of changed pages are decoded. */
static int assign_ids(sg_search *s, char **err)
{
	size_t n = s->npages, np = 0, i, j;
	typedef struct { page pg; uint32_t ins; } ord; /* pg first: cmp_page_url */
	ord *o = xrealloc(NULL, (n ? n : 1) * sizeof *o);
	for (i = 0; i < n; i++) {
		if (!is_included(&s->pages[i]))
			continue;
		o[np].pg = s->pages[i];
		o[np++].ins = (uint32_t)i;
	}
	sort_mostly_sorted(o, np, sizeof *o, cmp_page_url);
	for (i = 1; i < np; i++)
		if (!strcmp(o[i].pg.url, o[i - 1].pg.url)) {
			*err = fmt("search index: page URL %s added twice", o[i].pg.url);
			free(o);
			return -1;
		}
	/* Same URLs at the same ids as the loaded index: old ids stay valid,
	 * and only terms listing a replaced page need decoding. */
	int same_ids = s->nold > 0 && np == s->nold;
	for (i = 0; same_ids && i < np; i++)
		same_ids = !strcmp(o[i].pg.url, s->pages[i].url);
	/* dirty[id] for loaded pages that changed; ndirty: one past the last. */
	unsigned char *dirty = xrealloc(NULL, s->nold + 1);
	size_t ndirty = 0;
	for (i = 0; i < s->nold; i++)
		if ((dirty[i] = !is_included(&s->pages[i])))
			ndirty = i + 1;
	uint32_t *remap = xrealloc(NULL, (n ? n : 1) * sizeof *remap);
	for (i = 0; i < n; i++)
		remap[i] = UINT32_MAX;
	for (i = 0; i < np; i++)
		remap[o[i].ins] = (uint32_t)i;
	for (i = 0; i < s->nterms; i++) {
		term *t = &s->terms[i];
		if (!t->raw)
			continue;
		if (!same_ids && raw_decode(t, s->nold) != 0) {
			*err = fmt("search index: the previous index's postings of '%s' are invalid (build with --full)", t->s);
			free(dirty);
			free(remap);
			free(o);
			return -1;
		}
		if (!same_ids)
			continue;
		if (t->n || raw_touches(t->raw, t->rawlen, dirty, ndirty))
			raw_splice(t, dirty, ndirty, remap);
	}
	free(dirty);
	for (i = 0; i < n; i++)
		if (remap[i] == UINT32_MAX) {
			free(s->pages[i].url);
			free(s->pages[i].title);
			free(s->pages[i].section);
			free(s->pages[i].excerpt);
		}
	for (i = 0; i < np; i++) {
		s->pages[i] = o[i].pg;
		s->pages[i].old = s->pages[i].used = s->pages[i].replaced = 0;
	}
	s->npages = np;
	s->nold = 0;
	free(o);
	/* Postings to ids; a term left without pages disappears. */
	size_t nt = 0, scap = 0;
	posting *scratch = NULL;
	for (i = 0; i < s->nterms; i++) {
		term *t = &s->terms[i];
		size_t k = 0;
		for (j = 0; j < t->n; j++)
			if (remap[t->p[j].page] != UINT32_MAX) {
				t->p[k].page = remap[t->p[j].page];
				t->p[k++].v = t->p[j].v;
			}
		t->n = k;
		if (!t->n && !t->raw) {
			free(t->s);
			free(t->p);
			continue;
		}
		sort_postings(t->p, t->n, &scratch, &scap);
		s->terms[nt++] = *t;
	}
	free(scratch);
	s->nterms = nt;
	free(remap);
	return 0;
}

void sg_search_last_write(sg_search *s)
{
	s->last = 1;
}

int sg_search_write(sg_search *s, const char *outdir, char **err)
{
	return sg_search_write_kept(s, outdir, NULL, NULL, err);
}

int sg_search_write_kept(sg_search *s, const char *outdir, char ***kept, size_t *nkept, char **err)
{
	*err = NULL;
	if (kept) {
		*kept = NULL;
		*nkept = 0;
	}
	size_t np, i, j;
	if (assign_ids(s, err) != 0)
		return -1;
	np = s->npages;
	/* Pages are in final order and insertion index == id from here on, so
	 * later sg_search_add calls (and a second write) still work. */
	sort_mostly_sorted(s->terms, s->nterms, sizeof *s->terms, cmp_term);
	/* Term indices moved: forget the stem cache, rebuild the term hash. */
	for (i = 0; i < s->cslots; i++) {
		free(s->cache[i].w);
		s->cache[i].w = NULL;
		s->cache[i].n = 0;
	}
	s->ncache = 0;
	memset(s->slots, 0, s->nslots * sizeof *s->slots);
	for (i = 0; i < s->nterms; i++) {
		size_t k = hash(s->terms[i].s, strlen(s->terms[i].s)) & (s->nslots - 1);
		while (s->slots[k])
			k = (k + 1) & (s->nslots - 1);
		s->slots[k] = (uint32_t)i + 1;
	}

	/* Encode every term once: "term":[d0,v0,d1,v1,...], page ids delta-coded. */
	buf frag = { 0 };
	size_t guess = 0;
	for (i = 0; i < s->nterms; i++)
		if (!s->terms[i].ent)
			guess += strlen(s->terms[i].s) + 4 + s->terms[i].rawlen + s->terms[i].n * 8;
	buf_reserve(&frag, guess);
	/* Entry sizes (off) and places (fp): an entry left encoded stays where
	 * it is in the old shard; the others are encoded into frag, whose final
	 * address is known only at the end (fpos). */
	size_t *off = xrealloc(NULL, (s->nterms + 1) * sizeof *off);
	size_t *fpos = xrealloc(NULL, (s->nterms + 1) * sizeof *fpos);
	const char **fp = xrealloc(NULL, (s->nterms + 1) * sizeof *fp);
	size_t total = 0;
	for (i = 0; i < s->nterms; i++) {
		term *t = &s->terms[i];
		off[i] = total;
		if (t->raw && t->ent) {   /* unchanged since the loaded index */
			fp[i] = t->ent;
			total += (size_t)(t->raw + t->rawlen - t->ent);
			continue;
		}
		fp[i] = NULL;
		fpos[i] = frag.n;
		size_t start = frag.n;
		buf_json(&frag, t->s);
		if (t->raw) {   /* spliced (raw_splice): encoded already */
			buf_put(&frag, ":", 1);
			buf_put(&frag, t->raw, t->rawlen);
			total += frag.n - start;
			continue;
		}
		/* Two numbers of at most 10 digits and two commas per posting:
		 * reserve once and write digits in place (millions of them). */
		buf_reserve(&frag, t->n * 22 + 3);
		char *o = frag.p + frag.n;
		*o++ = ':';
		*o++ = '[';
		uint32_t prev = 0;
		for (j = 0; j < t->n; j++) {
			if (j)
				*o++ = ',';
			o += put_u32(o, t->p[j].page - prev);
			*o++ = ',';
			o += put_u32(o, t->p[j].v);
			prev = t->p[j].page;
		}
		*o++ = ']';
		frag.n = (size_t)(o - frag.p);
		frag.p[frag.n] = '\0';
		total += frag.n - start;
		if (s->last) {
			free(t->p);
			t->p = NULL;
			t->n = t->cap = 0;
			/* Freed postings are scattered small blocks: without a trim
			 * their pages stay resident beside the growing encoding. */
			if (i % 2048 == 2047)
				malloc_trim(0);
		}
	}
	off[s->nterms] = total;
	for (i = 0; i < s->nterms; i++)
		if (!fp[i])
			fp[i] = frag.p + fpos[i];
	free(fpos);

	plan pl = { 0 };
	pl.fp = fp;
	pl.fragoff = off;
	pl.terms = s->terms;
	pl.s = s;
	pl.kept = kept;
	pl.nkept = nkept;
	pl.err = err;
	char *dir = fmt("%s/search", outdir);
	pl.dir = dir;
	char *sub = NULL;
	if (mkdir_p1(outdir, err) || mkdir_p1(dir, err)
	    || mkdir_p1((sub = fmt("%s/t", dir)), err)) {
		pl.rc = -1;
	} else {
		free(sub);
		if (mkdir_p1((sub = fmt("%s/p", dir)), err))
			pl.rc = -1;
	}
	free(sub);
	const sg_si_splitter split = { &pl, plan_term, plan_bytes, plan_count, plan_emit, NULL };
	for (i = 0; i < s->nterms; i = j) {
		size_t kl = sg_si_prefix_len(s->terms[i].s, 1);
		for (j = i + 1; j < s->nterms && strncmp(s->terms[j].s, s->terms[i].s, kl) == 0; j++)
			;
		sg_si_split(&split, i, j, 1);
	}

	/* Page metadata in chunks of PAGE_CHUNK: [[url,title,section,excerpt],...] */
	for (i = 0; i < np; i += PAGE_CHUNK) {
		buf data = { 0 };
		buf_put(&data, "[", 1);
		for (j = i; j < np && j < i + PAGE_CHUNK; j++) {
			const page *pg = &s->pages[j];
			buf_puts(&data, j > i ? ",\n[" : "[");
			buf_json(&data, pg->url);
			buf_put(&data, ",", 1);
			buf_json(&data, pg->title);
			buf_put(&data, ",", 1);
			buf_json(&data, pg->section);
			buf_put(&data, ",", 1);
			buf_json(&data, pg->excerpt);
			buf_put(&data, "]", 1);
		}
		buf_put(&data, "]\n", 2);
		plan_file(&pl, fmt("p/%zu.json", i / PAGE_CHUNK), &data);
	}

	buf meta = { 0 };
	buf_puts(&meta, "{\"format\":");
	buf_putu(&meta, SG_SEARCH_FORMAT);
	buf_puts(&meta, ",\"stemmer\":\"porter2\",\"pages\":");
	buf_putu(&meta, np);
	buf_puts(&meta, ",\"page_chunk\":");
	buf_putu(&meta, PAGE_CHUNK);
	buf_puts(&meta, ",\"shards\":[");
	if (pl.keys.n)
		buf_put(&meta, pl.keys.p, pl.keys.n);
	buf_puts(&meta, "]}\n");
	plan_file(&pl, xstrdup("meta.json"), &meta);
	put_file(&pl, &pl.f[pl.n - 1]);
	int rc = pl.rc;

	qsort(pl.f, pl.n, sizeof *pl.f, cmp_outfile);   /* for remove_stale */
	if (rc == 0)
		rc = remove_stale(dir, "t", &pl, err);
	if (rc == 0)
		rc = remove_stale(dir, "p", &pl, err);

	free(dir);
	for (i = 0; i < pl.n; i++) {
		free(pl.f[i].name);
		free(pl.f[i].data);
	}
	free(pl.f);
	free(pl.keys.p);
	free(frag.p);
	free(off);
	free(fp);
	return rc;
}
