/*
 * billing_int.h — helpers shared by the billing_*.c files only (not API).
 */
#ifndef IMHOST_BILLING_INT_H
#define IMHOST_BILLING_INT_H

#include <stdint.h>
#include <sqlite3.h>

#include "billing.h"

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK.  IM_OK or IM_ERR (+ *err). */
int im_bill_begin(sqlite3 *db, char **err);
int im_bill_commit(sqlite3 *db, char **err);
void im_bill_rollback(sqlite3 *db);

/* Prepares sql; IM_OK or IM_ERR (+ *err naming what). */
int im_bill_prep(sqlite3 *db, const char *sql, sqlite3_stmt **st, char **err);

/* Sets *err to a malloc'd printf message when err is not NULL; returns rc. */
int im_bill_fail(char **err, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Runs a single-integer query with up to two int64 binds (nbind 0-2).
 * IM_OK with *out, IM_ENOTFOUND when no row, IM_ERR. */
int im_bill_int(sqlite3 *db, const char *sql, int nbind, int64_t a, int64_t b, int64_t *out);

/* Executes a statement with int64 binds and no result. */
int im_bill_exec(sqlite3 *db, const char *sql, int nbind, int64_t a, int64_t b, int64_t c,
                 char **err);

/* Adds delta to customer's credit in currency (row created when missing).
 * The balance never goes below zero (CHECK): IM_EINVAL then. */
int im_bill_credit_add(sqlite3 *db, int64_t customer, const char *currency, int64_t delta,
                       char **err);

/* Applies available credit of invoice's customer to the invoice balance. */
int im_bill_apply_credit(sqlite3 *db, int64_t invoice, int64_t now, char **err);

/* Invoice status after a change of paid/credited: paid when the balance is 0. */
int im_bill_settle(sqlite3 *db, int64_t invoice, int64_t now, char **err);

/* The usage query (billing_usage.c), for callers that prepare it once (the
 * run), and one execution of it. */
extern const char im_bill_usage_sql[];
int im_bill_usage_step(sqlite3 *db, sqlite3_stmt *st, int64_t customer, int64_t from, int64_t until,
                       im_bill_usage *u, char **err);

#endif
