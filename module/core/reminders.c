/*
 * reminders.c — which expiry reminder is due, and the idempotent run that
 * records and returns them (rules in reminders.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accounts.h"
#include "imhost_err.h"
#include "reminders.h"
#include "store.h"

#define DAY 86400LL

typedef struct { const char *key; int64_t offset; } threshold;   /* offset from expiry */

static const threshold domain_thresholds[] = {
	{ "30d_before", -30 * DAY }, { "14d_before", -14 * DAY }, { "7d_before", -7 * DAY },
	{ "1d_before", -1 * DAY },   { "1d_after", 1 * DAY },     { "5d_after", 5 * DAY },
};
static const threshold cert_thresholds[] = {
	{ "21d_before", -21 * DAY }, { "14d_before", -14 * DAY }, { "7d_before", -7 * DAY },
	{ "3d_before", -3 * DAY },   { "1d_before", -1 * DAY },
};

#define N(a) (sizeof a / sizeof a[0])

int im_reminder_due(const char *kind, int64_t expires, int64_t lifetime, int64_t now,
                    const char **key, int64_t *due_at)
{
	int is_cert = strcmp(kind, "cert") == 0;
	const threshold *t = is_cert ? cert_thresholds : domain_thresholds;
	size_t n = is_cert ? N(cert_thresholds) : N(domain_thresholds), i;
	int acme = is_cert && lifetime > 0 && lifetime <= IM_ACME_MAX_LIFETIME;
	int64_t third = acme ? expires - lifetime / 3 : 0;
	int found = 0;

	if (acme && third <= now) {
		*key = "acme_third";
		*due_at = third;
		found = 1;
	}
	/* Thresholds are in time order: the last one passed is the most recent. */
	for (i = 0; i < n; i++) {
		int64_t at = expires + t[i].offset;
		if (at > now)
			break;
		if (acme && at <= third)   /* before the last third: noise for ACME */
			continue;
		*key = t[i].key;
		*due_at = at;
		found = 1;
	}
	return found;
}

typedef struct {
	sqlite3 *db;
	int64_t now;
	json_t *out;
	json_t *staff;
} run_state;

/* Claims (kind, object, key, generation) unless it or a later threshold of
 * the same generation was sent.  1 claimed, 0 not, -1 error. */
static int claim(sqlite3 *db, const char *kind, const char *object, const char *key,
                 const char *gen, int64_t due_at, int64_t now)
{
	static const char sql[] =
		"INSERT OR IGNORE INTO reminder_sent(kind, object, threshold, generation, due_at, sent) "
		"SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE NOT EXISTS (SELECT 1 FROM reminder_sent "
		"WHERE kind = ?1 AND object = ?2 AND generation = ?4 AND due_at >= ?5)";
	sqlite3_stmt *st = NULL;
	int r = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_text(st, 2, object, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_text(st, 4, gen, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 5, due_at) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 6, now) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_DONE)
		r = sqlite3_changes(db) > 0;
	sqlite3_finalize(st);
	return r;
}

/* Owners of customer (a new array), or NULL on error. */
static json_t *owners_of(sqlite3 *db, int64_t customer)
{
	sqlite3_stmt *st = NULL;
	json_t *a = json_array();
	int rc;

	if (a == NULL || customer < 0)
		return a;
	if (sqlite3_prepare_v2(db, "SELECT jid FROM member WHERE customer_id = ? AND role = 'owner' "
	                       "ORDER BY jid", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 1, customer) != SQLITE_OK) {
		sqlite3_finalize(st);
		json_decref(a);
		return NULL;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(a, json_string((const char *)sqlite3_column_text(st, 0)));
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		json_decref(a);
		return NULL;
	}
	return a;
}

static json_t *all_staff(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	json_t *a = json_array();
	int rc = SQLITE_ERROR;

	if (a != NULL && sqlite3_prepare_v2(db, "SELECT jid FROM staff ORDER BY jid", -1, &st, NULL) == SQLITE_OK)
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			json_array_append_new(a, json_string((const char *)sqlite3_column_text(st, 0)));
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		json_decref(a);
		return NULL;
	}
	return a;
}

/* Handles one object: computes, claims, appends.  IM_OK or IM_ERR. */
static int one(run_state *s, const char *kind, const char *object, int64_t expires,
               int64_t lifetime, const char *gen)
{
	const char *key;
	int64_t due_at, customer = -1, days;
	char date[32], msg[300];
	struct tm tm;
	time_t t = (time_t)expires;
	json_t *owners, *r;
	int c;

	if (!im_reminder_due(kind, expires, lifetime, s->now, &key, &due_at))
		return IM_OK;
	if ((c = claim(s->db, kind, object, key, gen, due_at, s->now)) != 1)
		return c == 0 ? IM_OK : IM_ERR;
	if (im_acct_scope_customer(s->db, object, &customer) == IM_ERR)
		return IM_ERR;
	if ((owners = owners_of(s->db, customer)) == NULL)
		return IM_ERR;
	if (gmtime_r(&t, &tm) == NULL || strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", &tm) == 0)
		strcpy(date, "?");
	/* Whole days, rounded towards the expiry: "in 7 days" on the 7-day mark. */
	days = expires >= s->now ? (expires - s->now) / DAY : -((s->now - expires + DAY - 1) / DAY);
	snprintf(msg, sizeof msg, "%s %s %s %s (%s%lld day%s%s).",
	         strcmp(kind, "cert") == 0 ? "The TLS certificate of" : "The registration of",
	         object, expires > s->now ? "expires on" : "expired on", date,
	         days >= 0 ? "in " : "", (long long)(days >= 0 ? days : -days),
	         days == 1 || days == -1 ? "" : "s", days >= 0 ? "" : " ago");
	r = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:o,s:O,s:s}", "kind", kind, "object", object,
	              "threshold", key, "due_at", (json_int_t)due_at, "expires", (json_int_t)expires,
	              "days_left", (json_int_t)days, "owners", owners, "staff", s->staff, "message", msg);
	if (r == NULL)
		return IM_ERR;
	json_object_set_new(r, "customer", customer >= 0 ? json_integer(customer) : json_null());
	json_array_append_new(s->out, r);
	return IM_OK;
}

static int run_tx(void *arg)
{
	run_state *s = arg;
	sqlite3_stmt *st = NULL;
	json_t *objs = json_array(), *o;
	size_t i;
	int rc = IM_ERR, src;

	/* Read first, then claim: no writes while a SELECT is open. */
	if (objs == NULL ||
	    sqlite3_prepare_v2(s->db, "SELECT 'domain', name, expires, 0, CAST(expires AS TEXT) FROM domain "
	                       "WHERE expires IS NOT NULL UNION ALL "
	                       "SELECT 'cert', domain, not_after, coalesce(lifetime, 0), fingerprint FROM cert "
	                       "WHERE not_after IS NOT NULL AND fingerprint IS NOT NULL", -1, &st, NULL) != SQLITE_OK)
		goto out;
	while ((src = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(objs, json_pack("[s,s,I,I,s]", sqlite3_column_text(st, 0),
		                                      sqlite3_column_text(st, 1),
		                                      (json_int_t)sqlite3_column_int64(st, 2),
		                                      (json_int_t)sqlite3_column_int64(st, 3),
		                                      sqlite3_column_text(st, 4)));
	if (src != SQLITE_DONE)
		goto out;
	json_array_foreach(objs, i, o) {
		if (one(s, json_string_value(json_array_get(o, 0)), json_string_value(json_array_get(o, 1)),
		        json_integer_value(json_array_get(o, 2)), json_integer_value(json_array_get(o, 3)),
		        json_string_value(json_array_get(o, 4))) != IM_OK)
			goto out;
	}
	rc = IM_OK;
out:
	sqlite3_finalize(st);
	json_decref(objs);
	return rc;
}

int im_reminders_run(sqlite3 *db, int64_t now, json_t **out, char **err)
{
	run_state s = { db, now, json_array(), NULL };

	*out = NULL;
	if (s.out == NULL || (s.staff = all_staff(db)) == NULL) {
		json_decref(s.out);
		im_store_set_err(err, "reminders", db);
		return IM_ERR;
	}
	if (im_acct_tx(db, run_tx, &s) != IM_OK) {
		im_store_set_err(err, "reminders", db);
		json_decref(s.out);
		json_decref(s.staff);
		return IM_ERR;
	}
	json_decref(s.staff);
	*out = s.out;
	return IM_OK;
}
