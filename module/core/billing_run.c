/*
 * billing_run.c — the invoice run: drafts for every ended, uninvoiced period,
 * then finalization with gapless numbers (billing.h).
 *
 * Why it is safe to run twice at once, or again after a crash:
 *  - every batch is one BEGIN IMMEDIATE transaction that re-reads which
 *    subscriptions are due (next_end <= now) after taking the write lock, and
 *    moves next_end forward in the same transaction as the invoices it adds;
 *  - the period is the invoice's natural key, UNIQUE(sub_id, kind,
 *    period_start, period_end): an insert that meets an existing invoice adds
 *    nothing (counted as skipped);
 *  - a number is taken from bill_series in the same transaction that marks the
 *    invoice open, so a crash loses both or neither: no gap, no duplicate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "billing.h"
#include "billing_calendar.h"
#include "billing_int.h"
#include "imhost_err.h"
#include "money.h"
#include "tz.h"

#define NEVER (1LL << 62)
#define BATCH 256
#define MAX_LINES 16

typedef struct {
	char desc[160];
	int64_t quantity, unit_price, amount, tax;
} line;

typedef struct {
	int64_t id, customer, trial_end, ends, next_k;
	char zone[64], currency[4];
	im_anchor a;
} sub_row;

/* Statements reused for a whole run (prepared once: the run is hot). */
typedef struct {
	sqlite3 *db;
	sqlite3_stmt *segs, *acct, *ins_inv, *ins_line, *advance, *usage;
} runner;

static void runner_close(runner *r)
{
	sqlite3_finalize(r->segs);
	sqlite3_finalize(r->acct);
	sqlite3_finalize(r->ins_inv);
	sqlite3_finalize(r->ins_line);
	sqlite3_finalize(r->advance);
	sqlite3_finalize(r->usage);
	memset(r, 0, sizeof *r);
}

static int runner_open(runner *r, sqlite3 *db, char **err)
{
	memset(r, 0, sizeof *r);
	r->db = db;
	if (im_bill_prep(db, "SELECT p.from_ts, pl.name, pl.version, pl.price, pl.seats_included,"
	                 " pl.seat_price, pl.msg_price_k, pl.storage_price_gb FROM bill_sub_plan p"
	                 " JOIN bill_plan pl ON pl.id = p.plan_id WHERE p.sub_id = ? ORDER BY p.from_ts",
	                 &r->segs, err) != IM_OK ||
	    im_bill_prep(db, "SELECT tax_rate_bp, reverse_charge FROM bill_account WHERE customer_id = ?",
	                 &r->acct, err) != IM_OK ||
	    im_bill_prep(db, "INSERT INTO bill_invoice(customer_id, sub_id, kind, period_start, period_end,"
	                 " currency, status, tax_rate_bp, reverse_charge, active_users, created, subtotal, tax, total)"
	                 " VALUES(?,?,'period',?,?,?,'draft',?,?,?,?,?,?,?)"
	                 " ON CONFLICT(sub_id, kind, period_start, period_end) DO NOTHING",
	                 &r->ins_inv, err) != IM_OK ||
	    im_bill_prep(db, "INSERT INTO bill_line(invoice_id, pos, description, quantity, unit_price,"
	                 " amount, tax) VALUES(?,?,?,?,?,?,?)", &r->ins_line, err) != IM_OK ||
	    im_bill_prep(db, "UPDATE bill_subscription SET next_k = ?, billed_until = ?, next_end = ?"
	                 " WHERE id = ?", &r->advance, err) != IM_OK ||
	    im_bill_prep(db, im_bill_usage_sql, &r->usage, err) != IM_OK) {
		runner_close(r);
		return IM_ERR;
	}
	return IM_OK;
}

/* Appends a line; the tax rule lives here and nowhere else. */
static int add_line(line *lines, int *n, int64_t rate_bp, int reverse, const char *desc,
                    int64_t qty, int64_t unit, int64_t amount)
{
	line *l;

	if (*n >= MAX_LINES)
		return IM_ERR;
	l = &lines[(*n)++];
	snprintf(l->desc, sizeof l->desc, "%.159s", desc);
	l->quantity = qty;
	l->unit_price = unit;
	l->amount = amount;
	l->tax = 0;
	if (!reverse && rate_bp > 0 && im_money_muldiv(amount, rate_bp, 10000, &l->tax) != IM_OK)
		return IM_EINVAL;
	return IM_OK;
}

/* The lines of period [ps, pe) (pe_nat: the period's natural end, for
 * proration) into lines[]. */
static int build_lines(runner *r, const sub_row *s, int64_t ps, int64_t pe_nat, int64_t pe,
                       int64_t rate, int reverse, const im_bill_usage *u, line *lines, int *n,
                       char **err)
{
	int64_t from[MAX_LINES], price[MAX_LINES], incl = 0, seat_price = 0, msg_k = 0, gb = 0;
	char name[MAX_LINES][120];
	int nseg = 0, i, rc, have_end_plan = 0;

	sqlite3_reset(r->segs);
	if (sqlite3_bind_int64(r->segs, 1, s->id) != SQLITE_OK)
		return IM_ERR;
	while ((rc = sqlite3_step(r->segs)) == SQLITE_ROW && nseg < MAX_LINES) {
		from[nseg] = sqlite3_column_int64(r->segs, 0);
		snprintf(name[nseg], sizeof name[nseg], "%.90s (v%lld)", (const char *)sqlite3_column_text(r->segs, 1),
		         (long long)sqlite3_column_int64(r->segs, 2));
		price[nseg] = sqlite3_column_int64(r->segs, 3);
		if (from[nseg] < pe) {   /* the plan in effect at the period's end prices usage */
			have_end_plan = 1;
			incl = sqlite3_column_int64(r->segs, 4);
			seat_price = sqlite3_column_int64(r->segs, 5);
			msg_k = sqlite3_column_int64(r->segs, 6);
			gb = sqlite3_column_int64(r->segs, 7);
		}
		nseg++;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return im_bill_fail(err, IM_ERR, "plans: %s", sqlite3_errmsg(r->db));
	sqlite3_reset(r->segs);
	for (i = 0; i < nseg; i++) {
		int64_t a = from[i] > ps ? from[i] : ps;
		int64_t b = i + 1 < nseg && from[i + 1] < pe ? from[i + 1] : pe;
		int64_t amount;
		char desc[160];

		if (a < s->trial_end)   /* the trial is free */
			a = s->trial_end < b ? s->trial_end : b;
		if (b <= a)
			continue;
		if (im_prorate(price[i], b - a, pe_nat - ps, &amount) != IM_OK)
			return im_bill_fail(err, IM_EINVAL, "proration out of range");
		snprintf(desc, sizeof desc, "Plan %.119s%s", name[i], b - a < pe_nat - ps ? ", prorated" : "");
		if (add_line(lines, n, rate, reverse, desc, 1, price[i], amount) != IM_OK)
			return im_bill_fail(err, IM_EINVAL, "too many lines or amount out of range");
	}
	if (!have_end_plan || pe <= s->trial_end)
		return IM_OK;
	if (seat_price > 0 && u->seats > incl) {
		int64_t extra = u->seats - incl, amount;
		if (__builtin_mul_overflow(extra, seat_price, &amount) ||
		    add_line(lines, n, rate, reverse, "Extra seats", extra, seat_price, amount) != IM_OK)
			return im_bill_fail(err, IM_EINVAL, "seat amount out of range");
	}
	if (msg_k > 0 && u->messages > 0) {
		int64_t amount;
		if (im_money_muldiv(u->messages, msg_k, 1000, &amount) != IM_OK ||
		    add_line(lines, n, rate, reverse, "Messages (price per 1000)", u->messages, msg_k, amount) != IM_OK)
			return im_bill_fail(err, IM_EINVAL, "message amount out of range");
	}
	if (gb > 0 && u->storage > 0) {
		int64_t amount;
		if (im_money_muldiv(u->storage, gb, 1000000000, &amount) != IM_OK ||
		    add_line(lines, n, rate, reverse, "Storage, peak bytes (price per GB)", u->storage, gb, amount) != IM_OK)
			return im_bill_fail(err, IM_EINVAL, "storage amount out of range");
	}
	return IM_OK;
}

/* Creates the draft of period [ps, pe) unless it exists.  *created 0/1. */
static int draft_period(runner *r, const sub_row *s, int64_t ps, int64_t pe_nat, int64_t pe,
                        int64_t now, int *created, char **err)
{
	line lines[MAX_LINES];
	im_bill_usage u;
	int64_t rate = 0, reverse = 0, inv, sub = 0, tax = 0, total;
	int n = 0, i, rc;

	*created = 0;
	sqlite3_reset(r->acct);
	if (sqlite3_bind_int64(r->acct, 1, s->customer) != SQLITE_OK)
		return IM_ERR;
	if (sqlite3_step(r->acct) == SQLITE_ROW) {
		rate = sqlite3_column_int64(r->acct, 0);
		reverse = sqlite3_column_int64(r->acct, 1);
	}
	sqlite3_reset(r->acct);
	if ((rc = im_bill_usage_step(r->db, r->usage, s->customer, ps, pe, &u, err)) != IM_OK)
		return rc;
	if ((rc = build_lines(r, s, ps, pe_nat, pe, rate, (int)reverse, &u, lines, &n, err)) != IM_OK)
		return rc;
	/* Totals are sums of rounded lines: never re-rounded. */
	for (i = 0; i < n; i++)
		if (im_money_add(sub, lines[i].amount, &sub) != IM_OK ||
		    im_money_add(tax, lines[i].tax, &tax) != IM_OK)
			return im_bill_fail(err, IM_EINVAL, "invoice total out of range");
	if (im_money_add(sub, tax, &total) != IM_OK)
		return im_bill_fail(err, IM_EINVAL, "invoice total out of range");
	sqlite3_reset(r->ins_inv);
	if (sqlite3_bind_int64(r->ins_inv, 1, s->customer) != SQLITE_OK ||
	    sqlite3_bind_int64(r->ins_inv, 2, s->id) != SQLITE_OK ||
	    sqlite3_bind_int64(r->ins_inv, 3, ps) != SQLITE_OK ||
	    sqlite3_bind_int64(r->ins_inv, 4, pe) != SQLITE_OK ||
	    sqlite3_bind_text(r->ins_inv, 5, s->currency, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(r->ins_inv, 6, reverse ? 0 : rate) != SQLITE_OK ||
	    sqlite3_bind_int64(r->ins_inv, 7, reverse) != SQLITE_OK ||
	    sqlite3_bind_int64(r->ins_inv, 8, u.active_users) != SQLITE_OK ||
	    sqlite3_bind_int64(r->ins_inv, 9, now) != SQLITE_OK ||
	    sqlite3_bind_int64(r->ins_inv, 10, sub) != SQLITE_OK ||
	    sqlite3_bind_int64(r->ins_inv, 11, tax) != SQLITE_OK ||
	    sqlite3_bind_int64(r->ins_inv, 12, total) != SQLITE_OK ||
	    sqlite3_step(r->ins_inv) != SQLITE_DONE)
		return im_bill_fail(err, IM_ERR, "invoice: %s", sqlite3_errmsg(r->db));
	sqlite3_reset(r->ins_inv);
	if (sqlite3_changes(r->db) == 0)   /* the natural key exists: invoiced before */
		return IM_OK;
	inv = sqlite3_last_insert_rowid(r->db);
	for (i = 0; i < n; i++) {
		sqlite3_reset(r->ins_line);
		if (sqlite3_bind_int64(r->ins_line, 1, inv) != SQLITE_OK ||
		    sqlite3_bind_int(r->ins_line, 2, i + 1) != SQLITE_OK ||
		    sqlite3_bind_text(r->ins_line, 3, lines[i].desc, -1, SQLITE_STATIC) != SQLITE_OK ||
		    sqlite3_bind_int64(r->ins_line, 4, lines[i].quantity) != SQLITE_OK ||
		    sqlite3_bind_int64(r->ins_line, 5, lines[i].unit_price) != SQLITE_OK ||
		    sqlite3_bind_int64(r->ins_line, 6, lines[i].amount) != SQLITE_OK ||
		    sqlite3_bind_int64(r->ins_line, 7, lines[i].tax) != SQLITE_OK ||
		    sqlite3_step(r->ins_line) != SQLITE_DONE)
			return im_bill_fail(err, IM_ERR, "line: %s", sqlite3_errmsg(r->db));
	}
	sqlite3_reset(r->ins_line);
	*created = 1;
	return IM_OK;
}

/* Invoices every ended period of one subscription and moves it forward. */
static int bill_sub(runner *r, sub_row *s, int64_t now, im_bill_run_stats *st, char **err)
{
	int64_t k = s->next_k, ps, pe_nat, pe, next_end;
	int created, rc;

	for (;;) {
		if (im_period_bounds(&s->a, k, &ps, &pe_nat) != IM_OK)
			return im_bill_fail(err, IM_ERR, "calendar of subscription %lld", (long long)s->id);
		if (s->ends >= 0 && ps >= s->ends) {   /* cancelled: nothing left */
			next_end = NEVER;
			break;
		}
		pe = s->ends >= 0 && s->ends < pe_nat ? s->ends : pe_nat;
		if (pe > now) {
			next_end = pe;
			break;
		}
		if ((rc = draft_period(r, s, ps, pe_nat, pe, now, &created, err)) != IM_OK)
			return rc;
		if (created)
			st->drafted++;
		else
			st->skipped++;
		k++;
	}
	sqlite3_reset(r->advance);
	if (sqlite3_bind_int64(r->advance, 1, k) != SQLITE_OK || sqlite3_bind_int64(r->advance, 2, ps) != SQLITE_OK ||
	    sqlite3_bind_int64(r->advance, 3, next_end) != SQLITE_OK ||
	    sqlite3_bind_int64(r->advance, 4, s->id) != SQLITE_OK || sqlite3_step(r->advance) != SQLITE_DONE)
		return im_bill_fail(err, IM_ERR, "advance: %s", sqlite3_errmsg(r->db));
	sqlite3_reset(r->advance);
	return IM_OK;
}

/* One batch of due subscriptions in one transaction; *more 1 when full. */
static int draft_batch(runner *r, int64_t now, im_bill_run_stats *st, int *more, char **err)
{
	sqlite3_stmt *q = NULL;
	sub_row rows[BATCH];
	int n = 0, i, rc;

	*more = 0;
	if ((rc = im_bill_begin(r->db, err)) != IM_OK)
		return rc;
	if ((rc = im_bill_prep(r->db, "SELECT id, customer_id, zone, anchor_y, anchor_m, anchor_d,"
	                       " cycle_months, currency, trial_end, COALESCE(ends, -1), next_k"
	                       " FROM bill_subscription WHERE next_end <= ? ORDER BY next_end, id LIMIT ?",
	                       &q, err)) != IM_OK)
		goto fail;
	rc = IM_ERR;
	if (sqlite3_bind_int64(q, 1, now) != SQLITE_OK || sqlite3_bind_int(q, 2, BATCH) != SQLITE_OK)
		goto fail;
	while (n < BATCH && sqlite3_step(q) == SQLITE_ROW) {
		sub_row *s = &rows[n++];
		s->id = sqlite3_column_int64(q, 0);
		s->customer = sqlite3_column_int64(q, 1);
		snprintf(s->zone, sizeof s->zone, "%s", (const char *)sqlite3_column_text(q, 2));
		s->a.zone = s->zone;
		s->a.year = sqlite3_column_int(q, 3);
		s->a.month = sqlite3_column_int(q, 4);
		s->a.day = sqlite3_column_int(q, 5);
		s->a.cycle_months = sqlite3_column_int(q, 6);
		snprintf(s->currency, sizeof s->currency, "%s", (const char *)sqlite3_column_text(q, 7));
		s->trial_end = sqlite3_column_int64(q, 8);
		s->ends = sqlite3_column_int64(q, 9);
		s->next_k = sqlite3_column_int64(q, 10);
	}
	sqlite3_finalize(q);
	q = NULL;
	for (i = 0; i < n; i++)
		if ((rc = bill_sub(r, &rows[i], now, st, err)) != IM_OK)
			goto fail;
	if ((rc = im_bill_commit(r->db, err)) != IM_OK)
		goto fail;
	*more = n == BATCH;
	return IM_OK;
fail:
	sqlite3_finalize(q);
	im_bill_rollback(r->db);
	return rc == IM_OK ? IM_ERR : rc;
}

/* Statements of finalization, prepared once per batch. */
typedef struct {
	sqlite3_stmt *info, *series, *upd;
} finalizer;

static void fin_close(finalizer *f)
{
	sqlite3_finalize(f->info);
	sqlite3_finalize(f->series);
	sqlite3_finalize(f->upd);
	memset(f, 0, sizeof *f);
}

static int fin_open(finalizer *f, sqlite3 *db, char **err)
{
	memset(f, 0, sizeof *f);
	if (im_bill_prep(db, "SELECT i.customer_id, COALESCE(a.terms_days, 14), c.name, a.name, a.address, a.email,"
	                 " a.tax_id, COALESCE(a.reverse_charge, 0), COALESCE(cr.balance, 0)"
	                 " FROM bill_invoice i JOIN customer c ON c.id = i.customer_id"
	                 " LEFT JOIN bill_account a ON a.customer_id = i.customer_id"
	                 " LEFT JOIN bill_credit cr ON cr.customer_id = i.customer_id AND cr.currency = i.currency"
	                 " WHERE i.id = ? AND i.status = 'draft'", &f->info, err) != IM_OK ||
	    im_bill_prep(db, "INSERT INTO bill_series(name, last) VALUES(?, 1) ON CONFLICT(name)"
	                 " DO UPDATE SET last = last + 1 RETURNING last", &f->series, err) != IM_OK ||
	    /* A zero total is paid at once. */
	    im_bill_prep(db, "UPDATE bill_invoice SET status = CASE WHEN total <= 0 THEN 'paid' ELSE 'open' END,"
	                 " paid_at = CASE WHEN total <= 0 THEN ?5 END, series = ?1, number = ?2, number_text = ?3,"
	                 " bill_to = ?4, finalized = ?5, due = ?6 WHERE id = ?7 AND status = 'draft'",
	                 &f->upd, err) != IM_OK) {
		fin_close(f);
		return IM_ERR;
	}
	return IM_OK;
}

static const char *coltext(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);

	return s ? s : "";
}

/* Finalizes a draft inside the caller's transaction: the next number of the
 * series, the bill-to snapshot, the due date, account credit applied. */
static int finalize_in_tx(sqlite3 *db, finalizer *f, int64_t invoice, int64_t now, char **err)
{
	int64_t number, terms, credit;
	char series[32], text[48], *snapshot = NULL;
	json_t *bt;
	struct tm tm;
	int rc = IM_ERR;

	sqlite3_reset(f->info);
	if (sqlite3_bind_int64(f->info, 1, invoice) != SQLITE_OK || sqlite3_step(f->info) != SQLITE_ROW) {
		sqlite3_reset(f->info);
		return im_bill_fail(err, IM_EINVAL, "invoice %lld is not a draft", (long long)invoice);
	}
	terms = sqlite3_column_int64(f->info, 1);
	credit = sqlite3_column_int64(f->info, 8);
	bt = json_pack("{s:s,s:s,s:s,s:s,s:b}",
		"name", *coltext(f->info, 3) ? coltext(f->info, 3) : coltext(f->info, 2),
		"address", coltext(f->info, 4), "email", coltext(f->info, 5), "tax_id", coltext(f->info, 6),
		"reverse_charge", sqlite3_column_int(f->info, 7));
	sqlite3_reset(f->info);
	snapshot = bt ? json_dumps(bt, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(bt);
	if (snapshot == NULL || im_tz_from_utc("UTC", now, &tm) != IM_OK)
		goto out;
	snprintf(series, sizeof series, "INV-%04d", (tm.tm_year + 1900) % 10000);
	/* The next number, inside this transaction: gapless. */
	sqlite3_reset(f->series);
	if (sqlite3_bind_text(f->series, 1, series, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(f->series) != SQLITE_ROW)
		goto out;
	number = sqlite3_column_int64(f->series, 0);
	sqlite3_reset(f->series);
	snprintf(text, sizeof text, "%s-%06lld", series, (long long)number);
	sqlite3_reset(f->upd);
	if (sqlite3_bind_text(f->upd, 1, series, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(f->upd, 2, number) != SQLITE_OK ||
	    sqlite3_bind_text(f->upd, 3, text, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(f->upd, 4, snapshot, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(f->upd, 5, now) != SQLITE_OK ||
	    sqlite3_bind_int64(f->upd, 6, now + terms * 86400) != SQLITE_OK ||
	    sqlite3_bind_int64(f->upd, 7, invoice) != SQLITE_OK || sqlite3_step(f->upd) != SQLITE_DONE)
		goto out;
	sqlite3_reset(f->upd);
	/* Account credit is applied at once. */
	rc = credit > 0 ? im_bill_apply_credit(db, invoice, now, err) : IM_OK;
out:
	if (rc == IM_ERR)
		im_bill_fail(err, IM_ERR, "finalize: %s", sqlite3_errmsg(db));
	sqlite3_reset(f->series);
	sqlite3_reset(f->upd);
	free(snapshot);
	return rc;
}

int im_bill_finalize(sqlite3 *db, int64_t invoice, int64_t now, char **err)
{
	finalizer f;
	int rc;

	if ((rc = im_bill_begin(db, err)) != IM_OK)
		return rc;
	if ((rc = fin_open(&f, db, err)) == IM_OK) {
		rc = finalize_in_tx(db, &f, invoice, now, err);
		fin_close(&f);
	}
	if (rc != IM_OK) {
		im_bill_rollback(db);
		return rc;
	}
	return im_bill_commit(db, err);
}

/* Finalizes up to BATCH drafts of the run in one transaction. */
static int finalize_batch(sqlite3 *db, finalizer *f, int64_t now, im_bill_run_stats *st, int *more,
                          char **err)
{
	sqlite3_stmt *q = NULL;
	int64_t ids[BATCH];
	int n = 0, i, rc;

	*more = 0;
	if ((rc = im_bill_begin(db, err)) != IM_OK)
		return rc;
	rc = im_bill_prep(db, "SELECT id FROM bill_invoice WHERE status = 'draft' AND kind = 'period'"
	                  " ORDER BY id LIMIT ?", &q, err);
	if (rc == IM_OK && sqlite3_bind_int(q, 1, BATCH) == SQLITE_OK)
		while (n < BATCH && sqlite3_step(q) == SQLITE_ROW)
			ids[n++] = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	for (i = 0; rc == IM_OK && i < n; i++)
		rc = finalize_in_tx(db, f, ids[i], now, err);
	if (rc != IM_OK || (rc = im_bill_commit(db, err)) != IM_OK) {
		im_bill_rollback(db);
		return rc;
	}
	st->finalized += n;
	*more = n == BATCH;
	return IM_OK;
}

int im_bill_run(sqlite3 *db, int64_t now, im_bill_run_stats *st, char **err)
{
	runner r;
	finalizer f;
	int more = 1, rc = IM_OK;

	memset(st, 0, sizeof *st);
	if (runner_open(&r, db, err) != IM_OK)
		return IM_ERR;
	while (rc == IM_OK && more)
		rc = draft_batch(&r, now, st, &more, err);
	runner_close(&r);
	if (rc != IM_OK || fin_open(&f, db, err) != IM_OK)
		return rc != IM_OK ? rc : IM_ERR;
	more = 1;
	while (rc == IM_OK && more)
		rc = finalize_batch(db, &f, now, st, &more, err);
	fin_close(&f);
	return rc;
}

int im_bill_manual_draft(sqlite3 *db, int64_t customer, const char *currency,
                         const char *description, int64_t amount, int64_t now, int64_t *id,
                         char **err)
{
	sqlite3_stmt *st = NULL;
	int64_t rate = 0, reverse = 0, tax = 0;
	int rc = IM_ERR;

	if (!im_currency_valid(currency) || !description || !*description || strlen(description) > 200 ||
	    amount <= 0)
		return im_bill_fail(err, IM_EINVAL, "manual invoice needs a currency, a description and amount > 0");
	if ((rc = im_bill_begin(db, err)) != IM_OK)
		return rc;
	(void)im_bill_int(db, "SELECT tax_rate_bp FROM bill_account WHERE customer_id = ?", 1, customer, 0, &rate);
	(void)im_bill_int(db, "SELECT reverse_charge FROM bill_account WHERE customer_id = ?", 1, customer, 0, &reverse);
	if (!reverse && im_money_muldiv(amount, rate, 10000, &tax) != IM_OK)
		goto fail;
	rc = IM_ERR;
	/* Manual invoices have no period: their natural key is their own id, so
	 * period_start/end carry the creation time and the row id keeps them apart. */
	if (im_bill_prep(db, "INSERT INTO bill_invoice(customer_id, kind, period_start, period_end, currency,"
	                 " status, subtotal, tax, total, tax_rate_bp, reverse_charge, created)"
	                 " VALUES(?1,'manual',?2,?2,?3,'draft',?4,?5,?4+?5,?6,?7,?2)", &st, err) != IM_OK ||
	    sqlite3_bind_int64(st, 1, customer) != SQLITE_OK || sqlite3_bind_int64(st, 2, now) != SQLITE_OK ||
	    sqlite3_bind_text(st, 3, currency, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 4, amount) != SQLITE_OK || sqlite3_bind_int64(st, 5, tax) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 6, reverse ? 0 : rate) != SQLITE_OK || sqlite3_bind_int64(st, 7, reverse) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	*id = sqlite3_last_insert_rowid(db);
	sqlite3_finalize(st);
	st = NULL;
	if (im_bill_prep(db, "INSERT INTO bill_line(invoice_id, pos, description, quantity, unit_price, amount, tax)"
	                 " VALUES(?, 1, ?, 1, ?, ?, ?)", &st, err) != IM_OK ||
	    sqlite3_bind_int64(st, 1, *id) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, description, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 3, amount) != SQLITE_OK || sqlite3_bind_int64(st, 4, amount) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 5, tax) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	return im_bill_commit(db, err);
fail:
	im_bill_fail(err, rc, "manual invoice: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	im_bill_rollback(db);
	return rc;
}

int im_bill_invoice_mark(sqlite3 *db, int64_t invoice, const char *status, char **err)
{
	int64_t id;
	int rc;

	if (!status || (strcmp(status, "void") != 0 && strcmp(status, "uncollectible") != 0))
		return im_bill_fail(err, IM_EINVAL, "status must be void or uncollectible");
	if ((rc = im_bill_begin(db, err)) != IM_OK)
		return rc;
	if (im_bill_int(db, "SELECT id FROM bill_invoice WHERE id = ? AND status = 'open'", 1, invoice, 0, &id) != IM_OK) {
		im_bill_rollback(db);
		return im_bill_fail(err, IM_EINVAL, "only an open invoice can be marked %s", status);
	}
	if ((rc = im_bill_exec(db, strcmp(status, "void") == 0
	                       ? "UPDATE bill_invoice SET status = 'void' WHERE id = ?"
	                       : "UPDATE bill_invoice SET status = 'uncollectible' WHERE id = ?",
	                       1, invoice, 0, 0, err)) != IM_OK) {
		im_bill_rollback(db);
		return rc;
	}
	return im_bill_commit(db, err);
}
