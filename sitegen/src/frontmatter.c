/* frontmatter.c — see frontmatter.h.  Uses libyaml's document API: the front
 * matter is small, and nodes carry the line numbers errors need. */
#include "frontmatter.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Line of a node in the file: libyaml counts from 0 within the YAML text,
 * which starts one line below the opening '---'. */
#define NLINE(n, base) ((int)(n)->start_mark.line + (base))

static int is_scalar(yaml_node_t *n) { return n && n->type == YAML_SCALAR_NODE; }
static const char *sval(yaml_node_t *n) { return (const char *)n->data.scalar.value; }

static int get_string(const char *file, int base, yaml_node_t *v, const char *key,
                      char **out, sg_diag *d)
{
	if (!is_scalar(v)) {
		sg_error(d, file, NLINE(v, base), "'%s' must be a string", key);
		return -1;
	}
	free(*out);
	*out = sg_xstrdup(sval(v));
	return 0;
}

static int get_bool(const char *file, int base, yaml_node_t *v, const char *key, int *out, sg_diag *d)
{
	if (is_scalar(v)) {
		const char *s = sval(v);
		if (!strcmp(s, "true") || !strcmp(s, "yes")) { *out = 1; return 0; }
		if (!strcmp(s, "false") || !strcmp(s, "no")) { *out = 0; return 0; }
	}
	sg_error(d, file, NLINE(v, base), "'%s' must be true or false", key);
	return -1;
}

static int get_list(const char *file, int base, yaml_document_t *doc, yaml_node_t *v,
                    const char *key, char ***out, size_t *n, sg_diag *d)
{
	if (v->type != YAML_SEQUENCE_NODE) {
		sg_error(d, file, NLINE(v, base), "'%s' must be a list of strings", key);
		return -1;
	}
	size_t cap = 0;
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *e = yaml_document_get_node(doc, *it);
		if (!is_scalar(e) || !*sval(e)) {
			sg_error(d, file, NLINE(e ? e : v, base), "'%s' must be a list of non-empty strings", key);
			return -1;
		}
		sg_grow(out, &cap, *n, sizeof **out);
		(*out)[(*n)++] = sg_xstrdup(sval(e));
	}
	return 0;
}

static int get_faq(const char *file, int base, yaml_document_t *doc, yaml_node_t *v,
                   sg_front *fm, sg_diag *d)
{
	if (v->type != YAML_SEQUENCE_NODE) {
		sg_error(d, file, NLINE(v, base), "'faq' must be a list of {q, a} items");
		return -1;
	}
	size_t cap = 0;
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *e = yaml_document_get_node(doc, *it);
		if (!e || e->type != YAML_MAPPING_NODE) {
			sg_error(d, file, NLINE(e ? e : v, base), "each 'faq' item must be a mapping with 'q' and 'a'");
			return -1;
		}
		sg_faq f = { NULL, NULL, NLINE(e, base) };
		for (yaml_node_pair_t *p = e->data.mapping.pairs.start; p < e->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(doc, p->key);
			yaml_node_t *val = yaml_document_get_node(doc, p->value);
			const char *ks = is_scalar(k) ? sval(k) : "";
			char **dst = !strcmp(ks, "q") ? &f.q : !strcmp(ks, "a") ? &f.a : NULL;
			if (!dst) {
				sg_error(d, file, NLINE(k, base), "unknown key '%s' in faq item (expected q, a)", ks);
				free(f.q), free(f.a);
				return -1;
			}
			if (get_string(file, base, val, ks, dst, d) != 0) { free(f.q), free(f.a); return -1; }
			if (dst == &f.a) f.line = NLINE(val, base);
		}
		if (!f.q || !*f.q || !f.a) {
			sg_error(d, file, NLINE(e, base), "faq item needs both 'q' and 'a'");
			free(f.q), free(f.a);
			return -1;
		}
		sg_grow(&fm->faq, &cap, fm->nfaq, sizeof *fm->faq);
		fm->faq[fm->nfaq++] = f;
	}
	return 0;
}

/* Loads one YAML mapping document from text and calls each_pair for every
 * key.  base is the file line of the text's first line. */
typedef int (*pair_fn)(const char *file, int base, yaml_document_t *doc, const char *key,
                       yaml_node_t *k, yaml_node_t *v, void *ud, sg_diag *d);

static int load_mapping(const char *file, int base, const char *text, size_t len,
                        pair_fn fn, void *ud, sg_diag *d)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	if (!yaml_parser_initialize(&parser)) {
		sg_error(d, file, 0, "cannot initialise the YAML parser");
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		sg_error(d, file, (int)parser.problem_mark.line + base, "YAML: %s",
		         parser.problem ? parser.problem : "syntax error");
		yaml_parser_delete(&parser);
		return -1;
	}
	int rc = 0;
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (!root) {
		/* empty document: nothing set */
	} else if (root->type != YAML_MAPPING_NODE) {
		sg_error(d, file, NLINE(root, base), "front matter must be a mapping of keys to values");
		rc = -1;
	} else {
		for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(&doc, p->key);
			yaml_node_t *v = yaml_document_get_node(&doc, p->value);
			if (!is_scalar(k)) {
				sg_error(d, file, NLINE(k, base), "keys must be plain strings");
				rc = -1;
				continue;
			}
			if (fn(file, base, &doc, sval(k), k, v, ud, d) != 0) rc = -1;
		}
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return rc;
}

static int front_pair(const char *file, int base, yaml_document_t *doc, const char *key,
                      yaml_node_t *k, yaml_node_t *v, void *ud, sg_diag *d)
{
	sg_front *fm = ud;
	if (!strcmp(key, "title")) return get_string(file, base, v, key, &fm->title, d);
	if (!strcmp(key, "description")) return get_string(file, base, v, key, &fm->description, d);
	if (!strcmp(key, "draft")) return get_bool(file, base, v, key, &fm->draft, d);
	if (!strcmp(key, "tags")) return get_list(file, base, doc, v, key, &fm->tags, &fm->ntags, d);
	if (!strcmp(key, "aliases")) return get_list(file, base, doc, v, key, &fm->aliases, &fm->naliases, d);
	if (!strcmp(key, "faq")) return get_faq(file, base, doc, v, fm, d);
	if (!strcmp(key, "weight")) {
		char *end = NULL;
		errno = 0;
		long w = is_scalar(v) ? strtol(sval(v), &end, 10) : 0;
		if (!is_scalar(v) || !*sval(v) || *end || errno || w < INT_MIN || w > INT_MAX) {
			sg_error(d, file, NLINE(v, base), "'weight' must be an integer");
			return -1;
		}
		fm->weight = w;
		return 0;
	}
	sg_error(d, file, NLINE(k, base),
	         "unknown front-matter key '%s' (expected title, description, weight, tags, aliases, draft, faq)", key);
	return -1;
}

int sg_front_parse(const char *file, const char *data, size_t len, sg_front *fm, sg_diag *d)
{
	memset(fm, 0, sizeof *fm);
	fm->body_line = 1;
	/* Front matter only when the very first line is exactly '---'. */
	if (!(len >= 4 && !strncmp(data, "---", 3) && (data[3] == '\n' || (data[3] == '\r' && len > 4 && data[4] == '\n'))))
		return 0;
	const char *start = data + (data[3] == '\n' ? 4 : 5);
	const char *p = start;
	const char *end = NULL;
	int line = 2;
	while (p < data + len) {
		const char *nl = memchr(p, '\n', (size_t)(data + len - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(data + len - p);
		if (ll > 0 && p[ll - 1] == '\r') ll--;
		if ((ll == 3 && !strncmp(p, "---", 3)) || (ll == 3 && !strncmp(p, "...", 3))) { end = p; break; }
		if (!nl) break;
		p = nl + 1;
		line++;
	}
	if (!end) {
		sg_error(d, file, 1, "front matter opened with '---' is never closed");
		return -1;
	}
	const char *nl = memchr(end, '\n', (size_t)(data + len - end));
	fm->body_off = nl ? (size_t)(nl + 1 - data) : len;
	fm->body_line = line + 1;
	return load_mapping(file, 2, start, (size_t)(end - start), front_pair, fm, d);
}

void sg_front_free(sg_front *fm)
{
	free(fm->title);
	free(fm->description);
	for (size_t i = 0; i < fm->ntags; i++) free(fm->tags[i]);
	free(fm->tags);
	for (size_t i = 0; i < fm->naliases; i++) free(fm->aliases[i]);
	free(fm->aliases);
	for (size_t i = 0; i < fm->nfaq; i++) free(fm->faq[i].q), free(fm->faq[i].a);
	free(fm->faq);
	memset(fm, 0, sizeof *fm);
}

void sg_config_defaults(sg_config *c)
{
	c->title = sg_xstrdup("Help");
	c->base_url = sg_xstrdup("/");
	c->language = sg_xstrdup("en");
	c->edit_url = NULL;
	c->description = sg_xstrdup("");
	c->allow_html = 0;
}

static int config_pair(const char *file, int base, yaml_document_t *doc, const char *key,
                       yaml_node_t *k, yaml_node_t *v, void *ud, sg_diag *d)
{
	(void)doc;
	sg_config *c = ud;
	if (!strcmp(key, "title")) return get_string(file, base, v, key, &c->title, d);
	if (!strcmp(key, "base_url")) return get_string(file, base, v, key, &c->base_url, d);
	if (!strcmp(key, "language")) return get_string(file, base, v, key, &c->language, d);
	if (!strcmp(key, "edit_url")) return get_string(file, base, v, key, &c->edit_url, d);
	if (!strcmp(key, "description")) return get_string(file, base, v, key, &c->description, d);
	if (!strcmp(key, "allow_html")) return get_bool(file, base, v, key, &c->allow_html, d);
	sg_error(d, file, NLINE(k, base),
	         "unknown key '%s' (expected title, base_url, language, edit_url, allow_html, description)", key);
	return -1;
}

int sg_config_parse(const char *file, const char *data, size_t len, sg_config *c, sg_diag *d)
{
	return load_mapping(file, 1, data, len, config_pair, c, d);
}

void sg_config_free(sg_config *c)
{
	free(c->title);
	free(c->base_url);
	free(c->language);
	free(c->edit_url);
	free(c->description);
	memset(c, 0, sizeof *c);
}
