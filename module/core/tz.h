/*
 * tz.h — local wall-clock time <-> UTC for IANA zones ("Europe/Berlin").
 *
 * Parses the system's TZif files (/usr/share/zoneinfo) itself: no global TZ is
 * switched, so conversions are thread-safe and never disturb other threads'
 * local time.  Zone names are validated (no path tricks; the file must exist
 * and parse).
 */
#ifndef IMHOST_TZ_H
#define IMHOST_TZ_H

#include <stdint.h>
#include <time.h>

/* 1 if zone is a known IANA zone name ("UTC" included), else 0. */
int im_tz_valid(const char *zone);

/* Wall-clock fields in zone -> UTC epoch seconds.  tm_year/tm_mon/tm_mday/
 * tm_hour/tm_min/tm_sec are read as in struct tm (year-1900, month 0-11).
 * A time in a spring-forward gap is read with the offset before the gap (02:30
 * on a 02:00->03:00 night is 03:30); an ambiguous one (fall-back) is the
 * earlier instant.  IM_OK or IM_EINVAL (unknown zone, month out of range). */
int im_tz_to_utc(const char *zone, const struct tm *local, int64_t *out);

/* UTC epoch seconds -> wall-clock fields in zone (also tm_wday, tm_yday,
 * tm_isdst, tm_gmtoff; tm_zone is NULL).  IM_OK or IM_EINVAL. */
int im_tz_from_utc(const char *zone, int64_t t, struct tm *out);

#endif
