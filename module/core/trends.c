/*
 * trends.c — see trends.h.  SQL groups the rollup rows by bucket; C fills the
 * gaps with zeros so charts and text renderings need no calendar logic.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imhost_err.h"
#include "trends.h"

#define WEEK_OFFSET (4 * 86400)   /* 1970-01-01 was a Thursday; weeks start Monday */

static int64_t floor_to(int64_t t, int64_t step, int64_t offset)
{
	int64_t r = (t - offset) % step;

	if (r < 0)
		r += step;
	return t - r;
}

int64_t im_bucket_start(int64_t t, const char *g)
{
	if (strcmp(g, "hour") == 0)
		return floor_to(t, 3600, 0);
	if (strcmp(g, "day") == 0)
		return floor_to(t, 86400, 0);
	return floor_to(t, 7 * 86400, WEEK_OFFSET);
}

static int64_t step_of(const char *g)
{
	return strcmp(g, "hour") == 0 ? 3600 : strcmp(g, "day") == 0 ? 86400 : 7 * 86400;
}

/* SQL expression for the bucket of column col (an hour or day start). */
static void bucket_expr(char *buf, size_t sz, const char *g, const char *col)
{
	if (strcmp(g, "week") == 0)
		snprintf(buf, sz, "(%s - ((%s - %d) %% 604800 + 604800) %% 604800)", col, col, WEEK_OFFSET);
	else
		snprintf(buf, sz, "(%s - %s %% %d)", col, col, strcmp(g, "hour") == 0 ? 3600 : 86400);
}

static int series(sqlite3 *db, const im_trends_q *q, json_t *res, char **err)
{
	char be[160], sql[1024];
	int64_t step = step_of(q->granularity), first, b, nb;
	int64_t *vals;
	const char *dom = q->domain ? "domain = ?3" : "1";
	sqlite3_stmt *st = NULL;
	json_t *arr;
	int rc;

	first = im_bucket_start(q->since, q->granularity);
	nb = q->until > first ? (q->until - first + step - 1) / step : 0;
	if (nb > IM_TRENDS_MAX_BUCKETS) {
		im_set_errf(err, "too many buckets (%lld); use a coarser granularity", (long long)nb);
		return IM_EINVAL;
	}
	if (strcmp(q->metric, "messages") == 0) {
		bucket_expr(be, sizeof be, q->granularity, "hour");
		snprintf(sql, sizeof sql, "SELECT %s AS b, sum(messages) FROM rollup_hour "
		         "WHERE %s AND hour >= ?1 AND hour < ?2 GROUP BY b", be, dom);
	} else if (strcmp(q->metric, "peak_sessions") == 0) {
		bucket_expr(be, sizeof be, q->granularity, "hour");
		snprintf(sql, sizeof sql, "SELECT %s AS b, max(p) FROM (SELECT hour, sum(peak_sessions) AS p "
		         "FROM rollup_hour WHERE %s AND hour >= ?1 AND hour < ?2 GROUP BY hour) GROUP BY b",
		         be, dom);
	} else {   /* active_users */
		if (strcmp(q->granularity, "hour") == 0) {
			im_set_errf(err, "active_users is counted per day: use granularity day or week");
			return IM_EINVAL;
		}
		bucket_expr(be, sizeof be, q->granularity, "day");
		/* Server-wide a user is active once, whatever domain rows exist. */
		snprintf(sql, sizeof sql, "SELECT %s AS b, count(DISTINCT user) FROM rollup_user_day "
		         "WHERE %s AND day >= ?1 AND day < ?2 GROUP BY b", be, dom);
	}
	vals = calloc(nb ? (size_t)nb : 1, sizeof *vals);
	if (vals == NULL) {
		im_set_errf(err, "out of memory");
		return IM_ERR;
	}
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 1, first) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 2, q->until) != SQLITE_OK ||
	    (q->domain && sqlite3_bind_text(st, 3, q->domain, -1, SQLITE_STATIC) != SQLITE_OK)) {
		im_set_errf(err, "trends: %s", sqlite3_errmsg(db));
		goto fail;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		b = sqlite3_column_int64(st, 0);
		if (b >= first && (b - first) / step < nb)
			vals[(b - first) / step] = sqlite3_column_int64(st, 1);
	}
	if (rc != SQLITE_DONE) {
		im_set_errf(err, "trends: %s", sqlite3_errmsg(db));
		goto fail;
	}
	sqlite3_finalize(st);
	arr = json_array();
	for (b = 0; arr && b < nb; b++)
		json_array_append_new(arr, json_pack("{s:I,s:I}", "bucket", (json_int_t)(first + b * step),
		                                     "value", (json_int_t)vals[b]));
	free(vals);
	if (arr == NULL) {
		im_set_errf(err, "out of memory");
		return IM_ERR;
	}
	json_object_set_new(res, "granularity", json_string(q->granularity));
	json_object_set_new(res, "series", arr);
	return IM_OK;
fail:
	sqlite3_finalize(st);
	free(vals);
	return IM_ERR;
}

static int top(sqlite3 *db, const im_trends_q *q, json_t *res, char **err)
{
	int users = strcmp(q->metric, "top_users") == 0;
	char sql[512];
	sqlite3_stmt *st = NULL;
	json_t *arr = json_array();
	int rc;

	/* Whole days: rollups are per day, so the range is widened to day bounds. */
	snprintf(sql, sizeof sql, "SELECT %s, sum(messages) AS n FROM %s WHERE %s AND day >= ?1 "
	         "AND day < ?2 GROUP BY 1 ORDER BY n DESC, 1 LIMIT ?4",
	         users ? "user" : "room", users ? "rollup_user_day" : "rollup_room_day",
	         q->domain ? "domain = ?3" : "1");
	if (arr == NULL || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 1, im_bucket_start(q->since, "day")) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 2, q->until) != SQLITE_OK ||
	    (q->domain && sqlite3_bind_text(st, 3, q->domain, -1, SQLITE_STATIC) != SQLITE_OK) ||
	    sqlite3_bind_int(st, 4, q->limit) != SQLITE_OK) {
		im_set_errf(err, "trends: %s", sqlite3_errmsg(db));
		goto fail;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(arr, json_pack("{s:s,s:I}", "name",
		                                     (const char *)sqlite3_column_text(st, 0),
		                                     "value", (json_int_t)sqlite3_column_int64(st, 1)));
	if (rc != SQLITE_DONE) {
		im_set_errf(err, "trends: %s", sqlite3_errmsg(db));
		goto fail;
	}
	sqlite3_finalize(st);
	json_object_set_new(res, "top", arr);
	return IM_OK;
fail:
	sqlite3_finalize(st);
	json_decref(arr);
	return IM_ERR;
}

int im_trends(sqlite3 *db, const im_trends_q *q, json_t **out, char **err)
{
	json_t *res;
	int rc;

	*out = NULL;
	if (q->until <= q->since) {
		im_set_errf(err, "until must be after since");
		return IM_EINVAL;
	}
	res = json_pack("{s:s}", "metric", q->metric);
	if (res == NULL) {
		im_set_errf(err, "out of memory");
		return IM_ERR;
	}
	if (strncmp(q->metric, "top_", 4) == 0)
		rc = top(db, q, res, err);
	else
		rc = series(db, q, res, err);
	if (rc != IM_OK) {
		json_decref(res);
		return rc;
	}
	*out = res;
	return IM_OK;
}
