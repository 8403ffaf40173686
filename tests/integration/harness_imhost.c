/*
 * harness_imhost.c — talking to imhost's own surfaces from a test: the HTTP
 * API (an operation name in, parsed JSON out), prosodyctl mod_imhost and the
 * admin shell, and reading the error objects they return.
 */
#include "harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *h_query(const char *const *kv)
{
	char *q = NULL, *v;
	size_t len = 0;
	FILE *m = open_memstream(&q, &len);

	if (m == NULL)
		return NULL;
	for (int first = 1; kv && kv[0] && kv[1]; kv += 2, first = 0) {
		v = h_urlencode(kv[1]);
		fprintf(m, "%s%s=%s", first ? "" : "&", kv[0], v ? v : "");
		free(v);
	}
	if (fclose(m) != 0) {
		free(q);
		return NULL;
	}
	return q;
}

char *h_json_object_of(const char *const *kv)
{
	json_t *o = json_object();
	char *s;

	for (; kv && kv[0] && kv[1]; kv += 2)
		json_object_set_new(o, kv[0], json_string(kv[1]));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

int h_api(const char *method, const char *host, const char *auth, const char *op,
	  const char *const *kv, const char *body, json_t **out)
{
	char path[2048], *q = NULL, *own_body = NULL, *p;
	const char *hdrs[] = { auth, NULL };
	h_http_response r;
	int post = strcmp(method, "POST") == 0, status;

	snprintf(path, sizeof path, "/imhost/api/v1/%s", op);
	/* Operation names map "." to "/"; the document openapi.json is not an op. */
	for (p = path + strlen("/imhost/api/v1/"); *p && strcmp(op, "openapi.json") != 0; p++)
		if (*p == '.')
			*p = '/';
	if (post && body == NULL)
		body = own_body = h_json_object_of(kv);
	else if (!post && (q = h_query(kv)) != NULL && *q)
		snprintf(path + strlen(path), sizeof path - strlen(path), "?%s", q);
	free(q);
	status = h_http(method, path, host, auth ? hdrs : NULL, body, &r);
	free(own_body);
	if (status != 0) {
		h_note("%s %s: no HTTP response", method, path);
		if (out)
			*out = NULL;
		return 0;
	}
	status = r.status;
	if (out)
		*out = h_json(r.body);
	h_http_clear(&r);
	return status;
}

static const char *error_field(json_t *j, const char *field)
{
	const char *c = json_string_value(json_object_get(json_object_get(j, "error"), field));

	return c ? c : "";
}

const char *h_err_code(json_t *j)
{
	return error_field(j, "code");
}

const char *h_err_param(json_t *j)
{
	return error_field(j, "param");
}

json_t *h_find_key(json_t *j, const char *key)
{
	const char *k;
	json_t *v, *hit;
	size_t i;

	if (json_is_object(j)) {
		if ((v = json_object_get(j, key)) != NULL)
			return v;
		json_object_foreach(j, k, v)
			if ((hit = h_find_key(v, key)) != NULL)
				return hit;
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			if ((hit = h_find_key(v, key)) != NULL)
				return hit;
	}
	return NULL;
}

json_t *h_cli(const char *cfg, int *status, const char *fmt, ...)
{
	char args[2048], *o, *e = NULL;
	const char *start;
	va_list ap;
	json_t *j;

	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	o = h_run(status, &e, "prosodyctl --config '%s' mod_imhost %s --json", cfg, args);
	/* prosodyctl may log to stdout first: the JSON is the line that starts with '{'. */
	start = o ? (*o == '{' ? o : strstr(o, "\n{")) : NULL;
	j = start ? h_json(start + (*start == '\n')) : NULL;
	if (*status != 0)
		h_note("mod_imhost %s -> %d: %s %s", args, *status, o ? o : "", e ? e : "");
	free(o);
	free(e);
	return j;
}

int h_shell(const char *cfg, char **out, const char *fmt, ...)
{
	char args[2048], *o, *e = NULL;
	va_list ap;
	int status;

	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	o = h_run(&status, &e, "prosodyctl --config '%s' shell imhost %s 2>&1", cfg, args);
	/* The shell prints "! message" for a command that returned nil, err. */
	if (status == 0 && (o == NULL || strstr(o, "\n! ") != NULL || strncmp(o, "! ", 2) == 0))
		status = 1;
	if (out)
		*out = o;
	else
		free(o);
	free(e);
	return status;
}
