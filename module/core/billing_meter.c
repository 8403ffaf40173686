/*
 * billing_meter.c — usage metered from what the server already records
 * (billing.h, "Metering").
 *
 * The log writer keeps, in the same transaction as the log entries,
 * rollup_hour (messages per domain and hour) and log_session (every login);
 * the accounts glue keeps account (one row per account); log_message holds the
 * domain's logged bytes.  Metering copies what happened in [watermark, cutoff)
 * into the engine's usage tables (bill_usage, bill_active), which the invoice
 * run already reads, so the run and its idempotency are unchanged:
 *   messages  rollup_hour.messages, each hour into the bucket of its start (summed);
 *   active    each user's first and last login of every UTC day in the window
 *             (one bill_active row each): at most one period boundary falls in
 *             a UTC day, so first + last place the user in every period it
 *             logged in during, and COUNT(DISTINCT user) per period stays exact;
 *   seats     COUNT(account rows of the domain) at metering time (maximum);
 *   storage   SUM(log_message.size) of the domain at metering time (maximum).
 * Seats and storage are snapshots in the bucket cutoff - 900 (the last metered
 * quarter hour); the maximum over a period's snapshots is billed.
 *
 * Idempotency and crash safety: the watermark is one row of bill_usage_event
 * (event_id "meter:until", ts = watermark) written in the same BEGIN IMMEDIATE
 * transaction as the usage rows, so a rerun, a crash at any point or a second
 * process at the same moment meters each hour exactly once.  Only whole hours
 * are metered (cutoff = until rounded down to the hour): the writer commits an
 * hour's rollup within its flush window (<= 1 s) after the hour ends.
 *
 * Late usage keeps billing_usage.c's policy: rows for a time before the end of
 * the customer's last invoiced period are not written (never billed).
 */
#include <stdlib.h>

#include "billing.h"
#include "billing_int.h"
#include "imhost_err.h"

#define HOUR 3600
#define BUCKET 900
/* A first meter (no watermark yet) looks back this far: older usage cannot be
 * billed anyway once a period has been invoiced. */
#define FIRST_LOOKBACK (400LL * 86400)
#define WATERMARK_ID "meter:until"

/* The earliest instant of the domain's customer that may still be billed. */
#define BILLABLE_FROM "(SELECT COALESCE(MAX(s.billed_until), 0) FROM bill_subscription s" \
	" WHERE s.customer_id = d.customer_id)"

/* ?1 = watermark, ?2 = cutoff. */
static const char messages_sql[] =
	"INSERT INTO bill_usage(domain, metric, bucket, value)"
	" SELECT d.name, 'messages', r.hour, r.messages FROM domain d"
	" JOIN rollup_hour r ON r.domain = d.name AND r.hour >= ?1 AND r.hour < ?2"
	" WHERE r.messages > 0 AND r.hour >= " BILLABLE_FROM
	" ON CONFLICT(domain, metric, bucket) DO UPDATE SET value = value + excluded.value";

/* ?1 = watermark, ?2 = cutoff.  GROUP BY the UTC day: first and last login. */
static const char active_sql[] =
	"WITH f(domain, user, a, b) AS ("
	"  SELECT d.name, l.user, MIN(l.ts), MAX(l.ts) FROM domain d"
	"  JOIN log_session l ON l.domain = d.name AND l.ts >= ?1 AND l.ts < ?2 AND l.event = 'login'"
	"  WHERE l.ts >= " BILLABLE_FROM " GROUP BY d.name, l.user, l.ts / 86400)"
	" INSERT OR IGNORE INTO bill_active(domain, bucket, user)"
	"  SELECT domain, a - a % 900, user FROM f UNION SELECT domain, b - b % 900, user FROM f";

/* ?1 = snapshot bucket. */
static const char seats_sql[] =
	"INSERT INTO bill_usage(domain, metric, bucket, value)"
	" SELECT d.name, 'seats', ?1, (SELECT COUNT(*) FROM account a WHERE a.domain = d.name) AS n"
	" FROM domain d WHERE n > 0 AND ?1 >= " BILLABLE_FROM
	" ON CONFLICT(domain, metric, bucket) DO UPDATE SET value = MAX(value, excluded.value)";

static const char storage_sql[] =
	"INSERT INTO bill_usage(domain, metric, bucket, value)"
	" SELECT d.name, 'storage', ?1, m.bytes FROM temp.imh_meter_storage m JOIN domain d ON d.name = m.domain"
	" WHERE m.bytes > 0 AND ?1 >= " BILLABLE_FROM
	" ON CONFLICT(domain, metric, bucket) DO UPDATE SET value = MAX(value, excluded.value)";

/* Storage is summed BEFORE the write transaction, into a temp table of this
 * connection: summing a large log takes a while, and holding the write lock
 * meanwhile would stall the log writer.  A snapshot a moment old is fine. */
static int storage_snapshot(sqlite3 *db, char **err)
{
	if (sqlite3_exec(db, "CREATE TEMP TABLE IF NOT EXISTS imh_meter_storage("
	                 "domain TEXT PRIMARY KEY, bytes INTEGER NOT NULL);"
	                 "DELETE FROM temp.imh_meter_storage;"
	                 "INSERT INTO temp.imh_meter_storage(domain, bytes) SELECT d.name,"
	                 " (SELECT COALESCE(SUM(m.size), 0) FROM log_message m WHERE m.domain = d.name)"
	                 " FROM domain d", NULL, NULL, NULL) != SQLITE_OK)
		return im_bill_fail(err, IM_ERR, "meter: storage: %s", sqlite3_errmsg(db));
	return IM_OK;
}

/* Runs one metering statement (nbind int64 parameters), adding its changed
 * rows to *count. */
static int step(sqlite3 *db, const char *sql, int nbind, int64_t a, int64_t b, int64_t *count, char **err)
{
	int rc = im_bill_exec(db, sql, nbind, a, b, 0, err);

	if (rc == IM_OK)
		*count += sqlite3_changes(db);
	return rc;
}

/* The watermark: the end of what has been metered.  IM_OK, or IM_ERR. */
static int watermark(sqlite3 *db, int64_t cutoff, int64_t *wm, char **err)
{
	int rc = im_bill_int(db, "SELECT ts FROM bill_usage_event WHERE event_id = '" WATERMARK_ID "'",
	                     0, 0, 0, wm);

	if (rc == IM_ENOTFOUND) {
		*wm = cutoff > FIRST_LOOKBACK ? cutoff - FIRST_LOOKBACK : 0;
		return IM_OK;
	}
	if (rc != IM_OK)
		return im_bill_fail(err, IM_ERR, "meter: watermark: %s", sqlite3_errmsg(db));
	return IM_OK;
}

int im_bill_meter(sqlite3 *db, int64_t until, im_bill_meter_stats *st, char **err)
{
	int64_t wm, cutoff;
	int rc;

	st->from = st->until = st->messages = st->active = st->seats = st->storage = 0;
	if (until < HOUR)
		return im_bill_fail(err, IM_EINVAL, "meter: until must be an instant after 1970-01-01T01:00Z");
	cutoff = until - until % HOUR;
	/* A cheap look first, so that a rerun (or a clock that stepped back)
	 * costs one query, not a storage scan. */
	if ((rc = watermark(db, cutoff, &wm, err)) != IM_OK)
		return rc;
	st->from = st->until = wm;
	if (cutoff <= wm)
		return IM_OK;
	if ((rc = storage_snapshot(db, err)) != IM_OK)
		return rc;
	if ((rc = im_bill_begin(db, err)) != IM_OK)
		goto out;
	/* Again inside the write lock: another process may have metered meanwhile. */
	if ((rc = watermark(db, cutoff, &wm, err)) != IM_OK)
		goto fail;
	st->from = st->until = wm;
	if (cutoff <= wm) {
		im_bill_rollback(db);
		goto out;
	}
	if ((rc = step(db, messages_sql, 2, wm, cutoff, &st->messages, err)) != IM_OK ||
	    (rc = step(db, active_sql, 2, wm, cutoff, &st->active, err)) != IM_OK ||
	    (rc = step(db, seats_sql, 1, cutoff - BUCKET, 0, &st->seats, err)) != IM_OK ||
	    (rc = step(db, storage_sql, 1, cutoff - BUCKET, 0, &st->storage, err)) != IM_OK ||
	    (rc = im_bill_exec(db, "INSERT INTO bill_usage_event(event_id, ts) VALUES('" WATERMARK_ID "', ?1)"
	                       " ON CONFLICT(event_id) DO UPDATE SET ts = excluded.ts", 1, cutoff, 0, 0, err)) != IM_OK ||
	    (rc = im_bill_commit(db, err)) != IM_OK)
		goto fail;
	st->until = cutoff;
	goto out;
fail:
	im_bill_rollback(db);
out:
	/* The snapshot is scratch: empty it so the connection keeps no stale copy. */
	if (sqlite3_exec(db, "DELETE FROM temp.imh_meter_storage", NULL, NULL, NULL) != SQLITE_OK && rc == IM_OK)
		rc = im_bill_fail(err, IM_ERR, "meter: %s", sqlite3_errmsg(db));
	return rc;
}
