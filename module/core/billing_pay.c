/*
 * billing_pay.c — payments, refunds, credit notes, credit, processor webhooks
 * (billing.h).  Each function is one BEGIN IMMEDIATE transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "billing.h"
#include "billing_int.h"
#include "imhost_err.h"
#include "money.h"
#include "tz.h"

static const char *const methods[] = { "bank", "card", "processor", "manual", NULL };

/* Allocates up to *left of payment pay to invoice inv (an open one). */
static int allocate(sqlite3 *db, int64_t pay, int64_t inv, int64_t *left, int64_t now, char **err)
{
	int64_t due, use;
	int rc;

	if (im_bill_int(db, "SELECT total - paid - credited FROM bill_invoice WHERE id = ? AND status = 'open'",
	                1, inv, 0, &due) != IM_OK || due <= 0)
		return IM_OK;
	use = due < *left ? due : *left;
	if ((rc = im_bill_exec(db, "UPDATE bill_invoice SET paid = paid + ? WHERE id = ?", 2, use, inv, 0, err)) != IM_OK ||
	    (rc = im_bill_exec(db, "INSERT INTO bill_alloc(payment_id, invoice_id, amount) VALUES(?,?,?) "
	                       "ON CONFLICT DO UPDATE SET amount = amount + excluded.amount", 3, pay, inv, use, err)) != IM_OK ||
	    (rc = im_bill_settle(db, inv, now, err)) != IM_OK)
		return rc;
	*left -= use;
	return IM_OK;
}

/* Existing payment with ext_ref: IM_OK *id,*amount; IM_ENOTFOUND. */
static int find_ref(sqlite3 *db, const char *ext_ref, int64_t *id, int64_t *amount)
{
	sqlite3_stmt *st = NULL;
	int rc = IM_ENOTFOUND;

	if (sqlite3_prepare_v2(db, "SELECT id, amount FROM bill_payment WHERE ext_ref = ?", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, ext_ref, -1, SQLITE_STATIC) != SQLITE_OK)
		rc = IM_ERR;
	else if (sqlite3_step(st) == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		*amount = sqlite3_column_int64(st, 1);
		rc = IM_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/* The payment itself, inside the caller's transaction. */
static int pay_in_tx(sqlite3 *db, int64_t customer, int64_t invoice, const char *method,
                     const char *ext_ref, int64_t amount, const char *currency, int64_t now,
                     int64_t *payment, int *dup, char **err)
{
	sqlite3_stmt *st = NULL;
	int64_t prev_amount, left = amount, inv, icust;
	int rc, i, okm = 0;

	*dup = 0;
	for (i = 0; methods[i]; i++)
		okm |= method && strcmp(method, methods[i]) == 0;
	if (!okm || !ext_ref || !*ext_ref || strlen(ext_ref) > 128 || amount <= 0 || !im_currency_valid(currency))
		return im_bill_fail(err, IM_EINVAL, "payment needs method bank|card|processor|manual, "
		                    "a unique reference, amount > 0 and a known currency");
	if ((rc = find_ref(db, ext_ref, payment, &prev_amount)) == IM_OK) {
		if (prev_amount != amount)
			return im_bill_fail(err, IM_EINVAL, "reference %s already used for another amount", ext_ref);
		*dup = 1;
		return IM_OK;
	}
	if (rc != IM_ENOTFOUND)
		return im_bill_fail(err, IM_ERR, "payment: %s", sqlite3_errmsg(db));
	if (invoice > 0) {
		char icur[4] = "";
		if (im_bill_int(db, "SELECT customer_id FROM bill_invoice WHERE id = ? AND status <> 'draft'",
		                1, invoice, 0, &icust) != IM_OK || icust != customer)
			return im_bill_fail(err, IM_ENOTFOUND, "no such finalized invoice of this customer");
		if (sqlite3_prepare_v2(db, "SELECT currency FROM bill_invoice WHERE id = ?", -1, &st, NULL) == SQLITE_OK &&
		    sqlite3_bind_int64(st, 1, invoice) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
			snprintf(icur, sizeof icur, "%s", (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
		st = NULL;
		if (strcmp(icur, currency) != 0)
			return im_bill_fail(err, IM_EINVAL, "payment currency differs from the invoice's");
	}
	if (im_bill_prep(db, "INSERT INTO bill_payment(customer_id, invoice_id, method, ext_ref, amount, currency,"
	                 " applied, to_credit, ts) VALUES(?,?,?,?,?,?,0,0,?)", &st, err) != IM_OK ||
	    sqlite3_bind_int64(st, 1, customer) != SQLITE_OK ||
	    (invoice > 0 ? sqlite3_bind_int64(st, 2, invoice) : sqlite3_bind_null(st, 2)) != SQLITE_OK ||
	    sqlite3_bind_text(st, 3, method, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 4, ext_ref, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 5, amount) != SQLITE_OK ||
	    sqlite3_bind_text(st, 6, currency, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 7, now) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE) {
		rc = im_bill_fail(err, sqlite3_errcode(db) == SQLITE_CONSTRAINT ? IM_ENOTFOUND : IM_ERR,
		                  "payment: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return rc;
	}
	sqlite3_finalize(st);
	st = NULL;
	*payment = sqlite3_last_insert_rowid(db);
	if (invoice > 0) {
		if ((rc = allocate(db, *payment, invoice, &left, now, err)) != IM_OK)
			return rc;
	}
	/* The rest pays the oldest open invoices in this currency. */
	while (left > 0) {
		sqlite3_stmt *q = NULL;
		inv = 0;
		if (sqlite3_prepare_v2(db, "SELECT id FROM bill_invoice WHERE customer_id = ? AND currency = ? "
		                       "AND status = 'open' ORDER BY due, id LIMIT 1", -1, &q, NULL) == SQLITE_OK &&
		    sqlite3_bind_int64(q, 1, customer) == SQLITE_OK &&
		    sqlite3_bind_text(q, 2, currency, -1, SQLITE_STATIC) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
			inv = sqlite3_column_int64(q, 0);
		sqlite3_finalize(q);
		if (inv == 0)
			break;
		if ((rc = allocate(db, *payment, inv, &left, now, err)) != IM_OK)
			return rc;
	}
	if (left > 0 && (rc = im_bill_credit_add(db, customer, currency, left, err)) != IM_OK)
		return rc;
	return im_bill_exec(db, "UPDATE bill_payment SET applied = ?, to_credit = ? WHERE id = ?", 3,
	                    amount - left, left, *payment, err);
}

int im_bill_payment(sqlite3 *db, int64_t customer, int64_t invoice, const char *method,
                    const char *ext_ref, int64_t amount, const char *currency, int64_t now,
                    int64_t *payment, int *dup, char **err)
{
	int rc;

	if ((rc = im_bill_begin(db, err)) != IM_OK)
		return rc;
	rc = pay_in_tx(db, customer, invoice, method, ext_ref, amount, currency, now, payment, dup, err);
	if (rc != IM_OK || *dup) {
		im_bill_rollback(db);
		return rc;
	}
	return im_bill_commit(db, err);
}

static int refund_in_tx(sqlite3 *db, int64_t payment, const char *ext_ref, int64_t amount,
                        int64_t now, int *dup, char **err)
{
	sqlite3_stmt *st = NULL;
	int64_t customer, paid, to_credit, refunded = 0, prev_id, prev_amount, credit_part, left, rid;
	char cur[4] = "";
	int rc;

	*dup = 0;
	if (!ext_ref || !*ext_ref || strlen(ext_ref) > 128 || amount <= 0)
		return im_bill_fail(err, IM_EINVAL, "refund needs a unique reference and amount > 0");
	if ((rc = find_ref(db, ext_ref, &prev_id, &prev_amount)) == IM_OK) {
		if (prev_amount != -amount)
			return im_bill_fail(err, IM_EINVAL, "reference %s already used", ext_ref);
		*dup = 1;
		return IM_OK;
	}
	if (sqlite3_prepare_v2(db, "SELECT customer_id, amount, to_credit, currency FROM bill_payment "
	                       "WHERE id = ? AND amount > 0 AND method <> 'credit'", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 1, payment) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return im_bill_fail(err, IM_ENOTFOUND, "no such payment");
	}
	customer = sqlite3_column_int64(st, 0);
	paid = sqlite3_column_int64(st, 1);
	to_credit = sqlite3_column_int64(st, 2);
	snprintf(cur, sizeof cur, "%s", (const char *)sqlite3_column_text(st, 3));
	sqlite3_finalize(st);
	st = NULL;
	(void)im_bill_int(db, "SELECT COALESCE(-SUM(amount), 0) FROM bill_payment WHERE refund_of = ?",
	                  1, payment, 0, &refunded);
	if (refunded + amount > paid)
		return im_bill_fail(err, IM_EINVAL, "refunds would exceed the payment");
	if (im_bill_prep(db, "INSERT INTO bill_payment(customer_id, method, ext_ref, amount, currency, applied,"
	                 " to_credit, refund_of, ts) VALUES(?, 'refund', ?, ?, ?, 0, 0, ?, ?)", &st, err) != IM_OK ||
	    sqlite3_bind_int64(st, 1, customer) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, ext_ref, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 3, -amount) != SQLITE_OK || sqlite3_bind_text(st, 4, cur, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 5, payment) != SQLITE_OK || sqlite3_bind_int64(st, 6, now) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_DONE) {
		sqlite3_finalize(st);
		return im_bill_fail(err, IM_ERR, "refund: %s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	st = NULL;
	rid = sqlite3_last_insert_rowid(db);
	(void)rid;
	/* First from the credit this payment created (if still there), then from
	 * the invoices it paid, newest allocation first; those reopen. */
	credit_part = to_credit - (refunded < to_credit ? refunded : to_credit);
	if (credit_part > amount)
		credit_part = amount;
	if (credit_part > 0) {
		int64_t bal = 0;
		(void)im_bill_int(db, "SELECT balance FROM bill_credit WHERE customer_id = ?", 1, customer, 0, &bal);
		if (credit_part > bal)
			credit_part = bal;
		if (credit_part > 0 && (rc = im_bill_credit_add(db, customer, cur, -credit_part, err)) != IM_OK)
			return rc;
	}
	left = amount - credit_part;
	while (left > 0) {
		int64_t inv = 0, alloc = 0, take;
		sqlite3_stmt *q = NULL;
		if (sqlite3_prepare_v2(db, "SELECT invoice_id, amount FROM bill_alloc WHERE payment_id = ? AND amount > 0 "
		                       "ORDER BY invoice_id DESC LIMIT 1", -1, &q, NULL) == SQLITE_OK &&
		    sqlite3_bind_int64(q, 1, payment) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW) {
			inv = sqlite3_column_int64(q, 0);
			alloc = sqlite3_column_int64(q, 1);
		}
		sqlite3_finalize(q);
		if (inv == 0)
			return im_bill_fail(err, IM_EINVAL, "nothing of this payment left to refund");
		take = alloc < left ? alloc : left;
		if ((rc = im_bill_exec(db, "UPDATE bill_alloc SET amount = amount - ? WHERE payment_id = ? AND invoice_id = ?",
		                       3, take, payment, inv, err)) != IM_OK ||
		    (rc = im_bill_exec(db, "UPDATE bill_invoice SET paid = paid - ? WHERE id = ?", 2, take, inv, 0, err)) != IM_OK ||
		    (rc = im_bill_settle(db, inv, now, err)) != IM_OK)
			return rc;
		left -= take;
	}
	return IM_OK;
}

int im_bill_refund(sqlite3 *db, int64_t payment, const char *ext_ref, int64_t amount,
                   int64_t now, int *dup, char **err)
{
	int rc;

	if ((rc = im_bill_begin(db, err)) != IM_OK)
		return rc;
	rc = refund_in_tx(db, payment, ext_ref, amount, now, dup, err);
	if (rc != IM_OK || *dup) {
		im_bill_rollback(db);
		return rc;
	}
	return im_bill_commit(db, err);
}

int im_bill_credit_note(sqlite3 *db, int64_t invoice, int64_t amount, const char *reason,
                        int64_t now, int64_t *id, char **err)
{
	sqlite3_stmt *st = NULL;
	int64_t customer, total, credited, paid, number, open_due, to_credit;
	char cur[4] = "", status[16] = "", series[32], text[48];
	struct tm tm;
	int rc;

	if (amount <= 0 || !reason || !*reason || strlen(reason) > 500)
		return im_bill_fail(err, IM_EINVAL, "credit note needs amount > 0 and a reason");
	if ((rc = im_bill_begin(db, err)) != IM_OK)
		return rc;
	rc = IM_EINVAL;
	if (sqlite3_prepare_v2(db, "SELECT customer_id, total, credited, paid, currency, status FROM bill_invoice "
	                       "WHERE id = ? AND status IN ('open','paid','uncollectible')", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 1, invoice) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		im_bill_fail(err, IM_ENOTFOUND, "no finalized, non-void invoice %lld", (long long)invoice);
		rc = IM_ENOTFOUND;
		goto fail;
	}
	customer = sqlite3_column_int64(st, 0);
	total = sqlite3_column_int64(st, 1);
	credited = sqlite3_column_int64(st, 2);
	paid = sqlite3_column_int64(st, 3);
	snprintf(cur, sizeof cur, "%s", (const char *)sqlite3_column_text(st, 4));
	snprintf(status, sizeof status, "%s", (const char *)sqlite3_column_text(st, 5));
	sqlite3_finalize(st);
	st = NULL;
	if (credited + amount > total) {   /* never more than the invoice */
		im_bill_fail(err, IM_EINVAL, "credit notes would exceed the invoice (%lld of %lld left)",
		             (long long)(total - credited), (long long)total);
		goto fail;
	}
	if (im_tz_from_utc("UTC", now, &tm) != IM_OK)
		goto fail;
	snprintf(series, sizeof series, "CN-%04d", tm.tm_year + 1900);
	rc = IM_ERR;
	if (im_bill_prep(db, "INSERT INTO bill_series(name, last) VALUES(?, 1) ON CONFLICT(name)"
	                 " DO UPDATE SET last = last + 1 RETURNING last", &st, err) != IM_OK ||
	    sqlite3_bind_text(st, 1, series, -1, SQLITE_STATIC) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
		goto fail;
	number = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	snprintf(text, sizeof text, "%s-%06lld", series, (long long)number);
	if (im_bill_prep(db, "INSERT INTO bill_credit_note(invoice_id, series, number, number_text, amount, reason,"
	                 " created) VALUES(?,?,?,?,?,?,?)", &st, err) != IM_OK ||
	    sqlite3_bind_int64(st, 1, invoice) != SQLITE_OK || sqlite3_bind_text(st, 2, series, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 3, number) != SQLITE_OK || sqlite3_bind_text(st, 4, text, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 5, amount) != SQLITE_OK || sqlite3_bind_text(st, 6, reason, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 7, now) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	*id = sqlite3_last_insert_rowid(db);
	sqlite3_finalize(st);
	st = NULL;
	/* What the invoice still owed absorbs the note; the rest was paid, so it
	 * returns to the customer as credit. */
	open_due = total - paid - credited;
	if (open_due < 0 || strcmp(status, "uncollectible") == 0)
		open_due = strcmp(status, "uncollectible") == 0 ? amount : 0;
	to_credit = amount > open_due ? amount - open_due : 0;
	if ((rc = im_bill_exec(db, "UPDATE bill_invoice SET credited = credited + ? WHERE id = ?", 2, amount,
	                       invoice, 0, err)) != IM_OK ||
	    (to_credit > 0 && (rc = im_bill_credit_add(db, customer, cur, to_credit, err)) != IM_OK) ||
	    (rc = im_bill_settle(db, invoice, now, err)) != IM_OK)
		goto fail;
	return im_bill_commit(db, err);
fail:
	if (rc == IM_ERR)
		im_bill_fail(err, IM_ERR, "credit note: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	im_bill_rollback(db);
	return rc;
}

int im_bill_credit_balance(sqlite3 *db, int64_t customer, const char *currency, int64_t *bal)
{
	sqlite3_stmt *st = NULL;
	int rc = IM_ERR;

	*bal = 0;
	if (sqlite3_prepare_v2(db, "SELECT balance FROM bill_credit WHERE customer_id = ? AND currency = ?",
	                       -1, &st, NULL) == SQLITE_OK && sqlite3_bind_int64(st, 1, customer) == SQLITE_OK &&
	    sqlite3_bind_text(st, 2, currency, -1, SQLITE_STATIC) == SQLITE_OK) {
		int s = sqlite3_step(st);
		if (s == SQLITE_ROW)
			*bal = sqlite3_column_int64(st, 0);
		rc = s == SQLITE_ROW || s == SQLITE_DONE ? IM_OK : IM_ERR;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Records the event as processed with outcome; 0 when it already was. */
static int mark_event(sqlite3 *db, const char *provider, const char *id, const char *type,
                      const char *outcome, int64_t now, int *fresh)
{
	sqlite3_stmt *st = NULL;
	int rc = IM_ERR;

	if (sqlite3_prepare_v2(db, "INSERT INTO bill_event(provider, event_id, type, received, outcome) "
	                       "VALUES(?,?,?,?,?) ON CONFLICT DO NOTHING", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, provider, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_text(st, 3, type, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 4, now) == SQLITE_OK &&
	    sqlite3_bind_text(st, 5, outcome, -1, SQLITE_STATIC) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE) {
		*fresh = sqlite3_changes(db) > 0;
		rc = IM_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/* The event's outcome, written in the transaction of its effect. */
static int set_outcome(sqlite3 *db, const char *provider, const char *id, const char *outcome)
{
	sqlite3_stmt *st = NULL;
	int rc = IM_ERR;

	if (sqlite3_prepare_v2(db, "UPDATE bill_event SET outcome = ? WHERE provider = ? AND event_id = ?",
	                       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, outcome, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_text(st, 2, provider, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE)
		rc = IM_OK;
	sqlite3_finalize(st);
	return rc;
}

int im_bill_webhook_apply(sqlite3 *db, const char *provider, const char *body, int64_t now,
                          const char **outcome, char **err)
{
	json_t *root = json_loads(body ? body : "", 0, NULL), *data;
	const char *id, *type, *ref, *cur, *pref;
	int64_t customer, invoice, amount, pid;
	int rc, fresh, dup;

	*outcome = "invalid";
	data = json_object_get(root, "data");
	id = json_string_value(json_object_get(root, "id"));
	type = json_string_value(json_object_get(root, "type"));
	ref = json_string_value(json_object_get(data, "ref"));
	cur = json_string_value(json_object_get(data, "currency"));
	pref = json_string_value(json_object_get(data, "payment_ref"));
	customer = json_integer_value(json_object_get(data, "customer"));
	invoice = json_integer_value(json_object_get(data, "invoice"));
	amount = json_integer_value(json_object_get(data, "amount"));
	if (!provider || !id || !type || strlen(id) > 128 || strlen(type) > 64) {
		json_decref(root);
		return im_bill_fail(err, IM_EINVAL, "event needs id and type");
	}
	if ((rc = im_bill_begin(db, err)) != IM_OK) {
		json_decref(root);
		return rc;
	}
	/* Processed already: at-least-once delivery makes this normal. */
	if ((rc = mark_event(db, provider, id, type, "processing", now, &fresh)) != IM_OK)
		goto fail;
	if (!fresh) {
		*outcome = "duplicate";
		im_bill_rollback(db);
		json_decref(root);
		return IM_OK;
	}
	if (strcmp(type, "payment.succeeded") == 0) {
		rc = pay_in_tx(db, customer, invoice, "processor", ref, amount, cur, now, &pid, &dup, err);
		*outcome = dup ? "duplicate" : "applied";
	} else if (strcmp(type, "refund.succeeded") == 0) {
		int64_t orig_amount;
		/* A refund may overtake its payment: refuse for now, the processor
		 * redelivers, and by then the payment is here. */
		if (!pref || find_ref(db, pref, &pid, &orig_amount) != IM_OK) {
			im_bill_rollback(db);
			json_decref(root);
			*outcome = "retry";
			return im_bill_fail(err, IM_EBUSY, "refund for a payment not seen yet; retry later");
		}
		rc = refund_in_tx(db, pid, ref, amount, now, &dup, err);
		*outcome = dup ? "duplicate" : "applied";
	} else {
		/* payment.failed and unknown types change nothing (a failure arriving
		 * after a success must not undo it); recorded as seen. */
		*outcome = "ignored";
		rc = IM_OK;
	}
	if (rc != IM_OK)
		goto fail;
	if ((rc = set_outcome(db, provider, id, *outcome)) != IM_OK)
		goto fail;
	json_decref(root);
	return im_bill_commit(db, err);
fail:
	im_bill_rollback(db);
	json_decref(root);
	return rc == IM_OK ? IM_ERR : rc;
}
