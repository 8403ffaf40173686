/*
 * tz.c — see tz.h.  Reads the system's TZif files (RFC 8536) itself.
 *
 * Why not setenv("TZ") + mktime: the C library keeps one process-wide zone, and
 * switching it from a worker thread races with every other thread that reads
 * the environment or formats local time (Prosody's os.date on the main thread).
 * A parsed zone is immutable, so any number of threads can convert at once.
 *
 * A zone is: transition instants with the local-time type in force after each,
 * and a POSIX TZ rule ("CET-1CEST,M3.5.0,M10.5.0/3") for instants after the last
 * transition.  Parsed zones are cached for the life of the process: names
 * must be existing files, so the cache is bounded by tzdata (~600 zones).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imhost_err.h"
#include "tz.h"

#define ZONEINFO "/usr/share/zoneinfo/"
#define TZIF_MAX (256 * 1024)

typedef struct { int32_t off; int isdst; } ttype;

typedef struct {          /* a date rule of the POSIX TZ string */
	char kind;            /* 'J' (1-365, no Feb 29), 'D' (0-365), 'M' (month.week.day) */
	int a, b, c;          /* J/D: day in a; M: month a, week b (5 = last), weekday c */
	int32_t secs;         /* local time of day of the change */
} trule;

typedef struct {
	char name[64];
	int64_t *trans;       /* ascending UTC instants */
	unsigned char *idx;   /* type after each transition */
	int ntrans;
	ttype *types;
	int ntypes;
	int has_rule;         /* footer present and parsed */
	int32_t std_off, dst_off;   /* seconds east of UTC */
	int has_dst;
	trule start, end;
} zone;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static zone **cache;
static int ncache, cache_cap;

/* --- calendar ------------------------------------------------------------------ */

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

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

/* --- POSIX TZ footer --------------------------------------------------------------- */

static const char *parse_name(const char *p)
{
	if (*p == '<') {
		while (*p && *p != '>')
			p++;
		return *p == '>' ? p + 1 : NULL;
	}
	{
		const char *s = p;
		while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
			p++;
		return p - s >= 3 ? p : NULL;
	}
}

static int parse_num(const char **pp, int max, int *out)
{
	const char *p = *pp;
	int v = 0, n = 0;

	while (*p >= '0' && *p <= '9' && n < 4) {
		v = v * 10 + (*p++ - '0');
		n++;
	}
	if (n == 0 || v > max)
		return -1;
	*pp = p;
	*out = v;
	return 0;
}

/* [+-]hh[:mm[:ss]] -> seconds (hours up to 167, RFC 8536). */
static const char *parse_hms(const char *p, int32_t *out)
{
	int sign = 1, h, m = 0, s = 0;

	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	if (parse_num(&p, 167, &h))
		return NULL;
	if (*p == ':') {
		p++;
		if (parse_num(&p, 59, &m))
			return NULL;
		if (*p == ':') {
			p++;
			if (parse_num(&p, 59, &s))
				return NULL;
		}
	}
	*out = sign * (h * 3600 + m * 60 + s);
	return p;
}

static const char *parse_rule(const char *p, trule *r)
{
	r->secs = 7200;
	if (*p == 'J') {
		p++;
		r->kind = 'J';
		if (parse_num(&p, 365, &r->a) || r->a < 1)
			return NULL;
	} else if (*p == 'M') {
		p++;
		r->kind = 'M';
		if (parse_num(&p, 12, &r->a) || r->a < 1 || *p++ != '.' || parse_num(&p, 5, &r->b) ||
		    r->b < 1 || *p++ != '.' || parse_num(&p, 6, &r->c))
			return NULL;
	} else {
		r->kind = 'D';
		if (parse_num(&p, 365, &r->a))
			return NULL;
	}
	if (*p == '/')
		p = parse_hms(p + 1, &r->secs);
	return p;
}

static int parse_footer(const char *p, zone *z)
{
	int32_t off;

	if ((p = parse_name(p)) == NULL || (p = parse_hms(p, &off)) == NULL)
		return -1;
	z->std_off = -off;                 /* POSIX counts west of Greenwich */
	z->dst_off = z->std_off + 3600;
	if (*p == '\0') {
		z->has_dst = 0;
		return 0;
	}
	if ((p = parse_name(p)) == NULL)
		return -1;
	if (*p != ',' && *p != '\0') {
		if ((p = parse_hms(p, &off)) == NULL)
			return -1;
		z->dst_off = -off;
	}
	if (*p != ',')
		return -1;                 /* a DST zone without rules: not in tzdata */
	if ((p = parse_rule(p + 1, &z->start)) == NULL || *p != ',' ||
	    (p = parse_rule(p + 1, &z->end)) == NULL || *p != '\0')
		return -1;
	z->has_dst = 1;
	return 0;
}

/* Local seconds since the epoch (as if UTC) at which rule r fires in year y. */
static int64_t rule_local(const trule *r, int64_t y)
{
	int64_t day;

	if (r->kind == 'J')
		day = days_from_civil(y, 1, 1) + r->a - 1 + (leap(y) && r->a >= 60);
	else if (r->kind == 'D')
		day = days_from_civil(y, 1, 1) + r->a;
	else {
		static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
		int64_t first = days_from_civil(y, r->a, 1);
		int wday = (int)((first % 7 + 11) % 7);   /* 1970-01-01 was a Thursday (4) */
		int dim = mdays[r->a - 1] + (r->a == 2 && leap(y));
		int d = 1 + (r->c - wday + 7) % 7 + (r->b - 1) * 7;
		while (d > dim)
			d -= 7;
		day = first + d - 1;
	}
	return day * 86400 + r->secs;
}

static ttype rule_type(const zone *z, int64_t t)
{
	ttype std = { z->std_off, 0 }, dst = { z->dst_off, 1 };
	int64_t y, start, end;
	int m, d;

	if (!z->has_dst)
		return std;
	civil_from_days(floor_div(t + z->std_off, 86400), &y, &m, &d);
	start = rule_local(&z->start, y) - z->std_off;   /* written in standard time */
	end = rule_local(&z->end, y) - z->dst_off;       /* written in daylight time */
	if (start < end)
		return t >= start && t < end ? dst : std;
	return t >= end && t < start ? std : dst;        /* southern hemisphere */
}

/* --- TZif ----------------------------------------------------------------------------- */

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

static void zone_free(zone *z)
{
	if (z == NULL)
		return;
	free(z->trans);
	free(z->idx);
	free(z->types);
	free(z);
}

/* Parses a TZif v2+ file (the 64-bit part and the footer). */
static zone *parse_tzif(const unsigned char *b, size_t n)
{
	uint32_t cnt[6], i;
	size_t v1, need;
	const unsigned char *p;
	zone *z;

	if (n < 44 || memcmp(b, "TZif", 4) != 0 || b[4] < '2')
		return NULL;
	for (i = 0; i < 6; i++)
		cnt[i] = be32(b + 20 + 4 * i);   /* isut, isstd, leap, time, type, char */
	v1 = 44 + (size_t)cnt[3] * 5 + (size_t)cnt[4] * 6 + cnt[5] + (size_t)cnt[2] * 8 + cnt[1] + cnt[0];
	if (v1 + 44 > n || memcmp(b + v1, "TZif", 4) != 0)
		return NULL;
	p = b + v1;
	for (i = 0; i < 6; i++)
		cnt[i] = be32(p + 20 + 4 * i);
	if (cnt[4] == 0 || cnt[4] > 256 || cnt[3] > 100000)
		return NULL;
	need = 44 + (size_t)cnt[3] * 9 + (size_t)cnt[4] * 6 + cnt[5] + (size_t)cnt[2] * 12 + cnt[1] + cnt[0];
	if (v1 + need > n)
		return NULL;
	z = calloc(1, sizeof *z);
	if (z == NULL)
		return NULL;
	z->ntrans = (int)cnt[3];
	z->ntypes = (int)cnt[4];
	z->trans = malloc((cnt[3] ? cnt[3] : 1) * sizeof *z->trans);
	z->idx = malloc(cnt[3] ? cnt[3] : 1);
	z->types = malloc(cnt[4] * sizeof *z->types);
	if (z->trans == NULL || z->idx == NULL || z->types == NULL)
		goto fail;
	p += 44;
	for (i = 0; i < cnt[3]; i++, p += 8)
		z->trans[i] = be64(p);
	for (i = 0; i < cnt[3]; i++, p++) {
		if (*p >= cnt[4] || (i > 0 && z->trans[i] <= z->trans[i - 1]))
			goto fail;
		z->idx[i] = *p;
	}
	for (i = 0; i < cnt[4]; i++, p += 6) {
		z->types[i].off = (int32_t)be32(p);
		z->types[i].isdst = p[4] != 0;
		if (z->types[i].off < -25 * 3600 || z->types[i].off > 26 * 3600)
			goto fail;
	}
	p += cnt[5] + (size_t)cnt[2] * 12 + cnt[1] + cnt[0];
	/* Footer: "\n<POSIX TZ>\n"; empty means "no rule" (keep the last type). */
	if ((size_t)(p - b) < n && *p == '\n') {
		const unsigned char *e = memchr(p + 1, '\n', n - (size_t)(p - b) - 1);
		char footer[128];
		size_t len = e ? (size_t)(e - p - 1) : 0;
		if (e && len > 0 && len < sizeof footer) {
			memcpy(footer, p + 1, len);
			footer[len] = '\0';
			z->has_rule = parse_footer(footer, z) == 0;
			if (!z->has_rule)
				goto fail;
		}
	}
	return z;
fail:
	zone_free(z);
	return NULL;
}

static int valid_name(const char *zn)
{
	size_t i, n;

	if (zn == NULL)
		return 0;
	n = strlen(zn);
	if (n == 0 || n > 63 || zn[0] == '/' || strstr(zn, "..") != NULL)
		return 0;
	for (i = 0; i < n; i++) {
		char c = zn[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '/' || c == '_' || c == '-' || c == '+'))
			return 0;
	}
	return 1;
}

static zone *load(const char *zn)
{
	char path[sizeof ZONEINFO + 64];
	unsigned char *buf;
	size_t n;
	FILE *f;
	zone *z;

	snprintf(path, sizeof path, ZONEINFO "%s", zn);
	f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	buf = malloc(TZIF_MAX);
	n = buf ? fread(buf, 1, TZIF_MAX, f) : 0;
	fclose(f);
	z = n > 0 && n < TZIF_MAX ? parse_tzif(buf, n) : NULL;
	free(buf);
	if (z)
		snprintf(z->name, sizeof z->name, "%s", zn);
	return z;
}

/* The parsed zone (immutable, shared), or NULL. */
static const zone *get_zone(const char *zn)
{
	zone *z = NULL;
	int i;

	if (!valid_name(zn))
		return NULL;
	pthread_mutex_lock(&cache_lock);
	for (i = 0; i < ncache; i++)
		if (strcmp(cache[i]->name, zn) == 0) {
			z = cache[i];
			break;
		}
	if (z == NULL && (z = load(zn)) != NULL) {
		if (ncache == cache_cap) {
			int cap = cache_cap ? cache_cap * 2 : 16;
			zone **nc = realloc(cache, (size_t)cap * sizeof *nc);
			if (nc == NULL) {
				zone_free(z);
				z = NULL;
				goto out;
			}
			cache = nc;
			cache_cap = cap;
		}
		cache[ncache++] = z;
	}
out:
	pthread_mutex_unlock(&cache_lock);
	return z;
}

/* The local-time type in force at UTC instant t. */
static ttype type_at(const zone *z, int64_t t)
{
	int lo = 0, hi = z->ntrans - 1;

	if (z->ntrans == 0 || t < z->trans[0]) {
		int i;
		if (z->ntrans == 0 && z->has_rule)
			return rule_type(z, t);
		for (i = 0; i < z->ntypes; i++)   /* before any transition: first standard type */
			if (!z->types[i].isdst)
				return z->types[i];
		return z->types[0];
	}
	if (t >= z->trans[z->ntrans - 1] && z->has_rule)
		return rule_type(z, t);
	while (lo < hi) {             /* last transition <= t */
		int mid = (lo + hi + 1) / 2;
		if (z->trans[mid] <= t)
			lo = mid;
		else
			hi = mid - 1;
	}
	return z->types[z->idx[lo]];
}

int im_tz_valid(const char *zn)
{
	return get_zone(zn) != NULL;
}

int im_tz_to_utc(const char *zn, const struct tm *l, int64_t *out)
{
	const zone *z = get_zone(zn);
	int64_t wall, t1, t2;
	int ok1, ok2;

	if (z == NULL || l == NULL || out == NULL || l->tm_mon < 0 || l->tm_mon > 11)
		return IM_EINVAL;
	wall = days_from_civil((int64_t)l->tm_year + 1900, l->tm_mon + 1, 1) * 86400 +
	       (int64_t)(l->tm_mday - 1) * 86400 + (int64_t)l->tm_hour * 3600 + l->tm_min * 60 + l->tm_sec;
	/* The offsets a day before and after cover any change near `wall` (zones
	 * never change twice within two days). */
	t1 = wall - type_at(z, wall - 86400).off;
	t2 = wall - type_at(z, wall + 86400).off;
	ok1 = t1 + type_at(z, t1).off == wall;
	ok2 = t2 + type_at(z, t2).off == wall;
	if (ok1 && ok2)
		*out = t1 < t2 ? t1 : t2;   /* ambiguous (clocks went back): the earlier */
	else if (ok2)
		*out = t2;
	else
		*out = t1;                  /* valid, or in a gap: read with the offset before it */
	return IM_OK;
}

int im_tz_from_utc(const char *zn, int64_t t, struct tm *out)
{
	const zone *z = get_zone(zn);
	ttype ty;
	int64_t local, days, y;
	int m, d;
	int32_t secs;

	if (z == NULL || out == NULL)
		return IM_EINVAL;
	ty = type_at(z, t);
	local = t + ty.off;
	days = floor_div(local, 86400);
	secs = (int32_t)(local - days * 86400);
	civil_from_days(days, &y, &m, &d);
	if (y - 1900 < -2147483647 || y - 1900 > 2147483647)
		return IM_EINVAL;
	memset(out, 0, sizeof *out);
	out->tm_year = (int)(y - 1900);
	out->tm_mon = m - 1;
	out->tm_mday = d;
	out->tm_hour = secs / 3600;
	out->tm_min = secs / 60 % 60;
	out->tm_sec = secs % 60;
	out->tm_wday = (int)((days % 7 + 11) % 7);
	out->tm_yday = (int)(days - days_from_civil(y, 1, 1));
	out->tm_isdst = ty.isdst;
	out->tm_gmtoff = ty.off;
	out->tm_zone = NULL;
	return IM_OK;
}
