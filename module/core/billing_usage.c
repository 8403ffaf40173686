/*
 * billing_usage.c — metering events into 15-minute buckets, and usage per
 * customer and period (billing.h).
 *
 * Buckets are 900 s because every zone offset in use is a multiple of 15
 * minutes: a period boundary at local midnight is always a bucket boundary.
 */
#include <string.h>

#include "billing.h"
#include "billing_int.h"
#include "imhost_err.h"

#define BUCKET 900

/* The end of the customer's last invoiced period (0 when none): usage before
 * it is late. */
static int invoiced_until(sqlite3 *db, const char *domain, int64_t *until)
{
	sqlite3_stmt *st = NULL;
	int rc = IM_ERR;

	if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(s.billed_until), 0) FROM domain d "
	                       "JOIN bill_subscription s ON s.customer_id = d.customer_id "
	                       "WHERE d.name = ?", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		*until = sqlite3_column_int64(st, 0);
		rc = IM_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

int im_bill_usage_record(sqlite3 *db, const char *event_id, const char *domain,
                         const char *metric, const char *user, int64_t value, int64_t ts,
                         int *dup, char **err)
{
	static const char *const agg[] = {   /* metric -> how a bucket combines values */
		"messages", "value + excluded.value", "storage", "MAX(value, excluded.value)",
		"seats", "MAX(value, excluded.value)", NULL
	};
	sqlite3_stmt *st = NULL;
	int64_t until, bucket = ts - ((ts % BUCKET) + BUCKET) % BUCKET;
	const char *how = NULL;
	char sql[256];
	int rc, i, is_login = metric && strcmp(metric, "login") == 0;

	*dup = 0;
	for (i = 0; metric && agg[i]; i += 2)
		if (strcmp(agg[i], metric) == 0)
			how = agg[i + 1];
	if (event_id && strncmp(event_id, "meter:", 6) == 0)   /* billing_meter.c's watermark */
		return im_bill_fail(err, IM_EINVAL, "usage: event ids \"meter:*\" are reserved");
	if (!event_id || !*event_id || strlen(event_id) > 128 || !domain || !*domain ||
	    (how == NULL && !is_login) || (is_login && (!user || !*user)) || value < 0 || ts < 0)
		return im_bill_fail(err, IM_EINVAL, "usage needs event_id, domain, metric "
		                    "messages|storage|seats|login (login: user), value >= 0");
	if ((rc = im_bill_begin(db, err)) != IM_OK)
		return rc;
	if ((rc = invoiced_until(db, domain, &until)) != IM_OK)
		goto fail;
	if (ts < until) {   /* the documented late-usage policy: refused, never billed */
		im_bill_rollback(db);
		return im_bill_fail(err, IM_EINVAL, "late: the period of this event is already invoiced");
	}
	rc = IM_ERR;
	if (im_bill_prep(db, "INSERT INTO bill_usage_event(event_id, ts) VALUES(?, ?) "
	                 "ON CONFLICT(event_id) DO NOTHING", &st, err) != IM_OK ||
	    sqlite3_bind_text(st, 1, event_id, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 2, ts) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_changes(db) == 0) {   /* seen before: counted once */
		*dup = 1;
		im_bill_rollback(db);
		return IM_OK;
	}
	if (is_login) {
		if (im_bill_prep(db, "INSERT OR IGNORE INTO bill_active(domain, bucket, user) VALUES(?,?,?)",
		                 &st, err) != IM_OK ||
		    sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC) != SQLITE_OK ||
		    sqlite3_bind_int64(st, 2, bucket) != SQLITE_OK ||
		    sqlite3_bind_text(st, 3, user, -1, SQLITE_STATIC) != SQLITE_OK)
			goto fail;
	} else {
		/* how comes from the table above, never from input. */
		snprintf(sql, sizeof sql, "INSERT INTO bill_usage(domain, metric, bucket, value) VALUES(?,?,?,?) "
		         "ON CONFLICT(domain, metric, bucket) DO UPDATE SET value = %s", how);
		if (im_bill_prep(db, sql, &st, err) != IM_OK ||
		    sqlite3_bind_text(st, 1, domain, -1, SQLITE_STATIC) != SQLITE_OK ||
		    sqlite3_bind_text(st, 2, metric, -1, SQLITE_STATIC) != SQLITE_OK ||
		    sqlite3_bind_int64(st, 3, bucket) != SQLITE_OK || sqlite3_bind_int64(st, 4, value) != SQLITE_OK)
			goto fail;
	}
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	return im_bill_commit(db, err);
fail:
	im_bill_fail(err, rc, "usage: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	im_bill_rollback(db);
	return rc;
}

/* Seats and storage: the sum over the customer's domains of each domain's
 * peak in the period.  Active users: distinct JIDs that logged in. */
const char im_bill_usage_sql[] =
	"SELECT"
	" (SELECT COALESCE(SUM(u.value), 0) FROM domain d JOIN bill_usage u ON u.domain = d.name"
	"   AND u.metric = 'messages' AND u.bucket >= ?2 AND u.bucket < ?3 WHERE d.customer_id = ?1),"
	" (SELECT COALESCE(SUM(m), 0) FROM (SELECT MAX(u.value) AS m FROM domain d JOIN bill_usage u"
	"   ON u.domain = d.name AND u.metric = 'storage' AND u.bucket >= ?2 AND u.bucket < ?3"
	"   WHERE d.customer_id = ?1 GROUP BY d.name)),"
	" (SELECT COALESCE(SUM(m), 0) FROM (SELECT MAX(u.value) AS m FROM domain d JOIN bill_usage u"
	"   ON u.domain = d.name AND u.metric = 'seats' AND u.bucket >= ?2 AND u.bucket < ?3"
	"   WHERE d.customer_id = ?1 GROUP BY d.name)),"
	" (SELECT COUNT(DISTINCT a.user) FROM domain d JOIN bill_active a ON a.domain = d.name"
	"   AND a.bucket >= ?2 AND a.bucket < ?3 WHERE d.customer_id = ?1)";

int im_bill_usage_step(sqlite3 *db, sqlite3_stmt *st, int64_t customer, int64_t from, int64_t until,
                       im_bill_usage *u, char **err)
{
	int rc = IM_ERR;

	sqlite3_reset(st);
	if (sqlite3_bind_int64(st, 1, customer) == SQLITE_OK && sqlite3_bind_int64(st, 2, from) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 3, until) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		u->messages = sqlite3_column_int64(st, 0);
		u->storage = sqlite3_column_int64(st, 1);
		u->seats = sqlite3_column_int64(st, 2);
		u->active_users = sqlite3_column_int64(st, 3);
		rc = IM_OK;
	} else {
		im_bill_fail(err, IM_ERR, "usage: %s", sqlite3_errmsg(db));
	}
	sqlite3_reset(st);
	return rc;
}

int im_bill_usage_get(sqlite3 *db, int64_t customer, int64_t from, int64_t until,
                      im_bill_usage *u, char **err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (im_bill_prep(db, im_bill_usage_sql, &st, err) != IM_OK)
		return IM_ERR;
	rc = im_bill_usage_step(db, st, customer, from, until, u, err);
	sqlite3_finalize(st);
	return rc;
}
