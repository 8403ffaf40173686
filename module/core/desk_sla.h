/*
 * desk_sla.h — business-hours arithmetic for the desk's SLA clocks.
 *
 * A calendar is a zone plus a daily window [open, close) of local time on the
 * weekdays in `days`.  Windows are computed per local date through tz.c, so a
 * day on which DST changes has its real length (a window 09:00-17:00 is 8 h
 * on both sides of the change; one spanning 02:00-03:00 is shorter or longer
 * that night).  No holidays yet.  Pure functions; thread-safe.
 */
#ifndef IMHOST_DESK_SLA_H
#define IMHOST_DESK_SLA_H

#include <stdint.h>

typedef struct {
	char zone[64];      /* IANA zone (validated by the caller: im_tz_valid) */
	int open_min;       /* window start, minutes after local midnight (0..1439) */
	int close_min;      /* window end, > open_min, <= 1440 */
	unsigned days;      /* bit d set: weekday d (0 = Sunday) is a business day */
} im_desk_cal;

/* The instant at which `secs` business seconds have elapsed from `start`.
 * secs <= 0 gives start itself.  IM_OK, IM_EINVAL (bad zone, empty week), or
 * IM_ERR when the answer lies more than ten years ahead. */
int im_desk_cal_add(const im_desk_cal *cal, int64_t start, int64_t secs, int64_t *due);

/* Business seconds in [from, to) (0 when to <= from).  IM_OK or IM_EINVAL. */
int im_desk_cal_elapsed(const im_desk_cal *cal, int64_t from, int64_t to, int64_t *secs);

#endif
