/*
 * trends.h — usage trends from the rollup tables only (logs.trends).
 *
 * Never reads log_message: rollups survive retention and stay small.  Buckets
 * are UTC: an hour starts at ts - ts % 3600, a day at ts - ts % 86400, a week on
 * Monday 00:00 UTC.  Series have one point per bucket in [since, until), zeros
 * included.  peak_sessions server-wide is the sum of the per-domain peaks of an
 * hour (an upper bound: domains may peak at different minutes); for day/week it
 * is the highest hour.  active_users needs day or week granularity (rollups are
 * per day).
 */
#ifndef IMHOST_TRENDS_H
#define IMHOST_TRENDS_H

#include <stdint.h>
#include <sqlite3.h>
#include <jansson.h>

typedef struct {
	const char *domain;       /* NULL: server-wide */
	const char *metric;       /* messages|active_users|peak_sessions|top_users|top_rooms */
	const char *granularity;  /* hour|day|week */
	int64_t since, until;     /* [since, until) */
	int limit;                /* top lists: entries; series: ignored */
} im_trends_q;

#define IM_TRENDS_MAX_BUCKETS 10000

/* IM_OK with *out a new {"metric","granularity","series":[{"bucket","value"}]} or
 * {"metric","top":[{"name","value"}]}; IM_EINVAL (bad combination, too many
 * buckets) or IM_ERR with *err malloc'd (caller frees). */
int im_trends(sqlite3 *db, const im_trends_q *q, json_t **out, char **err);

/* Start of the bucket holding t (UTC). */
int64_t im_bucket_start(int64_t t, const char *granularity);

#endif
