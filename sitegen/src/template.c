/* template.c — see template.h.  Templates compile to a flat node array;
 * block nodes store the index just past their matching end, so rendering is
 * a loop with no re-parsing. */
#include "template.h"

#include <stdlib.h>
#include <string.h>

enum { TV_STR, TV_LIST, TV_OBJ };

/* An item of a kept list remembers its last rendering by an {{#each}}
 * body (see render_each): a section's navigation is rendered for each of
 * its pages, and only the current mark moves. */
typedef struct {
	const void *tpl;   /* the template and the body's first node */
	size_t at;
	unsigned ver;      /* the item's ver when rendered */
	char *s;
	size_t len;
} tv_memo;

struct sg_tv {
	int kind;
	int owned;        /* s is ours to free (else borrowed: sg_tv_ref) */
	int kept;         /* sg_tv_keep: freed only by sg_tv_free_kept */
	unsigned ver;     /* TV_OBJ: bumped by every sg_tv_set */
	tv_memo *memo;    /* an item of a kept list: its last rendering */
	char *s;
	const char **keys;   /* TV_OBJ; borrowed (string literals) */
	sg_tv **items;    /* TV_OBJ values, TV_LIST items */
	size_t n, cap, kcap;   /* items, room for items, room for keys */
	sg_tv *next_free; /* in tv_pool */
};

/* Values freed on this thread, for its next ones, with their arrays' room:
 * a page's context is a hundred values or so, each a calloc and a free
 * and arrays grown by doubling (2.6% of a 10k-page build's CPU samples).
 * sg_tv_thread_done frees them. */
static _Thread_local sg_tv *tv_pool;

static sg_tv *tv_new(int kind)
{
	sg_tv *v = tv_pool;
	if (v) {
		tv_pool = v->next_free;
		sg_tv **items = v->items;
		const char **keys = v->keys;
		size_t cap = v->cap, kcap = v->kcap;
		memset(v, 0, sizeof *v);
		v->items = items, v->keys = keys, v->cap = cap, v->kcap = kcap;
	} else {
		v = sg_xcalloc(1, sizeof *v);
	}
	v->kind = kind;
	return v;
}

void sg_tv_thread_done(void)
{
	while (tv_pool) {
		sg_tv *v = tv_pool;
		tv_pool = v->next_free;
		free(v->items);
		free(v->keys);
		free(v);
	}
}

sg_tv *sg_tv_obj(void) { return tv_new(TV_OBJ); }
sg_tv *sg_tv_list(void) { return tv_new(TV_LIST); }
sg_tv *sg_tv_str(const char *s) { return sg_tv_str_own(sg_xstrdup(s ? s : "")); }

sg_tv *sg_tv_str_own(char *s)
{
	sg_tv *v = tv_new(TV_STR);
	v->s = s;
	v->owned = 1;
	return v;
}

sg_tv *sg_tv_ref(const char *s)
{
	sg_tv *v = tv_new(TV_STR);
	v->s = (char *)(s ? s : "");   /* never written through, never freed */
	return v;
}

void sg_tv_setr(sg_tv *obj, const char *key, const char *s) { sg_tv_set(obj, key, sg_tv_ref(s)); }

void sg_tv_set(sg_tv *obj, const char *key, sg_tv *v)
{
	obj->ver++;
	for (size_t i = 0; i < obj->n; i++) {
		if (!strcmp(obj->keys[i], key)) {
			sg_tv_free(obj->items[i]);
			obj->items[i] = v;
			return;
		}
	}
	sg_grow(&obj->items, &obj->cap, obj->n, sizeof *obj->items);
	sg_grow(&obj->keys, &obj->kcap, obj->n, sizeof *obj->keys);
	obj->keys[obj->n] = key;
	obj->items[obj->n++] = v;
}

void sg_tv_sets(sg_tv *obj, const char *key, const char *s) { sg_tv_set(obj, key, sg_tv_str(s)); }

void sg_tv_push(sg_tv *list, sg_tv *v)
{
	sg_grow(&list->items, &list->cap, list->n, sizeof *list->items);
	list->items[list->n++] = v;
}

size_t sg_tv_len(const sg_tv *list) { return list->n; }

sg_tv *sg_tv_keep(sg_tv *v)
{
	v->kept = 1;
	return v;
}

void sg_tv_free_kept(sg_tv *v)
{
	if (!v) return;
	v->kept = 0;
	sg_tv_free(v);
}

sg_tv *sg_tv_get(sg_tv *obj, const char *key)
{
	for (size_t i = 0; obj->kind == TV_OBJ && i < obj->n; i++)
		if (!strcmp(obj->keys[i], key)) return obj->items[i];
	return NULL;
}

sg_tv *sg_tv_item(sg_tv *list, size_t i)
{
	return list->kind == TV_LIST && i < list->n ? list->items[i] : NULL;
}

void sg_tv_free(sg_tv *v)
{
	if (!v || v->kept) return;
	for (size_t i = 0; i < v->n; i++) sg_tv_free(v->items[i]);
	if (v->owned) free(v->s);
	if (v->memo) free(v->memo->s), free(v->memo);
	v->next_free = tv_pool;
	tv_pool = v;
}

enum { N_TEXT, N_VAR, N_RAW, N_IF, N_ELSE, N_EACH, N_END };

typedef struct {
	int kind;
	char *arg;       /* text, or variable name */
	size_t len;      /* N_TEXT length */
	size_t jump;     /* N_IF: index of N_ELSE or N_END; N_ELSE/N_EACH: index of N_END */
} tnode;

struct sg_tpl { tnode *nodes; size_t n, cap; };

static void push_node(sg_tpl *t, int kind, const char *arg, size_t len)
{
	sg_grow(&t->nodes, &t->cap, t->n, sizeof *t->nodes);
	t->nodes[t->n].kind = kind;
	t->nodes[t->n].arg = arg ? sg_xstrndup(arg, len) : NULL;
	t->nodes[t->n].len = len;
	t->nodes[t->n].jump = 0;
	t->n++;
}

static char *trim(const char *s, size_t n, size_t *outlen)
{
	while (n && (*s == ' ' || *s == '\t' || *s == '\n')) s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n')) n--;
	*outlen = n;
	return (char *)s;
}

static int valid_name(const char *s, size_t n)
{
	if (!n) return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.'))
			return 0;
	}
	return 1;
}

sg_tpl *sg_tpl_compile(const char *name, const char *text, sg_diag *d)
{
	sg_tpl *t = sg_xcalloc(1, sizeof *t);
	size_t stack[64];
	int depth = 0;
	const char *p = text;
	for (;;) {
		const char *o = strstr(p, "{{");
		if (!o) { if (*p) push_node(t, N_TEXT, p, strlen(p)); break; }
		if (o > p) push_node(t, N_TEXT, p, (size_t)(o - p));
		int line = sg_line_of(text, (size_t)(o - text));
		int triple = o[2] == '{';
		const char *close = strstr(o, triple ? "}}}" : "}}");
		if (!close) { sg_error(d, name, line, "unclosed '{{'"); goto fail; }
		const char *in = o + (triple ? 3 : 2);
		size_t n;
		char *s = trim(in, (size_t)(close - in), &n);
		p = close + (triple ? 3 : 2);
		if (triple) {
			if (!valid_name(s, n)) { sg_error(d, name, line, "bad name in '{{{...}}}'"); goto fail; }
			push_node(t, N_RAW, s, n);
		} else if (n && s[0] == '!') {
			/* comment */
		} else if (n > 4 && !strncmp(s, "#if ", 4)) {
			size_t m; char *a = trim(s + 4, n - 4, &m);
			if (!valid_name(a, m) || depth == 64) { sg_error(d, name, line, "bad '{{#if}}'"); goto fail; }
			stack[depth++] = t->n;
			push_node(t, N_IF, a, m);
		} else if (n > 6 && !strncmp(s, "#each ", 6)) {
			size_t m; char *a = trim(s + 6, n - 6, &m);
			if (!valid_name(a, m) || depth == 64) { sg_error(d, name, line, "bad '{{#each}}'"); goto fail; }
			stack[depth++] = t->n;
			push_node(t, N_EACH, a, m);
		} else if (n == 4 && !strncmp(s, "else", 4)) {
			if (!depth || t->nodes[stack[depth - 1]].kind != N_IF) {
				sg_error(d, name, line, "'{{else}}' outside '{{#if}}'");
				goto fail;
			}
			t->nodes[stack[depth - 1]].jump = t->n;
			stack[depth - 1] = t->n;
			push_node(t, N_ELSE, NULL, 0);
		} else if (n && s[0] == '/') {
			const char *want = n == 3 && !strncmp(s, "/if", 3) ? "if" : n == 5 && !strncmp(s, "/each", 5) ? "each" : NULL;
			if (!want || !depth) { sg_error(d, name, line, "unexpected '{{%.*s}}'", (int)n, s); goto fail; }
			tnode *open = &t->nodes[stack[--depth]];
			int ok = !strcmp(want, "each") ? open->kind == N_EACH : open->kind == N_IF || open->kind == N_ELSE;
			if (!ok) { sg_error(d, name, line, "'{{%.*s}}' does not close the open block", (int)n, s); goto fail; }
			open->jump = t->n;
			push_node(t, N_END, NULL, 0);
		} else if (valid_name(s, n)) {
			push_node(t, N_VAR, s, n);
		} else {
			sg_error(d, name, line, "bad tag '{{%.*s}}'", (int)n, s);
			goto fail;
		}
	}
	if (depth) {
		sg_error(d, name, 0, "'{{#%s}}' is never closed", t->nodes[stack[depth - 1]].kind == N_EACH ? "each" : "if");
		goto fail;
	}
	return t;
fail:
	sg_tpl_free(t);
	return NULL;
}

/* A scope being memoized (render_each) has a taint flag: set when the
 * rendering read anything but a plain string of its own item. */
typedef struct scope { const sg_tv *v; const struct scope *up; int *taint; } scope;

static const sg_tv *obj_get(const sg_tv *o, const char *key, size_t n)
{
	if (!o || o->kind != TV_OBJ) return NULL;
	/* First bytes first: a page's context has some 25 keys, and every name
	 * in a loop body is looked up through it (strlen of each key was a
	 * tenth of rendering templates). */
	for (size_t i = 0; i < o->n; i++)
		if (o->keys[i][0] == key[0] && !strncmp(o->keys[i], key, n) && o->keys[i][n] == '\0')
			return o->items[i];
	return NULL;
}

static const sg_tv *lookup(const scope *sc, const char *name)
{
	size_t first = strcspn(name, ".");
	const sg_tv *v = NULL;
	if (sc && sc->taint) {
		v = obj_get(sc->v, name, first);
		if (!v || v->kind != TV_STR || name[first]) *sc->taint = 1;
	}
	for (; sc && !v; sc = sc->up) v = obj_get(sc->v, name, first);
	const char *p = name + first;
	while (v && *p == '.') {
		p++;
		size_t n = strcspn(p, ".");
		v = obj_get(v, p, n);
		p += n;
	}
	return v;
}

static int truthy(const sg_tv *v)
{
	if (!v) return 0;
	if (v->kind == TV_STR) return v->s[0] != '\0';
	if (v->kind == TV_LIST) return v->n > 0;
	return 1;
}

static void render_range(const sg_tpl *t, size_t i, size_t end, const scope *sc, sg_buf *out);

/* Renders nodes [i, end) for item it of a kept list.  When the rendering
 * read only plain strings of the item itself, it is remembered in the item
 * and reused while the item is unchanged (same ver); anything else (an
 * outer name, a dotted name, a nested loop) leaves no memo.  The memo is
 * a cache inside a value the caller keeps for one thread's renders (the
 * navigation cache is per thread), hence the cast. */
static void render_each(const sg_tpl *t, size_t i, size_t end, const sg_tv *it, const scope *sc, sg_buf *out)
{
	tv_memo *m = it->memo;
	if (m && m->tpl == t && m->at == i && m->ver == it->ver) {
		sg_buf_put(out, m->s, m->len);
		return;
	}
	int taint = 0;
	size_t start = out->len;
	scope inner = { it, sc, &taint };
	render_range(t, i, end, &inner, out);
	if (taint) return;
	if (!m) m = ((sg_tv *)it)->memo = sg_xcalloc(1, sizeof *m);
	free(m->s);
	m->s = sg_xstrndup(out->data ? out->data + start : "", out->len - start);
	m->len = out->len - start;
	m->tpl = t;
	m->at = i;
	m->ver = it->ver;
}

static void render_range(const sg_tpl *t, size_t i, size_t end, const scope *sc, sg_buf *out)
{
	while (i < end) {
		const tnode *nd = &t->nodes[i];
		switch (nd->kind) {
		case N_TEXT: sg_buf_put(out, nd->arg, nd->len); i++; break;
		case N_VAR:
		case N_RAW: {
			const sg_tv *v = lookup(sc, nd->arg);
			if (v && v->kind == TV_STR) {
				if (nd->kind == N_VAR) sg_esc_html(out, v->s);
				else sg_buf_puts(out, v->s);
			}
			i++;
			break;
		}
		case N_IF: {
			size_t mid = nd->jump;   /* N_ELSE or N_END */
			size_t stop = t->nodes[mid].kind == N_ELSE ? t->nodes[mid].jump : mid;
			if (truthy(lookup(sc, nd->arg))) render_range(t, i + 1, mid, sc, out);
			else if (t->nodes[mid].kind == N_ELSE) render_range(t, mid + 1, stop, sc, out);
			i = stop + 1;
			break;
		}
		case N_EACH: {
			const sg_tv *v = lookup(sc, nd->arg);
			if (sc->taint) *sc->taint = 1;   /* a nested loop: not memoized */
			if (v && v->kind == TV_LIST) {
				for (size_t k = 0; k < v->n; k++) {
					if (v->kept && v->items[k]->kind == TV_OBJ) {
						render_each(t, i + 1, nd->jump, v->items[k], sc, out);
						continue;
					}
					scope inner = { v->items[k], sc, NULL };
					render_range(t, i + 1, nd->jump, &inner, out);
				}
			}
			i = nd->jump + 1;
			break;
		}
		default: i++; break;
		}
	}
}

void sg_tpl_render(const sg_tpl *t, const sg_tv *ctx, sg_buf *out)
{
	scope sc = { ctx, NULL, NULL };
	render_range(t, 0, t->n, &sc, out);
}

void sg_tpl_free(sg_tpl *t)
{
	if (!t) return;
	for (size_t i = 0; i < t->n; i++) free(t->nodes[i].arg);
	free(t->nodes);
	free(t);
}
