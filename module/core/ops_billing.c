/*
 * ops_billing.c — the billing.* operations over the engine (billing.h).
 *
 * Customer-facing ops take a required "customer" param that is their scope:
 * the registry grants the caller's customer roles only for that customer, so
 * an owner sees only its own invoices; billing staff (global role) see any.
 * Handlers translate params into engine calls; the engine does the rest.
 *
 * Result shapes:
 *   billing.overview   {customer, overdue_state, credit:[{currency, balance, text}],
 *                       open:{count, due:[{currency, amount, text}]}, subscriptions:[..]}
 *   billing.invoices   {invoices:[{id, number, status, period_start, period_end, due,
 *                       currency, total, balance, total_text}]}
 *   billing.statement  {format, content}            (html | csv | text)
 *   billing.info       {customer, updated:true}
 *   billing.payment_methods {methods:[{method, reference|null}], payments:[..]}
 *   billing.run        {drafted, finalized, skipped, metered:{..as billing.meter}}
 *   billing.meter      {from, until, messages, active, seats, storage}  (rows written)
 *   billing.overdue    {actions:[{customer, state, from, actions:[..], oldest_due}]}
 *   reports            {rows:[..]}
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "billing.h"
#include "imhost_err.h"
#include "money.h"
#include "registry.h"

#define S(p, k) json_string_value(json_object_get((p), (k)))
#define I(p, k) ((int64_t)json_integer_value(json_object_get((p), (k))))
#define HAS(p, k) (json_object_get((p), (k)) != NULL)
#define COUNT(a) (sizeof a / sizeof a[0])
#define P(a) a, COUNT(a)
#define NOP NULL, 0

/* Maps an engine code and message to an error result; frees msg. */
static int fail(json_t **result, int rc, const char *param, char *msg)
{
	const char *code = rc == IM_EINVAL ? "invalid" : rc == IM_ENOTFOUND ? "not_found"
	                 : rc == IM_EBUSY ? "unavailable" : "internal";
	*result = im_error_new(code, rc == IM_EINVAL ? param : NULL, "%s", msg ? msg : "failed");
	free(msg);
	return rc == IM_OK ? IM_ERR : rc;
}

/* Runs sql (one int64 bind per 'i' in fmt, text per 's') and appends one
 * object per row, named by the columns, to arr. */
static int rows(sqlite3 *db, const char *sql, json_t *arr, const char *fmt, ...)
{
	sqlite3_stmt *st = NULL;
	va_list ap;
	int rc, i, n;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return IM_ERR;
	va_start(ap, fmt);
	for (i = 0; fmt[i]; i++) {
		int b = fmt[i] == 'i' ? sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t))
		                      : sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
		if (b != SQLITE_OK) {
			va_end(ap);
			sqlite3_finalize(st);
			return IM_ERR;
		}
	}
	va_end(ap);
	n = sqlite3_column_count(st);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *o = json_object();
		for (i = 0; i < n; i++) {
			const char *name = sqlite3_column_name(st, i);
			switch (sqlite3_column_type(st, i)) {
			case SQLITE_INTEGER: json_object_set_new(o, name, json_integer(sqlite3_column_int64(st, i))); break;
			case SQLITE_NULL: json_object_set_new(o, name, json_null()); break;
			default: json_object_set_new(o, name, json_string((const char *)sqlite3_column_text(st, i)));
			}
		}
		json_array_append_new(arr, o);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? IM_OK : IM_ERR;
}

/* Adds "<key>_text" formatted money next to each integer key of each row. */
static void add_text(json_t *arr, const char *key)
{
	json_t *o;
	size_t i;
	char name[64], b[64];

	json_array_foreach(arr, i, o) {
		const char *cur = S(o, "currency");
		if (!cur || im_money_format(I(o, key), cur, b, sizeof b) < 0)
			continue;
		snprintf(name, sizeof name, "%s_text", key);
		json_object_set_new(o, name, json_string(b));
	}
}

static int dbfail(im_op_ctx *c, json_t **result, json_t *partial)
{
	json_decref(partial);
	*result = im_error_new("internal", NULL, "database: %s", sqlite3_errmsg(c->env->db));
	return IM_ERR;
}

static const im_param customer_param[] = {
	{ "customer", IM_PT_INT, 1, 1, INT64_MAX, NULL, NULL, "customer id" },
};

/* --- customer-facing ------------------------------------------------------------ */

static int overview(im_op_ctx *c, json_t *p, json_t **result)
{
	int64_t cust = I(p, "customer");
	json_t *r, *credit = json_array(), *due = json_array(), *subs = json_array();

	(void)c;
	r = json_pack("{s:I}", "customer", (json_int_t)cust);
	json_object_set_new(r, "credit", credit);
	json_object_set_new(r, "open_due", due);
	json_object_set_new(r, "subscriptions", subs);
	if (rows(c->env->db, "SELECT COALESCE((SELECT overdue_state FROM bill_account WHERE customer_id = ?1), 'ok') "
	         "AS state", subs, "i", cust) != IM_OK)
		return dbfail(c, result, r);
	json_object_set(r, "overdue_state", json_object_get(json_array_get(subs, 0), "state"));
	json_array_clear(subs);
	if (rows(c->env->db, "SELECT currency, balance FROM bill_credit WHERE customer_id = ? AND balance > 0",
	         credit, "i", cust) != IM_OK ||
	    rows(c->env->db, "SELECT currency, COUNT(*) AS invoices, SUM(total - paid - credited) AS balance,"
	         " MIN(due) AS oldest_due FROM bill_invoice WHERE customer_id = ? AND status = 'open'"
	         " GROUP BY currency", due, "i", cust) != IM_OK ||
	    rows(c->env->db, "SELECT s.id, pl.name AS plan, pl.price, s.currency, s.cycle_months,"
	         " s.billed_until AS period_start, s.next_end AS next_invoice, s.ends FROM bill_subscription s"
	         " JOIN bill_sub_plan sp ON sp.sub_id = s.id AND sp.from_ts = (SELECT MAX(from_ts) FROM"
	         " bill_sub_plan WHERE sub_id = s.id) JOIN bill_plan pl ON pl.id = sp.plan_id"
	         " WHERE s.customer_id = ? AND s.next_end < (1 << 62) ORDER BY s.id", subs, "i", cust) != IM_OK)
		return dbfail(c, result, r);
	add_text(credit, "balance");
	add_text(due, "balance");
	add_text(subs, "price");
	*result = r;
	return IM_OK;
}

static const im_param invoices_params[] = {
	{ "customer", IM_PT_INT, 1, 1, INT64_MAX, NULL, NULL, "customer id" },
	{ "limit", IM_PT_INT, 0, 1, 500, NULL, "50", "newest first, at most" },
};

static int invoices(im_op_ctx *c, json_t *p, json_t **result)
{
	json_t *arr = json_array();

	if (rows(c->env->db, "SELECT id, number_text AS number, status, period_start, period_end, finalized AS issued,"
	         " due, currency, total, total - paid - credited AS balance FROM bill_invoice"
	         " WHERE customer_id = ? AND status <> 'draft' ORDER BY id DESC LIMIT ?", arr, "ii",
	         I(p, "customer"), I(p, "limit")) != IM_OK)
		return dbfail(c, result, arr);
	add_text(arr, "total");
	add_text(arr, "balance");
	*result = json_pack("{s:o}", "invoices", arr);
	return IM_OK;
}

static const char *const formats[] = { "html", "text", "csv", NULL };

static const im_param statement_params[] = {
	{ "customer", IM_PT_INT, 1, 1, INT64_MAX, NULL, NULL, "customer id" },
	{ "invoice", IM_PT_INT, 0, 1, INT64_MAX, NULL, NULL, "one invoice (html, text); absent: all as csv" },
	{ "format", IM_PT_ENUM, 0, 0, 0, formats, "html", "html (printable), text, or csv (all invoices)" },
	{ "provider_name", IM_PT_STRING, 0, 0, 200, NULL, NULL, "issuer shown on the page (the glue passes config)" },
	{ "provider_address", IM_PT_STRING, 0, 0, 500, NULL, NULL, "issuer address" },
	{ "provider_tax_id", IM_PT_STRING, 0, 0, 64, NULL, NULL, "issuer tax id" },
};

static int statement(im_op_ctx *c, json_t *p, json_t **result)
{
	const char *fmt = S(p, "format");
	int64_t cust = I(p, "customer"), owner;
	json_t *inv = NULL, *prov;
	char *out = NULL, *err = NULL;
	int rc;

	if (strcmp(fmt, "csv") == 0) {
		if ((rc = im_bill_statement_csv(c->env->db, cust, &out, &err)) != IM_OK)
			return fail(result, rc, NULL, err);
	} else {
		if (!HAS(p, "invoice")) {
			*result = im_error_new("invalid", "invoice", "html and text need an invoice");
			return IM_EINVAL;
		}
		/* Only the customer's own finalized invoices: drafts are not documents. */
		rc = im_bill_invoice_json(c->env->db, I(p, "invoice"), &inv, &err);
		if (rc != IM_OK)
			return fail(result, rc, "invoice", err);
		owner = I(inv, "customer");
		if (owner != cust || strcmp(S(inv, "status"), "draft") == 0) {
			json_decref(inv);
			*result = im_error_new("not_found", NULL, "no such invoice");
			return IM_ENOTFOUND;
		}
		prov = json_pack("{s:s,s:s,s:s}", "name", S(p, "provider_name") ? S(p, "provider_name") : "",
		                 "address", S(p, "provider_address") ? S(p, "provider_address") : "",
		                 "tax_id", S(p, "provider_tax_id") ? S(p, "provider_tax_id") : "");
		out = strcmp(fmt, "html") == 0 ? im_bill_render_html(inv, prov) : im_bill_render_text(inv);
		json_decref(prov);
		json_decref(inv);
		if (out == NULL)
			return IM_ERR;
	}
	*result = json_pack("{s:s,s:s}", "format", fmt, "content", out);
	free(out);
	return *result ? IM_OK : IM_ERR;
}

static const im_param info_params[] = {
	{ "customer", IM_PT_INT, 1, 1, INT64_MAX, NULL, NULL, "customer id" },
	{ "name", IM_PT_STRING, 0, 0, 200, NULL, NULL, "name on invoices" },
	{ "address", IM_PT_STRING, 0, 0, 1000, NULL, NULL, "postal address" },
	{ "email", IM_PT_STRING, 0, 0, 254, NULL, NULL, "billing e-mail" },
	{ "tax_id", IM_PT_STRING, 0, 0, 64, NULL, NULL, "VAT or tax id" },
};

static int info(im_op_ctx *c, json_t *p, json_t **result)
{
	json_t *fields = json_deep_copy(p);
	char *err = NULL;
	int rc;

	json_object_del(fields, "customer");
	rc = im_bill_info_update(c->env->db, I(p, "customer"), fields, c->actor, c->now, &err);
	json_decref(fields);
	if (rc != IM_OK)
		return fail(result, rc, NULL, err);
	*result = json_pack("{s:I,s:b}", "customer", (json_int_t)I(p, "customer"), "updated", 1);
	return IM_OK;
}

static int payment_methods(im_op_ctx *c, json_t *p, json_t **result)
{
	json_t *open = json_array(), *pays = json_array(), *methods;

	if (rows(c->env->db, "SELECT number_text AS reference, currency, total - paid - credited AS balance"
	         " FROM bill_invoice WHERE customer_id = ? AND status = 'open' ORDER BY due", open, "i",
	         I(p, "customer")) != IM_OK ||
	    rows(c->env->db, "SELECT p.ts, p.method, p.ext_ref AS reference, p.amount, p.currency,"
	         " i.number_text AS invoice FROM bill_payment p LEFT JOIN bill_invoice i ON i.id = p.invoice_id"
	         " WHERE p.customer_id = ? ORDER BY p.id DESC LIMIT 50", pays, "i", I(p, "customer")) != IM_OK) {
		json_decref(pays);
		return dbfail(c, result, open);
	}
	add_text(open, "balance");
	add_text(pays, "amount");
	/* Bank transfer quotes the invoice number; card and other processors pay
	 * through the host's payment page (the glue knows its URL). */
	methods = json_pack("[{s:s,s:o},{s:s},{s:s}]", "method", "bank", "open_invoices", open,
	                    "method", "card", "method", "credit");
	*result = json_pack("{s:o,s:o}", "methods", methods, "payments", pays);
	return IM_OK;
}

/* --- staff ---------------------------------------------------------------------- */

static json_t *meter_json(const im_bill_meter_stats *m)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "from", (json_int_t)m->from, "until", (json_int_t)m->until,
	                 "messages", (json_int_t)m->messages, "active", (json_int_t)m->active,
	                 "seats", (json_int_t)m->seats, "storage", (json_int_t)m->storage);
}

/* Meters first, so that a run "now" right after a period's end bills the
 * period's last hours too (otherwise they would be late, never billed). */
static int run_now(im_op_ctx *c, json_t *p, json_t **result)
{
	im_bill_meter_stats m;
	im_bill_run_stats st;
	char *err = NULL;
	int rc;

	(void)p;
	if ((rc = im_bill_meter(c->env->db, c->now, &m, &err)) != IM_OK ||
	    (rc = im_bill_run(c->env->db, c->now, &st, &err)) != IM_OK)
		return fail(result, rc, NULL, err);
	*result = json_pack("{s:I,s:I,s:I,s:o}", "drafted", (json_int_t)st.drafted,
	                    "finalized", (json_int_t)st.finalized, "skipped", (json_int_t)st.skipped,
	                    "metered", meter_json(&m));
	return IM_OK;
}

static const im_param meter_params[] = {
	{ "until", IM_PT_TIME, 0, 0, 0, NULL, "now", "meter whole UTC hours up to this instant (not after now)" },
};

static int meter(im_op_ctx *c, json_t *p, json_t **result)
{
	im_bill_meter_stats m;
	char *err = NULL;
	int rc;

	if (I(p, "until") > c->now)
		return fail(result, IM_EINVAL, "until", strdup("until is in the future: those hours have not happened"));
	if ((rc = im_bill_meter(c->env->db, I(p, "until"), &m, &err)) != IM_OK)
		return fail(result, rc, "until", err);
	*result = meter_json(&m);
	return IM_OK;
}

static const char *const cycles[] = { "monthly", "yearly", NULL };

static const im_param plan_params[] = {
	{ "code", IM_PT_STRING, 1, 0, 64, NULL, NULL, "plan code; a new version if it exists" },
	{ "name", IM_PT_STRING, 1, 0, 120, NULL, NULL, "shown on invoices" },
	{ "currency", IM_PT_STRING, 1, 0, 3, NULL, NULL, "ISO 4217 code" },
	{ "cycle", IM_PT_ENUM, 0, 0, 0, cycles, "monthly", "billing cycle" },
	{ "price", IM_PT_INT, 1, 0, INT64_MAX / 4, NULL, NULL, "per cycle, minor units" },
	{ "seats_included", IM_PT_INT, 0, 0, 1000000000, NULL, "0", "seats in the price" },
	{ "seat_price", IM_PT_INT, 0, 0, INT64_MAX / 4, NULL, "0", "per extra seat per cycle" },
	{ "msg_price_k", IM_PT_INT, 0, 0, INT64_MAX / 4, NULL, "0", "per 1000 messages" },
	{ "storage_price_gb", IM_PT_INT, 0, 0, INT64_MAX / 4, NULL, "0", "per GB of peak storage" },
	{ "retention_days", IM_PT_INT, 0, 0, 36500, NULL, "0", "log retention granted" },
	{ "max_seats", IM_PT_INT, 0, 0, 1000000000, NULL, "0", "seat limit, 0 none" },
	{ "trial_days", IM_PT_INT, 0, 0, 365, NULL, "0", "free days at the start" },
};

static int plan_create(im_op_ctx *c, json_t *p, json_t **result)
{
	im_bill_plan pl = { S(p, "code"), S(p, "name"), S(p, "currency"),
	                    strcmp(S(p, "cycle"), "yearly") == 0 ? 12 : 1, I(p, "price"), I(p, "seats_included"),
	                    I(p, "seat_price"), I(p, "msg_price_k"), I(p, "storage_price_gb"),
	                    I(p, "retention_days"), I(p, "max_seats"), I(p, "trial_days") };
	int64_t id, ver;
	char *err = NULL;
	int rc;

	if ((rc = im_bill_plan_create(c->env->db, &pl, c->now, &id, &ver, &err)) != IM_OK)
		return fail(result, rc, "currency", err);
	*result = json_pack("{s:I,s:s,s:I}", "plan", (json_int_t)id, "code", pl.code, "version", (json_int_t)ver);
	return IM_OK;
}

static const im_param subscribe_params[] = {
	{ "customer", IM_PT_INT, 1, 1, INT64_MAX, NULL, NULL, "customer id" },
	{ "plan", IM_PT_INT, 1, 1, INT64_MAX, NULL, NULL, "plan id (a version)" },
	{ "start", IM_PT_TIME, 0, 0, 0, NULL, "now", "anchor: its local date in zone" },
	{ "zone", IM_PT_STRING, 0, 0, 64, NULL, "UTC", "customer's IANA zone" },
};

static int subscribe(im_op_ctx *c, json_t *p, json_t **result)
{
	int64_t id;
	char *err = NULL;
	int rc;

	if ((rc = im_bill_subscribe(c->env->db, I(p, "customer"), I(p, "plan"), I(p, "start"), S(p, "zone"),
	                            c->now, &id, &err)) != IM_OK)
		return fail(result, rc, "zone", err);
	*result = json_pack("{s:I}", "subscription", (json_int_t)id);
	return IM_OK;
}

static const im_param change_params[] = {
	{ "subscription", IM_PT_INT, 1, 1, INT64_MAX, NULL, NULL, "subscription id" },
	{ "plan", IM_PT_INT, 1, 1, INT64_MAX, NULL, NULL, "new plan id" },
	{ "at", IM_PT_TIME, 0, 0, 0, NULL, "now", "effective from" },
};

static int change_plan(im_op_ctx *c, json_t *p, json_t **result)
{
	char *err = NULL;
	int rc;

	if ((rc = im_bill_change_plan(c->env->db, I(p, "subscription"), I(p, "plan"), I(p, "at"), &err)) != IM_OK)
		return fail(result, rc, "at", err);
	*result = json_pack("{s:I,s:I}", "subscription", (json_int_t)I(p, "subscription"), "plan", (json_int_t)I(p, "plan"));
	return IM_OK;
}

static const im_param cancel_params[] = {
	{ "subscription", IM_PT_INT, 1, 1, INT64_MAX, NULL, NULL, "subscription id" },
	{ "at_period_end", IM_PT_BOOL, 0, 0, 0, NULL, "true", "false: now, the last period prorated" },
};

static int cancel(im_op_ctx *c, json_t *p, json_t **result)
{
	int64_t ends;
	char *err = NULL;
	int rc;

	if ((rc = im_bill_cancel(c->env->db, I(p, "subscription"), json_is_true(json_object_get(p, "at_period_end")),
	                         c->now, &ends, &err)) != IM_OK)
		return fail(result, rc, NULL, err);
	*result = json_pack("{s:I,s:I}", "subscription", (json_int_t)I(p, "subscription"), "ends", (json_int_t)ends);
	return IM_OK;
}

static const char *const metrics[] = { "messages", "storage", "seats", "login", NULL };

static const im_param usage_params[] = {
	{ "event_id", IM_PT_STRING, 1, 0, 128, NULL, NULL, "unique id: repeats are counted once" },
	{ "domain", IM_PT_DOMAIN, 1, 0, 0, NULL, NULL, "host" },
	{ "metric", IM_PT_ENUM, 1, 0, 0, metrics, NULL, "what is measured" },
	{ "user", IM_PT_JID, 0, 0, 0, NULL, NULL, "for login" },
	{ "value", IM_PT_INT, 0, 0, INT64_MAX / 4, NULL, "0", "count, bytes or seats" },
	{ "ts", IM_PT_TIME, 0, 0, 0, NULL, "now", "when" },
};

static int usage(im_op_ctx *c, json_t *p, json_t **result)
{
	char *err = NULL;
	int dup, rc;

	if ((rc = im_bill_usage_record(c->env->db, S(p, "event_id"), S(p, "domain"), S(p, "metric"), S(p, "user"),
	                               I(p, "value"), I(p, "ts"), &dup, &err)) != IM_OK)
		return fail(result, rc, "ts", err);
	*result = json_pack("{s:b}", "duplicate", dup);
	return IM_OK;
}

static const char *const pay_methods[] = { "bank", "card", "processor", "manual", NULL };

static const im_param payment_params[] = {
	{ "customer", IM_PT_INT, 1, 1, INT64_MAX, NULL, NULL, "customer id" },
	{ "invoice", IM_PT_INT, 0, 1, INT64_MAX, NULL, NULL, "invoice id; absent: oldest open first" },
	{ "method", IM_PT_ENUM, 0, 0, 0, pay_methods, "manual", "how it was paid" },
	{ "reference", IM_PT_STRING, 1, 0, 128, NULL, NULL, "unique external reference (bank, processor)" },
	{ "amount", IM_PT_INT, 1, 1, INT64_MAX / 4, NULL, NULL, "minor units" },
	{ "currency", IM_PT_STRING, 1, 0, 3, NULL, NULL, "ISO 4217" },
};

static int payment(im_op_ctx *c, json_t *p, json_t **result)
{
	int64_t id;
	char *err = NULL;
	int dup, rc;

	if ((rc = im_bill_payment(c->env->db, I(p, "customer"), HAS(p, "invoice") ? I(p, "invoice") : 0,
	                          S(p, "method"), S(p, "reference"), I(p, "amount"), S(p, "currency"), c->now,
	                          &id, &dup, &err)) != IM_OK)
		return fail(result, rc, "reference", err);
	*result = json_pack("{s:I,s:b}", "payment", (json_int_t)id, "duplicate", dup);
	return IM_OK;
}

static const im_param refund_params[] = {
	{ "payment", IM_PT_INT, 1, 1, INT64_MAX, NULL, NULL, "payment id" },
	{ "reference", IM_PT_STRING, 1, 0, 128, NULL, NULL, "unique external reference of the refund" },
	{ "amount", IM_PT_INT, 1, 1, INT64_MAX / 4, NULL, NULL, "minor units" },
};

static int refund(im_op_ctx *c, json_t *p, json_t **result)
{
	char *err = NULL;
	int dup, rc;

	if ((rc = im_bill_refund(c->env->db, I(p, "payment"), S(p, "reference"), I(p, "amount"), c->now, &dup,
	                         &err)) != IM_OK)
		return fail(result, rc, "amount", err);
	*result = json_pack("{s:b}", "duplicate", dup);
	return IM_OK;
}

static const im_param credit_note_params[] = {
	{ "invoice", IM_PT_INT, 1, 1, INT64_MAX, NULL, NULL, "invoice id" },
	{ "amount", IM_PT_INT, 1, 1, INT64_MAX / 4, NULL, NULL, "gross, minor units" },
	{ "reason", IM_PT_STRING, 1, 0, 500, NULL, NULL, "why (printed)" },
};

static int credit_note(im_op_ctx *c, json_t *p, json_t **result)
{
	int64_t id;
	char *err = NULL;
	int rc;

	if ((rc = im_bill_credit_note(c->env->db, I(p, "invoice"), I(p, "amount"), S(p, "reason"), c->now, &id,
	                              &err)) != IM_OK)
		return fail(result, rc, "amount", err);
	*result = json_pack("{s:I}", "credit_note", (json_int_t)id);
	return IM_OK;
}

static const char *const marks[] = { "finalize", "void", "uncollectible", NULL };

static const im_param invoice_set_params[] = {
	{ "invoice", IM_PT_INT, 1, 1, INT64_MAX, NULL, NULL, "invoice id" },
	{ "action", IM_PT_ENUM, 1, 0, 0, marks, NULL, "finalize a draft, or mark an open invoice" },
};

static int invoice_set(im_op_ctx *c, json_t *p, json_t **result)
{
	const char *a = S(p, "action");
	char *err = NULL;
	int rc = strcmp(a, "finalize") == 0 ? im_bill_finalize(c->env->db, I(p, "invoice"), c->now, &err)
	                                    : im_bill_invoice_mark(c->env->db, I(p, "invoice"), a, &err);

	if (rc != IM_OK)
		return fail(result, rc, "invoice", err);
	return im_bill_invoice_json(c->env->db, I(p, "invoice"), result, NULL) == IM_OK ? IM_OK : IM_ERR;
}

static const im_param manual_params[] = {
	{ "customer", IM_PT_INT, 1, 1, INT64_MAX, NULL, NULL, "customer id" },
	{ "currency", IM_PT_STRING, 1, 0, 3, NULL, NULL, "ISO 4217" },
	{ "description", IM_PT_STRING, 1, 0, 200, NULL, NULL, "the line" },
	{ "amount", IM_PT_INT, 1, 1, INT64_MAX / 4, NULL, NULL, "net, minor units" },
};

static int manual(im_op_ctx *c, json_t *p, json_t **result)
{
	int64_t id;
	char *err = NULL;
	int rc;

	if ((rc = im_bill_manual_draft(c->env->db, I(p, "customer"), S(p, "currency"), S(p, "description"),
	                               I(p, "amount"), c->now, &id, &err)) != IM_OK)
		return fail(result, rc, "currency", err);
	*result = json_pack("{s:I,s:s}", "invoice", (json_int_t)id, "status", "draft");
	return IM_OK;
}

static const im_param account_params[] = {
	{ "customer", IM_PT_INT, 1, 1, INT64_MAX, NULL, NULL, "customer id" },
	{ "tax_rate_bp", IM_PT_INT, 0, 0, 10000, NULL, NULL, "tax rate in basis points (1900 = 19 %)" },
	{ "reverse_charge", IM_PT_INT, 0, 0, 1, NULL, NULL, "1: EU reverse charge, no tax charged" },
	{ "terms_days", IM_PT_INT, 0, 0, 365, NULL, NULL, "due date = finalization + this" },
	{ "zone", IM_PT_STRING, 0, 0, 64, NULL, NULL, "IANA zone" },
	{ "name", IM_PT_STRING, 0, 0, 200, NULL, NULL, "name on invoices" },
	{ "address", IM_PT_STRING, 0, 0, 1000, NULL, NULL, "postal address" },
	{ "email", IM_PT_STRING, 0, 0, 254, NULL, NULL, "billing e-mail" },
	{ "tax_id", IM_PT_STRING, 0, 0, 64, NULL, NULL, "VAT or tax id" },
};

static const im_param webhook_params[] = {
	{ "provider", IM_PT_STRING, 1, 0, 32, NULL, NULL, "processor name" },
	{ "body", IM_PT_STRING, 1, 0, 65536, NULL, NULL, "raw event body, already verified" },
};

static int webhook(im_op_ctx *c, json_t *p, json_t **result)
{
	const char *outcome = "invalid";
	char *err = NULL;
	int rc = im_bill_webhook_apply(c->env->db, S(p, "provider"), S(p, "body"), c->now, &outcome, &err);

	if (rc != IM_OK)
		return fail(result, rc, "body", err);
	*result = json_pack("{s:s}", "outcome", outcome);
	return IM_OK;
}

static const im_param overdue_params[] = {
	{ "remind_before_days", IM_PT_INT, 0, 0, 60, NULL, "3", "reminder before the due date" },
	{ "remind_after_days", IM_PT_INT, 0, 0, 60, NULL, "1", "reminder after it" },
	{ "restrict_after_days", IM_PT_INT, 0, 0, 365, NULL, "14", "no new users or rooms from due + this" },
	{ "suspend_after_days", IM_PT_INT, 0, 0, 365, NULL, "30", "domains suspended (overdue) from due + this" },
};

static int overdue(im_op_ctx *c, json_t *p, json_t **result)
{
	im_od_policy pol = { (int)I(p, "remind_before_days"), (int)I(p, "remind_after_days"),
	                     (int)I(p, "restrict_after_days"), (int)I(p, "suspend_after_days") };
	static const char *const anames[] = { "remind_before", "remind_after", "restrict", "suspend", "lift" };
	json_t *custs = json_array(), *out = json_array(), *o;
	size_t i;
	int b;

	/* Every customer with an account row or an open invoice. */
	if (rows(c->env->db, "SELECT c.id AS customer, COALESCE(a.overdue_state, 'ok') AS state,"
	         " (SELECT MIN(due) FROM bill_invoice WHERE customer_id = c.id AND status = 'open') AS oldest_due,"
	         " (SELECT id FROM bill_invoice WHERE customer_id = c.id AND status = 'open' ORDER BY due, id LIMIT 1)"
	         " AS oldest_invoice"
	         " FROM customer c LEFT JOIN bill_account a ON a.customer_id = c.id"
	         " WHERE a.overdue_state <> 'ok' OR EXISTS (SELECT 1 FROM bill_invoice WHERE customer_id = c.id"
	         " AND status = 'open')", custs, "") != IM_OK)
		return dbfail(c, result, custs);
	json_array_foreach(custs, i, o) {
		im_od_state from = IM_OD_OK, to;
		unsigned acts;
		json_t *list;
		char sql[320];

		(void)im_od_state_parse(S(o, "state"), &from);
		to = im_overdue_step(&pol, from, I(o, "oldest_due"), c->now, &acts);
		/* The machine raises "before" on every evaluation in its window: send
		 * it once per invoice (bill_reminder's key). */
		if (acts & IM_OA_REMIND_BEFORE) {
			json_t *dummy = json_array();
			if (rows(c->env->db, "INSERT OR IGNORE INTO bill_reminder(invoice_id, kind, sent) VALUES(?, 'before', ?)",
			         dummy, "ii", I(o, "oldest_invoice"), c->now) != IM_OK) {
				json_decref(dummy);
				json_decref(out);
				return dbfail(c, result, custs);
			}
			json_decref(dummy);
			if (sqlite3_changes(c->env->db) == 0)
				acts &= ~(unsigned)IM_OA_REMIND_BEFORE;
		}
		if (acts == 0 && to == from)
			continue;
		list = json_array();
		for (b = 0; b < 5; b++)
			if (acts & (1u << b))
				json_array_append_new(list, json_string(anames[b]));
		json_array_append_new(out, json_pack("{s:I,s:s,s:s,s:o,s:O}", "customer", (json_int_t)I(o, "customer"),
		                                     "from", im_od_state_name(from), "state", im_od_state_name(to),
		                                     "actions", list, "oldest_due", json_object_get(o, "oldest_due")));
		/* The state name comes from im_od_state_name, never from input. */
		snprintf(sql, sizeof sql, "INSERT INTO bill_account(customer_id, overdue_state, updated) VALUES(?, '%s', ?)"
		         " ON CONFLICT(customer_id) DO UPDATE SET overdue_state = excluded.overdue_state", im_od_state_name(to));
		{
			json_t *dummy = json_array();
			if (rows(c->env->db, sql, dummy, "ii", I(o, "customer"), c->now) != IM_OK) {
				json_decref(dummy);
				json_decref(out);
				return dbfail(c, result, custs);
			}
			json_decref(dummy);
		}
	}
	json_decref(custs);
	*result = json_pack("{s:o}", "customers", out);
	return IM_OK;
}

/* --- reports ------------------------------------------------------------------------ */

static const im_param period_params[] = {
	{ "since", IM_PT_TIME, 0, 0, 0, NULL, "-365d", "from (finalization time)" },
	{ "until", IM_PT_TIME, 0, 0, 0, NULL, "now", "until (exclusive)" },
};

static int report(im_op_ctx *c, const char *sql, const char *fmt, int64_t a, int64_t b, const char *money,
                  json_t **result)
{
	json_t *arr = json_array();

	if (rows(c->env->db, sql, arr, fmt, a, b) != IM_OK)
		return dbfail(c, result, arr);
	if (money)
		add_text(arr, money);
	*result = json_pack("{s:o}", "rows", arr);
	return IM_OK;
}

static int revenue(im_op_ctx *c, json_t *p, json_t **result)
{
	/* Net revenue invoiced per UTC month and currency, credit notes deducted
	 * in the month of the invoice (void invoices excluded). */
	return report(c, "SELECT strftime('%Y-%m', finalized, 'unixepoch') AS month, currency,"
	              " COUNT(*) AS invoices, SUM(subtotal) AS net, SUM(tax) AS tax, SUM(credited) AS credited"
	              " FROM bill_invoice WHERE status NOT IN ('draft','void') AND finalized >= ? AND finalized < ?"
	              " GROUP BY month, currency ORDER BY month, currency", "ii", I(p, "since"), I(p, "until"),
	              "net", result);
}

static int mrr(im_op_ctx *c, json_t *p, json_t **result)
{
	(void)p;
	/* Monthly recurring revenue: the current plan's fixed price of every
	 * running subscription, yearly ones / 12 (integer division, per row). */
	return report(c, "SELECT s.currency, COUNT(*) AS subscriptions, SUM(pl.price / s.cycle_months) AS mrr"
	              " FROM bill_subscription s JOIN bill_sub_plan sp ON sp.sub_id = s.id AND sp.from_ts ="
	              " (SELECT MAX(from_ts) FROM bill_sub_plan WHERE sub_id = s.id AND from_ts <= ?1)"
	              " JOIN bill_plan pl ON pl.id = sp.plan_id WHERE (s.ends IS NULL OR s.ends > ?1)"
	              " AND s.start <= ?1 GROUP BY s.currency ORDER BY s.currency", "i", c->now, 0, "mrr", result);
}

static const im_param open_params[] = {
	{ "after_id", IM_PT_INT, 0, 0, INT64_MAX, NULL, NULL, "page by invoice id: only ids above this, in id order" },
	{ "limit", IM_PT_INT, 0, 1, 100000, NULL, NULL, "at most this many rows" },
};

/* Without after_id: every open invoice, oldest due first (the staff report).
 * With it: pages in id order, so the glue can announce 10,000 newly
 * finalized invoices a few hundred at a time instead of decoding them all in
 * one go on Prosody's event loop (bench "billing": 0.4 s stall otherwise). */
static int open_invoices(im_op_ctx *c, json_t *p, json_t **result)
{
	int64_t limit = HAS(p, "limit") ? I(p, "limit") : -1;   /* SQLite: negative = no limit */

	if (HAS(p, "after_id")) {
		json_t *arr = json_array();
		if (rows(c->env->db, "SELECT i.id, i.number_text AS number, i.customer_id AS customer, c.name, i.currency,"
		         " i.total - i.paid - i.credited AS balance, i.due, CASE WHEN i.due < ?1 THEN 1 ELSE 0 END"
		         " AS overdue FROM bill_invoice i JOIN customer c ON c.id = i.customer_id"
		         " WHERE i.status = 'open' AND i.id > ?2 ORDER BY i.id LIMIT ?3", arr, "iii", c->now,
		         I(p, "after_id"), limit) != IM_OK)
			return dbfail(c, result, arr);
		add_text(arr, "balance");
		*result = json_pack("{s:o}", "rows", arr);
		return IM_OK;
	}
	return report(c, "SELECT i.id, i.number_text AS number, i.customer_id AS customer, c.name, i.currency,"
	              " i.total - i.paid - i.credited AS balance, i.due, CASE WHEN i.due < ?1 THEN 1 ELSE 0 END AS overdue"
	              " FROM bill_invoice i JOIN customer c ON c.id = i.customer_id WHERE i.status = 'open'"
	              " ORDER BY i.due, i.id LIMIT ?2", "ii", c->now, limit, "balance", result);
}

static int usage_report(im_op_ctx *c, json_t *p, json_t **result)
{
	return report(c, "SELECT domain, metric, CASE metric WHEN 'messages' THEN SUM(value) ELSE MAX(value) END AS value"
	              " FROM bill_usage WHERE bucket >= ? AND bucket < ? GROUP BY domain, metric ORDER BY domain, metric",
	              "ii", I(p, "since"), I(p, "until"), NULL, result);
}

/* --- declarations ----------------------------------------------------------------------- */

/* Customer-facing: scope "customer"; titles are the ad-hoc command names. */
const im_op im_op_billing_overview = { "billing.overview", "Billing overview", "billing.self", 0, 0,
	P(customer_param), overview, "customer", 0 };
const im_op im_op_billing_invoices = { "billing.invoices", "My invoices", "billing.self", 0, 0,
	P(invoices_params), invoices, "customer", 0 };
const im_op im_op_billing_statement = { "billing.statement", "Download statement", "billing.self", 0, 1,
	P(statement_params), statement, "customer", 0 };
const im_op im_op_billing_info = { "billing.info", "Update billing information", "billing.self", 1, 0,
	P(info_params), info, "customer", 0 };
const im_op im_op_billing_payment_methods = { "billing.payment_methods", "Payment methods", "billing.self", 0, 0,
	P(customer_param), payment_methods, "customer", 0 };
/* Staff. */
const im_op im_op_billing_run = { "billing.run", "Run billing now (idempotent)", "billing.manage", 1, 1,
	NOP, run_now, NULL, 0 };
const im_op im_op_billing_meter = { "billing.meter", "Meter usage from the logs and accounts (idempotent)",
	"billing.manage", 1, 1, P(meter_params), meter, NULL, 0 };
const im_op im_op_billing_plan_create = { "billing.plan_create", "Create a plan or a new plan version",
	"billing.manage", 1, 0, P(plan_params), plan_create, NULL, 0 };
const im_op im_op_billing_subscribe = { "billing.subscribe", "Subscribe a customer to a plan", "billing.manage", 1, 0,
	P(subscribe_params), subscribe, "customer", 0 };
const im_op im_op_billing_change_plan = { "billing.change_plan", "Upgrade or downgrade (prorated)",
	"billing.manage", 1, 0, P(change_params), change_plan, NULL, 0 };
const im_op im_op_billing_cancel = { "billing.cancel", "Cancel a subscription", "billing.manage", 1, 0,
	P(cancel_params), cancel, NULL, 0 };
const im_op im_op_billing_usage = { "billing.usage", "Record a metering event (glue)", "internal", 1, 0,
	P(usage_params), usage, NULL, 0 };
const im_op im_op_billing_payment = { "billing.payment", "Record a payment", "billing.manage", 1, 0,
	P(payment_params), payment, "customer", 0 };
const im_op im_op_billing_refund = { "billing.refund", "Refund (part of) a payment", "billing.manage", 1, 0,
	P(refund_params), refund, NULL, 0 };
const im_op im_op_billing_credit_note = { "billing.credit_note", "Issue a credit note", "billing.manage", 1, 0,
	P(credit_note_params), credit_note, NULL, 0 };
const im_op im_op_billing_invoice_set = { "billing.invoice_set", "Finalize, void or write off an invoice",
	"billing.manage", 1, 0, P(invoice_set_params), invoice_set, NULL, 0 };
const im_op im_op_billing_invoice_create = { "billing.invoice_create", "Create a manual draft invoice",
	"billing.manage", 1, 0, P(manual_params), manual, "customer", 0 };
const im_op im_op_billing_account = { "billing.account", "Set a customer's tax rate, terms and billing info",
	"billing.manage", 1, 0, P(account_params), info, "customer", 0 };
const im_op im_op_billing_webhook = { "billing.webhook", "Apply a verified payment processor event (glue)",
	"internal", 1, 0, P(webhook_params), webhook, NULL, 0 };
const im_op im_op_billing_overdue = { "billing.overdue", "Evaluate overdue customers (returns actions)",
	"billing.manage", 1, 0, P(overdue_params), overdue, NULL, 0 };
const im_op im_op_billing_report_revenue = { "billing.report_revenue", "Revenue per month", "billing.read", 0, 1,
	P(period_params), revenue, NULL, 0 };
const im_op im_op_billing_report_mrr = { "billing.report_mrr", "Monthly recurring revenue", "billing.read", 0, 0,
	NOP, mrr, NULL, 0 };
const im_op im_op_billing_report_open = { "billing.report_open", "Open and overdue invoices", "billing.read", 0, 0,
	P(open_params), open_invoices, NULL, 0 };
const im_op im_op_billing_report_usage = { "billing.report_usage", "Usage per domain", "billing.read", 0, 1,
	P(period_params), usage_report, NULL, 0 };
