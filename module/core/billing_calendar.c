/*
 * billing_calendar.c — anchors, periods, proration (billing_calendar.h).
 */
#include <string.h>
#include <time.h>

#include "billing_calendar.h"
#include "imhost_err.h"
#include "money.h"
#include "tz.h"

int im_days_in_month(int year, int month)
{
	static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	if (month < 1 || month > 12)
		return 0;
	return month == 2 && leap ? 29 : dim[month - 1];
}

static int anchor_ok(const im_anchor *a)
{
	return a && a->zone && (a->cycle_months == 1 || a->cycle_months == 12) &&
	       a->year >= 1970 && a->year <= 9000 && a->month >= 1 && a->month <= 12 &&
	       a->day >= 1 && a->day <= im_days_in_month(a->year, a->month);
}

int im_period_start(const im_anchor *a, int64_t k, int64_t *start)
{
	struct tm tm;
	int64_t idx;
	int y, m, d;

	/* 100 years of monthly periods is far beyond any subscription. */
	if (!anchor_ok(a) || k < 0 || k > 1200)
		return IM_EINVAL;
	idx = (int64_t)(a->month - 1) + k * a->cycle_months;
	y = a->year + (int)(idx / 12);
	m = (int)(idx % 12) + 1;
	d = a->day;
	if (d > im_days_in_month(y, m))
		d = im_days_in_month(y, m);   /* clamp to month end, per period */
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	return im_tz_to_utc(a->zone, &tm, start);
}

int im_period_bounds(const im_anchor *a, int64_t k, int64_t *start, int64_t *end)
{
	int rc = im_period_start(a, k, start);

	return rc == IM_OK ? im_period_start(a, k + 1, end) : rc;
}

int im_period_index(const im_anchor *a, int64_t t, int64_t *k)
{
	int64_t s0, s, guess;
	int rc;

	if ((rc = im_period_start(a, 0, &s0)) != IM_OK)
		return rc;
	if (t < s0) {
		*k = -1;
		return IM_OK;
	}
	/* Estimate from the average month, then step to the exact period. */
	guess = (t - s0) / (2629746LL * a->cycle_months);
	if (guess > 1199)
		guess = 1199;
	for (;;) {
		if ((rc = im_period_start(a, guess, &s)) != IM_OK)
			return rc;
		if (s > t) {
			guess--;
			continue;
		}
		if ((rc = im_period_start(a, guess + 1, &s)) != IM_OK)
			return rc;
		if (s <= t) {
			guess++;
			continue;
		}
		*k = guess;
		return IM_OK;
	}
}

int im_anchor_from_time(const char *zone, int64_t t, int cycle_months, im_anchor *out)
{
	struct tm tm;
	int rc = im_tz_from_utc(zone, t, &tm);

	if (rc != IM_OK)
		return rc;
	out->zone = zone;
	out->year = tm.tm_year + 1900;
	out->month = tm.tm_mon + 1;
	out->day = tm.tm_mday;
	out->cycle_months = cycle_months;
	return anchor_ok(out) ? IM_OK : IM_EINVAL;
}

int im_prorate(int64_t fee, int64_t part, int64_t whole, int64_t *out)
{
	if (whole <= 0 || part < 0 || part > whole)
		return IM_EINVAL;
	return im_money_muldiv(fee, part, whole, out);
}
