/*
 * billing_statement.c — an invoice as JSON, printable HTML and plain text, and
 * a customer's invoices as CSV (billing.h).  Every amount goes through
 * im_money_format (money.h), so the renderings never disagree; every string
 * from the database is escaped for its format.
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

/* A growable malloc'd string; on allocation failure it stays failed. */
typedef struct { char *s; size_t len, cap; int oom; } buf;

static void put(buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		char *p;
		while (cap < b->len + n + 1)
			cap *= 2;
		if ((p = realloc(b->s, cap)) == NULL) {
			b->oom = 1;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }

static void html(buf *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': puts_(b, "&amp;"); break;
		case '<': puts_(b, "&lt;"); break;
		case '>': puts_(b, "&gt;"); break;
		case '"': puts_(b, "&quot;"); break;
		case '\'': puts_(b, "&#39;"); break;
		default: put(b, s, 1);
		}
	}
}

/* CSV field (RFC 4180), with a leading ' on =+-@ so spreadsheets never run it. */
static void csv(buf *b, const char *s)
{
	puts_(b, "\"");
	if (s && (*s == '=' || *s == '+' || *s == '-' || *s == '@'))
		puts_(b, "'");
	for (; s && *s; s++) {
		if (*s == '"')
			puts_(b, "\"\"");
		else
			put(b, s, 1);
	}
	puts_(b, "\"");
}

static char *finish(buf *b)
{
	if (b->oom || b->s == NULL) {
		free(b->s);
		return NULL;
	}
	return b->s;
}

static const char *money(char *out, size_t n, json_int_t v, const char *cur)
{
	if (im_money_format((int64_t)v, cur, out, n) < 0)
		snprintf(out, n, "?");
	return out;
}

static const char *date(char *out, size_t n, json_int_t t)
{
	struct tm tm;

	if (t <= 0 || im_tz_from_utc("UTC", (int64_t)t, &tm) != IM_OK)
		snprintf(out, n, "-");
	else
		snprintf(out, n, "%04d-%02d-%02d", (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100, tm.tm_mday % 100);
	return out;
}

static const char *col(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);

	return s ? s : "";
}

int im_bill_invoice_json(sqlite3 *db, int64_t invoice, json_t **out, char **err)
{
	sqlite3_stmt *st = NULL;
	json_t *o = NULL, *lines, *notes;
	int rc;

	if (im_bill_prep(db, "SELECT id, customer_id, kind, period_start, period_end, currency, status,"
	                 " number_text, subtotal, tax, total, tax_rate_bp, reverse_charge, paid, credited,"
	                 " bill_to, created, finalized, due, paid_at, active_users FROM bill_invoice WHERE id = ?",
	                 &st, err) != IM_OK)
		return IM_ERR;
	if (sqlite3_bind_int64(st, 1, invoice) != SQLITE_OK || (rc = sqlite3_step(st)) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return im_bill_fail(err, IM_ENOTFOUND, "no such invoice");
	}
	o = json_pack("{s:I,s:I,s:s,s:I,s:I,s:s,s:s,s:s?,s:I,s:I,s:I,s:I,s:b,s:I,s:I,s:I,s:I,s:I,s:I}",
		"id", (json_int_t)sqlite3_column_int64(st, 0), "customer", (json_int_t)sqlite3_column_int64(st, 1),
		"kind", col(st, 2), "period_start", (json_int_t)sqlite3_column_int64(st, 3),
		"period_end", (json_int_t)sqlite3_column_int64(st, 4), "currency", col(st, 5),
		"status", col(st, 6), "number", (const char *)sqlite3_column_text(st, 7),
		"subtotal", (json_int_t)sqlite3_column_int64(st, 8), "tax", (json_int_t)sqlite3_column_int64(st, 9),
		"total", (json_int_t)sqlite3_column_int64(st, 10), "tax_rate_bp", (json_int_t)sqlite3_column_int64(st, 11),
		"reverse_charge", sqlite3_column_int(st, 12), "paid", (json_int_t)sqlite3_column_int64(st, 13),
		"credited", (json_int_t)sqlite3_column_int64(st, 14), "created", (json_int_t)sqlite3_column_int64(st, 16),
		"finalized", (json_int_t)sqlite3_column_int64(st, 17), "due", (json_int_t)sqlite3_column_int64(st, 18),
		"active_users", (json_int_t)sqlite3_column_int64(st, 20));
	if (o == NULL) {
		sqlite3_finalize(st);
		return IM_ERR;
	}
	json_object_set_new(o, "balance", json_integer(sqlite3_column_int64(st, 10) - sqlite3_column_int64(st, 13) -
	                                               sqlite3_column_int64(st, 14)));
	json_object_set_new(o, "bill_to", sqlite3_column_text(st, 15)
		? json_loads(col(st, 15), 0, NULL) : json_null());
	/* The bank-transfer reference is the invoice number: unique and printed. */
	json_object_set_new(o, "payment_reference", sqlite3_column_text(st, 7) ? json_string(col(st, 7)) : json_null());
	sqlite3_finalize(st);
	st = NULL;
	lines = json_array();
	notes = json_array();
	json_object_set_new(o, "lines", lines);
	json_object_set_new(o, "credit_notes", notes);
	if (im_bill_prep(db, "SELECT description, quantity, unit_price, amount, tax FROM bill_line "
	                 "WHERE invoice_id = ? ORDER BY pos", &st, err) != IM_OK ||
	    sqlite3_bind_int64(st, 1, invoice) != SQLITE_OK)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(lines, json_pack("{s:s,s:I,s:I,s:I,s:I}", "description", col(st, 0),
			"quantity", (json_int_t)sqlite3_column_int64(st, 1), "unit_price", (json_int_t)sqlite3_column_int64(st, 2),
			"amount", (json_int_t)sqlite3_column_int64(st, 3), "tax", (json_int_t)sqlite3_column_int64(st, 4)));
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	st = NULL;
	if (im_bill_prep(db, "SELECT number_text, amount, reason, created FROM bill_credit_note "
	                 "WHERE invoice_id = ? ORDER BY id", &st, err) != IM_OK ||
	    sqlite3_bind_int64(st, 1, invoice) != SQLITE_OK)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(notes, json_pack("{s:s,s:I,s:s,s:I}", "number", col(st, 0),
			"amount", (json_int_t)sqlite3_column_int64(st, 1), "reason", col(st, 2),
			"created", (json_int_t)sqlite3_column_int64(st, 3)));
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	*out = o;
	return IM_OK;
fail:
	im_bill_fail(err, IM_ERR, "invoice: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	json_decref(o);
	return IM_ERR;
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static json_int_t jint(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

char *im_bill_render_html(json_t *inv, json_t *provider)
{
	const char *cur = jstr(inv, "currency");
	json_t *bt = json_object_get(inv, "bill_to"), *l;
	char m[64], d1[32], d2[32];
	buf b = { 0 };
	size_t i;

	puts_(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Invoice ");
	html(&b, jstr(inv, "number"));
	puts_(&b, "</title><style>body{font-family:sans-serif;max-width:50em;margin:2em auto}"
	          "table{width:100%;border-collapse:collapse}td,th{padding:.3em;border-bottom:1px solid #ccc;"
	          "text-align:left}.n{text-align:right}@media print{a{display:none}}</style></head><body>\n");
	puts_(&b, "<header><h1>Invoice ");
	html(&b, jstr(inv, "number"));
	puts_(&b, "</h1><p class=\"issuer\">");
	html(&b, jstr(provider, "name"));
	puts_(&b, "<br>");
	html(&b, jstr(provider, "address"));
	puts_(&b, "<br>");
	html(&b, jstr(provider, "tax_id"));
	puts_(&b, "</p></header>\n<section class=\"bill-to\"><h2>Bill to</h2><p>");
	html(&b, jstr(bt, "name"));
	puts_(&b, "<br>");
	html(&b, jstr(bt, "address"));
	puts_(&b, "<br>");
	html(&b, jstr(bt, "tax_id"));
	puts_(&b, "</p></section>\n<p>Period: ");
	puts_(&b, date(d1, sizeof d1, jint(inv, "period_start")));
	puts_(&b, " to ");
	puts_(&b, date(d2, sizeof d2, jint(inv, "period_end")));
	puts_(&b, " &middot; Issued: ");
	puts_(&b, date(d1, sizeof d1, jint(inv, "finalized")));
	puts_(&b, " &middot; Due: ");
	puts_(&b, date(d2, sizeof d2, jint(inv, "due")));
	puts_(&b, " &middot; Status: ");
	html(&b, jstr(inv, "status"));
	puts_(&b, "</p>\n<table><thead><tr><th>Description</th><th class=\"n\">Qty</th>"
	          "<th class=\"n\">Amount</th><th class=\"n\">Tax</th></tr></thead><tbody>\n");
	json_array_foreach(json_object_get(inv, "lines"), i, l) {
		char q[32];
		puts_(&b, "<tr><td>");
		html(&b, jstr(l, "description"));
		snprintf(q, sizeof q, "%lld", (long long)jint(l, "quantity"));
		puts_(&b, "</td><td class=\"n\">");
		puts_(&b, q);
		puts_(&b, "</td><td class=\"n\">");
		html(&b, money(m, sizeof m, jint(l, "amount"), cur));
		puts_(&b, "</td><td class=\"n\">");
		html(&b, money(m, sizeof m, jint(l, "tax"), cur));
		puts_(&b, "</td></tr>\n");
	}
	puts_(&b, "</tbody></table>\n<table class=\"totals\"><tr><th>Subtotal</th><td class=\"n\">");
	html(&b, money(m, sizeof m, jint(inv, "subtotal"), cur));
	puts_(&b, "</td></tr><tr><th>Tax");
	if (json_is_true(json_object_get(inv, "reverse_charge")))
		puts_(&b, " (reverse charge: VAT to be accounted for by the recipient)");
	else {
		char r[32];
		snprintf(r, sizeof r, " %lld.%02lld%%", (long long)jint(inv, "tax_rate_bp") / 100,
		         (long long)jint(inv, "tax_rate_bp") % 100);
		puts_(&b, r);
	}
	puts_(&b, "</th><td class=\"n\">");
	html(&b, money(m, sizeof m, jint(inv, "tax"), cur));
	puts_(&b, "</td></tr><tr><th>Total</th><td class=\"n\">");
	html(&b, money(m, sizeof m, jint(inv, "total"), cur));
	puts_(&b, "</td></tr><tr><th>Paid</th><td class=\"n\">");
	html(&b, money(m, sizeof m, jint(inv, "paid"), cur));
	puts_(&b, "</td></tr><tr><th>Credited</th><td class=\"n\">");
	html(&b, money(m, sizeof m, jint(inv, "credited"), cur));
	puts_(&b, "</td></tr><tr><th>Balance due</th><td class=\"n\">");
	html(&b, money(m, sizeof m, jint(inv, "balance"), cur));
	puts_(&b, "</td></tr></table>\n<p>Bank transfer: please quote the reference <strong>");
	html(&b, jstr(inv, "payment_reference"));
	puts_(&b, "</strong>.</p>\n</body></html>\n");
	return finish(&b);
}

char *im_bill_render_text(json_t *inv)
{
	const char *cur = jstr(inv, "currency");
	char m[64], d1[32], d2[32], line[512];
	json_t *l;
	buf b = { 0 };
	size_t i;

	snprintf(line, sizeof line, "Invoice %s (%s), %s to %s, due %s\n", *jstr(inv, "number") ? jstr(inv, "number")
	         : "(draft)", jstr(inv, "status"), date(d1, sizeof d1, jint(inv, "period_start")),
	         date(d2, sizeof d2, jint(inv, "period_end")), date(d2, sizeof d2, jint(inv, "due")));
	puts_(&b, line);
	json_array_foreach(json_object_get(inv, "lines"), i, l) {
		snprintf(line, sizeof line, "  %s: %s\n", jstr(l, "description"), money(m, sizeof m, jint(l, "amount"), cur));
		puts_(&b, line);
	}
	snprintf(line, sizeof line, "Subtotal %s\n", money(m, sizeof m, jint(inv, "subtotal"), cur));
	puts_(&b, line);
	snprintf(line, sizeof line, "Tax %s\n", money(m, sizeof m, jint(inv, "tax"), cur));
	puts_(&b, line);
	snprintf(line, sizeof line, "Total %s\n", money(m, sizeof m, jint(inv, "total"), cur));
	puts_(&b, line);
	snprintf(line, sizeof line, "Balance due %s\n", money(m, sizeof m, jint(inv, "balance"), cur));
	puts_(&b, line);
	return finish(&b);
}

int im_bill_statement_csv(sqlite3 *db, int64_t customer, char **out, char **err)
{
	sqlite3_stmt *st = NULL;
	buf b = { 0 };
	char m[64], d[32];
	int rc;

	puts_(&b, "number,status,period_start,period_end,issued,due,currency,subtotal,tax,total,paid,credited,balance\r\n");
	if (im_bill_prep(db, "SELECT number_text, status, period_start, period_end, finalized, due, currency, subtotal,"
	                 " tax, total, paid, credited FROM bill_invoice WHERE customer_id = ? AND status <> 'draft'"
	                 " ORDER BY finalized, id", &st, err) != IM_OK ||
	    sqlite3_bind_int64(st, 1, customer) != SQLITE_OK) {
		sqlite3_finalize(st);
		free(b.s);
		return IM_ERR;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *cur = col(st, 6);
		int i;
		csv(&b, col(st, 0));
		puts_(&b, ",");
		csv(&b, col(st, 1));
		for (i = 2; i <= 5; i++) {
			puts_(&b, ",");
			puts_(&b, date(d, sizeof d, sqlite3_column_int64(st, i)));
		}
		puts_(&b, ",");
		csv(&b, cur);
		for (i = 7; i <= 11; i++) {
			puts_(&b, ",");
			if (im_money_format_plain(sqlite3_column_int64(st, i), cur, m, sizeof m) < 0)
				snprintf(m, sizeof m, "?");
			puts_(&b, m);
		}
		puts_(&b, ",");
		if (im_money_format_plain(sqlite3_column_int64(st, 9) - sqlite3_column_int64(st, 10) -
		                          sqlite3_column_int64(st, 11), cur, m, sizeof m) < 0)
			snprintf(m, sizeof m, "?");
		puts_(&b, m);
		puts_(&b, "\r\n");
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(b.s);
		return im_bill_fail(err, IM_ERR, "statement: %s", sqlite3_errmsg(db));
	}
	if ((*out = finish(&b)) == NULL)
		return IM_ERR;
	return IM_OK;
}
