/*
 * test_billing_meter.c — usage metered from what the server records
 * (billing_meter.c): the real log writer fills rollup_hour and log_session,
 * SQL fills account (as the accounts glue does); metering then the run give
 * invoice lines for messages, extra seats and storage and the active-user
 * count; a rerun adds nothing; a login near a period boundary in the
 * customer's zone counts in the right period; late usage is not written;
 * two processes metering at once meter each hour once; billing.run meters
 * first; reserved event ids are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "billing.h"
#include "clock.h"
#include "fixture.h"
#include "imhost.h"
#include "logwriter.h"

#define HOUR 3600LL
#define DAY 86400LL

static int setup(void **state)
{
	*state = fx_new("meter", FX_OPEN);
	return 0;
}

/* A writer that commits every entry before returning (sync): the test then
 * reads exactly what the server would have committed. */
static im_writer *writer(fx *f)
{
	im_writer_opts o = { .path = f->path, .sync = 1 };
	im_writer *w = NULL;
	char *err = NULL;

	if (im_writer_open(&o, &w, &err) != IM_OK)
		fail_msg("writer: %s", err);
	return w;
}

static void msg(im_writer *w, const char *domain, const char *from, int64_t ts, int64_t size)
{
	im_log_message m = { .ts = ts, .domain = domain, .from = from, .to = "someone@elsewhere.example",
	                     .kind = "chat", .stanza_id = "x", .size = size };

	assert_int_equal(im_writer_message(w, &m), IM_OK);
}

static void login(im_writer *w, const char *domain, const char *user, int64_t ts)
{
	im_log_session s = { .ts = ts, .domain = domain, .user = user, .resource = "r",
	                     .client = "c", .event = "login" };

	assert_int_equal(im_writer_session(w, &s), IM_OK);
}

static void account(sqlite3 *db, const char *jid, const char *domain, int64_t created)
{
	char sql[256];

	snprintf(sql, sizeof sql, "INSERT INTO account(jid, domain, created) VALUES('%s', '%s', %lld)", jid, domain,
	         (long long)created);
	fx_exec(db, sql);
}

/* Customer id with domain name, subscribed from start in zone to a monthly
 * EUR plan: 10.00 fixed, 2 seats included, 1.00 per extra seat, 0.50 per
 * 1000 messages, 10.00 per GB of peak storage. */
static void customer(sqlite3 *db, int64_t id, const char *domain, const char *zone, int64_t start)
{
	im_bill_plan p = { "m", "Metered", "EUR", 1, 1000, 2, 100, 50, 1000, 0, 0, 0 };
	int64_t plan, ver, sub;
	char sql[256], *err = NULL;

	snprintf(sql, sizeof sql, "INSERT INTO customer(id, name, created) VALUES(%lld, 'C', 0);"
	         "INSERT INTO domain(name, customer_id, created) VALUES('%s', %lld, 0);",
	         (long long)id, domain, (long long)id);
	fx_exec(db, sql);
	assert_int_equal(im_bill_plan_create(db, &p, 0, &plan, &ver, NULL), IM_OK);
	if (im_bill_subscribe(db, id, plan, start, zone, start, &sub, &err) != IM_OK)
		fail_msg("subscribe: %s", err);
}

static im_bill_meter_stats meter(sqlite3 *db, int64_t until)
{
	im_bill_meter_stats st;
	char *err = NULL;

	if (im_bill_meter(db, until, &st, &err) != IM_OK)
		fail_msg("meter: %s", err);
	return st;
}

/* Quantity of the line of customer's first invoice whose description starts
 * with what; -1 when there is none. */
static int64_t line_qty(sqlite3 *db, int64_t customer, const char *what)
{
	char sql[512];

	snprintf(sql, sizeof sql, "SELECT l.quantity FROM bill_line l JOIN bill_invoice i ON i.id = l.invoice_id"
	         " WHERE i.customer_id = %lld AND l.description LIKE '%s%%' ORDER BY i.id LIMIT 1",
	         (long long)customer, what);
	return fx_q_int(db, sql);
}

/* A month on c1.example (UTC): messages, logins and accounts through the
 * server's own records; metered mid-month and at the month's end, then run. */
static void month_from_server_records(void **state)
{
	fx *f = *state;
	const int64_t jan1 = fx_utc(2027, 1, 1, 0), feb1 = fx_utc(2027, 2, 1, 0);
	im_writer *w = writer(f);
	im_bill_meter_stats m;
	im_bill_run_stats r;
	int64_t msgs, bytes;

	customer(f->db, 1, "c1.example", "UTC", jan1);
	account(f->db, "ann@c1.example", "c1.example", jan1);
	account(f->db, "bob@c1.example", "c1.example", jan1);
	/* 1,500 messages of 100 bytes in early January, over 30 hours. */
	for (msgs = 0; msgs < 1500; msgs++)
		msg(w, "c1.example", "ann@c1.example", jan1 + 2 * DAY + (msgs % 30) * HOUR + 7, 100);
	login(w, "c1.example", "ann@c1.example", jan1 + 2 * DAY);
	login(w, "c1.example", "ann@c1.example", jan1 + 9 * DAY);   /* the same user again: counted once */
	login(w, "c1.example", "bob@c1.example", jan1 + 3 * DAY);
	login(w, "other.example", "eve@other.example", jan1 + 3 * DAY);  /* not a hosted domain */

	m = meter(f->db, jan1 + 15 * DAY + 1800);
	assert_int_equal(m.until, jan1 + 15 * DAY);
	assert_int_equal(m.messages, 30);   /* one bucket per hour with messages */
	assert_int_equal(m.active, 3);   /* ann (two days, one row each), bob */
	assert_int_equal(m.seats, 1);
	assert_int_equal(m.storage, 1);
	assert_int_equal(fx_q_int(f->db, "SELECT COUNT(*) FROM bill_active WHERE domain = 'other.example'"), 0);

	/* Later in January: a third account, 500 more messages, one at 23:10 on
	 * the 31st (after the last daily meter: the run must meter it first). */
	account(f->db, "cara@c1.example", "c1.example", jan1 + 20 * DAY);
	for (msgs = 0; msgs < 499; msgs++)
		msg(w, "c1.example", "cara@c1.example", jan1 + 20 * DAY + 5, 200);
	login(w, "c1.example", "cara@c1.example", jan1 + 20 * DAY);
	m = meter(f->db, feb1 - HOUR + 1800);   /* Jan 31 23:30: up to 23:00, snapshot in 22:45 */
	assert_int_equal(m.from, jan1 + 15 * DAY);
	assert_int_equal(m.seats, 1);
	msg(w, "c1.example", "cara@c1.example", feb1 - HOUR + 600, 300);
	/* February: must not reach January's invoice. */
	msg(w, "c1.example", "cara@c1.example", feb1 + 600, 5000);
	login(w, "c1.example", "dan@c1.example", feb1 + 600);
	im_writer_close(w);
	bytes = 1500 * 100 + 499 * 200;   /* the storage snapshot of Jan 31 22:45 */

	m = meter(f->db, feb1 + HOUR);
	assert_int_equal(m.from, feb1 - HOUR);
	r = fx_bill_run(f->db, feb1 + HOUR);
	assert_int_equal(r.drafted, 1);
	assert_int_equal(r.finalized, 1);
	assert_int_equal(line_qty(f->db, 1, "Messages"), 2000);
	assert_int_equal(line_qty(f->db, 1, "Extra seats"), 1);
	assert_int_equal(line_qty(f->db, 1, "Storage"), bytes);
	assert_int_equal(fx_q_int(f->db, "SELECT active_users FROM bill_invoice WHERE customer_id = 1"), 3);
	/* 10.00 + 1 seat 1.00 + 2000 msgs * 0.50/1000 = 1.00 + 249,800 B * 10.00/GB = 0.0025 -> 0 */
	assert_int_equal(fx_q_int(f->db, "SELECT subtotal FROM bill_invoice WHERE customer_id = 1"), 1200);

	/* A rerun meters nothing and invoices nothing; the usage stays as it was. */
	m = meter(f->db, feb1 + HOUR + 1200);
	assert_int_equal(m.from, m.until);
	assert_int_equal(m.messages + m.active + m.seats + m.storage, 0);
	r = fx_bill_run(f->db, feb1 + HOUR + 1200);
	assert_int_equal(r.drafted + r.finalized, 0);
	assert_int_equal(fx_q_int(f->db, "SELECT SUM(value) FROM bill_usage WHERE metric = 'messages'"), 2001);
	/* February's usage is there for February's invoice. */
	assert_int_equal(fx_q_int(f->db, "SELECT COUNT(*) FROM bill_active WHERE user = 'dan@c1.example'"), 1);
}

/* Berlin is UTC+1 in winter: the January period ends 2027-01-31T23:00Z.  One
 * user logs in at 22:30Z and 23:30Z on Jan 31 (active in both periods), one
 * only at 23:30Z (February only). */
static void login_near_zone_boundary(void **state)
{
	fx *f = *state;
	const int64_t jan1 = fx_utc(2027, 1, 1, 0), feb1 = fx_utc(2027, 2, 1, 0);
	im_writer *w = writer(f);
	char *err = NULL;
	im_bill_usage u;

	customer(f->db, 2, "c2.example", "Europe/Berlin", jan1 - HOUR);
	login(w, "c2.example", "both@c2.example", feb1 - 90 * 60);
	login(w, "c2.example", "both@c2.example", feb1 - 30 * 60);
	login(w, "c2.example", "late@c2.example", feb1 - 30 * 60);
	im_writer_close(w);
	meter(f->db, feb1 + HOUR);
	assert_int_equal(im_bill_usage_get(f->db, 2, jan1 - HOUR, feb1 - HOUR, &u, &err), IM_OK);
	assert_int_equal(u.active_users, 1);
	assert_int_equal(im_bill_usage_get(f->db, 2, feb1 - HOUR, feb1 + 27 * DAY, &u, &err), IM_OK);
	assert_int_equal(u.active_users, 2);
}

/* Usage recorded after its period was invoiced is late: never written. */
static void late_usage_is_not_metered(void **state)
{
	fx *f = *state;
	const int64_t jan1 = fx_utc(2027, 1, 1, 0), feb1 = fx_utc(2027, 2, 1, 0);
	im_writer *w;

	customer(f->db, 3, "c3.example", "UTC", jan1);
	meter(f->db, jan1 + 10 * DAY);
	/* The run happens while the meter is behind (say the hour of a crash)... */
	fx_bill_run(f->db, feb1 + HOUR);
	fx_exec(f->db, "DELETE FROM bill_usage_event WHERE event_id = 'meter:until'");
	w = writer(f);
	msg(w, "c3.example", "x@c3.example", jan1 + 20 * DAY, 10);   /* January: invoiced already */
	msg(w, "c3.example", "x@c3.example", feb1 + 10, 10);         /* February: billable */
	login(w, "c3.example", "x@c3.example", jan1 + 20 * DAY);
	im_writer_close(w);
	meter(f->db, feb1 + 2 * HOUR);
	assert_int_equal(fx_q_int(f->db, "SELECT COUNT(*) FROM bill_usage WHERE metric = 'messages'"
	                          " AND bucket < 1801440000"), 0);
	assert_int_equal(fx_q_int(f->db, "SELECT SUM(value) FROM bill_usage WHERE metric = 'messages'"), 1);
	assert_int_equal(fx_q_int(f->db, "SELECT COUNT(*) FROM bill_active"), 0);
	/* and the reserved watermark id cannot be forged through billing.usage. */
	{
		int dup;
		char *err = NULL;
		assert_int_equal(im_bill_usage_record(f->db, "meter:until", "c3.example", "messages", NULL, 1,
		                                      feb1 + 100, &dup, &err), IM_EINVAL);
		free(err);
	}
}

/* Two processes meter the same hours at the same moment: each hour once. */
static void two_processes_meter_once(void **state)
{
	fx *f = *state;
	const int64_t jan1 = fx_utc(2027, 1, 1, 0);
	im_writer *w = writer(f);
	pid_t pid[2];
	int i, status;

	customer(f->db, 4, "c4.example", "UTC", jan1);
	for (i = 0; i < 48; i++)
		msg(w, "c4.example", "x@c4.example", jan1 + i * HOUR, 10);
	im_writer_close(w);
	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0) {
			sqlite3 *db = NULL;
			im_bill_meter_stats st;
			char *err = NULL;
			int ok = im_store_open(f->path, &db, &err) == IM_OK &&
			         im_bill_meter(db, jan1 + 3 * DAY, &st, &err) == IM_OK;
			sqlite3_close(db);
			_exit(ok ? 0 : 1);
		}
	}
	for (i = 0; i < 2; i++) {
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(fx_q_int(f->db, "SELECT SUM(value) FROM bill_usage WHERE metric = 'messages'"), 48);
}

/* The ops: billing.meter refuses the future; billing.run meters first. */
static void ops_meter_and_run(void **state)
{
	fx *f = *state;
	const int64_t jan1 = fx_utc(2027, 1, 1, 0), feb1 = fx_utc(2027, 2, 1, 0);
	char params[64];
	im_writer *w = writer(f);
	json_t *r;

	customer(f->db, 5, "c5.example", "UTC", jan1);
	msg(w, "c5.example", "x@c5.example", feb1 - 600, 10);   /* Jan 31 23:50 */
	im_writer_close(w);
	im_clock_set(feb1 + 120);
	snprintf(params, sizeof params, "{\"until\":%lld}", (long long)(feb1 + HOUR));
	fx_expect(f->db, "billing.meter", params, FX_CLI, "invalid");
	r = fx_must(f->db, "billing.run", NULL, FX_CLI);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "metered"), "until")), feb1);
	assert_int_equal(json_integer_value(json_object_get(r, "finalized")), 1);
	json_decref(r);
	assert_int_equal(line_qty(f->db, 5, "Messages"), 1);
	r = fx_must(f->db, "billing.meter", NULL, FX_CLI);
	assert_int_equal(json_integer_value(json_object_get(r, "from")), json_integer_value(json_object_get(r, "until")));
	json_decref(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(month_from_server_records, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(login_near_zone_boundary, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(late_usage_is_not_metered, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(two_processes_meter_once, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(ops_meter_and_run, setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
