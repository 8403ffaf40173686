/*
 * test_billing_calendar.c — periods from anchors: month ends (anchors on the
 * 29th, 30th, 31st), leap day, DST in the customer's zone, period lookup at
 * every boundary, and the proration rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "billing_calendar.h"
#include "fixture.h"
#include "imhost_err.h"

#define DAY 86400LL

static void expect_starts(const im_anchor *a, const int64_t *want, int n)
{
	int64_t s;
	int k;

	for (k = 0; k < n; k++) {
		assert_int_equal(im_period_start(a, k, &s), IM_OK);
		assert_int_equal(s, want[k]);
	}
}

static void test_anchor_31(void **state)
{
	im_anchor a = { "UTC", 2028, 1, 31, 1 };   /* 2028 is a leap year */
	const int64_t want[] = { fx_utc(2028, 1, 31, 0), fx_utc(2028, 2, 29, 0), fx_utc(2028, 3, 31, 0),
	                         fx_utc(2028, 4, 30, 0), fx_utc(2028, 5, 31, 0), fx_utc(2029, 1, 31, 0),
	                         fx_utc(2029, 2, 28, 0) };
	(void)state;
	/* Never drifts to the 28th/29th after February: always from the anchor. */
	expect_starts(&a, want, 5);
	{
		int64_t s;
		im_period_start(&a, 12, &s);
		assert_int_equal(s, want[5]);
		im_period_start(&a, 13, &s);
		assert_int_equal(s, want[6]);
	}
}

static void test_anchor_29_30(void **state)
{
	im_anchor a29 = { "UTC", 2027, 1, 29, 1 }, a30 = { "UTC", 2027, 1, 30, 1 };
	const int64_t w29[] = { fx_utc(2027, 1, 29, 0), fx_utc(2027, 2, 28, 0), fx_utc(2027, 3, 29, 0) };
	const int64_t w30[] = { fx_utc(2027, 1, 30, 0), fx_utc(2027, 2, 28, 0), fx_utc(2027, 3, 30, 0),
	                        fx_utc(2027, 4, 30, 0) };
	(void)state;
	expect_starts(&a29, w29, 3);
	expect_starts(&a30, w30, 4);
}

static void test_leap_day(void **state)
{
	im_anchor y = { "UTC", 2028, 2, 29, 12 }, m = { "UTC", 2028, 2, 29, 1 };
	const int64_t wy[] = { fx_utc(2028, 2, 29, 0), fx_utc(2029, 2, 28, 0), fx_utc(2030, 2, 28, 0),
	                       fx_utc(2031, 2, 28, 0), fx_utc(2032, 2, 29, 0) };
	const int64_t wm[] = { fx_utc(2028, 2, 29, 0), fx_utc(2028, 3, 29, 0), fx_utc(2028, 4, 29, 0) };
	im_anchor bad = { "UTC", 2027, 2, 29, 1 };
	int64_t s;

	(void)state;
	expect_starts(&y, wy, 5);
	expect_starts(&m, wm, 3);
	assert_int_equal(im_period_start(&bad, 0, &s), IM_EINVAL);   /* 2027 has no Feb 29 */
}

static void test_dst_in_customer_zone(void **state)
{
	/* Berlin: CET (+1) until 2027-03-28 01:00Z, then CEST (+2) until 2027-10-31. */
	im_anchor a = { "Europe/Berlin", 2027, 3, 1, 1 };
	int64_t s, e, k;

	(void)state;
	assert_int_equal(im_period_bounds(&a, 0, &s, &e), IM_OK);
	assert_int_equal(s, fx_utc(2027, 2, 28, 23));   /* local midnight Mar 1, CET */
	assert_int_equal(e, fx_utc(2027, 3, 31, 22));   /* local midnight Apr 1, CEST */
	assert_int_equal(e - s, 31 * DAY - 3600);    /* the customer's March is an hour short */
	assert_int_equal(im_period_bounds(&a, 7, &s, &e), IM_OK);   /* October: an hour long */
	assert_int_equal(e - s, 31 * DAY + 3600);
	/* Lookup at and around each boundary. */
	assert_int_equal(im_period_index(&a, fx_utc(2027, 2, 28, 23), &k), IM_OK);
	assert_int_equal(k, 0);
	assert_int_equal(im_period_index(&a, fx_utc(2027, 2, 28, 23) - 1, &k), IM_OK);
	assert_int_equal(k, -1);
	assert_int_equal(im_period_index(&a, fx_utc(2027, 3, 31, 22) - 1, &k), IM_OK);
	assert_int_equal(k, 0);
	assert_int_equal(im_period_index(&a, fx_utc(2027, 3, 31, 22), &k), IM_OK);
	assert_int_equal(k, 1);
	/* New York and Kathmandu (+5:45): local midnight, not UTC midnight. */
	{
		im_anchor ny = { "America/New_York", 2027, 11, 1, 1 }, kt = { "Asia/Kathmandu", 2027, 1, 15, 1 };
		assert_int_equal(im_period_bounds(&ny, 0, &s, &e), IM_OK);
		assert_int_equal(s, fx_utc(2027, 11, 1, 4));
		assert_int_equal(e, fx_utc(2027, 12, 1, 5));
		assert_int_equal(im_period_start(&kt, 0, &s), IM_OK);
		assert_int_equal(s, fx_utc(2027, 1, 15, 0) - 5 * 3600 - 45 * 60);
		assert_int_equal(s % 900, 0);   /* 15-minute usage buckets align */
	}
}

static void test_index_every_boundary(void **state)
{
	im_anchor a = { "Europe/Berlin", 2027, 1, 31, 1 };
	int64_t s, e, k, i;

	(void)state;
	for (i = 0; i < 40; i++) {
		assert_int_equal(im_period_bounds(&a, i, &s, &e), IM_OK);
		assert_true(e > s);
		assert_int_equal(im_period_index(&a, s, &k), IM_OK);
		assert_int_equal(k, i);
		assert_int_equal(im_period_index(&a, e - 1, &k), IM_OK);
		assert_int_equal(k, i);
	}
}

static void test_anchor_from_time(void **state)
{
	im_anchor a;

	(void)state;
	/* 23:30 UTC on Jan 30 is already Jan 31 in Berlin. */
	assert_int_equal(im_anchor_from_time("Europe/Berlin", fx_utc(2027, 1, 30, 23) + 1800, 1, &a), IM_OK);
	assert_int_equal(a.day, 31);
	assert_int_equal(a.month, 1);
	assert_int_equal(im_anchor_from_time("Not/AZone", 0, 1, &a), IM_EINVAL);
	assert_int_equal(im_anchor_from_time("UTC", 0, 3, &a), IM_EINVAL);   /* cycle 1 or 12 */
}

static void test_proration(void **state)
{
	int64_t v;

	(void)state;
	/* 10.00 for 10 of 30 days: 3.33; 20 of 30: 6.67; the two sum to 10.00. */
	assert_int_equal(im_prorate(1000, 10 * DAY, 30 * DAY, &v), IM_OK);
	assert_int_equal(v, 333);
	assert_int_equal(im_prorate(1000, 20 * DAY, 30 * DAY, &v), IM_OK);
	assert_int_equal(v, 667);
	/* Half: rounded away from zero. */
	assert_int_equal(im_prorate(1001, 15 * DAY, 30 * DAY, &v), IM_OK);
	assert_int_equal(v, 501);
	/* JPY (no minor unit) and KWD (three). */
	assert_int_equal(im_prorate(1000, 1, 3, &v), IM_OK);
	assert_int_equal(v, 333);
	assert_int_equal(im_prorate(29000, 10 * DAY, 31 * DAY - 3600, &v), IM_OK);
	assert_int_equal(v, 9367);   /* 29000 * 864000 / 2674800 = 9367.24 */
	assert_int_equal(im_prorate(1000, 31, 30, &v), IM_EINVAL);
	assert_int_equal(im_prorate(1000, 1, 0, &v), IM_EINVAL);
	assert_int_equal(im_prorate(1000, -1, 30, &v), IM_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_anchor_31),
		cmocka_unit_test(test_anchor_29_30),
		cmocka_unit_test(test_leap_day),
		cmocka_unit_test(test_dst_in_customer_zone),
		cmocka_unit_test(test_index_every_boundary),
		cmocka_unit_test(test_anchor_from_time),
		cmocka_unit_test(test_proration),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
