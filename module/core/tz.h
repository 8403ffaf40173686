/*
 * tz.h — local wall-clock time <-> UTC for IANA zones ("Europe/Berlin").
 *
 * Uses the C library's tz code with TZ switched under one process-wide mutex:
 * simple and exact (same tzdata as the system), thread-safe among callers of
 * these functions.  The zone name is validated first (no path tricks; the file
 * must exist under /usr/share/zoneinfo) because glibc silently falls back to UTC
 * for unknown zones.
 */
#ifndef IMHOST_TZ_H
#define IMHOST_TZ_H

#include <stdint.h>
#include <time.h>

/* 1 if zone is a known IANA zone name ("UTC" included), else 0. */
int im_tz_valid(const char *zone);

/* Wall-clock fields in zone -> UTC epoch seconds.  tm_year/tm_mon/tm_mday/
 * tm_hour/tm_min/tm_sec are read as in struct tm (year-1900, month 0-11).
 * A time that does not exist (spring-forward gap) or is ambiguous (fall-back)
 * resolves as the C library's mktime(tm_isdst = -1) does; tests pin the result.
 * IM_OK or IM_EINVAL (unknown zone / out of range). */
int im_tz_to_utc(const char *zone, const struct tm *local, int64_t *out);

/* UTC epoch seconds -> wall-clock fields in zone (tm_gmtoff and tm_isdst set;
 * tm_zone is set to NULL: it would point into libc state).  IM_OK or IM_EINVAL. */
int im_tz_from_utc(const char *zone, int64_t t, struct tm *out);

#endif
