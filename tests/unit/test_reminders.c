/*
 * test_reminders.c — expiry reminders with an injected clock: once per
 * threshold, reset by renewal and by a new certificate fingerprint, the ACME
 * third-of-lifetime rule, downtime across several thresholds (only the most
 * recent is sent), the clock stepping back, recipients, and two connections
 * racing for one reminder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "imhost.h"
#include "reminders.h"
#include "fixture.h"

#define DAY 86400LL
#define OP_CTX "{\"surface\":\"cli\",\"tz\":\"UTC\"}"
#define EXP 1800000000LL   /* 2027-01-15T08:00:00Z: the domain's expiry */

/* Runs reminders at now; returns the thresholds sent, "kind:threshold" joined
 * by spaces, into buf (empty when none). */
static const char *run_at(sqlite3 *db, int64_t now, char *buf, size_t n)
{
	json_t *r, *e;
	size_t i;

	im_clock_set(now);
	r = fx_must(db, "reminders.run", "{}", OP_CTX);
	buf[0] = '\0';
	json_array_foreach(json_object_get(r, "reminders"), i, e) {
		size_t len = strlen(buf);
		snprintf(buf + len, n - len, "%s%s:%s", len ? " " : "", json_string_value(json_object_get(e, "kind")),
		         json_string_value(json_object_get(e, "threshold")));
	}
	json_decref(r);
	return buf;
}

static int setup(void **state)
{
	fx *f = fx_new("reminders", FX_OPEN);
	char p[160];

	im_clock_set(EXP - 400 * DAY);
	fx_expect(f->db, "customers.create", "{\"name\":\"Alpha\",\"owner\":\"oa@a.test\"}", OP_CTX, "ok");
	fx_expect(f->db, "domains.attach", "{\"customer\":1,\"domain\":\"a.test\"}", OP_CTX, "ok");
	fx_expect(f->db, "staff.set", "{\"jid\":\"bill@staff.test\",\"role\":\"billing\"}", OP_CTX, "ok");
	snprintf(p, sizeof p, "{\"domain\":\"a.test\",\"expires\":%lld}", (long long)EXP);
	fx_expect(f->db, "domains.set_expiry", p, OP_CTX, "ok");
	*state = f;
	return 0;
}

static void test_due_function(void **state)
{
	const char *key = NULL;
	int64_t at = 0;

	(void)state;
	assert_false(im_reminder_due("domain", EXP, 0, EXP - 30 * DAY - 1, &key, &at));
	assert_true(im_reminder_due("domain", EXP, 0, EXP - 30 * DAY, &key, &at));
	assert_string_equal(key, "30d_before");
	assert_int_equal(at, EXP - 30 * DAY);
	assert_true(im_reminder_due("domain", EXP, 0, EXP - 2 * DAY, &key, &at));
	assert_string_equal(key, "7d_before");
	assert_true(im_reminder_due("domain", EXP, 0, EXP + 10 * DAY, &key, &at));
	assert_string_equal(key, "5d_after");
	/* long-lived certificate: the fixed days */
	assert_false(im_reminder_due("cert", EXP, 365 * DAY, EXP - 22 * DAY, &key, &at));
	assert_true(im_reminder_due("cert", EXP, 365 * DAY, EXP - 3 * DAY, &key, &at));
	assert_string_equal(key, "3d_before");
	assert_true(im_reminder_due("cert", EXP, 0, EXP - 21 * DAY, &key, &at));   /* unknown lifetime */
	assert_string_equal(key, "21d_before");
	/* ACME 90 days: a third (30 days) left is the first reminder */
	assert_false(im_reminder_due("cert", EXP, 90 * DAY, EXP - 30 * DAY - 1, &key, &at));
	assert_true(im_reminder_due("cert", EXP, 90 * DAY, EXP - 30 * DAY, &key, &at));
	assert_string_equal(key, "acme_third");
	assert_true(im_reminder_due("cert", EXP, 90 * DAY, EXP - 20 * DAY, &key, &at));
	assert_string_equal(key, "21d_before");
	/* ACME 6 days: nothing at issuance (7d/3d lie before the last third) */
	assert_false(im_reminder_due("cert", EXP, 6 * DAY, EXP - 6 * DAY, &key, &at));
	assert_true(im_reminder_due("cert", EXP, 6 * DAY, EXP - 2 * DAY, &key, &at));
	assert_string_equal(key, "acme_third");
	assert_true(im_reminder_due("cert", EXP, 6 * DAY, EXP - 1 * DAY, &key, &at));
	assert_string_equal(key, "1d_before");
	/* 100 days counts as ACME, 101 does not */
	assert_true(im_reminder_due("cert", EXP, 100 * DAY, EXP - 33 * DAY, &key, &at));
	assert_string_equal(key, "acme_third");
	assert_false(im_reminder_due("cert", EXP, 101 * DAY, EXP - 33 * DAY, &key, &at));
}

static void test_domain_once_per_threshold(void **state)
{
	fx *f = *state;
	char b[256], p[160];
	json_t *r, *e;

	assert_string_equal(run_at(f->db, EXP - 31 * DAY, b, sizeof b), "");
	assert_string_equal(run_at(f->db, EXP - 30 * DAY, b, sizeof b), "domain:30d_before");
	assert_string_equal(run_at(f->db, EXP - 30 * DAY, b, sizeof b), "");          /* once */
	assert_string_equal(run_at(f->db, EXP - 20 * DAY, b, sizeof b), "");
	assert_string_equal(run_at(f->db, EXP - 14 * DAY + 60, b, sizeof b), "domain:14d_before");
	/* recipients and text */
	im_clock_set(EXP - 7 * DAY);
	r = fx_must(f->db, "reminders.run", "{}", OP_CTX);
	e = json_array_get(json_object_get(r, "reminders"), 0);
	assert_string_equal(json_string_value(json_object_get(e, "threshold")), "7d_before");
	assert_string_equal(json_string_value(json_object_get(e, "object")), "a.test");
	assert_string_equal(json_string_value(json_array_get(json_object_get(e, "owners"), 0)), "oa@a.test");
	assert_string_equal(json_string_value(json_array_get(json_object_get(e, "staff"), 0)), "bill@staff.test");
	assert_int_equal(json_integer_value(json_object_get(e, "days_left")), 7);
	assert_int_equal(json_integer_value(json_object_get(e, "customer")), 1);
	assert_non_null(strstr(json_string_value(json_object_get(e, "message")), "a.test expires on 2027-01-15"));
	assert_non_null(strstr(json_string_value(json_object_get(e, "message")), "in 7 days"));
	json_decref(r);
	/* Downtime across 1d_before and 1d_after: only the most recent goes out. */
	assert_string_equal(run_at(f->db, EXP + 2 * DAY, b, sizeof b), "domain:1d_after");
	/* The clock steps back: no older reminder follows a newer one. */
	assert_string_equal(run_at(f->db, EXP - 1 * DAY, b, sizeof b), "");
	assert_string_equal(run_at(f->db, EXP + 5 * DAY, b, sizeof b), "domain:5d_after");
	assert_string_equal(run_at(f->db, EXP + 50 * DAY, b, sizeof b), "");
	/* Renewal resets: the new expiry's thresholds fire again. */
	snprintf(p, sizeof p, "{\"domain\":\"a.test\",\"expires\":%lld}", (long long)(EXP + 365 * DAY));
	fx_expect(f->db, "domains.renew", p, OP_CTX, "ok");
	assert_string_equal(run_at(f->db, EXP + 50 * DAY, b, sizeof b), "");
	assert_string_equal(run_at(f->db, EXP + 335 * DAY, b, sizeof b), "domain:30d_before");
	assert_string_equal(run_at(f->db, EXP + 335 * DAY, b, sizeof b), "");
}

static void test_certificates(void **state)
{
	fx *f = *state;
	char b[256], p[256];
	int64_t na = EXP + 1000 * DAY;   /* far from the domain's expiry */

	/* ACME, 90 days */
	snprintf(p, sizeof p, "{\"domain\":\"a.test\",\"not_after\":%lld,\"fingerprint\":\"%s\",\"lifetime\":%lld}",
	         (long long)na, "aa11aa11aa11aa11aa11", (long long)(90 * DAY));
	fx_expect(f->db, "certs.record", p, OP_CTX, "ok");
	/* the domain expired long ago: its last reminder, once */
	assert_string_equal(run_at(f->db, na - 61 * DAY, b, sizeof b), "domain:5d_after");
	assert_string_equal(run_at(f->db, na - 60 * DAY, b, sizeof b), "");
	assert_string_equal(run_at(f->db, na - 29 * DAY, b, sizeof b), "cert:acme_third");
	assert_string_equal(run_at(f->db, na - 28 * DAY, b, sizeof b), "");
	assert_string_equal(run_at(f->db, na - 21 * DAY, b, sizeof b), "cert:21d_before");
	/* Renewed certificate (new fingerprint, new expiry): starts afresh. */
	snprintf(p, sizeof p, "{\"domain\":\"a.test\",\"not_after\":%lld,\"fingerprint\":\"%s\",\"lifetime\":%lld}",
	         (long long)(na + 60 * DAY), "bb22bb22bb22bb22bb22", (long long)(90 * DAY));
	fx_expect(f->db, "certs.record", p, OP_CTX, "ok");
	assert_string_equal(run_at(f->db, na - 20 * DAY, b, sizeof b), "");
	assert_string_equal(run_at(f->db, na + 31 * DAY, b, sizeof b), "cert:acme_third");
	/* Same expiry, new fingerprint (reissued): the threshold fires again. */
	snprintf(p, sizeof p, "{\"domain\":\"a.test\",\"not_after\":%lld,\"fingerprint\":\"%s\",\"lifetime\":%lld}",
	         (long long)(na + 60 * DAY), "cc33cc33cc33cc33cc33", (long long)(90 * DAY));
	fx_expect(f->db, "certs.record", p, OP_CTX, "ok");
	assert_string_equal(run_at(f->db, na + 31 * DAY, b, sizeof b), "cert:acme_third");
	/* A MUC component's certificate goes to the parent domain's owner. */
	snprintf(p, sizeof p, "{\"domain\":\"conference.a.test\",\"not_after\":%lld,\"fingerprint\":\"%s\"}",
	         (long long)(na + 100 * DAY), "dd44dd44dd44dd44dd44");
	fx_expect(f->db, "certs.record", p, OP_CTX, "ok");
	im_clock_set(na + 93 * DAY);
	{
		json_t *r = fx_must(f->db, "reminders.run", "{}", OP_CTX), *e;
		size_t i;
		int found = 0;
		json_array_foreach(json_object_get(r, "reminders"), i, e) {
			if (strcmp(json_string_value(json_object_get(e, "object")), "conference.a.test") == 0) {
				found = 1;
				assert_string_equal(json_string_value(json_object_get(e, "threshold")), "7d_before");
				assert_string_equal(json_string_value(json_array_get(json_object_get(e, "owners"), 0)),
				                    "oa@a.test");
			}
		}
		assert_true(found);
		json_decref(r);
	}
}

/* Two connections at the same instant: one reminder in total. */
static void test_two_runners(void **state)
{
	fx *f = *state;
	sqlite3 *other = NULL;
	char b1[128], b2[128];

	assert_int_equal(im_store_open(f->path, &other, NULL), IM_OK);
	run_at(f->db, EXP - 7 * DAY, b1, sizeof b1);
	run_at(other, EXP - 7 * DAY, b2, sizeof b2);
	assert_string_equal(b1, "domain:7d_before");
	assert_string_equal(b2, "");
	sqlite3_close(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_due_function),
		cmocka_unit_test_setup_teardown(test_domain_once_per_threshold, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_certificates, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_two_runners, setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
