/*
 * desk_sla.c — business-hours arithmetic (desk_sla.h).
 *
 * Both functions walk local dates from the one containing their start and
 * intersect each business day's window (converted to UTC on that date, so DST
 * is honoured) with the interval of interest.  A walk is bounded: ten years of
 * days, enough for any SLA and cheap (a few µs per day).
 */
#include <string.h>
#include <time.h>

#include "desk_sla.h"
#include "imhost_err.h"
#include "tz.h"

#define MAX_DAYS 3660

/* The local date containing t, as a struct tm at midnight (fields only). */
static int local_date(const char *zone, int64_t t, struct tm *day)
{
	if (im_tz_from_utc(zone, t, day) != 0)
		return IM_EINVAL;
	day->tm_hour = day->tm_min = day->tm_sec = 0;
	return IM_OK;
}

/* Advances a date by one day; normalises month/year through timegm (dates
 * only: the zone plays no part in calendar arithmetic) and sets tm_wday. */
static void next_day(struct tm *day)
{
	struct tm t = *day;
	time_t u;

	t.tm_mday++;
	t.tm_hour = 12;   /* away from any edge */
	t.tm_isdst = 0;
	u = timegm(&t);
	gmtime_r(&u, &t);
	t.tm_hour = t.tm_min = t.tm_sec = 0;
	*day = t;
}

/* The UTC bounds of the business window on date day; 0 if no window. */
static int window(const im_desk_cal *cal, const struct tm *day, int64_t *lo, int64_t *hi)
{
	struct tm a = *day, b = *day;

	if (!(cal->days & (1u << day->tm_wday)))
		return 0;
	a.tm_hour = cal->open_min / 60;
	a.tm_min = cal->open_min % 60;
	if (cal->close_min >= 1440) {   /* to midnight: the next date's 00:00 */
		next_day(&b);
	} else {
		b.tm_hour = cal->close_min / 60;
		b.tm_min = cal->close_min % 60;
	}
	if (im_tz_to_utc(cal->zone, &a, lo) != 0 || im_tz_to_utc(cal->zone, &b, hi) != 0)
		return 0;
	return *hi > *lo;
}

static int cal_ok(const im_desk_cal *cal)
{
	return cal && (cal->days & 0x7f) && cal->open_min >= 0 && cal->open_min < cal->close_min &&
	       cal->close_min <= 1440 && im_tz_valid(cal->zone);
}

int im_desk_cal_add(const im_desk_cal *cal, int64_t start, int64_t secs, int64_t *due)
{
	struct tm day;
	int64_t lo, hi;
	int i;

	if (!cal_ok(cal) || local_date(cal->zone, start, &day) != IM_OK)
		return IM_EINVAL;
	if (secs <= 0) {
		*due = start;
		return IM_OK;
	}
	for (i = 0; i < MAX_DAYS; i++, next_day(&day)) {
		if (!window(cal, &day, &lo, &hi) || hi <= start)
			continue;
		if (lo < start)
			lo = start;
		if (hi - lo >= secs) {
			*due = lo + secs;
			return IM_OK;
		}
		secs -= hi - lo;
	}
	return IM_ERR;
}

int im_desk_cal_elapsed(const im_desk_cal *cal, int64_t from, int64_t to, int64_t *secs)
{
	struct tm day;
	int64_t lo, hi, sum = 0;
	int i;

	if (!cal_ok(cal))
		return IM_EINVAL;
	*secs = 0;
	if (to <= from)
		return IM_OK;
	if (local_date(cal->zone, from, &day) != IM_OK)
		return IM_EINVAL;
	for (i = 0; i < MAX_DAYS; i++, next_day(&day)) {
		if (!window(cal, &day, &lo, &hi))
			continue;
		if (lo >= to)
			break;
		if (lo < from)
			lo = from;
		if (hi > to)
			hi = to;
		if (hi > lo)
			sum += hi - lo;
	}
	*secs = sum;
	return IM_OK;
}
