/*
 * params.c — see params.h.  Every value from outside passes through here before
 * any handler sees it: handlers may trust types, ranges and lengths.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "imhost_err.h"
#include "params.h"
#include "tz.h"

#define STRING_MAX_DEFAULT 1024
#define JID_MAX 3071            /* RFC 7622: 1023 local + '@' + 1023 domain (+ resource, refused) */
#define CURSOR_MAX 64

json_t *im_error_new(const char *code, const char *param, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	json_t *e;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	e = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
	if (e != NULL && param != NULL)
		json_object_set_new(json_object_get(e, "error"), "param", json_string(param));
	return e;
}

const char *im_ptype_name(im_ptype t)
{
	switch (t) {
	case IM_PT_STRING: return "string";
	case IM_PT_INT:    return "int";
	case IM_PT_BOOL:   return "bool";
	case IM_PT_ENUM:   return "enum";
	case IM_PT_JID:    return "jid";
	case IM_PT_DOMAIN: return "domain";
	case IM_PT_TIME:   return "time";
	case IM_PT_CURSOR: return "cursor";
	}
	return "?";
}

/* Strict decimal integer: optional '-', digits only, no overflow. */
static int parse_int(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (*s == '\0' || (!isdigit((unsigned char)*s) && !(*s == '-' && isdigit((unsigned char)s[1]))))
		return IM_EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return IM_EINVAL;
	*out = v;
	return IM_OK;
}

/* Reads exactly n digits. */
static int digits(const char *s, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int days_in_month(int y, int m)
{
	static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : d[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm):
 * used for UTC ('Z') times without touching the global TZ. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int im_time_parse(const char *s, const char *tz, int64_t now, int64_t *out)
{
	size_t n = strlen(s);
	int y, mo, d, h = 0, mi = 0, sec = 0, utc = 0;

	if (strcmp(s, "now") == 0) {
		*out = now;
		return IM_OK;
	}
	if (n >= 3 && n <= 8 && s[0] == '-') {          /* relative: -7d, -12h, -30m, -2w */
		int64_t v, unit;
		char num[8];

		switch (s[n - 1]) {
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		case 'w': unit = 7 * 86400; break;
		default: return IM_EINVAL;
		}
		memcpy(num, s + 1, n - 2);
		num[n - 2] = '\0';
		if (!isdigit((unsigned char)num[0]) || parse_int(num, &v) != IM_OK || v > 100000)
			return IM_EINVAL;
		*out = now - v * unit;
		return IM_OK;
	}
	if (n >= 1 && n <= 12 && strspn(s, "0123456789") == n) {   /* epoch seconds */
		int64_t v;
		if (parse_int(s, &v) != IM_OK)
			return IM_EINVAL;
		*out = v;
		return IM_OK;
	}
	/* YYYY-MM-DD[(T| )HH:MM[:SS]][Z] */
	if (n < 10 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
	    digits(s + 8, 2, &d))
		return IM_EINVAL;
	s += 10;
	if (*s == 'T' || *s == ' ') {
		if (digits(s + 1, 2, &h) || s[3] != ':' || digits(s + 4, 2, &mi))
			return IM_EINVAL;
		s += 6;
		if (*s == ':') {
			if (digits(s + 1, 2, &sec))
				return IM_EINVAL;
			s += 3;
		}
	}
	if (*s == 'Z') {
		utc = 1;
		s++;
	}
	if (*s != '\0')
		return IM_EINVAL;
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) ||
	    h > 23 || mi > 59 || sec > 59)
		return IM_EINVAL;
	if (utc || tz == NULL || strcmp(tz, "UTC") == 0) {
		*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
		return IM_OK;
	} else {
		struct tm tm;
		memset(&tm, 0, sizeof tm);
		tm.tm_year = y - 1900; tm.tm_mon = mo - 1; tm.tm_mday = d;
		tm.tm_hour = h; tm.tm_min = mi; tm.tm_sec = sec;
		return im_tz_to_utc(tz, &tm, out);
	}
}

/* A label character of a domain: ASCII letter, digit, '-', or any byte of a
 * UTF-8 sequence (IDNs arrive as U-labels; jansson guarantees valid UTF-8). */
static int domain_char(unsigned char c)
{
	return isalnum(c) || c == '-' || c >= 0x80;
}

int im_jid_normalize(const char *in, int domain_only, char *out, size_t outsz, const char **why)
{
	const char *at = domain_only ? NULL : strchr(in, '@');
	const char *dom = at ? at + 1 : in;
	size_t n = strlen(in), i, dn = strlen(dom), label = 0;

	*why = NULL;
	if (n == 0) { *why = "is empty"; return IM_EINVAL; }
	if (n > JID_MAX || n + 1 > outsz) { *why = "is too long"; return IM_EINVAL; }
	if (strchr(in, '/') != NULL) {
		*why = domain_only ? "must be a domain" : "must be a bare JID (no /resource)";
		return IM_EINVAL;
	}
	if (at != NULL) {
		size_t ln = (size_t)(at - in);
		if (ln == 0 || ln > 1023) { *why = "has an empty or overlong local part"; return IM_EINVAL; }
		for (i = 0; i < ln; i++) {
			unsigned char c = (unsigned char)in[i];
			/* RFC 7622 / nodeprep forbids these in a localpart. */
			if (c <= 0x20 || c == 0x7f || strchr("\"&'/:<>@", c) != NULL) {
				*why = "has a character not allowed in a local part";
				return IM_EINVAL;
			}
		}
	}
	if (dn == 0 || dn > 1023 || dom[0] == '.' || dom[dn - 1] == '.') {
		*why = "has an invalid domain";
		return IM_EINVAL;
	}
	for (i = 0; i < dn; i++) {
		unsigned char c = (unsigned char)dom[i];
		if (c == '.') {
			if (label == 0) { *why = "has an empty domain label"; return IM_EINVAL; }
			label = 0;
		} else if (domain_char(c)) {
			if (++label > 63) { *why = "has an overlong domain label"; return IM_EINVAL; }
		} else {
			*why = "has a character not allowed in a domain";
			return IM_EINVAL;
		}
	}
	for (i = 0; i <= n; i++)
		out[i] = (char)tolower((unsigned char)in[i]);   /* tolower leaves bytes >= 0x80 alone in the C locale */
	return IM_OK;
}

static int valid_cursor(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= CURSOR_MAX && strspn(s, "0123456789abcdefghijklmnopqrstuvwxyz.-") == n;
}

/* Coerces one value.  Returns a new JSON value or NULL with *err set. */
static json_t *coerce(const im_param *p, json_t *v, const char *tz, json_t **err)
{
	char buf[64];
	const char *s = NULL;
	const char *why;

	if (json_is_string(v)) {
		s = json_string_value(v);
		if (strlen(s) != json_string_length(v)) {
			*err = im_error_new("invalid", p->name, "%s contains a NUL character", p->name);
			return NULL;
		}
	}
	switch (p->type) {
	case IM_PT_INT: {
		int64_t i;
		if (json_is_integer(v))
			i = json_integer_value(v);
		else if (s == NULL || parse_int(s, &i) != IM_OK) {
			*err = im_error_new("invalid", p->name, "%s must be an integer", p->name);
			return NULL;
		}
		if (i < p->min || i > p->max) {
			*err = im_error_new("invalid", p->name, "%s must be between %" PRId64 " and %" PRId64,
			                    p->name, p->min, p->max);
			return NULL;
		}
		return json_integer(i);
	}
	case IM_PT_BOOL:
		if (json_is_boolean(v))
			return json_boolean(json_is_true(v));
		if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1))
			return json_boolean(json_integer_value(v));
		if (s != NULL) {
			if (!strcasecmp(s, "true") || !strcmp(s, "1") || !strcasecmp(s, "yes") || !strcasecmp(s, "on"))
				return json_true();
			if (!strcasecmp(s, "false") || !strcmp(s, "0") || !strcasecmp(s, "no") || !strcasecmp(s, "off"))
				return json_false();
		}
		*err = im_error_new("invalid", p->name, "%s must be true or false", p->name);
		return NULL;
	case IM_PT_TIME: {
		int64_t t;
		if (json_is_integer(v)) {
			t = json_integer_value(v);
		} else if (s == NULL || strlen(s) > 32 || im_time_parse(s, tz, im_now(), &t) != IM_OK) {
			*err = im_error_new("invalid", p->name,
			                    "%s must be a time: epoch seconds, YYYY-MM-DD, "
			                    "YYYY-MM-DDTHH:MM[:SS], -7d, -12h or now", p->name);
			return NULL;
		}
		if (t < 0 || t > 253402300799LL) {   /* 9999-12-31T23:59:59Z */
			*err = im_error_new("invalid", p->name, "%s is out of range", p->name);
			return NULL;
		}
		return json_integer(t);
	}
	default:
		break;
	}
	/* The remaining types are textual; accept integers for strings too (CLI habit). */
	if (s == NULL && json_is_integer(v) && (p->type == IM_PT_STRING || p->type == IM_PT_ENUM)) {
		snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		s = buf;
	}
	if (s == NULL) {
		*err = im_error_new("invalid", p->name, "%s must be a %s", p->name, im_ptype_name(p->type));
		return NULL;
	}
	switch (p->type) {
	case IM_PT_STRING: {
		size_t max = p->max > 0 ? (size_t)p->max : STRING_MAX_DEFAULT;
		if (strlen(s) > max) {
			*err = im_error_new("invalid", p->name, "%s is longer than %zu bytes", p->name, max);
			return NULL;
		}
		return json_string(s);
	}
	case IM_PT_ENUM: {
		const char *const *e;
		for (e = p->values; e && *e; e++)
			if (strcmp(*e, s) == 0)
				return json_string(s);
		*err = im_error_new("invalid", p->name, "%s must be one of the listed values", p->name);
		return NULL;
	}
	case IM_PT_JID:
	case IM_PT_DOMAIN: {
		char norm[JID_MAX + 1];
		if (im_jid_normalize(s, p->type == IM_PT_DOMAIN, norm, sizeof norm, &why) != IM_OK) {
			*err = im_error_new("invalid", p->name, "%s %s", p->name, why);
			return NULL;
		}
		return json_string(norm);
	}
	case IM_PT_CURSOR:
		if (!valid_cursor(s)) {
			*err = im_error_new("invalid", p->name, "%s is not a cursor from a previous result", p->name);
			return NULL;
		}
		return json_string(s);
	default:
		break;
	}
	*err = im_error_new("internal", NULL, "parameter %s has an unknown type", p->name);
	return NULL;
}

int im_params_check(const im_param *decl, size_t n, json_t *in, const char *tz,
                    json_t **out, json_t **err)
{
	json_t *res, *v;
	const char *key;
	size_t i;

	*out = NULL;
	*err = NULL;
	if (in != NULL && !json_is_object(in)) {
		*err = im_error_new("invalid", NULL, "parameters must be a JSON object");
		return IM_EINVAL;
	}
	if (in != NULL) {
		json_object_foreach(in, key, v) {
			for (i = 0; i < n; i++)
				if (strcmp(decl[i].name, key) == 0)
					break;
			if (i == n) {
				char shown[41];
				size_t k;
				/* The name is user input: show at most 40 plain characters of it. */
				for (k = 0; k < sizeof shown - 1 && key[k]; k++)
					shown[k] = isalnum((unsigned char)key[k]) || key[k] == '_' ||
					           key[k] == '.' || key[k] == '-' ? key[k] : '?';
				shown[k] = '\0';
				*err = im_error_new("invalid", shown, "unknown parameter %s", shown);
				return IM_EINVAL;
			}
		}
	}
	res = json_object();
	if (res == NULL) {
		*err = im_error_new("internal", NULL, "out of memory");
		return IM_ERR;
	}
	for (i = 0; i < n; i++) {
		const im_param *p = &decl[i];
		json_t *c, *dv = NULL;

		v = in ? json_object_get(in, p->name) : NULL;
		/* An empty string from a form means "not given". */
		if (v != NULL && (json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0)))
			v = NULL;
		if (v == NULL && p->def != NULL)
			v = dv = json_string(p->def);
		if (v == NULL) {
			if (p->required) {
				*err = im_error_new("invalid", p->name, "%s is required", p->name);
				json_decref(res);
				return IM_EINVAL;
			}
			continue;
		}
		c = coerce(p, v, tz, err);
		json_decref(dv);
		if (c == NULL) {
			json_decref(res);
			return IM_EINVAL;
		}
		json_object_set_new(res, p->name, c);
	}
	*out = res;
	return IM_OK;
}
