/* util.c — see util.h. */
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void oom(void)
{
	fputs("sitegen: out of memory\n", stderr);
	abort();
}

void *sg_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) oom();
	return p;
}

void *sg_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p) oom();
	return p;
}

void *sg_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) oom();
	return p;
}

char *sg_xstrdup(const char *s)
{
	return sg_xstrndup(s, strlen(s));
}

char *sg_xstrndup(const char *s, size_t n)
{
	char *p = sg_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* Does fmt convert nothing but strings ("%s", the paths and URLs built
 * for every page)? */
static int strings_only(const char *fmt)
{
	for (const char *p = fmt; (p = strchr(p, '%')); p += 2)
		if (p[1] != 's') return 0;
	return 1;
}

/* sg_xasprintf of a strings_only format: concatenated directly (a dozen
 * per page: vfprintf went from 0.75% to 0.2% of a 10k-page build's CPU
 * samples).  NULL prints as glibc's printf prints it. */
static char *cat_strings(const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	size_t n = 0;
	for (const char *p = fmt; *p; p++) {
		if (*p != '%') { n++; continue; }
		const char *a = va_arg(ap, const char *);
		n += strlen(a ? a : "(null)");
		p++;
	}
	char *r = sg_xmalloc(n + 1), *o = r;
	for (const char *p = fmt; *p; p++) {
		if (*p != '%') { *o++ = *p; continue; }
		const char *a = va_arg(ap2, const char *);
		if (!a) a = "(null)";
		size_t k = strlen(a);
		memcpy(o, a, k);
		o += k;
		p++;
	}
	*o = '\0';
	va_end(ap2);
	return r;
}

char *sg_xasprintf(const char *fmt, ...)
{
	sg_buf b = {0};
	va_list ap;
	va_start(ap, fmt);
	if (strings_only(fmt)) {
		char *r = cat_strings(fmt, ap);
		va_end(ap);
		return r;
	}
	char tmp[256];
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0) oom();
	if ((size_t)n < sizeof tmp) {
		va_end(ap2);
		return sg_xstrndup(tmp, (size_t)n);
	}
	b.data = sg_xmalloc((size_t)n + 1);
	vsnprintf(b.data, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	return b.data;
}

void sg_grow(void *arrp, size_t *cap, size_t n, size_t sz)
{
	void **arr = arrp;
	if (n < *cap) return;
	size_t c = *cap ? *cap : 8;
	while (c <= n) c *= 2;
	*arr = sg_xrealloc(*arr, c * sz);
	*cap = c;
}

static void buf_reserve(sg_buf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap) return;
	size_t c = b->cap ? b->cap : 256;
	while (c < b->len + extra + 1) c *= 2;
	b->data = sg_xrealloc(b->data, c);
	b->cap = c;
}

void sg_buf_put(sg_buf *b, const char *s, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void sg_buf_puts(sg_buf *b, const char *s) { sg_buf_put(b, s, strlen(s)); }
void sg_buf_putc(sg_buf *b, char c) { sg_buf_put(b, &c, 1); }

void sg_buf_printf(sg_buf *b, const char *fmt, ...)
{
	va_list ap, ap2;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	buf_reserve(b, 64);
	int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) oom();
	if ((size_t)n >= b->cap - b->len) {
		buf_reserve(b, (size_t)n);
		vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
	}
	va_end(ap2);
	b->len += (size_t)n;
}

char *sg_buf_take(sg_buf *b)
{
	if (!b->data) buf_reserve(b, 0), b->data[0] = '\0';
	char *p = b->data;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void sg_buf_free(sg_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* Bytes sg_esc_html replaces: a table lookup per byte instead of a switch
 * (titles, descriptions and nav labels of every page pass through here). */
static const unsigned char html_special[256] = {
	['&'] = 1, ['<'] = 1, ['>'] = 1, ['"'] = 1, ['\''] = 1,
};

void sg_esc_html(sg_buf *b, const char *s)
{
	const char *run = s;
	for (;; s++) {
		unsigned char c = (unsigned char)*s;
		if (!html_special[c]) {
			if (!c) break;
			continue;
		}
		const char *rep = c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '"' ? "&quot;" : "&#39;";
		sg_buf_put(b, run, (size_t)(s - run));
		sg_buf_puts(b, rep);
		run = s + 1;
	}
	sg_buf_put(b, run, (size_t)(s - run));
}

void sg_esc_json(sg_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '"': sg_buf_puts(b, "\\\""); break;
		case '\\': sg_buf_puts(b, "\\\\"); break;
		case '\n': sg_buf_puts(b, "\\n"); break;
		case '\r': sg_buf_puts(b, "\\r"); break;
		case '\t': sg_buf_puts(b, "\\t"); break;
		/* '<' and '>' escaped so "</script>" can never end the JSON-LD block. */
		case '<': sg_buf_puts(b, "\\u003c"); break;
		case '>': sg_buf_puts(b, "\\u003e"); break;
		case '&': sg_buf_puts(b, "\\u0026"); break;
		default:
			if (c < 0x20) sg_buf_printf(b, "\\u%04x", c);
			else sg_buf_putc(b, (char)c);
		}
	}
}

void sg_esc_url_path(sg_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/')
			sg_buf_putc(b, (char)c);
		else
			sg_buf_printf(b, "%%%02X", c);
	}
}

uint64_t sg_hash(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

uint64_t sg_hash_text(uint64_t seed, const void *p, size_t n)
{
	const unsigned char *s = p;
	const uint64_t k = UINT64_C(0x9E3779B97F4A7C15);
	uint64_t h = seed ^ ((uint64_t)n * k);
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		h = (h ^ w) * k;
		h ^= h >> 31;
	}
	uint64_t w = 0;
	memcpy(&w, s + i, n - i);
	h = (h ^ w) * k;
	h ^= h >> 29;
	h *= UINT64_C(0xBF58476D1CE4E5B9);
	return h ^ (h >> 32);
}

/* Same value as sg_hash(seed, s, strlen(s) + 1), in one pass: map lookups
 * hash every key, and a separate strlen was a tenth of an incremental
 * build's CPU. */
uint64_t sg_hash_str(uint64_t seed, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	uint64_t h = seed;
	for (;; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
		if (!*p) return h;
	}
}

long sg_utf8_invalid_at(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < n) {
		/* Help pages are nearly all ASCII: skip it eight bytes at a time. */
		while (i + 8 <= n) {
			uint64_t w;
			memcpy(&w, s + i, 8);
			if (w & UINT64_C(0x8080808080808080)) break;
			i += 8;
		}
		if (i >= n) break;
		unsigned char c = s[i];
		if (c < 0x80) { i++; continue; }
		size_t need;
		unsigned min;
		unsigned cp;
		if ((c & 0xE0) == 0xC0) { need = 1; cp = c & 0x1F; min = 0x80; }
		else if ((c & 0xF0) == 0xE0) { need = 2; cp = c & 0x0F; min = 0x800; }
		else if ((c & 0xF8) == 0xF0) { need = 3; cp = c & 0x07; min = 0x10000; }
		else return (long)i;
		for (size_t k = 1; k <= need; k++) {
			if (i + k >= n || (s[i + k] & 0xC0) != 0x80) return (long)i;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		/* Overlong forms, surrogates and values past U+10FFFF are invalid. */
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return (long)i;
		i += need + 1;
	}
	return -1;
}

int sg_line_of(const char *s, size_t off)
{
	int line = 1;
	for (size_t i = 0; i < off && s[i]; i++)
		if (s[i] == '\n') line++;
	return line;
}

char *sg_slugify(const char *text)
{
	sg_buf b = {0};
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		unsigned char c = *p;
		if (c >= 0x80) sg_buf_putc(&b, (char)c);
		else if (isalnum(c)) sg_buf_putc(&b, (char)tolower(c));
		else if (c == ' ') sg_buf_putc(&b, '-');
		else if (c == '-' || c == '_') sg_buf_putc(&b, (char)c);
	}
	return sg_buf_take(&b);
}

static void vdiag(const char *kind, const char *file, int line, const char *fmt, va_list ap)
{
	if (file && line > 0) fprintf(stderr, "%s:%d: %s: ", file, line, kind);
	else if (file) fprintf(stderr, "%s: %s: ", file, kind);
	else fprintf(stderr, "sitegen: %s: ", kind);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

/* Pages render on several threads: one lock keeps messages whole and
 * counts exact. */
static pthread_mutex_t diag_lock = PTHREAD_MUTEX_INITIALIZER;

void sg_error(sg_diag *d, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pthread_mutex_lock(&diag_lock);
	vdiag("error", file, line, fmt, ap);
	d->errors++;
	pthread_mutex_unlock(&diag_lock);
	va_end(ap);
}

void sg_warn(sg_diag *d, const char *file, int line, const char *fmt, ...)
{
	pthread_mutex_lock(&diag_lock);
	d->warnings++;
	if (!d->quiet_warnings) {
		va_list ap;
		va_start(ap, fmt);
		vdiag("warning", file, line, fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&diag_lock);
}

int sg_mkdir_p(const char *dir)
{
	char *p = sg_xstrdup(dir);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/') continue;
		*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST) { free(p); return -1; }
		*s = '/';
	}
	int rc = mkdir(p, 0755);
	free(p);
	return rc != 0 && errno != EEXIST ? -1 : 0;
}

int sg_read_file(const char *path, char **data, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return -1;
	struct stat st;
	if (fstat(fd, &st) != 0) { close(fd); return -1; }
	size_t cap = st.st_size > 0 ? (size_t)st.st_size : 0, n = 0;
	char *buf = sg_xmalloc(cap + 1);
	for (;;) {
		if (n == cap) { cap = cap ? cap * 2 : 4096; buf = sg_xrealloc(buf, cap + 1); }
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0) { if (errno == EINTR) continue; free(buf); close(fd); return -1; }
		if (r == 0) break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
}

int sg_write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) return -1;
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0) { if (errno == EINTR) continue; close(fd); return -1; }
		off += (size_t)w;
	}
	return close(fd);
}

int sg_rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode)) return unlink(path);
	DIR *d = opendir(path);
	if (!d) return -1;
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
		char *sub = sg_path_join(path, e->d_name);
		if (sg_rm_rf(sub) != 0) rc = -1;
		free(sub);
	}
	closedir(d);
	if (rmdir(path) != 0) rc = -1;
	return rc;
}

char *sg_path_join(const char *a, const char *b)
{
	size_t la = strlen(a);
	while (la > 1 && a[la - 1] == '/') la--;
	while (*b == '/') b++;
	if (la == 0) return sg_xstrdup(b);
	if (!*b) return sg_xstrndup(a, la);
	return sg_xasprintf("%.*s/%s", (int)la, a, b);
}

int sg_ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

char *sg_url_of(const char *p)
{
	if (!sg_ends_with(p, ".md")) return sg_xstrdup(p);
	const char *slash = strrchr(p, '/');
	const char *base = slash ? slash + 1 : p;
	if (!strcmp(base, "_index.md")) return sg_xstrndup(p, (size_t)(base - p));
	return sg_xasprintf("%.*s/", (int)(strlen(p) - 3), p);
}

char *sg_resolve(const char *from, const char *rel)
{
	/* Components of from's folder, then of rel, with '.' and '..' applied. */
	const char *slash = strrchr(from, '/');
	sg_buf b = {0};
	if (slash) sg_buf_put(&b, from, (size_t)(slash - from));
	const char *p = rel;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.')) {
			/* nothing */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (b.len == 0) { sg_buf_free(&b); return NULL; }
			char *last = memrchr(b.data, '/', b.len);
			b.len = last ? (size_t)(last - b.data) : 0;
			b.data[b.len] = '\0';
		} else {
			if (b.len) sg_buf_putc(&b, '/');
			sg_buf_put(&b, p, n);
		}
		p += n;
		if (*p == '/') p++;
	}
	return sg_buf_take(&b);
}

static void map_insert(sg_map *m, const char *key, size_t val)
{
	size_t i = (size_t)sg_hash_str(SG_HASH_SEED, key) & (m->cap - 1);
	while (m->keys[i]) {
		if (!strcmp(m->keys[i], key)) { m->vals[i] = val; return; }
		i = (i + 1) & (m->cap - 1);
	}
	m->keys[i] = key;
	m->vals[i] = val;
	m->n++;
}

void sg_map_put(sg_map *m, const char *key, size_t val)
{
	if ((m->n + 1) * 2 > m->cap) {
		sg_map old = *m;
		m->cap = old.cap ? old.cap * 2 : 64;
		m->keys = sg_xcalloc(m->cap, sizeof *m->keys);
		m->vals = sg_xcalloc(m->cap, sizeof *m->vals);
		m->n = 0;
		for (size_t i = 0; i < old.cap; i++)
			if (old.keys[i]) map_insert(m, old.keys[i], old.vals[i]);
		free(old.keys);
		free(old.vals);
	}
	map_insert(m, key, val);
}

size_t sg_map_get(const sg_map *m, const char *key)
{
	if (!m->cap) return (size_t)-1;
	size_t i = (size_t)sg_hash_str(SG_HASH_SEED, key) & (m->cap - 1);
	while (m->keys[i]) {
		if (!strcmp(m->keys[i], key)) return m->vals[i];
		i = (i + 1) & (m->cap - 1);
	}
	return (size_t)-1;
}

void sg_map_free(sg_map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof *m);
}
