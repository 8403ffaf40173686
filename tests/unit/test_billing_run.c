/*
 * test_billing_run.c — the billing engine against a real database with an
 * injected clock: downtime across three periods billed once each, the clock
 * stepping back, proration both ways, trial, cancel, tax rounding and the sum
 * of lines, zero- and three-decimal currencies, usage metering (dedup, unique
 * users, late events), credit notes never exceeding their invoice, payments
 * (partial, over -> credit, refund, unique reference), webhook events
 * (duplicate, out of order), statements (escaping), concurrency (two runs at
 * once; 1,000 finalizations from four threads -> 1..1000) and a crash test
 * (SIGKILL at random points, then a rerun leaves a gapless, consistent ledger).
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "billing.h"
#include "imhost.h"
#include "fixture.h"
#include "money.h"

#define DAY 86400LL

static int setup(void **state)
{
	fx *f = fx_new("bill", FX_OPEN);

	*state = f;
	return 0;
}

/* Customer id with one domain "c<id>.example". */
static void customer(sqlite3 *db, int64_t id)
{
	char s[256];

	snprintf(s, sizeof s, "INSERT INTO customer(id, name, created) VALUES(%lld, 'Cust %lld', 0);"
	         "INSERT INTO domain(name, customer_id, created) VALUES('c%lld.example', %lld, 0);",
	         (long long)id, (long long)id, (long long)id, (long long)id);
	fx_exec(db, s);
}

static int64_t plan(sqlite3 *db, const char *code, const char *cur, int64_t price)
{
	im_bill_plan p = { code, code, cur, 1, price, 0, 0, 0, 0, 0, 0, 0 };
	int64_t id, ver;

	assert_int_equal(im_bill_plan_create(db, &p, 0, &id, &ver, NULL), IM_OK);
	return id;
}

static int64_t subscribe(sqlite3 *db, int64_t cust, int64_t pl, int64_t start, const char *zone)
{
	int64_t id;
	char *err = NULL;

	if (im_bill_subscribe(db, cust, pl, start, zone, start, &id, &err) != IM_OK)
		fail_msg("subscribe: %s", err);
	return id;
}

/* Every finalized invoice: subtotal = sum of line amounts, tax = sum of line
 * taxes, total = subtotal + tax; numbers of each series 1..n without gap;
 * no two invoices for one period; credited <= total. */
static void ledger_consistent(sqlite3 *db)
{
	assert_int_equal(fx_q_int(db, "SELECT COUNT(*) FROM bill_invoice i WHERE subtotal <> "
	                        "(SELECT COALESCE(SUM(amount),0) FROM bill_line WHERE invoice_id = i.id) OR tax <> "
	                        "(SELECT COALESCE(SUM(tax),0) FROM bill_line WHERE invoice_id = i.id) "
	                        "OR total <> subtotal + tax"), 0);
	assert_int_equal(fx_q_int(db, "SELECT COUNT(*) FROM (SELECT series, MAX(number) m, COUNT(*) c, "
	                        "COUNT(DISTINCT number) d FROM bill_invoice WHERE number IS NOT NULL "
	                        "GROUP BY series) WHERE m <> c OR d <> c"), 0);
	assert_int_equal(fx_q_int(db, "SELECT COUNT(*) FROM bill_series s WHERE last <> "
	                        "(SELECT COUNT(*) FROM bill_invoice WHERE series = s.name) AND name LIKE 'INV-%'"), 0);
	assert_int_equal(fx_q_int(db, "SELECT COUNT(*) FROM (SELECT sub_id, period_start, COUNT(*) c FROM bill_invoice "
	                        "WHERE kind = 'period' GROUP BY sub_id, period_start) WHERE c > 1"), 0);
	assert_int_equal(fx_q_int(db, "SELECT COUNT(*) FROM bill_invoice WHERE status <> 'draft' AND number IS NULL"), 0);
	assert_int_equal(fx_q_int(db, "SELECT COUNT(*) FROM bill_invoice WHERE credited > total"), 0);
}

static void test_downtime_and_clock_back(void **state)
{
	fx *f = *state;
	int64_t pl, sub;
	im_bill_run_stats st;

	customer(f->db, 1);
	pl = plan(f->db, "basic", "EUR", 1000);
	sub = subscribe(f->db, 1, pl, fx_utc(2027, 1, 31, 10), "Europe/Berlin");
	(void)sub;
	st = fx_bill_run(f->db, fx_utc(2027, 2, 15, 0));   /* first period not over */
	assert_int_equal(st.drafted, 0);
	/* Down from mid-February to May 5: three periods ended (Jan 31 - Feb 28,
	 * Feb 28 - Mar 31, Mar 31 - Apr 30, local), each billed once. */
	st = fx_bill_run(f->db, fx_utc(2027, 5, 5, 0));
	assert_int_equal(st.drafted, 3);
	assert_int_equal(st.finalized, 3);
	assert_int_equal(fx_q_int(f->db, "SELECT COUNT(*) FROM bill_invoice"), 3);
	assert_int_equal(fx_q_int(f->db, "SELECT period_start FROM bill_invoice WHERE number = 2"), fx_utc(2027, 2, 27, 23));
	assert_int_equal(fx_q_int(f->db, "SELECT period_end FROM bill_invoice WHERE number = 2"), fx_utc(2027, 3, 30, 22));
	assert_int_equal(fx_q_int(f->db, "SELECT COUNT(*) FROM bill_invoice WHERE total = 1000 AND status = 'open'"), 3);
	assert_int_equal(fx_q_int(f->db, "SELECT COUNT(*) FROM bill_invoice WHERE number_text = 'INV-2027-000003'"), 1);
	/* Rerun, twice in one second: nothing. */
	st = fx_bill_run(f->db, fx_utc(2027, 5, 5, 0));
	assert_int_equal(st.drafted + st.finalized, 0);
	/* The clock steps back to March: nothing created, nothing removed. */
	st = fx_bill_run(f->db, fx_utc(2027, 3, 1, 0));
	assert_int_equal(st.drafted + st.finalized, 0);
	assert_int_equal(fx_q_int(f->db, "SELECT COUNT(*) FROM bill_invoice"), 3);
	/* Forward again: only May's period is new. */
	st = fx_bill_run(f->db, fx_utc(2027, 6, 1, 0));
	assert_int_equal(st.drafted, 1);
	/* Finalized invoices are immutable and never deleted. */
	assert_int_not_equal(sqlite3_exec(f->db, "UPDATE bill_invoice SET total = 1 WHERE number = 1", NULL, NULL, NULL), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(f->db, "DELETE FROM bill_invoice WHERE number = 1", NULL, NULL, NULL), SQLITE_OK);
	ledger_consistent(f->db);
}

static void test_proration_both_ways(void **state)
{
	fx *f = *state;
	int64_t a, b, sub;
	char *err = NULL;

	customer(f->db, 1);
	a = plan(f->db, "small", "EUR", 1000);
	b = plan(f->db, "large", "EUR", 4000);
	sub = subscribe(f->db, 1, a, fx_utc(2027, 1, 1, 9), "UTC");
	/* Upgrade after 10 of January's 31 days. */
	assert_int_equal(im_bill_change_plan(f->db, sub, b, fx_utc(2027, 1, 11, 0), &err), IM_OK);
	fx_bill_run(f->db, fx_utc(2027, 2, 1, 0));
	assert_int_equal(fx_q_int(f->db, "SELECT amount FROM bill_line WHERE pos = 1"), 323);    /* 1000*10/31 = 322.58 */
	assert_int_equal(fx_q_int(f->db, "SELECT amount FROM bill_line WHERE pos = 2"), 2710);   /* 4000*21/31 = 2709.68 */
	assert_int_equal(fx_q_int(f->db, "SELECT total FROM bill_invoice"), 3033);
	/* A change inside an invoiced period is refused: history is not rewritten. */
	assert_int_equal(im_bill_change_plan(f->db, sub, a, fx_utc(2027, 1, 20, 0), &err), IM_EINVAL);
	free(err);
	err = NULL;
	/* Downgrade halfway through February (14 of 28 days). */
	assert_int_equal(im_bill_change_plan(f->db, sub, a, fx_utc(2027, 2, 15, 0), &err), IM_OK);
	fx_bill_run(f->db, fx_utc(2027, 3, 1, 0));
	assert_int_equal(fx_q_int(f->db, "SELECT total FROM bill_invoice WHERE number = 2"), 2500);
	/* Plans are versioned: a new version leaves the subscription on its own. */
	{
		im_bill_plan p2 = { "small", "small", "EUR", 1, 9999, 0, 0, 0, 0, 0, 0, 0 };
		int64_t id, ver;
		assert_int_equal(im_bill_plan_create(f->db, &p2, 0, &id, &ver, NULL), IM_OK);
		assert_int_equal(ver, 2);
	}
	fx_bill_run(f->db, fx_utc(2027, 4, 1, 0));
	assert_int_equal(fx_q_int(f->db, "SELECT total FROM bill_invoice WHERE number = 3"), 1000);
	/* Another currency is never mixed in. */
	{
		int64_t usd = plan(f->db, "usd", "USD", 100);
		assert_int_equal(im_bill_change_plan(f->db, sub, usd, fx_utc(2027, 4, 10, 0), &err), IM_EINVAL);
		free(err);
		err = NULL;
	}
	/* Cancel now (April 16: 15 of 30 days) -> the last period is prorated. */
	{
		int64_t ends;
		assert_int_equal(im_bill_cancel(f->db, sub, 0, fx_utc(2027, 4, 16, 0), &ends, &err), IM_OK);
		assert_int_equal(ends, fx_utc(2027, 4, 16, 0));
		fx_bill_run(f->db, fx_utc(2027, 6, 1, 0));
		assert_int_equal(fx_q_int(f->db, "SELECT COUNT(*) FROM bill_invoice"), 4);
		assert_int_equal(fx_q_int(f->db, "SELECT total FROM bill_invoice WHERE number = 4"), 500);
		assert_int_equal(fx_q_int(f->db, "SELECT period_end FROM bill_invoice WHERE number = 4"), fx_utc(2027, 4, 16, 0));
	}
	ledger_consistent(f->db);
}

static void test_trial(void **state)
{
	fx *f = *state;
	im_bill_plan p = { "trial", "Trial plan", "EUR", 1, 3000, 0, 0, 0, 0, 0, 0, 10 };
	int64_t id, ver;

	customer(f->db, 1);
	assert_int_equal(im_bill_plan_create(f->db, &p, 0, &id, &ver, NULL), IM_OK);
	subscribe(f->db, 1, id, fx_utc(2027, 4, 1, 0), "UTC");
	fx_bill_run(f->db, fx_utc(2027, 5, 1, 0));
	/* 10 free days of 30: 3000 * 20/30 = 2000. */
	assert_int_equal(fx_q_int(f->db, "SELECT total FROM bill_invoice"), 2000);
}

static void test_tax_usage_currencies(void **state)
{
	fx *f = *state;
	im_bill_plan p = { "meter", "Metered", "EUR", 1, 999, 2, 250, 15, 100, 0, 0, 0 };
	json_t *info;
	int64_t id, ver;
	int dup;
	char *err = NULL;

	customer(f->db, 1);
	info = json_pack("{s:i,s:s,s:s}", "tax_rate_bp", 1900, "name", "ACME <GmbH>", "tax_id", "DE123");
	assert_int_equal(im_bill_info_update(f->db, 1, info, "owner@c1.example", 0, NULL), IM_OK);
	json_decref(info);
	assert_int_equal(im_bill_plan_create(f->db, &p, 0, &id, &ver, NULL), IM_OK);
	subscribe(f->db, 1, id, fx_utc(2027, 1, 1, 0), "UTC");
	/* Usage: 3 distinct users (one twice), seats peak 5, 12345 messages, 1.5 GB. */
	assert_int_equal(im_bill_usage_record(f->db, "e1", "c1.example", "login", "a@c1.example", 0, fx_utc(2027, 1, 2, 0), &dup, NULL), IM_OK);
	assert_int_equal(im_bill_usage_record(f->db, "e2", "c1.example", "login", "b@c1.example", 0, fx_utc(2027, 1, 3, 0), &dup, NULL), IM_OK);
	assert_int_equal(im_bill_usage_record(f->db, "e3", "c1.example", "login", "a@c1.example", 0, fx_utc(2027, 1, 9, 0), &dup, NULL), IM_OK);
	assert_int_equal(im_bill_usage_record(f->db, "e4", "c1.example", "login", "c@c1.example", 0, fx_utc(2027, 1, 9, 0), &dup, NULL), IM_OK);
	assert_int_equal(im_bill_usage_record(f->db, "e5", "c1.example", "seats", NULL, 5, fx_utc(2027, 1, 9, 0), &dup, NULL), IM_OK);
	assert_int_equal(im_bill_usage_record(f->db, "e6", "c1.example", "seats", NULL, 3, fx_utc(2027, 1, 20, 0), &dup, NULL), IM_OK);
	assert_int_equal(im_bill_usage_record(f->db, "e7", "c1.example", "messages", NULL, 12000, fx_utc(2027, 1, 9, 0), &dup, NULL), IM_OK);
	assert_int_equal(im_bill_usage_record(f->db, "e8", "c1.example", "messages", NULL, 345, fx_utc(2027, 1, 9, 0), &dup, NULL), IM_OK);
	assert_int_equal(im_bill_usage_record(f->db, "e8", "c1.example", "messages", NULL, 345, fx_utc(2027, 1, 9, 0), &dup, NULL), IM_OK);
	assert_int_equal(dup, 1);   /* same event id: counted once */
	assert_int_equal(im_bill_usage_record(f->db, "e9", "c1.example", "storage", NULL, 1500000000, fx_utc(2027, 1, 9, 0), &dup, NULL), IM_OK);
	assert_int_equal(im_bill_usage_record(f->db, "e10", "c1.example", "bogus", NULL, 1, fx_utc(2027, 1, 9, 0), &dup, &err), IM_EINVAL);
	free(err);
	err = NULL;
	fx_bill_run(f->db, fx_utc(2027, 2, 1, 0));
	/* Lines: 9.99 (tax 1.8981 -> 1.90), seats 3 x 2.50 = 7.50 (1.425 -> 1.43),
	 * messages 12345 * 0.15/1000 = 1.85175 -> 1.85 (0.3515 -> 0.35),
	 * storage 1.5 GB x 1.00 = 1.50 (0.285 -> 0.29). */
	assert_int_equal(fx_q_int(f->db, "SELECT tax FROM bill_line WHERE pos = 1"), 190);
	assert_int_equal(fx_q_int(f->db, "SELECT amount FROM bill_line WHERE pos = 2"), 750);
	assert_int_equal(fx_q_int(f->db, "SELECT tax FROM bill_line WHERE pos = 2"), 143);
	assert_int_equal(fx_q_int(f->db, "SELECT amount FROM bill_line WHERE pos = 3"), 185);
	assert_int_equal(fx_q_int(f->db, "SELECT tax FROM bill_line WHERE pos = 3"), 35);
	assert_int_equal(fx_q_int(f->db, "SELECT amount FROM bill_line WHERE pos = 4"), 150);
	assert_int_equal(fx_q_int(f->db, "SELECT tax FROM bill_line WHERE pos = 4"), 29);
	/* Per-line rounding: 397 tax, not round(2084 * 0.19) = 396. */
	assert_int_equal(fx_q_int(f->db, "SELECT tax FROM bill_invoice"), 397);
	assert_int_equal(fx_q_int(f->db, "SELECT total FROM bill_invoice"), 2084 + 397);
	assert_int_equal(fx_q_int(f->db, "SELECT active_users FROM bill_invoice"), 3);
	/* Late usage for the invoiced January is refused. */
	assert_int_equal(im_bill_usage_record(f->db, "late1", "c1.example", "messages", NULL, 5, fx_utc(2027, 1, 30, 0), &dup, &err), IM_EINVAL);
	free(err);
	err = NULL;
	/* The bill-to snapshot is kept; later info changes do not rewrite it. */
	info = json_pack("{s:s}", "name", "New Name");
	assert_int_equal(im_bill_info_update(f->db, 1, info, "owner@c1.example", 1, NULL), IM_OK);
	json_decref(info);
	assert_int_equal(fx_q_int(f->db, "SELECT COUNT(*) FROM bill_invoice WHERE bill_to LIKE '%ACME <GmbH>%'"), 1);
	assert_int_equal(fx_q_int(f->db, "SELECT COUNT(*) FROM bill_info_log"), 2);
	assert_int_not_equal(sqlite3_exec(f->db, "DELETE FROM bill_info_log", NULL, NULL, NULL), SQLITE_OK);
	/* Statement renderings: escaped HTML, CSV, text with the one formatter. */
	{
		json_t *inv = NULL, *prov = json_pack("{s:s,s:s}", "name", "Host & Co", "address", "1 Road");
		char *html, *text, *csvs = NULL;
		assert_int_equal(im_bill_invoice_json(f->db, 1, &inv, NULL), IM_OK);
		html = im_bill_render_html(inv, prov);
		text = im_bill_render_text(inv);
		assert_non_null(html);
		assert_non_null(strstr(html, "ACME &lt;GmbH&gt;"));
		assert_null(strstr(html, "<GmbH>"));
		assert_non_null(strstr(html, "Host &amp; Co"));
		assert_non_null(strstr(html, "24.81 EUR"));
		assert_non_null(strstr(text, "Total 24.81 EUR"));
		assert_int_equal(im_bill_statement_csv(f->db, 1, &csvs, NULL), IM_OK);
		assert_non_null(strstr(csvs, "\"INV-2027-000001\",\"open\",2027-01-01,2027-02-01,"));
		assert_non_null(strstr(csvs, ",20.84,3.97,24.81,0.00,0.00,24.81\r\n"));
		free(html);
		free(text);
		free(csvs);
		json_decref(inv);
		json_decref(prov);
	}
	ledger_consistent(f->db);
}

static void test_zero_and_three_decimals(void **state)
{
	fx *f = *state;
	json_t *info = json_pack("{s:i}", "tax_rate_bp", 1000);
	int64_t jpy, kwd;

	customer(f->db, 1);
	customer(f->db, 2);
	assert_int_equal(im_bill_info_update(f->db, 1, info, "x", 0, NULL), IM_OK);
	assert_int_equal(im_bill_info_update(f->db, 2, info, "x", 0, NULL), IM_OK);
	json_decref(info);
	jpy = plan(f->db, "jp", "JPY", 1005);     /* 1005 yen */
	kwd = plan(f->db, "kw", "KWD", 12345);    /* 12.345 KWD */
	subscribe(f->db, 1, jpy, fx_utc(2027, 1, 1, 0), "Asia/Tokyo");
	subscribe(f->db, 2, kwd, fx_utc(2027, 1, 1, 0), "Asia/Kuwait");
	fx_bill_run(f->db, fx_utc(2027, 2, 2, 0));
	/* 10 % of 1005 yen = 100.5 -> 101 yen; of 12.345 KWD = 1.2345 -> 1.235. */
	assert_int_equal(fx_q_int(f->db, "SELECT tax FROM bill_invoice WHERE currency = 'JPY'"), 101);
	assert_int_equal(fx_q_int(f->db, "SELECT tax FROM bill_invoice WHERE currency = 'KWD'"), 1235);
	{
		char b[32];
		im_money_format(fx_q_int(f->db, "SELECT total FROM bill_invoice WHERE currency = 'KWD'"), "KWD", b, sizeof b);
		assert_string_equal(b, "13.580 KWD");
		im_money_format(fx_q_int(f->db, "SELECT total FROM bill_invoice WHERE currency = 'JPY'"), "JPY", b, sizeof b);
		assert_string_equal(b, "1106 JPY");
	}
	ledger_consistent(f->db);
}

static void test_payments_credit_notes(void **state)
{
	fx *f = *state;
	int64_t pl, pay, pay2, cn, bal;
	char *err = NULL;
	int dup;

	customer(f->db, 1);
	pl = plan(f->db, "basic", "EUR", 1000);
	subscribe(f->db, 1, pl, fx_utc(2027, 1, 1, 0), "UTC");
	fx_bill_run(f->db, fx_utc(2027, 3, 1, 0));   /* invoices 1 (Jan) and 2 (Feb), 10.00 each */
	/* Partial. */
	assert_int_equal(im_bill_payment(f->db, 1, 1, "bank", "BANK-1", 400, "EUR", 10, &pay, &dup, &err), IM_OK);
	assert_int_equal(fx_q_int(f->db, "SELECT paid FROM bill_invoice WHERE id = 1"), 400);
	assert_int_equal(fx_q_int(f->db, "SELECT status = 'open' FROM bill_invoice WHERE id = 1"), 1);
	/* Same reference again: idempotent; with another amount: refused. */
	assert_int_equal(im_bill_payment(f->db, 1, 1, "bank", "BANK-1", 400, "EUR", 10, &pay2, &dup, &err), IM_OK);
	assert_int_equal(dup, 1);
	assert_int_equal(pay2, pay);
	assert_int_equal(im_bill_payment(f->db, 1, 1, "bank", "BANK-1", 401, "EUR", 10, &pay2, &dup, &err), IM_EINVAL);
	free(err);
	err = NULL;
	/* Over: pays invoice 1 and 2 (oldest first), 5.00 left to credit. */
	assert_int_equal(im_bill_payment(f->db, 1, 0, "card", "CARD-1", 2100, "EUR", 11, &pay2, &dup, &err), IM_OK);
	assert_int_equal(fx_q_int(f->db, "SELECT COUNT(*) FROM bill_invoice WHERE status = 'paid'"), 2);
	assert_int_equal(im_bill_credit_balance(f->db, 1, "EUR", &bal), IM_OK);
	assert_int_equal(bal, 500);
	/* The next invoice takes the credit automatically at finalization. */
	fx_bill_run(f->db, fx_utc(2027, 4, 1, 0));
	assert_int_equal(fx_q_int(f->db, "SELECT paid FROM bill_invoice WHERE id = 3"), 500);
	assert_int_equal(im_bill_credit_balance(f->db, 1, "EUR", &bal), IM_OK);
	assert_int_equal(bal, 0);
	/* Credit notes: never beyond the invoice total, summed over notes. */
	assert_int_equal(im_bill_credit_note(f->db, 3, 300, "goodwill", 12, &cn, &err), IM_OK);
	assert_int_equal(fx_q_int(f->db, "SELECT total - paid - credited FROM bill_invoice WHERE id = 3"), 200);
	assert_int_equal(im_bill_credit_note(f->db, 3, 701, "too much", 12, &cn, &err), IM_EINVAL);
	free(err);
	err = NULL;
	assert_int_equal(im_bill_credit_note(f->db, 3, 700, "rest", 12, &cn, &err), IM_OK);
	/* 200 was still owed; the 500 paid comes back as credit. */
	assert_int_equal(im_bill_credit_balance(f->db, 1, "EUR", &bal), IM_OK);
	assert_int_equal(bal, 500);
	assert_int_equal(fx_q_int(f->db, "SELECT status = 'paid' FROM bill_invoice WHERE id = 3"), 1);
	assert_int_equal(im_bill_credit_note(f->db, 3, 1, "more", 12, &cn, &err), IM_EINVAL);
	free(err);
	err = NULL;
	assert_int_equal(fx_q_int(f->db, "SELECT COUNT(*) FROM bill_credit_note WHERE number_text LIKE 'CN-1970-%'"), 2);
	/* Refund of CARD-1 (21.00: 6.00 to inv 1, 10.00 to inv 2, 5.00 credit).
	 * 8.00 refunded: 5.00 from credit, 3.00 from invoice 2, which reopens. */
	assert_int_equal(im_bill_refund(f->db, pay2, "RF-1", 800, 13, &dup, &err), IM_OK);
	assert_int_equal(im_bill_credit_balance(f->db, 1, "EUR", &bal), IM_OK);
	assert_int_equal(bal, 0);
	assert_int_equal(fx_q_int(f->db, "SELECT paid FROM bill_invoice WHERE id = 2"), 700);
	assert_int_equal(fx_q_int(f->db, "SELECT status = 'open' FROM bill_invoice WHERE id = 2"), 1);
	/* Refunds never exceed the payment. */
	assert_int_equal(im_bill_refund(f->db, pay2, "RF-2", 1301, 13, &dup, &err), IM_EINVAL);
	free(err);
	err = NULL;
	/* A payment for another customer's invoice is refused. */
	customer(f->db, 2);
	assert_int_equal(im_bill_payment(f->db, 2, 1, "bank", "X-1", 1, "EUR", 14, &pay, &dup, &err), IM_ENOTFOUND);
	free(err);
	err = NULL;
	ledger_consistent(f->db);
}

static void test_webhook_events(void **state)
{
	fx *f = *state;
	const char *out;
	char *err = NULL;
	int64_t pl;
	const char pay[] = "{\"id\":\"evt_1\",\"type\":\"payment.succeeded\",\"data\":{\"customer\":1,"
	                   "\"invoice\":1,\"amount\":1000,\"currency\":\"EUR\",\"ref\":\"ch_1\"}}";
	const char refund[] = "{\"id\":\"evt_2\",\"type\":\"refund.succeeded\",\"data\":{\"customer\":1,"
	                      "\"amount\":300,\"currency\":\"EUR\",\"ref\":\"re_1\",\"payment_ref\":\"ch_1\"}}";
	const char failed[] = "{\"id\":\"evt_0\",\"type\":\"payment.failed\",\"data\":{\"customer\":1}}";

	customer(f->db, 1);
	pl = plan(f->db, "basic", "EUR", 1000);
	subscribe(f->db, 1, pl, fx_utc(2027, 1, 1, 0), "UTC");
	fx_bill_run(f->db, fx_utc(2027, 2, 1, 0));
	/* Out of order: the refund arrives before its payment -> retry later. */
	assert_int_equal(im_bill_webhook_apply(f->db, "stripe", refund, 5, &out, &err), IM_EBUSY);
	assert_string_equal(out, "retry");
	free(err);
	err = NULL;
	assert_int_equal(fx_q_int(f->db, "SELECT COUNT(*) FROM bill_event"), 0);   /* not marked processed */
	assert_int_equal(im_bill_webhook_apply(f->db, "stripe", pay, 5, &out, &err), IM_OK);
	assert_string_equal(out, "applied");
	assert_int_equal(fx_q_int(f->db, "SELECT status = 'paid' FROM bill_invoice WHERE id = 1"), 1);
	/* Duplicate delivery: harmless. */
	assert_int_equal(im_bill_webhook_apply(f->db, "stripe", pay, 6, &out, &err), IM_OK);
	assert_string_equal(out, "duplicate");
	assert_int_equal(fx_q_int(f->db, "SELECT COUNT(*) FROM bill_payment"), 1);
	/* The redelivered refund now applies; a late "failed" undoes nothing. */
	assert_int_equal(im_bill_webhook_apply(f->db, "stripe", refund, 7, &out, &err), IM_OK);
	assert_string_equal(out, "applied");
	assert_int_equal(fx_q_int(f->db, "SELECT paid FROM bill_invoice WHERE id = 1"), 700);
	assert_int_equal(im_bill_webhook_apply(f->db, "stripe", failed, 8, &out, &err), IM_OK);
	assert_string_equal(out, "ignored");
	assert_int_equal(fx_q_int(f->db, "SELECT paid FROM bill_invoice WHERE id = 1"), 700);
	/* Same event id from another provider is a different event. */
	assert_int_equal(im_bill_webhook_apply(f->db, "other", "not json", 8, &out, &err), IM_EINVAL);
	free(err);
	ledger_consistent(f->db);
}

/* --- concurrency ------------------------------------------------------------------ */

typedef struct { const char *path; int64_t now; int rc; int tid; int nthreads; int64_t n; } worker_arg;

static void *run_thread(void *p)
{
	worker_arg *a = p;
	im_bill_run_stats st;
	sqlite3 *db;

	a->rc = im_store_open(a->path, &db, NULL);
	if (a->rc == IM_OK) {
		a->rc = im_bill_run(db, a->now, &st, NULL);
		sqlite3_close(db);
	}
	return NULL;
}

static void test_two_runs_at_once(void **state)
{
	fx *f = *state;
	pthread_t t[2];
	worker_arg a[2];
	int64_t pl, i;
	int k;

	pl = plan(f->db, "basic", "EUR", 1000);
	fx_exec(f->db, "BEGIN");
	for (i = 1; i <= 300; i++) {
		customer(f->db, i);
	}
	fx_exec(f->db, "COMMIT");
	for (i = 1; i <= 300; i++)
		subscribe(f->db, i, pl, fx_utc(2027, 1, 1 + (int)(i % 28), 0), "Europe/Berlin");
	for (k = 0; k < 2; k++) {
		a[k] = (worker_arg){ f->path, fx_utc(2027, 4, 1, 0), -1, k, 2, 0 };
		assert_int_equal(pthread_create(&t[k], NULL, run_thread, &a[k]), 0);
	}
	for (k = 0; k < 2; k++) {
		pthread_join(t[k], NULL);
		assert_int_equal(a[k].rc, IM_OK);
	}
	/* Each subscription: 2 ended periods by April 1 (3 for anchors on the 1st). */
	assert_int_equal(fx_q_int(f->db, "SELECT COUNT(*) FROM bill_invoice"),
	                 fx_q_int(f->db, "SELECT SUM(CASE WHEN anchor_d = 1 THEN 3 ELSE 2 END) FROM bill_subscription"));
	assert_int_equal(fx_q_int(f->db, "SELECT COUNT(*) FROM bill_invoice WHERE status = 'draft'"), 0);
	ledger_consistent(f->db);
}

/* The server and `prosodyctl mod_imhost billing.run` at the same moment: two
 * processes, each with its own connection, released together. */
static void test_two_processes_at_once(void **state)
{
	fx *f = *state;
	int64_t pl, i;
	int k, go[2];
	pid_t pid[2];

	pl = plan(f->db, "basic", "EUR", 1000);
	fx_exec(f->db, "BEGIN");
	for (i = 1; i <= 300; i++)
		customer(f->db, i);
	fx_exec(f->db, "COMMIT");
	for (i = 1; i <= 300; i++)
		subscribe(f->db, i, pl, fx_utc(2027, 1, 1 + (int)(i % 28), 0), "UTC");
	assert_int_equal(pipe(go), 0);
	for (k = 0; k < 2; k++) {
		pid[k] = fork();
		assert_true(pid[k] >= 0);
		if (pid[k] == 0) {
			sqlite3 *db;
			im_bill_run_stats st;
			char c;
			close(go[1]);
			if (im_store_open(f->path, &db, NULL) != IM_OK || read(go[0], &c, 1) != 0)
				_exit(2);
			_exit(im_bill_run(db, fx_utc(2027, 4, 1, 0), &st, NULL) == IM_OK ? 0 : 1);
		}
	}
	close(go[0]);
	close(go[1]);   /* EOF releases both at once */
	for (k = 0; k < 2; k++) {
		int status;
		assert_int_equal(waitpid(pid[k], &status, 0), pid[k]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(fx_q_int(f->db, "SELECT COUNT(*) FROM bill_invoice"),
	                 fx_q_int(f->db, "SELECT SUM(CASE WHEN anchor_d = 1 THEN 3 ELSE 2 END) FROM bill_subscription"));
	ledger_consistent(f->db);
}

static void *finalize_thread(void *p)
{
	worker_arg *a = p;
	sqlite3 *db;
	int64_t id;

	a->rc = im_store_open(a->path, &db, NULL);
	for (id = 1 + a->tid; a->rc == IM_OK && id <= a->n; id += a->nthreads)
		a->rc = im_bill_finalize(db, id, a->now, NULL);
	if (db)
		sqlite3_close(db);
	return NULL;
}

static void test_1000_finalizations(void **state)
{
	fx *f = *state;
	pthread_t t[4];
	worker_arg a[4];
	int64_t i, id;
	int k;

	customer(f->db, 1);
	fx_exec(f->db, "BEGIN");
	for (i = 0; i < 1000; i++) {
		sqlite3_stmt *st;
		assert_int_equal(sqlite3_prepare_v2(f->db, "INSERT INTO bill_invoice(customer_id, kind, period_start,"
		                 " period_end, currency, status, created) VALUES(1, 'manual', 0, 0, 'EUR', 'draft', 0)",
		                 -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_finalize(st);
	}
	fx_exec(f->db, "COMMIT");
	for (k = 0; k < 4; k++) {
		a[k] = (worker_arg){ f->path, fx_utc(2027, 6, 1, 0), -1, k, 4, 1000 };
		assert_int_equal(pthread_create(&t[k], NULL, finalize_thread, &a[k]), 0);
	}
	for (k = 0; k < 4; k++) {
		pthread_join(t[k], NULL);
		assert_int_equal(a[k].rc, IM_OK);
	}
	assert_int_equal(fx_q_int(f->db, "SELECT COUNT(DISTINCT number) FROM bill_invoice WHERE series = 'INV-2027'"), 1000);
	assert_int_equal(fx_q_int(f->db, "SELECT MIN(number) FROM bill_invoice"), 1);
	assert_int_equal(fx_q_int(f->db, "SELECT MAX(number) FROM bill_invoice"), 1000);
	/* A second finalization of the same invoice is refused, takes no number. */
	assert_int_equal(im_bill_finalize(f->db, 1, fx_utc(2027, 6, 1, 0), NULL), IM_EINVAL);
	assert_int_equal(fx_q_int(f->db, "SELECT last FROM bill_series WHERE name = 'INV-2027'"), 1000);
	(void)id;
	ledger_consistent(f->db);
}

/* --- crash ---------------------------------------------------------------------------- */

/* The child's progress handler: SIGKILL itself after a random number of
 * SQLite VM steps, i.e. at a random point inside the run (between or inside
 * statements and transactions). */
static int die_after(void *p)
{
	long *left = p;

	if (--*left <= 0)
		raise(SIGKILL);
	return 0;
}

static void test_crash_sigkill(void **state)
{
	fx *f = *state;
	int64_t pl, i, expected;
	int round, killed = 0;
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();

	pl = plan(f->db, "basic", "EUR", 1000);
	fx_exec(f->db, "BEGIN");
	for (i = 1; i <= 400; i++)
		customer(f->db, i);
	fx_exec(f->db, "COMMIT");
	for (i = 1; i <= 400; i++)
		subscribe(f->db, i, pl, fx_utc(2027, 1, 1 + (int)(i % 28), 0), "UTC");
	expected = fx_q_int(f->db, "SELECT SUM(CASE WHEN anchor_d = 1 THEN 6 ELSE 5 END) FROM bill_subscription");
	printf("crash test seed %u\n", seed);
	for (round = 0; round < 12; round++) {
		long budget = 1 + (long)(rand_r(&seed) % 800);    /* x 100 VM steps */
		int64_t now = fx_utc(2027, 2 + round / 2, 1, 0);      /* every month twice */
		pid_t pid = fork();
		int status;

		assert_true(pid >= 0);
		if (pid == 0) {
			sqlite3 *db;
			im_bill_run_stats st;
			if (im_store_open(f->path, &db, NULL) != IM_OK)
				_exit(2);
			sqlite3_progress_handler(db, 100, die_after, &budget);
			_exit(im_bill_run(db, now, &st, NULL) == IM_OK ? 0 : 1);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (WIFSIGNALED(status))
			killed++;
		else
			assert_int_equal(WEXITSTATUS(status), 0);
		/* Whatever point it died at, the ledger is consistent. */
		ledger_consistent(f->db);
	}
	printf("crash test: %d of 12 runs killed mid-run\n", killed);
	assert_true(killed >= 3);   /* the test tested something */
	fx_bill_run(f->db, fx_utc(2027, 7, 1, 0));
	assert_int_equal(fx_q_int(f->db, "SELECT COUNT(*) FROM bill_invoice"), expected);
	assert_int_equal(fx_q_int(f->db, "SELECT MAX(number) FROM bill_invoice"), expected);
	assert_int_equal(fx_q_int(f->db, "SELECT COUNT(*) FROM bill_invoice WHERE status = 'draft'"), 0);
	ledger_consistent(f->db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_downtime_and_clock_back, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_proration_both_ways, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_trial, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tax_usage_currencies, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_zero_and_three_decimals, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_payments_credit_notes, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_webhook_events, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_two_runs_at_once, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_two_processes_at_once, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_1000_finalizations, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_crash_sigkill, setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
