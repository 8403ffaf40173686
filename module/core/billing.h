/*
 * billing.h — the billing engine: plans, subscriptions, usage, the invoice run,
 * numbering, taxes, credit notes, payments, webhooks, overdue, statements.
 *
 * Tables are created by the billing migration step (migrations.c, tables
 * bill_*); customers are accounts.h's customer(id), domains its domain(name,
 * customer_id).  All functions take the caller's own connection (not shared
 * between threads), use prepared statements only, and run every read-then-write
 * sequence inside BEGIN IMMEDIATE.  They return IM_OK or an IM_* code; when err
 * is not NULL a failure leaves a malloc'd message there the caller frees.
 * JSON handed back is a new reference.  Money is int64 minor units of the
 * row's currency (money.h); time is UTC epoch seconds.
 *
 * Documented rules (the help articles should say exactly this):
 *  - Periods come from the subscription's anchor (billing_calendar.h).
 *  - Invoices are issued in arrears, when a period has ended: the fixed fee per
 *    plan segment prorated by seconds (one line per segment), extra seats,
 *    messages and storage of the period priced with the plan in effect at the
 *    period's end.  Upgrades and downgrades therefore need no credit: each
 *    plan is charged exactly for the seconds it was in effect.
 *  - Tax: per line, tax = amount * rate_bp / 10000 rounded half away from zero;
 *    invoice subtotal, tax and total are sums of the rounded lines.
 *    Reverse charge: rate 0 and a note on the invoice.
 *  - Late usage: an event for a time before the end of the customer's last
 *    invoiced period is refused (IM_EINVAL "late") and never billed; the run
 *    invoices a period only once it has ended, so events up to the next run
 *    are counted.
 *  - Metering (billing_meter.c): usage comes from what the server already
 *    records, not from extra hooks.  Every completed UTC hour is metered once
 *    (a watermark in the same transaction): messages = rollup_hour.messages of
 *    the domain, summed, in the period containing the hour's start; active
 *    users = users with a login (log_session, the source of
 *    rollup_user_day.logins) in the period, counted once per period; seats =
 *    the domain's account rows and storage = the bytes of the domain's logged
 *    messages still stored (SUM(log_message.size)), each a snapshot at metering
 *    time, billed as the maximum over the period's snapshots.  The server
 *    meters daily and before every billing run; billing.run meters first.
 *  - Numbers: finalizing assigns the next number of series "INV-<UTC year>"
 *    inside the finalize transaction; credit notes use "CN-<UTC year>".
 */
#ifndef IMHOST_BILLING_H
#define IMHOST_BILLING_H

#include <stdint.h>
#include <sqlite3.h>
#include <jansson.h>

/* --- plans (billing_plans.c) -------------------------------------------------- */

typedef struct {
	const char *code;          /* stable name, "pro"; versions share it */
	const char *name;          /* shown on invoices */
	const char *currency;      /* ISO 4217, money.h */
	int cycle_months;          /* 1 or 12 */
	int64_t price;             /* per cycle */
	int64_t seats_included;
	int64_t seat_price;        /* per extra seat per cycle */
	int64_t msg_price_k;       /* per 1000 messages */
	int64_t storage_price_gb;  /* per GB (10^9 bytes) of peak storage */
	int64_t retention_days;    /* log retention the plan grants, 0 = host default */
	int64_t max_seats;         /* limit, 0 = none */
	int64_t trial_days;
} im_bill_plan;

/* Creates a new version of plan p->code (version 1 for a new code).  Existing
 * subscriptions keep the version they are on.  *id is the new row. */
int im_bill_plan_create(sqlite3 *db, const im_bill_plan *p, int64_t now, int64_t *id,
                        int64_t *version, char **err);

/* --- subscriptions --------------------------------------------------------------- */

/* Subscribes customer to plan_id from start, anchored on start's local date
 * in zone; a trial of the plan's trial_days is free.  *id the subscription. */
int im_bill_subscribe(sqlite3 *db, int64_t customer, int64_t plan_id, int64_t start,
                      const char *zone, int64_t now, int64_t *id, char **err);

/* Moves a subscription to plan_id from instant at (>= the start of its first
 * uninvoiced period; same currency).  History before at is untouched. */
int im_bill_change_plan(sqlite3 *db, int64_t sub, int64_t plan_id, int64_t at, char **err);

/* Cancels: at_period_end ? at the end of the period containing now : at now.
 * The last (partial) period is prorated.  *ends the service end. */
int im_bill_cancel(sqlite3 *db, int64_t sub, int at_period_end, int64_t now, int64_t *ends,
                   char **err);

/* --- usage (billing_usage.c) ------------------------------------------------------ */

/* Records one metering event: metric "messages" (value summed), "storage"
 * (bytes, maximum), "seats" (maximum) or "login" (user counted once per
 * period).  event_id deduplicates: a repeat returns IM_OK with *dup = 1.
 * Late events (see above) give IM_EINVAL. */
int im_bill_usage_record(sqlite3 *db, const char *event_id, const char *domain,
                         const char *metric, const char *user, int64_t value, int64_t ts,
                         int *dup, char **err);

typedef struct {
	int64_t messages, storage, seats, active_users;
} im_bill_usage;

/* Usage of customer's domains in [from, until). */
int im_bill_usage_get(sqlite3 *db, int64_t customer, int64_t from, int64_t until,
                      im_bill_usage *u, char **err);

/* Meters usage from the rollups, log and accounts (the rule above) for every
 * whole UTC hour in [watermark, until rounded down to the hour), then moves the
 * watermark to there, all in one transaction: a rerun, a crash or a second
 * process meters each hour once.  until > now is the caller's mistake (the
 * hour has not happened); the op passes now.  Uses a TEMP table of db's
 * connection for the storage snapshot.  The event id "meter:until" of
 * bill_usage_event is the watermark (im_bill_usage_record refuses "meter:*"). */
typedef struct {
	int64_t from, until;                       /* the window metered; from == until: nothing */
	int64_t messages, active, seats, storage;  /* usage rows written per metric */
} im_bill_meter_stats;

int im_bill_meter(sqlite3 *db, int64_t until, im_bill_meter_stats *st, char **err);

/* --- the invoice run (billing_run.c) ------------------------------------------------ */

typedef struct {
	int64_t drafted;     /* invoices created by this run */
	int64_t finalized;   /* invoices numbered by this run */
	int64_t skipped;     /* periods another process had already invoiced */
} im_bill_run_stats;

/* Invoices every ended, uninvoiced period up to now (each missed period once),
 * then finalizes all drafts of the run.  Safe to run twice at once, from two
 * processes, or after a crash at any point. */
int im_bill_run(sqlite3 *db, int64_t now, im_bill_run_stats *st, char **err);

/* Finalizes one draft in its own transaction: number, bill-to snapshot, due
 * date, account credit applied.  IM_EINVAL when it is not a draft. */
int im_bill_finalize(sqlite3 *db, int64_t invoice, int64_t now, char **err);

/* A manual draft invoice with one line (staff corrections, one-off fees). */
int im_bill_manual_draft(sqlite3 *db, int64_t customer, const char *currency,
                         const char *description, int64_t amount, int64_t now, int64_t *id,
                         char **err);

/* Sets a finalized, unpaid invoice void or uncollectible (keeps its number). */
int im_bill_invoice_mark(sqlite3 *db, int64_t invoice, const char *status, char **err);

/* --- payments, credit notes, credit (billing_pay.c) ------------------------------------ */

/* Records a payment of amount (> 0) with a unique external reference.
 * invoice 0: applied to the customer's oldest open invoices in its currency;
 * what is left becomes account credit.  method: bank|card|processor|manual.
 * A repeated ext_ref with the same amount is IM_OK, *dup = 1 (idempotent);
 * with another amount IM_EINVAL. */
int im_bill_payment(sqlite3 *db, int64_t customer, int64_t invoice, const char *method,
                    const char *ext_ref, int64_t amount, const char *currency, int64_t now,
                    int64_t *payment, int *dup, char **err);

/* Refunds amount of payment (sum of refunds <= the payment): taken from the
 * credit the payment created first, then from the invoices it paid, which
 * reopen.  ext_ref unique as for payments. */
int im_bill_refund(sqlite3 *db, int64_t payment, const char *ext_ref, int64_t amount,
                   int64_t now, int *dup, char **err);

/* Issues a credit note of amount (gross, > 0) against a finalized invoice:
 * never more than total - credited so far.  An open invoice's balance falls
 * (paid when it reaches 0); what exceeds the balance becomes account credit. */
int im_bill_credit_note(sqlite3 *db, int64_t invoice, int64_t amount, const char *reason,
                        int64_t now, int64_t *id, char **err);

/* Customer's credit balance in currency. */
int im_bill_credit_balance(sqlite3 *db, int64_t customer, const char *currency, int64_t *bal);

/* --- webhooks (billing_pay.c) ------------------------------------------------------- */

/* Applies a verified processor event (verify with billing_hmac.h first):
 * {"id","type","data":{"customer","invoice"?,"amount","currency","ref",
 * "payment_ref"?}} with type payment.succeeded | refund.succeeded |
 * payment.failed.  The event id is recorded in the same transaction as its
 * effect: a duplicate does nothing (*outcome "duplicate").  A refund for a
 * payment not yet seen gives IM_EBUSY ("retry": the processor redelivers). */
int im_bill_webhook_apply(sqlite3 *db, const char *provider, const char *body, int64_t now,
                          const char **outcome, char **err);

/* --- billing information ------------------------------------------------------------- */

/* Sets a customer's billing info fields present in info (name, address,
 * email, tax_id, tax_rate_bp, reverse_charge, terms_days, zone); the before
 * and after are appended to bill_info_log by actor. */
int im_bill_info_update(sqlite3 *db, int64_t customer, json_t *info, const char *actor,
                        int64_t now, char **err);

/* --- overdue (billing_overdue.c) ---------------------------------------------------- */

#include "billing_overdue.h"

/* --- statements (billing_statement.c) -------------------------------------------------- */

/* One invoice as JSON (header, lines, tax breakdown, payments, credit notes). */
int im_bill_invoice_json(sqlite3 *db, int64_t invoice, json_t **out, char **err);

/* Renders an invoice JSON as printable HTML (provider is shown as issuer,
 * every string escaped), plain text, or a customer's invoices as CSV.
 * Malloc'd NUL-terminated text; NULL when out of memory. */
char *im_bill_render_html(json_t *invoice, json_t *provider);
char *im_bill_render_text(json_t *invoice);
int im_bill_statement_csv(sqlite3 *db, int64_t customer, char **csv, char **err);

#endif
