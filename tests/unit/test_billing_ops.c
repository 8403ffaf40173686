/*
 * test_billing_ops.c — the billing.* operations through the registry: the
 * customer-facing ones carry their exact titles, an owner sees only its own
 * customer's invoices and statements, a plain user and a technician are
 * refused, billing staff see any customer, staff reports add up, and the
 * overdue evaluation returns actions (suspend, then lift on payment).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "imhost.h"
#include "fixture.h"

#define STAFF "{\"surface\":\"cli\",\"tz\":\"UTC\"}"
#define OWNER1 "{\"actor\":\"boss@one.example\",\"surface\":\"adhoc\",\"tz\":\"UTC\"}"
#define NOBODY "{\"actor\":\"x@elsewhere.example\",\"surface\":\"adhoc\",\"tz\":\"UTC\"}"
#define BILLER "{\"actor\":\"bill@host.example\",\"surface\":\"adhoc\",\"tz\":\"UTC\"}"
#define TECH "{\"actor\":\"tech@host.example\",\"surface\":\"adhoc\",\"tz\":\"UTC\"}"

static int setup(void **state)
{
	fx *f = fx_new("bops", FX_OPEN);

	fx_exec(f->db,
		"INSERT INTO customer(id, name, created) VALUES(1, 'One', 0), (2, 'Two', 0);"
		"INSERT INTO domain(name, customer_id, created) VALUES('one.example', 1, 0), ('two.example', 2, 0);"
		"INSERT INTO member(customer_id, jid, role) VALUES(1, 'boss@one.example', 'owner');"
		"INSERT INTO staff(jid, role) VALUES('bill@host.example', 'billing'), ('tech@host.example', 'technician');");
	*state = f;
	return 0;
}

static void test_titles(void **state)
{
	(void)state;
	assert_string_equal(im_registry_find("billing.overview")->summary, "Billing overview");
	assert_string_equal(im_registry_find("billing.invoices")->summary, "My invoices");
	assert_string_equal(im_registry_find("billing.statement")->summary, "Download statement");
	assert_string_equal(im_registry_find("billing.info")->summary, "Update billing information");
	assert_string_equal(im_registry_find("billing.payment_methods")->summary, "Payment methods");
}

static void test_customer_sees_only_own(void **state)
{
	fx *f = *state;
	json_t *r;
	const char *code;

	im_clock_set(1798761600);   /* 2027-01-01 */
	json_decref(fx_must(f->db, "billing.plan_create", "{\"code\":\"pro\",\"name\":\"Pro\",\"currency\":\"EUR\",\"price\":1500}", STAFF));
	json_decref(fx_must(f->db, "billing.subscribe", "{\"customer\":1,\"plan\":1,\"start\":\"2027-01-01\"}", STAFF));
	json_decref(fx_must(f->db, "billing.subscribe", "{\"customer\":2,\"plan\":1,\"start\":\"2027-01-01\"}", STAFF));
	json_decref(fx_must(f->db, "billing.account", "{\"customer\":1,\"tax_rate_bp\":2000,\"terms_days\":10}", STAFF));
	im_clock_set(1801440000);   /* 2027-02-01 */
	r = fx_must(f->db, "billing.run", "{}", STAFF);
	assert_int_equal(json_integer_value(json_object_get(r, "finalized")), 2);
	json_decref(r);
	/* The owner of customer 1: its invoices, not customer 2's. */
	r = fx_must(f->db, "billing.invoices", "{\"customer\":1}", OWNER1);
	assert_int_equal(json_array_size(json_object_get(r, "invoices")), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r, "invoices"), 0),
	                    "total_text")), "18.00 EUR");
	json_decref(r);
	r = fx_call(f->db, "billing.invoices", "{\"customer\":2}", OWNER1, &code);
	assert_string_not_equal(code, "ok");
	assert_string_equal(fx_errcode(r), "forbidden");
	json_decref(r);
	/* Customer 2's invoice through customer 1's scope: not found, not shown. */
	r = fx_call(f->db, "billing.statement", "{\"customer\":1,\"invoice\":2,\"format\":\"text\"}", OWNER1, &code);
	assert_string_not_equal(code, "ok");
	assert_string_equal(fx_errcode(r), "not_found");
	json_decref(r);
	r = fx_must(f->db, "billing.statement", "{\"customer\":1,\"invoice\":1,\"format\":\"html\",\"provider_name\":\"H<b>\"}", OWNER1);
	assert_non_null(strstr(json_string_value(json_object_get(r, "content")), "H&lt;b&gt;"));
	json_decref(r);
	r = fx_must(f->db, "billing.statement", "{\"customer\":1,\"format\":\"csv\"}", OWNER1);
	assert_non_null(strstr(json_string_value(json_object_get(r, "content")), "INV-2027-00000"));
	json_decref(r);
	/* The owner updates billing info, but not its own tax rate. */
	json_decref(fx_must(f->db, "billing.info", "{\"customer\":1,\"name\":\"One GmbH\"}", OWNER1));
	r = fx_call(f->db, "billing.info", "{\"customer\":1,\"tax_rate_bp\":0}", OWNER1, &code);
	assert_string_not_equal(code, "ok");
	json_decref(r);
	r = fx_call(f->db, "billing.account", "{\"customer\":1,\"tax_rate_bp\":0}", OWNER1, &code);
	assert_string_not_equal(code, "ok");
	assert_string_equal(fx_errcode(r), "forbidden");
	json_decref(r);
	/* Outsiders and technicians are refused; billing staff see anyone. */
	r = fx_call(f->db, "billing.overview", "{\"customer\":1}", NOBODY, &code);
	assert_string_not_equal(code, "ok");
	json_decref(r);
	r = fx_call(f->db, "billing.overview", "{\"customer\":1}", TECH, &code);
	assert_string_not_equal(code, "ok");
	json_decref(r);
	r = fx_must(f->db, "billing.overview", "{\"customer\":2}", BILLER);
	assert_int_equal(json_array_size(json_object_get(r, "open_due")), 1);
	json_decref(r);
	r = fx_call(f->db, "billing.run", "{}", OWNER1, &code);
	assert_string_not_equal(code, "ok");
	json_decref(r);
	/* Reports. */
	r = fx_must(f->db, "billing.report_mrr", "{}", BILLER);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(r, "rows"), 0), "mrr")), 3000);
	json_decref(r);
	r = fx_must(f->db, "billing.report_open", "{}", BILLER);
	assert_int_equal(json_array_size(json_object_get(r, "rows")), 2);
	json_decref(r);
	r = fx_must(f->db, "billing.report_revenue", "{\"since\":\"2027-01-01\",\"until\":\"2027-03-01\"}", BILLER);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(r, "rows"), 0), "net")), 3000);
	json_decref(r);
}

static void test_overdue_actions(void **state)
{
	fx *f = *state;
	json_t *r, *c;
	const char *acts;

	im_clock_set(1798761600);
	json_decref(fx_must(f->db, "billing.plan_create", "{\"code\":\"pro\",\"name\":\"Pro\",\"currency\":\"EUR\",\"price\":1500}", STAFF));
	json_decref(fx_must(f->db, "billing.subscribe", "{\"customer\":1,\"plan\":1,\"start\":\"2027-01-01\"}", STAFF));
	im_clock_set(1801440000);   /* Feb 1: invoiced, due Feb 15 (14 days) */
	json_decref(fx_must(f->db, "billing.run", "{}", STAFF));
	/* Two days before the due date: one reminder, however often evaluated. */
	im_clock_set(1801440000 + 12 * 86400LL);
	r = fx_must(f->db, "billing.overdue", "{}", STAFF);
	c = json_array_get(json_object_get(r, "customers"), 0);
	assert_string_equal(json_string_value(json_array_get(json_object_get(c, "actions"), 0)), "remind_before");
	json_decref(r);
	im_clock_set(1801440000 + 13 * 86400LL);
	r = fx_must(f->db, "billing.overdue", "{}", STAFF);
	assert_int_equal(json_array_size(json_object_get(r, "customers")), 0);
	json_decref(r);
	im_clock_set(1801440000 + 50 * 86400LL);   /* 36 days overdue */
	r = fx_must(f->db, "billing.overdue", "{}", STAFF);
	c = json_array_get(json_object_get(r, "customers"), 0);
	assert_string_equal(json_string_value(json_object_get(c, "state")), "suspended");
	acts = json_dumps(json_object_get(c, "actions"), JSON_COMPACT);
	assert_string_equal(acts, "[\"remind_after\",\"restrict\",\"suspend\"]");
	free((void *)acts);
	json_decref(r);
	/* Evaluated again: nothing new. */
	r = fx_must(f->db, "billing.overdue", "{}", STAFF);
	assert_int_equal(json_array_size(json_object_get(r, "customers")), 0);
	json_decref(r);
	/* Payment -> lifted at the next evaluation. */
	json_decref(fx_must(f->db, "billing.payment", "{\"customer\":1,\"reference\":\"B-1\",\"amount\":1500,\"currency\":\"EUR\",\"method\":\"bank\"}", STAFF));
	r = fx_must(f->db, "billing.overdue", "{}", STAFF);
	c = json_array_get(json_object_get(r, "customers"), 0);
	assert_string_equal(json_string_value(json_object_get(c, "state")), "ok");
	assert_string_equal(json_string_value(json_array_get(json_object_get(c, "actions"), 0)), "lift");
	json_decref(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_titles),
		cmocka_unit_test_setup_teardown(test_customer_sees_only_own, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_overdue_actions, setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
