/*
 * billing_plans.c — plans (versioned), subscriptions, billing information
 * (billing.h).
 */
#include <stdlib.h>
#include <string.h>

#include "billing.h"
#include "billing_calendar.h"
#include "billing_int.h"
#include "imhost_err.h"
#include "money.h"
#include "tz.h"


int im_bill_plan_create(sqlite3 *db, const im_bill_plan *p, int64_t now, int64_t *id,
                        int64_t *version, char **err)
{
	static const char sql[] =
		"INSERT INTO bill_plan(code, version, name, currency, cycle_months, price,"
		" seats_included, seat_price, msg_price_k, storage_price_gb, retention_days, max_seats,"
		" trial_days, created) VALUES(?1, (SELECT COALESCE(MAX(version), 0) + 1 FROM bill_plan"
		" WHERE code = ?1), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
	const int64_t nums[] = { p->cycle_months, p->price, p->seats_included, p->seat_price,
	                         p->msg_price_k, p->storage_price_gb, p->retention_days,
	                         p->max_seats, p->trial_days, now };
	sqlite3_stmt *st = NULL;
	size_t i;
	int rc;

	if (!p->code || !*p->code || !p->name || !*p->name || !im_currency_valid(p->currency) ||
	    (p->cycle_months != 1 && p->cycle_months != 12))
		return im_bill_fail(err, IM_EINVAL, "plan needs code, name, a known currency, cycle 1 or 12");
	for (i = 0; i + 1 < sizeof nums / sizeof nums[0]; i++)
		if (nums[i] < 0)
			return im_bill_fail(err, IM_EINVAL, "plan prices and limits must not be negative");
	if ((rc = im_bill_begin(db, err)) != IM_OK)
		return rc;
	if ((rc = im_bill_prep(db, sql, &st, err)) != IM_OK)
		goto fail;
	rc = IM_ERR;
	if (sqlite3_bind_text(st, 1, p->code, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, p->name, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 3, p->currency, -1, SQLITE_STATIC) != SQLITE_OK)
		goto fail;
	for (i = 0; i < sizeof nums / sizeof nums[0]; i++)
		if (sqlite3_bind_int64(st, (int)i + 4, nums[i]) != SQLITE_OK)
			goto fail;
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	*id = sqlite3_last_insert_rowid(db);
	if (im_bill_int(db, "SELECT version FROM bill_plan WHERE id = ?", 1, *id, 0, version) != IM_OK)
		goto fail;
	sqlite3_finalize(st);
	return im_bill_commit(db, err);
fail:
	im_bill_fail(err, rc, "plan: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	im_bill_rollback(db);
	return rc;
}

/* Reads the plan's currency, cycle and trial days. */
static int plan_basics(sqlite3 *db, int64_t plan, char cur[4], int64_t *cycle, int64_t *trial)
{
	sqlite3_stmt *st = NULL;
	int rc = IM_ENOTFOUND;

	if (sqlite3_prepare_v2(db, "SELECT currency, cycle_months, trial_days FROM bill_plan WHERE id = ?",
	                       -1, &st, NULL) != SQLITE_OK || sqlite3_bind_int64(st, 1, plan) != SQLITE_OK) {
		sqlite3_finalize(st);
		return IM_ERR;
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(cur, 4, "%s", (const char *)sqlite3_column_text(st, 0));
		*cycle = sqlite3_column_int64(st, 1);
		*trial = sqlite3_column_int64(st, 2);
		rc = IM_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

int im_bill_subscribe(sqlite3 *db, int64_t customer, int64_t plan_id, int64_t start,
                      const char *zone, int64_t now, int64_t *id, char **err)
{
	sqlite3_stmt *st = NULL;
	im_anchor a;
	int64_t cycle, trial, s0, e0;
	char cur[4];
	int rc;

	if (!im_tz_valid(zone))
		return im_bill_fail(err, IM_EINVAL, "unknown time zone");
	if ((rc = im_bill_begin(db, err)) != IM_OK)
		return rc;
	rc = plan_basics(db, plan_id, cur, &cycle, &trial);
	if (rc != IM_OK) {
		im_bill_rollback(db);
		return im_bill_fail(err, rc == IM_ENOTFOUND ? IM_ENOTFOUND : IM_ERR, "no such plan");
	}
	if (im_anchor_from_time(zone, start, (int)cycle, &a) != IM_OK ||
	    im_period_bounds(&a, 0, &s0, &e0) != IM_OK) {
		im_bill_rollback(db);
		return im_bill_fail(err, IM_EINVAL, "bad start");
	}
	rc = IM_ERR;
	if (im_bill_prep(db,
		"INSERT INTO bill_subscription(customer_id, zone, anchor_y, anchor_m, anchor_d,"
		" cycle_months, currency, start, trial_end, next_k, billed_until, next_end, created)"
		" VALUES(?,?,?,?,?,?,?,?,?,0,?,?,?)", &st, err) != IM_OK)
		goto fail;
	if (sqlite3_bind_int64(st, 1, customer) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, zone, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int(st, 3, a.year) != SQLITE_OK || sqlite3_bind_int(st, 4, a.month) != SQLITE_OK ||
	    sqlite3_bind_int(st, 5, a.day) != SQLITE_OK || sqlite3_bind_int64(st, 6, cycle) != SQLITE_OK ||
	    sqlite3_bind_text(st, 7, cur, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 8, s0) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 9, trial > 0 ? s0 + trial * 86400 : 0) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 10, s0) != SQLITE_OK || sqlite3_bind_int64(st, 11, e0) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 12, now) != SQLITE_OK)
		goto fail;
	if (sqlite3_step(st) != SQLITE_DONE) {
		if (sqlite3_errcode(db) == SQLITE_CONSTRAINT)
			rc = IM_ENOTFOUND;   /* the customer does not exist (foreign key) */
		goto fail;
	}
	*id = sqlite3_last_insert_rowid(db);
	sqlite3_finalize(st);
	st = NULL;
	if ((rc = im_bill_exec(db, "INSERT INTO bill_sub_plan(sub_id, from_ts, plan_id) VALUES(?,?,?)",
	                       3, *id, s0, plan_id, err)) != IM_OK)
		goto fail;
	return im_bill_commit(db, err);
fail:
	im_bill_fail(err, rc, "subscribe: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	im_bill_rollback(db);
	return rc;
}

int im_bill_change_plan(sqlite3 *db, int64_t sub, int64_t plan_id, int64_t at, char **err)
{
	int64_t billed_until, cycle, trial, dummy;
	sqlite3_stmt *st = NULL;
	char cur[4], subcur[4] = "";
	int rc;

	if ((rc = im_bill_begin(db, err)) != IM_OK)
		return rc;
	if (im_bill_prep(db, "SELECT currency, billed_until FROM bill_subscription WHERE id = ? "
	                 "AND (ends IS NULL OR ends > ?)", &st, err) != IM_OK)
		goto fail;
	if (sqlite3_bind_int64(st, 1, sub) != SQLITE_OK || sqlite3_bind_int64(st, 2, at) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		rc = im_bill_fail(err, IM_ENOTFOUND, "no such running subscription");
		goto fail;
	}
	snprintf(subcur, sizeof subcur, "%s", (const char *)sqlite3_column_text(st, 0));
	billed_until = sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	st = NULL;
	if ((rc = plan_basics(db, plan_id, cur, &cycle, &trial)) != IM_OK) {
		rc = im_bill_fail(err, rc, "no such plan");
		goto fail;
	}
	if (strcmp(cur, subcur) != 0) {   /* never add two currencies */
		rc = im_bill_fail(err, IM_EINVAL, "plan currency %s differs from the subscription's %s", cur, subcur);
		goto fail;
	}
	if (at < billed_until) {   /* an invoiced period is history */
		rc = im_bill_fail(err, IM_EINVAL, "change falls in an invoiced period");
		goto fail;
	}
	if (im_bill_int(db, "SELECT cycle_months FROM bill_subscription WHERE id = ? AND cycle_months = ?",
	                2, sub, cycle, &dummy) != IM_OK) {
		rc = im_bill_fail(err, IM_EINVAL, "plan cycle differs from the subscription's");
		goto fail;
	}
	if ((rc = im_bill_exec(db, "INSERT INTO bill_sub_plan(sub_id, from_ts, plan_id) VALUES(?,?,?) "
	                       "ON CONFLICT(sub_id, from_ts) DO UPDATE SET plan_id = excluded.plan_id",
	                       3, sub, at, plan_id, err)) != IM_OK)
		goto fail;
	return im_bill_commit(db, err);
fail:
	sqlite3_finalize(st);
	im_bill_rollback(db);
	return rc == IM_OK ? IM_ERR : rc;
}

int im_bill_cancel(sqlite3 *db, int64_t sub, int at_period_end, int64_t now, int64_t *ends,
                   char **err)
{
	sqlite3_stmt *st = NULL;
	im_anchor a;
	int64_t k, s, e, billed_until;
	char zone[64];
	int rc;

	if ((rc = im_bill_begin(db, err)) != IM_OK)
		return rc;
	if (im_bill_prep(db, "SELECT zone, anchor_y, anchor_m, anchor_d, cycle_months, billed_until "
	                 "FROM bill_subscription WHERE id = ? AND ends IS NULL", &st, err) != IM_OK)
		goto fail;
	if (sqlite3_bind_int64(st, 1, sub) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		rc = im_bill_fail(err, IM_ENOTFOUND, "no such running subscription");
		goto fail;
	}
	snprintf(zone, sizeof zone, "%s", (const char *)sqlite3_column_text(st, 0));
	a.zone = zone;
	a.year = sqlite3_column_int(st, 1);
	a.month = sqlite3_column_int(st, 2);
	a.day = sqlite3_column_int(st, 3);
	a.cycle_months = sqlite3_column_int(st, 4);
	billed_until = sqlite3_column_int64(st, 5);
	sqlite3_finalize(st);
	st = NULL;
	if (im_period_index(&a, now, &k) != IM_OK || im_period_bounds(&a, k < 0 ? 0 : k, &s, &e) != IM_OK) {
		rc = im_bill_fail(err, IM_ERR, "calendar");
		goto fail;
	}
	*ends = at_period_end ? e : now;
	if (*ends < billed_until)   /* the clock stepped back behind what is invoiced */
		*ends = billed_until;
	/* The period now due ends at the service end, if that comes first. */
	if ((rc = im_bill_exec(db, "UPDATE bill_subscription SET ends = ?2, "
	                       "next_end = MIN(next_end, MAX(?2, billed_until)) WHERE id = ?1",
	                       2, sub, *ends, 0, err)) != IM_OK)
		goto fail;
	return im_bill_commit(db, err);
fail:
	sqlite3_finalize(st);
	im_bill_rollback(db);
	return rc == IM_OK ? IM_ERR : rc;
}

/* Billing info fields customers and staff may set, and how to check them. */
static const struct { const char *name; int is_int; int64_t max; } info_fields[] = {
	{ "name", 0, 200 }, { "address", 0, 1000 }, { "email", 0, 254 }, { "tax_id", 0, 64 },
	{ "tax_rate_bp", 1, 10000 }, { "reverse_charge", 1, 1 }, { "terms_days", 1, 365 },
	{ "zone", 0, 64 },
};

/* The account row as a JSON object ({} when none). */
static json_t *info_row(sqlite3 *db, int64_t customer)
{
	sqlite3_stmt *st = NULL;
	json_t *o = json_object();
	size_t i;

	if (o && sqlite3_prepare_v2(db, "SELECT name, address, email, tax_id, tax_rate_bp, reverse_charge,"
	                            " terms_days, zone FROM bill_account WHERE customer_id = ?",
	                            -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 1, customer) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		for (i = 0; i < sizeof info_fields / sizeof info_fields[0]; i++)
			json_object_set_new(o, info_fields[i].name, info_fields[i].is_int
				? json_integer(sqlite3_column_int64(st, (int)i))
				: json_string((const char *)sqlite3_column_text(st, (int)i)));
	}
	sqlite3_finalize(st);
	return o;
}

int im_bill_info_update(sqlite3 *db, int64_t customer, json_t *info, const char *actor,
                        int64_t now, char **err)
{
	json_t *before = NULL, *after = NULL, *v;
	char *btext = NULL, *atext = NULL;
	sqlite3_stmt *st = NULL;
	size_t i;
	int rc;

	/* Validate everything before touching anything. */
	for (i = 0; i < sizeof info_fields / sizeof info_fields[0]; i++) {
		if ((v = json_object_get(info, info_fields[i].name)) == NULL)
			continue;
		if (info_fields[i].is_int ? (!json_is_integer(v) || json_integer_value(v) < 0 ||
		                             json_integer_value(v) > info_fields[i].max)
		                          : (!json_is_string(v) || json_string_length(v) > (size_t)info_fields[i].max))
			return im_bill_fail(err, IM_EINVAL, "%s out of range", info_fields[i].name);
	}
	if ((v = json_object_get(info, "zone")) && !im_tz_valid(json_string_value(v)))
		return im_bill_fail(err, IM_EINVAL, "unknown time zone");
	if ((rc = im_bill_begin(db, err)) != IM_OK)
		return rc;
	rc = IM_ERR;
	before = info_row(db, customer);
	if ((rc = im_bill_exec(db, "INSERT INTO bill_account(customer_id, updated) VALUES(?, ?) "
	                       "ON CONFLICT(customer_id) DO NOTHING", 2, customer, now, 0, err)) != IM_OK)
		goto fail;
	rc = IM_ERR;
	for (i = 0; i < sizeof info_fields / sizeof info_fields[0]; i++) {
		char sql[128];
		if ((v = json_object_get(info, info_fields[i].name)) == NULL)
			continue;
		/* Column names come from the table above, never from input. */
		snprintf(sql, sizeof sql, "UPDATE bill_account SET %s = ?, updated = ? WHERE customer_id = ?",
		         info_fields[i].name);
		if (im_bill_prep(db, sql, &st, err) != IM_OK ||
		    (info_fields[i].is_int ? sqlite3_bind_int64(st, 1, json_integer_value(v))
		                           : sqlite3_bind_text(st, 1, json_string_value(v), -1, SQLITE_STATIC)) != SQLITE_OK ||
		    sqlite3_bind_int64(st, 2, now) != SQLITE_OK || sqlite3_bind_int64(st, 3, customer) != SQLITE_OK ||
		    sqlite3_step(st) != SQLITE_DONE)
			goto fail;
		sqlite3_finalize(st);
		st = NULL;
	}
	after = info_row(db, customer);
	btext = json_dumps(before, JSON_COMPACT | JSON_SORT_KEYS);
	atext = json_dumps(after, JSON_COMPACT | JSON_SORT_KEYS);
	if (!btext || !atext ||
	    im_bill_prep(db, "INSERT INTO bill_info_log(customer_id, ts, actor, before, after) VALUES(?,?,?,?,?)",
	                 &st, err) != IM_OK ||
	    sqlite3_bind_int64(st, 1, customer) != SQLITE_OK || sqlite3_bind_int64(st, 2, now) != SQLITE_OK ||
	    sqlite3_bind_text(st, 3, actor ? actor : "", -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 4, btext, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 5, atext, -1, SQLITE_STATIC) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	json_decref(before);
	json_decref(after);
	free(btext);
	free(atext);
	return im_bill_commit(db, err);
fail:
	im_bill_fail(err, rc, "billing info: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	im_bill_rollback(db);
	json_decref(before);
	json_decref(after);
	free(btext);
	free(atext);
	return rc;
}
