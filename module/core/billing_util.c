/*
 * billing_util.c — transactions, small queries, credit and settlement shared by
 * the billing engine files (billing_int.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "billing_int.h"
#include "imhost_err.h"

int im_bill_fail(char **err, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && *err == NULL) {
		va_start(ap, fmt);
		if (vasprintf(err, fmt, ap) < 0)
			*err = NULL;
		va_end(ap);
	}
	return rc;
}

static int exec_plain(sqlite3 *db, const char *sql, char **err)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return im_bill_fail(err, IM_ERR, "%s: %s", sql, sqlite3_errmsg(db));
	return IM_OK;
}

int im_bill_begin(sqlite3 *db, char **err)
{
	/* IMMEDIATE: takes the write lock now, waiting out busy_timeout, instead
	 * of failing with SQLITE_BUSY at the first write of a read transaction. */
	return exec_plain(db, "BEGIN IMMEDIATE", err);
}

int im_bill_commit(sqlite3 *db, char **err)
{
	return exec_plain(db, "COMMIT", err);
}

void im_bill_rollback(sqlite3 *db)
{
	if (!sqlite3_get_autocommit(db))
		(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

int im_bill_prep(sqlite3 *db, const char *sql, sqlite3_stmt **st, char **err)
{
	if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
		return im_bill_fail(err, IM_ERR, "prepare: %s", sqlite3_errmsg(db));
	return IM_OK;
}

int im_bill_int(sqlite3 *db, const char *sql, int nbind, int64_t a, int64_t b, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc = IM_ERR, s;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK ||
	    (nbind > 0 && sqlite3_bind_int64(st, 1, a) != SQLITE_OK) ||
	    (nbind > 1 && sqlite3_bind_int64(st, 2, b) != SQLITE_OK))
		goto out;
	s = sqlite3_step(st);
	if (s == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = IM_OK;
	} else if (s == SQLITE_DONE) {
		rc = IM_ENOTFOUND;
	}
out:
	sqlite3_finalize(st);
	return rc;
}

int im_bill_exec(sqlite3 *db, const char *sql, int nbind, int64_t a, int64_t b, int64_t c,
                 char **err)
{
	sqlite3_stmt *st = NULL;
	int rc = IM_OK;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK ||
	    (nbind > 0 && sqlite3_bind_int64(st, 1, a) != SQLITE_OK) ||
	    (nbind > 1 && sqlite3_bind_int64(st, 2, b) != SQLITE_OK) ||
	    (nbind > 2 && sqlite3_bind_int64(st, 3, c) != SQLITE_OK) ||
	    sqlite3_step(st) != SQLITE_DONE)
		rc = im_bill_fail(err, sqlite3_errcode(db) == SQLITE_CONSTRAINT ? IM_EINVAL : IM_ERR,
		                  "%s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc;
}

int im_bill_credit_add(sqlite3 *db, int64_t customer, const char *currency, int64_t delta,
                       char **err)
{
	/* CHECK constraints are tested on the row an upsert would insert, so a
	 * debit is a plain UPDATE (no row: no credit to take). */
	const char *sql = delta >= 0
		? "INSERT INTO bill_credit(customer_id, currency, balance) VALUES(?1, ?2, ?3) "
		  "ON CONFLICT(customer_id, currency) DO UPDATE SET balance = balance + ?3"
		: "UPDATE bill_credit SET balance = balance + ?3 WHERE customer_id = ?1 AND currency = ?2";
	sqlite3_stmt *st = NULL;
	int rc = IM_OK;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 1, customer) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, currency, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 3, delta) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
		rc = im_bill_fail(err, sqlite3_extended_errcode(db) == SQLITE_CONSTRAINT_CHECK ? IM_EINVAL : IM_ERR,
		                  "credit: %s", sqlite3_errmsg(db));
	else if (delta < 0 && sqlite3_changes(db) != 1)
		rc = im_bill_fail(err, IM_EINVAL, "credit: no credit to take");
	sqlite3_finalize(st);
	return rc;
}

int im_bill_settle(sqlite3 *db, int64_t invoice, int64_t now, char **err)
{
	/* Only open/paid invoices move; void and uncollectible stay as staff set them. */
	return im_bill_exec(db,
		"UPDATE bill_invoice SET "
		" status = CASE WHEN paid + credited >= total THEN 'paid' ELSE 'open' END,"
		" paid_at = CASE WHEN paid + credited >= total THEN COALESCE(paid_at, ?2) ELSE NULL END "
		"WHERE id = ?1 AND status IN ('open','paid')", 2, invoice, now, 0, err);
}

int im_bill_apply_credit(sqlite3 *db, int64_t invoice, int64_t now, char **err)
{
	sqlite3_stmt *st = NULL;
	int64_t customer, balance, credit, use;
	char currency[4];
	int rc;

	if ((rc = im_bill_prep(db,
		"SELECT i.customer_id, i.currency, i.total - i.paid - i.credited, COALESCE(c.balance, 0) "
		"FROM bill_invoice i LEFT JOIN bill_credit c ON c.customer_id = i.customer_id "
		" AND c.currency = i.currency WHERE i.id = ? AND i.status = 'open'", &st, err)) != IM_OK)
		return rc;
	if (sqlite3_bind_int64(st, 1, invoice) != SQLITE_OK) {
		sqlite3_finalize(st);
		return im_bill_fail(err, IM_ERR, "bind");
	}
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return rc == SQLITE_DONE ? IM_OK : im_bill_fail(err, IM_ERR, "credit: %s", sqlite3_errmsg(db));
	}
	customer = sqlite3_column_int64(st, 0);
	snprintf(currency, sizeof currency, "%s", (const char *)sqlite3_column_text(st, 1));
	balance = sqlite3_column_int64(st, 2);
	credit = sqlite3_column_int64(st, 3);
	sqlite3_finalize(st);
	use = credit < balance ? credit : balance;
	if (use <= 0)
		return IM_OK;
	if ((rc = im_bill_credit_add(db, customer, currency, -use, err)) != IM_OK ||
	    (rc = im_bill_exec(db, "UPDATE bill_invoice SET paid = paid + ? WHERE id = ?", 2, use,
	                       invoice, 0, err)) != IM_OK ||
	    (rc = im_bill_exec(db,
		"INSERT INTO bill_payment(customer_id, invoice_id, method, ext_ref, amount, currency,"
		" applied, to_credit, ts) SELECT customer_id, id, 'credit', 'credit-' || id || '-' || ?2,"
		" ?3, currency, ?3, 0, ?2 FROM bill_invoice WHERE id = ?1", 3, invoice, now, use, err)) != IM_OK)
		return rc;
	return im_bill_settle(db, invoice, now, err);
}
