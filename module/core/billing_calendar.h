/*
 * billing_calendar.h — billing periods from a subscription's anchor, and the
 * proration rule.
 *
 * A subscription is anchored on a local calendar date in the customer's IANA
 * zone.  Period k (k = 0, 1, ...) starts at local midnight of
 *     anchor month + k * cycle_months, day = min(anchor day, days in that month)
 * and ends where period k+1 starts.  Every boundary is computed from the
 * anchor, never from the previous period, so an anchor on the 31st gives
 * Jan 31, Feb 28 (29 in leap years), Mar 31, ... and never drifts to the 28th.
 * Boundaries are UTC epoch seconds; a period spanning a DST change is an hour
 * shorter or longer than the calendar days suggest, which is right: the
 * customer's month really is that long.
 *
 * Proration (the one rule): a fixed fee for part of a period is
 *     fee * seconds_in_part / seconds_in_period
 * rounded half away from zero (im_money_muldiv), one line per part.
 */
#ifndef IMHOST_BILLING_CALENDAR_H
#define IMHOST_BILLING_CALENDAR_H

#include <stdint.h>

typedef struct {
	const char *zone;   /* IANA zone of the customer ("UTC" allowed) */
	int year, month, day;   /* anchor local date: month 1-12, day 1-31 */
	int cycle_months;   /* 1 (monthly) or 12 (yearly) */
} im_anchor;

/* Start of period k (k >= 0) as UTC epoch seconds.  IM_OK, or IM_EINVAL for a
 * bad zone, anchor or cycle. */
int im_period_start(const im_anchor *a, int64_t k, int64_t *start);

/* [start, end) of period k. */
int im_period_bounds(const im_anchor *a, int64_t k, int64_t *start, int64_t *end);

/* The index of the period containing instant t: *k = -1 when t is before the
 * anchor.  IM_OK or IM_EINVAL. */
int im_period_index(const im_anchor *a, int64_t t, int64_t *k);

/* Reads an anchor date from epoch t in zone (the local date of t).  The zone
 * string is borrowed.  IM_OK or IM_EINVAL. */
int im_anchor_from_time(const char *zone, int64_t t, int cycle_months, im_anchor *out);

/* The proration rule above: *out = fee * part / whole, rounded half away
 * from zero.  part in [0, whole], whole > 0.  IM_OK or IM_EINVAL. */
int im_prorate(int64_t fee, int64_t part, int64_t whole, int64_t *out);

/* Days in month (1-12) of year (proleptic Gregorian). */
int im_days_in_month(int year, int month);

#endif
