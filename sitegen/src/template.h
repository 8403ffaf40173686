/* template.h — the small template engine the theme is written in.
 *
 *   {{name}}        value of name, HTML-escaped (the default)
 *   {{{name}}}      value of name, unescaped (only for HTML sitegen built)
 *   {{#if name}} .. {{else}} .. {{/if}}     name is non-empty
 *   {{#each name}} .. {{/each}}             loop over a list of objects;
 *                                           inside, names resolve in the item
 *                                           first, then outwards
 *   {{! comment }}
 * Names may be dotted ("site.title").  A missing name renders as nothing.
 *
 * Ownership: sg_tv trees own their children and strings (sg_tv_free frees
 * the tree) except strings made with sg_tv_ref/sg_tv_setr, values marked
 * with sg_tv_keep, and keys, which are borrowed; sg_tpl owns its compiled
 * nodes. */
#ifndef SG_TEMPLATE_H
#define SG_TEMPLATE_H

#include "util.h"

typedef struct sg_tv sg_tv;

sg_tv *sg_tv_obj(void);
sg_tv *sg_tv_list(void);
sg_tv *sg_tv_str(const char *s);            /* copies s */
sg_tv *sg_tv_str_own(char *s);              /* takes s */
/* Borrows s (NULL -> ""): it must outlive the tree.  Saves a copy of
 * strings the caller keeps anyway (page titles, rendered bodies). */
sg_tv *sg_tv_ref(const char *s);
/* obj[key] = v (takes v; replaces an existing key).  key is borrowed: pass
 * a string literal. */
void   sg_tv_set(sg_tv *obj, const char *key, sg_tv *v);
void   sg_tv_sets(sg_tv *obj, const char *key, const char *s);  /* copies; NULL -> "" */
void   sg_tv_setr(sg_tv *obj, const char *key, const char *s);  /* borrows s */
void   sg_tv_push(sg_tv *list, sg_tv *v);   /* takes v */
size_t sg_tv_len(const sg_tv *list);
void   sg_tv_free(sg_tv *v);
/* Marks v as kept by the caller: a tree it is put into borrows it (does not
 * free it), so one value can serve many renders (a section's navigation for
 * each of its pages).  Returns v; free it with sg_tv_free_kept.  An
 * {{#each}} over a kept list remembers each item's rendering while the item
 * is unchanged: change items only through sg_tv_set (and strings they
 * borrow not at all), and render a kept list on one thread at a time. */
sg_tv *sg_tv_keep(sg_tv *v);
void   sg_tv_free_kept(sg_tv *v);
/* Frees the values this thread freed and keeps for reuse; call before a
 * thread that made values ends (or when the calling thread is done). */
void   sg_tv_thread_done(void);
/* obj[key] as set by sg_tv_set (NULL when absent); a list's item i. */
sg_tv *sg_tv_get(sg_tv *obj, const char *key);
sg_tv *sg_tv_item(sg_tv *list, size_t i);

typedef struct sg_tpl sg_tpl;

/* Compiles text; name is used in error messages.  Returns NULL after
 * reporting a syntax error with name:line through d. */
sg_tpl *sg_tpl_compile(const char *name, const char *text, sg_diag *d);
/* Appends the template rendered against ctx to out. */
void    sg_tpl_render(const sg_tpl *t, const sg_tv *ctx, sg_buf *out);
void    sg_tpl_free(sg_tpl *t);

#endif
