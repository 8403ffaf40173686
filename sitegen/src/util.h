/* util.h — growable buffers, escaping, hashing, diagnostics and file helpers
 * shared by every sitegen stage.
 *
 * Ownership: sg_buf owns its data (free with sg_buf_free, or take it with
 * sg_buf_take).  Functions returning char * return malloc'd strings the caller
 * frees.  Allocation failure aborts the program (like cmark's default
 * allocator): a static site generator has nothing useful to do without memory. */
#ifndef SG_UTIL_H
#define SG_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

/* Exit codes (documented in sitegen.1). */
enum { SG_EXIT_OK = 0, SG_EXIT_CONTENT = 1, SG_EXIT_USAGE = 2, SG_EXIT_IO = 3 };

typedef struct { char *data; size_t len, cap; } sg_buf;

void  sg_buf_put(sg_buf *b, const char *s, size_t n);
void  sg_buf_puts(sg_buf *b, const char *s);
void  sg_buf_putc(sg_buf *b, char c);
void  sg_buf_printf(sg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *sg_buf_take(sg_buf *b);   /* NUL-terminated, caller frees; b is reset */
void  sg_buf_free(sg_buf *b);

void *sg_xmalloc(size_t n);
void *sg_xcalloc(size_t n, size_t size);
void *sg_xrealloc(void *p, size_t n);
char *sg_xstrdup(const char *s);
char *sg_xstrndup(const char *s, size_t n);
char *sg_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Grows *arr (of *cap elements of size sz) so that index n is valid. */
void  sg_grow(void *arrp, size_t *cap, size_t n, size_t sz);

/* Escapers append to b.  html: & < > " ' ; xml: same set; json: a JSON string
 * body without quotes, with '<' escaped so it is safe inside <script>. */
void sg_esc_html(sg_buf *b, const char *s);
void sg_esc_json(sg_buf *b, const char *s);
/* Percent-encodes everything but unreserved URL characters and '/'. */
void sg_esc_url_path(sg_buf *b, const char *s);

/* 64-bit FNV-1a; sg_hash_str chains (pass the previous hash as seed). */
#define SG_HASH_SEED 14695981039346656037ULL
uint64_t sg_hash(uint64_t seed, const void *p, size_t n);
uint64_t sg_hash_str(uint64_t seed, const char *s); /* hashes s and its NUL */
/* A page-sized text's hash, eight bytes a step (FNV-1a takes one byte a
 * step: hashing every page's search text cost 3% of a full build).  Other
 * values than sg_hash; compare it only with itself. */
uint64_t sg_hash_text(uint64_t seed, const void *p, size_t n);

/* Returns the byte offset of the first invalid UTF-8 sequence, or -1. */
long sg_utf8_invalid_at(const char *s, size_t n);
/* 1-based line number of byte offset off in s. */
int sg_line_of(const char *s, size_t off);

/* GitHub-style heading slug: lowercase ASCII, drop punctuation except '-'
 * and '_', spaces become '-', non-ASCII bytes kept. */
char *sg_slugify(const char *text);

/* Diagnostics: "file:line: error: msg" on stderr, counted. */
typedef struct { int errors, warnings; int quiet_warnings; } sg_diag;
void sg_error(sg_diag *d, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void sg_warn(sg_diag *d, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Files.  Return 0 or -1 with errno set. */
int sg_mkdir_p(const char *dir);
int sg_read_file(const char *path, char **data, size_t *len);
int sg_write_file(const char *path, const char *data, size_t len);
/* Recursively removes path (a file or a tree); missing path is success. */
int sg_rm_rf(const char *path);
/* Joins two path parts with exactly one '/'. */
char *sg_path_join(const char *a, const char *b);

/* Site-relative URL of a content path: "a/b.md" -> "a/b/", "a/_index.md" ->
 * "a/", "_index.md" -> "", other files keep their path.  Caller frees. */
char *sg_url_of(const char *content_path);
/* Resolves rel against the folder of from (both content-relative); returns
 * NULL when the result would leave the content root.  Caller frees. */
char *sg_resolve(const char *from, const char *rel);
int sg_ends_with(const char *s, const char *suffix);

/* String -> size_t map (open addressing).  Keys are borrowed: they must
 * outlive the map.  sg_map_get returns (size_t)-1 when absent. */
typedef struct { const char **keys; size_t *vals; size_t cap, n; } sg_map;
void   sg_map_put(sg_map *m, const char *key, size_t val);
size_t sg_map_get(const sg_map *m, const char *key);
void   sg_map_free(sg_map *m);

#endif
