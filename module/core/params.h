/*
 * params.h — declared operation parameters: coercion and validation.
 *
 * Parameters arrive as a JSON object whose values may be strings (forms, CLI,
 * query strings) or typed JSON.  Each operation declares its parameters once
 * (im_param); im_params_check turns the input into a clean, typed object or an
 * error that names the offending parameter.
 */
#ifndef IMHOST_PARAMS_H
#define IMHOST_PARAMS_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

typedef enum {
	IM_PT_STRING,   /* UTF-8 text, no NUL, at most max bytes (default 1024) */
	IM_PT_INT,      /* integer in [min, max] */
	IM_PT_BOOL,     /* true/false, or "true|false|1|0|yes|no|on|off" */
	IM_PT_ENUM,     /* one of values[] */
	IM_PT_JID,      /* bare JID local@domain (or a bare domain), ASCII-lowercased */
	IM_PT_DOMAIN,   /* DNS-style domain, ASCII-lowercased */
	IM_PT_TIME,     /* epoch seconds, YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS][Z], -7d/-12h/-30m/-2w, now */
	IM_PT_CURSOR    /* opaque paging token [0-9a-z.-], at most 64 bytes */
} im_ptype;

typedef struct {
	const char *name;
	im_ptype type;
	int required;
	int64_t min, max;           /* INT: range; STRING: max bytes (0 = default) */
	const char *const *values;  /* ENUM: NULL-terminated list */
	const char *def;            /* default, coerced like input; NULL = none */
	const char *description;
} im_param;

/* Validates `in` (a JSON object or NULL) against decl[0..n).  Unknown names are
 * refused (typos must not silently widen a query).  Times are read in zone tz
 * (NULL = UTC) relative to im_now().
 * IM_OK: *out is a new object (caller decrefs) with INT/TIME as JSON integers,
 * BOOL as JSON booleans, everything else as strings; absent optional parameters
 * without default are absent.
 * IM_EINVAL: *err is a new {"error":{"code":"invalid","message":..,"param":..}}. */
int im_params_check(const im_param *decl, size_t n, json_t *in, const char *tz,
                    json_t **out, json_t **err);

/* Parses one time value (see IM_PT_TIME) in zone tz (NULL = UTC) with `now` for
 * relative forms.  IM_OK or IM_EINVAL. */
int im_time_parse(const char *s, const char *tz, int64_t now, int64_t *out);

/* Checks and normalises a bare JID (domain_only: a domain) into out (ASCII
 * lowercased).  IM_OK, or IM_EINVAL with *why a static explanation. */
int im_jid_normalize(const char *in, int domain_only, char *out, size_t outsz, const char **why);

/* "string", "int", ... as used in the registry JSON. */
const char *im_ptype_name(im_ptype t);

/* A new {"error":{"code":code,"message":<printf>[,"param":param]}} (param may be
 * NULL).  Never returns NULL unless out of memory. */
json_t *im_error_new(const char *code, const char *param, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
