/*
 * desk_conf.c — the desk's settings: defaults, validation, storage
 * (desk_setting key/value rows, so every surface can read and change them
 * through desk.configure).
 *
 * Keys and forms:
 *   zone            IANA zone of the business calendar       Europe/Berlin
 *   hours           HH:MM-HH:MM business window               09:00-17:00
 *   days            business weekdays, 0=Sun..6=Sat digits    12345
 *   sla_low|sla_normal|sla_high|sla_urgent
 *                   "<first>/<resolve>" business minutes      e.g. 480/4800
 *   reopen_days     0..365                                    7
 *   rate_per_min    1..10000                                  10
 *   body_max        1024..65536 bytes                         16384
 *   desk_jids       space-separated bare JIDs of the desk     ""
 *   index_dir       sitegen output directory (has search/)    ""
 *   site_url        help site base URL (http/https)           ""
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "desk.h"
#include "imhost_err.h"
#include "tz.h"

static const char *const prio_names[IM_DESK_NPRIO] = { "low", "normal", "high", "urgent" };
static const char *const sla_keys[IM_DESK_NPRIO] = { "sla_low", "sla_normal", "sla_high", "sla_urgent" };

int im_desk_prio_index(const char *name)
{
	int i;

	for (i = 0; name && i < IM_DESK_NPRIO; i++)
		if (strcmp(prio_names[i], name) == 0)
			return i;
	return -1;
}

const char *im_desk_prio_name(int idx)
{
	return idx >= 0 && idx < IM_DESK_NPRIO ? prio_names[idx] : NULL;
}

static void defaults(im_desk_conf *c)
{
	/* Business minutes: urgent 1 h / 8 h ... low 2 days / 10 days. */
	static const int64_t first[] = { 960, 480, 120, 60 }, resolve[] = { 4800, 2400, 960, 480 };
	int i;

	memset(c, 0, sizeof *c);
	snprintf(c->cal.zone, sizeof c->cal.zone, "%s", "Europe/Berlin");
	c->cal.open_min = 9 * 60;
	c->cal.close_min = 17 * 60;
	c->cal.days = 0x3e;   /* Mon..Fri */
	for (i = 0; i < IM_DESK_NPRIO; i++) {
		c->first_target[i] = first[i] * 60;
		c->resolve_target[i] = resolve[i] * 60;
	}
	c->reopen_days = 7;
	c->rate_per_min = 10;
	c->body_max = 16384;
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return 0;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < lo || v > hi)
		return 0;
	*out = v;
	return 1;
}

static int parse_hhmm(const char *s, int *min)
{
	int h, m, n = 0;

	if (sscanf(s, "%2d:%2d%n", &h, &m, &n) != 2 || n != 5 || h < 0 || h > 24 || m < 0 || m > 59 ||
	    (h == 24 && m != 0))
		return 0;
	*min = h * 60 + m;
	return 1;
}

/* Applies key=value to c; 0 with *why when refused. */
static int apply(im_desk_conf *c, const char *key, const char *v, const char **why)
{
	long n;
	int i;

	if (strcmp(key, "zone") == 0) {
		if (strlen(v) >= sizeof c->cal.zone || !im_tz_valid(v))
			return *why = "zone: unknown time zone", 0;
		snprintf(c->cal.zone, sizeof c->cal.zone, "%s", v);
	} else if (strcmp(key, "hours") == 0) {
		int a, b;
		if (strlen(v) != 11 || v[5] != '-' || !parse_hhmm(v, &a) || !parse_hhmm(v + 6, &b) || a >= b)
			return *why = "hours: HH:MM-HH:MM with start before end", 0;
		c->cal.open_min = a;
		c->cal.close_min = b;
	} else if (strcmp(key, "days") == 0) {
		unsigned d = 0;
		const char *p;
		for (p = v; *p; p++) {
			if (*p < '0' || *p > '6')
				return *why = "days: digits 0 (Sunday) to 6 (Saturday)", 0;
			d |= 1u << (*p - '0');
		}
		if (d == 0)
			return *why = "days: at least one business day", 0;
		c->cal.days = d;
	} else if (strcmp(key, "reopen_days") == 0) {
		if (!parse_int(v, 0, 365, &n))
			return *why = "reopen_days: 0..365", 0;
		c->reopen_days = (int)n;
	} else if (strcmp(key, "rate_per_min") == 0) {
		if (!parse_int(v, 1, 10000, &n))
			return *why = "rate_per_min: 1..10000", 0;
		c->rate_per_min = (int)n;
	} else if (strcmp(key, "body_max") == 0) {
		if (!parse_int(v, 1024, 65536, &n))
			return *why = "body_max: 1024..65536", 0;
		c->body_max = (int)n;
	} else if (strcmp(key, "desk_jids") == 0) {
		if (strlen(v) >= sizeof c->desk_jids)
			return *why = "desk_jids: too long", 0;
		snprintf(c->desk_jids, sizeof c->desk_jids, "%s", v);
	} else if (strcmp(key, "index_dir") == 0) {
		if (strlen(v) >= sizeof c->index_dir || (*v && *v != '/') || strstr(v, ".."))
			return *why = "index_dir: an absolute path without ..", 0;
		snprintf(c->index_dir, sizeof c->index_dir, "%s", v);
	} else if (strcmp(key, "site_url") == 0) {
		if (strlen(v) >= sizeof c->site_url ||
		    (*v && strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0) ||
		    strpbrk(v, "\"'<> \t\r\n"))
			return *why = "site_url: an http(s) URL", 0;
		snprintf(c->site_url, sizeof c->site_url, "%s", v);
	} else {
		for (i = 0; i < IM_DESK_NPRIO; i++)
			if (strcmp(key, sla_keys[i]) == 0)
				break;
		if (i == IM_DESK_NPRIO)
			return *why = "unknown setting", 0;
		{
			long f, r;
			char a[16], b[16];
			if (sscanf(v, "%15[0-9]/%15[0-9]", a, b) != 2 || !parse_int(a, 1, 525600, &f) ||
			    !parse_int(b, 1, 5256000, &r) || f > r)
				return *why = "sla_*: <first>/<resolve> business minutes, first <= resolve", 0;
			c->first_target[i] = f * 60;
			c->resolve_target[i] = r * 60;
		}
	}
	return 1;
}

int im_desk_conf_load(sqlite3 *db, im_desk_conf *conf)
{
	sqlite3_stmt *st = NULL;
	const char *why;
	int rc;

	defaults(conf);
	if (sqlite3_prepare_v2(db, "SELECT key, value FROM desk_setting", -1, &st, NULL) != SQLITE_OK)
		return IM_ERR;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)   /* stored values were validated on set */
		(void)apply(conf, (const char *)sqlite3_column_text(st, 0),
		            (const char *)sqlite3_column_text(st, 1), &why);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? IM_OK : IM_ERR;
}

int im_desk_conf_set(sqlite3 *db, const char *key, const char *value, const char **why)
{
	im_desk_conf c;
	sqlite3_stmt *st = NULL;
	int rc = IM_ERR;

	if (im_desk_conf_load(db, &c) != IM_OK) {
		*why = "database";
		return IM_ERR;
	}
	if (!apply(&c, key, value, why))
		return IM_EINVAL;
	if (c.cal.open_min >= c.cal.close_min) {
		*why = "hours: start before end";
		return IM_EINVAL;
	}
	if (sqlite3_prepare_v2(db, "INSERT INTO desk_setting(key, value) VALUES(?,?) "
	                       "ON CONFLICT(key) DO UPDATE SET value = excluded.value", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_DONE)
		rc = IM_OK;
	sqlite3_finalize(st);
	if (rc != IM_OK)
		*why = "database";
	return rc;
}

json_t *im_desk_conf_json(const im_desk_conf *c)
{
	char hours[32], days[8], sla[48];
	json_t *o;
	int i, n = 0;

	snprintf(hours, sizeof hours, "%02d:%02d-%02d:%02d", c->cal.open_min / 60, c->cal.open_min % 60,
	         c->cal.close_min / 60, c->cal.close_min % 60);
	for (i = 0; i < 7; i++)
		if (c->cal.days & (1u << i))
			days[n++] = (char)('0' + i);
	days[n] = '\0';
	o = json_pack("{s:s,s:s,s:s,s:i,s:i,s:i,s:s,s:s,s:s}", "zone", c->cal.zone, "hours", hours,
	              "days", days, "reopen_days", c->reopen_days, "rate_per_min", c->rate_per_min,
	              "body_max", c->body_max, "desk_jids", c->desk_jids, "index_dir", c->index_dir,
	              "site_url", c->site_url);
	for (i = 0; o && i < IM_DESK_NPRIO; i++) {
		snprintf(sla, sizeof sla, "%lld/%lld", (long long)(c->first_target[i] / 60),
		         (long long)(c->resolve_target[i] / 60));
		json_object_set_new(o, sla_keys[i], json_string(sla));
	}
	return o;
}

int im_desk_is_desk_jid(const im_desk_conf *conf, const char *jid)
{
	size_t n = strlen(jid);
	const char *p = conf->desk_jids;

	while (*p) {
		size_t w;
		while (*p == ' ')
			p++;
		w = strcspn(p, " ");
		if (w == n && w > 0 && strncmp(p, jid, n) == 0)
			return 1;
		p += w;
	}
	return 0;
}
