/*
 * bench/billing.c — the invoice run at scale: 10,000 customers (one domain
 * each), 100,000 users, a month of usage; times the run and an idempotent
 * rerun.  Goals (issue 5): run <= 2 s, rerun <= 0.3 s.
 *
 * The fill writes what the server records (rollup_hour, log_session, account,
 * one log_message per domain for storage) in one transaction, then meters the
 * month up to Jan 31 00:00 as the daily timer would have (timed, printed as
 * meter_s); the run then meters the last day and invoices, like billing.run.
 *
 *   build/bench/billing [dir]      (default: a fresh directory under /tmp)
 * Prints one line per measurement and "billing: N passed, M failed".
 *
 *   build/bench/billing --fill-only PATH
 * Only fills a new database at PATH (refused if it exists) and prints
 * "RESULT customers=.. users=.. fill_s=.. period_end=.."; bench/run.sh's
 * "billing" part then starts Prosody + imhost on it and runs billing there,
 * with the server's clock set after period_end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "billing.h"
#include "billing_calendar.h"
#include "imhost.h"

#define CUSTOMERS 10000
#define USERS_PER 10
#define DAY 86400LL
#define JAN1 1798761600LL   /* 2027-01-01T00:00:00Z */
#define FEB1 1801440000LL

static double secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int exec(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

static int step(sqlite3 *db, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "fill: %s\n", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

static int fill(sqlite3 *db)
{
	sqlite3_stmt *cust = NULL, *dom = NULL, *acct = NULL, *sub = NULL, *sp = NULL, *use = NULL, *act = NULL,
	             *seat = NULL, *logm = NULL;
	im_bill_plan plan = { "std", "Standard", "EUR", 1, 1500, 5, 200, 10, 100, 0, 0, 0 };
	int64_t plan_id, ver, c, d, u;
	char name[64], user[96];
	int rc = -1;

	if (im_bill_plan_create(db, &plan, 0, &plan_id, &ver, NULL) != IM_OK || exec(db, "BEGIN") != 0)
		return -1;
	if (sqlite3_prepare_v2(db, "INSERT INTO customer(id, name, created) VALUES(?, ?, 0)", -1, &cust, NULL) ||
	    sqlite3_prepare_v2(db, "INSERT INTO domain(name, customer_id, created) VALUES(?, ?, 0)", -1, &dom, NULL) ||
	    sqlite3_prepare_v2(db, "INSERT INTO bill_account(customer_id, name, tax_rate_bp, updated) VALUES(?, ?, ?, 0)",
	                       -1, &acct, NULL) ||
	    sqlite3_prepare_v2(db, "INSERT INTO bill_subscription(id, customer_id, zone, anchor_y, anchor_m, anchor_d,"
	                       " cycle_months, currency, start, next_k, billed_until, next_end, created)"
	                       " VALUES(?1, ?1, 'UTC', 2027, 1, 1, 1, 'EUR', ?2, 0, ?2, ?3, 0)", -1, &sub, NULL) ||
	    sqlite3_prepare_v2(db, "INSERT INTO bill_sub_plan(sub_id, from_ts, plan_id) VALUES(?, ?, ?)", -1, &sp, NULL) ||
	    sqlite3_prepare_v2(db, "INSERT INTO rollup_hour(domain, hour, messages, bytes) VALUES(?, ?, ?, ?)",
	                       -1, &use, NULL) ||
	    sqlite3_prepare_v2(db, "INSERT INTO log_session(ts, domain, user, event) VALUES(?2, ?1, ?3, 'login')",
	                       -1, &act, NULL) ||
	    sqlite3_prepare_v2(db, "INSERT INTO account(jid, domain, created) VALUES(?, ?, 0)", -1, &seat, NULL) ||
	    sqlite3_prepare_v2(db, "INSERT INTO log_message(ts, domain, sender, kind, size)"
	                       " VALUES(?2, ?1, 'u0@' || ?1, 'chat', ?3)", -1, &logm, NULL))
		goto out;
	for (c = 1; c <= CUSTOMERS; c++) {
		snprintf(name, sizeof name, "c%lld.example", (long long)c);
		sqlite3_bind_int64(cust, 1, c);
		sqlite3_bind_text(cust, 2, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(dom, 1, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(dom, 2, c);
		sqlite3_bind_int64(acct, 1, c);
		sqlite3_bind_text(acct, 2, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(acct, 3, c % 2 ? 1900 : 0);
		sqlite3_bind_int64(sub, 1, c);
		sqlite3_bind_int64(sub, 2, JAN1);
		sqlite3_bind_int64(sub, 3, FEB1);
		sqlite3_bind_int64(sp, 1, c);
		sqlite3_bind_int64(sp, 2, JAN1);
		sqlite3_bind_int64(sp, 3, plan_id);
		if (step(db, cust) || step(db, dom) || step(db, acct) || step(db, sub) || step(db, sp))
			goto out;
		/* A month of usage as the log writer records it: messages per hour
		 * (one busy hour a day), and one logged message holding the
		 * domain's stored bytes. */
		for (d = 0; d < 31; d++) {
			sqlite3_bind_text(use, 1, name, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(use, 2, JAN1 + d * DAY + 9 * 3600);
			sqlite3_bind_int64(use, 3, 100 + (c * 7 + d) % 900);
			sqlite3_bind_int64(use, 4, 1000);
			if (step(db, use))
				goto out;
		}
		sqlite3_bind_text(logm, 1, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(logm, 2, JAN1 + 9 * 3600);
		sqlite3_bind_int64(logm, 3, 1000000LL * (c % 500 + 1));
		if (step(db, logm))
			goto out;
		/* Its ten users log in on three days each. */
		for (u = 0; u < USERS_PER; u++) {
			snprintf(user, sizeof user, "u%lld@%s", (long long)u, name);
			sqlite3_bind_text(seat, 1, user, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(seat, 2, name, -1, SQLITE_TRANSIENT);
			if (step(db, seat))
				goto out;
			for (d = 0; d < 3; d++) {
				sqlite3_bind_text(act, 1, name, -1, SQLITE_TRANSIENT);
				sqlite3_bind_int64(act, 2, JAN1 + ((u + d * 10) % 31) * DAY + 8 * 3600);
				sqlite3_bind_text(act, 3, user, -1, SQLITE_TRANSIENT);
				if (step(db, act))
					goto out;
			}
		}
	}
	rc = exec(db, "COMMIT");
out:
	sqlite3_finalize(cust);
	sqlite3_finalize(dom);
	sqlite3_finalize(acct);
	sqlite3_finalize(sub);
	sqlite3_finalize(sp);
	sqlite3_finalize(use);
	sqlite3_finalize(act);
	sqlite3_finalize(seat);
	sqlite3_finalize(logm);
	return rc;
}

static int64_t q1(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Meters until as billing.run does before it invoices; -1 on failure. */
static int meter(sqlite3 *db, int64_t until)
{
	im_bill_meter_stats m;
	char *err = NULL;

	if (im_bill_meter(db, until, &m, &err) != IM_OK) {
		fprintf(stderr, "meter: %s\n", err ? err : "failed");
		free(err);
		return -1;
	}
	return 0;
}

/* The meter and the run, as the billing.run operation does them. */
static int meter_and_run(sqlite3 *db, int64_t now, im_bill_run_stats *st)
{
	char *err = NULL;

	if (meter(db, now) != 0)
		return -1;
	if (im_bill_run(db, now, st, &err) != IM_OK) {
		fprintf(stderr, "run: %s\n", err ? err : "failed");
		free(err);
		return -1;
	}
	return 0;
}

/* --fill-only PATH: a fresh database for the in-server run (bench/run.sh). */
static int fill_only(const char *path)
{
	char *err = NULL;
	sqlite3 *db;
	double t0;
	int rc;

	if (access(path, F_OK) == 0) {   /* never fill on top of someone's data */
		fprintf(stderr, "billing: %s exists; --fill-only wants a new path\n", path);
		return 2;
	}
	if (im_store_open(path, &db, &err) != IM_OK) {
		fprintf(stderr, "open: %s\n", err ? err : "failed");
		free(err);
		return 2;
	}
	double fill_s, meter_s;

	t0 = secs();
	rc = fill(db);
	fill_s = secs() - t0;
	t0 = secs();
	/* January up to the 31st, as the daily timer would have metered it. */
	if (rc == 0)
		rc = meter(db, FEB1 - DAY);
	meter_s = secs() - t0;
	if (sqlite3_close(db) != SQLITE_OK || rc != 0)
		return 2;
	printf("RESULT customers=%d users=%d fill_s=%.2f meter_s=%.2f period_end=%lld\n", CUSTOMERS,
	       CUSTOMERS * USERS_PER, fill_s, meter_s, (long long)FEB1);
	return 0;
}

int main(int argc, char **argv)
{
	char dir[128], path[192], *err = NULL;
	im_bill_run_stats st;
	sqlite3 *db;
	double t0, run_s, rerun_s;
	int pass = 0, failn = 0;

	if (argc == 3 && strcmp(argv[1], "--fill-only") == 0)
		return fill_only(argv[2]);
	if (argc > 1 && argv[1][0] == '-') {
		fprintf(stderr, "usage: billing [dir] | billing --fill-only PATH\n");
		return 2;
	}
	if (argc > 1)
		snprintf(dir, sizeof dir, "%s", argv[1]);
	else if (snprintf(dir, sizeof dir, "/tmp/imh-bench-billing-XXXXXX") < 0 || mkdtemp(dir) == NULL)
		return 2;
	snprintf(path, sizeof path, "%s/billing.sqlite", dir);
	unlink(path);
	if (im_store_open(path, &db, &err) != IM_OK) {
		fprintf(stderr, "open: %s\n", err);
		return 2;
	}
	t0 = secs();
	if (fill(db) != 0)
		return 2;
	printf("billing: fill %d customers, %d users, a month of usage: %.2f s\n", CUSTOMERS,
	       CUSTOMERS * USERS_PER, secs() - t0);
	t0 = secs();
	if (meter(db, FEB1 - DAY) != 0)
		return 1;
	printf("billing: metering Jan 1-30 (the daily timer's work, at once): %.2f s\n", secs() - t0);
	t0 = secs();
	if (meter_and_run(db, FEB1 + 3600, &st) != 0)
		return 1;
	run_s = secs() - t0;
	printf("billing: meter Jan 31 + run: %lld invoices drafted, %lld finalized in %.3f s (goal <= 2 s)\n",
	       (long long)st.drafted, (long long)st.finalized, run_s);
	t0 = secs();
	if (meter_and_run(db, FEB1 + 3600, &st) != 0)
		return 1;
	rerun_s = secs() - t0;
	printf("billing: idempotent rerun: %lld drafted, %lld finalized in %.3f s (goal <= 0.3 s)\n",
	       (long long)st.drafted, (long long)st.finalized, rerun_s);
#define CHECK(cond, what) do { if (cond) pass++; else { failn++; printf("billing: FAILED %s\n", what); } } while (0)
	CHECK(q1(db, "SELECT COUNT(*) FROM bill_invoice") == CUSTOMERS, "one invoice per customer");
	CHECK(q1(db, "SELECT MAX(number) FROM bill_invoice") == CUSTOMERS, "numbers 1..N");
	CHECK(q1(db, "SELECT COUNT(DISTINCT number) FROM bill_invoice") == CUSTOMERS, "no duplicate number");
	CHECK(st.drafted == 0 && st.finalized == 0, "rerun adds nothing");
	CHECK(q1(db, "SELECT MIN(active_users) FROM bill_invoice") == USERS_PER, "active users counted");
	CHECK(q1(db, "SELECT COUNT(*) FROM bill_line WHERE description LIKE 'Extra seats%' AND quantity = 5")
	      == CUSTOMERS, "10 accounts - 5 included = 5 extra seats, from the account table");
	CHECK(q1(db, "SELECT COUNT(*) FROM bill_line WHERE description LIKE 'Storage%'") == CUSTOMERS,
	      "storage metered from the log");
	CHECK(run_s <= 2.0, "run within 2 s");
	CHECK(rerun_s <= 0.3, "rerun within 0.3 s");
	printf("billing: %d passed, %d failed\n", pass, failn);
	sqlite3_close(db);
	if (argc <= 1) {
		char cmd[256];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			return 1;
	}
	return failn ? 1 : 0;
}
